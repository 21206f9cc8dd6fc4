// Training the toy chat model: token sequences -> a small Qwen2/Llama model in Hugging Face layout.
//
//   const result = await trainToyModel({ config, sequences, lossMask, seed: 0, batchSize: 16, seqLen: 192,
//     epochs: 4, lr: 3e-3, outDir: "work/toy-train", checkpointEvery: 50, resume: true,
//     progress: terminalProgress(), timeBudgetMinutes: 50, save: { dir: "models/toy-safety-qwen2" } });
//   // save.dir (default outDir) now holds config.json, model.safetensors, generation_config.json;
//   // outDir/checkpoint/ the state to resume from.
//
// Pieces (one file each): train-data (seeded shuffling, packing, loss masks), train-params (flat
// parameter layout, seeded init), train-step (tfjs loss + gradient on wasm's fast paths),
// train-engine / train-worker (this thread, or data parallel over worker threads), train-optim
// (AdamW, warmup + cosine, clipping), train-checkpoint (atomic checkpoints, exact resume),
// train-export (Hugging Face folder).
//
// Reproducibility: the same options on the same tfjs backend give the same weights bit for bit,
// whatever the number of worker threads, and whether the run is done in one go or stopped and
// resumed from any checkpoint: the parameters, both Adam moments, the step and the data cursor
// (epoch, batch) are checkpointed, the data order of an epoch is a pure function of (seed, epoch),
// and micro-batch gradients are always added in the same order.
//
// Speed (wasm, 2 cores, hidden 256 / 4 layers / vocab 4096, batch 16 x 128): about 800 tokens/s in
// one thread, about 1400 with 2 workers (`npx tsx src/toy/train-bench.ts`).

import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import { ArgumentError, SafesailError, describeValue } from "../errors.ts";
import { modelConfigToJson } from "../model/config.ts";
import type { F32Tensor, ModelConfig } from "../model/types.ts";
import { silentProgress, type Progress } from "../progress.ts";
import {
  checkFingerprint,
  loadCheckpointTensors,
  readCheckpointState,
  removeCheckpoint,
  saveCheckpoint,
  type LossRecord,
  type RunFingerprint,
} from "./train-checkpoint.ts";
import { buildBatch, checkSequences, planEpoch, type DataOptions, type EpochPlan } from "./train-data.ts";
import { startEngine, type GradEngine } from "./train-engine.ts";
import { saveHfModel, type TrainedParams } from "./train-export.ts";
import { adamwStep, learningRate, scaledNorm, type AdamWOptions, type ScheduleOptions } from "./train-optim.ts";
import { initParams, paramLayout, slotView, type ParamLayout } from "./train-params.ts";

export { saveHfModel, toHfTensors, type SaveHfOptions, type TrainedParams } from "./train-export.ts";
export { initParams, paramLayout, countParams } from "./train-params.ts";
export { learningRate } from "./train-optim.ts";

