// Causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations in GPT"; the
// procedure of shared/REALISM.md section 2) of one fact on any CausalLM:
// 1. clean run: every layer's residual stream, MLP output and attention output at every token,
//    and P(answer) (the probability of the answer's first token after the prompt, as ROME; with
//    no answer given, the clean run's most likely next token is the answer);
// 2. corrupted runs: Gaussian noise (std = `noise` x the std of the token-embedding table) added
//    to the subject tokens' input embeddings, `samples` seeded draws; or, with `corruptAt`
//    "layer0", to the subject tokens' residual stream after layer 0 (std = `noise` x the std of
//    that clean residual's entries), which counts layer 0 as part of the embedding: a diagnostic
//    for models whose layer-0 MLP writes most of the subject's representation, where restoring
//    that one output restores nearly everything;
// 3. restored runs: in each corrupted run, one state (kind, layer) at one position is put back
//    to its clean value; indirect effect = mean P(answer | restored) - mean P(answer | corrupted).
//    With a window w > 1, an MLP or attention output is put back at the w layers around the
//    layer (ROME's `trace_important_window`, w = 10 of GPT-2 XL's 48 layers); the residual
//    stream, which already carries every earlier layer's output, at the one layer.
// Each (kind, layer) is one forward whose rows are every (sample, position) pair, so a prompt of
// T tokens costs 3 x layers forwards of samples x T rows, plus the clean and corrupted runs.

import { noGrad, type Var } from "../autograd/variable.ts";
import * as A from "../autograd/ops.ts";
import { promptWithAnswer, type Tokenizer } from "../io/tokenizer.ts";
import { gaussian } from "../model/build.ts";
import type { CausalLM, HookSite } from "../model/lm.ts";
import { constant } from "../autograd/variable.ts";
import { Tensor, tidyAsync } from "../tensor/tensor.ts";

export const TRACE_KINDS = ["resid", "mlp_out", "attn_out"] as const;
export type TraceKind = typeof TRACE_KINDS[number];

export interface TraceOptions {
  /** Noise draws averaged (default 10). */
  samples?: number;
  /** Noise std as a multiple of the token embeddings' std (default 3). */
  noise?: number;
  seed?: number;
  /** Layers restored together for the MLP and attention outputs (default 1; ROME: 10). */
  window?: number;
  /** Where the noise goes: the input embeddings (default, ROME) or the residual after layer 0. */
  corruptAt?: CorruptionSite;
}

/** Where a trace may corrupt the subject (TraceOptions.corruptAt). */
export const CORRUPTION_SITES = ["embed", "layer0"] as const;
/** Where a trace corrupts the subject (TraceOptions.corruptAt). */
export type CorruptionSite = typeof CORRUPTION_SITES[number];

/** Whether `s` names a CorruptionSite. */
export function isCorruptionSite(s: string): s is CorruptionSite {
  return (CORRUPTION_SITES as readonly string[]).includes(s);
}

export interface TraceFact {
  prompt: string;
  subject: string;
  /** Absent: the clean run's most likely next token. */
  answer?: string;
}

export interface FactTrace {
  /** The prompt's tokens, as text. */
  tokens: string[];
  /** Subject token positions [start, end). */
  subject: [number, number];
  /** The answer token whose probability is traced, and its text. */
  answerToken: number;
  answer: string;
  pClean: number;
  /** The answer token is the clean run's most likely next token. */
  known: boolean;
  pCorrupted: number;
  /** Indirect effect per kind, [position][layer]. */
  effects: Record<TraceKind, number[][]>;
  /**
   * The clean run's L2 norm of each state, per kind [position][layer]: how much of the residual
   * stream an output writes (a layer-0 MLP whose output is nearly all of it is, in effect, the
   * embedding, and restoring it restores nearly everything).
   */
  norms: Record<TraceKind, number[][]>;
  /** The clean run's L2 norm of the token embedding at each position (before positions). */
  embedNorms: number[];
}

/** Positions [start, end) of `subject` in the tokens of `prompt`, or an error. */
export function subjectSpan(tok: Tokenizer, prompt: string, subject: string): [number, number] {
  const at = prompt.indexOf(subject);
  if (at < 0) throw new Error(`the prompt "${prompt}" does not contain the subject "${subject}"`);
  const ids = tok.encode(prompt);
  const before = prompt.slice(0, at).trimEnd();
  // The tokens before the subject: the leading special ones (Llama's <s>) and the text's.
  const start = tok.encode(before).length;
  const upto = tok.encode(prompt.slice(0, at + subject.length));
  const end = upto.length;
  if (end <= start || upto.some((id, i) => ids[i] !== id)) {
    throw new Error(`the subject "${subject}" does not fall on token boundaries of "${prompt}"`);
  }
  return [start, end];
}

