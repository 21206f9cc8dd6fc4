// Truncated SVD by the randomized range finder (Halko, Martinsson & Tropp 2011, algorithms 4.4 and 5.1): the range
// of A is sketched with a seeded Gaussian matrix of k + oversample columns, sharpened by power iterations (each
// followed by re-orthonormalisation, so small singular values are not lost to rounding), and the small projected
// matrix B = QᵀA is decomposed exactly (Jacobi on B Bᵀ). Same seed, same result. Signs are fixed so that the largest
// entry (by magnitude) of each left singular vector is positive, as scikit-learn's svd_flip does.
import { ArgumentError } from "../errors.ts";
import { mulberry32 } from "../util/prng.ts";
import { checkInt, checkNonNegativeInt } from "../util/validate.ts";
import type { CsrMatrix } from "./text.ts";

/** A dense matrix, column-major: entry (i, j) is data[j * rows + i]. */
export interface DenseMatrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** What the SVD needs of A: its shape, A·B and Aᵀ·B for dense B. */
export interface LinearOperator {
  rows: number;
  cols: number;
  /** A·B (B has `cols` rows). */
  mul(b: DenseMatrix): DenseMatrix;
  /** Aᵀ·B (B has `rows` rows). */
  tmul(b: DenseMatrix): DenseMatrix;
}

export const zeros = (rows: number, cols: number): DenseMatrix => ({ rows, cols, data: new Float64Array(rows * cols) });

/** Column-major <-> row-major copies: the sparse products below run over contiguous rows of the dense factor. */
function toRowMajor(m: DenseMatrix): Float64Array {
  const out = new Float64Array(m.rows * m.cols);
  for (let j = 0; j < m.cols; j++) for (let i = 0; i < m.rows; i++) out[i * m.cols + j] = m.data[j * m.rows + i]!;
  return out;
}

