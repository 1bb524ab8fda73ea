// Helpers of the request-parser tests: the typed error a call throws, the rule of the fuzz tests
// (parse, or throw RequestError and nothing else), and random edits of JSON values to fuzz with.

import { RequestError } from "../../src/io/requests.ts";

/** The error of class `cls` that f throws; any other outcome fails the test. */
export function thrownBy<E extends Error>(cls: new (...a: never[]) => E, f: () => unknown): E {
  try {
    f();
  } catch (e) {
    if (e instanceof cls) return e;
    throw new Error(`expected ${cls.name}, got ${e}`);
  }
  throw new Error(`expected ${cls.name}, nothing was thrown`);
}

/** The RequestError that f throws; any other outcome fails the test. */
export const errorOf = (f: () => unknown): RequestError => thrownBy(RequestError, f);

/** Runs f; it may return or throw a RequestError, nothing else. */
export function parsesOrRequestError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof RequestError)) throw new Error(`not a RequestError: ${e}`);
  }
}

/** A random edit at a random path of a JSON value: replace, delete, or retype a node. */
export function mutate(v: unknown, path: number[], replacement: unknown, op: number): unknown {
  if (path.length === 0 || v === null || typeof v !== "object") {
    return op % 3 === 0 ? undefined : replacement;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return replacement;
    const i = path[0] % v.length;
    const out = v.slice();
    const child = mutate(v[i], path.slice(1), replacement, op);
    if (child === undefined) out.splice(i, 1);
    else out[i] = child;
    return out;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 0) return replacement;
  const k = keys[path[0] % keys.length];
  const child = mutate(o[k], path.slice(1), replacement, op);
  const out = { ...o };
  if (child === undefined) delete out[k];
  else out[k] = child;
  return out;
}
