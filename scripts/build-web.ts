// Builds the page into build/web/: the bundled UI (web/main.ts), the engine worker
// (web/engine-worker.ts, the library and the engine in one file), the WASM kernel thread
// (engine/wasm/web-worker.ts), kernels.wasm, every WGSL source in one JSON file (the engine
// compiles WGSL synchronously, so the page fetches them all first), the fact corpus's training
// texts as corpus.json (ROME's and MEMIT's covariance statistics read them; the page cannot build
// the fact world, whose npm data packages read files) and the static files of web/.
// Run by `deno task build:web` (after build:wasm).

import { buildCorpus } from "../src/facts/corpus.ts";

const root = new URL("../", import.meta.url);
const out = new URL("build/web/", root);
const deno = Deno.execPath();

const BUNDLES: [string, string][] = [
  ["web/main.ts", "main.js"],
  ["web/engine-worker.ts", "engine-worker.js"],
  ["engine/wasm/web-worker.ts", "kernel-thread.js"],
];

async function bundle(entry: string, file: string): Promise<void> {
  const cmd = new Deno.Command(deno, {
    args: ["bundle", "--quiet", "--platform", "browser", "-o", `build/web/${file}`, entry],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  });
  const { code } = await cmd.output();
  if (code !== 0) throw new Error(`deno bundle ${entry} failed (exit ${code})`);
  const text = await Deno.readTextFile(new URL(file, out));
  // A node: import left in a bundle would fail to load in a browser, and a bundled CommonJS
  // require of one (an npm package that reads files) would fail when reached: refuse both here.
  const node = /^import .* from "node:[^"]+";$|__require\("node:[^"]+"\)/m.exec(text);
  if (node) throw new Error(`build/web/${file} still imports a Node built-in: ${node[0]}`);
}

function wgslSources(): Record<string, string> {
  const dir = new URL("engine/wgsl/", root);
  const files: Record<string, string> = {};
  const walk = (sub: string) => {
    for (const e of Deno.readDirSync(new URL(sub, dir))) {
      if (e.isDirectory) walk(`${sub}${e.name}/`);
      else if (e.name.endsWith(".wgsl")) {
        files[`${sub}${e.name}`] = Deno.readTextFileSync(new URL(`${sub}${e.name}`, dir));
      }
    }
  };
  walk("");
  return files;
}

await Deno.mkdir(out, { recursive: true });
await Promise.all(BUNDLES.map(([entry, file]) => bundle(entry, file)));
await Deno.copyFile(new URL("build/kernels.wasm", root), new URL("kernels.wasm", out));
await Deno.writeTextFile(new URL("wgsl.json", out), JSON.stringify(wgslSources()));
await Deno.writeTextFile(new URL("corpus.json", out), JSON.stringify(buildCorpus().train));
for (const e of Deno.readDirSync(new URL("web/", root))) {
  if (e.isFile && /\.(html|css)$/.test(e.name)) {
    await Deno.copyFile(new URL(`web/${e.name}`, root), new URL(e.name, out));
  }
}
console.error(`built build/web/ (${BUNDLES.length} bundles, kernels.wasm, wgsl.json, corpus.json)`);
