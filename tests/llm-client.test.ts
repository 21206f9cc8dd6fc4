// The OpenAI-compatible chat client against a real loopback server (tests/helpers/openai-server.ts): replies,
// retries (malformed, 429 with Retry-After, 5xx, timeouts, dropped connections), the concurrency limit, the logprobs
// fallback, configuration from flags and the environment, and the replay cache (offline reruns, its file format,
// partial and corrupt lines). Cache keys are checked against Python's hashlib.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FormatError } from "../src/errors.ts";
import { chatRequestBody, LlmError, llmClient, retryAfter, type UsageRecord } from "../src/interpret/llm.ts";
import { openReplayCache, requestKey } from "../src/interpret/replay-cache.ts";
import type { ChatResult, TokenLogprob } from "../src/interpret/types.ts";
import { startOpenAiServer, type OpenAiServer } from "./helpers/openai-server.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-llm-"));
const KEY = "sk-test-4f9c2a7e1b3d5c6f8a0e9d7c";
const NO_ENV = {} as NodeJS.ProcessEnv;
const servers: OpenAiServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(root, { recursive: true, force: true });
});

async function serve(...args: Parameters<typeof startOpenAiServer>): Promise<OpenAiServer> {
  const s = await startOpenAiServer(...args);
  servers.push(s);
  return s;
}

const ask = (text: string) => ({ messages: [{ role: "user" as const, content: text }], temperature: 0 });

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe("llm client: replies", () => {
  it("returns content, usage and logprobs, sends the plain OpenAI body in a fixed key order, and no Authorization without a key", async () => {
    const logprobs: TokenLogprob[] = [
      { token: "Yes", logprob: -0.01, top_logprobs: [{ token: "Yes", logprob: -0.01 }, { token: "No", logprob: -4.6 }] },
      { token: ".", logprob: -0.2, top_logprobs: [] },
    ];
    const server = await serve([{ reply: "Yes.", usage: { prompt_tokens: 17, completion_tokens: 2 }, logprobs, model: "served-model" }]);
    const seen: UsageRecord[] = [];
    const client = llmClient({ model: "m1", baseUrl: server.url + "/", env: NO_ENV, onUsage: (u) => seen.push(u) });
    // Keys given in a scrambled order: the body must come out in the documented one.
    const result = await client.chat(
      { top_logprobs: 2, logprobs: true, response_format: { type: "json_object" }, temperature: 0.5, messages: [{ content: "Is it?", role: "user" }], max_tokens: 5 } as never,
      { feature: "3_17", purpose: "detect" },
    );
    expect(result).toEqual({ content: "Yes.", usage: { prompt_tokens: 17, completion_tokens: 2 }, logprobs, model: "served-model", finish_reason: "stop", cached: false });
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.path).toBe("/v1/chat/completions");
    expect(req.headers.authorization).toBeUndefined();
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.raw).toBe('{"model":"m1","messages":[{"role":"user","content":"Is it?"}],"temperature":0.5,"max_tokens":5,"response_format":{"type":"json_object"},"logprobs":true,"top_logprobs":2}');
    const usage = client.usage();
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ feature: "3_17", purpose: "detect", prompt_tokens: 17, completion_tokens: 2, estimated: false, cached: false, attempts: 1 });
    expect(usage[0]!.ms).toBeGreaterThan(0);
    expect(seen).toEqual(usage);
    expect(client.usageTotals()).toMatchObject({ requests: 1, cached: 0, estimated: 0, prompt_tokens: 17, completion_tokens: 2, attempts: 1 });
  });

  it("estimates usage as ceil(chars / 4) and marks it when the server reports none", async () => {
    const server = await serve([{ reply: "abcdefghij", usage: null }]);
    const client = llmClient({ model: "m", baseUrl: server.url, env: NO_ENV });
    const r = await client.chat({ messages: [{ role: "system", content: "12345" }, { role: "user", content: "1234567" }] }, { feature: "0_1" });
    expect(r.usage).toEqual({ prompt_tokens: Math.ceil(12 / 4), completion_tokens: Math.ceil(10 / 4) });
    expect(client.usage()[0]).toMatchObject({ estimated: true, prompt_tokens: 3, completion_tokens: 3 });
    expect(client.usageTotals().estimated).toBe(1);
  });

  it("rejects a bad request or bad options with an error naming the field", async () => {
    const client = llmClient({ model: "m", baseUrl: "http://127.0.0.1:9/v1", env: NO_ENV });
    await expect(client.chat({ messages: [] })).rejects.toThrow(/field "messages": expected a non-empty array/);
    await expect(client.chat({ messages: [{ role: "user", content: "x" }], temperature: Number.NaN })).rejects.toThrow(/field "temperature": NaN is not a finite number/);
    expect(() => llmClient({ model: "", env: NO_ENV })).toThrow(/option "model"/);
    expect(() => llmClient({ model: "m", concurrency: 0, env: NO_ENV })).toThrow(/option "concurrency": expected an integer >= 1/);
    expect(() => llmClient({ model: "m", baseUrl: "localhost:8000", env: NO_ENV })).toThrow(/--api-base: expected an http:\/\/ or https:\/\/ URL/);
    expect(() => llmClient({ model: "m", env: { OPENAI_BASE_URL: "not a url" } })).toThrow(/OPENAI_BASE_URL: not a URL/);
  });
});

