// The contrastive-pair format (data/contrastive-pairs.jsonl): a concept query, its minimally edited twin without the
// concept, and the edit between them. Read by the metrics (L0,t, I_CDF); built by ./pairs-build.ts.
import { promises as fsp } from "node:fs";
import { describeValue } from "../errors.ts";
import { LANGUAGES, SAFETY_DOMAINS, type Language, type SafetyDomain } from "../safety.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { fieldReader, oneOf, parseJsonlRecords, type RecordContext } from "../util/jsonl.ts";

export interface ContrastivePair {
  /** `{lang}-{concept slug}-{nnn}`, unique. */
  id: string;
  lang: Language;
  domain: SafetyDomain;
  /** Concept id shared by every language ("explosives", "election manipulation", ...), as in the toy corpus. */
  concept: string;
  /** The query that holds the concept. */
  positive: string;
  /** Its minimally edited twin, without the concept. */
  negative: string;
  /** `from` (a concept phrase, found exactly once in `positive`) replaced by `to` (a benign phrase) gives `negative`. */
  edit: { from: string; to: string };
}

/** How often `needle` occurs in `hay` (non-overlapping). */
export function occurrences(hay: string, needle: string): number {
  if (needle === "") return 0;
  return hay.split(needle).length - 1;
}

/** Pairs grouped by concept id (first-seen order), optionally of one language only. */
export function pairsByConcept(pairs: readonly ContrastivePair[], lang?: Language): Map<string, ContrastivePair[]> {
  const out = new Map<string, ContrastivePair[]>();
  for (const p of pairs) {
    if (lang !== undefined && p.lang !== lang) continue;
    if (!out.has(p.concept)) out.set(p.concept, []);
    out.get(p.concept)!.push(p);
  }
  return out;
}

/** One JSON object per line, with a fixed key order. */
export function pairsJsonl(pairs: readonly ContrastivePair[]): string {
  return pairs
    .map((p) => JSON.stringify({ id: p.id, lang: p.lang, domain: p.domain, concept: p.concept, positive: p.positive, negative: p.negative, edit: { from: p.edit.from, to: p.edit.to } }) + "\n")
    .join("");
}

const PAIR_FIELDS = ["id", "lang", "domain", "concept", "positive", "negative", "edit"] as const;

/** Validates one parsed record as a ContrastivePair (types, known language and domain, the edit relation). */
export function validatePair(value: Record<string, unknown>, ctx: RecordContext): ContrastivePair {
  const str = fieldReader(value, ctx, PAIR_FIELDS);
  const id = str("id");
  const lang = oneOf(ctx, "lang", str("lang"), LANGUAGES, "language");
  const domain = oneOf(ctx, "domain", str("domain"), SAFETY_DOMAINS);
  const concept = str("concept");
  const positive = str("positive");
  const negative = str("negative");
  const edit = value.edit;
  if (edit === undefined) ctx.fail("edit", "missing");
  if (edit === null || typeof edit !== "object" || Array.isArray(edit)) ctx.fail("edit", `expected an object {from, to}, got ${describeValue(edit)}`);
  const e = edit as Record<string, unknown>;
  for (const k of Object.keys(e)) if (k !== "from" && k !== "to") ctx.fail(`edit.${k}`, "unknown field");
  const from = str("from", e, "edit.");
  const to = str("to", e, "edit.");
  const n = occurrences(positive, from);
  if (n !== 1) ctx.fail("edit.from", `${describeValue(from)} occurs ${n} times in positive (expected exactly once)`);
  if (positive.replace(from, () => to) !== negative) ctx.fail("negative", `is not positive with edit.from replaced by edit.to`);
  return { id, lang, domain, concept, positive, negative, edit: { from, to } };
}

/** Parses and validates pairs JSONL text; duplicate ids are rejected too. */
export function parsePairs(text: string, file: string): ContrastivePair[] {
  const ids = new Set<string>();
  return parseJsonlRecords(text, file, (value, ctx) => {
    const p = validatePair(value, ctx);
    if (ids.has(p.id)) ctx.fail("id", `duplicate id ${describeValue(p.id)}`);
    ids.add(p.id);
    return p;
  });
}

export async function readPairs(file: string): Promise<ContrastivePair[]> {
  return parsePairs(await fsp.readFile(file, "utf8"), file);
}

/** Writes pairs as JSONL, atomically. */
export async function writePairs(file: string, pairs: readonly ContrastivePair[]): Promise<void> {
  await writeFileAtomic(file, pairsJsonl(pairs));
}
