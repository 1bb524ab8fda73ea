// Helpers for running scripts/edit.ts as a subprocess on a private copy of the tiny fixture
// model, and for proving that model folders are left byte-identical.

import { join } from "node:path";

export { exists } from "../../src/io/files.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const EDIT = join(ROOT, "scripts/edit.ts");
export const FIXTURES = join(ROOT, "tests/fixtures");
export const REQUESTS = join(FIXTURES, "reliability-requests.json");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options every CLI test run uses: fast, no sampling, WASM unless a test says otherwise. */
export const FAST = ["--no-fluency", "--backend", "wasm"];

export interface Running {
  child: Deno.ChildProcess;
  /** Resolves with the first stderr line matching `re` (rejects when the process ends first). */
  waitFor(re: RegExp): Promise<string>;
  done: Promise<RunResult>;
}

/** Starts `deno run -A scripts/edit.ts ...args`, streaming stderr so tests can react to it. */
export function startEdit(args: string[], env: Record<string, string> = {}): Running {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", EDIT, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  let stderr = "";
  const waiters: { re: RegExp; resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    const lines = stderr.split("\n");
    for (const w of [...waiters]) {
      const hit = lines.find((l) => w.re.test(l));
      if (hit !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  };
  const readErr = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) {
      stderr += dec.decode(chunk, { stream: true });
      check();
    }
  })();
  const stdoutP = new Response(child.stdout).text();
  const done = (async () => {
    const [status, stdout] = await Promise.all([child.status, stdoutP, readErr]).then((
      [s, o],
    ) => [s, o] as const);
    for (const w of waiters) {
      w.reject(new Error(`process ended before a line matched ${w.re}:\n${stderr}`));
    }
    waiters.length = 0;
    return { code: status.code, stdout, stderr };
  })();
  return {
    child,
    done,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve, reject });
        check();
      }),
  };
}

/** Runs the edit CLI to completion. */
export function runEdit(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return startEdit(args, env).done;
}

/** SHA-256 of every file under `dir` (relative path -> hex), to prove a folder unchanged. */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string) => {
    const entries = [];
    for await (const e of Deno.readDir(d)) entries.push(e);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const p = join(d, e.name), r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(p, r);
      else {
        const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(p));
        out[r] = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
      }
    }
  };
  await walk(dir, "");
  return out;
}

/** A private copy of a fixture model folder (tests never point the CLI at the repo's own). */
export async function copyModel(name: string, to: string): Promise<string> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(join(FIXTURES, name))) {
    if (e.isFile) await Deno.copyFile(join(FIXTURES, name, e.name), join(to, e.name));
  }
  return to;
}

/** Complete JSON records in a records.jsonl. */
export async function recordsIn(file: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  const out = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a cut line
    }
  }
  return out;
}
