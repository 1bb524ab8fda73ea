// Every decimal float literal in the WGSL kernels fits f32. Naga (Deno) rounds one just above
// FLT_MAX down, but Tint (Chrome) refuses the whole module, and a kernel that does not compile
// leaves its output untouched: softmax gave zeros in the browser with -3.40282347e+38.

import { strict as assert } from "node:assert";

const FLT_MAX = 3.4028234663852886e38;
const DIR = new URL("../../engine/wgsl/", import.meta.url);

function* wgslFiles(dir: URL, prefix = ""): Generator<[string, string]> {
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory) yield* wgslFiles(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`);
    else if (e.name.endsWith(".wgsl")) {
      yield [`${prefix}${e.name}`, Deno.readTextFileSync(new URL(e.name, dir))];
    }
  }
}

Deno.test("WGSL decimal float literals are within the f32 range", () => {
  const bad: string[] = [];
  let seen = 0;
  for (const [file, text] of wgslFiles(DIR)) {
    const code = text.replace(/\/\/.*$/gm, "");
    for (const m of code.matchAll(/(?<![\w.])(\d+\.\d*|\.\d+|\d+)[eE][+-]?\d+f?/g)) {
      seen++;
      if (Math.abs(parseFloat(m[0])) > FLT_MAX) bad.push(`${file}: ${m[0]}`);
    }
  }
  assert.ok(seen > 0, "no exponent literals found: the pattern is broken");
  assert.deepEqual(bad, []);
});