describe("llm client: retries", () => {
  it("retries a malformed reply (not JSON, or no message content) and then succeeds", async () => {
    const server = await serve([{ malformed: "<html>gateway</html>" }, { json: { choices: [{ message: { role: "assistant", content: null } }] } }, { reply: "fine" }]);
    const client = llmClient({ model: "m", baseUrl: server.url, env: NO_ENV, backoffMs: 1 });
    const r = await client.chat(ask("q"), { feature: "1_2", purpose: "explain" });
    expect(r.content).toBe("fine");
    expect(server.requests).toHaveLength(3);
    expect(client.usage()[0]!.attempts).toBe(3);
  });

  it("honours Retry-After: 1 on a 429", async () => {
    const server = await serve([{ status: 429, retryAfter: 1, error: "rate limited" }, { reply: "after the wait" }]);
    const client = llmClient({ model: "m", baseUrl: server.url, env: NO_ENV, backoffMs: 1 });
    const t0 = performance.now();
    const r = await client.chat(ask("q"), { feature: "1_3" });
    const elapsed = performance.now() - t0;
    expect(r.content).toBe("after the wait");
    // With a 1 ms backoff, only the header can explain a wait of a second.
    expect(elapsed).toBeGreaterThanOrEqual(980);
    expect(elapsed).toBeLessThan(5000);
    expect(client.usage()[0]!.attempts).toBe(2);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfter("3", now)).toBe(3000);
    expect(retryAfter("0.5", now)).toBe(500);
    expect(retryAfter("Thu, 01 Jan 2026 00:00:07 GMT", now)).toBe(7000);
    expect(retryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(retryAfter("soon", now)).toBeNull();
    expect(retryAfter(null, now)).toBeNull();
  });

  it("retries a 500, a reply slower than the timeout, and a dropped connection", async () => {
    const server = await serve([{ status: 500 }, { delayMs: 1500, reply: "too late" }, { drop: true }, { reply: "third time lucky" }]);
    const client = llmClient({ model: "m", baseUrl: server.url, env: NO_ENV, backoffMs: 1, timeoutMs: 300 });
    const t0 = performance.now();
    const r = await client.chat(ask("q"), { feature: "2_5" });
    expect(r.content).toBe("third time lucky");
    expect(server.requests).toHaveLength(4);
    expect(client.usage()[0]!.attempts).toBe(4);
    // The slow attempt was cut at the timeout, not waited out.
    expect(performance.now() - t0).toBeLessThan(1400);
  });

  it("gives up after maxRetries + 1 attempts on persistent 500 with an LlmError naming feature, purpose, URL, status and attempts", async () => {
    const server = await serve(() => ({ status: 500, error: "overloaded" }));
    const client = llmClient({ model: "m", baseUrl: server.url, env: NO_ENV, backoffMs: 1, maxRetries: 3 });
    const err = await rejection(client.chat(ask("q"), { feature: "7_123", purpose: "simulate-tls" }));
    expect(err).toBeInstanceOf(LlmError);
    expect(err.message).toBe(`feature 7_123 (purpose simulate-tls): POST ${server.url}/chat/completions: HTTP 500 after 4 attempts: overloaded`);
    expect(err).toMatchObject({ feature: "7_123", purpose: "simulate-tls", status: 500, attempts: 4 });
    expect(server.requests).toHaveLength(4);
    expect(client.usage()).toEqual([]);
  });

  it("names the network error when nothing listens, and does not retry other 4xx; the key never shows", async () => {
    const dead = await serve([]);
    await dead.close();
    const c1 = llmClient({ model: "m", baseUrl: dead.url, apiKey: KEY, env: NO_ENV, backoffMs: 1, maxRetries: 1 });
    const e1 = await rejection(c1.chat(ask("q"), { feature: "9_9" }));
    expect(e1).toBeInstanceOf(LlmError);
    expect(e1.message).toMatch(/^feature 9_9 \(purpose unspecified\): POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: no HTTP status after 2 attempts: network error: ECONNREFUSED/);

    // A server that echoes the key in its 401 (as OpenAI's "Incorrect API key provided" does).
    const server = await serve([{ status: 401, error: `Incorrect API key provided: ${KEY}` }]);
    const c2 = llmClient({ model: "m", baseUrl: server.url, apiKey: KEY, env: NO_ENV, backoffMs: 1 });
    const e2 = await rejection(c2.chat(ask("q"), { feature: "9_10", purpose: "explain" }));
    expect(e2.message).toBe(`feature 9_10 (purpose explain): POST ${server.url}/chat/completions: HTTP 401 after 1 attempt: Incorrect API key provided: ***`);
    expect(server.requests).toHaveLength(1);
    for (const e of [e1, e2]) expect(JSON.stringify({ m: e.message, ...e })).not.toContain(KEY);
  });

  it("stops at once when the caller aborts (no retry, the caller's reason)", async () => {
    const server = await serve(() => ({ delayMs: 5000, reply: "never" }));
    const client = llmClient({ model: "m", baseUrl: server.url, env: NO_ENV, backoffMs: 1 });
    const ctl = new AbortController();
    const t0 = performance.now();
    setTimeout(() => ctl.abort(new Error("user stop")), 100);
    const err = await rejection(client.chat(ask("q"), { feature: "1_1", signal: ctl.signal }));
    expect(err.message).toBe("user stop");
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(server.requests).toHaveLength(1);
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    const server = await serve(async (body) => ({ delayMs: 40, reply: `echo ${body.messages[0].content}` }));
    const client = llmClient({ model: "m", baseUrl: server.url, env: NO_ENV, concurrency: 3 });
    const results = await Promise.all(Array.from({ length: 15 }, (_, i) => client.chat(ask(`q${i}`), { feature: `0_${i}` })));
    expect(results.map((r) => r.content)).toEqual(Array.from({ length: 15 }, (_, i) => `echo q${i}`));
    expect(server.maxInFlight).toBe(3);
    expect(server.inFlight).toBe(0);
  });

  it("falls back once to no logprobs on a 400 about them, and remembers it", async () => {
    const server = await serve((body) => (body.logprobs ? { status: 400, error: "this model does not support logprobs" } : { reply: `ok ${body.messages[0].content}` }));
    const client = llmClient({ model: "m", baseUrl: server.url, env: NO_ENV, backoffMs: 1, maxRetries: 0 });
    const req = { ...ask("a"), logprobs: true, top_logprobs: 5 };
    const r1 = await client.chat(req, { feature: "4_4", purpose: "detect" });
    expect(r1).toMatchObject({ content: "ok a", logprobs: null });
    // maxRetries 0: the fallback is not charged to the retry budget.
    expect(client.usage()[0]!.attempts).toBe(2);
    const r2 = await client.chat({ ...req, messages: [{ role: "user", content: "b" }] }, { feature: "4_5" });
    expect(r2).toMatchObject({ content: "ok b", logprobs: null });
    expect(server.requests.map((r) => r.body.logprobs ?? null)).toEqual([true, null, null]);
    expect(server.requests[1]!.body.top_logprobs).toBeUndefined();

    // A 400 about something else is not retried, and one about logprobs for a request without them neither.
    const other = await serve([{ status: 400, error: "max_tokens too large" }]);
    const c2 = llmClient({ model: "m", baseUrl: other.url, env: NO_ENV, backoffMs: 1 });
    const e = await rejection(c2.chat({ ...ask("x"), logprobs: true }, { feature: "4_6" }));
    expect(e.message).toMatch(/HTTP 400 after 1 attempt: max_tokens too large$/);
  });
});

