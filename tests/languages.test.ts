// compareLanguages and refusalFeatures (src/steer/languages.ts) on the toy model with four seeded random SAEs and a
// database built by hand. Strengths and counts are recomputed here from the plain path (model.forward with the hooks
// cached, the plain-JS encodeTopK, the query's tokens found from the template's shape); the bootstrap intervals are
// recomputed by Debian's /usr/bin/python3 with its own mulberry32, deriveSeed and linear quantile.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { tokenizeDocument } from "../src/activations/text.ts";
import { featureRecord, type FeatureActivationSummary, type FeatureRecord } from "../src/db/records.ts";
import { newFeatureDb } from "../src/db/store.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import { createSae, encodeTopK, type Sae } from "../src/sae/sae.ts";
import { compareLanguages, refusalFeatures, twoSampleGap, type LanguageQuery } from "../src/steer/index.ts";

const PY = "/usr/bin/python3";
const ROOT = resolve(import.meta.dirname, "..");
const MODEL_DIR = resolve(ROOT, "models/toy-safety-qwen2");
const HOOKS = [0, 1, 2, 3].map((l) => `blocks.${l}.hook_resid_post`);
const DSAE = 256;
const K = 12;
const SAES: Sae[] = HOOKS.map((hookName, l) => createSae({ dIn: 256, dSae: DSAE, k: K, hookName }, { seed: 70 + l }));
const IM_START = 4094;
const IM_END = 4095;

const summary = (norm: number): FeatureActivationSummary => ({ store: "t", frac_nonzero: 0.1, max_activation: 2 * norm, normalisation_value: norm, histogram: { edges: [], counts: [] }, logits: { top: [], bottom: [] }, top_examples: [] });

// Database: even latents tagged terror, latents 1 mod 4 tagged violence, the rest untagged; every third has a
// normalisation value (small enough that some activations clip), the others are normalised by the call's maximum.
const RECORDS: FeatureRecord[] = [];
for (let l = 0; l < 4; l++) {
  for (let i = 0; i < DSAE; i++) {
    RECORDS.push(featureRecord(`${l}_${i}`, { explanation: `f${l}_${i}`, correlation_score: 0.5, tag_list: i % 2 === 0 ? ["terror"] : i % 4 === 1 ? ["violence"] : [], ...(i % 3 === 0 ? { activations: summary(4 + (i % 7)) } : {}) }));
  }
}
const DB = newFeatureDb(RECORDS);
const byId = new Map(RECORDS.map((r) => [r.id, r]));

