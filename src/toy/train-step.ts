// One training step's tfjs work: parameters (a flat float32 buffer) + a packed batch -> summed
// cross-entropy and its gradient (written into a flat buffer of the same layout).
//
// The model is `forwardTensors` with `fastGrad` (plain 2-D matMuls with explicit transposes in every
// gradient, per-block attention products, a host scatter-add for the embedding gradient on wasm),
// stopped after the last layer; the head is applied here only to the rows counted in the loss
// (final norm, row gather, unembedding, cross-entropy with a fused gradient), which skips the
// unembedding of prompt and padding tokens entirely.
//
// The loss is a sum over counted tokens (not a mean), so data-parallel workers can add their sums
// and the caller divides by the total count once.

import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from "@tensorflow/tfjs";
import type { Tf } from "../engine/tfjs.ts";
import { computeInvFreq } from "../model/reference.ts";
import { forwardTensors, matMul2d, type TfjsInputs, type TfjsParams } from "../model/tfjs-forward.ts";
import type { ModelConfig } from "../model/types.ts";
import { hookName } from "../model/hooks.ts";
import type { PackedBatch } from "./train-data.ts";
import { slotView, type ParamLayout } from "./train-params.ts";

const MASKED_SCORE = -1e9;

/** RoPE tables and the block-diagonal causal mask of a packed batch. */
export function packedInputs(tf: Tf, cfg: ModelConfig, b: PackedBatch): TfjsInputs {
  const { batch: B, seqLen: T } = b;
  const hd = cfg.headDim;
  const half = hd / 2;
  const invFreq = computeInvFreq(cfg);
  const cos = new Float32Array(B * T * hd);
  const sin = new Float32Array(B * T * hd);
  for (let n = 0; n < B * T; n++) {
    const pos = b.positions[n]!;
    const off = n * hd;
    for (let j = 0; j < half; j++) {
      const angle = pos * invFreq[j]!;
      cos[off + j] = cos[off + j + half] = Math.cos(angle);
      sin[off + j] = sin[off + j + half] = Math.sin(angle);
    }
  }
  // Key s is visible to query t when s <= t in the same segment (so every query sees itself).
  const bias = new Float32Array(B * T * T);
  for (let r = 0; r < B; r++) {
    for (let t = 0; t < T; t++) {
      const seg = b.segments[r * T + t];
      const row = (r * T + t) * T;
      for (let s = 0; s < T; s++) bias[row + s] = s <= t && b.segments[r * T + s] === seg ? 0 : MASKED_SCORE;
    }
  }
  return {
    ids: tf.tensor2d(b.ids, [B, T], "int32"),
    cos: tf.tensor4d(cos, [B, T, 1, hd]),
    sin: tf.tensor4d(sin, [B, T, 1, hd]),
    maskBias: tf.tensor4d(bias, [B, 1, T, T]) as Tensor4D,
    maskKeep: null,
  };
}

/** Whether the backend lacks UnsortedSegmentSum (the gradient of gather), so row gathers scatter on the host. */
function needsHostScatter(tf: Tf): boolean {
  return tf.getKernel("UnsortedSegmentSum", tf.getBackend()) === undefined;
}

/** Rows `idx` of `x` `[N, D]`; the gradient scatters back on the host where the backend lacks the kernel. */
export function gatherRows(tf: Tf, x: Tensor2D, idx: Tensor1D): Tensor2D {
  if (!needsHostScatter(tf)) return tf.gather(x, idx) as Tensor2D;
  const [N, D] = x.shape;
  const f = tf.customGrad<Tensor2D>((...args) => {
    const [t, i, save] = args as [Tensor2D, Tensor1D, (ts: Tensor[]) => void];
    save([i]);
    return {
      value: tf.gather(t, i) as Tensor2D,
      gradFunc: (dy: Tensor2D, saved: Tensor[]) => {
        const iv = saved[0]!.dataSync();
        const dv = dy.dataSync() as Float32Array;
        const g = new Float32Array(N * D);
        for (let k = 0; k < iv.length; k++) {
          const dst = iv[k]! * D;
          const src = k * D;
          for (let d = 0; d < D; d++) g[dst + d] += dv[src + d]!;
        }
        return [tf.tensor2d(g, [N, D]), tf.zerosLike(saved[0]!)];
      },
    };
  });
  return f(x, idx);
}

