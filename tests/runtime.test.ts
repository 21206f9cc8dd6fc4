// The onnxruntime runtime against the plain-loop reference forward, on random tiny models that cover the
// architecture switches (Qwen2 biases, Llama, GQA, tied/untied, BF16/F16 storage, shards, rope scaling),
// plus the hook, edit, cache and generation semantics.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandomModel, type RandomModelOptions } from "../src/model/random.ts";
import { referenceForward } from "../src/model/reference.ts";
import { loadModel, positionsFromMask, type Model } from "../src/model/runtime.ts";
import type { F32Tensor } from "../src/model/types.ts";
import { allHookNames, ATTN_SITES, HOOK_KINDS } from "../src/model/hooks.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-runtime-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** max |a - b| / max |b|: the relative error the issue bounds by 1e-4. */
function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

const rows = (t: F32Tensor, width: number) => Array.from({ length: t.data.length / width }, (_, i) => t.data.subarray(i * width, (i + 1) * width));

const VARIANTS: { name: string; opts: Partial<RandomModelOptions> }[] = [
  { name: "qwen2 gqa untied f32", opts: { architecture: "Qwen2ForCausalLM", heads: 4, kvHeads: 2, tied: false, dtype: "F32" } },
  { name: "qwen2 tied bf16 sharded", opts: { architecture: "Qwen2ForCausalLM", heads: 4, kvHeads: 1, tied: true, dtype: "BF16", sharded: true } },
  { name: "llama mha tied f16", opts: { architecture: "LlamaForCausalLM", heads: 4, kvHeads: 4, tied: true, dtype: "F16" } },
  {
    name: "llama gqa attention_bias llama3 rope",
    opts: {
      architecture: "LlamaForCausalLM",
      heads: 4,
      kvHeads: 2,
      tied: false,
      dtype: "BF16",
      attentionBias: true,
      ropeScaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8 },
    },
  },
];

describe.each(VARIANTS)("runtime vs plain-loop reference: $name", ({ name, opts }) => {
  let model: Model;
  beforeAll(async () => {
    const dir = join(root, name.replace(/\W+/g, "-"));
    await createRandomModel(dir, { hidden: 32, layers: 2, intermediate: 48, vocab: 300, seed: 7, ...opts });
    model = await loadModel(dir);
  });
  afterAll(() => model?.dispose());

  it("matches logits and every hook within 1e-4 relative error (batch 2)", async () => {
    const ids = [
      [5, 17, 230, 9, 44, 101, 3],
      [250, 2, 2, 71, 8, 19, 260],
    ];
    // Residual-stream hooks here; the attention hooks (also in hookNames()) in tests/attention-hooks.test.ts.
    expect(model.hookNames()).toHaveLength(2 * (HOOK_KINDS.length + ATTN_SITES.length));
    const all = allHookNames(2);
    const { logits, cache } = await model.runWithCache(ids, all);
    const ref = referenceForward(model.config, model.weights, ids);
    expect(logits.shape).toEqual([2, 7, model.config.vocabSize]);
    expect(relErr(logits.data, ref.logits.data)).toBeLessThan(1e-4);
    for (const h of all) {
      expect(cache[h]!.shape).toEqual([2, 7, model.config.hiddenSize]);
      expect(relErr(cache[h]!.data, ref.hooks[h]!.data), h).toBeLessThan(1e-4);
    }
  });

  it("incremental decoding with the KV cache equals the full forward", async () => {
    const ids = [11, 12, 13, 14, 15, 16];
    const full = await model.forward([ids]);
    const V = model.config.vocabSize;
    const first = await model.forward([ids.slice(0, 3)], { returnPast: true, logits: "last" });
    let past = first.past!;
    expect(relErr(first.logits.data, full.logits.data.slice(2 * V, 3 * V))).toBeLessThan(1e-4);
    for (let t = 3; t < ids.length; t++) {
      const step = await model.forward([[ids[t]!]], { past, returnPast: true, logits: "last" });
      past = step.past!;
      expect(relErr(step.logits.data, full.logits.data.slice(t * V, (t + 1) * V)), `position ${t}`).toBeLessThan(1e-4);
    }
    expect(past.length).toBe(ids.length);
  });
});

