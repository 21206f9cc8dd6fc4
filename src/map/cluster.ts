// Clusters of the 2-D map and their labels.
//
// Clustering: k-means on the map's coordinates (what the reader sees), k-means++ seeding, Lloyd iterations until no
// point moves (at most 300), the best of 4 seeded starts by within-cluster sum of squares. k is
// round(sqrt(n / 2)) clamped to [2, 30] unless given (n = placed points): about 30 clusters of ~120 features on the
// 3,556 placed features of the Safe-SAIL release, 4 on a database of 30. Clusters are numbered by size, largest 0.
//
// Labels: a cluster's most distinctive terms (words and bigrams of text.ts) against the rest of the map. For a term
// t, with p_c the share of the cluster's explanations containing t and p_r = (df_rest + 1) / (n_rest + 2) the
// smoothed share of the other explanations, score = p_c * ln(p_c / p_r) (a term's contribution to the KL
// divergence of the cluster from the rest: frequent in the cluster and rare elsewhere wins). Terms in fewer than 2
// of the cluster's explanations are not candidates. A term whose words are all in terms already chosen is skipped
// ("sexual" after "sexual content"). The label is the top three, comma-separated.
import { ArgumentError } from "../errors.ts";
import { mulberry32 } from "../util/prng.ts";
import { checkInt } from "../util/validate.ts";

/** The default number of clusters for n points (file comment). */
export function defaultClusterCount(n: number): number {
  return Math.max(2, Math.min(30, Math.round(Math.sqrt(n / 2))));
}

export interface KMeansResult {
  k: number;
  /** Cluster of each point, numbered by size (0 largest; ties by the lowest point index). */
  assignment: Int32Array;
  /** k rows of `dim` numbers. */
  centroids: Float64Array;
  /** Within-cluster sum of squared distances. */
  inertia: number;
  iterations: number;
}

function sqDist(a: Float64Array, i: number, b: Float64Array, j: number, dim: number): number {
  let s = 0;
  for (let t = 0; t < dim; t++) {
    const d = a[i * dim + t]! - b[j * dim + t]!;
    s += d * d;
  }
  return s;
}

function kmeansOnce(points: Float64Array, n: number, dim: number, k: number, rng: () => number, maxIter: number): Omit<KMeansResult, "k"> {
  const centroids = new Float64Array(k * dim);
  // k-means++: the first centre uniformly, each next one with probability proportional to D².
  const first = Math.floor(rng() * n);
  centroids.set(points.subarray(first * dim, first * dim + dim), 0);
  const d2 = new Float64Array(n).map((_, i) => sqDist(points, i, centroids, 0, dim));
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (const v of d2) total += v;
    let pick = n - 1;
    if (total > 0) {
      let target = rng() * total;
      for (let i = 0; i < n; i++) {
        target -= d2[i]!;
        if (target < 0) {
          pick = i;
          break;
        }
      }
    } else pick = Math.floor(rng() * n);
    centroids.set(points.subarray(pick * dim, pick * dim + dim), c * dim);
    for (let i = 0; i < n; i++) d2[i] = Math.min(d2[i]!, sqDist(points, i, centroids, c, dim));
  }
  const assignment = new Int32Array(n).fill(-1);
  let iterations = 0;
  for (; iterations < maxIter; iterations++) {
    let moved = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d = sqDist(points, i, centroids, c, dim);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      if (assignment[i] !== best) {
        assignment[i] = best;
        moved = true;
      }
    }
    if (!moved) break;
    const sums = new Float64Array(k * dim);
    const counts = new Int32Array(k);
    for (let i = 0; i < n; i++) {
      const c = assignment[i]!;
      counts[c]!++;
      for (let t = 0; t < dim; t++) sums[c * dim + t]! += points[i * dim + t]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        // An empty cluster takes the point farthest from its centre.
        let far = 0;
        let farD = -1;
        for (let i = 0; i < n; i++) {
          const d = sqDist(points, i, centroids, assignment[i]!, dim);
          if (d > farD) {
            farD = d;
            far = i;
          }
        }
        centroids.set(points.subarray(far * dim, far * dim + dim), c * dim);
        assignment[far] = c;
        continue;
      }
      for (let t = 0; t < dim; t++) centroids[c * dim + t] = sums[c * dim + t]! / counts[c]!;
    }
  }
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += sqDist(points, i, centroids, assignment[i]!, dim);
  return { assignment, centroids, inertia, iterations };
}

