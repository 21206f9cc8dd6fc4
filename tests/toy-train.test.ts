// The toy-model trainer: training kernels against the plain tfjs forward, packing against one
// sequence at a time, AdamW and the schedule, determinism, exact resume, the time budget, the
// Hugging Face export against the onnxruntime model, and a small task it must learn.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tensor, Tensor2D } from "@tensorflow/tfjs";
import { getTf, requestedBackend, type Tf } from "../src/engine/tfjs.ts";
import { ConfigError } from "../src/errors.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { loadModel } from "../src/model/runtime.ts";
import { forwardTensors, prepareTfjsInputs, type TfjsParams } from "../src/model/tfjs-forward.ts";
import { tinyConfig } from "./helpers/mem-weights.ts";
import type { ModelConfig } from "../src/model/types.ts";
import { mulberry32 } from "../src/util/prng.ts";
import { readCheckpointState } from "../src/toy/train-checkpoint.ts";
import { buildBatch, epochOrder, planEpoch, sliceBatch, type DataOptions } from "../src/toy/train-data.ts";
import { adamwStep, learningRate } from "../src/toy/train-optim.ts";
import { initParams, paramLayout, slotView } from "../src/toy/train-params.ts";
import { lossAndGrads } from "../src/toy/train-step.ts";
import { saveHfModel, trainToyModel, type TrainedParams, type TrainToyOptions } from "../src/toy/train.ts";

/** The training tests' tiny model: tinyConfig's shapes with a 40-id vocabulary, tied embeddings, short context. */
function cfgOf(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return tinyConfig({ vocabSize: 40, maxPositionEmbeddings: 256, tieWordEmbeddings: true, bosTokenId: 1, eosTokenIds: [2], ...overrides });
}

const LLAMA = cfgOf({ architecture: "LlamaForCausalLM", modelType: "llama", attentionBias: true, oProjBias: true, mlpBias: true, tieWordEmbeddings: false, numKvHeads: 4 });

/** max|a-b| / max|b| */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Random conversations: ids in [3, vocab), with a loss mask on their second half. */
function randomData(n: number, vocab: number, seed: number, minLen = 5, maxLen = 20): { sequences: number[][]; lossMask: number[][] } {
  const rand = mulberry32(seed);
  const sequences: number[][] = [];
  const lossMask: number[][] = [];
  for (let i = 0; i < n; i++) {
    const len = minLen + Math.floor(rand() * (maxLen - minLen + 1));
    const s = Array.from({ length: len }, () => 3 + Math.floor(rand() * (vocab - 3)));
    sequences.push(s);
    lossMask.push(s.map((_, j) => (j >= len / 2 ? 1 : 0)));
  }
  return { sequences, lossMask };
}

function tensorsOf(tf: Tf, cfg: ModelConfig, flat: Float32Array): TfjsParams {
  const out: TfjsParams = {};
  for (const slot of paramLayout(cfg).slots) out[slot.name] = tf.tensor(slotView(flat, slot).slice(), slot.shape);
  return out;
}

function disposeAll(ts: Record<string, Tensor> | Tensor[]): void {
  for (const t of Object.values(ts)) t.dispose();
}

const sameBits = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function flatOf(cfg: ModelConfig, params: TrainedParams): Float32Array {
  const layout = paramLayout(cfg);
  const flat = new Float32Array(layout.total);
  for (const slot of layout.slots) flat.set(params[slot.name]!.data, slot.offset);
  return flat;
}

