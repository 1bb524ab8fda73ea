// The models this project ships and the request splits made for each: what `task edit`,
// `task compare` and `bench/tune.ts` use when no --requests or --anchors is given. The test split
// is scored, the dev split tunes, and the anchor pool (the locality term's prompts) is a split of
// its own where one exists, so that neither tuning nor scoring reads the other's prompts. The page
// reads the table too (no node: imports here).

import { joinPath } from "../io/files.ts";

/** The request files made for a shipped model (paths relative to the repository root). */
export interface ModelSplits {
  /** The requests results are scored on (`task edit --n`, `task compare`). */
  test: string;
  /** The requests hyperparameters are tuned on (bench/tune.ts). */
  dev: string;
  /** The anchor pool: requests on other (relation, subject) pairs than test's and dev's. */
  anchors: string;
  /**
   * The edit `task edit` runs when given no request: France's capital -> Rome with the probes
   * the model knows (kne-facts: its test record with the target swapped; kne-facts-base: made by
   * `deno task make-base-requests`).
   */
  demo: string;
}

/** The default model of every command. */
export const DEFAULT_MODEL = "models/kne-facts-base";

/** The shipped models by folder name, with their request splits. */
export const SHIPPED_SPLITS: Readonly<Record<string, ModelSplits>> = {
  "kne-facts": {
    test: "data/requests/test.json",
    dev: "data/requests/dev.json",
    anchors: "data/requests/anchors.json",
    demo: "data/requests/demo.json",
  },
  "kne-facts-base": {
    test: "data/requests/base-test.json",
    dev: "data/requests/base-dev.json",
    anchors: "data/requests/base-anchors.json",
    demo: "data/requests/base-demo.json",
  },
  // The Llama-style twin: the same candidates, kept by what the twin knows
  // (`deno task make-base-requests --model models/kne-facts-base-llama --prefix base-llama`).
  "kne-facts-base-llama": {
    test: "data/requests/base-llama-test.json",
    dev: "data/requests/base-llama-dev.json",
    anchors: "data/requests/base-llama-anchors.json",
    demo: "data/requests/base-llama-demo.json",
  },
};

/** The last component of a folder path, resolved against the working directory. */
function folderName(dir: string): string {
  const abs = dir.startsWith("/") ? dir : joinPath(Deno.cwd(), dir);
  return abs.split("/").filter((p) => p !== "").pop() ?? "";
}

/** The splits of the shipped model at `modelDir` (by folder name), else the default model's. */
export function splitsOf(modelDir: string): ModelSplits {
  return SHIPPED_SPLITS[folderName(modelDir)] ?? SHIPPED_SPLITS[folderName(DEFAULT_MODEL)];
}

/** The anchor pool of a run on the model at `modelDir`. */
export function defaultAnchors(modelDir: string): string {
  return splitsOf(modelDir).anchors;
}

/** The message for a --model folder that does not exist (for the default one: how to make it). */
export function noModelFolder(dir: string): string {
  return `--model ${dir}: no such folder${
    dir === DEFAULT_MODEL ? " (train the default model with `deno task train --preset base`)" : ""
  }`;
}
