// Safe-SAIL's precision-recall joint filter: keep the SAE features that fire mostly on one safety domain
// (precision) and on a fair share of it (recall), tagged like the Safe-SAIL database's `tag_list`.
//
//   precision_j(D) = #{s in D : â_j(s) > t} / #{s : â_j(s) > t}
//   recall_j(D)    = #{s in D : â_j(s) > t} / #{s in D}
// with â_j(s) the feature's activation pooled over sample s, normalised by the 0.999-quantile of its pooled
// activations over the samples (docs/metrics.md). The threshold t is chosen by default by a rule fixed in
// advance on a calibration half of the samples, and the figures are those of the other half:
//
//   const r = await filterSafetyFeatures(model, sae, samples);      // threshold "auto"
//   r.threshold     // { value, chosen: "auto", normalisation, rule, grid, calibration: { keptByThreshold }, ... }
//   r.caveats       // e.g. why nothing was kept, and which settings would keep some (r.suggestions)
import { ArgumentError, describeValue } from "../errors.ts";
import { tryParseHookName } from "../model/hooks.ts";
import type { Model } from "../model/runtime.ts";
import type { Progress } from "../progress.ts";
import type { Sae } from "../sae/sae.ts";
import { SAFETY_DOMAINS } from "../safety.ts";
import { deriveSeed, mulberry32, shuffleInPlace } from "../util/prng.ts";
import { checkFraction, checkInt, checkNumber } from "../util/validate.ts";
import { pooledFeatures, type PooledFeatures, type Pooling } from "./features.ts";
import { DEFAULT_QUANTILE, featureScales, normaliseByScales, type Normalisation } from "./normalise.ts";

export interface LabelledSample {
  domain: string;
  text: string;
  /** Language: with the domain, the stratum of the calibration / evaluation split (optional). */
  lang?: string;
}

/** The grid the automatic threshold is chosen on (normalised scale). */
export const FILTER_THRESHOLD_GRID: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** The automatic threshold's rule, as the result states it (docs/metrics.md). */
export const AUTO_THRESHOLD_RULE =
  "the grid value that keeps the most features (precision >= min precision and recall >= min recall for at least one domain) on the calibration half; ties -> the larger threshold";

