// Causal multi-head self-attention from projected q, k, v rows, shared by every decoder here:
// heads split by transposes, grouped-query heads repeated, optional rotary embeddings, scaled
// (and, for Gemma 2, soft-capped) causal softmax, heads merged back to [batch*T, heads*headDim].
// With a KV cache (inference only), the new keys and values are written into the cache at
// positions [pos, pos+T) and the T queries attend to all pos+T cached positions.

import { BackendError } from "../../engine/backend.ts";
import * as A from "../autograd/ops.ts";
import { constant, type Var } from "../autograd/variable.ts";
import * as T from "../tensor/ops.ts";
import { type Tensor, tidy } from "../tensor/tensor.ts";
import type { LayerCache } from "./kvcache.ts";

export interface AttentionShape {
  batch: number;
  t: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Rotary inverse frequencies [headDim / 2] (./rope.ts), or null for none (GPT-2). */
  rope: Tensor | null;
  /** GPT-J: the rotation turns pairs (2i, 2i + 1) rather than (i, i + Dr/2). */
  interleaved?: boolean;
  /** What the scores q·k are multiplied by: 1 / sqrt(headDim) unless given (Gemma 2, 3). */
  scale?: number;
  /**
   * Gemma 2's attn_logit_softcapping: the scaled scores become cap tanh(scores / cap) before
   * the mask and softmax; absent or null for none.
   */
  softcap?: number | null;
}

/** The softmax's options over scores q·k: the scale, unless the soft-cap has taken it. */
function scoreSoftmax(s: AttentionShape): { causal: true; qlen: number; scale: number } {
  const scale = s.scale ?? 1 / Math.sqrt(s.headDim);
  return { causal: true, qlen: s.t, scale: s.softcap ? 1 : scale };
}

function heads(x: Var, s: AttentionShape, n: number): Var {
  let v = A.reshape(x, [s.batch, s.t, n, s.headDim]);
  if (s.rope !== null) v = A.rope(v, 0, s.rope, s.interleaved);
  return A.transpose0213(v); // [batch, n, t, headDim]
}

/**
 * q: [batch*T, H*Dh], k and v: [batch*T, Hkv*Dh] -> [batch*T, H*Dh]. With `cache`, positions
 * start at cache.pos and the keys/values of earlier positions come from the cache.
 */
export function causalSelfAttention(
  q: Var,
  k: Var,
  v: Var,
  s: AttentionShape,
  cache?: LayerCache,
): Var {
  if (cache) return cachedAttention(q, k, v, s, cache);
  const g = s.nHeads / s.nKvHeads;
  const bh = s.batch * s.nHeads;
  const qh = A.reshape(heads(q, s, s.nHeads), [bh, s.t, s.headDim]);
  const kh = A.reshape(A.repeatKv(heads(k, s, s.nKvHeads), g), [bh, s.t, s.headDim]);
  const vh = A.reshape(
    A.repeatKv(heads(v, { ...s, rope: null }, s.nKvHeads), g),
    [bh, s.t, s.headDim],
  );
  const raw = A.bmm(qh, kh, { transB: true });
  const scores = s.softcap ? A.softcap(raw, s.scale ?? 1 / Math.sqrt(s.headDim), s.softcap) : raw;
  const probs = A.softmax(scores, scoreSoftmax(s));
  const o = A.reshape(A.bmm(probs, vh), [s.batch, s.nHeads, s.t, s.headDim]);
  return A.reshape(A.transpose0213(o), [s.batch * s.t, s.nHeads * s.headDim]);
}

/** [batch*T, n*Dh] rows -> [batch, n, T, Dh] heads, rotated for positions pos.. when rope. */
function headsAt(x: Tensor, s: AttentionShape, n: number, pos: number, rope: boolean): Tensor {
  const r = x.reshape([s.batch, s.t, n, s.headDim]);
  const rot = rope && s.rope !== null ? T.rope(r, pos, s.rope, 1, s.interleaved) : r;
  const h = T.transpose0213(rot);
  r.free();
  rot.free();
  return h;
}

/**
 * The cached path. Grouped-query heads need no repetition: the g query heads of one kv head are
 * consecutive, so queries viewed as [batch*Hkv, g*T, Dh] multiply that kv head's cached rows.
 */
function cachedAttention(q: Var, k: Var, v: Var, s: AttentionShape, c: LayerCache): Var {
  if (q.requiresGrad || k.requiresGrad || v.requiresGrad) {
    throw new BackendError("KV-cached attention is inference only: run the forward under noGrad()");
  }
  const [rowsKv, cap, hd] = c.k.shape;
  const len = c.pos + s.t;
  if (rowsKv !== s.batch * s.nKvHeads || hd !== s.headDim || len > cap) {
    throw new BackendError(
      `KV cache [${c.k.shape.join(", ")}] does not fit batch ${s.batch} x ${s.nKvHeads} kv heads ` +
        `x ${s.headDim}, positions ${c.pos}..${len}`,
    );
  }
  const g = s.nHeads / s.nKvHeads;
  const out = tidy(() => {
    for (const [x, cache, rope] of [[k, c.k, true], [v, c.v, false]] as const) {
      const h = headsAt(x.value, s, s.nKvHeads, c.pos, rope).reshape([rowsKv, s.t * hd]);
      const view = cache.reshape([rowsKv, cap * hd]);
      T.copyCols(h, 0, s.t * hd, view, c.pos * hd);
      view.free();
    }
    const qh = headsAt(q.value, s, s.nHeads, c.pos, true).reshape([rowsKv, g * s.t, hd]);
    const raw = T.matmulPrefix(qh, c.k, len, true);
    const scores = s.softcap ? T.softcap(raw, s.scale ?? 1 / Math.sqrt(hd), s.softcap) : raw;
    const probs = T.softmax(scores, scoreSoftmax(s));
    const o = T.matmulPrefix(probs, c.v, len, false).reshape([s.batch, s.nHeads, s.t, hd]);
    return T.transpose0213(o).reshape([s.batch * s.t, s.nHeads * hd]);
  });
  return constant(out);
}
