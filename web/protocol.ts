// Messages between the page (web/main.ts) and the engine worker (web/engine-worker.ts).

// Plain data only, no engine types: the page's bundle must not pull in the engine.

/** A method's progress (src/edit/method.ts MethodProgress). */
export interface Progress {
  phase: string;
  step: number;
  of: number;
}

/** The metrics the page shows (src/eval/record.ts RecordMetrics), each in [0, 1]. */
export interface Metrics {
  editSucc: number;
  generalization?: number;
  portability?: number;
  locality?: number;
}

/** One request, or several edited together (batch) or one after another (sequential). */
export type EditMode = "single" | "batch" | "sequential";

export type ToEngine =
  | {
    type: "init";
    backend: "auto" | "webgpu" | "wasm";
    /** A shipped model's name, or with `files` the name of the folder the user picked. */
    model: string;
    /** A picked model folder's files by name, read as needed (none: the shipped model). */
    files?: Record<string, File>;
  }
  | { type: "complete"; prompt: string }
  | {
    type: "edit";
    /**
     * A prompt and target, or records of a request file (then their probes are scored too):
     * `count` records from `index` (batch and sequential), else the one at `index`.
     */
    request: { prompt: string; target: string } | { file: string; index: number; count: number };
    mode: EditMode;
    method: string;
    hparams: Record<string, unknown>;
  }
  | { type: "patch" }
  /** Apply a patch file (e.g. one downloaded earlier); revert undoes it like an edit. */
  | { type: "apply-patch"; name: string; bytes: Uint8Array<ArrayBuffer> }
  | { type: "revert" };

export interface EditSummary {
  prompt: string;
  target: string;
  method: string;
  before: { editSucc: number; completion: string };
  after: { completion: string };
  metrics: Metrics;
  seconds: number;
  paramsChanged: number;
  rolledBack: boolean;
  /** The attribution heatmap (KNE), when the method draws one. */
  attributionSvg?: string;
  /** The model's hyperparameter file the edit started from (null: the method's defaults). */
  hparamsFile: string | null;
  /** Anchor prompts of the locality term (from the model's anchor split). */
  anchors: number;
}

/** One record of a batch or a sequence. */
export interface RecordSummary {
  prompt: string;
  target: string;
  before: { editSucc: number; completion: string };
  after: { completion: string };
  metrics: Metrics;
  /** Sequential: its Edit Succ. after the last edit. */
  endEditSucc?: number;
}

export interface ManySummary {
  mode: EditMode;
  method: string;
  records: RecordSummary[];
  seconds: number;
  paramsChanged: number;
  hparamsFile: string | null;
}

export type FromEngine =
  | {
    type: "ready";
    backend: string;
    note: string;
    model: string;
    params: number;
    /** Every method of the registry: its --method name and its table label. */
    methods: { name: string; label: string }[];
  }
  | { type: "completion"; text: string }
  /** The edit's memory plan (what `deno task edit --plan` prints), before it runs. */
  | { type: "plan"; text: string }
  | { type: "progress"; progress: Progress }
  | { type: "edited"; summary: EditSummary }
  | { type: "edited-many"; summary: ManySummary }
  | { type: "patch"; bytes: Uint8Array<ArrayBuffer> }
  | { type: "reverted"; edits: number }
  | { type: "patched"; name: string; entries: number; edits: number }
  | { type: "error"; message: string };
