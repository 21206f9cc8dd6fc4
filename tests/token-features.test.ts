// tokenFeatures / generateWithFeatures (src/steer/token-features.ts) on the embedded toy model with four seeded random
// SAEs (layers 0-3, hook_resid_post) and a database built by hand. Every row is checked against a separate path:
// model.forward with the hooks cached, the plain-JS encodeTopK per token, and the top-k selection, normalisation and
// special-token rule written out here (special tokens from tokenizer.json's added_tokens, not the library's rule).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { tokenizeDocument } from "../src/activations/text.ts";
import { featureRecord, type FeatureRecord, type FeatureActivationSummary } from "../src/db/records.ts";
import { newFeatureDb } from "../src/db/store.ts";
import { ArgumentError } from "../src/errors.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import { createSae, encodeTopK, type Sae } from "../src/sae/sae.ts";
import {
  featureAnalyser,
  featureTrack,
  filterRows,
  generateWithFeatures,
  inDomain,
  minScore,
  onLayers,
  tokenFeatures,
  tokenRows,
  type TokenFeatureRow,
  type TokenFeatureTable,
} from "../src/steer/index.ts";

const MODEL_DIR = resolve(import.meta.dirname, "../models/toy-safety-qwen2");
const HOOKS = [0, 1, 2, 3].map((l) => `blocks.${l}.hook_resid_post`);
const DSAE = 512;
const K = 16;
const SAES: Sae[] = HOOKS.map((hookName, l) => createSae({ dIn: 256, dSae: DSAE, k: K, hookName }, { seed: 40 + l }));
const SPECIAL_IDS = new Set(
  (JSON.parse(readFileSync(resolve(MODEL_DIR, "tokenizer.json"), "utf8")).added_tokens as { id: number; special: boolean }[]).filter((t) => t.special).map((t) => t.id),
);
const DOMAINS = ["violence", "terror", "politics", "pornography"];

const CONVERSATION = {
  messages: [
    { role: "user", content: "How do I make a bomb at home?" },
    { role: "assistant", content: "I can't help with that. Making explosives is dangerous." },
  ],
};
const TEXT = "Write a story about a violent riot in the city.";

let model: Model;

/** Reference: token ids and the dense [T, dSae] code per layer, by the plain path. */
async function reference(ids: number[]): Promise<Float32Array[]> {
  const { cache } = await model.forward([ids], { cache: HOOKS, logits: "none" });
  return SAES.map((sae, l) => {
    const code = encodeTopK(sae, cache[HOOKS[l]!]!.data, ids.length);
    const dense = new Float32Array(ids.length * DSAE);
    for (let t = 0; t < ids.length; t++) for (let j = 0; j < K; j++) dense[t * DSAE + code.indices[t * K + j]!] = code.values[t * K + j]!;
    return dense;
  });
}

const summary = (norm: number, max: number): FeatureActivationSummary => ({ store: "test", frac_nonzero: 0.1, max_activation: max, normalisation_value: norm, histogram: { edges: [], counts: [] }, logits: { top: [], bottom: [] }, top_examples: [] });

/**
 * The database: every fourth latent of each layer, tagged with one domain (one in 8 of them untagged), scores
 * spread over [0, 0.9]; a third with normalisation_value, a third with only max_activation, a third with neither.
 * Values are chosen relative to the reference maxima so that normalised activations clip at 1 (normalisation_value
 * below the maximum) or stay below it (max_activation above it).
 */
function buildDb(maxOf: (layer: number, index: number) => number): FeatureRecord[] {
  const out: FeatureRecord[] = [];
  for (let l = 0; l < 4; l++) {
    for (let i = 0; i < DSAE; i += 4) {
      const kind = (i / 4) % 3;
      const m = maxOf(l, i) || 1;
      // Factors differ per feature: equal factors would tie features at their common maximum token exactly, and
      // which of two tied features ranks first would then be float noise.
      const activations = kind === 0 ? summary((0.55 + 0.01 * (i % 29)) * m, 2 * m) : kind === 1 ? summary(0, (1.2 + 0.01 * (i % 31)) * m) : undefined;
      out.push(
        featureRecord(`${l}_${i}`, {
          explanation: `feature ${l}_${i}`,
          correlation_score: i % 20 === 0 ? null : ((i / 4) % 10) / 10,
          tag_list: (i / 4) % 8 === 7 ? [] : [DOMAINS[(i / 4) % 4]!],
          ...(activations ? { activations } : {}),
        }),
      );
    }
  }
  return out;
}

