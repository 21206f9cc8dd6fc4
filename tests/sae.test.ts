// The TopK SAE: the onnxruntime training graph's hand-written gradients against finite differences of the
// float64 definition and against tfjs autodiff; its Adam update against a plain re-implementation;
// training that recovers a known sparse dictionary; exact resume; the SAELens format both ways.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { getTf } from "../src/engine/tfjs.ts";
import { writeSafetensors } from "../src/formats/safetensors.ts";
import { referenceSaeLoss, topkIndices } from "../src/sae/reference.ts";
import { createSae, decodeTopK, encodeTopK, type SaeParams } from "../src/sae/sae.ts";
import { loadSae, saveSae, transpose } from "../src/sae/saelens.ts";
import { SaeStepRunner, zeroAdamState } from "../src/sae/step.ts";
import { tfjsSaeGradients } from "../src/sae/tfjs-step.ts";
import { GRAD_OUTPUT_PIECE_BYTES, gradOutputPieces, SAE_PARAMS } from "../src/sae/train-graph.ts";
import { geometricMedian, saeLearningRate, trainSae } from "../src/sae/train.ts";
import { mulberry32 } from "../src/util/prng.ts";
import { memorySource, syntheticActivations } from "./helpers/synthetic-acts.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-sae-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fixture(d = 8, S = 32, k = 4, B = 16, seed = 3) {
  const sae = createSae({ dIn: d, dSae: S, k }, { seed });
  const r = mulberry32(seed + 100);
  const x = Float32Array.from({ length: B * d }, () => r() * 2 - 1);
  for (let i = 0; i < S; i++) sae.params.b_enc[i] = (r() - 0.5) * 0.2;
  for (let j = 0; j < d; j++) sae.params.b_dec[j] = (r() - 0.5) * 0.1;
  const dead = Float32Array.from({ length: S }, (_, i) => (i % 3 === 0 ? 1 : 0));
  return { sae, x, dead, d, S, k, B, r };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe("training graph gradients", () => {
  it("equal central finite differences of the float64 loss (reconstruction + AuxK with the residual held)", async () => {
    const { sae, x, dead, d, S, k, B, r } = fixture();
    const kAux = 6;
    const runner = new SaeStepRunner({ dIn: d, dSae: S, k }, kAux);
    const g = await runner.gradients(sae.params, x, B, dead, 0.5);
    const base = referenceSaeLoss(sae.params, x, { k, kAux, dead, auxCoef: 0.5 });
    expect(g.mse).toBeCloseTo(base.mse, 5);
    expect(g.aux).toBeCloseTo(base.aux, 5);
    expect(g.l0).toBe(base.l0);
    let checked = 0;
    for (const name of SAE_PARAMS) {
      for (let t = 0; t < 8; t++) {
        const i = Math.floor(r() * sae.params[name].length);
        const h = 1e-3;
        const at = (delta: number) => {
          const P: SaeParams = { ...sae.params, [name]: Float64Array.from(sae.params[name]) as unknown as Float32Array };
          P[name][i] = sae.params[name][i]! + delta;
          return referenceSaeLoss(P, x, { k, kAux, dead, auxCoef: 0.5, residual: base.residual }).total;
        };
        const fd = (at(h) - at(-h)) / (2 * h);
        expect(Math.abs(fd - g.grads[name][i]!), `${name}[${i}] fd ${fd} graph ${g.grads[name][i]}`).toBeLessThan(2e-4 + 1e-3 * Math.abs(fd));
        checked++;
      }
    }
    expect(checked).toBe(32);
    await runner.dispose();
  });

  it("equal tfjs autodiff of the dense formulation, with and without AuxK", async () => {
    const { tf } = await getTf();
    const { sae, x, dead, d, S, k, B } = fixture(16, 96, 8, 64, 9);
    const runner = new SaeStepRunner({ dIn: d, dSae: S, k }, 12);
    for (const withAux of [false, true]) {
      const g = await runner.gradients(sae.params, x, B, withAux ? dead : null, withAux ? 1 / 32 : 0);
      const t = tfjsSaeGradients(tf, sae.params, x, B, { k, kAux: withAux ? 12 : 0, dead: withAux ? dead : null, auxCoef: 1 / 32 });
      expect(g.mse).toBeCloseTo(t.mse, 4);
      expect(g.aux).toBeCloseTo(t.aux, 5);
      for (const n of SAE_PARAMS) expect(maxAbsDiff(g.grads[n], t.grads[n]), n).toBeLessThan(1e-5 * Math.max(1, maxAbs(t.grads[n])));
    }
    await runner.dispose();
  });
});

