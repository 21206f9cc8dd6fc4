// The claims' figures from what is already measured: the committed grid (claims 1 and 2) and a scored feature
// database (claim 3). Pure functions over plain data, so every number of the claims notebook can be recomputed from
// the files without a model. The rules (which threshold, which interval, what "holds" means) are stated here once.
import type { FeatureRecord } from "../db/records.ts";
import { ArgumentError } from "../errors.ts";
import { costTokens } from "../interpret/score.ts";
import { bootstrapInterval, pearsonWithReason, type BootstrapInterval } from "../interpret/scoring.ts";
import { spearman } from "../metrics/contrastive.ts";
import { quantileSorted } from "../metrics/normalise.ts";
import type { Site } from "../model/hooks.ts";
import { ceRecoveredWarnings } from "../sae/eval.ts";
import type { ClaimsGridFile, GridEntry } from "./grid.ts";

/** Coverage of every interval of the claims (percentile bootstrap). */
export const CLAIMS_LEVEL = 0.95;
/** Resamples of the bootstraps computed here (the filter's are in the grid file: `settings.bootstrap`). */
export const CLAIMS_BOOTSTRAP = 1000;

/** The grid's entries at its own training length (the convergence check's longer runs left out). */
export const mainEntries = (grid: ClaimsGridFile): GridEntry[] => grid.entries.filter((e) => e.steps === (grid.settings.steps as number));

/** A percentile interval of values (sorted copy), at CLAIMS_LEVEL. */
/**
 * The warnings an SAE's held-out figures carry, by the current rule (`ceRecoveredWarnings`): the file keeps those of
 * the run that measured it, and the rule may have been sharpened since.
 */
export function heldoutWarnings(e: GridEntry): string[] {
  const ce = e.heldout.ce;
  return [...new Set([...ce.warnings, ...ceRecoveredWarnings(e.hook, ce.ce_loss_clean, ce.ce_loss_zero_ablation, "answer")])];
}

export function percentileInterval(values: readonly number[], level = CLAIMS_LEVEL): { low: number; high: number } {
  if (values.length === 0) throw new ArgumentError("percentileInterval: no values", { field: "values" });
  const s = [...values].sort((a, b) => a - b);
  return { low: quantileSorted(s, (1 - level) / 2), high: quantileSorted(s, (1 + level) / 2) };
}

// ---------------------------------------------------------------------------------------------------------------
// The filter's firing threshold, chosen once

export interface ThresholdChoice {
  rule: string;
  /** Per threshold of the filter's grid: features kept on the calibration half, summed over the grid's SAEs. */
  calibration: { t: number; kept: number }[];
  threshold: number;
  index: number;
}

export const THRESHOLD_RULE =
  "the firing threshold of the filter's grid (0.1 ... 0.9, normalised) that keeps the most features in total over every SAE of the grid on the calibration half of the English domain samples, ties to the larger; chosen once for the whole grid, on samples the figures are not counted on, before any metric is compared with the counts";

/** THRESHOLD_RULE on the grid's calibration counts. */
export function chooseGridThreshold(grid: ClaimsGridFile): ThresholdChoice {
  const entries = mainEntries(grid);
  const calibration = grid.filterThresholds.map((t, i) => ({ t, kept: entries.reduce((a, e) => a + e.filter.calibration[i]!, 0) }));
  let best = 0;
  calibration.forEach((c, i) => {
    if (c.kept > calibration[best]!.kept || (c.kept === calibration[best]!.kept && c.t > calibration[best]!.t)) best = i;
  });
  return { rule: THRESHOLD_RULE, calibration, threshold: grid.filterThresholds[best]!, index: best };
}

// ---------------------------------------------------------------------------------------------------------------
// Claim 1: safety features against k

export interface CountRow {
  site: Site;
  layer: number;
  k: number;
  kept: number;
  low: number;
  high: number;
  perDomain: Record<string, number>;
}

