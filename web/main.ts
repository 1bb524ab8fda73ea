// The page: choose a shipped model (the default one preselected, its demo request prefilled), or
// a Hugging Face model folder from this computer (read as the command line reads one), and
// a backend, complete a prompt greedily, edit a fact with KNE or a baseline (progress per phase),
// see before/after completions, the metrics and the attribution heatmap, download the patch,
// revert. The engine runs in web/engine-worker.ts.

/// <reference lib="dom" />

import { DEFAULT_MODEL, SHIPPED_SPLITS } from "../src/pipeline/models.ts";
import type { EditMode, EditSummary, FromEngine, ManySummary, ToEngine } from "./protocol.ts";
import { queryChoice } from "./query.ts";

/** Test-split records offered besides the demo. */
const RECORDS_SHOWN = 40;

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
}

const status = $<HTMLParagraphElement>("status");
let engine: Worker | null = null;
let patchUrl: string | null = null;
/** The model folder the user picked, by file name; its option in #model is PICKED. */
let picked: Map<string, File> | null = null;
const PICKED = "(picked folder)";

function setStatus(state: string, text: string): void {
  status.dataset.state = state;
  status.textContent = text;
}

function post(msg: ToEngine): void {
  engine?.postMessage(msg);
}

function busy(on: boolean): void {
  for (const id of ["complete", "edit", "model", "model-folder", "backend", "mode"]) {
    $<HTMLButtonElement>(id).disabled = on;
  }
}

async function startEngine(): Promise<void> {
  engine?.terminate();
  engine = new Worker("engine-worker.js", { type: "module" });
  engine.onmessage = (e: MessageEvent<FromEngine>) => onEngine(e.data);
  engine.onerror = (e) => setStatus("error", `engine worker failed: ${e.message}`);
  busy(true);
  $("backend-note").textContent = "starting...";
  setStatus("loading", "loading the model...");
  const backend = $<HTMLSelectElement>("backend").value as "auto" | "webgpu" | "wasm";
  const model = $<HTMLSelectElement>("model").value;
  if (model === PICKED && picked) {
    await loadRecords(null);
    // File objects, not their bytes: the worker reads only the files the model needs.
    const name = $<HTMLSelectElement>("model").selectedOptions[0].text;
    post({ type: "init", backend, model: name, files: Object.fromEntries(picked) });
    return;
  }
  // The records are in place before the model is ready: a ready page edits what it shows.
  await loadRecords(model).catch((e) => setStatus("error", `request files: ${e.message}`));
  post({ type: "init", backend, model });
}

/**
 * The files of a picked folder by name: those at its top level (a folder input lists every file
 * below it; a file chosen on its own has no folder).
 */
function topLevelFiles(list: FileList): Map<string, File> {
  const files = new Map<string, File>();
  for (const file of list) {
    const depth = file.webkitRelativePath.split("/").length;
    if (file.webkitRelativePath === "" || depth === 2) files.set(file.name, file);
  }
  return files;
}

const bars = new Map<string, HTMLProgressElement>();

function progress(phase: string, step: number, of: number): void {
  let bar = bars.get(phase);
  if (!bar) {
    const row = document.createElement("div");
    const label = document.createElement("span");
    label.textContent = phase;
    bar = document.createElement("progress");
    row.append(label, bar);
    $("progress").append(row);
    bars.set(phase, bar);
  }
  bar.max = of;
  bar.value = step;
}

function pct(x: number | undefined): string {
  return x === undefined ? "-" : `${(100 * x).toFixed(1)}`;
}

function showEdit(s: EditSummary): void {
  $("result").hidden = false;
  $("before").textContent = s.before.completion;
  $("after").textContent = s.after.completion;
  const rows: [string, string, string][] = [
    ["Edit Succ.", pct(s.before.editSucc), pct(s.metrics.editSucc)],
    ["Generalization", "", pct(s.metrics.generalization)],
    ["Portability", "", pct(s.metrics.portability)],
    ["Locality", "", pct(s.metrics.locality)],
    ["parameters changed", "", String(s.paramsChanged)],
    ["anchor prompts", "", String(s.anchors)],
    ["seconds (edit)", "", s.seconds.toFixed(3)],
  ];
  const table = $<HTMLTableElement>("metrics");
  table.replaceChildren();
  const head = table.insertRow();
  for (const h of [`${s.method}: ${s.prompt} -> ${s.target}`, "before", "after"]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.append(th);
  }
  for (const [name, before, after] of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = name;
    tr.insertCell().textContent = before;
    const cell = tr.insertCell();
    cell.textContent = after;
    if (name === "Edit Succ.") cell.id = "edit-succ";
    if (name === "seconds (edit)") cell.id = "edit-seconds";
  }
  // The SVG is drawn by the library (src/report/heatmap.ts), not taken from user input.
  $("heatmap").innerHTML = s.attributionSvg ?? "";
  $<HTMLButtonElement>("revert").disabled = false;
  post({ type: "patch" });
}

