// Read request files in any of the formats users bring, and a generic hyperparameter-file checker.
//
// Request file: a JSON array of records in one of these shapes (one reader each, ./formats/):
//   knowedit      KnowEdit-style records, the default shape (./formats/knowedit.ts)
//   counterfact   ROME's counterfact.json (./formats/counterfact.ts)
//   zsre          MEND/EasyEdit's zsre_mend_eval.json (./formats/zsre.ts)
//   mquake        MQuAKE-CF-3k.json and its kin (./formats/mquake.ts)
// chosen explicitly or, with "auto" (the default), by the first record's keys
// (./formats/detect.ts). Every reader yields the same EditRequest through the same checked field
// reads (./formats/record.ts): no text field may hold a control character other than tab and
// newline, and an answer's FIRST alias is used.
// Errors are RequestError: "<file>: record <i>: field <path>: <what was expected>, got <what>",
// with record indexes 0-based (the JSON array index, as jq's .[i]) and the field path in the
// shape of the file read. White space at the end of a prompt or subject is removed (it made the
// answer's own leading space a second one: ./formats/trailing-space.ts), which onNote may report.

import { fsReason, jsonReason, readRegularText } from "./files.ts";
import {
  detectFormat,
  FORMAT_NAMES,
  isRequestFormat,
  RECORD_READERS,
  type RequestFormat,
} from "./formats/detect.ts";
import { describeValue, type EditRequest, RequestError } from "./formats/record.ts";
import { trailingSpaceNote, trimTrailingSpace } from "./formats/trailing-space.ts";
import { isPlainObject } from "./json.ts";

export { validateRequest } from "./formats/knowedit.ts";
export {
  detectFormat,
  FORMAT_NAMES,
  isRequestFormat,
  REQUEST_FORMATS,
  type RequestFormat,
} from "./formats/detect.ts";
export { describeValue, type EditRequest, type Probe, RequestError } from "./formats/record.ts";

/** How validateRequests, parseRequests and loadRequests read a request file. */
export interface RequestOptions {
  /** The records' shape; "auto" (the default) tells it by the first record's keys. */
  format?: RequestFormat | string;
  /**
   * Takes a note when white space was removed from the end of a prompt or subject (the command
   * line prints it), naming the first such record and text.
   */
  onNote?: (note: string) => void;
}

/**
 * Validate an already-parsed request file (a JSON array of records), with the white space at the
 * end of every prompt and subject removed (RequestOptions.onNote says so).
 */
export function validateRequests(
  value: unknown,
  file: string,
  options: RequestOptions = {},
): EditRequest[] {
  const format = options.format ?? "auto";
  if (!isRequestFormat(format)) {
    throw new RequestError(
      file,
      undefined,
      undefined,
      `unknown request format ${JSON.stringify(format)} (expected ${FORMAT_NAMES})`,
    );
  }
  if (!Array.isArray(value)) {
    throw new RequestError(
      file,
      undefined,
      undefined,
      `expected a JSON array of records, got ${describeValue(value)}`,
    );
  }
  const read = RECORD_READERS[format === "auto" ? detectFormat(value, file) : format];
  const trimmed = value.map((r, i) => ({ index: i, ...trimTrailingSpace(read(r, file, i)) }));
  const note = trailingSpaceNote(file, trimmed);
  if (note !== null) options.onNote?.(note);
  return trimmed.map((t) => t.request);
}

/** Parse the text of a request file; file names the source in errors. */
export function parseRequests(
  text: string,
  file: string,
  options: RequestOptions = {},
): EditRequest[] {
  let value: unknown;
  try {
    // A byte order mark (as some Windows editors save UTF-8) is not part of the JSON.
    value = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (e) {
    throw new RequestError(file, undefined, undefined, `invalid JSON: ${jsonReason(e)}`);
  }
  return validateRequests(value, file, options);
}

/** Read and parse a request file. */
export async function loadRequests(
  path: string,
  options: RequestOptions = {},
): Promise<EditRequest[]> {
  let text: string;
  try {
    text = await readRegularText(path);
  } catch (e) {
    throw new RequestError(path, undefined, undefined, `cannot read: ${fsReason(e)}`);
  }
  return parseRequests(text, path, options);
}

// ---------------------------------------------------------------------------------------------
// Hyperparameter files: a flat JSON object of scalars checked against a per-key schema.

/** A hyperparameter's kind (HparamSpec.type). */
export type HparamType = "number" | "integer" | "boolean" | "string";

/** What one hyperparameter may be: its kind, range or choices (an EditMethod's schema). */
export interface HparamSpec {
  /** The JSON type the value must have ("integer": a number with no fraction). */
  type: HparamType;
  /** Inclusive bounds (exclusive with minExclusive / maxExclusive), numbers only. */
  min?: number;
  /** Upper bound, inclusive unless maxExclusive (numbers only). */
  max?: number;
  /** `min` itself is refused. */
  minExclusive?: boolean;
  /** `max` itself is refused. */
  maxExclusive?: boolean;
  /** Allowed values (strings or numbers). */
  choices?: readonly (string | number)[];
  /** One line for error messages and --help. */
  description?: string;
}

/** A hyperparameter's value. */
export type HparamValue = number | boolean | string;
/** Every hyperparameter of a method with what it may be (parseHparams checks against it). */
export type HparamsSchema<T> = { readonly [K in keyof T]: HparamSpec };

/** An hparams file that names an unknown key or holds a wrong-typed / out-of-range value. */
export class HparamsError extends Error {
  /** "HparamsError", which String(error) and the stack print before the message. */
  override name = "HparamsError";
  /**
   * The message is "`source`: key `key`: `detail`" (without the key part when `key` is
   * undefined); `source` names the file, or "hparams" for an object.
   */
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
      throw new HparamsError(source, undefined, `invalid JSON: ${jsonReason(e)}`);
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
