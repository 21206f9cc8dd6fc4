// Sharded jobs through the real `safesail` binary (issue 17), several processes side by side on the embedded toy
// model, the shard of each read from a flag or from the environment a scheduler sets (a Slurm array task with an
// offset, a Kubernetes Indexed Job with SAFESAIL_SHARD_COUNT, SAFESAIL_SHARD), then merged and compared with the
// same job unsharded:
//   harvest --shard I/N -> harvest merge: the merged store is the unsharded one, byte for byte (chunks and manifest);
//   train-sae sweep --shard I/N -> train-sae merge: every configuration trained once, the index written;
//   explain / score --shard I/N -> db merge: the records are the unsharded run's.
// And the merges' refusals: a gap, an overlap, other settings, an incomplete shard, each naming the shard and field.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergeActivationShards } from "../src/activations/merge.ts";
import { openActivationStore } from "../src/activations/store.ts";
import { mergeFeatureDbShards } from "../src/db/shards.ts";
import { readFeatureDb } from "../src/db/store.ts";
import { indexSaeSweep } from "../src/sae/sweep.ts";
import { mulberry32 } from "../src/util/prng.ts";
import { writeTextObjectAtomic } from "../src/storage/object-store.ts";
import { runCli, type CliResult } from "./helpers/cli.ts";
import { startS3Server } from "./helpers/s3-server.ts";

const MODEL = resolve(import.meta.dirname, "../models/toy-safety-qwen2");
const root = mkdtempSync(join(tmpdir(), "safesail-shard-cli-"));
const corpus = join(root, "corpus.txt");
const whole = join(root, "whole");
const sharded = join(root, "sharded");
const sweep = join(root, "sweep");
// Small chunks and windows, documents cut at 24 tokens: chunks cross shard boundaries, windows restart, and the
// merge has to recompute windows, lines and truncation counts as the unsharded harvest records them.
const HARVEST = ["--corpus", corpus, "--layers", "1,2", "--chunk-tokens", "128", "--max-doc-tokens", "24", "--batch-tokens", "48"];
// No shard variables from the machine running the tests (a CI job inside a Slurm allocation, say).
const NO_ENV = { SAFESAIL_SHARD: "", SLURM_ARRAY_TASK_ID: "", JOB_COMPLETION_INDEX: "" };

const ok = (r: CliResult, what: string) => expect(r.code, `${what}: ${r.stderr}`).toBe(0);
const shardDir = (i: number) => join(sharded, `shard-000${i}-of-0003`);
const errorOf = async (p: Promise<unknown>): Promise<Error> => {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error");
};
/** Every file of a folder (not its sub-folders), name -> sha256. */
function folderBytes(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).filter((n) => statSync(join(dir, n)).isFile()).sort().map((n) => [n, createHash("sha256").update(readFileSync(join(dir, n))).digest("hex")]));
}
/** A copy of a shard store whose manifest `edit` changes. */
function editedCopy(from: string, to: string, edit: (m: Record<string, any>) => void): string {
  cpSync(from, to, { recursive: true });
  const file = join(to, "manifest.json");
  const m = JSON.parse(readFileSync(file, "utf8"));
  edit(m);
  writeFileSync(file, JSON.stringify(m, null, 2));
  return to;
}

