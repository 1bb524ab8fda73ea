// The GELU forms a config may name (transformers' ACT2FN names), for the families that use GELU.

import type { ModelConfig } from "../config.ts";
import type { Fields } from "./fields.ts";

/** transformers' GELU names (ACT2FN): the tanh form under three names, and the exact one. */
const GELUS: Record<string, ModelConfig["activation"]> = {
  gelu_new: "gelu_tanh",
  gelu_pytorch_tanh: "gelu_tanh",
  gelu_fast: "gelu_tanh",
  gelu: "gelu_exact",
};

/** The GELU form of `field` (default `def`), refused when it names another activation. */
export function gelu(f: Fields, field: string, def: string): ModelConfig["activation"] {
  const act = f.str(field, def);
  const form = GELUS[act];
  if (form === undefined) {
    f.fail(
      field,
      `${JSON.stringify(act)} is unsupported (only GELU: ${Object.keys(GELUS).join(", ")})`,
    );
  }
  return form;
}
