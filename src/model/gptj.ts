// GPT-J decoder (GPTJForCausalLM: GPT-J-6B, the model of the ROME and MEMIT papers): one
// LayerNorm (ln_1) feeding attention and FFN side by side, both added to the layer's input (the
// parallel residual); q, k, v and out projections without biases; rotary positions on each head's
// first rotaryDims values, turned in interleaved pairs (rotate_every_two; ./rope.ts for the
// frequencies); GELU FFN with biases; an output head with a bias (lm_head), untied unless
// tie_word_embeddings. Torch Linear weights stored [out, in], kept as stored.

import type { Backend } from "../../engine/backend.ts";
import * as A from "../autograd/ops.ts";
import { constant, type Var } from "../autograd/variable.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { causalSelfAttention } from "./attention.ts";
import type { ModelConfig } from "./config.ts";
import { GPT2_PREFIX } from "./gpt2.ts";
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

const P = GPT2_PREFIX;

export function gptjParamInfo(c: ModelConfig): ParamInfo[] {
  const d = c.dModel;
  const global = (name: string, shape: number[], group: string, layout: ParamInfo["layout"]) => ({
    name,
    shape,
    layer: -1,
    group,
    layout,
  });
  const out: ParamInfo[] = [global(`${P}wte.weight`, [c.vocabSize, d], "embed", "embedding")];
  for (let l = 0; l < c.nLayers; l++) {
    const h = `${P}h.${l}.`;
    const add = (name: string, shape: number[], group: string, layout: ParamInfo["layout"]) =>
      out.push({ name: h + name, shape, layer: l, group, layout });
    add("ln_1.weight", [d], "norm", "vector");
    add("ln_1.bias", [d], "norm", "vector");
    add("attn.q_proj.weight", [d, d], "attn_q", "out_in");
    add("attn.k_proj.weight", [d, d], "attn_k", "out_in");
    add("attn.v_proj.weight", [d, d], "attn_v", "out_in");
    add("attn.out_proj.weight", [d, d], "attn_out", "out_in");
    add("mlp.fc_in.weight", [c.dFF, d], "mlp_in", "out_in");
    add("mlp.fc_in.bias", [c.dFF], "mlp_in", "vector");
    add("mlp.fc_out.weight", [d, c.dFF], "mlp_out", "out_in");
    add("mlp.fc_out.bias", [d], "mlp_out", "vector");
  }
  out.push(
    global(`${P}ln_f.weight`, [d], "norm", "vector"),
    global(`${P}ln_f.bias`, [d], "norm", "vector"),
  );
  out.push(...untiedHead("lm_head.weight", c));
  out.push(global("lm_head.bias", [c.vocabSize], "head", "vector"));
  return out;
}

export class GPTJ extends DecoderLM {
  constructor(config: ModelConfig, backend: Backend, params: ReadonlyMap<string, Var>) {
    super(config, backend, params, gptjParamInfo(config));
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
    forwardOrigin("GPT-J", ids.shape, cache, start, c);
    const invFreq = this.rotaryTable();
    const x0 = start ? constant(start.x) : this.tokenEmbedding(`${P}wte.weight`, ids, hook);
    const x = this.runLayers(x0, { hook, cache, rows, start, t }, (l, x, only) => {
      const h = `${P}h.${l}.`;
      const proj = (input: Var, n: string) => this.project(input, h + n);
      const n1 = this.layerNorm(x, `${h}ln_1`);
      const att = causalSelfAttention(
        proj(n1, "attn.q_proj"),
        proj(n1, "attn.k_proj"),
        proj(n1, "attn.v_proj"),
        {
          batch,
          t,
          nHeads: c.nHeads,
          nKvHeads: c.nHeads,
          headDim: c.headDim,
          rope: invFreq,
          interleaved: true,
        },
        cache?.layer(l, t),
      );
      const ao = proj(atRows(att, only), "attn.out_proj");
      const mid = A.add(atRows(x, only), hook?.(l, "attn_out", ao) ?? ao);
      // Parallel: the FFN reads the same normed layer input as attention.
      const f = this.gelu(proj(atRows(n1, only), "mlp.fc_in"));
      const key = hook?.(l, "mlp_key", f) ?? f;
      const mo = proj(key, "mlp.fc_out");
      return A.add(mid, hook?.(l, "mlp_out", mo) ?? mo);
    });
    const nf = this.layerNorm(x, `${P}ln_f`);
    const head = this.param(c.tieEmbeddings ? `${P}wte.weight` : "lm_head.weight");
    return A.linear(nf, head, this.param("lm_head.bias"), "out_in");
  }
}
