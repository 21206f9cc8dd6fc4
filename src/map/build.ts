// buildMap: feature records -> MAP.json's content. Steps, each seeded from `seed` (deriveSeed per purpose):
//   1. embed the explanations (src/map/embed.ts; unplaceable features listed, not placed);
//   2. exact cosine k nearest neighbours in the embedding (src/map/knn.ts);
//   3. UMAP to 2-D with umap-js, given that neighbour graph (nNeighbors 15 counting the point itself, as UMAP
//      does; minDist 0.1; umap-js's epoch rule: 500 up to 2,500 points, 400 up to 5,000) and a seeded random source;
//      coordinates rounded to 4 decimals (the file is what the quality figures are computed from);
//   4. neighbour agreement on the map and in the embedding (src/map/quality.ts);
//   5. k-means clusters on the map, labelled by distinctive words (src/map/cluster.ts).
// A map needs at least MIN_MAP_POINTS placed features; below 16, UMAP's neighbourhood shrinks to n - 1 (warned).
import { UMAP } from "umap-js";
import { ArgumentError, NonFiniteError } from "../errors.ts";
import type { FeatureRecord } from "../db/records.ts";
import { silentProgress } from "../progress.ts";
import { deriveSeed, mulberry32 } from "../util/prng.ts";
import { checkInt, checkNumber, checkPositiveInt } from "../util/validate.ts";
import { clusterLabel, clusterWords, defaultClusterCount, kmeans } from "./cluster.ts";
import { distinctTerms, embedExplanations, type EmbedOptions } from "./embed.ts";
import { FEATURE_MAP_FORMAT, FEATURE_MAP_VERSION, type FeatureMap, type MapCluster, type MapPoint } from "./format.ts";
import { exactKnn } from "./knn.ts";
import { agreementFromKnn, vectorAgreement } from "./quality.ts";

/** Fewest placed features a map is made of: fewer points have no neighbourhoods to lay out. */
export const MIN_MAP_POINTS = 5;

export interface BuildMapOptions extends EmbedOptions {
  /** One seed for every random step (default 0). */
  seed?: number;
  /** UMAP neighbourhood, counting the point itself (default 15). */
  nNeighbors?: number;
  /** UMAP minDist (default 0.1). */
  minDist?: number;
  /** UMAP epochs (default: umap-js's rule by size). */
  nEpochs?: number;
  /** Number of clusters (default round(sqrt(n / 2)) in [2, 30]). */
  clusters?: number;
  /** Neighbours of the quality measure (default 10). */
  qualityK?: number;
  /** Shuffled baselines of the quality measure (default 100). */
  shuffles?: number;
  /** Recorded in the map: where the records came from. */
  source?: { file?: string; format?: string };
  /** Called after each step with its wall time (embed, knn, umap, quality, clusters). */
  onStep?: (step: string, ms: number) => void;
}

function countBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const x of xs) out.set(key(x), (out.get(key(x)) ?? 0) + 1);
  return out;
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4 || 0; // || 0: no -0 in the file

