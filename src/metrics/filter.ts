// Safe-SAIL's precision-recall joint filter: keep the SAE features that fire mostly on one safety domain
// (precision) and on a fair share of it (recall), tagged like the Safe-SAIL database's `tag_list`.
//
//   precision_j(D) = #{s in D : a_j(s) > t} / #{s : a_j(s) > t}
//   recall_j(D)    = #{s in D : a_j(s) > t} / #{s in D}
// with a_j(s) the feature's activation pooled over sample s (docs/metrics.md).
import { ArgumentError } from "../errors.ts";
import { tryParseHookName } from "../model/hooks.ts";
import type { Model } from "../model/runtime.ts";
import type { Progress } from "../progress.ts";
import type { Sae } from "../sae/sae.ts";
import { SAFETY_DOMAINS } from "../safety.ts";
import { pooledFeatures, type PooledFeatures, type Pooling } from "./features.ts";

export interface LabelledSample {
  domain: string;
  text: string;
}

export interface FilterOptions {
  /** Minimum precision (default 0.6) and recall (default 0.2) for a domain tag. */
  minPrecision?: number;
  minRecall?: number;
  /** Firing threshold t (default 0). */
  threshold?: number;
  /** Domains that can be tagged (default the four safety domains); other labels count as background. */
  domains?: readonly string[];
  hookName?: string;
  chat?: boolean;
  pool?: Pooling;
  progress?: Progress;
}

export interface FeatureTag {
  /** Safe-SAIL's feature name: `{layer}_{index}`. */
  name: string;
  index: number;
  tag_list: string[];
  /** Per tagged domain. */
  precision: Record<string, number>;
  recall: Record<string, number>;
  /** Samples it fires on. */
  fires: number;
}

export interface FilterResult {
  hookName: string;
  samples: number;
  samplesPerDomain: Record<string, number>;
  features: number;
  kept: FeatureTag[];
  keptPerDomain: Record<string, number>;
  options: { minPrecision: number; minRecall: number; threshold: number };
}

/** The filter on a precomputed [samples, features] matrix (pure; the model-facing wrapper is below). */
export function precisionRecallFilter(
  values: ArrayLike<number>,
  labels: readonly string[],
  features: number,
  opts: { minPrecision?: number; minRecall?: number; threshold?: number; domains?: readonly string[]; layer?: number | null } = {},
): Pick<FilterResult, "kept" | "keptPerDomain" | "samplesPerDomain"> {
  const n = labels.length;
  if (values.length !== n * features) throw new ArgumentError(`filter: ${values.length} activations for ${n} samples x ${features} features`, { field: "values" });
  const minP = opts.minPrecision ?? 0.6;
  const minR = opts.minRecall ?? 0.2;
  const t = opts.threshold ?? 0;
  const domains = opts.domains ?? SAFETY_DOMAINS;
  const samplesPerDomain: Record<string, number> = {};
  for (const l of labels) samplesPerDomain[l] = (samplesPerDomain[l] ?? 0) + 1;
  const kept: FeatureTag[] = [];
  const keptPerDomain: Record<string, number> = Object.fromEntries(domains.map((d) => [d, 0]));
  const inDomain = new Map<string, number>();
  for (let j = 0; j < features; j++) {
    inDomain.clear();
    let fires = 0;
    for (let s = 0; s < n; s++) {
      if (values[s * features + j]! > t) {
        fires++;
        inDomain.set(labels[s]!, (inDomain.get(labels[s]!) ?? 0) + 1);
      }
    }
    if (fires === 0) continue;
    const tag: FeatureTag = { name: `${opts.layer ?? "x"}_${j}`, index: j, tag_list: [], precision: {}, recall: {}, fires };
    for (const d of domains) {
      const hit = inDomain.get(d) ?? 0;
      const total = samplesPerDomain[d] ?? 0;
      if (total === 0 || hit === 0) continue;
      const p = hit / fires;
      const r = hit / total;
      if (p >= minP && r >= minR) {
        tag.tag_list.push(d);
        tag.precision[d] = p;
        tag.recall[d] = r;
        keptPerDomain[d]!++;
      }
    }
    if (tag.tag_list.length > 0) kept.push(tag);
  }
  return { kept, keptPerDomain, samplesPerDomain };
}

/** Runs the model + SAE on labelled samples and applies the filter. */
export async function filterSafetyFeatures(model: Model, sae: Sae, samples: readonly LabelledSample[], opts: FilterOptions = {}): Promise<FilterResult> {
  if (samples.length === 0) throw new ArgumentError("filter: no samples", { field: "samples" });
  const pooled = await pooledFeatures(model, sae, samples.map((s) => s.text), { hookName: opts.hookName, chat: opts.chat, pool: opts.pool, progress: opts.progress, label: "filter samples" });
  return filterFromPooled(pooled, samples, opts);
}

/** The filter on pooled features of `samples` (in order). */
export function filterFromPooled(pooled: PooledFeatures, samples: readonly LabelledSample[], opts: Omit<FilterOptions, "hookName" | "chat" | "pool" | "progress"> = {}): FilterResult {
  const layer = tryParseHookName(pooled.hookName)?.layer ?? null;
  const r = precisionRecallFilter(pooled.values, samples.map((s) => s.domain), pooled.features, { ...opts, layer });
  return {
    hookName: pooled.hookName,
    samples: samples.length,
    features: pooled.features,
    ...r,
    options: { minPrecision: opts.minPrecision ?? 0.6, minRecall: opts.minRecall ?? 0.2, threshold: opts.threshold ?? 0 },
  };
}
