// Training a TopK SAE on stored activations: Adam steps on onnxruntime (step.ts), dead-latent tracking
// for AuxK, a warmup + constant + linear-decay learning rate, periodic atomic checkpoints and exact
// resume, progress, and a per-step history for plots.
//
//   const run = await trainSae(store.reader(2), { k: 32, expansion: 10, tokens: 2_000_000, out: "work/sae-l2-k32" });
//   run.sae; run.history;   // out/ holds cfg.json + sae_weights.safetensors (SAELens), out/checkpoint/ the state
//
// Length: by default max(one pass over the source, TRAIN_DEFAULTS.minSteps) steps; the result reports the epochs
// (passes over the source) and warns when the run loops over a small source many times
// (> TRAIN_DEFAULTS.manyEpochs) or when the loss is still falling fast at the end (see `trainingWarnings`).
//
// Extending: asking for more steps than a finished run had (`steps: 300` after 200) continues from its checkpoint
// (weights, Adam moments, dead-latent counters, data order). The extension follows the schedule of the new total,
// with a re-warmup: from the old end the rate climbs linearly back to the peak over `warmupSteps`, stays there,
// and decays linearly to 0 over the last `decayFraction` of the new total (steps 241..300 of a 200 -> 300
// extension at the default 0.2). It does not reproduce an uninterrupted 300-step run. The warmup and dead-latent
// defaults stay those of the first run's total, so the settings check still matches; the total is not part of it.
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
  /** Start over: remove out/checkpoint and train from step 0 (CLI --overwrite). Default false: resume. */
  overwrite?: boolean;
  /** @deprecated since 0.3: `overwrite: true` (resume: false is the same). */
  resume?: boolean;
  /**
   * Train on an unfinished activation store (a harvest stopped part-way, manifest `complete: false`). Default
   * false: refused, naming the store and what is missing (CLI --allow-incomplete).
   */
  allowIncomplete?: boolean;
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
  /** Passes over the source: tokens trained on / source rows. */
  epochs: number;
  /** Things the caller should know (still falling fast at the end, many epochs over a small store, ...). */
  warnings: string[];
}

/** Defaults of trainSae, and the thresholds of its warnings. */
export const TRAIN_DEFAULTS = {
  batchSize: 1024,
  lr: 1e-3,
  /** Default length: max(one pass over the source, this many steps). One pass over a small store is far too short. */
  minSteps: 1000,
  checkpointEvery: 200,
  /** Warn when the mean FVU of the last 10% of steps is more than this fraction below that of the 10% before. */
  stillFallingDrop: 0.05,
  /** ...judged only with at least this many steps. */
  stillFallingMinSteps: 20,
  /** Warn when training passes over the source more than this many times. */
  manyEpochs: 10,
} as const;

/**
 * The end-of-training warnings (the rules in one place): "still falling" when, with at least
 * `stillFallingMinSteps` steps, the mean FVU of the last 10% of steps (at least 1) is more than `stillFallingDrop`
 * (relative) below the mean of the 10% before; "many epochs" when the run passed over its source more than
 * `manyEpochs` times.
 */
export function trainingWarnings(history: readonly SaeStepRecord[], epochs: number, sourceTokens: number): string[] {
  const warnings: string[] = [];
  const n = history.length;
  if (n >= TRAIN_DEFAULTS.stillFallingMinSteps) {
    const w = Math.max(1, Math.floor(n * 0.1));
    const mean = (a: readonly SaeStepRecord[]) => a.reduce((s, h) => s + h.fvu, 0) / a.length;
    const last = mean(history.slice(n - w));
    const before = mean(history.slice(n - 2 * w, n - w));
    const drop = before > 0 ? (before - last) / before : 0;
    if (drop > TRAIN_DEFAULTS.stillFallingDrop) {
      warnings.push(
        `the loss is still falling fast: mean FVU ${last.toFixed(4)} over the last ${w} steps is ${(100 * drop).toFixed(1)}% below the ${before.toFixed(4)} of the ${w} before (warned above ${100 * TRAIN_DEFAULTS.stillFallingDrop}%); train longer (more steps extend this run from its checkpoint)`,
      );
    }
  }
  if (epochs > TRAIN_DEFAULTS.manyEpochs) {
    warnings.push(
      `training passed over the ${sourceTokens} rows of its source ${epochs.toFixed(1)} times (epochs; warned above ${TRAIN_DEFAULTS.manyEpochs}): the SAE may fit this small sample rather than the model's activations; harvest more tokens`,
    );
  }
  return warnings;
}

