// The chat client every explainer and simulator calls: OpenAI-compatible `POST {base}/chat/completions`, with a
// concurrency limit, per-attempt timeouts, retries with backoff, and the replay cache (./replay-cache.ts) in front.
//
// Servers it is meant for (the plain OpenAI chat-completions body; `Authorization: Bearer KEY` only when a key is
// set, since local servers need none):
//   vLLM        http://localhost:8000/v1                              (no key unless started with --api-key)
//   Ollama      http://localhost:11434/v1                             (no key)
//   OpenAI      https://api.openai.com/v1                             (OPENAI_API_KEY)
//   DashScope   https://dashscope.aliyuncs.com/compatible-mode/v1     (a DashScope key as OPENAI_API_KEY)
// The base URL and key come from the options (the CLI's --api-base / --api-key) or else from the ecosystem's
// variables OPENAI_BASE_URL and OPENAI_API_KEY.
//
// Retried: HTTP 429 and 5xx (waiting what Retry-After says when the server sends it), per-attempt timeouts,
// network errors (refused, reset, socket hang up) and malformed replies (not JSON, no choices[0].message.content).
// Not retried: other 4xx, with one exception: a 400 whose error text mentions logprobs, for a request that asked
// for them, is retried once without them, and the client remembers that this server has none (results then carry
// logprobs null). The API key appears in no error message, usage record or cache line: it travels as a header only,
// and any echo of it in a server's error text is masked.
//
// The cache key is the request body as built here from the caller's request (keys in a fixed order, so one logical
// request always gives one JSON string), before any logprobs fallback: a replay without a server finds the answer
// whatever the server turned out to support.
import { ArgumentError, SafesailError, describeValue } from "../errors.ts";
import { openReplayCache, ReplayCache, type CachedAnswer } from "./replay-cache.ts";
import type { ChatClient, ChatContext, ChatRequest, ChatResult, ChatUsage, TokenLogprob } from "./types.ts";

export interface UsageRecord {
  /** The feature id of the request (ChatContext.feature), null when the caller gave none. */
  feature: string | null;
  /** What the request did (ChatContext.purpose), null when the caller gave none. */
  purpose: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  /** True when the server did not report usage and the counts are ceil(characters / 4). */
  estimated: boolean;
  /** True when the answer came from the replay cache (no tokens were spent). */
  cached: boolean;
  /** HTTP attempts made (0 for a cache hit). */
  attempts: number;
  /** Wall time of the request, from the call to its answer, waiting for a free slot included. */
  ms: number;
}

export interface UsageTotals {
  requests: number;
  cached: number;
  /** Requests whose token counts are estimated (server reported none). */
  estimated: number;
  prompt_tokens: number;
  completion_tokens: number;
  attempts: number;
  ms: number;
}

export interface LlmClientOptions {
  /** Model name every request carries (`--llm`). */
  model: string;
  /** e.g. http://localhost:8000/v1; default $OPENAI_BASE_URL. */
  baseUrl?: string;
  /** Default $OPENAI_API_KEY; none: no Authorization header. */
  apiKey?: string;
  /** A replay cache, or the path of its JSONL file (opened on first use); null or absent: no cache. */
  cache?: ReplayCache | string | null;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Limit of one HTTP attempt, reading the reply included (default 120000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 5, so at most 6 attempts). */
  maxRetries?: number;
  /** Base of the exponential backoff between attempts (default 1000; doubled per retry, 50-100% jitter, capped at 30 s). */
  backoffMs?: number;
  /** Where OPENAI_BASE_URL / OPENAI_API_KEY are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Never ask a server: answers come from the cache or the request fails. */
  offline?: boolean;
  /** Called once per successful request. */
  onUsage?: (u: UsageRecord) => void;
}

/** A request that got no usable answer; names the feature, purpose, URL, last HTTP status and attempts. */
export class LlmError extends SafesailError {
  readonly feature: string | null;
  readonly purpose: string | null;
  readonly url: string | null;
  readonly status: number | null;
  readonly attempts: number;

