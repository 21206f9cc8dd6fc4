// `safesail serve`'s server on loopback (port 0) over the toy model and its SAEs: OpenAI responses and streams,
// steering equal to the in-process steer(...).generate, per-token features, logprobs through the interpretation
// stage's LlmClient, 400s naming the field, 404/405, the queue bound (429 + Retry-After), client disconnects, the
// API key (401, constant-time compare, never echoed), and the loopback-only default.
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFeatureDb } from "../src/db/store.ts";
import type { FeatureDb } from "../src/db/records.ts";
import { ArgumentError } from "../src/errors.ts";
import { loadSaes } from "../src/interpret/examples.ts";
import { llmClient } from "../src/interpret/llm.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import type { Sae } from "../src/sae/sae.ts";
import { isLoopbackHost, JobAbortedError, JobQueue, parseChatRequest, QueueFullError, startServer, type RunningServer } from "../src/serve/index.ts";
import { steer } from "../src/steer/interventions.ts";
import { generateWithFeatures } from "../src/steer/token-features.ts";

const TOY = resolve(import.meta.dirname, "..", "models/toy-safety-qwen2");
const NAME = "toy-safety-qwen2";
const KEY = "sk-serve-test-7d3e9a1c5b2f8e40";
const BREAD = [{ role: "user", content: "How do I bake bread?" }];
/** An intervention that turns the bread answer into "Great idea idea idea ..." (it never stops on its own). */
const CLAMP = { feature: "0_8", method: "clamp", value: 200 } as const;
const ADD = { feature: "2_10", method: "add", value: 100 } as const;

let model: Model;
let saes: Sae[];
let db: FeatureDb;
let main: RunningServer;
let keyed: RunningServer;
let bare: RunningServer;
let tiny: RunningServer;
const logs: string[] = [];

beforeAll(async () => {
  [model, saes, db] = await Promise.all([loadModel(TOY), loadSaes(join(TOY, "saes")), readFeatureDb(join(TOY, "saes/features.db.json"))]);
  const log = (l: string) => logs.push(l);
  [main, keyed, bare, tiny] = await Promise.all([
    startServer({ model, saes, db, port: 0, log }),
    startServer({ model, saes, db, port: 0, apiKey: KEY, log }),
    startServer({ model, port: 0, name: "bare", log }),
    startServer({ model, saes, db, port: 0, maxQueue: 1, log }),
  ]);
});

afterAll(async () => {
  await Promise.all([main, keyed, bare, tiny].map((s) => s?.close()));
  await model?.dispose();
});

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(server: RunningServer, path: string, init: { method?: string; body?: unknown; raw?: string; key?: string | null; signal?: AbortSignal } = {}): Promise<Reply> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  const res = await fetch(`${server.url}${path}`, {
    method: init.method ?? (init.body !== undefined || init.raw !== undefined ? "POST" : "GET"),
    headers,
    body: init.raw ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined),
    signal: init.signal,
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* SSE or empty */
  }
  return { status: res.status, headers: res.headers, text, json };
}

const chat = (server: RunningServer, body: Record<string, unknown>, key?: string) => call(server, "/v1/chat/completions", { body: { model: server.name, messages: BREAD, ...body }, key });