interface Checkpoint {
  format: "safesail-sae-checkpoint";
  version: 1;
  step: number;
  tokens: number;
  fingerprint: Record<string, unknown>;
  /** The run's total steps (older checkpoints: fingerprint.totalSteps). */
  totalSteps?: number;
  /** The total the warmup and dead-latent defaults were derived from (the first run's). */
  plannedSteps?: number;
  /** Where the latest extension of a finished run started (its re-warmup); null when none. */
  rewarmFrom?: number | null;
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

const START_OVER = "use another output folder, or overwrite: true (--overwrite) to start over";

async function readCheckpointState(out: string): Promise<{ file: string; state: Checkpoint } | null> {
  const file = path.join(out, CHECKPOINT, "state.json");
  const state = await readStateFile<Checkpoint>(file, `remove the checkpoint folder, or train with overwrite: true (--overwrite) to start over`);
  if (!state) return null;
  if (typeof state.step !== "number" || typeof state.tensors !== "string" || !state.fingerprint || typeof state.fingerprint !== "object") {
    throw new FormatError(`${file}: not a safesail SAE checkpoint (needs "step", "tensors" and "fingerprint")`, { file });
  }
  return { file, state };
}

function loadCheckpointTensors(out: string, state: Checkpoint, sae: Sae, adam: AdamState, sinceFired: Float64Array): void {
  const dir = path.join(out, CHECKPOINT);
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
  const batchSize = opts.batchSize ?? TRAIN_DEFAULTS.batchSize;
  if (!Number.isSafeInteger(batchSize) || batchSize <= 0) throw new ArgumentError(`trainSae: batchSize must be a positive integer, got ${batchSize}`, { field: "batchSize" });
  if (!(source.tokens > 0)) throw new ArgumentError("trainSae: the activation source is empty", { field: "source" });
  const completeness = source.completeness ?? null;
  const warnings: string[] = [];
  if (completeness && !completeness.complete) {
    const what = `its harvest stopped part-way: ${completeness.documents} of the corpus's ${completeness.corpusDocuments} documents, ${completeness.chunks} chunk${completeness.chunks === 1 ? "" : "s"} (${completeness.tokens} tokens) so far`;
    if (!opts.allowIncomplete) {
      throw new ArgumentError(
        `trainSae: the activation store ${source.dataset ?? "(unnamed)"} is unfinished (manifest complete: false; ${what}); rerun the same harvest command to finish it, or pass allowIncomplete: true (--allow-incomplete) to train on what is there`,
        { field: "allowIncomplete" },
      );
    }
    warnings.push(`trained on an unfinished activation store ${source.dataset ?? ""} (${what})`);
  }
  const defaultSteps = opts.tokens === undefined && opts.steps === undefined;
  const totalSteps = opts.steps ?? (defaultSteps ? Math.max(TRAIN_DEFAULTS.minSteps, Math.ceil(source.tokens / batchSize)) : Math.max(1, Math.ceil(opts.tokens! / batchSize)));
  if (!Number.isSafeInteger(totalSteps) || totalSteps <= 0) throw new ArgumentError(`trainSae: steps must be a positive integer, got ${opts.steps}`, { field: "steps" });
  const overwrite = opts.overwrite ?? opts.resume === false;
  if (opts.out && overwrite) await fsp.rm(path.join(opts.out, CHECKPOINT), { recursive: true, force: true });
  const saved = opts.out && !overwrite ? await readCheckpointState(opts.out) : null;
  const savedTotal = saved ? (saved.state.totalSteps ?? (saved.state.fingerprint.totalSteps as number)) : null;
  // Defaults derived from the length stay those of the first run, so an extension keeps them.
  const plannedSteps = saved ? (saved.state.plannedSteps ?? savedTotal!) : totalSteps;
  const seed = opts.seed ?? 0;
  const lr = opts.lr ?? TRAIN_DEFAULTS.lr;
  const warmup = opts.warmupSteps ?? Math.max(1, Math.round(plannedSteps * 0.01));
  const decayFraction = opts.decayFraction ?? 0.2;
  const hyper = { lr, beta1: opts.beta1 ?? 0.9, beta2: opts.beta2 ?? 0.999, eps: opts.eps ?? 6.25e-10 };
  const sae0 = createSae({ dIn: d, expansion: opts.expansion, dSae: opts.dSae, k: opts.k, hookName: hook, modelName }, { seed });
  const S = sae0.config.dSae;
  const auxCoef = opts.auxCoef ?? 1 / 32;
  const kAux = Math.min(S, opts.kAux ?? Math.max(1, Math.floor(d / 2)));
  const deadAfter = opts.deadAfterTokens ?? Math.min(10_000_000, Math.max(10 * batchSize, Math.round(plannedSteps * batchSize * 0.05)));
  const progress = opts.progress ?? silentProgress;
  // What makes a checkpoint valid for this run. The total is not in it: more steps extend a run.
  const fingerprint = { d, dSae: S, k: opts.k, batchSize, seed, lr, warmup, decayFraction, hyper, auxCoef, kAux, deadAfter, init: opts.init ?? "median", sourceTokens: source.tokens };

  const sae = sae0;
  const adam = zeroAdamState(sae.params);
  const sinceFired = new Float64Array(S);
  let history: SaeStepRecord[] = [];
  let resumedFrom = 0;
  let tokens = 0;
  let rewarmFrom: number | null = null;
  if (saved) {
    const { file, state } = saved;
    const { totalSteps: _old, ...savedPrint } = state.fingerprint;
    checkSettings(savedPrint, fingerprint, { file, advice: START_OVER, error: ConfigError });
    if (totalSteps < state.step) {
      throw new ConfigError(`${file}: cannot resume: the saved run is at step ${state.step}, past the ${totalSteps} steps asked for (steps: was ${savedTotal}, now ${totalSteps}); ask for at least ${state.step} steps, or ${START_OVER}`, { file, field: "steps" });
    }
    loadCheckpointTensors(opts.out!, state, sae, adam, sinceFired);
    resumedFrom = state.step;
    history = state.history;
    tokens = state.tokens;
    // Growing a finished run re-warms the rate from its end (its schedule had decayed to 0).
    rewarmFrom = totalSteps > savedTotal! && state.step === savedTotal ? state.step : (state.rewarmFrom ?? null);
  } else {
    sae.params.b_dec = await initialMean(source, opts.init ?? "median", Math.min(opts.initTokens ?? 16384, source.tokens), seed);
  }
  const rateAt = (t: number) => saeLearningRate(t, totalSteps, lr, warmup, decayFraction) * (rewarmFrom !== null && t > rewarmFrom ? Math.min(1, (t - rewarmFrom) / warmup) : 1);
  const meta = () => ({ step, tokens, fingerprint, totalSteps, plannedSteps, rewarmFrom, history });

  const runner = new SaeStepRunner({ dIn: d, dSae: S, k: sae.config.k }, auxCoef > 0 ? kAux : 0, { threads: opts.threads });
  const dead = new Float32Array(S);
  const passes = Math.ceil((totalSteps * batchSize) / source.tokens) + 1;
  const checkpointEvery = opts.checkpointEvery ?? TRAIN_DEFAULTS.checkpointEvery;
  let step = resumedFrom;
  let stopReason: "done" | "abort" = "done";
  const started = performance.now();
  let tokensThisRun = 0;
  progress.start(`train SAE k=${sae.config.k} x${S}`, totalSteps);
  progress.update(step);
  try {
    let seen = 0;
    if (resumedFrom < totalSteps) for await (const batch of source.batches({ batchSize, seed, shuffle: true, epochs: passes })) {
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
      const rate = rateAt(step + 1);
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
        await saveCheckpoint(opts.out, sae, adam, sinceFired, meta());
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
    await saveCheckpoint(opts.out, sae, adam, sinceFired, meta());
    files.push(
      ...(await saveSae(opts.out, sae, {
        dataset_path: source.dataset ?? null,
        model_fingerprint: source.model?.fingerprint ?? null,
        training: { steps: step, total_steps: totalSteps, tokens, batch_size: batchSize, lr, seed, aux_coef: auxCoef, k_aux: kAux, dead_after_tokens: deadAfter, dead_fraction: deadNow / S, trainer: "safesail onnxruntime TopK step" },
      })),
    );
  }
  const epochs = tokens / source.tokens;
  if (stopReason === "done") warnings.push(...trainingWarnings(history, epochs, source.tokens));
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
    epochs,
    warnings,
  };
}
