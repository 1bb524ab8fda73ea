// bench:edit's settings, read from its command line (bench/edit.ts lists the flags), and the
// work every edit does with them: the KNE hyperparameters, the tokens and the memory plan.

import type { DType } from "../../engine/backend.ts";
import { KNE_DEFAULTS, type KneHparams } from "../../src/kne/hparams.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { type BackendLimits, fitPlan } from "../../src/plan/fit.ts";
import type { MemoryPlan } from "../../src/plan/plan.ts";
import { benchFlags } from "../flags.ts";

export const args = benchFlags([
  "json",
  "profile",
  "edits",
  "warmup",
  "threads",
  "checkpoint",
  "force",
  "anchors",
  "dtypes",
  "models",
  "llama-layers",
  "quick",
  "no-wasm",
  "no-webgpu",
  "webgpu-fallback",
  "no-torch",
  "no-record",
  // The child process that runs one shape (runChild), started by the parent with these.
  "child",
  "model",
  "layers",
  "backend",
  "dtype",
]);
export const JSON_OUT = args.has("json");
export const PROFILE = args.has("profile");
export const EDITS = args.int("edits", 3, 1);
/** Untimed edits first (0 for shapes that take most of an hour per edit on a software adapter). */
export const WARMUP = args.int("warmup", 1, 0);
export const THREADS = args.has("threads") ? args.int("threads", 1, 1) : undefined;
/** Checkpoint the layers even where the planner would not. */
export const CHECKPOINT = args.has("checkpoint");
/** Run shapes the planner rejects (to measure how far off it is); a failure is reported. */
export const FORCE = args.has("force");
export const PROMPT_TOKENS = 12;
export const TARGET_TOKENS = 4;
/**
 * Locality anchors: with N > 0, N unrelated 12-token prompts and the default KL weight, as the
 * edit command runs KNE (it builds up to 48 anchors per edit). The default 0 measures the edit
 * alone, as the target specifies.
 */
export const ANCHORS = args.int("anchors", 0, 0);
/** The Llama shape's layers instead of its 16 (a shorter run with the same per-layer work). */
export const LLAMA_LAYERS = args.has("llama-layers") ? args.int("llama-layers", 0, 1) : undefined;

/**
 * The issue's work: 4 IG steps, top-p 0.01, exactly 20 update steps. The learning rate, unit
 * score and Adam betas are KNE_DEFAULTS' (they change the edit's numbers, not its cost).
 */
export const HP: KneHparams = {
  ...KNE_DEFAULTS,
  igSteps: 4,
  topP: 0.01,
  selection: "global",
  steps: 20,
  earlyStopLoss: 0,
  klWeight: ANCHORS > 0 ? KNE_DEFAULTS.klWeight : 0,
};

/** The load averages now, for the record of how busy the machine was. */
export const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");

/** The plan of one edit of `c`, attribution split into the fewest layer groups that fit. */
export function plan(c: ModelConfig, weightDtype: DType, limits: BackendLimits): MemoryPlan {
  return fitPlan(c, {
    weightDtype,
    ensemble: HP,
    seqLen: PROMPT_TOKENS + TARGET_TOKENS - 1,
    batch: 1,
    igSteps: HP.igSteps,
    updateSteps: HP.steps,
    klRows: ANCHORS,
    klSeqLen: PROMPT_TOKENS,
    targetTokens: TARGET_TOKENS,
    backend: limits.backend,
    checkpointLayers: CHECKPOINT,
  }, limits);
}

/**
 * The edit's prompt and target tokens and the anchors' prompts: random ids of the model's
 * vocabulary, the same for every backend and for the PyTorch peer.
 */
export function editTokens(
  vocab: number,
): { prompt: number[]; target: number[]; anchors: number[][] } {
  let s = 0x2545f491;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const tok = () => Math.floor(rnd() * vocab);
  const prompt = Array.from({ length: PROMPT_TOKENS }, tok);
  const target = Array.from({ length: TARGET_TOKENS }, tok);
  const anchors = Array.from({ length: ANCHORS }, () => Array.from({ length: PROMPT_TOKENS }, tok));
  return { prompt, target, anchors };
}
