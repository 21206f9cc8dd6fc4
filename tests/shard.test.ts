// One definition of a shard (src/util/shard.ts): "I/N" from the flag or the environment (Slurm job arrays, with
// offsets and steps; Kubernetes Indexed Jobs with the count the manifest sets), with errors naming the flag or
// variable; the splits (contiguous ranges for harvest, round robin for sweeps and features) and the set check every
// merge runs (no gap, no overlap). And a harvest split at its edges (more shards than documents, blank lines at
// shard boundaries, in-process). The commands as users run them: tests/shard-cli.test.ts.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { harvest } from "../src/activations/harvest.ts";
import { findShardDirs, mergeActivationShards } from "../src/activations/merge.ts";
import { ArgumentError } from "../src/errors.ts";
import { loadModel } from "../src/model/runtime.ts";
import { checkShardSet, parseShard, parseShardName, pickShard, resolveShard, shardFilePath, shardFilePattern, shardFromEnv, shardName, shardRange } from "../src/util/shard.ts";

const errorOf = (f: () => unknown): ArgumentError => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ArgumentError);
    return err as ArgumentError;
  }
  throw new Error("expected an ArgumentError");
};

describe("parseShard", () => {
  it("reads I/N with 0 <= I < N", () => {
    expect(parseShard("0/1")).toEqual({ index: 0, count: 1 });
    expect(parseShard("3/8")).toEqual({ index: 3, count: 8 });
    expect(parseShard(" 7 / 8 ")).toEqual({ index: 7, count: 8 });
  });

  it("refuses anything else, naming the flag or variable and the value", () => {
    expect(errorOf(() => parseShard("8/8")).message).toBe('--shard must be I/N with 0 <= I < N (e.g. 3/8), got "8/8" (I counts from 0: the last of 8 shards is 7/8)');
    expect(errorOf(() => parseShard("0/0")).message).toContain("(N must be at least 1)");
    for (const bad of ["x", "1", "-1/4", "1.5/4", "1/4/2", ""]) expect(errorOf(() => parseShard(bad)).message).toContain(`got ${JSON.stringify(bad)}`);
    const e = errorOf(() => parseShard("5/2", "environment variable SAFESAIL_SHARD"));
    expect(e.message).toMatch(/^environment variable SAFESAIL_SHARD must be I\/N/);
  });
});