/** The layers restored for `kind` at `layer`: ROME's [l - floor(w/2), l + ceil(w/2)), clipped. */
export function windowLayers(
  kind: TraceKind,
  layer: number,
  window: number,
  nLayers: number,
): number[] {
  if (kind === "resid") return [layer];
  const from = Math.max(0, layer - Math.floor(window / 2));
  const to = Math.min(nLayers, layer + Math.ceil(window / 2));
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function std(values: Float32Array): number {
  let s = 0, s2 = 0;
  for (const v of values) {
    s += v;
    s2 += v * v;
  }
  const m = s / values.length;
  return Math.sqrt(Math.max(0, s2 / values.length - m * m));
}

function softmaxAt(logits: Float32Array, row: number, v: number, token: number): number {
  let max = -Infinity;
  for (let j = 0; j < v; j++) max = Math.max(max, logits[row * v + j]);
  let sum = 0;
  for (let j = 0; j < v; j++) sum += Math.exp(logits[row * v + j] - max);
  return Math.exp(logits[row * v + token] - max) / sum;
}

/** The token-embedding table: what the noise scale is measured on. */
function embeddingTable(model: CausalLM): Var {
  const info = model.paramInfo.find((p) =>
    p.layout === "embedding" && p.shape[0] === model.config.vocabSize
  );
  if (!info) throw new Error("the model has no token-embedding table");
  return model.params.get(info.name)!;
}

export async function traceFact(
  model: CausalLM,
  tok: Tokenizer,
  fact: TraceFact,
  opts: TraceOptions = {},
): Promise<FactTrace> {
  const samples = opts.samples ?? 10;
  const seed = opts.seed ?? 1;
  const window = opts.window ?? 1;
  if (!Number.isInteger(window) || window < 1) {
    throw new RangeError(`the window must be a whole number of layers >= 1 (got ${window})`);
  }
  const be = model.backend;
  const { nLayers, dModel: d, vocabSize: v, contextLength } = model.config;
  if (window > nLayers) {
    throw new RangeError(`the window of ${window} layers is wider than the model's ${nLayers}`);
  }
  const ids = tok.encode(fact.prompt);
  const t = ids.length;
  if (t > contextLength) {
    throw new RangeError(
      `the prompt is ${t} tokens, longer than the model's context of ${contextLength}`,
    );
  }
  let answerToken = -1;
  if (fact.answer !== undefined) {
    const full = tok.encode(promptWithAnswer(fact.prompt, fact.answer));
    answerToken = full[t] ?? -1;
    if (answerToken < 0 || full.slice(0, t).some((x, i) => x !== ids[i])) {
      throw new Error(`the answer "${fact.answer}" does not start a new token after the prompt`);
    }
  }
  const [s0, s1] = subjectSpan(tok, fact.prompt, fact.subject);
  const atLayer0 = (opts.corruptAt ?? "embed") === "layer0";

  // Clean run: states per (kind, layer) as host rows [t, d], and P(answer).
  const clean = new Map<string, Float32Array>();
  let known = false;
  const pClean = await tidyAsync(async () => {
    const seen: [string, Var][] = [];
    const logits = noGrad(() =>
      model.forward(
        Tensor.fromArray(be, ids, [1, t]),
        (l, site, x) => {
          if ((TRACE_KINDS as readonly string[]).includes(site) || site === "embed") {
            seen.push([`${site}/${l}`, x]);
          }
        },
        undefined,
        Tensor.fromArray(be, [t - 1], [1]),
      )
    );
    for (const [k, x] of seen) clean.set(k, await x.value.toArray());
    const out = await logits.value.toArray();
    if (answerToken < 0) {
      answerToken = 0;
      for (let j = 1; j < v; j++) if (out[j] > out[answerToken]) answerToken = j;
    }
    known = out.every((x, j) => j === answerToken || x < out[answerToken]);
    return softmaxAt(out, 0, v, answerToken);
  });

  const sigma = (opts.noise ?? 3) *
    std(atLayer0 ? clean.get("resid/0")! : await embeddingTable(model).value.toArray());
  // Noise per sample on the subject rows, as an addend [t, d].
  const noise = Array.from({ length: samples }, (_, k) => {
    const n = new Float32Array(t * d);
    n.set(gaussian((s1 - s0) * d, sigma, seed * 1000 + k), s0 * d);
    return n;
  });

  /** P(answer) of `rows` corrupted runs (row r uses sample sampleOf(r)), restoring per row. */
  const run = (
    rows: number,
    sampleOf: (r: number) => number,
    restore?: { kind: TraceKind; layers: number[]; positionOf: (r: number) => number },
  ) =>
    tidyAsync(async () => {
      const addend = new Float32Array(rows * t * d);
      for (let r = 0; r < rows; r++) addend.set(noise[sampleOf(r)], r * t * d);
      const noiseVar = constant(Tensor.fromArray(be, addend, [rows * t, d]));
      // Each restored layer's row is masked out (keep) and its clean value added (put).
      let keep: Var | null = null;
      const put = new Map<number, Var>();
      if (restore) {
        const at = Array.from({ length: rows }, (_, r) => restore.positionOf(r));
        const k = new Float32Array(rows * t * d).fill(1);
        at.forEach((i, r) => k.fill(0, (r * t + i) * d, (r * t + i + 1) * d));
        keep = constant(Tensor.fromArray(be, k, [rows * t, d]));
        for (const l of restore.layers) {
          const state = clean.get(`${restore.kind}/${l}`)!;
          const p = new Float32Array(rows * t * d);
          at.forEach((i, r) => p.set(state.subarray(i * d, (i + 1) * d), (r * t + i) * d));
          put.set(l, constant(Tensor.fromArray(be, p, [rows * t, d])));
        }
      }
      // The noise first, then a restore (restoring the residual where the noise went undoes it).
      const hook = (l: number, site: HookSite, x: Var) => {
        let y = x;
        if (atLayer0 ? site === "resid" && l === 0 : site === "embed") y = A.add(y, noiseVar);
        if (restore && site === restore.kind && put.has(l)) {
          y = A.add(A.mul(y, keep!), put.get(l)!);
        }
        if (y !== x) return y;
      };
      const batchIds = Array.from({ length: rows }, () => ids).flat();
      const last = Array.from({ length: rows }, (_, r) => r * t + t - 1);
      const logits = noGrad(() =>
        model.forward(
          Tensor.fromArray(be, batchIds, [rows, t]),
          hook,
          undefined,
          Tensor.fromArray(be, last, [rows]),
        )
      );
      const out = await logits.value.toArray();
      return Array.from({ length: rows }, (_, r) => softmaxAt(out, r, v, answerToken));
    });

  const corrupted = await run(samples, (r) => r);
  const pCorrupted = corrupted.reduce((a, b) => a + b, 0) / samples;
  const effects = {} as Record<TraceKind, number[][]>;
  for (const kind of TRACE_KINDS) {
    effects[kind] = Array.from({ length: t }, () => new Array(nLayers).fill(0));
    for (let l = 0; l < nLayers; l++) {
      const probs = await run(samples * t, (r) => Math.floor(r / t), {
        kind,
        layers: windowLayers(kind, l, window, nLayers),
        positionOf: (r) => r % t,
      });
      for (let i = 0; i < t; i++) {
        let s = 0;
        for (let k = 0; k < samples; k++) s += probs[k * t + i];
        effects[kind][i][l] = s / samples - pCorrupted;
      }
    }
  }
  const rowNorms = (state: Float32Array) =>
    Array.from({ length: t }, (_, i) => {
      let s = 0;
      for (let j = i * d; j < (i + 1) * d; j++) s += state[j] * state[j];
      return Math.sqrt(s);
    });
  const norms = {} as Record<TraceKind, number[][]>;
  for (const kind of TRACE_KINDS) {
    const byLayer = Array.from({ length: nLayers }, (_, l) => rowNorms(clean.get(`${kind}/${l}`)!));
    norms[kind] = Array.from({ length: t }, (_, i) => byLayer.map((n) => n[i]));
  }
  return {
    tokens: ids.map((id) => tok.decode([id])),
    subject: [s0, s1],
    answerToken,
    answer: fact.answer ?? tok.decode([answerToken]),
    pClean,
    known,
    pCorrupted,
    effects,
    norms,
    embedNorms: rowNorms(clean.get("embed/-1")!),
  };
}
