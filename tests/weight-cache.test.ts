// The float32 weight cache (src/model/weight-cache.ts): built once, mapped by every session, keyed by the
// weights' content, rebuilt when they change, never left half-written, and skipped (with the reason) when the
// disk is short. Forward results are checked against the in-memory load of the same files.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormatError } from "../src/errors.ts";
import { openSafetensors } from "../src/formats/safetensors.ts";
import { graphWeights } from "../src/model/graph.ts";
import { createRandomModel } from "../src/model/random.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import { openWeightCache, quantizeRowsQ8, WEIGHT_FILE, WEIGHT_INDEX, weightCacheDisabled, weightCacheRoot, type WeightCacheIndex } from "../src/model/weight-cache.ts";
import { ArgumentError } from "../src/errors.ts";
import { mulberry32 } from "../src/util/prng.ts";
import { readModelConfig } from "../src/model/config.ts";
import { openWeights } from "../src/model/weights.ts";

const ROOT = resolve(import.meta.dirname, "..");
const ids = [[5, 17, 99, 3, 250, 42, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8]];
const HOOKS = ["blocks.0.hook_resid_post", "blocks.1.hook_mlp_out", "blocks.1.attn.hook_pattern"];

let work: string;
let modelDir: string;

const cacheDirs = (root: string) => readdirSync(root).filter((e) => e !== "hashes");

