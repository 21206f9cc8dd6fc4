// MAP.json: the feature map as plain data, for the StarMap widget and for scripts.
//
//   { "format": "safesail-feature-map", "version": 1, "seed", "source", "embedding", "layout", "clustering",
//     "points": [{ "id", "x", "y", "cluster", "tags", "explanation", "score" }, ...],
//     "clusters": [{ "id", "label", "words", "size", "x", "y", "tags" }, ...],
//     "unplaced": [{ "id", "tags", "reason" }, ...], "quality": { "map", "embedding" }, "warnings": [...] }
//
// Written atomically, one point per line (diffable, and no timestamp: the same inputs and seed give the same bytes).
// Reading checks every field a consumer relies on; errors name the file and the field (points[12].x).
import { readFile } from "node:fs/promises";
import { ArgumentError, FormatError, NotFoundError, describeValue } from "../errors.ts";
import { parseFeatureId } from "../safety.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import type { EmbeddingDescription, UnplacedFeature } from "./embed.ts";
import type { NeighbourAgreement } from "./quality.ts";

export const FEATURE_MAP_FORMAT = "safesail-feature-map";
export const FEATURE_MAP_VERSION = 1;

export interface MapPoint {
  /** `{layer}_{index}`. */
  id: string;
  x: number;
  y: number;
  /** Index into `clusters`. */
  cluster: number;
  /** The feature's domain tags (tag_list). */
  tags: string[];
  explanation: string;
  /** correlation_score (SLS) of the record, when it has one. */
  score: number | null;
}

export interface MapCluster {
  /** Its index in `clusters`; 0 is the largest. */
  id: number;
  /** The top three distinctive words, comma-separated. */
  label: string;
  /** Distinctive words and bigrams, most distinctive first. */
  words: string[];
  size: number;
  /** Centroid on the map (where a label goes). */
  x: number;
  y: number;
  /** Members per domain tag. */
  tags: Record<string, number>;
}

export interface FeatureMap {
  format: typeof FEATURE_MAP_FORMAT;
  version: typeof FEATURE_MAP_VERSION;
  seed: number;
  /** Where the records came from. */
  source: { file?: string; format?: string; features: number };
  embedding: EmbeddingDescription;
  layout: { method: "umap-js"; nNeighbors: number; minDist: number; nEpochs: number; knn: "exact"; metric: "cosine" };
  clustering: { method: "k-means"; space: "map"; k: number; rule: string };
  points: MapPoint[];
  clusters: MapCluster[];
  /** Features not on the map (no explanation, masked, no shared words), with the reason. */
  unplaced: UnplacedFeature[];
  /** Neighbour agreement on the map and in the embedding (src/map/quality.ts); null when not measured. */
  quality: { map: NeighbourAgreement; embedding: NeighbourAgreement } | null;
  warnings: string[];
}

const KEY_ORDER = ["format", "version", "seed", "source", "embedding", "layout", "clustering", "quality", "warnings", "clusters", "unplaced", "points"];

/** The file text: top-level fields in a fixed order, one array element per line. */
export function serializeMap(map: FeatureMap): string {
  const keys = [...KEY_ORDER.filter((k) => k in map), ...Object.keys(map).filter((k) => !KEY_ORDER.includes(k))];
  const lines = keys.map((k) => {
    const v = (map as unknown as Record<string, unknown>)[k];
    if (Array.isArray(v) && v.length > 0 && v.every((e) => e !== null && typeof e === "object")) {
      return ` ${JSON.stringify(k)}: [\n${v.map((e) => `  ${JSON.stringify(e)}`).join(",\n")}\n ]`;
    }
    return ` ${JSON.stringify(k)}: ${JSON.stringify(v)}`;
  });
  return `{\n${lines.join(",\n")}\n}\n`;
}

/** Writes MAP.json atomically (temp file + rename), after checking the map. */
export async function writeMap(file: string, map: FeatureMap): Promise<void> {
  checkMap(map, "writeMap");
  await writeFileAtomic(file, serializeMap(map));
}

export async function readMap(file: string): Promise<FeatureMap> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${file}: no such map file`, { file });
    throw err;
  }
  return parseMap(text, file);
}

export function parseMap(text: string, file: string): FeatureMap {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not JSON (${(err as Error).message})`, { file });
  }
  return checkMap(value, file);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((t) => typeof t === "string");

