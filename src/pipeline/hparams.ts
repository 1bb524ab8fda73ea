// The hyperparameters shipped per method and model, as EasyEdit ships them:
// hparams/<method>/<model>.json, where <model> is the model folder's name (the values tuned on
// that model's dev split); a mode may have its own file, <model>.<mode>.json (e.g. KNE's
// sequential setting), used in that mode instead. A run uses a file the user gives first, else
// the shipped one, else the method's built-in defaults; every file is merged over the defaults
// and checked against the method's schema (parseHparams).

import { basename, join, resolve } from "node:path";
import type { EditMethod, Hparams } from "../edit/method.ts";
import { fsReason, readRegularText } from "../io/files.ts";
import { hparamsCandidates } from "../io/hparams-files.ts";
import { HparamsError, parseHparams } from "../io/requests.ts";

/** The folder of the shipped per-model hyperparameter files. */
export const HPARAMS_ROOT: string = new URL("../../hparams/", import.meta.url).pathname;

/**
 * The shipped file of `method` for the model folder `modelDir` (it may not exist); with `mode`,
 * that mode's own file.
 */
export function shippedHparamsFile(
  method: string,
  modelDir: string,
  root = HPARAMS_ROOT,
  mode?: string,
): string {
  return join(root, hparamsCandidates(method, basename(resolve(modelDir)), mode)[0]);
}

/**
 * The shipped hyperparameters of `method` for `modelDir` merged over its defaults, with their
 * file, or null when none ships for this model: with `mode`, that mode's own file if one ships,
 * else the model's. Throws HparamsError for a bad shipped file.
 */
export async function shippedHparams<H extends Hparams>(
  method: EditMethod<H>,
  modelDir: string,
  root = HPARAMS_ROOT,
  mode?: string,
): Promise<{ hparams: H; file: string } | null> {
  const model = basename(resolve(modelDir));
  for (const file of hparamsCandidates(method.name, model, mode).map((f) => join(root, f))) {
    let text: string;
    try {
      text = await readRegularText(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw new HparamsError(file, undefined, `cannot read: ${fsReason(e)}`);
    }
    return { hparams: parseHparams(text, method.defaults, method.schema, file), file };
  }
  return null;
}
