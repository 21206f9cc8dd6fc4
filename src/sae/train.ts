// Training a TopK SAE on stored activations: Adam steps on onnxruntime (step.ts), dead-latent tracking
// for AuxK, a warmup + constant + linear-decay learning rate, periodic atomic checkpoints and exact
// resume, progress, and a per-step history for plots.
//
//   const run = await trainSae(store.reader(2), { k: 32, expansion: 10, tokens: 2_000_000, out: "work/sae-l2-k32" });
//   run.sae; run.history;   // out/ holds cfg.json + sae_weights.safetensors (SAELens), out/checkpoint/ the state
//
// Determinism: the data order is the reader's, seeded by `seed`; the initialisation is seeded too. A
// resumed run replays the reader up to the batch it stopped at (skipping is cheaper than storing the
// stream) and continues with the checkpointed parameters, moments and dead-latent counters, so it ends
// with the same weights as an uninterrupted run.
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { ArgumentError, ConfigError, FormatError } from "../errors.ts";
import { openSafetensors, readTensorBytes, readTensorF32, writeSafetensors, type TensorToWrite } from "../formats/safetensors.ts";
import type { ActivationReader } from "../activations/store.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import { checkSettings, readStateFile } from "../util/resume.ts";
import { createSae, type Sae } from "./sae.ts";
import { saveSae } from "./saelens.ts";
import { SaeStepRunner, zeroAdamState, type AdamState } from "./step.ts";
import { SAE_PARAMS } from "./train-graph.ts";

/** @deprecated since 0.2: `ActivationReader` from `safesail/activations` (it carries the hook and the model). */
export type ActivationSource = ActivationReader;

export interface TrainSaeOptions {
  k: number;
  /** Latents = expansion · dModel (default 10); or give dSae. */
  expansion?: number;
  dSae?: number;
  /** Training tokens (rows); default one pass over the source. Or give steps. */
  tokens?: number;
  steps?: number;
  /** Rows per step (default 1024). */
  batchSize?: number;
  /** Peak learning rate (default 1e-3). */
  lr?: number;
  /** Warmup steps (default 1% of the steps, at least 1). */
  warmupSteps?: number;
  /** Share of the steps at the end over which the rate decays linearly to 0 (default 0.2). */
  decayFraction?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** AuxK weight (default 1/32) and latents per token (default dModel / 2, at most dSae). 0 disables AuxK. */
  auxCoef?: number;
  kAux?: number;
  /** A latent is dead after this many tokens without firing (default: 5% of the training tokens, within [10 batches, 10M]). */
  deadAfterTokens?: number;
  /** b_dec initialisation from up to `initTokens` rows: the mean or the geometric median (default "median"). */
  init?: "mean" | "median" | "zero";
  initTokens?: number;
  seed?: number;
  /** Default: the reader's hook. Giving another one than the reader's is an error. */
  hookName?: string | null;
  /** Default: the reader's model. */
  modelName?: string | null;
  /** Folder for the SAE (SAELens layout) and its checkpoint; without it nothing is written. */
  out?: string;
  /** Checkpoint every this many steps (default 200; 0: only at the end). */
  checkpointEvery?: number;
  /** Continue from out/checkpoint when present (default true). */
  resume?: boolean;
  progress?: Progress;
  signal?: AbortSignal;
  onStep?: (r: SaeStepRecord) => void;
  /** onnxruntime intra-op threads (default: its choice). */
  threads?: number;
}

export interface SaeStepRecord {
  step: number;
  lr: number;
  mse: number;
  /** Fraction of variance unexplained on this batch. */
  fvu: number;
  aux: number;
  l0: number;
  deadFraction: number;
}

export interface TrainSaeResult {
  sae: Sae;
  history: SaeStepRecord[];
  steps: number;
  totalSteps: number;
  tokens: number;
  stopReason: "done" | "abort";
  resumedFrom: number;
  seconds: number;
  tokensPerSecond: number;
  deadFraction: number;
  files: string[];
}

interface Checkpoint {
  format: "safesail-sae-checkpoint";
  version: 1;
  step: number;
  tokens: number;
  fingerprint: Record<string, unknown>;
  history: SaeStepRecord[];
  tensors: string;
}