  constructor(message: string, info: { feature: string | null; purpose: string | null; url: string | null; status: number | null; attempts: number; cause?: unknown }) {
    super(message, { ...(info.url !== null ? { file: info.url } : {}), ...(info.cause !== undefined ? { cause: info.cause } : {}) });
    this.feature = info.feature;
    this.purpose = info.purpose;
    this.url = info.url;
    this.status = info.status;
    this.attempts = info.attempts;
  }
}

const BACKOFF_CAP_MS = 30_000;
/** A Retry-After longer than this is not waited out (a quota window, not a burst limit): the request fails. */
const RETRY_AFTER_CAP_MS = 300_000;
/** Server error text quoted in messages is cut to this many characters. */
const DETAIL_CHARS = 300;

const REQUEST_ORDER = ["model", "messages", "temperature", "max_tokens", "seed", "response_format", "logprobs", "top_logprobs"] as const;
const MESSAGE_ORDER = ["role", "content"] as const;

/**
 * The JSON body of a chat request, `{model, ...request}` with keys in a fixed order: the ChatRequest fields in the
 * order of REQUEST_ORDER, then any other field sorted by name (objects inside sorted too). Undefined fields are left
 * out. The same logical request always gives the same string, which is what the replay cache keys on.
 */
export function chatRequestBody(model: string, request: Omit<ChatRequest, "model"> & { model?: string }): string {
  if (request === null || typeof request !== "object") throw new ArgumentError(`chat request: expected an object, got ${describeValue(request)}`, { field: "request" });
  const merged: Record<string, unknown> = { model, ...request };
  if (typeof merged.model !== "string" || merged.model === "") throw new ArgumentError(`chat request: field "model": expected a model name, got ${describeValue(merged.model)}`, { field: "model" });
  const messages = merged.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new ArgumentError(`chat request: field "messages": expected a non-empty array, got ${describeValue(messages)}`, { field: "messages" });
  merged.messages = messages.map((m: unknown, i) => {
    const msg = m as Record<string, unknown> | null;
    if (msg === null || typeof msg !== "object" || typeof msg.role !== "string" || typeof msg.content !== "string") {
      throw new ArgumentError(`chat request: field "messages[${i}]": expected {role, content} strings, got ${describeValue(m)}`, { field: `messages[${i}]` });
    }
    return ordered(msg, MESSAGE_ORDER, `messages[${i}]`);
  });
  return JSON.stringify(ordered(merged, REQUEST_ORDER, ""));
}

function ordered(obj: Record<string, unknown>, first: readonly string[], where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const rest = Object.keys(obj).filter((k) => !first.includes(k)).sort();
  for (const k of [...first, ...rest]) {
    if (obj[k] === undefined) continue;
    // The messages were put in their own order already (role, content first); canonical() would sort them.
    out[k] = where === "" && k === "messages" ? obj[k] : canonical(obj[k], where ? `${where}.${k}` : k);
  }
  return out;
}

/** Sorted object keys all the way down; a non-finite number would silently become null in JSON, so it is an error. */
function canonical(value: unknown, field: string): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) throw new ArgumentError(`chat request: field "${field}": ${value} is not a finite number`, { field });
  if (Array.isArray(value)) return value.map((v, i) => canonical(v, `${field}[${i}]`));
  if (value !== null && typeof value === "object") return ordered(value as Record<string, unknown>, [], field);
  return value;
}

/** Counts a semaphore: at most `limit` holders; waiters are served in order. */
class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = (): void => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal!.reason);
        };
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        this.waiters.push(wake);
      });
    } else {
      this.active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      // The slot passes straight to the next waiter, so `active` stays as it is.
      if (next) next();
      else this.active--;
    };
  }
}

