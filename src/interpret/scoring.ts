// Scoring an explanation by simulation: a simulator LLM reads the explanation and predicts, for held-out text, where
// the feature fires; the score is how well the predictions match the feature's real activations. Pure functions, no
// I/O: the calls to the simulator live elsewhere (src/interpret/), these turn its answers into numbers.
//
// Definitions
// - Normalised activation: clip(relu(a) / normaliser, 0, 1), with `normaliser` the feature's high quantile of its
//   non-zero activations (FeatureExamples.normalisation.value, 0.999 by default). A quantile rather than the max so
//   that one outlier does not squash every other activation towards 0.
// - TLS, token-level simulation (OpenAI, Bills et al. 2023, "Language models can explain neurons in language
//   models"): the truth at each token is the activation discretised to 0..10, floor(10 * relu(a) / max) with `max`
//   the feature's max activation (FeatureExamples.max_activation), clipped to [0, 10]; the simulator predicts a
//   0..10 value per token (an integer, or the expected value over its digit logprobs: expectedValueFromLogprobs);
//   the score is Pearson's r between truth and prediction.
// - SLS, segment-level simulation (Safe-SAIL, arXiv 2509.18127, the score its database calls correlation_score):
//   each sequence is cut into n = 8 contiguous segments (segmentBounds), a segment is "active" when its largest
//   normalised activation is above SLS_THRESHOLD, the simulator says which segments it expects to be active, and the
//   score is Pearson's r over those binary pairs (the phi coefficient).
// - Detection (EleutherAI's delphi, "Automatically Interpreting Millions of Features in Large Language Models"): the
//   simulator sees whole examples, activating and non-activating, and says whether each one activates the feature;
//   F1, precision and recall of the activating class, accuracy, and the AUC of its probabilities (Mann-Whitney).
//
// The concatenation rule: TLS and SLS are ONE Pearson r over the pairs of all test sequences put end to end, as
// OpenAI's scorer does ("all at once" correlation), not the mean of one r per sequence. A per-sequence r is
// undefined for every sequence where the feature never fires (most random windows), and averaging would weigh a
// two-token window like a full one.
//
// Degenerate scores: Pearson's r is undefined when either side has zero variance (the simulator said the same thing
// everywhere, or the feature is constant on the test set). Such a score is null with a warning saying which side
// was constant, never NaN and never a silent 0.
import { ArgumentError, describeValue } from "../errors.ts";
import { quantileSorted } from "../metrics/normalise.ts";
import { mulberry32 } from "../util/prng.ts";
import { checkFraction, checkInt, checkNumber } from "../util/validate.ts";

/** A score that may be undefined, with the reason when it is. */
export interface ScoreWithReason {
  r: number | null;
  /** Why `r` is null (or what is doubtful about it). */
  warning?: string;
}

function checkFinite(xs: ArrayLike<number>, name: string): void {
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!;
    if (typeof v !== "number" || !Number.isFinite(v)) throw new ArgumentError(`${name}[${i}] must be a finite number, got ${describeValue(v)}`, { field: name });
  }
}

function isConstant(xs: ArrayLike<number>): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i] !== xs[0]) return false;
  return true;
}

/**
 * Pearson's r with the reason when it is undefined. `truth` and `predicted` name the sides so the warning can say
 * which one was constant; `unit` is what one pair is ("token", "segment", "example").
 */