function fromRowMajor(data: Float64Array, rows: number, cols: number): DenseMatrix {
  const m = zeros(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.data[j * rows + i] = data[i * cols + j]!;
  return m;
}

export function csrOperator(a: CsrMatrix): LinearOperator {
  const { rows, cols, indptr, indices, values } = a;
  return {
    rows,
    cols,
    mul(b) {
      if (b.rows !== cols) throw new ArgumentError(`csrOperator.mul: B has ${b.rows} rows, A has ${cols} columns`);
      const l = b.cols;
      const br = toRowMajor(b);
      const y = new Float64Array(rows * l);
      for (let r = 0; r < rows; r++) {
        const yo = r * l;
        for (let p = indptr[r]!; p < indptr[r + 1]!; p++) {
          const bo = indices[p]! * l;
          const v = values[p]!;
          for (let t = 0; t < l; t++) y[yo + t]! += v * br[bo + t]!;
        }
      }
      return fromRowMajor(y, rows, l);
    },
    tmul(b) {
      if (b.rows !== rows) throw new ArgumentError(`csrOperator.tmul: B has ${b.rows} rows, A has ${rows} rows`);
      const l = b.cols;
      const br = toRowMajor(b);
      const z = new Float64Array(cols * l);
      for (let r = 0; r < rows; r++) {
        const bo = r * l;
        for (let p = indptr[r]!; p < indptr[r + 1]!; p++) {
          const zo = indices[p]! * l;
          const v = values[p]!;
          for (let t = 0; t < l; t++) z[zo + t]! += v * br[bo + t]!;
        }
      }
      return fromRowMajor(z, cols, l);
    },
  };
}

export function denseOperator(a: DenseMatrix): LinearOperator {
  const { rows, cols } = a;
  return {
    rows,
    cols,
    mul(b) {
      if (b.rows !== cols) throw new ArgumentError(`denseOperator.mul: B has ${b.rows} rows, A has ${cols} columns`);
      const y = zeros(rows, b.cols);
      for (let t = 0; t < b.cols; t++) {
        for (let j = 0; j < cols; j++) {
          const bj = b.data[t * cols + j]!;
          if (bj === 0) continue;
          for (let i = 0; i < rows; i++) y.data[t * rows + i]! += a.data[j * rows + i]! * bj;
        }
      }
      return y;
    },
    tmul(b) {
      if (b.rows !== rows) throw new ArgumentError(`denseOperator.tmul: B has ${b.rows} rows, A has ${rows} rows`);
      const z = zeros(cols, b.cols);
      for (let t = 0; t < b.cols; t++) {
        for (let j = 0; j < cols; j++) {
          let s = 0;
          for (let i = 0; i < rows; i++) s += a.data[j * rows + i]! * b.data[t * rows + i]!;
          z.data[t * cols + j] = s;
        }
      }
      return z;
    },
  };
}

/**
 * Orthonormalises the columns in place (modified Gram-Schmidt, twice: one pass loses orthogonality when columns
 * are nearly dependent). A column with nothing left after projection (A's rank is smaller than the sketch)
 * becomes zero.
 */
export function orthonormalizeColumns(m: DenseMatrix): DenseMatrix {
  const { rows, cols, data } = m;
  for (let j = 0; j < cols; j++) {
    const cj = j * rows;
    let before = 0;
    for (let i = 0; i < rows; i++) before += data[cj + i]! ** 2;
    before = Math.sqrt(before);
    for (let pass = 0; pass < 2; pass++) {
      for (let q = 0; q < j; q++) {
        const cq = q * rows;
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += data[cq + i]! * data[cj + i]!;
        if (dot !== 0) for (let i = 0; i < rows; i++) data[cj + i]! -= dot * data[cq + i]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += data[cj + i]! ** 2;
    norm = Math.sqrt(norm);
    const scale = norm > 1e-10 * before && norm > 0 ? 1 / norm : 0;
    for (let i = 0; i < rows; i++) data[cj + i]! *= scale;
  }
  return m;
}

/** Eigen-decomposition of a symmetric matrix (cyclic Jacobi): eigenvalues descending, eigenvectors as columns. */
export function symmetricEigen(a: DenseMatrix): { values: Float64Array; vectors: DenseMatrix } {
  const n = a.rows;
  if (a.cols !== n) throw new ArgumentError(`symmetricEigen: matrix is ${a.rows}x${a.cols}, not square`);
  const m = Float64Array.from(a.data);
  const v = zeros(n, n);
  for (let i = 0; i < n; i++) v.data[i * n + i] = 1;
  const at = (i: number, j: number) => j * n + i;
  let scale = 0;
  for (const x of m) scale += x * x;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let j = 0; j < n; j++) for (let i = 0; i < j; i++) off += m[at(i, j)]! ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[at(p, q)]!;
        if (apq === 0) continue;
        const app = m[at(p, p)]!;
        const aqq = m[at(q, q)]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = m[at(k, p)]!;
          const akq = m[at(k, q)]!;
          m[at(k, p)] = c * akp - s * akq;
          m[at(k, q)] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[at(p, k)]!;
          const aqk = m[at(q, k)]!;
          m[at(p, k)] = c * apk - s * aqk;
          m[at(q, k)] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v.data[at(k, p)]!;
          const vkq = v.data[at(k, q)]!;
          v.data[at(k, p)] = c * vkp - s * vkq;
          v.data[at(k, q)] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => m[at(y, y)]! - m[at(x, x)]! || x - y);
  const values = Float64Array.from(order, (i) => m[at(i, i)]!);
  const vectors = zeros(n, n);
  order.forEach((src, dst) => vectors.data.set(v.data.subarray(src * n, src * n + n), dst * n));
  return { values, vectors };
}

/** A standard normal matrix from a seeded generator (Box-Muller). */
export function gaussianMatrix(rows: number, cols: number, seed: number): DenseMatrix {
  const rng = mulberry32(seed);
  const m = zeros(rows, cols);
  for (let i = 0; i < m.data.length; i += 2) {
    const u1 = 1 - rng();
    const u2 = rng();
    const r = Math.sqrt(-2 * Math.log(u1));
    m.data[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < m.data.length) m.data[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return m;
}

export interface SvdOptions {
  /** Extra sketch columns beyond k (default 10). */
  oversample?: number;
  /** Power iterations (default 4). */
  powerIterations?: number;
  seed?: number;
}

export interface TruncatedSvd {
  /** rows x k, orthonormal columns (left singular vectors). */
  u: DenseMatrix;
  /** Singular values, descending (0 beyond A's rank). */
  s: Float64Array;
  /** cols x k, orthonormal columns (right singular vectors; zero where s is 0). */
  v: DenseMatrix;
}

/** The k largest singular triplets of A (k <= min(rows, cols)). */
export function randomizedSvd(a: LinearOperator, k: number, opts: SvdOptions = {}): TruncatedSvd {
  checkInt(k, "k", { min: 1, max: Math.min(a.rows, a.cols), where: "randomizedSvd" });
  const oversample = checkNonNegativeInt(opts.oversample ?? 10, "oversample", { where: "randomizedSvd" });
  const iters = checkNonNegativeInt(opts.powerIterations ?? 4, "powerIterations", { where: "randomizedSvd" });
  const seed = checkInt(opts.seed ?? 0, "seed", { where: "randomizedSvd" });
  const l = Math.min(k + oversample, a.rows, a.cols);
  let q = orthonormalizeColumns(a.mul(gaussianMatrix(a.cols, l, seed)));
  for (let it = 0; it < iters; it++) {
    const z = orthonormalizeColumns(a.tmul(q));
    q = orthonormalizeColumns(a.mul(z));
  }
  // Bᵀ = Aᵀ Q (cols x l); B Bᵀ = (Aᵀ Q)ᵀ (Aᵀ Q) is l x l.
  const bt = a.tmul(q);
  const g = zeros(l, l);
  for (let i = 0; i < l; i++) {
    for (let j = i; j < l; j++) {
      let s = 0;
      for (let r = 0; r < a.cols; r++) s += bt.data[i * a.cols + r]! * bt.data[j * a.cols + r]!;
      g.data[j * l + i] = s;
      g.data[i * l + j] = s;
    }
  }
  const { values, vectors: w } = symmetricEigen(g);
  const u = zeros(a.rows, k);
  const v = zeros(a.cols, k);
  const s = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    const sigma = Math.sqrt(Math.max(values[c]!, 0));
    // U = Q w, V = Bᵀ w / sigma.
    for (let t = 0; t < l; t++) {
      const wt = w.data[c * l + t]!;
      if (wt === 0) continue;
      for (let i = 0; i < a.rows; i++) u.data[c * a.rows + i]! += q.data[t * a.rows + i]! * wt;
      for (let r = 0; r < a.cols; r++) v.data[c * a.cols + r]! += bt.data[t * a.cols + r]! * wt;
    }
    // Below the rounding floor of the largest value the direction is noise: report 0 and no vector.
    const negligible = sigma <= 1e-12 * Math.sqrt(Math.max(values[0]!, 0));
    s[c] = negligible ? 0 : sigma;
    for (let r = 0; r < a.cols; r++) v.data[c * a.cols + r] = negligible ? 0 : v.data[c * a.cols + r]! / sigma;
    let big = 0;
    for (let i = 0; i < a.rows; i++) if (Math.abs(u.data[c * a.rows + i]!) > Math.abs(u.data[c * a.rows + big]!)) big = i;
    if (u.data[c * a.rows + big]! < 0) {
      for (let i = 0; i < a.rows; i++) u.data[c * a.rows + i] = -u.data[c * a.rows + i]!;
      for (let r = 0; r < a.cols; r++) v.data[c * a.cols + r] = -v.data[c * a.cols + r]!;
    }
  }
  return { u, s, v };
}
