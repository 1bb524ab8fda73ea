// Small dense linear algebra on the host in float64 for the closed-form editors (ROME, MEMIT):
// Cholesky factorisation of symmetric positive definite matrices and triangular solves. Matrices
// are row-major Float64Arrays; n is at most a few thousand (the FFN width), so O(n^3 / 3) in
// plain JS is fine.

export class LinalgError extends Error {
  override name = "LinalgError";
}

/**
 * Lower-triangular L with A = L Lᵀ for a symmetric positive definite n x n matrix A (only its
 * lower triangle is read). Throws LinalgError when A is not positive definite.
 */
export function cholesky(a: Float64Array, n: number): Float64Array {
  if (a.length !== n * n) throw new LinalgError(`cholesky: ${a.length} values for ${n} x ${n}`);
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j];
    for (let k = 0; k < j; k++) d -= l[rj + k] * l[rj + k];
    if (!(d > 0) || !Number.isFinite(d)) {
      throw new LinalgError(
        `cholesky: the matrix is not positive definite (pivot ${j} is ${d}); increase the damping`,
      );
    }
    const ljj = Math.sqrt(d);
    l[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= l[ri + k] * l[rj + k];
      l[ri + j] = s / ljj;
    }
  }
  return l;
}

/** Solves (L Lᵀ) x = b for x given the Cholesky factor L (n x n) of A. */
export function choleskySolve(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  if (b.length !== n) throw new LinalgError(`choleskySolve: right side has ${b.length} != ${n}`);
  const y = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    let s = y[i];
    for (let k = 0; k < i; k++) s -= l[ri + k] * y[k];
    y[i] = s / l[ri + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * y[k];
    y[i] = s / l[i * n + i];
  }
  return y;
}

/** Solves A x = b for a symmetric positive definite A (n x n). */
export function spdSolve(a: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  return choleskySolve(cholesky(a, n), n, b);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** Largest two singular values of an r x c row-major matrix (power iteration with deflation). */
export function topSingularValues(
  m: ArrayLike<number>,
  r: number,
  c: number,
  iters = 200,
): number[] {
  // Gram matrix G = Mᵀ M (c x c); its eigenvalues are the squared singular values.
  const g = new Float64Array(c * c);
  for (let i = 0; i < r; i++) {
    for (let a = 0; a < c; a++) {
      const x = m[i * c + a];
      if (x === 0) continue;
      for (let b = 0; b < c; b++) g[a * c + b] += x * m[i * c + b];
    }
  }
  const out: number[] = [];
  const vecs: Float64Array[] = [];
  for (let k = 0; k < Math.min(2, c); k++) {
    let v = new Float64Array(c).map((_, i) => Math.sin(1.7 * i + 0.3 + k) + 0.01 * i);
    let lambda = 0;
    for (let it = 0; it < iters; it++) {
      for (const u of vecs) {
        const p = dot(v, u);
        for (let i = 0; i < c; i++) v[i] -= p * u[i];
      }
      const w = new Float64Array(c);
      for (let a = 0; a < c; a++) {
        let s = 0;
        for (let b = 0; b < c; b++) s += g[a * c + b] * v[b];
        w[a] = s;
      }
      for (const u of vecs) {
        const p = dot(w, u);
        for (let i = 0; i < c; i++) w[i] -= p * u[i];
      }
      const nw = norm(w);
      lambda = dot(v, w) / Math.max(dot(v, v), 1e-300);
      if (nw === 0) break;
      v = w.map((x) => x / nw);
    }
    vecs.push(v);
    out.push(Math.sqrt(Math.max(lambda, 0)));
  }
  return out;
}