/** The feature map of `records` (file comment for the steps). */
export async function buildMap(records: readonly FeatureRecord[], opts: BuildMapOptions = {}): Promise<FeatureMap> {
  const seed = checkInt(opts.seed ?? 0, "seed", { where: "buildMap" });
  const wantNeighbors = checkInt(opts.nNeighbors ?? 15, "nNeighbors", { min: 2, where: "buildMap" });
  const minDist = checkNumber(opts.minDist ?? 0.1, "minDist", { min: 0, where: "buildMap" });
  const nEpochs = opts.nEpochs === undefined ? 0 : checkPositiveInt(opts.nEpochs, "nEpochs", { where: "buildMap" });
  const qualityK = checkPositiveInt(opts.qualityK ?? 10, "qualityK", { where: "buildMap" });
  const shuffles = checkPositiveInt(opts.shuffles ?? 100, "shuffles", { where: "buildMap" });
  if (opts.clusters !== undefined) checkPositiveInt(opts.clusters, "clusters", { where: "buildMap" });
  const progress = opts.progress ?? silentProgress;
  const warnings: string[] = [];
  let t0 = performance.now();
  const step = (name: string) => {
    const t = performance.now();
    opts.onStep?.(name, t - t0);
    t0 = t;
  };

  const emb = await embedExplanations(records, { ...opts, seed });
  step("embed");
  const n = emb.ids.length;
  if (n < MIN_MAP_POINTS) {
    const why = [...countBy(emb.unplaced, (u) => u.reason)].map(([r, c]) => `${c} ${r}`);
    throw new ArgumentError(
      `buildMap: ${n} of ${records.length} features can be placed (a map needs at least ${MIN_MAP_POINTS} with an explanation)${why.length ? `; not placed: ${why.join(", ")}` : ""}`,
      { field: "records" },
    );
  }
  const byId = new Map(records.map((r) => [r.id, r]));
  const placed = emb.ids.map((id) => byId.get(id)!);
  const tags = placed.map((r) => [...r.tag_list]);
  const unplacedCount = emb.unplaced.length;
  if (unplacedCount) {
    const why = [...countBy(emb.unplaced, (u) => u.reason)].map(([r, c]) => `${c} ${r === "masked" ? 'masked ("***")' : r === "null" ? "without explanation" : r === "empty" ? "with an empty explanation" : "without a word shared with another explanation"}`);
    warnings.push(`${unplacedCount} of ${records.length} features are not on the map: ${why.join(", ")} (listed in "unplaced")`);
  }

  const nNeighbors = Math.min(wantNeighbors, n - 1);
  if (nNeighbors < wantNeighbors) warnings.push(`only ${n} placed features: UMAP neighbourhood ${nNeighbors} instead of ${wantNeighbors}`);
  const qk = Math.min(qualityK, n - 1);
  progress.start("neighbours", n);
  const knn = exactKnn(emb.vectors, n, emb.dims, Math.max(nNeighbors - 1, qk), "cosine", (d) => d % 256 === 0 && progress.update(d));
  progress.finish();
  step("knn");

  // UMAP's neighbour lists include the point itself at distance 0 (as umap-learn's do).
  const knnIndices: number[][] = [];
  const knnDistances: number[][] = [];
  for (let i = 0; i < n; i++) {
    const idx = [i];
    const dist = [0];
    for (let j = 0; j < nNeighbors - 1; j++) {
      idx.push(knn.indices[i * knn.k + j]!);
      dist.push(knn.distances[i * knn.k + j]!);
    }
    knnIndices.push(idx);
    knnDistances.push(dist);
  }
  const umap = new UMAP({ nComponents: 2, nNeighbors, minDist, nEpochs, random: mulberry32(deriveSeed(seed, "umap")) });
  umap.setPrecomputedKNN(knnIndices, knnDistances);
  const rows = Array.from({ length: n }, (_, i) => Array.from(emb.vectors.subarray(i * emb.dims, (i + 1) * emb.dims)));
  const epochs = umap.initializeFit(rows);
  progress.start("umap", epochs);
  for (let e = 0; e < epochs; e++) {
    umap.step();
    if (e % 20 === 0) progress.update(e);
  }
  progress.finish(`${epochs} epochs`);
  const layout = umap.getEmbedding();
  const coords = new Float64Array(n * 2);
  layout.forEach((p, i) => {
    if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) throw new NonFiniteError(`buildMap: UMAP placed feature ${emb.ids[i]} at a non-finite position`, { field: "layout" });
    coords[2 * i] = round4(p[0]!);
    coords[2 * i + 1] = round4(p[1]!);
  });
  step("umap");

  const qseed = deriveSeed(seed, "quality");
  const quality = {
    map: vectorAgreement(coords, 2, tags, { k: qualityK, shuffles, seed: qseed, space: "map", metric: "euclidean" }),
    embedding: agreementFromKnn(knn, tags, { k: qk, shuffles, seed: qseed, space: "embedding", metric: "cosine" }),
  };
  if (qk < qualityK) quality.embedding.warnings.push(`only ${n} placed features: ${qk} neighbours per feature instead of ${qualityK}`);
  step("quality");

  const k = Math.min(opts.clusters ?? defaultClusterCount(n), n);
  const km = kmeans(coords, n, 2, k, { seed: deriveSeed(seed, "kmeans") });
  const words = clusterWords(distinctTerms(placed.map((r) => r.explanation!)), km.assignment, k);
  const clusters: MapCluster[] = words.map((w, c) => {
    const members = placed.filter((_, i) => km.assignment[i] === c);
    const tagCounts: Record<string, number> = {};
    for (const r of members) for (const t of new Set(r.tag_list)) tagCounts[t] = (tagCounts[t] ?? 0) + 1;
    return { id: c, label: clusterLabel(w.words), words: w.words, size: members.length, x: round4(km.centroids[2 * c]!), y: round4(km.centroids[2 * c + 1]!), tags: tagCounts };
  });
  step("clusters");

  const points: MapPoint[] = placed.map((r, i) => ({
    id: r.id,
    x: coords[2 * i]!,
    y: coords[2 * i + 1]!,
    cluster: km.assignment[i]!,
    tags: tags[i]!,
    explanation: r.explanation!,
    score: r.correlation_score,
  }));
  return {
    format: FEATURE_MAP_FORMAT,
    version: FEATURE_MAP_VERSION,
    seed,
    source: { ...(opts.source ?? {}), features: records.length },
    embedding: emb.description,
    layout: { method: "umap-js", nNeighbors, minDist, nEpochs: epochs, knn: "exact", metric: "cosine" },
    clustering: { method: "k-means", space: "map", k, rule: opts.clusters === undefined ? "round(sqrt(n / 2)) in [2, 30]" : "given" },
    points,
    clusters,
    unplaced: emb.unplaced,
    quality,
    warnings,
  };
}
