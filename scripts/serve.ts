// `deno task serve [--port N]`: serves the page built by build:web, the shipped models (every
// model of SHIPPED_SPLITS, under models/), the request files and the per-model hyperparameter
// files (hparams/<method>/<model>.json), with the two headers that make
// the page cross-origin isolated (SharedArrayBuffer, so the WASM backend can run threads).

import { exitWithError } from "../src/cli/fail.ts";
import { parseFlags } from "../src/cli/flags.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import { SHIPPED_SPLITS } from "../src/pipeline/models.ts";

const root = new URL("../", import.meta.url);

/** URL prefix -> folder of the repository it serves (longest prefix first). */
const MOUNTS: [string, string][] = [
  ...Object.keys(SHIPPED_SPLITS).map((name): [string, string] => [
    `/models/${name}/`,
    `models/${name}/`,
  ]),
  ["/data/requests/", "data/requests/"],
  ["/hparams/", "hparams/"],
  ["/", "build/web/"],
];

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  wasm: "application/wasm",
  svg: "image/svg+xml",
  png: "image/png",
};

const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

function answer(status: number, text: string): Response {
  return new Response(text, { status, headers: { ...ISOLATION, "content-type": "text/plain" } });
}

/**
 * The file a request path names, or null (outside every mount, climbing out of one, or not a
 * well-formed percent-encoding such as "/%").
 */
export function fileFor(pathname: string): URL | null {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (path.endsWith("/")) path += "index.html";
  // A file: URL would read a backslash as "/" and a "%2e%2e" segment (what "%252e%252e"
  // decodes to) as "..": neither may reach the URL parser.
  if (/[\\\0]/.test(path)) return null;
  if (path.split("/").some((part) => part === ".." || part.startsWith("."))) return null;
  for (const [prefix, dir] of MOUNTS) {
    if (!path.startsWith(prefix)) continue;
    const base = new URL(dir, root);
    // Each part percent-encoded, so the parser takes it as the name it is.
    const rest = path.slice(prefix.length).split("/").map(encodeURIComponent).join("/");
    const file = new URL(rest, base);
    return file.href.startsWith(base.href) ? file : null;
  }
  return null;
}

export async function handle(req: Request): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") return answer(405, "method not allowed");
  const file = fileFor(new URL(req.url).pathname);
  if (!file) return answer(404, "not found");
  let f: Deno.FsFile, size: number;
  try {
    f = await Deno.open(file);
    const info = await f.stat();
    if (!info.isFile) {
      f.close();
      return answer(404, "not found");
    }
    size = info.size;
  } catch {
    return answer(404, "not found");
  }
  const ext = file.pathname.slice(file.pathname.lastIndexOf(".") + 1);
  // The file's length, for GET and HEAD alike (a bodiless HEAD answer used to say 0).
  const headers = {
    ...ISOLATION,
    "content-type": TYPES[ext] ?? "application/octet-stream",
    "content-length": String(size),
    "cache-control": "no-cache",
  };
  if (req.method === "HEAD") {
    f.close();
    return new Response(null, { headers });
  }
  return new Response(f.readable, { headers });
}

/** Starts the server on `port` (0: any free port); resolves with the server and its URL. */
export function serve(port: number): { server: Deno.HttpServer; url: Promise<string> } {
  let resolve!: (url: string) => void;
  const url = new Promise<string>((r) => (resolve = r));
  const server = Deno.serve({
    port,
    hostname: "127.0.0.1",
    onListen: (addr) => resolve(`http://127.0.0.1:${addr.port}/`),
  }, handle);
  return { server, url };
}

const USAGE = "Usage: deno task serve [--port N]   (default 8000; 0: any free port)";

if (import.meta.main) {
  const args = parseFlags({
    port: { type: "string", default: "8000" },
  }, USAGE);
  const port = Number(args.port);
  if (!/^\d+$/.test(args.port) || port > 65535) {
    exitWithError(`--port must be an integer in [0, 65535], got "${args.port}"`, 2, USAGE);
  }
  await Deno.stat(new URL("build/web/main.js", root)).catch(() =>
    exitWithError("build/web/ is missing: run `deno task build:web` (deno task serve does)", 1)
  );
  await runCommand(async () => {
    let started;
    try {
      started = serve(port);
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) {
        throw new Error(`port ${port} is in use; choose another with --port N (0: any free port)`);
      }
      throw e;
    }
    console.error(`serving the page at ${await started.url}`);
  });
}