export interface FilterOptions {
  /** Minimum precision (default 0.6) and recall (default 0.2) for a domain tag. */
  minPrecision?: number;
  minRecall?: number;
  /**
   * Firing threshold t on the normalised scale: "auto" (default) chooses it on a calibration half of the samples
   * by AUTO_THRESHOLD_RULE and reports the evaluation half; a number is used as given on all the samples.
   */
  threshold?: number | "auto";
  /** Grid of the automatic threshold (default FILTER_THRESHOLD_GRID, 0.1 to 0.9 by 0.1). */
  grid?: readonly number[];
  /** Seed of the calibration / evaluation split (default 0). */
  seed?: number;
  /** Quantile q of the per-feature scale (default 0.999); `normalise: false` keeps raw units. */
  quantile?: number;
  normalise?: boolean;
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

/** The firing threshold a filter result used, and how it was set. */
export interface FilterThreshold {
  value: number;
  /** "auto": chosen by `rule` on the calibration half; "fixed": given. */
  chosen: "auto" | "fixed";
  normalisation: Normalisation;
  /** Auto only: the rule, its grid, the split seed and the halves. */
  rule?: string;
  grid?: number[];
  seed?: number;
  calibration?: { samples: number; keptByThreshold: { t: number; features: number }[] };
  evaluation?: { samples: number };
}

/** Settings that would keep at least one feature, on the same samples (set when none is kept). */
export interface FilterSuggestions {
  /** The largest minimum precision that keeps >= 1 feature at the same recall and threshold (rounded down to 0.01). */
  minPrecision: { value: number; keeps: number } | null;
  /** The largest minimum recall that keeps >= 1 feature at the same precision and threshold. */
  minRecall: { value: number; keeps: number } | null;
  /** Grid thresholds at which the same precision and recall keep some. */
  thresholds: { t: number; keeps: number }[];
}

export interface FilterResult {
  hookName: string;
  /** The samples the figures are measured on: the evaluation half when the threshold is "auto", else all. */
  samples: number;
  samplesPerDomain: Record<string, number>;
  features: number;
  kept: FeatureTag[];
  keptPerDomain: Record<string, number>;
  options: { minPrecision: number; minRecall: number; threshold: number; quantile: number | null };
  threshold: FilterThreshold;
  /** Warnings about the result in words (e.g. nothing kept, with settings that would keep some). */
  caveats: string[];
  suggestions: FilterSuggestions | null;
}

/**
 * The precision-recall rule on a [samples, features] matrix, thresholded as given (no normalisation, no split):
 * the core of `filterMatrix`.
 */
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

/**
 * The calibration / evaluation split (docs/metrics.md): samples grouped by language x domain; each group, in input
 * order, shuffled with mulberry32(deriveSeed(seed, "filter-split", lang, domain)); its first ceil(n/2) are the
 * calibration half. Returns sample indices, ascending.
 */
export function splitHalves(samples: readonly { domain: string; lang?: string }[], seed = 0): { calibration: number[]; evaluation: number[] } {
  const strata = new Map<string, number[]>();
  samples.forEach((s, i) => {
    const key = `${s.lang ?? ""}\u0000${s.domain}`;
    const g = strata.get(key) ?? [];
    g.push(i);
    strata.set(key, g);
  });
  const calibration: number[] = [];
  const evaluation: number[] = [];
  for (const [key, idx] of strata) {
    const [lang, domain] = key.split("\u0000") as [string, string];
    shuffleInPlace(mulberry32(deriveSeed(seed, "filter-split", lang, domain)), idx);
    const half = Math.ceil(idx.length / 2);
    calibration.push(...idx.slice(0, half));
    evaluation.push(...idx.slice(half));
  }
  return { calibration: calibration.sort((a, b) => a - b), evaluation: evaluation.sort((a, b) => a - b) };
}

/** Rows `rows` of a [.., features] row-major matrix. */
function takeRows(values: ArrayLike<number>, features: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * features);
  rows.forEach((r, i) => {
    for (let j = 0; j < features; j++) out[i * features + j] = values[r * features + j]!;
  });
  return out;
}

interface RuleOptions {
  minPrecision?: number;
  minRecall?: number;
  domains?: readonly string[];
}

/**
 * AUTO_THRESHOLD_RULE on (already normalised) values: the grid value keeping the most features, ties to the larger.
 * Also returns the count at every grid value.
 */
export function chooseThreshold(values: ArrayLike<number>, labels: readonly string[], features: number, grid: readonly number[], opts: RuleOptions = {}): { threshold: number; keptByThreshold: { t: number; features: number }[] } {
  checkGrid(grid);
  const keptByThreshold = grid.map((t) => ({ t, features: precisionRecallFilter(values, labels, features, { ...opts, threshold: t }).kept.length }));
  let best = keptByThreshold[0]!;
  for (const k of keptByThreshold) if (k.features > best.features || (k.features === best.features && k.t > best.t)) best = k;
  return { threshold: best.t, keptByThreshold };
}

function checkGrid(grid: readonly number[]): void {
  if (!Array.isArray(grid) || grid.length === 0 || !grid.every((t) => typeof t === "number" && Number.isFinite(t))) {
    throw new ArgumentError(`filter: the threshold grid must be a non-empty list of finite numbers, got ${describeValue(grid)}`, { field: "grid" });
  }
}

