// JSON-lines files: one parser that names `file:line` and the field for every bad record, used by every reader
// of the project's JSONL formats (corpora, contrastive pairs, domain corpus, held-out prompts).
import { promises as fsp } from "node:fs";
import { FormatError, describeValue } from "../errors.ts";

/** A record being validated: `fail(field, problem)` throws a FormatError naming `file:line` and the field. */
export interface RecordContext {
  file: string;
  line: number;
  fail(field: string, problem: string): never;
}

/**
 * Parses JSON lines and validates each record with `validate`. Blank lines are skipped (line numbers still count
 * them); a line that is not JSON, not an object, or fails validation throws a FormatError naming `file:line`.
 */
export function parseJsonlRecords<T>(text: string, file: string, validate: (value: Record<string, unknown>, ctx: RecordContext) => T): T[] {
  const out: T[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    if (raw.trim() === "") continue;
    const line = i + 1;
    const ctx: RecordContext = {
      file,
      line,
      fail(field: string, problem: string): never {
        throw new FormatError(`${file}:${line}: field "${field}": ${problem}`, { file, field });
      },
    };
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new FormatError(`${file}:${line}: not valid JSON (${(err as Error).message})`, { file });
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new FormatError(`${file}:${line}: expected a JSON object, got ${describeValue(value)}`, { file });
    out.push(validate(value as Record<string, unknown>, ctx));
  }
  return out;
}

/** Reads a JSONL file and validates each record (see parseJsonlRecords). */
export async function readJsonlRecords<T>(file: string, validate: (value: Record<string, unknown>, ctx: RecordContext) => T): Promise<T[]> {
  return parseJsonlRecords(await fsp.readFile(file, "utf8"), file, validate);
}

/** Checks that a record has exactly `fields` (no unknown field) and returns a string field reader. */
export function fieldReader(value: Record<string, unknown>, ctx: RecordContext, fields: readonly string[]): (name: string, obj?: Record<string, unknown>, prefix?: string) => string {
  for (const k of Object.keys(value)) if (!fields.includes(k)) ctx.fail(k, "unknown field");
  return (name, obj = value, prefix = "") => {
    const v = obj[name];
    if (v === undefined) ctx.fail(prefix + name, "missing");
    if (typeof v !== "string") ctx.fail(prefix + name, `expected a string, got ${describeValue(v)}`);
    if (v === "") ctx.fail(prefix + name, "empty string");
    return v;
  };
}

/** A string field that must be one of `allowed`; otherwise `unknown <what> "x" (expected one of a, b)` at its line. */
export function oneOf<T extends string>(ctx: RecordContext, field: string, value: string, allowed: readonly T[], what = field): T {
  if (!(allowed as readonly string[]).includes(value)) ctx.fail(field, `unknown ${what} ${describeValue(value)} (expected one of ${allowed.join(", ")})`);
  return value as T;
}
