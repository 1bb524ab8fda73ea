// GPT-NeoX decoder (GPTNeoXForCausalLM: Pythia, GPT-NeoX-20B): LayerNorm with biases, a fused
// query_key_value projection laid out per head ([q, k, v] of each head in turn), rotary positions
// on each head's first rotaryDims values (./rope.ts), GELU FFN, biases on every projection, and
// the parallel residual: attention and FFN both read the layer's input and both add to it
// (use_parallel_residual; without it, the FFN reads the stream after attention). Torch Linear
// weights stored [out, in]; the output head (embed_out) untied unless tie_word_embeddings.

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

const PREFIX = "gpt_neox.";

export function neoxParamInfo(c: ModelConfig): ParamInfo[] {
  const d = c.dModel;
  const out: ParamInfo[] = [
    {
      name: `${PREFIX}embed_in.weight`,
      shape: [c.vocabSize, d],
      layer: -1,
      group: "embed",
      layout: "embedding",
    },
  ];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `${PREFIX}layers.${l}.`;
    const add = (name: string, shape: number[], group: string, layout: ParamInfo["layout"]) =>
      out.push({ name: p + name, shape, layer: l, group, layout });
    add("input_layernorm.weight", [d], "norm", "vector");
    add("input_layernorm.bias", [d], "norm", "vector");
    add("post_attention_layernorm.weight", [d], "norm", "vector");
    add("post_attention_layernorm.bias", [d], "norm", "vector");
    add("attention.query_key_value.weight", [3 * d, d], "attn_qkv", "out_in");
    add("attention.query_key_value.bias", [3 * d], "attn_qkv", "vector");
    add("attention.dense.weight", [d, d], "attn_out", "out_in");
    add("attention.dense.bias", [d], "attn_out", "vector");
    add("mlp.dense_h_to_4h.weight", [c.dFF, d], "mlp_in", "out_in");
    add("mlp.dense_h_to_4h.bias", [c.dFF], "mlp_in", "vector");
    add("mlp.dense_4h_to_h.weight", [d, c.dFF], "mlp_out", "out_in");
    add("mlp.dense_4h_to_h.bias", [d], "mlp_out", "vector");
  }
  out.push(
    {
      name: `${PREFIX}final_layer_norm.weight`,
      shape: [d],
      layer: -1,
      group: "norm",
      layout: "vector",
    },
    {
      name: `${PREFIX}final_layer_norm.bias`,
      shape: [d],
      layer: -1,
      group: "norm",
      layout: "vector",
    },
  );
  out.push(...untiedHead("embed_out.weight", c));
  return out;
}

export class GPTNeoX extends DecoderLM {
  constructor(config: ModelConfig, backend: Backend, params: ReadonlyMap<string, Var>) {
    super(config, backend, params, neoxParamInfo(config));
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
    forwardOrigin("GPT-NeoX", ids.shape, cache, start, c);
    const d = c.dModel, hd = c.headDim;
    const invFreq = this.rotaryTable();
    const x0 = start
      ? constant(start.x)
      : this.tokenEmbedding(`${PREFIX}embed_in.weight`, ids, hook);
    const x = this.runLayers(x0, { hook, cache, rows, start, t }, (l, x, only) => {
      const p = `${PREFIX}layers.${l}.`;
      const proj = (input: Var, n: string) => this.project(input, p + n);
      const norm = (input: Var, n: string) => this.layerNorm(input, p + n);
      // [R, 3d] laid out [heads, 3, hd] per row -> [R, 3, heads, hd]: q, k, v as whole columns.
      const qkv = A.reshape(
        A.transpose0213(A.reshape(proj(norm(x, "input_layernorm"), "attention.query_key_value"), [
          batch * t,
          c.nHeads,
          3,
          hd,
        ])),
        [batch * t, 3 * d],
      );
      const att = causalSelfAttention(
        A.sliceCols(qkv, 0, d),
        A.sliceCols(qkv, d, d),
        A.sliceCols(qkv, 2 * d, d),
        { batch, t, nHeads: c.nHeads, nKvHeads: c.nHeads, headDim: hd, rope: invFreq },
        cache?.layer(l, t),
      );
      const ao = proj(atRows(att, only), "attention.dense");
      const attnOut = hook?.(l, "attn_out", ao) ?? ao;
      const input = atRows(x, only);
      const mid = A.add(input, attnOut);
      // Parallel: the FFN reads the layer's input; sequential: the stream after attention.
      const f = this.gelu(
        proj(
          norm(c.parallelResidual ? input : mid, "post_attention_layernorm"),
          "mlp.dense_h_to_4h",
        ),
      );
      const key = hook?.(l, "mlp_key", f) ?? f;
      const mo = proj(key, "mlp.dense_4h_to_h");
      return A.add(mid, hook?.(l, "mlp_out", mo) ?? mo);
    });
    const nf = this.layerNorm(x, `${PREFIX}final_layer_norm`);
    const head = this.param(c.tieEmbeddings ? `${PREFIX}embed_in.weight` : "embed_out.weight");
    return A.linear(nf, head, null, "out_in");
  }
}
