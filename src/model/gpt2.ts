// GPT-2 (GPT2LMHeadModel): learned positions, pre-LayerNorm blocks, fused QKV Conv1D weights
// stored [in, out], tanh GELU MLP, LM head tied to the token embedding. Forward is explicit per
// layer, as in llm.c; backward comes from the autograd ops.

import type { Backend } from "../../engine/backend.ts";
import * as A from "../autograd/ops.ts";
import { constant, type Var } from "../autograd/variable.ts";
import { Tensor } from "../tensor/tensor.ts";
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
} from "./lm.ts";

export const GPT2_PREFIX = "transformer.";

export function gpt2ParamInfo(c: ModelConfig): ParamInfo[] {
  const d = c.dModel, p = GPT2_PREFIX;
  const out: ParamInfo[] = [
    {
      name: `${p}wte.weight`,
      shape: [c.vocabSize, d],
      layer: -1,
      group: "embed",
      layout: "embedding",
    },
    {
      name: `${p}wpe.weight`,
      shape: [c.contextLength, d],
      layer: -1,
      group: "embed",
      layout: "embedding",
    },
  ];
  for (let l = 0; l < c.nLayers; l++) {
    const h = `${p}h.${l}.`;
    const add = (name: string, shape: number[], group: string, layout: ParamInfo["layout"]) =>
      out.push({ name: h + name, shape, layer: l, group, layout });
    add("ln_1.weight", [d], "norm", "vector");
    add("ln_1.bias", [d], "norm", "vector");
    add("attn.c_attn.weight", [d, 3 * d], "attn_qkv", "in_out");
    add("attn.c_attn.bias", [3 * d], "attn_qkv", "vector");
    add("attn.c_proj.weight", [d, d], "attn_out", "in_out");
    add("attn.c_proj.bias", [d], "attn_out", "vector");
    add("ln_2.weight", [d], "norm", "vector");
    add("ln_2.bias", [d], "norm", "vector");
    add("mlp.c_fc.weight", [d, c.dFF], "mlp_in", "in_out");
    add("mlp.c_fc.bias", [c.dFF], "mlp_in", "vector");
    add("mlp.c_proj.weight", [c.dFF, d], "mlp_out", "in_out");
    add("mlp.c_proj.bias", [d], "mlp_out", "vector");
  }
  out.push({ name: `${p}ln_f.weight`, shape: [d], layer: -1, group: "norm", layout: "vector" });
  out.push({ name: `${p}ln_f.bias`, shape: [d], layer: -1, group: "norm", layout: "vector" });
  return out;
}

export class GPT2 extends DecoderLM {
  constructor(config: ModelConfig, backend: Backend, params: ReadonlyMap<string, Var>) {
    super(config, backend, params, gpt2ParamInfo(config));
  }

  #p(name: string): Var {
    return this.param(GPT2_PREFIX + name);
  }

  /** Token plus position embeddings of ids [batch, t], positions from pos0. */
  #embed(ids: Tensor, pos0: number, hook?: ForwardHook): Var {
    const [batch, t] = ids.shape;
    const d = this.config.dModel;
    const positions = Tensor.fromArray(
      this.backend,
      Float32Array.from({ length: batch * t }, (_, i) => pos0 + i % t),
      [batch, t],
    );
    return A.add(
      this.tokenEmbedding(`${GPT2_PREFIX}wte.weight`, ids, hook),
      A.reshape(A.embedding(this.#p("wpe.weight"), positions), [batch * t, d]),
    );
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
    const pos0 = forwardOrigin("GPT-2", ids.shape, cache, start, c);
    const x0 = start ? constant(start.x) : this.#embed(ids, pos0, hook);
    const x = this.runLayers(x0, { hook, cache, rows, start, t }, (l, x, only) => {
      const h = `${GPT2_PREFIX}h.${l}.`;
      const proj = (input: Var, n: string) => this.project(input, h + n, "in_out");
      const n1 = this.layerNorm(x, `${h}ln_1`);
      const qkv = proj(n1, "attn.c_attn");
      const d = c.dModel;
      const att = causalSelfAttention(
        A.sliceCols(qkv, 0, d),
        A.sliceCols(qkv, d, d),
        A.sliceCols(qkv, 2 * d, d),
        { batch, t, nHeads: c.nHeads, nKvHeads: c.nHeads, headDim: d / c.nHeads, rope: null },
        cache?.layer(l, t),
      );
      const ao = proj(atRows(att, only), "attn.c_proj");
      const mid = A.add(atRows(x, only), hook?.(l, "attn_out", ao) ?? ao);
      const n2 = this.layerNorm(mid, `${h}ln_2`);
      const fc = proj(n2, "mlp.c_fc");
      const f = this.gelu(fc);
      const key = hook?.(l, "mlp_key", f) ?? f;
      const mo = proj(key, "mlp.c_proj");
      return A.add(mid, hook?.(l, "mlp_out", mo) ?? mo);
    });
    const nf = this.layerNorm(x, `${GPT2_PREFIX}ln_f`);
    return A.linear(nf, this.#p("wte.weight"), null, "out_in");
  }
}