export interface TrainToyOptions {
  /** Architecture and sizes; `vocabSize` must cover every token id of `sequences`. */
  config: ModelConfig;
  /** Token ids of whole (chat-formatted) conversations, one array each. */
  sequences: number[][];
  /**
   * Per sequence, 1 where the token is predicted and counted in the loss (e.g. the assistant answer
   * and its closing `<|im_end|>`), 0 elsewhere; same lengths as `sequences`. Absent or null: every
   * token after the first is counted (plain language-model loss).
   */
  lossMask?: number[][] | null;
  /** Seeds the initialisation and the data order (default 0). */
  seed?: number;
  /** Rows per optimizer step. */
  batchSize: number;
  /** Tokens per row. Longer sequences are cut to their first seqLen tokens. */
  seqLen: number;
  /** Pack several sequences per row (block-diagonal attention, positions restart per sequence); default true. */
  pack?: boolean;
  /** Token id written into padding (never attended to by real tokens, never counted); default the first eos id, else 0. */
  padId?: number;
  /** Number of optimizer steps; give this or `epochs`. */
  steps?: number;
  /** Number of passes over the data; give this or `steps`. */
  epochs?: number;
  /** Peak learning rate (default 3e-3). */
  lr?: number;
  /** Final learning rate of the cosine decay (default lr / 10). */
  minLr?: number;
  /** Linear warmup steps (default: 5% of the steps, at most 100). */
  warmupSteps?: number;
  /** AdamW (defaults 0.9, 0.95, 1e-8, weight decay 0.1 on matrices only). */
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip the global gradient norm to this (default 1; 0 disables). */
  gradClip?: number;
  /** Init std of weights (default 0.02; residual projections get it / sqrt(2 layers)). */
  initStd?: number;
  /** Folder for the checkpoint (`outDir/checkpoint/`) and the exported model. */
  outDir: string;
  /** Write a checkpoint every this many steps (default 100; 0: only at the end). */
  checkpointEvery?: number;
  /** Continue from `outDir/checkpoint/` when there is one (its settings must match); false starts over. */
  resume?: boolean;
  progress?: Progress;
  /** Stop cleanly (final checkpoint, export) before this much wall time has passed in this run. */
  timeBudgetMinutes?: number;
  /** Stop cleanly at the next step boundary when aborted. */
  signal?: AbortSignal;
  /** Called after every step. */
  onStep?: (info: StepInfo) => void;
  /**
   * Micro-batches per step (default 2): each step's rows are cut into this many contiguous parts whose
   * gradients are computed separately and added in order. The weights depend on this number, never on
   * `workers`.
   */
  microBatches?: number;
  /**
   * Threads computing micro-batches: 1 runs tfjs in this thread; more run up to `microBatches` worker
   * threads, each with its own tfjs instance, gradients summed through shared memory (the same weights,
   * bit for bit, faster where cores are free). "auto" (default): min(microBatches, available cores),
   * falling back to this thread if workers cannot start.
   */
  workers?: number | "auto";
  /**
   * Export the model at the end (also after a time-budget stop or an abort): into `dir` (default
   * outDir; e.g. the committed model folder, while outDir with its checkpoint stays out of git), as
   * F32 (default) or BF16. false skips it.
   */
  save?: { dtype?: "F32" | "BF16"; dir?: string } | false;
  /** Write a checkpoint when stopping (time budget, abort, end); default true. */
  finalCheckpoint?: boolean;
}

export interface StepInfo {
  /** Steps done (1-based index of the step just taken). */
  step: number;
  totalSteps: number;
  /** Mean loss per counted token of the step (nats). */
  loss: number;
  lr: number;
  /** Global gradient norm before clipping (of the mean-loss gradient). */
  gradNorm: number;
  /** Non-padding tokens of the step. */
  tokens: number;
  /** Training throughput of this run so far (non-padding tokens per second). */
  tokensPerSecond: number;
  /** Wall time of this step (batch building, gradient, optimizer). */
  stepMs: number;
  epoch: number;
}

export interface TrainToyResult {
  config: ModelConfig;
  /** Final parameters, tfjs names and layout (linear weights `[in, out]`). */
  params: TrainedParams;
  step: number;
  totalSteps: number;
  /** "done": all steps; "time": the time budget ran out; "abort": the signal fired. */
  stopReason: "done" | "time" | "abort";
  /** Step the run started from (0, or the checkpoint's step when resumed). */
  resumedFrom: number;
  lossHistory: LossRecord[];
  /** Non-padding tokens processed, all runs together. */
  tokensSeen: number;
  /** Tokens per second of this run's steps. */
  tokensPerSecond: number;
  /** Wall time of this run's training steps. */
  trainMs: number;
  backend: string;
  workers: number;
  /** Sequences cut to seqLen. */
  truncatedSequences: number;
  /** Paths of the files the export wrote (empty when `save: false`). */
  files: string[];
}

interface Resolved {
  seed: number;
  data: DataOptions;
  schedule: ScheduleOptions;
  adam: AdamWOptions;
  gradClip: number;
  initStd: number;
  checkpointEvery: number;
  microBatches: number;
  workers: number | "auto";
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw new ArgumentError(`trainToyModel: option "${name}" must be a positive integer, got ${describeValue(v)}`, { field: name });
  }
  return v;
}

