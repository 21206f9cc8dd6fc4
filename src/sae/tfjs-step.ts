// The same TopK SAE objective written densely in tfjs and differentiated by tfjs's autodiff: an
// independent second implementation of the gradients the onnxruntime graph computes by hand (tests and
// the SAE benchmark compare them; it is also the "tfjs-wasm" row of the speed comparison).
//
// TopK-ReLU as a mask: z = ReLU(pre) · [pre ≥ k-th largest pre of the row]. The mask is a constant for
// autodiff, so the gradient is exactly TopK's (ties aside). The AuxK residual e = x - x̂ is computed
// first and enters the differentiated function as a constant.
import type { Tensor, Tensor1D, Tensor2D } from "@tensorflow/tfjs";
import type { Tf } from "../engine/tfjs.ts";
import type { SaeParams } from "./sae.ts";
import { SAE_PARAMS, type SaeParamName } from "./train-graph.ts";

export interface TfjsSaeGrads {
  mse: number;
  aux: number;
  grads: Record<SaeParamName, Float32Array>;
}

/** Row-wise mask of the `k` largest entries (by the k-th largest value; ties may keep a few more). */
function topkMask(tf: Tf, v: Tensor2D, k: number): Tensor2D {
  const kth = tf.topk(v, k, true).values.slice([0, k - 1], [-1, 1]);
  return tf.cast(tf.greaterEqual(v, kth), "float32") as Tensor2D;
}

export function tfjsSaeGradients(
  tf: Tf,
  p: SaeParams,
  x: Float32Array,
  batch: number,
  opts: { k: number; kAux?: number; dead?: Float32Array | null; auxCoef?: number },
): TfjsSaeGrads {
  const { dIn: d, dSae: S } = p;
  return tf.tidy(() => {
    const X = tf.tensor2d(x.subarray(0, batch * d), [batch, d]);
    const vars = {
      W_encT: tf.tensor2d(p.W_encT, [S, d]),
      b_enc: tf.tensor1d(p.b_enc),
      W_dec: tf.tensor2d(p.W_dec, [S, d]),
      b_dec: tf.tensor1d(p.b_dec),
    };
    const preOf = (W_encT: Tensor, b_enc: Tensor, b_dec: Tensor) => tf.add(tf.matMul(tf.sub(X, b_dec), W_encT as Tensor2D, false, true), b_enc) as Tensor2D;
    const mask = topkMask(tf, preOf(vars.W_encT, vars.b_enc, vars.b_dec), opts.k);
    const recon = (W_encT: Tensor, b_enc: Tensor, W_dec: Tensor, b_dec: Tensor) =>
      tf.add(tf.matMul(tf.mul(tf.relu(preOf(W_encT, b_enc, b_dec)), mask), W_dec as Tensor2D), b_dec) as Tensor2D;
    const residual = tf.sub(X, recon(vars.W_encT, vars.b_enc, vars.W_dec, vars.b_dec));
    const kAux = opts.kAux ?? 0;
    const useAux = kAux > 0 && opts.dead != null && (opts.auxCoef ?? 0) > 0;
    let auxMask: Tensor2D | null = null;
    let denom: Tensor | null = null;
    let deadT: Tensor1D | null = null;
    if (useAux) {
      deadT = tf.tensor1d(opts.dead!);
      const masked = tf.add(preOf(vars.W_encT, vars.b_enc, vars.b_dec), tf.mul(tf.sub(deadT, 1), 1e30)) as Tensor2D;
      auxMask = topkMask(tf, masked, kAux);
      denom = tf.maximum(tf.sum(tf.square(tf.sub(residual, tf.mean(residual, 0, true)))), 1e-12);
    }
    const lossParts = (W_encT: Tensor, b_enc: Tensor, W_dec: Tensor, b_dec: Tensor) => {
      const mse = tf.div(tf.sum(tf.square(tf.sub(recon(W_encT, b_enc, W_dec, b_dec), X))), batch);
      if (!useAux) return { mse, aux: tf.scalar(0) };
      const pre = preOf(W_encT, b_enc, b_dec);
      const zAux = tf.mul(tf.relu(tf.add(pre, tf.mul(tf.sub(deadT!, 1), 1e30))), auxMask!);
      const eHat = tf.matMul(zAux, W_dec as Tensor2D);
      const aux = tf.mul(tf.div(tf.sum(tf.square(tf.sub(eHat, residual))), denom!), opts.auxCoef ?? 0);
      return { mse, aux };
    };
    const f = (W_encT: Tensor, b_enc: Tensor, W_dec: Tensor, b_dec: Tensor) => {
      const { mse, aux } = lossParts(W_encT, b_enc, W_dec, b_dec);
      return tf.add(mse, aux) as Tensor;
    };
    const gs = tf.grads(f)([vars.W_encT, vars.b_enc, vars.W_dec, vars.b_dec]);
    const parts = lossParts(vars.W_encT, vars.b_enc, vars.W_dec, vars.b_dec);
    const grads = Object.fromEntries(SAE_PARAMS.map((n, i) => [n, gs[i]!.dataSync() as Float32Array])) as Record<SaeParamName, Float32Array>;
    return { mse: parts.mse.dataSync()[0]!, aux: parts.aux.dataSync()[0]!, grads };
  });
}
