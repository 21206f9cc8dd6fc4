// Explaining and scoring many features: the loops around one explainer or simulator, with a concurrency bound,
// progress, per-feature failures recorded (never a crash that loses the other features' results), and the summary
// the `score --json` contract prints.
//
// Scoring reads only the TEST windows of the example store (documents disjoint from those the explainer saw),
// activating and non-activating together:
//   TLS        one simulator request per window; Pearson r of truth floor(10 relu(a) / max) against the predictions,
//              over all windows concatenated (./scoring.ts tlsScore);
//   SLS        one request per window cut into n segments; Pearson r over the (truth, guess) booleans, a segment's
//              truth being its normalised max above SLS_THRESHOLD (./scoring.ts);
//   detection  one request with every window shuffled (seeded); F1 and AUC of active vs not.
import { SafesailError } from "../errors.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { mulberry32, shuffleInPlace } from "../util/prng.ts";
import type { Explainer, Explanation } from "./explainers.ts";
import { visibleTokens } from "./prompts.ts";
import { bootstrapInterval, detectionScore, type BootstrapInterval, pearsonWithReason, segmentBounds, slsScore, SLS_THRESHOLD, tlsScore } from "./scoring.ts";
import type { Simulator } from "./simulators.ts";
import type { ChatUsage, FeatureExamples } from "./types.ts";

export const SCORE_METHODS = ["tls", "sls", "detection"] as const;
export type ScoreMethod = (typeof SCORE_METHODS)[number];

/** Where features' examples come from: an example store, or plain data in notebooks and tests. */
export interface ExampleSource {
  ids(): string[];
  feature(id: string): FeatureExamples | Promise<FeatureExamples>;
}

/** A feature the loop could not finish, and why (the message never holds an API key: the client leaves it out). */
export interface FeatureFailure {
  id: string;
  stage: "explain" | ScoreMethod;
  message: string;
}

export interface Cost {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}

const noCost = (): Cost => ({ requests: 0, prompt_tokens: 0, completion_tokens: 0 });
const addUsage = (c: Cost, u: ChatUsage) => {
  c.requests += 1;
  c.prompt_tokens += u.prompt_tokens;
  c.completion_tokens += u.completion_tokens;
};
export const costTokens = (c: Cost | undefined): number => (c ? c.prompt_tokens + c.completion_tokens : 0);

export interface FeatureScores {
  id: string;
  explanation: string;
  simulator: string;
  tls?: { score: number | null; warning?: string; tokens: number };
  sls?: { score: number | null; warning?: string; segments: number; n: number; threshold: number };
  detection?: { f1: number | null; auc: number | null; precision: number | null; recall: number | null; warning?: string };
  cost: Partial<Record<ScoreMethod, Cost>>;
  /** Requests answered by the replay cache. */
  cached: number;
  failures: FeatureFailure[];
}

export interface LoopOptions {
  /** Features to process (default: all of the source). */
  features?: readonly string[];
  /** Features processed at once (the LLM client bounds its own requests too). Default 4. */
  concurrency?: number;
  progress?: Progress;
  signal?: AbortSignal;
}