describe("training step", () => {
  it("applies Adam with bias correction, projects decoder gradients and renormalises decoder rows", async () => {
    const { sae, x, d, S, k, B } = fixture();
    const runner = new SaeStepRunner({ dIn: d, dSae: S, k }, 0);
    const before = { ...sae.params, W_encT: sae.params.W_encT.slice(), b_enc: sae.params.b_enc.slice(), W_dec: sae.params.W_dec.slice(), b_dec: sae.params.b_dec.slice() };
    const { grads } = await runner.gradients(before, x, B);
    const state = zeroAdamState(sae.params);
    const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    await runner.trainStep(sae.params, state, x, B, hyper, null, 0);
    expect(state.step).toBe(1);
    for (const n of SAE_PARAMS) {
      const g = Float64Array.from(grads[n]);
      if (n === "W_dec") {
        for (let s = 0; s < S; s++) {
          let dot = 0;
          for (let j = 0; j < d; j++) dot += g[s * d + j]! * before.W_dec[s * d + j]!;
          for (let j = 0; j < d; j++) g[s * d + j]! -= dot * before.W_dec[s * d + j]!;
        }
      }
      const expected = Array.from(g, (gi, i) => {
        const m = 0.1 * gi;
        const v = 0.001 * gi * gi;
        const mHat = m / 0.1;
        const vHat = v / 0.001;
        return before[n][i]! - (hyper.lr * mHat) / (Math.sqrt(vHat) + hyper.eps);
      });
      if (n === "W_dec") {
        for (let s = 0; s < S; s++) {
          const row = expected.slice(s * d, (s + 1) * d);
          const norm = Math.hypot(...row);
          for (let j = 0; j < d; j++) expected[s * d + j] = row[j]! / norm;
        }
      }
      expect(maxAbsDiff(sae.params[n], expected), n).toBeLessThan(1e-5);
      expect(maxAbsDiff(state.m[n], Array.from(g, (gi) => 0.1 * gi)), `m ${n}`).toBeLessThan(1e-6);
    }
    await runner.dispose();
  });

  it("schedules warmup, constant and linear decay", () => {
    expect(saeLearningRate(1, 100, 1, 10, 0.2)).toBeCloseTo(0.1);
    expect(saeLearningRate(10, 100, 1, 10, 0.2)).toBe(1);
    expect(saeLearningRate(80, 100, 1, 10, 0.2)).toBe(1);
    expect(saeLearningRate(81, 100, 1, 10, 0.2)).toBeCloseTo(20 / 21);
    expect(saeLearningRate(100, 100, 1, 10, 0.2)).toBeCloseTo(1 / 21);
  });

  it("finds the geometric median (robust to an outlier where the mean is not)", () => {
    const pts = Float32Array.from([0, 0, 1, 0, 0, 1, 1, 1, 100, 100]);
    const med = geometricMedian(pts, 5, 2);
    expect(med[0]).toBeLessThan(1.5);
    expect(med[1]).toBeLessThan(1.5);
  });
});

describe("inference encode/decode", () => {
  it("keeps the k largest pre-activations (ReLU) and decodes through unit-norm rows", () => {
    const { sae, x, d, S, k, B } = fixture();
    const code = encodeTopK(sae, x, B);
    for (let t = 0; t < B; t++) {
      const pre = new Float64Array(S);
      for (let s = 0; s < S; s++) {
        let acc = sae.params.b_enc[s]!;
        for (let j = 0; j < d; j++) acc += (x[t * d + j]! - sae.params.b_dec[j]!) * sae.params.W_encT[s * d + j]!;
        pre[s] = acc;
      }
      const want = topkIndices(pre, k);
      expect([...code.indices.subarray(t * k, t * k + k)].sort((a, b) => a - b)).toEqual([...want].sort((a, b) => a - b));
      for (let j = 0; j < k; j++) expect(code.values[t * k + j]).toBeCloseTo(Math.max(0, pre[code.indices[t * k + j]!]!), 5);
    }
    const recon = decodeTopK(sae, code, B);
    const ref = referenceSaeLoss(sae.params, x, { k });
    let mse = 0;
    for (let i = 0; i < recon.length; i++) mse += (recon[i]! - x[i]!) ** 2;
    expect(mse / B).toBeCloseTo(ref.mse, 4);
  });
});

