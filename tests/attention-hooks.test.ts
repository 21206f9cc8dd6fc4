// Attention hook points (blocks.{i}.attn.hook_q ... hook_z) of the onnxruntime runtime against the plain-loop float64
// reference, on random models (Qwen2 GQA with q/k/v bias, Llama MHA), batch 2 with left padding; edits at every
// attention point; generation with the KV cache; and non-finite logits as an error.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allAttnHookNames, allHookNames, ATTN_SITES, attnHookName } from "../src/model/hooks.ts";
import { createRandomModel, type RandomModelOptions } from "../src/model/random.ts";
import { referenceForward } from "../src/model/reference.ts";
import { NonFiniteError } from "../src/errors.ts";
import { loadModel, Model, positionsFromMask } from "../src/model/runtime.ts";
import type { F32Tensor, WeightSource } from "../src/model/types.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-attn-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ids = [
  [0, 0, 5, 17, 230, 9, 44],
  [250, 2, 2, 71, 8, 19, 260],
];
const mask = [
  [0, 0, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1, 1],
];
const positionIds = mask.map(positionsFromMask);
const T = 7;
const real = (b: number, t: number) => mask[b]![t] === 1;
const visible = (b: number, t: number, s: number) => s <= t && mask[b]![s] === 1;

/**
 * Compares a hook (or logits) at real query positions: max |a - b| / max |b| over those entries. `[B, H, T, T]`
 * tensors (scores, pattern) are compared over visible keys; at invisible keys the scores must both be -1e30.
 */
function compare(name: string, got: F32Tensor, want: F32Tensor): number {
  expect(got.shape, name).toEqual(want.shape);
  const [B, A, C] = got.shape as [number, number, number];
  const square = /attn\.hook_(attn_scores|pattern)$/.test(name);
  const inner = got.data.length / (B * A * C);
  let diff = 0;
  let scale = 0;
  for (let b = 0; b < B; b++) {
    for (let a = 0; a < A; a++) {
      for (let c = 0; c < C; c++) {
        const t = square ? c : a;
        if (!real(b, t)) continue;
        for (let i = 0; i < inner; i++) {
          const at = ((b * A + a) * C + c) * inner + i;
          if (square && !visible(b, t, i)) {
            if (name.includes("attn_scores")) expect(got.data[at], `${name} masked`).toBe(want.data[at]);
            else expect(got.data[at], `${name} masked`).toBe(0);
            continue;
          }
          diff = Math.max(diff, Math.abs(got.data[at]! - want.data[at]!));
          scale = Math.max(scale, Math.abs(want.data[at]!));
        }
      }
    }
  }
  return diff / scale;
}

const VARIANTS: { name: string; opts: Partial<RandomModelOptions> }[] = [
  { name: "qwen2 gqa qkv bias", opts: { architecture: "Qwen2ForCausalLM", heads: 4, kvHeads: 2, tied: false } },
  { name: "llama mha", opts: { architecture: "LlamaForCausalLM", heads: 4, kvHeads: 4, tied: true } },
];

