// Builds the page into build/web/: the bundled UI (web/main.ts), the engine worker
// (web/engine-worker.ts, the library and the engine in one file), the WASM kernel thread
// (engine/wasm/web-worker.ts), kernels.wasm, every WGSL source in one JSON file (the engine
// compiles WGSL synchronously, so the page fetches them all first), the fact corpus's training
// texts as corpus.json (ROME's and MEMIT's covariance statistics read them; the page cannot build
// the fact world, whose npm data packages read files) and the static files of web/. A bundle that
// still reaches Node or Deno APIs is refused.
// Run by `deno task build:web` (after build:wasm); buildWeb() builds into another folder (tests).

import { buildCorpus } from "../src/facts/corpus.ts";

const root = new URL("../", import.meta.url);
const deno = Deno.execPath();

const BUNDLES: [string, string][] = [
  ["web/main.ts", "main.js"],
  ["web/engine-worker.ts", "engine-worker.js"],
  ["engine/wasm/web-worker.ts", "kernel-thread.js"],
];

/**
 * The first reference in bundled code that a browser cannot run, or null: a node: import left in
 * (it fails to load), a bundled CommonJS require of one (an npm package that reads files) or a
 * Deno API (Deno-only code that the host seams, engine/host.ts and
 * src/methods/covariance-host.ts, should keep out); each fails when reached.
 */
export function browserUnsafe(text: string): string | null {
  const re = /^import .* from "node:[^"]+";$|__require\("node:[^"]+"\)|\bDeno\.\w+/m;
  return re.exec(text)?.[0] ?? null;
}

async function bundle(entry: string, out: URL, file: string): Promise<void> {
  const target = new URL(file, out);
  const cmd = new Deno.Command(deno, {
    args: ["bundle", "--quiet", "--platform", "browser", "-o", target.pathname, entry],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  });
  const { code } = await cmd.output();
  if (code !== 0) throw new Error(`deno bundle ${entry} failed (exit ${code})`);
  const unsafe = browserUnsafe(await Deno.readTextFile(target));
  if (unsafe) throw new Error(`${target.pathname} reaches what a browser lacks: ${unsafe}`);
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

/** Builds the page into the folder `out` (a file: URL ending in /). */
export async function buildWeb(out: URL): Promise<void> {
  await Deno.mkdir(out, { recursive: true });
  // The first `deno bundle` on a machine installs esbuild into Deno's cache; bundles started
  // beside it race for that copy and fail (seen on a fresh CI machine), so it runs alone.
  const [[firstEntry, firstFile], ...rest] = BUNDLES;
  await bundle(firstEntry, out, firstFile);
  await Promise.all(rest.map(([entry, file]) => bundle(entry, out, file)));
  await Deno.copyFile(new URL("build/kernels.wasm", root), new URL("kernels.wasm", out));
  await Deno.writeTextFile(new URL("wgsl.json", out), JSON.stringify(wgslSources()));
  await Deno.writeTextFile(new URL("corpus.json", out), JSON.stringify(buildCorpus().train));
  for (const e of Deno.readDirSync(new URL("web/", root))) {
    if (e.isFile && /\.(html|css)$/.test(e.name)) {
      await Deno.copyFile(new URL(`web/${e.name}`, root), new URL(e.name, out));
    }
  }
}

if (import.meta.main) {
  if (Deno.args.length > 0) {
    const help = Deno.args.every((a) => a === "--help" || a === "-h");
    console.error("Usage: deno task build:web   (builds the page into build/web/; no options)");
    Deno.exit(help ? 0 : 2);
  }
  await buildWeb(new URL("build/web/", root));
  console.error(
    `built build/web/ (${BUNDLES.length} bundles, kernels.wasm, wgsl.json, corpus.json)`,
  );
}