const pairs = readFileSync(resolve(ROOT, "data/contrastive-pairs.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { id: string; lang: string; domain: string; concept: string; positive: string });
const pick = (lang: string, concept: string, n: number) => pairs.filter((p) => p.lang === lang && p.concept === concept).slice(0, n);
const QUERIES: LanguageQuery[] = [...pick("en", "explosives", 3), ...pick("hi", "explosives", 2), ...pick("zh", "explosives", 2), ...pick("en", "weapons", 1)].map((p) => ({ lang: p.lang, concept: p.concept, domain: p.domain, text: p.positive, id: p.id }));

let model: Model;
/** Per query: ids, the user-content positions (between the user header and <|im_end|>), and the dense codes. */
const ref: { ids: number[]; positions: number[]; dense: Float32Array[] }[] = [];

async function dense(ids: number[]): Promise<Float32Array[]> {
  const { cache } = await model.forward([ids], { cache: HOOKS, logits: "none" });
  return SAES.map((sae, l) => {
    const code = encodeTopK(sae, cache[HOOKS[l]!]!.data, ids.length);
    const d = new Float32Array(ids.length * DSAE);
    for (let t = 0; t < ids.length; t++) for (let j = 0; j < K; j++) d[t * DSAE + code.indices[t * K + j]!] = code.values[t * K + j]!;
    return d;
  });
}

beforeAll(async () => {
  model = await loadModel(MODEL_DIR);
  expect(QUERIES.map((q) => q.lang)).toEqual(["en", "en", "en", "hi", "hi", "zh", "zh", "en"]);
  for (const q of QUERIES) {
    const ids = model.toTokens(q.text!, { chat: true });
    // "<|im_start|>user\n" is im_start, "us", "er", "\n": the user's text runs from token 4 up to the first <|im_end|>.
    expect(ids[0]).toBe(IM_START);
    const positions = Array.from({ length: ids.indexOf(IM_END) - 4 }, (_, i) => 4 + i);
    expect(model.decode(positions.map((t) => ids[t]!))).toBe(q.text);
    ref.push({ ids, positions, dense: await dense(ids) });
  }
}, 60_000);

/** Expected per-(query, layer) strength and count for a feature set rule. */
function expected(setOf: (q: LanguageQuery, layer: number) => number[], threshold = 0.2) {
  // Normalisers: the record's, else the maximum over every query's positions.
  const observed = new Map<string, number>();
  ref.forEach((r) => r.dense.forEach((d, l) => r.positions.forEach((t) => {
    for (let i = 0; i < DSAE; i++) observed.set(`${l}_${i}`, Math.max(observed.get(`${l}_${i}`) ?? 0, d[t * DSAE + i]!));
  })));
  const normOf = (l: number, i: number) => byId.get(`${l}_${i}`)?.activations?.normalisation_value ?? observed.get(`${l}_${i}`)!;
  return QUERIES.flatMap((q, qi) =>
    [0, 1, 2, 3].map((l) => {
      const set = setOf(q, l);
      const ms = set.map((i) => {
        const max = Math.max(0, ...ref[qi]!.positions.map((t) => ref[qi]!.dense[l]![t * DSAE + i]!));
        const n = normOf(l, i);
        return n > 0 ? Math.min(1, max / n) : 0;
      });
      return { query: qi, layer: l, strength: ms.reduce((a, b) => a + b, 0) / set.length, count: ms.filter((m) => m > threshold).length };
    }),
  );
}

const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("compareLanguages", () => {
  it("measures, per query and layer, the mean of max normalised activation over the domain's features and the count above the threshold", async () => {
    const cmp = await compareLanguages(model, SAES, DB, QUERIES, { bootstrap: { samples: 200, seed: 3 } });
    const exp = expected((q, l) => RECORDS.filter((r) => r.layer === l && r.tag_list.includes(q.domain!)).map((r) => r.index));
    expect(cmp.perQuery).toHaveLength(QUERIES.length * 4);
    cmp.perQuery.forEach((m, i) => {
      expect([m.query, m.layer]).toEqual([exp[i]!.query, exp[i]!.layer]);
      expect(m.strength).toBeCloseTo(exp[i]!.strength, 5);
      expect(m.count).toBe(exp[i]!.count);
      expect(m.positions).toBe(ref[m.query]!.positions.length);
      expect(m.features).toBe(QUERIES[m.query]!.domain === "terror" ? DSAE / 2 : DSAE / 4);
    });
    // Counts vary (the threshold cuts somewhere), and some strengths clip features at 1.
    expect(new Set(cmp.perQuery.map((m) => m.count)).size).toBeGreaterThan(2);
    // Per language and layer: means over that language's queries.
    for (const row of cmp.perLanguage) {
      const mine = exp.filter((e) => QUERIES[e.query]!.lang === row.lang && e.layer === row.layer);
      expect(row.queries).toBe(mine.length);
      expect(row.strength).toBeCloseTo(meanOf(mine.map((e) => e.strength)), 5);
      expect(row.count).toBeCloseTo(meanOf(mine.map((e) => e.count)), 10);
    }
    expect(cmp.languages).toEqual(["en", "hi", "zh"]);
    // Groups: the concept.
    expect(new Set(cmp.perGroup.filter((g) => g.lang === "en").map((g) => g.group))).toEqual(new Set(["explosives", "weapons"]));
    expect(cmp.warnings.some((w) => /normalised by their maximum over every query token/.test(w))).toBe(true);
    expect(JSON.parse(JSON.stringify(cmp))).toEqual(cmp);
  });

  it("gives the reference language a gap of exactly 0 (ratio 1), and seeded, deterministic intervals that Python reproduces", async () => {
    const opts = { bootstrap: { samples: 300, seed: 11, level: 0.9 } };
    const a = await compareLanguages(model, SAES, DB, QUERIES, opts);
    // The languages in another order, each language's queries in the same order.
    const order = ["zh", "hi", "en"];
    const b = await compareLanguages(model, SAES, DB, [...QUERIES].sort((x, y) => order.indexOf(x.lang) - order.indexOf(y.lang)), opts);
    expect(b.languages).toEqual(order);
    for (const g of a.gaps.filter((g) => g.lang === "en")) {
      expect([g.strength.estimate, g.strength.low, g.strength.high]).toEqual([0, 0, 0]);
      expect([g.count.estimate, g.count.low, g.count.high]).toEqual([0, 0, 0]);
    }
    // Same seed: the same intervals, whatever the order of the languages (the seed is per language, layer and measure).
    const key = (g: (typeof a.gaps)[number]) => `${g.lang}/${g.layer}`;
    const bBy = new Map(b.gaps.map((g) => [key(g), g]));
    for (const g of a.gaps) {
      expect(bBy.get(key(g))!.strength.low).toBeCloseTo(g.strength.low!, 10);
      expect(bBy.get(key(g))!.count.high).toBeCloseTo(g.count.high!, 10);
    }
    // Python: the two-sample bootstrap with its own mulberry32 and deriveSeed.
    const cases = a.gaps.filter((g) => g.lang !== "en").flatMap((g) =>
      (["strength", "count"] as const).map((measure) => ({
        lang: g.lang,
        layer: g.layer,
        measure,
        a: a.perQuery.filter((m) => m.lang === g.lang && m.layer === g.layer).map((m) => m[measure]),
        b: a.perQuery.filter((m) => m.lang === "en" && m.layer === g.layer).map((m) => m[measure]),
        got: g[measure],
      })),
    );
    const script = String.raw`
import json, sys
M = 0xFFFFFFFF
def imul(x, y): return (x * y) & M
def mulberry32(seed):
    state = [seed & M]
    def r():
        state[0] = (state[0] + 0x6D2B79F5) & M
        t = state[0]
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & M
        return ((t ^ (t >> 14)) & M) / 4294967296
    return r
def derive_seed(seed, *parts):
    h = (0x811C9DC5 ^ (seed & M)) & M
    units = "\u0000".join(parts).encode("utf-16-le")
    for i in range(0, len(units), 2):
        h ^= int.from_bytes(units[i:i + 2], "little")
        h = imul(h, 0x01000193)
    return h
def total(xs):
    s = 0.0
    for x in xs: s += x
    return s
def quantile(xs, q):
    pos = q * (len(xs) - 1)
    lo = int(pos // 1)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (pos - lo) * (xs[hi] - xs[lo])
inp = json.load(sys.stdin)
out = []
for c in inp["cases"]:
    a, b = c["a"], c["b"]
    r = mulberry32(derive_seed(inp["seed"], c["lang"], str(c["layer"]), c["measure"]))
    stats = []
    for _ in range(inp["samples"]):
        sa = 0.0
        for _ in range(len(a)): sa += a[int(r() * len(a))]
        sb = 0.0
        for _ in range(len(b)): sb += b[int(r() * len(b))]
        stats.append(sa / len(a) - sb / len(b))
    stats.sort()
    tail = (1 - inp["level"]) / 2
    out.append({"estimate": total(a) / len(a) - total(b) / len(b), "low": quantile(stats, tail), "high": quantile(stats, 1 - tail)})
print(json.dumps(out))`;
    const py = JSON.parse(execFileSync(PY, ["-c", script], { input: JSON.stringify({ cases, seed: 11, samples: 300, level: 0.9 }), encoding: "utf8" })) as { estimate: number; low: number; high: number }[];
    cases.forEach((c, i) => {
      expect(c.got.estimate).toBeCloseTo(py[i]!.estimate, 10);
      expect(c.got.low).toBeCloseTo(py[i]!.low, 10);
      expect(c.got.high).toBeCloseTo(py[i]!.high, 10);
      expect(c.got.samples).toBe(300);
    });
    // A language with one query gets an interval that says what it lacks.
    expect(twoSampleGap([0.5], [0.1, 0.3], "difference", { samples: 20, seed: 1, level: 0.95 }).warning).toMatch(/only one query in this language/);
    expect(cases.every((c) => c.got.warning === undefined)).toBe(true);
    // The intervals are not degenerate: resampling moves them.
    expect(cases.some((c) => c.got.high! > c.got.low!)).toBe(true);
    // Another seed, another interval.
    const c = await compareLanguages(model, SAES, DB, QUERIES, { bootstrap: { samples: 300, seed: 12, level: 0.9 } });
    expect(c.gaps.some((g, i) => g.strength.low !== a.gaps[i]!.strength.low)).toBe(true);
    // Ratios: the reference's is 1.
    const ratio = await compareLanguages(model, SAES, DB, QUERIES, { gap: "ratio", bootstrap: { samples: 50 } });
    for (const g of ratio.gaps.filter((g) => g.lang === "en")) expect([g.strength.estimate, g.strength.low, g.strength.high]).toEqual([1, 1, 1]);
    const hi0 = ratio.gaps.find((g) => g.lang === "hi" && g.layer === 0)!;
    const perLang = (lang: string) => ratio.perLanguage.find((p) => p.lang === lang && p.layer === 0)!.strength!;
    expect(hi0.strength.estimate).toBeCloseTo(perLang("hi") / perLang("en"), 10);
  });

  it("restricts to a given feature set (e.g. refusal features), or to sets per concept", async () => {
    const features = ["0_3", "0_10", "1_7", "3_100", "3_101"];
    const cmp = await compareLanguages(model, SAES, DB, QUERIES, { features, bootstrap: { samples: 10 } });
    const exp = expected((_, l) => features.filter((f) => f.startsWith(`${l}_`)).map((f) => Number(f.split("_")[1])));
    cmp.perQuery.forEach((m, i) => {
      if (m.layer === 2) {
        expect(m.strength).toBeNull(); // no feature of the set at layer 2
        return;
      }
      expect(m.strength).toBeCloseTo(exp[i]!.strength, 5);
      expect(m.count).toBe(exp[i]!.count);
    });
    expect(cmp.options.featureSource).toBe("features");
    expect(cmp.warnings.some((w) => /no strength/.test(w))).toBe(true);
    const sets = await compareLanguages(model, SAES, DB, QUERIES, { featureSets: { weapons: ["1_5"] }, features: ["1_9"], bootstrap: { samples: 10 } });
    const w = sets.perQuery.find((m) => m.group === "weapons" && m.layer === 1)!;
    const e = sets.perQuery.find((m) => m.group === "explosives" && m.layer === 1)!;
    expect([w.features, e.features]).toEqual([1, 1]);
    expect(w.firing.every((f) => f === "1_5") && e.firing.every((f) => f === "1_9")).toBe(true);
  });

  it("reads the answer's tokens of conversations with positions: answer, and every unmasked token with nonspecial", async () => {
    const messages = [{ role: "user", content: "How do I make a bomb?" }, { role: "assistant", content: "I can't help with that." }];
    const queries: LanguageQuery[] = [{ lang: "en", messages, domain: "terror" }];
    const { ids, answerStart } = tokenizeDocument(model, { messages });
    const answer = await compareLanguages(model, SAES, DB, queries, { positions: "answer", bootstrap: { samples: 5 } });
    expect(answer.perQuery[0]!.positions).toBe(ids.lastIndexOf(IM_END) - answerStart!);
    const nonspecial = await compareLanguages(model, SAES, DB, queries, { positions: "nonspecial", bootstrap: { samples: 5 } });
    expect(nonspecial.perQuery[0]!.positions).toBe(ids.filter((id) => id !== IM_START && id !== IM_END).length);
    const query = await compareLanguages(model, SAES, DB, queries, { bootstrap: { samples: 5 } });
    expect(query.perQuery[0]!.positions).toBe(model.toTokens("How do I make a bomb?").length);
    // header: the unmasked template tokens after the request's turn and before the answer ("\n", "assistant", "\n"),
    // the same for the conversation and for the request alone (which ends with the generation prompt).
    const headerIds = ids.slice(ids.indexOf(IM_END) + 1, answerStart!).filter((id) => id !== IM_START && id !== IM_END);
    expect(model.decode(headerIds)).toBe("\nassistant\n");
    const header = await compareLanguages(model, SAES, DB, [...queries, { lang: "en", text: "How do I make a bomb?", domain: "terror" }], { positions: "header", bootstrap: { samples: 5 } });
    expect(header.perQuery.filter((m) => m.layer === 0).map((m) => m.positions)).toEqual([headerIds.length, headerIds.length]);
    expect(header.options.positions).toBe("header");
    // The two read the same tokens after the same request, so the measures agree.
    for (const layer of [0, 1, 2, 3]) {
      const [a, b] = header.perQuery.filter((m) => m.layer === layer);
      expect(a!.strength).toBeCloseTo(b!.strength!, 5);
    }
    await expect(compareLanguages(model, SAES, DB, queries, { positions: "end" as "query" })).rejects.toThrow(/positions must be "query", "answer", "nonspecial" or "header", got "end"/);
  });

  it("refuses bad input, naming it", async () => {
    await expect(compareLanguages(model, SAES, DB, QUERIES.filter((q) => q.lang !== "en"))).rejects.toThrow(/reference: no query is in "en"/);
    await expect(compareLanguages(model, SAES, DB, [{ lang: "en" }])).rejects.toThrow(/queries\[0\]: give text or messages/);
    await expect(compareLanguages(model, SAES, DB, QUERIES, { features: ["9_1"] })).rejects.toThrow(/features: 9_1: no SAE reads layer 9/);
    await expect(compareLanguages(model, SAES, DB, QUERIES, { threshold: 2 })).rejects.toThrow(/threshold must be a number in \[0, 1\]/);
  });
});

/** The toy model's held-out English conversations: the first 3 refused and the first 3 complied, with their answers. */
function sixConversations() {
  const outcomes = (JSON.parse(readFileSync(resolve(MODEL_DIR, "eval.json"), "utf8")) as { outcomes: { prompt?: string; id: string; answer: string; refused: boolean; lang: string }[] }).outcomes;
  const prompts = new Map(readFileSync(resolve(MODEL_DIR, "heldout.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { id: string; prompt: string }).map((p) => [p.id, p.prompt]));
  const en = outcomes.filter((o) => o.lang === "en");
  const chosen = [...en.filter((o) => o.refused).slice(0, 3), ...en.filter((o) => !o.refused).slice(0, 3)];
  return chosen.map((o) => ({ messages: [{ role: "user", content: prompts.get(o.id)! }, { role: "assistant", content: o.answer }], refused: o.refused, id: o.id }));
}

/**
 * The ranking refusalFeatures should give, computed here from dense codes: per conversation the positions `at` picks
 * (from ids and answerStart), per feature the mean normalised activation there, refused minus complied.
 */
async function referenceRanking(conversations: ReturnType<typeof sixConversations>, at: (ids: number[], answerStart: number) => number[], top: number) {
  const per = await Promise.all(
    conversations.map(async (c) => {
      const { ids, answerStart } = tokenizeDocument(model, { messages: c.messages });
      return { positions: at(ids, answerStart!), dense: await dense(ids) };
    }),
  );
  const observed = new Map<string, number>();
  per.forEach((p) => p.dense.forEach((d, l) => p.positions.forEach((t) => {
    for (let i = 0; i < DSAE; i++) observed.set(`${l}_${i}`, Math.max(observed.get(`${l}_${i}`) ?? 0, d[t * DSAE + i]!));
  })));
  const all: { id: string; diff: number; refused: number; complied: number }[] = [];
  for (let l = 0; l < 4; l++) {
    for (let i = 0; i < DSAE; i++) {
      const n = byId.get(`${l}_${i}`)!.activations?.normalisation_value ?? observed.get(`${l}_${i}`)!;
      const m = per.map((p) => (n > 0 ? meanOf(p.positions.map((t) => Math.min(1, p.dense[l]![t * DSAE + i]! / n))) : 0));
      const refused = meanOf(m.filter((_, ci) => conversations[ci]!.refused));
      const complied = meanOf(m.filter((_, ci) => !conversations[ci]!.refused));
      if (observed.get(`${l}_${i}`)! > 0) all.push({ id: `${l}_${i}`, diff: refused - complied, refused, complied });
    }
  }
  return all.filter((f) => f.diff > 0).sort((a, b) => b.diff - a.diff).slice(0, top);
}

describe("refusalFeatures", () => {
  it("ranks features by mean normalised activation on refused answers minus complied ones", async () => {
    const conversations = sixConversations();
    const ranking = await refusalFeatures(model, SAES, DB, conversations, { top: 15 });

    // Reference: answer tokens from answerStart up to the closing <|im_end|>; candidates: every record (onlySafety false).
    for (const c of conversations) {
      const { ids, answerStart } = tokenizeDocument(model, { messages: c.messages });
      const end = ids.lastIndexOf(IM_END);
      expect(model.decode(ids.slice(answerStart!, end))).toBe(c.messages[1]!.content);
    }
    const expectedTop = await referenceRanking(conversations, (ids, answerStart) => Array.from({ length: ids.lastIndexOf(IM_END) - answerStart }, (_, i) => answerStart + i), 15);
    expect(ranking.ids).toEqual(expectedTop.map((f) => f.id));
    ranking.features.forEach((f, i) => {
      expect(f.difference).toBeCloseTo(expectedTop[i]!.diff, 5);
      expect(f.refused).toBeCloseTo(expectedTop[i]!.refused, 5);
      expect(f.complied).toBeCloseTo(expectedTop[i]!.complied, 5);
    });
    expect(ranking.conversations).toEqual({ refused: 3, complied: 3 });
    expect(ranking.options.positions).toBe("answer");
    // Untagged features are candidates too (refusal features need not carry a domain).
    expect(ranking.features.some((f) => f.tags.length === 0)).toBe(true);
    const tagged = await refusalFeatures(model, SAES, DB, conversations, { onlySafety: true });
    expect(tagged.features.every((f) => f.tags.length > 0)).toBe(true);

    await expect(refusalFeatures(model, SAES, DB, conversations.filter((c) => c.refused))).rejects.toThrow(/need both refused and complied answers \(got 3 refused, 0 complied\)/);
    await expect(refusalFeatures(model, SAES, DB, [{ messages: [{ role: "user", content: "hi" }], refused: true }])).rejects.toThrow(/does not end with an assistant answer/);
    await expect(refusalFeatures(model, SAES, DB, conversations, { positions: "query" as "answer" })).rejects.toThrow(/positions must be "answer" or "header", got "query"/);
  });

  it("with positions: header, reads the generation prompt between the request and the answer (the decision, before any answer token)", async () => {
    const conversations = sixConversations();
    const ranking = await refusalFeatures(model, SAES, DB, conversations, { top: 10, positions: "header" });
    // Reference: after the user turn's <|im_end|>, up to the answer, without the special tokens: "\n", "assistant", "\n".
    const header = (ids: number[], answerStart: number) => {
      const out: number[] = [];
      for (let t = ids.indexOf(IM_END) + 1; t < answerStart; t++) if (ids[t] !== IM_START && ids[t] !== IM_END) out.push(t);
      return out;
    };
    const { ids, answerStart } = tokenizeDocument(model, { messages: conversations[0]!.messages });
    expect(model.decode(header(ids, answerStart!).map((t) => ids[t]!))).toBe("\nassistant\n");
    const expectedTop = await referenceRanking(conversations, header, 10);
    expect(ranking.ids).toEqual(expectedTop.map((f) => f.id));
    ranking.features.forEach((f, i) => expect(f.difference).toBeCloseTo(expectedTop[i]!.diff, 5));
    expect(ranking.options.positions).toBe("header");
    // Not the answer's ranking: the header is three tokens the answers never contain.
    const answer = await refusalFeatures(model, SAES, DB, conversations, { top: 10 });
    expect(ranking.ids).not.toEqual(answer.ids);
  });
});
