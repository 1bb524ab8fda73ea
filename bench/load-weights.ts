// Reading a model folder's weights to float32 on the host, for comparing checkpoint formats (the
// same weights as model.safetensors, pytorch_model.bin, or shards): prints the folder's weight
// files and the number of values read. Timed from outside, e.g. with farm-bench:
//   deno run -A bench/load-weights.ts DIR

import { openCheckpoint, weightFiles } from "../src/io/checkpoint.ts";

const dir = Deno.args[0];
if (!dir) {
  console.error("usage: deno run -A bench/load-weights.ts MODEL_DIR");
  Deno.exit(2);
}
const file = await openCheckpoint(dir);
let values = 0;
try {
  for (const name of file.tensors.keys()) values += (await file.read(name)).length;
} finally {
  file.close();
}
console.log(`${(await weightFiles(dir)).join(", ")}: ${values} values`);
