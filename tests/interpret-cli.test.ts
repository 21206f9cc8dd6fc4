// Stage 2 through the real `safesail` binary on the embedded toy model: examples -> explain -> score, offline with
// the baselines, then with an OpenAI-compatible server on loopback: answers cached, a failing feature recorded and
// retried, the same database replayed with the server gone, and the API key in no file and no output.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFeatureDb } from "../src/db/store.ts";
import { openExampleStore } from "../src/interpret/example-store.ts";
import { markedWindow } from "../src/interpret/prompts.ts";
import { baselineSimulator } from "../src/interpret/simulators.ts";
import { scoreFeature } from "../src/interpret/score.ts";
import { createSae } from "../src/sae/sae.ts";
import { saveSae } from "../src/sae/saelens.ts";
import { runCli } from "./helpers/cli.ts";
import { startOpenAiServer, type OpenAiServer } from "./helpers/openai-server.ts";

const MODEL = resolve(import.meta.dirname, "../models/toy-safety-qwen2");
const root = mkdtempSync(join(tmpdir(), "safesail-interpret-cli-"));
const store = join(root, "examples");
const KEY = "sk-interpret-cli-SECRET-42";
let features: string[] = [];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)]));
}

beforeAll(async () => {
  const lines = readFileSync(resolve(import.meta.dirname, "../data/domain-corpus.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const english = lines.filter((l) => l.lang === "en").slice(0, 80);
  writeFileSync(join(root, "corpus.jsonl"), english.map((l) => JSON.stringify({ text: l.text })).join("\n") + "\n");
  await saveSae(join(root, "sae"), createSae({ dIn: 256, dSae: 512, k: 16, hookName: "blocks.2.hook_mlp_out", modelName: MODEL }, { seed: 7 }));
  const ids = Array.from({ length: 12 }, (_, i) => `2_${i * 40 + 3}`).join(",");
  const r = await runCli(["examples", "--sae", join(root, "sae"), "--model", MODEL, "--corpus", join(root, "corpus.jsonl"), "--out", store, "--features", ids, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  // The features that fired on both sides of the split are the ones worth scoring.
  const s = await openExampleStore(store);
  features = s.ids().filter((id) => s.feature(id).test.activating.length > 0 && s.feature(id).train.top.length > 0);
  expect(features.length).toBeGreaterThanOrEqual(3);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("safesail explain / score with the offline baselines", () => {
  it("explains every feature of the store, scores them, and the summary and the database agree with the library", async () => {
    const db = join(root, "baseline.db.json");
    const ex = await runCli(["explain", "--examples", store, "--out", db, "--json"]);
    expect(ex.code, ex.stderr).toBe(0);
    const exJson = JSON.parse(ex.stdout);
    expect(exJson).toMatchObject({ explainer: "baseline:top-tokens", explainer_kind: "baseline", features: 12, failures: [] });
    const text = await runCli(["explain", "--examples", store, "--out", db]);
    expect(text.stdout).toContain("12 already explained (--redo to redo)");

    const sc = await runCli(["score", db, "--examples", store, "--method", "all", "--json"]);
    expect(sc.code, sc.stderr + sc.stdout).toBe(0);
    const s = JSON.parse(sc.stdout);
    expect(Object.keys(s)).toEqual(expect.arrayContaining(["features", "tls", "sls", "sls_tls_pearson", "cost"]));
    expect(s.simulator).toBe("baseline:word-match");
    expect(s.simulator_kind).toBe("baseline");
    expect(s.cost.ratio).toBeCloseTo(s.cost.sls_tokens / s.cost.tls_tokens, 12);
    expect(s.cost.ratio).toBeLessThan(1);
    expect(s.tokens_counted).toContain("tokenizer");

    // The database holds each feature's scores exactly as the library computes them from the store.
    const records = (await readFeatureDb(db)).records;
    const opened = await openExampleStore(store);
    for (const id of features) {
      const rec = records.find((r) => r.id === id)!;
      expect(rec.explainer).toBe("baseline:top-tokens");
      expect(rec.simulator).toBe("baseline:word-match");
      expect(rec.activations!.frac_nonzero).toBe(opened.feature(id).frac_nonzero);
      expect(rec.source!.hook).toBe("blocks.2.hook_mlp_out");
      expect(rec.source!.sae_sha256).toMatch(/^[0-9a-f]{64}$/);
      const again = await scoreFeature(opened.feature(id), rec.explanation!, baselineSimulator());
      expect(rec.correlation_score).toBe(again.sls!.score);
      expect(rec.tls_score).toBe(again.tls!.score);
    }
    // A score that is undefined is null in the database with its reason, never NaN.
    for (const r of records) if (r.tls_score === null) expect(r.scoring?.tls?.warning).toBeTruthy();
    expect(readFileSync(db, "utf8")).not.toContain("NaN");

    const bad = await runCli(["score", db, "--examples", store, "--method", "sls", "--segments", "0"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--segments");
    const llmWithoutName = await runCli(["explain", "--examples", store, "--out", db, "--explainer", "llm"]);
    expect(llmWithoutName.stderr).toContain("--llm");
  }, 120_000);
});

describe("safesail explain / score against an OpenAI-compatible server on loopback", () => {
  let server: OpenAiServer;
  let failFeature = "";
  let failText = "";
  let healthy = true;
  beforeAll(async () => {
    failFeature = features[1]!;
    server = await startOpenAiServer((body) => {
      const system: string = body.messages[0].content;
      const user: string = body.messages[1].content;
      const n = Number(/\((\d+)\)/.exec(user)?.[1] ?? 0);
      if (system.startsWith("You are studying")) {
        // One feature's explanation requests fail until the test heals the server (identified by its first example).
        if (!healthy && failText && user.includes(failText)) return { status: 500, error: "upstream overloaded" };
        const first = /<<([^>]+)>>/.exec(user)?.[1]?.trim() ?? "?";
        return { reply: JSON.stringify({ explanation: `the token '${first}'` }), usage: { prompt_tokens: 200, completion_tokens: 12 } };
      }
      if (system.startsWith("You predict how strongly")) return { reply: JSON.stringify({ activations: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 7 : 0)) }), usage: { prompt_tokens: 50 + n * 6, completion_tokens: 2 + n * 2 } };
      if (system.startsWith("You predict whether")) return { reply: JSON.stringify({ active: Array.from({ length: n }, (_, i) => i % 2 === 0) }), usage: { prompt_tokens: 60 + n * 8, completion_tokens: 2 + n * 2 } };
      return { reply: JSON.stringify({ answers: Array.from({ length: n }, (_, i) => i % 2) }), usage: { prompt_tokens: 100, completion_tokens: 2 * n } };
    });
  });
  afterAll(async () => server?.close());

  it("caches every answer, records a failing feature and retries it, and replays the database with no server", async () => {
    const db = join(root, "llm.db.json");
    const cache = join(root, "answers.llm-cache.jsonl");
    const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.url };
    const first = await runCli(["explain", "--examples", store, "--out", db, "--llm", "judge-1", "--cache", cache, "--features", features.join(","), "--json"], env);
    expect(first.code, first.stderr).toBe(0);
    const j = JSON.parse(first.stdout);
    expect(j).toMatchObject({ explainer: "llm:judge-1", explainer_kind: "llm", explained: features.length, cached: 0 });
    expect(j.usage.prompt_tokens).toBe(200 * features.length);
    expect(server.requests.filter((r) => r.path === "/v1/chat/completions").every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);

    const sc = await runCli(["score", db, "--examples", store, "--method", "all", "--llm", "judge-1", "--cache", cache, "--json"], env);
    expect(sc.code, sc.stderr).toBe(0);
    const s = JSON.parse(sc.stdout);
    expect(s.simulator).toBe("llm:judge-1");
    expect(s.tokens_counted).toBe("API usage");
    const requests = server.requests.length;

    // Server gone (the base URL points at a closed port): the same commands into a fresh database give the same
    // explanations and scores, all from the cache, with no request made.
    const replayDb = join(root, "replay.db.json");
    const gone = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: "http://127.0.0.1:9/v1" };
    const r1 = await runCli(["explain", "--examples", store, "--out", replayDb, "--llm", "judge-1", "--cache", cache, "--features", features.join(","), "--offline", "--json"], gone);
    expect(r1.code, r1.stderr).toBe(0);
    expect(JSON.parse(r1.stdout).cached).toBe(features.length);
    const r2 = await runCli(["score", replayDb, "--examples", store, "--method", "all", "--llm", "judge-1", "--cache", cache, "--offline", "--json"], gone);
    expect(r2.code, r2.stderr).toBe(0);
    const s2 = JSON.parse(r2.stdout);
    expect(s2.cached_requests).toBeGreaterThan(0);
    const pick = (x: typeof s) => ({ tls: x.tls, sls: x.sls, detection: x.detection, r: x.sls_tls_pearson, cost: x.cost });
    expect(pick(s2)).toEqual(pick(s));
    const strip = (recs: Awaited<ReturnType<typeof readFeatureDb>>["records"]) => recs.map((r) => [r.id, r.explanation, r.correlation_score, r.tls_score, r.detection]);
    expect(strip((await readFeatureDb(replayDb)).records)).toEqual(strip((await readFeatureDb(db)).records));
    expect(server.requests.length).toBe(requests);

    // A cache miss with no server: a recorded failure naming the feature, exit 1, the other records kept.
    const missDb = join(root, "miss.db.json");
    const miss = await runCli(["explain", "--examples", store, "--out", missDb, "--llm", "judge-2", "--cache", cache, "--features", features[0]!, "--offline"], gone);
    expect(miss.code).toBe(1);
    expect(miss.stdout + miss.stderr).toContain(features[0]!);
    expect((await readFeatureDb(missDb)).records.find((r) => r.id === features[0])!.failures![0]!.stage).toBe("explain");

    // The key is in no file written and no output.
    for (const f of filesUnder(root)) expect(readFileSync(f, "latin1").includes(KEY), f).toBe(false);
    for (const out of [first, sc, r1, r2, miss]) expect(out.stdout + out.stderr).not.toContain(KEY);
  }, 120_000);

  it("a feature whose requests keep failing is a recorded failure; the same command retries it once the server heals", async () => {
    const db = join(root, "heal.db.json");
    const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.url };
    const cache = join(root, "heal.llm-cache.jsonl");
    const all = features.join(",");
    // The server fails every explanation request of one feature: recognised by its first example, as the prompt shows it.
    const fe = (await openExampleStore(store)).feature(failFeature);
    failText = `Example 1: ${markedWindow(fe.train.top[0]!, fe.normalisation.value)}\n`;
    healthy = false;
    const broken = await runCli(["explain", "--examples", store, "--out", db, "--llm", "judge-3", "--cache", cache, "--features", all, "--max-retries", "1", "--json"], env);
    expect(broken.code).toBe(1);
    const j = JSON.parse(broken.stdout);
    expect(j.explained).toBe(features.length - 1);
    expect(j.failures.map((f: { id: string }) => f.id)).toEqual([failFeature]);
    expect(j.failures[0].message).toContain(failFeature);
    expect(j.failures[0].message).toMatch(/500/);
    expect(broken.stderr).toContain("the same command retries them");
    const recs = (await readFeatureDb(db)).records;
    expect(recs.filter((r) => r.explanation !== null)).toHaveLength(features.length - 1);
    expect(recs.find((r) => r.id === failFeature)!.failures).toEqual([{ stage: "explain", message: j.failures[0].message }]);

    healthy = true;
    const healed = await runCli(["explain", "--examples", store, "--out", db, "--llm", "judge-3", "--cache", cache, "--features", all, "--json"], env);
    expect(healed.code, healed.stderr).toBe(0);
    const h = JSON.parse(healed.stdout);
    expect(h).toMatchObject({ explained: 1, skipped: features.length - 1, failures: [] });
    const rec = (await readFeatureDb(db)).records.find((r) => r.id === failFeature)!;
    expect(rec.explanation).toMatch(/^the token '/);
    expect(rec.failures).toBeUndefined();
  }, 120_000);
});
