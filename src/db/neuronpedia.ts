// The feature database as Neuronpedia-style JSONL: one feature per line, for tools that read Neuronpedia's exports
// and for an upload to a self-hosted Neuronpedia. parseNeuronpediaJsonl reads the same lines back (and
// recordFromNeuronpedia turns one into a FeatureRecord), so an export can be checked by a round trip.
//
// One line:
//   {"modelId": "qwen2.5-3b-it", "layer": "17-safesail-mlp_out", "index": "2042", "hookName": null,
//    "explanations": [{"description": "...", "explanationModelName": null, "typeName": "safesail-sls"}],
//    "scores": [{"explanationScoreTypeName": "sls", "explanationScoreModelName": null, "value": 0.53}],
//    "tags": ["violence"], "safesail_id": "17_2042", "safesail_masked": false}
//
// Fields that follow Neuronpedia (its database schema, apps/webapp/prisma/schema.prisma, whose rows its exports
// carry): `modelId`; `layer`, which in Neuronpedia is the *source* id "{layer}-{source set}" (as in
// "20-gemmascope-res-16k"), not a number; `index`, a string; `hookName` (Neuron.hookName, null when the database
// does not record the hook); the explanation's `description`, `explanationModelName` (the explainer LLM) and
// `typeName` (the explanation method); a score's `value`, `explanationScoreTypeName` and `explanationScoreModelName`
// (the simulator LLM).
// Ours: `scores` at the feature level (Neuronpedia keeps ExplanationScore rows under an explanation; the Safe-SAIL
// release has SLS scores for features whose explanation it masked, which would otherwise have nowhere to go), the
// score type names "sls" (correlation_score), "tls", "detection-f1", "detection-auc", `tags` (Safe-SAIL's safety
// domains), `safesail_id` ("{layer}_{index}") and `safesail_masked`.
// A record whose explanation is null, or "***" (the release masks some), is exported with an empty `explanations`
// list: "***" is not a description. `safesail_masked` tells the two apart, so the round trip restores "***".
// Not exported: normalisation_quantile, source.sae and source.sae_sha256, the activation summary, scoring detail,
// cost and failures, and the difference between an absent score and a null one (neither gives a score entry; a
// detection with one of f1/auc null comes back with that one null).
import { ArgumentError, FormatError, describeValue } from "../errors.ts";
import { featureRecord, type FeatureDb, type FeatureRecord } from "./records.ts";

/** The Safe-SAIL release's model (Qwen2.5-3B-Instruct) in Neuronpedia's lower-case, "-it" naming. */
export const NEURONPEDIA_DEFAULT_MODEL_ID = "qwen2.5-3b-it";
/** Source set of Safe-SAIL's SAEs: they read the MLP output (blocks.{L}.hook_mlp_out). */
export const NEURONPEDIA_DEFAULT_SAE_SET = "safesail-mlp_out";
/** Explanation typeName of Safe-SAIL explanations. */
export const NEURONPEDIA_EXPLANATION_TYPE = "safesail-sls";

export type NeuronpediaScoreType = "sls" | "tls" | "detection-f1" | "detection-auc";
const SCORE_TYPES: readonly NeuronpediaScoreType[] = ["sls", "tls", "detection-f1", "detection-auc"];

export interface NeuronpediaExplanation {
  description: string;
  explanationModelName: string | null;
  typeName: string;
}

export interface NeuronpediaScore {
  explanationScoreTypeName: NeuronpediaScoreType;
  explanationScoreModelName: string | null;
  value: number;
}

/** One line of the export. */
export interface NeuronpediaFeature {
  modelId: string;
  /** Neuronpedia's source id, "{layer}-{saeSet}". */
  layer: string;
  /** The latent index, as a string (Neuronpedia's type). */
  index: string;
  hookName: string | null;
  explanations: NeuronpediaExplanation[];
  scores: NeuronpediaScore[];
  tags: string[];
  /** "{layer}_{index}". */
  safesail_id: string;
  /** The release masked the explanation ("***"). */
  safesail_masked: boolean;
}

export interface NeuronpediaExportOptions {
  /** Neuronpedia model id (default NEURONPEDIA_DEFAULT_MODEL_ID). */
  modelId?: string;
  /**
   * Source set name: the part of the source id after "{layer}-". Default: "safesail-{site}" from the record's hook
   * (blocks.{L}.hook_{site}) where it has one, else NEURONPEDIA_DEFAULT_SAE_SET.
   */
  saeSet?: string;
}

