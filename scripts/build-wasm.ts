// Builds build/kernels.wasm from every AssemblyScript kernel module in engine/assembly/, with
// SIMD, relaxed SIMD and threads (shared imported memory, so Workers can share the heap).
// Skips the build when the output is newer than every source. Run by `deno task build:wasm`.

import asc from "assemblyscript/asc";

const root = new URL("../", import.meta.url);
const srcDir = new URL("engine/assembly/", root);
const outFile = new URL("build/kernels.wasm", root);

const sources = [...Deno.readDirSync(srcDir)]
  .filter((e) => e.isFile && e.name.endsWith(".ts"))
  .map((e) => e.name)
  .sort();

function mtime(u: URL): number {
  try {
    return Deno.statSync(u).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

const unknown = Deno.args.filter((a) => a !== "--force");
if (unknown.length > 0) {
  const help = unknown.every((a) => a === "--help" || a === "-h");
  console.error(
    "Usage: deno task build:wasm [--force]   (builds build/kernels.wasm when a kernel source is " +
      "newer; --force builds it anyway)",
  );
  Deno.exit(help ? 0 : 2);
}

const newest = Math.max(...sources.map((s) => mtime(new URL(s, srcDir))));
if (mtime(outFile) > newest && !Deno.args.includes("--force")) {
  console.error(`build/kernels.wasm is up to date (${sources.length} modules)`);
  Deno.exit(0);
}

Deno.mkdirSync(new URL("build/", root), { recursive: true });
const t0 = performance.now();
const { error, stderr } = await asc.main([
  ...sources.map((s) => new URL(s, srcDir).pathname),
  "-O3",
  "--runtime",
  "stub",
  "--enable",
  "simd",
  "--enable",
  "relaxed-simd",
  "--enable",
  "threads",
  "--importMemory",
  "--sharedMemory",
  "--initialMemory",
  "16",
  "--maximumMemory",
  "65536",
  "--noAssert",
  "--use",
  "abort=",
  "-o",
  outFile.pathname,
]);
if (error) {
  console.error(stderr.toString());
  console.error(`AssemblyScript build failed: ${error.message}`);
  Deno.exit(1);
}
console.error(
  `built build/kernels.wasm from ${sources.length} modules in ${
    (performance.now() - t0).toFixed(0)
  } ms`,
);
