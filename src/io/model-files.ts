// The files an edited or patched model folder takes over from the model it was made from: its
// config and tokenizer, beside the weights written anew. A trained model's card (README.md) and
// training summary (recall.json) stay behind: they describe the trained weights, not edited ones.

import { TOKENIZER_FILES } from "./tokenizer-source.ts";

/** What `deno task edit` (OUT/model/) and `deno task patch` (--out) copy from --model. */
export const CARRIED_FILES: readonly string[] = ["config.json", ...TOKENIZER_FILES];
