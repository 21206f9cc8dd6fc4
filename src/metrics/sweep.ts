// The configuration sweep of Safe-SAIL's stage 1: for every hook site x layer x k, train a TopK SAE on
// harvested activations, measure it on the contrastive pairs (L0,t, I_CDF, probes) and count the safety
// features the precision-recall filter keeps; then ask how well each metric's ranking of the
// configurations agrees with that count (Spearman), as the paper does.
//
//   const sweep = await sweepConfigurations(model, { corpus, pairs, samples, sites: ["mlp_out"], layers: [1, 2], ks: [8, 32], workDir });
//   sweep.rows            // one plain record per configuration (arquero: aq.from(sweep.rows))
//   sweep.agreement       // Spearman of each metric with the number of filtered safety features
//
// Each (site, layer) runs the model once over the pairs and the filter samples (activations kept in
// memory), and each site harvests the corpus once for all its layers; SAEs for every k reuse both.
//
// Thresholds are on the normalised scale (docs/metrics.md): L0,t and I_CDF over DEFAULT_THRESHOLDS (0 to 0.9),
// the rows at reportThreshold (default 0.5); the filter's firing threshold is chosen per SAE by the automatic
// rule on a calibration half of the samples and its counts are those of the evaluation half.
import * as path from "node:path";
import { harvest } from "../activations/harvest.ts";
import { TEXT_DEFAULTS } from "../activations/text.ts";
import type { CorpusInput } from "../activations/corpus.ts";
import { hookName, type Site } from "../model/hooks.ts";
import type { Model } from "../model/runtime.ts";
import { ArgumentError, describeValue } from "../errors.ts";
import { SAFETY_DOMAINS, type SafetyDomain } from "../safety.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { trainSae } from "../sae/train.ts";
import { spearman } from "./contrastive.ts";
import { contrastiveReport, DEFAULT_THRESHOLDS, pairQueries, selectPairs, type PairLike } from "./evaluate.ts";
import { poolActivations, queryActivations } from "./features.ts";
import { filterFromPooled, type LabelledSample } from "./filter.ts";
import { DEFAULT_QUANTILE } from "./normalise.ts";

export interface SweepOptions {
  /** Text the SAEs are trained on (harvested once per site). */
  corpus: CorpusInput;
  /** Harvest the corpus with the chat template (default `TEXT_DEFAULTS.chat`, true). */
  chat?: boolean;
  pairs: readonly PairLike[];
  /** Domain-labelled samples for the precision-recall filter. */
  samples: readonly LabelledSample[];
  sites: readonly Site[];
  layers: readonly number[];
  ks: readonly number[];
  expansion?: number;
  /** SAE training: tokens (default one pass over the harvest), batch size (default 512), learning rate. */
  trainTokens?: number;
  batchSize?: number;
  lr?: number;
  /** SAE training's onnxruntime threads (default its choice; 1 makes a rerun repeat every digit, at some cost in time). */
  threads?: number;
  maxTokens?: number;
  /**
   * Threshold grid of L0,t and I_CDF on the normalised scale (default DEFAULT_THRESHOLDS, 0 to 0.9 by 0.1), and the
   * one t the rows report (default 0.5; added to the grid when not in it).
   */
  thresholds?: readonly number[];
  reportThreshold?: number;
  /** Quantile of the per-feature normalisation, for the metrics and the filter (default 0.999). */
  quantile?: number;
  minFrequency?: number;
  /** Pair languages used (default all). */
  languages?: string[];
  /** Filter settings: precision, recall, and the firing threshold ("auto" by default, or a number; normalised). */
  minPrecision?: number;
  minRecall?: number;
  filterThreshold?: number | "auto";
  /** Folder for the harvests and the trained SAEs (one subfolder each). */
  workDir: string;
  /**
   * Rebuild the harvests and retrain the SAEs in workDir (default false: an interrupted sweep resumes,
   * and a harvest made with another model or corpus is refused by name).
   */
  overwrite?: boolean;
  seed?: number;
  progress?: Progress;
}

export interface SweepRow {
  site: Site;
  layer: number;
  k: number;
  hook: string;
  /** Training figures (mean of the last 10 steps). */
  fvu: number;
  l0: number;
  deadFraction: number;
  /** At the report threshold, means over all concepts. */
  l0t: number;
  icdf: number;
  /** The same over the whole threshold grid. */
  l0tCurve: { t: number; value: number }[];
  icdfCurve: { t: number; value: number }[];
  /** I_CDF per domain at the report threshold. */
  icdfByDomain: Record<string, number>;
  /** Best test F1 of k-sparse probing over k = 1..16, and the 1-d probe's (means over concepts). */
  kSparseF1: number;
  oneDF1: number;
  /**
   * Features kept by the precision-recall filter, all domains and per domain (every safety domain, 0 when none),
   * on `filterSamples` samples (the evaluation half when the threshold is automatic), at `filterThreshold`.
   */
  safetyFeatures: number;
  featuresByDomain: Record<SafetyDomain, number>;
  filterThreshold: number;
  filterSamples: number;
  saeDir: string;
}

