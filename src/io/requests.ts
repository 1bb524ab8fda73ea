// Parse and validate KnowEdit-style request files, and a generic hyperparameter-file checker.
//
// Request file: a JSON array of records (format in /work/shared/KNE.md). Per record:
//   subject, prompt, target_new   required, non-empty strings (not only whitespace); no text field
//                                 may hold a control character other than tab and newline
//   ground_truth                  optional answer (the old fact; not used by the metrics)
//   rephrase_prompt               optional string or array of strings (Generalization);
//                                 `rephrase` (KnowEdit ZsRE's name) is accepted as a synonym
//   portability, locality         optional objects: probe-kind name -> array of probes
//                                 {prompt, ground_truth}; a single probe object is accepted as a
//                                 one-probe array; `target` is accepted as a synonym of a probe's
//                                 ground_truth (the form some converted files use)
// An answer (ground_truth) is a string, an array of aliases (string[]), or an array of alias
// lists (string[][], KnowEdit counterfact); the FIRST alias is used. Every alias must be a
// string; the first must be non-empty. Optional fields that are null count as absent. Unknown
// fields are ignored (KnowEdit records carry extras such as case_id). Giving both a field and its
// synonym is an error (it would be ambiguous which one is meant).
// Errors are RequestError: "<file>: record <i>: field <path>: <what was expected>, got <what>",
// with record indexes 0-based (the JSON array index, as jq's .[i]).

import { fsReason, readRegularText } from "./files.ts";

/** One probe: a prompt and the answer whose tokens are scored. */
export interface Probe {
  prompt: string;
  /** First alias of the probe's ground_truth. */
  answer: string;
}

/** One normalised edit request. */
export interface EditRequest {
  /** 0-based index of the record in its file. */
  index: number;
  subject: string;
  prompt: string;
  targetNew: string;
  /** First alias of ground_truth, when given. */
  groundTruth?: string;
  /** Paraphrases of prompt (empty when none). */
  rephrasePrompts: string[];
  /** Probe kind (e.g. "Reasoning") -> probes; a kind may have an empty list. */
  portability: Record<string, Probe[]>;
  locality: Record<string, Probe[]>;
}

/** A request file that does not have the expected shape. */
export class RequestError extends Error {
  override name = "RequestError";
  constructor(
    readonly file: string,
    readonly record: number | undefined,
    readonly field: string | undefined,
    readonly detail: string,
  ) {
    super(
      [
        file,
        record === undefined ? null : `record ${record}`,
        field ? `field ${field}` : null,
        detail,
      ]
        .filter((x) => x !== null).join(": "),
    );
  }
}

