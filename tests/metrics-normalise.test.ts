// Thresholds on the normalised scale (docs/metrics.md): per-feature quantile scales against numpy, the filter's
// automatic threshold on a case whose answer is known, its caveat when nothing is kept, and L0,t curves that move
// where raw thresholds were flat. All on hand-built matrices.
import { describe, expect, it } from "vitest";
import { metricsTable } from "../src/cli/metrics.ts";
import { contrastiveReport, DEFAULT_THRESHOLDS } from "../src/metrics/evaluate.ts";
import type { PooledFeatures } from "../src/metrics/features.ts";
import { AUTO_THRESHOLD_RULE, chooseThreshold, describeThreshold, filterMatrix, FILTER_THRESHOLD_GRID, splitHalves } from "../src/metrics/filter.ts";
import { featureScales, normaliseByScales, quantileSorted } from "../src/metrics/normalise.ts";

describe("normalised activations", () => {
  // 6 queries x 5 features.
  //   f0: 0..4 and 9     f1: never fires     f2: a raw dimension with negative values
  //   f3: fires on one query of six (0.5)    f4: one large value (7)
  const V = [
    [0, 0, -4, 0.5, 7],
    [1, 0, 0, 0, 0],
    [2, 0, 1, 0, 0],
    [3, 0, 2, 0, 0],
    [4, 0, 3, 0, 0],
    [9, 0, -1, 0, 0],
  ].flat();
  // Independent: numpy.quantile(np.abs(V), q, axis=0, method="linear") (numpy 2.4.6), pasted.
  const NUMPY: Record<string, number[]> = {
    "0.5": [2.5, 0.0, 1.5, 0.0, 0.0],
    "0.9": [6.5, 0.0, 3.5, 0.25, 3.5],
    "0.999": [8.975000000000001, 0.0, 3.995, 0.49750000000000005, 6.965000000000001],
    "1": [9.0, 0.0, 4.0, 0.5, 7.0],
  };

  it("the per-feature scale is the q-quantile of |a| over the queries, as numpy's linear method", () => {
    for (const [q, want] of Object.entries(NUMPY)) {
      const got = Array.from(featureScales(V, 6, 5, Number(q)));
      got.forEach((g, j) => expect(g, `q ${q}, feature ${j}`).toBeCloseTo(want[j]!, 12));
    }
    expect(quantileSorted([5], 0.999)).toBe(5);
    expect(() => featureScales(V, 6, 5, 0)).toThrow(/quantile/);
    expect(() => featureScales(V, 6, 5, 1.5)).toThrow(/quantile/);
    expect(() => featureScales(V.slice(1), 6, 5)).toThrow(/29 values for 6 queries x 5 features/);
  });

  it("divides by the scale, keeps the sign of raw dimensions, and a zero scale never fires", () => {
    const s = featureScales(V, 6, 5, 0.999);
    const N = normaliseByScales(V, 6, 5, s);
    expect(N[5 * 5 + 0]).toBeCloseTo(9 / 8.975, 6); // above 1: the top 0.1% may exceed the quantile
    expect(N[0 * 5 + 2]).toBeCloseTo(-4 / 3.995, 6);
    expect(N[0 * 5 + 3]).toBeCloseTo(0.5 / 0.4975, 6);
    for (let r = 0; r < 6; r++) expect(N[r * 5 + 1]).toBe(0);
    // At q = 0.5 feature 3 (fires on 1 query of 6) has scale 0: it is 0 everywhere, so it never fires.
    const half = normaliseByScales(V, 6, 5, featureScales(V, 6, 5, 0.5));
    for (let r = 0; r < 6; r++) expect(half[r * 5 + 3]).toBe(0);
  });
});

// 8 samples per domain label x 2 languages; 3 features whose firing depends on the threshold (no normalisation:
// the values are the normalised scale already):
//   f0: 1 on violence, 0.45 on benign   -> kept (violence) for t >= 0.45:      0.5 .. 0.9
//   f1: 0.65 on terror, 0 elsewhere     -> kept (terror) for t < 0.65:         0.1 .. 0.6
//   f2: 0.75 on politics, 0.12 benign   -> kept (politics) for 0.12 <= t < 0.75: 0.2 .. 0.7
// Kept per grid value 0.1 .. 0.9: 1, 2, 2, 2, 3, 3, 2, 1, 1 -> the most (3) at 0.5 and 0.6; ties -> 0.6.
const DOMAINS = ["violence", "terror", "politics", "benign"] as const;
const ROW: Record<string, number[]> = { violence: [1, 0, 0], terror: [0, 0.65, 0], politics: [0, 0, 0.75], benign: [0.45, 0, 0.12] };
const samples = ["en", "zh"].flatMap((lang) => DOMAINS.flatMap((domain) => Array.from({ length: 8 }, () => ({ lang, domain }))));
const values = samples.flatMap((s) => ROW[s.domain]!);
const opts = { minPrecision: 0.6, minRecall: 0.2, domains: ["violence", "terror", "politics"] };