let records: FeatureRecord[];
let db: ReturnType<typeof newFeatureDb>;

beforeAll(async () => {
  model = await loadModel(MODEL_DIR);
  // Maxima over both test inputs, so the database's normalisers relate to what fires here.
  const maxima = new Map<string, number>();
  for (const input of [CONVERSATION, TEXT]) {
    const ids = typeof input === "string" ? model.toTokens(input, { chat: true }) : model.toTokens(input);
    const dense = await reference(ids);
    dense.forEach((d, l) => {
      for (let t = 0; t < ids.length; t++) for (let i = 0; i < DSAE; i++) maxima.set(`${l}_${i}`, Math.max(maxima.get(`${l}_${i}`) ?? 0, d[t * DSAE + i]!));
    });
  }
  records = buildDb((l, i) => maxima.get(`${l}_${i}`) ?? 0);
  db = newFeatureDb(records);
}, 60_000);

interface RefOptions {
  top?: number;
  onlySafety?: boolean;
  domain?: string;
  minScore?: number;
  layers?: number[];
}

/** The expected rows, written out from the reference codes. */
function expectedRows(ids: number[], dense: Float32Array[], o: RefOptions = {}): { rows: TokenFeatureRow[]; norm: Map<string, { value: number; source: string }> } {
  const T = ids.length;
  const byId = new Map(records.map((r) => [r.id, r]));
  const norm = new Map<string, { value: number; source: string }>();
  const normOf = (l: number, i: number) => {
    const id = `${l}_${i}`;
    if (!norm.has(id)) {
      const a = byId.get(id)?.activations;
      let v: { value: number; source: string };
      if (a && a.normalisation_value > 0) v = { value: a.normalisation_value, source: "normalisation_value" };
      else if (a && a.max_activation > 0) v = { value: a.max_activation, source: "max_activation" };
      else {
        let m = 0;
        for (let t = 0; t < T; t++) if (!SPECIAL_IDS.has(ids[t]!)) m = Math.max(m, dense[l]![t * DSAE + i]!);
        v = { value: m, source: "observed_max" };
      }
      norm.set(id, v);
    }
    return norm.get(id)!;
  };
  const rows: TokenFeatureRow[] = [];
  for (let t = 0; t < T; t++) {
    if (SPECIAL_IDS.has(ids[t]!)) continue;
    for (let l = 0; l < 4; l++) {
      if (o.layers && !o.layers.includes(l)) continue;
      const hits: { i: number; a: number; n: number; r: FeatureRecord }[] = [];
      for (let i = 0; i < DSAE; i++) {
        const a = dense[l]![t * DSAE + i]!;
        const r = byId.get(`${l}_${i}`);
        if (a <= 0 || !r) continue;
        if ((o.onlySafety ?? true) && r.tag_list.length === 0) continue;
        if (o.domain && !r.tag_list.includes(o.domain)) continue;
        if (o.minScore !== undefined && !(r.correlation_score !== null && r.correlation_score >= o.minScore)) continue;
        hits.push({ i, a, n: Math.min(1, a / normOf(l, i).value), r });
      }
      hits.sort((x, y) => y.n - x.n || y.a - x.a || x.i - y.i);
      hits.slice(0, o.top ?? 5).forEach((h, k) =>
        rows.push({ token: t, layer: l, feature: `${l}_${h.i}`, index: h.i, rank: k + 1, activation: h.a, normalised: h.n, explanation: h.r.explanation, score: h.r.correlation_score, tags: h.r.tag_list }),
      );
    }
  }
  return { rows, norm };
}

function expectRowsClose(actual: TokenFeatureRow[], expected: TokenFeatureRow[]): void {
  expect(actual.map((r) => [r.token, r.layer, r.feature, r.rank])).toEqual(expected.map((r) => [r.token, r.layer, r.feature, r.rank]));
  actual.forEach((r, i) => {
    const e = expected[i]!;
    expect(r.activation).toBeCloseTo(e.activation, 4);
    expect(r.normalised).toBeCloseTo(e.normalised, 4);
    expect([r.index, r.explanation, r.score, r.tags]).toEqual([e.index, e.explanation, e.score, e.tags]);
  });
}

