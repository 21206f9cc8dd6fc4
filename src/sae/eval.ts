// How good is an SAE on a model: reconstruction (MSE, FVU, explained variance), sparsity (L0, dead and
// dense latents) and what the reconstruction does to the model when spliced back in at its hook
// (SAELens's CE score: cross-entropy with the SAE in place, against the clean model and against
// zero-ablating the hook; plus the KL divergence of the next-token distributions).
//
//   const r = await evalSae(sae, model, "data/eval.jsonl", { positions: "answer" });
//   r.ce_loss_recovered   // (CE_zero - CE_sae) / (CE_zero - CE_clean): 1 = as good as the model itself
//
// The corpus is what `harvest` takes (a file, or an array of documents), tokenised by the one text path
// (src/activations/text.ts, chat template by default). `positions: "answer"` averages CE and KL over the answer
// tokens only (the closing assistant turn of `messages` documents): a chat model trained on answers predicts
// prompt tokens poorly, and those positions can make `ce_loss_recovered` meaningless.
//
// Definitions (reconstruction over every token; CE and KL over every predicted position of the chosen positions;
// a document of n tokens has n - 1 predictions, the one at t predicting token t + 1):
//   mse                  Σ ||x̂ - x||² / tokens (per-token squared error, summed over dimensions)
//   fvu                  Σ ||x̂ - x||² / Σ ||x - mean(x)||²       explained_variance = 1 - fvu
//   l0                   mean number of latents with a positive activation per token
//   dead_fraction        share of latents that never fire on the evaluation tokens
//   dense_fraction       share of latents that fire on more than `denseThreshold` (default 10%) of tokens
//   ce_loss_*            mean next-token cross-entropy (nats) clean / with x̂ spliced in / with the hook zeroed
//   kl_sae               mean KL(p_clean || p_sae) of the next-token distributions (nats)
import { parseHookName } from "../model/hooks.ts";
import { openCorpus, type CorpusDoc, type CorpusInput } from "../activations/corpus.ts";
import { tokenizeDocument, type TokenizedDocument } from "../activations/text.ts";
import { ArgumentError, describeValue } from "../errors.ts";
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
  /** Which predicted positions the CE and KL figures average over. */
  positions: EvalPositions;
  /** Why some figures may not mean what they seem (empty when none applies). */
  warnings: string[];
}

/** "all": every predicted position; "answer": positions whose target is an answer token. */
export type EvalPositions = "all" | "answer";

export interface EvalSaeOptions {
  /** Default: the SAE's own hook. */
  hookName?: string;
  /** Plain text as a chat user turn (default `TEXT_DEFAULTS.chat`). */
  chat?: boolean;
  positions?: EvalPositions;
  /** Evaluate at most this many documents (the first ones). */
  maxDocs?: number;
  /** A latent firing on more than this share of tokens is dense (default 0.1). */
  denseThreshold?: number;
  /** Corpus bytes that are not UTF-8: an error naming file:line (default) or read as U+FFFD. */
  invalidUtf8?: "error" | "replace";
  progress?: Progress;
}

