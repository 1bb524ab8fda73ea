// What a training step reads: batches of token rows (ids and next-token targets, -1 where a row
// is padding), from one of two sources:
// - sentences (the template corpus of kne-facts): one sentence per row, padded to the batch's
//   longest, in a seeded order reshuffled every epoch;
// - packed text (the free-text corpus of kne-facts-base): each pass's documents encoded, each
//   followed by the end-of-text token, concatenated and cut into rows of exactly ctx + 1 tokens
//   (the last partial row dropped), as GPT-2 was trained. A pass's rows are built when the pass
//   starts, so the loop holds one pass at a time.
// Either source can be read through input noise (withInputNoise): a share of the input tokens
// replaced by random ones, the targets kept, so that the model learns to answer past words it
// cannot read.

import { mulberry32, shuffled } from "../random/rng.ts";

export interface Batch {
  ids: number[];
  targets: number[];
  rows: number;
}

export interface BatchSource {
  /** Rows in epoch (pass) `epoch`. */
  size(epoch: number): number;
  /** Rows [from, to) of epoch `epoch`. */
  batch(epoch: number, from: number, to: number): Batch;
  /** What one row is, for the log and the card ("sentences", "128-token windows"). */
  readonly unit: string;
}

function toBatch(rows: ArrayLike<number>[]): Batch {
  const t = Math.max(...rows.map((s) => s.length)) - 1;
  const ids: number[] = [], targets: number[] = [];
  for (const s of rows) {
    for (let i = 0; i < t; i++) {
      ids.push(i < s.length - 1 ? s[i] : 0);
      targets.push(i < s.length - 1 ? s[i + 1] : -1);
    }
  }
  return { ids, targets, rows: rows.length };
}

export function sentenceSource(seqs: number[][], seed: number): BatchSource {
  let cached = -1;
  let order: number[] = [];
  const orderOf = (epoch: number) => {
    if (epoch !== cached) {
      order = shuffled(seqs.map((_, i) => i), mulberry32(seed * 1000 + epoch));
      cached = epoch;
    }
    return order;
  };
  return {
    unit: "sentences",
    size: () => seqs.length,
    batch: (epoch, from, to) => toBatch(orderOf(epoch).slice(from, to).map((i) => seqs[i])),
  };
}

/** Cut `docs` (encoded, each followed by `eot`) into rows of `ctx + 1` tokens. */
export function packRows(docs: readonly number[][], eot: number, ctx: number): Int32Array[] {
  const stream: number[] = [];
  for (const d of docs) stream.push(...d, eot);
  const rows: Int32Array[] = [];
  for (let i = 0; i + ctx + 1 <= stream.length; i += ctx + 1) {
    rows.push(Int32Array.from(stream.slice(i, i + ctx + 1)));
  }
  return rows;
}

export function packedSource(
  documents: (pass: number) => string[],
  encode: (text: string) => number[],
  eot: number,
  ctx: number,
): BatchSource {
  let cached = -1;
  let rows: Int32Array[] = [];
  const rowsOf = (pass: number) => {
    if (pass !== cached) {
      rows = packRows(documents(pass).map(encode), eot, ctx);
      cached = pass;
    }
    return rows;
  };
  return {
    unit: `${ctx}-token windows`,
    size: (pass) => rowsOf(pass).length,
    batch: (pass, from, to) => toBatch(rowsOf(pass).slice(from, to)),
  };
}

/**
 * `source` with each input token (not the targets, not `eot`) replaced at `rate` by a token drawn
 * uniformly from the vocabulary but `eot`. The draws are seeded by `seed`, the epoch and the row's
 * index in it, so a resumed run reads the same rows as an uninterrupted one.
 */
export function withInputNoise(
  source: BatchSource,
  rate: number,
  vocabSize: number,
  eot: number | null,
  seed: number,
): BatchSource {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`input noise rate ${rate} is not in [0, 1)`);
  const draw = (rng: () => number) => {
    for (;;) {
      const t = Math.floor(rng() * vocabSize);
      if (t !== eot) return t;
    }
  };
  return {
    unit: source.unit,
    size: (epoch) => source.size(epoch),
    batch: (epoch, from, to) => {
      const b = source.batch(epoch, from, to);
      const t = b.ids.length / b.rows;
      const ids = b.ids.slice();
      for (let r = 0; r < b.rows; r++) {
        const rng = mulberry32(
          Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b) ^
            (from + r),
        );
        for (let i = r * t; i < (r + 1) * t; i++) {
          if (rng() < rate && b.targets[i] !== -1 && ids[i] !== eot) ids[i] = draw(rng);
        }
      }
      return { ids, targets: b.targets, rows: b.rows };
    },
  };
}