beforeAll(() => {
  const words = ["the", "cat", "sat", "on", "a", "mat", "how", "do", "I", "make", "bread", "safety", "model", "weapons", "hello", "world"];
  const rand = mulberry32(17);
  const lines = Array.from({ length: 45 }, (_, i) => (i === 9 || i === 30 ? "" : Array.from({ length: 1 + Math.floor(rand() * 22) }, () => words[Math.floor(rand() * words.length)]).join(" ")));
  writeFileSync(corpus, lines.join("\n") + "\n");
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("sharded harvest", () => {
  it("three shard processes (--shard, Slurm array with an offset, Kubernetes Indexed Job) merge into the unsharded store, byte for byte", async () => {
    const [w, s0, s1, s2] = await Promise.all([
      runCli(["harvest", MODEL, ...HARVEST, "--out", whole, "--shard", "none"], { SAFESAIL_SHARD: "1/2" }),
      runCli(["harvest", MODEL, ...HARVEST, "--out", sharded, "--shard", "0/3", "--json"], NO_ENV),
      // --array=1-3: task ids 1..3 are shards 0..2.
      runCli(["harvest", MODEL, ...HARVEST, "--out", sharded, "--json"], { ...NO_ENV, SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "3", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "3" }),
      runCli(["harvest", MODEL, ...HARVEST, "--out", sharded, "--json"], { ...NO_ENV, JOB_COMPLETION_INDEX: "2", SAFESAIL_SHARD_COUNT: "3" }),
    ]);
    for (const [r, what] of [[w, "whole"], [s0, "shard 0"], [s1, "shard 1"], [s2, "shard 2"]] as const) ok(r, what);
    expect(s1.stderr).toContain("safesail harvest: shard 1/3 (from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT");
    expect(s2.stderr).toContain("safesail harvest: shard 2/3 (from JOB_COMPLETION_INDEX/SAFESAIL_SHARD_COUNT)");
    const ranges = [s0, s1, s2].map((r) => JSON.parse(r.stdout));
    expect(ranges.map((j) => j.out)).toEqual([0, 1, 2].map(shardDir));
    expect(ranges.map((j) => j.documents_range)).toEqual([[0, 15], [15, 30], [30, 45]]);

    const m = await runCli(["harvest", "merge", "--out", sharded, "--json"]);
    ok(m, "merge");
    expect(JSON.parse(m.stdout)).toMatchObject({ out: sharded, shards: 3 });
    // Every chunk and the manifest (model, corpus, per-chunk windows, lines and counts) as the unsharded harvest wrote them.
    const a = folderBytes(whole);
    expect(Object.keys(a).length).toBeGreaterThan(4);
    expect(folderBytes(sharded)).toEqual(a);
    const merged = await openActivationStore(sharded);
    expect(merged.complete).toBe(true);
    expect(merged.manifest.shard).toBeUndefined();
    await merged.verify();
    expect(merged.manifest.truncated_documents).toBeGreaterThan(0);
  }, 90_000);

  it("the merge refuses a gap, an overlap, another model or corpus, an incomplete shard; --max-tokens does not shard", async () => {
    const out = join(root, "merge-errors");
    const r = await runCli(["harvest", "merge", shardDir(0), shardDir(2), "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`safesail harvest: gap: shard 1/3 is missing (expected shard-0001-of-0003; have 0, 2 of 0..2); run the missing shard first`);

    const copy = join(root, "copy", "shard-0001-of-0003");
    mkdirSync(join(root, "copy"));
    cpSync(shardDir(1), copy, { recursive: true });
    expect((await errorOf(mergeActivationShards([shardDir(0), shardDir(1), copy, shardDir(2)], { out }))).message).toBe(`overlap: ${shardDir(1)} and ${copy} are both shard 1/3; give each shard once`);

    const otherModel = editedCopy(shardDir(1), join(root, "other-model", "shard-0001-of-0003"), (m) => (m.model.fingerprint = "0".repeat(64)));
    const e1 = await errorOf(mergeActivationShards([shardDir(0), otherModel, shardDir(2)], { out }));
    expect(e1.message).toMatch(new RegExp(`^${otherModel}: model\\.fingerprint is "0{64}", but "[0-9a-f]{64}" in ${shardDir(0)}: the shards of one store must share model`));
    const otherSettings = editedCopy(shardDir(2), join(root, "other-settings", "shard-0002-of-0003"), (m) => {
      m.corpus.sha256 = "1".repeat(64);
      m.options.batch_tokens = 99;
    });
    const e2 = await errorOf(mergeActivationShards([shardDir(0), shardDir(1), otherSettings], { out }));
    expect(e2.message).toContain(`${otherSettings}: corpus.sha256 is "${"1".repeat(64)}", but `);
    expect(e2.message).toContain("; options.batch_tokens is 99, but 48 in ");
    const incomplete = editedCopy(shardDir(1), join(root, "incomplete", "shard-0001-of-0003"), (m) => (m.complete = false));
    const e3 = await errorOf(mergeActivationShards([shardDir(0), incomplete, shardDir(2)], { out }));
    expect(e3.message).toMatch(new RegExp(`^${incomplete}: shard 1/3 is incomplete \\(manifest complete: false; \\d+ chunks, documents 15\\.\\.\\d+ of its 15\\.\\.29 harvested\\); rerun its harvest command to finish it$`));
    // The unsharded store is not overwritten by a merge unless asked.
    expect((await errorOf(mergeActivationShards([shardDir(0), shardDir(1), shardDir(2)], { out: whole }))).message).toContain(`out: ${whole} already holds an activation store (manifest.json); use --overwrite`);

    const t = await runCli(["harvest", MODEL, ...HARVEST, "--out", out, "--max-tokens", "100"], { ...NO_ENV, SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_COUNT: "2" });
    expect(t.code).toBe(1);
    expect(t.stderr).toContain("--max-tokens cannot be combined with a shard (0/2, from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT)");
    expect(t.stderr).toContain("or give --shard none to run unsharded");
  }, 60_000);
});

describe("sharded train-sae sweep", () => {
  it("two shard processes train disjoint configurations; train-sae merge checks them and writes the index", async () => {
    const args = ["train-sae", "--acts", sharded, "--layer", "1,2", "--k", "4,8", "--expansion", "2", "--steps", "6", "--batch", "64", "--out", sweep, "--json"];
    const [a, b] = await Promise.all([runCli([...args, "--shard", "0/2"], NO_ENV), runCli(args, { ...NO_ENV, SAFESAIL_SHARD: "1/2" })]);
    ok(a, "shard 0");
    ok(b, "shard 1");
    expect(JSON.parse(a.stdout).configs.map((c: { name: string }) => c.name)).toEqual(["blocks.1.hook_mlp_out-k4", "blocks.2.hook_mlp_out-k4"]);
    expect(JSON.parse(b.stdout).configs.map((c: { name: string }) => c.name)).toEqual(["blocks.1.hook_mlp_out-k8", "blocks.2.hook_mlp_out-k8"]);
    const m = await runCli(["train-sae", "merge", "--out", sweep, "--json"]);
    ok(m, "merge");
    const index = JSON.parse(m.stdout);
    expect(index).toMatchObject({ format: "safesail-sae-sweep", shards: 2, layers: [1, 2], ks: [4, 8], settings: { expansion: 2, steps: 6, batch_size: 64 } });
    expect(index.saes.map((s: { name: string; d_sae: number; steps: number }) => [s.name, s.d_sae, s.steps])).toEqual([
      ["blocks.1.hook_mlp_out-k4", 512, 6],
      ["blocks.1.hook_mlp_out-k8", 512, 6],
      ["blocks.2.hook_mlp_out-k4", 512, 6],
      ["blocks.2.hook_mlp_out-k8", 512, 6],
    ]);
    expect(JSON.parse(readFileSync(join(sweep, "sweep.json"), "utf8"))).toEqual(index);

    // Refusals, on copies: a shard that never finished, a shard with other settings, an unfinished SAE.
    const copy = (name: string) => {
      const dir = join(root, name);
      cpSync(sweep, dir, { recursive: true });
      rmSync(join(dir, "sweep.json"));
      return dir;
    };
    const gap = copy("sweep-gap");
    rmSync(join(gap, "shard-0001-of-0002.json"));
    expect((await errorOf(indexSaeSweep(gap))).message).toMatch(/^gap: shard 1\/2 is missing \(expected shard-0001-of-0002; have 0 of 0\.\.1\)/);
    const other = copy("sweep-other");
    const f = join(other, "shard-0001-of-0002.json");
    const shardFile = JSON.parse(readFileSync(f, "utf8"));
    shardFile.plan.settings.lr = 0.01;
    writeFileSync(f, JSON.stringify(shardFile));
    expect((await errorOf(indexSaeSweep(other))).message).toBe(`${f}: plan.settings.lr is 0.01, but null in ${join(other, "shard-0000-of-0002.json")}: the shards of one sweep must use the same store and settings`);
    const unfinished = copy("sweep-unfinished");
    const cfgFile = join(unfinished, "blocks.2.hook_mlp_out-k8", "cfg.json");
    const cfg = JSON.parse(readFileSync(cfgFile, "utf8"));
    cfg.training.steps = 3;
    writeFileSync(cfgFile, JSON.stringify(cfg));
    expect((await errorOf(indexSaeSweep(unfinished))).message).toBe(`${cfgFile}: unfinished: trained 3 of 6 steps; rerun its shard to finish it`);
  }, 60_000);
});

describe("sharded explain and score", () => {
  it("shard processes explain and score disjoint features; db merge gives the unsharded database's records", async () => {
    const examples = join(root, "examples");
    const features = Array.from({ length: 7 }, (_, i) => `2_${i * 70 + 5}`).join(",");
    ok(await runCli(["examples", "--sae", join(sweep, "blocks.2.hook_mlp_out-k8"), "--model", MODEL, "--corpus", corpus, "--out", examples, "--features", features]), "examples");
    const db = join(root, "db.json");
    const one = join(root, "one.json");
    const explain = (out: string) => ["explain", "--examples", examples, "--out", out, "--json"];
    const [u, e0, e1] = await Promise.all([runCli(explain(one), NO_ENV), runCli([...explain(db), "--shard", "0/2"], NO_ENV), runCli(explain(db), { ...NO_ENV, SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2" })]);
    for (const [r, what] of [[u, "unsharded"], [e0, "shard 0"], [e1, "shard 1"]] as const) ok(r, what);
    expect(JSON.parse(e0.stdout)).toMatchObject({ db: join(root, "db.shard-0000-of-0002.json"), shard: "0/2", features: 4 });
    expect(JSON.parse(e1.stdout)).toMatchObject({ db: join(root, "db.shard-0001-of-0002.json"), shard: "1/2", features: 3 });
    // Each shard's file scored in place (the shard comes from the file), the unsharded one as usual.
    const score = (file: string) => ["score", file, "--examples", examples, "--method", "all", "--json"];
    const shardFiles = [0, 1].map((i) => join(root, `db.shard-000${i}-of-0002.json`));
    const scored = await Promise.all([runCli(score(one), NO_ENV), ...shardFiles.map((f) => runCli(score(f), NO_ENV))]);
    scored.forEach((r, i) => ok(r, `score ${i}`));
    const m = await runCli(["db", "merge", "--out", db, "--json"]);
    ok(m, "db merge");
    expect(JSON.parse(m.stdout)).toMatchObject({ shards: 2, records: 7, updated: false, total: 7 });
    const merged = await readFeatureDb(db);
    const unsharded = await readFeatureDb(one);
    expect(merged.shard).toBeUndefined();
    expect(merged.records.map((r) => r.id)).toEqual(features.split(","));
    const byId = new Map(unsharded.records.map((r) => [r.id, r]));
    for (const r of merged.records) expect(r, r.id).toEqual(byId.get(r.id));

    // Refusals, naming the file and the field.
    const out = join(root, "refused.json");
    expect((await errorOf(mergeFeatureDbShards([shardFiles[0]!], { out }))).message).toMatch(/^gap: shard 1\/2 is missing/);
    const edited = (name: string, edit: (j: Record<string, any>) => void) => {
      const file = join(root, name, "db.shard-0001-of-0002.json");
      mkdirSync(join(root, name));
      const j = JSON.parse(readFileSync(shardFiles[1]!, "utf8"));
      edit(j);
      writeFileSync(file, JSON.stringify(j));
      return file;
    };
    const otherExplainer = edited("db-explainer", (j) => (j.shard.explain.explainer = "llm:other"));
    expect((await errorOf(mergeFeatureDbShards([shardFiles[0]!, otherExplainer], { out }))).message).toBe(
      `${otherExplainer}: explain.explainer is "llm:other", but "baseline:top-tokens" in ${shardFiles[0]}: every shard must be explained and scored with the same explainer, simulator and settings`,
    );
    const incomplete = edited("db-incomplete", (j) => (j.shard.score.complete = false));
    expect((await errorOf(mergeFeatureDbShards([shardFiles[0]!, incomplete], { out }))).message).toBe(
      `${incomplete}: shard 1/2 is incomplete: its score run stopped before the end (shard.score.complete is false); rerun it`,
    );
    const lost = edited("db-lost", (j) => j.records.pop());
    expect((await errorOf(mergeFeatureDbShards([shardFiles[0]!, lost], { out }))).message).toMatch(new RegExp(`^missing: ${lost} holds no record for 2_\\d+, one of its shard's features; rerun the shard$`));
    expect((await errorOf(mergeFeatureDbShards([shardFiles[0]!, shardFiles[1]!, lost], { out }))).message).toBe(`overlap: ${shardFiles[1]} and ${lost} are both shard 1/2; give each shard once`);

    // On object storage: the shard databases uploaded next to an s3:// target are found by listing and merged there.
    const s3 = await startS3Server(["shards"]);
    const env = { ...s3.env, SAFESAIL_CACHE: join(root, "s3-cache") };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      for (const f of shardFiles) await writeTextObjectAtomic(`s3://shards/run/${basename(f)}`, readFileSync(f, "utf8"));
      await writeTextObjectAtomic("s3://shards/run/unrelated.json", "{}");
      const r = await runCli(["db", "merge", "--out", "s3://shards/run/db.json", "--json"], { ...NO_ENV, ...env });
      ok(r, "db merge on s3");
      expect(JSON.parse(r.stdout)).toMatchObject({ db: "s3://shards/run/db.json", shards: 2, records: 7, updated: false, total: 7 });
      expect((await readFeatureDb("s3://shards/run/db.json")).records).toEqual(merged.records);
      const none = await runCli(["db", "merge", "--out", "s3://shards/other/db.json"], { ...NO_ENV, ...env });
      expect(none.code).not.toBe(0);
      expect(none.stderr).toContain("no shard databases next to s3://shards/other/db.json (db.shard-IIII-of-NNNN.json");
    } finally {
      for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
      await s3.close();
    }
  }, 90_000);
});
