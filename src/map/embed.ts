// Explanations as vectors: the map's notion of "alike".
//
// - "tfidf" (default, offline): TF-IDF of words and bigrams (src/map/text.ts) reduced by a seeded randomized SVD to
//   `dims` (64) components, i.e. latent semantic analysis. Rows are X·V = U·Σ, scaled to unit length, compared by
//   cosine. It sees shared words, not meaning.
// - a model (a local folder or a hub id fetched through HF_ENDPOINT into the hub cache): a @huggingface/transformers
//   "feature-extraction" pipeline, offline, mean-pooled over the attention mask and scaled to unit length. The
//   folder needs config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx (fp32); texts longer than
//   the tokenizer's model_max_length are truncated by the pipeline.
//
// Placement: a feature without an explanation (null), with the release's mask "***", or with an empty one has no
// text to place it by. It is left out of the map and listed in `unplaced` with the reason, never given a made-up
// position. With TF-IDF a text none of whose words occurs in another explanation has an all-zero row ("no-terms")
// and is left out the same way.
import * as fs from "node:fs";
import * as path from "node:path";
import { ArgumentError, FormatError, NonFiniteError, NotFoundError } from "../errors.ts";
import type { FeatureRecord } from "../db/records.ts";
import { downloadRepoFiles, isHubId, type HubOptions } from "../model/hub.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { deriveSeed } from "../util/prng.ts";
import { checkInt, checkPositiveInt } from "../util/validate.ts";
import { csrOperator, randomizedSvd } from "./svd.ts";
import { termCounts, tfidf } from "./text.ts";

export type UnplacedReason = "null" | "masked" | "empty" | "no-terms";

export interface UnplacedFeature {
  id: string;
  tags: string[];
  reason: UnplacedReason;
}

/** The release's mask for explanations it does not publish (all politics features). */
export const MASKED_EXPLANATION = "***";

export interface TfIdfEmbeddingDescription {
  kind: "tfidf-svd";
  /** One sentence a reader can act on. */
  text: string;
  dims: number;
  /** Vocabulary size (terms kept by minDf). */
  terms: number;
  minDf: number;
  ngrams: [1, 2];
  tf: "1 + ln(count)";
  idf: "ln((1 + n) / (1 + df)) + 1";
  norm: "l2";
  svd: { method: "randomized"; oversample: number; powerIterations: number; seed: number };
  /** Share of the TF-IDF matrix's squared norm the kept components hold (sum s² / ||X||²). */
  explainedVariance: number;
}

export interface TransformersEmbeddingDescription {
  kind: "transformers";
  text: string;
  /** As given: a folder or a hub id. */
  model: string;
  dims: number;
  pooling: "mean";
  normalize: true;
}

export type EmbeddingDescription = TfIdfEmbeddingDescription | TransformersEmbeddingDescription;

export interface ExplanationEmbedding {
  /** Placed features, in the records' order. */
  ids: string[];
  /** ids.length rows of `dims` numbers, row-major, each of unit length. */
  vectors: Float64Array;
  dims: number;
  description: EmbeddingDescription;
  unplaced: UnplacedFeature[];
}

export interface EmbedOptions {
  /** "tfidf" (default) or a feature-extraction model: a local folder or a hub id (org/name[@revision]). */
  embedding?: string;
  /** Seeds the SVD's sketch (default 0). */
  seed?: number;
  /** TF-IDF: components kept (default 64; at most the number of documents and terms). */
  dims?: number;
  /** TF-IDF: a term must occur in this many explanations (default 2). */
  minDf?: number;
  /** Model: texts per forward pass (default 16). */
  batchSize?: number;
  /** Hub downloads (endpoint, cache, token environment) for a hub id. */
  hub?: HubOptions;
  progress?: Progress;
}

/** Why a record cannot be placed by its text, or null when it can. */
export function unplacedReason(r: Pick<FeatureRecord, "explanation">): Exclude<UnplacedReason, "no-terms"> | null {
  if (r.explanation === null) return "null";
  if (r.explanation === MASKED_EXPLANATION) return "masked";
  if (r.explanation.trim() === "") return "empty";
  return null;
}