/** A batch's or a sequence's records: before and after, and the Edit Succ. at the end. */
function showMany(s: ManySummary): void {
  $("many").hidden = false;
  const table = $<HTMLTableElement>("records");
  table.replaceChildren();
  const head = table.insertRow();
  const cols = [
    "request",
    "Edit Succ. before",
    "after",
    "Gen.",
    "Port.",
    "Loc.",
    "after completion",
  ];
  if (s.mode === "sequential") cols.splice(3, 0, "after the last edit");
  for (const h of [`${s.method}, ${s.mode}: ${s.records.length} requests`, ...cols.slice(1)]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.append(th);
  }
  for (const r of s.records) {
    const tr = table.insertRow();
    const cells = [
      `${r.prompt} -> ${r.target}`,
      pct(r.before.editSucc),
      pct(r.metrics.editSucc),
      pct(r.metrics.generalization),
      pct(r.metrics.portability),
      pct(r.metrics.locality),
      r.after.completion,
    ];
    if (s.mode === "sequential") cells.splice(3, 0, pct(r.endEditSucc));
    for (const c of cells) tr.insertCell().textContent = c;
  }
  $<HTMLButtonElement>("revert").disabled = false;
  post({ type: "patch" });
}

function onEngine(msg: FromEngine): void {
  switch (msg.type) {
    case "ready": {
      $("backend-note").textContent = `${msg.note}: ${msg.model}, ${msg.params} parameters`;
      $("backend-note").dataset.backend = msg.backend;
      const select = $<HTMLSelectElement>("method");
      if (select.options.length === 0) {
        for (const m of msg.methods) {
          select.add(new Option(m.label, m.name, m.name === "kne", m.name === "kne"));
        }
      }
      busy(false);
      setStatus("ready", "ready");
      return;
    }
    case "completion":
      $("completion").textContent = msg.text;
      busy(false);
      setStatus("ready", "ready");
      return;
    case "plan":
      $("plan").hidden = false;
      $("plan-text").textContent = msg.text;
      return;
    case "progress":
      progress(msg.progress.phase, msg.progress.step, msg.progress.of);
      return;
    case "edited":
      // A method may stop early (KNE at its loss threshold): its phases are done.
      for (const bar of bars.values()) bar.value = bar.max;
      showEdit(msg.summary);
      busy(false);
      setStatus(
        "edited",
        `edited in ${msg.summary.seconds.toFixed(2)} s (hyperparameters: ${
          msg.summary.hparamsFile ?? "the method's defaults"
        } and the page's)`,
      );
      return;
    case "edited-many":
      for (const bar of bars.values()) bar.value = bar.max;
      showMany(msg.summary);
      busy(false);
      setStatus(
        "edited",
        `edited ${msg.summary.records.length} requests (${msg.summary.mode}) in ${
          msg.summary.seconds.toFixed(2)
        } s, ${msg.summary.paramsChanged} parameters (hyperparameters: ${
          msg.summary.hparamsFile ?? "the method's defaults"
        } and the page's)`,
      );
      return;
    case "patch": {
      if (patchUrl) URL.revokeObjectURL(patchUrl);
      patchUrl = URL.createObjectURL(new Blob([msg.bytes]));
      const a = $<HTMLAnchorElement>("download");
      a.href = patchUrl;
      a.hidden = false;
      return;
    }
    case "reverted":
      $<HTMLButtonElement>("revert").disabled = msg.edits === 0;
      $<HTMLAnchorElement>("download").hidden = true;
      $("result").hidden = true;
      $("many").hidden = true;
      busy(false);
      setStatus("reverted", `reverted (${msg.edits} edits remain)`);
      return;
    case "patched":
      $<HTMLButtonElement>("revert").disabled = false;
      busy(false);
      setStatus("patched", `applied ${msg.name} (${msg.entries} tensors)`);
      return;
    case "error":
      busy(false);
      setStatus("error", msg.message);
      return;
  }
}

interface RecordJson {
  prompt: string;
  target_new: string;
}

async function fetchRecords(file: string): Promise<RecordJson[]> {
  const res = await fetch(file);
  if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
  return await res.json();
}

/**
 * Offers the model's demo request (what `deno task edit` edits when given none), preselected and
 * prefilled into the prompt and target, and the first records of its test split; a record is
 * edited with its probes, so its Generalization, Portability and Locality are scored too.
 */