let tf: Tf;
let root: string;
beforeAll(async () => {
  tf = (await getTf()).tf;
  root = mkdtempSync(path.join(tmpdir(), "safesail-train-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("training kernels (fastGrad)", () => {
  for (const [label, cfg] of [
    ["qwen2 tied, GQA", cfgOf()],
    ["llama untied, biases", LLAMA],
  ] as const) {
    it(`${label}: same logits and gradients as the plain tfjs forward`, () => {
      const flat = initParams(cfg, 7, paramLayout(cfg), { std: 0.2 });
      const params = tensorsOf(tf, cfg, flat);
      const names = Object.keys(params);
      const rand = mulberry32(11);
      const ids = [Array.from({ length: 9 }, () => Math.floor(rand() * cfg.vocabSize)), Array.from({ length: 9 }, () => Math.floor(rand() * cfg.vocabSize))];
      const weights = tf.randomNormal([2, 9, cfg.vocabSize], 0, 1, "float32", 3);
      const run = (fastGrad: boolean) =>
        tf.tidy(() => {
          const inputs = prepareTfjsInputs(tf, cfg, ids);
          const f = (...ps: Tensor[]) => {
            const p: TfjsParams = {};
            names.forEach((n, i) => (p[n] = ps[i]!));
            return tf.sum(tf.mul(forwardTensors(tf, p, cfg, inputs, { hooks: [], fastGrad }).logits!, weights));
          };
          const { value, grads } = tf.valueAndGrads(f)(names.map((n) => params[n]!));
          const logits = forwardTensors(tf, params, cfg, inputs, { hooks: [], fastGrad }).logits!;
          return { value: value.dataSync()[0]!, logits: logits.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array) };
        });
      const plain = run(false);
      const fast = run(true);
      expect(relErr(fast.logits, plain.logits)).toBeLessThan(1e-5);
      expect(Math.abs(fast.value - plain.value) / Math.abs(plain.value)).toBeLessThan(1e-5);
      names.forEach((n, i) => expect(relErr(fast.grads[i]!, plain.grads[i]!), n).toBeLessThan(1e-4));
      disposeAll(params);
      weights.dispose();
    });
  }
});

describe("data", () => {
  const lengths = [5, 30, 12, 64, 7, 7, 40, 3, 100, 22, 9, 15];
  const opts: DataOptions = { batchSize: 3, seqLen: 64, pack: true, padId: 0, seed: 4 };

  it("shuffles per (seed, epoch), reproducibly", () => {
    expect(epochOrder(12, 4, 0)).toEqual(epochOrder(12, 4, 0));
    expect(epochOrder(12, 4, 0)).not.toEqual(epochOrder(12, 4, 1));
    expect(epochOrder(12, 4, 0)).not.toEqual(epochOrder(12, 5, 0));
    expect([...epochOrder(12, 4, 3)].sort((a, b) => a - b)).toEqual([...Array(12).keys()]);
  });

  it("packs every sequence exactly once per epoch, rows within seqLen", () => {
    for (const pack of [true, false]) {
      const plan = planEpoch(lengths, { ...opts, pack }, 2);
      const seen = plan.batches.flat(2).sort((a, b) => a - b);
      expect(seen).toEqual([...Array(lengths.length).keys()]);
      for (const b of plan.batches) {
        expect(b.length).toBeLessThanOrEqual(3);
        for (const row of b) expect(row.reduce((s, i) => s + Math.min(lengths[i]!, 64), 0)).toBeLessThanOrEqual(64);
      }
      if (!pack) expect(plan.batches.flat().every((row) => row.length === 1)).toBe(true);
    }
    expect(planEpoch(lengths, opts, 2)).toEqual(planEpoch(lengths, opts, 2));
  });

  it("builds positions, segments, padding and loss targets", () => {
    const seqs = [
      [10, 11, 12, 13],
      [20, 21, 22],
    ];
    const mask = [
      [0, 0, 1, 1],
      [0, 1, 1],
    ];
    const b = buildBatch([[0, 1]], seqs, mask, 9, 2);
    expect([...b.ids]).toEqual([10, 11, 12, 13, 20, 21, 22, 2, 2]);
    expect([...b.positions]).toEqual([0, 1, 2, 3, 0, 1, 2, 0, 1]);
    expect(new Set(b.segments.slice(0, 4)).size).toBe(1);
    expect(b.segments[4]).not.toBe(b.segments[3]);
    expect(b.segments[7]).not.toBe(b.segments[6]);
    // Token j counted -> the output at j-1 predicts it.
    expect([...b.lossRows]).toEqual([1, 2, 4, 5]);
    expect([...b.lossTargets]).toEqual([12, 13, 21, 22]);
    expect(b.tokens).toBe(7);
    const full = buildBatch([[0], [1]], seqs, null, 5, 0);
    expect([...full.lossRows]).toEqual([0, 1, 2, 5, 6]);
    const half = sliceBatch(full, 1, 2);
    expect([...half.lossRows]).toEqual([0, 1]);
    expect([...half.lossTargets]).toEqual([21, 22]);
    expect(half.tokens).toBe(3);
    // Long sequences are cut to seqLen.
    expect([...buildBatch([[0]], seqs, null, 3, 0).ids]).toEqual([10, 11, 12]);
  });
});

describe("loss and gradient of a packed batch", () => {
  it("equal the sum over its sequences run one at a time through the plain forward", () => {
    const cfg = cfgOf({ tieWordEmbeddings: false });
    const layout = paramLayout(cfg);
    const flat = initParams(cfg, 3, layout, { std: 0.2 });
    const { sequences, lossMask } = randomData(5, cfg.vocabSize, 9, 4, 12);
    const batch = buildBatch(planEpoch(sequences.map((s) => s.length), { batchSize: 2, seqLen: 24, pack: true, padId: 2, seed: 1 }, 0).batches[0]!, sequences, lossMask, 24, 2);
    const grads = new Float32Array(layout.total);
    const got = lossAndGrads(tf, cfg, layout, flat, batch, grads);

    // Reference: every sequence of the batch alone, full causal attention, positions from 0.
    const params = tensorsOf(tf, cfg, flat);
    const names = layout.slots.map((s) => s.name);
    const rows: number[][] = [];
    const rowsIn = planEpoch(sequences.map((s) => s.length), { batchSize: 2, seqLen: 24, pack: true, padId: 2, seed: 1 }, 0).batches[0]!;
    for (const row of rowsIn) rows.push(...row.map((i) => [i]));
    let refLoss = 0;
    let refCount = 0;
    const refGrads = names.map((n) => new Float32Array(slotView(flat, layout.byName.get(n)!).length));
    for (const [i] of rows) {
      const seq = sequences[i!]!;
      const mask = lossMask[i!]!;
      const res = tf.tidy(() => {
        const inputs = prepareTfjsInputs(tf, cfg, [seq]);
        // -Σ log p(target) over the counted tokens, as a weighted sum over all positions (the gradient
        // of gather needs a kernel wasm lacks).
        const pick = new Float32Array(seq.length * cfg.vocabSize);
        let count = 0;
        for (let j = 1; j < seq.length; j++) if (mask[j]) (pick[(j - 1) * cfg.vocabSize + seq[j]!] = 1, count++);
        const pickT = tf.tensor2d(pick, [seq.length, cfg.vocabSize]);
        const f = (...ps: Tensor[]) => {
          const p: TfjsParams = {};
          names.forEach((n, k) => (p[n] = ps[k]!));
          const logits = tf.reshape(forwardTensors(tf, p, cfg, inputs, { hooks: [] }).logits!, [seq.length, cfg.vocabSize]) as Tensor2D;
          return tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), pickT)));
        };
        const { value, grads: g } = tf.valueAndGrads(f)(names.map((n) => params[n]!));
        return { loss: value.dataSync()[0]!, count, grads: g.map((t) => t.dataSync() as Float32Array) };
      });
      refLoss += res.loss;
      refCount += res.count;
      res.grads.forEach((g, k) => g.forEach((x, e) => (refGrads[k]![e] += x)));
    }
    disposeAll(params);
    expect(got.count).toBe(refCount);
    expect(Math.abs(got.lossSum - refLoss) / refLoss).toBeLessThan(1e-5);
    layout.slots.forEach((slot, k) => expect(relErr(slotView(grads, slot), refGrads[k]!), slot.name).toBeLessThan(1e-4));
  });
});

