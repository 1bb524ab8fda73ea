// Gemma decoders (GemmaForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM text-only), as
// transformers' modeling_gemma, modeling_gemma2 and modeling_gemma3 compute them in float32:
// - the token embeddings times sqrt(hidden size) (transformers forms that normalizer in the
//   hidden dtype: in float32 it is sqrt(d) rounded to f32, used here; bfloat16 would round it
//   further), the embedding table tied to the head unless tie_word_embeddings is false;
// - RMSNorm as x / rms * (1 + weight): the weights are kept as stored (offsets from 1), so an
//   edit's saved weights and patches index the checkpoint's own values, and 1 + weight is formed
//   in f32 at each forward, as transformers does;
// - the Llama layout without biases: grouped-query attention with a head size of its own,
//   rotary positions (rotate_half), a gated FFN, gelu(gate) * up (GeGLU, the tanh GELU);
// - Gemma 2 and 3: scores scaled by query_pre_attn_scalar^(-1/2), a norm on the attention's
//   output and on the FFN's before each is added to the stream (four norms a layer), scores and
//   logits soft-capped as cap tanh(x / cap) where the config says so;
// - Gemma 3: q_norm / k_norm (the same RMSNorm over each head) before the rotation, and the
//   sliding layers' rotary base of their own.
// Sliding-window layers attend as the others do: the context is capped at the window
// (./read-config.ts). The hooks see what the projections write: "attn_out" and "mlp_out" are
// the outputs of o_proj and down_proj, before Gemma 2's post-norms (the weights ROME and MEMIT
// rewrite map keys to those outputs; restoring one restores its normed value too).

import type { Backend } from "../../engine/backend.ts";
import * as A from "../autograd/ops.ts";
import { constant, type Var } from "../autograd/variable.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { causalSelfAttention } from "./attention.ts";
import { isSlidingLayer, type ModelConfig } from "./config.ts";
import type { KVCache } from "./kvcache.ts";
import { llamaParamInfo } from "./llama.ts";
import {
  atRows,
  DecoderLM,
  type ForwardHook,
  forwardOrigin,
  type LayerStart,
  type ParamInfo,
} from "./lm.ts";

const EMBED = "model.embed_tokens.weight";

/** Gemma's parameters: Llama's names, and Gemma 2's and 3's norms around the FFN. */
export function gemmaParamInfo(c: ModelConfig): ParamInfo[] {
  const sandwich = c.gemma!.version >= 2;
  return llamaParamInfo(
    c,
    sandwich ? ["pre_feedforward_layernorm", "post_feedforward_layernorm"] : [],
  );
}

export class Gemma extends DecoderLM {
  constructor(config: ModelConfig, backend: Backend, params: ReadonlyMap<string, Var>) {
    super(config, backend, params, gemmaParamInfo(config));
  }

  /** Gemma's RMSNorm of `x` with the stored weight `name`.weight: x / rms * (1 + weight). */
  #norm(x: Var, name: string): Var {
    return A.rmsNorm(x, A.addScalar(this.param(`${name}.weight`), 1), this.config.normEps);
  }

  forward(
    ids: Tensor,
    hook?: ForwardHook,
    cache?: KVCache,
    rows?: Tensor,
    start?: LayerStart,
  ): Var {
    const c = this.config, g = c.gemma!;
    const [batch, t] = ids.shape;
    forwardOrigin("Gemma", ids.shape, cache, start, c);
    const global = this.rotaryTable();
    const local = g.localRope ? this.localRotaryTable(g.localRope) : global;
    // The hook sees the table's rows (the scale of causal tracing's noise), then the normalizer.
    const x0 = start
      ? constant(start.x)
      : A.scale(this.tokenEmbedding(EMBED, ids, hook), Math.fround(Math.sqrt(c.dModel)));
    const sandwich = g.version >= 2;
    const x = this.runLayers(x0, { hook, cache, rows, start, t }, (l, x, only) => {
      const p = `model.layers.${l}.`;
      const proj = (input: Var, n: string) => this.project(input, p + n);
      const norm = (input: Var, n: string) => this.#norm(input, p + n);
      const n1 = norm(x, "input_layernorm");
      const headNorm = (v: Var, n: string) =>
        c.qkNorm ? this.headNorm(v, n, (r, m) => norm(r, `self_attn.${m}`)) : v;
      const att = causalSelfAttention(
        headNorm(proj(n1, "self_attn.q_proj"), "q_norm"),
        headNorm(proj(n1, "self_attn.k_proj"), "k_norm"),
        proj(n1, "self_attn.v_proj"),
        {
          batch,
          t,
          nHeads: c.nHeads,
          nKvHeads: c.nKvHeads,
          headDim: c.headDim,
          rope: isSlidingLayer(g, l) ? local : global,
          scale: 1 / Math.sqrt(g.queryPreAttnScalar),
          softcap: g.attnSoftcap,
        },
        cache?.layer(l, t),
      );
      const o = proj(atRows(att, only), "self_attn.o_proj");
      const ao = hook?.(l, "attn_out", o) ?? o;
      const mid = A.add(atRows(x, only), sandwich ? norm(ao, "post_attention_layernorm") : ao);
      const n2 = norm(mid, sandwich ? "pre_feedforward_layernorm" : "post_attention_layernorm");
      const gu = A.mul(this.gelu(proj(n2, "mlp.gate_proj")), proj(n2, "mlp.up_proj"));
      const key = hook?.(l, "mlp_key", gu) ?? gu;
      const d = proj(key, "mlp.down_proj");
      const mo = hook?.(l, "mlp_out", d) ?? d;
      return A.add(mid, sandwich ? norm(mo, "post_feedforward_layernorm") : mo);
    });
    const nf = this.#norm(x, "model.norm");
    const logits = A.linear(
      nf,
      this.param(c.tieEmbeddings ? EMBED : "lm_head.weight"),
      null,
      "out_in",
    );
    return g.finalSoftcap ? A.softcap(logits, 1, g.finalSoftcap) : logits;
  }
}
