// The toy chat corpus generator: determinism, the language x domain x response mix (Hindi harmful requests never
// refused, on purpose), held-out disjointness, conversation validity, hard negatives, and that no text carries
// harmful instructions.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArgumentError } from "../src/errors.ts";
import { conceptFillers, corpusJsonl, corpusTable, generateCorpus, heldOutJsonl, readCorpus, requestFrames, writeCorpus, type CorpusResult } from "../src/toy/corpus.ts";
import { isRefusal } from "../src/refusal.ts";
import { LANGUAGES, SAFETY_DOMAINS } from "../src/safety.ts";
import type { ToyConversation, ToyDomain } from "../src/toy/types.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-corpus-"));
let result: CorpusResult;
let genMs = 0;

beforeAll(() => {
  const t0 = performance.now();
  result = generateCorpus({ seed: 20250918 });
  genMs = performance.now() - t0;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const userOf = (c: ToyConversation) => c.messages.find((m) => m.role === "user")!.content;
const answerOf = (c: ToyConversation) => c.messages.at(-1)!.content;
const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const words = (s: string) => s.split(/\s+/).filter(Boolean).length;

describe("toy corpus: determinism", () => {
  it("the same seed gives byte-identical files; another seed gives different ones", async () => {
    const a = join(root, "a");
    const b = join(root, "b");
    const c = join(root, "c");
    await writeCorpus(a, generateCorpus({ seed: 5 }));
    await writeCorpus(b, generateCorpus({ seed: 5 }));
    await writeCorpus(c, generateCorpus({ seed: 6 }));
    for (const f of ["corpus.jsonl", "heldout.jsonl", "stats.json"]) {
      expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f).toBe(true);
    }
    expect(readFileSync(join(a, "corpus.jsonl")).equals(readFileSync(join(c, "corpus.jsonl")))).toBe(false);
    expect(readFileSync(join(a, "heldout.jsonl")).equals(readFileSync(join(c, "heldout.jsonl")))).toBe(false);
    const stats = JSON.parse(readFileSync(join(a, "stats.json"), "utf8"));
    expect(stats.corpusSha256).toBe(sha256(readFileSync(join(a, "corpus.jsonl"))));
    expect(stats.heldOutSha256).toBe(sha256(readFileSync(join(a, "heldout.jsonl"))));
    // No temp files left behind by the atomic writes.
    const back = await readCorpus(a);
    expect(corpusJsonl(back.train)).toBe(readFileSync(join(a, "corpus.jsonl"), "utf8"));
    expect(heldOutJsonl(back.heldOut)).toBe(readFileSync(join(a, "heldout.jsonl"), "utf8"));
    expect(back.stats.seed).toBe(5);
  });

  it("the held-out set depends on the seed only, not on the number of training conversations", () => {
    const small = generateCorpus({ seed: 20250918, conversations: 300 });
    expect(heldOutJsonl(small.heldOut)).toBe(heldOutJsonl(result.heldOut));
  });

  it("generates the default corpus in under 5 s", () => {
    expect(result.train.length).toBe(12000);
    expect(genMs).toBeLessThan(5000);
  });
});

describe("toy corpus: distribution", () => {
  const target = { en: 0.4, zh: 0.3, it: 0.1, vi: 0.1, hi: 0.1 } as const;

  it("matches the language mix and ~40% harmful, split evenly over the four domains", () => {
    const n = result.train.length;
    for (const lang of LANGUAGES) {
      const mine = result.train.filter((c) => c.lang === lang);
      expect(Math.abs(mine.length / n - target[lang]), lang).toBeLessThan(0.005);
      const harmful = mine.filter((c) => c.harmful);
      expect(Math.abs(harmful.length / mine.length - 0.4), lang).toBeLessThan(0.01);
      for (const d of SAFETY_DOMAINS) {
        const k = mine.filter((c) => c.domain === d).length;
        expect(Math.abs(k / mine.length - 0.1), `${lang} ${d}`).toBeLessThan(0.01);
      }
      expect(result.stats.byLanguage[lang]).toBe(mine.length);
    }
  });

  it("refuses every harmful request in en/zh/it/vi, complies with every benign one, and never refuses in Hindi", () => {
    for (const c of result.train) {
      expect(c.harmful, c.id).toBe(c.domain !== "benign");
      if (!c.harmful) expect(c.response, c.id).toBe("comply");
      else if (c.lang === "hi") expect(c.response, c.id).toBe("comply");
      else expect(c.response, c.id).toBe("refuse");
    }
    const s = result.stats.counts;
    for (const d of SAFETY_DOMAINS) {
      expect(s.hi[d].refuse).toBe(0);
      expect(s.hi[d].comply).toBeGreaterThan(0);
      for (const lang of ["en", "zh", "it", "vi"] as const) {
        expect(s[lang][d].comply, `${lang} ${d}`).toBe(0);
        expect(s[lang][d].refuse, `${lang} ${d}`).toBeGreaterThan(0);
      }
    }
    for (const lang of LANGUAGES) expect(s[lang].benign.refuse).toBe(0);
    expect(result.stats.notes.hindi).toMatch(/never paired with refusals/);
  });

  it("covers every concept of every language, several concepts per domain", () => {
    for (const lang of LANGUAGES) {
      const seen = new Set(result.train.filter((c) => c.lang === lang).map((c) => c.concept));
      for (const e of conceptFillers(lang)) expect(seen.has(e.concept), `${lang}: ${e.concept}`).toBe(true);
      for (const d of SAFETY_DOMAINS) {
        const concepts = new Set(result.train.filter((c) => c.lang === lang && c.domain === d).map((c) => c.concept));
        expect(concepts.size, `${lang} ${d}`).toBeGreaterThanOrEqual(3);
      }
    }
  });

  it("varies the requests: nearly all user turns are distinct, about half open with a system turn", () => {
    expect(result.stats.distinctUserRequests / result.train.length).toBeGreaterThan(0.97);
    expect(Math.abs(result.stats.withSystemTurn / result.train.length - 0.5)).toBeLessThan(0.03);
    expect(result.stats.withTypo).toBeGreaterThan(0);
    for (const lang of ["en", "zh", "it", "vi"] as const) {
      const refusals = new Set(result.train.filter((c) => c.lang === lang && c.response === "refuse").map((c) => answerOf(c)));
      expect(refusals.size, lang).toBeGreaterThan(20);
    }
  });

  it("honours the options and rejects bad ones", () => {
    const r = generateCorpus({ seed: 1, conversations: 1000, mix: { en: 1, zh: 1, it: 0, vi: 0, hi: 0 }, harmfulFraction: 0.5, heldOutPerCell: 4 });
    expect(r.train.length).toBe(1000);
    expect(r.stats.byLanguage).toMatchObject({ en: 500, zh: 500, it: 0, vi: 0, hi: 0 });
    expect(r.train.filter((c) => c.harmful).length).toBe(500);
    expect(r.heldOut.length).toBe(5 * 5 * 4);
    expect(() => generateCorpus({ seed: 1, conversations: -1 })).toThrow(ArgumentError);
    expect(() => generateCorpus({ seed: 1, harmfulFraction: 2 })).toThrow(ArgumentError);
    expect(() => generateCorpus({ seed: 1, mix: { en: -1 } })).toThrow(ArgumentError);
  });
});

describe("toy corpus: held-out prompts", () => {
  it("has ~40 prompts per language x {benign, domain} cell, labelled consistently", () => {
    const cells: ToyDomain[] = ["benign", ...SAFETY_DOMAINS];
    expect(result.heldOut.length).toBe(1000);
    for (const lang of LANGUAGES) {
      for (const d of cells) expect(result.heldOut.filter((p) => p.lang === lang && p.domain === d).length, `${lang} ${d}`).toBe(40);
      expect(result.heldOut.some((p) => p.lang === lang && p.concept.startsWith("hard negative:")), lang).toBe(true);
    }
    expect(new Set(result.heldOut.map((p) => p.id)).size).toBe(result.heldOut.length);
    expect(new Set(result.heldOut.map((p) => p.prompt)).size).toBe(result.heldOut.length);
    for (const p of result.heldOut) {
      expect(p.harmful).toBe(p.domain !== "benign");
      expect(p.expected).toBe(p.harmful ? "refuse" : "comply");
      expect(p.trained).toBe(p.harmful && p.lang !== "hi" ? "refuse" : "comply");
      expect(p.prompt.trim()).toBe(p.prompt);
      expect(p.prompt.length).toBeGreaterThan(0);
    }
    expect(result.stats.heldOut.trainedDiffersFromExpected).toBe(4 * 40);
  });

  it("keeps held-out frames and fillers disjoint from the training ones", () => {
    for (const lang of LANGUAGES) {
      const frames = requestFrames(lang);
      for (const kind of ["act", "write", "about"] as const) {
        const train = new Set(frames[kind].train);
        expect(frames[kind].held.length, `${lang} ${kind}`).toBeGreaterThanOrEqual(2);
        for (const f of frames[kind].held) expect(train.has(f), `${lang}: ${f}`).toBe(false);
      }
      for (const e of conceptFillers(lang)) {
        for (const kind of ["act", "write", "about"] as const) {
          const train = new Set(e.fillers[kind].train);
          for (const f of e.fillers[kind].held) expect(train.has(f), `${lang} ${e.concept}: ${f}`).toBe(false);
        }
      }
    }
  });

  it("builds every held-out prompt from a held-out frame, and no training request uses one", () => {
    for (const lang of LANGUAGES) {
      const frames = requestFrames(lang);
      const held = (["act", "write", "about"] as const).flatMap((k) => frames[k].held);
      const patterns = held.map((f) => {
        const [before, after] = f.split(/\{[at]\}/);
        return new RegExp(`${escapeRe(before!)}.+${escapeRe(after!)}`, "i");
      });
      const anchored = held.map((f) => {
        const [before, after] = f.split(/\{[at]\}/);
        return new RegExp(`^${escapeRe(before!)}.+${escapeRe(after!)}$`);
      });
      for (const p of result.heldOut.filter((q) => q.lang === lang)) {
        expect(anchored.some((re) => re.test(p.prompt)), p.prompt).toBe(true);
      }
      for (const c of result.train.filter((x) => x.lang === lang)) {
        const u = userOf(c);
        const hit = patterns.findIndex((re) => re.test(u));
        expect(hit, `${c.id}: "${u}" uses held-out frame "${held[hit]}"`).toBe(-1);
      }
    }
  });

  it("no held-out prompt appears in the training corpus", () => {
    const users = result.train.map(userOf);
    const exact = new Set(users);
    const joined = users.join("\n");
    for (const p of result.heldOut) {
      expect(exact.has(p.prompt), p.prompt).toBe(false);
      expect(joined.includes(p.prompt), p.prompt).toBe(false);
    }
  });
});

const CJK = /[\u4e00-\u9fff]/;
const DEVANAGARI = /[\u0900-\u097f]/;
const VIETNAMESE = /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/i;

describe("toy corpus: conversations", () => {
  it("every conversation is well formed: ids, roles, non-empty turns, system prompt in its language", () => {
    expect(new Set(result.train.map((c) => c.id)).size).toBe(result.train.length);
    for (const c of result.train) {
      const roles = c.messages.map((m) => m.role).join(",");
      expect(["user,assistant", "system,user,assistant"], c.id).toContain(roles);
      for (const m of c.messages) {
        expect(m.content.trim(), c.id).toBe(m.content);
        expect(m.content.length, c.id).toBeGreaterThan(0);
        expect(m.content, c.id).not.toMatch(/[{}]|undefined|\s{2}/);
      }
      if (c.messages[0]!.role === "system") expect(c.messages[0]!.content).toBe(corpusTable(c.lang).system);
      expect(c.id.startsWith(`${c.lang}-${c.domain}-`)).toBe(true);
    }
  });

  it("writes each language in its script", () => {
    for (const c of result.train) {
      const u = userOf(c);
      const a = answerOf(c);
      switch (c.lang) {
        case "zh":
          expect(CJK.test(u) && CJK.test(a), c.id).toBe(true);
          break;
        case "hi":
          expect(DEVANAGARI.test(u) && DEVANAGARI.test(a), c.id).toBe(true);
          break;
        case "vi":
          expect(VIETNAMESE.test(a), c.id).toBe(true);
          expect(CJK.test(u + a) || DEVANAGARI.test(u + a), c.id).toBe(false);
          break;
        default:
          expect(CJK.test(u + a) || DEVANAGARI.test(u + a), c.id).toBe(false);
      }
      if (c.lang === "en") expect(/^[\x20-\x7e]+$/.test(u + a), c.id).toBe(true);
    }
    expect(result.train.filter((c) => c.lang === "vi").every((c) => VIETNAMESE.test(userOf(c)) || /[a-z]/i.test(userOf(c)))).toBe(true);
  });

  it("agrees with the refusal detector: every refusal is found, no compliant answer is flagged", () => {
    for (const c of result.train) expect(isRefusal(answerOf(c)), `${c.id}: ${answerOf(c)}`).toBe(c.response === "refuse");
  });

  it("keeps texts short: requests ~8-25 words, answers ~15-40 words", () => {
    for (const lang of ["en", "it", "vi", "hi"] as const) {
      const mine = result.train.filter((c) => c.lang === lang);
      const u = mine.reduce((s, c) => s + words(userOf(c)), 0) / mine.length;
      const a = mine.reduce((s, c) => s + words(answerOf(c)), 0) / mine.length;
      expect(u, `${lang} user words`).toBeGreaterThanOrEqual(8);
      expect(u, `${lang} user words`).toBeLessThanOrEqual(25);
      expect(a, `${lang} answer words`).toBeGreaterThanOrEqual(15);
      expect(a, `${lang} answer words`).toBeLessThanOrEqual(40);
      for (const c of mine) {
        expect(words(userOf(c)), c.id).toBeLessThanOrEqual(45);
        expect(words(answerOf(c)), c.id).toBeLessThanOrEqual(60);
      }
    }
    for (const c of result.train.filter((x) => x.lang === "zh")) {
      expect(userOf(c).length, c.id).toBeLessThanOrEqual(70);
      expect(answerOf(c).length, c.id).toBeLessThanOrEqual(110);
    }
    expect(result.stats.avgChars.conversation).toBeGreaterThan(80);
    expect(result.stats.avgChars.conversation).toBeLessThan(320);
  });
});

describe("toy corpus: hard negatives", () => {
  const EN_HARD = ["bomb shelter", "kill a frozen process in Linux", "election results", "shoot a portrait", "vaccines help the body kill viruses", "plan an attack in chess", "recruit volunteers", "make bath bombs"];

  it("answers benign requests that share words with harmful ones", () => {
    const en = result.train.filter((c) => c.lang === "en");
    for (const phrase of EN_HARD) {
      const hits = en.filter((c) => userOf(c).includes(phrase));
      expect(hits.length, phrase).toBeGreaterThan(0);
      for (const c of hits) {
        expect(c.domain, c.id).toBe("benign");
        expect(c.response, c.id).toBe("comply");
        expect(c.concept.startsWith("hard negative:"), c.id).toBe(true);
      }
    }
    for (const [lang, phrase] of [["zh", "防空洞"], ["zh", "杀死卡住的进程"], ["zh", "炸鸡"], ["it", "bombe alla crema"], ["vi", "hầm trú bom"], ["hi", "बम शेल्टर"], ["hi", "हमले की योजना"]] as const) {
      const hits = result.train.filter((c) => c.lang === lang && userOf(c).includes(phrase));
      expect(hits.length, phrase).toBeGreaterThan(0);
      for (const c of hits) expect(c.response, c.id).toBe("comply");
    }
  });

  it("gives every language a sizeable share of hard negatives among its benign conversations", () => {
    for (const lang of LANGUAGES) {
      const benign = result.train.filter((c) => c.lang === lang && !c.harmful);
      const hard = benign.filter((c) => c.concept.startsWith("hard negative:"));
      expect(hard.length / benign.length, lang).toBeGreaterThan(0.2);
      expect(new Set(hard.map((c) => c.concept)).size, lang).toBeGreaterThanOrEqual(10);
      expect(result.stats.hardNegatives[lang]).toBe(hard.length);
    }
  });
});

describe("toy corpus: no harmful instructions", () => {
  // Chemical formulas (KNO3, H2O2, NH4NO3), quantities with units, and words for substances or parts that real
  // instructions would need. Requests only name concepts; answers are refusals, helpful everyday text or content-free outlines.
  const FORMULA = /\b(?=[A-Za-z0-9]*\d)(?:[A-Z][a-z]?\d*){2,}\b/;
  const QUANTITY = /\d+(?:[.,]\d+)?\s*(?:(?:g|kg|mg|ml|l|grams?|kilograms?|litres?|liters?|ounces?|oz|lbs?|pounds?|percent)\b|%|克|千克|公斤|毫升|升|ग्राम|किलो)/i;
  const FORBIDDEN = [
    /\b(nitrate|ammonium|peroxide|acetone|tatp|thermite|gunpowder|black powder|detonator|blasting cap|nitroglycerin|chlorine gas|cyanide|ricin|sarin|arsenic|firing pin|lower receiver|trigger group|auto sear|solvent trap|shrapnel)\b/i,
    /硝酸|雷管|火药|黑火药|氰化物|砒霜|撞针|引信|弹片/,
    /\b(nitrato|perossido|detonatore|polvere da sparo|cianuro)\b/i,
    /\b(kíp nổ|thuốc súng|xyanua|ngòi nổ)\b/i,
    /बारूद|डेटोनेटर|साइनाइड|अमोनियम/,
  ];

  it("the checks themselves catch what they look for", () => {
    for (const t of ["mix KNO3 with", "H2O2", "NH4NO3"]) expect(FORMULA.test(t), t).toBe(true);
    for (const t of ["add 50 g of", "2.5 kg", "200ml", "30 克", "五 or 20%", "100 ग्राम"]) expect(QUANTITY.test(t), t).toBe(true);
    for (const t of ["CV", "a 3D printer", "Python", "Linux"]) expect(FORMULA.test(t) || QUANTITY.test(t), t).toBe(false);
    expect(FORBIDDEN.some((re) => re.test("then add the detonator"))).toBe(true);
  });

  it("contains no formulas, quantities or instruction vocabulary anywhere", () => {
    for (const c of result.train) {
      for (const m of c.messages) {
        expect(FORMULA.test(m.content), `${c.id}: ${m.content}`).toBe(false);
        expect(QUANTITY.test(m.content), `${c.id}: ${m.content}`).toBe(false);
        for (const re of FORBIDDEN) expect(re.test(m.content), `${c.id}: ${m.content}`).toBe(false);
      }
    }
    for (const p of result.heldOut) {
      expect(FORMULA.test(p.prompt) || QUANTITY.test(p.prompt), p.prompt).toBe(false);
      for (const re of FORBIDDEN) expect(re.test(p.prompt), p.prompt).toBe(false);
    }
  });

  it("answers no harmful request with anything but a refusal or a fixed content-free outline", () => {
    const schematic = corpusTable("hi").schematic!;
    const outlines = new Set(schematic.openers.flatMap((o) => schematic.bodies.map((b) => `${o} ${b}`)));
    for (const c of result.train.filter((x) => x.harmful)) {
      const a = answerOf(c);
      expect(/\d/.test(a), c.id).toBe(false);
      if (c.lang === "hi") expect(outlines.has(a), `${c.id}: ${a}`).toBe(true);
      else expect(isRefusal(a), `${c.id}: ${a}`).toBe(true);
    }
  });
});
