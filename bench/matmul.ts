// Matmul benchmark: our WASM backend (all cores, and one thread), our WebGPU backend, and peers
// installed from npm in the same run (onnxruntime-node on the native CPU, TensorFlow.js' WASM
// backend, jax-js' WASM backend). Shapes: square 256..2048 and the GPT-2-small layer products
// (forward X·W, and the backward dX = dY·W^T by matmul_nt and dW = X^T·dY by matmul_tn), and
// for our backends the same forward and dX with W stored as f16 (matmul_f16, matmul_nt_f16; the
// peers have no f16-weight product with f32 activations here); then a KNE edit's few-row
// products (15 rows through c_fc, the LM head at 4 target rows), f32 and f16; last, the small
// default model's update products at an edit's 10 rows.
//
// Each measurement warms up, then takes the median of several rounds; within a shape the backends
// run interleaved (A B C A B C ...) so that noise from the two shared cores hits all alike.
//
//   deno task bench:matmul [--json] [--quick] [--rounds=N] [--no-peers] [--no-webgpu]
//
// --json prints one object per line: {"kernel","backend","threads","m","n","k","gflops","ms"};
// notes (skipped measurements) go to stderr. Without it, a table and the ratios the project
// tracks (WASM 1024^3 on all cores vs the best WASM peer and vs onnxruntime-node).

// Peers are pinned here, in bench/ only, not in the project's import map.
// deno-lint-ignore no-import-prefix
import * as ort from "npm:onnxruntime-node@1.30.0";
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import { createWasmBackend, type WasmBackend } from "../engine/wasm/backend.ts";
import { createWebGpuBackend, type WebGpuBackend } from "../engine/webgpu/backend.ts";
import type { Backend } from "../engine/backend.ts";
import { benchFlags } from "./flags.ts";

type Kernel = "matmul" | "matmul_tn" | "matmul_nt";

interface Shape {
  kernel: Kernel;
  m: number;
  n: number;
  k: number;
  label: string;
  /** B stored as f16 (our `${kernel}_f16` kernels). */
  half?: boolean;
}

interface Result {
  kernel: string;
  backend: string;
  threads: number | null;
  m: number;
  n: number;
  k: number;
  gflops: number;
  ms: number;
}

/** A backend under test, prepared for one shape: run() computes C once (synchronously or not). */
interface Runner {
  run(): void | Promise<void>;
  dispose(): void;
}

interface Contender {
  name: string;
  threads: number | null;
  /** Runs shapes with B in f16. */
  f16?: boolean;
  /** null: not measured for this shape (the reason goes to the notes). */
  prepare(s: Shape, a: Float32Array, b: Float32Array): Promise<Runner | null>;
  close?(): void | Promise<void>;
}

const args = benchFlags(["json", "quick", "rounds", "no-webgpu", "no-peers"]);
const JSON_OUT = args.has("json");
const QUICK = args.has("quick");
const ROUNDS = args.int("rounds", QUICK ? 3 : 7, 1);
const CORES = Math.max(1, navigator.hardwareConcurrency || 1);
const notes: string[] = [];

function note(s: string): void {
  notes.push(s);
  if (JSON_OUT) console.error(`note: ${s}`);
}