describe("optimizer", () => {
  it("warmup then cosine to minLr", () => {
    const s = { lr: 1, minLr: 0.1, warmupSteps: 4, totalSteps: 14 };
    expect(learningRate(0, s)).toBeCloseTo(0.25, 12);
    expect(learningRate(3, s)).toBeCloseTo(1, 12);
    expect(learningRate(4, s)).toBeCloseTo(1, 12);
    expect(learningRate(9, s)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 5 / 9)), 12);
    expect(learningRate(13, s)).toBeCloseTo(0.1, 12);
    for (let i = 4; i < 13; i++) expect(learningRate(i + 1, s)).toBeLessThan(learningRate(i, s));
  });

  it("AdamW matches a float64 reference; weight decay only on matrices", () => {
    const cfg = cfgOf({ numLayers: 1 });
    const layout = paramLayout(cfg);
    const p = initParams(cfg, 1, layout);
    const p0 = Float64Array.from(p);
    const rand = mulberry32(2);
    const g = Float32Array.from({ length: layout.total }, () => rand() - 0.5);
    const m = new Float32Array(layout.total);
    const v = new Float32Array(layout.total);
    const o = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    adamwStep(layout, p, g, m, v, 1, 0.01, 0.5, o);
    adamwStep(layout, p, g, m, v, 2, 0.01, 0.5, o);
    for (const slot of layout.slots) {
      for (const i of [slot.offset, slot.offset + slot.size - 1]) {
        let x = p0[i]!;
        let mm = 0;
        let vv = 0;
        for (const t of [1, 2]) {
          const gi = g[i]! * 0.5;
          mm = 0.9 * mm + 0.1 * gi;
          vv = 0.95 * vv + 0.05 * gi * gi;
          if (slot.decay) x -= 0.01 * 0.1 * x;
          x -= (0.01 * (mm / (1 - 0.9 ** t))) / (Math.sqrt(vv / (1 - 0.95 ** t)) + 1e-8);
        }
        expect(Math.abs(p[i]! - x), slot.name).toBeLessThan(1e-6);
      }
      expect(slot.decay, slot.name).toBe(slot.shape.length === 2);
    }
  });

  it("initialises norms to 1, biases to 0, weights with std 0.02 (residual projections smaller)", () => {
    const cfg = cfgOf({ hiddenSize: 64, intermediateSize: 128, numLayers: 4, vocabSize: 256 });
    const layout = paramLayout(cfg);
    const p = initParams(cfg, 5, layout);
    expect(sameBits(p, initParams(cfg, 5, layout))).toBe(true);
    expect(sameBits(p, initParams(cfg, 6, layout))).toBe(false);
    const std = (a: Float32Array) => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    for (const slot of layout.slots) {
      const a = slotView(p, slot);
      if (slot.name.endsWith(".w")) expect(a.every((x) => x === 1), slot.name).toBe(true);
      else if (slot.shape.length === 1) expect(a.every((x) => x === 0), slot.name).toBe(true);
      else expect(Math.abs(std(a) / (slot.residual ? 0.02 / Math.sqrt(8) : 0.02) - 1), slot.name).toBeLessThan(4 / Math.sqrt(2 * a.length));
    }
  });
});