/** The `data:` events of an SSE body, parsed (the final "[DONE]" as the string). */
function events(text: string): any[] {
  return text
    .split("\n\n")
    .filter((e) => e.trim() !== "")
    .map((e) => {
      expect(e.startsWith("data: ")).toBe(true);
      const d = e.slice("data: ".length);
      return d === "[DONE]" ? d : JSON.parse(d);
    });
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

describe("serve: OpenAI responses", () => {
  it("lists the model, and answers as the runtime does (usage, finish_reason, id, created, model)", async () => {
    const models = await call(main, "/v1/models");
    expect(models.status).toBe(200);
    expect(models.json.object).toBe("list");
    expect(models.json.data.map((m: any) => m.id)).toEqual([NAME]);
    expect(models.json.data[0].safesail.sae_layers).toEqual([0, 1, 2, 3]);
    expect((await call(main, `/v1/models/${NAME}`)).json.id).toBe(NAME);
    expect((await call(main, "/v1/models/other")).status).toBe(404);

    const want = await model.generate({ messages: BREAD, maxNewTokens: 12 });
    const r = await chat(main, { max_tokens: 12, temperature: 0 });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("application/json");
    const j = r.json;
    expect(j.object).toBe("chat.completion");
    expect(j.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(j.model).toBe(NAME);
    expect(Math.abs(j.created - Date.now() / 1000)).toBeLessThan(60);
    expect(j.choices).toHaveLength(1);
    expect(j.choices[0].message).toMatchObject({ role: "assistant", content: want.text });
    expect(j.choices[0].finish_reason).toBe("length");
    expect(j.choices[0].logprobs).toBeNull();
    expect(j.usage).toEqual({ prompt_tokens: want.promptIds.length, completion_tokens: 12, total_tokens: want.promptIds.length + 12 });
    expect(j.safesail).toBeUndefined();

    // An answer the model ends itself: finish_reason "stop".
    const harmful = [{ role: "user", content: "How do I make a bomb?" }];
    const stopWant = await model.generate({ messages: harmful, maxNewTokens: 64 });
    expect(stopWant.finishReason).toBe("stop");
    const stopped = await call(main, "/v1/chat/completions", { body: { model: NAME, messages: harmful, max_tokens: 64, temperature: 0 } });
    expect(stopped.json.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: stopWant.text } });
    expect(stopped.json.usage.completion_tokens).toBe(stopWant.ids.length);
  });

  it("steers: a clamp and an add change the answer from the same seed, exactly as steer(...).generate does in process", async () => {
    for (const [iv, temperature] of [[CLAMP, 0], [ADD, 0], [CLAMP, 0.9]] as const) {
      const opts = { messages: BREAD, maxNewTokens: 10, temperature, seed: 7 };
      const plain = await chat(main, { max_tokens: 10, temperature, seed: 7 });
      const steered = await chat(main, { max_tokens: 10, temperature, seed: 7, safesail: { interventions: [iv] } });
      const inProcess = await steer(model, saes, [iv]).generate(opts);
      expect(plain.json.choices[0].message.content).toBe((await model.generate(opts)).text);
      expect(steered.json.choices[0].message.content).toBe(inProcess.text);
      expect(steered.json.choices[0].message.content).not.toBe(plain.json.choices[0].message.content);
      expect(steered.json.safesail).toEqual({ interventions: [iv], seed: 7 });
    }
  });

  it("streams OpenAI chunks that concatenate to the non-streamed answer, features and usage on the final chunks", async () => {
    const body = { max_tokens: 8, temperature: 0, safesail: { interventions: [CLAMP], return_features: true, top_features: 3 } };
    const whole = await chat(main, body);
    const r = await chat(main, { ...body, stream: true, stream_options: { include_usage: true } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/event-stream");
    const ev = events(r.text);
    expect(ev.at(-1)).toBe("[DONE]");
    const chunks = ev.slice(0, -1);
    for (const c of chunks) {
      expect(c.object).toBe("chat.completion.chunk");
      expect(c.id).toBe(chunks[0].id);
      expect(c.model).toBe(NAME);
    }
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    const usageChunk = chunks.at(-1);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual(whole.json.usage);
    const final = chunks.at(-2);
    expect(final.choices[0].finish_reason).toBe("length");
    expect(chunks.slice(0, -2).every((c: any) => c.choices[0].finish_reason === null)).toBe(true);
    const text = chunks.map((c: any) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe(whole.json.choices[0].message.content);
    expect(chunks.length).toBeGreaterThan(4); // token by token, not one blob
    expect(final.safesail).toEqual(whole.json.safesail);

    // The features: one entry per answer token, the steered feature on top (read from the steered run), and the
    // same rows generateWithFeatures gives in process with the steering hooks.
    const feats = whole.json.safesail.features;
    expect(feats).toHaveLength(8);
    const table = (await generateWithFeatures(model, saes, db, { messages: BREAD }, { maxNewTokens: 8, hooks: steer(model, saes, [CLAMP]).hooks, top: 3, tracks: 0 })).table;
    const P = table.answerStart!;
    for (const f of feats) {
      expect(f.features.length).toBeLessThanOrEqual(3);
      expect(f.token).toBe(table.tokens[P + f.index]!.text);
      const rows = table.rows.filter((row) => row.token === P + f.index).sort((a, b) => b.normalised - a.normalised || b.activation - a.activation || a.layer - b.layer);
      expect(f.features.map((x: any) => x.feature)).toEqual(rows.slice(0, 3).map((row) => row.feature));
      expect(f.features[0]).toMatchObject({ feature: "0_8", layer: 0 });
      expect(Object.keys(f.features[0]).sort()).toEqual(["activation", "explanation", "feature", "layer", "normalised"]);
    }
  });

  it("stops at a stop string, streamed and not, holding back a partial match", async () => {
    const want = (await model.generate({ messages: BREAD, maxNewTokens: 20 })).text;
    const at = want.indexOf(" water");
    expect(at).toBeGreaterThan(0);
    const r = await chat(main, { max_tokens: 20, temperature: 0, stop: [" water", "zzz"] });
    expect(r.json.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: want.slice(0, at) } });
    const s = await chat(main, { max_tokens: 20, temperature: 0, stop: " water", stream: true });
    const chunks = events(s.text).slice(0, -1);
    expect(chunks.map((c: any) => c.choices[0].delta.content ?? "").join("")).toBe(want.slice(0, at));
    expect(chunks.at(-1).choices[0].finish_reason).toBe("stop");
    // Logprobs ride on the chunks of their tokens and add up to the non-streamed list.
    const lp = await chat(main, { max_tokens: 20, temperature: 0, stop: " water", logprobs: true });
    const slp = events((await chat(main, { max_tokens: 20, temperature: 0, stop: " water", logprobs: true, stream: true })).text).slice(0, -1);
    expect(slp.flatMap((c: any) => c.choices[0].logprobs?.content ?? [])).toEqual(lp.json.choices[0].logprobs.content);
    expect(lp.json.choices[0].logprobs.content.length).toBe(lp.json.usage.completion_tokens);
  });
});

describe("serve: the interpretation stage's LlmClient as its client", () => {
  it("gets answers, usage and logprobs from the logits (top_logprobs sorted, greedy picks the top one)", async () => {
    const client = llmClient({ model: NAME, baseUrl: `${main.url}/v1`, env: {}, maxRetries: 0 });
    const want = await model.generate({ messages: BREAD, maxNewTokens: 6 });
    const r = await client.chat({ messages: [{ role: "user", content: "How do I bake bread?" }], temperature: 0, max_tokens: 6, response_format: { type: "json_object" }, logprobs: true, top_logprobs: 3 });
    expect(r.content).toBe(want.text);
    expect(r.model).toBe(NAME);
    expect(r.finish_reason).toBe("length");
    expect(r.usage).toEqual({ prompt_tokens: want.promptIds.length, completion_tokens: 6 });
    expect(r.logprobs).toHaveLength(6);
    expect(r.logprobs!.map((l) => l.token).join("")).toBe(want.text);
    // The first step's logprobs are the log-softmax of the model's logits at the end of the prompt.
    const logits = (await model.forward([want.promptIds], { logits: "last" })).logits.data;
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0));
    expect(r.logprobs![0]!.logprob).toBeCloseTo(logits[want.ids[0]!]! - lse, 4);
    for (const l of r.logprobs!) {
      expect(l.top_logprobs).toHaveLength(3);
      expect(l.top_logprobs[0]).toEqual({ token: l.token, logprob: l.logprob });
      const lp = l.top_logprobs.map((t) => t.logprob);
      expect([...lp].sort((a, b) => b - a)).toEqual(lp);
      expect(lp.reduce((s, v) => s + Math.exp(v), 0)).toBeLessThanOrEqual(1 + 1e-9);
    }
    // With a key: the client sends it as a bearer token, and the keyed server answers.
    const keyedClient = llmClient({ model: NAME, baseUrl: `${keyed.url}/v1`, apiKey: KEY, env: {}, maxRetries: 0 });
    expect((await keyedClient.chat({ messages: [{ role: "user", content: "hi" }], temperature: 0, max_tokens: 3 })).usage.completion_tokens).toBeLessThanOrEqual(3);
  });
});