/** Checks a map (read from `where`, a file or a caller); returns it typed. Errors name `where` and the field. */
export function checkMap(value: unknown, where: string): FeatureMap {
  const bad = (field: string, expected: string, got: unknown): never => {
    throw new FormatError(`${where}: ${field}: expected ${expected}, got ${describeValue(got)}`, { file: where, field });
  };
  if (!isObject(value)) bad("(root)", "an object", value);
  const m = value as Record<string, unknown>;
  if (m.format !== FEATURE_MAP_FORMAT) bad("format", JSON.stringify(FEATURE_MAP_FORMAT), m.format);
  if (m.version !== FEATURE_MAP_VERSION) bad("version", `${FEATURE_MAP_VERSION} (this safesail reads version ${FEATURE_MAP_VERSION})`, m.version);
  if (!Number.isSafeInteger(m.seed)) bad("seed", "an integer", m.seed);
  for (const f of ["source", "embedding", "layout", "clustering"]) if (!isObject(m[f])) bad(f, "an object", m[f]);
  if (!(m.quality === null || isObject(m.quality))) bad("quality", "an object or null", m.quality);
  if (!isStringList(m.warnings)) bad("warnings", "a list of strings", m.warnings);
  if (!Array.isArray(m.clusters)) bad("clusters", "a list", m.clusters);
  if (!Array.isArray(m.points)) bad("points", "a list", m.points);
  if (!Array.isArray(m.unplaced)) bad("unplaced", "a list", m.unplaced);
  const clusters = m.clusters as unknown[];
  const counts = new Array<number>(clusters.length).fill(0);
  const seen = new Set<string>();
  const checkId = (id: unknown, field: string) => {
    try {
      parseFeatureId(id, field);
    } catch {
      bad(field, "a feature id {layer}_{index}", id);
    }
    if (seen.has(id as string)) bad(field, "an id not seen before", id);
    seen.add(id as string);
  };
  (m.points as unknown[]).forEach((p, i) => {
    const f = `points[${i}]`;
    if (!isObject(p)) bad(f, "an object", p);
    const q = p as Record<string, unknown>;
    checkId(q.id, `${f}.id`);
    for (const c of ["x", "y"]) if (typeof q[c] !== "number" || !Number.isFinite(q[c])) bad(`${f}.${c}`, "a finite number", q[c]);
    if (!Number.isSafeInteger(q.cluster) || (q.cluster as number) < 0 || (q.cluster as number) >= clusters.length) bad(`${f}.cluster`, `a cluster index in [0, ${clusters.length})`, q.cluster);
    counts[q.cluster as number]!++;
    if (!isStringList(q.tags)) bad(`${f}.tags`, "a list of strings", q.tags);
    if (typeof q.explanation !== "string") bad(`${f}.explanation`, "a string", q.explanation);
    if (!(q.score === null || (typeof q.score === "number" && Number.isFinite(q.score)))) bad(`${f}.score`, "a number or null", q.score);
  });
  clusters.forEach((c, i) => {
    const f = `clusters[${i}]`;
    if (!isObject(c)) bad(f, "an object", c);
    const q = c as Record<string, unknown>;
    if (q.id !== i) bad(`${f}.id`, `${i} (its index)`, q.id);
    if (typeof q.label !== "string") bad(`${f}.label`, "a string", q.label);
    if (!isStringList(q.words)) bad(`${f}.words`, "a list of strings", q.words);
    if (q.size !== counts[i]) bad(`${f}.size`, `${counts[i]} (the points in it)`, q.size);
    for (const k of ["x", "y"]) if (typeof q[k] !== "number" || !Number.isFinite(q[k])) bad(`${f}.${k}`, "a finite number", q[k]);
    if (!isObject(q.tags) || !Object.values(q.tags).every((v) => Number.isSafeInteger(v))) bad(`${f}.tags`, "an object of counts", q.tags);
  });
  (m.unplaced as unknown[]).forEach((u, i) => {
    const f = `unplaced[${i}]`;
    if (!isObject(u)) bad(f, "an object", u);
    const q = u as Record<string, unknown>;
    checkId(q.id, `${f}.id`);
    if (!isStringList(q.tags)) bad(`${f}.tags`, "a list of strings", q.tags);
    if (!["null", "masked", "empty", "no-terms"].includes(q.reason as string)) bad(`${f}.reason`, '"null", "masked", "empty" or "no-terms"', q.reason);
  });
  return value as FeatureMap;
}

/**
 * Ids of the placed features whose explanation contains `text`, case-insensitively, in map order (the widget's
 * search). A blank query matches nothing.
 */
export function searchMap(map: Pick<FeatureMap, "points">, text: string): string[] {
  if (typeof text !== "string") throw new ArgumentError(`searchMap: text must be a string, got ${describeValue(text)}`, { field: "text" });
  if (text.trim() === "") return [];
  const needle = text.toLowerCase();
  return map.points.filter((p) => p.explanation.toLowerCase().includes(needle)).map((p) => p.id);
}