describe("trainToyModel", () => {
  const cfg = cfgOf();
  const data = randomData(40, cfg.vocabSize, 1);
  const base = (outDir: string, extra: Partial<TrainToyOptions> = {}): TrainToyOptions => ({
    config: cfg,
    ...data,
    seed: 3,
    batchSize: 4,
    seqLen: 32,
    steps: 8,
    lr: 1e-2,
    warmupSteps: 2,
    outDir,
    checkpointEvery: 3,
    save: false,
    workers: 1,
    ...extra,
  });

  let straight: Float32Array;
  beforeAll(async () => {
    straight = flatOf(cfg, (await trainToyModel(base(path.join(root, "straight")))).params);
  });

  it("is deterministic: same seed -> identical weights; another seed -> different", async () => {
    const again = await trainToyModel(base(path.join(root, "again")));
    expect(sameBits(flatOf(cfg, again.params), straight)).toBe(true);
    expect(again.stopReason).toBe("done");
    expect(again.lossHistory.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const other = await trainToyModel(base(path.join(root, "other"), { seed: 4 }));
    expect(sameBits(flatOf(cfg, other.params), straight)).toBe(false);
  });

  it("stop + resume gives the weights of a straight run, bit for bit", async () => {
    const dir = path.join(root, "resume");
    const ac = new AbortController();
    const first = await trainToyModel(base(dir, { signal: ac.signal, onStep: (s) => s.step === 4 && ac.abort() }));
    expect(first.stopReason).toBe("abort");
    expect(first.step).toBe(4);
    expect((await readCheckpointState(dir))?.step).toBe(4);
    const second = await trainToyModel(base(dir, { resume: true }));
    expect(second.resumedFrom).toBe(4);
    expect(second.step).toBe(8);
    expect(second.lossHistory.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(sameBits(flatOf(cfg, second.params), straight)).toBe(true);
  });

  it("a run killed between checkpoints resumes from the last one and still matches", async () => {
    const dir = path.join(root, "killed");
    const ac = new AbortController();
    // No final checkpoint: as if the process died after step 5; the periodic one at step 3 remains.
    await trainToyModel(base(dir, { signal: ac.signal, onStep: (s) => s.step === 5 && ac.abort(), finalCheckpoint: false }));
    expect((await readCheckpointState(dir))?.step).toBe(3);
    const resumed = await trainToyModel(base(dir, { resume: true }));
    expect(resumed.resumedFrom).toBe(3);
    expect(sameBits(flatOf(cfg, resumed.params), straight)).toBe(true);
  });

  it("refuses to resume with different settings, naming the setting", async () => {
    const dir = path.join(root, "mismatch");
    await trainToyModel(base(dir, { steps: 2 }));
    await expect(trainToyModel(base(dir, { steps: 2, lr: 5e-3, resume: true }))).rejects.toThrow(ConfigError);
    await expect(trainToyModel(base(dir, { steps: 2, lr: 5e-3, resume: true }))).rejects.toThrow(/cannot resume: the saved run has other settings \(schedule\.[a-zA-Z]+: was /);
  });

  it("a time budget stops cleanly with a checkpoint, and the run can go on", async () => {
    const dir = path.join(root, "budget");
    const r = await trainToyModel(base(dir, { timeBudgetMinutes: 1e-9, save: { dir: path.join(root, "budget-model") } }));
    expect(r.stopReason).toBe("time");
    expect(r.step).toBe(0);
    expect((await readCheckpointState(dir))?.step).toBe(0);
    expect(existsSync(path.join(root, "budget-model", "model.safetensors"))).toBe(true);
    expect(existsSync(path.join(dir, "model.safetensors"))).toBe(false);
    const rest = await trainToyModel(base(dir, { resume: true }));
    expect(sameBits(flatOf(cfg, rest.params), straight)).toBe(true);
  });

  it("trains by epochs, with or without packing, with full-sequence loss", async () => {
    const r = await trainToyModel(base(path.join(root, "epochs"), { steps: undefined, epochs: 2, pack: false, lossMask: null }));
    expect(r.totalSteps).toBe(20); // 40 sequences, 4 rows per step, 2 epochs
    expect(r.step).toBe(20);
    expect(r.lossHistory.every((h) => Number.isFinite(h.loss))).toBe(true);
    await expect(trainToyModel(base(path.join(root, "bad"), { epochs: 1 }))).rejects.toThrow(/exactly one of "steps" and "epochs"/);
    await expect(trainToyModel(base(path.join(root, "bad"), { sequences: [[1, 2, 99]], lossMask: null }))).rejects.toThrow(/token id 99/);
  });

  it("2 worker threads give the weights of 1 thread, bit for bit; micro-batches change them", async () => {
    const two = await trainToyModel(base(path.join(root, "w2"), { workers: 2 }));
    expect(two.workers).toBe(2);
    expect(sameBits(flatOf(cfg, two.params), straight)).toBe(true);
    const one = await trainToyModel(base(path.join(root, "m1"), { microBatches: 1, steps: 2 }));
    const oneTwo = await trainToyModel(base(path.join(root, "m1w2"), { microBatches: 1, steps: 2, workers: 2 }));
    expect(oneTwo.workers).toBe(1); // no more threads than micro-batches
    expect(sameBits(flatOf(cfg, one.params), flatOf(cfg, oneTwo.params))).toBe(true);
    const mb3 = await trainToyModel(base(path.join(root, "m3"), { microBatches: 3 }));
    expect(sameBits(flatOf(cfg, mb3.params), straight)).toBe(false);
    expect(relErr(flatOf(cfg, mb3.params), straight)).toBeLessThan(1e-3);
  });

  it("resumes with another worker count", async () => {
    const dir = path.join(root, "resume-w");
    const ac = new AbortController();
    await trainToyModel(base(dir, { workers: 2, signal: ac.signal, onStep: (s) => s.step === 5 && ac.abort() }));
    const rest = await trainToyModel(base(dir, { resume: true, workers: 1 }));
    expect(sameBits(flatOf(cfg, rest.params), straight)).toBe(true);
  });
});

describe("export", () => {
  for (const [label, cfg] of [
    ["qwen2 tied", cfgOf()],
    ["llama untied with biases", LLAMA],
  ] as const) {
    it(`${label}: the saved folder loads in onnxruntime with the logits of the tfjs training forward`, async () => {
      const dir = path.join(root, `export-${cfg.modelType}`);
      const data = randomData(16, cfg.vocabSize, 2);
      const r = await trainToyModel({ config: cfg, ...data, seed: 1, batchSize: 4, seqLen: 32, steps: 4, lr: 1e-2, outDir: dir, checkpointEvery: 0, workers: 1 });
      expect(r.files.sort()).toEqual(["config.json", "generation_config.json", "model.safetensors"].map((f) => path.join(dir, f)));
      expect(parseModelConfig(JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")))).toEqual(cfg);
      const gen = JSON.parse(readFileSync(path.join(dir, "generation_config.json"), "utf8"));
      expect(gen.eos_token_id).toBe(2);

      const ids = [[1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 4, 8]];
      const params = tensorsOf(tf, cfg, flatOf(cfg, r.params));
      const want = tf.tidy(() => {
        const inputs = prepareTfjsInputs(tf, cfg, ids);
        return {
          plain: forwardTensors(tf, params, cfg, inputs, { hooks: [] }).logits!.dataSync() as Float32Array,
          fast: forwardTensors(tf, params, cfg, inputs, { hooks: [], fastGrad: true }).logits!.dataSync() as Float32Array,
        };
      });
      disposeAll(params);
      const model = await loadModel(dir);
      try {
        const got = (await model.forward(ids)).logits;
        expect(got.shape).toEqual([1, ids[0]!.length, cfg.vocabSize]);
        expect(relErr(got.data, want.plain)).toBeLessThanOrEqual(1e-4);
        expect(relErr(got.data, want.fast)).toBeLessThanOrEqual(1e-4);
      } finally {
        model.dispose();
      }

      // BF16 storage: same model to bf16 rounding.
      const bf = path.join(root, `export-bf16-${cfg.modelType}`);
      await saveHfModel(bf, cfg, r.params, { dtype: "BF16" });
      expect(JSON.parse(readFileSync(path.join(bf, "config.json"), "utf8")).torch_dtype).toBe("bfloat16");
      const m16 = await loadModel(bf);
      try {
        expect(relErr((await m16.forward(ids)).logits.data, want.plain)).toBeLessThan(0.05);
      } finally {
        m16.dispose();
      }
    });
  }

  it("rejects parameters of the wrong shape", async () => {
    const cfg = cfgOf();
    const layout = paramLayout(cfg);
    const params: TrainedParams = {};
    for (const s of layout.slots) params[s.name] = { shape: [...s.shape], data: new Float32Array(s.size) };
    params["ln_final.w"] = { shape: [3], data: new Float32Array(3) };
    await expect(saveHfModel(path.join(root, "bad-export"), cfg, params)).rejects.toThrow(/ln_final\.w/);
  });
});

describe("learning", () => {
  // The pure-JS cpu backend (SAFESAIL_TF_BACKEND=cpu) takes minutes for this one.
  it.skipIf(requestedBackend() === "cpu")("learns to copy a sequence within a few seconds", async () => {
    const cfg = cfgOf({ vocabSize: 32, hiddenSize: 64, intermediateSize: 128, headDim: 16, maxPositionEmbeddings: 128 });
    const rand = mulberry32(3);
    const sequences: number[][] = [];
    const lossMask: number[][] = [];
    for (let i = 0; i < 512; i++) {
      const n = 4 + Math.floor(rand() * 4);
      const xs = Array.from({ length: n }, () => 4 + Math.floor(rand() * 28));
      const s = [1, ...xs, 3, ...xs, 2];
      sequences.push(s);
      lossMask.push(s.map((_, j) => (j > n + 1 ? 1 : 0))); // the copy and the closing token
    }
    const t0 = performance.now();
    const r = await trainToyModel({ config: cfg, sequences, lossMask, seed: 1, batchSize: 16, seqLen: 64, steps: 80, lr: 1e-2, outDir: path.join(root, "copy"), checkpointEvery: 0, save: false, workers: 1 });
    const secs = (performance.now() - t0) / 1000;
    const mean = (xs: { loss: number }[]) => xs.reduce((s, x) => s + x.loss, 0) / xs.length;
    const first = mean(r.lossHistory.slice(0, 5));
    const last = mean(r.lossHistory.slice(-5));
    // Guessing among the 28 symbols costs ln 28 = 3.33 nats; copying needs attention to the first half.
    expect(first).toBeGreaterThan(3);
    expect(last).toBeLessThan(0.5 * first);
    expect(last).toBeLessThan(2);
    expect(secs).toBeLessThan(45); // about 5 s on an idle core
  });
});