function shapes(): Shape[] {
  const out: Shape[] = [];
  for (const s of QUICK ? [256, 1024] : [256, 512, 1024, 2048]) {
    out.push({ kernel: "matmul", m: s, n: s, k: s, label: `square ${s}` });
  }
  // GPT-2 small, 64 tokens: [rows, out, in] of c_attn, attn c_proj, mlp c_fc, mlp c_proj.
  const layers: [string, number, number, number][] = [
    ["c_attn", 64, 2304, 768],
    ["attn.c_proj", 64, 768, 768],
    ["mlp.c_fc", 64, 3072, 768],
    ["mlp.c_proj", 64, 768, 3072],
  ];
  for (const [name, m, n, k] of QUICK ? layers.slice(0, 1) : layers) {
    out.push({ kernel: "matmul", m, n, k, label: `${name} Y=XW` });
    out.push({ kernel: "matmul_nt", m, n: k, k: n, label: `${name} dX=dY W^T` });
    out.push({ kernel: "matmul_tn", m: k, n, k: m, label: `${name} dW=X^T dY` });
    out.push({ kernel: "matmul", m, n, k, label: `${name} Y=XW f16 W`, half: true });
    out.push({ kernel: "matmul_nt", m, n: k, k: n, label: `${name} dX f16 W`, half: true });
  }
  // A KNE edit's products (bench/edit.ts), f32 and f16 weights: 15 teacher-forced rows through
  // mlp.c_fc, and the tied LM head at the 4 target rows (Y = X E^T, dX = dY E) for the 43690 of
  // the embedding's 50257 rows that one 128 MiB binding holds (lavapipe's limit; the model splits
  // the head there).
  const edit: Shape[] = [
    { kernel: "matmul", m: 15, n: 3072, k: 768, label: "edit fc Y=XW" },
    { kernel: "matmul_nt", m: 4, n: 43690, k: 768, label: "edit head Y=XE^T" },
    { kernel: "matmul", m: 4, n: 768, k: 43690, label: "edit head dX=dYE" },
  ];
  for (const e of edit) out.push(e, { ...e, label: `${e.label} f16`, half: true });
  // The small default model's (kne-facts: width 128, FFN 512, vocabulary 1401) products in one
  // update step, for an edit's 10 teacher-forced rows: its time per edit is products this small.
  out.push(
    { kernel: "matmul", m: 10, n: 384, k: 128, label: "kne-facts c_attn Y=XW" },
    { kernel: "matmul", m: 10, n: 512, k: 128, label: "kne-facts c_fc Y=XW" },
    { kernel: "matmul_nt", m: 10, n: 512, k: 128, label: "kne-facts c_proj dX" },
    { kernel: "matmul_nt", m: 10, n: 1401, k: 128, label: "kne-facts head Y=XE^T" },
  );
  return out;
}

/** The kernel a shape runs: `${kernel}_f16` when B is f16. */
function kernelName(s: Shape): string {
  return s.half ? `${s.kernel}_f16` : s.kernel;
}

/** Operand shapes as stored: A is m x k (k x m for _tn), B is k x n (n x k for _nt). */
function dims(s: Shape): { a: [number, number]; b: [number, number] } {
  return {
    a: s.kernel === "matmul_tn" ? [s.k, s.m] : [s.m, s.k],
    b: s.kernel === "matmul_nt" ? [s.n, s.k] : [s.k, s.n],
  };
}

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

// --- our backends ------------------------------------------------------------------------------

function ours(
  name: string,
  be: Backend,
  threads: number | null,
  skip?: (s: Shape) => string | null,
): Contender {
  return {
    name,
    threads,
    f16: true,
    prepare(s, a, b) {
      const why = skip?.(s);
      if (why) {
        note(`${name} ${s.kernel} ${s.m}x${s.n}x${s.k}: not measured (${why})`);
        return Promise.resolve(null);
      }
      const dtype = s.half ? "f16" : "f32";
      const [da, db, dc] = [be.alloc(a.length), be.alloc(b.length, dtype), be.alloc(s.m * s.n)];
      be.upload(da, a);
      be.upload(db, b);
      const params = [1, s.m, s.n, s.k, 0, 0, 0];
      const kernel = kernelName(s);
      return Promise.resolve({
        run: be.name === "wasm" ? () => be.dispatch(kernel, [da, db, dc], params) : async () => {
          be.dispatch(kernel, [da, db, dc], params);
          await be.sync();
        },
        dispose: () => [da, db, dc].forEach((d) => be.free(d)),
      });
    },
    close: () => be.dispose(),
  };
}

// --- onnxruntime-node: a one-node MatMul (Gemm for the transposed variants) model in memory -----

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const fInt = (field: number, v: number) => [...varint(field << 3), ...varint(v)];
const fBytes = (field: number, bytes: number[]) => [
  ...varint((field << 3) | 2),
  ...varint(bytes.length),
  ...bytes,
];
const fStr = (field: number, s: string) => fBytes(field, [...new TextEncoder().encode(s)]);

