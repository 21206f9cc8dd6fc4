// Safe-SAIL's pre-explanation metrics on concept-contrastive query pairs, as pure functions of pooled
// feature activations (definitions in docs/metrics.md; the paper states them only in words).
//
//   const m = contrastiveFromMatrices(P, N, nPairs, nFeatures, { thresholds: [0, 0.5, 1] });
//   m.l0t        // per threshold: features that distinguish the concept on at least a share ρ of its pairs
//   m.icdf       // per threshold: expected distinguishing frequency over all features
//
// P and N are [nPairs, nFeatures] row-major: P[i, j] = feature j's activation on the concept query of pair
// i, pooled over its tokens (max by default); N the same on the twin. The functions take any features:
// SAE latents, or the raw hook dimensions for the baseline.
import { ArgumentError } from "../errors.ts";
import { checkInt, checkNumber } from "../util/validate.ts";

export interface ContrastiveOptions {
  /** Activation thresholds t (default [0]). */
  thresholds?: readonly number[];
  /** A feature counts in L0,t when it distinguishes at least this share of the pairs (default 0.5). */
  minFrequency?: number;
}

export interface ThresholdMetrics {
  t: number;
  /** L0,t: features j with F_j(t) ≥ ρ. */
  l0: number;
  /** Mean over pairs of the number of features distinguishing that pair (= Σ_j F_j(t)). */
  perPair: number;
  /** I_CDF(t) = (1/m) Σ_j F_j(t) = ∫₀¹ S_t(u) du, S_t the survival function of F_·(t) over the m features. */
  icdf: number;
  /** Features with F_j(t) > 0 (distinguish at least one pair). */
  anyPair: number;
}

export interface ContrastiveResult {
  pairs: number;
  features: number;
  minFrequency: number;
  byThreshold: ThresholdMetrics[];
}

function checkMatrices(P: ArrayLike<number>, N: ArrayLike<number>, n: number, m: number): void {
  checkInt(n, "pairs", { min: 1, where: "contrastive metrics", label: "the number of pairs" });
  checkInt(m, "features", { min: 1, where: "contrastive metrics", label: "the number of features" });
  if (P.length !== n * m) throw new ArgumentError(`contrastive metrics: positive activations have ${P.length} values, expected ${n} x ${m}`, { field: "positive" });
  if (N.length !== n * m) throw new ArgumentError(`contrastive metrics: negative activations have ${N.length} values, expected ${n} x ${m}`, { field: "negative" });
}

/** F_j(t) for every feature: the share of pairs whose concept query exceeds t while its twin does not. */
export function distinguishingFrequency(P: ArrayLike<number>, N: ArrayLike<number>, n: number, m: number, t: number): Float64Array {
  checkMatrices(P, N, n, m);
  const f = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    const row = i * m;
    for (let j = 0; j < m; j++) if (P[row + j]! > t && N[row + j]! <= t) f[j]! += 1;
  }
  for (let j = 0; j < m; j++) f[j]! /= n;
  return f;
}

/** The survival curve S(u) = share of features with frequency > u, at the given u values. */
export function survivalCurve(freq: ArrayLike<number>, us: readonly number[]): number[] {
  return us.map((u) => {
    let c = 0;
    for (let j = 0; j < freq.length; j++) if (freq[j]! > u) c++;
    return c / freq.length;
  });
}

/** L0,t, per-pair counts and I_CDF over a grid of thresholds. */
export function contrastiveFromMatrices(P: ArrayLike<number>, N: ArrayLike<number>, n: number, m: number, opts: ContrastiveOptions = {}): ContrastiveResult {
  const thresholds = opts.thresholds ?? [0];
  const rho = opts.minFrequency ?? 0.5;
  checkNumber(rho, "minFrequency", { gt: 0, max: 1, where: "contrastive metrics" });
  const byThreshold = thresholds.map((t) => {
    const f = distinguishingFrequency(P, N, n, m, t);
    let l0 = 0;
    let sum = 0;
    let anyPair = 0;
    for (let j = 0; j < m; j++) {
      // Frequencies are multiples of 1/n: compare with a tolerance so ρ·n pairs count exactly.
      if (f[j]! >= rho - 1e-12) l0++;
      if (f[j]! > 0) anyPair++;
      sum += f[j]!;
    }
    return { t, l0, perPair: sum, icdf: sum / m, anyPair };
  });
  return { pairs: n, features: m, minFrequency: rho, byThreshold };
}

/** Spearman rank correlation (average ranks for ties); NaN when either side is constant. */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new ArgumentError(`spearman: lengths differ (${a.length} vs ${b.length})`, { field: "b" });
  const rank = (v: readonly number[]) => {
    const idx = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    for (let s = 0; s < idx.length; ) {
      let e = s;
      while (e + 1 < idx.length && idx[e + 1]![0] === idx[s]![0]) e++;
      for (let q = s; q <= e; q++) r[idx[q]![1]] = (s + e) / 2 + 1;
      s = e + 1;
    }
    return r;
  };
  const ra = rank(a);
  const rb = rank(b);
  const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - ma) * (rb[i]! - mb);
    da += (ra[i]! - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  }
  return da === 0 || db === 0 ? NaN : num / Math.sqrt(da * db);
}