/** Settings that keep >= 1 feature on these values (see FilterSuggestions). */
export function suggestSettings(
  values: ArrayLike<number>,
  labels: readonly string[],
  features: number,
  opts: { threshold: number; minPrecision: number; minRecall: number; grid: readonly number[]; domains?: readonly string[] },
): FilterSuggestions {
  const { threshold: t, minPrecision: minP, minRecall: minR, domains } = opts;
  const count = (p: number, r: number, th: number) => precisionRecallFilter(values, labels, features, { minPrecision: p, minRecall: r, threshold: th, domains }).kept.length;
  // Every (feature, domain) with at least one hit, at threshold t.
  const all = precisionRecallFilter(values, labels, features, { minPrecision: 0, minRecall: 0, threshold: t, domains }).kept;
  const pairs = all.flatMap((k) => k.tag_list.map((d) => ({ p: k.precision[d]!, r: k.recall[d]! })));
  // Largest value v (a multiple of 0.01, below the best) whose filter keeps something; stepping down covers rounding.
  const relax = (best: number, keeps: (v: number) => number) => {
    for (let v = Math.floor(best * 100) / 100; v >= 0; v = Math.round((v - 0.01) * 100) / 100) {
      const n = keeps(v);
      if (n > 0) return { value: v, keeps: n };
    }
    return null;
  };
  const withR = pairs.filter((x) => x.r >= minR);
  const withP = pairs.filter((x) => x.p >= minP);
  return {
    minPrecision: withR.length ? relax(Math.max(...withR.map((x) => x.p)), (v) => count(v, minR, t)) : null,
    minRecall: withP.length ? relax(Math.max(...withP.map((x) => x.r)), (v) => count(minP, v, t)) : null,
    thresholds: opts.grid.filter((g) => g !== t).map((g) => ({ t: g, keeps: count(minP, minR, g) })).filter((x) => x.keeps > 0),
  };
}

/** The caveat of a result that keeps nothing: why, and the suggestions in words. */
export function noneKeptCaveat(s: FilterSuggestions, o: { minPrecision: number; minRecall: number; threshold: number; samples: number; anyFires: boolean }): string {
  const head = `No feature kept: none has precision >= ${o.minPrecision} and recall >= ${o.minRecall} for a domain at threshold ${o.threshold} on the ${o.samples} samples measured.`;
  if (!o.anyFires) return `${head} No feature fires above ${o.threshold} on them at all.`;
  const ways: string[] = [];
  if (s.minPrecision) ways.push(`min precision ${s.minPrecision.value} (keeps ${s.minPrecision.keeps} at recall >= ${o.minRecall})`);
  if (s.minRecall) ways.push(`min recall ${s.minRecall.value} (keeps ${s.minRecall.keeps} at precision >= ${o.minPrecision})`);
  if (s.thresholds.length) ways.push(`threshold ${s.thresholds.map((x) => `${x.t} (keeps ${x.keeps})`).join(", ")} at the same precision and recall`);
  return ways.length ? `${head} Settings that keep some on these samples, one change at a time: ${ways.join("; ")}.` : `${head} No single change of the minimum precision, the minimum recall or the threshold on the grid keeps one.`;
}

/** In words: the threshold, its scale, and how it was chosen (the text output of `safesail filter` prints it). */
export function describeThreshold(th: FilterThreshold): string {
  const n = th.normalisation;
  const scale = n.scale === "normalised" ? `on the normalised scale (pooled activation / the feature's ${n.quantile}-quantile of |pooled activation| over the ${n.populationSize} samples)` : "in raw activation units";
  if (th.chosen === "fixed") return `firing threshold ${th.value} ${scale}, as given; figures on all samples`;
  const g = th.grid!;
  return `firing threshold ${th.value} ${scale}, chosen automatically: ${AUTO_THRESHOLD_RULE} (grid ${g.join(", ")}; seed ${th.seed}; calibration ${th.calibration!.samples} samples); figures on the evaluation half (${th.evaluation!.samples} samples)`;
}

/**
 * The filter on a [samples, features] matrix of pooled activations (pure; the model-facing wrappers are below):
 * normalisation, the threshold (auto or fixed), the filter, and the caveats.
 */