// A source id is a URL path segment on Neuronpedia (/{modelId}/{source}/{index}).
const ID_PATTERN = /^[A-Za-z0-9._-]+$/;

function checkId(value: unknown, field: string): string {
  if (typeof value !== "string" || !ID_PATTERN.test(value)) {
    throw new ArgumentError(`exportNeuronpedia: ${field} must be letters, digits, ".", "_" or "-" (a URL path segment), got ${describeValue(value)}`, { field });
  }
  return value;
}

function saeSetOf(record: FeatureRecord, saeSet: string | undefined): string {
  if (saeSet !== undefined) return saeSet;
  const m = /^blocks\.\d+\.hook_([A-Za-z0-9_]+)$/.exec(record.source?.hook ?? "");
  return m ? `safesail-${m[1]}` : NEURONPEDIA_DEFAULT_SAE_SET;
}

/** One record as a Neuronpedia-style line object. */
export function neuronpediaFeature(record: FeatureRecord, opts: NeuronpediaExportOptions = {}): NeuronpediaFeature {
  const modelId = checkId(opts.modelId ?? NEURONPEDIA_DEFAULT_MODEL_ID, "modelId");
  const saeSet = checkId(saeSetOf(record, opts.saeSet), "saeSet");
  const masked = record.explanation === "***";
  const explanations: NeuronpediaExplanation[] =
    record.explanation === null || masked ? [] : [{ description: record.explanation, explanationModelName: record.explainer ?? null, typeName: NEURONPEDIA_EXPLANATION_TYPE }];
  const scores: NeuronpediaScore[] = [];
  const score = (type: NeuronpediaScoreType, value: number | null | undefined) => {
    if (value !== null && value !== undefined) scores.push({ explanationScoreTypeName: type, explanationScoreModelName: record.simulator ?? null, value });
  };
  score("sls", record.correlation_score);
  score("tls", record.tls_score);
  score("detection-f1", record.detection?.f1);
  score("detection-auc", record.detection?.auc);
  return {
    modelId,
    layer: `${record.layer}-${saeSet}`,
    index: String(record.index),
    hookName: record.source?.hook ?? null,
    explanations,
    scores,
    tags: [...record.tag_list],
    safesail_id: record.id,
    safesail_masked: masked,
  };
}

/** The database as JSONL, one feature per line in the database's order, each line ending in "\n". */
export function exportNeuronpedia(db: FeatureDb, opts: NeuronpediaExportOptions = {}): string {
  return db.records.map((r) => JSON.stringify(neuronpediaFeature(r, opts)) + "\n").join("");
}

const FIELDS = ["modelId", "layer", "index", "hookName", "explanations", "scores", "tags", "safesail_id", "safesail_masked"];