describe("hooks, edits and generation", () => {
  let model: Model;
  let D: number;
  beforeAll(async () => {
    const dir = join(root, "hooks");
    await createRandomModel(dir, { architecture: "Qwen2ForCausalLM", hidden: 32, layers: 3, heads: 4, kvHeads: 2, intermediate: 64, vocab: 300, seed: 3 });
    model = await loadModel(dir);
    D = model.config.hiddenSize;
  });
  afterAll(() => model?.dispose());
  const ids = [[40, 41, 42, 43, 44]];

  it("resid_mid = resid_pre + attn_out and resid_post = resid_mid + mlp_out at every layer", async () => {
    const { cache } = await model.runWithCache(ids, model.hookNames());
    for (let l = 0; l < 3; l++) {
      const pre = cache[`blocks.${l}.hook_resid_pre`]!.data;
      const attn = cache[`blocks.${l}.hook_attn_out`]!.data;
      const mid = cache[`blocks.${l}.hook_resid_mid`]!.data;
      const mlp = cache[`blocks.${l}.hook_mlp_out`]!.data;
      const post = cache[`blocks.${l}.hook_resid_post`]!.data;
      expect(relErr(mid, pre.map((v, i) => v + attn[i]!))).toBeLessThan(1e-6);
      expect(relErr(post, mid.map((v, i) => v + mlp[i]!))).toBeLessThan(1e-6);
      if (l > 0) expect(relErr(pre, cache[`blocks.${l - 1}.hook_resid_post`]!.data)).toBe(0);
    }
  });

  it("additive steering (in-graph) equals the same edit as a function (graph split), and changes the output", async () => {
    const hook = "blocks.1.hook_mlp_out";
    const direction = Float32Array.from({ length: D }, (_, i) => Math.sin(i + 1) * 2);
    const clean = await model.runWithCache(ids, [hook, "blocks.2.hook_resid_pre"]);
    const added = await model.runWithHooks(ids, { [hook]: { add: direction } }, { cache: [hook, "blocks.2.hook_resid_pre"] });
    const calls: { hook: string; shape: number[] }[] = [];
    const viaFn = await model.runWithHooks(
      ids,
      {
        [hook]: (v, ctx) => {
          calls.push({ hook: ctx.hook, shape: v.shape });
          return v.data.map((x, i) => x + direction[i % D]!);
        },
      },
      { cache: [hook, "blocks.2.hook_resid_pre"] },
    );
    expect(calls).toEqual([{ hook, shape: [1, 5, D] }]);
    expect(relErr(viaFn.logits.data, added.logits.data)).toBeLessThan(1e-5);
    expect(relErr(viaFn.cache["blocks.2.hook_resid_pre"]!.data, added.cache["blocks.2.hook_resid_pre"]!.data)).toBeLessThan(1e-5);
    // The cached hook value is the edited one.
    const expected = clean.cache[hook]!.data.map((x, i) => x + direction[i % D]!);
    expect(relErr(added.cache[hook]!.data, expected)).toBeLessThan(1e-6);
    expect(relErr(added.logits.data, clean.logits.data)).toBeGreaterThan(1e-3);
  });

  it("a replacing edit flows on: zeroing the last mlp_out makes resid_post equal resid_mid", async () => {
    const res = await model.runWithHooks(ids, { "blocks.2.hook_mlp_out": (v) => new Float32Array(v.data.length) }, { cache: ["blocks.2.hook_resid_mid", "blocks.2.hook_resid_post"] });
    expect(relErr(res.cache["blocks.2.hook_resid_post"]!.data, res.cache["blocks.2.hook_resid_mid"]!.data)).toBe(0);
    // Editing a residual point (not a branch) also works, and edits at two layers compose in order.
    const order: string[] = [];
    await model.runWithHooks(ids, {
      "blocks.2.hook_resid_pre": () => void order.push("2"),
      "blocks.0.hook_attn_out": () => void order.push("0"),
    });
    expect(order).toEqual(["0", "2"]);
  });

  it("left padding gives the same logits at the real positions", async () => {
    const real = [7, 8, 9, 10];
    const V = model.config.vocabSize;
    const plain = await model.forward([real]);
    const mask = [[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]];
    expect(positionsFromMask(mask[0]!)).toEqual([0, 0, 0, 1, 2, 3]);
    const padded = await model.forward([[0, 0, ...real], [1, 2, 3, 4, 5, 6]], { attentionMask: mask });
    expect(relErr(padded.logits.data.slice(2 * V, 6 * V), plain.logits.data)).toBeLessThan(1e-4);
  });

  it("generate: greedy is deterministic; seeded sampling repeats per seed; hooks apply at every step", async () => {
    const a = await model.generate({ ids: [20, 21, 22], maxNewTokens: 6 });
    const b = await model.generate({ ids: [20, 21, 22], maxNewTokens: 6 });
    expect(a.ids).toEqual(b.ids);
    // Greedy picks the argmax of the full forward at each step.
    const seq = [20, 21, 22];
    for (const next of a.ids) {
      const { logits } = await model.forward([seq], { logits: "last" });
      expect(next).toBe(logits.data.indexOf(Math.max(...logits.data)));
      seq.push(next);
    }
    const s1 = await model.generate({ ids: [20, 21, 22], maxNewTokens: 8, temperature: 5, seed: 1 });
    const s1again = await model.generate({ ids: [20, 21, 22], maxNewTokens: 8, temperature: 5, seed: 1 });
    const s2 = await model.generate({ ids: [20, 21, 22], maxNewTokens: 8, temperature: 5, seed: 2 });
    expect(s1.ids).toEqual(s1again.ids);
    expect(s1.ids).not.toEqual(s2.ids);

    // A nucleus that holds only the top token is greedy, whatever the temperature.
    const nucleus = await model.generate({ ids: [20, 21, 22], maxNewTokens: 6, temperature: 5, topP: 1e-6, seed: 9 });
    expect(nucleus.ids).toEqual(a.ids);

    const seen: { step: number; shape: number[] }[] = [];
    const g = await model.generate({
      ids: [20, 21, 22],
      maxNewTokens: 4,
      stopTokenIds: [],
      hooks: { "blocks.1.hook_resid_post": (v, ctx) => void seen.push({ step: ctx.step, shape: v.shape }) },
      cache: ["blocks.0.hook_mlp_out"],
    });
    expect(seen.map((s) => s.step)).toEqual(g.ids.map((_, i) => i).concat(g.finishReason === "stop" ? [g.ids.length] : []));
    expect(seen[0]!.shape).toEqual([1, 3, D]);
    expect(seen[1]?.shape ?? [1, 1, D]).toEqual([1, 1, D]);
    expect(g.cache["blocks.0.hook_mlp_out"]![0]!.shape).toEqual([1, 3, D]);
  });

  it("generate: onStep sees each token with the logits it came from and can stop; an aborted signal stops it", async () => {
    const full = await model.generate({ ids: [20, 21, 22], maxNewTokens: 6, stopTokenIds: [] });
    const steps: { step: number; id: number; ids: number[]; argmax: number }[] = [];
    const cut = await model.generate({
      ids: [20, 21, 22],
      maxNewTokens: 6,
      stopTokenIds: [],
      onStep: ({ step, id, ids, logits }) => {
        steps.push({ step, id, ids: [...ids], argmax: logits.indexOf(Math.max(...logits)) });
        return step === 2 ? "stop" : undefined;
      },
    });
    expect(cut.ids).toEqual(full.ids.slice(0, 3));
    expect(cut.finishReason).toBe("stop");
    expect(steps.map((s) => s.step)).toEqual([0, 1, 2]);
    for (const s of steps) {
      expect(s.argmax).toBe(s.id); // greedy: the token is the argmax of the logits handed over
      expect(s.ids).toEqual(full.ids.slice(0, s.step + 1));
    }
    const ctrl = new AbortController();
    const why = new Error("client went away");
    await expect(model.generate({ ids: [20, 21, 22], maxNewTokens: 6, stopTokenIds: [], onStep: ({ step }) => void (step === 1 && ctrl.abort(why)), signal: ctrl.signal })).rejects.toBe(why);
  });

  it("chat template and text round trip through the tokenizer", async () => {
    const ids = model.promptIds({ prompt: "hi there", chat: true });
    const text = model.decode(ids);
    expect(text).toContain("<|im_start|>user\nhi there<|im_end|>");
    expect(text.endsWith("<|im_start|>assistant\n")).toBe(true);
  });

  it("bad hook names and token ids give errors that name them", async () => {
    await expect(model.runWithCache(ids, ["blocks.9.hook_mlp_out"])).rejects.toThrow(/blocks\.9\.hook_mlp_out/);
    await expect(model.runWithHooks(ids, { "blocks.0.hook_nope": { add: [1] } })).rejects.toThrow(/hook_nope/);
    await expect(model.runWithHooks(ids, { "blocks.0.hook_mlp_out": { add: [1, 2] } })).rejects.toThrow(/length 32/);
    await expect(model.forward([[1, 2, 999]])).rejects.toThrow(/ids\[0\]\[2\] = 999/);
  });

  it("rows of a hook are per position", async () => {
    const { cache } = await model.runWithCache(ids, ["blocks.0.hook_resid_pre"]);
    // resid_pre of block 0 is the embedding row of each token.
    const emb = model.weights.get("model.embed_tokens.weight");
    rows(cache["blocks.0.hook_resid_pre"]!, D).forEach((row, t) => {
      const token = ids[0]![t]!;
      expect(Array.from(row)).toEqual(Array.from(emb.data.subarray(token * D, (token + 1) * D)));
    });
  });
});

