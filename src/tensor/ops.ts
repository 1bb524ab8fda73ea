// Tensor operations without gradients: each checks shapes, allocates its output and dispatches
// one kernel on the tensors' backend. The autograd ops in src/autograd/ compose these. This file
// is their public entry; the ops live in src/tensor/ops/, one file per kernel family of
// engine/kernels/, with the checks and dispatch they share in src/tensor/ops/dispatch.ts.

export { add, fill, zeros } from "./ops/basic.ts";
export { rowsCols } from "./ops/dispatch.ts";
export { cast } from "./ops/f16.ts";
export {
  copyCols,
  embedding,
  embeddingBackward,
  repeatKv,
  repeatKvBackward,
  rope,
  sliceCols,
  transpose0213,
} from "./ops/layout.ts";
export { biasAdd, matmul, type MatmulOptions, matmulPrefix, sumRows } from "./ops/matmul.ts";
export {
  layernorm,
  layernormBackward,
  layernormParamGrad,
  type NormStats,
  rmsnorm,
  rmsnormBackward,
  rmsnormParamGrad,
} from "./ops/norm.ts";
export {
  adam,
  type AdamStep,
  axpy,
  countNonfinite,
  gelu,
  geluBackward,
  geluErf,
  geluErfBackward,
  mul,
  scale,
  scaleInto,
  silu,
  siluBackward,
  softcap,
  softcapBackward,
  sum,
} from "./ops/pointwise.ts";
export {
  argmaxRows,
  crossEntropy,
  crossEntropyBackward,
  klDiv,
  klDivBackward,
  softmax,
  softmaxBackward,
  type SoftmaxOptions,
} from "./ops/softmax.ts";
export { gatherUnits, scatterUnits, unitMatrix, writeEntries } from "./ops/units.ts";
