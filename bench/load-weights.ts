// Reading a model folder's weights to float32 on the host, for comparing checkpoint formats (the
// same weights as model.safetensors, pytorch_model.bin, or shards): prints the folder's weight
// files and the number of values read. Timed from outside, e.g. with farm-bench:
//   deno run -A bench/load-weights.ts DIR

import { openCheckpoint, weightFiles } from "../src/io/checkpoint.ts";
import { exitWithError } from "../src/cli/fail.ts";

const dir = Deno.args[0];
if (!dir || dir.startsWith("-") || Deno.args.length !== 1) {
  const help = dir === "--help" || dir === "-h";
  console.error("Usage: deno run -A bench/load-weights.ts MODEL_DIR");
  Deno.exit(help ? 0 : 2);
}
const file = await openCheckpoint(dir).catch((e) => exitWithError((e as Error).message, 1));
let values = 0;
try {
  for (const name of file.tensors.keys()) values += (await file.read(name)).length;
} finally {
  file.close();
}
console.log(`${(await weightFiles(dir)).join(", ")}: ${values} values`);