/** Learning rate at step `t` (1-based): linear warmup, constant, linear decay to 0 over the last part. */
export function saeLearningRate(t: number, total: number, lr: number, warmup: number, decayFraction: number): number {
  if (t <= warmup) return (lr * t) / warmup;
  const decaySteps = Math.floor(total * decayFraction);
  const decayStart = total - decaySteps;
  if (decaySteps > 0 && t > decayStart) return (lr * (total - t + 1)) / (decaySteps + 1);
  return lr;
}

/** Weiszfeld's iterations for the geometric median of `n` rows (falls back to the mean's neighbourhood). */
export function geometricMedian(x: Float32Array, n: number, d: number, iterations = 50): Float32Array {
  const m = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m[j]! += x[i * d + j]! / n;
  for (let it = 0; it < iterations; it++) {
    const num = new Float64Array(d);
    let den = 0;
    for (let i = 0; i < n; i++) {
      let dist = 0;
      for (let j = 0; j < d; j++) dist += (x[i * d + j]! - m[j]!) ** 2;
      const w = 1 / Math.max(Math.sqrt(dist), 1e-8);
      den += w;
      for (let j = 0; j < d; j++) num[j]! += w * x[i * d + j]!;
    }
    let shift = 0;
    for (let j = 0; j < d; j++) {
      const v = num[j]! / den;
      shift += (v - m[j]!) ** 2;
      m[j] = v;
    }
    if (Math.sqrt(shift) < 1e-7) break;
  }
  return Float32Array.from(m);
}

async function initialMean(source: ActivationReader, mode: "mean" | "median" | "zero", rows: number, seed: number): Promise<Float32Array> {
  const d = source.dModel;
  if (mode === "zero") return new Float32Array(d);
  const buf = new Float32Array(rows * d);
  let n = 0;
  for await (const b of source.batches({ batchSize: Math.min(rows, 4096), seed: seed + 7919, shuffle: true, epochs: 1 })) {
    const take = Math.min(b.length / d, rows - n);
    buf.set(b.subarray(0, take * d), n * d);
    n += take;
    if (n >= rows) break;
  }
  if (n === 0) throw new ArgumentError("trainSae: the activation source yielded no rows", { field: "source" });
  if (mode === "median") return geometricMedian(buf, n, d);
  const m = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m[j]! += buf[i * d + j]! / n;
  return Float32Array.from(m);
}

const CHECKPOINT = "checkpoint";

async function saveCheckpoint(out: string, sae: Sae, adam: AdamState, sinceFired: Float64Array, meta: Omit<Checkpoint, "format" | "version" | "tensors">): Promise<void> {
  const dir = path.join(out, CHECKPOINT);
  await fsp.mkdir(dir, { recursive: true });
  const file = `state-${String(meta.step).padStart(8, "0")}.safetensors`;
  const p = sae.params;
  const shape = (n: (typeof SAE_PARAMS)[number]) => (n === "b_enc" ? [p.dSae] : n === "b_dec" ? [p.dIn] : [p.dSae, p.dIn]);
  const t: Record<string, TensorToWrite> = {};
  for (const n of SAE_PARAMS) {
    t[`param/${n}`] = { dtype: "F32", shape: shape(n), data: p[n] };
    t[`adam_m/${n}`] = { dtype: "F32", shape: shape(n), data: adam.m[n] };
    t[`adam_v/${n}`] = { dtype: "F32", shape: shape(n), data: adam.v[n] };
  }
  t.since_fired = { dtype: "F64", shape: [p.dSae], data: sinceFired };
  await writeSafetensors(path.join(dir, file), t);
  const state: Checkpoint = { format: "safesail-sae-checkpoint", version: 1, ...meta, tensors: file };
  await writeJsonAtomic(path.join(dir, "state.json"), state);
  for (const e of await fsp.readdir(dir)) if (e !== file && /^state-\d+\.safetensors$/.test(e)) await fsp.rm(path.join(dir, e), { force: true });
}

