// Resume checks, one way for every long job (util/resume.ts): the settings diff names each differing field, and a
// saved state that cannot be read is an error naming the file, never a silent restart from step 0.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, FormatError } from "../src/errors.ts";
import { trainSae } from "../src/sae/train.ts";
import { checkSettings, readStateFile, settingsDiff } from "../src/util/resume.ts";
import { memorySource, syntheticActivations } from "./helpers/synthetic-acts.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-resume-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("settings diff", () => {
  it("names every field that differs, nested ones by their path", () => {
    expect(settingsDiff({ k: 16, lr: 1e-3, hyper: { beta1: 0.9, eps: 1e-8 }, seed: 0 }, { k: 32, lr: 1e-3, hyper: { beta1: 0.8, eps: 1e-8 }, extra: true })).toEqual([
      "k: was 16, now 32",
      "hyper.beta1: was 0.9, now 0.8",
      "seed: was 0, now unset",
      "extra: was unset, now true",
    ]);
    expect(settingsDiff({ layers: [0, 1] }, { layers: [0, 1] })).toEqual([]);
    expect(settingsDiff({ layers: [0, 1] }, { layers: [1] })).toEqual(["layers: was [0,1], now [1]"]);
  });

  it("throws the caller's error naming the file, the fields and what to do", () => {
    const err = (() => {
      try {
        checkSettings({ k: 16, batch: 64 }, { k: 32, batch: 128 }, { file: "/x/state.json", advice: "use another --out", error: ConfigError });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toBe("/x/state.json: cannot resume: the saved run has other settings (k: was 16, now 32; batch: was 64, now 128); use another --out");
    expect(err!.field).toBe("k");
    expect(err!.file).toBe("/x/state.json");
  });

  it("reads a state file: absent is null, corrupt or not an object is an error naming the file", async () => {
    expect(await readStateFile(join(root, "none.json"), "start over")).toBeNull();
    const bad = join(root, "bad.json");
    writeFileSync(bad, '{"step": 12, "tens');
    await expect(readStateFile(bad, "remove it")).rejects.toThrow(new RegExp(`^${bad.replace(/[.]/g, "\\.")}: the saved state is corrupt \\(.*\\); remove it$`));
    writeFileSync(bad, "[1, 2]");
    await expect(readStateFile(bad, "remove it")).rejects.toThrow(/the saved state is corrupt \(expected a JSON object, got \[1,2\]\)/);
    const dir = join(root, "a-folder.json");
    mkdirSync(dir);
    await expect(readStateFile(dir, "remove it")).rejects.toBeInstanceOf(FormatError);
  });
});

describe("trainSae resume", () => {
  const { data } = syntheticActivations({ d: 8, features: 16, active: 2, rows: 512, seed: 4 });
  const common = { k: 2, expansion: 2, batchSize: 64, steps: 6, checkpointEvery: 2, seed: 1 };

  it("refuses a corrupt checkpoint by name instead of starting again from step 0", async () => {
    const out = join(root, "sae-corrupt");
    await trainSae(memorySource(data, 8), { ...common, out });
    const state = join(out, "checkpoint", "state.json");
    writeFileSync(state, readFileSync(state, "utf8").slice(0, 40));
    const err = await trainSae(memorySource(data, 8), { ...common, out }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toContain(`${state}: the saved state is corrupt`);
  });

  it("names the setting that differs", async () => {
    const out = join(root, "sae-diff");
    await trainSae(memorySource(data, 8), { ...common, out });
    await expect(trainSae(memorySource(data, 8), { ...common, k: 3, out })).rejects.toThrow(/cannot resume: the saved run has other settings \(k: was 2, now 3\)/);
  });
});