function checkRecords(records: readonly FeatureRecord[], where: string): void {
  if (!Array.isArray(records)) throw new ArgumentError(`${where}: records must be a list of feature records`, { field: "records" });
  const seen = new Set<string>();
  records.forEach((r, i) => {
    if (!r || typeof r.id !== "string") throw new ArgumentError(`${where}: records[${i}].id must be a string`, { field: "records" });
    if (seen.has(r.id)) throw new ArgumentError(`${where}: records[${i}].id: feature ${r.id} appears twice`, { field: "records" });
    seen.add(r.id);
    if (!(r.explanation === null || typeof r.explanation === "string")) throw new ArgumentError(`${where}: records[${i}].explanation must be a string or null`, { field: "records" });
    if (!Array.isArray(r.tag_list)) throw new ArgumentError(`${where}: records[${i}].tag_list must be a list of strings`, { field: "records" });
  });
}

/** Records split into those with a text to place and those without (with the reason). */
export function splitPlaceable(records: readonly FeatureRecord[]): { placeable: FeatureRecord[]; unplaced: UnplacedFeature[] } {
  const placeable: FeatureRecord[] = [];
  const unplaced: UnplacedFeature[] = [];
  for (const r of records) {
    const reason = unplacedReason(r);
    if (reason) unplaced.push({ id: r.id, tags: [...r.tag_list], reason });
    else placeable.push(r);
  }
  return { placeable, unplaced };
}

/** The explanations of `records` as unit vectors (file comment: the two embeddings and the placement rule). */
export async function embedExplanations(records: readonly FeatureRecord[], opts: EmbedOptions = {}): Promise<ExplanationEmbedding> {
  checkRecords(records, "embedExplanations");
  const embedding = opts.embedding ?? "tfidf";
  if (typeof embedding !== "string" || embedding === "") throw new ArgumentError(`embedExplanations: embedding must be "tfidf" or a model folder or hub id, got ${JSON.stringify(embedding)}`, { field: "embedding" });
  const seed = checkInt(opts.seed ?? 0, "seed", { where: "embedExplanations" });
  const { placeable, unplaced } = splitPlaceable(records);
  if (placeable.length === 0) return { ids: [], vectors: new Float64Array(0), dims: 0, description: await describeOnly(embedding, opts, seed), unplaced };
  return embedding === "tfidf" ? embedTfIdf(placeable, unplaced, opts, seed) : embedWithModel(placeable, unplaced, embedding, opts);
}

// Nothing to embed: the description still says what would have been used.
async function describeOnly(embedding: string, opts: EmbedOptions, seed: number): Promise<EmbeddingDescription> {
  if (embedding !== "tfidf") return { kind: "transformers", text: `${embedding}: no explanation to embed`, model: embedding, dims: 0, pooling: "mean", normalize: true };
  return tfidfDescription(0, 0, opts.minDf ?? 2, deriveSeed(seed, "svd"), 0);
}

function tfidfDescription(dims: number, terms: number, minDf: number, svdSeed: number, explained: number): TfIdfEmbeddingDescription {
  return {
    kind: "tfidf-svd",
    text: `TF-IDF of words and word pairs (sublinear tf, smooth idf, l2 rows; terms in >= ${minDf} explanations) reduced by randomized SVD to ${dims} dimensions, compared by cosine: it measures shared words, not meaning`,
    dims,
    terms,
    minDf,
    ngrams: [1, 2],
    tf: "1 + ln(count)",
    idf: "ln((1 + n) / (1 + df)) + 1",
    norm: "l2",
    svd: { method: "randomized", oversample: 10, powerIterations: 4, seed: svdSeed },
    explainedVariance: explained,
  };
}

