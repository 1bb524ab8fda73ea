// The Tensor type: a contiguous row-major array of a given shape in one backend's buffer, f32 or
// (stored weights only) f16.
// Reshapes are views sharing reference-counted storage. Tensors created inside `tidy()` are freed
// when it returns, except those it returns or that are `keep()`-ed (as in tf.tidy).

import { type Backend, BackendError, type DeviceBuffer, type DType } from "../../engine/backend.ts";
import { fillRegion, whole } from "./chunk.ts";

/** A tensor's dimensions, outermost first. */
export type Shape = readonly number[];

class Storage {
  refs = 1;
  constructor(readonly buffer: DeviceBuffer) {}
}

let scopes: Set<Tensor>[] = [];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

function checkShape(shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new BackendError(`invalid shape ${shapeStr(shape)}: dims must be integers >= 0`);
    }
  }
}

/** An f32 (or f16) array of a shape in a backend's memory. */
export class Tensor {
  /** Number of elements: the product of the shape (1 for a scalar's []). */
  readonly size: number;
  #storage: Storage | null;

  private constructor(readonly backend: Backend, readonly shape: Shape, storage: Storage) {
    this.size = shapeSize(shape);
    this.#storage = storage;
    scopes.at(-1)?.add(this);
  }

  /** A new tensor of `shape` whose contents are undefined until written (default f32). */
  static empty(backend: Backend, shape: Shape, dtype: DType = "f32"): Tensor {
    checkShape(shape);
    return new Tensor(backend, [...shape], new Storage(backend.alloc(shapeSize(shape), dtype)));
  }

  /** A new f32 tensor of `shape` filled with 0. */
  static zeros(backend: Backend, shape: Shape): Tensor {
    return Tensor.full(backend, shape, 0);
  }

  /** A new f32 tensor of `shape` with every element `value`. */
  static full(backend: Backend, shape: Shape, value: number): Tensor {
    const t = Tensor.empty(backend, shape);
    if (t.size > 0) fillRegion(backend, whole(t.buffer, t.size), value);
    return t;
  }

  /** A tensor holding `data`; an f16 tensor stores each value rounded to nearest even. */
  static fromArray(
    backend: Backend,
    data: ArrayLike<number>,
    shape: Shape,
    dtype: DType = "f32",
  ): Tensor {
    checkShape(shape);
    if (shapeSize(shape) !== data.length) {
      throw new BackendError(
        `fromArray: ${data.length} values do not fill shape ${shapeStr(shape)}`,
      );
    }
    const t = Tensor.empty(backend, shape, dtype);
    backend.upload(t.buffer, data instanceof Float32Array ? data : Float32Array.from(data));
    return t;
  }

  /** The device buffer holding the values (shared by views); throws once this view is freed. */
  get buffer(): DeviceBuffer {
    if (!this.#storage) throw new BackendError(`tensor ${shapeStr(this.shape)} was freed`);
    return this.#storage.buffer;
  }

  /** How the elements are stored (f16 only for weights); throws once freed. */
  get dtype(): DType {
    return this.buffer.dtype;
  }

  /** Whether free() has released this view. */
  get freed(): boolean {
    return this.#storage === null;
  }

  /** Number of dimensions (0 for a scalar). */
  get rank(): number {
    return this.shape.length;
  }

  /** A view of the same storage with another shape of the same size. */
  reshape(shape: Shape): Tensor {
    checkShape(shape);
    if (shapeSize(shape) !== this.size) {
      throw new BackendError(`reshape: ${shapeStr(this.shape)} cannot become ${shapeStr(shape)}`);
    }
    const s = this.#storage;
    if (!s) throw new BackendError(`reshape of a freed tensor ${shapeStr(this.shape)}`);
    s.refs++;
    return new Tensor(this.backend, [...shape], s);
  }

  /** reshape() that consumes this view (the result keeps the storage alive instead). */
  viewAs(shape: Shape): Tensor {
    const v = this.reshape(shape);
    this.free();
    return v;
  }

  /** A new tensor with the same contents. */
  clone(): Tensor {
    const t = Tensor.empty(this.backend, this.shape, this.dtype);
    if (this.size > 0) this.backend.copy(this.buffer, 0, t.buffer, 0, this.size);
    return t;
  }

  /** The values as f32 (an f16 tensor's widen exactly). */
  async toArray(): Promise<Float32Array> {
    return await this.backend.read(this.buffer, 0, this.size);
  }

  /** Releases this view; the storage is freed with its last view. Idempotent. */
  free(): void {
    const s = this.#storage;
    if (!s) return;
    this.#storage = null;
    for (const scope of scopes) scope.delete(this);
    if (--s.refs === 0) this.backend.free(s.buffer);
  }
}

/** Exempts tensors from the enclosing tidy scopes. */
export function keep<T extends Tensor>(t: T): T {
  for (const scope of scopes) scope.delete(t);
  return t;
}

/** Nested tensors in a tidy result (arrays, plain objects, Maps' values). */
function collect(x: unknown, out: Set<Tensor>): void {
  if (x instanceof Tensor) out.add(x);
  else if (Array.isArray(x)) x.forEach((v) => collect(v, out));
  else if (x instanceof Map) x.forEach((v) => collect(v, out));
  else if (x && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
    Object.values(x).forEach((v) => collect(v, out));
  }
}

function closeScope(scope: Set<Tensor>, result: unknown): void {
  const survivors = new Set<Tensor>();
  collect(result, survivors);
  scopes = scopes.filter((s) => s !== scope);
  for (const t of scope) if (!survivors.has(t)) t.free();
  // Returned tensors belong to the enclosing scope, if any.
  const parent = scopes.at(-1);
  if (parent) { for (const t of survivors) if (!t.freed) parent.add(t); }
}

/** Runs fn; frees every tensor it created that is not part of its (awaited) result. */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    closeScope(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    throw new BackendError("tidy: use tidyAsync for async functions");
  }
  closeScope(scope, result);
  return result;
}

/**
 * Async tidy. Scopes are a stack, so async tidies must not interleave (run them one at a time,
 * as the single-threaded editing pipeline does).
 */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    closeScope(scope, undefined);
    throw e;
  }
  closeScope(scope, result);
  return result;
}
