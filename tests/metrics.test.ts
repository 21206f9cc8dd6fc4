// The configuration-choice metrics on hand-built activation matrices whose answers are worked out by
// hand (docs/metrics.md), and the probe baselines against an independent solver.
import { describe, expect, it } from "vitest";
import { contrastiveFromMatrices, distinguishingFrequency, spearman, survivalCurve } from "../src/metrics/contrastive.ts";
import { bestThreshold, f1Score, fitLogistic, probeBaselines } from "../src/metrics/probes.ts";
import { mulberry32 } from "../src/util/prng.ts";

// 4 pairs x 4 features (rows = pairs).
//   f0: concept 1.0, twin 0      -> distinguishes every pair at t < 1
//   f1: fires on both            -> never
//   f2: concept 0.8 on pairs 0,1 (0.3 on pairs 2,3), twin 0 -> 4/4 at t=0, 2/4 at t=0.5, 0 at t=1
//   f3: twin fires, concept not  -> never
const P = [
  [1.0, 1, 0.8, 0],
  [1.0, 1, 0.8, 0],
  [1.0, 1, 0.3, 0],
  [1.0, 1, 0.3, 0],
].flat();
const N = [
  [0, 1, 0, 0.9],
  [0, 1, 0, 0.9],
  [0, 1, 0, 0.9],
  [0, 1, 0, 0.9],
].flat();

describe("L0,t and I_CDF", () => {
  it("distinguishing frequencies per feature", () => {
    expect(Array.from(distinguishingFrequency(P, N, 4, 4, 0))).toEqual([1, 0, 1, 0]);
    expect(Array.from(distinguishingFrequency(P, N, 4, 4, 0.5))).toEqual([1, 0, 0.5, 0]);
    expect(Array.from(distinguishingFrequency(P, N, 4, 4, 1))).toEqual([0, 0, 0, 0]);
  });

  it("L0,t counts features distinguishing at least a share rho of the pairs; I_CDF is their mean frequency", () => {
    const r = contrastiveFromMatrices(P, N, 4, 4, { thresholds: [0, 0.5, 1] });
    expect(r.byThreshold.map((x) => x.l0)).toEqual([2, 2, 0]); // rho 0.5: f2 at t=0.5 has exactly 0.5
    expect(r.byThreshold.map((x) => x.icdf)).toEqual([0.5, 0.375, 0]);
    expect(r.byThreshold.map((x) => x.perPair)).toEqual([2, 1.5, 0]);
    expect(r.byThreshold.map((x) => x.anyPair)).toEqual([2, 2, 0]);
    const strict = contrastiveFromMatrices(P, N, 4, 4, { thresholds: [0.5], minFrequency: 0.75 });
    expect(strict.byThreshold[0]!.l0).toBe(1);
  });

  it("I_CDF equals the area under the survival curve of the frequencies", () => {
    const rand = mulberry32(4);
    const n = 20;
    const m = 50;
    const Pr = Array.from({ length: n * m }, () => (rand() < 0.3 ? rand() * 2 : 0));
    const Nr = Array.from({ length: n * m }, () => (rand() < 0.2 ? rand() * 2 : 0));
    for (const t of [0, 0.5, 1]) {
      const f = distinguishingFrequency(Pr, Nr, n, m, t);
      const steps = 20000;
      const us = Array.from({ length: steps }, (_, i) => (i + 0.5) / steps);
      const area = survivalCurve(f, us).reduce((a, s) => a + s, 0) / steps;
      const icdf = contrastiveFromMatrices(Pr, Nr, n, m, { thresholds: [t] }).byThreshold[0]!.icdf;
      expect(area).toBeCloseTo(icdf, 3);
    }
  });

  it("names bad shapes", () => {
    expect(() => contrastiveFromMatrices(P, N.slice(1), 4, 4)).toThrow(/negative activations have 15 values, expected 4 x 4/);
    expect(() => contrastiveFromMatrices(P, N, 4, 4, { minFrequency: 0 })).toThrow(/minFrequency/);
  });
});

describe("Spearman", () => {
  it("matches 1 - 6 sum d^2 / (n (n^2 - 1)) without ties and average ranks with ties", () => {
    const a = [10, 20, 30, 40, 50];
    const b = [2, 1, 4, 3, 5];
    // ranks of b: 2,1,4,3,5; d = -1? (1-2, 2-1, 3-4, 4-3, 5-5) -> d^2 sum = 4
    expect(spearman(a, b)).toBeCloseTo(1 - (6 * 4) / (5 * 24), 12);
    // Ties: b ranks [1, 2.5, 2.5, 4]; Pearson of ranks [1,2,3,4] and [1,2.5,2.5,4] = 4.5 / sqrt(5 * 4.5).
    expect(spearman([1, 2, 3, 4], [0, 5, 5, 9])).toBeCloseTo(4.5 / Math.sqrt(5 * 4.5), 12);
    expect(spearman([1, 2, 3], [7, 7, 7])).toBeNaN();
  });
});

