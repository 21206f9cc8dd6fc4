// Normalised activations (docs/metrics.md, "Normalised activation"): each feature's pooled activation divided by
// a high quantile of its absolute pooled activations over a population of queries, so that one threshold means
// the same for every feature whatever its units.
//
//   const scales = featureScales(values, rows, features, 0.999);   // s_j = Q_0.999(|a_j|) over the rows
//   const normalised = normaliseByScales(values, rows, features, scales);   // a_j / s_j; 0 where s_j = 0
import { ArgumentError } from "../errors.ts";
import { checkInt, checkNumber } from "../util/validate.ts";
import type { PooledFeatures } from "./features.ts";

/** The quantile q of the per-feature scale (the Safe-SAIL demo's). */
export const DEFAULT_QUANTILE = 0.999;

/** How a threshold's scale was set; carried by every report that thresholds activations. */
export interface Normalisation {
  /** "normalised": a / Q_q(|a|) per feature over `population` queries; "raw": the activations' own units. */
  scale: "normalised" | "raw";
  /** q (absent for raw). */
  quantile?: number;
  /** What the quantile is over, in words, and how many queries. */
  population?: string;
  populationSize?: number;
}

/**
 * The q-quantile of `xs` (sorted ascending) by linear interpolation between order statistics (numpy's default,
 * Hyndman-Fan type 7): h = (N - 1) q, v_floor(h) + (h - floor(h)) (v_floor(h)+1 - v_floor(h)).
 */
export function quantileSorted(xs: ArrayLike<number>, q: number): number {
  const n = xs.length;
  if (n === 0) throw new ArgumentError("quantile of no values", { field: "values" });
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return xs[lo]! + (h - lo) * (xs[hi]! - xs[lo]!);
}

/** Per feature j: s_j = the q-quantile of |values[r, j]| over the rows (values row-major [rows, features]). */
export function featureScales(values: ArrayLike<number>, rows: number, features: number, quantile: number = DEFAULT_QUANTILE): Float64Array {
  checkInt(rows, "rows", { min: 1, where: "featureScales", label: "the number of queries" });
  checkInt(features, "features", { min: 1, where: "featureScales", label: "the number of features" });
  checkNumber(quantile, "quantile", { gt: 0, max: 1, where: "featureScales" });
  if (values.length !== rows * features) throw new ArgumentError(`featureScales: ${values.length} values for ${rows} queries x ${features} features`, { field: "values" });
  const scales = new Float64Array(features);
  const col = new Float64Array(rows);
  for (let j = 0; j < features; j++) {
    for (let r = 0; r < rows; r++) col[r] = Math.abs(values[r * features + j]!);
    col.sort();
    scales[j] = quantileSorted(col, quantile);
  }
  return scales;
}

/** values / scales per feature; a feature whose scale is 0 (or not finite) is 0 everywhere: it never fires. */
export function normaliseByScales(values: ArrayLike<number>, rows: number, features: number, scales: ArrayLike<number>): Float32Array {
  if (values.length !== rows * features) throw new ArgumentError(`normalise: ${values.length} values for ${rows} queries x ${features} features`, { field: "values" });
  if (scales.length !== features) throw new ArgumentError(`normalise: ${scales.length} scales for ${features} features`, { field: "scales" });
  const out = new Float32Array(rows * features);
  for (let j = 0; j < features; j++) {
    const s = scales[j]!;
    if (!(s > 0) || !Number.isFinite(s)) continue;
    for (let r = 0; r < rows; r++) out[r * features + j] = values[r * features + j]! / s;
  }
  return out;
}

/** Pooled features normalised over their own queries (the population), and the scales used. */
export function normalisePooled(pooled: PooledFeatures, quantile: number = DEFAULT_QUANTILE): { pooled: PooledFeatures; scales: Float64Array } {
  const scales = featureScales(pooled.values, pooled.queries, pooled.features, quantile);
  return { pooled: { ...pooled, values: normaliseByScales(pooled.values, pooled.queries, pooled.features, scales) }, scales };
}