describe("the filter's automatic threshold", () => {
  it("picks the grid value keeping the most features, ties to the larger", () => {
    const r = chooseThreshold(values, samples.map((s) => s.domain), 3, FILTER_THRESHOLD_GRID, opts);
    expect(r.keptByThreshold.map((k) => k.features)).toEqual([1, 2, 2, 2, 3, 3, 2, 1, 1]);
    expect(r.threshold).toBe(0.6);
  });

  it("splits each language x domain stratum in halves, deterministically by seed", () => {
    const a = splitHalves(samples, 0);
    expect(a.calibration).toHaveLength(32);
    expect(a.evaluation).toHaveLength(32);
    expect(new Set([...a.calibration, ...a.evaluation]).size).toBe(64);
    for (const lang of ["en", "zh"]) for (const d of DOMAINS) expect(a.calibration.filter((i) => samples[i]!.lang === lang && samples[i]!.domain === d)).toHaveLength(4);
    expect(splitHalves(samples, 0)).toEqual(a);
    expect(splitHalves(samples, 1)).not.toEqual(a);
    // Odd strata: the calibration half gets ceil(n/2).
    expect(splitHalves([{ domain: "terror" }, { domain: "terror" }, { domain: "terror" }]).calibration).toHaveLength(2);
  });

  it("chooses on the calibration half and reports the evaluation half, naming the threshold and how it was chosen", () => {
    const r = filterMatrix(values, samples, 3, { ...opts, normalise: false });
    expect(r.threshold).toMatchObject({ value: 0.6, chosen: "auto", rule: AUTO_THRESHOLD_RULE, grid: [...FILTER_THRESHOLD_GRID], seed: 0, normalisation: { scale: "raw" } });
    expect(r.threshold.calibration).toEqual({ samples: 32, keptByThreshold: [1, 2, 2, 2, 3, 3, 2, 1, 1].map((n, i) => ({ t: FILTER_THRESHOLD_GRID[i], features: n })) });
    expect(r.threshold.evaluation).toEqual({ samples: 32 });
    expect(r.samples).toBe(32);
    expect(r.samplesPerDomain).toEqual({ violence: 8, terror: 8, politics: 8, benign: 8 });
    expect(r.kept.map((k) => k.tag_list)).toEqual([["violence"], ["terror"], ["politics"]]);
    expect(r.options).toEqual({ minPrecision: 0.6, minRecall: 0.2, threshold: 0.6, quantile: null });
    expect(r.caveats).toEqual([]);
    expect(describeThreshold(r.threshold)).toContain("firing threshold 0.6 in raw activation units, chosen automatically");
    // Normalised (the default): every feature's max is reached on a quarter of the samples, so its 0.999-quantile is
    // that max: f1 and f2 become 1 where they fired, f2's benign 0.16; kept at 0.2 .. 0.9 (f0 from 0.5, f1 always).
    const n = filterMatrix(values, samples, 3, opts);
    expect(n.threshold.normalisation).toEqual({ scale: "normalised", quantile: 0.999, population: "every sample given to the filter (labels unused)", populationSize: 64 });
    expect(n.threshold.calibration!.keptByThreshold.map((k) => k.features)).toEqual([1, 2, 2, 2, 3, 3, 3, 3, 3]);
    expect(n.threshold.value).toBe(0.9);
    expect(describeThreshold(n.threshold)).toMatch(/^firing threshold 0\.9 on the normalised scale \(pooled activation \/ the feature's 0\.999-quantile of \|pooled activation\| over the 64 samples\), chosen automatically: /);
    // A number is used as given, on all samples.
    const fixed = filterMatrix(values, samples, 3, { ...opts, normalise: false, threshold: 0.3 });
    expect(fixed.threshold).toEqual({ value: 0.3, chosen: "fixed", normalisation: { scale: "raw" } });
    expect(fixed.samples).toBe(64);
    expect(fixed.kept.map((k) => k.index)).toEqual([1, 2]);
    expect(() => filterMatrix(values.slice(0, 3), samples.slice(0, 1), 3)).toThrow(/1 sample leaves one empty; give a number/);
  });
});

describe("the filter's caveat when nothing is kept", () => {
  // 4 violence + 4 benign samples; f0 fires on 2 of each at t < 0.5 but only on violence above (1 vs 0.5): p 0.5,
  // r 0.5 at t = 0; f1 fires on one violence sample: p 1, r 0.25.
  const labels = ["violence", "violence", "violence", "violence", "benign", "benign", "benign", "benign"];
  const V = [
    [1, 1],
    [1, 0],
    [0, 0],
    [0, 0],
    [0.5, 0],
    [0.5, 0],
    [0, 0],
    [0, 0],
  ].flat();
  const s = labels.map((domain) => ({ domain }));

  it("says why and which single changes keep some", () => {
    const r = filterMatrix(V, s, 2, { minPrecision: 0.6, minRecall: 0.3, threshold: 0, normalise: false });
    expect(r.kept).toEqual([]);
    expect(r.suggestions).toEqual({
      minPrecision: { value: 0.5, keeps: 1 },
      minRecall: { value: 0.25, keeps: 1 },
      thresholds: [0.5, 0.6, 0.7, 0.8, 0.9].map((t) => ({ t, keeps: 1 })),
    });
    expect(r.caveats).toEqual([
      "No feature kept: none has precision >= 0.6 and recall >= 0.3 for a domain at threshold 0 on the 8 samples measured. " +
        "Settings that keep some on these samples, one change at a time: min precision 0.5 (keeps 1 at recall >= 0.3); " +
        "min recall 0.25 (keeps 1 at precision >= 0.6); threshold 0.5 (keeps 1), 0.6 (keeps 1), 0.7 (keeps 1), 0.8 (keeps 1), 0.9 (keeps 1) at the same precision and recall.",
    ]);
    // Rounded down, the suggestions do keep what they say.
    expect(filterMatrix(V, s, 2, { minPrecision: 0.5, minRecall: 0.3, threshold: 0, normalise: false }).kept).toHaveLength(1);
  });

  it("says so when nothing fires at all", () => {
    const r = filterMatrix(V, s, 2, { threshold: 2, normalise: false });
    expect(r.caveats[0]).toMatch(/at threshold 2 on the 8 samples measured\. No feature fires above 2 on them at all\.$/);
  });

  it("a kept feature gives no caveat", () => {
    const r = filterMatrix(V, s, 2, { minPrecision: 0.6, minRecall: 0.25, threshold: 0, normalise: false });
    expect(r.kept).toHaveLength(1);
    expect(r.caveats).toEqual([]);
    expect(r.suggestions).toBeNull();
  });
});

// One concept, 4 pairs, 3 features, raw values that are above 2 whenever they fire (as latents at layer 3
// resid_post of a trained SAE): raw thresholds 0.5, 1, 2 all read the same.
//   f0: concept 30, twin 0                   -> distinguishes at every t
//   f1: concept 20, twin 10                  -> raw: never (the twin fires too); normalised (scale 20): twin 0.5,
//                                               so from t = 0.5 on
//   f2: concept 40 once and 10 three times, twin 0 -> normalised (scale 39.79): 1.005 and 0.251: every pair for
//                                               t < 0.25, then 1 of 4
function pooledOf(rows: number[][]): PooledFeatures {
  return { values: Float32Array.from(rows.flat()), queries: rows.length, features: rows[0]!.length, hookName: "blocks.3.hook_resid_post", basis: "sae" };
}
const pairs = [0, 1, 2, 3].map((i) => ({ domain: "politics", concept: "election manipulation", positive: `p${i}`, negative: `n${i}` }));
const pooled = pooledOf([
  [30, 20, 40], [0, 10, 0],
  [30, 20, 10], [0, 10, 0],
  [30, 20, 10], [0, 10, 0],
  [30, 20, 10], [0, 10, 0],
]);

describe("L0,t on the normalised scale", () => {
  it("moves where raw thresholds were flat", () => {
    const raw = contrastiveReport(pooled, pairs, { thresholds: [0.5, 1, 2], normalise: false });
    expect(raw.concepts[0]!.byThreshold.map((b) => b.l0)).toEqual([2, 2, 2]);
    expect(raw.concepts[0]!.byThreshold.map((b) => b.icdf)).toEqual([2 / 3, 2 / 3, 2 / 3]);
    expect(raw.normalisation).toEqual({ scale: "raw" });
    const r = contrastiveReport(pooled, pairs);
    expect(r.thresholds).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(r.thresholds).toEqual([...DEFAULT_THRESHOLDS]);
    expect(r.normalisation).toEqual({ scale: "normalised", quantile: 0.999, population: "every query of the pairs measured (both members of every pair)", populationSize: 8 });
    //            t: 0  .1  .2  .3  .4  .5  .6  .7  .8  .9
    expect(r.concepts[0]!.byThreshold.map((b) => b.l0)).toEqual([2, 2, 2, 1, 1, 2, 2, 2, 2, 2]);
    const icdf = r.concepts[0]!.byThreshold.map((b) => b.icdf);
    expect(icdf.map((x) => x * 12)).toEqual([8, 8, 8, 5, 5, 9, 9, 9, 9, 9].map((x) => expect.closeTo(x, 9)));
  });

  it("the text table prints whole labels and the scale", () => {
    const r = contrastiveReport(pooled, pairs);
    const lines = metricsTable(r);
    expect(lines[0]).toContain("thresholds t on the normalised scale (pooled activation / each feature's 0.999-quantile of |pooled activation| over the 8 queries of these pairs)");
    const label = "politics/election manipulation (4)";
    expect(label.length).toBeGreaterThan(33); // what the old table cut
    expect(lines.filter((l) => l.startsWith(`${label} `))).toHaveLength(2); // L0,t and I_CDF rows
    // Columns line up: the I_CDF block's header and rows have one length.
    const icdfBlock = lines.slice(lines.findIndex((l) => l.startsWith("I_CDF")) + 1);
    expect(icdfBlock).toHaveLength(4); // header, the concept, [politics], [all]
    expect(new Set(icdfBlock.map((l) => l.length)).size).toBe(1);
  });
});