/** A short description of a JSON value's type for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return v.length === 0 ? "empty array" : "array";
  if (typeof v === "string") return v.trim().length === 0 ? "empty string" : "string";
  if (typeof v === "number") return Number.isFinite(v) ? "number" : String(v);
  return typeof v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function has(o: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key) && o[key] !== undefined && o[key] !== null;
}

// deno-lint-ignore no-control-regex -- these control characters are the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

class Ctx {
  constructor(readonly file: string, readonly record: number) {}
  fail(field: string, detail: string): never {
    throw new RequestError(this.file, this.record, field, detail);
  }
  string(v: unknown, field: string): string {
    if (typeof v !== "string" || v.trim().length === 0) {
      this.fail(field, `expected a non-empty string, got ${describeValue(v)}`);
    }
    // Control characters (other than tab and newline) are no text a model was trained on, and
    // echoed to a terminal they act (ESC sequences, BEL).
    if (CONTROL.test(v)) {
      this.fail(field, `expected text without control characters, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  answer(v: unknown, field: string): string {
    if (typeof v === "string") return this.string(v, field);
    if (!Array.isArray(v) || v.length === 0) {
      this.fail(
        field,
        `expected a non-empty string, an array of aliases or an array of alias lists, got ${
          describeValue(v)
        }`,
      );
    }
    v.forEach((alias, i) => {
      if (typeof alias === "string") return;
      if (!Array.isArray(alias)) {
        this.fail(
          `${field}[${i}]`,
          `expected a string or an array of strings, got ${describeValue(alias)}`,
        );
      }
      alias.forEach((a, j) => {
        if (typeof a !== "string") {
          this.fail(`${field}[${i}][${j}]`, `expected a string, got ${describeValue(a)}`);
        }
      });
    });
    const first = v[0];
    if (typeof first === "string") return this.string(first, `${field}[0]`);
    if (first.length === 0) {
      this.fail(`${field}[0]`, "expected a non-empty array of aliases, got empty array");
    }
    return this.string(first[0], `${field}[0][0]`);
  }
  strings(v: unknown, field: string): string[] {
    if (typeof v === "string") return [this.string(v, field)];
    if (!Array.isArray(v)) {
      this.fail(field, `expected a string or an array of strings, got ${describeValue(v)}`);
    }
    return v.map((s, i) => this.string(s, `${field}[${i}]`));
  }
  probe(v: unknown, field: string): Probe {
    if (!isPlainObject(v)) {
      this.fail(field, `expected an object {prompt, ground_truth}, got ${describeValue(v)}`);
    }
    const prompt = this.string(v.prompt, `${field}.prompt`);
    if (has(v, "ground_truth") && has(v, "target")) {
      this.fail(`${field}.target`, "both ground_truth and its synonym target are given");
    }
    const key = has(v, "target") ? "target" : "ground_truth";
    return { prompt, answer: this.answer(v[key], `${field}.${key}`) };
  }
  probes(v: unknown, field: string): Record<string, Probe[]> {
    if (!isPlainObject(v)) {
      this.fail(
        field,
        `expected an object mapping probe kinds to arrays of probes, got ${describeValue(v)}`,
      );
    }
    const out: Record<string, Probe[]> = {};
    for (const kind of Object.keys(v)) {
      const list = v[kind];
      const f = `${field}.${kind}`;
      if (list === null || list === undefined) continue;
      let probes: Probe[];
      if (Array.isArray(list)) probes = list.map((p, i) => this.probe(p, `${f}[${i}]`));
      else if (isPlainObject(list)) probes = [this.probe(list, f)];
      else {this.fail(
          f,
          `expected an array of {prompt, ground_truth} probes, got ${describeValue(list)}`,
        );}
      // defineProperty: a kind named "__proto__" stays an ordinary key.
      Object.defineProperty(out, kind, {
        value: probes,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
}

/** Validate one already-parsed record. */
export function validateRequest(value: unknown, file: string, index: number): EditRequest {
  const c = new Ctx(file, index);
  if (!isPlainObject(value)) {
    throw new RequestError(
      file,
      index,
      undefined,
      `expected an object, got ${describeValue(value)}`,
    );
  }
  const r = value;
  // The prompt is checked first: the command line's subject defaults to it.
  const prompt = c.string(r.prompt, "prompt");
  const req: EditRequest = {
    index,
    subject: c.string(r.subject, "subject"),
    prompt,
    targetNew: c.string(r.target_new, "target_new"),
    rephrasePrompts: [],
    portability: {},
    locality: {},
  };
  if (has(r, "ground_truth")) req.groundTruth = c.answer(r.ground_truth, "ground_truth");
  if (has(r, "rephrase_prompt") && has(r, "rephrase")) {
    c.fail("rephrase", "both rephrase_prompt and its synonym rephrase are given");
  }
  const rk = has(r, "rephrase") ? "rephrase" : "rephrase_prompt";
  if (has(r, rk)) req.rephrasePrompts = c.strings(r[rk], rk);
  if (has(r, "portability")) req.portability = c.probes(r.portability, "portability");
  if (has(r, "locality")) req.locality = c.probes(r.locality, "locality");
  return req;
}

/** Validate an already-parsed request file (a JSON array of records). */
export function validateRequests(value: unknown, file: string): EditRequest[] {
  if (!Array.isArray(value)) {
    throw new RequestError(
      file,
      undefined,
      undefined,
      `expected a JSON array of records, got ${describeValue(value)}`,
    );
  }
  return value.map((r, i) => validateRequest(r, file, i));
}

/** Parse the text of a request file; file names the source in errors. */
export function parseRequests(text: string, file: string): EditRequest[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RequestError(file, undefined, undefined, `invalid JSON: ${(e as Error).message}`);
  }
  return validateRequests(value, file);
}

/** Read and parse a request file. */
export async function loadRequests(path: string): Promise<EditRequest[]> {
  let text: string;
  try {
    text = await readRegularText(path);
  } catch (e) {
    throw new RequestError(path, undefined, undefined, `cannot read: ${fsReason(e)}`);
  }
  return parseRequests(text, path);
}

