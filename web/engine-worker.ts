// The engine in a dedicated worker: the WASM thread pool blocks on Atomics.wait, which a page's
// main thread may not do, and a long edit must not freeze the page. It sets the web hosts (the
// engine's assets and the covariance statistics' corpus fetched from the page's folder, their
// results kept in Cache Storage), loads the chosen shipped model or the folder the user picked,
// and answers the page's messages (web/protocol.ts) with the library (mod.ts).

/// <reference lib="deno.worker" />

import {
  applyPatch,
  complete,
  createBackend,
  decodePatch,
  edit,
  editMany,
  type EditRequest,
  editTarget,
  editWork,
  encodePatch,
  hparamsCandidates,
  loadModelFromFileMap,
  loadModelFromUrl,
  loadProblems,
  METHOD_LABELS,
  methodByName,
  type MethodProgress,
  METHODS,
  parseHparams,
  parseRequests,
  planEdit,
  revertChanges,
  type SessionModel,
  setCovarianceHost,
  setEngineHost,
  SHIPPED_SPLITS,
  simpleRequest,
  type TensorChange,
  webCovarianceHost,
  webHost,
} from "../mod.ts";
import type { EditMode, EditSummary, FromEngine, ManySummary, ToEngine } from "./protocol.ts";

let session: SessionModel | null = null;
/**
 * The shipped model's name (its hparams/<method>/<name>.json files apply to it); "" for a picked
 * folder, which edits with the methods' defaults and no anchors.
 */
let modelName = "";
/** Its anchor split, parsed on the first edit. */
let anchorPool: EditRequest[] | null = null;
/** Changes of the edits made so far, oldest first; revert undoes the last. */
const edits: TensorChange[][] = [];
let busy: Promise<void> = Promise.resolve();

