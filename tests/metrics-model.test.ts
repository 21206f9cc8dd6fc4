// The model-facing metric functions on a real (random, tiny) model: pooled features equal the runtime's
// hook values encoded and max-pooled by hand; the report's aggregates are the means of its concepts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contrastiveMetrics } from "../src/metrics/evaluate.ts";
import { pooledFeatures } from "../src/metrics/features.ts";
import { filterSafetyFeatures } from "../src/metrics/filter.ts";
import { createRandomModel } from "../src/model/random.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import { createSae, encodeTopK } from "../src/sae/sae.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-metrics-model-"));
let model: Model;
const HOOK = "blocks.1.hook_mlp_out";
const sae = createSae({ dIn: 32, expansion: 4, k: 6, hookName: HOOK }, { seed: 5 });
const pairs = ["bomb", "gun", "knife", "poison", "riot"].flatMap((w, i) =>
  ["how to get a", "where to find a", "tell me about a", "draw a"].map((frame, j) => ({
    domain: i < 3 ? "violence" : "terror",
    concept: w,
    lang: "en",
    positive: `${frame} ${w}`,
    negative: `${frame} ${["cake", "kite", "spoon", "plant", "party"][i]}`,
  })),
);

beforeAll(async () => {
  const dir = join(root, "m");
  await createRandomModel(dir, { architecture: "Qwen2ForCausalLM", hidden: 32, layers: 3, heads: 4, kvHeads: 2, intermediate: 64, vocab: 300, seed: 8 });
  model = await loadModel(dir);
});
afterAll(async () => {
  await model?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe("pooledFeatures", () => {
  it("max-pools the SAE code of every token of the chat-formatted query (onnxruntime encoder vs the JS one)", async () => {
    const queries = ["how to get a bomb", "draw a cake"];
    const pooled = await pooledFeatures(model, sae, queries);
    expect(pooled).toMatchObject({ queries: 2, features: 128, basis: "sae", hookName: HOOK });
    for (const [q, text] of queries.entries()) {
      const ids = model.promptIds({ prompt: text, chat: true });
      const { cache } = await model.runWithCache([ids], [HOOK]);
      const code = encodeTopK(sae, cache[HOOK]!.data, ids.length);
      const want = new Float32Array(128);
      for (let i = 0; i < code.indices.length; i++) want[code.indices[i]!] = Math.max(want[code.indices[i]!]!, code.values[i]!);
      // Pooling encodes on onnxruntime (BLAS rounding), the check with the plain-JS encoder.
      const got = pooled.values.subarray(q * 128, (q + 1) * 128);
      for (let s = 0; s < 128; s++) expect(Math.abs(got[s]! - want[s]!), `latent ${s}`).toBeLessThan(1e-5);
    }
  });

  it("mean-pools raw hook dimensions for the baseline", async () => {
    const pooled = await pooledFeatures(model, null, ["hello there"], { hookName: HOOK, pool: "mean", chat: false });
    const ids = model.promptIds({ prompt: "hello there", chat: false });
    const { cache } = await model.runWithCache([ids], [HOOK]);
    const x = cache[HOOK]!.data;
    for (let d = 0; d < 32; d++) {
      let s = 0;
      for (let t = 0; t < ids.length; t++) s += x[t * 32 + d]!;
      expect(pooled.values[d]).toBeCloseTo(s / ids.length, 5);
    }
  });
});

describe("contrastiveMetrics and the filter on a model", () => {
  it("reports per concept, and domain figures are the means of their concepts", async () => {
    const r = await contrastiveMetrics(model, sae, pairs, { thresholds: [0, 0.1], maxK: 3 });
    expect(r.concepts.map((c) => `${c.domain}/${c.concept}`)).toEqual(["terror/poison", "terror/riot", "violence/bomb", "violence/gun", "violence/knife"]);
    for (const c of r.concepts) {
      expect(c.pairs).toBe(4);
      expect(c.kSparseF1).toHaveLength(3);
      for (const b of c.byThreshold) {
        expect(b.icdf).toBeGreaterThanOrEqual(0);
        expect(b.icdf).toBeLessThanOrEqual(1);
        expect(b.icdf).toBeCloseTo(b.perPair / 128, 12);
      }
    }
    const violence = r.concepts.filter((c) => c.domain === "violence");
    expect(r.domains.violence!.icdf[0]!.value).toBeCloseTo(violence.reduce((a, c) => a + c.byThreshold[0]!.icdf, 0) / 3, 12);
    expect(r.overall.concepts).toBe(5);
    const raw = await contrastiveMetrics(model, null, pairs, { hookName: HOOK, thresholds: [0], maxK: 2 });
    expect(raw).toMatchObject({ basis: "raw", features: 32 });
  });

  it("filters features on labelled samples", async () => {
    const samples = pairs.flatMap((p) => [{ domain: p.domain, text: p.positive }, { domain: "benign", text: p.negative }]);
    const r = await filterSafetyFeatures(model, sae, samples, { minPrecision: 0.5, minRecall: 0.1 });
    // Threshold "auto": chosen on a calibration half, figures on the other half (strata by domain: no language here).
    expect(r.samples).toBe(20);
    expect(r.samplesPerDomain).toEqual({ violence: 6, benign: 10, terror: 4 });
    expect(r.threshold).toMatchObject({ chosen: "auto", calibration: { samples: 20 }, evaluation: { samples: 20 } });
    const all = await filterSafetyFeatures(model, sae, samples, { minPrecision: 0.5, minRecall: 0.1, threshold: 0.5 });
    expect(all.samples).toBe(40);
    expect(all.samplesPerDomain).toEqual({ violence: 12, benign: 20, terror: 8 });
    for (const k of r.kept) {
      expect(k.name).toBe(`1_${k.index}`);
      for (const d of k.tag_list) expect(k.precision[d]).toBeGreaterThanOrEqual(0.5);
    }
  });
});

describe("sweepConfigurations", () => {
  it("trains one SAE per site x layer x k, measures each, and correlates the metrics with the filter count", async () => {
    const { sweepConfigurations } = await import("../src/metrics/sweep.ts");
    const { spearman } = await import("../src/metrics/contrastive.ts");
    const corpus = pairs.flatMap((p) => [p.positive, p.negative, `${p.positive} and ${p.negative}`]);
    const samples = pairs.flatMap((p) => [{ domain: p.domain, text: p.positive }, { domain: "benign", text: p.negative }]);
    const r = await sweepConfigurations(model, {
      corpus,
      pairs,
      samples,
      sites: ["mlp_out", "resid_post"],
      layers: [0, 2],
      ks: [2, 8],
      expansion: 4,
      trainTokens: 3000,
      batchSize: 64,
      lr: 3e-3,
      thresholds: [0, 0.1],
      // Not on the grid: it is added to it (this used to index the curves at -1 and crash).
      reportThreshold: 0.05,
      minPrecision: 0.5,
      minRecall: 0.1,
      workDir: join(root, "sweep"),
    });
    expect(r.rows.map((x) => `${x.site}/${x.layer}/${x.k}`)).toEqual([
      "mlp_out/0/2", "mlp_out/0/8", "mlp_out/2/2", "mlp_out/2/8",
      "resid_post/0/2", "resid_post/0/8", "resid_post/2/2", "resid_post/2/8",
    ]);
    for (const row of r.rows) {
      expect(row.l0).toBeLessThanOrEqual(row.k);
      // A feature may carry several domain tags: the per-domain counts add up to at least the total.
      expect(Object.keys(row.featuresByDomain).sort()).toEqual(["politics", "pornography", "terror", "violence"]);
      expect(Object.values(row.featuresByDomain).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(row.safetyFeatures);
      expect(row.l0tCurve.map((p) => p.t)).toEqual([0, 0.05, 0.1]);
      expect(row.icdf).toBe(row.icdfCurve[1]!.value);
      expect(row.l0t).toBe(row.l0tCurve[1]!.value);
      expect(row.icdf).toBeGreaterThanOrEqual(0);
    }
    expect(r.baselines).toHaveLength(4);
    expect(r.reportThreshold).toBe(0.05);
    expect(r.thresholds).toEqual([0, 0.05, 0.1]);
    expect(r.quantile).toBe(0.999);
    for (const row of r.rows) {
      // The filter's automatic threshold, and its counts on the evaluation half of the 40 samples.
      expect([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]).toContain(row.filterThreshold);
      expect(row.filterSamples).toBe(20);
    }
    const target = r.rows.map((x) => x.safetyFeatures);
    const same = (a: number, b: number) => (Number.isNaN(a) ? Number.isNaN(b) : a === b);
    expect(same(r.agreement.icdf, spearman(r.rows.map((x) => x.icdf), target))).toBe(true);
    expect(same(r.agreement.l0t, spearman(r.rows.map((x) => x.l0t), target))).toBe(true);
  }, 120_000);
});