export interface CountsAgainstK {
  threshold: number;
  rows: CountRow[];
  /** Per site and k: features kept summed over the layers, with its interval. */
  bySite: { site: Site; k: number; kept: number; low: number; high: number }[];
  /** Per site: the k with the most features (summed over layers), and the share of resamples where that argmax is neither the smallest nor the largest k. */
  peaks: { site: Site; k: number; interior: boolean; interiorShare: number }[];
  /** The configuration with the most features, and per site the share of resamples in which that site has the best configuration. */
  best: CountRow;
  siteWins: Record<string, number>;
  replicates: number;
}

/**
 * The filter-count replicates of one SAE, shifted so that their mean is the count itself. Why: the count is a sum of
 * threshold crossings (a latent is kept when its precision and recall pass 0.6 and 0.2), and most of the 2,560
 * latents lie below those thresholds, many just below. A resample repeats some texts and drops others, which moves
 * every latent's precision and recall about and pushes more of the many just-below latents over than it pulls
 * just-above ones under: the raw replicates sit above the count (on the first SAEs measured, 68-113 around a count of
 * 51), so their percentile interval need not even contain it. The count on the evaluation half is an unbiased
 * estimate of its expectation over samples; the bootstrap is used for its spread only, centred on the count.
 */
export function centredReplicates(replicates: readonly number[], count: number): number[] {
  if (replicates.length === 0) throw new ArgumentError("centredReplicates: no replicates", { field: "replicates" });
  const mean = replicates.reduce((a, b) => a + b, 0) / replicates.length;
  return replicates.map((r) => r - mean + count);
}

/** The count's interval: the percentile interval of the centred replicates, its lower end at least 0. */
export function countInterval(replicates: readonly number[], count: number): { low: number; high: number } {
  const i = percentileInterval(centredReplicates(replicates, count));
  return { low: Math.max(0, i.low), high: i.high };
}

/**
 * Claim 1's figures at the chosen threshold (index into the filter grid). Replicate b is the same resample for every
 * SAE; each SAE's replicates are centred on its count (`centredReplicates`) before they are summed or compared.
 */
export function countsAgainstK(grid: ClaimsGridFile, choice: ThresholdChoice): CountsAgainstK {
  const entries = mainEntries(grid);
  const ti = choice.index;
  const ks = [...new Set(entries.map((e) => e.k))].sort((a, b) => a - b);
  const sites = [...new Set(entries.map((e) => e.site))];
  const B = entries[0]!.filter.replicates[ti]!.length;
  const centred = new Map(entries.map((e) => [e, centredReplicates(e.filter.replicates[ti]!, e.filter.evaluation[ti]!)]));
  const rows: CountRow[] = entries.map((e) => ({
    site: e.site,
    layer: e.layer,
    k: e.k,
    kept: e.filter.evaluation[ti]!,
    ...countInterval(e.filter.replicates[ti]!, e.filter.evaluation[ti]!),
    perDomain: Object.fromEntries(Object.entries(e.filter.evaluationPerDomain).map(([d, v]) => [d, v[ti]!])),
  }));
  const siteK = (site: Site, k: number, b: number | null) => entries.filter((e) => e.site === site && e.k === k).reduce((a, e) => a + (b === null ? e.filter.evaluation[ti]! : centred.get(e)![b]!), 0);
  const bySite = sites.flatMap((site) =>
    ks.map((k) => {
      const i = percentileInterval(Array.from({ length: B }, (_, b) => siteK(site, k, b)));
      return { site, k, kept: siteK(site, k, null), low: Math.max(0, i.low), high: i.high };
    }),
  );
  const argmaxK = (site: Site, b: number | null) => {
    let best = ks[0]!;
    for (const k of ks) if (siteK(site, k, b) > siteK(site, best, b)) best = k;
    return best;
  };
  const interior = (k: number) => k !== ks[0] && k !== ks[ks.length - 1];
  const peaks = sites.map((site) => {
    const k = argmaxK(site, null);
    let inside = 0;
    for (let b = 0; b < B; b++) if (interior(argmaxK(site, b))) inside++;
    return { site, k, interior: interior(k), interiorShare: inside / B };
  });
  const bestOf = (b: number | null) => {
    let at = 0;
    entries.forEach((e, i) => {
      const v = (x: GridEntry) => (b === null ? x.filter.evaluation[ti]! : centred.get(x)![b]!);
      if (v(e) > v(entries[at]!)) at = i;
    });
    return at;
  };
  const siteWins: Record<string, number> = Object.fromEntries(sites.map((s) => [s, 0]));
  for (let b = 0; b < B; b++) siteWins[entries[bestOf(b)]!.site]! += 1 / B;
  return { threshold: choice.threshold, rows, bySite, peaks, best: rows[bestOf(null)]!, siteWins, replicates: B };
}