describe("llm client: configuration", () => {
  it("takes OPENAI_BASE_URL and OPENAI_API_KEY from the environment, and the options override both", async () => {
    const fromEnv = await serve(() => ({ reply: "env server" }));
    const fromFlag = await serve(() => ({ reply: "flag server" }));
    const env = { OPENAI_BASE_URL: fromEnv.url, OPENAI_API_KEY: "env-key-123" };
    const c1 = llmClient({ model: "m", env });
    expect((await c1.chat(ask("q"))).content).toBe("env server");
    expect(fromEnv.requests[0]!.headers.authorization).toBe("Bearer env-key-123");
    const c2 = llmClient({ model: "m", env, baseUrl: fromFlag.url, apiKey: KEY });
    expect((await c2.chat(ask("q"))).content).toBe("flag server");
    expect(fromFlag.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(fromEnv.requests).toHaveLength(1);
    // Empty variables count as unset: no server, no key.
    const c3 = llmClient({ model: "m", env: { OPENAI_BASE_URL: "", OPENAI_API_KEY: "" } });
    expect(c3.url).toBeNull();
  });
});

describe("replay cache", () => {
  const prompts = ["alpha", "beta", "gamma", "delta", "epsilon"];
  const script = (body: any) => ({
    reply: `explanation of ${body.messages[0].content}`,
    usage: body.messages[0].content === "gamma" ? null : { prompt_tokens: 5, completion_tokens: 7 },
    logprobs: body.logprobs ? [{ token: "x", logprob: -0.5, top_logprobs: [{ token: "x", logprob: -0.5 }] }] : null,
  });
  const requestOf = (p: string, i: number) => ({ ...ask(p), ...(i % 2 ? { logprobs: true, top_logprobs: 1 } : {}), response_format: { type: "json_object" as const } });

  it("replays recorded answers with no network (offline, or pointed at a closed port), identical to the live run", async () => {
    const dir = join(root, "replay");
    const file = join(dir, "nested", "cache.jsonl");
    const server = await serve(script);
    const live = llmClient({ model: "m", baseUrl: server.url, apiKey: KEY, env: NO_ENV, cache: file, concurrency: 2 });
    const first = await Promise.all(prompts.map((p, i) => live.chat(requestOf(p, i), { feature: `5_${i}`, purpose: "explain" })));
    await live.close();
    expect(first.every((r) => !r.cached)).toBe(true);
    expect(server.requests).toHaveLength(5);
    // Asking again through the same client is a hit: no new request.
    expect((await live.chat(requestOf("alpha", 0), { feature: "5_0" })).cached).toBe(true);
    expect(server.requests).toHaveLength(5);
    await server.close();

    const strip = (r: ChatResult) => ({ ...r, cached: undefined });
    const offline = llmClient({ model: "m", env: { OPENAI_BASE_URL: server.url }, offline: true, cache: file });
    const closedPort = llmClient({ model: "m", baseUrl: server.url, apiKey: KEY, env: NO_ENV, cache: file, maxRetries: 0 });
    for (const client of [offline, closedPort]) {
      const again = await Promise.all(prompts.map((p, i) => client.chat(requestOf(p, i), { feature: `5_${i}`, purpose: "explain" })));
      expect(again.map(strip)).toEqual(first.map(strip));
      expect(again.every((r) => r.cached)).toBe(true);
      expect(client.usage().every((u) => u.cached && u.attempts === 0)).toBe(true);
      // The answer recorded without usage is estimated again on replay, and says so.
      expect(client.usage().filter((u) => u.estimated).map((u) => u.feature)).toEqual(["5_2"]);
    }

    // A live server next to an offline client is never asked.
    const watcher = await serve(script);
    const offline2 = llmClient({ model: "m", baseUrl: watcher.url, offline: true, cache: file, env: NO_ENV });
    await offline2.chat(requestOf("beta", 1), { feature: "5_1" });
    const miss = await rejection(offline2.chat(ask("never asked"), { feature: "6_66", purpose: "explain" }));
    expect(miss).toBeInstanceOf(LlmError);
    expect(miss.message).toBe(`no answer cached for feature 6_66 (purpose explain) in ${file} and the client is offline (no server is asked)`);
    expect(watcher.requests).toHaveLength(0);

    // No server configured at all.
    const noServer = llmClient({ model: "m", cache: file, env: NO_ENV });
    const miss2 = await rejection(noServer.chat(ask("never asked"), { feature: "6_67", purpose: "simulate-sls" }));
    expect(miss2.message).toBe(`no answer cached for feature 6_67 (purpose simulate-sls) in ${file} and no server configured (set OPENAI_BASE_URL or --api-base)`);

    // The file: one line per answer, the request as sent, and the key nowhere in any file written.
    const lines = readFileSync(file, "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(5);
    const recs = lines.map((l) => JSON.parse(l));
    expect(recs.map((r) => Object.keys(r))).toEqual(recs.map(() => ["key", "request", "response"]));
    expect(recs.map((r) => JSON.stringify(r.request)).sort()).toEqual(server.requests.map((r) => r.raw).sort());
    for (const f of filesUnder(root)) expect(readFileSync(f, "latin1"), f).not.toContain(KEY);
    expect(filesUnder(root).length).toBeGreaterThan(0);
  });

  it("keys each line by sha256 of the request body (checked with Python's hashlib)", async () => {
    const file = join(root, "keys.jsonl");
    const cache = await openReplayCache(file);
    const bodies = [chatRequestBody("m", ask("héllo ✓")), chatRequestBody("m", { ...ask("x"), seed: 7, max_tokens: 3 })];
    for (const b of bodies) await cache.put(b, { content: "c", usage: null, logprobs: null, model: "m", finish_reason: "stop" });
    const py = execFileSync(
      "/usr/bin/python3",
      ["-c", "import sys,json,hashlib\nfor l in open(sys.argv[1], encoding='utf-8'):\n r=json.loads(l); b=json.dumps(r['request'], separators=(',',':'), ensure_ascii=False).encode('utf-8'); print(r['key'] == hashlib.sha256(b).hexdigest(), hashlib.sha256(b).hexdigest())", file],
      { encoding: "utf8" },
    );
    const out = py.trim().split("\n").map((l) => l.split(" "));
    expect(out.map((o) => o[0])).toEqual(["True", "True"]);
    expect(out.map((o) => o[1])).toEqual(bodies.map(requestKey));
    expect(cache.size).toBe(2);
  });

  it("does not interleave concurrent puts, and the last of two answers to one key wins", async () => {
    const file = join(root, "concurrent.jsonl");
    const cache = await openReplayCache(file);
    const big = "z".repeat(200_000);
    const body = (i: number) => chatRequestBody("m", ask(`p${i}`));
    await Promise.all(Array.from({ length: 40 }, (_, i) => cache.put(body(i % 20), { content: `${i} ${big}`, usage: { prompt_tokens: i, completion_tokens: 1 }, logprobs: null, model: "m", finish_reason: null })));
    const reopened = await openReplayCache(file);
    expect(reopened.size).toBe(20);
    expect(readFileSync(file, "utf8").split("\n")).toHaveLength(41);
    for (let i = 0; i < 20; i++) expect(reopened.get(body(i))!.content.startsWith(`${i + 20} `)).toBe(true);
  });

  it("drops a partial last line with a warning, and cuts it off before the next append", async () => {
    const file = join(root, "truncated.jsonl");
    const good = await openReplayCache(file);
    await good.put(chatRequestBody("m", ask("one")), { content: "1", usage: null, logprobs: null, model: "m", finish_reason: "stop" });
    await good.put(chatRequestBody("m", ask("two")), { content: "2", usage: null, logprobs: null, model: "m", finish_reason: "stop" });
    const whole = readFileSync(file, "utf8");
    const [l1, l2] = whole.split("\n");
    // A crash in the middle of writing the third line.
    appendFileSync(file, l2!.slice(0, 40));
    const warnings: string[] = [];
    const cache = await openReplayCache(file, { warn: (m) => warnings.push(m) });
    expect(cache.size).toBe(2);
    expect(warnings).toEqual([`${file}:3: dropped a partial last line (40 bytes; an interrupted write?); it is cut off before the next answer is appended`]);
    expect(cache.warnings).toEqual(warnings);
    await cache.put(chatRequestBody("m", ask("three")), { content: "3", usage: null, logprobs: null, model: "m", finish_reason: "stop" });
    const after = readFileSync(file, "utf8").split("\n");
    expect(after.slice(0, 2)).toEqual([l1, l2]);
    expect(after).toHaveLength(4);
    const quiet: string[] = [];
    expect((await openReplayCache(file, { warn: (m) => quiet.push(m) })).size).toBe(3);
    expect(quiet).toEqual([]);

    // A complete last line without its newline is kept, and the next line starts on a line of its own.
    const file2 = join(root, "no-newline.jsonl");
    writeFileSync(file2, l1!);
    const c2 = await openReplayCache(file2, { warn: () => undefined });
    expect(c2.size).toBe(1);
    await c2.put(chatRequestBody("m", ask("two")), { content: "2", usage: null, logprobs: null, model: "m", finish_reason: "stop" });
    expect(readFileSync(file2, "utf8").split("\n")).toEqual([l1, l2, ""]);
  });

  it("reports a corrupt line elsewhere as a FormatError naming file:line", async () => {
    const file = join(root, "corrupt.jsonl");
    const cache = await openReplayCache(file);
    for (const w of ["a", "b", "c"]) await cache.put(chatRequestBody("m", ask(w)), { content: w, usage: null, logprobs: null, model: "m", finish_reason: "stop" });
    const lines = readFileSync(file, "utf8").split("\n");
    writeFileSync(file, [lines[0], lines[1]!.slice(0, 30), lines[2], ""].join("\n"));
    const e = await rejection(openReplayCache(file));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:2: not valid JSON`));

    // A line whose request was edited no longer matches its key.
    const edited = JSON.parse(lines[1]!);
    edited.request.temperature = 1;
    writeFileSync(file, [lines[0], JSON.stringify(edited), lines[2], ""].join("\n"));
    await expect(openReplayCache(file)).rejects.toThrow(`${file}:2: field "key": does not match the request`);
    // A missing response field.
    const noContent = JSON.parse(lines[2]!);
    delete noContent.response.content;
    writeFileSync(file, [lines[0], lines[1], JSON.stringify(noContent), ""].join("\n"));
    await expect(openReplayCache(file)).rejects.toThrow(`${file}:3: field "response.content": expected a string, got undefined`);
  });
});