export function pearsonWithReason(truth: ArrayLike<number>, predicted: ArrayLike<number>, unit = "token"): ScoreWithReason {
  if (truth.length !== predicted.length) {
    throw new ArgumentError(`pearson: the two sides differ in length (${truth.length} truth values, ${predicted.length} predictions)`, { field: "predicted" });
  }
  checkFinite(truth, "truth");
  checkFinite(predicted, "predicted");
  const n = truth.length;
  if (n < 2) return { r: null, warning: `fewer than 2 ${unit}s to correlate (${n})` };
  // Exact constancy is tested on the values themselves: a mean that is off by one ulp would leave a tiny non-zero
  // variance, and the "r" computed from it would be rounding noise.
  const truthConstant = isConstant(truth);
  const predictedConstant = isConstant(predicted);
  if (truthConstant && predictedConstant) return { r: null, warning: `the feature is constant on the test set and the simulator predicted the same value for every ${unit}` };
  if (predictedConstant) return { r: null, warning: `the simulator predicted the same value for every ${unit}` };
  if (truthConstant) return { r: null, warning: `the feature is constant on the test set (the same truth for every ${unit})` };
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += truth[i]!;
    my += predicted[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = truth[i]! - mx;
    const dy = predicted[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return { r: null, warning: `zero variance after centring (values too close to tell apart)` };
  const r = sxy / Math.sqrt(sxx * syy);
  // Rounding can put a perfect correlation a hair outside [-1, 1].
  return { r: Math.max(-1, Math.min(1, r)) };
}

/** Pearson's r; null when there are fewer than 2 points or either side is constant (pearsonWithReason says why). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  return pearsonWithReason(x, y).r;
}

// ---------------------------------------------------------------------------------------------------------------
// Normalisation and TLS

/** clip(relu(a) / normaliser, 0, 1) per activation; `normaliser` is the feature's quantile value (> 0). */
export function normaliseActivations(acts: ArrayLike<number>, normaliser: number): number[] {
  checkNumber(normaliser, "normaliser", { gt: 0, where: "normaliseActivations" });
  checkFinite(acts, "acts");
  const out = new Array<number>(acts.length);
  for (let i = 0; i < acts.length; i++) out[i] = Math.min(1, Math.max(0, acts[i]!) / normaliser);
  return out;
}

/**
 * TLS truth per token: floor(10 * relu(a) / max), clipped to [0, 10]. `max` is the feature's max activation; 0 (a
 * feature that never fired) gives all zeros, which tlsScore reports as a constant truth.
 */
export function tlsTruth(acts: ArrayLike<number>, max: number): number[] {
  checkNumber(max, "max", { min: 0, where: "tlsTruth" });
  checkFinite(acts, "acts");
  const out = new Array<number>(acts.length);
  for (let i = 0; i < acts.length; i++) {
    const a = Math.max(0, acts[i]!);
    out[i] = max === 0 ? 0 : Math.min(10, Math.max(0, Math.floor((10 * a) / max)));
  }
  return out;
}

export interface TlsCase {
  /** The feature's raw activation per token. */
  acts: number[];
  /** The simulator's 0..10 prediction per token (integers, or expected values). */
  predicted: number[];
}

export interface TlsScore {
  score: number | null;
  warning?: string;
  /** Tokens the score is over (all cases together). */
  tokens: number;
}

/** Token-level simulation score: Pearson's r over the tokens of all cases concatenated (see the header). */
export function tlsScore(cases: readonly TlsCase[], max: number): TlsScore {
  checkNumber(max, "max", { min: 0, where: "tlsScore" });
  const truth: number[] = [];
  const predicted: number[] = [];
  cases.forEach((c, i) => {
    if (c.acts.length !== c.predicted.length) {
      throw new ArgumentError(`tlsScore: case ${i}: ${c.predicted.length} predictions for ${c.acts.length} tokens`, { field: `cases[${i}].predicted` });
    }
    c.predicted.forEach((p, j) => {
      if (typeof p !== "number" || !(p >= 0 && p <= 10)) throw new ArgumentError(`tlsScore: case ${i}: predicted[${j}] must be a number in [0, 10], got ${describeValue(p)}`, { field: `cases[${i}].predicted` });
    });
    let t: number[];
    try {
      t = tlsTruth(c.acts, max);
    } catch (err) {
      throw new ArgumentError(`tlsScore: case ${i}: ${(err as Error).message}`, { field: `cases[${i}].acts` });
    }
    for (let j = 0; j < t.length; j++) {
      truth.push(t[j]!);
      predicted.push(c.predicted[j]!);
    }
  });
  const { r, warning } = pearsonWithReason(truth, predicted, "token");
  return { score: r, ...(warning ? { warning } : {}), tokens: truth.length };
}

// ---------------------------------------------------------------------------------------------------------------
// SLS

/**
 * Safe-SAIL's segment rule is not published beyond "segments"; 0.2 is our choice: a segment counts as active when
 * the feature reaches a fifth of its high-quantile activation. That is well above the small activations a TopK SAE
 * leaves on unrelated tokens (noise just inside the top k) and well below a typical peak (the quantile is near the
 * max, so a real firing normalises to roughly 0.5..1).
 */
export const SLS_THRESHOLD = 0.2;
/** Segments per sequence (the paper's 8). */
export const SLS_SEGMENTS = 8;

/**
 * `[start, end)` of `n` contiguous segments covering `tokens` tokens, as equal as possible: the first `tokens % n`
 * segments get one token more. A sequence shorter than `n` gives `tokens` one-token segments (no empty segment,
 * whose truth would be meaningless); 0 tokens give none.
 */
export function segmentBounds(tokens: number, n = SLS_SEGMENTS): [number, number][] {
  checkInt(tokens, "tokens", { min: 0, where: "segmentBounds" });
  checkInt(n, "n", { min: 1, where: "segmentBounds" });
  const count = Math.min(n, tokens);
  if (count === 0) return [];
  const base = Math.floor(tokens / count);
  const longer = tokens % count;
  const out: [number, number][] = [];
  let start = 0;
  for (let s = 0; s < count; s++) {
    const end = start + base + (s < longer ? 1 : 0);
    out.push([start, end]);
    start = end;
  }
  return out;
}

/** Per segment of `acts` (segmentBounds): whether its largest normalised activation is strictly above `threshold`. */
export function slsTruth(acts: ArrayLike<number>, normaliser: number, n = SLS_SEGMENTS, threshold = SLS_THRESHOLD): boolean[] {
  checkFraction(threshold, "threshold", { where: "slsTruth" });
  const norm = normaliseActivations(acts, normaliser);
  return segmentBounds(norm.length, n).map(([s, e]) => {
    let peak = 0;
    for (let i = s; i < e; i++) peak = Math.max(peak, norm[i]!);
    return peak > threshold;
  });
}

export interface SlsCase {
  /** The feature's raw activation per token. */
  acts: number[];
  /** The simulator's answer per segment (segmentBounds(acts.length, n)): active or not. */
  predicted: boolean[];
}

export interface SlsScore {
  score: number | null;
  warning?: string;
  /** Segments the score is over (all cases together). */
  segments: number;
}

/** Segment-level simulation score: the phi coefficient over the segments of all cases concatenated. */
export function slsScore(cases: readonly SlsCase[], normaliser: number, n = SLS_SEGMENTS, threshold = SLS_THRESHOLD): SlsScore {
  const truth: number[] = [];
  const predicted: number[] = [];
  cases.forEach((c, i) => {
    let t: boolean[];
    try {
      t = slsTruth(c.acts, normaliser, n, threshold);
    } catch (err) {
      throw new ArgumentError(`slsScore: case ${i}: ${(err as Error).message}`, { field: `cases[${i}]` });
    }
    if (c.predicted.length !== t.length) {
      throw new ArgumentError(`slsScore: case ${i}: ${c.predicted.length} predictions for ${t.length} segments (${c.acts.length} tokens in ${n}-segment split)`, { field: `cases[${i}].predicted` });
    }
    c.predicted.forEach((p, j) => {
      if (typeof p !== "boolean") throw new ArgumentError(`slsScore: case ${i}: predicted[${j}] must be true or false, got ${describeValue(p)}`, { field: `cases[${i}].predicted` });
      truth.push(t[j]! ? 1 : 0);
      predicted.push(p ? 1 : 0);
    });
  });
  const { r, warning } = pearsonWithReason(truth, predicted, "segment");
  return { score: r, ...(warning ? { warning } : {}), segments: truth.length };
}

// ---------------------------------------------------------------------------------------------------------------
// Detection

export interface DetectionItem {
  /** Whether the example really activates the feature. */
  activating: boolean;
  /** The simulator's yes/no. */
  predicted: boolean;
  /** The simulator's probability of "yes", when it gave one (logprobs); ranks the examples for the AUC. */
  probability?: number;
}

export interface DetectionScore {
  /** F1 of the activating class, 2tp / (2tp + fp + fn); null when there is neither an activating item nor a "yes". */
  f1: number | null;
  /** tp / (tp + fp); null when the simulator never said yes. */
  precision: number | null;
  /** tp / (tp + fn); null when no item is activating. */
  recall: number | null;
  accuracy: number | null;
  /** P(score of a random activating item > score of a random non-activating one), ties counting 1/2. */
  auc: number | null;
  warning?: string;
}

/**
 * AUC as the Mann-Whitney statistic, from average ranks: (sum of the positives' ranks - nP(nP+1)/2) / (nP nN).
 * Ties get their average rank, which is what counts a tied pair as 1/2.
 */
function mannWhitneyAuc(scores: readonly number[], positive: readonly boolean[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSum = 0;
  let nPos = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avgRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) if (positive[order[k]!]) rankSum += avgRank;
    i = j + 1;
  }
  for (const p of positive) if (p) nPos++;
  const nNeg = positive.length - nPos;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Detection scores of a simulator's yes/no answers on activating and non-activating examples. The AUC ranks by
 * `probability` when the items carry one (all of them, or none: mixed scales would be meaningless), else by the
 * yes/no itself (then it equals balanced accuracy).
 */
export function detectionScore(items: readonly DetectionItem[]): DetectionScore {
  const withProb = items.filter((it) => it.probability !== undefined).length;
  if (withProb !== 0 && withProb !== items.length) {
    const first = items.findIndex((it) => it.probability === undefined);
    throw new ArgumentError(`detectionScore: items[${first}] has no probability while ${withProb} of ${items.length} items have one; give all or none`, { field: `items[${first}].probability` });
  }
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  items.forEach((it, i) => {
    if (typeof it.activating !== "boolean") throw new ArgumentError(`detectionScore: items[${i}].activating must be true or false, got ${describeValue(it.activating)}`, { field: `items[${i}].activating` });
    if (typeof it.predicted !== "boolean") throw new ArgumentError(`detectionScore: items[${i}].predicted must be true or false, got ${describeValue(it.predicted)}`, { field: `items[${i}].predicted` });
    if (it.probability !== undefined) checkFraction(it.probability, `items[${i}].probability`, { where: "detectionScore" });
    if (it.activating && it.predicted) tp++;
    else if (it.activating) fn++;
    else if (it.predicted) fp++;
    else tn++;
  });
  const warnings: string[] = [];
  const positives = tp + fn;
  const negatives = fp + tn;
  if (items.length === 0) warnings.push("no examples to score");
  else {
    if (positives === 0) warnings.push("no activating examples: recall and AUC are undefined");
    if (negatives === 0) warnings.push("no non-activating examples: AUC is undefined");
    if (tp + fp === 0) warnings.push("the simulator never said yes: precision is undefined");
  }
  const f1Denominator = 2 * tp + fp + fn;
  const auc = positives > 0 && negatives > 0 ? mannWhitneyAuc(items.map((it) => it.probability ?? (it.predicted ? 1 : 0)), items.map((it) => it.activating)) : null;
  return {
    f1: f1Denominator === 0 ? null : (2 * tp) / f1Denominator,
    precision: tp + fp === 0 ? null : tp / (tp + fp),
    recall: positives === 0 ? null : tp / positives,
    accuracy: items.length === 0 ? null : (tp + tn) / items.length,
    auc,
    ...(warnings.length ? { warning: warnings.join("; ") } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Simulator answers and reporting

/**
 * The expected 0..10 value of one predicted token from its top logprobs: the candidates that are the integers
 * 0..10 (surrounding whitespace ignored, so " 7" counts as 7), their probabilities renormalised to sum to 1. Null
 * when no candidate is such an integer (or all have probability 0). OpenAI's simulator reads its predictions this way.
 */
export function expectedValueFromLogprobs(top: readonly { token: string; logprob: number }[]): number | null {
  let mass = 0;
  let weighted = 0;
  top.forEach((t, i) => {
    if (typeof t.logprob !== "number" || Number.isNaN(t.logprob) || t.logprob > 0) {
      throw new ArgumentError(`expectedValueFromLogprobs: top[${i}].logprob must be a number <= 0, got ${describeValue(t.logprob)}`, { field: `top[${i}].logprob` });
    }
    const m = /^\s*(10|[0-9])\s*$/.exec(t.token);
    if (!m) return;
    const p = Math.exp(t.logprob);
    mass += p;
    weighted += p * Number(m[1]);
  });
  return mass > 0 ? weighted / mass : null;
}

export interface BootstrapOptions {
  /** Resamples (default 1000). */
  samples?: number;
  /** mulberry32 seed (default 0). */
  seed?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
}

export interface BootstrapInterval {
  /** The statistic on the values as given. */
  estimate: number | null;
  low: number | null;
  high: number | null;
  level: number;
  /** Resamples whose statistic was defined (the interval is over these). */
  samples: number;
  /** Resamples whose statistic was null (e.g. a resample with a constant side), left out. */
  dropped: number;
  warning?: string;
}

/**
 * Percentile bootstrap interval of `statistic` over `values`: `samples` resamples of values.length draws with
 * replacement (seeded mulberry32, so the same seed gives the same interval), and the (1 - level)/2 and
 * (1 + level)/2 quantiles of the statistic over them. Resample whole units (e.g. sequences for TLS/SLS, whose pairs
 * are not independent within a sequence). Resamples where the statistic is null are dropped and counted.
 */
export function bootstrapInterval<T>(values: readonly T[], statistic: (sample: T[]) => number | null, opts: BootstrapOptions = {}): BootstrapInterval {
  const samples = checkInt(opts.samples ?? 1000, "samples", { min: 1, where: "bootstrapInterval" });
  const seed = checkInt(opts.seed ?? 0, "seed", { where: "bootstrapInterval" });
  const level = checkNumber(opts.level ?? 0.95, "level", { gt: 0, max: 1, where: "bootstrapInterval" });
  const estimate = values.length === 0 ? null : statistic([...values]);
  if (estimate !== null && !Number.isFinite(estimate)) throw new ArgumentError(`bootstrapInterval: the statistic returned ${describeValue(estimate)} on the values; return null for an undefined value`, { field: "statistic" });
  if (values.length === 0) return { estimate, low: null, high: null, level, samples: 0, dropped: 0, warning: "no values to resample" };
  const rng = mulberry32(seed);
  const stats: number[] = [];
  let dropped = 0;
  const n = values.length;
  for (let s = 0; s < samples; s++) {
    const sample = new Array<T>(n);
    for (let i = 0; i < n; i++) sample[i] = values[Math.floor(rng() * n)]!;
    const v = statistic(sample);
    if (v === null) dropped++;
    else if (!Number.isFinite(v)) throw new ArgumentError(`bootstrapInterval: the statistic returned ${describeValue(v)} on resample ${s}; return null for an undefined value`, { field: "statistic" });
    else stats.push(v);
  }
  const warnings: string[] = [];
  if (estimate === null) warnings.push("the statistic is undefined on the values as given");
  if (dropped > 0) warnings.push(`${dropped} of ${samples} resamples had no defined statistic and were left out`);
  if (stats.length === 0) return { estimate, low: null, high: null, level, samples: 0, dropped, warning: warnings.join("; ") };
  stats.sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  return {
    estimate,
    low: quantileSorted(stats, tail),
    high: quantileSorted(stats, 1 - tail),
    level,
    samples: stats.length,
    dropped,
    ...(warnings.length ? { warning: warnings.join("; ") } : {}),
  };
}
