// The baselines Safe-SAIL compares its metrics with: k-sparse probing and the 1-d probe, on pooled
// feature activations of concept queries (label 1) and their twins (label 0).
//
// Both split the pairs (never a query from its twin) into train and test with a seeded shuffle, choose
// on train, and report F1 on test.
//   k-sparse probing: rank features by |mean(concept) - mean(twin)| on train, fit an L2-regularised
//     logistic regression on the top k (standardised with train statistics; Newton's method), F1 at 0.5.
//   1-d probe: for every feature the train-optimal threshold (and direction); the feature with the best
//     train F1 is the probe; its test F1 is reported.
import { ArgumentError } from "../errors.ts";
import { mulberry32 } from "../util/prng.ts";

export interface ProbeOptions {
  /** Largest k of the k-sparse probe (default 16). */
  maxK?: number;
  /** Share of pairs used for training (default 0.7). */
  trainFraction?: number;
  seed?: number;
  /** L2 weight of the logistic regression (default 1e-2). */
  l2?: number;
}

export interface ProbeResult {
  /** F1 on the test pairs for k = 1..maxK (index k-1). */
  kSparseF1: number[];
  kSparseFeatures: number[];
  oneD: { feature: number; threshold: number; direction: 1 | -1; trainF1: number; testF1: number };
  trainPairs: number;
  testPairs: number;
}

/** F1 of predictions against labels (1 = positive); 0 when there are no true positives. */
export function f1Score(pred: ArrayLike<number>, label: ArrayLike<number>): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < label.length; i++) {
    if (pred[i] === 1 && label[i] === 1) tp++;
    else if (pred[i] === 1) fp++;
    else if (label[i] === 1) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Solves A x = b for a small symmetric positive definite A (Cholesky), in place of nothing. */
function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j]!;
      for (let q = 0; q < j; q++) s -= L[i * n + q]! * L[j * n + q]!;
      L[i * n + j] = i === j ? Math.sqrt(Math.max(s, 1e-300)) : s / L[j * n + j]!;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let q = 0; q < i; q++) s -= L[i * n + q]! * y[q]!;
    y[i] = s / L[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let q = i + 1; q < n; q++) s -= L[q * n + i]! * x[q]!;
    x[i] = s / L[i * n + i]!;
  }
  return x;
}

/**
 * L2-regularised logistic regression by Newton's method: minimises
 * Σ_i log(1 + exp(-y_i (w·x_i + b))) + (l2/2) ||w||² (the bias is not penalised), y in {0, 1} mapped to ±1.
 * X is [n, d] row-major. Returns [w..., b].
 */
export function fitLogistic(X: ArrayLike<number>, y: ArrayLike<number>, n: number, d: number, l2 = 1e-2, iterations = 50): Float64Array {
  const p = d + 1;
  const w = new Float64Array(p);
  for (let it = 0; it < iterations; it++) {
    const grad = new Float64Array(p);
    const H = new Float64Array(p * p);
    for (let i = 0; i < n; i++) {
      let z = w[d]!;
      for (let j = 0; j < d; j++) z += w[j]! * X[i * d + j]!;
      const prob = 1 / (1 + Math.exp(-z));
      const r = prob - y[i]!;
      const s = Math.max(prob * (1 - prob), 1e-12);
      for (let a = 0; a < p; a++) {
        const xa = a === d ? 1 : X[i * d + a]!;
        grad[a]! += r * xa;
        for (let c = 0; c <= a; c++) H[a * p + c]! += s * xa * (c === d ? 1 : X[i * d + c]!);
      }
    }
    for (let a = 0; a < p; a++) for (let c = 0; c < a; c++) H[c * p + a] = H[a * p + c]!;
    for (let j = 0; j < d; j++) {
      grad[j]! += l2 * w[j]!;
      H[j * p + j]! += l2;
    }
    H[d * p + d]! += 1e-9;
    const step = solveSpd(H, grad, p);
    let moved = 0;
    for (let a = 0; a < p; a++) {
      w[a]! -= step[a]!;
      moved = Math.max(moved, Math.abs(step[a]!));
    }
    if (moved < 1e-10) break;
  }
  return w;
}

