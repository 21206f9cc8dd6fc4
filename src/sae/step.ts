// Runs the TopK SAE training graph (train-graph.ts) on onnxruntime: one session per graph variant,
// parameters and Adam moments kept as Float32Arrays between steps (each step's outputs are the next
// step's inputs, no copies on the JS side).
import { createSession, ort } from "../engine/ort.ts";
import { buildSaeStepGraph, paramShapes, SAE_PARAMS, type SaeParamName, type SaeStepShapes } from "./train-graph.ts";
import type { SaeParams } from "./sae.ts";

export interface AdamState {
  step: number;
  m: Record<SaeParamName, Float32Array>;
  v: Record<SaeParamName, Float32Array>;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export interface StepStats {
  /** Σ||x̂ - x||² / B */
  mse: number;
  /** Σ||x - mean(x)||² / B: mse / variance is the batch's fraction of variance unexplained. */
  variance: number;
  aux: number;
  /** Mean active latents per token. */
  l0: number;
  /** Tokens each latent fired on in this batch. */
  fired: Float32Array;
}

export function zeroAdamState(p: Pick<SaeParams, "dIn" | "dSae">): AdamState {
  const shapes = paramShapes(p);
  const zeros = () => Object.fromEntries(SAE_PARAMS.map((n) => [n, new Float32Array(shapes[n].reduce((a, b) => a * b, 1))])) as Record<SaeParamName, Float32Array>;
  return { step: 0, m: zeros(), v: zeros() };
}

const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);
const scalar = (v: number) => f32(Float32Array.of(v), [1]);

/** Sessions for one SAE shape: with and without AuxK, training and gradient-only variants built on demand. */
export class SaeStepRunner {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  /** The parameter and moment arrays the last step replaced: the next step's output buffers. */
  private spare: { p: Record<SaeParamName, Float32Array>; m: Record<SaeParamName, Float32Array>; v: Record<SaeParamName, Float32Array> } | null = null;

  /**
   * `reuseOutputs` (default true): each step writes its results into the arrays the previous step replaced, so a
   * caller that keeps a parameter or moment array past the next step must copy it.
   */
  constructor(
    readonly shapes: Omit<SaeStepShapes, "kAux">,
    readonly kAux: number,
    private readonly threads?: number,
    private readonly reuseOutputs = true,
  ) {}

  private session(mode: "train" | "grads", aux: boolean): Promise<ort.InferenceSession> {
    const key = `${mode}:${aux}`;
    let s = this.sessions.get(key);
    if (!s) {
      const { model } = buildSaeStepGraph({ ...this.shapes, kAux: aux ? this.kAux : 0 }, mode);
      s = createSession(model, [], this.threads ? { threads: this.threads } : {});
      this.sessions.set(key, s);
    }
    return s;
  }

  private feeds(p: SaeParams, x: Float32Array, batch: number, dead: Float32Array | null, auxCoef: number): Record<string, ort.Tensor> {
    const shapes = paramShapes(p);
    const feeds: Record<string, ort.Tensor> = { x: f32(x.length === batch * p.dIn ? x : x.subarray(0, batch * p.dIn), [batch, p.dIn]) };
    for (const n of SAE_PARAMS) feeds[n] = f32(p[n], shapes[n]);
    if (dead) {
      feeds.dead = f32(dead, [p.dSae]);
      feeds.aux_coef = scalar(auxCoef);
    }
    return feeds;
  }

  private static stats(out: ort.InferenceSession.OnnxValueMapType): StepStats {
    const num = (n: string) => (out[n]!.data as Float32Array)[0]!;
    return { mse: num("mse"), variance: num("var"), aux: num("aux_loss"), l0: num("l0"), fired: out.fired!.data as Float32Array };
  }

  /**
   * One Adam step on `batch` rows of `x`. `dead` marks latents AuxK may use (null or all-zero: the graph
   * without AuxK runs). Replaces the arrays of `p` and `state` with the updated ones; the replaced arrays are
   * overwritten by the step after (see the constructor's `reuseOutputs`).
   */
  async trainStep(p: SaeParams, state: AdamState, x: Float32Array, batch: number, hyper: AdamHyper, dead: Float32Array | null, auxCoef: number): Promise<StepStats> {
    const useAux = this.kAux > 0 && auxCoef > 0 && dead !== null && dead.some((v) => v > 0);
    const session = await this.session("train", useAux);
    const t = state.step + 1;
    const bc2 = Math.sqrt(1 - hyper.beta2 ** t);
    const feeds = this.feeds(p, x, batch, useAux ? dead : null, auxCoef);
    const shapes = paramShapes(p);
    for (const n of SAE_PARAMS) {
      feeds[`m_${n}`] = f32(state.m[n], shapes[n]);
      feeds[`v_${n}`] = f32(state.v[n], shapes[n]);
    }
    // Adam with bias correction: p -= lr·m̂/(√v̂ + eps) = p - alpha·m/(√v + epsHat).
    feeds.alpha = scalar((hyper.lr * bc2) / (1 - hyper.beta1 ** t));
    feeds.eps_hat = scalar(hyper.eps * bc2);
    feeds.beta1 = scalar(hyper.beta1);
    feeds.beta2 = scalar(hyper.beta2);
    // The updated parameters and moments are written into the arrays the step before last replaced (kept here):
    // at the paper's shape they are 1 GB per step, and fresh memory costs more here than the arithmetic
    // (bench/README.md, "SAE step").
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of session.outputNames) fetches[name] = null;
    const spare = this.spare;
    const outputsOf = (n: SaeParamName) => [`new_${n}`, `new_m_${n}`, `new_v_${n}`] as const;
    if (spare) {
      for (const n of SAE_PARAMS) {
        const [np, nm, nv] = outputsOf(n);
        fetches[np] = f32(spare.p[n], shapes[n]);
        fetches[nm] = f32(spare.m[n], shapes[n]);
        fetches[nv] = f32(spare.v[n], shapes[n]);
      }
    }
    const out = await session.run(feeds, fetches);
    const old = { p: {} as Record<SaeParamName, Float32Array>, m: {} as Record<SaeParamName, Float32Array>, v: {} as Record<SaeParamName, Float32Array> };
    for (const n of SAE_PARAMS) {
      const [np, nm, nv] = outputsOf(n);
      old.p[n] = p[n];
      old.m[n] = state.m[n];
      old.v[n] = state.v[n];
      // With buffers given, onnxruntime-node writes into them (the tensors it returns are copies).
      p[n] = spare ? spare.p[n] : (out[np]!.data as Float32Array);
      state.m[n] = spare ? spare.m[n] : (out[nm]!.data as Float32Array);
      state.v[n] = spare ? spare.v[n] : (out[nv]!.data as Float32Array);
    }
    this.spare = this.reuseOutputs ? old : null;
    state.step = t;
    return SaeStepRunner.stats(out);
  }

  /** Loss statistics and raw gradients of the loss (no update): for checks and benchmarks. */
  async gradients(p: SaeParams, x: Float32Array, batch: number, dead: Float32Array | null = null, auxCoef = 0): Promise<StepStats & { grads: Record<SaeParamName, Float32Array> }> {
    const useAux = this.kAux > 0 && dead !== null;
    const session = await this.session("grads", useAux);
    const out = await session.run(this.feeds(p, x, batch, useAux ? dead : null, auxCoef));
    const grads = Object.fromEntries(SAE_PARAMS.map((n) => [n, out[`grad_${n}`]!.data as Float32Array])) as Record<SaeParamName, Float32Array>;
    return { ...SaeStepRunner.stats(out), grads };
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
