// The contract every editing method implements (KNE and the baselines), so that scripts/edit.ts
// and scripts/compare.ts run them all the same way: one folder per method with its own
// hyperparameters, defaults and schema.

import type { HparamsSchema, HparamValue } from "../io/requests.ts";
import type { EditRequest } from "../io/requests.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";
import type { TeacherForced } from "./request.ts";
import type { TensorChange } from "../io/patch.ts";

export interface EditTarget {
  request: EditRequest;
  /** Tokenised prompt and target, teacher forced. */
  row: TeacherForced;
  promptIds: number[];
  targetIds: number[];
}

export interface MethodProgress {
  phase: string;
  step: number;
  of: number;
  loss?: number;
}

export interface MethodResult {
  /** Exact changed entries (empty when rolled back). */
  changes: TensorChange[];
  /** The edit diverged (NaN/Inf) and the model was restored. */
  rolledBack: boolean;
  /** Method-specific artefacts written next to the metrics (e.g. KNE's ensemble). */
  artifacts: Record<string, unknown>;
  /** Optional SVG pictures, by file name. */
  pictures: Record<string, string>;
  /** Seconds per phase. */
  timings: Record<string, number>;
}

export interface EditContext {
  model: CausalLM;
  tokenizer: Tokenizer;
  /** Unrelated prompts (token ids) for locality terms, when a method wants them. */
  localityPrompts: number[][];
  onProgress?: (p: MethodProgress) => void;
  /**
   * Groups of layers a gradient-attribution method differentiates one at a time to fit memory
   * (the memory planner's choice; results are unchanged). Absent: one pass.
   */
  attributionChunks?: number;
}

export type Hparams = Record<string, HparamValue>;

export interface EditMethod<H extends Hparams = Hparams> {
  readonly name: string;
  readonly description: string;
  readonly defaults: H;
  readonly schema: HparamsSchema<H>;
  /** Applies the edits (one, or several at once in batch mode) to `ctx.model` in place. */
  apply(ctx: EditContext, targets: readonly EditTarget[], hp: H): Promise<MethodResult>;
}