describe("onnxruntime encoder", () => {
  it("gives the plain-JS TopK code, in descending order", async () => {
    const { encodeTopKOrt } = await import("../src/sae/encode-ort.ts");
    const { sae, x, B, k } = fixture(16, 80, 5, 40, 11);
    const js = encodeTopK(sae, x, B);
    const ort = await encodeTopKOrt(sae, x, B);
    for (let t = 0; t < B; t++) {
      const a = new Map(Array.from(js.indices.subarray(t * k, (t + 1) * k), (s, j) => [s, js.values[t * k + j]!]));
      for (let j = 0; j < k; j++) {
        expect(a.has(ort.indices[t * k + j]!), `token ${t}`).toBe(true);
        expect(ort.values[t * k + j]).toBeCloseTo(a.get(ort.indices[t * k + j]!)!, 5);
        if (j > 0) expect(ort.values[t * k + j]!).toBeLessThanOrEqual(ort.values[t * k + j - 1]!);
      }
    }
    expect((await encodeTopKOrt(sae, x, 0)).indices).toHaveLength(0);
  });
});

describe("trainSae", () => {
  const d = 32;
  const { data, directions } = syntheticActivations({ d, features: 64, active: 3, rows: 12000, seed: 5 });

  it("recovers a known sparse dictionary: low FVU, L0 = k, most true directions matched by a decoder row", async () => {
    const run = await trainSae(memorySource(data, d), { k: 4, expansion: 4, batchSize: 256, tokens: 120_000, lr: 3e-3, seed: 1 });
    const last = run.history.slice(-20);
    const fvu = last.reduce((a, h) => a + h.fvu, 0) / last.length;
    expect(fvu).toBeLessThan(0.1);
    expect(run.history[0]!.fvu).toBeGreaterThan(0.4);
    expect(last.every((h) => h.l0 <= 4)).toBe(true);
    const S = run.sae.config.dSae;
    let matched = 0;
    for (let f = 0; f < 64; f++) {
      let best = 0;
      for (let s = 0; s < S; s++) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += directions[f * d + j]! * run.sae.params.W_dec[s * d + j]!;
        best = Math.max(best, dot);
      }
      if (best > 0.9) matched++;
    }
    expect(matched).toBeGreaterThanOrEqual(48);
  }, 60_000);

  it("takes the hook and model from the reader, and refuses a hookName that contradicts it", async () => {
    const { data } = syntheticActivations({ d: 8, features: 16, active: 2, rows: 512, seed: 2 });
    const reader = { ...memorySource(data, 8), hookName: "blocks.3.hook_mlp_out", model: { name: "models/x", fingerprint: "f".repeat(64) }, dataset: null };
    const run = await trainSae(reader, { k: 2, expansion: 2, batchSize: 64, steps: 2 });
    expect(run.sae.config).toMatchObject({ hookName: "blocks.3.hook_mlp_out", modelName: "models/x" });
    await expect(trainSae(reader, { k: 2, expansion: 2, batchSize: 64, steps: 2, hookName: "blocks.2.hook_mlp_out" })).rejects.toThrow(
      'trainSae: hookName "blocks.2.hook_mlp_out" differs from the activations\' hook "blocks.3.hook_mlp_out"',
    );
  });

  it("resumes from a checkpoint to the same weights as an uninterrupted run", async () => {
    const source = memorySource(data.subarray(0, 4000 * d), d);
    const common = { k: 4, expansion: 4, batchSize: 128, steps: 50, lr: 3e-3, seed: 2, checkpointEvery: 10, deadAfterTokens: 640 };
    const full = await trainSae(source, { ...common, out: join(root, "full") });
    const ac = new AbortController();
    const part = await trainSae(source, { ...common, out: join(root, "part"), signal: ac.signal, onStep: (r) => r.step === 23 && ac.abort() });
    expect(part.stopReason).toBe("abort");
    expect(part.steps).toBe(23);
    const resumed = await trainSae(source, { ...common, out: join(root, "part") });
    expect(resumed.resumedFrom).toBe(23);
    expect(resumed.steps).toBe(50);
    for (const n of SAE_PARAMS) expect(Buffer.from(resumed.sae.params[n].buffer).equals(Buffer.from(full.sae.params[n].buffer)), n).toBe(true);
    expect(resumed.history.map((h) => h.mse)).toEqual(full.history.map((h) => h.mse));
    await expect(trainSae(source, { ...common, lr: 1e-3, out: join(root, "part") })).rejects.toThrow(/other settings/);
  }, 60_000);
});

