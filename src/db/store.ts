// Reading and writing a feature database file (JSON, format name + version), atomically.
import { readFile } from "node:fs/promises";
import { FormatError, NotFoundError } from "../errors.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { checkRecord, FEATURE_DB_FORMAT, FEATURE_DB_VERSION, type FeatureDb, type FeatureRecord } from "./records.ts";

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
  return { format: FEATURE_DB_FORMAT, version: FEATURE_DB_VERSION, ...(typeof db.description === "string" ? { description: db.description } : {}), records };
}

export async function readFeatureDb(file: string): Promise<FeatureDb> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${file}: no such feature database`);
    throw err;
  }
  return parseFeatureDb(text, file);
}

/** Writes the database (temp file + rename). */
export async function writeFeatureDb(file: string, db: FeatureDb): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(db, null, 1) + "\n");
}
