// Starting a training run from a trained model's weights (`deno task train --init DIR`) instead of
// random ones: a fine-tune with its own learning-rate schedule and a new optimizer, unlike
// --resume, which continues a checkpoint's schedule and Adam moments. DIR must be a model this tool
// wrote (its config.json holds the shape, its recall.json the runs that trained it), of the same
// shape and tokenizer as the run; its history is kept in the new run's state for the card.

import { paramInfoFor } from "../model/build.ts";
import { configDiff, type ModelConfig } from "../model/config.ts";
import { openSafetensors } from "../io/safetensors.ts";
import { ConfigError, readModelConfig } from "../model/read-config.ts";
import { isPlainObject } from "../io/json.ts";
import { fsReason, jsonReason, readRegularText } from "../io/files.ts";
import type { InitFrom, TrainRun } from "./checkpoint.ts";
import { fileSha256, sha256 } from "../io/digest.ts";

export class InitFromError extends Error {
  override name = "InitFromError";
}

/** A trained model to start from: its history (for the card) and its weights by name. */
export interface InitModel {
  from: InitFrom;
  weights: Map<string, Float32Array>;
}

/**
 * Reads `dir`'s recall.json and weights and checks them against the run: same configuration as
 * `config`, every parameter present, and same tokenizer (`tokenizerSha256`, of the file the run
 * trains with) as `dir`'s tokenizer.json. All of it before training starts, so that a refusal
 * leaves nothing behind.
 */
export async function readInitFrom(
  dir: string,
  config: ModelConfig,
  tokenizerSha256: string,
): Promise<InitModel> {
  const file = `${dir}/recall.json`;
  let s: Record<string, unknown>;
  try {
    const parsed = JSON.parse(await readRegularText(file));
    if (!isPlainObject(parsed)) throw new SyntaxError("not an object");
    s = parsed;
  } catch (e) {
    throw new InitFromError(
      `--init ${dir}: ${file}: ${e instanceof SyntaxError ? jsonReason(e) : fsReason(e)} ` +
        `(--init takes a model folder written by deno task train)`,
    );
  }
  const n = (k: string) => typeof s[k] === "number" ? s[k] as number : 0;
  let have;
  try {
    have = await readModelConfig(dir);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new InitFromError(`--init ${dir}: ${e.message}`);
  }
  const diff = configDiff(have, config);
  if (diff.length > 0) {
    throw new InitFromError(
      `--init ${dir}: the model is of another shape than this run's (${diff.join(", ")}); ` +
        `use matching options`,
    );
  }
  let own;
  try {
    own = await sha256(await readRegularText(`${dir}/tokenizer.json`));
  } catch (e) {
    throw new InitFromError(`--init ${dir}: tokenizer.json: ${fsReason(e)}`);
  }
  if (own !== tokenizerSha256) {
    throw new InitFromError(
      `--init ${dir}: the model was trained with another tokenizer than this run's; ` +
        `leave out --tokenizer (the model's own is used) or pass ${dir}/tokenizer.json`,
    );
  }
  const runs = Array.isArray(s.runs) ? s.runs as TrainRun[] : [{
    command: typeof s.command === "string" ? s.command : null,
    fromStep: 0,
    toStep: n("steps"),
    seconds: n("seconds"),
  }];
  const weightsFile = `${dir}/model.safetensors`;
  const digest = await fileSha256(weightsFile).catch((e) => {
    throw new InitFromError(`--init ${dir}: model.safetensors: ${fsReason(e)}`);
  });
  const f = await openSafetensors(weightsFile);
  const weights = new Map<string, Float32Array>();
  try {
    for (const info of paramInfoFor(config)) {
      if (!f.tensors.has(info.name)) {
        throw new InitFromError(`--init ${dir}: model.safetensors has no tensor ${info.name}`);
      }
      weights.set(info.name, await f.read(info.name));
    }
  } finally {
    f.close();
  }
  const from = {
    model: dir,
    weightsSha256: digest.sha256,
    runs,
    steps: n("steps"),
    seconds: n("seconds"),
    tokens: n("tokens"),
  };
  return { from, weights };
}
