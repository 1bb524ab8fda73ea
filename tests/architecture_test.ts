// The layers of docs/ARCHITECTURE.md, held against the code: every relative import of every
// TypeScript file under engine/ and src/ is read, and an import from a lower layer into a higher
// one (or into a folder of the same layer) fails, as does a file in a folder the table does not
// place. Files import within their own folder freely; scripts/, bench/ and tests/ stand above
// everything.

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(new URL("../", import.meta.url).pathname);

/** Each folder's layer, lowest first; a folder imports only from lower layers. */
export const LAYERS: Record<string, number> = {
  "engine": 0,
  "src/tensor": 1,
  "src/io": 1,
  "src/tokenizer": 1,
  "src/cli": 1,
  "src/random": 1,
  "src/autograd": 2,
  "src/eval": 2,
  "src/facts": 2,
  "src/model": 3,
  "src/report": 3,
  "src/edit": 4,
  "src/trace": 4,
  "src/train": 4,
  "src/kne": 5,
  "src/methods": 6,
  "src/loop": 6,
  "src/plan": 6,
  "src/pipeline": 7,
  "src/session": 7,
};

/** The folder (a key of LAYERS) a repository path belongs to, or undefined. */
function folderOf(path: string): string | undefined {
  const parts = path.split("/");
  if (parts[0] === "engine") return "engine";
  if (parts[0] === "src" && parts.length > 2) return `src/${parts[1]}`;
  return undefined;
}

async function* tsFiles(root: string, dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(join(root, dir))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* tsFiles(root, path);
    else if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) yield path;
  }
}

/** Relative module specifiers of `source` (static and dynamic imports, re-exports). */
export function relativeImports(source: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g;
  for (const m of source.matchAll(re)) out.push(m[1]);
  return out;
}

/**
 * Imports under `root`'s `dirs` that run upward or sideways between folders, as
 * "file -> target" lines, and files in folders without a layer.
 */
export async function layerViolations(root: string, dirs: readonly string[]): Promise<string[]> {
  const bad: string[] = [];
  for (const dir of dirs) {
    for await (const file of tsFiles(root, dir)) {
      const from = folderOf(file);
      if (from === undefined || !(from in LAYERS)) {
        bad.push(`${file}: its folder has no layer in docs/ARCHITECTURE.md`);
        continue;
      }
      for (const spec of relativeImports(await Deno.readTextFile(join(root, file)))) {
        const target = relative(root, join(root, dirname(file), spec));
        const to = folderOf(target);
        if (to === from) continue;
        if (to === undefined || !(to in LAYERS) || LAYERS[to] >= LAYERS[from]) {
          bad.push(`${file} -> ${target}`);
        }
      }
    }
  }
  return bad.sort();
}

Deno.test("architecture: no import runs upward or sideways between layers", async () => {
  assert.deepEqual(await layerViolations(ROOT, ["engine", "src"]), []);
});

Deno.test("architecture: the checker sees static, dynamic and re-exported imports", () => {
  const src = [
    'import { a } from "../model/lm.ts";',
    'import type { B } from "./b.ts";',
    'export { c } from "../io/files.ts";',
    'const m = await import("../kne/kne.ts");',
    'import x from "node:path";',
    "import {\n  y,\n  z,\n} from '../tensor/ops.ts';",
  ].join("\n");
  assert.deepEqual(relativeImports(src), [
    "../model/lm.ts",
    "./b.ts",
    "../io/files.ts",
    "../kne/kne.ts",
    "../tensor/ops.ts",
  ]);
});

Deno.test("architecture: upward and sideways imports and unplaced folders are reported", async () => {
  const root = await Deno.makeTempDir();
  const put = async (path: string, text: string) => {
    await Deno.mkdir(join(root, dirname(path)), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  };
  try {
    await put("src/model/lm.ts", 'import { t } from "../tensor/tensor.ts";\nimport "./x.ts";\n');
    await put("src/model/load.ts", 'import { run } from "../pipeline/run.ts";\n');
    await put("src/trace/t.ts", 'import { f } from "../train/fit.ts";\n');
    await put("src/newhome/x.ts", "export const x = 1;\n");
    // A subfolder is its top folder: src/tensor/ops/ is src/tensor.
    await put(
      "src/tensor/ops/basic.ts",
      'import { c } from "../chunk.ts";\nimport "../../../engine/b.ts";\n',
    );
    await put("src/tensor/ops/up.ts", 'import { v } from "../../autograd/variable.ts";\n');
    await put("engine/b.ts", 'import { v } from "../src/autograd/variable.ts";\n');
    assert.deepEqual(await layerViolations(root, ["engine", "src"]), [
      "engine/b.ts -> src/autograd/variable.ts",
      "src/model/load.ts -> src/pipeline/run.ts",
      "src/newhome/x.ts: its folder has no layer in docs/ARCHITECTURE.md",
      "src/tensor/ops/up.ts -> src/autograd/variable.ts",
      "src/trace/t.ts -> src/train/fit.ts",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