describe.each(VARIANTS)("attention hooks vs the reference: $name", ({ name, opts }) => {
  let model: Model;
  beforeAll(async () => {
    const dir = join(root, name.replace(/\W+/g, "-"));
    await createRandomModel(dir, { hidden: 32, layers: 2, intermediate: 48, vocab: 300, seed: 11, dtype: "F32", ...opts });
    model = await loadModel(dir);
  });
  afterAll(() => model?.dispose());

  it("reports every hook in TransformerLens shapes within 1e-4 (batch 2, left padding)", async () => {
    const { numHeads: H, numKvHeads: KV, headDim: hd, hiddenSize: D } = model.config;
    const names = model.hookNames();
    expect(names).toHaveLength(2 * 13);
    expect(names.slice(0, 10)).toEqual(["blocks.0.hook_resid_pre", ...ATTN_SITES.map((s) => attnHookName(0, s)), "blocks.0.hook_attn_out"]);
    const { logits, cache } = await model.runWithCache(ids, names, { attentionMask: mask });
    const ref = referenceForward(model.config, model.weights, ids, { attentionMask: mask, positionIds, attentionHooks: true });
    const shapes: Record<string, number[]> = {
      q: [2, T, H, hd], k: [2, T, KV, hd], v: [2, T, KV, hd], rot_q: [2, T, H, hd], rot_k: [2, T, KV, hd],
      attn_scores: [2, H, T, T], pattern: [2, H, T, T], z: [2, T, H, hd],
    };
    for (const n of names) {
      const site = /attn\.hook_(\w+)$/.exec(n)?.[1];
      expect(cache[n]!.shape, n).toEqual(site ? shapes[site] : [2, T, D]);
      expect(compare(n, cache[n]!, ref.hooks[n]!), n).toBeLessThan(1e-4);
    }
    expect(compare("logits", logits, ref.logits)).toBeLessThan(1e-4);
    // Real query rows of the pattern sum to one.
    const p = cache["blocks.1.attn.hook_pattern"]!.data;
    for (let h = 0; h < H; h++) expect(p.subarray(((1 * H + h) * T + 3) * T, ((1 * H + h) * T + 4) * T).reduce((a, b) => a + b)).toBeCloseTo(1, 5);
  });

  it("edits at every attention point change the logits as the same edit does in the reference", async () => {
    for (const site of ATTN_SITES) {
      const hook = attnHookName(1, site);
      // Scale head 1 (attention points with a head axis at 2 or 1) by 1.5; zero it at hook_pattern and hook_z.
      const factor = site === "pattern" || site === "z" ? 0 : 1.5;
      const headFirst = site === "attn_scores" || site === "pattern";
      const scaleHead = (data: Float32Array | Float64Array, shape: number[]) => {
        const [B, A, C, E] = shape as [number, number, number, number];
        for (let b = 0; b < B; b++) for (let a = 0; a < A; a++) for (let c = 0; c < C; c++) {
          const head = headFirst ? a : c;
          if (head !== 1) continue;
          for (let e = 0; e < E; e++) {
            const at = ((b * A + a) * C + c) * E + e;
            if (site === "attn_scores" && data[at]! < -1e29) continue; // keep the mask
            data[at] = data[at]! * factor;
          }
        }
      };
      const seen: number[][] = [];
      const ours = await model.runWithHooks(ids, { [hook]: (v) => { seen.push(v.shape); scaleHead(v.data, v.shape); } }, { attentionMask: mask, cache: [hook, "blocks.1.hook_attn_out"] });
      const ref = referenceForward(model.config, model.weights, ids, { attentionMask: mask, positionIds, attentionHooks: true, edit: (n, v, shape) => n === hook && scaleHead(v, shape) });
      const clean = referenceForward(model.config, model.weights, ids, { attentionMask: mask, positionIds });
      expect(seen, hook).toHaveLength(1);
      expect(compare(hook, ours.cache[hook]!, ref.hooks[hook]!), hook).toBeLessThan(1e-4);
      expect(compare(`${hook} logits`, ours.logits, ref.logits), hook).toBeLessThan(1e-4);
      expect(compare(`${hook} clean`, ours.logits, clean.logits), `${hook} changes the logits`).toBeGreaterThan(1e-3);
    }
  });

  it("a TransformerLens-style -Infinity in hook_attn_scores masks that key, as in the reference", async () => {
    const hook = attnHookName(0, "attn_scores");
    // Each real query stops attending to itself (head 2), where it sees another key too.
    const maskSelf = (data: Float32Array | Float64Array, shape: number[]) => {
      const [B, H, Q, K] = shape as [number, number, number, number];
      for (let b = 0; b < B; b++) for (let t = 0; t < Q; t++) {
        if (!real(b, t) || !Array.from({ length: t }, (_, s) => visible(b, t, s)).some(Boolean)) continue;
        data[((b * H + 2) * Q + t) * K + t] = -Infinity;
      }
    };
    const pattern = attnHookName(0, "pattern");
    const ours = await model.runWithHooks(ids, { [hook]: (v) => maskSelf(v.data, v.shape) }, { attentionMask: mask, cache: [hook, pattern] });
    const ref = referenceForward(model.config, model.weights, ids, { attentionMask: mask, positionIds, attentionHooks: true, edit: (n, v, shape) => n === hook && maskSelf(v, shape) });
    expect(ours.cache[pattern]!.data[((1 * model.config.numHeads + 2) * T + 4) * T + 4]).toBe(0);
    expect(compare(pattern, ours.cache[pattern]!, ref.hooks[pattern]!)).toBeLessThan(1e-4);
    expect(compare("logits", ours.logits, ref.logits)).toBeLessThan(1e-4);
    // Without logits, the -Infinity scores are no non-finite error (the check skips hook_attn_scores).
    await expect(model.runWithHooks(ids, { [hook]: (v) => maskSelf(v.data, v.shape) }, { attentionMask: mask, cache: [hook], logits: "none" })).resolves.toBeTruthy();
  });
});