// ---------------------------------------------------------------------------------------------------------------
// Claim 2: pre-explanation metrics against the filtered count

export const METRICS = ["l0t", "icdf", "kSparseF1", "oneDF1"] as const;
export type MetricName = (typeof METRICS)[number];
export const METRIC_LABELS: Record<MetricName, string> = { l0t: "L0,t", icdf: "I_CDF", kSparseF1: "k-sparse probe F1", oneDF1: "1-d probe F1" };

export interface MetricAgreement {
  /** The L0,t / I_CDF threshold read (normalised; the sweep's report threshold, fixed in advance). */
  metricThreshold: number;
  filterThreshold: number;
  configurations: number;
  concepts: number;
  /** Spearman of each metric (mean over concepts) with the filtered count, over the configurations, with a bootstrap interval over concepts. */
  rho: Record<MetricName, BootstrapInterval>;
  /** rho(metric) - rho(probe), paired over the same concept resamples. */
  differences: { metric: "l0t" | "icdf"; probe: "kSparseF1" | "oneDF1"; interval: BootstrapInterval }[];
}

/** Claim 2. `metricThreshold` must be on the grid's L0,t threshold list. */
export function metricAgreement(grid: ClaimsGridFile, choice: ThresholdChoice, opts: { metricThreshold?: number; samples?: number; seed?: number } = {}): MetricAgreement {
  const metricThreshold = opts.metricThreshold ?? 0.5;
  const mi = grid.thresholds.indexOf(metricThreshold);
  if (mi < 0) throw new ArgumentError(`metricAgreement: metricThreshold ${metricThreshold} is not on the grid's thresholds (${grid.thresholds.join(", ")})`, { field: "metricThreshold" });
  const entries = mainEntries(grid);
  const target = entries.map((e) => e.filter.evaluation[choice.index]!);
  const nConcepts = entries[0]!.concepts.length;
  const value = (e: GridEntry, c: number, m: MetricName): number => {
    const x = e.concepts[c]!;
    const v = m === "l0t" ? x.l0t[mi]! : m === "icdf" ? x.icdf[mi]! : m === "kSparseF1" ? x.kSparseF1 : x.oneDF1;
    return v ?? NaN;
  };
  // A concept resample is a list of concept indices; the metric of a configuration is its mean over them.
  const rhoOn = (idx: readonly number[], m: MetricName): number | null => {
    const xs = entries.map((e) => {
      const vs = idx.map((c) => value(e, c, m)).filter(Number.isFinite);
      return vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : NaN;
    });
    if (xs.some((x) => !Number.isFinite(x))) return null;
    const r = spearman(xs, target);
    return Number.isFinite(r) ? r : null;
  };
  const concepts = Array.from({ length: nConcepts }, (_, c) => c);
  const boot = { samples: opts.samples ?? CLAIMS_BOOTSTRAP, seed: opts.seed ?? 0, level: CLAIMS_LEVEL };
  const rho = Object.fromEntries(METRICS.map((m) => [m, bootstrapInterval(concepts, (idx) => rhoOn(idx, m), boot)])) as Record<MetricName, BootstrapInterval>;
  const differences: MetricAgreement["differences"] = [];
  for (const metric of ["l0t", "icdf"] as const) {
    for (const probe of ["kSparseF1", "oneDF1"] as const) {
      differences.push({
        metric,
        probe,
        interval: bootstrapInterval(concepts, (idx) => {
          const a = rhoOn(idx, metric);
          const b = rhoOn(idx, probe);
          return a === null || b === null ? null : a - b;
        }, boot),
      });
    }
  }
  return { metricThreshold, filterThreshold: choice.threshold, configurations: entries.length, concepts: nConcepts, rho, differences };
}