describe("probes", () => {
  it("logistic regression by Newton agrees with plain gradient descent on the same objective", () => {
    const rand = mulberry32(9);
    const n = 80;
    const d = 3;
    const X = Array.from({ length: n * d }, () => rand() * 2 - 1);
    const y = Array.from({ length: n }, (_, i) => (X[i * d]! + 0.5 * X[i * d + 1]! + 0.3 * (rand() - 0.5) > 0 ? 1 : 0));
    const l2 = 0.5;
    const w = fitLogistic(X, y, n, d, l2);
    // Independent: gradient descent on Σ log(1+exp(-s z)) + l2/2 |w|^2 with s = ±1.
    const g = new Float64Array(d + 1);
    for (let it = 0; it < 20000; it++) {
      const grad = new Float64Array(d + 1);
      for (let i = 0; i < n; i++) {
        let z = g[d]!;
        for (let j = 0; j < d; j++) z += g[j]! * X[i * d + j]!;
        const s = y[i] === 1 ? 1 : -1;
        const c = -s / (1 + Math.exp(s * z));
        for (let j = 0; j < d; j++) grad[j]! += c * X[i * d + j]!;
        grad[d]! += c;
      }
      for (let j = 0; j < d; j++) grad[j]! += l2 * g[j]!;
      for (let j = 0; j <= d; j++) g[j]! -= 0.02 * grad[j]!;
    }
    for (let j = 0; j <= d; j++) expect(w[j]).toBeCloseTo(g[j]!, 4);
  });

  it("F1 and the best single-feature threshold", () => {
    expect(f1Score([1, 1, 0, 0], [1, 0, 1, 0])).toBeCloseTo(0.5);
    expect(f1Score([0, 0], [0, 0])).toBe(0);
    const b = bestThreshold([0.1, 0.2, 0.9, 1.0], [0, 0, 1, 1]);
    expect(b).toMatchObject({ direction: 1, f1: 1 });
    expect(b.threshold).toBeCloseTo(0.55);
    expect(bestThreshold([5, 4, 1, 0], [0, 0, 1, 1])).toMatchObject({ direction: -1, f1: 1 });
  });

  it("find a separating feature among noise: 1-d and k-sparse test F1 of 1 with it ranked first", () => {
    const rand = mulberry32(2);
    const n = 40;
    const m = 30;
    const Pm = new Float64Array(n * m);
    const Nm = new Float64Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        Pm[i * m + j] = rand();
        Nm[i * m + j] = rand();
      }
      Pm[i * m + 7] = 2 + rand(); // feature 7 is the concept
      Nm[i * m + 7] = rand();
    }
    const r = probeBaselines(Pm, Nm, n, m, { maxK: 4, seed: 1 });
    expect(r.trainPairs + r.testPairs).toBe(n);
    expect(r.kSparseFeatures[0]).toBe(7);
    expect(r.kSparseF1[0]).toBe(1);
    expect(r.oneD.feature).toBe(7);
    expect(r.oneD.testF1).toBe(1);
    expect(r.kSparseF1).toHaveLength(4);
  });
});

describe("precision-recall filter", () => {
  it("tags features by precision and recall on hand-built activations", async () => {
    const { precisionRecallFilter } = await import("../src/metrics/filter.ts");
    // 6 samples: 2 violence, 2 terror, 2 benign; 4 features.
    const labels = ["violence", "violence", "terror", "terror", "benign", "benign"];
    const V = [
      // f0: violence only (p 1, r 1)   f1: everything (p 1/3)   f2: one terror sample (p 1, r 0.5)   f3: never
      [1, 1, 0, 0],
      [1, 1, 0, 0],
      [0, 1, 2, 0],
      [0, 1, 0, 0],
      [0, 1, 0, 0],
      [0, 1, 0, 0],
    ].flat();
    const r = precisionRecallFilter(V, labels, 4, { minPrecision: 0.6, minRecall: 0.5, layer: 3 });
    expect(r.kept.map((k) => [k.name, k.tag_list])).toEqual([
      ["3_0", ["violence"]],
      ["3_2", ["terror"]],
    ]);
    expect(r.kept[1]!.precision.terror).toBe(1);
    expect(r.kept[1]!.recall.terror).toBe(0.5);
    expect(r.keptPerDomain).toEqual({ pornography: 0, politics: 0, violence: 1, terror: 1 });
    // A stricter recall drops f2; a threshold above 1 drops f0 and f1.
    expect(precisionRecallFilter(V, labels, 4, { minRecall: 0.6 }).kept.map((k) => k.index)).toEqual([0]);
    expect(precisionRecallFilter(V, labels, 4, { threshold: 1.5, minRecall: 0.5 }).kept.map((k) => k.index)).toEqual([2]);
    expect(() => precisionRecallFilter(V.slice(1), labels, 4)).toThrow(/23 activations for 6 samples x 4 features/);
  });
});
