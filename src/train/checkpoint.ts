// Training checkpoints: weights, Adam moments and loop state in one folder, written atomically
// (temporary folder, then rename), so an interrupted run resumes exactly where it saved.

import type { Adam } from "../autograd/adam.ts";
import { configDiff, type ModelConfig } from "../model/config.ts";
import type { CausalLM } from "../model/lm.ts";
import { replaceDir } from "../io/files.ts";
import { openSafetensors, writeSafetensors } from "../io/safetensors.ts";

export interface TrainState {
  step: number;
  epoch: number;
  /** Position in the current epoch's order. */
  cursor: number;
  seed: number;
  config: ModelConfig;
  losses: number[];
  seconds: number;
  tokens: number;
  /** SHA-256 of the tokenizer.json trained with (absent in checkpoints written before it was kept). */
  tokenizerSha256?: string;
  /** The runs that trained these weights, oldest first (absent before it was kept: src/train/runs.ts). */
  runs?: TrainRun[];
  /** The trained model whose weights the first run started from (`--init`), if any. */
  initFrom?: InitFrom;
}

/** The trained model a run started from (src/train/init-from.ts), and how it was trained. */
export interface InitFrom {
  /** The folder as the command line named it. */
  model: string;
  /** SHA-256 of its model.safetensors. */
  weightsSha256: string;
  /** The runs that trained it (one of unknown command where its summary kept none). */
  runs: TrainRun[];
  steps: number;
  seconds: number;
  tokens: number;
}

/** One `deno task train` run's share of a model: the steps it took and their time. */
export interface TrainRun {
  /** The command line; null for a run whose checkpoint did not record it. */
  command: string | null;
  fromStep: number;
  toStep: number;
  seconds: number;
}

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/**
 * Writes the checkpoint into `dir.tmp` and renames it to `dir`. `mark`, when given, is called on
 * the new folder first (the caller's output marker, so that only its own folders are removed).
 */
export async function saveCheckpoint(
  dir: string,
  model: CausalLM,
  opt: Adam,
  state: TrainState,
  mark?: (dir: string) => Promise<void>,
): Promise<void> {
  const tmp = `${dir}.tmp`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  await mark?.(tmp);
  const tensors = [];
  const moments = opt.moments();
  for (const info of model.paramInfo) {
    const p = model.params.get(info.name)!;
    tensors.push({ name: info.name, shape: info.shape, data: await p.value.toArray() });
    const m = moments.get(p);
    if (m) {
      tensors.push({ name: `adam.m.${info.name}`, shape: info.shape, data: await m.m.toArray() });
      tensors.push({ name: `adam.v.${info.name}`, shape: info.shape, data: await m.v.toArray() });
    }
  }
  await writeSafetensors(`${tmp}/state.safetensors`, tensors, { adamStep: String(opt.step) });
  await Deno.writeTextFile(`${tmp}/state.json`, JSON.stringify(state));
  await replaceDir(tmp, dir);
}

/**
 * Loads a checkpoint into `model` and `opt`; refuses, before reading any weight, one of another
 * architecture or shape, or one trained with another tokenizer than `tokenizerSha256` (a
 * checkpoint written before the digest was kept has none and is taken as this run's).
 */
export async function loadCheckpoint(
  dir: string,
  model: CausalLM,
  opt: Adam,
  tokenizerSha256: string,
): Promise<TrainState> {
  const state = JSON.parse(await Deno.readTextFile(`${dir}/state.json`)) as TrainState;
  if ((state.tokenizerSha256 ?? tokenizerSha256) !== tokenizerSha256) {
    throw new CheckpointError(
      `${dir} was trained with another tokenizer; start a new run or pass the same --tokenizer`,
    );
  }
  state.tokenizerSha256 = tokenizerSha256;
  const diff = configDiff(state.config, model.config);
  if (diff.length > 0) {
    throw new CheckpointError(
      `${dir}: checkpoint is of another model shape (${diff.join(", ")}); start a new run or ` +
        `use matching options`,
    );
  }
  const f = await openSafetensors(`${dir}/state.safetensors`);
  try {
    for (const info of model.paramInfo) {
      const p = model.params.get(info.name)!;
      p.value.backend.upload(p.value.buffer, await f.read(info.name));
    }
    opt.step = Number(f.metadata.adamStep ?? 0);
    await opt.restoreMoments(async (name) =>
      f.tensors.has(`adam.m.${name}`)
        ? { m: await f.read(`adam.m.${name}`), v: await f.read(`adam.v.${name}`) }
        : null
    );
  } finally {
    f.close();
  }
  return state;
}
