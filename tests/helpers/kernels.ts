// Runs one kernel on a backend from host arrays: the dispatch harness of the kernel property tests.

import type { Backend } from "../../engine/backend.ts";
import { POISON } from "./reference.ts";

/**
 * Uploads `inputs`, then `outputs` (a length fills the buffer with POISON; an array is its
 * initial contents), dispatches `name`, and reads back every output.
 */
export async function runKernel(
  be: Backend,
  name: string,
  inputs: Float32Array[],
  outputs: (number | Float32Array)[],
  params: number[],
): Promise<Float32Array[]> {
  const ins = inputs.map((a) => {
    const d = be.alloc(a.length);
    be.upload(d, a);
    return d;
  });
  const outs = outputs.map((o) => {
    const init = typeof o === "number" ? new Float32Array(o).fill(POISON) : o;
    const d = be.alloc(init.length);
    be.upload(d, init);
    return d;
  });
  be.dispatch(name, [...ins, ...outs], params);
  const got = [];
  for (const d of outs) got.push(await be.read(d));
  [...ins, ...outs].forEach((d) => be.free(d));
  return got;
}
