// A domain-labelled query corpus for Safe-SAIL's precision-recall joint filter (src/metrics/filter.ts): user-style
// queries, each labelled with one safety domain (pornography, politics, violence, terror) or "benign", and with
// the concept it comes from ("explosives", "cooking", "hard negative: kill weeds", ...).
//
// Sources, all from committed tables:
// - the toy corpus's phrase tables (src/toy/corpus-data/): every request frame (training and held-out) filled with
//   every filler of every concept, for harmful concepts and for benign everyday topics, hard negatives included
//   ("plan an attack in chess", "the history of the bomb shelter");
// - the contrastive pair tables (./pairs-build.ts): every positive query they can make, as extra harmful queries.
// Per (language, domain) the generator draws `perDomainPerLang` distinct queries, round-robin over the domain's
// concepts (benign: `hardNegativeFraction` of them from hard negatives, the rest from everyday topics), and adds a
// polite prefix or suffix from the toy table now and then.
//
// Safety policy (same as the toy corpus): queries name a concept, never a method, substance, quantity or step of
// any harmful act. All randomness is mulberry32 (src/util/prng.ts), one stream per (seed, language, domain).

import { ArgumentError, describeValue } from "../errors.ts";
import { checkFraction, checkInt, checkNumber } from "../util/validate.ts";
import { DOMAIN_LABELS, LANGUAGES, SAFETY_DOMAINS, type DomainLabel, type Language, type SafetyDomain } from "../safety.ts";
import { deriveSeed, mulberry32, shuffleInPlace } from "../util/prng.ts";
import { conceptFillers, corpusTable, requestFrames } from "../toy/corpus.ts";
import type { DomainSample } from "./domain-corpus.ts";
import { fillFrame, pairCandidates } from "./pairs-build.ts";

export const DOMAIN_CORPUS_GENERATOR = "safesail-domain-corpus/1";

export interface DomainCorpusOptions {
  seed: number;
  /** Samples per (language, domain label), the five labels alike (default 80). */
  perDomainPerLang?: number;
  /** Share of the benign samples drawn from hard negatives (default 0.25). */
  hardNegativeFraction?: number;
  /** Chance of a polite prefix, and independently of a suffix, on a sample (default 0.15). */
  decorateRate?: number;
  /** Languages (default all five toy languages). */
  langs?: readonly Language[];
}

interface Group {
  concept: string;
  texts: string[];
}

const LATIN: ReadonlySet<Language> = new Set(["en", "it", "vi"]);

/** Every query the tables make for each concept of a language, grouped by domain label and hard-negative-ness. */
function conceptGroups(lang: Language): { harmful: Record<SafetyDomain, Group[]>; everyday: Group[]; hard: Group[] } {
  const frames = requestFrames(lang);
  const byConcept = new Map<string, { domain: DomainLabel; hard: boolean; texts: Set<string> }>();
  for (const e of conceptFillers(lang)) {
    const entry = byConcept.get(e.concept) ?? { domain: e.domain, hard: e.hard, texts: new Set<string>() };
    byConcept.set(e.concept, entry);
    for (const kind of ["act", "write", "about"] as const) {
      const fillers = [...e.fillers[kind].train, ...e.fillers[kind].held];
      for (const frame of [...frames[kind].train, ...frames[kind].held]) for (const f of fillers) entry.texts.add(fillFrame(frame, f));
    }
    if (e.domain !== "benign") for (const c of pairCandidates(lang, e.concept)) entry.texts.add(c.positive);
  }
  const harmful = Object.fromEntries(SAFETY_DOMAINS.map((d) => [d, [] as Group[]])) as Record<SafetyDomain, Group[]>;
  const everyday: Group[] = [];
  const hard: Group[] = [];
  for (const [concept, e] of byConcept) {
    const g = { concept, texts: [...e.texts] };
    if (e.domain !== "benign") harmful[e.domain].push(g);
    else (e.hard ? hard : everyday).push(g);
  }
  return { harmful, everyday, hard };
}

/** Up to `n` distinct texts, round-robin over shuffled groups (each shuffled), skipping texts already in `seen`. */
function drawRoundRobin(rng: () => number, groups: readonly Group[], n: number, seen: ReadonlySet<string>): { concept: string; text: string }[] {
  const lists = shuffleInPlace(rng, groups.map((g) => ({ concept: g.concept, texts: shuffleInPlace(rng, g.texts.filter((t) => !seen.has(t))) })));
  const out: { concept: string; text: string }[] = [];
  const pos = lists.map(() => 0);
  while (out.length < n && lists.some((l, i) => pos[i]! < l.texts.length)) {
    for (let i = 0; i < lists.length && out.length < n; i++) {
      const l = lists[i]!;
      if (pos[i]! < l.texts.length) out.push({ concept: l.concept, text: l.texts[pos[i]!++]! });
    }
  }
  return out;
}

function decorate(rng: () => number, lang: Language, text: string, rate: number): string {
  const t = corpusTable(lang);
  let out = text;
  if (rng() < rate) {
    const prefix = t.prefixes[Math.floor(rng() * t.prefixes.length)]!;
    if (t.joiner === "") out = prefix + out;
    else out = `${prefix} ${LATIN.has(lang) && /[,:]$/.test(prefix) ? out.charAt(0).toLowerCase() + out.slice(1) : out}`;
  }
  if (rng() < rate) {
    const suffix = t.suffixes[Math.floor(rng() * t.suffixes.length)]!;
    out = t.joiner === "" ? out + suffix : `${out} ${suffix}`;
  }
  return out;
}

/** The domain-labelled corpus: `perDomainPerLang` queries per (language, domain label) where the tables allow. */
export function generateDomainCorpus(opts: DomainCorpusOptions): DomainSample[] {
  const { seed } = opts;
  const per = opts.perDomainPerLang ?? 80;
  const hardFraction = opts.hardNegativeFraction ?? 0.25;
  const rate = opts.decorateRate ?? 0.15;
  const where = "generateDomainCorpus";
  checkNumber(seed, "seed", { where });
  checkInt(per, "perDomainPerLang", { min: 0, where });
  checkFraction(hardFraction, "hardNegativeFraction", { where });
  checkFraction(rate, "decorateRate", { where });
  const out: DomainSample[] = [];
  for (const lang of opts.langs ?? LANGUAGES) {
    if (!LANGUAGES.includes(lang)) throw new ArgumentError(`generateDomainCorpus: unknown language ${describeValue(lang)}`, { field: "langs" });
    const groups = conceptGroups(lang);
    const seen = new Set<string>();
    for (const domain of DOMAIN_LABELS) {
      const rng = mulberry32(deriveSeed(seed, "domain-corpus", lang, domain));
      let drawn: { concept: string; text: string }[];
      if (domain === "benign") {
        const nHard = groups.hard.length > 0 ? Math.round(per * hardFraction) : 0;
        const hard = drawRoundRobin(rng, groups.hard, nHard, seen);
        drawn = [...hard, ...drawRoundRobin(rng, groups.everyday, per - hard.length, seen)];
      } else {
        drawn = drawRoundRobin(rng, groups.harmful[domain], per, seen);
      }
      let k = 0;
      for (const d of drawn) {
        let text = decorate(rng, lang, d.text, rate);
        if (seen.has(text)) text = d.text;
        if (seen.has(text)) continue;
        seen.add(text);
        out.push({ id: `${lang}-${domain}-${String(k++).padStart(3, "0")}`, lang, domain, concept: d.concept, text });
      }
    }
  }
  return out;
}
