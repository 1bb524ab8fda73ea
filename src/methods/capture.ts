// Activations read through forward hooks without gradients: rows at hook sites (the baselines'
// keys and values), and the model's next-token argmax.

import { BackendError } from "../../engine/backend.ts";
import { noGrad, type Var } from "../autograd/variable.ts";
import type { CausalLM, HookSite } from "../model/lm.ts";
import { argmaxRows } from "../tensor/ops.ts";
import { Tensor, tidyAsync } from "../tensor/tensor.ts";

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