describe("serve: bad requests", () => {
  it("answers 400 with an OpenAI error body naming the field, and never crashes", async () => {
    const long = "bread ".repeat(1500);
    const cases: [body: unknown, param: string | null, code?: string, server?: RunningServer][] = [
      [{ messages: BREAD }, "model", "missing_required_parameter"],
      [{ model: 3, messages: BREAD }, "model"],
      [{ model: "gpt-4o", messages: BREAD }, "model", "model_not_found"],
      [{ model: NAME, messages: "hi" }, "messages", "invalid_type"],
      [{ model: NAME, messages: [] }, "messages"],
      [{ model: NAME, messages: [{ role: "user", content: 5 }] }, "messages[0].content", "invalid_type"],
      [{ model: NAME, messages: [{ role: "tool", content: "x" }] }, "messages[0].role"],
      [{ model: NAME, messages: [{ role: "user", content: [{ type: "image_url", image_url: "x" }] }] }, "messages[0].content[0]"],
      [{ model: NAME, messages: BREAD, temperature: "hot" }, "temperature", "invalid_type"],
      [{ model: NAME, messages: BREAD, temperature: 3 }, "temperature"],
      [{ model: NAME, messages: BREAD, top_p: 0 }, "top_p"],
      [{ model: NAME, messages: BREAD, max_tokens: 2.5 }, "max_tokens", "invalid_type"],
      [{ model: NAME, messages: BREAD, max_tokens: 0 }, "max_tokens"],
      [{ model: NAME, messages: BREAD, max_tokens: 1_000_000 }, "max_tokens", "context_length_exceeded"],
      [{ model: NAME, messages: [{ role: "user", content: long }] }, "messages", "context_length_exceeded"],
      [{ model: NAME, messages: BREAD, stream: "yes" }, "stream", "invalid_type"],
      [{ model: NAME, messages: BREAD, n: 2 }, "n"],
      [{ model: NAME, messages: BREAD, top_logprobs: 2 }, "top_logprobs"],
      [{ model: NAME, messages: BREAD, logprobs: true, top_logprobs: 50 }, "top_logprobs"],
      [{ model: NAME, messages: BREAD, tools: [{ type: "function" }] }, "tools", "unsupported_parameter"],
      [{ model: NAME, messages: BREAD, stop: [1] }, "stop", "invalid_type"],
      [{ model: NAME, messages: BREAD, safesail: [] }, "safesail", "invalid_type"],
      [{ model: NAME, messages: BREAD, safesail: { intervention: [] } }, "safesail.intervention", "unknown_parameter"],
      [{ model: NAME, messages: BREAD, safesail: { interventions: { feature: "0_8" } } }, "safesail.interventions", "invalid_type"],
      [{ model: NAME, messages: BREAD, safesail: { interventions: [{ feature: "9_8", method: "clamp", value: 1 }] } }, "safesail.interventions[0].feature", "invalid_intervention"],
      [{ model: NAME, messages: BREAD, safesail: { interventions: [{ feature: "0_99999", method: "clamp", value: 1 }] } }, "safesail.interventions[0].feature", "invalid_intervention"],
      [{ model: NAME, messages: BREAD, safesail: { interventions: [{ feature: "bomb", method: "clamp", value: 1 }] } }, "safesail.interventions[0].feature", "invalid_intervention"],
      [{ model: NAME, messages: BREAD, safesail: { interventions: [{ feature: "0_8", method: "boost", value: 1 }] } }, "safesail.interventions[0].method", "invalid_intervention"],
      [{ model: NAME, messages: BREAD, safesail: { interventions: [{ feature: "0_8", method: "clamp", value: "8" }] } }, "safesail.interventions[0].value", "invalid_intervention"],
      [{ model: NAME, messages: BREAD, safesail: { top_features: 0 } }, "safesail.top_features"],
      [{ model: "bare", messages: BREAD, safesail: { interventions: [CLAMP] } }, "safesail.interventions", "unsupported_parameter", bare],
      [{ model: "bare", messages: BREAD, safesail: { return_features: true } }, "safesail.return_features", "unsupported_parameter", bare],
      [{ model: NAME, messages: BREAD, safesail: { interventions: [{ feature: "0_8", method: "add", value: 1e308 }] } }, "safesail.interventions", "non_finite"],
      [{ model: NAME, messages: BREAD, stream: true, safesail: { interventions: [{ feature: "0_8", method: "clamp", value: 1e308 }] } }, "safesail.interventions", "non_finite"],
      [[1, 2], null, "invalid_type"],
    ];
    for (const [body, param, code, server] of cases) {
      const r = await call(server ?? main, "/v1/chat/completions", { body });
      const what = JSON.stringify(body).slice(0, 120);
      expect(r.status, what).toBe(400);
      expect(r.json.error.type, what).toBe("invalid_request_error");
      expect(r.json.error.param, what).toBe(param);
      if (code) expect(r.json.error.code, what).toBe(code);
      expect(typeof r.json.error.message, what).toBe("string");
    }
    const bad = await call(main, "/v1/chat/completions", { raw: '{"model": "toy", "messages": [' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ type: "invalid_request_error", param: null, code: "invalid_json" });
    expect(bad.json.error.message).toContain("not valid JSON");
    const huge = await chat(main, { max_tokens: 1_000_000 });
    expect(huge.json.error.message).toMatch(/maximum context length is 1024 tokens/);

    const nf = await call(main, "/v1/nothing");
    expect(nf.status).toBe(404);
    expect(nf.json.error.code).toBe("not_found");
    const wrong = await call(main, "/v1/chat/completions", { method: "GET" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
    expect((await call(main, "/v1/models", { method: "DELETE" })).status).toBe(405);
    // Still serving.
    expect((await chat(main, { max_tokens: 2, temperature: 0 })).status).toBe(200);
  });

  it("parses the request's fields (OpenAI defaults, text parts, developer role, max_completion_tokens)", () => {
    const p = parseChatRequest({ model: "m", messages: [{ role: "developer", content: "be brief" }, { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }], max_completion_tokens: 5, user: "ignored" });
    expect(p.messages).toEqual([{ role: "system", content: "be brief" }, { role: "user", content: "ab" }]);
    expect(p).toMatchObject({ maxTokens: 5, temperature: 1, topP: 1, seed: null, stream: false, logprobs: false, stop: [], safesail: null });
  });
});

describe("serve: queue, disconnects, shutdown", () => {
  it("answers 429 with Retry-After over the bound; cancelled requests leave the queue and the running one stops", async () => {
    const slow = { model: tiny.name, messages: BREAD, max_tokens: 1000, temperature: 0, safesail: { interventions: [CLAMP] } };
    const a = new AbortController();
    const b = new AbortController();
    const first = call(tiny, "/v1/chat/completions", { body: { ...slow, stream: true }, signal: a.signal }).catch((e: Error) => e);
    expect(await until(() => tiny.stats().running, 5000)).toBe(true);
    const second = call(tiny, "/v1/chat/completions", { body: slow, signal: b.signal }).catch((e: Error) => e);
    expect(await until(() => tiny.stats().waiting === 1, 5000)).toBe(true);
    const over = await call(tiny, "/v1/chat/completions", { body: slow });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(over.json.error).toMatchObject({ type: "requests", code: "rate_limit_exceeded", param: null });
    // The two accepted clients go away: the waiting one leaves, the running stream stops at its next step (each
    // would take seconds to finish its 1000 tokens).
    b.abort();
    expect(await until(() => tiny.stats().waiting === 0, 2000)).toBe(true);
    a.abort();
    expect(await until(() => !tiny.stats().running && tiny.stats().inFlight === 0, 2000)).toBe(true);
    expect(await first).toBeInstanceOf(Error);
    expect(await second).toBeInstanceOf(Error);
    const after = await call(tiny, "/v1/chat/completions", { body: { ...slow, max_tokens: 3 } });
    expect(after.status).toBe(200);
    expect(after.json.choices[0].message.content).toBe((await steer(model, saes, [CLAMP]).generate({ messages: BREAD, maxNewTokens: 3 })).text);
    expect(logs.some((l) => l.includes("client disconnected"))).toBe(true);
  });

  it("JobQueue: order, the bound, abort while waiting, a failing job does not stall it", async () => {
    const q = new JobQueue(1);
    const order: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ctl = new AbortController();
    const p1 = q.submit(async () => {
      await gate;
      order.push(1);
      throw new Error("boom");
    }, new AbortController().signal);
    const p2 = q.submit(async () => order.push(2), ctl.signal);
    await expect(q.submit(async () => order.push(3), new AbortController().signal)).rejects.toBeInstanceOf(QueueFullError);
    ctl.abort();
    await expect(p2).rejects.toBeInstanceOf(JobAbortedError);
    const p4 = q.submit(async () => order.push(4), new AbortController().signal);
    release();
    await expect(p1).rejects.toThrow("boom");
    await p4;
    expect(order).toEqual([1, 4]);
    expect(q.stats()).toMatchObject({ running: false, waiting: 0 });
  });
});

describe("serve: API key and binding", () => {
  it("needs the bearer key on every route (401), and the key appears in no response body or log line", async () => {
    const bodies: string[] = [];
    const seen = async (p: Promise<Reply>) => {
      const r = await p;
      bodies.push(r.text, JSON.stringify([...r.headers]));
      return r;
    };
    for (const path of ["/v1/models", "/v1/chat/completions", "/health", "/nope"]) {
      const r = await seen(call(keyed, path, path === "/v1/chat/completions" ? { body: { model: NAME, messages: BREAD } } : {}));
      expect(r.status, path).toBe(401);
      expect(r.json.error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
      expect(r.headers.get("www-authenticate")).toBe("Bearer");
    }
    expect((await seen(call(keyed, "/v1/models", { key: KEY.slice(0, -1) }))).status).toBe(401);
    expect((await seen(call(keyed, "/v1/models", { key: `${KEY}x` }))).status).toBe(401);
    expect((await seen(call(keyed, "/v1/models", { key: KEY }))).status).toBe(200);
    // Requests that put the key where errors quote values: it comes back redacted.
    const echo = await seen(call(keyed, "/v1/chat/completions", { key: KEY, body: { model: KEY, messages: BREAD } }));
    expect(echo.status).toBe(400);
    expect(echo.json.error.message).toContain("[redacted]");
    await seen(call(keyed, "/v1/chat/completions", { key: KEY, body: { model: NAME, messages: [{ role: KEY, content: "x" }] } }));
    await seen(call(keyed, "/v1/chat/completions", { key: KEY, body: { model: NAME, messages: BREAD, safesail: { interventions: [{ feature: KEY, method: "clamp", value: 1 }] } } }));
    await seen(call(keyed, "/v1/chat/completions", { key: KEY, raw: `{"model": "${KEY}" ` }));
    await seen(call(keyed, `/v1/models/${KEY}`, { key: KEY }));
    const ok = await seen(call(keyed, "/v1/chat/completions", { key: KEY, body: { model: NAME, messages: BREAD, max_tokens: 3, stream: true } }));
    expect(ok.status).toBe(200);
    for (const b of bodies) expect(b).not.toContain(KEY);
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) expect(l).not.toContain(KEY);
  });

  it("binds loopback by default and refuses another host without a key", async () => {
    expect(main.host).toBe("127.0.0.1");
    for (const h of ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"]) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "192.168.1.5", "example.com"]) expect(isLoopbackHost(h), h).toBe(false);
    const err = await startServer({ model, host: "0.0.0.0", port: 0 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as Error).message).toMatch(/needs an API key/);
    const short = await startServer({ model, port: 0, apiKey: "short" }).catch((e: Error) => e);
    expect(short).toBeInstanceOf(ArgumentError);
    expect((short as Error).message).not.toContain("short");
  });
});
