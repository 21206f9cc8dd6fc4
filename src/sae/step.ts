// Runs a TopK SAE training step: the loss and its gradients in one onnxruntime graph (train-graph.ts, one session
// per variant), then Adam in place over the parameters and moments (adam.ts), which stay Float32Arrays owned by
// the caller from step to step.
import { createSession, ort } from "../engine/ort.ts";
import { adamConstants, adamInPlace, adamUnitRowsInPlace } from "./adam.ts";
import { buildSaeGradGraph, buildSaeStepGraph, GRAD_OUTPUT_PIECE_BYTES, gradOutputPieces, paramShapes, type GradOutputPiece, SAE_PARAMS, type SaeParamName, type SaeStepShapes } from "./train-graph.ts";
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

/**
 * How a step computes: "dense" (default) runs the dense-code gradient graph (`buildSaeGradGraph`) and updates the
 * parameters in place in JS (adam.ts); "gather" runs the older single graph with the gathered-rows formulation and
 * Adam inside onnxruntime (`buildSaeStepGraph`), kept for the benchmark's comparison.
 */
export type SaeStepFormulation = "dense" | "gather";

/** Sessions for one SAE shape: with and without AuxK, built on demand. */
export class SaeStepRunner {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  /** The dense path's gradient arrays, written by onnxruntime each step (allocated once). */
  private gradBuffers: Record<SaeParamName, Float32Array> | null = null;
  /** The gather path: the parameter and moment arrays the last step replaced, the next step's output buffers. */
  private spare: { p: Record<SaeParamName, Float32Array>; m: Record<SaeParamName, Float32Array>; v: Record<SaeParamName, Float32Array> } | null = null;

  readonly formulation: SaeStepFormulation;
  private readonly threads: number | undefined;
  /** The dense graph's largest gradient output (`gradOutputPieces`); Infinity returns each gradient whole. */
  private readonly gradPieceBytes: number;
  /** The dense graph's gradient outputs, listed once (the same for every step). */
  private readonly gradPieces: readonly GradOutputPiece[];

  constructor(
    readonly shapes: Omit<SaeStepShapes, "kAux">,
    readonly kAux: number,
    opts: { threads?: number; formulation?: SaeStepFormulation; gradPieceBytes?: number } = {},
  ) {
    this.threads = opts.threads;
    this.formulation = opts.formulation ?? "dense";
    this.gradPieceBytes = opts.gradPieceBytes ?? GRAD_OUTPUT_PIECE_BYTES;
    this.gradPieces = gradOutputPieces(shapes, this.gradPieceBytes);
  }

  private session(mode: "train" | "grads" | "dense", aux: boolean): Promise<ort.InferenceSession> {
    const key = `${mode}:${aux}`;
    let s = this.sessions.get(key);
    if (!s) {
      const shapes = { ...this.shapes, kAux: aux ? this.kAux : 0 };
      const { model } = mode === "dense" ? buildSaeGradGraph(shapes, this.gradPieceBytes) : buildSaeStepGraph(shapes, mode);
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

  /** Fetches writing the dense graph's gradient outputs (row blocks, see `gradOutputPieces`) into `grads`. */
  private gradFetches(session: ort.InferenceSession, grads: Record<SaeParamName, Float32Array>): Record<string, ort.Tensor | null> {
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of session.outputNames) fetches[name] = null;
    for (const o of this.gradPieces) {
      const rowFloats = o.shape.slice(1).reduce((a, b) => a * b, 1);
      const start = o.rowStart * rowFloats;
      fetches[o.name] = f32(grads[o.param].subarray(start, start + o.shape[0]! * rowFloats), o.shape);
    }
    return fetches;
  }

  private static stats(out: ort.InferenceSession.OnnxValueMapType): StepStats {
    const num = (n: string) => (out[n]!.data as Float32Array)[0]!;
    return { mse: num("mse"), variance: num("var"), aux: num("aux_loss"), l0: num("l0"), fired: out.fired!.data as Float32Array };
  }

  /**
   * One Adam step on `batch` rows of `x`. `dead` marks latents AuxK may use (null or all-zero: the graph without
   * AuxK runs). The dense formulation updates the arrays of `p` and `state` in place; the gather one replaces them
   * (and overwrites the replaced arrays the step after).
   */
  async trainStep(p: SaeParams, state: AdamState, x: Float32Array, batch: number, hyper: AdamHyper, dead: Float32Array | null, auxCoef: number): Promise<StepStats> {
    const useAux = this.kAux > 0 && auxCoef > 0 && dead !== null && dead.some((v) => v > 0);
    if (this.formulation === "gather") return this.gatherStep(p, state, x, batch, hyper, useAux ? dead : null, auxCoef);
    const session = await this.session("dense", useAux);
    this.gradBuffers ??= Object.fromEntries(SAE_PARAMS.map((n) => [n, new Float32Array(p[n].length)])) as Record<SaeParamName, Float32Array>;
    const grads = this.gradBuffers;
    const out = await session.run(this.feeds(p, x, batch, useAux ? dead : null, auxCoef), this.gradFetches(session, grads));
    const t = state.step + 1;
    const c = adamConstants(hyper, t);
    for (const n of SAE_PARAMS) {
      if (n === "W_dec") adamUnitRowsInPlace(p.W_dec, state.m.W_dec, state.v.W_dec, grads.W_dec, p.dIn, c);
      else adamInPlace(p[n], state.m[n], state.v[n], grads[n], c);
    }
    state.step = t;
    return SaeStepRunner.stats(out);
  }

  private async gatherStep(p: SaeParams, state: AdamState, x: Float32Array, batch: number, hyper: AdamHyper, dead: Float32Array | null, auxCoef: number): Promise<StepStats> {
    const session = await this.session("train", dead !== null);
    const t = state.step + 1;
    const c = adamConstants(hyper, t);
    const feeds = this.feeds(p, x, batch, dead, auxCoef);
    const shapes = paramShapes(p);
    for (const n of SAE_PARAMS) {
      feeds[`m_${n}`] = f32(state.m[n], shapes[n]);
      feeds[`v_${n}`] = f32(state.v[n], shapes[n]);
    }
    feeds.alpha = scalar(c.alpha);
    feeds.eps_hat = scalar(c.epsHat);
    feeds.beta1 = scalar(hyper.beta1);
    feeds.beta2 = scalar(hyper.beta2);
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
    this.spare = old;
    state.step = t;
    return SaeStepRunner.stats(out);
  }

  /** Loss statistics and raw gradients of the loss (no update): for checks and benchmarks. */
  async gradients(p: SaeParams, x: Float32Array, batch: number, dead: Float32Array | null = null, auxCoef = 0): Promise<StepStats & { grads: Record<SaeParamName, Float32Array> }> {
    const useAux = this.kAux > 0 && dead !== null;
    const feeds = this.feeds(p, x, batch, useAux ? dead : null, auxCoef);
    if (this.formulation === "dense") {
      const grads = Object.fromEntries(SAE_PARAMS.map((n) => [n, new Float32Array(p[n].length)])) as Record<SaeParamName, Float32Array>;
      const session = await this.session("dense", useAux);
      return { ...SaeStepRunner.stats(await session.run(feeds, this.gradFetches(session, grads))), grads };
    }
    const out = await (await this.session("grads", useAux)).run(feeds);
    const grads = Object.fromEntries(SAE_PARAMS.map((n) => [n, out[`grad_${n}`]!.data as Float32Array])) as Record<SaeParamName, Float32Array>;
    return { ...SaeStepRunner.stats(out), grads };
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