/** The documents to evaluate: token ids given directly (deprecated form) or a corpus tokenised by the one text path. */
async function evalDocuments(model: Model, corpus: CorpusInput | readonly (readonly number[])[], opts: EvalSaeOptions): Promise<TokenizedDocument[]> {
  const max = opts.maxDocs ?? Infinity;
  if (!(max >= 1)) throw new ArgumentError(`evalSae: maxDocs must be >= 1, got ${describeValue(opts.maxDocs)}`, { field: "maxDocs" });
  if (Array.isArray(corpus) && corpus.length > 0 && corpus.every((d) => Array.isArray(d) && d.every((v: unknown) => typeof v === "number"))) {
    return (corpus as readonly (readonly number[])[]).slice(0, Number.isFinite(max) ? max : undefined).map((ids) => ({ ids: [...ids], answerStart: null }));
  }
  const c = await openCorpus(corpus as CorpusInput | readonly CorpusDoc[], { invalidUtf8: opts.invalidUtf8 });
  const out: TokenizedDocument[] = [];
  for await (const entry of c.entries()) {
    if (out.length >= max) break;
    out.push(tokenizeDocument(model, entry, { chat: opts.chat }));
  }
  return out;
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

/**
 * Below this share of the clean loss, the rise from zero-ablating the hook is too small to divide by: CE loss
 * recovered is (CE_zero - CE_sae) / (CE_zero - CE_clean), and a denominator near 0 turns differences of the size
 * of the SAE's own KL into ratios far outside [0, 1].
 */
export const CE_ABLATION_MIN_RISE = 0.01;

/** The warnings `ce_loss_recovered` carries (one rule for evalSae and for figures read back from files). */
export function ceRecoveredWarnings(hook: string, clean: number, zero: number, positions: EvalPositions = "answer"): string[] {
  const hint = positions === "all" ? '; try positions: "answer"' : "";
  if (!(zero > clean)) return [`ce_loss_recovered is meaningless here: zero-ablating ${hook} does not raise the loss (clean ${clean.toFixed(4)}, zeroed ${zero.toFixed(4)} nats)${hint}`];
  if (zero - clean < CE_ABLATION_MIN_RISE * clean) {
    return [`ce_loss_recovered is unreliable here: zero-ablating ${hook} raises the loss by ${(zero - clean).toFixed(4)} nats, under ${100 * CE_ABLATION_MIN_RISE}% of the clean ${clean.toFixed(4)}, so the ratio divides by almost nothing${hint}`];
  }
  return [];
}

export async function evalSae(sae: Sae, model: Model, corpus: CorpusInput | readonly (readonly number[])[], opts: EvalSaeOptions = {}): Promise<SaeEvalReport> {
  const positions = opts.positions ?? "all";
  if (positions !== "all" && positions !== "answer") throw new ArgumentError(`evalSae: positions must be "all" or "answer", got ${describeValue(positions)}`, { field: "positions" });
  const hook = opts.hookName ?? sae.config.hookName;
  if (!hook) throw new ArgumentError("evalSae: the SAE names no hook; pass hookName", { field: "hookName" });
  if (!model.hookNames().includes(hook)) throw new ArgumentError(`evalSae: the model has no hook "${hook}"`, { field: "hookName" });
  parseHookName(hook, { numLayers: model.config.numLayers, arg: "evalSae: hookName" }); // [tokens, d_model] hooks only: attention hooks refused by name
  const D = model.config.hiddenSize;
  if (D !== sae.config.dIn) throw new ArgumentError(`evalSae: the SAE reads ${sae.config.dIn} values per token but ${hook} has ${D}`, { field: "sae" });
  const docs = (await evalDocuments(model, corpus, opts)).filter((d) => d.ids.length >= 2 && (positions === "all" || (d.answerStart !== null && d.answerStart < d.ids.length)));
  if (docs.length === 0) {
    const what = positions === "answer" ? "no document with an answer (a messages document ending with an assistant turn)" : "no document with at least 2 tokens";
    throw new ArgumentError(`evalSae: ${what}`, { field: "corpus" });
  }
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
  for (const [di, { ids: doc, answerStart }] of docs.entries()) {
    const ids = [doc];
    // Predictions scored: the one at t predicts token t + 1; with "answer", only answer targets.
    const firstScored = positions === "answer" ? Math.max(0, answerStart! - 1) : 0;
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
    for (let t = firstScored; t < T - 1; t++) {
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
  const warnings = ceRecoveredWarnings(hook, clean, zero, positions);
  if (clean > Math.log(V)) warnings.push(`the clean loss ${clean.toFixed(4)} nats is above the uniform baseline ln(${V}) = ${Math.log(V).toFixed(4)}: the model does not predict these tokens, so the CE figures say little`);
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
    positions,
    warnings,
  };
}