/** Best threshold classifier on one feature: predict 1 when direction·(x - threshold) > 0. */
export function bestThreshold(values: ArrayLike<number>, labels: ArrayLike<number>): { threshold: number; direction: 1 | -1; f1: number } {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  let best = { threshold: -Infinity, direction: 1 as 1 | -1, f1: -1 };
  const pred = new Uint8Array(values.length);
  // Candidate cuts: below everything, and midway between consecutive distinct values.
  const cuts = [values[order[0]!]! - 1];
  for (let q = 0; q + 1 < order.length; q++) {
    const a = values[order[q]!]!;
    const b = values[order[q + 1]!]!;
    if (b > a) cuts.push((a + b) / 2);
  }
  for (const cut of cuts) {
    for (const dir of [1, -1] as const) {
      for (let i = 0; i < values.length; i++) pred[i] = dir * (values[i]! - cut) > 0 ? 1 : 0;
      const f = f1Score(pred, labels);
      if (f > best.f1) best = { threshold: cut, direction: dir, f1: f };
    }
  }
  return best;
}

/** k-sparse probing and the 1-d probe on pairs (P, N: [nPairs, nFeatures] pooled activations). */
export function probeBaselines(P: ArrayLike<number>, N: ArrayLike<number>, n: number, m: number, opts: ProbeOptions = {}): ProbeResult {
  if (n < 4) throw new ArgumentError(`probes need at least 4 pairs, got ${n}`, { field: "pairs" });
  const maxK = Math.min(opts.maxK ?? 16, m);
  const rand = mulberry32((opts.seed ?? 0) ^ 0x9e0be);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const nTrain = Math.min(n - 1, Math.max(1, Math.round(n * (opts.trainFraction ?? 0.7))));
  const trainPairs = order.slice(0, nTrain);
  const testPairs = order.slice(nTrain);
  // Rows: each pair gives its concept query (label 1) and its twin (label 0).
  const rows = (pairs: number[]) => pairs.flatMap((i) => [{ src: P, i, label: 1 }, { src: N, i, label: 0 }]);
  const train = rows(trainPairs);
  const test = rows(testPairs);
  const value = (r: { src: ArrayLike<number>; i: number }, j: number) => r.src[r.i * m + j]!;

  // Rank by |mean difference| on train.
  const diff = new Float64Array(m);
  for (const r of train) for (let j = 0; j < m; j++) diff[j]! += (r.label === 1 ? 1 : -1) * value(r, j);
  const ranked = Array.from({ length: m }, (_, j) => j).sort((a, b) => Math.abs(diff[b]!) - Math.abs(diff[a]!) || a - b);
  const kSparseFeatures = ranked.slice(0, maxK);

  const kSparseF1: number[] = [];
  for (let k = 1; k <= maxK; k++) {
    const feats = kSparseFeatures.slice(0, k);
    const mean = feats.map((j) => train.reduce((a, r) => a + value(r, j), 0) / train.length);
    const sd = feats.map((j, q) => Math.sqrt(train.reduce((a, r) => a + (value(r, j) - mean[q]!) ** 2, 0) / train.length) || 1);
    const design = (set: typeof train) => Float64Array.from(set.flatMap((r) => feats.map((j, q) => (value(r, j) - mean[q]!) / sd[q]!)));
    const w = fitLogistic(design(train), train.map((r) => r.label), train.length, k, opts.l2 ?? 1e-2);
    const Xt = design(test);
    const pred = test.map((_, i) => {
      let z = w[k]!;
      for (let q = 0; q < k; q++) z += w[q]! * Xt[i * k + q]!;
      return z > 0 ? 1 : 0;
    });
    kSparseF1.push(f1Score(pred, test.map((r) => r.label)));
  }

  let oneD = { feature: 0, threshold: 0, direction: 1 as 1 | -1, trainF1: -1, testF1: 0 };
  const labels = train.map((r) => r.label);
  for (let j = 0; j < m; j++) {
    const b = bestThreshold(train.map((r) => value(r, j)), labels);
    if (b.f1 > oneD.trainF1) oneD = { feature: j, threshold: b.threshold, direction: b.direction, trainF1: b.f1, testF1: 0 };
  }
  const pred1 = test.map((r) => (oneD.direction * (value(r, oneD.feature) - oneD.threshold) > 0 ? 1 : 0));
  oneD.testF1 = f1Score(pred1, test.map((r) => r.label));
  return { kSparseF1, kSparseFeatures, oneD, trainPairs: trainPairs.length, testPairs: testPairs.length };
}