function embedTfIdf(placeable: FeatureRecord[], unplaced: UnplacedFeature[], opts: EmbedOptions, seed: number): ExplanationEmbedding {
  const progress = opts.progress ?? silentProgress;
  const wantDims = checkPositiveInt(opts.dims ?? 64, "dims", { where: "embedExplanations" });
  const minDf = checkPositiveInt(opts.minDf ?? 2, "minDf", { where: "embedExplanations" });
  progress.start("tf-idf", 0);
  const tf = tfidf(
    placeable.map((r) => r.explanation!),
    { minDf },
  );
  progress.finish(`${tf.terms.length} terms`);
  // Rows with no kept term cannot be placed; the SVD runs on the rest.
  const keep: number[] = [];
  for (let r = 0; r < tf.matrix.rows; r++) {
    if (tf.matrix.indptr[r + 1]! > tf.matrix.indptr[r]!) keep.push(r);
    else unplaced.push({ id: placeable[r]!.id, tags: [...placeable[r]!.tag_list], reason: "no-terms" });
  }
  const svdSeed = deriveSeed(seed, "svd");
  if (keep.length === 0) return { ids: [], vectors: new Float64Array(0), dims: 0, description: tfidfDescription(0, tf.terms.length, minDf, svdSeed, 0), unplaced };
  const m = tf.matrix;
  const indptr = new Int32Array(keep.length + 1);
  keep.forEach((r, i) => (indptr[i + 1] = indptr[i]! + (m.indptr[r + 1]! - m.indptr[r]!)));
  const indices = new Int32Array(indptr[keep.length]!);
  const values = new Float64Array(indptr[keep.length]!);
  keep.forEach((r, i) => {
    indices.set(m.indices.subarray(m.indptr[r]!, m.indptr[r + 1]!), indptr[i]!);
    values.set(m.values.subarray(m.indptr[r]!, m.indptr[r + 1]!), indptr[i]!);
  });
  const x = { rows: keep.length, cols: m.cols, indptr, indices, values };
  const dims = Math.min(wantDims, x.rows, x.cols);
  progress.start("svd", 0);
  const svd = randomizedSvd(csrOperator(x), dims, { seed: svdSeed });
  progress.finish(`${dims} components`);
  // Rows of X·V = U·Σ; each TF-IDF row has unit norm, so ||X||² = rows.
  const n = x.rows;
  const vectors = new Float64Array(n * dims);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let c = 0; c < dims; c++) {
      const val = svd.u.data[c * n + i]! * svd.s[c]!;
      vectors[i * dims + c] = val;
      norm += val * val;
    }
    norm = Math.sqrt(norm);
    for (let c = 0; c < dims; c++) vectors[i * dims + c] = norm > 0 ? vectors[i * dims + c]! / norm : 0;
  }
  // A row orthogonal to every kept component has no position: place nothing rather than the origin.
  const zeroRows = [];
  for (let i = 0; i < n; i++) if (vectors.subarray(i * dims, i * dims + dims).every((v) => v === 0)) zeroRows.push(i);
  let ids = keep.map((r) => placeable[r]!.id);
  let out = vectors;
  if (zeroRows.length) {
    const drop = new Set(zeroRows);
    for (const i of zeroRows) unplaced.push({ id: ids[i]!, tags: [...placeable[keep[i]!]!.tag_list], reason: "no-terms" });
    const rows = ids.map((_, i) => i).filter((i) => !drop.has(i));
    out = new Float64Array(rows.length * dims);
    rows.forEach((i, k) => out.set(vectors.subarray(i * dims, i * dims + dims), k * dims));
    ids = rows.map((i) => ids[i]!);
  }
  let s2 = 0;
  for (const s of svd.s) s2 += s * s;
  return { ids, vectors: out, dims, description: tfidfDescription(dims, tf.terms.length, minDf, svdSeed, s2 / n), unplaced };
}

/** The four files the feature-extraction pipeline reads. */
export const EMBEDDING_MODEL_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"] as const;

