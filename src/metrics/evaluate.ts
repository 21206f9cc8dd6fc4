// The configuration-choice report of one SAE (or the raw hook) on concept-contrastive pairs: L0,t over a
// threshold grid, I_CDF, and the probe baselines, per concept, averaged per domain and overall.
//
//   const report = await contrastiveMetrics(model, sae, pairs);   // thresholds 0, 0.1, ..., 0.9 (normalised)
//   report.domains.violence.l0t   // [{ t, value }, ...] means over the domain's concepts
//
// Thresholds are on the normalised scale (docs/metrics.md): each feature's pooled activation divided by the
// 0.999-quantile of its |pooled activation| over every query of the pairs measured (`normalise: false` for raw
// units). The probes read the pooled activations in their own units (they standardise features themselves).
import type { Model } from "../model/runtime.ts";
import type { Progress } from "../progress.ts";
import type { Sae } from "../sae/sae.ts";
import { contrastiveFromMatrices, type ThresholdMetrics } from "./contrastive.ts";
import { ArgumentError, describeValue } from "../errors.ts";
import { pooledFeatures, type PooledFeatures, type Pooling } from "./features.ts";
import { DEFAULT_QUANTILE, normalisePooled, type Normalisation } from "./normalise.ts";
import { probeBaselines } from "./probes.ts";

/**
 * The default threshold grid of L0,t and I_CDF, on the normalised scale: 0 ("fires at all") to 0.9 in steps of
 * 0.1. A normalised activation is at most about 1 on all but a (1 - q) share of the queries, so the curves fall
 * within this range; docs/metrics.md says why.
 */
export const DEFAULT_THRESHOLDS: readonly number[] = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** The fields of a contrastive pair these metrics read (data/contrastive-pairs.jsonl has more). */
export interface PairLike {
  domain: string;
  concept: string;
  lang?: string;
  positive: string;
  negative: string;
}

export interface ConceptMetrics {
  domain: string;
  concept: string;
  pairs: number;
  byThreshold: ThresholdMetrics[];
  /** k-sparse probing test F1 for k = 1..maxK, and the 1-d probe's test F1 (null with fewer than 4 pairs). */
  kSparseF1: number[] | null;
  oneDF1: number | null;
}

export interface AggregateMetrics {
  concepts: number;
  /** Means over concepts, per threshold. */
  l0t: { t: number; value: number }[];
  icdf: { t: number; value: number }[];
  kSparseF1: number[];
  oneDF1: number;
}

export interface ContrastiveReport {
  hookName: string;
  basis: "sae" | "raw";
  features: number;
  thresholds: number[];
  /** The scale the thresholds are on (normalised by default: quantile and population). */
  normalisation: Normalisation;
  minFrequency: number;
  concepts: ConceptMetrics[];
  domains: Record<string, AggregateMetrics>;
  overall: AggregateMetrics;
}

export interface ContrastiveMetricsOptions {
  /** Thresholds t on the normalised scale (default `DEFAULT_THRESHOLDS`, 0 to 0.9 by 0.1). */
  thresholds?: readonly number[];
  /** Quantile q of the per-feature scale (default 0.999). */
  quantile?: number;
  /** false: thresholds in the activations' raw units (default true: normalised). */
  normalise?: boolean;
  minFrequency?: number;
  hookName?: string;
  chat?: boolean;
  pool?: Pooling;
  /** Only pairs of these languages (default all). */
  languages?: string[];
  /** Probes: largest k (default 16) and split seed. */
  maxK?: number;
  seed?: number;
  progress?: Progress;
}

function aggregate(items: ConceptMetrics[], thresholds: number[]): AggregateMetrics {
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const probed = items.filter((c) => c.kSparseF1 !== null);
  const maxK = Math.max(0, ...probed.map((c) => c.kSparseF1!.length));
  return {
    concepts: items.length,
    l0t: thresholds.map((t, i) => ({ t, value: mean(items.map((c) => c.byThreshold[i]!.l0)) })),
    icdf: thresholds.map((t, i) => ({ t, value: mean(items.map((c) => c.byThreshold[i]!.icdf)) })),
    kSparseF1: Array.from({ length: maxK }, (_, k) => mean(probed.map((c) => c.kSparseF1![k] ?? NaN).filter(Number.isFinite))),
    oneDF1: mean(probed.map((c) => c.oneDF1!)),
  };
}

