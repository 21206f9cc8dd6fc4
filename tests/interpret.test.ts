// Stage 2's loops on hand-built features with known answers: the offline baselines, the LLM path against a real
// OpenAI-compatible server on loopback, its replay with the server gone, per-feature failures, and the records the
// database gets. The scoring formulas themselves are checked against numpy in tests/scoring.test.ts.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkRecord, newFeatureDb } from "../src/db/index.ts";
import { recordFromExamples, upsertRecords, withExplanation, withScores } from "../src/db/interpretation.ts";
import { baselineExplainer, llmExplainer, BASELINE_EXPLAINER } from "../src/interpret/explainers.ts";
import { llmClient } from "../src/interpret/llm.ts";
import { parseSlsAnswer, parseTlsAnswer, tlsMessages, explainMessages } from "../src/interpret/prompts.ts";
import { explainFeatures, scoreFeature, scoreFeatures, summariseScores, type ExampleSource } from "../src/interpret/score.ts";
import { pearson, segmentBounds, tlsTruth } from "../src/interpret/scoring.ts";
import { baselineSimulator, expectedActivations, llmSimulator } from "../src/interpret/simulators.ts";
import type { ActivationExample, FeatureExamples } from "../src/interpret/types.ts";
import { startOpenAiServer, type OpenAiServer } from "./helpers/openai-server.ts";

/** A window of words; the feature fires `level` on each word in `hot`. */
function window(text: string, hot: Record<string, number>, doc: number): ActivationExample {
  const words = text.split(" ");
  const tokens = words.map((w, i) => (i === 0 ? w : ` ${w}`));
  return { ids: words.map((_, i) => i), tokens, acts: words.map((w) => hot[w] ?? 0), doc, start: 0, centre: words.findIndex((w) => w in hot) };
}

/** A feature that fires on `word` (activation 8, the max) and, weaker, on `weak` (2). */
function feature(id: string, word: string, weak: string): FeatureExamples {
  const hot = { [word]: 8, [weak]: 2 };
  const train = [`how to make a ${word} at home`, `the ${word} went off in the ${weak}`, `a ${word} and a ${word} again`];
  const activating = [`they hid the ${word} under a ${weak}`, `is a ${word} dangerous to carry`, `my ${weak} is near the station`];
  const quiet = [`the weather is nice today`, `please bake a cake for me`, `trains leave every hour here`];
  return {
    id,
    layer: Number(id.split("_")[0]),
    index: Number(id.split("_")[1]),
    hook: `blocks.${id.split("_")[0]}.hook_mlp_out`,
    tags: ["violence"],
    tokens: 1000,
    frac_nonzero: 0.01,
    max_activation: 8,
    normalisation: { quantile: 0.999, value: 8 },
    histogram: { edges: [0, 4, 8], counts: [3, 5] },
    logits: { top: [{ id: 1, token: ` ${word}s`, value: 1.5 }], bottom: [{ id: 2, token: " cake", value: -1.2 }] },
    train: { top: train.map((t, i) => window(t, hot, i)), quantiles: [[window(`a ${weak} by the ${word}`, hot, 10)]] },
    test: { activating: activating.map((t, i) => window(t, hot, 100 + i)), nonActivating: quiet.map((t, i) => window(t, {}, 200 + i)) },
  };
}

const features = [feature("2_17", "bomb", "market"), feature("2_40", "gun", "school"), feature("3_5", "porn", "video")];
const source: ExampleSource = { ids: () => features.map((f) => f.id), feature: (id) => features.find((f) => f.id === id)! };