/** ONNX ModelProto bytes for C = op(A) op(B) on float tensors of fixed shape. */
function onnxModel(s: Shape): Uint8Array {
  const { a, b } = dims(s);
  const valueInfo = (name: string, shape: number[]) =>
    fStr(1, name).concat(
      fBytes(
        2,
        fBytes(1, fInt(1, 1).concat(fBytes(2, shape.flatMap((d) => fBytes(1, fInt(1, d)))))),
      ),
    );
  const attr = (name: string, v: number) =>
    fBytes(5, fStr(1, name).concat(fInt(3, v), fInt(20, 2)));
  const op = s.kernel === "matmul" ? "MatMul" : "Gemm";
  const node = [
    ...fStr(1, "A"),
    ...fStr(1, "B"),
    ...fStr(2, "C"),
    ...fStr(4, op),
    ...(s.kernel === "matmul_tn" ? attr("transA", 1) : []),
    ...(s.kernel === "matmul_nt" ? attr("transB", 1) : []),
  ];
  const graph = [
    ...fBytes(1, node),
    ...fStr(2, "g"),
    ...fBytes(11, valueInfo("A", a)),
    ...fBytes(11, valueInfo("B", b)),
    ...fBytes(12, valueInfo("C", [s.m, s.n])),
  ];
  return new Uint8Array([
    ...fInt(1, 8),
    ...fBytes(8, fStr(1, "").concat(fInt(2, 13))),
    ...fBytes(7, graph),
  ]);
}

const onnxContender: Contender = {
  name: "onnxruntime-node",
  threads: CORES,
  async prepare(s, a, b) {
    const session = await ort.InferenceSession.create(onnxModel(s), {
      executionProviders: ["cpu"],
      intraOpNumThreads: CORES,
      graphOptimizationLevel: "all",
    });
    const { a: da, b: db } = dims(s);
    const feeds = { A: new ort.Tensor("float32", a, da), B: new ort.Tensor("float32", b, db) };
    return {
      run: async () => {
        await session.run(feeds);
      },
      dispose: () => void session.release(),
    };
  },
};

// --- TensorFlow.js WASM backend (single-threaded outside browsers) ------------------------------

const tfjsContender: Contender = {
  name: "tfjs-wasm",
  threads: 1,
  prepare(s, a, b) {
    const { a: da, b: db } = dims(s);
    const ta = tf.tensor2d(a, da), tb = tf.tensor2d(b, db);
    return Promise.resolve({
      run: () => {
        const c = tf.matMul(ta, tb, s.kernel === "matmul_tn", s.kernel === "matmul_nt");
        c.dataSync();
        c.dispose();
      },
      dispose: () => {
        ta.dispose();
        tb.dispose();
      },
    });
  },
};

// --- jax-js WASM backend (multi-threaded with SharedArrayBuffer) --------------------------------

// deno-lint-ignore no-explicit-any
type Jax = any;

function jaxContender(jax: Jax): Contender {
  const np = jax.numpy;
  return {
    name: "jax-js-wasm",
    threads: null,
    prepare(s, a, b) {
      const { a: da, b: db } = dims(s);
      const ja = np.array(a).reshape(da), jb = np.array(b).reshape(db);
      return Promise.resolve({
        run: async () => {
          const x = s.kernel === "matmul_tn" ? ja.ref.transpose() : ja.ref;
          const y = s.kernel === "matmul_nt" ? jb.ref.transpose() : jb.ref;
          const c = np.matmul(x, y);
          await c.blockUntilReady();
          c.dispose();
        },
        dispose: () => {
          ja.dispose();
          jb.dispose();
        },
      });
    },
  };
}

// --- measurement --------------------------------------------------------------------------------

/** Seconds of one call, timing enough back-to-back calls to last about 20 ms. */
async function timeOnce(r: Runner, inner: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < inner; i++) await r.run();
  return (performance.now() - t0) / inner;
}

async function measure(contenders: Contender[], s: Shape): Promise<Result[]> {
  const { a: da, b: db } = dims(s);
  const a = random(da[0] * da[1], 1), b = random(db[0] * db[1], 2);
  const live: { c: Contender; r: Runner; inner: number; times: number[] }[] = [];
  for (const c of contenders) {
    if (s.half && !c.f16) continue;
    let r: Runner | null = null;
    try {
      r = await c.prepare(s, a, b);
    } catch (e) {
      note(`${c.name} ${s.kernel} ${s.m}x${s.n}x${s.k}: failed (${(e as Error).message})`);
    }
    if (!r) continue;
    // Warm up (compiles, allocations, thread start) and size the inner loop to ~20 ms.
    await r.run();
    const once = await timeOnce(r, 1);
    const inner = Math.max(1, Math.min(200, Math.round(20 / Math.max(once, 1e-3))));
    await timeOnce(r, inner);
    live.push({ c, r, inner, times: [] });
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const x of live) x.times.push(await timeOnce(x.r, x.inner));
  }
  return live.map(({ c, r, times }) => {
    r.dispose();
    times.sort((p, q) => p - q);
    const ms = times[times.length >> 1];
    return {
      kernel: kernelName(s),
      backend: c.name,
      threads: c.threads,
      m: s.m,
      n: s.n,
      k: s.k,
      gflops: (2 * s.m * s.n * s.k) / (ms * 1e6),
      ms,
    };
  });
}

