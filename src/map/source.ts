// The records a map is built from: a safesail feature database (format "safesail-feature-db") or a Safe-SAIL
// release file (a JSON object of "{layer}_{index}" -> {explanation, correlation_score, tag_list}), told apart by the
// database's "format" field.
import { readFile } from "node:fs/promises";
import { FormatError, NotFoundError } from "../errors.ts";
import { FEATURE_DB_FORMAT, type FeatureRecord } from "../db/records.ts";
import { importSafeSail } from "../db/safe-sail.ts";
import { parseFeatureDb } from "../db/store.ts";

export type MapSourceFormat = typeof FEATURE_DB_FORMAT | "safe-sail";

export async function readMapSource(file: string): Promise<{ records: FeatureRecord[]; format: MapSourceFormat }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${file}: no such feature database`, { file });
    throw err;
  }
  let head: unknown;
  try {
    head = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not JSON (${(err as Error).message})`, { file });
  }
  if (head !== null && typeof head === "object" && !Array.isArray(head) && "format" in head) {
    return { records: parseFeatureDb(text, file).records, format: FEATURE_DB_FORMAT };
  }
  if (head === null || typeof head !== "object" || Array.isArray(head)) {
    throw new FormatError(`${file}: expected a safesail feature database or a Safe-SAIL database ({"<layer>_<index>": {...}}), got ${Array.isArray(head) ? "a list" : JSON.stringify(head)}`, { file });
  }
  return { records: importSafeSail(text, file), format: "safe-sail" };
}
