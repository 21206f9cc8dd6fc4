// The SAE's Adam update, in place: one pass over each parameter reads its gradient and writes the parameter and
// both moments where they are.
//
// Why not in the onnxruntime graph: there, Adam was about ten elementwise operators, each writing a fresh
// [S, d] tensor, so a step at the paper's shape wrote some 10 GB and spent 2.5 s on it (bench/README.md, "SAE
// step"). One fused loop over (p, g, m, v) reads 4 and writes 3 arrays: about 2.4 GB at that shape.
//
// Decoder rows stay unit-norm (the constrained-decoder recipe): the gradient's component along each row is
// removed before the moments see it, and the row is renormalised after the update. A row is 4·d bytes, so the
// dot product, the update and the norm each stay in cache and the row costs one trip to memory.

/** Adam's constants for one step, the bias corrections folded in: p -= alpha·m / (√v + epsHat). */
export interface AdamStepConstants {
  readonly alpha: number;
  readonly epsHat: number;
  readonly beta1: number;
  readonly beta2: number;
}

/**
 * Folds Adam's bias corrections at step `t` (1-based) into two constants: lr·m̂/(√v̂ + eps) equals
 * alpha·m/(√v + epsHat) with alpha = lr·√(1−β2^t)/(1−β1^t) and epsHat = eps·√(1−β2^t).
 */
export function adamConstants(hyper: { lr: number; beta1: number; beta2: number; eps: number }, t: number): AdamStepConstants {
  const bc2 = Math.sqrt(1 - hyper.beta2 ** t);
  return { alpha: (hyper.lr * bc2) / (1 - hyper.beta1 ** t), epsHat: hyper.eps * bc2, beta1: hyper.beta1, beta2: hyper.beta2 };
}

/** One Adam step on `p` in place (its moments `m`, `v` too), from the gradient `g`. */
export function adamInPlace(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, c: AdamStepConstants): void {
  const { alpha, epsHat, beta1, beta2 } = c;
  const a1 = 1 - beta1;
  const a2 = 1 - beta2;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const mi = beta1 * m[i]! + a1 * gi;
    const vi = beta2 * v[i]! + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i]! - (alpha * mi) / (Math.sqrt(vi) + epsHat);
  }
}

/**
 * One Adam step on the decoder `W` ([rows, d], row-major) in place: each row's gradient loses its component along
 * the row (so the step does not change its norm to first order), then Adam, then the row is scaled back to unit
 * norm (a zero row stays zero). `g` is left as it came in.
 */
export function adamUnitRowsInPlace(W: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, d: number, c: AdamStepConstants): void {
  const { alpha, epsHat, beta1, beta2 } = c;
  const a1 = 1 - beta1;
  const a2 = 1 - beta2;
  const rows = W.length / d;
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let dot = 0;
    for (let j = o; j < o + d; j++) dot += g[j]! * W[j]!;
    let norm2 = 0;
    for (let j = o; j < o + d; j++) {
      const gj = g[j]! - dot * W[j]!;
      const mj = beta1 * m[j]! + a1 * gj;
      const vj = beta2 * v[j]! + a2 * gj * gj;
      m[j] = mj;
      v[j] = vj;
      const w = W[j]! - (alpha * mj) / (Math.sqrt(vj) + epsHat);
      W[j] = w;
      norm2 += w * w;
    }
    const scale = 1 / Math.max(Math.sqrt(norm2), 1e-12);
    for (let j = o; j < o + d; j++) W[j] = W[j]! * scale;
  }
}
