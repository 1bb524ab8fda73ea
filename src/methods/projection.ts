// The FFN output projection a baseline edits, in "math" layout (out = W k, W [dOut, dIn])
// whatever the storage layout: finding it in a layer, reading it to the host and adding an
// update to it.

import { BackendError } from "../../engine/backend.ts";
import type { CausalLM, ParamInfo } from "../model/lm.ts";

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
