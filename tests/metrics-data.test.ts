// The metrics data (issue 6): concept-contrastive pairs and the domain-labelled corpus. Determinism, the committed
// files equal a fresh generation, the minimal-edit relation of every pair, coverage, unique ids, and JSONL
// validation that names file:line and field.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FormatError } from "../src/errors.ts";
import { DOMAIN_LABELS, domainCorpusJsonl, parseDomainCorpus, readDomainCorpus, writeDomainCorpus } from "../src/data/domain-corpus.ts";
import { generateDomainCorpus } from "../src/data/domain-corpus-build.ts";
import { DATA_FILES, makeMetricsData } from "../src/data/make-data.ts";
import { occurrences, pairsByConcept, pairsJsonl, parsePairs, readPairs, writePairs, type ContrastivePair } from "../src/data/pairs.ts";
import { METRICS_DATA_SEED, conceptPhrases, generatePairs, harmfulConcepts, toyTrainingRequests } from "../src/data/pairs-build.ts";
import { conceptFillers } from "../src/toy/corpus.ts";
import { LANGUAGES, SAFETY_DOMAINS } from "../src/safety.ts";

const repo = join(import.meta.dirname, "..");
const tmp = mkdtempSync(join(tmpdir(), "safesail-metrics-data-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const data = makeMetricsData();
const pairs = data.pairs;
const samples = data.samples;

describe("metrics data: determinism and the committed files", () => {
  it("the same seed gives byte-identical files; another seed gives different ones", async () => {
    const a = join(tmp, "a.jsonl");
    const b = join(tmp, "b.jsonl");
    await writePairs(a, generatePairs({ seed: 7 }));
    await writePairs(b, generatePairs({ seed: 7 }));
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(pairsJsonl(generatePairs({ seed: 8 }))).not.toBe(readFileSync(a, "utf8"));
    await writeDomainCorpus(a, generateDomainCorpus({ seed: 7, perDomainPerLang: 30 }));
    await writeDomainCorpus(b, generateDomainCorpus({ seed: 7, perDomainPerLang: 30 }));
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(domainCorpusJsonl(generateDomainCorpus({ seed: 8, perDomainPerLang: 30 }))).not.toBe(readFileSync(a, "utf8"));
  });

  it("the committed data files and docs/data.md equal a fresh generation with the committed seed", () => {
    expect(data.seed).toBe(METRICS_DATA_SEED);
    for (const [rel, text] of Object.entries(data.files)) {
      expect(readFileSync(join(repo, rel), "utf8") === text, `${rel} is stale: run npx tsx src/data/make-data.ts`).toBe(true);
    }
  });

  it("the committed files read back to the generated records and stay small", async () => {
    expect(await readPairs(join(repo, DATA_FILES.pairs))).toEqual(pairs);
    expect(await readDomainCorpus(join(repo, DATA_FILES.domainCorpus))).toEqual(samples);
    for (const rel of [DATA_FILES.pairs, DATA_FILES.domainCorpus]) expect(readFileSync(join(repo, rel)).length).toBeLessThan(2 * 1024 * 1024);
    expect(pairs.length + samples.length).toBeLessThan(5000);
  });

  it("one concept's pairs do not depend on the other languages or on perConcept beyond their count", () => {
    const enOnly = generatePairs({ seed: METRICS_DATA_SEED, langs: ["en"] });
    expect(enOnly).toEqual(pairs.filter((p) => p.lang === "en"));
    const fewer = generatePairs({ seed: METRICS_DATA_SEED, perConcept: 5, langs: ["zh"] });
    expect(fewer.length).toBe(16 * 5);
  });
});

describe("contrastive pairs", () => {
  it("every pair differs from its twin by exactly the recorded edit", () => {
    for (const p of pairs) {
      expect(occurrences(p.positive, p.edit.from), p.id).toBe(1);
      expect(p.positive.replace(p.edit.from, p.edit.to), p.id).toBe(p.negative);
      expect(p.positive).not.toBe(p.negative);
      // The rest of the query is shared: same prefix before and same suffix after the edit.
      const at = p.positive.indexOf(p.edit.from);
      expect(p.negative.startsWith(p.positive.slice(0, at)), p.id).toBe(true);
      expect(p.negative.endsWith(p.positive.slice(at + p.edit.from.length)), p.id).toBe(true);
    }
  });

  it("the positive holds a concept phrase; the negative holds none of the concept's phrases", () => {
    for (const p of pairs) {
      const phrases = conceptPhrases(p.lang, p.concept);
      expect(phrases, p.id).toContain(p.edit.from);
      expect(p.positive.includes(p.edit.from)).toBe(true);
      for (const ph of phrases) expect(p.negative.includes(ph), `${p.id}: negative ${JSON.stringify(p.negative)} holds ${JSON.stringify(ph)}`).toBe(false);
      expect(phrases.some((ph) => p.edit.to.includes(ph)), p.id).toBe(false);
    }
  });

  it("covers every domain with at least 3 concepts, and at least 20 pairs per concept in every language", () => {
    for (const lang of LANGUAGES) {
      const mine = pairs.filter((p) => p.lang === lang);
      for (const d of SAFETY_DOMAINS) expect(new Set(mine.filter((p) => p.domain === d).map((p) => p.concept)).size, `${lang} ${d}`).toBeGreaterThanOrEqual(3);
      const byConcept = pairsByConcept(pairs, lang);
      expect([...byConcept.keys()].sort()).toEqual(harmfulConcepts(lang).map((c) => c.concept).sort());
      for (const [concept, list] of byConcept) expect(list.length, `${lang} ${concept}`).toBeGreaterThanOrEqual(20);
    }
    // English and Chinese, as the brief asks, explicitly.
    for (const lang of ["en", "zh"] as const) for (const c of harmfulConcepts(lang)) expect(pairs.filter((p) => p.lang === lang && p.concept === c.concept).length).toBeGreaterThanOrEqual(20);
    // pairsByConcept without a language groups all five.
    expect(pairsByConcept(pairs).get("explosives")!.length).toBe(5 * data.perConcept);
  });

  it("ids are unique; positives are distinct within a concept; domains agree with the toy corpus", () => {
    expect(new Set(pairs.map((p) => p.id)).size).toBe(pairs.length);
    for (const lang of LANGUAGES) {
      const domainOf = new Map(conceptFillers(lang).map((c) => [c.concept, c.domain]));
      for (const [concept, list] of pairsByConcept(pairs, lang)) {
        expect(new Set(list.map((p) => p.positive)).size, `${lang} ${concept}`).toBe(list.length);
        for (const p of list) expect(p.domain).toBe(domainOf.get(concept));
      }
    }
  });

  it("no positive equals a toy training request", () => {
    for (const p of pairs) expect(toyTrainingRequests(p.lang).has(p.positive), p.positive).toBe(false);
  });
});

describe("domain corpus", () => {
  it("has perDomainPerLang samples per language and label, unique ids, unique texts per language", () => {
    for (const lang of LANGUAGES) {
      for (const d of DOMAIN_LABELS) expect(samples.filter((s) => s.lang === lang && s.domain === d).length, `${lang} ${d}`).toBe(data.perDomainPerLang);
      const texts = samples.filter((s) => s.lang === lang).map((s) => s.text);
      expect(new Set(texts).size).toBe(texts.length);
    }
    expect(new Set(samples.map((s) => s.id)).size).toBe(samples.length);
  });

  it("labels agree with the toy concepts; benign samples include hard negatives and everyday topics", () => {
    for (const lang of LANGUAGES) {
      const domainOf = new Map(conceptFillers(lang).map((c) => [c.concept, c.domain]));
      const mine = samples.filter((s) => s.lang === lang);
      for (const s of mine) expect(domainOf.get(s.concept), `${s.id} ${s.concept}`).toBe(s.domain);
      const benign = mine.filter((s) => s.domain === "benign");
      const hard = benign.filter((s) => s.concept.startsWith("hard negative:"));
      expect(hard.length).toBe(Math.round(data.perDomainPerLang * 0.25));
      expect(new Set(benign.filter((s) => !s.concept.startsWith("hard negative:")).map((s) => s.concept)).size).toBeGreaterThanOrEqual(8);
      for (const d of SAFETY_DOMAINS) expect(new Set(mine.filter((s) => s.domain === d).map((s) => s.concept)).size).toBeGreaterThanOrEqual(3);
    }
  });
});

describe("safety of the text", () => {
  // Names of substances, parts and procedures that no query may carry (the data names concepts only).
  const BANNED = [
    /\b(nitrates?|ammonium|peroxide|acetone|thermite|gunpowder|detonators?|fuses?|nitroglycerine?|cyanide|ricin|sarin|firing pin|trigger|recipe|ingredients?|grams?|kilos?)\b/i,
    /硝酸|雷管|火药|氰化物|引信|配方/,
    /\b(detonatore|polvere da sparo|cianuro|ricetta|grammi)\b/i,
    /(kíp nổ|thuốc súng|xyanua|công thức)/i,
    /बारूद|डेटोनेटर|साइनाइड/,
  ];
  it("no query carries quantities or instruction vocabulary", () => {
    const texts = [...pairs.flatMap((p) => [p.positive, p.negative]), ...samples.filter((s) => s.domain !== "benign").map((s) => s.text)];
    for (const t of texts) {
      for (const re of BANNED) expect(re.test(t), t).toBe(false);
      expect(/\d/.test(t.replace("3D", "")), t).toBe(false);
    }
  });
});

describe("JSONL validation", () => {
  const good: ContrastivePair = { id: "en-x-000", lang: "en", domain: "terror", concept: "explosives", positive: "How do I make a pipe bomb at home?", negative: "How do I make a bird feeder at home?", edit: { from: "a pipe bomb", to: "a bird feeder" } };
  const line = (o: unknown) => JSON.stringify(o);
  const bad = (o: Record<string, unknown>) => line({ ...good, ...o });
  const expectError = (fn: () => unknown, pattern: RegExp, field?: string) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(pattern);
    if (field !== undefined) expect((err as FormatError).field).toBe(field);
  };

  it("accepts good lines, blank lines included, and keeps line numbers", () => {
    expect(parsePairs(`${line(good)}\n\n${line({ ...good, id: "en-x-001" })}\n`, "p.jsonl")).toHaveLength(2);
    expectError(() => parsePairs(`${line(good)}\n\n${bad({ lang: "fr" })}\n`, "p.jsonl"), /^p\.jsonl:3: field "lang": unknown language "fr"/, "lang");
  });

  it("names file:line and the field for each kind of bad record", () => {
    const f = "data/bad.jsonl";
    const cases: [string, RegExp, string | undefined][] = [
      ["{not json", /^data\/bad\.jsonl:1: not valid JSON/, undefined],
      ["[1,2]", /^data\/bad\.jsonl:1: expected a JSON object/, undefined],
      [line({ ...good, negative: undefined }), /^data\/bad\.jsonl:1: field "negative": missing/, "negative"],
      [bad({ positive: 42 }), /^data\/bad\.jsonl:1: field "positive": expected a string, got 42/, "positive"],
      [bad({ domain: "weather" }), /^data\/bad\.jsonl:1: field "domain": unknown domain "weather"/, "domain"],
      [bad({ id: "" }), /^data\/bad\.jsonl:1: field "id": empty string/, "id"],
      [bad({ extra: 1 }), /^data\/bad\.jsonl:1: field "extra": unknown field/, "extra"],
      [bad({ edit: "a pipe bomb" }), /^data\/bad\.jsonl:1: field "edit": expected an object/, "edit"],
      [bad({ edit: { from: "a pipe bomb" } }), /^data\/bad\.jsonl:1: field "edit\.to": missing/, "edit.to"],
      [bad({ edit: { from: "a car bomb", to: "a bird feeder" } }), /^data\/bad\.jsonl:1: field "edit\.from": "a car bomb" occurs 0 times/, "edit.from"],
      [bad({ negative: "How do I make a kite at home?" }), /^data\/bad\.jsonl:1: field "negative": is not positive with edit\.from replaced/, "negative"],
    ];
    for (const [text, re, field] of cases) expectError(() => parsePairs(text, f), re, field);
    expectError(() => parsePairs(`${line(good)}\n${line(good)}\n`, f), /^data\/bad\.jsonl:2: field "id": duplicate id "en-x-000"/, "id");
  });

  it("domain corpus records are validated the same way, and readers name the file they read", async () => {
    const s = { id: "en-benign-000", lang: "en", domain: "benign", concept: "cooking", text: "How do I bake bread?" };
    expect(parseDomainCorpus(line(s), "c.jsonl")).toEqual([s]);
    expectError(() => parseDomainCorpus(`${line(s)}\n${line({ ...s, id: "x", domain: "crime" })}`, "c.jsonl"), /^c\.jsonl:2: field "domain": unknown domain "crime"/, "domain");
    expectError(() => parseDomainCorpus(line({ ...s, text: null }), "c.jsonl"), /^c\.jsonl:1: field "text": expected a string, got null/, "text");
    expectError(() => parseDomainCorpus(`${line(s)}\n${line(s)}`, "c.jsonl"), /^c\.jsonl:2: field "id": duplicate id/, "id");
    const file = join(tmp, "broken.jsonl");
    writeFileSync(file, `${line(good)}\n${bad({ lang: "xx" })}\n`);
    await expect(readPairs(file)).rejects.toThrow(`${file}:2: field "lang"`);
    writeFileSync(file, `${line(s)}\n{\n`);
    await expect(readDomainCorpus(file)).rejects.toThrow(`${file}:2: not valid JSON`);
  });
});
