// Causal multi-head self-attention from projected q, k, v rows, shared by GPT-2 and Llama:
// heads split by transposes, grouped-query heads repeated, optional rotary embeddings, scaled
// causal softmax, heads merged back to [batch*T, heads*headDim].

import * as A from "../autograd/ops.ts";
import type { Var } from "../autograd/variable.ts";

export interface AttentionShape {
  batch: number;
  t: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Rotary base, or null for none (GPT-2). */
  rope: number | null;
}

function heads(x: Var, s: AttentionShape, n: number): Var {
  let v = A.reshape(x, [s.batch, s.t, n, s.headDim]);
  if (s.rope !== null) v = A.rope(v, 0, s.rope);
  return A.transpose0213(v); // [batch, n, t, headDim]
}

/** q: [batch*T, H*Dh], k and v: [batch*T, Hkv*Dh] -> [batch*T, H*Dh]. */
export function causalSelfAttention(q: Var, k: Var, v: Var, s: AttentionShape): Var {
  const g = s.nHeads / s.nKvHeads;
  const bh = s.batch * s.nHeads;
  const qh = A.reshape(heads(q, s, s.nHeads), [bh, s.t, s.headDim]);
  const kh = A.reshape(A.repeatKv(heads(k, s, s.nKvHeads), g), [bh, s.t, s.headDim]);
  const vh = A.reshape(
    A.repeatKv(heads(v, { ...s, rope: null }, s.nKvHeads), g),
    [bh, s.t, s.headDim],
  );
  const scores = A.bmm(qh, kh, { transB: true });
  const probs = A.softmax(scores, { causal: true, qlen: s.t, scale: 1 / Math.sqrt(s.headDim) });
  const o = A.reshape(A.bmm(probs, vh), [s.batch, s.nHeads, s.t, s.headDim]);
  return A.reshape(A.transpose0213(o), [s.batch * s.t, s.nHeads * s.headDim]);
}
