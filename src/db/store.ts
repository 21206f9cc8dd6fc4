// Reading and writing a feature database file (JSON, format name + version), atomically: a local (or shared file
// system) path, or an `s3://BUCKET/KEY` object (src/storage/object-store.ts).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { FormatError, NotFoundError } from "../errors.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { isRemotePath, objectExists, parseS3Url, readTextObjectIfExists, writeTextObjectAtomic } from "../storage/object-store.ts";
import { checkRecord, FEATURE_DB_FORMAT, FEATURE_DB_VERSION, type FeatureDb, type FeatureDbShard, type FeatureRecord } from "./records.ts";

export function newFeatureDb(records: FeatureRecord[] = [], description?: string): FeatureDb {
  return { format: FEATURE_DB_FORMAT, version: FEATURE_DB_VERSION, ...(description ? { description } : {}), records };
}

/** Parses and checks a database file's text; every error names `file` and the field. */
export function parseFeatureDb(text: string, file: string): FeatureDb {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not JSON (${(err as Error).message})`);
  }
  const db = value as Record<string, unknown>;
  if (db === null || typeof db !== "object" || db.format !== FEATURE_DB_FORMAT) {
    throw new FormatError(`${file}: format: expected ${JSON.stringify(FEATURE_DB_FORMAT)}, got ${JSON.stringify(db?.format) ?? "nothing"} (a Safe-SAIL release file? import it: safesail db import FILE --out DB)`);
  }
  if (db.version !== FEATURE_DB_VERSION) throw new FormatError(`${file}: version: this safesail reads version ${FEATURE_DB_VERSION}, got ${JSON.stringify(db.version)}`);
  if (!Array.isArray(db.records)) throw new FormatError(`${file}: records: expected a list`);
  const seen = new Set<string>();
  const records = db.records.map((r, i) => {
    const rec = checkRecord(r, `${file}: records[${i}]`);
    if (seen.has(rec.id)) throw new FormatError(`${file}: records[${i}].id: ${rec.id} appears twice`);
    seen.add(rec.id);
    return rec;
  });
  const shard = db.shard === undefined ? undefined : checkShard(db.shard, file);
  return { format: FEATURE_DB_FORMAT, version: FEATURE_DB_VERSION, ...(typeof db.description === "string" ? { description: db.description } : {}), ...(shard ? { shard } : {}), records };
}

/** A shard database's `shard` field (records.ts FeatureDbShard); errors name the file and the field. */
function checkShard(value: unknown, file: string): FeatureDbShard {
  const fail = (field: string, expected: string): never => {
    throw new FormatError(`${file}: shard${field ? `.${field}` : ""}: expected ${expected}`, { file, field: `shard${field ? `.${field}` : ""}` });
  };
  const obj = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!obj(value)) fail("", "an object");
  const s = value as Record<string, unknown>;
  const int = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (!int(s.count) || (s.count as number) < 1 || !int(s.index) || (s.index as number) >= (s.count as number)) fail("index", "0 <= index < count");
  const ex = s.examples as Record<string, unknown>;
  if (!obj(ex) || typeof ex.path !== "string" || typeof ex.sha256 !== "string" || typeof ex.model_fingerprint !== "string" || !Array.isArray(ex.saes)) fail("examples", "{path, sha256, model_fingerprint, saes}");
  const f = s.features as Record<string, unknown>;
  if (!obj(f) || !int(f.count) || typeof f.sha256 !== "string") fail("features", "{count, sha256}");
  if (!Array.isArray(s.ids) || !s.ids.every((i) => typeof i === "string")) fail("ids", "a list of feature ids");
  for (const stage of ["explain", "score"]) if (s[stage] !== undefined && !(obj(s[stage]) && typeof (s[stage] as { complete?: unknown }).complete === "boolean")) fail(stage, "an object with complete");
  return value as FeatureDbShard;
}

/** Reads a database file, or an `s3://BUCKET/KEY` object (src/storage/object-store.ts); NotFoundError naming it when there is none. */
export async function readFeatureDb(file: string): Promise<FeatureDb> {
  if (isRemotePath(file)) {
    const url = parseS3Url(file, "file").url;
    const text = await readTextObjectIfExists(url);
    if (text === null) throw new NotFoundError(`${url}: no such feature database`, { file: url });
    return parseFeatureDb(text, url);
  }
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${file}: no such feature database`);
    throw err;
  }
  return parseFeatureDb(text, file);
}

/** Writes the database (temp file + rename; to an `s3://` URL, one PutObject, which S3 applies whole or not at all). */
export async function writeFeatureDb(file: string, db: FeatureDb): Promise<void> {
  const text = JSON.stringify(db, null, 1) + "\n";
  if (isRemotePath(file)) await writeTextObjectAtomic(parseS3Url(file, "file").url, text);
  else await writeFileAtomic(file, text);
}

/** Whether a database exists at `file` (a path, or an `s3://` URL). */
export async function featureDbExists(file: string): Promise<boolean> {
  if (isRemotePath(file)) return objectExists(parseS3Url(file, "file").url);
  return existsSync(file);
}
