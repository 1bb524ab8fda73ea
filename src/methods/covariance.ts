// Second moment C = E[k kᵀ] (uncentred covariance) of the FFN keys (the "mlp_key" activations,
// inputs of the FFN output projection) at given layers, over text the model saw: ROME's and
// MEMIT's "mom2" statistics.
//
// Texts (hparam covTexts):
//   "auto"     the fact corpus of src/facts/corpus.ts (buildCorpus().train, the default model's
//              training text) when the tokenizer knows every word of it, else "prompts"
//   "corpus"   the fact corpus (texts with unknown words are skipped)
//   "prompts"  the edit requests' own prompts (prompt, rephrases, portability and locality probe
//              prompts, and the edit prompts after each context prefix): a small fallback for
//              models with no text at hand (the damping term keeps C invertible)
//   a path     a .txt file (one text per line) or a .json array of strings (scripts/compare.ts
//              --cov-texts)
// At most `maxTexts` texts are used (the first ones), each cut to the model's context.
//
// Keys are summed on the device (K^T K with the transposed matmul, same-length texts batched,
// the forward pass stopped after the last needed layer) and accumulated on the host in float64.
// Results are memoised per model object and kept by the host's store (./covariance-host.ts: under
// Deno files in .cache/kne/ at the repository root, override with KNE_CACHE_DIR; in a page the
// browser's Cache Storage), keyed by a SHA-256 of the model's weights, the texts and the layer;
// never in the model folder. Request-prompt statistics are not stored (they differ per request
// and are cheap). The corpus and covTexts files come through the same host.

import { BackendError } from "../../engine/backend.ts";
import { noGrad } from "../autograd/variable.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";
import { matmul } from "../tensor/ops.ts";
import { keep, Tensor, tidy } from "../tensor/tensor.ts";
import { encodeKnown, unknownIds } from "../edit/known-tokens.ts";
import { covarianceHost } from "./covariance-host.ts";
import { cholesky } from "./linalg.ts";

export interface KeyMoment {
  layer: number;
  /** Key width (dFF). */
  n: number;
  /** Keys (token positions) averaged. */
  count: number;
  /** E[k kᵀ], n x n row-major. */
  moment: Float64Array;
  /** Where the texts came from (corpus, prompts, a file). */
  source: string;
  texts: number;
  /** Loaded from the host's store. */
  cached: boolean;
  /** Where the store keeps it (a file under Deno); null: not stored. */
  file: string | null;
}

export interface CovarianceOptions {
  /** "auto" | "corpus" | "prompts" | a file path. */
  texts: string;
  maxTexts: number;
  /** The requests' prompts, for "prompts" (and "auto" when the corpus does not fit). */
  prompts: readonly string[];
  /** Token sequences added to the "prompts" texts (the context prefixes + prompts). */
  promptSeqs?: readonly number[][];
  /** Token positions per forward batch. */
  batchTokens?: number;
  /**
   * Called after each forward batch of a pass over the texts (`step` of `of` batches); not called
   * when every moment comes from memory or the store.
   */
  onProgress?: (step: number, of: number) => void;
}