describe("shardFromEnv / resolveShard", () => {
  it("reads Slurm job arrays: 0-based, with an offset (--array=1-8) or a step (--array=0-14:2)", () => {
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "8" })).toMatchObject({ index: 3, count: 8, source: "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT" });
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "8", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "8" })).toMatchObject({ index: 0, count: 8 });
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: "8", SLURM_ARRAY_TASK_COUNT: "8", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "8" })).toMatchObject({ index: 7, count: 8 });
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: "6", SLURM_ARRAY_TASK_COUNT: "8", SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_MAX: "14", SLURM_ARRAY_TASK_STEP: "2" })).toMatchObject({ index: 3, count: 8 });
  });

  it("refuses a Slurm array that is not an evenly stepped range, or a task id without the count", () => {
    // --array=1,4,9: min 1, max 9, count 3.
    const e = errorOf(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_COUNT: "3", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "9" }));
    expect(e.message).toContain("the Slurm array is not an evenly stepped range (SLURM_ARRAY_TASK_ID=4, SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_MAX=9");
    expect(e.message).toContain("--array=0-2");
    expect(e.field).toBe("SLURM_ARRAY_TASK_ID");
    const c = errorOf(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: "4" }));
    expect(c.message).toMatch(/^SLURM_ARRAY_TASK_ID is set \(4\) but SLURM_ARRAY_TASK_COUNT is not/);
    expect(c.field).toBe("SLURM_ARRAY_TASK_COUNT");
    expect(errorOf(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: "x", SLURM_ARRAY_TASK_COUNT: "4" })).message).toBe('environment variable SLURM_ARRAY_TASK_ID must be an integer >= 0, got "x"');
  });

  it("reads Kubernetes Indexed Jobs with the count the manifest sets, and says so when it is missing", () => {
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: "2", SAFESAIL_SHARD_COUNT: "4" })).toMatchObject({ index: 2, count: 4, source: "JOB_COMPLETION_INDEX/SAFESAIL_SHARD_COUNT" });
    const e = errorOf(() => shardFromEnv({ JOB_COMPLETION_INDEX: "2" }));
    expect(e.message).toContain("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but SAFESAIL_SHARD_COUNT is not");
    expect(e.message).toContain("spec.completions");
    expect(e.field).toBe("SAFESAIL_SHARD_COUNT");
    expect(errorOf(() => shardFromEnv({ JOB_COMPLETION_INDEX: "4", SAFESAIL_SHARD_COUNT: "4" })).message).toBe("JOB_COMPLETION_INDEX=4 is not below SAFESAIL_SHARD_COUNT=4: set SAFESAIL_SHARD_COUNT to the Job's spec.completions");
    expect(errorOf(() => shardFromEnv({ JOB_COMPLETION_INDEX: "1", SAFESAIL_SHARD_COUNT: "0" })).message).toBe('environment variable SAFESAIL_SHARD_COUNT must be an integer >= 1, got "0"');
  });

  it("the flag wins, then SAFESAIL_SHARD, Slurm, Kubernetes; --shard none ignores the environment; nothing set: no shard", () => {
    const env = { SAFESAIL_SHARD: "1/2", SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "8", JOB_COMPLETION_INDEX: "0", SAFESAIL_SHARD_COUNT: "5" };
    expect(resolveShard("2/3", env)).toEqual({ index: 2, count: 3, source: "--shard" });
    expect(resolveShard(undefined, env)).toEqual({ index: 1, count: 2, source: "SAFESAIL_SHARD" });
    expect(resolveShard(undefined, { ...env, SAFESAIL_SHARD: "" })).toMatchObject({ index: 3, count: 8 });
    expect(resolveShard(undefined, { JOB_COMPLETION_INDEX: "0", SAFESAIL_SHARD_COUNT: "5" })).toMatchObject({ index: 0, count: 5 });
    expect(resolveShard("none", env)).toBeUndefined();
    expect(resolveShard(undefined, {})).toBeUndefined();
    expect(errorOf(() => resolveShard("3/3", {})).field).toBe("shard");
  });
});

describe("splits", () => {
  it("contiguous ranges tile 0..total for any N (empty shards when N > total)", () => {
    for (const total of [0, 1, 7, 60, 1001]) {
      for (const count of [1, 2, 3, 8, 13]) {
        let at = 0;
        for (let index = 0; index < count; index++) {
          const r = shardRange(total, { index, count });
          expect(r.from).toBe(at);
          expect(r.to - r.from).toBeLessThanOrEqual(Math.ceil(total / count));
          at = r.to;
        }
        expect(at).toBe(total);
      }
    }
  });

  it("round robin gives items I, I+N, ...; the shards partition the list", () => {
    const items = Array.from({ length: 11 }, (_, i) => `f${i}`);
    expect(pickShard(items, { index: 1, count: 4 })).toEqual(["f1", "f5", "f9"]);
    expect(pickShard(items, undefined)).toEqual(items);
    const all = [0, 1, 2, 3].flatMap((index) => pickShard(items, { index, count: 4 }));
    expect(all.sort()).toEqual([...items].sort());
  });

  it("names shard outputs so they sort, and reads the shard back from a name", () => {
    expect(shardName({ index: 3, count: 8 })).toBe("shard-0003-of-0008");
    expect(shardName({ index: 12345, count: 20000 })).toBe("shard-12345-of-20000");
    expect(parseShardName("db.shard-0003-of-0008.json")).toEqual({ index: 3, count: 8 });
    expect(parseShardName("shard-0008-of-0008")).toBeUndefined();
    expect(shardFilePath("work/db.json", { index: 1, count: 2 })).toBe("work/db.shard-0001-of-0002.json");
    expect(shardFilePath("work/features", { index: 1, count: 2 })).toBe("work/features.shard-0001-of-0002");
    expect(shardFilePath("work.d/x.db.json", { index: 0, count: 1 })).toBe("work.d/x.db.shard-0000-of-0001.json");
    expect(shardFilePattern("db.json").test("db.shard-0001-of-0002.json")).toBe(true);
    expect(shardFilePattern("db.json").test("dbXshard-0001-of-0002.json")).toBe(false);
  });

  it("the merge check: one N, every index once, errors naming the parts", () => {
    const part = (index: number, count: number, label = `dir/${shardName({ index, count })}`) => ({ shard: { index, count }, label });
    expect(checkShardSet([part(2, 3), part(0, 3), part(1, 3)]).map((p) => p.shard.index)).toEqual([0, 1, 2]);
    expect(errorOf(() => checkShardSet([part(0, 3), part(2, 3)])).message).toBe("gap: shard 1/3 is missing (expected shard-0001-of-0003; have 0, 2 of 0..2); run the missing shard first");
    expect(errorOf(() => checkShardSet([part(0, 2), part(1, 2), part(1, 2, "copy/shard-0001-of-0002")])).message).toBe("overlap: dir/shard-0001-of-0002 and copy/shard-0001-of-0002 are both shard 1/2; give each shard once");
    expect(errorOf(() => checkShardSet([part(0, 2), part(1, 3)])).message).toMatch(/^dir\/shard-0001-of-0003 is shard 1\/3 but dir\/shard-0000-of-0002 is shard 0\/2/);
    expect(errorOf(() => checkShardSet([])).message).toBe("no shards to merge");
  });
});