/** A model folder for `spec`: an existing folder as is, a hub id downloaded (EMBEDDING_MODEL_FILES) into the hub cache. */
export async function resolveEmbeddingModel(spec: string, hub: HubOptions = {}): Promise<string> {
  if (fs.existsSync(spec)) {
    const dir = path.resolve(spec);
    if (!fs.statSync(dir).isDirectory()) throw new ArgumentError(`embedding: ${spec} is not a folder (give the model folder)`, { field: "embedding", file: dir });
    const missing = EMBEDDING_MODEL_FILES.filter((f) => !fs.existsSync(path.join(dir, f)));
    if (missing.length) throw new NotFoundError(`embedding: ${spec}: no ${missing.join(", ")} in the folder (a transformers.js feature-extraction model needs ${EMBEDDING_MODEL_FILES.join(", ")})`, { field: "embedding", file: dir });
    return dir;
  }
  if (!isHubId(spec) || /^(\.{1,2}[\\/]|[\\/]|~)/.test(spec)) {
    throw new NotFoundError(`embedding: ${spec}: no such folder, and not a hub id like "org/name" (or "tfidf" for the offline default)`, { field: "embedding", file: spec });
  }
  const at = spec.indexOf("@");
  const repoId = at >= 0 ? spec.slice(0, at) : spec;
  const revision = at >= 0 ? spec.slice(at + 1) : hub.revision;
  return downloadRepoFiles(repoId, EMBEDDING_MODEL_FILES, { ...hub, revision });
}

/** The transformers.js surface used here (kept narrow so its types do not leak). */
type Extractor = ((texts: string[], opts: { pooling: "mean"; normalize: boolean }) => Promise<{ data: ArrayLike<number>; dims: number[] }>) & { dispose?: () => Promise<void> };

async function embedWithModel(placeable: FeatureRecord[], unplaced: UnplacedFeature[], spec: string, opts: EmbedOptions): Promise<ExplanationEmbedding> {
  const progress = opts.progress ?? silentProgress;
  const batch = checkPositiveInt(opts.batchSize ?? 16, "batchSize", { where: "embedExplanations" });
  const dir = await resolveEmbeddingModel(spec, opts.hub);
  const { pipeline, env } = await import("@huggingface/transformers");
  // Offline from the folder, as src/model/tokenizer.ts loads tokenizers: never a request from transformers.js.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(dir);
  let extract: Extractor;
  try {
    extract = (await pipeline("feature-extraction", path.basename(dir), { local_files_only: true, dtype: "fp32" })) as unknown as Extractor;
  } catch (err) {
    throw new FormatError(`embedding: ${spec}: cannot load a feature-extraction model from ${dir}: ${(err as Error).message}`, { field: "embedding", file: dir, cause: err });
  }
  const texts = placeable.map((r) => r.explanation!);
  let dims = 0;
  let vectors = new Float64Array(0);
  progress.start(`embed (${spec})`, texts.length);
  try {
    for (let start = 0; start < texts.length; start += batch) {
      const out = await extract(texts.slice(start, start + batch), { pooling: "mean", normalize: true });
      if (out.dims.length !== 2) throw new FormatError(`embedding: ${spec}: the pipeline returned shape [${out.dims}], expected [texts, dims]`, { field: "embedding" });
      if (dims === 0) {
        dims = out.dims[1]!;
        vectors = new Float64Array(texts.length * dims);
      }
      for (let i = 0; i < out.data.length; i++) {
        const v = out.data[i]!;
        // A zero pooled vector normalises to NaN: no direction, no place on a map.
        if (!Number.isFinite(v)) throw new NonFiniteError(`embedding: ${spec}: non-finite embedding for feature ${placeable[start + Math.floor(i / dims)]!.id}`, { field: "embedding", file: dir });
        vectors[start * dims + i] = v;
      }
      progress.update(Math.min(start + batch, texts.length));
    }
  } finally {
    await extract.dispose?.();
  }
  progress.finish(`${dims} dimensions`);
  return {
    ids: placeable.map((r) => r.id),
    vectors,
    dims,
    description: { kind: "transformers", text: `${spec}: transformers.js feature-extraction, mean pooling over tokens, unit length, compared by cosine`, model: spec, dims, pooling: "mean", normalize: true },
    unplaced,
  };
}

/** Distinct terms (words and bigrams, as TF-IDF counts them) of each text: what cluster labels are made of. */
export function distinctTerms(texts: readonly string[]): string[][] {
  return texts.map((t) => [...termCounts(t).keys()]);
}