export interface SweepResult {
  rows: SweepRow[];
  /** Raw-activation baselines per (site, layer): the same probes on the hook dimensions. */
  baselines: { site: Site; layer: number; kSparseF1: number; oneDF1: number; l0t: number; icdf: number }[];
  /** Spearman rank correlation of each metric with `safetyFeatures` over the rows. */
  agreement: Record<"l0t" | "icdf" | "kSparseF1" | "oneDF1", number>;
  reportThreshold: number;
  /** The grid of the curves (with the report threshold), and the normalisation quantile. */
  thresholds: number[];
  quantile: number;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export async function sweepConfigurations(model: Model, opts: SweepOptions): Promise<SweepResult> {
  const progress = opts.progress ?? silentProgress;
  const grid = [...(opts.thresholds ?? DEFAULT_THRESHOLDS)];
  if (grid.length === 0 || !grid.every((t) => Number.isFinite(t))) throw new ArgumentError(`sweep: thresholds must be a non-empty list of finite numbers, got ${describeValue(grid)}`, { field: "thresholds" });
  const tReport = opts.reportThreshold ?? 0.5;
  const quantile = opts.quantile ?? DEFAULT_QUANTILE;
  if (!Number.isFinite(tReport)) throw new ArgumentError(`sweep: reportThreshold must be a finite number, got ${describeValue(tReport)}`, { field: "reportThreshold" });
  // The reported t is always on the grid (a t outside it used to index the curves at -1).
  const thresholds = grid.includes(tReport) ? [...grid] : [...grid, tReport].sort((a, b) => a - b);
  const ti = thresholds.indexOf(tReport);
  const pairs = selectPairs(opts.pairs, opts.languages);
  const queries = pairQueries(pairs);
  const sampleTexts = opts.samples.map((s) => s.text);
  const rows: SweepRow[] = [];
  const baselines: SweepResult["baselines"] = [];
  for (const site of opts.sites) {
    const store = await harvest(model, opts.corpus, {
      layers: [...opts.layers],
      site,
      out: path.join(opts.workDir, `acts-${site}`),
      chat: opts.chat ?? TEXT_DEFAULTS.chat,
      maxTokens: opts.maxTokens,
      overwrite: opts.overwrite,
      progress,
    });
    for (const layer of opts.layers) {
      const hook = hookName(layer, site);
      const pairActs = await queryActivations(model, queries, hook, { progress, label: `pairs ${hook}` });
      const sampleActs = await queryActivations(model, sampleTexts, hook, { progress, label: `filter samples ${hook}` });
      const raw = contrastiveReport(await poolActivations(pairActs, null), pairs, { thresholds, quantile, minFrequency: opts.minFrequency, seed: opts.seed });
      baselines.push({ site, layer, kSparseF1: Math.max(...raw.overall.kSparseF1), oneDF1: raw.overall.oneDF1, l0t: raw.overall.l0t[ti]!.value, icdf: raw.overall.icdf[ti]!.value });
      for (const k of opts.ks) {
        const saeDir = path.join(opts.workDir, `sae-${site}-L${layer}-k${k}`);
        const run = await trainSae(store.reader(layer), {
          k,
          expansion: opts.expansion,
          tokens: opts.trainTokens,
          batchSize: opts.batchSize ?? 512,
          lr: opts.lr,
          seed: opts.seed,
          threads: opts.threads,
          out: saeDir,
          resume: !opts.overwrite,
          progress,
        });
        const report = contrastiveReport(await poolActivations(pairActs, run.sae), pairs, { thresholds, quantile, minFrequency: opts.minFrequency, seed: opts.seed });
        const filtered = filterFromPooled(await poolActivations(sampleActs, run.sae), opts.samples, { minPrecision: opts.minPrecision, minRecall: opts.minRecall, threshold: opts.filterThreshold, quantile });
        const last = run.history.slice(-10);
        rows.push({
          site,
          layer,
          k,
          hook,
          fvu: mean(last.map((h) => h.fvu)),
          l0: mean(last.map((h) => h.l0)),
          deadFraction: run.deadFraction,
          l0t: report.overall.l0t[ti]!.value,
          icdf: report.overall.icdf[ti]!.value,
          l0tCurve: report.overall.l0t,
          icdfCurve: report.overall.icdf,
          icdfByDomain: Object.fromEntries(Object.entries(report.domains).map(([d, a]) => [d, a.icdf[ti]!.value])),
          kSparseF1: Math.max(...report.overall.kSparseF1),
          oneDF1: report.overall.oneDF1,
          safetyFeatures: filtered.kept.length,
          featuresByDomain: Object.fromEntries(SAFETY_DOMAINS.map((d) => [d, filtered.keptPerDomain[d] ?? 0])) as Record<SafetyDomain, number>,
          filterThreshold: filtered.threshold.value,
          filterSamples: filtered.samples,
          saeDir,
        });
      }
    }
  }
  const target = rows.map((r) => r.safetyFeatures);
  const agreement = {
    l0t: spearman(rows.map((r) => r.l0t), target),
    icdf: spearman(rows.map((r) => r.icdf), target),
    kSparseF1: spearman(rows.map((r) => r.kSparseF1), target),
    oneDF1: spearman(rows.map((r) => r.oneDF1), target),
  };
  return { rows, baselines, agreement, reportThreshold: tReport, thresholds, quantile };
}