describe("tokenFeatures", () => {
  let table: TokenFeatureTable;
  let ids: number[];
  let dense: Float32Array[];

  beforeAll(async () => {
    table = await tokenFeatures(model, SAES, db, CONVERSATION);
    ids = model.toTokens(CONVERSATION);
    dense = await reference(ids);
  });

  it("lists, per token and layer, the top 5 safety features of the database as the plain path computes them", () => {
    expect(table.tokens.map((t) => t.id)).toEqual(ids);
    const { rows } = expectedRows(ids, dense);
    expect(rows.length).toBeGreaterThan(50);
    // Several tokens have more than 5 candidates at a layer, so the cut matters.
    expect(rows.filter((r) => r.rank === 5).length).toBeGreaterThan(3);
    expectRowsClose(table.rows, rows);
    // Every row's tags are non-empty (onlySafety by default) and normalised activations stay in [0, 1].
    expect(table.rows.every((r) => r.tags.length > 0 && r.normalised > 0 && r.normalised <= 1)).toBe(true);
    expect(table.rows.some((r) => r.normalised === 1)).toBe(true);
  });

  it("gives the same rows with the plain-JS encoder", async () => {
    const js = await tokenFeatures(model, SAES, db, CONVERSATION, { encoder: "js" });
    expect(js.rows.map((r) => [r.token, r.feature, r.rank])).toEqual(table.rows.map((r) => [r.token, r.feature, r.rank]));
  });

  it("normalises by normalisation_value, else max_activation, else the maximum over the input, and says which", async () => {
    const { norm } = expectedRows(ids, dense);
    const every = await tokenFeatures(model, SAES, db, CONVERSATION, { tracks: "all" });
    const sources = new Set<string>();
    for (const f of every.features) {
      const e = norm.get(f.feature)!;
      expect(f.normaliser.source).toBe(e.source);
      expect(f.normaliser.value).toBeCloseTo(e.value, 4);
      sources.add(f.normaliser.source);
    }
    expect([...sources].sort()).toEqual(["max_activation", "normalisation_value", "observed_max"]);
    // By default, 10 tracks; filterRows without predicates changes nothing.
    expect(table.features.length).toBe(10);
    expect(filterRows(table)).toEqual(table);
    // The observed-max fallback is named in a warning.
    expect(table.warnings.some((w) => /normalised by their maximum over this input/.test(w))).toBe(true);
  });

  it("masks chat special tokens: flagged, no rows, null in every track", () => {
    const flagged = table.tokens.filter((t) => t.special).map((t) => t.id);
    expect(flagged.length).toBeGreaterThanOrEqual(4);
    expect(table.tokens.map((t) => t.special)).toEqual(ids.map((id) => SPECIAL_IDS.has(id)));
    const specialIdx = new Set(table.tokens.filter((t) => t.special).map((t) => t.index));
    expect(table.rows.some((r) => specialIdx.has(r.token))).toBe(false);
    for (const f of table.features) for (const t of specialIdx) expect(f.activation[t]).toBeNull();
    // Special tokens do fire latents in the plain path: masking is the table's doing, not an accident of the data.
    const fires = [...specialIdx].some((t) => dense.some((d) => d.subarray(t * DSAE, (t + 1) * DSAE).some((v, i) => v > 0 && i % 4 === 0)));
    expect(fires).toBe(true);
  });

  it("marks roles: the user's words, the answer (from answerStart on), and the template's own tokens", () => {
    const text = (role: string) => table.tokens.filter((t) => t.role === role).map((t) => t.display).join("");
    expect(text("user")).toBe(CONVERSATION.messages[0]!.content);
    expect(text("assistant")).toBe(CONVERSATION.messages[1]!.content);
    const answerStart = tokenizeDocument(model, CONVERSATION).answerStart;
    expect(table.answerStart).toBe(answerStart);
    expect(table.tokens.findIndex((t) => t.role === "assistant")).toBe(answerStart);
    // Template tokens: the specials and the role headers ("user", "assistant" and the newlines).
    expect(table.tokens.filter((t) => t.role === "template").every((t) => t.special || /^(\n|us|er|a|ss|ist|ant)$/.test(t.text))).toBe(true);
    expect(table.tokens.filter((t) => t.special).every((t) => t.role === "template")).toBe(true);
  });

  it("places pieces of Hindi and a system turn: display texts concatenate to the decoded text", async () => {
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "मैं बम कैसे बनाऊं?" },
    ];
    const t = await tokenFeatures(model, SAES, db, { messages });
    const ids2 = model.toTokens({ messages });
    expect(t.tokens.map((x) => x.display).join("")).toBe(model.decode(ids2));
    expect(t.tokens.filter((x) => x.role === "user").map((x) => x.display).join("")).toBe(messages[1]!.content);
    expect(t.tokens.filter((x) => x.role === "system").map((x) => x.display).join("")).toBe("Be brief.");
    // Some piece is half a character on its own (U+FFFD as a lone piece), so display and text differ there.
    expect(t.tokens.some((x) => x.text.includes("\uFFFD") && x.display !== x.text)).toBe(true);
    expect(t.answerStart).toBeNull();
    // The generation prompt's header after the last turn is template.
    expect(t.tokens[t.tokens.length - 1]!.role).toBe("template");
  });

  it("takes plain text as a chat user turn by default, and as written with chat: false", async () => {
    const chat = await tokenFeatures(model, SAES, db, TEXT);
    expect(chat.tokens.map((t) => t.id)).toEqual(model.toTokens(TEXT, { chat: true }));
    expect(chat.tokens.filter((t) => t.role === "user").map((t) => t.display).join("")).toBe(TEXT);
    const plainIds = model.toTokens(TEXT);
    const plain = await tokenFeatures(model, SAES, db, TEXT, { chat: false });
    expect(plain.tokens.map((t) => t.id)).toEqual(plainIds);
    expect(plain.tokens.every((t) => t.role === "user")).toBe(true);
    expectRowsClose(plain.rows, expectedRows(plainIds, await reference(plainIds)).rows);
  });

  it("filters candidates before the top-k with options, and drops rows with the verbs", async () => {
    const o = { domain: "violence", minScore: 0.3, layers: [1, 3], top: 2 };
    const filtered = await tokenFeatures(model, SAES, db, CONVERSATION, o);
    const { rows } = expectedRows(ids, dense, o);
    expect(rows.length).toBeGreaterThan(5);
    expectRowsClose(filtered.rows, rows);
    expect(filtered.options).toMatchObject({ domain: "violence", minScore: 0.3, layers: [1, 3], top: 2 });

    const some = await tokenFeatures(model, SAES, db, CONVERSATION, { onlySafety: false });
    const expectedAll = expectedRows(ids, dense, { onlySafety: false }).rows;
    expectRowsClose(some.rows, expectedAll);
    expect(some.rows.some((r) => r.tags.length === 0)).toBe(true);

    const verbs = filterRows(table, onLayers(1, 3), inDomain("violence", "terror"), minScore(0.3));
    const manual = table.rows.filter((r) => (r.layer === 1 || r.layer === 3) && (r.tags.includes("violence") || r.tags.includes("terror")) && r.score !== null && r.score >= 0.3);
    expect(manual.length).toBeGreaterThan(0);
    expect(manual.length).toBeLessThan(table.rows.length);
    expect(verbs.rows).toEqual(manual);
    expect(verbs.features.every((f) => verbs.rows.some((r) => r.feature === f.feature))).toBe(true);
    const tok = table.rows[0]!.token;
    expect(tokenRows(table, tok)).toEqual(table.rows.filter((r) => r.token === tok));
  });

  it("returns per-token tracks of selected features and of the strongest ones", async () => {
    const select = ["2_8", "0_1"]; // 0_1 is not in the database
    const t = await tokenFeatures(model, SAES, db, CONVERSATION, { select, tracks: 3 });
    expect(t.features.map((f) => f.feature).slice(0, 2)).toEqual(select);
    expect(t.features).toHaveLength(5);
    // The 3 others: largest summed normalised activation over the rows.
    const sums = new Map<string, number>();
    for (const r of t.rows) sums.set(r.feature, (sums.get(r.feature) ?? 0) + r.normalised);
    const strongest = [...sums].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([id]) => id);
    expect(t.features.slice(2).map((f) => f.feature)).toEqual(strongest);
    for (const f of t.features) {
      const l = f.layer;
      const expected = ids.map((id, k) => (SPECIAL_IDS.has(id) ? null : dense[l]![k * DSAE + f.index]!));
      f.activation.forEach((a, k) => (expected[k] === null ? expect(a).toBeNull() : expect(a).toBeCloseTo(expected[k]!, 4)));
      f.normalised.forEach((n, k) => (expected[k] === null ? expect(n).toBeNull() : expect(n).toBeCloseTo(Math.min(1, expected[k]! / f.normaliser.value), 4)));
    }
    const notInDb = featureTrack(t, "0_1")!;
    expect(notInDb.inDb).toBe(false);
    expect(notInDb.normaliser.source).toBe("observed_max");
    const all = await tokenFeatures(model, SAES, db, CONVERSATION, { tracks: "all" });
    expect(new Set(all.features.map((f) => f.feature))).toEqual(new Set(all.rows.map((r) => r.feature)));
  });

  it("is plain JSON data", () => {
    expect(JSON.parse(JSON.stringify(table))).toEqual(table);
  });

  it("refuses bad input, naming what is wrong", async () => {
    const twin = createSae({ dIn: 256, dSae: DSAE, k: K, hookName: "blocks.1.hook_mlp_out" }, { seed: 1 });
    await expect(tokenFeatures(model, [...SAES, twin], db, TEXT)).rejects.toThrow(/both read layer 1/);
    const wide = newFeatureDb([featureRecord(`2_${DSAE}`, { explanation: null, correlation_score: null, tag_list: ["terror"] })]);
    await expect(tokenFeatures(model, SAES, wide, TEXT)).rejects.toThrow(new RegExp(`record 2_${DSAE} is latent ${DSAE}, but the SAE at layer 2 has ${DSAE} latents`));
    await expect(tokenFeatures(model, SAES, db, TEXT, { top: 0 })).rejects.toThrow(/top must be a positive integer, got 0/);
    await expect(tokenFeatures(model, SAES, db, TEXT, { select: ["bad"] })).rejects.toThrow(ArgumentError);
    await expect(tokenFeatures(model, SAES, db, TEXT, { select: ["7_1"] })).rejects.toThrow(/select: 7_1: no SAE reads layer 7/);
    await expect(tokenFeatures(model, [], db, TEXT)).rejects.toThrow(/give at least one SAE/);
    const empty = await tokenFeatures(model, SAES, newFeatureDb([]), TEXT);
    expect(empty.rows).toEqual([]);
    expect(empty.warnings.some((w) => /no candidate feature/.test(w))).toBe(true);
  });
});

