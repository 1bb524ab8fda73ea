// A memory plan as aligned text lines, for `--plan`: the bytes of each phase and, given the
// backend's limits, whether it fits.

import { type BackendLimits, formatBytes, planProblems, tensorLabel } from "./fit.ts";
import { type MemoryPlan, totalElements } from "./plan.ts";

/** The plan as aligned text lines (for `--plan`). */
export function formatPlan(plan: MemoryPlan, limits?: BackendLimits): string {
  const c = plan.config, b = plan.bytes, o = plan.options;
  const row = (k: string, v: number, note = "") =>
    `  ${k.padEnd(22)} ${formatBytes(v).padStart(11)}${note ? `  ${note}` : ""}`;
  const lines = [
    `memory plan: ${c.hfClass}, ${c.nLayers} layers, d ${c.dModel}, ff ${c.dFF}, vocab ${c.vocabSize}`,
    `  ${plan.params.total.toLocaleString("en-US")} parameters, ${
      plan.params.scored.toLocaleString("en-US")
    } scored by attribution`,
    `  weights: matrices ${o.weightDtype}, norms and biases f32`,
    `  work: batch ${o.batch} x ${o.seqLen} tokens, ${o.igSteps} IG steps, <= ${o.updateSteps} update steps` +
    (o.klRows
      ? `, KL over ${o.klRows} rows of ${o.klSeqLen} tokens` +
        (o.klBatches.length > 1 ? ` at most, in ${o.klBatches.length} length buckets` : "")
      : "") +
    `, backend ${o.backend}`,
    o.attributionChunks > 1
      ? `  attribution: ${o.attributionChunks} passes over groups of <= ${
        Math.ceil(c.nLayers / o.attributionChunks)
      } layers (to fit; scores unchanged, ${o.attributionChunks}x the attribution time)`
      : `  attribution: one pass over all ${c.nLayers} layers`,
    ...(o.checkpointLayers
      ? [
        "  checkpointed layers: backward recomputes each layer (to fit; one more forward per step)",
      ]
      : []),
    row("weights", b.weights),
    row(
      "gradients",
      b.gradients,
      o.attributionChunks > 1
        ? "one per scored weight and bias of one layer group"
        : "one per scored weight and bias",
    ),
    row(
      "activations",
      b.activations,
      `${
        totalElements(plan.forward.map((x) => ({ ...x, elements: 1 })))
      } tensors kept for backward`,
    ),
    ...(b.recompute
      ? [row("recomputed layer", b.recompute, "checkpointing, one at a time, in the transients")]
      : []),
    row(
      "head + loss",
      b.logits,
      `${o.targetTokens} target rows: inputs, final norm, logits, loss; measured`,
    ),
    row("backward transient", b.backwardTransient, "attribution, measured"),
    row("  in the update", b.updateTransient, "measured"),
    row(
      "optimizer (update)",
      b.optimizer,
      `f32 master, grad, Adam m and v of ${
        o.ensemble.selection === "global"
          ? `top ${o.ensemble.topP}`
          : `${o.ensemble.perLayerK}/layer`
      } of the units (the largest)`,
    ),
    ...(b.finiteCheck
      ? [row("  non-finite check", b.finiteCheck, "f32 copy of the largest f16 weight trained")]
      : []),
    ...(b.locality
      ? [row("KL locality", b.locality, "anchors' inputs and reference logits, forwards, KL")]
      : []),
    ...(b.anchorInputs
      ? [row("  held anchors", b.anchorInputs, "every batch's inputs, through both phases")]
      : []),
    ...(b.rounding
      ? [row("allocator rounding", b.rounding, "WASM size classes, at most 1/8 per block")]
      : []),
    row("peak: attribution", b.attributionPeak),
    row("peak: update", b.updatePeak),
    row("peak on device", b.devicePeak),
    row("host extra", b.hostExtra, "max: a weight at save, a weight + its sum, snapshot + diff"),
    `  largest buffer: ${tensorLabel(plan.largest)} (${plan.largest.dtype}, ${
      formatBytes(plan.largest.bytes)
    })`,
    `  about ${(plan.flops / 1e9).toFixed(plan.flops < 1e10 ? 2 : 0)} GFLOP per edit`,
  ];
  if (limits) {
    lines.push(
      `backend: ${limits.description}: device ${
        limits.deviceBytes === null ? "size not reported" : formatBytes(limits.deviceBytes)
      }, binding limit ${formatBytes(limits.maxBindingBytes)}, buffer limit ${
        formatBytes(limits.maxBufferBytes)
      }, system memory ${
        Number.isFinite(limits.hostAvailable)
          ? `available ${formatBytes(limits.hostAvailable)}`
          : "not measured (only the device is checked)"
      }`,
    );
    const problems = planProblems(plan, limits, "edit");
    lines.push(problems.length === 0 ? "fits: yes" : `fits: NO\n  - ${problems.join("\n  - ")}`);
  }
  return lines.join("\n");
}