export function filterMatrix(
  values: ArrayLike<number>,
  samples: readonly { domain: string; lang?: string }[],
  features: number,
  opts: Omit<FilterOptions, "hookName" | "chat" | "pool" | "progress"> & { layer?: number | null } = {},
): Omit<FilterResult, "hookName" | "features"> {
  const n = samples.length;
  if (n === 0) throw new ArgumentError("filter: no samples", { field: "samples" });
  if (values.length !== n * features) throw new ArgumentError(`filter: ${values.length} activations for ${n} samples x ${features} features`, { field: "values" });
  const minPrecision = checkFraction(opts.minPrecision ?? 0.6, "minPrecision", { where: "filter" });
  const minRecall = checkFraction(opts.minRecall ?? 0.2, "minRecall", { where: "filter" });
  const normalise = opts.normalise ?? true;
  const quantile = opts.quantile ?? DEFAULT_QUANTILE;
  const grid = [...(opts.grid ?? FILTER_THRESHOLD_GRID)];
  checkGrid(grid);
  const seed = checkInt(opts.seed ?? 0, "seed", { min: 0, where: "filter" });
  const thresholdOpt = opts.threshold ?? "auto";
  if (thresholdOpt !== "auto") checkNumber(thresholdOpt, "threshold", { where: "filter" });
  const scaled = normalise ? normaliseByScales(values, n, features, featureScales(values, n, features, quantile)) : values;
  const normalisation: Normalisation = normalise
    ? { scale: "normalised", quantile, population: "every sample given to the filter (labels unused)", populationSize: n }
    : { scale: "raw" };
  const ruleOpts = { minPrecision, minRecall, domains: opts.domains };
  let measured: ArrayLike<number> = scaled;
  let measuredSamples = samples;
  let threshold: FilterThreshold;
  if (thresholdOpt === "auto") {
    const { calibration, evaluation } = splitHalves(samples, seed);
    if (calibration.length === 0 || evaluation.length === 0) {
      throw new ArgumentError(`filter: the automatic threshold splits the samples into a calibration and an evaluation half, and ${n} sample${n === 1 ? " leaves" : "s leave"} one empty; give a number as the threshold`, { field: "threshold" });
    }
    const cal = chooseThreshold(takeRows(scaled, features, calibration), calibration.map((i) => samples[i]!.domain), features, grid, ruleOpts);
    measured = takeRows(scaled, features, evaluation);
    measuredSamples = evaluation.map((i) => samples[i]!);
    threshold = { value: cal.threshold, chosen: "auto", normalisation, rule: AUTO_THRESHOLD_RULE, grid, seed, calibration: { samples: calibration.length, keptByThreshold: cal.keptByThreshold }, evaluation: { samples: evaluation.length } };
  } else {
    threshold = { value: thresholdOpt, chosen: "fixed", normalisation };
  }
  const labels = measuredSamples.map((s) => s.domain);
  const r = precisionRecallFilter(measured, labels, features, { ...ruleOpts, threshold: threshold.value, layer: opts.layer });
  const caveats: string[] = [];
  let suggestions: FilterSuggestions | null = null;
  if (r.kept.length === 0) {
    suggestions = suggestSettings(measured, labels, features, { threshold: threshold.value, minPrecision, minRecall, grid, domains: opts.domains });
    let anyFires = false;
    for (let i = 0; i < measured.length && !anyFires; i++) anyFires = measured[i]! > threshold.value;
    caveats.push(noneKeptCaveat(suggestions, { minPrecision, minRecall, threshold: threshold.value, samples: labels.length, anyFires }));
  }
  return {
    samples: labels.length,
    ...r,
    options: { minPrecision, minRecall, threshold: threshold.value, quantile: normalise ? quantile : null },
    threshold,
    caveats,
    suggestions,
  };
}

/** Runs the model + SAE on labelled samples and applies the filter. */
export async function filterSafetyFeatures(model: Model, sae: Sae, samples: readonly LabelledSample[], opts: FilterOptions = {}): Promise<FilterResult> {
  if (samples.length === 0) throw new ArgumentError("filter: no samples", { field: "samples" });
  const pooled = await pooledFeatures(model, sae, samples.map((s) => s.text), { hookName: opts.hookName, chat: opts.chat, pool: opts.pool, progress: opts.progress, label: "filter samples" });
  return filterFromPooled(pooled, samples, opts);
}

