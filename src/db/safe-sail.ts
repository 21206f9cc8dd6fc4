// The Safe-SAIL release's database format: one JSON object `{"<layer>_<index>": {"explanation", "correlation_score",
// "tag_list"}, ...}` written by Python's json.dumps with its defaults. Import keeps the file's order; export writes
// the same bytes back (src/formats/python-json.ts), so a release file goes through safesail unchanged.
import { FormatError, NotFoundError } from "../errors.ts";
import { parsePythonJson, pythonJsonDumps, type PyJson } from "../formats/python-json.ts";
import { featureRecord, type FeatureRecord } from "./records.ts";

/** Records from the text of a Safe-SAIL database file; errors name `source` and the feature and field. */
export function importSafeSail(text: string, source = "<safe-sail db>"): FeatureRecord[] {
  const root = parsePythonJson(text, source);
  if (root === null || typeof root !== "object" || Array.isArray(root)) throw new FormatError(`${source}: expected an object of features {"<layer>_<index>": {...}}`);
  return Object.entries(root).map(([id, value]) => {
    const where = `${source}: ${JSON.stringify(id)}`;
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new FormatError(`${where}: expected an object`);
    const v = value as Record<string, PyJson>;
    if (!(v.explanation === null || typeof v.explanation === "string")) throw new FormatError(`${where}.explanation: expected a string or null`);
    const score = v.correlation_score;
    if (!(score === null || typeof score === "number" || typeof score === "bigint")) throw new FormatError(`${where}.correlation_score: expected a number or null`);
    if (!Array.isArray(v.tag_list) || !v.tag_list.every((t) => typeof t === "string")) throw new FormatError(`${where}.tag_list: expected a list of strings`);
    const extra = Object.keys(v).filter((k) => !["explanation", "correlation_score", "tag_list"].includes(k));
    if (extra.length) throw new FormatError(`${where}: unknown field ${JSON.stringify(extra[0])} (a Safe-SAIL record has explanation, correlation_score, tag_list)`);
    try {
      // An integer score (never in the release) becomes a float: export writes it as Python writes a float.
      return featureRecord(id, { explanation: v.explanation, correlation_score: score === null ? null : Number(score), tag_list: [...(v.tag_list as string[])] });
    } catch (err) {
      throw new FormatError(`${where}: ${(err as Error).message}`);
    }
  });
}

/** The Safe-SAIL file text of `records` (their order; Python's json.dumps formatting). */
export function exportSafeSail(records: readonly FeatureRecord[]): string {
  const root: Record<string, PyJson> = Object.create(null);
  for (const r of records) {
    if (Object.prototype.hasOwnProperty.call(root, r.id)) throw new FormatError(`exportSafeSail: feature ${r.id} appears twice`);
    root[r.id] = { explanation: r.explanation, correlation_score: r.correlation_score, tag_list: r.tag_list };
  }
  return pythonJsonDumps(root);
}

/** A Safe-SAIL release file (e.g. data/safe-sail/safe-sail-en_db.json) as records; errors name the file. */
export async function readSafeSailFile(file: string): Promise<FeatureRecord[]> {
  const { readFile } = await import("node:fs/promises");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${file}: no such Safe-SAIL database file`);
    throw err;
  }
  return importSafeSail(text, file);
}