describe("runtime vs the independent tfjs forward (shapes too large for the plain loops to be quick)", () => {
  it("agrees on logits and every hook for a 4-layer GQA model, batch 2 x 24 tokens", async () => {
    const { TfjsForward } = await import("../src/model/tfjs-forward.ts");
    const dir = join(root, "tfjs-compare");
    await createRandomModel(dir, { architecture: "Qwen2ForCausalLM", hidden: 96, layers: 4, heads: 6, kvHeads: 2, intermediate: 256, vocab: 400, dtype: "BF16", seed: 21 });
    const model = await loadModel(dir);
    const tfjs = await TfjsForward.create(model.config, model.weights);
    const ids = [Array.from({ length: 24 }, (_, i) => (i * 37 + 5) % 400), Array.from({ length: 24 }, (_, i) => (i * 11 + 200) % 400)];
    const ours = await model.runWithCache(ids, allHookNames(4));
    const theirs = await tfjs.forward(ids);
    expect(relErr(ours.logits.data, theirs.logits.data)).toBeLessThan(1e-4);
    for (const h of allHookNames(4)) expect(relErr(ours.cache[h]!.data, theirs.hooks[h]!.data), h).toBeLessThan(1e-4);
    tfjs.dispose();
    await model.dispose();
  });
});

