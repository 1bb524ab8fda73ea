// The normalised edit request every request-file reader produces, its typed error, and the checked
// field reads the readers share (./knowedit.ts, ./counterfact.ts, ./zsre.ts, ./mquake.ts): a text
// field is a non-empty string without control characters other than tab and newline; an answer is
// a string, an array of aliases or an array of alias lists, of which the FIRST alias is used.
// Errors are RequestError: "<file>: record <i>: field <path>: <what was expected>, got <what>",
// with record indexes 0-based (the JSON array index, as jq's .[i]) and the field path in the
// shape of the file read (e.g. requested_rewrite.target_new.str for a CounterFact record).

import { isPlainObject } from "../json.ts";

/** One probe: a prompt and the answer whose tokens are scored. */
export interface Probe {
  /** The text the model continues. */
  prompt: string;
  /** First alias of the probe's ground_truth. */
  answer: string;
}

/** One normalised edit request. */
export interface EditRequest {
  /** 0-based index of the record in its file. */
  index: number;
  /** The entity the fact is about, as the prompt writes it (ROME and MEMIT edit its last token). */
  subject: string;
  /** The text whose continuation the edit changes. */
  prompt: string;
  /** The answer the edit teaches to follow the prompt (the file's target_new). */
  targetNew: string;
  /** First alias of ground_truth, when given. */
  groundTruth?: string;
  /** Paraphrases of prompt (empty when none). */
  rephrasePrompts: string[];
  /** Probe kind (e.g. "Reasoning") -> probes; a kind may have an empty list. */
  portability: Record<string, Probe[]>;
  /** Probe kind -> probes whose answers the edit should leave alone (may be empty). */
  locality: Record<string, Probe[]>;
}

/** A request file that does not have the expected shape. */
export class RequestError extends Error {
  /** "RequestError", which String(error) and the stack print before the message. */
  override name = "RequestError";
  /**
   * The message is "`file`: record `record`: field `field`: `detail`", leaving out the parts that
   * are undefined (record is 0-based).
   */
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
  if (typeof v === "string") {
    return v.length === 0 ? "empty string" : v.trim().length === 0 ? "blank string" : "string";
  }
  if (v === undefined) return "nothing (the field is missing)";
  if (typeof v === "number") return Number.isFinite(v) ? "number" : String(v);
  return typeof v;
}

/** The key is the object's own and neither undefined nor null (optional null = absent). */
export function has(o: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key) && o[key] !== undefined && o[key] !== null;
}

// deno-lint-ignore no-control-regex -- these control characters are the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Checked reads of one record's fields; every failure names the file, record and field. */
export class RecordReader {
  constructor(readonly file: string, readonly record: number) {}
  fail(field: string, detail: string): never {
    throw new RequestError(this.file, this.record, field, detail);
  }
  /** The record itself, which must be an object. */
  root(v: unknown): Record<string, unknown> {
    if (!isPlainObject(v)) {
      throw new RequestError(
        this.file,
        this.record,
        undefined,
        `expected an object, got ${describeValue(v)}`,
      );
    }
    return v;
  }
  /** A nested object; `what` describes its expected shape ("an object {str, id}"). */
  object(v: unknown, field: string, what: string): Record<string, unknown> {
    if (!isPlainObject(v)) this.fail(field, `expected ${what}, got ${describeValue(v)}`);
    return v;
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
