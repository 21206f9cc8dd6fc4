// Stage 2's results into feature records: what the example store measured, the explanation, the scores, the cost
// and any failure. Plain functions over plain records; the explain/score commands and notebooks save the database
// after each batch (atomically, src/db/store.ts), so an interrupted run loses nothing already answered.
import type { Explanation } from "../interpret/explainers.ts";
import { markedWindow } from "../interpret/prompts.ts";
import type { FeatureScores } from "../interpret/score.ts";
import type { FeatureExamples } from "../interpret/types.ts";
import { featureRecord, type FeatureDb, type FeatureRecord } from "./records.ts";

/** How many top windows a record keeps as text (the example store keeps them all). */
export const RECORD_TOP_EXAMPLES = 5;

/** A record for a feature of an example store, before explanation: tags, source and activation summary. */
export function recordFromExamples(fe: FeatureExamples, opts: { store: string; sae?: string; saeSha256?: string }): FeatureRecord {
  return featureRecord(fe.id, {
    explanation: null,
    correlation_score: null,
    tag_list: [...fe.tags],
    normalisation_quantile: fe.normalisation.quantile,
    source: { ...(opts.sae ? { sae: opts.sae } : {}), ...(opts.saeSha256 ? { sae_sha256: opts.saeSha256 } : {}), hook: fe.hook },
    activations: {
      store: opts.store,
      frac_nonzero: fe.frac_nonzero,
      max_activation: fe.max_activation,
      normalisation_value: fe.normalisation.value,
      histogram: fe.histogram,
      logits: fe.logits,
      top_examples: fe.train.top.slice(0, RECORD_TOP_EXAMPLES).map((w) => markedWindow(w, fe.normalisation.value)),
    },
  });
}

/**
 * The record with a new explanation. Scores of an earlier explanation no longer apply, so they are cleared; an
 * explain failure is recorded and leaves any earlier explanation in place.
 */
export function withExplanation(rec: FeatureRecord, e: Explanation | { stage: "explain"; message: string }): FeatureRecord {
  const failures = (rec.failures ?? []).filter((f) => f.stage !== "explain");
  if ("stage" in e) return { ...rec, failures: [...failures, { stage: "explain", message: e.message }] };
  const { tls_score: _t, detection: _d, scoring: _s, simulator: _m, ...rest } = rec;
  const cost = { ...(rec.cost ?? {}), explain: { requests: 1, ...e.usage } };
  delete cost.tls;
  delete cost.sls;
  delete cost.detection;
  const out: FeatureRecord = { ...rest, explanation: e.explanation, explainer: e.explainer, correlation_score: null, cost };
  if (failures.length) out.failures = failures;
  else delete out.failures;
  return out;
}

/** The record with the scores of one scoring run (methods not run keep their earlier values). */
export function withScores(rec: FeatureRecord, s: FeatureScores): FeatureRecord {
  const out: FeatureRecord = { ...rec, simulator: s.simulator, scoring: { ...(rec.scoring ?? {}) }, cost: { ...(rec.cost ?? {}) } };
  const ranStages = new Set(Object.keys(s.cost));
  const failures = (rec.failures ?? []).filter((f) => !ranStages.has(f.stage)).concat(s.failures.map((f) => ({ stage: f.stage, message: f.message })));
  if (s.tls) {
    out.tls_score = s.tls.score;
    out.scoring!.tls = { tokens: s.tls.tokens, ...(s.tls.warning ? { warning: s.tls.warning } : {}) };
  }
  if (s.sls) {
    out.correlation_score = s.sls.score;
    out.scoring!.sls = { segments: s.sls.segments, n: s.sls.n, threshold: s.sls.threshold, ...(s.sls.warning ? { warning: s.sls.warning } : {}) };
  }
  if (s.detection) {
    out.detection = { f1: s.detection.f1, auc: s.detection.auc };
    out.scoring!.detection = { precision: s.detection.precision, recall: s.detection.recall, ...(s.detection.warning ? { warning: s.detection.warning } : {}) };
  }
  for (const [m, c] of Object.entries(s.cost)) out.cost![m as "tls"] = c;
  if (failures.length) out.failures = failures;
  else delete out.failures;
  return out;
}

/** The database with `records` put in: replaced by id where present, appended otherwise (order kept). */
export function upsertRecords(db: FeatureDb, records: readonly FeatureRecord[]): FeatureDb {
  const byId = new Map(records.map((r) => [r.id, r]));
  const kept = db.records.map((r) => byId.get(r.id) ?? r);
  const known = new Set(db.records.map((r) => r.id));
  return { ...db, records: [...kept, ...records.filter((r) => !known.has(r.id))] };
}