// ---------------------------------------------------------------------------------------------------------------
// Claim 3: SLS against TLS

export interface SlsTlsAgreement {
  features: number;
  simulator: string;
  pearson: BootstrapInterval;
  /** Tokens (prompt + completion) the simulator's requests take: SLS over TLS, over the features with both. */
  tokens: { tls: number; sls: number; ratio: number; saving: number };
  requests: { tls: number; sls: number };
  warnings: string[];
}

/** Claim 3 on a scored database: Pearson of SLS (`correlation_score`) and TLS (`tls_score`) over features, bootstrap over features. */
export function slsTlsAgreement(records: readonly FeatureRecord[], opts: { samples?: number; seed?: number } = {}): SlsTlsAgreement {
  const both = records.filter((r) => typeof r.tls_score === "number" && typeof r.correlation_score === "number");
  if (both.length < 3) throw new ArgumentError(`slsTlsAgreement: ${both.length} feature(s) have both an SLS and a TLS score; at least 3 are needed`, { field: "records" });
  const tls = both.map((r) => r.tls_score as number);
  const sls = both.map((r) => r.correlation_score as number);
  const warnings: string[] = [];
  const idx = both.map((_, i) => i);
  const pearson = bootstrapInterval(idx, (s) => pearsonWithReason(s.map((i) => tls[i]!), s.map((i) => sls[i]!)).r, { samples: opts.samples ?? CLAIMS_BOOTSTRAP, seed: opts.seed ?? 0, level: CLAIMS_LEVEL });
  if (pearson.warning) warnings.push(pearson.warning);
  const cost = (m: "tls" | "sls") => both.reduce((a, r) => a + costTokens(r.cost?.[m]), 0);
  const requests = (m: "tls" | "sls") => both.reduce((a, r) => a + (r.cost?.[m]?.requests ?? 0), 0);
  const t = cost("tls");
  const s = cost("sls");
  if (t === 0 || s === 0) warnings.push("the records carry no token costs for TLS or SLS: the cost ratio is undefined");
  const simulators = [...new Set(both.map((r) => String((r as { simulator?: unknown }).simulator ?? "unknown")))];
  return { features: both.length, simulator: simulators.join(", "), pearson, tokens: { tls: t, sls: s, ratio: t > 0 ? s / t : NaN, saving: t > 0 ? 1 - s / t : NaN }, requests: { tls: requests("tls"), sls: requests("sls") }, warnings };
}

// ---------------------------------------------------------------------------------------------------------------
// Convergence: the same SAE trained twice as long

export interface ConvergenceRow {
  site: Site;
  layer: number;
  k: number;
  steps: [number, number];
  heldoutFvu: [number, number];
  ceRecovered: [number, number];
  kept: [number, number];
  /** The longer run's count inside the shorter run's bootstrap interval (`countInterval`), given as `interval`. */
  interval: { low: number; high: number };
  keptWithinInterval: boolean;
}

export function convergenceCheck(grid: ClaimsGridFile, choice: ThresholdChoice): ConvergenceRow[] {
  const main = mainEntries(grid);
  return grid.entries
    .filter((e) => !main.includes(e))
    .map((long) => {
      const short = main.find((e) => e.site === long.site && e.layer === long.layer && e.k === long.k);
      if (!short) throw new ArgumentError(`convergenceCheck: no ${grid.settings.steps}-step entry for ${long.site} layer ${long.layer} k ${long.k}`, { field: "entries" });
      const kept: [number, number] = [short.filter.evaluation[choice.index]!, long.filter.evaluation[choice.index]!];
      const iv = countInterval(short.filter.replicates[choice.index]!, kept[0]);
      return {
        site: long.site,
        layer: long.layer,
        k: long.k,
        steps: [short.steps, long.steps],
        heldoutFvu: [short.heldout.fvu, long.heldout.fvu],
        ceRecovered: [short.heldout.ce.ce_loss_recovered, long.heldout.ce.ce_loss_recovered],
        kept,
        interval: iv,
        keptWithinInterval: kept[1] >= iv.low && kept[1] <= iv.high,
      };
    });
}

