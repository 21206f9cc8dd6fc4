// Where the tfjs work of a training step runs: in this thread, or data-parallel over worker threads.
//
// A batch is cut into a fixed number of micro-batches (contiguous rows). Each micro-batch's gradient
// goes into its own buffer and the buffers are added in micro-batch order, so the result depends on
// the micro-batch count only, never on how many threads computed them: 1 and 2 workers give the
// same weights bit for bit.
//
// Parallel: every worker has its own tfjs instance (one wasm heap each; wasm runs one thread per
// instance). Parameters live in a SharedArrayBuffer that all workers read at the start of a step;
// micro-batch k goes to worker k mod W, which writes its gradient into shared slot k. Atomics on a
// small shared Int32Array order the buffer writes against the step messages.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { getTf, type Tf } from "../engine/tfjs.ts";
import { SafesailError } from "../errors.ts";
import type { ModelConfig } from "../model/types.ts";
import { sliceBatch, type PackedBatch } from "./train-data.ts";
import type { ParamLayout } from "./train-params.ts";
import { lossAndGrads, type StepResult } from "./train-step.ts";

export interface GradEngine {
  /** tfjs backend doing the work. */
  readonly backend: string;
  readonly workers: number;
  /** Parameters the engine reads at every step (write them in place between steps). */
  readonly params: Float32Array;
  /** Summed gradient of the last step. */
  readonly grads: Float32Array;
  run(batch: PackedBatch): Promise<StepResult>;
  close(): Promise<void>;
}

/** Row ranges of the `micro` micro-batches of a batch of `rows` rows. */
export function microRanges(rows: number, micro: number): [number, number][] {
  return Array.from({ length: micro }, (_, k) => [Math.floor((k * rows) / micro), Math.floor(((k + 1) * rows) / micro)] as [number, number]);
}

/** `out = slots[0] + slots[1] + …`, in slot order. */
function sumSlots(out: Float32Array, slots: Float32Array[]): void {
  out.set(slots[0]!);
  for (let k = 1; k < slots.length; k++) {
    const s = slots[k]!;
    for (let j = 0; j < out.length; j++) out[j] = out[j]! + s[j]!;
  }
}

/** Runs steps in this thread. */
export class LocalEngine implements GradEngine {
  readonly workers = 1;
  readonly params: Float32Array;
  readonly grads: Float32Array;
  private readonly slots: Float32Array[];

  private constructor(
    private readonly tf: Tf,
    readonly backend: string,
    private readonly cfg: ModelConfig,
    private readonly layout: ParamLayout,
    private readonly micro: number,
  ) {
    this.params = new Float32Array(layout.total);
    this.grads = new Float32Array(layout.total);
    this.slots = micro > 1 ? Array.from({ length: micro }, () => new Float32Array(layout.total)) : [this.grads];
  }

  static async start(cfg: ModelConfig, layout: ParamLayout, micro: number): Promise<LocalEngine> {
    const { tf, backend } = await getTf();
    return new LocalEngine(tf, backend, cfg, layout, micro);
  }

  async run(batch: PackedBatch): Promise<StepResult> {
    let lossSum = 0;
    let count = 0;
    microRanges(batch.batch, this.micro).forEach(([from, to], k) => {
      const part = this.micro > 1 ? sliceBatch(batch, from, to) : batch;
      const r = lossAndGrads(this.tf, this.cfg, this.layout, this.params, part, this.slots[k]!);
      lossSum += r.lossSum;
      count += r.count;
    });
    if (this.micro > 1) sumSlots(this.grads, this.slots);
    return { lossSum, count };
  }

  async close(): Promise<void> {}
}

/** What a worker is given at start. */
export interface WorkerInit {
  config: ModelConfig;
  index: number;
  params: SharedArrayBuffer;
  /** One gradient buffer per micro-batch. */
  grads: SharedArrayBuffer[];
  /** Int32: [0] parameter version; [1 + index] last step the worker finished. */
  sync: SharedArrayBuffer;
}

export type ToWorker = { type: "step"; version: number; jobs: { slot: number; batch: PackedBatch }[] } | { type: "stop" };
export type FromWorker =
  | { type: "ready"; backend: string }
  | { type: "done"; version: number; parts: { slot: number; lossSum: number; count: number }[] }
  | { type: "error"; message: string; stack?: string };

/** URL of tsx's ESM register API (import.meta.resolve is missing under some loaders, vitest's among them). */
function tsxEsmApi(): string {
  if (typeof import.meta.resolve === "function") return import.meta.resolve("tsx/esm/api");
  const cjs = createRequire(import.meta.url).resolve("tsx/esm/api");
  const mjs = cjs.replace(/\.cjs$/, ".mjs");
  return pathToFileURL(existsSync(mjs) ? mjs : cjs).href;
}

interface Pending {
  resolve: (r: FromWorker) => void;
  reject: (e: Error) => void;
}

/** Data parallel over `count` worker threads. */
export class ParallelEngine implements GradEngine {
  readonly params: Float32Array;
  readonly grads: Float32Array;
  private readonly slots: Float32Array[];
  private readonly sync: Int32Array;
  private version = 0;
  private readonly pending: (Pending | null)[];
  private closed = false;