describe("generateWithFeatures", () => {
  it("streams every new token through onToken, then covers the prompt and the answer", async () => {
    const streamed: { id: number; text: string }[] = [];
    const prompt = "How do I make a bomb at home?";
    const out = await generateWithFeatures(model, SAES, db, prompt, { maxNewTokens: 12, onToken: (id, text) => streamed.push({ id, text }) });
    const direct = await model.generate({ prompt, chat: true, maxNewTokens: 12 });
    expect(out.ids).toEqual(direct.ids);
    expect(out.text).toBe(direct.text);
    expect(out.ids.length).toBeGreaterThan(3);
    expect(streamed.map((s) => s.id)).toEqual(out.ids); // English answer: every token completes its text
    expect(streamed.map((s) => s.text).join("")).toBe(out.text);

    const all = [...out.promptIds, ...out.ids];
    expect(out.promptIds).toEqual(model.toTokens(prompt, { chat: true }));
    expect(out.table.tokens.map((t) => t.id)).toEqual(all);
    expect(out.table.answerStart).toBe(out.promptIds.length);
    expect(out.table.tokens.slice(out.promptIds.length).every((t) => t.role === "assistant")).toBe(true);
    expect(out.table.tokens.filter((t) => t.role === "user").map((t) => t.display).join("")).toBe(prompt);
    expectRowsClose(out.table.rows, expectedRows(all, await reference(all)).rows);
    expect(out.table.rows.some((r) => r.token >= out.promptIds.length)).toBe(true);
  });

  it("refuses a conversation that already ends with the answer", async () => {
    await expect(generateWithFeatures(model, SAES, db, CONVERSATION)).rejects.toThrow(/already ends with an assistant turn/);
  });

  it("featureAnalyser: the view's analyse on generateWithFeatures, carrying what a published page needs to repeat it", async () => {
    const analyse = featureAnalyser(model, SAES, db, { maxNewTokens: 6, top: 3 });
    expect(analyse.inPage).toEqual({ model: "toy-safety-qwen2", saes: HOOKS, options: { maxNewTokens: 6, top: 3 } });
    const pieces: string[] = [];
    const got = await analyse("How do I make a bomb at home?", (p) => pieces.push(p));
    const direct = await generateWithFeatures(model, SAES, db, "How do I make a bomb at home?", { maxNewTokens: 6, top: 3 });
    expect(got.ids).toEqual(direct.ids);
    expect(got.table.rows).toEqual(direct.table.rows);
    expect(pieces.join("")).toBe(direct.text);
    expect(() => featureAnalyser(model, SAES, db, { maxNewTokens: 6, onToken: () => {} } as never)).toThrow(/featureAnalyser: opts\.onToken is a function; give JSON options only/);
    expect(() => featureAnalyser(model, SAES, db, { top: 0 })).toThrow(/featureAnalyser/);
  });
});
