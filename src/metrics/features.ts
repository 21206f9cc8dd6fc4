// Pooled feature activations of whole queries: run the model on each query (chat-formatted by default),
// read the hook, encode with the SAE (or keep the raw hook dimensions), pool over the query's tokens.
// The matrices this returns feed every metric in src/metrics/ (contrastive pairs, probes, the filter).
import { parseHookName } from "../model/hooks.ts";
import { ArgumentError } from "../errors.ts";
import type { Model } from "../model/runtime.ts";
import { textActivations } from "../activations/text.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { encodeTopKOrt } from "../sae/encode-ort.ts";
import type { Sae } from "../sae/sae.ts";

export type Pooling = "max" | "mean";

export interface PoolOptions {
  /** Hook to read; default the SAE's own hook. Required for raw features. */
  hookName?: string;
  /** Wrap each query in the chat template as a user turn, with the assistant header (default `TEXT_DEFAULTS.chat`, true). */
  chat?: boolean;
  pool?: Pooling;
  progress?: Progress;
  label?: string;
}

export interface PooledFeatures {
  /** [queries, features] row-major */
  values: Float32Array;
  queries: number;
  features: number;
  hookName: string;
  /** "sae" (latents) or "raw" (hook dimensions). */
  basis: "sae" | "raw";
}

/** Per query: the hook's activations `[tokens, dModel]` (what pooling works from; cache it across SAEs). */
export interface QueryActivations {
  hookName: string;
  dModel: number;
  /** One `[tokens, dModel]` block per query. */
  perQuery: Float32Array[];
}

/**
 * Runs the model on each query (through the one text path, src/activations/text.ts: a user turn of the chat template
 * unless `chat: false`; same-length queries batched, bit-identical to one at a time) and keeps the hook's activations.
 */
export async function queryActivations(model: Model, queries: readonly string[], hookName: string, opts: Pick<PoolOptions, "chat" | "progress" | "label"> = {}): Promise<QueryActivations> {
  if (!model.hookNames().includes(hookName)) throw new ArgumentError(`pooledFeatures: the model has no hook "${hookName}"`, { field: "hookName" });
  parseHookName(hookName, { numLayers: model.config.numLayers, arg: "pooledFeatures: hookName" }); // [tokens, d_model] hooks only: attention hooks refused by name
  const perQuery: Float32Array[] = new Array(queries.length);
  for await (const d of textActivations(model, queries, [hookName], { chat: opts.chat, progress: opts.progress, label: opts.label ?? "features" })) perQuery[d.index] = d.acts[0]!;
  for (let q = 0; q < queries.length; q++) if (!perQuery[q]) throw new ArgumentError(`pooledFeatures: query ${q} gives no tokens`, { field: "queries" });
  return { hookName, dModel: model.config.hiddenSize, perQuery };
}

/** Tokens encoded per onnxruntime call when pooling (bounds the [tokens, dSae] pre-activation buffer). */
const ENCODE_BLOCK_TOKENS = 4096;

/**
 * Pools stored query activations in the SAE's latent basis (`sae`, encoded on onnxruntime in blocks of
 * tokens) or the raw basis (`sae` null).
 */
export async function poolActivations(acts: QueryActivations, sae: Sae | null, pool: Pooling = "max"): Promise<PooledFeatures> {
  const D = acts.dModel;
  if (sae && sae.config.dIn !== D) throw new ArgumentError(`pooledFeatures: the SAE reads ${sae.config.dIn} values per token but ${acts.hookName} has ${D}`, { field: "sae" });
  const m = sae ? sae.config.dSae : D;
  const Q = acts.perQuery.length;
  const values = new Float32Array(Q * m);
  if (sae) {
    const k = sae.config.k;
    for (let q0 = 0; q0 < Q; ) {
      // A block of whole queries, about ENCODE_BLOCK_TOKENS tokens.
      let q1 = q0;
      let tokens = 0;
      while (q1 < Q && (q1 === q0 || tokens + acts.perQuery[q1]!.length / D <= ENCODE_BLOCK_TOKENS)) tokens += acts.perQuery[q1++]!.length / D;
      const x = new Float32Array(tokens * D);
      let at = 0;
      for (let q = q0; q < q1; q++) {
        x.set(acts.perQuery[q]!, at);
        at += acts.perQuery[q]!.length;
      }
      const code = await encodeTopKOrt(sae, x, tokens);
      let t = 0;
      for (let q = q0; q < q1; q++) {
        const T = acts.perQuery[q]!.length / D;
        const row = values.subarray(q * m, (q + 1) * m);
        for (let i = t * k; i < (t + T) * k; i++) {
          const s = code.indices[i]!;
          if (pool === "max") {
            if (code.values[i]! > row[s]!) row[s] = code.values[i]!;
          } else {
            row[s]! += code.values[i]! / T;
          }
        }
        t += T;
      }
      q0 = q1;
    }
  } else {
    acts.perQuery.forEach((x, q) => {
      const T = x.length / D;
      const row = values.subarray(q * m, (q + 1) * m);
      for (let d = 0; d < D; d++) row[d] = pool === "max" ? -Infinity : 0;
      for (let t = 0; t < T; t++) {
        for (let d = 0; d < D; d++) {
          const v = x[t * D + d]!;
          if (pool === "max") row[d] = Math.max(row[d]!, v);
          else row[d]! += v / T;
        }
      }
    });
  }
  return { values, queries: Q, features: m, hookName: acts.hookName, basis: sae ? "sae" : "raw" };
}

/**
 * Pooled activations of `queries` in the SAE's latent basis (`sae` given) or the raw hook basis (`sae`
 * null). A latent's activation at a token is its TopK-ReLU value (0 when not kept).
 */
export async function pooledFeatures(model: Model, sae: Sae | null, queries: readonly string[], opts: PoolOptions = {}): Promise<PooledFeatures> {
  const hook = opts.hookName ?? sae?.config.hookName ?? null;
  if (!hook) throw new ArgumentError("pooledFeatures: no hook given and the SAE names none", { field: "hookName" });
  if (sae && sae.config.dIn !== model.config.hiddenSize) throw new ArgumentError(`pooledFeatures: the SAE reads ${sae.config.dIn} values per token but ${hook} has ${model.config.hiddenSize}`, { field: "sae" });
  return poolActivations(await queryActivations(model, queries, hook, opts), sae, opts.pool);
}