describe("SAELens format", () => {
  it("round-trips our SAEs and writes SAELens's names and shapes", async () => {
    const sae = createSae({ dIn: 8, dSae: 24, k: 3, hookName: "blocks.2.hook_mlp_out", modelName: "toy" }, { seed: 4 });
    const dir = join(root, "saelens");
    await saveSae(dir, sae);
    const back = await loadSae(dir);
    expect(back.config).toEqual(sae.config);
    for (const n of SAE_PARAMS) expect(Array.from(back.params[n])).toEqual(Array.from(sae.params[n]));
    const { openSafetensors } = await import("../src/formats/safetensors.ts");
    const st = openSafetensors(join(dir, "sae_weights.safetensors"));
    expect(st.tensors.get("W_enc")!.shape).toEqual([8, 24]);
    expect(st.tensors.get("W_dec")!.shape).toEqual([24, 8]);
  });

  it("loads a SAELens v5-style TopK SAE with BF16 weights", async () => {
    const dir = join(root, "theirs");
    const r = mulberry32(8);
    const W_enc = Float32Array.from({ length: 6 * 12 }, () => r() - 0.5);
    await writeSafetensors(join(dir, "sae_weights.safetensors"), {
      W_enc: { dtype: "BF16", shape: [6, 12], data: W_enc },
      W_dec: { dtype: "BF16", shape: [12, 6], data: transpose(W_enc, 6, 12) },
      b_enc: { dtype: "BF16", shape: [12], data: new Float32Array(12) },
      b_dec: { dtype: "BF16", shape: [6], data: new Float32Array(6) },
    });
    writeFileSync(join(dir, "cfg.json"), JSON.stringify({ architecture: "standard", activation_fn_str: "topk", activation_fn_kwargs: { k: 2 }, d_in: 6, d_sae: 12, hook_name: "blocks.0.hook_resid_post", model_name: "gpt2", apply_b_dec_to_input: true }));
    const sae = await loadSae(dir);
    expect(sae.config).toEqual({ dIn: 6, dSae: 12, k: 2, hookName: "blocks.0.hook_resid_post", modelName: "gpt2" });
    expect(maxAbsDiff(sae.params.W_encT, transpose(W_enc, 6, 12))).toBeLessThan(0.01);
  });

  it("names what is wrong: other architectures, missing tensors, wrong shapes, broken JSON", async () => {
    const dir = join(root, "bad");
    await saveSae(dir, createSae({ dIn: 4, dSae: 8, k: 2 }));
    writeFileSync(join(dir, "cfg.json"), JSON.stringify({ architecture: "jumprelu", d_in: 4, d_sae: 8 }));
    await expect(loadSae(dir)).rejects.toThrow(/architecture "jumprelu" is not supported/);
    writeFileSync(join(dir, "cfg.json"), JSON.stringify({ architecture: "topk", k: 2, d_in: 4, d_sae: 16 }));
    await expect(loadSae(dir)).rejects.toThrow(/tensor "W_enc" has shape \[4, 8\], expected \[4, 16\]/);
    writeFileSync(join(dir, "cfg.json"), "{ nope");
    await expect(loadSae(dir)).rejects.toThrow(/cfg\.json: not valid JSON/);
    writeFileSync(join(dir, "cfg.json"), JSON.stringify({ architecture: "topk", d_in: 4, d_sae: 8 }));
    await expect(loadSae(dir)).rejects.toThrow(/field "k" must be a positive integer/);
    await writeSafetensors(join(dir, "sae_weights.safetensors"), { W_enc: { dtype: "F32", shape: [4, 8], data: new Float32Array(32) } });
    writeFileSync(join(dir, "cfg.json"), JSON.stringify({ architecture: "topk", k: 2, d_in: 4, d_sae: 8 }));
    await expect(loadSae(dir)).rejects.toThrow(/sae_weights.safetensors: tensor "(b_enc|W_dec)" is missing/);
    // NaN weights are named on load, not discovered as NaN metrics later.
    const sae = createSae({ dIn: 4, dSae: 8, k: 2 });
    sae.params.W_dec[5] = Number.NaN;
    await saveSae(dir, sae);
    await expect(loadSae(dir)).rejects.toThrow(/sae_weights\.safetensors: tensor "W_dec": 1 non-finite value \(first NaN at index 5\)/);
  });
});