  private constructor(
    private readonly threads: Worker[],
    readonly backend: string,
    paramsSab: SharedArrayBuffer,
    gradSabs: SharedArrayBuffer[],
    syncSab: SharedArrayBuffer,
    pending: (Pending | null)[],
  ) {
    this.params = new Float32Array(paramsSab);
    this.slots = gradSabs.map((s) => new Float32Array(s));
    this.grads = new Float32Array(this.params.length);
    this.sync = new Int32Array(syncSab);
    this.pending = pending;
  }

  get workers(): number {
    return this.threads.length;
  }

  static async start(cfg: ModelConfig, layout: ParamLayout, count: number, micro: number): Promise<ParallelEngine> {
    const bytes = layout.total * 4;
    const paramsSab = new SharedArrayBuffer(bytes);
    const gradSabs = Array.from({ length: micro }, () => new SharedArrayBuffer(bytes));
    const syncSab = new SharedArrayBuffer(4 * (1 + count));
    const workerUrl = new URL("./train-worker.ts", import.meta.url).href;
    // The worker is TypeScript: register tsx's loader in it before importing it.
    const boot = `import(${JSON.stringify(tsxEsmApi())}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl)}); })`;
    const pending: (Pending | null)[] = Array.from({ length: count }, () => null);
    const threads: Worker[] = [];
    const ready: Promise<FromWorker>[] = [];
    for (let i = 0; i < count; i++) {
      const init: WorkerInit = { config: cfg, index: i, params: paramsSab, grads: gradSabs, sync: syncSab };
      const w = new Worker(boot, { eval: true, workerData: init });
      threads.push(w);
      ready.push(
        new Promise<FromWorker>((resolve, reject) => {
          pending[i] = { resolve, reject };
        }),
      );
      w.on("message", (m: FromWorker) => {
        const p = pending[i];
        pending[i] = null;
        if (p === null) return;
        if (m.type === "error") p.reject(new SafesailError(`training worker ${i}: ${m.message}`));
        else p.resolve(m);
      });
      w.on("error", (err) => {
        const p = pending[i];
        pending[i] = null;
        p?.reject(new SafesailError(`training worker ${i} failed: ${err.message}`, { cause: err }));
      });
      w.on("exit", (code) => {
        const p = pending[i];
        pending[i] = null;
        p?.reject(new SafesailError(`training worker ${i} exited (code ${code})`));
      });
    }
    try {
      const answers = await Promise.all(ready);
      const backends = new Set(answers.map((a) => (a.type === "ready" ? a.backend : "?")));
      return new ParallelEngine(threads, [...backends].join("+"), paramsSab, gradSabs, syncSab, pending);
    } catch (err) {
      await Promise.all(threads.map((t) => t.terminate()));
      throw err;
    }
  }

  async run(batch: PackedBatch): Promise<StepResult> {
    if (this.closed) throw new SafesailError("ParallelEngine.run after close()");
    const W = this.threads.length;
    this.version++;
    // Publishes the parameter writes made since the last step before any worker reads them.
    Atomics.store(this.sync, 0, this.version);
    const ranges = microRanges(batch.batch, this.slots.length);
    const answers = this.threads.map((w, i) => {
      const jobs = ranges.flatMap(([from, to], slot) => (slot % W === i ? [{ slot, batch: sliceBatch(batch, from, to) }] : []));
      const p = new Promise<FromWorker>((resolve, reject) => {
        this.pending[i] = { resolve, reject };
      });
      const msg: ToWorker = { type: "step", version: this.version, jobs };
      w.postMessage(msg);
      return p;
    });
    const results = await Promise.all(answers);
    for (let i = 0; i < W; i++) {
      const r = results[i]!;
      if (r.type !== "done" || r.version !== this.version || Atomics.load(this.sync, 1 + i) !== this.version) {
        throw new SafesailError(`training worker ${i}: out of step (expected step version ${this.version})`);
      }
    }
    // Loss sums and gradients are added in micro-batch order, as LocalEngine does.
    let lossSum = 0;
    let count = 0;
    for (let k = 0; k < ranges.length; k++) {
      const r = results[k % W]! as Extract<FromWorker, { type: "done" }>;
      const part = r.parts.find((p) => p.slot === k)!;
      lossSum += part.lossSum;
      count += part.count;
    }
    sumSlots(this.grads, this.slots);
    return { lossSum, count };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.threads) w.postMessage({ type: "stop" } satisfies ToWorker);
    await Promise.all(this.threads.map((w) => w.terminate()));
  }
}

/** A local engine for 1 worker, a parallel one otherwise (at most one worker per micro-batch). */
export async function startEngine(cfg: ModelConfig, layout: ParamLayout, workers: number, micro: number): Promise<GradEngine> {
  const w = Math.min(workers, micro);
  return w <= 1 ? LocalEngine.start(cfg, layout, micro) : ParallelEngine.start(cfg, layout, w, micro);
}