type Attempt =
  | { kind: "ok"; answer: CachedAnswer }
  | { kind: "retry"; status: number | null; detail: string; retryAfterMs: number | null; cause?: unknown }
  | { kind: "fatal"; status: number | null; detail: string }
  | { kind: "no-logprobs"; status: number; detail: string };

export class LlmClient implements ChatClient {
  readonly model: string;
  /** The chat completions URL (no credentials), or null when no server is configured. */
  readonly url: string | null;
  private readonly endpoint: string | null;
  private readonly apiKey: string | null;
  private readonly offline: boolean;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly backoffMs: number;
  private readonly onUsage: ((u: UsageRecord) => void) | undefined;
  private readonly semaphore: Semaphore;
  private readonly records: UsageRecord[] = [];
  private cacheSource: ReplayCache | string | null;
  private cachePromise: Promise<ReplayCache | null> | null = null;
  /** Set when the server refused logprobs once: later requests are sent without them. */
  private serverLacksLogprobs = false;

  constructor(opts: LlmClientOptions) {
    if (opts === null || typeof opts !== "object") throw new ArgumentError(`llmClient: expected options, got ${describeValue(opts)}`, { field: "options" });
    if (typeof opts.model !== "string" || opts.model.trim() === "") throw new ArgumentError(`llmClient: option "model" (--llm): expected a model name, got ${describeValue(opts.model)}`, { field: "model" });
    this.model = opts.model;
    const env = opts.env ?? process.env;
    this.concurrency = positiveInt(opts.concurrency, 4, "concurrency", 1);
    this.timeoutMs = positiveInt(opts.timeoutMs, 120_000, "timeoutMs", 1);
    this.maxRetries = positiveInt(opts.maxRetries, 5, "maxRetries", 0);
    this.backoffMs = positiveInt(opts.backoffMs, 1000, "backoffMs", 0);
    this.offline = opts.offline === true;
    this.onUsage = opts.onUsage;
    this.semaphore = new Semaphore(this.concurrency);
    this.cacheSource = opts.cache ?? null;

    const key = nonEmpty(opts.apiKey) ?? nonEmpty(env.OPENAI_API_KEY) ?? null;
    if (key !== null && /[\s\x00-\x1f\x7f]/.test(key)) {
      // Never quote the key itself.
      throw new ArgumentError(`llmClient: the API key (${nonEmpty(opts.apiKey) !== undefined ? "--api-key" : "OPENAI_API_KEY"}) contains whitespace or control characters`, { field: "apiKey" });
    }
    this.apiKey = key;

    const fromFlag = nonEmpty(opts.baseUrl);
    const base = fromFlag ?? nonEmpty(env.OPENAI_BASE_URL) ?? null;
    if (base === null) {
      this.endpoint = null;
      this.url = null;
    } else {
      const source = fromFlag !== undefined ? "--api-base" : "OPENAI_BASE_URL";
      let u: URL;
      try {
        u = new URL(base);
      } catch {
        throw new ArgumentError(`${source}: not a URL: ${describeValue(base)} (expected e.g. http://localhost:8000/v1)`, { field: source });
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new ArgumentError(`${source}: expected an http:// or https:// URL, got ${u.protocol}`, { field: source });
      if (u.username !== "" || u.password !== "") throw new ArgumentError(`${source}: the URL carries credentials; give the key as --api-key or OPENAI_API_KEY instead`, { field: source });
      u.pathname = u.pathname.replace(/\/+$/, "") + "/chat/completions";
      u.hash = "";
      this.endpoint = u.toString();
      this.url = u.search === "" ? this.endpoint : `${u.origin}${u.pathname}`;
    }
  }

  /** The replay cache in use (opening it on first call when it was given as a path), or null. */
  cache(): Promise<ReplayCache | null> {
    if (this.cachePromise === null) {
      const src = this.cacheSource;
      this.cachePromise = src === null ? Promise.resolve(null) : typeof src === "string" ? openReplayCache(src) : Promise.resolve(src);
      // A failed open is reported to every caller, and the next call tries again.
      this.cachePromise.catch(() => {
        this.cachePromise = null;
      });
    }
    return this.cachePromise;
  }

  async chat(request: Omit<ChatRequest, "model">, context: ChatContext = {}): Promise<ChatResult> {
    const started = performance.now();
    const feature = context.feature ?? null;
    const purpose = context.purpose ?? null;
    const body = chatRequestBody(this.model, request);
    const cache = await this.cache();

    const hit = cache?.get(body);
    if (hit !== undefined) return this.finish(hit, body, { feature, purpose, cached: true, attempts: 0, started });

    if (this.offline || this.endpoint === null) {
      const where = cache === null ? "(no replay cache)" : cache.file;
      const why = this.offline ? "the client is offline (no server is asked)" : "no server configured (set OPENAI_BASE_URL or --api-base)";
      throw new LlmError(`no answer cached for ${who(feature, purpose)} in ${where} and ${why}`, { feature, purpose, url: this.url, status: null, attempts: 0 });
    }

    const release = await this.semaphore.acquire(context.signal);
    let answer: CachedAnswer;
    let attempts: number;
    try {
      const wantsLogprobs = request.logprobs === true || request.top_logprobs !== undefined;
      ({ answer, attempts } = await this.send(body, wantsLogprobs, feature, purpose, context.signal));
    } finally {
      release();
    }
    if (cache !== null) await cache.put(body, answer);
    return this.finish(answer, body, { feature, purpose, cached: false, attempts, started });
  }

  /** One record per successful request, in completion order. */
  usage(): UsageRecord[] {
    return this.records.slice();
  }

  usageTotals(): UsageTotals {
    const t: UsageTotals = { requests: 0, cached: 0, estimated: 0, prompt_tokens: 0, completion_tokens: 0, attempts: 0, ms: 0 };
    for (const r of this.records) {
      t.requests++;
      if (r.cached) t.cached++;
      if (r.estimated) t.estimated++;
      t.prompt_tokens += r.prompt_tokens;
      t.completion_tokens += r.completion_tokens;
      t.attempts += r.attempts;
      t.ms += r.ms;
    }
    return t;
  }

  /** Waits until every answer so far is written to the replay cache. */
  async close(): Promise<void> {
    const cache = this.cachePromise === null ? null : await this.cachePromise.catch(() => null);
    await cache?.flush();
  }

  private finish(answer: CachedAnswer, body: string, info: { feature: string | null; purpose: string | null; cached: boolean; attempts: number; started: number }): ChatResult {
    let usage: ChatUsage;
    let estimated = false;
    if (answer.usage !== null) usage = { prompt_tokens: answer.usage.prompt_tokens, completion_tokens: answer.usage.completion_tokens };
    else {
      estimated = true;
      const promptChars = (JSON.parse(body) as ChatRequest).messages.reduce((n, m) => n + m.content.length, 0);
      usage = { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: Math.ceil(answer.content.length / 4) };
    }
    const record: UsageRecord = {
      feature: info.feature,
      purpose: info.purpose,
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      estimated,
      cached: info.cached,
      attempts: info.attempts,
      ms: performance.now() - info.started,
    };
    this.records.push(record);
    this.onUsage?.(record);
    return { content: answer.content, usage, logprobs: answer.logprobs, model: answer.model, finish_reason: answer.finish_reason, cached: info.cached };
  }

  /** The attempts of one request: returns the answer or throws LlmError (or the caller's abort reason). */
  private async send(body: string, wantsLogprobs: boolean, feature: string | null, purpose: string | null, signal: AbortSignal | undefined): Promise<{ answer: CachedAnswer; attempts: number }> {
    let maxAttempts = this.maxRetries + 1;
    let attempts = 0;
    let last: { status: number | null; detail: string; cause?: unknown } = { status: null, detail: "" };
    for (;;) {
      const withoutLogprobs = wantsLogprobs && this.serverLacksLogprobs;
      const sent = withoutLogprobs ? stripLogprobs(body) : body;
      attempts++;
      const result = await this.attempt(sent, signal);
      if (result.kind === "ok") {
        if (withoutLogprobs) result.answer.logprobs = null;
        return { answer: result.answer, attempts };
      }
      last = result;
      if (result.kind === "no-logprobs" && wantsLogprobs && !withoutLogprobs) {
        // The server said it has no logprobs: once more without them, an attempt outside the retry budget.
        this.serverLacksLogprobs = true;
        maxAttempts++;
        continue;
      }
      if (result.kind === "fatal" || result.kind === "no-logprobs") break;
      if (result.retryAfterMs !== null && result.retryAfterMs > RETRY_AFTER_CAP_MS) {
        last = { ...result, detail: `${result.detail}; the server asks to retry after ${Math.round(result.retryAfterMs / 1000)} s, more than ${RETRY_AFTER_CAP_MS / 1000} s: not waiting` };
        break;
      }
      if (attempts >= maxAttempts) break;
      const backoff = Math.min(BACKOFF_CAP_MS, this.backoffMs * 2 ** (attempts - 1)) * (0.5 + 0.5 * Math.random());
      await sleep(result.retryAfterMs ?? backoff, signal);
    }
    const status = last.status === null ? "no HTTP status" : `HTTP ${last.status}`;
    throw new LlmError(`${who(feature, purpose)}: POST ${this.url}: ${status} after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${this.redact(last.detail)}`, {
      feature,
      purpose,
      url: this.url,
      status: last.status,
      attempts,
      ...(last.cause !== undefined ? { cause: last.cause } : {}),
    });
  }

  private async attempt(body: string, signal: AbortSignal | undefined): Promise<Attempt> {
    if (signal?.aborted) throw signal.reason;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (this.apiKey !== null) headers.authorization = `Bearer ${this.apiKey}`;
    let status: number | null = null;
    try {
      const res = await fetch(this.endpoint!, { method: "POST", headers, body, signal: controller.signal });
      status = res.status;
      const text = await res.text();
      if (res.ok) return parseReply(text, status, this.model);
      const detail = errorText(text);
      if (status === 429 || status >= 500) return { kind: "retry", status, detail, retryAfterMs: status === 429 || status === 503 ? retryAfter(res.headers.get("retry-after")) : null };
      if (status === 400 && /logprob/i.test(detail)) return { kind: "no-logprobs", status, detail };
      return { kind: "fatal", status, detail };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timedOut) return { kind: "retry", status, detail: `no complete reply within ${this.timeoutMs} ms (timeout)`, retryAfterMs: null };
      return { kind: "retry", status, detail: `network error: ${networkDetail(err)}`, retryAfterMs: null, cause: err };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Masks the API key wherever a server echoed it back. */
  private redact(text: string): string {
    if (this.apiKey === null || this.apiKey.length < 4) return text;
    return text.split(this.apiKey).join("***");
  }
}

export function llmClient(opts: LlmClientOptions): LlmClient {
  return new LlmClient(opts);
}

function who(feature: string | null, purpose: string | null): string {
  return `feature ${feature ?? "(unnamed)"} (purpose ${purpose ?? "unspecified"})`;
}

function nonEmpty(s: string | undefined): string | undefined {
  return typeof s === "string" && s.trim() !== "" ? s.trim() : undefined;
}

function positiveInt(value: number | undefined, fallback: number, name: string, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) throw new ArgumentError(`llmClient: option "${name}": expected an integer >= ${min}, got ${describeValue(value)}`, { field: name });
  return value;
}

function stripLogprobs(body: string): string {
  const o = JSON.parse(body) as Record<string, unknown>;
  delete o.logprobs;
  delete o.top_logprobs;
  return JSON.stringify(o);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfter(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  const h = header.trim();
  if (/^\d+(\.\d+)?$/.test(h)) return Math.round(Number(h) * 1000);
  const at = Date.parse(h);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function networkDetail(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const code = e?.cause?.code;
  const msg = e?.cause?.message ?? e?.message ?? String(err);
  return code !== undefined ? `${code} (${msg})` : msg;
}

/** The error message of an OpenAI-style error body ({error: {message}}, vLLM's {message}, ...), else its text. */
function errorText(text: string): string {
  let msg: unknown;
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    const e = j.error as Record<string, unknown> | string | undefined;
    msg = typeof e === "string" ? e : typeof e?.message === "string" ? e.message : typeof j.message === "string" ? j.message : text;
  } catch {
    msg = text;
  }
  const s = String(msg).trim() || "(empty body)";
  return s.length > DETAIL_CHARS ? `${s.slice(0, DETAIL_CHARS)}...` : s;
}

/** A 2xx body: the answer, or a "retry" naming what was wrong with it. */
function parseReply(text: string, status: number, requestedModel: string): Attempt {
  const bad = (what: string): Attempt => ({ kind: "retry", status, detail: `malformed reply: ${what}`, retryAfterMs: null });
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return bad(`not JSON: ${describeValue(text)}`);
  }
  if (j === null || typeof j !== "object" || Array.isArray(j)) return bad(`expected a JSON object, got ${describeValue(j)}`);
  const choices = j.choices;
  if (!Array.isArray(choices) || choices.length === 0) return bad(`no choices (got ${describeValue(choices)})`);
  const choice = choices[0] as Record<string, unknown> | null;
  const message = choice?.message as Record<string, unknown> | undefined;
  if (message === null || typeof message !== "object" || typeof message.content !== "string") return bad(`choices[0].message.content is not a string (got ${describeValue(message?.content)})`);
  const finish = choice!.finish_reason;
  let logprobs: TokenLogprob[] | null = null;
  const lp = choice!.logprobs as Record<string, unknown> | null | undefined;
  if (lp !== null && lp !== undefined) {
    if (typeof lp !== "object") return bad(`choices[0].logprobs is ${describeValue(lp)}`);
    if (lp.content !== null && lp.content !== undefined) {
      if (!Array.isArray(lp.content)) return bad(`choices[0].logprobs.content is ${describeValue(lp.content)}`);
      logprobs = [];
      for (const [i, t] of (lp.content as unknown[]).entries()) {
        const e = t as Record<string, unknown> | null;
        if (e === null || typeof e !== "object" || typeof e.token !== "string" || typeof e.logprob !== "number") return bad(`choices[0].logprobs.content[${i}] is ${describeValue(t)}`);
        const tops = Array.isArray(e.top_logprobs) ? (e.top_logprobs as unknown[]) : [];
        const top: { token: string; logprob: number }[] = [];
        for (const a of tops) {
          const x = a as Record<string, unknown> | null;
          if (x === null || typeof x !== "object" || typeof x.token !== "string" || typeof x.logprob !== "number") return bad(`choices[0].logprobs.content[${i}].top_logprobs holds ${describeValue(a)}`);
          top.push({ token: x.token, logprob: x.logprob });
        }
        logprobs.push({ token: e.token, logprob: e.logprob, top_logprobs: top });
      }
    }
  }
  let usage: ChatUsage | null = null;
  const u = j.usage as Record<string, unknown> | null | undefined;
  if (u && typeof u === "object" && isCount(u.prompt_tokens) && isCount(u.completion_tokens)) usage = { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens };
  return {
    kind: "ok",
    answer: {
      content: message.content,
      usage,
      logprobs,
      model: typeof j.model === "string" && j.model !== "" ? j.model : requestedModel,
      finish_reason: typeof finish === "string" ? finish : null,
    },
  };
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}