describe("offline baselines", () => {
  it("the baseline explainer names the tokens the feature fires on, strongest first, and is labelled a baseline", async () => {
    const e = await baselineExplainer().explain(features[0]!);
    expect(e.explainer).toBe(BASELINE_EXPLAINER);
    expect(e.explainer.startsWith("baseline")).toBe(true);
    const quoted = [...e.explanation.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    expect(quoted[0]).toBe("bomb");
    expect(quoted).toContain("market");
    // Its cost is the token count of the prompt an LLM would have received.
    const prompt = explainMessages(features[0]!).map((m) => m.content).join("\n");
    expect(e.usage.prompt_tokens).toBe(Math.ceil(prompt.length / 4));
  });

  it("scores a feature whose explanation names its token: TLS and SLS from the concatenated test windows", async () => {
    const fe = features[0]!;
    const s = await scoreFeature(fe, 'the word "bomb"', baselineSimulator());
    // Independent TLS: truth floor(10 a / max) and the prediction 10 on "bomb" tokens, all windows concatenated.
    const truth: number[] = [];
    const pred: number[] = [];
    for (const w of [...fe.test.activating, ...fe.test.nonActivating]) {
      truth.push(...tlsTruth(w.acts, fe.max_activation));
      pred.push(...w.tokens.map((t) => (t.trim() === "bomb" ? 10 : 0)));
    }
    expect(s.tls!.score).toBeCloseTo(pearson(truth, pred)!, 12);
    expect(s.tls!.score!).toBeGreaterThan(0.8);
    expect(s.tls!.score!).toBeLessThan(1); // the weak "market" activations are missed
    expect(s.sls!.n).toBe(8);
    expect(s.sls!.score!).toBeGreaterThan(0.5);
    expect(s.detection!.f1).toBeCloseTo(0.8, 12); // 2 of 3 activating windows hold "bomb", no false positive
    expect(s.failures).toEqual([]);
  });

  it("a wrong explanation scores undefined with a warning, never a silent number", async () => {
    const s = await scoreFeature(features[0]!, 'the word "zebra"', baselineSimulator());
    expect(s.tls!.score).toBeNull();
    expect(s.tls!.warning).toMatch(/same value|constant/);
    expect(s.sls!.score).toBeNull();
  });

  it("SLS costs fewer tokens than TLS for the same windows", async () => {
    const s = await scoreFeature(features[1]!, 'the word "gun"', baselineSimulator());
    const tokens = (c: { prompt_tokens: number; completion_tokens: number }) => c.prompt_tokens + c.completion_tokens;
    expect(tokens(s.cost.sls!)).toBeLessThan(tokens(s.cost.tls!));
    expect(s.cost.tls!.requests).toBe(6);
  });
});

describe("prompts and answers", () => {
  it("TLS prompts list every visible token; answers must have one value per token", () => {
    const m = tlsMessages("x", ["a", " b", " c"]);
    expect(m[1]!.content).toContain('3\t" c"');
    expect(parseTlsAnswer('```json\n{"activations": [0, 10, "3"]}\n```', 3)).toEqual([0, 10, 3]);
    expect(() => parseTlsAnswer('{"activations": [0, 10]}', 3)).toThrow(/expected 3 values/);
    expect(() => parseTlsAnswer("I cannot help", 3)).toThrow(/not a JSON object/);
    expect(parseSlsAnswer('{"active": [true, 0, "yes"]}', 3)).toEqual([true, false, true]);
  });

  it("expected values from logprobs replace the written integers when every number has them", () => {
    const lp = (token: string, alts: [string, number][]) => ({ token, logprob: Math.log(alts[0]![1]), top_logprobs: alts.map(([t, p]) => ({ token: t, logprob: Math.log(p) })) });
    const logprobs = [lp('{"activations": [', [['{"', 1]]), lp("0", [["0", 0.5], ["10", 0.5]]), lp(", ", [[", ", 1]]), lp("10", [["10", 1]]), lp("]}", [["]}", 1]])];
    expect(expectedActivations(logprobs, 2)).toEqual([5, 10]);
    expect(expectedActivations(logprobs, 3)).toBeNull();
    expect(segmentBounds(32, 8).every(([s, e]) => e - s === 4)).toBe(true);
  });
});

describe("the LLM path against a loopback server", () => {
  let server: OpenAiServer;
  let dir: string;
  const KEY = "sk-test-SECRET-0123456789";
  /** A scripted "LLM": explains by the first marked token, simulates by matching the explanation's quoted word. */
  const answer = (body: any) => {
    const system: string = body.messages[0].content;
    const user: string = body.messages[1].content;
    const explained = /^A feature of a language model is explained as: (.*)$/.exec(user.split("\n")[0]!)?.[1];
    const target = (explained ? /'([^']+)'/.exec(JSON.parse(explained) as string)?.[1] : undefined) ?? "";
    if (system.startsWith("You are studying")) {
      const first = /<<\s*([^>]+)>>/.exec(user)?.[1] ?? "nothing";
      if (first === "porn") return { malformed: "<html>502 bad gateway</html>" }; // a broken gateway, every time
      return { reply: JSON.stringify({ explanation: `the token '${first.trim()}'` }), usage: { prompt_tokens: 100, completion_tokens: 9 } };
    }
    if (system.startsWith("You predict how strongly")) {
      const tokens = user.split("\n").slice(2).map((l) => JSON.parse(l.split("\t")[1]!) as string);
      return { reply: JSON.stringify({ activations: tokens.map((t) => (t.trim() === target ? 10 : 0)) }), usage: { prompt_tokens: 40, completion_tokens: 3 * tokens.length } };
    }
    if (system.startsWith("You predict whether")) {
      const segs = user.split("\n").slice(2).map((l) => JSON.parse(l.replace(/^Segment \d+: /, "")) as string);
      return { reply: JSON.stringify({ active: segs.map((s) => s.split(" ").some((w) => w === target)) }), usage: { prompt_tokens: 30, completion_tokens: 2 * segs.length } };
    }
    const ex = user.split("\n").slice(2).map((l) => JSON.parse(l.replace(/^Excerpt \d+: /, "")) as string);
    return { reply: JSON.stringify({ answers: ex.map((s) => (s.split(" ").includes(target) ? 1 : 0)) }) };
  };

  beforeAll(async () => {
    server = await startOpenAiServer((body) => answer(body));
    dir = await mkdtemp(join(tmpdir(), "safesail-interpret-"));
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("explains and scores through the server, records a failure per feature, and replays the same with the server gone", async () => {
    const cache = join(dir, "cache.jsonl");
    const online = llmClient({ model: "judge-7b", baseUrl: server.url, apiKey: KEY, cache, backoffMs: 5, maxRetries: 1 });
    const run = async (client: ReturnType<typeof llmClient>) => {
      const ex = await explainFeatures(source, llmExplainer(client), { concurrency: 2 });
      const explanations = new Map(ex.explanations.map((e) => [e.id, e.explanation]));
      const scores = await scoreFeatures(source, explanations, llmSimulator(client), { concurrency: 2 });
      return { ex, scores };
    };
    const first = await run(online);
    expect(first.ex.explanations.map((e) => [e.id, e.explanation, e.explainer])).toEqual([
      ["2_17", "the token 'bomb'", "llm:judge-7b"],
      ["2_40", "the token 'gun'", "llm:judge-7b"],
    ]);
    // The broken gateway's feature is a recorded failure naming it, and the other features are unharmed.
    expect(first.ex.failures).toHaveLength(1);
    expect(first.ex.failures[0]!.id).toBe("3_5");
    expect(first.ex.failures[0]!.message).toContain("3_5");
    expect(first.ex.failures[0]!.message).not.toContain(KEY);
    expect(first.scores.find((s) => s.id === "2_17")!.tls!.score!).toBeGreaterThan(0.8);
    expect(server.requests.every((r) => r.path !== "/v1/chat/completions" || r.headers.authorization === `Bearer ${KEY}`)).toBe(true);

    // The server goes away: the same run from the cache alone gives identical explanations and scores.
    const before = server.requests.length;
    const offline = llmClient({ model: "judge-7b", cache, offline: true });
    const second = await run(offline);
    expect(server.requests.length).toBe(before);
    expect(second.ex.explanations.map((e) => e.explanation)).toEqual(first.ex.explanations.map((e) => e.explanation));
    expect(second.ex.explanations.every((e) => e.cached)).toBe(true);
    const strip = (xs: typeof first.scores) => xs.map(({ cached: _c, ...s }) => s);
    expect(strip(second.scores)).toEqual(strip(first.scores));

    // A miss with no server: a failure naming the feature, not a crash.
    const missing = await explainFeatures(source, llmExplainer(offline), { features: ["3_5"] });
    expect(missing.failures[0]!.message).toMatch(/3_5/);
    expect(missing.failures[0]!.message).toMatch(/no server|cached/);

    // Records built from these results carry explainer, simulator, scores and cost, pass the file checks, and no
    // file written holds the key.
    let db = newFeatureDb();
    for (const fe of features) db = upsertRecords(db, [recordFromExamples(fe, { store: "mem" })]);
    const byId = new Map(db.records.map((r) => [r.id, r]));
    for (const e of first.ex.explanations) byId.set(e.id, withExplanation(byId.get(e.id)!, e));
    for (const f of first.ex.failures) byId.set(f.id, withExplanation(byId.get(f.id)!, { stage: "explain", message: f.message }));
    for (const s of first.scores) byId.set(s.id, withScores(byId.get(s.id)!, s));
    db = upsertRecords(db, [...byId.values()]);
    db.records.forEach((r, i) => checkRecord(JSON.parse(JSON.stringify(r)), `records[${i}]`));
    const bomb = db.records.find((r) => r.id === "2_17")!;
    expect(bomb.explainer).toBe("llm:judge-7b");
    expect(bomb.correlation_score).toBe(first.scores[0]!.sls!.score);
    expect(bomb.tls_score).toBe(first.scores[0]!.tls!.score);
    expect(bomb.cost!.explain).toEqual({ requests: 1, prompt_tokens: 100, completion_tokens: 9 });
    expect(db.records.find((r) => r.id === "3_5")!.failures![0]!.stage).toBe("explain");
    for (const f of await readdir(dir)) expect(await readFile(join(dir, f), "utf8")).not.toContain(KEY);
    expect(JSON.stringify(db)).not.toContain(KEY);

    const summary = summariseScores(first.scores);
    expect(summary.features).toBe(3);
    expect(summary.cost.ratio).toBeCloseTo(summary.cost.sls_tokens / summary.cost.tls_tokens, 12);
    expect(summary.failures.some((f) => f.id === "3_5")).toBe(true);
  });
});
