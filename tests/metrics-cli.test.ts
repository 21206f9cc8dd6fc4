// `safesail metrics` and `safesail filter` as users run them, on the committed data files (a slice) and a
// random tiny model; their JSON equals the library's report; bad arguments are named.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readDomainCorpus } from "../src/data/domain-corpus.ts";
import { contrastiveMetrics } from "../src/metrics/evaluate.ts";
import { filterSafetyFeatures } from "../src/metrics/filter.ts";
import { readPairs } from "../src/data/pairs.ts";
import { createRandomModel } from "../src/model/random.ts";
import { loadModel } from "../src/model/runtime.ts";
import { createSae } from "../src/sae/sae.ts";
import { loadSae, saveSae } from "../src/sae/saelens.ts";
import { runCli } from "./helpers/cli.ts";

const DATA = resolve(import.meta.dirname, "../data");
const root = mkdtempSync(join(tmpdir(), "safesail-metrics-cli-"));
const modelDir = join(root, "model");
const saeDir = join(root, "sae");
const pairsFile = join(root, "pairs.jsonl");
const corpusFile = join(root, "domain.jsonl");

const run = runCli;

/** Every n-th line of a committed JSONL file (all domains and languages represented). */
function slice(file: string, every: number): string {
  return readFileSync(file, "utf8").split("\n").filter((l, i) => l !== "" && i % every === 0).join("\n") + "\n";
}