async function sha256(parts: readonly Uint8Array[]): Promise<string> {
  let n = 0;
  for (const p of parts) n += p.length;
  const all = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const h = await crypto.subtle.digest("SHA-256", all);
  return [...new Uint8Array(h)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 of the model's architecture and weights (all parameters, in order). */
export async function weightsHash(model: CausalLM): Promise<string> {
  const parts: Uint8Array[] = [new TextEncoder().encode(JSON.stringify(model.config))];
  for (const info of model.paramInfo) {
    const v = await model.params.get(info.name)!.value.toArray();
    parts.push(new TextEncoder().encode(info.name));
    parts.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  return await sha256(parts);
}

async function readTexts(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await (await covarianceHost()).readText(path);
  } catch (e) {
    throw new BackendError(`covariance texts ${path}: cannot read: ${(e as Error).message}`);
  }
  if (path.endsWith(".json")) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new BackendError(`covariance texts ${path}: invalid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
      throw new BackendError(`covariance texts ${path}: expected a JSON array of strings`);
    }
    return v as string[];
  }
  return text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
}

/** Resolves covTexts to token sequences (known words only, cut to the context). */
export async function covarianceTexts(
  tok: Tokenizer,
  contextLength: number,
  opts: CovarianceOptions,
): Promise<{ source: string; seqs: number[][] }> {
  const unk = unknownIds(tok);
  const encodeAll = (texts: readonly string[]) =>
    texts.map((t) => encodeKnown(tok, t, unk)).filter((x) => x !== null).map((ids) =>
      ids.slice(0, contextLength)
    );
  let source = opts.texts;
  let texts: string[];
  if (source === "auto") {
    const corpus = await (await covarianceHost()).corpusTexts();
    const probe = corpus.slice(0, 200);
    const fits = probe.every((t) => encodeKnown(tok, t, unk) !== null);
    if (fits) {
      source = "corpus";
      texts = corpus;
    } else {
      source = "prompts";
      texts = [...opts.prompts];
    }
  } else if (source === "corpus") texts = await (await covarianceHost()).corpusTexts();
  else if (source === "prompts") texts = [...opts.prompts];
  else texts = await readTexts(source);
  const seqs = encodeAll(texts.slice(0, opts.maxTexts));
  if (source === "prompts") {
    for (const ids of opts.promptSeqs ?? []) {
      if (ids.length > 0) seqs.push(ids.slice(0, contextLength));
    }
  }
  if (seqs.length === 0) {
    throw new BackendError(`covariance texts (${source}): no text the tokenizer can encode`);
  }
  return { source, seqs };
}

class StopForward extends Error {}

/**
 * E[k kᵀ] at each layer over the sequences (no caching); `onProgress` after each forward batch.
 */
export async function keyMoments(
  model: CausalLM,
  layers: readonly number[],
  seqs: readonly number[][],
  batchTokens = 4096,
  onProgress?: (step: number, of: number) => void,
): Promise<{ moments: Map<number, Float64Array>; count: number }> {
  const be = model.backend;
  const n = model.config.dFF;
  const last = Math.max(...layers);
  const host = new Map(layers.map((l) => [l, new Float64Array(n * n)]));
  const dev = new Map(layers.map((l) => [l, keep(Tensor.zeros(be, [n, n]))]));
  const byLen = new Map<number, number[][]>();
  for (const s of seqs) {
    if (!byLen.has(s.length)) byLen.set(s.length, []);
    byLen.get(s.length)!.push(s);
  }
  const perBatch = (len: number) => Math.max(1, Math.floor(batchTokens / len));
  let batches = 0;
  for (const [len, group] of byLen) batches += Math.ceil(group.length / perBatch(len));
  let count = 0, pending = 0, done = 0;
  const flush = async () => {
    for (const l of layers) {
      const d = dev.get(l)!;
      const v = await d.toArray();
      const h = host.get(l)!;
      for (let i = 0; i < v.length; i++) h[i] += v[i];
      be.dispatch("fill", [d.buffer], [d.size, 0]);
    }
    pending = 0;
  };
  try {
    for (const [len, group] of byLen) {
      const per = perBatch(len);
      for (let s = 0; s < group.length; s += per) {
        const batch = group.slice(s, s + per);
        tidy(() => {
          const ids = Tensor.fromArray(be, batch.flat(), [batch.length, len]);
          try {
            noGrad(() =>
              model.forward(ids, (layer, site, x) => {
                if (site !== "mlp_key" || !dev.has(layer)) return;
                const k = x.value.reshape([batch.length * len, n]);
                matmul(k, k, { transA: true }, dev.get(layer)!, true);
                if (layer === last) throw new StopForward();
              })
            );
          } catch (e) {
            if (!(e instanceof StopForward)) throw e;
          }
        });
        count += batch.length * len;
        // f32 partial sums over at most ~64k keys, then float64 on the host.
        if (++pending * per * len >= 65536) await flush();
        onProgress?.(++done, batches);
      }
    }
    if (pending > 0) await flush();
  } finally {
    for (const d of dev.values()) d.free();
  }
  for (const h of host.values()) for (let i = 0; i < h.length; i++) h[i] /= count;
  return { moments: host, count };
}

const memo = new WeakMap<CausalLM, Map<string, KeyMoment>>();
type Texts = { source: string; seqs: number[][]; textsKey: string };
const textMemo = new WeakMap<Tokenizer, Map<string, Texts>>();

/** covarianceTexts with a hash of the sequences; memoised unless they are the prompts. */
async function textsWithKey(
  tok: Tokenizer,
  contextLength: number,
  opts: CovarianceOptions,
): Promise<Texts> {
  const key = `${opts.texts}/${opts.maxTexts}/${contextLength}`;
  let mine = textMemo.get(tok);
  if (!mine) textMemo.set(tok, mine = new Map());
  const hit = mine.get(key);
  if (hit) return hit;
  const { source, seqs } = await covarianceTexts(tok, contextLength, opts);
  const textsKey = await sha256([new TextEncoder().encode(JSON.stringify(seqs))]);
  const r = { source, seqs, textsKey };
  if (source !== "prompts") mine.set(key, r);
  return r;
}

/**
 * E[k kᵀ] of the FFN keys at each of `layers`, from memory, the disk cache or computed (and
 * then cached).
 */
export async function keyCovariance(
  model: CausalLM,
  tok: Tokenizer,
  layers: readonly number[],
  opts: CovarianceOptions,
): Promise<Map<number, KeyMoment>> {
  const n = model.config.dFF;
  const { source, seqs, textsKey } = await textsWithKey(tok, model.config.contextLength, opts);
  let mine = memo.get(model);
  if (!mine) memo.set(model, mine = new Map());
  const out = new Map<number, KeyMoment>();
  const missing: number[] = [];
  for (const l of layers) {
    const hit = mine.get(`${l}/${textsKey}`);
    if (hit) out.set(l, hit);
    else missing.push(l);
  }
  if (missing.length === 0) return out;
  const disk = source !== "prompts";
  const host = await covarianceHost();
  const wHash = disk ? await weightsHash(model) : "";
  const nameOf = (l: number) => `cov-${wHash.slice(0, 20)}-${textsKey.slice(0, 20)}-L${l}.f64`;
  const compute: number[] = [];
  for (const l of missing) {
    if (disk) {
      const loaded = fromCache(await host.readCache(nameOf(l)), n);
      if (loaded) {
        const m: KeyMoment = {
          layer: l,
          n,
          count: loaded.count,
          moment: loaded.moment,
          source,
          texts: seqs.length,
          cached: true,
          file: host.cacheLocation(nameOf(l)),
        };
        mine.set(`${l}/${textsKey}`, m);
        out.set(l, m);
        continue;
      }
    }
    compute.push(l);
  }
  if (compute.length > 0) {
    const { moments, count } = await keyMoments(
      model,
      compute,
      seqs,
      opts.batchTokens,
      opts.onProgress,
    );
    for (const l of compute) {
      const moment = moments.get(l)!;
      let file: string | null = null;
      if (disk) {
        await host.writeCache(nameOf(l), toCache(moment, count));
        file = host.cacheLocation(nameOf(l));
      }
      const m: KeyMoment = {
        layer: l,
        n,
        count,
        moment,
        source,
        texts: seqs.length,
        cached: false,
        file,
      };
      mine.set(`${l}/${textsKey}`, m);
      out.set(l, m);
    }
  }
  return out;
}

// Stored entry: an 8-byte little-endian header (f64 key count), then n*n f64 values.
function fromCache(
  bytes: Uint8Array | null,
  n: number,
): { count: number; moment: Float64Array } | null {
  if (!bytes || bytes.byteLength !== 8 * (n * n + 1)) return null;
  // A copy: the bytes may not start at a multiple of 8.
  const all = new Float64Array(bytes.slice().buffer);
  return { count: all[0], moment: all.subarray(1) };
}

function toCache(moment: Float64Array, count: number): Uint8Array {
  const all = new Float64Array(moment.length + 1);
  all[0] = count;
  all.set(moment, 1);
  return new Uint8Array(all.buffer);
}

const factors = new WeakMap<Float64Array, Map<number, { l: Float64Array; dim?: number }>>();

function dampingTerm(m: KeyMoment, damping: number): number {
  let tr = 0;
  for (let i = 0; i < m.n; i++) tr += m.moment[i * m.n + i];
  return damping * (tr > 0 ? tr / m.n : 1);
}

function factorEntry(m: KeyMoment, damping: number): { l: Float64Array; dim?: number } {
  let byDamping = factors.get(m.moment);
  if (!byDamping) factors.set(m.moment, byDamping = new Map());
  const hit = byDamping.get(damping);
  if (hit) return hit;
  const n = m.n;
  const add = dampingTerm(m, damping);
  const a = Float64Array.from(m.moment);
  for (let i = 0; i < n; i++) a[i * n + i] += add;
  const entry = { l: cholesky(a, n) };
  byDamping.set(damping, entry);
  return entry;
}

/**
 * Cholesky factor of C_d = C + damping * (tr(C) / n) * I (the damping is relative to the mean
 * diagonal, so it does not depend on the keys' scale), memoised per moment and damping.
 */
export function dampedFactor(m: KeyMoment, damping: number): Float64Array {
  return factorEntry(m, damping).l;
}

/**
 * The effective dimension tr(C_d⁻¹ C) = E[kᵀ C_d⁻¹ k] over the sampled keys: about n for a
 * well-sampled full-rank C, about the number of keys for a few (MEMIT's covWeight unit).
 */
export function effectiveDim(m: KeyMoment, damping: number): number {
  const e = factorEntry(m, damping);
  if (e.dim !== undefined) return e.dim;
  // tr(C_d⁻¹ C) = n - add * tr(C_d⁻¹), tr(C_d⁻¹) = |L⁻¹|_F², L⁻¹ by forward substitution.
  const n = m.n, l = e.l;
  const inv = new Float64Array(n);
  let fro = 0;
  for (let j = 0; j < n; j++) {
    // Column j of L⁻¹: solve L x = e_j (x_i = 0 for i < j).
    inv.fill(0);
    for (let i = j; i < n; i++) {
      let s = i === j ? 1 : 0;
      const ri = i * n;
      for (let k = j; k < i; k++) s -= l[ri + k] * inv[k];
      inv[i] = s / l[ri + i];
      fro += inv[i] * inv[i];
    }
  }
  e.dim = n - dampingTerm(m, damping) * fro;
  return e.dim;
}
