// Field readers over a parsed config.json: each read checks the field's type and range and throws
// a ConfigError naming the file and the field.

import { ConfigError } from "../../io/errors.ts";

export type Json = Record<string, unknown>;

/** Field readers that throw ConfigError naming `source` and the field. */
export class Fields {
  /** `prefix` names a nested object's fields in errors ("rope_scaling."). */
  constructor(readonly source: string, readonly json: Json, readonly prefix = "") {}

  fail(field: string | null, detail: string): never {
    throw new ConfigError(this.source, field === null ? null : this.prefix + field, detail);
  }

  /** The object at `field` as Fields, or null when absent or null. */
  object(field: string): Fields | null {
    const v = this.json[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== "object" || Array.isArray(v)) this.fail(field, "must be an object");
    return new Fields(this.source, v as Json, `${this.prefix}${field}.`);
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  /** A positive integer; `def` when absent or null (required when `def` is undefined). */
  int(field: string, def?: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(field, "required field is missing");
      return def;
    }
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      this.fail(field, `must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** A positive finite number. */
  num(field: string, def?: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(field, "required field is missing");
      return def;
    }
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      this.fail(field, `must be a positive number, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  bool(field: string, def: boolean): boolean {
    const v = this.json[field];
    if (v === undefined || v === null) return def;
    if (typeof v !== "boolean") this.fail(field, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  str(field: string, def: string): string {
    const v = this.json[field];
    if (v === undefined || v === null) return def;
    if (typeof v !== "string") this.fail(field, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A token id, a list of them (the first is taken), or null. */
  tokenId(field: string): number | null {
    let v = this.json[field];
    if (Array.isArray(v)) v = v.length === 0 ? null : v[0];
    if (v === undefined || v === null) return null;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      this.fail(field, `must be a non-negative integer token id, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** The field must be absent, null, or equal to `ok`. */
  expect(field: string, ok: unknown, why: string): void {
    const v = this.json[field];
    if (v !== undefined && v !== null && v !== ok) {
      this.fail(field, `${JSON.stringify(v)} is unsupported (${why})`);
    }
  }
}