beforeAll(async () => {
  await createRandomModel(modelDir, { architecture: "Qwen2ForCausalLM", hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64, vocab: 300, seed: 12 });
  await saveSae(saeDir, createSae({ dIn: 32, expansion: 4, k: 4, hookName: "blocks.1.hook_mlp_out" }, { seed: 2 }));
  writeFileSync(pairsFile, slice(join(DATA, "contrastive-pairs.jsonl"), 24));
  writeFileSync(corpusFile, slice(join(DATA, "domain-corpus.jsonl"), 25));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("safesail metrics / filter", () => {
  it("metrics --json equals contrastiveMetrics on the same inputs; the table prints every concept", async () => {
    const r = await run(["metrics", "--sae", saeDir, "--model", modelDir, "--pairs", pairsFile, "--thresholds", "0,0.5", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const cli = JSON.parse(r.stdout);
    const model = await loadModel(modelDir);
    const lib = await contrastiveMetrics(model, await loadSae(saeDir), await readPairs(pairsFile), { thresholds: [0, 0.5] });
    await model.dispose();
    expect(cli).toEqual(JSON.parse(JSON.stringify(lib)));
    expect(Object.keys(cli.domains).sort()).toEqual(["politics", "pornography", "terror", "violence"]);
    const text = await run(["metrics", "--sae", saeDir, "--model", modelDir, "--pairs", pairsFile]);
    expect(text.code, text.stderr).toBe(0);
    // Whole labels (the table used to cut them at 33 characters, mid-word).
    for (const c of lib.concepts) expect(text.stdout).toContain(`${c.domain}/${c.concept} (${c.pairs}) `);
    expect(text.stdout).toContain("thresholds t on the normalised scale (pooled activation / each feature's 0.999-quantile");
    expect(cli.normalisation).toMatchObject({ scale: "normalised", quantile: 0.999 });
    const noHook = await run(["metrics", "--raw", "--model", modelDir, "--pairs", pairsFile, "--json"]);
    expect(noHook.code).toBe(1);
    expect(noHook.stderr).toMatch(/no hook given/);
    const raw = await run(["metrics", "--raw", "--hook", "blocks.0.hook_resid_post", "--model", modelDir, "--pairs", pairsFile, "--json"]);
    expect(raw.code, raw.stderr).toBe(0);
    expect(JSON.parse(raw.stdout)).toMatchObject({ basis: "raw", features: 32, hookName: "blocks.0.hook_resid_post" });
  }, 120_000);

  it("filter --json equals filterSafetyFeatures", async () => {
    const r = await run(["filter", "--sae", saeDir, "--model", modelDir, "--corpus", corpusFile, "--min-precision", "0.3", "--min-recall", "0.05", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const model = await loadModel(modelDir);
    const lib = await filterSafetyFeatures(model, await loadSae(saeDir), await readDomainCorpus(corpusFile), { minPrecision: 0.3, minRecall: 0.05 });
    await model.dispose();
    const json = JSON.parse(r.stdout);
    expect(json).toEqual(JSON.parse(JSON.stringify(lib)));
    // The threshold is "auto" by default: chosen on the calibration half, figures on the evaluation half, and the
    // JSON says which threshold, on what scale, and how it was chosen.
    expect(json.threshold).toMatchObject({ chosen: "auto", normalisation: { scale: "normalised", quantile: 0.999, populationSize: 80 }, grid: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], seed: 0 });
    expect(json.threshold.grid).toContain(json.threshold.value);
    expect(json.options.threshold).toBe(json.threshold.value);
    expect(json.threshold.calibration.samples + json.threshold.evaluation.samples).toBe(80);
    expect(lib.samples).toBe(json.threshold.evaluation.samples);
    const text = await run(["filter", "--sae", saeDir, "--model", modelDir, "--corpus", corpusFile, "--threshold", "0.5", "--quantile", "0.99", "--min-precision", "1", "--min-recall", "1"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("firing threshold 0.5 on the normalised scale (pooled activation / the feature's 0.99-quantile of |pooled activation| over the 80 samples), as given");
    expect(text.stdout).toMatch(/^0 of 128 features kept .*; 80 samples$/m);
    expect(text.stdout).toMatch(/^caveat: No feature kept: none has precision >= 1 and recall >= 1 for a domain at threshold 0\.5 on the 80 samples measured\./m);
    const fixed = JSON.parse((await run(["filter", "--sae", saeDir, "--model", modelDir, "--corpus", corpusFile, "--threshold", "0.5", "--json"])).stdout);
    expect(fixed.threshold).toEqual({ value: 0.5, chosen: "fixed", normalisation: { scale: "normalised", quantile: 0.999, population: "every sample given to the filter (labels unused)", populationSize: 80 } });
    const auto = await run(["filter", "--sae", saeDir, "--model", modelDir, "--corpus", corpusFile, "--threshold", "auto"]);
    expect(auto.stdout).toMatch(/chosen automatically: the grid value that keeps the most features .* ties -> the larger threshold \(grid 0\.1, 0\.2, .*, 0\.9; seed 0; calibration \d+ samples\); figures on the evaluation half \(\d+ samples\)/);
    expect(auto.stdout).toMatch(/^calibration half, features kept per threshold: 0\.1: \d+, 0\.2: \d+/m);
  }, 120_000);

  it("names bad arguments and files", async () => {
    let r = await run(["metrics", "--sae", saeDir, "--model", modelDir]);
    expect(r.stderr).toContain("--pairs is required");
    r = await run(["metrics", "--sae", saeDir, "--model", modelDir, "--pairs", pairsFile, "--thresholds", "0,x"]);
    expect(r.stderr).toContain('--thresholds must be comma-separated numbers, got "0,x" (bad item "x")');
    r = await run(["filter", "--sae", saeDir, "--model", modelDir, "--corpus", corpusFile, "--min-recall", "2"]);
    expect(r.stderr).toContain('--min-recall must be a number in [0, 1], got "2"');
    r = await run(["filter", "--sae", saeDir, "--model", modelDir, "--corpus", corpusFile, "--threshold", "high"]);
    expect(r.stderr).toContain('--threshold must be "auto" or a number, got "high"');
    r = await run(["filter", "--sae", saeDir, "--model", modelDir, "--corpus", corpusFile, "--quantile", "0"]);
    expect(r.stderr).toContain("--quantile must be");
    writeFileSync(join(root, "bad.jsonl"), '{"id": "x", "lang": "en"}\n');
    r = await run(["metrics", "--sae", saeDir, "--model", modelDir, "--pairs", join(root, "bad.jsonl")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.jsonl:1/);
  }, 60_000);
});
