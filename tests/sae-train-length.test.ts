// trainSae's length and its refusals (issue 11): an unfinished store is refused by name unless allowed; the default
// length and its warnings (still falling fast, many epochs); a finished run extended by more steps; refusals name
// the differing field; overwrite starts over.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ArgumentError, ConfigError } from "../src/errors.ts";
import { TRAIN_DEFAULTS, trainingWarnings, trainSae, type SaeStepRecord } from "../src/sae/train.ts";
import { memorySource, syntheticActivations } from "./helpers/synthetic-acts.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-sae-length-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const d = 8;
const { data } = syntheticActivations({ d, features: 16, active: 2, rows: 512, seed: 4 });
const common = { k: 2, expansion: 2, batchSize: 64, seed: 1, checkpointEvery: 50 };

describe("unfinished stores", () => {
  const unfinished = { ...memorySource(data, d), dataset: "/work/acts", completeness: { complete: false, documents: 1100, corpusDocuments: 1200, chunks: 3, tokens: 512 } };

  it("refuses one naming the store and what is missing", async () => {
    const err = await trainSae(unfinished, { ...common, steps: 2 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as Error).message).toBe(
      "trainSae: the activation store /work/acts is unfinished (manifest complete: false; its harvest stopped part-way: 1100 of the corpus's 1200 documents, 3 chunks (512 tokens) so far); rerun the same harvest command to finish it, or pass allowIncomplete: true (--allow-incomplete) to train on what is there",
    );
  });

  it("trains on it when allowed, with a warning", async () => {
    const run = await trainSae(unfinished, { ...common, steps: 2, allowIncomplete: true });
    expect(run.steps).toBe(2);
    expect(run.warnings).toContain("trained on an unfinished activation store /work/acts (its harvest stopped part-way: 1100 of the corpus's 1200 documents, 3 chunks (512 tokens) so far)");
  });
});

describe("length and warnings", () => {
  const rec = (step: number, fvu: number): SaeStepRecord => ({ step, lr: 1e-3, mse: fvu, fvu, aux: 0, l0: 2, deadFraction: 0 });

  it("warns when the mean FVU of the last 10% of steps is more than 5% below the 10% before, and past 10 epochs", () => {
    // 100 steps: the last 10 average 0.5, the 10 before 0.6 (a 16.7% drop).
    const falling = Array.from({ length: 100 }, (_, i) => rec(i + 1, i >= 90 ? 0.5 : 0.6));
    expect(trainingWarnings(falling, 1, 1000)).toEqual([
      "the loss is still falling fast: mean FVU 0.5000 over the last 10 steps is 16.7% below the 0.6000 of the 10 before (warned above 5%); train longer (more steps extend this run from its checkpoint)",
    ]);
    const flat = Array.from({ length: 100 }, (_, i) => rec(i + 1, i >= 90 ? 0.59 : 0.6));
    expect(trainingWarnings(flat, 1, 1000)).toEqual([]);
    expect(trainingWarnings(falling.slice(0, 19), 1, 1000)).toEqual([]); // too short to judge
    expect(trainingWarnings(flat, 38.4, 27000)).toEqual([
      "training passed over the 27000 rows of its source 38.4 times (epochs; warned above 10): the SAE may fit this small sample rather than the model's activations; harvest more tokens",
    ]);
  });

  it("defaults to max(one pass, minSteps) steps and reports the epochs and warnings", async () => {
    expect(TRAIN_DEFAULTS.minSteps).toBe(1000);
    // 512 rows at batch 256: one pass is 2 steps; the default is 1000 steps = 500 epochs, warned.
    const run = await trainSae(memorySource(data, d), { k: 2, expansion: 2, batchSize: 256, seed: 1 });
    expect(run.totalSteps).toBe(1000);
    expect(run.steps).toBe(1000);
    expect(run.epochs).toBe(500);
    expect(run.warnings.some((w) => w.startsWith("training passed over the 512 rows of its source 500.0 times (epochs"))).toBe(true);
  }, 60_000);

  it("puts the rule's warnings in the result", async () => {
    const run = await trainSae(memorySource(data, d), { ...common, steps: 24, lr: 3e-4 });
    expect(run.epochs).toBe(3);
    expect(run.warnings).toEqual(trainingWarnings(run.history, 3, 512));
  });
});

describe("extending and restarting", () => {
  it("extends a finished 200-step run to 300 from its checkpoint, with a re-warmup then the new total's decay", async () => {
    const out = join(root, "extend");
    const first = await trainSae(memorySource(data, d), { ...common, steps: 200, out });
    expect(first.steps).toBe(200);
    const more = await trainSae(memorySource(data, d), { ...common, steps: 300, out });
    expect(more.resumedFrom).toBe(200);
    expect(more.steps).toBe(300);
    expect(more.totalSteps).toBe(300);
    expect(more.history).toHaveLength(300);
    expect(more.history.slice(0, 200)).toEqual(first.history);
    // warmup = 1% of the first run's 200 steps = 2: the rate climbs back over 2 steps, then the peak until the
    // last 20% of 300 (steps 241..300) decay linearly to 0.
    const lr = (s: number) => more.history[s - 1]!.lr;
    expect(lr(201)).toBeCloseTo(5e-4, 12);
    expect(lr(202)).toBeCloseTo(1e-3, 12);
    expect(lr(240)).toBeCloseTo(1e-3, 12);
    expect(lr(241)).toBeCloseTo((1e-3 * 60) / 61, 12);
    expect(lr(300)).toBeCloseTo(1e-3 / 61, 12);
    const cfg = JSON.parse(readFileSync(join(out, "cfg.json"), "utf8"));
    expect(cfg).toBeTruthy();
    const state = JSON.parse(readFileSync(join(out, "checkpoint", "state.json"), "utf8"));
    expect(state).toMatchObject({ step: 300, totalSteps: 300, plannedSteps: 200, rewarmFrom: 200 });
    expect(state.fingerprint.totalSteps).toBeUndefined();
    // Rerunning the extension changes nothing; fewer steps than the checkpoint holds are refused naming steps.
    const again = await trainSae(memorySource(data, d), { ...common, steps: 300, out });
    expect(again.resumedFrom).toBe(300);
    expect(Buffer.from(again.sae.params.W_dec.buffer).equals(Buffer.from(more.sae.params.W_dec.buffer))).toBe(true);
    const err = await trainSae(memorySource(data, d), { ...common, steps: 250, out }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe("steps");
    expect((err as Error).message).toContain("cannot resume: the saved run is at step 300, past the 250 steps asked for (steps: was 300, now 250); ask for at least 300 steps");
    // Other settings are refused naming the field, the total not among them.
    await expect(trainSae(memorySource(data, d), { ...common, steps: 400, lr: 2e-3, out })).rejects.toThrow(/cannot resume: the saved run has other settings \(lr: was 0\.001, now 0\.002; hyper\.lr: was 0\.001, now 0\.002\); use another output folder, or overwrite: true \(--overwrite\) to start over/);
  }, 60_000);

  it("overwrite starts over from step 0", async () => {
    const out = join(root, "overwrite");
    await trainSae(memorySource(data, d), { ...common, steps: 4, out });
    const run = await trainSae(memorySource(data, d), { ...common, steps: 6, lr: 2e-3, out, overwrite: true });
    expect(run.resumedFrom).toBe(0);
    expect(run.history).toHaveLength(6);
  });
});
