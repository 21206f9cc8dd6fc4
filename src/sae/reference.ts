// Plain float64 loops for the TopK SAE objective: the definition the training graph and the tfjs
// autodiff version are checked against (and the function finite differences are taken of). Dense on
// purpose (the full code vector z is built): it shares nothing with the graph's sparse gradients.
import type { SaeParams } from "./sae.ts";

export interface SaeLossParts {
  /** Σ_b ||x̂_b - x_b||² / B */
  mse: number;
  /** coef · ||ê - e||² / ||e - mean(e)||², 0 without AuxK */
  aux: number;
  total: number;
  /** Σ_b ||x_b - mean(x)||² / B */
  variance: number;
  l0: number;
  /** x - x̂ per token (the AuxK target) */
  residual: Float64Array;
}

/** Indices of the `k` largest values of `row` (ties: lower index first). */
export function topkIndices(row: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: row.length }, (_, i) => i);
  idx.sort((a, b) => row[b]! - row[a]! || a - b);
  return idx.slice(0, k);
}

/**
 * The loss of a batch `x` ([B, dIn] row-major) under `p`. `dead` (length dSae, 1 = dead) and `auxCoef`
 * enable AuxK with `kAux` latents; the residual e it fits is treated as a constant (as in training):
 * pass `residual` to hold it fixed at another point's value (finite differences of the aux term).
 */
export function referenceSaeLoss(
  p: SaeParams,
  x: Float32Array | Float64Array,
  opts: { k: number; kAux?: number; dead?: ArrayLike<number>; auxCoef?: number; residual?: ArrayLike<number> },
): SaeLossParts {
  const { dIn: d, dSae: S } = p;
  const B = x.length / d;
  let mse = 0;
  let l0 = 0;
  const e = new Float64Array(B * d);
  const xc = new Float64Array(d);
  const pre = new Float64Array(S);
  const mean = new Float64Array(d);
  for (let b = 0; b < B; b++) for (let j = 0; j < d; j++) mean[j]! += x[b * d + j]! / B;
  let variance = 0;
  for (let b = 0; b < B; b++) for (let j = 0; j < d; j++) variance += (x[b * d + j]! - mean[j]!) ** 2 / B;
  const pres: Float64Array[] = [];
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < d; j++) xc[j] = x[b * d + j]! - p.b_dec[j]!;
    for (let s = 0; s < S; s++) {
      let acc = p.b_enc[s]!;
      for (let j = 0; j < d; j++) acc += xc[j]! * p.W_encT[s * d + j]!;
      pre[s] = acc;
    }
    pres.push(pre.slice());
    const z = new Float64Array(S);
    for (const s of topkIndices(pre, opts.k)) z[s] = Math.max(0, pre[s]!);
    for (let s = 0; s < S; s++) if (z[s]! > 0) l0++;
    for (let j = 0; j < d; j++) {
      let r = p.b_dec[j]!;
      for (let s = 0; s < S; s++) if (z[s] !== 0) r += z[s]! * p.W_dec[s * d + j]!;
      const diff = r - x[b * d + j]!;
      mse += diff * diff;
      e[b * d + j] = -diff;
    }
  }
  mse /= B;
  let aux = 0;
  const kAux = opts.kAux ?? 0;
  if (opts.residual) e.set(opts.residual);
  if (kAux > 0 && opts.dead && (opts.auxCoef ?? 0) !== 0) {
    const eMean = new Float64Array(d);
    for (let b = 0; b < B; b++) for (let j = 0; j < d; j++) eMean[j]! += e[b * d + j]! / B;
    let denom = 0;
    for (let b = 0; b < B; b++) for (let j = 0; j < d; j++) denom += (e[b * d + j]! - eMean[j]!) ** 2;
    denom = Math.max(denom, 1e-12);
    let num = 0;
    for (let b = 0; b < B; b++) {
      const masked = pres[b]!.map((v, s) => (opts.dead![s]! > 0 ? v : v - 1e30));
      const z = new Float64Array(S);
      for (const s of topkIndices(masked, kAux)) z[s] = Math.max(0, masked[s]!);
      for (let j = 0; j < d; j++) {
        let r = 0;
        for (let s = 0; s < S; s++) if (z[s] !== 0) r += z[s]! * p.W_dec[s * d + j]!;
        num += (r - e[b * d + j]!) ** 2;
      }
    }
    aux = (opts.auxCoef ?? 0) * (num / denom);
  }
  return { mse, aux, total: mse + aux, variance, l0: l0 / B, residual: e };
}