async function forward(model: Model) {
  const out = await model.runWithCache(ids, HOOKS);
  // A function hook splits the graph at an attention point: those segments must map the same file.
  const edited = await model.runWithHooks(ids, { "blocks.1.attn.hook_z": (v) => { v.data.fill(0); } }, { logits: "last" });
  return { logits: out.logits.data, hooks: HOOKS.map((h) => out.cache[h]!.data), edited: edited.logits.data };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "safesail-wcache-"));
  modelDir = join(work, "model");
  // BF16 storage with biases on q/k/v (Qwen2), GQA: every conversion and fused group the graph has.
  await createRandomModel(modelDir, { architecture: "Qwen2ForCausalLM", hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 96, vocab: 300, seed: 3, dtype: "BF16" });
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("weight cache", () => {
  it("builds a page-aligned float32 file once, maps it, and matches the in-memory load exactly", async () => {
    const root = join(work, "c1");
    const mem = await loadModel(modelDir, { weightCache: false });
    expect(mem.stored).toBeNull();
    const ref = await forward(mem);
    await mem.dispose();

    const logs: string[] = [];
    const cached = await loadModel(modelDir, { weightCache: root, log: (m) => logs.push(m) });
    expect(cached.stored).not.toBeNull();
    expect(logs.join("\n")).toMatch(/weight cache: wrote/);
    const [key] = cacheDirs(root);
    const dir = join(root, key!);
    const index = JSON.parse(readFileSync(join(dir, WEIGHT_INDEX), "utf8")) as WeightCacheIndex;
    expect(statSync(join(dir, WEIGHT_FILE)).size).toBe(index.bytes);
    const cfg = await readModelConfig(join(modelDir, "config.json"));
    expect(Object.keys(index.tensors)).toEqual(graphWeights(cfg).map((g) => g.name));
    for (const t of Object.values(index.tensors)) expect(t.offset % 65536).toBe(0);

    // The stored q/k/v group is the three BF16 tensors widened to float32 and stacked, bit for bit.
    const st = openSafetensors(join(modelDir, "model.safetensors"));
    const group = index.tensors["model.layers.1.self_attn.q_proj+model.layers.1.self_attn.k_proj+model.layers.1.self_attn.v_proj.weight"]!;
    expect(group.shape).toEqual([64 + 2 * 32, 64]);
    const file = readFileSync(join(dir, WEIGHT_FILE));
    const stored = new Float32Array(file.buffer.slice(file.byteOffset + group.offset, file.byteOffset + group.offset + group.length));
    const kRef = st.tensors.get("model.layers.1.self_attn.k_proj.weight")!;
    const raw = readFileSync(kRef.file).subarray(kRef.offset, kRef.offset + kRef.byteLength);
    const kBits = new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const kStored = new Uint32Array(stored.buffer, 64 * 64 * 4, 32 * 64);
    expect(Array.from(kStored.slice(0, 50))).toEqual(Array.from(kBits.slice(0, 50), (b) => b << 16 >>> 0));

    const got = await forward(cached);
    expect(maxDiff(got.logits, ref.logits)).toBeLessThan(1e-5);
    got.hooks.forEach((h, i) => expect(maxDiff(h, ref.hooks[i]!)).toBeLessThan(1e-5));
    expect(maxDiff(got.edited, ref.edited)).toBeLessThan(1e-5);
    await cached.dispose();

    // Second load: nothing is written again.
    const mtime = statSync(join(dir, WEIGHT_FILE)).mtimeMs;
    const again = await loadModel(modelDir, { weightCache: root, log: (m) => logs.push(m) });
    expect(again.stored?.folder).toBe(dir);
    expect(statSync(join(dir, WEIGHT_FILE)).mtimeMs).toBe(mtime);
    expect(logs.filter((m) => /wrote/.test(m))).toHaveLength(1);
    await again.dispose();
  });

  it("changed weights get a new cache and the old one is removed; a truncated cache is rebuilt", async () => {
    const root = join(work, "c2");
    const dir2 = join(work, "model2");
    await createRandomModel(dir2, { hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, vocab: 300, seed: 4, dtype: "BF16" });
    const before = await loadModel(dir2, { weightCache: root });
    const logitsBefore = (await before.runWithCache(ids, [], { logits: "last" })).logits.data;
    await before.dispose();
    const [oldKey] = cacheDirs(root);

    // Same size, new content: the (size, mtime, inode) memo misses, the hash changes, so does the key.
    const file = join(dir2, "model.safetensors");
    const st = openSafetensors(file);
    const norm = st.tensors.get("model.norm.weight")!;
    const bytes = readFileSync(file);
    for (let i = 0; i < norm.byteLength; i += 2) bytes.writeUInt16LE(0x4000, norm.offset + i); // bf16 2.0
    writeFileSync(file, bytes);
    const after = await loadModel(dir2, { weightCache: root });
    const logitsAfter = (await after.runWithCache(ids, [], { logits: "last" })).logits.data;
    await after.dispose();
    expect(maxDiff(logitsAfter, logitsBefore)).toBeGreaterThan(1e-3);
    const keys = cacheDirs(root);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toBe(oldKey);

    // A data file cut short (a full disk, an interrupted copy) is not trusted.
    truncateSync(join(root, keys[0]!, WEIGHT_FILE), 1000);
    const logs: string[] = [];
    const rebuilt = await loadModel(dir2, { weightCache: root, log: (m) => logs.push(m) });
    expect(logs.join("\n")).toMatch(/wrote/);
    expect(maxDiff((await rebuilt.runWithCache(ids, [], { logits: "last" })).logits.data, logitsAfter)).toBe(0);
    await rebuilt.dispose();
  });

  it("a NaN weight is an error naming the file and tensor, and leaves no cache behind", async () => {
    const root = join(work, "c3");
    const dir3 = join(work, "model3");
    await createRandomModel(dir3, { hidden: 32, layers: 1, heads: 4, kvHeads: 2, intermediate: 48, vocab: 300, seed: 6, dtype: "BF16" });
    const file = join(dir3, "model.safetensors");
    const ref = openSafetensors(file).tensors.get("model.layers.0.mlp.up_proj.weight")!;
    const bytes = readFileSync(file);
    bytes.writeUInt16LE(0x7fc0, ref.offset + 2 * 17); // bf16 NaN at index 17
    writeFileSync(file, bytes);
    const err = await loadModel(dir3, { weightCache: root }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toContain("model.safetensors");
    expect((err as Error).message).toContain('"model.layers.0.mlp.up_proj.weight"');
    expect((err as Error).message).toMatch(/first NaN at index 17/);
    expect(cacheDirs(root)).toEqual([]);
  });

  it("too little disk: no cache, the reason is logged, and the model loads in memory", async () => {
    const root = join(work, "c4");
    const cfg = await readModelConfig(join(modelDir, "config.json"));
    const res = await openWeightCache(openWeights(modelDir, cfg), cfg, { root, freeBytes: () => 1 << 20 });
    expect(res.stored).toBeNull();
    expect(res.stored === null && res.reason).toMatch(/GiB free, the float32 weights need/);
    expect(cacheDirs(root)).toEqual([]);
  });

  it("SAFESAIL_WEIGHT_CACHE and SAFESAIL_CACHE", () => {
    expect(weightCacheDisabled({ SAFESAIL_WEIGHT_CACHE: "0" })).toBe(true);
    expect(weightCacheDisabled({ SAFESAIL_WEIGHT_CACHE: "off" })).toBe(true);
    expect(weightCacheDisabled({})).toBe(false);
    expect(weightCacheRoot({ SAFESAIL_CACHE: "/x/y" })).toBe("/x/y/weights");
    expect(weightCacheRoot({ XDG_CACHE_HOME: "/x" })).toBe("/x/safesail/weights");
  });

  it("processes building the same cache at once all load it, and one copy remains", async () => {
    const root = join(work, "c5");
    const script = `import { loadModel } from ${JSON.stringify(join(ROOT, "src/model/runtime.ts"))};
const m = await loadModel(${JSON.stringify(modelDir)}, { weightCache: ${JSON.stringify(root)} });
const out = await m.runWithCache([[5, 17, 99]], [], { logits: "last" });
console.log(JSON.stringify({ folder: m.stored.folder, first: out.logits.data[0] }));`;
    const runs = await Promise.all([0, 1, 2].map(() => new Promise<string>((ok, fail) => {
      const p = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (err += d));
      p.on("close", (code) => (code === 0 ? ok(out.trim()) : fail(new Error(`exit ${code}: ${err}`))));
    })));
    const parsed = runs.map((r) => JSON.parse(r) as { folder: string; first: number });
    expect(new Set(parsed.map((p) => p.folder)).size).toBe(1);
    expect(new Set(parsed.map((p) => p.first)).size).toBe(1);
    expect(cacheDirs(root)).toHaveLength(1);
    expect(existsSync(join(parsed[0]!.folder, WEIGHT_INDEX))).toBe(true);
  });

  it("int8: blockwise quantisation within half a step, padded blocks, zero blocks", () => {
    const K = 70; // two full blocks of 32 and one of 6, zero-padded
    const rows = 3;
    const rand = mulberry32(7);
    const v = Float32Array.from({ length: rows * K }, () => (rand() - 0.5) * 4);
    v.fill(0, K, 2 * K); // row 1 all zeros
    const kBlocks = 3;
    const blocks = new Uint8Array(rows * kBlocks * 32);
    const scales = new Float32Array(rows * kBlocks);
    quantizeRowsQ8(v, rows, K, blocks, scales);
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < kBlocks; b++) {
        const scale = scales[r * kBlocks + b]!;
        let amax = 0;
        for (let j = b * 32; j < Math.min(K, (b + 1) * 32); j++) amax = Math.max(amax, Math.abs(v[r * K + j]!));
        expect(scale).toBeCloseTo(amax / 127, 6);
        for (let j = 0; j < 32; j++) {
          const q = blocks[(r * kBlocks + b) * 32 + j]!;
          const k = b * 32 + j;
          if (k >= K) expect(q).toBe(128);
          else expect(Math.abs((q - 128) * scale - v[r * K + k]!)).toBeLessThanOrEqual(scale / 2 + 1e-6);
        }
      }
    }
    expect(Array.from(scales.subarray(kBlocks, 2 * kBlocks))).toEqual([0, 0, 0]);
  });

  it("int8: 8-bit matrices in their own cache, logits close to fp32 but not equal; needs the cache", async () => {
    const root = join(work, "c6");
    const fp = await loadModel(modelDir, { weightCache: root });
    const q8 = await loadModel(modelDir, { weightCache: root, precision: "int8" });
    expect(q8.stored?.precision).toBe("int8");
    expect(cacheDirs(root)).toHaveLength(2); // building the int8 cache does not remove the fp32 one
    const index = JSON.parse(readFileSync(join(q8.stored!.folder, WEIGHT_INDEX), "utf8")) as WeightCacheIndex;
    expect(index.tensors["model.layers.0.mlp.down_proj.weight:q8"]).toMatchObject({ dtype: "U8", shape: [64, 3, 32], inFeatures: 96 });
    expect(index.tensors["model.embed_tokens.weight"]).toBeDefined(); // the Gather's float32 table stays
    const a = (await fp.runWithCache(ids, [], { logits: "all" })).logits.data;
    const b = (await q8.runWithCache(ids, [], { logits: "all" })).logits.data;
    const maxAbs = a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const rel = maxDiff(a, b) / maxAbs;
    expect(rel).toBeGreaterThan(1e-6); // the 8-bit path really ran
    expect(rel).toBeLessThan(0.05);
    await fp.dispose();
    await q8.dispose();
    const err = await loadModel(modelDir, { weightCache: false, precision: "int8" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as Error).message).toMatch(/needs the weight cache/);
  });
});
