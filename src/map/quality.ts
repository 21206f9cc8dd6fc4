// Map quality: do features that sit together share a safety domain?
//
// For each placed feature with at least one tag (the "scored" features), the share of its k (10) nearest other
// placed features that share at least one tag with it; the figure is the mean over scored features. Exactly:
// - untagged features are candidates as neighbours (and count as not sharing) but are not scored themselves;
// - a multi-tag feature agrees with a neighbour that has any one of its tags;
// - unplaced features (no explanation, masked) are not on the map: neither scored nor neighbours;
// - neighbours are the k nearest by Euclidean distance on the map (cosine in the embedding), ties to the lower
//   index (src/map/knn.ts).
// Baseline: the same figure after a seeded random permutation of the coordinates among the placed points, repeated
// `shuffles` (100) times: mean and percentile interval (95%). Moving coordinates among points is the same as moving
// tags among positions with the neighbour graph fixed, so the graph is computed once. `chance` is that baseline's
// exact expectation, the mean over scored features of (other placed features sharing a tag) / (placed - 1).
// Per domain d: over features tagged d, the share of neighbours tagged d, and its chance (count_d - 1) / (placed - 1).
import { ArgumentError } from "../errors.ts";
import { quantileSorted } from "../metrics/normalise.ts";
import { mulberry32, shuffleInPlace } from "../util/prng.ts";
import { checkInt, checkNumber, checkPositiveInt } from "../util/validate.ts";
import type { FeatureMap } from "./format.ts";
import { exactKnn, type Knn, type KnnMetric } from "./knn.ts";

export interface AgreementOptions {
  /** Neighbours per feature (default 10). */
  k?: number;
  /** Shuffled baselines (default 100). */
  shuffles?: number;
  /** Seeds the permutations (default 0). */
  seed?: number;
  /** Interval level of the shuffled baseline (default 0.95). */
  level?: number;
}

export interface DomainAgreement {
  domain: string;
  /** Placed features with this tag. */
  features: number;
  /** Mean share of their neighbours with this tag (null with fewer than 1 feature). */
  agreement: number | null;
  chance: number | null;
}

export interface NeighbourAgreement {
  space: "map" | "embedding";
  metric: KnnMetric;
  k: number;
  /** Placed features (all of them are candidate neighbours). */
  points: number;
  /** Tagged placed features: the mean runs over these. */
  scored: number;
  /** Null when undefined (no tagged feature, fewer than 2 points); `warnings` says why. */
  agreement: number | null;
  shuffled: { mean: number; low: number; high: number; level: number; shuffles: number; seed: number } | null;
  chance: number | null;
  byDomain: DomainAgreement[];
  warnings: string[];
}

function tagCodes(tags: readonly (readonly string[])[]): { codes: number[][]; names: string[] } {
  const names: string[] = [];
  const index = new Map<string, number>();
  const codes = tags.map((ts) => {
    const out = new Set<number>();
    for (const t of ts) {
      if (!index.has(t)) {
        index.set(t, names.length);
        names.push(t);
      }
      out.add(index.get(t)!);
    }
    return [...out];
  });
  return { codes, names };
}

const shares = (a: readonly number[], b: readonly number[]) => a.some((x) => b.includes(x));

function meanAgreement(knn: Knn, codes: readonly (readonly number[])[], k: number): number {
  let sum = 0;
  let scored = 0;
  for (let i = 0; i < knn.n; i++) {
    const mine = codes[i]!;
    if (mine.length === 0) continue;
    let hit = 0;
    for (let j = 0; j < k; j++) if (shares(mine, codes[knn.indices[i * knn.k + j]!]!)) hit++;
    sum += hit / k;
    scored++;
  }
  return sum / scored;
}

