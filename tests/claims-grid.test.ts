// The claims grid on a small grid: entries are written, resumed, assembled and read back, and the filter's counts
// and bootstrap agree with the filter itself.
import { existsSync, promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildClaimsGrid, CLAIMS_GRID, claimsGridIsCurrent, ClaimsGridStopped, gridConfigs, readClaimsGrid, type ClaimsGridSettings } from "../src/claims/grid.ts";
import { parseShard } from "../src/util/shard.ts";
import { bootstrapKeptCounts, precisionRecallFilter } from "../src/metrics/filter.ts";
import { mulberry32 } from "../src/util/prng.ts";

const SMALL: ClaimsGridSettings = {
  ...CLAIMS_GRID,
  sites: ["mlp_out"],
  layers: [1],
  ks: [8, 32],
  steps: 12,
  batchSize: 256,
  checkpointEvery: 6,
  bootstrap: 20,
  ceDocuments: 4,
  convergence: { factor: 2, configs: [{ site: "mlp_out", layer: 1, k: 8 }] },
  conversations: 120,
  heldOut: 12,
};

const work = path.join(os.tmpdir(), `claims-grid-${process.pid}`);
afterAll(() => fsp.rm(work, { recursive: true, force: true }));

describe("claims grid", () => {
  it("lists the configurations and splits them into shards with no gap and no overlap", () => {
    const all = gridConfigs();
    expect(all.length).toBe(3 * 4 * 6 + 3);
    const shards = [0, 1, 2].map((i) => gridConfigs({ index: i, count: 3 }));
    expect(shards.flat().length).toBe(all.length);
    expect(new Set(shards.flat().map((c) => `${c.site}${c.layer}${c.k}${c.steps}`)).size).toBe(all.length);
    expect(parseShard("1/4")).toEqual({ index: 1, count: 4 });
    expect(() => parseShard("4/4")).toThrow(/--shard must be I\/N/);
    expect(() => parseShard("x")).toThrow(/got "x"/);
  });

  it("builds a small grid in shards, assembles it, and a rerun reuses every entry", async () => {
    const out = path.join(work, "grid.json");
    const log: string[] = [];
    for (const index of [0, 1]) expect(await buildClaimsGrid({ grid: SMALL, work, out, shard: { index, count: 2 }, log: (l) => log.push(l) })).toBeNull();
    expect(existsSync(out)).toBe(false);
    const grid = (await buildClaimsGrid({ grid: SMALL, work, out, log: (l) => log.push(l) }))!;
    expect(grid.entries.map((e) => `${e.k}/${e.steps}`)).toEqual(["8/12", "32/12", "8/24"]);
    expect(log.filter((l) => /trained in/.test(l)).length).toBe(3); // the assembling run trained nothing again
    const read = await readClaimsGrid(out);
    expect(read.entries.length).toBe(3);
    for (const e of read.entries) {
      expect(e.heldout.tokens).toBeGreaterThan(0);
      expect(e.heldout.fvu).toBeGreaterThan(0);
      expect(e.heldout.ce.ce_loss_recovered).toBeLessThan(1.5);
      expect(e.concepts.length).toBe(16);
      expect(e.concepts[0]!.l0t.length).toBe(read.thresholds.length);
      expect(e.filter.evaluation.length).toBe(read.filterThresholds.length);
      expect(e.filter.replicates.every((r) => r.length === SMALL.bootstrap)).toBe(true);
      // Every kept feature is kept for at least one domain, so the per-domain counts add up to at least the total.
      read.filterThresholds.forEach((_, ti) => {
        const perDomain = Object.values(e.filter.evaluationPerDomain).reduce((a, v) => a + v[ti]!, 0);
        expect(perDomain).toBeGreaterThanOrEqual(e.filter.evaluation[ti]!);
      });
    }
    expect(read.data.calibration + read.data.evaluation).toBe(400);
    expect(read.missing).toEqual([]);

    // `claims build` uses a built file only while it answers for the present settings, model and data.
    expect(await claimsGridIsCurrent({ file: out, grid: SMALL })).toMatchObject({ current: true });
    expect(await claimsGridIsCurrent({ file: out, grid: { ...SMALL, ks: [8, 16] } })).toMatchObject({ current: false, reason: expect.stringMatching(/settings differ/) });
    const variant = async (name: string, edit: (g: Record<string, any>) => void) => {
      const g = JSON.parse(await fsp.readFile(out, "utf8")) as Record<string, any>;
      edit(g);
      const f = path.join(work, name);
      await fsp.writeFile(f, JSON.stringify(g));
      return claimsGridIsCurrent({ file: f, grid: SMALL });
    };
    expect(await variant("partial.json", (g) => g.missing.push("mlp_out-L1-k64-s12"))).toMatchObject({ current: false, reason: expect.stringMatching(/partial \(1 configuration/) });
    expect(await variant("model.json", (g) => (g.model.fingerprint = "0".repeat(64)))).toMatchObject({ current: false, reason: expect.stringMatching(/model\.fingerprint differs/) });
    expect(await variant("pairs.json", (g) => (g.data.pairs_sha256 = "0".repeat(64)))).toMatchObject({ current: false, reason: expect.stringMatching(/data\.pairs_sha256 differs/) });
    expect(await claimsGridIsCurrent({ file: path.join(work, "none.json"), grid: SMALL })).toMatchObject({ current: false, reason: expect.stringMatching(/does not exist/) });
  }, 600_000);

  it("finds the committed grid current, so that claims build on a fresh clone does not retrain it", async () => {
    expect(await claimsGridIsCurrent()).toEqual({ current: true, reason: "data/claims/toy-grid.json matches the grid settings, the model and the data" });
  });

  it("stops when asked, keeps what is measured, and resumes; a partial file lists what is missing", async () => {
    const w = path.join(work, "stop");
    const controller = new AbortController();
    const log: string[] = [];
    // Stopped in the middle of the second SAE's training: it checkpoints the step it stopped at, and the
    // seconds it trained are kept, so the finished entry's training time counts both parts.
    let armed = false;
    const progress = { start() {}, finish() {}, update(done: number) { if (armed && done >= 3) controller.abort(); } };
    const stopped = await buildClaimsGrid({ grid: SMALL, work: w, out: path.join(w, "grid.json"), signal: controller.signal, progress, log: (l) => {
      log.push(l);
      if (/trained in/.test(l)) armed = true;
    } }).catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(ClaimsGridStopped);
    expect((stopped as Error).message).toMatch(/stopped while training mlp_out-L1-k32-s12 at step [34] of 12/);
    expect(log.filter((l) => /trained in/.test(l)).length).toBe(1);
    const stoppedDir = (await fsp.readdir(path.join(w, "saes"))).find((d) => d.startsWith("mlp_out-L1-k32-s12-"))!;
    const firstPart = JSON.parse(await fsp.readFile(path.join(w, "saes", stoppedDir, "claims-timing.json"), "utf8")) as { seconds: number };
    expect(firstPart.seconds).toBeGreaterThan(0);
    const partial = (await buildClaimsGrid({ grid: SMALL, work: w, out: path.join(w, "partial.json"), assembleOnly: true, partial: true }))!;
    expect(partial.entries.length).toBe(1);
    expect(partial.missing).toEqual(["mlp_out-L1-k32-s12", "mlp_out-L1-k8-s24"]);
    await expect(buildClaimsGrid({ grid: SMALL, work: w, out: path.join(w, "x.json"), assembleOnly: true })).rejects.toThrow(/2 configuration\(s\) not built yet \(mlp_out-L1-k32-s12, mlp_out-L1-k8-s24\)/);
    const done = (await buildClaimsGrid({ grid: SMALL, work: w, out: path.join(w, "grid.json"), log: (l) => log.push(l) }))!;
    expect(done.entries.length).toBe(3);
    expect(log.filter((l) => /trained in/.test(l)).length).toBe(3);
    expect(done.entries.find((e) => e.k === 32)!.training.seconds).toBeGreaterThan(firstPart.seconds);
  }, 600_000);
});

describe("bootstrapKeptCounts", () => {
  const rng = mulberry32(7);
  const labels = Array.from({ length: 60 }, (_, i) => ["violence", "terror", "benign"][i % 3]!);
  const m = 40;
  const values = Float32Array.from({ length: 60 * m }, (_, x) => {
    const s = Math.floor(x / m);
    const j = x % m;
    // Features 0-9 fire mostly on violence, 10-19 on terror, the rest at random.
    const bias = (j < 10 && labels[s] === "violence") || (j >= 10 && j < 20 && labels[s] === "terror") ? 0.5 : 0;
    return rng() * 0.6 + bias;
  });

  it("with every resample the identity, equals the filter's count", () => {
    for (const t of [0.3, 0.5, 0.7]) {
      const expected = precisionRecallFilter(values, labels, m, { threshold: t }).kept.length;
      // A stratum of one sample resamples to itself.
      const counts = bootstrapKeptCounts(values, labels, m, { threshold: t, replicates: 3, strata: labels.map((_, i) => String(i)) });
      expect(counts).toEqual([expected, expected, expected]);
    }
  });

  it("varies around the count, is seeded, and keeps strata sizes", () => {
    const a = bootstrapKeptCounts(values, labels, m, { threshold: 0.5, replicates: 50, seed: 1 });
    const b = bootstrapKeptCounts(values, labels, m, { threshold: 0.5, replicates: 50, seed: 1 });
    expect(a).toEqual(b);
    expect(new Set(a).size).toBeGreaterThan(1);
    const full = precisionRecallFilter(values, labels, m, { threshold: 0.5 }).kept.length;
    const mean = a.reduce((x, y) => x + y, 0) / a.length;
    expect(Math.abs(mean - full)).toBeLessThan(5);
    expect(() => bootstrapKeptCounts(values, labels.slice(1), m, { threshold: 0.5, replicates: 2 })).toThrow(/activations for 59 samples/);
  });
});
