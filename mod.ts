// kne as a library, for scripts and for the page (web/): pick a backend, load a model from a
// folder URL (http(s): or file:) or from its files' contents, plan an edit's memory, run one edit
// (or several, in a batch or a sequence) with any method and hyperparameters, read its metrics,
// ensemble, attribution picture and changes, encode them as patch.safetensors, apply or revert
// them, and generate text (the file run of `deno task edit` adds deno.ts). Runs unchanged in Deno
// and in a browser worker, but for loadModelFromDir, which reads a folder on disk: Deno only
// (elsewhere it throws, naming loadModelFromUrl and loadModelFromFileMap). A page first sets the
// web hosts (webHost with setEngineHost for the engine's assets, webCovarianceHost with
// setCovarianceHost for ROME's and MEMIT's corpus and cache).

export type {
  Backend,
  BackendName,
  Binding,
  BufferSlice,
  DeviceBuffer,
  DeviceLimits,
  DispatchTime,
  DType,
  KernelParams,
  Transfers,
} from "./engine/backend.ts";
export { type BackendChoice, createBackend } from "./engine/select.ts";
export { type EngineHost, engineHost, type KernelThread, setEngineHost } from "./engine/host.ts";
export { type WebAssets, webHost } from "./engine/host-web.ts";
export {
  type CovarianceHost,
  covarianceHost,
  setCovarianceHost,
} from "./src/methods/covariance-host.ts";
export { type CovarianceAssets, webCovarianceHost } from "./src/methods/covariance-host-web.ts";
export {
  freeModel,
  loadModelFromFiles,
  type ModelFiles,
  type SessionModel,
} from "./src/session/load.ts";
export { type ConfigCheck, loadModelFromFileMap, loadModelFromUrl } from "./src/session/folder.ts";
export {
  applyChanges,
  complete,
  edit,
  type EditOptions,
  type EditOutcome,
  revertChanges,
  simpleRequest,
} from "./src/session/edit.ts";
export { METHOD_LABELS, methodByName, METHODS } from "./src/methods/registry.ts";
export { editTarget } from "./src/edit/targets.ts";
export { type EditPlan, type EditWork, editWork, loadProblems, planEdit } from "./src/plan/edit.ts";
export {
  type EditRequest,
  type HparamSpec,
  type HparamsSchema,
  type HparamType,
  type HparamValue,
  parseHparams,
  parseRequests,
  type Probe,
  REQUEST_FORMATS,
  type RequestFormat,
  type RequestOptions,
  validateRequests,
} from "./src/io/requests.ts";
export { hparamsCandidates } from "./src/io/hparams-files.ts";
export { DEFAULT_MODEL, type ModelSplits, SHIPPED_SPLITS } from "./src/pipeline/models.ts";
export {
  decodePatch,
  encodePatch,
  type PatchEntry,
  type SourceDtypes,
  type TensorChange,
} from "./src/io/patch.ts";
export { applyPatch } from "./src/session/patch.ts";
export {
  editMany,
  type ManyMode,
  type ManyOutcome,
  type ManyRecord,
} from "./src/session/edit-many.ts";
export type { RecordMetrics } from "./src/eval/record.ts";
export { METRIC_LABELS, type MetricName, METRICS, type Summary } from "./src/eval/aggregate.ts";
export type {
  EditContext,
  EditMethod,
  EditTarget,
  Hparams,
  MethodProgress,
  MethodResult,
  WorkShape,
} from "./src/edit/method.ts";
// Types of what a loaded model and a plan hold, for naming them (their members are the engine's
// own; tests/docs_test.ts checks with `deno doc --lint` that no public signature names a type
// mod.ts does not export).
export type { TeacherForced } from "./src/edit/request.ts";
export type { CausalLM, ForwardHook, HookSite, LayerStart, ParamInfo } from "./src/model/lm.ts";
export type { KVCache, LayerCache } from "./src/model/kvcache.ts";
export type { Shape, Tensor } from "./src/tensor/tensor.ts";
export type { BackwardFn, GradUnits, Var } from "./src/autograd/variable.ts";
export type {
  Architecture,
  GemmaSettings,
  ModelConfig,
  RopeScaling,
  Rotary,
} from "./src/model/config.ts";
export type { WeightDtype } from "./src/model/dtype.ts";
export type { LoadedWeights } from "./src/model/weights.ts";
export type { DecodeOptions, EncodeOptions, Tokenizer } from "./src/io/tokenizer.ts";
export type {
  Dtype as SafetensorsDtype,
  FloatDtype as SafetensorsFloatDtype,
  SafetensorsFile,
  TensorInfo,
} from "./src/io/safetensors/format.ts";
export type { MemoryPlan, PlanOptions } from "./src/plan/plan.ts";
export type { BufferSize, TensorSize } from "./src/plan/activations.ts";
export type { BackendLimits } from "./src/plan/fit.ts";
// The errors the calls above throw, for `instanceof` (each message names the file, record, field or
// tensor at fault).
export { BackendError } from "./engine/backend.ts";
export { EditInputError } from "./src/edit/targets.ts";
export { HparamsError, RequestError } from "./src/io/requests.ts";
export {
  ConfigError,
  ModelFileError,
  SafetensorsError,
  TokenizerError,
  TorchCheckpointError,
} from "./src/io/errors.ts";

// Deno only (a folder on disk); a page's bundle leaves it out, as the page never calls it.
export { loadModelFromDir } from "./src/session/load-dir.ts";