describe("attention hooks: fast path, errors, KV cache, generation", () => {
  let model: Model;
  beforeAll(async () => {
    const dir = join(root, "gen");
    await createRandomModel(dir, { architecture: "Qwen2ForCausalLM", hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, vocab: 300, seed: 5 });
    model = await loadModel(dir);
  });
  afterAll(() => model?.dispose());
  const segmentKeys = () => [...(model as unknown as { segments: Map<string, unknown> }).segments.keys()];

  it("runs without attention hooks keep the fused graph; asking for one builds a separate cached graph", async () => {
    const plain = await model.runWithCache([[1, 2, 3]], allHookNames(2));
    expect(segmentKeys()).toEqual(["ids>logits>true"]);
    const withAttn = await model.runWithCache([[1, 2, 3]], [...allHookNames(2), "blocks.0.attn.hook_z"]);
    expect(segmentKeys()).toEqual(["ids>logits>true", "ids>logits>true>attn"]);
    await model.runWithCache([[4, 5]], ["blocks.1.attn.hook_pattern"]);
    expect(segmentKeys()).toHaveLength(2);
    for (const n of allHookNames(2)) expect(Array.from(withAttn.cache[n]!.data).every((x, i) => Math.abs(x - plain.cache[n]!.data[i]!) <= 1e-5 * (1 + Math.abs(x)))).toBe(true);
  });

  it("bad attention names and additive edits are errors that say why", async () => {
    await expect(model.runWithCache([[1, 2]], ["blocks.1.attn.hook_foo"])).rejects.toThrow(/blocks\.1\.attn\.hook_foo" \(unknown attention site "foo"\); expected blocks\.\{0\.\.1\}\.attn\.\{hook_q\|/);
    await expect(model.runWithCache([[1, 2]], ["blocks.2.attn.hook_q"])).rejects.toThrow(/the model has layers 0\.\.1/);
    await expect(model.runWithHooks([[1, 2]], { "blocks.0.attn.hook_z": { add: new Float32Array(32) } })).rejects.toThrow(/additive edits \(\{ add \}\) apply only at residual-stream hook points/);
    await expect(model.runWithHooks([[1, 2]], { "blocks.0.attn.hook_z": () => new Float32Array(3) })).rejects.toThrow(/returned 3 values, expected 64 \(\[1, 2, 4, 8\]\)/);
    // Stages that need [tokens, d_model] values refuse attention hooks by name.
    const { documentActivations } = await import("../src/activations/text.ts");
    await expect(documentActivations(model, [{ ids: [1, 2] }], ["blocks.0.attn.hook_z"])).rejects.toThrow(/^hooks: not a hook point: "blocks.0.attn.hook_z" \(an attention hook point, whose values are not \[tokens, d_model\]/);
  });

  it("with the KV cache, attention hooks cover the new queries against every key and match the full forward", async () => {
    const seq = [11, 12, 13, 14, 15];
    const names = allAttnHookNames(2);
    const full = await model.runWithCache([seq], names);
    const first = await model.forward([seq.slice(0, 3)], { returnPast: true, logits: "last", cache: names });
    const step = await model.forward([seq.slice(3)], { past: first.past, returnPast: true, logits: "last", cache: names });
    const H = 4;
    expect(step.cache["blocks.1.attn.hook_pattern"]!.shape).toEqual([1, H, 2, 5]);
    expect(step.cache["blocks.1.attn.hook_k"]!.shape).toEqual([1, 2, 2, 8]);
    for (const n of names) {
      const f = full.cache[n]!;
      const s = step.cache[n]!;
      const square = /attn_scores|pattern/.test(n);
      // Full forward rows for queries 3 and 4.
      const want = square
        ? Float32Array.from({ length: H * 2 * 5 }, (_, i) => f.data[(Math.floor(i / 10) * 5 + 3 + Math.floor((i % 10) / 5)) * 5 + (i % 5)]!)
        : f.data.slice((3 * f.data.length) / 5);
      const scale = Math.max(...Array.from(want, (x) => (x < -1e29 ? 0 : Math.abs(x))));
      s.data.forEach((x, i) => expect(Math.abs(x - want[i]!) <= 1e-4 * scale || x === want[i], `${n}[${i}]`).toBe(true));
    }
  });

  it("generate records and edits attention hooks at every step", async () => {
    const base = await model.generate({ ids: [20, 21, 22], maxNewTokens: 4, stopTokenIds: [] });
    const steps: number[][] = [];
    const g = await model.generate({
      ids: [20, 21, 22],
      maxNewTokens: 4,
      stopTokenIds: [],
      hooks: { "blocks.0.attn.hook_pattern": (v) => void steps.push(v.shape) },
      cache: ["blocks.1.attn.hook_attn_scores"],
    });
    expect(g.ids).toEqual(base.ids);
    expect(steps.slice(0, 2)).toEqual([[1, 4, 3, 3], [1, 4, 1, 4]]);
    expect(g.cache["blocks.1.attn.hook_attn_scores"]!.map((t) => t.shape).slice(0, 2)).toEqual([[1, 4, 3, 3], [1, 4, 1, 4]]);
    // Zeroing every head's pattern at layer 0 (attention output = o_proj bias only) changes what is generated.
    const ablated = await model.generate({ ids: [20, 21, 22], maxNewTokens: 4, stopTokenIds: [], hooks: { "blocks.0.attn.hook_z": (v) => void v.data.fill(0) } });
    const again = await model.runWithHooks([[20, 21, 22]], { "blocks.0.attn.hook_z": (v) => void v.data.fill(0) }, { logits: "last" });
    expect(ablated.ids[0]).toBe(again.logits.data.indexOf(Math.max(...again.logits.data)));
  });
});

describe("non-finite logits", () => {
  it("runWithCache and generate throw naming the model folder, the logits and the first cached hook that went non-finite", async () => {
    const dir = join(root, "nan");
    await createRandomModel(dir, { architecture: "LlamaForCausalLM", hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, vocab: 300, seed: 9 });
    const good = await loadModel(dir);
    const target = "model.layers.1.mlp.down_proj.weight";
    const weights: WeightSource = {
      names: () => good.weights.names(),
      ref: (n) => good.weights.ref(n),
      has: (n) => good.weights.has(n),
      get: (n) => {
        const t = good.weights.get(n);
        if (n === target) t.data[3] = Number.NaN;
        return t;
      },
    };
    const model = new Model(dir, good.config, weights, good.tokenizer);
    const escaped = dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    await expect(model.runWithCache([[1, 2, 3]], ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post", "blocks.1.hook_mlp_out"])).rejects.toThrow(
      new RegExp(`^${escaped}: the forward pass produced non-finite logits \\(NaN or infinity\\); the first cached hook with non-finite values is blocks\\.1\\.hook_mlp_out`),
    );
    await expect(model.generate({ ids: [1, 2, 3], maxNewTokens: 2 })).rejects.toThrow(new RegExp(`^${escaped}: the forward pass produced non-finite logits`));
    await expect(model.runWithCache([[1, 2, 3]], [])).rejects.toMatchObject({ name: "NonFiniteError", file: dir, field: "logits" });
    await expect(model.runWithCache([[1, 2, 3]], [])).rejects.toBeInstanceOf(NonFiniteError);
    // A run without logits (harvesting) is checked on its cached hooks.
    await expect(model.runWithCache([[1, 2, 3]], ["blocks.1.hook_resid_post", "blocks.0.hook_resid_post", "blocks.1.hook_mlp_out"], { logits: "none" })).rejects.toThrow(
      new RegExp(`^${escaped}: the forward pass produced non-finite values \\(NaN or infinity\\) at blocks\\.1\\.hook_mlp_out, the first cached hook`),
    );
    await expect(model.runWithCache([[1, 2, 3]], ["blocks.0.hook_resid_post"], { logits: "none" })).resolves.toBeTruthy();
    // The good model is fine.
    await expect(good.runWithCache([[1, 2, 3]], [])).resolves.toBeTruthy();
    await model.dispose();
    await good.dispose();
  });
});