// ---------------------------------------------------------------------------------------------
// Hyperparameter files: a flat JSON object of scalars checked against a per-key schema.

export type HparamType = "number" | "integer" | "boolean" | "string";

export interface HparamSpec {
  type: HparamType;
  /** Inclusive bounds (exclusive with minExclusive / maxExclusive), numbers only. */
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  /** Allowed values (strings or numbers). */
  choices?: readonly (string | number)[];
  /** One line for error messages and --help. */
  description?: string;
}

export type HparamValue = number | boolean | string;
export type HparamsSchema<T> = { readonly [K in keyof T]: HparamSpec };

/** An hparams file that names an unknown key or holds a wrong-typed / out-of-range value. */
export class HparamsError extends Error {
  override name = "HparamsError";
  constructor(readonly source: string, readonly key: string | undefined, readonly detail: string) {
    super(key === undefined ? `${source}: ${detail}` : `${source}: key ${key}: ${detail}`);
  }
}

/** "a number in [0, 1)", "an integer >= 1", "one of \"a\", \"b\"", "a boolean"... */
export function describeSpec(s: HparamSpec): string {
  if (s.choices) return `one of ${s.choices.map((c) => JSON.stringify(c)).join(", ")}`;
  const what = s.type === "integer" ? "an integer" : `a ${s.type}`;
  if (s.type !== "number" && s.type !== "integer") return what;
  const lo = s.min, hi = s.max;
  if (lo !== undefined && hi !== undefined) {
    return `${what} in ${s.minExclusive ? "(" : "["}${lo}, ${hi}${s.maxExclusive ? ")" : "]"}`;
  }
  if (lo !== undefined) return `${what} ${s.minExclusive ? ">" : ">="} ${lo}`;
  if (hi !== undefined) return `${what} ${s.maxExclusive ? "<" : "<="} ${hi}`;
  return what;
}

function checkValue(v: unknown, s: HparamSpec): boolean {
  switch (s.type) {
    case "boolean":
      if (typeof v !== "boolean") return false;
      break;
    case "string":
      if (typeof v !== "string") return false;
      break;
    case "integer":
    case "number":
      if (typeof v !== "number" || !Number.isFinite(v)) return false;
      if (s.type === "integer" && !Number.isInteger(v)) return false;
      if (s.min !== undefined && (s.minExclusive ? v <= s.min : v < s.min)) return false;
      if (s.max !== undefined && (s.maxExclusive ? v >= s.max : v > s.max)) return false;
      break;
    default:
      return false;
  }
  return !s.choices || s.choices.includes(v as string | number);
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  return describeValue(v);
}

/**
 * Merge a hyperparameter object (or its JSON text) over defaults, checking every key against
 * schema: unknown keys, wrong types and out-of-range values throw HparamsError naming the key and
 * what is allowed. The defaults are checked too (a bad default is a programming error).
 */
export function parseHparams<T extends { [K in keyof T]: HparamValue }>(
  json: unknown,
  defaults: T,
  schema: HparamsSchema<T>,
  source = "hparams",
): T {
  const keys = Object.keys(schema) as (keyof T & string)[];
  for (const k of keys) {
    if (!checkValue(defaults[k], schema[k])) {
      throw new HparamsError(
        "defaults",
        k,
        `expected ${describeSpec(schema[k])}, got ${show(defaults[k])}`,
      );
    }
  }
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new HparamsError(source, undefined, `invalid JSON: ${(e as Error).message}`);
    }
  }
  if (value === undefined || value === null) return { ...defaults };
  if (!isPlainObject(value)) {
    throw new HparamsError(
      source,
      undefined,
      `expected an object of hyperparameters, got ${describeValue(value)}`,
    );
  }
  const out = { ...defaults };
  for (const [k, v] of Object.entries(value)) {
    if (!Object.prototype.hasOwnProperty.call(schema, k)) {
      throw new HparamsError(source, k, `unknown key (allowed: ${keys.join(", ")})`);
    }
    const spec = schema[k as keyof T];
    if (!checkValue(v, spec)) {
      throw new HparamsError(source, k, `expected ${describeSpec(spec)}, got ${show(v)}`);
    }
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}