/** See the file comment. `sae` null measures the raw hook dimensions (the baseline basis). */
export async function contrastiveMetrics(model: Model, sae: Sae | null, pairs: readonly PairLike[], opts: ContrastiveMetricsOptions = {}): Promise<ContrastiveReport> {
  const chosen = selectPairs(pairs, opts.languages);
  const pooled = await pooledFeatures(model, sae, pairQueries(chosen), {
    hookName: opts.hookName,
    chat: opts.chat,
    pool: opts.pool,
    progress: opts.progress,
    label: "contrastive pairs",
  });
  return contrastiveReport(pooled, chosen, opts);
}

/** Pairs of the given languages (all when `languages` is undefined). */
export function selectPairs<T extends PairLike>(pairs: readonly T[], languages?: readonly string[]): T[] {
  return languages ? pairs.filter((p) => p.lang !== undefined && languages.includes(p.lang)) : [...pairs];
}

/** The queries to pool for `pairs`, in the order `contrastiveReport` expects: positive, negative, ... */
export function pairQueries(pairs: readonly PairLike[]): string[] {
  return pairs.flatMap((p) => [p.positive, p.negative]);
}

/** The report from pooled features of `pairQueries(pairs)` (computed once, reused across thresholds or SAEs). */
export function contrastiveReport(pooled: PooledFeatures, chosen: readonly PairLike[], opts: Omit<ContrastiveMetricsOptions, "languages" | "hookName" | "chat" | "pool" | "progress"> = {}): ContrastiveReport {
  const thresholds = [...(opts.thresholds ?? DEFAULT_THRESHOLDS)];
  if (thresholds.length === 0 || !thresholds.every((t) => Number.isFinite(t))) throw new ArgumentError(`contrastiveReport: thresholds must be a non-empty list of finite numbers, got ${describeValue(opts.thresholds)}`, { field: "thresholds" });
  const minFrequency = opts.minFrequency ?? 0.5;
  if (pooled.queries !== 2 * chosen.length) throw new ArgumentError(`contrastiveReport: ${pooled.queries} pooled queries for ${chosen.length} pairs (expected 2 per pair)`, { field: "pooled" });
  const m = pooled.features;
  const normalise = opts.normalise ?? true;
  const quantile = opts.quantile ?? DEFAULT_QUANTILE;
  // Thresholded values: normalised over the population of every query of the chosen pairs. Probes: pooled as is.
  const scaled = normalise ? normalisePooled(pooled, quantile).pooled.values : pooled.values;
  const normalisation: Normalisation = normalise
    ? { scale: "normalised", quantile, population: "every query of the pairs measured (both members of every pair)", populationSize: pooled.queries }
    : { scale: "raw" };
  const groups = new Map<string, number[]>();
  chosen.forEach((p, i) => {
    const key = `${p.domain}\u0000${p.concept}`;
    const g = groups.get(key) ?? [];
    g.push(i);
    groups.set(key, g);
  });
  const concepts: ConceptMetrics[] = [];
  for (const [key, idx] of groups) {
    const [domain, concept] = key.split("\u0000") as [string, string];
    const n = idx.length;
    const P = new Float32Array(n * m);
    const N = new Float32Array(n * m);
    const Ps = normalise ? new Float32Array(n * m) : P;
    const Ns = normalise ? new Float32Array(n * m) : N;
    idx.forEach((pi, r) => {
      P.set(pooled.values.subarray(2 * pi * m, (2 * pi + 1) * m), r * m);
      N.set(pooled.values.subarray((2 * pi + 1) * m, (2 * pi + 2) * m), r * m);
      if (normalise) {
        Ps.set(scaled.subarray(2 * pi * m, (2 * pi + 1) * m), r * m);
        Ns.set(scaled.subarray((2 * pi + 1) * m, (2 * pi + 2) * m), r * m);
      }
    });
    const c = contrastiveFromMatrices(Ps, Ns, n, m, { thresholds, minFrequency });
    const probes = n >= 4 ? probeBaselines(P, N, n, m, { maxK: opts.maxK, seed: opts.seed }) : null;
    concepts.push({ domain, concept, pairs: n, byThreshold: c.byThreshold, kSparseF1: probes?.kSparseF1 ?? null, oneDF1: probes?.oneD.testF1 ?? null });
  }
  concepts.sort((a, b) => a.domain.localeCompare(b.domain) || a.concept.localeCompare(b.concept));
  const domains: Record<string, AggregateMetrics> = {};
  for (const d of [...new Set(concepts.map((c) => c.domain))]) domains[d] = aggregate(concepts.filter((c) => c.domain === d), thresholds);
  return { hookName: pooled.hookName, basis: pooled.basis, features: m, thresholds, normalisation, minFrequency, concepts, domains, overall: aggregate(concepts, thresholds) };
}
