// A SentencePiece BPE model (a Llama-style folder's tokenizer.model) as the tokenizer.json that
// transformers' LlamaConverter makes of it: the pieces as a BPE vocabulary with byte fallback,
// merges recovered from the pieces (a pair merges when the two halves and their join are pieces,
// ranked by the join's score), the dummy-prefix "▁" and spaces as "▁" in the normalizer, and the
// decoder that undoes them. Unigram models (T5-style), and models that normalize text (a rule
// other than identity, or runs of spaces collapsed) are refused: that conversion would not encode
// as SentencePiece does.

import { TokenizerError } from "./errors.ts";
import { addedToken } from "./added-token.ts";
import { ProtobufError, ProtoMessage } from "./protobuf.ts";

/** A piece's type in the model (sentencepiece_model.proto). */
const NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4;
const BPE = 2;
const MODEL_TYPES: Record<number, string> = { 1: "Unigram", 2: "BPE", 3: "word", 4: "char" };

interface Piece {
  readonly piece: string;
  readonly score: number;
  readonly type: number;
}

/** What of a model the conversion reads. */
interface SentencePieceModel {
  readonly pieces: readonly Piece[];
  readonly modelType: number;
  readonly byteFallback: boolean;
  readonly unkId: number;
  readonly bosId: number;
  readonly normalization: string;
  readonly addDummyPrefix: boolean;
  readonly removeExtraWhitespaces: boolean;
}

function parseModel(file: string, bytes: Uint8Array): SentencePieceModel {
  try {
    const model = new ProtoMessage(bytes);
    const pieces = model.messages(1).map((p) => ({
      piece: p.string(1, ""),
      score: p.float(2, 0),
      type: p.int(3, NORMAL),
    }));
    const trainer = model.message(2), normalizer = model.message(3);
    return {
      pieces,
      modelType: trainer.int(3, 1),
      byteFallback: trainer.bool(35, false),
      unkId: trainer.int(40, 0),
      bosId: trainer.int(41, 1),
      normalization: normalizer.string(1, "nmt_nfkc"),
      addDummyPrefix: normalizer.bool(3, true),
      removeExtraWhitespaces: normalizer.bool(4, true),
    };
  } catch (e) {
    if (!(e instanceof ProtobufError)) throw e;
    throw new TokenizerError(file, null, `not a SentencePiece model: ${e.message}`, { cause: e });
  }
}

/**
 * The merges a BPE vocabulary implies: every split of a piece into two pieces, the splits of one
 * piece ordered by their halves' ids, all ranked by the joined piece's score, highest first (ties
 * in vocabulary order), as transformers' SentencePieceExtractor orders them.
 */
function mergesOf(pieces: readonly Piece[], ids: ReadonlyMap<string, number>): [string, string][] {
  const ranked: { pair: [string, string]; score: number; at: number }[] = [];
  pieces.forEach(({ piece, score }) => {
    const chars = [...piece];
    const local: [string, string][] = [];
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join(""), right = chars.slice(i).join("");
      if (ids.has(left) && ids.has(right)) local.push([left, right]);
    }
    local.sort((a, b) => ids.get(a[0])! - ids.get(b[0])! || ids.get(a[1])! - ids.get(b[1])!);
    for (const pair of local) ranked.push({ pair, score, at: ranked.length });
  });
  ranked.sort((a, b) => b.score - a.score || a.at - b.at);
  return ranked.map((r) => r.pair);
}

/**
 * The tokenizer.json of a tokenizer.model's bytes (`file` names it in errors), in transformers'
 * legacy layout, which encodes plain text exactly as SentencePiece does (its `legacy: false`
 * Metaspace form does not for a text that begins with a space). `config` is the folder's
 * tokenizer_config.json: `add_prefix_space: false` drops the dummy prefix; `add_bos_token` is read
 * where every tokenizer's is (Tokenizer.leadingIds), over the template written here (the bos piece
 * first).
 */
export function sentencePieceJson(
  file: string,
  bytes: Uint8Array,
  config: Record<string, unknown>,
): Record<string, unknown> {
  const m = parseModel(file, bytes);
  if (m.pieces.length === 0) throw new TokenizerError(file, null, "the model has no pieces");
  if (m.modelType !== BPE) {
    throw new TokenizerError(
      file,
      null,
      `a SentencePiece ${
        MODEL_TYPES[m.modelType] ?? `type-${m.modelType}`
      } model, which is not read (only BPE models, as Llama's); save a tokenizer.json beside it`,
    );
  }
  if (m.removeExtraWhitespaces) {
    throw new TokenizerError(
      file,
      null,
      "the model collapses runs of spaces (remove_extra_whitespaces), which is not read (Llama's " +
        "keeps them); save a tokenizer.json beside it",
    );
  }
  if (m.normalization !== "identity") {
    throw new TokenizerError(
      file,
      null,
      `normalization rule "${m.normalization}" is not read (only "identity", as Llama's); save ` +
        "a tokenizer.json beside it",
    );
  }
  const ids = new Map<string, number>();
  m.pieces.forEach((p, id) => {
    if (ids.has(p.piece)) {
      throw new TokenizerError(file, `piece ${id}`, `${JSON.stringify(p.piece)} is there twice`);
    }
    ids.set(p.piece, id);
  });
  const unk = m.pieces[m.unkId];
  if (!unk || unk.type !== UNKNOWN) {
    throw new TokenizerError(file, "unk_id", `piece ${m.unkId} is not the unknown piece`);
  }
  const bos = m.pieces[m.bosId];
  const prefix = m.addDummyPrefix && config.add_prefix_space !== false;
  const normalizers: unknown[] = [];
  if (prefix) normalizers.push({ type: "Prepend", prepend: "▁" });
  normalizers.push({ type: "Replace", pattern: { String: " " }, content: "▁" });
  const decoders: unknown[] = [
    { type: "Replace", pattern: { String: "▁" }, content: " " },
    ...(m.byteFallback ? [{ type: "ByteFallback" }] : []),
    { type: "Fuse" },
    ...(prefix ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : []),
  ];
  const special = (id: number) => m.pieces[id].type === UNKNOWN || m.pieces[id].type === CONTROL;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: m.pieces.flatMap((p, id) =>
      p.type === UNKNOWN || p.type === CONTROL || p.type === USER_DEFINED
        ? [addedToken(id, p.piece, special(id))]
        : []
    ),
    normalizer: { type: "Sequence", normalizers },
    pre_tokenizer: null,
    post_processor: bos?.type === CONTROL
      ? {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: bos.piece, type_id: 0 } }, {
          Sequence: { id: "A", type_id: 0 },
        }],
        pair: [
          { SpecialToken: { id: bos.piece, type_id: 0 } },
          { Sequence: { id: "A", type_id: 0 } },
          { SpecialToken: { id: bos.piece, type_id: 1 } },
          { Sequence: { id: "B", type_id: 1 } },
        ],
        special_tokens: { [bos.piece]: { id: bos.piece, ids: [m.bosId], tokens: [bos.piece] } },
      }
      : null,
    decoder: { type: "Sequence", decoders },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: unk.piece,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: m.byteFallback,
      ignore_merges: false,
      vocab: Object.fromEntries(ids),
      merges: mergesOf(m.pieces, ids),
    },
  };
}
