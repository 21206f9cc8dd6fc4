// The feature database: one record per SAE feature, what stage 2 learns about it (explanation, scores, domain tags)
// and where it came from. One JSON file with a format name and version (src/db/store.ts); the Safe-SAIL release's
// dict format is an import/export (src/db/safe-sail.ts).
import { FormatError } from "../errors.ts";
import { parseFeatureId } from "../safety.ts";

export const FEATURE_DB_FORMAT = "safesail-feature-db";
export const FEATURE_DB_VERSION = 1;

export interface FeatureRecord {
  /** `{layer}_{index}`, as Safe-SAIL names features. */
  id: string;
  layer: number;
  index: number;
  /** The explanation; null when there is none, `"***"` where the release masked it. */
  explanation: string | null;
  /** Safe-SAIL's score: segment-level simulation (SLS) Pearson r. */
  correlation_score: number | null;
  /** Token-level simulation (TLS) Pearson r, when scored. */
  tls_score?: number | null;
  /** Detection scores, when scored (auc null when undefined: no activating or no non-activating test window). */
  detection?: { f1: number | null; auc: number | null } | null;
  /** Safety domains (pornography, politics, violence, terror); other strings are kept as they came. */
  tag_list: string[];
  explainer?: string;
  simulator?: string;
  /** The per-feature normalisation quantile of the activations the scores used (0.999 by default). */
  normalisation_quantile?: number;
  /** The SAE and hook the feature belongs to. */
  source?: { sae?: string; sae_sha256?: string; hook?: string };
  /** What the example store measured (stage 2's examples), kept with the record so a database stands alone. */
  activations?: FeatureActivationSummary;
  /** How each score was obtained: test windows, SLS settings, warnings for undefined scores. */
  scoring?: FeatureScoringDetail;
  /** Tokens spent per step (API usage, or counted offline for the baselines). */
  cost?: Partial<Record<"explain" | "tls" | "sls" | "detection", { requests: number; prompt_tokens: number; completion_tokens: number }>>;
  /** Steps that failed for this feature (a server error, a cache miss, a malformed answer); a rerun retries them. */
  failures?: { stage: string; message: string }[];
}

export interface FeatureActivationSummary {
  /** The example store the record was built from. */
  store: string;
  frac_nonzero: number;
  max_activation: number;
  /** The normalising quantile's value (activation / value = normalised activation). */
  normalisation_value: number;
  histogram: { edges: number[]; counts: number[] };
  logits: { top: { id: number; token: string; value: number }[]; bottom: { id: number; token: string; value: number }[] };
  /** The top-activating windows as text, activating tokens marked <<token>>(0-10); the store has them all. */
  top_examples: string[];
}

export interface FeatureScoringDetail {
  tls?: { tokens: number; warning?: string };
  sls?: { segments: number; n: number; threshold: number; warning?: string };
  detection?: { precision: number | null; recall: number | null; warning?: string };
  /** Test windows scored: activating and non-activating (from documents the explainer never saw). */
  windows?: { activating: number; non_activating: number };
}

export interface FeatureDb {
  format: typeof FEATURE_DB_FORMAT;
  version: typeof FEATURE_DB_VERSION;
  /** Free text: where the records came from (an imported file, an explain run). */
  description?: string;
  /** Present in a shard's database only (`explain`/`score --shard I/N`): which part it holds (./shards.ts). */
  shard?: FeatureDbShard;
  records: FeatureRecord[];
}

/**
 * A shard of explain/score (docs/scale-out.md): the features of one example store, listed in order, were split
 * round robin, and this database holds the records of features `i % count === index` (`ids`). `safesail db merge`
 * checks the N shards against each other with it.
 */
export interface FeatureDbShard {
  index: number;
  count: number;
  /** The example store (path as the shard saw it; sha256 of its index, the model fingerprint and SAEs identify it). */
  examples: { path: string; sha256: string; model_fingerprint: string; saes: string[] };
  /** The whole list that was split: its length and the sha256 of its ids joined by newlines. */
  features: { count: number; sha256: string };
  /** This shard's features, in list order. */
  ids: string[];
  /** The explain run on this shard: its explainer, and whether it reached the end. */
  explain?: { explainer: string; complete: boolean };
  /** The score run on this shard: its simulator and settings, and whether it reached the end. */
  score?: { simulator: string; methods: string[]; segments: number; threshold: number; seed: number; complete: boolean };
}

/** A record from its id and fields (layer and index parsed from the id). */
export function featureRecord(id: string, fields: Omit<FeatureRecord, "id" | "layer" | "index">): FeatureRecord {
  const { layer, index } = parseFeatureId(id, "id");
  return { id, layer, index, ...fields };
}

const nullableNumber = (v: unknown) => v === null || (typeof v === "number" && !Number.isNaN(v));

/** Checks one record read from a file; errors name `where` and the field. */
export function checkRecord(value: unknown, where: string): FeatureRecord {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new FormatError(`${where}: expected an object`);
  const r = value as Record<string, unknown>;
  const bad = (field: string, expected: string): never => {
    throw new FormatError(`${where}.${field}: expected ${expected}, got ${JSON.stringify(r[field]) ?? "nothing"}`);
  };
  let ref;
  try {
    ref = parseFeatureId(r.id, `${where}.id`);
  } catch (err) {
    throw new FormatError((err as Error).message);
  }
  if (r.layer !== ref.layer) bad("layer", `${ref.layer} (from the id)`);
  if (r.index !== ref.index) bad("index", `${ref.index} (from the id)`);
  if (!(r.explanation === null || typeof r.explanation === "string")) bad("explanation", "a string or null");
  if (!nullableNumber(r.correlation_score)) bad("correlation_score", "a number or null");
  if (r.tls_score !== undefined && !nullableNumber(r.tls_score)) bad("tls_score", "a number or null");
  if (!Array.isArray(r.tag_list) || !r.tag_list.every((t) => typeof t === "string")) bad("tag_list", "a list of strings");
  if (r.detection !== undefined && r.detection !== null) {
    const d = r.detection as Record<string, unknown>;
    if (typeof d !== "object" || !(d.f1 === null || typeof d.f1 === "number") || !(d.auc === null || typeof d.auc === "number")) bad("detection", "{ f1, auc } or null");
  }
  for (const f of ["activations", "scoring", "cost"]) if (r[f] !== undefined && (r[f] === null || typeof r[f] !== "object" || Array.isArray(r[f]))) bad(f, "an object");
  if (r.failures !== undefined && !(Array.isArray(r.failures) && r.failures.every((x) => x && typeof x === "object" && typeof (x as { message?: unknown }).message === "string"))) bad("failures", "a list of { stage, message }");
  for (const f of ["explainer", "simulator"]) if (r[f] !== undefined && typeof r[f] !== "string") bad(f, "a string");
  if (r.normalisation_quantile !== undefined && !(typeof r.normalisation_quantile === "number" && r.normalisation_quantile > 0 && r.normalisation_quantile <= 1)) {
    bad("normalisation_quantile", "a number in (0, 1]");
  }
  return r as unknown as FeatureRecord;
}