async function loadCheckpoint(out: string, sae: Sae, adam: AdamState, sinceFired: Float64Array, fingerprint: Record<string, unknown>): Promise<Checkpoint | null> {
  const dir = path.join(out, CHECKPOINT);
  const file = path.join(dir, "state.json");
  const state = await readStateFile<Checkpoint>(file, "remove the checkpoint folder, or train with resume: false (--overwrite) to start over");
  if (!state) return null;
  if (typeof state.step !== "number" || typeof state.tensors !== "string" || !state.fingerprint || typeof state.fingerprint !== "object") {
    throw new FormatError(`${file}: not a safesail SAE checkpoint (needs "step", "tensors" and "fingerprint")`, { file });
  }
  checkSettings(state.fingerprint, fingerprint, { file, advice: "use another output folder, or resume: false (--overwrite) to start over", error: ConfigError });
  const st = openSafetensors(path.join(dir, state.tensors));
  const read = (name: string) => {
    const ref = st.tensors.get(name);
    if (!ref) throw new ConfigError(`${st.file}: tensor "${name}" is missing`, { file: st.file, field: name });
    return ref;
  };
  for (const n of SAE_PARAMS) {
    sae.params[n] = readTensorF32(read(`param/${n}`)).data;
    adam.m[n] = readTensorF32(read(`adam_m/${n}`)).data;
    adam.v[n] = readTensorF32(read(`adam_v/${n}`)).data;
  }
  const since = read("since_fired");
  const bytes = readTensorBytes(since);
  sinceFired.set(new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  adam.step = state.step;
  return state;
}

/** Trains a TopK SAE on `source`; see {@link TrainSaeOptions}. */
export async function trainSae(source: ActivationReader, opts: TrainSaeOptions): Promise<TrainSaeResult> {
  const d = source.dModel;
  // Provenance travels with the data (as SAELens's runner records it): the SAE's cfg.json names the hook and the
  // model its activations came from, without the caller repeating them.
  const sourceHook = source.hookName ?? null;
  if (opts.hookName && sourceHook && opts.hookName !== sourceHook) {
    throw new ArgumentError(`trainSae: hookName ${JSON.stringify(opts.hookName)} differs from the activations' hook ${JSON.stringify(sourceHook)}`, { field: "hookName" });
  }
  const hook = opts.hookName ?? sourceHook;
  const modelName = opts.modelName ?? source.model?.name ?? null;
  const batchSize = opts.batchSize ?? 1024;
  if (!Number.isSafeInteger(batchSize) || batchSize <= 0) throw new ArgumentError(`trainSae: batchSize must be a positive integer, got ${batchSize}`, { field: "batchSize" });
  if (!(source.tokens > 0)) throw new ArgumentError("trainSae: the activation source is empty", { field: "source" });
  const tokensWanted = opts.tokens ?? (opts.steps !== undefined ? opts.steps * batchSize : source.tokens);
  const totalSteps = opts.steps ?? Math.max(1, Math.ceil(tokensWanted / batchSize));
  if (!Number.isSafeInteger(totalSteps) || totalSteps <= 0) throw new ArgumentError(`trainSae: steps must be a positive integer, got ${opts.steps}`, { field: "steps" });
  const seed = opts.seed ?? 0;
  const lr = opts.lr ?? 1e-3;
  const warmup = opts.warmupSteps ?? Math.max(1, Math.round(totalSteps * 0.01));
  const decayFraction = opts.decayFraction ?? 0.2;
  const hyper = { lr, beta1: opts.beta1 ?? 0.9, beta2: opts.beta2 ?? 0.999, eps: opts.eps ?? 6.25e-10 };
  const sae0 = createSae({ dIn: d, expansion: opts.expansion, dSae: opts.dSae, k: opts.k, hookName: hook, modelName }, { seed });
  const S = sae0.config.dSae;
  const auxCoef = opts.auxCoef ?? 1 / 32;
  const kAux = Math.min(S, opts.kAux ?? Math.max(1, Math.floor(d / 2)));
  const deadAfter = opts.deadAfterTokens ?? Math.min(10_000_000, Math.max(10 * batchSize, Math.round(totalSteps * batchSize * 0.05)));
  const progress = opts.progress ?? silentProgress;
  const fingerprint = { d, dSae: S, k: opts.k, batchSize, totalSteps, seed, lr, warmup, decayFraction, hyper, auxCoef, kAux, deadAfter, init: opts.init ?? "median", sourceTokens: source.tokens };

  const sae = sae0;
  const adam = zeroAdamState(sae.params);
  const sinceFired = new Float64Array(S);
  let history: SaeStepRecord[] = [];
  let resumedFrom = 0;
  let tokens = 0;
  const ckpt = opts.out && opts.resume !== false ? await loadCheckpoint(opts.out, sae, adam, sinceFired, fingerprint) : null;
  if (ckpt) {
    resumedFrom = ckpt.step;
    history = ckpt.history;
    tokens = ckpt.tokens;
  } else {
    sae.params.b_dec = await initialMean(source, opts.init ?? "median", Math.min(opts.initTokens ?? 16384, source.tokens), seed);
  }

  const runner = new SaeStepRunner({ dIn: d, dSae: S, k: sae.config.k }, auxCoef > 0 ? kAux : 0, opts.threads);
  const dead = new Float32Array(S);
  const epochs = Math.ceil((totalSteps * batchSize) / source.tokens) + 1;
  const checkpointEvery = opts.checkpointEvery ?? 200;
  let step = resumedFrom;
  let stopReason: "done" | "abort" = "done";
  const started = performance.now();
  let tokensThisRun = 0;
  progress.start(`train SAE k=${sae.config.k} x${S}`, totalSteps);
  progress.update(step);
  try {
    let seen = 0;
    for await (const batch of source.batches({ batchSize, seed, shuffle: true, epochs })) {
      if (seen++ < resumedFrom) continue; // replay to the checkpointed cursor
      if (step >= totalSteps) break;
      if (opts.signal?.aborted) {
        stopReason = "abort";
        break;
      }
      const rows = batch.length / d;
      let nDead = 0;
      for (let s = 0; s < S; s++) {
        const isDead = sinceFired[s]! >= deadAfter;
        dead[s] = isDead ? 1 : 0;
        if (isDead) nDead++;
      }
      const rate = saeLearningRate(step + 1, totalSteps, lr, warmup, decayFraction);
      const stats = await runner.trainStep(sae.params, adam, batch, rows, { ...hyper, lr: rate }, nDead > 0 ? dead : null, auxCoef);
      for (let s = 0; s < S; s++) sinceFired[s] = stats.fired[s]! > 0 ? 0 : sinceFired[s]! + rows;
      step++;
      tokens += rows;
      tokensThisRun += rows;
      const rec: SaeStepRecord = { step, lr: rate, mse: stats.mse, fvu: stats.variance > 0 ? stats.mse / stats.variance : NaN, aux: stats.aux, l0: stats.l0, deadFraction: nDead / S };
      history.push(rec);
      opts.onStep?.(rec);
      progress.update(step, `fvu ${rec.fvu.toFixed(3)} l0 ${rec.l0.toFixed(1)} dead ${(100 * rec.deadFraction).toFixed(1)}%`);
      if (opts.out && checkpointEvery > 0 && step % checkpointEvery === 0 && step < totalSteps) {
        await saveCheckpoint(opts.out, sae, adam, sinceFired, { step, tokens, fingerprint, history });
      }
    }
  } finally {
    await runner.dispose();
  }
  progress.finish();
  const seconds = (performance.now() - started) / 1000;
  let deadNow = 0;
  for (let s = 0; s < S; s++) if (sinceFired[s]! >= deadAfter) deadNow++;
  const files: string[] = [];
  if (opts.out) {
    await saveCheckpoint(opts.out, sae, adam, sinceFired, { step, tokens, fingerprint, history });
    files.push(
      ...(await saveSae(opts.out, sae, {
        dataset_path: source.dataset ?? null,
        model_fingerprint: source.model?.fingerprint ?? null,
        training: { steps: step, total_steps: totalSteps, tokens, batch_size: batchSize, lr, seed, aux_coef: auxCoef, k_aux: kAux, dead_after_tokens: deadAfter, dead_fraction: deadNow / S, trainer: "safesail onnxruntime TopK step" },
      })),
    );
  }
  return {
    sae,
    history,
    steps: step,
    totalSteps,
    tokens,
    stopReason,
    resumedFrom,
    seconds,
    tokensPerSecond: tokensThisRun / Math.max(seconds, 1e-9),
    deadFraction: deadNow / S,
    files,
  };
}