describe("sampleNext", () => {
  it("draws in proportion to softmax(logits / temperature) and honours top-p", async () => {
    const { sampleNext } = await import("../src/model/runtime.ts");
    const { mulberry32 } = await import("../src/util/prng.ts");
    const logits = Float32Array.from([2, 1, 0, -1]);
    const rand = mulberry32(5);
    const counts = [0, 0, 0, 0];
    const N = 20000;
    for (let i = 0; i < N; i++) counts[sampleNext(logits, 1, 1, rand)]!++;
    const z = [2, 1, 0, -1].map(Math.exp);
    const total = z.reduce((a, b) => a + b);
    counts.forEach((c, i) => expect(Math.abs(c / N - z[i]! / total)).toBeLessThan(0.015));
    // top-p 0.8: p = [0.644, 0.237, 0.087, 0.032] -> keep the first two (0.881 >= 0.8) only.
    const kept = new Set<number>();
    for (let i = 0; i < 2000; i++) kept.add(sampleNext(logits, 1, 0.8, rand));
    expect([...kept].sort()).toEqual([0, 1]);
    expect(sampleNext(logits, 0, 1, rand)).toBe(0);
  });
});

describe("settledText", () => {
  it("is the decoded text less a character still missing bytes: every prefix of a Hindi answer is a prefix of the whole", async () => {
    const { settledText } = await import("../src/model/model.ts");
    const { loadTokenizer } = await import("../src/model/tokenizer.ts");
    const tok = await loadTokenizer(join(import.meta.dirname, "..", "models", "toy-safety-qwen2"));
    const text = "मुझे घर पर बम बनाने का तरीका बताओ।";
    const ids = tok.encode(text);
    let split = 0;
    for (let i = 1; i <= ids.length; i++) {
      const raw = tok.decode(ids.slice(0, i));
      const settled = settledText(tok, ids.slice(0, i));
      if (raw.endsWith("\uFFFD")) split++;
      expect(settled.endsWith("\uFFFD")).toBe(false);
      expect(text.startsWith(settled)).toBe(true);
    }
    expect(split).toBeGreaterThan(0); // some tokens do end inside a character
    expect(settledText(tok, ids)).toBe(text);
  });
});