/**
 * Summed cross-entropy of `logits` `[M, V]` against one-hot targets, with the fused gradient
 * `softmax - onehot`. The value is `-Σ log p(target)` from the softmax (clamped at 1e-30, so a
 * target probability that underflows float32 reads as 69 nats; the gradient is exact regardless).
 */
export function crossEntropySum(tf: Tf, logits: Tensor2D, oneHot: Tensor2D): Tensor {
  const f = tf.customGrad<Tensor>((...args) => {
    const [l, oh, save] = args as [Tensor2D, Tensor2D, (ts: Tensor[]) => void];
    const probs = tf.softmax(l, -1);
    const picked = tf.sum(tf.mul(probs, oh), -1);
    const loss = tf.neg(tf.sum(tf.log(tf.maximum(picked, 1e-30))));
    save([probs, oh]);
    return {
      value: loss,
      gradFunc: (dy: Tensor, saved: Tensor[]) => [tf.mul(tf.sub(saved[0]!, saved[1]!), dy), tf.zerosLike(saved[1]!)],
    };
  });
  return f(logits, oneHot);
}

export interface StepResult {
  /** Summed cross-entropy over the counted tokens (nats). */
  lossSum: number;
  /** Counted tokens. */
  count: number;
}

/**
 * Loss and gradient of one (part of a) batch. Reads `params`, writes the gradient of the summed loss
 * into `grads` (same layout, overwritten). Leaves no tensor behind.
 */
export function lossAndGrads(tf: Tf, cfg: ModelConfig, layout: ParamLayout, params: Float32Array, batch: PackedBatch, grads: Float32Array): StepResult {
  const count = batch.lossRows.length;
  if (count === 0) {
    grads.fill(0);
    return { lossSum: 0, count: 0 };
  }
  const N = batch.batch * batch.seqLen;
  const D = cfg.hiddenSize;
  const lastHook = hookName(cfg.numLayers - 1, "resid_post");
  const created: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => (created.push(t), t);
  try {
    const tensors = layout.slots.map((s) => keep(tf.tensor(slotView(params, s).slice(), s.shape, "float32")));
    const inputs = packedInputs(tf, cfg, batch);
    keep(inputs.ids), keep(inputs.cos), keep(inputs.sin), keep(inputs.maskBias);
    const allRows = count === N && batch.lossRows.every((n, k) => n === k);
    const rowIdx = allRows ? null : keep(tf.tensor1d(batch.lossRows, "int32"));
    const oneHot = keep(tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(batch.lossTargets, "int32"), cfg.vocabSize), "float32") as Tensor2D));
    const lossFn = (...ps: Tensor[]): Tensor => {
      const p: TfjsParams = {};
      layout.slots.forEach((s, i) => (p[s.name] = ps[i]!));
      const { hooks } = forwardTensors(tf, p, cfg, inputs, { hooks: [lastHook], logits: false, fastGrad: true });
      const h = tf.reshape(hooks[lastHook]!, [N, D]) as Tensor2D;
      const sel = rowIdx === null ? h : gatherRows(tf, h, rowIdx);
      const meanSq = tf.mean(tf.square(sel), -1, true);
      const final = tf.mul(tf.mul(sel, tf.rsqrt(tf.add(meanSq, cfg.rmsNormEps))), p["ln_final.w"]!) as Tensor2D;
      const logits = matMul2d(tf, final, p["unembed.W_U"] as Tensor2D);
      return crossEntropySum(tf, logits, oneHot);
    };
    const { value, grads: gs } = tf.valueAndGrads(lossFn)(tensors);
    keep(value);
    gs.forEach((g) => keep(g));
    layout.slots.forEach((s, i) => grads.set(gs[i]!.dataSync() as Float32Array, s.offset));
    return { lossSum: value.dataSync()[0]!, count };
  } finally {
    for (const t of created) t.dispose();
  }
}