async function loadRecords(model: string | null): Promise<void> {
  const select = $<HTMLSelectElement>("record");
  while (select.options.length > 1) select.remove(1);
  const splits = model === null ? undefined : SHIPPED_SPLITS[model];
  if (!splits) return;
  const [demo, test] = await Promise.all([fetchRecords(splits.demo), fetchRecords(splits.test)]);
  const add = (file: string, label: string, r: RecordJson, i: number, selected = false) => {
    const option = new Option(`${label}: ${r.prompt} -> ${r.target_new}`, `${file}#${i}`);
    option.title = file;
    option.selected = option.defaultSelected = selected;
    select.add(option);
  };
  demo.forEach((r, i) => add(splits.demo, "demo", r, i, i === 0));
  test.slice(0, RECORDS_SHOWN).forEach((r, i) => add(splits.test, `test ${i}`, r, i));
  if (demo[0]) {
    $<HTMLInputElement>("prompt").value = demo[0].prompt;
    $<HTMLInputElement>("target").value = demo[0].target_new;
  }
}

function onEdit(): void {
  let hparams: Record<string, unknown>;
  try {
    hparams = JSON.parse($<HTMLInputElement>("hparams").value || "{}");
  } catch (e) {
    setStatus("error", `hyperparameters: not valid JSON: ${(e as Error).message}`);
    return;
  }
  const record = $<HTMLSelectElement>("record").value;
  bars.clear();
  $("progress").replaceChildren();
  busy(true);
  setStatus("editing", "editing...");
  const at = record.lastIndexOf("#");
  const mode = $<HTMLSelectElement>("mode").value as EditMode;
  $("result").hidden = true;
  $("many").hidden = true;
  post({
    type: "edit",
    request: record === ""
      ? { prompt: $<HTMLInputElement>("prompt").value, target: $<HTMLInputElement>("target").value }
      : {
        file: record.slice(0, at),
        index: Number(record.slice(at + 1)),
        count: Math.max(1, Number($<HTMLInputElement>("count").value) || 1),
      },
    mode,
    method: $<HTMLSelectElement>("method").value,
    hparams,
  });
}

$("complete").onclick = () => {
  busy(true);
  setStatus("completing", "completing...");
  post({ type: "complete", prompt: $<HTMLInputElement>("prompt").value });
};
$("edit").onclick = onEdit;
$("revert").onclick = () => {
  busy(true);
  setStatus("reverting", "reverting...");
  post({ type: "revert" });
};
$<HTMLInputElement>("patch-file").onchange = async (e) => {
  const input = e.target as HTMLInputElement;
  const file = input.files?.[0];
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  input.value = "";
  busy(true);
  setStatus("patching", `applying ${file.name}...`);
  engine?.postMessage({ type: "apply-patch", name: file.name, bytes } satisfies ToEngine, [
    bytes.buffer,
  ]);
};
// Typing a prompt or target edits that instead of the chosen record.
for (const id of ["prompt", "target"]) {
  $(id).oninput = () => ($<HTMLSelectElement>("record").value = "");
}
/** A model or backend chosen on the page: the note on the query's choice no longer applies. */
function chosen(): Promise<void> {
  $("query-note").hidden = true;
  return startEngine();
}
$("model").onchange = chosen;
$<HTMLInputElement>("model-folder").onchange = (e) => {
  const input = e.target as HTMLInputElement;
  if (!input.files || input.files.length === 0) return;
  picked = topLevelFiles(input.files);
  const first = input.files[0].webkitRelativePath.split("/")[0];
  const label = input.files[0].webkitRelativePath ? first : "your files";
  const select = $<HTMLSelectElement>("model");
  [...select.options].find((o) => o.value === PICKED)?.remove();
  select.add(new Option(label, PICKED, true, true));
  input.value = "";
  chosen();
};
$("backend").onchange = chosen;

const defaultModel = DEFAULT_MODEL.split("/").pop()!;
for (const name of Object.keys(SHIPPED_SPLITS)) {
  const label = name === defaultModel ? `${name} (default)` : name;
  $<HTMLSelectElement>("model").add(
    new Option(label, name, name === defaultModel, name === defaultModel),
  );
}
// ?backend=wasm|webgpu|auto and ?model=NAME preselect (links, tests). An unknown value used to
// select no option and load model "" without a word: the default is kept and a note says why.
const query = new URLSearchParams(location.search);
const notes: string[] = [];
for (const [key, what] of [["backend", "backend"], ["model", "shipped model"]] as const) {
  const select = $<HTMLSelectElement>(key);
  const options = [...select.options].map((o) => o.value);
  const choice = queryChoice(query, key, options, select.value, what);
  select.value = choice.value;
  if (choice.note) notes.push(choice.note);
}
$("query-note").textContent = notes.join("; ");
$("query-note").hidden = notes.length === 0;

if (!crossOriginIsolated) {
  setStatus("error", "the page is not cross-origin isolated (serve it with `deno task serve`)");
} else {
  startEngine();
}
