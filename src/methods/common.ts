// Pieces the baseline editors share: layer defaults, the FFN output projection of a layer and its
// host copy in "math" layout (out = W k, W [dOut, dIn]) whatever the storage layout, freezing
// every parameter but the edited ones, the snapshot / NaN rollback wrapper, the subject's last
// token inside the prompt and activation capture through forward hooks.

import { BackendError } from "../../engine/backend.ts";
import { noGrad, type Var } from "../autograd/variable.ts";
import { Snapshot } from "../edit/snapshot.ts";
import type { TensorChange } from "../io/patch.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM, HookSite, ParamInfo } from "../model/lm.ts";
import { argmaxRows, countNonfinite } from "../tensor/ops.ts";
import { Tensor, tidyAsync } from "../tensor/tensor.ts";

/**
 * ROME default: the early-middle layer floor((L - 1) / 2), where causal tracing puts the
 * subject's FFN recall (ROME edits layer 17 of GPT-2 XL's 48, 5 of GPT-J's 28).
 */
export function earlyMiddleLayer(nLayers: number): number {
  return Math.floor((nLayers - 1) / 2);
}

/** The hparam `layer` (-1 = the method's default) checked against the model. */
export function resolveLayer(
  layer: number,
  nLayers: number,
  fallback: number,
  who: string,
): number {
  const l = layer < 0 ? fallback : layer;
  if (!Number.isInteger(l) || l < 0 || l >= nLayers) {
    throw new BackendError(`${who}: layer ${layer} is out of range (the model has ${nLayers})`);
  }
  return l;
}

export type ProjectionInfo = ParamInfo & { layout: "in_out" | "out_in" };

/** The FFN output projection of a layer: GPT-2 mlp.c_proj [dFF, d], Llama mlp.down_proj [d, dFF]. */
export function ffnOutProjection(model: CausalLM, layer: number): ProjectionInfo {
  const info = model.paramInfo.find((p) =>
    p.layer === layer && p.group === "mlp_out" && (p.layout === "in_out" || p.layout === "out_in")
  );
  if (!info) throw new BackendError(`no FFN output projection in layer ${layer}`);
  return info as ProjectionInfo;
}

/** (dOut, dIn) of a projection: rows and columns of its math-layout matrix. */
export function mathShape(info: ProjectionInfo): [number, number] {
  const [r, c] = info.shape;
  return info.layout === "in_out" ? [c, r] : [r, c];
}

/** Flat storage index of math entry (o, i) (output o, input i). */
export function storageIndex(info: ProjectionInfo, o: number, i: number): number {
  // in_out is stored [in, out]: row i, column o; out_in is [out, in]: row o, column i.
  const c = info.shape[1];
  return info.layout === "in_out" ? i * c + o : o * c + i;
}

/** The weight in math layout W [dOut, dIn], float64. */
export async function readMath(model: CausalLM, info: ProjectionInfo): Promise<Float64Array> {
  const stored = await model.params.get(info.name)!.value.toArray();
  const [dOut, dIn] = mathShape(info);
  const w = new Float64Array(dOut * dIn);
  for (let o = 0; o < dOut; o++) {
    for (let i = 0; i < dIn; i++) w[o * dIn + i] = stored[storageIndex(info, o, i)];
  }
  return w;
}

/** Adds a math-layout update ΔW [dOut, dIn] to the stored weight (rounded to f32 once). */
export async function addMath(
  model: CausalLM,
  info: ProjectionInfo,
  delta: Float64Array,
): Promise<void> {
  const p = model.params.get(info.name)!;
  const stored = await p.value.toArray();
  const [dOut, dIn] = mathShape(info);
  if (delta.length !== dOut * dIn) {
    throw new BackendError(`update of ${info.name}: ${delta.length} values for ${dOut} x ${dIn}`);
  }
  for (let o = 0; o < dOut; o++) {
    for (let i = 0; i < dIn; i++) {
      const k = storageIndex(info, o, i);
      stored[k] = stored[k] + delta[o * dIn + i];
    }
  }
  p.value.backend.upload(p.value.buffer, stored);
}

/**
 * Makes only `names` trainable (zeroing every gradient); returns the function that puts every
 * parameter's requiresGrad back.
 */
export function freezeAllBut(model: CausalLM, names: readonly string[]): () => void {
  const saved = [...model.params.values()].map((p) => [p, p.requiresGrad] as const);
  const keep = new Set(names);
  for (const [name, p] of model.params) {
    p.zeroGrad();
    p.requiresGrad = keep.has(name);
  }
  return () => {
    for (const [p, r] of saved) {
      p.zeroGrad();
      p.requiresGrad = r;
    }
  };
}

