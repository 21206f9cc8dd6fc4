// How good is an SAE on a model: reconstruction (MSE, FVU, explained variance), sparsity (L0, dead and
// dense latents) and what the reconstruction does to the model when spliced back in at its hook
// (SAELens's CE score: cross-entropy with the SAE in place, against the clean model and against
// zero-ablating the hook; plus the KL divergence of the next-token distributions).
//
//   const r = await evalSae(sae, model, documents, { hookName: "blocks.2.hook_mlp_out" });
//   r.ce_loss_recovered   // (CE_zero - CE_sae) / (CE_zero - CE_clean): 1 = as good as the model itself
//
// Definitions (over every predicted position of every document; a document of n tokens has n - 1):
//   mse                  Σ ||x̂ - x||² / tokens (per-token squared error, summed over dimensions)
//   fvu                  Σ ||x̂ - x||² / Σ ||x - mean(x)||²       explained_variance = 1 - fvu
//   l0                   mean number of latents with a positive activation per token
//   dead_fraction        share of latents that never fire on the evaluation tokens
//   dense_fraction       share of latents that fire on more than `denseThreshold` (default 10%) of tokens
//   ce_loss_*            mean next-token cross-entropy (nats) clean / with x̂ spliced in / with the hook zeroed
//   kl_sae               mean KL(p_clean || p_sae) of the next-token distributions (nats)
import { ArgumentError } from "../errors.ts";
import type { Model } from "../model/runtime.ts";
import type { F32Tensor } from "../model/types.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { decodeTopK, encodeTopK, type Sae } from "./sae.ts";

export interface SaeEvalReport {
  mse: number;
  fvu: number;
  explained_variance: number;
  l0: number;
  dead_fraction: number;
  dense_fraction: number;
  ce_loss_clean: number;
  ce_loss_sae: number;
  ce_loss_zero_ablation: number;
  ce_loss_recovered: number;
  kl_sae: number;
  /** Tokens the reconstruction figures cover, and predicted positions the CE figures cover. */
  tokens: number;
  predictions: number;
  documents: number;
  hook_name: string;
}

/** log-softmax of one row into `out`. */
function logSoftmax(logits: Float32Array, offset: number, V: number, out: Float64Array): void {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[offset + v]!);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[offset + v]! - max);
  const lse = max + Math.log(sum);
  for (let v = 0; v < V; v++) out[v] = logits[offset + v]! - lse;
}

export async function evalSae(
  sae: Sae,
  model: Model,
  documents: readonly (readonly number[])[],
  opts: { hookName?: string; denseThreshold?: number; progress?: Progress } = {},
): Promise<SaeEvalReport> {
  const hook = opts.hookName ?? sae.config.hookName;
  if (!hook) throw new ArgumentError("evalSae: the SAE names no hook; pass hookName", { field: "hookName" });
  if (!model.hookNames().includes(hook)) throw new ArgumentError(`evalSae: the model has no hook "${hook}"`, { field: "hookName" });
  const D = model.config.hiddenSize;
  if (D !== sae.config.dIn) throw new ArgumentError(`evalSae: the SAE reads ${sae.config.dIn} values per token but ${hook} has ${D}`, { field: "sae" });
  const docs = documents.filter((d) => d.length >= 2);
  if (docs.length === 0) throw new ArgumentError("evalSae: no document with at least 2 tokens", { field: "documents" });
  const V = model.config.vocabSize;
  const S = sae.config.dSae;
  const progress = opts.progress ?? silentProgress;
  const fired = new Float64Array(S);
  let tokens = 0;
  let predictions = 0;
  let sqErr = 0;
  let active = 0;
  // Σx and Σx² per dimension for the variance around the mean (one pass).
  const sum = new Float64Array(D);
  let sumSq = 0;
  let ceClean = 0;
  let ceSae = 0;
  let ceZero = 0;
  let kl = 0;
  const lpClean = new Float64Array(V);
  const lpOther = new Float64Array(V);
  progress.start("eval SAE", docs.length);
  for (const [di, doc] of docs.entries()) {
    const ids = [Array.from(doc)];
    const T = doc.length;
    const clean = await model.runWithCache(ids, [hook]);
    const x = clean.cache[hook]!.data;
    const code = encodeTopK(sae, x, T);
    const recon = decodeTopK(sae, code, T);
    for (let i = 0; i < T * D; i++) {
      sqErr += (recon[i]! - x[i]!) ** 2;
      sum[i % D]! += x[i]!;
      sumSq += x[i]! * x[i]!;
    }
    for (let t = 0; t < T; t++) {
      const seen = new Set<number>();
      for (let j = 0; j < code.k; j++) {
        if (code.values[t * code.k + j]! > 0) {
          active++;
          const s = code.indices[t * code.k + j]!;
          if (!seen.has(s)) {
            seen.add(s);
            fired[s]!++;
          }
        }
      }
    }
    tokens += T;
    const withSae = await model.runWithHooks(ids, { [hook]: (v: F32Tensor) => (v.data.length === recon.length ? recon : undefined) });
    const zeroed = await model.runWithHooks(ids, { [hook]: (v: F32Tensor) => new Float32Array(v.data.length) });
    for (let t = 0; t < T - 1; t++) {
      const target = doc[t + 1]!;
      logSoftmax(clean.logits.data, t * V, V, lpClean);
      ceClean -= lpClean[target]!;
      logSoftmax(withSae.logits.data, t * V, V, lpOther);
      ceSae -= lpOther[target]!;
      let k = 0;
      for (let v = 0; v < V; v++) k += Math.exp(lpClean[v]!) * (lpClean[v]! - lpOther[v]!);
      kl += k;
      logSoftmax(zeroed.logits.data, t * V, V, lpOther);
      ceZero -= lpOther[target]!;
      predictions++;
    }
    progress.update(di + 1);
  }
  progress.finish();
  let meanSq = 0;
  for (let j = 0; j < D; j++) meanSq += (sum[j]! / tokens) ** 2;
  const variance = sumSq - tokens * meanSq; // Σ||x - mean||²
  const fvu = sqErr / variance;
  const dense = opts.denseThreshold ?? 0.1;
  const clean = ceClean / predictions;
  const withSae = ceSae / predictions;
  const zero = ceZero / predictions;
  return {
    mse: sqErr / tokens,
    fvu,
    explained_variance: 1 - fvu,
    l0: active / tokens,
    dead_fraction: fired.reduce((a, f) => a + (f === 0 ? 1 : 0), 0) / S,
    dense_fraction: fired.reduce((a, f) => a + (f / tokens > dense ? 1 : 0), 0) / S,
    ce_loss_clean: clean,
    ce_loss_sae: withSae,
    ce_loss_zero_ablation: zero,
    ce_loss_recovered: (zero - withSae) / (zero - clean),
    kl_sae: kl / predictions,
    tokens,
    predictions,
    documents: docs.length,
    hook_name: hook,
  };
}