describe("training step: the two formulations", () => {
  it("the dense graph with the in-place Adam and the gathered-rows graph with Adam in onnxruntime take the same steps, AuxK included", async () => {
    const { sae, x, dead, d, S, k, B } = fixture(16, 96, 8, 64, 5);
    const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    const run = async (formulation: "dense" | "gather") => {
      const p = { ...sae.params, W_encT: sae.params.W_encT.slice(), b_enc: sae.params.b_enc.slice(), W_dec: sae.params.W_dec.slice(), b_dec: sae.params.b_dec.slice() };
      const arrays = SAE_PARAMS.map((n) => p[n]);
      const state = zeroAdamState(p);
      const runner = new SaeStepRunner({ dIn: d, dSae: S, k }, 12, { formulation });
      const losses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const st = await runner.trainStep(p, state, x, B, hyper, i >= 2 ? dead : null, 1 / 32);
        losses.push(st.mse, st.aux);
      }
      await runner.dispose();
      return { p, state, losses, inPlace: SAE_PARAMS.every((n, i) => p[n] === arrays[i]) };
    };
    const dense = await run("dense");
    const gather = await run("gather");
    // The dense path updates the caller's arrays where they are; the gather path swaps in arrays it owns.
    expect(dense.inPlace).toBe(true);
    expect(gather.inPlace).toBe(false);
    for (let i = 0; i < dense.losses.length; i++) expect(dense.losses[i]!).toBeCloseTo(gather.losses[i]!, 4);
    expect(dense.losses[5]!).toBeGreaterThan(0); // AuxK ran from step 3
    for (const n of SAE_PARAMS) {
      expect(maxAbsDiff(dense.p[n], gather.p[n]), n).toBeLessThan(1e-4);
      expect(maxAbsDiff(dense.state.m[n], gather.state.m[n]), `m ${n}`).toBeLessThan(1e-5 * Math.max(1, maxAbs(gather.state.m[n])));
      expect(maxAbsDiff(dense.state.v[n], gather.state.v[n]), `v ${n}`).toBeLessThan(1e-6 * Math.max(1, maxAbs(gather.state.v[n])));
    }
  });

  it("returns gradients over the output piece size in row blocks that the runner joins into whole gradients", async () => {
    // At the default piece size: 66,000 latents of d 64 are 16.9 MB per [S, d] gradient, two blocks.
    const listed = gradOutputPieces({ dIn: 64, dSae: 66_000 });
    expect(listed.filter((o) => o.param === "W_encT").map((o) => [o.name, o.rowStart, o.shape[0]])).toEqual([["grad_W_encT.0", 0, 65_536], ["grad_W_encT.1", 65_536, 464]]);
    for (const o of listed) expect(o.shape.reduce((a, b) => a * b, 4)).toBeLessThanOrEqual(GRAD_OUTPUT_PIECE_BYTES);
    expect(listed.filter((o) => o.param === "b_enc").map((o) => o.name)).toEqual(["grad_b_enc"]);
    // Run with 1,000-byte pieces: the [96, 16] gradients come back as six blocks of 15 rows and one of 6.
    const { sae, x, dead, d, S, k, B } = fixture(16, 96, 8, 64, 11);
    expect(gradOutputPieces({ dIn: d, dSae: S }, 1000).filter((o) => o.param === "W_dec").map((o) => o.shape[0])).toEqual([15, 15, 15, 15, 15, 15, 6]);
    const grads = async (opts: { formulation: "dense" | "gather"; gradPieceBytes?: number }) => {
      const runner = new SaeStepRunner({ dIn: d, dSae: S, k }, 12, opts);
      const g = await runner.gradients(sae.params, x, B, dead, 1 / 32);
      await runner.dispose();
      return g.grads;
    };
    const pieces = await grads({ formulation: "dense", gradPieceBytes: 1000 });
    const whole = await grads({ formulation: "dense", gradPieceBytes: Infinity });
    const gather = await grads({ formulation: "gather" });
    for (const n of SAE_PARAMS) {
      expect(pieces[n].length, n).toBe(sae.params[n].length);
      expect(Array.from(pieces[n]), n).toEqual(Array.from(whole[n]));
      expect(maxAbsDiff(pieces[n], gather[n]), n).toBeLessThan(1e-5 * Math.max(1, maxAbs(gather[n])));
    }
    for (const n of ["W_dec", "W_encT"] as const) expect(maxAbs(pieces[n].subarray(90 * d)), n).toBeGreaterThan(0);
  });
});