export async function anyNonFinite(model: CausalLM, names: readonly string[]): Promise<boolean> {
  for (const n of names) {
    const p = model.params.get(n)!;
    const bad = await tidyAsync(async () => (await countNonfinite(p.value).toArray())[0]);
    if (bad > 0) return true;
  }
  return false;
}

export interface SnapshotEdit<T> {
  value: T;
  changes: TensorChange[];
  rolledBack: boolean;
}

/**
 * Runs an in-place edit of the parameters `names` under a snapshot: on an exception, or when the
 * edit reports `diverged` or leaves a NaN/Inf in them, the snapshot is restored (rolledBack,
 * no changes); otherwise the exact changed entries are returned.
 */
export async function snapshotEdit<T extends { diverged?: boolean }>(
  model: CausalLM,
  names: readonly string[],
  edit: () => Promise<T>,
): Promise<SnapshotEdit<T>> {
  const snapshot = await Snapshot.take(model, names);
  let value: T;
  try {
    value = await edit();
  } catch (e) {
    snapshot.restore();
    throw e;
  }
  if (value.diverged || (await anyNonFinite(model, names))) {
    snapshot.restore();
    return { value, changes: [], rolledBack: true };
  }
  return { value, changes: await snapshot.changes(), rolledBack: false };
}

export interface SubjectPosition {
  /** Index in the prompt's tokens of the subject's last token. */
  index: number;
  /** False when the subject was not found and the last prompt token is used instead. */
  found: boolean;
  /** How it was found, or why not. */
  note: string;
}

function findSub(hay: readonly number[], needle: readonly number[]): number {
  if (needle.length === 0) return -1;
  outer: for (let s = 0; s + needle.length <= hay.length; s++) {
    for (let j = 0; j < needle.length; j++) if (hay[s + j] !== needle[j]) continue outer;
    return s;
  }
  return -1;
}

/**
 * The subject's last token in the prompt (ROME's "subject_last" lookup): the tokens of the
 * prompt text up to the end of the subject's first occurrence, when they are a prefix of the
 * prompt's tokens; else the subject's tokens (with or without a leading space) found inside the
 * prompt's tokens; else the last prompt token (found = false, and the note says so).
 */
export function subjectLastToken(
  tok: Tokenizer,
  prompt: string,
  promptIds: readonly number[],
  subject: string,
): SubjectPosition {
  const at = subject.trim() === "" ? -1 : prompt.indexOf(subject);
  if (at >= 0) {
    const prefix = tok.encode(prompt.slice(0, at + subject.length));
    if (
      prefix.length > 0 && prefix.length <= promptIds.length &&
      prefix.every((id, i) => id === promptIds[i])
    ) {
      return { index: prefix.length - 1, found: true, note: "subject text found in the prompt" };
    }
  }
  for (const variant of [subject, ` ${subject}`]) {
    const ids = subject.trim() === "" ? [] : tok.encode(variant, { addSpecialTokens: false });
    const s = findSub(promptIds, ids);
    if (s >= 0) {
      return {
        index: s + ids.length - 1,
        found: true,
        note: "subject tokens found among the prompt's tokens",
      };
    }
  }
  return {
    index: promptIds.length - 1,
    found: false,
    note: `subject "${subject}" not found in the prompt's tokens; the last prompt token is used`,
  };
}

export interface CaptureRequest {
  layer: number;
  site: HookSite;
  /** Flat rows (batch index * T + position) to read. */
  rows: readonly number[];
}

/**
 * One no-grad forward pass over ids [batch, T] reading activations at hook sites: for each
 * request, the listed rows as float64 vectors.
 */
export async function captureRows(
  model: CausalLM,
  ids: readonly number[],
  batch: number,
  t: number,
  requests: readonly CaptureRequest[],
): Promise<Float64Array[][]> {
  return await tidyAsync(async () => {
    const seen = new Map<string, Var>();
    noGrad(() =>
      model.forward(Tensor.fromArray(model.backend, ids, [batch, t]), (layer, site, x) => {
        seen.set(`${layer}/${site}`, x);
      })
    );
    const out: Float64Array[][] = [];
    for (const r of requests) {
      const x = seen.get(`${r.layer}/${r.site}`);
      if (!x) throw new BackendError(`no activation at layer ${r.layer} site ${r.site}`);
      const width = x.shape[x.shape.length - 1];
      const rows: Float64Array[] = [];
      for (const row of r.rows) {
        rows.push(Float64Array.from(await model.backend.read(x.value.buffer, row * width, width)));
      }
      out.push(rows);
    }
    return out;
  });
}

/** The model's argmax next token after `ids`. */
export async function nextArgmax(model: CausalLM, ids: readonly number[]): Promise<number> {
  return await tidyAsync(async () => {
    const logits = noGrad(() =>
      model.forward(Tensor.fromArray(model.backend, ids, [1, ids.length]))
    );
    const am = await argmaxRows(logits.value).toArray();
    return am[am.length - 1];
  });
}