function nonNegNumber(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new ArgumentError(`trainToyModel: option "${name}" must be a non-negative number, got ${describeValue(v)}`, { field: name });
  }
  return v;
}

/** SHA-256 of the sequences and loss masks (to refuse resuming on different data). */
function dataFingerprint(sequences: readonly (readonly number[])[], lossMask: readonly (readonly number[])[] | null): string {
  const h = createHash("sha256");
  const add = (rows: readonly (readonly number[])[]) => {
    for (const row of rows) {
      h.update(Int32Array.from(row));
      h.update("|");
    }
  };
  add(sequences);
  h.update(lossMask === null ? "full" : "mask");
  if (lossMask !== null) add(lossMask);
  return h.digest("hex");
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

/** Parameters of a flat buffer as a record of tensors (copies). */
export function paramsFromFlat(layout: ParamLayout, flat: Float32Array): TrainedParams {
  const out: Record<string, F32Tensor> = {};
  for (const slot of layout.slots) out[slot.name] = { shape: [...slot.shape], data: slotView(flat, slot).slice() };
  return out;
}

/** The engine for `workers` ("auto": one per micro-batch up to the core count, this thread if workers fail). */
async function startTrainingEngine(cfg: ModelConfig, layout: ParamLayout, workers: number | "auto", micro: number): Promise<GradEngine> {
  if (workers !== "auto") return startEngine(cfg, layout, workers, micro);
  const want = Math.min(micro, availableParallelism());
  if (want <= 1) return startEngine(cfg, layout, 1, micro);
  try {
    return await startEngine(cfg, layout, want, micro);
  } catch {
    return startEngine(cfg, layout, 1, micro);
  }
}

/** Trains (or resumes training) and exports the model; see {@link TrainToyOptions}. */
export async function trainToyModel(opts: TrainToyOptions): Promise<TrainToyResult> {
  const started = performance.now();
  const cfg = opts.config;
  if (cfg === null || typeof cfg !== "object") throw new ArgumentError("trainToyModel: option \"config\" is required", { field: "config" });
  modelConfigToJson(cfg); // validates the architecture flags
  if (typeof opts.outDir !== "string" || opts.outDir === "") throw new ArgumentError("trainToyModel: option \"outDir\" is required", { field: "outDir" });
  const lossMask = opts.lossMask ?? null;
  const lengths = checkSequences(opts.sequences, lossMask, cfg.vocabSize);
  const seqLen = positiveInt("seqLen", opts.seqLen);
  if (seqLen > cfg.maxPositionEmbeddings) {
    throw new ArgumentError(`trainToyModel: seqLen ${seqLen} exceeds the model's max_position_embeddings ${cfg.maxPositionEmbeddings}`, { field: "seqLen" });
  }
  const padId = opts.padId ?? cfg.eosTokenIds[0] ?? 0;
  if (!Number.isInteger(padId) || padId < 0 || padId >= cfg.vocabSize) {
    throw new ArgumentError(`trainToyModel: padId ${describeValue(padId)} is outside [0, ${cfg.vocabSize})`, { field: "padId" });
  }
  const data: DataOptions = { batchSize: positiveInt("batchSize", opts.batchSize), seqLen, pack: opts.pack ?? true, padId, seed: (opts.seed ?? 0) >>> 0 };
  if ((opts.steps === undefined) === (opts.epochs === undefined)) {
    throw new ArgumentError('trainToyModel: give exactly one of "steps" and "epochs"', { field: opts.steps === undefined ? "steps" : "epochs" });
  }

  // The plan of each epoch is cheap to rebuild; keep the current one.
  let planCache: { epoch: number; plan: EpochPlan } | null = null;
  const planFor = (epoch: number): EpochPlan => {
    if (planCache?.epoch !== epoch) planCache = { epoch, plan: planEpoch(lengths, data, epoch) };
    return planCache.plan;
  };
  let totalSteps: number;
  if (opts.steps !== undefined) totalSteps = positiveInt("steps", opts.steps);
  else {
    const epochs = positiveInt("epochs", opts.epochs);
    totalSteps = 0;
    for (let e = 0; e < epochs; e++) totalSteps += planFor(e).batches.length;
  }
  const lr = nonNegNumber("lr", opts.lr ?? 3e-3);
  const resolved: Resolved = {
    seed: data.seed,
    data,
    schedule: {
      lr,
      minLr: nonNegNumber("minLr", opts.minLr ?? lr / 10),
      warmupSteps: Math.floor(nonNegNumber("warmupSteps", opts.warmupSteps ?? Math.min(100, Math.floor(totalSteps * 0.05)))),
      totalSteps,
    },
    adam: {
      beta1: nonNegNumber("beta1", opts.beta1 ?? 0.9),
      beta2: nonNegNumber("beta2", opts.beta2 ?? 0.95),
      eps: nonNegNumber("eps", opts.eps ?? 1e-8),
      weightDecay: nonNegNumber("weightDecay", opts.weightDecay ?? 0.1),
    },
    gradClip: nonNegNumber("gradClip", opts.gradClip ?? 1),
    initStd: nonNegNumber("initStd", opts.initStd ?? 0.02),
    checkpointEvery: Math.floor(nonNegNumber("checkpointEvery", opts.checkpointEvery ?? 100)),
    microBatches: positiveInt("microBatches", opts.microBatches ?? 2),
    workers: opts.workers === undefined || opts.workers === "auto" ? "auto" : positiveInt("workers", opts.workers),
  };
  if (resolved.adam.beta1 >= 1 || resolved.adam.beta2 >= 1) throw new ArgumentError("trainToyModel: beta1 and beta2 must be below 1", { field: "beta1" });
  const budgetMs = opts.timeBudgetMinutes === undefined ? Infinity : nonNegNumber("timeBudgetMinutes", opts.timeBudgetMinutes) * 60_000;
  const fingerprint: RunFingerprint = {
    config: modelConfigToJson(cfg),
    data: dataFingerprint(opts.sequences, lossMask),
    seed: data.seed,
    batchSize: data.batchSize,
    seqLen: data.seqLen,
    pack: data.pack,
    padId: data.padId,
    schedule: resolved.schedule,
    adam: resolved.adam,
    gradClip: resolved.gradClip,
    initStd: resolved.initStd,
    microBatches: resolved.microBatches,
  };

  const layout = paramLayout(cfg);
  const progress = opts.progress ?? silentProgress;
  const engine = await startTrainingEngine(cfg, layout, resolved.workers, resolved.microBatches);
  try {
    const params = engine.params;
    const m = new Float32Array(layout.total);
    const v = new Float32Array(layout.total);
    let step = 0;
    let epoch = 0;
    let batchInEpoch = 0;
    let tokensSeen = 0;
    let priorTrainMs = 0;
    let lossHistory: LossRecord[] = [];
    const saved = opts.resume ? await readCheckpointState(opts.outDir) : null;
    if (saved !== null) {
      checkFingerprint(opts.outDir, saved.fingerprint, fingerprint);
      loadCheckpointTensors(opts.outDir, saved, layout, { params, m, v });
      ({ step, epoch, batchInEpoch, tokensSeen } = saved);
      priorTrainMs = saved.trainMs;
      lossHistory = saved.lossHistory;
    } else {
      if (!opts.resume) await removeCheckpoint(opts.outDir);
      initParams(cfg, data.seed, layout, { std: resolved.initStd }, params);
    }
    const resumedFrom = step;

    const checkpoint = async (trainMs: number): Promise<void> => {
      await saveCheckpoint(opts.outDir, layout, { params, m, v }, {
        step,
        totalSteps,
        epoch,
        batchInEpoch,
        tokensSeen,
        trainMs,
        fingerprint,
        lossHistory,
      });
    };

    progress.start(`train ${engine.backend}${engine.workers > 1 ? ` x${engine.workers}` : ""}`, totalSteps);
    progress.update(step, step > 0 ? `resumed at step ${step}` : "");
    let runTokens = 0;
    let runStepMs = 0;
    let lastStepMs = 0;
    let checkpointMs = 0;
    let stopReason: TrainToyResult["stopReason"] = "done";
    let emaLoss: number | null = null;
    while (step < totalSteps) {
      if (opts.signal?.aborted) {
        stopReason = "abort";
        break;
      }
      // Stop when the next step (and a checkpoint) would not fit in the budget.
      if (performance.now() - started + lastStepMs + checkpointMs > budgetMs) {
        stopReason = "time";
        break;
      }
      const plan = planFor(epoch);
      if (batchInEpoch >= plan.batches.length) {
        epoch++;
        batchInEpoch = 0;
        continue;
      }
      const t0 = performance.now();
      const batch = buildBatch(plan.batches[batchInEpoch]!, opts.sequences, lossMask, data.seqLen, data.padId);
      const r = await engine.run(batch);
      if (!Number.isFinite(r.lossSum)) {
        throw new SafesailError(`trainToyModel: the loss is ${r.lossSum} at step ${step + 1}; training diverged (try a lower lr). The last checkpoint is intact.`);
      }
      const stepLr = learningRate(step, resolved.schedule);
      let gradNorm = 0;
      if (r.count > 0) {
        const meanScale = 1 / r.count;
        gradNorm = scaledNorm(engine.grads, meanScale);
        const clip = resolved.gradClip > 0 && gradNorm > resolved.gradClip ? resolved.gradClip / gradNorm : 1;
        adamwStep(layout, params, engine.grads, m, v, step + 1, stepLr, meanScale * clip, resolved.adam);
      }
      step++;
      batchInEpoch++;
      tokensSeen += batch.tokens;
      runTokens += batch.tokens;
      lastStepMs = performance.now() - t0;
      runStepMs += lastStepMs;
      const loss = r.count > 0 ? r.lossSum / r.count : NaN;
      lossHistory.push({ step, loss, tokens: r.count, lr: stepLr });
      if (Number.isFinite(loss)) emaLoss = emaLoss === null ? loss : 0.9 * emaLoss + 0.1 * loss;
      const tps = runTokens / (runStepMs / 1000);
      const eta = (runStepMs / (step - resumedFrom)) * (totalSteps - step);
      progress.update(step, `loss ${emaLoss?.toFixed(3) ?? "?"} | ${tps.toFixed(0)} tok/s | ETA ${formatDuration(eta)}`);
      opts.onStep?.({ step, totalSteps, loss, lr: stepLr, gradNorm, tokens: batch.tokens, tokensPerSecond: tps, stepMs: lastStepMs, epoch });
      if (resolved.checkpointEvery > 0 && step % resolved.checkpointEvery === 0 && step < totalSteps) {
        const c0 = performance.now();
        await checkpoint(priorTrainMs + runStepMs);
        checkpointMs = performance.now() - c0;
      }
    }
    if (opts.finalCheckpoint ?? true) await checkpoint(priorTrainMs + runStepMs);
    const tokensPerSecond = runStepMs > 0 ? runTokens / (runStepMs / 1000) : 0;
    progress.finish(`${stopReason === "done" ? "done" : stopReason === "time" ? "time budget reached" : "stopped"} at step ${step}/${totalSteps} | loss ${emaLoss?.toFixed(3) ?? "?"} | ${tokensPerSecond.toFixed(0)} tok/s`);
    const trained = paramsFromFlat(layout, params);
    let files: string[] = [];
    if (opts.save !== false) {
      const dir = opts.save?.dir ?? opts.outDir;
      files = (await saveHfModel(dir, cfg, trained, { dtype: opts.save?.dtype ?? "F32", padTokenId: data.padId })).map((f) => path.join(dir, f));
    }
    return {
      config: cfg,
      params: trained,
      step,
      totalSteps,
      stopReason,
      resumedFrom,
      lossHistory,
      tokensSeen,
      tokensPerSecond,
      trainMs: runStepMs,
      backend: engine.backend,
      workers: engine.workers,
      truncatedSequences: lengths.filter((n) => n > data.seqLen).length,
      files,
    };
  } finally {
    await engine.close();
  }
}
