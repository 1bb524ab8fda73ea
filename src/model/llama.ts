// Llama-style decoder (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM):
// RMSNorm, rotary position embeddings (rotate_half; ./rope.ts for the frequencies), grouped-query
// attention (Qwen3: each query and key head RMS-normalised first), SwiGLU MLP, torch Linear
// weights stored [out, in], LM head untied unless tie_word_embeddings.

import type { Backend } from "../../engine/backend.ts";
import * as A from "../autograd/ops.ts";
import { constant, type Var } from "../autograd/variable.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { causalSelfAttention } from "./attention.ts";
import type { ModelConfig } from "./config.ts";
import type { KVCache } from "./kvcache.ts";
import {
  atRows,
  DecoderLM,
  type ForwardHook,
  forwardOrigin,
  type LayerStart,
  type ParamInfo,
  untiedHead,
} from "./lm.ts";

/**
 * The Llama layout's parameters; `extraNorms` are a layer's norms after post_attention_layernorm
 * (Gemma 2's and 3's pre- and post-feedforward norms).
 */
export function llamaParamInfo(c: ModelConfig, extraNorms: readonly string[] = []): ParamInfo[] {
  const d = c.dModel, hd = c.headDim, q = c.nHeads * hd, kv = c.nKvHeads * hd;
  const out: ParamInfo[] = [
    {
      name: "model.embed_tokens.weight",
      shape: [c.vocabSize, d],
      layer: -1,
      group: "embed",
      layout: "embedding",
    },
  ];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}.`;
    const add = (name: string, shape: number[], group: string, layout: ParamInfo["layout"]) =>
      out.push({ name: p + name, shape, layer: l, group, layout });
    add("input_layernorm.weight", [d], "norm", "vector");
    add("self_attn.q_proj.weight", [q, d], "attn_q", "out_in");
    if (c.qkvBias) add("self_attn.q_proj.bias", [q], "attn_q", "vector");
    add("self_attn.k_proj.weight", [kv, d], "attn_k", "out_in");
    if (c.qkvBias) add("self_attn.k_proj.bias", [kv], "attn_k", "vector");
    add("self_attn.v_proj.weight", [kv, d], "attn_v", "out_in");
    if (c.qkvBias) add("self_attn.v_proj.bias", [kv], "attn_v", "vector");
    add("self_attn.o_proj.weight", [d, q], "attn_out", "out_in");
    if (c.qkNorm) {
      add("self_attn.q_norm.weight", [hd], "norm", "vector");
      add("self_attn.k_norm.weight", [hd], "norm", "vector");
    }
    add("post_attention_layernorm.weight", [d], "norm", "vector");
    for (const n of extraNorms) add(`${n}.weight`, [d], "norm", "vector");
    add("mlp.gate_proj.weight", [c.dFF, d], "mlp_gate", "out_in");
    add("mlp.up_proj.weight", [c.dFF, d], "mlp_up", "out_in");
    add("mlp.down_proj.weight", [d, c.dFF], "mlp_out", "out_in");
  }
  out.push({ name: "model.norm.weight", shape: [d], layer: -1, group: "norm", layout: "vector" });
  out.push(...untiedHead("lm_head.weight", c));
  return out;
}

export class Llama extends DecoderLM {
  constructor(config: ModelConfig, backend: Backend, params: ReadonlyMap<string, Var>) {
    super(config, backend, params, llamaParamInfo(config));
  }

  forward(
    ids: Tensor,
    hook?: ForwardHook,
    cache?: KVCache,
    rows?: Tensor,
    start?: LayerStart,
  ): Var {
    const c = this.config;
    const [batch, t] = ids.shape;
    forwardOrigin("Llama", ids.shape, cache, start, c);
    const hd = c.headDim;
    const invFreq = this.rotaryTable();
    // Token embeddings alone: rotary positions are applied inside attention.
    const x0 = start
      ? constant(start.x)
      : this.tokenEmbedding("model.embed_tokens.weight", ids, hook);
    const x = this.runLayers(x0, { hook, cache, rows, start, t }, (l, x, only) => {
      const p = `model.layers.${l}.`;
      const proj = (input: Var, n: string) => this.project(input, p + n);
      const n1 = A.rmsNorm(x, this.param(p + "input_layernorm.weight"), c.normEps);
      // Qwen3's q_norm / k_norm: RMSNorm over each head's hd values.
      const rms = (rows: Var, n: string) =>
        A.rmsNorm(rows, this.param(`${p}self_attn.${n}.weight`), c.normEps);
      const headNorm = (x: Var, n: string) => c.qkNorm ? this.headNorm(x, n, rms) : x;
      const qkv = (n: string) => proj(n1, `self_attn.${n}_proj`);
      const att = causalSelfAttention(
        headNorm(qkv("q"), "q_norm"),
        headNorm(qkv("k"), "k_norm"),
        qkv("v"),
        {
          batch,
          t,
          nHeads: c.nHeads,
          nKvHeads: c.nKvHeads,
          headDim: hd,
          rope: invFreq,
        },
        cache?.layer(l, t),
      );
      const ao = proj(atRows(att, only), "self_attn.o_proj");
      const mid = A.add(atRows(x, only), hook?.(l, "attn_out", ao) ?? ao);
      const n2 = A.rmsNorm(mid, this.param(p + "post_attention_layernorm.weight"), c.normEps);
      const gate = A.silu(proj(n2, "mlp.gate_proj"));
      const up = proj(n2, "mlp.up_proj");
      const gu = A.mul(gate, up);
      const key = hook?.(l, "mlp_key", gu) ?? gu;
      const mo = proj(key, "mlp.down_proj");
      return A.add(mid, hook?.(l, "mlp_out", mo) ?? mo);
    });
    const nf = A.rmsNorm(x, this.param("model.norm.weight"), c.normEps);
    const head = this.param(c.tieEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight");
    return A.linear(nf, head, null, "out_in");
  }
}
