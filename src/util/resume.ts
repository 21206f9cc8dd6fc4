// Resuming long jobs, one way for all of them (harvest, SAE training, toy-model training): a job records the
// settings that make its saved state valid; a restart compares them and names every field that differs
// ("k: was 16, now 32"), and a saved state that cannot be read is an error naming the file, never a silent
// restart from step 0 (that would throw away hours of work without a word).
import { promises as fsp } from "node:fs";
import { describeValue, FormatError, SafesailError } from "../errors.ts";

type Json = unknown;

/** Nested objects are compared field by field (`hyper.lr`); everything else by its JSON form. */
function flatten(value: Json, prefix: string, out: Map<string, string | undefined>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, Json>);
    if (entries.length === 0 && prefix) out.set(prefix, "{}");
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.set(prefix, value === undefined ? undefined : JSON.stringify(value));
}

const show = (json: string | undefined): string => (json === undefined ? "unset" : json.length > 80 ? `${json.slice(0, 77)}...` : json);

/**
 * Every field whose value differs (nested objects field by field, `hyper.lr`), with both values as short JSON
 * ("unset" when absent), in the order the fields first appear.
 */
export function fieldDiffs(a: Record<string, Json>, b: Record<string, Json>): { field: string; a: string; b: string }[] {
  const fa = new Map<string, string | undefined>();
  const fb = new Map<string, string | undefined>();
  flatten(a, "", fa);
  flatten(b, "", fb);
  const diffs: { field: string; a: string; b: string }[] = [];
  for (const key of new Set([...fa.keys(), ...fb.keys()])) {
    if (fa.get(key) !== fb.get(key)) diffs.push({ field: key, a: show(fa.get(key)), b: show(fb.get(key)) });
  }
  return diffs;
}

/** Every field whose value differs, as `field: was X, now Y`, in the order the fields first appear. */
export function settingsDiff(saved: Record<string, Json>, current: Record<string, Json>): string[] {
  return fieldDiffs(saved, current).map((d) => `${d.field}: was ${d.a}, now ${d.b}`);
}

export interface SettingsCheck {
  /** The saved state the settings belong to (named in the message). */
  file: string;
  /** What to do instead, e.g. "use another --out, or --overwrite to start over". */
  advice: string;
  /** The error class to throw (ConfigError for settings, ArgumentError for arguments). */
  error: new (message: string, options: { file?: string; field?: string }) => SafesailError;
}

/** Throws `check.error` naming every differing field (its `field` is the first one) when the settings differ. */
export function checkSettings(saved: Record<string, Json>, current: Record<string, Json>, check: SettingsCheck): void {
  const diffs = settingsDiff(saved, current);
  if (diffs.length === 0) return;
  throw new check.error(`${check.file}: cannot resume: the saved run has other settings (${diffs.join("; ")}); ${check.advice}`, {
    file: check.file,
    field: diffs[0]!.slice(0, diffs[0]!.indexOf(":")),
  });
}

/**
 * Reads a JSON state file. Absent: null (nothing to resume). Present but unreadable or not JSON: a FormatError that
 * names the file and says how to start over.
 */
export async function readStateFile<T>(file: string, advice: string): Promise<T | null> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new FormatError(`${file}: the saved state cannot be read (${(err as Error).message}); ${advice}`, { file, cause: err });
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (json === null || typeof json !== "object" || Array.isArray(json)) throw new Error(`expected a JSON object, got ${describeValue(json)}`);
    return json as T;
  } catch (err) {
    throw new FormatError(`${file}: the saved state is corrupt (${(err as Error).message}); ${advice}`, { file, cause: err });
  }
}

/**
 * A value's JSON with object keys sorted at every depth: the same settings give the same text (and hash) whatever
 * order their fields were written in. What settings keys and "already built with these settings" checks compare.
 */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(",")}}`;
  return JSON.stringify(v);
}