/** The filter on pooled features of `samples` (in order). */
export function filterFromPooled(pooled: PooledFeatures, samples: readonly LabelledSample[], opts: Omit<FilterOptions, "hookName" | "chat" | "pool" | "progress"> = {}): FilterResult {
  if (pooled.queries !== samples.length) throw new ArgumentError(`filter: ${pooled.queries} pooled queries for ${samples.length} samples`, { field: "samples" });
  const layer = tryParseHookName(pooled.hookName)?.layer ?? null;
  const r = filterMatrix(pooled.values, samples, pooled.features, { ...opts, layer });
  return { hookName: pooled.hookName, features: pooled.features, ...r };
}

/**
 * The number of features the precision-recall rule keeps (`precisionRecallFilter` at one threshold), on `replicates`
 * stratified bootstrap resamples of the samples: resample b draws, within each stratum (`strata[s]`, default the
 * label), as many samples as the stratum has, with replacement, from mulberry32(deriveSeed(seed, "filter-bootstrap",
 * String(b))). The same seed and strata give the same resamples for every SAE measured on these samples, so counts of
 * different SAEs can be compared replicate by replicate (a paired bootstrap). Returns one count per resample.
 */
export function bootstrapKeptCounts(
  values: ArrayLike<number>,
  labels: readonly string[],
  features: number,
  opts: { threshold: number; minPrecision?: number; minRecall?: number; domains?: readonly string[]; replicates: number; seed?: number; strata?: readonly string[] },
): number[] {
  const n = labels.length;
  if (values.length !== n * features) throw new ArgumentError(`filter bootstrap: ${values.length} activations for ${n} samples x ${features} features`, { field: "values" });
  const replicates = checkInt(opts.replicates, "replicates", { min: 1, where: "filter bootstrap" });
  const seed = checkInt(opts.seed ?? 0, "seed", { min: 0, where: "filter bootstrap" });
  const minP = opts.minPrecision ?? 0.6;
  const minR = opts.minRecall ?? 0.2;
  const domains = opts.domains ?? SAFETY_DOMAINS;
  const strataOf = opts.strata ?? labels;
  if (strataOf.length !== n) throw new ArgumentError(`filter bootstrap: ${strataOf.length} strata for ${n} samples`, { field: "strata" });
  // Label of each sample as an index into `domains` (-1: not a domain counted, e.g. benign).
  const label = Int32Array.from(labels, (l) => domains.indexOf(l));
  // Samples each feature fires on, as one flat list with offsets (features fire sparsely after pooling and scaling).
  const starts = new Int32Array(features + 1);
  const hits: number[] = [];
  for (let j = 0; j < features; j++) {
    starts[j] = hits.length;
    for (let s = 0; s < n; s++) if (values[s * features + j]! > opts.threshold) hits.push(s);
  }
  starts[features] = hits.length;
  const fired = Int32Array.from(hits);
  const strata = new Map<string, number[]>();
  strataOf.forEach((k, s) => {
    const g = strata.get(k) ?? [];
    g.push(s);
    strata.set(k, g);
  });
  const groups = [...strata.values()];
  const w = new Float64Array(n);
  const total = new Float64Array(domains.length);
  const inDomain = new Float64Array(domains.length);
  const counts: number[] = [];
  for (let b = 0; b < replicates; b++) {
    const rng = mulberry32(deriveSeed(seed, "filter-bootstrap", String(b)));
    w.fill(0);
    for (const g of groups) for (let i = 0; i < g.length; i++) w[g[Math.floor(rng() * g.length)]!]! += 1;
    total.fill(0);
    for (let s = 0; s < n; s++) if (label[s]! >= 0) total[label[s]!]! += w[s]!;
    let kept = 0;
    for (let j = 0; j < features; j++) {
      const a = starts[j]!;
      const e = starts[j + 1]!;
      if (a === e) continue;
      inDomain.fill(0);
      let fires = 0;
      for (let i = a; i < e; i++) {
        const s = fired[i]!;
        fires += w[s]!;
        if (label[s]! >= 0) inDomain[label[s]!]! += w[s]!;
      }
      if (fires === 0) continue;
      for (let d = 0; d < domains.length; d++) {
        const hit = inDomain[d]!;
        if (hit === 0 || total[d] === 0) continue;
        if (hit / fires >= minP && hit / total[d]! >= minR) {
          kept++;
          break;
        }
      }
    }
    counts.push(kept);
  }
  return counts;
}