/** Seeded k-means (file comment); `points` is n rows of `dim` numbers. */
export function kmeans(points: Float64Array, n: number, dim: number, k: number, opts: { seed?: number; starts?: number; maxIter?: number } = {}): KMeansResult {
  checkInt(k, "k", { min: 1, max: n, where: "kmeans" });
  if (points.length !== n * dim) throw new ArgumentError(`kmeans: points has ${points.length} numbers, expected n * dim = ${n * dim}`, { field: "points" });
  const rng = mulberry32(opts.seed ?? 0);
  let best: Omit<KMeansResult, "k"> | null = null;
  for (let s = 0; s < (opts.starts ?? 4); s++) {
    const r = kmeansOnce(points, n, dim, k, rng, opts.maxIter ?? 300);
    if (!best || r.inertia < best.inertia) best = r;
  }
  // Number clusters by size (largest first; ties by the lowest member index) so ids do not depend on seeding order.
  const size = new Int32Array(k);
  const firstMember = new Int32Array(k).fill(n);
  best!.assignment.forEach((c, i) => {
    size[c]!++;
    if (i < firstMember[c]!) firstMember[c] = i;
  });
  const order = Array.from({ length: k }, (_, c) => c).sort((a, b) => size[b]! - size[a]! || firstMember[a]! - firstMember[b]!);
  const rank = new Int32Array(k);
  order.forEach((c, r) => (rank[c] = r));
  const centroids = new Float64Array(k * dim);
  order.forEach((c, r) => centroids.set(best!.centroids.subarray(c * dim, c * dim + dim), r * dim));
  return { k, assignment: best!.assignment.map((c) => rank[c]!), centroids, inertia: best!.inertia, iterations: best!.iterations };
}

export interface ClusterWords {
  /** Most distinctive terms first. */
  words: string[];
  /** Their scores (p_c ln(p_c / p_r)). */
  scores: number[];
}

/**
 * The distinctive terms of each cluster (file comment). `docTerms[i]` are point i's distinct terms, `assignment[i]`
 * its cluster.
 */
export function clusterWords(docTerms: readonly (readonly string[])[], assignment: ArrayLike<number>, k: number, opts: { top?: number; minCount?: number } = {}): ClusterWords[] {
  const n = docTerms.length;
  if (assignment.length !== n) throw new ArgumentError(`clusterWords: ${assignment.length} assignments for ${n} documents`, { field: "assignment" });
  const top = opts.top ?? 6;
  const minCount = opts.minCount ?? 2;
  const df = new Map<string, number>();
  const dfc = Array.from({ length: k }, () => new Map<string, number>());
  const size = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    size[c]!++;
    for (const t of new Set(docTerms[i])) {
      df.set(t, (df.get(t) ?? 0) + 1);
      dfc[c]!.set(t, (dfc[c]!.get(t) ?? 0) + 1);
    }
  }
  return dfc.map((counts, c) => {
    const nc = size[c]!;
    const nr = n - nc;
    const scored: [string, number][] = [];
    for (const [t, cnt] of counts) {
      if (cnt < minCount) continue;
      const pc = cnt / nc;
      const pr = (df.get(t)! - cnt + 1) / (nr + 2);
      if (pc <= pr) continue;
      scored.push([t, pc * Math.log(pc / pr)]);
    }
    scored.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const words: string[] = [];
    const scores: number[] = [];
    const covered = new Set<string>();
    for (const [t, s] of scored) {
      if (words.length >= top) break;
      const parts = t.split(" ");
      if (parts.every((p) => covered.has(p))) continue;
      words.push(t);
      scores.push(s);
      for (const p of parts) covered.add(p);
    }
    return { words, scores };
  });
}

/** The label of a cluster from its words: the top three, comma-separated. */
export function clusterLabel(words: readonly string[]): string {
  return words.length ? words.slice(0, 3).join(", ") : "(no distinctive words)";
}