describe("a harvest split at its edges", () => {
  it("more shards than documents, blank lines at the boundaries: empty shards merge, and the store is the unsharded one", async () => {
    const root = mkdtempSync(join(tmpdir(), "safesail-shard-edges-"));
    const model = await loadModel(resolve(import.meta.dirname, "../models/toy-safety-qwen2"));
    try {
      const corpus = join(root, "c.txt");
      writeFileSync(corpus, "hello world\n\n\n\nthe cat sat on the mat\n\n");
      const opts = { layers: [1, 3], chunkTokens: 7, maxDocTokens: 12 };
      await harvest(model, corpus, { ...opts, out: join(root, "whole") });
      const tokens: number[] = [];
      for (let index = 0; index < 7; index++) tokens.push((await harvest(model, corpus, { ...opts, out: join(root, "sh"), shard: { index, count: 7 } })).manifest.tokens);
      expect(tokens.filter((t) => t > 0).length).toBe(2);
      const merged = await mergeActivationShards(await findShardDirs(join(root, "sh")), { out: join(root, "sh") });
      const files = (dir: string) => Object.fromEntries(readdirSync(dir).filter((n) => statSync(join(dir, n)).isFile()).map((n) => [n, createHash("sha256").update(readFileSync(join(dir, n))).digest("hex")]));
      expect(files(join(root, "sh"))).toEqual(files(join(root, "whole")));
      expect(merged.manifest.truncated_documents).toBeGreaterThan(0);
      await expect(harvest(model, corpus, { ...opts, out: join(root, "x"), shard: { index: 0, count: 2 }, maxTokens: 5 })).rejects.toThrow(/^maxTokens \(--max-tokens\) cannot be combined with shard/);
      // A shard stopped after its first chunk resumes to the same bytes as the shard run straight through.
      const ctl = new AbortController();
      const stopped = harvest(model, corpus, { ...opts, out: join(root, "resumed"), shard: { index: 1, count: 2 }, signal: ctl.signal, onChunk: () => ctl.abort() });
      await expect(stopped).rejects.toThrow();
      await harvest(model, corpus, { ...opts, out: join(root, "resumed"), shard: { index: 1, count: 2 } });
      await harvest(model, corpus, { ...opts, out: join(root, "straight"), shard: { index: 1, count: 2 } });
      expect(files(join(root, "resumed", "shard-0001-of-0002"))).toEqual(files(join(root, "straight", "shard-0001-of-0002")));
    } finally {
      await model.dispose();
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
