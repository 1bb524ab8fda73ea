// Reverse-mode autograd (micrograd-sized): a Var holds a Tensor value and, after backward(), its
// gradient. Ops record their parents and a backward closure while grad mode is on; backward()
// walks the graph in reverse creation order, frees intermediate gradients as soon as they have
// been propagated, and hands a leaf's gradient to its sink, when it has one, instead of keeping it
// (only the gradient of some of its units, when it names them).

import { BackendError } from "../../engine/backend.ts";
import { axpy, gatherUnits, unitMatrix } from "../tensor/ops.ts";
import { keep, shapeStr, Tensor } from "../tensor/tensor.ts";

/** Output units of a leaf seen as a matrix (unitMatrix): rows (axis 0) or columns (axis 1). */
export interface GradUnits {
  /** Unit indices as f32 values. */
  ids: Tensor;
  /** 0: the ids are rows of the matrix; 1: they are its columns. */
  axis: 0 | 1;
}

/**
 * Gradients for each parent, in order; null where a parent needs none or where the op handed it
 * to the parent itself (sinkUnits).
 */
export type BackwardFn = (grad: Tensor, needs: readonly boolean[]) => (Tensor | null)[];

let nextId = 0;
let gradEnabled = true;

/** A tensor in the autograd graph: a parameter or the result of an op, with its gradient. */
export class Var {
  /** Creation order, unique across all Vars; backward() runs ops in reverse order of it. */
  readonly id = nextId++;
  /**
   * The gradient after backward(), in the value's shape: a leaf's accumulates over passes until
   * zeroGrad() (one with a gradSink gets none); an intermediate's is freed once propagated unless
   * retainGrad. Null before any.
   */
  grad: Tensor | null = null;
  /**
   * Leaf only: takes each gradient reaching this parameter (in its shape) instead of `grad`,
   * e.g. to keep just the entries an update trains; g is freed when the sink returns.
   */
  gradSink: ((g: Tensor) => void) | null = null;
  /**
   * Leaf with a gradSink only: just these units' gradient is wanted, and the sink receives it
   * compact, in gatherUnits' layout ([k, cols] for rows, [rows, k] for columns). Ops that can
   * compute only those units (A.linear) do so and call sinkUnits; a dense gradient from any
   * other op is gathered down to them.
   */
  gradUnits: GradUnits | null = null;
  /** Non-leaf: keep this intermediate's gradient after backward (for activation attribution). */
  retainGrad = false;

  /**
   * A Var over `value` (not copied). Ops make theirs through record(), and leaves come from
   * param() and constant(); `name` only labels it.
   */
  constructor(
    readonly value: Tensor,
    /** Leaves may be frozen or unfrozen between passes; recorded ops fix theirs at creation. */
    public requiresGrad: boolean,
    readonly parents: readonly Var[] = [],
    readonly backwardFn: BackwardFn | null = null,
    readonly name = "",
  ) {}

  /** The value's shape. */
  get shape(): readonly number[] {
    return this.value.shape;
  }

  /** A parameter or constant rather than an op's result: it has no backward closure. */
  get isLeaf(): boolean {
    return this.backwardFn === null;
  }

  /** Drops the gradient (leaves keep theirs across tidy scopes until this is called). */
  zeroGrad(): void {
    this.grad?.free();
    this.grad = null;
  }
}

/** A trainable leaf. */
export function param(value: Tensor, name = ""): Var {
  return new Var(value, true, [], null, name);
}

/** A leaf that never receives a gradient. */
export function constant(value: Tensor): Var {
  return new Var(value, false);
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording (inference). */
export function noGrad<T>(fn: () => T): T {
  return gradMode(false, fn);
}

/** Runs fn recording, even inside noGrad (the planner measures a recorded forward). */
export function withGrad<T>(fn: () => T): T {
  return gradMode(true, fn);
}

function gradMode<T>(on: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = on;
  try {
    const r = fn();
    if (r instanceof Promise) {
      return r.finally(() => gradEnabled = prev) as T;
    }
    gradEnabled = prev;
    return r;
  } catch (e) {
    gradEnabled = prev;
    throw e;
  }
}

/** Creates an op's output Var, recording the backward closure when any parent needs a grad. */
export function record(value: Tensor, parents: readonly Var[], backwardFn: BackwardFn): Var {
  const requires = gradEnabled && parents.some((p) => p.requiresGrad);
  return requires ? new Var(value, true, parents, backwardFn) : new Var(value, false);
}

function accumulate(v: Var, g: Tensor): void {
  if (g.size !== v.value.size) {
    throw new BackendError(
      `autograd: gradient ${shapeStr(g.shape)} does not match value ${shapeStr(v.value.shape)}`,
    );
  }
  if (v.isLeaf && v.gradSink && v.gradUnits) {
    const shaped = reshapeOwned(g, v.value.shape);
    const dense = unitMatrix(shaped);
    shaped.free();
    try {
      sinkUnits(v, gatherUnits(dense, v.gradUnits.ids, v.gradUnits.axis));
    } finally {
      dense.free();
    }
    return;
  }
  if (v.isLeaf && v.gradSink) {
    const shaped = g.shape.length === v.value.shape.length ? g : reshapeOwned(g, v.value.shape);
    try {
      v.gradSink(shaped);
    } finally {
      shaped.free();
    }
    return;
  }
  if (v.grad === null) {
    v.grad = g.shape.length === v.value.shape.length ? g : reshapeOwned(g, v.value.shape);
    if (v.isLeaf) keep(v.grad);
  } else {
    const r = g.reshape(v.grad.shape);
    axpy(v.grad, r, 1);
    r.free();
    g.free();
  }
}

/**
 * Hands a leaf with gradUnits the compact gradient of those units (what an op computed instead of
 * the dense one); `compact` is freed afterwards.
 */
export function sinkUnits(v: Var, compact: Tensor): void {
  if (!v.gradSink || !v.gradUnits) {
    compact.free();
    throw new BackendError("autograd: a compact gradient for a parameter with no unit sink");
  }
  try {
    v.gradSink(compact);
  } finally {
    compact.free();
  }
}

function reshapeOwned(g: Tensor, shape: readonly number[]): Tensor {
  const r = g.reshape(shape);
  g.free();
  return r;
}

/**
 * Back-propagates from `root`, seeding with `seed` (default: ones of root's shape). Leaf
 * gradients accumulate into `leaf.grad` (kept alive until zeroGrad); intermediate gradients are
 * freed as soon as they are consumed.
 */
export function backward(root: Var, seed?: Tensor): void {
  if (!root.requiresGrad) throw new BackendError("backward: the root does not require a gradient");
  const order: Var[] = [];
  const seen = new Set<number>();
  const stack: Var[] = [root];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v.id) || !v.requiresGrad) continue;
    seen.add(v.id);
    order.push(v);
    for (const p of v.parents) stack.push(p);
  }
  order.sort((a, b) => b.id - a.id);
  const s = seed ?? Tensor.full(root.value.backend, root.value.shape, 1);
  if (s.size !== root.value.size) {
    throw new BackendError(`backward: seed ${shapeStr(s.shape)} does not match the root`);
  }
  accumulate(root, seed ? s.clone() : s);
  for (const v of order) {
    if (v.isLeaf || v.grad === null) continue;
    const g = v.grad;
    const needs = v.parents.map((p) => p.requiresGrad);
    const grads = v.backwardFn!(g, needs);
    if (v.retainGrad) keep(g);
    else {
      v.grad = null;
      g.free();
    }
    grads.forEach((pg, i) => {
      if (pg && needs[i]) accumulate(v.parents[i], pg);
      else pg?.free();
    });
  }
}
