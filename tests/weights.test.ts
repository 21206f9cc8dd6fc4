import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseModelConfig } from "../src/model/config.ts";
import { createRandomModel, QWEN25_05B_SHAPES, randomModelConfig } from "../src/model/random.ts";
import { openSafetensors, writeSafetensors } from "../src/formats/safetensors.ts";
import { expectedWeightShapes, openWeights, validateWeights } from "../src/model/weights.ts";
import { FormatError, NotFoundError, UnsupportedError } from "../src/errors.ts";
import type { ModelConfig } from "../src/model/types.ts";

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "safesail-w-"));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function readConfig(dir: string): ModelConfig {
  const file = path.join(dir, "config.json");
  return parseModelConfig(JSON.parse(fs.readFileSync(file, "utf8")), file);
}

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
}

describe("random model + weights", () => {
  it("writes a Qwen2 folder whose config and weights validate", async () => {
    const dir = path.join(root, "qwen");
    const m = await createRandomModel(dir, { architecture: "Qwen2ForCausalLM", hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, seed: 3 });
    const cfg = readConfig(dir);
    expect(cfg).toEqual(m.config);
    expect(cfg.vocabSize).toBeGreaterThanOrEqual(259);
    const ws = openWeights(dir, cfg);
    validateWeights(ws, cfg, dir);
    expect(ws.names().length).toBe(Object.keys(expectedWeightShapes(cfg)).length);
    expect(ws.has("model.layers.0.self_attn.q_proj.bias")).toBe(true);
    expect(ws.has("model.layers.0.self_attn.o_proj.bias")).toBe(false);
    const q = ws.get("model.layers.1.self_attn.q_proj.weight");
    expect(q.shape).toEqual([32, 32]);
    const mean = q.data.reduce((a, b) => a + b, 0) / q.data.length;
    const std = Math.sqrt(q.data.reduce((a, b) => a + (b - mean) ** 2, 0) / q.data.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(std).toBeGreaterThan(0.05);
    expect(std).toBeLessThan(0.15);
    const norm = ws.get("model.norm.weight").data;
    for (const v of norm) expect(Math.abs(v - 1)).toBeLessThanOrEqual(0.1);
    expect(() => ws.get("nope")).toThrow(NotFoundError);
  });

  it("is deterministic and gives the same values sharded or not", async () => {
    const opts = { architecture: "LlamaForCausalLM" as const, hidden: 32, layers: 3, heads: 4, kvHeads: 1, intermediate: 40, seed: 7, attentionBias: true, mlpBias: true };
    const a = await createRandomModel(path.join(root, "a"), opts);
    const b = await createRandomModel(path.join(root, "b"), { ...opts, sharded: true });
    expect(b.files).toContain("model.safetensors.index.json");
    expect(b.files).toContain("model-00001-of-00002.safetensors");
    expect(b.files).toContain("model-00002-of-00002.safetensors");
    const wa = openWeights(a.dir);
    const wb = openWeights(b.dir);
    expect(wb.files.length).toBe(2);
    validateWeights(wb, b.config, b.dir);
    expect(wb.has("model.layers.0.self_attn.o_proj.bias")).toBe(true);
    expect(wb.has("model.layers.2.mlp.down_proj.bias")).toBe(true);
    expect(wb.names().sort()).toEqual(wa.names().sort());
    for (const name of wa.names()) expect(wb.get(name).data).toEqual(wa.get(name).data);
    const c = await createRandomModel(path.join(root, "c"), { ...opts, seed: 8 });
    expect(openWeights(c.dir).get("model.embed_tokens.weight").data).not.toEqual(wa.get("model.embed_tokens.weight").data);
  });

  it("stores F16 and BF16 and reads them back as float32", async () => {
    for (const dtype of ["F16", "BF16"] as const) {
      const m = await createRandomModel(path.join(root, dtype), { hidden: 16, layers: 1, heads: 2, intermediate: 24, dtype, tied: true });
      const st = openSafetensors(path.join(m.dir, "model.safetensors"));
      expect(st.tensors.get("model.embed_tokens.weight")!.dtype).toBe(dtype);
      expect(st.tensors.has("lm_head.weight")).toBe(false);
      const ws = openWeights(m.dir);
      validateWeights(ws, m.config, m.dir);
      const f32 = await createRandomModel(path.join(root, `${dtype}-f32`), { hidden: 16, layers: 1, heads: 2, intermediate: 24, tied: true });
      const x = openWeights(f32.dir).get("model.embed_tokens.weight").data;
      const y = ws.get("model.embed_tokens.weight").data;
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * (dtype === "F16" ? 1e-3 : 8e-3) + 1e-7);
    }
  });

  it("names a missing weight and a wrong shape", async () => {
    const m = await createRandomModel(path.join(root, "v"), { hidden: 16, layers: 2, heads: 2, intermediate: 24 });
    const ws = openWeights(m.dir);
    const gone = { ...ws, has: (n: string) => n !== "model.layers.1.mlp.up_proj.weight" && ws.has(n) };
    const e1 = caught(() => validateWeights(gone, m.config, m.dir));
    expect(e1).toBeInstanceOf(NotFoundError);
    expect(e1.message).toContain(m.dir);
    expect(e1.message).toMatch(/missing weight "model\.layers\.1\.mlp\.up_proj\.weight" \[24, 16\]/);

    const wrong = { ...m.config, intermediateSize: 32 };
    const e2 = caught(() => validateWeights(ws, wrong, m.dir));
    expect(e2).toBeInstanceOf(FormatError);
    expect(e2.message).toMatch(/weight "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[24, 16\], expected \[32, 16\]/);

    // untied config needs lm_head; tied config with an lm_head present is accepted
    const untied = await createRandomModel(path.join(root, "untied"), { hidden: 16, layers: 1, heads: 2, intermediate: 24, tied: false });
    const wu = openWeights(untied.dir);
    validateWeights(wu, { ...untied.config, tieWordEmbeddings: true }, untied.dir);
    const tied = await createRandomModel(path.join(root, "tied"), { hidden: 16, layers: 1, heads: 2, intermediate: 24, tied: true });
    const e3 = caught(() => validateWeights(openWeights(tied.dir), { ...tied.config, tieWordEmbeddings: false }, tied.dir));
    expect(e3.message).toMatch(/missing weight "lm_head\.weight" \[320, 16\]/);
  });

  it("rejects unsupported dtypes naming the tensor", async () => {
    const cfg = randomModelConfig({ hidden: 8, layers: 1, heads: 2, intermediate: 8, vocab: 300, tied: true });
    const dir = path.join(root, "int8");
    fs.mkdirSync(dir, { recursive: true });
    const tensors: Record<string, { dtype: "F32" | "I8"; shape: number[]; data: Float32Array | Int8Array }> = {};
    for (const [name, shape] of Object.entries(expectedWeightShapes(cfg))) {
      const n = shape.reduce((a, b) => a * b, 1);
      tensors[name] = name.endsWith("q_proj.weight") ? { dtype: "I8", shape, data: new Int8Array(n) } : { dtype: "F32", shape, data: new Float32Array(n) };
    }
    await writeSafetensors(path.join(dir, "model.safetensors"), tensors);
    const ws = openWeights(dir);
    const e = caught(() => validateWeights(ws, cfg, dir));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(e.message).toMatch(/weight "model\.layers\.0\.self_attn\.q_proj\.weight" has dtype I8/);
    expect(() => ws.get("model.layers.0.self_attn.q_proj.weight")).toThrow(UnsupportedError);
  });

  it("names the folder or shard when files are missing", async () => {
    const empty = path.join(root, "empty");
    fs.mkdirSync(empty);
    const e1 = caught(() => openWeights(empty));
    expect(e1).toBeInstanceOf(NotFoundError);
    expect(e1.message).toContain(empty);
    expect(e1.message).toMatch(/model\.safetensors/);

    const m = await createRandomModel(path.join(root, "shard-missing"), { hidden: 16, layers: 2, heads: 2, intermediate: 24, sharded: true });
    fs.rmSync(path.join(m.dir, "model-00002-of-00002.safetensors"));
    const e2 = caught(() => openWeights(m.dir));
    expect(e2).toBeInstanceOf(NotFoundError);
    expect(e2.message).toMatch(/model\.safetensors\.index\.json: shard "model-00002-of-00002\.safetensors" is missing/);
  });

  it("switches cleanly between sharded and single-file layouts in one folder", async () => {
    const dir = path.join(root, "switch");
    await createRandomModel(dir, { hidden: 16, layers: 2, heads: 2, intermediate: 24, sharded: true });
    await createRandomModel(dir, { hidden: 16, layers: 2, heads: 2, intermediate: 24 });
    expect(fs.existsSync(path.join(dir, "model.safetensors.index.json"))).toBe(false);
    expect(openWeights(dir).files.length).toBe(1);
  });

  it("describes Qwen2.5-0.5B shapes", () => {
    const cfg = randomModelConfig({ shapes: QWEN25_05B_SHAPES, dtype: "BF16" });
    const shapes = expectedWeightShapes(cfg);
    expect(cfg.vocabSize).toBe(151936);
    expect(shapes["model.layers.23.self_attn.k_proj.weight"]).toEqual([128, 896]);
    expect(shapes["model.layers.0.self_attn.o_proj.weight"]).toEqual([896, 896]);
    expect(shapes["lm_head.weight"]).toBeUndefined();
    const params = Object.values(shapes).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
    expect(params).toBe(494032768);
  });
});
