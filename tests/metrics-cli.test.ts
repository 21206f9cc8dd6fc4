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
    for (const c of lib.concepts) expect(text.stdout).toContain(`${c.domain}/${c.concept}`.slice(0, 33));
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
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(lib)));
    expect(lib.samples).toBe(80);
  }, 120_000);

  it("names bad arguments and files", async () => {
    let r = await run(["metrics", "--sae", saeDir, "--model", modelDir]);
    expect(r.stderr).toContain("--pairs is required");
    r = await run(["metrics", "--sae", saeDir, "--model", modelDir, "--pairs", pairsFile, "--thresholds", "0,x"]);
    expect(r.stderr).toContain('--thresholds must be comma-separated numbers, got "0,x" (bad item "x")');
    r = await run(["filter", "--sae", saeDir, "--model", modelDir, "--corpus", corpusFile, "--min-recall", "2"]);
    expect(r.stderr).toContain('--min-recall must be a number in [0, 1], got "2"');
    writeFileSync(join(root, "bad.jsonl"), '{"id": "x", "lang": "en"}\n');
    r = await run(["metrics", "--sae", saeDir, "--model", modelDir, "--pairs", join(root, "bad.jsonl")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.jsonl:1/);
  }, 60_000);
});
