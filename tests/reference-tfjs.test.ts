// The float64 plain-loop reference forward and the float32 tfjs forward, checked against each other
// and against properties that hold for any correct decoder (causality, padding, residual sums,
// relative-position RoPE, a hand-computed one-layer model, finite-difference gradients).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tensor } from "@tensorflow/tfjs";
import { getTf, requestedBackend, TF_BACKENDS, TF_BACKEND_ENV } from "../src/engine/tfjs.ts";
import { computeInvFreq, referenceForward } from "../src/model/reference.ts";
import { forwardTensors, prepareTfjsInputs, TfjsForward, tfjsParamSpecs } from "../src/model/tfjs-forward.ts";
import type { F32Tensor, ForwardResult, ModelConfig, RopeScaling } from "../src/model/types.ts";
import { allHookNames, HOOK_KINDS, hookName, type HookKind } from "../src/model/hooks.ts";
import { gaussian, MemWeights, mulberry32, randomIds, randomWeights, tinyConfig } from "./helpers/mem-weights.ts";

// ---------------------------------------------------------------- comparison helpers

/** max|a - b| / max|b| */
function relErr(a: F32Tensor, b: F32Tensor): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.data.length; i++) {
    diff = Math.max(diff, Math.abs(a.data[i]! - b.data[i]!));
    scale = Math.max(scale, Math.abs(b.data[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

function maxAbs(t: F32Tensor): number {
  let m = 0;
  for (const v of t.data) m = Math.max(m, Math.abs(v));
  return m;
}

/** `a` (tested) is close to `b` (truth): max relative error and elementwise |a-b| <= atol + rtol*|b|. */
function expectClose(label: string, a: F32Tensor, b: F32Tensor, rel = 1e-4, atol = 1e-5, rtol = 1e-4): number {
  expect(a.shape, `${label} shape`).toEqual(b.shape);
  expect(a.data.length, `${label} size`).toBe(b.data.length);
  for (let i = 0; i < a.data.length; i++) {
    if (!Number.isFinite(a.data[i]!)) throw new Error(`${label}: element ${i} is ${a.data[i]}`);
  }
  const r = relErr(a, b);
  expect(r, `${label} relative error`).toBeLessThanOrEqual(rel);
  for (let i = 0; i < a.data.length; i++) {
    const err = Math.abs(a.data[i]! - b.data[i]!);
    if (err > atol + rtol * Math.abs(b.data[i]!)) {
      throw new Error(`${label}: element ${i}: ${a.data[i]} vs ${b.data[i]} (|diff| ${err} > ${atol} + ${rtol}*|b|)`);
    }
  }
  return r;
}

/** Compares logits and every hook; returns the worst relative error. */
function expectSameResult(label: string, got: ForwardResult, want: ForwardResult, rel = 1e-4): number {
  expect(Object.keys(got.hooks).sort(), `${label} hook names`).toEqual(Object.keys(want.hooks).sort());
  let worst = expectClose(`${label} logits`, got.logits, want.logits, rel);
  for (const name of Object.keys(want.hooks)) worst = Math.max(worst, expectClose(`${label} ${name}`, got.hooks[name]!, want.hooks[name]!, rel));
  return worst;
}

/** Rows `[t0, t1)` of batch row `b` of a `[B, T, X]` tensor, as a `[1, t1-t0, X]` tensor. */
function sliceRows(t: F32Tensor, b: number, t0: number, t1: number): F32Tensor {
  const [, T, X] = t.shape as [number, number, number];
  return { shape: [1, t1 - t0, X], data: t.data.slice((b * T + t0) * X, (b * T + t1) * X) };
}

/** Every field of a result restricted to rows [t0, t1) of batch row b. */
function sliceResult(r: ForwardResult, b: number, t0: number, t1: number): ForwardResult {
  const hooks: Record<string, F32Tensor> = {};
  for (const [k, v] of Object.entries(r.hooks)) hooks[k] = sliceRows(v, b, t0, t1);
  return { logits: sliceRows(r.logits, b, t0, t1), hooks };
}

// ---------------------------------------------------------------- configurations

const llama3Scaling: RopeScaling = { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 8, originalMaxPositionEmbeddings: 1024 };

function llama(overrides: Partial<ModelConfig>): ModelConfig {
  return tinyConfig({ architecture: "LlamaForCausalLM", modelType: "llama", attentionBias: false, ropeTheta: 10000, ...overrides });
}

const VARIANTS: { label: string; cfg: ModelConfig }[] = [
  { label: "qwen2 (q/k/v bias), untied", cfg: tinyConfig({ ropeTheta: 1e6 }) },
  { label: "qwen2 (q/k/v bias), tied", cfg: tinyConfig({ ropeTheta: 1e6, tieWordEmbeddings: true }) },
  { label: "llama, no bias, untied", cfg: llama({}) },
  {
    label: "llama, attention_bias + mlp_bias + llama3 rope_scaling, untied",
    cfg: llama({ attentionBias: true, oProjBias: true, mlpBias: true, ropeScaling: llama3Scaling }),
  },
  { label: "llama, linear rope_scaling, tied", cfg: llama({ tieWordEmbeddings: true, ropeScaling: { type: "linear", factor: 4 } }) },
  { label: "llama, multi-query (KV=1)", cfg: llama({ numKvHeads: 1 }) },
];

const B = 2;
const T = 5;

/**
 * For each parameter: the directional derivative of loss = sum(logits * R) along a random direction,
 * from tf.grad through forwardTensors, against a central finite difference of the float64 reference.
 */
async function expectGradsMatch(model: TfjsForward, weights: MemWeights, cases: { name: string; hf: string }[]): Promise<void> {
  const { tf, params, cfg } = model;
  const randn = gaussian(mulberry32(301));
  // Token 9 appears three times so the lookup gradient must accumulate.
  const ids = [
    [9, 4, 9, 17, 2],
    [33, 9, 5, 61, 12],
  ];
  const R = Float32Array.from({ length: B * T * cfg.vocabSize }, () => randn());
  const opts = { positionIds: [[3, 4, 5, 6, 7], [0, 1, 2, 3, 4]] };
  const refLoss = (w: MemWeights): number => {
    const logits = referenceForward(cfg, w, ids, opts).logits.data;
    let s = 0;
    for (let i = 0; i < logits.length; i++) s += logits[i]! * R[i]!;
    return s;
  };
  const tensorsBefore = tf.memory().numTensors;
  for (const c of cases) {
    const spec = tfjsParamSpecs(cfg).find((s) => s.name === c.name)!;
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const U = Float32Array.from({ length: size }, () => randn()); // direction, tfjs layout
    const grad = tf.tidy(() => {
      const inputs = prepareTfjsInputs(tf, cfg, ids, opts);
      const Rt = tf.tensor3d(R, [B, T, cfg.vocabSize]);
      const lossOf = (w: Tensor): Tensor => tf.sum(tf.mul(forwardTensors(tf, { ...params, [c.name]: w }, cfg, inputs, { hooks: [] }).logits!, Rt));
      return tf.grad(lossOf)(params[c.name]!);
    });
    const g = (await grad.data()) as Float32Array;
    grad.dispose();
    let analytic = 0;
    for (let i = 0; i < size; i++) analytic += g[i]! * U[i]!;
    // The same direction in Hugging Face layout (transposed for linear weights).
    const hfDir = new Float32Array(size);
    if (spec.transposed) {
      const [inDim, outDim] = spec.shape as [number, number];
      for (let i = 0; i < inDim; i++) for (let o = 0; o < outDim; o++) hfDir[o * inDim + i] = U[i * outDim + o]!;
    } else hfDir.set(U);
    const eps = 1e-3;
    const base = weights.get(c.hf);
    const moved = (sign: number): MemWeights => weights.with(c.hf, { shape: base.shape, data: base.data.map((v, i) => v + sign * eps * hfDir[i]!) });
    const numeric = (refLoss(moved(1)) - refLoss(moved(-1))) / (2 * eps);
    expect(Math.abs(analytic - numeric) / Math.abs(numeric), `${c.name}: analytic ${analytic} vs numeric ${numeric}`).toBeLessThan(5e-3);
  }
  expect(tf.memory().numTensors).toBe(tensorsBefore);
}

// ---------------------------------------------------------------- tests

describe("computeInvFreq", () => {
  // theta 10000, head_dim 8: base frequencies 1, 0.1, 0.01, 0.001 (wavelengths 2π, 20π, 200π, 2000π).
  const base = { headDim: 8, ropeTheta: 10000 };
  it("default: theta^(-2j/hd)", () => {
    const inv = computeInvFreq({ ...base, ropeScaling: null });
    [1, 0.1, 0.01, 0.001].forEach((f, j) => expect(inv[j]).toBeCloseTo(f, 14));
  });
  it("linear scaling divides every frequency", () => {
    const inv = computeInvFreq({ ...base, ropeScaling: { type: "linear", factor: 4 } });
    [0.25, 0.025, 0.0025, 0.00025].forEach((f, j) => expect(inv[j]).toBeCloseTo(f, 14));
  });
  it("llama3 keeps high, scales low and blends medium frequencies", () => {
    // high-frequency wavelength bound 1024/8 = 128, low-frequency bound 1024/1 = 1024:
    // 2π and 20π < 128 keep; 200π ≈ 628 is medium; 2000π ≈ 6283 > 1024 is divided by 8.
    const inv = computeInvFreq({ ...base, ropeScaling: llama3Scaling });
    const smooth = (1024 / (200 * Math.PI) - 1) / (8 - 1);
    expect(inv[0]).toBeCloseTo(1, 14);
    expect(inv[1]).toBeCloseTo(0.1, 14);
    expect(inv[2]).toBeCloseTo((1 - smooth) * (0.01 / 8) + smooth * 0.01, 14);
    expect(inv[3]).toBeCloseTo(0.001 / 8, 14);
  });
});

describe("referenceForward by hand", () => {
  // One layer, one head, head_dim = hidden = 4, identity q/k/v/o projections, unit norms, a zero
  // MLP and tied embeddings: every quantity can be written down with complex-number RoPE.
  const cfg = llama({
    vocabSize: 3,
    hiddenSize: 4,
    intermediateSize: 2,
    numLayers: 1,
    numHeads: 1,
    numKvHeads: 1,
    headDim: 4,
    ropeTheta: 100, // frequencies 1 and 0.1
    tieWordEmbeddings: true,
  });
  const E = [
    [1, 2, -1, 0.5],
    [-0.5, 1, 2, 1],
    [0.3, -1, 0.7, 2],
  ];
  const eye = { shape: [4, 4], data: Float32Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]) };
  const weights = new MemWeights(
    new Map<string, F32Tensor>([
      ["model.embed_tokens.weight", { shape: [3, 4], data: Float32Array.from(E.flat()) }],
      ["model.layers.0.input_layernorm.weight", { shape: [4], data: new Float32Array(4).fill(1) }],
      ["model.layers.0.self_attn.q_proj.weight", eye],
      ["model.layers.0.self_attn.k_proj.weight", eye],
      ["model.layers.0.self_attn.v_proj.weight", eye],
      ["model.layers.0.self_attn.o_proj.weight", eye],
      ["model.layers.0.post_attention_layernorm.weight", { shape: [4], data: new Float32Array(4).fill(1) }],
      ["model.layers.0.mlp.gate_proj.weight", { shape: [2, 4], data: new Float32Array(8) }],
      ["model.layers.0.mlp.up_proj.weight", { shape: [2, 4], data: new Float32Array(8) }],
      ["model.layers.0.mlp.down_proj.weight", { shape: [4, 2], data: new Float32Array(8) }],
      ["model.norm.weight", { shape: [4], data: new Float32Array(4).fill(1) }],
    ]),
  );
  const norm = (x: number[]): number[] => {
    const rms = Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + cfg.rmsNormEps);
    return x.map((v) => v / rms);
  };
  /** q·k / sqrt(hd) with RoPE, via Re(z_q conj(z_k) e^{i (p_q - p_k) inv_j}) over the pairs (j, j+2). */
  const score = (q: number[], pq: number, k: number[], pk: number): number => {
    let s = 0;
    [1, 0.1].forEach((inv, j) => {
      // z_q conj(z_k) = (a + ib)(c - id) = (ac + bd) + i(bc - ad)
      const [a, b, c, d] = [q[j]!, q[j + 2]!, k[j]!, k[j + 2]!];
      const re = a * c + b * d;
      const im = b * c - a * d;
      const angle = (pq - pk) * inv;
      s += re * Math.cos(angle) - im * Math.sin(angle);
    });
    return s / 2;
  };

  it("matches attention, residual and logits computed by hand", () => {
    const ids = [0, 2, 1];
    const pos = [2, 5, 9];
    const r = referenceForward(cfg, weights, [ids], { positionIds: [pos] });
    const h = ids.map((id) => norm(E[id]!));
    for (let t = 0; t < 3; t++) {
      const scores = h.slice(0, t + 1).map((hk, s) => score(h[t]!, pos[t]!, hk, pos[s]!));
      const max = Math.max(...scores);
      const w = scores.map((s) => Math.exp(s - max));
      const sum = w.reduce((a, v) => a + v, 0);
      const attn = [0, 1, 2, 3].map((d) => w.reduce((acc, ws, s) => acc + (ws / sum) * h[s]![d]!, 0));
      const resid = E[ids[t]!]!.map((e, d) => e + attn[d]!);
      const fin = norm(resid);
      const logits = E.map((row) => row.reduce((acc, e, d) => acc + e * fin[d]!, 0));
      for (let d = 0; d < 4; d++) {
        expect(r.hooks["blocks.0.hook_attn_out"]!.data[t * 4 + d]).toBeCloseTo(attn[d]!, 5);
        expect(r.hooks["blocks.0.hook_mlp_out"]!.data[t * 4 + d]).toBe(0);
        expect(r.hooks["blocks.0.hook_resid_post"]!.data[t * 4 + d]).toBeCloseTo(resid[d]!, 5);
      }
      for (let v = 0; v < 3; v++) expect(r.logits.data[t * 3 + v]).toBeCloseTo(logits[v]!, 5);
    }
    // Position 0 sees only itself: its attention output is its own normalised embedding.
    for (let d = 0; d < 4; d++) expect(r.hooks["blocks.0.hook_attn_out"]!.data[d]).toBeCloseTo(h[0]![d]!, 6);
    // RoPE matters: without the rotation the position-1 output would differ.
    const noRope = referenceForward(cfg, weights, [ids], { positionIds: [[0, 0, 0]] });
    expect(relErr(noRope.hooks["blocks.0.hook_attn_out"]!, r.hooks["blocks.0.hook_attn_out"]!)).toBeGreaterThan(1e-3);
  });
});

describe("referenceForward properties", () => {
  const cfg = VARIANTS[3]!.cfg; // biases everywhere + llama3 scaling: the most moving parts
  const weights = randomWeights(cfg, 11);
  const ids = randomIds(B, T, cfg.vocabSize, 12);

  it("is causal: changing token t leaves positions < t unchanged and changes positions >= t", () => {
    const base = referenceForward(cfg, weights, ids);
    const changed = ids.map((row) => [...row]);
    changed[1]![3] = (changed[1]![3]! + 7) % cfg.vocabSize;
    const r = referenceForward(cfg, weights, changed);
    // Row 0 is untouched; row 1 positions 0..2 are identical, 3..4 differ.
    expectSameResult("row 0", sliceResult(r, 0, 0, T), sliceResult(base, 0, 0, T), 0);
    expectSameResult("row 1 before t", sliceResult(r, 1, 0, 3), sliceResult(base, 1, 0, 3), 0);
    expect(relErr(sliceRows(r.logits, 1, 3, 5), sliceRows(base.logits, 1, 3, 5))).toBeGreaterThan(1e-3);
    expect(relErr(sliceRows(r.logits, 1, 4, 5), sliceRows(base.logits, 1, 4, 5))).toBeGreaterThan(1e-3);
  });

  it("left padding with an attention mask and shifted position ids reproduces the unpadded row", () => {
    const seq = [5, 17, 42];
    const alone = referenceForward(cfg, weights, [seq]);
    const other = ids[1]!;
    const padded = referenceForward(cfg, weights, [[0, 0, ...seq], other], {
      attentionMask: [
        [0, 0, 1, 1, 1],
        [1, 1, 1, 1, 1],
      ],
      positionIds: [
        [1, 1, 0, 1, 2], // Hugging Face style: cumsum(mask) - 1, pads filled with 1
        [0, 1, 2, 3, 4],
      ],
    });
    expectSameResult("padded row", sliceResult(padded, 0, 2, 5), alone, 1e-6);
    // Padding positions stay finite, and the other row is independent of its neighbour.
    for (const v of padded.logits.data) expect(Number.isFinite(v)).toBe(true);
    expectSameResult("other row", sliceResult(padded, 1, 0, T), referenceForward(cfg, weights, [other]), 1e-6);
  });

  it("hooks satisfy the residual stream identities", () => {
    const r = referenceForward(cfg, weights, ids);
    expect(Object.keys(r.hooks).sort()).toEqual(allHookNames(cfg.numLayers).sort());
    const embed = weights.get("model.embed_tokens.weight");
    const pre0 = r.hooks["blocks.0.hook_resid_pre"]!;
    ids.flat().forEach((id, n) => {
      for (let d = 0; d < cfg.hiddenSize; d++) expect(pre0.data[n * cfg.hiddenSize + d]).toBe(embed.data[id * cfg.hiddenSize + d]);
    });
    for (let i = 0; i < cfg.numLayers; i++) {
      const hk = (kind: HookKind): F32Tensor => r.hooks[hookName(i, kind)]!;
      for (const kind of HOOK_KINDS) expect(hk(kind).shape).toEqual([B, T, cfg.hiddenSize]);
      const sum = (a: F32Tensor, b: F32Tensor): F32Tensor => ({ shape: a.shape, data: a.data.map((v, j) => v + b.data[j]!) });
      expectClose(`layer ${i} resid_mid`, hk("hook_resid_mid"), sum(hk("hook_resid_pre"), hk("hook_attn_out")), 1e-6, 1e-6, 1e-6);
      expectClose(`layer ${i} resid_post`, hk("hook_resid_post"), sum(hk("hook_resid_mid"), hk("hook_mlp_out")), 1e-6, 1e-6, 1e-6);
      expect(maxAbs(hk("hook_attn_out"))).toBeGreaterThan(0.01);
      expect(maxAbs(hk("hook_mlp_out"))).toBeGreaterThan(0.01);
      if (i + 1 < cfg.numLayers) expect(r.hooks[`blocks.${i + 1}.hook_resid_pre`]!.data).toEqual(hk("hook_resid_post").data);
    }
  });

  it("depends on positions only through their differences (RoPE relative invariance)", () => {
    for (const variant of [VARIANTS[0]!, VARIANTS[3]!]) {
      const w = randomWeights(variant.cfg, 21);
      const shift = (k: number): number[][] => ids.map((row) => row.map((_, t) => t + k));
      const base = referenceForward(variant.cfg, w, ids, { positionIds: shift(0) });
      const shifted = referenceForward(variant.cfg, w, ids, { positionIds: shift(1234) });
      expectSameResult(`${variant.label} shifted`, shifted, base, 1e-5);
      const stretched = referenceForward(variant.cfg, w, ids, { positionIds: ids.map((row) => row.map((_, t) => 3 * t)) });
      expect(relErr(stretched.logits, base.logits)).toBeGreaterThan(1e-3);
    }
  });

  it("tied embeddings equal an untied model whose lm_head is the embedding", () => {
    const tied = VARIANTS[1]!.cfg;
    const w = randomWeights(tied, 31);
    const untiedWeights = w.with("lm_head.weight", w.get("model.embed_tokens.weight"));
    const a = referenceForward(tied, w, ids);
    const b = referenceForward({ ...tied, tieWordEmbeddings: false }, untiedWeights, ids);
    expectSameResult("tied vs untied", a, b, 0);
  });

  it("rejects bad inputs with messages naming the argument", () => {
    expect(() => referenceForward(cfg, weights, [[1, 2], [3]])).toThrow(/ids\[1\]/);
    expect(() => referenceForward(cfg, weights, [[1, cfg.vocabSize]])).toThrow(/ids\[0\]\[1\]/);
    expect(() => referenceForward(cfg, weights, [[1, 2]], { positionIds: [[0]] })).toThrow(/positionIds/);
    expect(() => referenceForward(cfg, weights, [[1, 2]], { attentionMask: [[1, 1], [1, 1]] })).toThrow(/attentionMask/);
    const missing = new MemWeights(new Map([...weights.tensors].filter(([k]) => k !== "model.norm.weight")));
    expect(() => referenceForward(cfg, missing, [[1, 2]])).toThrow(/model\.norm\.weight/);
  });
});

describe("tfjs backend selection", () => {
  it("starts a backend and reports it", async () => {
    const { tf, backend } = await getTf();
    expect(TF_BACKENDS).toContain(backend);
    expect(typeof tf.matMul).toBe("function");
    // The memoised handle is reused.
    expect((await getTf()).tf).toBe(tf);
    console.log(`tfjs backend: ${backend} (tf.getBackend() = ${tf.getBackend()})`);
  });

  it(`${TF_BACKEND_ENV} is validated`, () => {
    expect(requestedBackend({})).toBeNull();
    expect(requestedBackend({ [TF_BACKEND_ENV]: "auto" })).toBeNull();
    expect(requestedBackend({ [TF_BACKEND_ENV]: "WASM" })).toBe("wasm");
    expect(() => requestedBackend({ [TF_BACKEND_ENV]: "metal" })).toThrow(new RegExp(TF_BACKEND_ENV));
  });
});

describe("TfjsForward vs referenceForward", () => {
  const worst: Record<string, number> = {};
  afterAll(() => {
    console.log("tfjs vs reference, worst relative error per variant:", worst);
  });

  for (const { label, cfg } of VARIANTS) {
    it(label, async () => {
      const weights = randomWeights(cfg, 101);
      const model = await TfjsForward.create(cfg, weights);
      try {
        const ids = randomIds(B, T, cfg.vocabSize, 102);
        let w = expectSameResult(`${label} default positions`, await model.forward(ids), referenceForward(cfg, weights, ids));
        // Large position offsets (exercise the scaled low frequencies) plus left padding.
        const opts = {
          positionIds: [
            [36, 37, 38, 39, 40],
            [1000, 1001, 1002, 1003, 1004],
          ],
          attentionMask: [
            [0, 1, 1, 1, 1],
            [1, 1, 1, 1, 1],
          ],
        };
        w = Math.max(w, expectSameResult(`${label} positions + mask`, await model.forward(ids, opts), referenceForward(cfg, weights, ids, opts)));
        worst[label] = w;
      } finally {
        model.dispose();
      }
    });
  }
});

describe("TfjsForward behaviour", () => {
  const cfg = VARIANTS[3]!.cfg;
  const weights = randomWeights(cfg, 201);
  const ids = randomIds(B, T, cfg.vocabSize, 202);
  let model: TfjsForward;
  beforeAll(async () => {
    model = await TfjsForward.create(cfg, weights);
  });
  afterAll(() => model.dispose());

  it("lays out parameters as tfjsParamSpecs says", () => {
    const specs = tfjsParamSpecs(cfg);
    expect(Object.keys(model.params).sort()).toEqual(specs.map((s) => s.name).sort());
    for (const s of specs) expect(model.params[s.name]!.shape).toEqual(s.shape);
    expect(specs.find((s) => s.name === "blocks.1.attn.W_K")).toMatchObject({ hfName: "model.layers.1.self_attn.k_proj.weight", transposed: true, shape: [32, 16] });
  });

  it("is causal and handles left padding like the unpadded row", async () => {
    const base = await model.forward(ids);
    const changed = ids.map((row) => [...row]);
    changed[0]![2] = (changed[0]![2]! + 5) % cfg.vocabSize;
    const r = await model.forward(changed);
    expectSameResult("before t", sliceResult(r, 0, 0, 2), sliceResult(base, 0, 0, 2), 1e-6);
    expect(relErr(sliceRows(r.logits, 0, 2, 3), sliceRows(base.logits, 0, 2, 3))).toBeGreaterThan(1e-3);

    const seq = [5, 17, 42];
    const alone = await model.forward([seq]);
    const padded = await model.forward([[0, 0, ...seq]], { attentionMask: [[0, 0, 1, 1, 1]], positionIds: [[1, 1, 0, 1, 2]] });
    expectSameResult("padded row", sliceResult(padded, 0, 2, 5), alone, 1e-5);
  });

  it("returns only the requested hooks", async () => {
    const r = await model.forward(ids, { hooks: ["blocks.1.hook_resid_mid"] });
    expect(Object.keys(r.hooks)).toEqual(["blocks.1.hook_resid_mid"]);
    expect(r.logits.shape).toEqual([B, T, cfg.vocabSize]);
  });

  it("leaks no tensors across calls", async () => {
    const { tf } = model;
    await model.forward(ids);
    const before = tf.memory().numTensors;
    expect(before).toBe(Object.keys(model.params).length);
    for (let i = 0; i < 3; i++) await model.forward(ids, { attentionMask: [[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]] });
    expect(tf.memory().numTensors).toBe(before);
    // Create + dispose returns to the same count too.
    const other = await TfjsForward.create(cfg, weights);
    other.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("hook functions replace activations downstream (zero-ablating attn_out == zero o_proj)", async () => {
    const { tf, params } = model;
    const out = tf.tidy(() => {
      const inputs = prepareTfjsInputs(tf, cfg, ids);
      const r = forwardTensors(tf, params, cfg, inputs, { hooks: [], hookFns: { "blocks.0.hook_attn_out": (x) => tf.zerosLike(x) } });
      return r.logits!;
    });
    const got: F32Tensor = { shape: out.shape, data: (await out.data()) as Float32Array };
    out.dispose();
    const zero = (name: string): F32Tensor => ({ shape: weights.get(name).shape, data: new Float32Array(weights.get(name).data.length) });
    const ablated = weights
      .with("model.layers.0.self_attn.o_proj.weight", zero("model.layers.0.self_attn.o_proj.weight"))
      .with("model.layers.0.self_attn.o_proj.bias", zero("model.layers.0.self_attn.o_proj.bias"));
    expectClose("ablated logits", got, referenceForward(cfg, ablated, ids).logits);
  });

  it("forwardTensors differentiates: tf.grad matches finite differences of the reference", async () => {
    await expectGradsMatch(model, weights, [
      { name: "blocks.0.attn.W_Q", hf: "model.layers.0.self_attn.q_proj.weight" },
      { name: "blocks.1.ln2.w", hf: "model.layers.1.post_attention_layernorm.weight" },
      { name: "embed.W_E", hf: "model.embed_tokens.weight" },
      { name: "unembed.W_U", hf: "lm_head.weight" },
    ]);
  });

  it("gradients reach a tied embedding through both the lookup and the unembedding", async () => {
    const tiedCfg = VARIANTS[1]!.cfg;
    const tiedWeights = randomWeights(tiedCfg, 401);
    const tied = await TfjsForward.create(tiedCfg, tiedWeights);
    try {
      await expectGradsMatch(tied, tiedWeights, [{ name: "unembed.W_U", hf: "model.embed_tokens.weight" }]);
    } finally {
      tied.dispose();
    }
  });

});
