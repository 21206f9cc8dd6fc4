// The domain-labelled corpus format (data/domain-corpus.jsonl): user queries labelled with a safety domain or
// "benign", read by the precision-recall filter; built by ./domain-corpus-build.ts.
import { promises as fsp } from "node:fs";
import { describeValue } from "../errors.ts";
import { DOMAIN_LABELS, LANGUAGES, type DomainLabel, type Language } from "../safety.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { fieldReader, oneOf, parseJsonlRecords, type RecordContext } from "../util/jsonl.ts";

export type { DomainLabel };
export { DOMAIN_LABELS };

export interface DomainSample {
  /** `{lang}-{domain}-{nnn}`, unique. */
  id: string;
  lang: Language;
  domain: DomainLabel;
  /** Harmful concept id ("explosives"), everyday topic ("cooking"), or "hard negative: ..." for benign look-alikes. */
  concept: string;
  /** The user query. */
  text: string;
}

export function domainCorpusJsonl(samples: readonly DomainSample[]): string {
  return samples.map((s) => JSON.stringify({ id: s.id, lang: s.lang, domain: s.domain, concept: s.concept, text: s.text }) + "\n").join("");
}

const SAMPLE_FIELDS = ["id", "lang", "domain", "concept", "text"] as const;

/** Validates one parsed record as a DomainSample. */
export function validateDomainSample(value: Record<string, unknown>, ctx: RecordContext): DomainSample {
  const str = fieldReader(value, ctx, SAMPLE_FIELDS);
  const id = str("id");
  const lang = oneOf(ctx, "lang", str("lang"), LANGUAGES, "language");
  const domain = oneOf(ctx, "domain", str("domain"), DOMAIN_LABELS);
  const concept = str("concept");
  const text = str("text");
  return { id, lang, domain, concept, text };
}

/** Parses and validates domain-corpus JSONL text; duplicate ids are rejected too. */
export function parseDomainCorpus(text: string, file: string): DomainSample[] {
  const ids = new Set<string>();
  return parseJsonlRecords(text, file, (value, ctx) => {
    const s = validateDomainSample(value, ctx);
    if (ids.has(s.id)) ctx.fail("id", `duplicate id ${describeValue(s.id)}`);
    ids.add(s.id);
    return s;
  });
}

export async function readDomainCorpus(file: string): Promise<DomainSample[]> {
  return parseDomainCorpus(await fsp.readFile(file, "utf8"), file);
}

/** Writes samples as JSONL, atomically. */
export async function writeDomainCorpus(file: string, samples: readonly DomainSample[]): Promise<void> {
  await writeFileAtomic(file, domainCorpusJsonl(samples));
}
