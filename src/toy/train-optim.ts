// AdamW on flat float32 buffers, the learning-rate schedule and gradient clipping. Plain loops over
// typed arrays: the same arithmetic in the same order on every run, so training is reproducible
// bit for bit on one machine whatever thread runs it.

import { ArgumentError } from "../errors.ts";
import type { ParamLayout } from "./train-params.ts";

export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Final learning rate of the cosine decay. */
  minLr: number;
  /** Steps of linear warmup from lr/warmupSteps to lr. */
  warmupSteps: number;
  /** Steps of the whole run (the cosine reaches minLr at the last one). */
  totalSteps: number;
}

/** Learning rate of the 0-based step `step`: linear warmup, then cosine decay to minLr. */
export function learningRate(step: number, s: ScheduleOptions): number {
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  const span = Math.max(1, s.totalSteps - s.warmupSteps - 1);
  const progress = Math.min(1, Math.max(0, (step - s.warmupSteps) / span));
  return s.minLr + (s.lr - s.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay, applied to the slots with `decay` (matrices) only. */
  weightDecay: number;
}

/** Euclidean norm of `g * scale`, accumulated in float64. */
export function scaledNorm(g: Float32Array, scale: number): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) {
    const x = g[i]! * scale;
    s += x * x;
  }
  return Math.sqrt(s);
}

/**
 * One AdamW step (PyTorch's formulation: `p -= lr·wd·p`, then `p -= lr·m̂/(√v̂ + eps)`) on every
 * slot of `layout`. `t` is the 1-based step number (bias correction); the gradient used is
 * `grads * gradScale` (mean over tokens and clipping folded into one factor).
 */
export function adamwStep(
  layout: ParamLayout,
  params: Float32Array,
  grads: Float32Array,
  m: Float32Array,
  v: Float32Array,
  t: number,
  lr: number,
  gradScale: number,
  o: AdamWOptions,
): void {
  if (!(t >= 1)) throw new ArgumentError(`adamwStep: step number must be >= 1, got ${t}`);
  const { beta1: b1, beta2: b2, eps } = o;
  const c1 = 1 - Math.pow(b1, t);
  const c2 = 1 - Math.pow(b2, t);
  const stepSize = lr / c1;
  const sqrtC2 = Math.sqrt(c2);
  for (const slot of layout.slots) {
    const decay = slot.decay ? 1 - lr * o.weightDecay : 1;
    const end = slot.offset + slot.size;
    for (let i = slot.offset; i < end; i++) {
      const g = grads[i]! * gradScale;
      const mi = b1 * m[i]! + (1 - b1) * g;
      const vi = b2 * v[i]! + (1 - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] = params[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtC2 + eps);
    }
  }
}