async function main(): Promise<void> {
  const contenders: Contender[] = [];
  const wasmAll: WasmBackend = await createWasmBackend({ threads: CORES });
  const wasm1: WasmBackend = await createWasmBackend({ threads: 1 });
  contenders.push(ours("wasm", wasmAll, wasmAll.threads), ours("wasm-1t", wasm1, 1));
  let gpu: WebGpuBackend | null = null;
  if (!args.has("no-webgpu")) {
    gpu = await createWebGpuBackend({ allowFallback: true });
    if (!gpu) note("webgpu: no adapter; not measured");
    else {
      const fallback = gpu.isFallback;
      contenders.push(
        ours(
          "webgpu",
          gpu,
          null,
          (s) =>
            fallback && s.m * s.n * s.k >= 1024 ** 3
              ? `${gpu!.description} is a software fallback: 1024^3 and larger are too slow`
              : null,
        ),
      );
      if (fallback) {
        note(
          `webgpu runs on ${gpu.description}, a CPU software rasteriser: its numbers say nothing ` +
            `about a real GPU (not measured: no GPU on this machine)`,
        );
      }
    }
  }
  if (!args.has("no-peers")) {
    contenders.push(onnxContender);
    await tf.setBackend("wasm");
    await tf.ready();
    contenders.push(tfjsContender);
    try {
      // deno-lint-ignore no-import-prefix
      const jax = await import("npm:@jax-js/jax@0.1.25");
      await jax.init("wasm");
      jax.defaultDevice("wasm");
      contenders.push(jaxContender(jax));
    } catch (e) {
      note(`jax-js: not measured (${(e as Error).message})`);
    }
  }

  const results: Result[] = [];
  const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  note(`load average at start: ${load()} (other processes on these ${CORES} cores skew results)`);
  if (!JSON_OUT) {
    console.log(
      `matmul (f32 arithmetic), ${CORES} cores, ${
        new Date().toISOString()
      }, ${ROUNDS} rounds (median), ` +
        `${contenders.map((c) => c.name).join(", ")}`,
    );
  }
  for (const s of shapes()) {
    const rs = await measure(contenders, s);
    results.push(...rs);
    if (JSON_OUT) {
      for (const r of rs) console.log(JSON.stringify(r));
    } else {
      console.log(
        `${s.label.padEnd(22)} ${kernelName(s).padEnd(13)} ${`${s.m}x${s.n}x${s.k}`.padEnd(15)} ` +
          rs.map((r) => `${r.backend} ${r.gflops.toFixed(1)}`).join(" | "),
      );
    }
  }

  note(`load average at end: ${load()}`);
  if (!JSON_OUT) {
    const at = (backend: string) =>
      results.find((r) =>
        r.backend === backend && r.kernel === "matmul" && r.m === 1024 && r.n === 1024
      );
    const ourAll = at("wasm");
    const peers = ["tfjs-wasm", "jax-js-wasm"].map(at).filter((r): r is Result => !!r);
    const best = peers.sort((p, q) => q.gflops - p.gflops)[0];
    const onnx = at("onnxruntime-node");
    console.log("GFLOP/s above; ratios at 1024^3:");
    if (ourAll && best) {
      console.log(
        `  wasm (${ourAll.threads} threads) ${ourAll.gflops.toFixed(1)} / best WASM peer ` +
          `${best.backend} ${best.gflops.toFixed(1)} = ${
            (ourAll.gflops / best.gflops).toFixed(2)
          }x`,
      );
    }
    if (ourAll && onnx) {
      console.log(
        `  wasm ${ourAll.gflops.toFixed(1)} / onnxruntime-node ${onnx.gflops.toFixed(1)} = ` +
          `${(ourAll.gflops / onnx.gflops).toFixed(2)}x`,
      );
    }
    for (const n of notes) console.log(`note: ${n}`);
  }
  for (const c of contenders) await c.close?.();
}

await main();
// jax-js and onnxruntime keep worker threads alive.
Deno.exit(0);
