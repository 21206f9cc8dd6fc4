// The SAE commands as users run them: harvest -> train-sae -> eval-sae on a real (random, tiny) model,
// real files, real processes; resume by rerunning; the eval JSON contract of the issue; named errors.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandomModel } from "../src/model/random.ts";
import { loadSae } from "../src/sae/saelens.ts";
import { mulberry32 } from "../src/util/prng.ts";
import { runCli } from "./helpers/cli.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-sae-cli-"));
const modelDir = join(root, "model");
const corpus = join(root, "corpus.txt");
const acts = join(root, "acts");

const run = runCli;

beforeAll(async () => {
  await createRandomModel(modelDir, { architecture: "Qwen2ForCausalLM", hidden: 32, layers: 3, heads: 4, kvHeads: 2, intermediate: 64, vocab: 300, seed: 6 });
  const words = ["safety", "the", "model", "refuses", "bread", "is", "baked", "at", "home", "weapons", "are", "dangerous", "hello"];
  const rand = mulberry32(3);
  const lines = Array.from({ length: 120 }, () => Array.from({ length: 4 + Math.floor(rand() * 12) }, () => words[Math.floor(rand() * words.length)]).join(" "));
  writeFileSync(corpus, lines.join("\n") + "\n");
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("harvest -> train-sae -> eval-sae", () => {
  it("trains an SAE on stored activations, resumes by rerunning, and evaluates it with the issue's JSON keys", async () => {
    let r = await run(["harvest", modelDir, "--corpus", corpus, "--layers", "1,2", "--site", "mlp_out", "--out", acts]);
    expect(r.code, r.stderr).toBe(0);

    const out = join(root, "sae-l1-k4");
    r = await run(["train-sae", "--acts", acts, "--layer", "1", "--k", "4", "--expansion", "4", "--steps", "40", "--batch", "64", "--lr", "0.003", "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ stop_reason: "done", steps: 40, total_steps: 40 });
    expect(summary.l0).toBeLessThanOrEqual(4);
    expect(summary.fvu).toBeLessThan(1);
    const sae = await loadSae(out);
    expect(sae.config).toMatchObject({ dIn: 32, dSae: 128, k: 4, hookName: "blocks.1.hook_mlp_out" });
    // Provenance came with the activations (the command names no hook or model): cfg.json records the hook, the
    // model folder and fingerprint, and the store, as SAELens's runner does.
    const cfg = JSON.parse(readFileSync(join(out, "cfg.json"), "utf8"));
    const manifest = JSON.parse(readFileSync(join(acts, "manifest.json"), "utf8"));
    expect(cfg).toMatchObject({ hook_name: "blocks.1.hook_mlp_out", hook_layer: 1, model_name: manifest.model.path, model_fingerprint: manifest.model.fingerprint, dataset_path: acts });
    expect(manifest.model.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    const weights = readFileSync(join(out, "sae_weights.safetensors"));
    // Rerunning the finished job resumes at step 40 and changes nothing.
    r = await run(["train-sae", "--acts", acts, "--layer", "1", "--k", "4", "--expansion", "4", "--steps", "40", "--batch", "64", "--lr", "0.003", "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, "sae_weights.safetensors")).equals(weights)).toBe(true);

    r = await run(["eval-sae", out, "--model", modelDir, "--corpus", corpus, "--max-docs", "10", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    for (const key of ["mse", "fvu", "explained_variance", "l0", "dead_fraction", "dense_fraction", "ce_loss_clean", "ce_loss_sae", "ce_loss_zero_ablation", "ce_loss_recovered", "kl_sae"]) {
      expect(typeof report[key], key).toBe("number");
      expect(Number.isFinite(report[key]), key).toBe(true);
    }
    expect(report.documents).toBe(10);
    expect(report.explained_variance).toBeCloseTo(1 - report.fvu, 10);
    expect(report.l0).toBeLessThanOrEqual(4);
  }, 120_000);

  it("refuses an unfinished store unless --allow-incomplete; --steps extends a finished run; --overwrite starts over (--fresh: deprecated alias)", async () => {
    // A harvest killed part-way leaves complete: false in its manifest.
    const partial = join(root, "acts-partial");
    cpSync(acts, partial, { recursive: true });
    const mf = join(partial, "manifest.json");
    const m = JSON.parse(readFileSync(mf, "utf8"));
    writeFileSync(mf, JSON.stringify({ ...m, complete: false }, null, 2));
    const out = join(root, "sae-partial");
    const base = ["train-sae", "--acts", partial, "--layer", "1", "--k", "4", "--expansion", "4", "--batch", "64", "--out", out];
    let r = await run([...base, "--steps", "20"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the activation store ${partial} is unfinished (manifest complete: false; its harvest stopped part-way: ${m.documents} of the corpus's ${m.corpus.documents} documents, ${m.chunks.length} chunk`);
    expect(r.stderr).toContain("--allow-incomplete");
    expect(existsSync(out)).toBe(false);
    r = await run([...base, "--steps", "20", "--allow-incomplete", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    let summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ steps: 20, total_steps: 20, resumed_from: 0 });
    expect(summary.epochs).toBeCloseTo((20 * 64) / m.tokens, 3);
    expect(summary.warnings[0]).toMatch(/^trained on an unfinished activation store/);
    expect(r.stderr).toContain("safesail train-sae: warning: trained on an unfinished activation store");
    // More steps extend the finished run from its checkpoint.
    r = await run([...base, "--steps", "30", "--allow-incomplete", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ steps: 30, total_steps: 30, resumed_from: 20 });
    // Another setting is refused naming the field and --overwrite.
    r = await run([...base, "--steps", "30", "--allow-incomplete", "--lr", "0.01"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot resume: the saved run has other settings (lr: was 0.001, now 0.01; hyper.lr: was 0.001, now 0.01); use another output folder, or overwrite: true (--overwrite) to start over");
    r = await run([...base, "--steps", "5", "--allow-incomplete", "--lr", "0.01", "--overwrite", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ steps: 5, resumed_from: 0 });
    r = await run([...base, "--steps", "5", "--allow-incomplete", "--fresh", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ steps: 5, resumed_from: 0 });
    expect(r.stderr).toContain("safesail train-sae: --fresh is deprecated and will be removed; it means --overwrite (start over)");
  }, 120_000);

  it("names missing or bad arguments and a missing store", async () => {
    let r = await run(["train-sae", "--acts", acts, "--layer", "1", "--out", join(root, "x")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--k is required");
    r = await run(["train-sae", "--acts", acts, "--layer", "1", "--k", "zero", "--out", join(root, "x")]);
    expect(r.stderr).toContain('--k must be a positive integer, got "zero"');
    r = await run(["train-sae", "--acts", join(root, "nowhere"), "--layer", "1", "--k", "4", "--out", join(root, "x")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nowhere/);
    r = await run(["eval-sae", join(root, "nowhere"), "--model", modelDir, "--corpus", corpus]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cfg\.json: not found/);
    expect(existsSync(join(root, "x"))).toBe(false);
  }, 60_000);
});
