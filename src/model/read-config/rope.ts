// The rotary base and scaling of a config (rope_theta / rope_scaling, or transformers 5's
// rope_parameters), read only for the scaling types the engine computes exactly.

import type { RopeScaling } from "../config.ts";
import type { Fields } from "./fields.ts";

export interface RopeSettings {
  theta: number;
  scaling: RopeScaling | null;
  /** The most positions the scaling computes exactly (dynamic NTK), else Infinity. */
  contextCap: number;
}

/** Every rotary scaling type read (src/model/rope.ts; dynamic as the default, capped). */
const ROPE_TYPES = ["default", "linear", "dynamic", "llama3"] as const;

/**
 * The rotary base and scaling: `rope_theta` and `rope_scaling` (transformers < 5), or the
 * `rope_parameters` object that transformers >= 5 writes in their place. Scaling types whose
 * frequencies are fixed are read (linear, llama3); dynamic NTK scaling only changes them for
 * sequences past the pretrained context, so it is read as the default with the context capped
 * there; any other type (yarn, longrope, ...) is refused, as is one not in `types`.
 */
export function ropeSettings(
  f: Fields,
  thetaField = "rope_theta",
  types: readonly string[] = ROPE_TYPES,
  defaultTheta = 10000,
): RopeSettings {
  const params = f.object("rope_parameters");
  const scaling = params ?? f.object("rope_scaling");
  const theta = params?.has("rope_theta")
    ? params.num("rope_theta")
    : f.num(thetaField, defaultTheta);
  return scaledRope(theta, scaling, types);
}

/** The rotary of base `theta` scaled as `scaling` says (ropeSettings), of a type in `types`. */
export function scaledRope(
  theta: number,
  scaling: Fields | null,
  types: readonly string[],
): RopeSettings {
  const none = { theta, scaling: null, contextCap: Infinity };
  if (scaling === null) return none;
  // Older configs name the type "type".
  const typeField = scaling.has("rope_type") || !scaling.has("type") ? "rope_type" : "type";
  const type = scaling.str(typeField, "default");
  if (!types.includes(type)) {
    scaling.fail(
      typeField,
      `${JSON.stringify(type)} is unsupported (rotary scaling read: ${types.join(", ")})`,
    );
  }
  switch (type) {
    case "linear":
      return { theta, scaling: { type, factor: scaling.num("factor") }, contextCap: Infinity };
    case "dynamic": {
      const original = scaling.has("original_max_position_embeddings")
        ? scaling.int("original_max_position_embeddings")
        : Infinity;
      return { theta, scaling: null, contextCap: original };
    }
    case "llama3": {
      const lowFreqFactor = scaling.num("low_freq_factor");
      const highFreqFactor = scaling.num("high_freq_factor");
      if (!(highFreqFactor > lowFreqFactor)) {
        scaling.fail("high_freq_factor", `must exceed low_freq_factor ${lowFreqFactor}`);
      }
      return {
        theta,
        scaling: {
          type,
          factor: scaling.num("factor"),
          lowFreqFactor,
          highFreqFactor,
          originalContext: scaling.int("original_max_position_embeddings"),
        },
        contextCap: Infinity,
      };
    }
    default:
      return none;
  }
}
