// Exact k nearest neighbours by brute force: every pair once (n² / 2 distances; ~6 M pairs at 3,500 points, about
// a second). Exact on purpose: the map-quality measure counts neighbours, and UMAP gets the true graph instead of an
// approximate one that depends on its random trees. Ties go to the lower index, so the result is fully determined.
import { ArgumentError } from "../errors.ts";
import { checkInt, checkPositiveInt } from "../util/validate.ts";

export type KnnMetric = "cosine" | "euclidean";

export interface Knn {
  n: number;
  k: number;
  /** Row i's neighbours (never i itself), nearest first: indices[i * k .. i * k + k). */
  indices: Int32Array;
  distances: Float64Array;
}

/**
 * The k nearest other rows of each row of `points` (n rows of `dim` numbers, row-major). "cosine" expects rows of
 * unit length and uses 1 - dot (clamped at 0); "euclidean" the straight-line distance.
 */
export function exactKnn(points: Float64Array, n: number, dim: number, k: number, metric: KnnMetric, onRow?: (done: number) => void): Knn {
  checkPositiveInt(n, "n", { where: "exactKnn" });
  checkPositiveInt(dim, "dim", { where: "exactKnn" });
  checkInt(k, "k", { min: 1, max: n - 1, where: "exactKnn" });
  if (points.length !== n * dim) throw new ArgumentError(`exactKnn: points has ${points.length} numbers, expected n * dim = ${n * dim}`, { field: "points" });
  if (metric !== "cosine" && metric !== "euclidean") throw new ArgumentError(`exactKnn: metric must be "cosine" or "euclidean", got ${JSON.stringify(metric)}`, { field: "metric" });
  const indices = new Int32Array(n * k).fill(-1);
  const distances = new Float64Array(n * k).fill(Infinity);
  // Candidates reach a row in ascending index order (lower rows from the outer loop first), and only a strictly
  // nearer one displaces a kept one, so equal distances keep the lower index.
  const offer = (row: number, j: number, d: number) => {
    const base = row * k;
    if (!(d < distances[base + k - 1]!)) return;
    let pos = k - 1;
    while (pos > 0 && d < distances[base + pos - 1]!) {
      distances[base + pos] = distances[base + pos - 1]!;
      indices[base + pos] = indices[base + pos - 1]!;
      pos--;
    }
    distances[base + pos] = d;
    indices[base + pos] = j;
  };
  for (let i = 0; i < n; i++) {
    const bi = i * dim;
    for (let j = i + 1; j < n; j++) {
      const bj = j * dim;
      let d: number;
      if (metric === "cosine") {
        let dot = 0;
        for (let t = 0; t < dim; t++) dot += points[bi + t]! * points[bj + t]!;
        d = Math.max(0, 1 - dot);
      } else {
        let s = 0;
        for (let t = 0; t < dim; t++) {
          const diff = points[bi + t]! - points[bj + t]!;
          s += diff * diff;
        }
        d = Math.sqrt(s);
      }
      offer(i, j, d);
      offer(j, i, d);
    }
    onRow?.(i + 1);
  }
  return { n, k, indices, distances };
}
