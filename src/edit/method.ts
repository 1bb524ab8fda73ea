// The contract every editing method implements (KNE and the baselines), so that scripts/edit.ts
// and scripts/compare.ts run them all the same way: one folder per method with its own
// hyperparameters, defaults and schema.

import type { HparamsSchema, HparamValue } from "../io/requests.ts";
import type { EditRequest } from "../io/requests.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";
import type { TeacherForced } from "./request.ts";
import type { TensorChange } from "../io/patch.ts";
import type { WeightDtype } from "../model/dtype.ts";

/**
 * The shape of the work an edit does, for the memory plan (src/plan/plan.ts): the rows the
 * run forms (src/plan/work.ts) and what the method does with them (EditMethod.planWork).
 */
export interface WorkShape {
  /** Tokens per row: prompt plus target minus one, at most the context. */
  seqLen: number;
  /** Rows per forward: 1 in single and sequential mode, the number of requests in batch mode. */
  batch: number;
  /** Integrated-gradient steps (time only: the gradients accumulate in place). */
  igSteps: number;
  /** Maximum update steps (time only). Default 40. */
  updateSteps?: number;
  /** Locality rows for the KL term (0 or absent: no KL term). */
  klRows?: number;
  /** Tokens per locality row, padded to the longest (absent: seqLen). */
  klSeqLen?: number;
  /**
   * The locality rows as the batches the KL term forwards them in (src/kne/locality.ts
   * lengthBuckets: each padded to its own longest); absent: one batch of klRows x klSeqLen.
   */
  klBatches?: readonly { rows: number; seqLen: number }[];
  /**
   * Every anchor batch the edit makes before attribution (the reference logits are the unedited
   * model's) and holds to its end, when a step forwards only some of them; absent: klBatches.
   */
  klHeldBatches?: readonly { rows: number; seqLen: number }[];
  /**
   * Target tokens over the whole batch: the only positions that reach the LM head (absent: every
   * position, an upper bound).
   */
  targetTokens?: number;
  /** How KNE selects its ensemble, which bounds the update's state (absent: every unit). */
  ensemble?: {
    topP: number;
    selection: "global" | "per_layer";
    perLayerK: number;
    /** "neuron": an FFN unit is a whole neuron over the layer's FFN tensors (KNE's ffnUnit). */
    ffnUnit?: "projection" | "neuron";
  };
}

/** A request tokenised for editing and scoring (editTarget). */
export interface EditTarget {
  /** The request as parsed, with its probes for the metrics. */
  request: EditRequest;
  /** Tokenised prompt and target, teacher forced. */
  row: TeacherForced;
  /** Token ids of the prompt, led by the tokenizer's leading special tokens (Llama's <s>). */
  promptIds: number[];
  /** Token ids of the new target: those prompt + target adds after the prompt's own. */
  targetIds: number[];
}

/** A method's progress (EditOptions.onProgress): `step` of `of` in `phase`, with its loss. */
export interface MethodProgress {
  /** What the method is doing, as the progress bar labels it ("attribution", "update"...). */
  phase: string;
  /** Steps of the phase done so far, 1 to `of`. */
  step: number;
  /** Steps in the phase (at most: an update may stop early). */
  of: number;
  /** The phase's loss after this step, for phases that optimise one. */
  loss?: number;
}

/** What a method's apply() did to the model. */
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

/** What a method's apply() edits and reads besides its requests. */
export interface EditContext {
  /** The model to edit in place. */
  model: CausalLM;
  /** Its tokenizer, for methods that encode texts of their own (context prefixes) or decode. */
  tokenizer: Tokenizer;
  /** Unrelated prompts (token ids) for locality terms, when a method wants them. */
  localityPrompts: number[][];
  /** Called as each step of a long phase ends. */
  onProgress?: (p: MethodProgress) => void;
  /**
   * Sequential mode: the changes the earlier edits of the sequence made, in order (absent in
   * single and batch mode), so that a method can tell which weights hold earlier facts.
   */
  priorChanges?: readonly (readonly TensorChange[])[];
  /**
   * Groups of layers a gradient-attribution method differentiates one at a time to fit memory
   * (the memory planner's choice; results are unchanged). Absent: one pass.
   */
  attributionChunks?: number;
}

/** A method's hyperparameters by name. */
export type Hparams = Record<string, HparamValue>;

/** An editing method (METHODS): its name, hyperparameters and how it edits a model in place. */
export interface EditMethod<H extends Hparams = Hparams> {
  /** The name it is chosen by (--method, EditOptions.method): "kne", "rome"... */
  readonly name: string;
  /** One line on what it changes and how, for listings. */
  readonly description: string;
  /** The hyperparameters a run uses where its hparams file or object sets none. */
  readonly defaults: H;
  /** What each hyperparameter may be; parseHparams refuses keys and values outside it. */
  readonly schema: HparamsSchema<H>;
  /**
   * Weight dtypes the method edits in place: f32, and f16 for a method that steps f32 masters of
   * f16 weights. The run loads the weights as f32 for any other choice.
   */
  readonly weightDtypes: readonly WeightDtype[];
  /** Whether an edit with `hp` reads locality anchors (EditContext.localityPrompts). */
  usesAnchors(hp: H): boolean;
  /**
   * The work shape of an edit with `hp` for the memory plan, from the rows the run forms
   * (`rows`: igSteps 1, no ensemble bound). Absent: the plan checks the weights only.
   */
  planWork?(rows: WorkShape, hp: H): WorkShape;
  /** Applies the edits (one, or several at once in batch mode) to `ctx.model` in place. */
  apply(ctx: EditContext, targets: readonly EditTarget[], hp: H): Promise<MethodResult>;
}
