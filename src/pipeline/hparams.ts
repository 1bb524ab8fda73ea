// The hyperparameters shipped per method and model, as EasyEdit ships them:
// hparams/<method>/<model>.json, where <model> is the model folder's name (the values tuned on
// that model's dev split). A run uses a file the user gives first, else the shipped one, else the
// method's built-in defaults; every file is merged over the defaults and checked against the
// method's schema (parseHparams).

import { basename, join, resolve } from "node:path";
import type { EditMethod, Hparams } from "../edit/method.ts";
import { fsReason, readRegularText } from "../io/files.ts";
import { HparamsError, parseHparams } from "../io/requests.ts";

/** The folder of the shipped per-model hyperparameter files. */
export const HPARAMS_ROOT: string = new URL("../../hparams/", import.meta.url).pathname;

/** The shipped file of `method` for the model folder `modelDir` (it may not exist). */
export function shippedHparamsFile(method: string, modelDir: string, root = HPARAMS_ROOT): string {
  return join(root, method, `${basename(resolve(modelDir))}.json`);
}

/**
 * The shipped hyperparameters of `method` for `modelDir` merged over its defaults, with their
 * file, or null when none ships for this model. Throws HparamsError for a bad shipped file.
 */
export async function shippedHparams<H extends Hparams>(
  method: EditMethod<H>,
  modelDir: string,
  root = HPARAMS_ROOT,
): Promise<{ hparams: H; file: string } | null> {
  const file = shippedHparamsFile(method.name, modelDir, root);
  let text: string;
  try {
    text = await readRegularText(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new HparamsError(file, undefined, `cannot read: ${fsReason(e)}`);
  }
  return { hparams: parseHparams(text, method.defaults, method.schema, file), file };
}