function send(msg: FromEngine, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

function need(): SessionModel {
  if (!session) throw new Error("no model loaded");
  return session;
}

/** The requests the locality term's anchors come from, as `deno task edit` picks them. */
async function anchors(): Promise<EditRequest[]> {
  if (anchorPool) return anchorPool;
  const splits = SHIPPED_SPLITS[modelName];
  if (!splits) return [];
  const file = splits.anchors;
  const res = await fetch(new URL(file, self.location.href));
  if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
  return (anchorPool = parseRequests(await res.text(), file));
}

/** The request(s) an edit message names: a prompt and target, or records of a request file. */
async function requestsOf(r: Extract<ToEngine, { type: "edit" }>["request"], mode: EditMode) {
  if ("prompt" in r) {
    if (mode !== "single") throw new Error(`${mode} mode edits records of a request file`);
    return [simpleRequest(r.prompt, r.target)];
  }
  const url = new URL(r.file, self.location.href);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const all: EditRequest[] = parseRequests(await res.text(), r.file);
  const count = mode === "single" ? 1 : r.count;
  const picked = all.slice(r.index, r.index + count);
  if (picked.length < count) {
    throw new Error(
      `${r.file}: no records ${r.index}..${r.index + count - 1} (it has ${all.length})`,
    );
  }
  return picked;
}

/**
 * The method's hyperparameters for the model in `mode`, as `deno task edit` takes them when no
 * --hparams is given (hparams/<method>/<model>.<mode>.json, else hparams/<method>/<model>.json,
 * else the method's defaults), under the page's own.
 */
async function hparamsFor(method: string, mode: string, own: Record<string, unknown>) {
  if (modelName === "") return { hparams: own, file: null };
  for (const file of hparamsCandidates(method, modelName, mode).map((f) => `hparams/${f}`)) {
    const res = await fetch(new URL(file, self.location.href));
    if (res.ok) return { hparams: { ...(await res.json()), ...own }, file };
    await res.body?.cancel();
  }
  return { hparams: own, file: null };
}

function changedCount(changes: readonly TensorChange[]): number {
  return changes.reduce((n, c) => n + c.indices.length, 0);
}

/** Sets the web hosts, creates the backend and loads the chosen model. */
async function init(msg: Extract<ToEngine, { type: "init" }>): Promise<void> {
  const base = new URL("./", self.location.href);
  setEngineHost(
    await webHost({
      wasm: new URL("kernels.wasm", base),
      wgsl: new URL("wgsl.json", base),
      thread: new URL("kernel-thread.js", base),
    }),
  );
  // ROME's and MEMIT's key statistics: the corpus that build:web wrote, kept across reloads.
  setCovarianceHost(webCovarianceHost({ corpus: new URL("corpus.json", base), base }));
  const backend = await createBackend(msg.backend);
  const note = backend.name === "webgpu"
    ? "WebGPU"
    : `WASM (${navigator.hardwareConcurrency || 1} threads, WebGPU not used)`;
  // A picked folder may hold any model: one that cannot fit is refused before its weights are read.
  const fits = (config: Parameters<typeof loadProblems>[0]) => {
    const problems = loadProblems(config, backend);
    if (problems.length > 0) {
      throw new Error(`${msg.model} does not fit ${backend.name}: ${problems.join("; ")}`);
    }
  };
  session = msg.files
    ? await loadModelFromFileMap(
      msg.model,
      new Map(Object.entries(msg.files)),
      backend,
      "auto",
      fits,
    )
    : await loadModelFromUrl(new URL(`models/${msg.model}/`, base), backend);
  modelName = msg.files ? "" : msg.model;
  anchorPool = null;
  let params = 0;
  for (const v of session.model.params.values()) params += v.value.size;
  send({
    type: "ready",
    backend: backend.name,
    note,
    model: msg.model,
    params,
    methods: [...METHODS.keys()].map((name) => ({ name, label: METHOD_LABELS[name] ?? name })),
  });
}

/**
 * An edit the page asked for: its memory plan first (an edit that cannot fit is refused, as
 * `deno task edit` refuses it), then one request, or several in batch or sequential mode.
 */
async function editRequests(msg: Extract<ToEngine, { type: "edit" }>): Promise<void> {
  const m = need();
  const requests = await requestsOf(msg.request, msg.mode);
  const hp = await hparamsFor(msg.method, msg.mode, msg.hparams);
  const pool = await anchors();
  const method = methodByName(msg.method);
  // The library's refusal says to load the model as f32, which the page cannot: it loads a
  // picked folder's half-precision matrices as f16 on WebGPU ("auto"), as f32 on WASM.
  if (!method.weightDtypes.includes(m.weights.dtype)) {
    throw new Error(
      `${method.name} edits ${method.weightDtypes.join(", ")} weights, and WebGPU holds this ` +
        `folder's half-precision matrices as ${m.weights.dtype}: choose the WASM backend, which ` +
        `holds them as f32, or a method that edits ${m.weights.dtype} weights (KNE)`,
    );
  }
  const parsed = parseHparams(hp.hparams, method.defaults, method.schema, "hparams");
  const targets = requests.map((r) => editTarget(r, m.tokenizer, m.config.contextLength, m.source));
  const work = editWork(method, parsed, targets, pool, m.tokenizer, m.config, msg.mode);
  const plan = planEdit(m.config, method, work, m.model.backend, m.weights.dtype);
  send({ type: "plan", text: plan.text });
  if (plan.problems.length > 0) {
    throw new Error(`the edit cannot fit: ${plan.problems.join("; ")}`);
  }
  const opts = {
    method: msg.method,
    hparams: hp.hparams,
    anchorPool: pool,
    onProgress: (progress: MethodProgress) => send({ type: "progress", progress }),
  };
  if (msg.mode !== "single") {
    const out = await editMany(m, requests, { ...opts, mode: msg.mode });
    edits.push(out.changes);
    const summary: ManySummary = {
      mode: out.mode,
      method: out.method,
      records: out.records.map((r, i) => ({
        prompt: r.request.prompt,
        target: r.request.targetNew,
        before: r.before,
        after: r.after,
        metrics: r.metrics,
        endEditSucc: out.endEditSucc?.[i],
      })),
      seconds: out.seconds,
      paramsChanged: changedCount(out.changes),
      hparamsFile: hp.file,
    };
    send({ type: "edited-many", summary });
    return;
  }
  const request = requests[0];
  const out = await edit(m, request, opts);
  edits.push(out.changes);
  const summary: EditSummary = {
    prompt: request.prompt,
    target: request.targetNew,
    method: out.method,
    before: out.before,
    after: out.after,
    metrics: out.metrics,
    seconds: out.seconds,
    paramsChanged: changedCount(out.changes),
    rolledBack: out.rolledBack,
    attributionSvg: out.pictures["attribution.svg"],
    hparamsFile: hp.file,
    anchors: out.anchors,
  };
  send({ type: "edited", summary });
}

async function handle(msg: ToEngine): Promise<void> {
  switch (msg.type) {
    case "init":
      return await init(msg);
    case "complete":
      send({ type: "completion", text: await complete(need(), msg.prompt) });
      return;
    case "edit":
      return await editRequests(msg);
    case "patch": {
      const last = edits.at(-1);
      if (!last) throw new Error("no edit to download");
      // The checkpoint's dtypes go with it, so that reverting it writes them back (as the CLI's).
      const bytes = await encodePatch(last, { method: "page" }, need().weights.storedDtypes);
      send({ type: "patch", bytes: bytes as Uint8Array<ArrayBuffer> }, [bytes.buffer]);
      return;
    }
    case "apply-patch": {
      const m = need();
      const patch = await decodePatch(msg.name, msg.bytes);
      await applyPatch(m, patch, "apply", { file: msg.name });
      edits.push(patch.map((e) => ({ ...e, indices: Uint32Array.from(e.indices) })));
      send({ type: "patched", name: msg.name, entries: patch.length, edits: edits.length });
      return;
    }
    case "revert": {
      const last = edits.pop();
      if (!last) throw new Error("no edit to revert");
      revertChanges(need(), last);
      send({ type: "reverted", edits: edits.length });
      return;
    }
  }
}

self.onmessage = (e: MessageEvent<ToEngine>) => {
  // One message at a time, in order: an edit and a completion must not interleave on the model.
  busy = busy.then(() => handle(e.data)).catch((err) =>
    send({ type: "error", message: err instanceof Error ? err.message : String(err) })
  );
};