/** Runs `work` over items with at most `limit` at once, results in input order. */
async function mapPool<T, R>(items: readonly T[], limit: number, work: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Failures of a request (server, cache miss, malformed answer) are the feature's; anything else is a bug and throws. */
const recordable = (err: unknown): err is SafesailError => err instanceof SafesailError;

export interface ExplainResult {
  explanations: Explanation[];
  failures: FeatureFailure[];
}

export async function explainFeatures(source: ExampleSource, explainer: Explainer, opts: LoopOptions & { onResult?: (e: Explanation | FeatureFailure) => void | Promise<void> } = {}): Promise<ExplainResult> {
  const ids = [...(opts.features ?? source.ids())];
  const progress = opts.progress ?? silentProgress;
  progress.start(`explain (${explainer.name})`, ids.length);
  let done = 0;
  const explanations: Explanation[] = [];
  const failures: FeatureFailure[] = [];
  await mapPool(ids, opts.concurrency ?? 4, async (id) => {
    opts.signal?.throwIfAborted();
    const fe = await source.feature(id);
    let result: Explanation | FeatureFailure;
    try {
      result = await explainer.explain(fe, opts.signal);
      explanations.push(result);
    } catch (err) {
      if (!recordable(err)) throw err;
      result = { id, stage: "explain", message: err.message };
      failures.push(result);
    }
    await opts.onResult?.(result);
    progress.update(++done, id);
  });
  progress.finish(failures.length ? `${failures.length} failed` : undefined);
  const order = new Map(ids.map((id, i) => [id, i]));
  explanations.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return { explanations, failures };
}

export interface ScoreOptions {
  methods?: readonly ScoreMethod[];
  /** SLS segments per window (default 8, the paper's n). */
  segments?: number;
  /** SLS: a segment is active when its normalised max exceeds this (default SLS_THRESHOLD). */
  threshold?: number;
  /** Seed of the detection shuffle. */
  seed?: number;
  signal?: AbortSignal;
}

/** Scores one feature's explanation on its test windows with each method asked for. */
export async function scoreFeature(fe: FeatureExamples, explanation: string, simulator: Simulator, opts: ScoreOptions = {}): Promise<FeatureScores> {
  const methods = opts.methods ?? SCORE_METHODS;
  const n = opts.segments ?? 8;
  const threshold = opts.threshold ?? SLS_THRESHOLD;
  const windows = [...fe.test.activating.map((w) => ({ w, active: true })), ...fe.test.nonActivating.map((w) => ({ w, active: false }))].map(({ w, active }) => ({ ...visibleTokens(w), active }))
    .filter((w) => w.tokens.length > 0);
  const out: FeatureScores = { id: fe.id, explanation, simulator: simulator.name, cost: {}, cached: 0, failures: [] };
  const ctx = { feature: fe.id, signal: opts.signal };
  const attempt = async (method: ScoreMethod, run: (cost: Cost, note: (cached: boolean) => void) => Promise<void>) => {
    const cost = noCost();
    out.cost[method] = cost;
    try {
      await run(cost, (cached) => void (cached && out.cached++));
    } catch (err) {
      if (!recordable(err)) throw err;
      out.failures.push({ id: fe.id, stage: method, message: err.message });
    }
  };
  if (methods.includes("tls")) {
    await attempt("tls", async (cost, note) => {
      const cases = [];
      for (const w of windows) {
        const r = await simulator.tokens(explanation, w.tokens, ctx);
        addUsage(cost, r.usage);
        note(r.cached);
        cases.push({ acts: w.acts, predicted: r.predictions });
      }
      out.tls = tlsScore(cases, fe.max_activation);
    });
  }
  if (methods.includes("sls")) {
    await attempt("sls", async (cost, note) => {
      const cases = [];
      for (const w of windows) {
        const texts = segmentBounds(w.tokens.length, n).map(([s, e]) => w.tokens.slice(s, e).join(""));
        const r = await simulator.segments(explanation, texts, ctx);
        addUsage(cost, r.usage);
        note(r.cached);
        cases.push({ acts: w.acts, predicted: r.predictions });
      }
      out.sls = { ...slsScore(cases, fe.normalisation.value, n, threshold), n, threshold };
    });
  }
  if (methods.includes("detection")) {
    await attempt("detection", async (cost, note) => {
      const order = shuffleInPlace(mulberry32(opts.seed ?? 0), windows.map((_, i) => i));
      const r = await simulator.detect(explanation, order.map((i) => windows[i]!.tokens.join("").replace(/\s+/g, " ").trim()), ctx);
      addUsage(cost, r.usage);
      note(r.cached);
      const d = detectionScore(order.map((i, j) => ({ activating: windows[i]!.active, predicted: r.predictions[j]! })));
      out.detection = { f1: d.f1, auc: d.auc, precision: d.precision, recall: d.recall, ...(d.warning ? { warning: d.warning } : {}) };
    });
  }
  return out;
}

export async function scoreFeatures(source: ExampleSource, explanations: ReadonlyMap<string, string>, simulator: Simulator, opts: ScoreOptions & LoopOptions & { onResult?: (s: FeatureScores) => void | Promise<void> } = {}): Promise<FeatureScores[]> {
  const ids = [...(opts.features ?? source.ids())];
  const progress = opts.progress ?? silentProgress;
  progress.start(`score (${simulator.name})`, ids.length);
  let done = 0;
  const results = await mapPool(ids, opts.concurrency ?? 4, async (id) => {
    opts.signal?.throwIfAborted();
    const explanation = explanations.get(id);
    let s: FeatureScores;
    if (explanation === undefined) {
      s = { id, explanation: "", simulator: simulator.name, cost: {}, cached: 0, failures: [{ id, stage: "tls", message: `feature ${id} has no explanation to score (run explain first)` }] };
    } else s = await scoreFeature(await source.feature(id), explanation, simulator, opts);
    await opts.onResult?.(s);
    progress.update(++done, id);
    return s;
  });
  const failed = results.filter((r) => r.failures.length > 0).length;
  progress.finish(failed ? `${failed} with failures` : undefined);
  return results;
}

export interface MethodSummary {
  /** Features with a score. */
  n: number;
  /** Features whose score is undefined (degenerate: constant truth or prediction), with the warning kept per feature. */
  undefined: number;
  mean: number | null;
  median: number | null;
  /** Bootstrap 95% interval of the mean over features. */
  ci95: [number, number] | null;
}

export interface ScoreSummary {
  features: number;
  simulator: string;
  tls: MethodSummary;
  sls: MethodSummary;
  detection: { n: number; f1_mean: number | null; auc_mean: number | null };
  /** Pearson r between SLS and TLS scores across the features that have both; null with a warning when undefined. */
  sls_tls_pearson: number | null;
  sls_tls_pearson_ci95: [number, number] | null;
  cost: { tls_tokens: number; sls_tokens: number; detection_tokens: number; ratio: number | null; tls_requests: number; sls_requests: number };
  cached_requests: number;
  failures: FeatureFailure[];
  warnings: string[];
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
function median(xs: readonly number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const interval = (b: BootstrapInterval): [number, number] | null => (b.low !== null && b.high !== null ? [b.low, b.high] : null);

function summariseMethod(scores: readonly (number | null | undefined)[], seed: number): MethodSummary {
  const present = scores.filter((s): s is number | null => s !== undefined);
  const xs = present.filter((s): s is number => s !== null);
  return { n: xs.length, undefined: present.length - xs.length, mean: mean(xs), median: median(xs), ci95: xs.length >= 2 ? interval(bootstrapInterval(xs, mean, { seed })) : null };
}

/** The `score --json` summary: per-method means with bootstrap intervals, the SLS-TLS agreement and the cost ratio. */
export function summariseScores(results: readonly FeatureScores[], opts: { seed?: number } = {}): ScoreSummary {
  const seed = opts.seed ?? 0;
  const warnings: string[] = [];
  const both = results.filter((r) => typeof r.tls?.score === "number" && typeof r.sls?.score === "number");
  const tlsXs = both.map((r) => r.tls!.score!);
  const slsXs = both.map((r) => r.sls!.score!);
  const agreement = pearsonWithReason(tlsXs, slsXs);
  if (agreement.r === null && results.some((r) => r.tls && r.sls)) warnings.push(`SLS-TLS correlation undefined over ${both.length} features: ${agreement.warning ?? "too few features"}`);
  let agreementCi: [number, number] | null = null;
  if (agreement.r !== null && both.length >= 3) {
    const pairs = both.map((_, i) => i);
    agreementCi = interval(bootstrapInterval(pairs, (idx) => pearsonWithReason(idx.map((i) => tlsXs[i]!), idx.map((i) => slsXs[i]!)).r, { seed }));
  }
  const sum = (m: ScoreMethod) => results.reduce((a, r) => a + costTokens(r.cost[m]), 0);
  const requests = (m: ScoreMethod) => results.reduce((a, r) => a + (r.cost[m]?.requests ?? 0), 0);
  const tlsTokens = sum("tls");
  const slsTokens = sum("sls");
  const det = results.filter((r) => r.detection);
  const undefinedCount = (m: "tls" | "sls") => results.filter((r) => r[m] && r[m]!.score === null).length;
  for (const m of ["tls", "sls"] as const) if (undefinedCount(m)) warnings.push(`${undefinedCount(m)} features have no ${m.toUpperCase()} score (degenerate: constant truth or constant prediction on their test windows)`);
  const failures = results.flatMap((r) => r.failures);
  if (failures.length) warnings.push(`${failures.length} scoring runs failed (see failures); rerun to retry them`);
  return {
    features: results.length,
    simulator: results[0]?.simulator ?? "",
    tls: summariseMethod(results.map((r) => r.tls?.score), seed),
    sls: summariseMethod(results.map((r) => r.sls?.score), seed),
    detection: { n: det.length, f1_mean: mean(det.map((r) => r.detection!.f1).filter((x): x is number => x !== null)), auc_mean: mean(det.map((r) => r.detection!.auc).filter((x): x is number => x !== null)) },
    sls_tls_pearson: agreement.r,
    sls_tls_pearson_ci95: agreementCi,
    cost: { tls_tokens: tlsTokens, sls_tokens: slsTokens, detection_tokens: sum("detection"), ratio: tlsTokens > 0 && slsTokens > 0 ? slsTokens / tlsTokens : null, tls_requests: requests("tls"), sls_requests: requests("sls") },
    cached_requests: results.reduce((a, r) => a + r.cached, 0),
    failures,
    warnings,
  };
}