function checkLine(value: unknown, where: string): NeuronpediaFeature {
  const bad = (field: string, expected: string, got: unknown): never => {
    throw new FormatError(`${where}: ${field}: expected ${expected}, got ${describeValue(got)}`, { field });
  };
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad("(line)", "an object", value);
  const v = value as Record<string, unknown>;
  const extra = Object.keys(v).find((k) => !FIELDS.includes(k));
  if (extra !== undefined) throw new FormatError(`${where}: unknown field ${JSON.stringify(extra)} (a line has ${FIELDS.join(", ")})`, { field: extra });
  if (typeof v.modelId !== "string" || v.modelId === "") bad("modelId", "a non-empty string", v.modelId);
  const source = typeof v.layer === "string" ? /^(\d+)-(.+)$/.exec(v.layer) : null;
  if (!source) bad("layer", 'a source id "{layer}-{set}", e.g. "17-safesail-mlp_out"', v.layer);
  if (typeof v.index !== "string" || !/^\d+$/.test(v.index)) bad("index", "a string of digits", v.index);
  const id = `${Number(source![1])}_${Number(v.index)}`;
  if (v.safesail_id !== id) bad("safesail_id", `${JSON.stringify(id)} (from layer and index)`, v.safesail_id);
  if (!(v.hookName === null || typeof v.hookName === "string")) bad("hookName", "a string or null", v.hookName);
  if (typeof v.safesail_masked !== "boolean") bad("safesail_masked", "true or false", v.safesail_masked);
  if (!Array.isArray(v.tags) || !v.tags.every((t) => typeof t === "string")) bad("tags", "a list of strings", v.tags);
  if (!Array.isArray(v.explanations)) bad("explanations", "a list", v.explanations);
  (v.explanations as unknown[]).forEach((e, i) => {
    const f = `explanations[${i}]`;
    if (e === null || typeof e !== "object" || Array.isArray(e)) bad(f, "an object", e);
    const x = e as Record<string, unknown>;
    if (typeof x.description !== "string") bad(`${f}.description`, "a string", x.description);
    if (!(x.explanationModelName === null || typeof x.explanationModelName === "string")) bad(`${f}.explanationModelName`, "a string or null", x.explanationModelName);
    if (typeof x.typeName !== "string") bad(`${f}.typeName`, "a string", x.typeName);
  });
  if (v.safesail_masked === true && (v.explanations as unknown[]).length > 0) bad("explanations", "an empty list (safesail_masked is true)", v.explanations);
  if (!Array.isArray(v.scores)) bad("scores", "a list", v.scores);
  const seen = new Set<string>();
  (v.scores as unknown[]).forEach((s, i) => {
    const f = `scores[${i}]`;
    if (s === null || typeof s !== "object" || Array.isArray(s)) bad(f, "an object", s);
    const x = s as Record<string, unknown>;
    if (!SCORE_TYPES.includes(x.explanationScoreTypeName as NeuronpediaScoreType)) bad(`${f}.explanationScoreTypeName`, `one of ${SCORE_TYPES.join(", ")}`, x.explanationScoreTypeName);
    if (seen.has(x.explanationScoreTypeName as string)) bad(`${f}.explanationScoreTypeName`, "each score type once", x.explanationScoreTypeName);
    seen.add(x.explanationScoreTypeName as string);
    if (!(x.explanationScoreModelName === null || typeof x.explanationScoreModelName === "string")) bad(`${f}.explanationScoreModelName`, "a string or null", x.explanationScoreModelName);
    if (typeof x.value !== "number" || !Number.isFinite(x.value)) bad(`${f}.value`, "a finite number", x.value);
  });
  return v as unknown as NeuronpediaFeature;
}

/** Reads export lines back; every error names `source:line` and the field. A feature may appear once per model. */
export function parseNeuronpediaJsonl(text: string, source = "<neuronpedia jsonl>"): NeuronpediaFeature[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop(); // the last line's newline
  const seen = new Map<string, number>();
  return lines.map((line, i) => {
    const where = `${source}:${i + 1}`;
    if (line.trim() === "") throw new FormatError(`${where}: empty line`);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new FormatError(`${where}: not JSON (${(err as Error).message})`);
    }
    const f = checkLine(value, where);
    const key = `${f.modelId}/${f.layer}/${f.index}`;
    const first = seen.get(key);
    if (first !== undefined) throw new FormatError(`${where}: feature ${key} already on line ${first}`, { field: "index" });
    seen.set(key, i + 1);
    return f;
  });
}

/** The FeatureRecord an export line came from (the fields the export keeps; see the header). */
export function recordFromNeuronpedia(f: NeuronpediaFeature, where = f.safesail_id): FeatureRecord {
  if (f.explanations.length > 1) throw new FormatError(`${where}: explanations: a feature record holds one explanation, got ${f.explanations.length}`, { field: "explanations" });
  const byType = new Map(f.scores.map((s) => [s.explanationScoreTypeName, s]));
  const f1 = byType.get("detection-f1");
  const auc = byType.get("detection-auc");
  const explanation = f.explanations[0];
  const simulator = f.scores.find((s) => s.explanationScoreModelName !== null)?.explanationScoreModelName;
  const tls = byType.get("tls");
  return featureRecord(f.safesail_id, {
    explanation: f.safesail_masked ? "***" : (explanation?.description ?? null),
    correlation_score: byType.get("sls")?.value ?? null,
    ...(tls ? { tls_score: tls.value } : {}),
    // A detection score that was undefined (e.g. AUC without non-activating windows) has no line entry: null again.
    ...(f1 || auc ? { detection: { f1: f1?.value ?? null, auc: auc?.value ?? null } } : {}),
    tag_list: [...f.tags],
    ...(explanation?.explanationModelName ? { explainer: explanation.explanationModelName } : {}),
    ...(simulator ? { simulator } : {}),
    ...(f.hookName !== null ? { source: { hook: f.hookName } } : {}),
  });
}