/** Agreement over a computed neighbour graph (its first `k` neighbours per point); `tags[i]` are point i's tags. */
export function agreementFromKnn(knn: Knn, tags: readonly (readonly string[])[], opts: AgreementOptions & { space: "map" | "embedding"; metric: KnnMetric }): NeighbourAgreement {
  const n = knn.n;
  if (tags.length !== n) throw new ArgumentError(`agreementFromKnn: ${tags.length} tag lists for ${n} points`, { field: "tags" });
  const k = checkInt(opts.k ?? 10, "k", { min: 1, max: knn.k, where: "agreementFromKnn" });
  const shuffles = checkPositiveInt(opts.shuffles ?? 100, "shuffles", { where: "agreementFromKnn" });
  const seed = checkInt(opts.seed ?? 0, "seed", { where: "agreementFromKnn" });
  const level = checkNumber(opts.level ?? 0.95, "level", { gt: 0, max: 1, where: "agreementFromKnn" });
  const { codes, names } = tagCodes(tags);
  const scored = codes.filter((c) => c.length > 0).length;
  const base = { space: opts.space, metric: opts.metric, k, points: n, scored };
  if (scored === 0) {
    return { ...base, agreement: null, shuffled: null, chance: null, byDomain: [], warnings: ["no placed feature has a domain tag: neighbour agreement is undefined"] };
  }
  const agreement = meanAgreement(knn, codes, k);
  const rng = mulberry32(seed);
  const perm = Array.from({ length: n }, (_, i) => i);
  const values: number[] = [];
  for (let s = 0; s < shuffles; s++) {
    shuffleInPlace(rng, perm);
    values.push(meanAgreement(knn, perm.map((p) => codes[p]!), k));
  }
  values.sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  // Exact expectation of the shuffled figure: per scored feature, the share of the other points sharing a tag.
  const bySet = new Map<string, { codes: number[]; count: number }>();
  for (const c of codes) {
    const key = [...c].sort((a, b) => a - b).join(",");
    const e = bySet.get(key);
    if (e) e.count++;
    else bySet.set(key, { codes: c, count: 1 });
  }
  let chanceSum = 0;
  for (const { codes: c, count } of bySet.values()) {
    if (c.length === 0) continue;
    let sharing = -1; // not itself
    for (const other of bySet.values()) if (shares(c, other.codes)) sharing += other.count;
    chanceSum += count * (n > 1 ? sharing / (n - 1) : 0);
  }
  const byDomain: DomainAgreement[] = names.map((name, d) => {
    let features = 0;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      if (!codes[i]!.includes(d)) continue;
      features++;
      let hit = 0;
      for (let j = 0; j < k; j++) if (codes[knn.indices[i * knn.k + j]!]!.includes(d)) hit++;
      sum += hit / k;
    }
    return { domain: name, features, agreement: features ? sum / features : null, chance: n > 1 ? (features - 1) / (n - 1) : null };
  });
  byDomain.sort((a, b) => b.features - a.features || (a.domain < b.domain ? -1 : 1));
  return {
    ...base,
    agreement,
    shuffled: { mean, low: quantileSorted(values, (1 - level) / 2), high: quantileSorted(values, 1 - (1 - level) / 2), level, shuffles, seed },
    chance: chanceSum / scored,
    byDomain,
    warnings: [],
  };
}

/**
 * Neighbour agreement of points given as vectors (n rows of `dim` numbers, row-major): "euclidean" for map
 * coordinates, "cosine" for unit-length embeddings. With fewer than k + 1 points, k shrinks to n - 1 (warned).
 */
export function vectorAgreement(vectors: Float64Array, dim: number, tags: readonly (readonly string[])[], opts: AgreementOptions & { space: "map" | "embedding"; metric: KnnMetric }): NeighbourAgreement {
  const n = tags.length;
  const want = checkPositiveInt(opts.k ?? 10, "k", { where: "neighbourAgreement" });
  if (n < 2) {
    const { codes } = tagCodes(tags);
    return { space: opts.space, metric: opts.metric, k: want, points: n, scored: codes.filter((c) => c.length).length, agreement: null, shuffled: null, chance: null, byDomain: [], warnings: [`${n} placed feature${n === 1 ? "" : "s"}: neighbour agreement needs at least 2`] };
  }
  const k = Math.min(want, n - 1);
  const knn = exactKnn(vectors, n, dim, k, opts.metric);
  const out = agreementFromKnn(knn, tags, { ...opts, k });
  if (k < want) out.warnings.push(`only ${n} placed features: ${k} neighbours per feature instead of ${want}`);
  return out;
}

/** Neighbour agreement of a map's 2-D coordinates (what MAP.json's quality.map holds, recomputed from the file). */
export function neighbourAgreement(map: Pick<FeatureMap, "points">, opts: AgreementOptions = {}): NeighbourAgreement {
  const coords = new Float64Array(map.points.length * 2);
  map.points.forEach((p, i) => {
    coords[2 * i] = p.x;
    coords[2 * i + 1] = p.y;
  });
  return vectorAgreement(
    coords,
    2,
    map.points.map((p) => p.tags),
    { ...opts, space: "map", metric: "euclidean" },
  );
}
