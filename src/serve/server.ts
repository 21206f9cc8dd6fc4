// The OpenAI-compatible HTTP server over the runtime (node:http, no framework):
//
//   const server = await startServer({ model, saes, db, port: 0 });      // 127.0.0.1, a free port
//   llmClient({ model: server.name, baseUrl: `${server.url}/v1` });       // any OpenAI client works
//   await server.close();
//
// Routes: POST /v1/chat/completions (JSON or SSE with `stream: true`), GET /v1/models, GET /v1/models/{id},
// GET /health. Unknown paths are 404, known paths with another method 405 (with Allow); every error has the OpenAI
// body {"error": {"message", "type", "param", "code"}} (./errors.ts).
//
// Security: loopback only unless an API key is set (startServer refuses a non-loopback host without one). With a
// key, every request must carry `Authorization: Bearer KEY` (401 otherwise), compared in constant time (both sides
// hashed, then timingSafeEqual). The key is never logged or echoed: log lines hold method, path, status, timings
// and token counts only, and every error message is passed through a redaction of the key before it is sent or
// logged (a client could put the key in a field that an error quotes).
//
// Concurrency: one completion runs at a time (./queue.ts); up to `maxQueue` more wait in arrival order; beyond that
// the answer is 429 with Retry-After. A client that disconnects leaves the queue if it was waiting, or stops its
// completion at the next decoding step if it was running.
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ArgumentError, SafesailError } from "../errors.ts";
import type { FeatureDb } from "../db/records.ts";
import type { Model } from "../model/runtime.ts";
import type { Sae } from "../sae/sae.ts";
import { STEERING_METHODS } from "../steer/interventions.ts";
import { saeLayers } from "../steer/token-features.ts";
import { CompletionAborted, prepareCompletion, runCompletion, type CompletionResult, type LogprobEntry, type ServeContext } from "./completion.ts";
import { ApiError, badRequest } from "./errors.ts";
import { JobAbortedError, JobQueue, QueueFullError, type QueueStats } from "./queue.ts";
import { parseChatRequest } from "./request.ts";

export interface ServeOptions {
  model: Model;
  /** The model name clients send (default: the model folder's base name). */
  name?: string;
  /** SAEs (one per layer) for steering and features; none: requests with interventions get a 400. */
  saes?: readonly Sae[] | null;
  /** Feature database of the SAEs, for `return_features`. */
  db?: FeatureDb | null;
  /** Default 127.0.0.1. Any other address needs `apiKey`. */
  host?: string;
  /** Default 8000; 0: a free port. */
  port?: number;
  /** When set, every request needs `Authorization: Bearer KEY`. At least 8 characters, no whitespace. */
  apiKey?: string | null;
  /** Requests that may wait while one runs (default 64); more get 429. */
  maxQueue?: number;
  /** Most new tokens of one answer (default: the model's context). */
  maxTokens?: number | null;
  /** Largest request body (default 4 MiB; larger: 413). */
  maxBodyBytes?: number;
  /** One line per request and per problem (default: none). Never receives the key, headers or bodies. */
  log?: ((line: string) => void) | null;
}

export interface RunningServer {
  /** `http://HOST:PORT` (OpenAI clients take `${url}/v1` as their base URL). */
  url: string;
  host: string;
  port: number;
  /** The served model name. */
  name: string;
  stats(): QueueStats & { inFlight: number };
  /** Stops accepting, cancels what is queued or running, closes every connection; resolves when idle. */
  close(): Promise<void>;
}

export const SERVE_DEFAULTS = { host: "127.0.0.1", port: 8000, maxQueue: 64, maxBodyBytes: 4 << 20 } as const;
export const API_KEY_ENV = "SAFESAIL_API_KEY";
const MIN_KEY_LENGTH = 8;

/** Whether a host to bind is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1" || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/** Checks an API key's form; the message never quotes it. */
export function checkApiKey(key: string, source: string): void {
  if (key.length < MIN_KEY_LENGTH) throw new ArgumentError(`${source}: the API key must be at least ${MIN_KEY_LENGTH} characters`, { field: source });
  if (/[\s\x00-\x1f\x7f]/.test(key)) throw new ArgumentError(`${source}: the API key must not contain whitespace or control characters`, { field: source });
}

const ROUTES: Record<string, string[]> = { "/v1/chat/completions": ["POST"], "/v1/models": ["GET"], "/health": ["GET"] };

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const { model } = opts;
  const host = opts.host ?? SERVE_DEFAULTS.host;
  const apiKey = opts.apiKey ?? null;
  if (apiKey !== null) checkApiKey(apiKey, "apiKey");
  if (!isLoopbackHost(host) && apiKey === null) {
    throw new ArgumentError(`host ${host} is not a loopback address: serving beyond this machine needs an API key (--api-key or ${API_KEY_ENV}), which every request must then send as "Authorization: Bearer KEY"`, { field: "host" });
  }
  const port = opts.port ?? SERVE_DEFAULTS.port;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new ArgumentError(`port must be an integer in [0, 65535], got ${port}`, { field: "port" });
  const maxQueue = opts.maxQueue ?? SERVE_DEFAULTS.maxQueue;
  if (!Number.isSafeInteger(maxQueue) || maxQueue < 0) throw new ArgumentError(`maxQueue must be a non-negative integer, got ${maxQueue}`, { field: "maxQueue" });
  const maxBody = opts.maxBodyBytes ?? SERVE_DEFAULTS.maxBodyBytes;
  const maxTokens = opts.maxTokens ?? null;
  if (maxTokens !== null && (!Number.isSafeInteger(maxTokens) || maxTokens < 1)) throw new ArgumentError(`maxTokens must be a positive integer, got ${maxTokens}`, { field: "maxTokens" });
  const name = opts.name ?? model.dir.replace(/\/+$/, "").split("/").pop()!;
  if (!name) throw new ArgumentError("name: the served model name must not be empty", { field: "name" });
  const saes = opts.saes && opts.saes.length > 0 ? opts.saes : null;
  const ctx: ServeContext = { model, name, layers: saes ? saeLayers(model, saes, "serve") : null, db: saes ? (opts.db ?? null) : null, maxTokens };
  const queue = new JobQueue(maxQueue);
  const created = Math.floor(Date.now() / 1000);
  const log = opts.log ?? null;

  const keyHash = apiKey === null ? null : createHash("sha256").update(apiKey).digest();
  const redact = (s: string): string => (apiKey === null ? s : s.split(apiKey).join("[redacted]"));
  const say = (line: string): void => log?.(redact(line));
  const authorised = (header: string | undefined): boolean => {
    if (keyHash === null) return true;
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
    const got = createHash("sha256").update(m ? m[1]! : "").digest();
    return timingSafeEqual(got, keyHash) && m !== null;
  };

  const active = new Set<AbortController>();
  let shuttingDown = false;

  const modelCard = () => ({
    id: name,
    object: "model",
    created,
    owned_by: "safesail",
    max_model_len: model.config.maxPositionEmbeddings,
    safesail: { sae_layers: ctx.layers?.map((l) => l.layer) ?? [], steering_methods: ctx.layers ? STEERING_METHODS : [], return_features: ctx.db !== null },
  });

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  };

  /** The ApiError for anything thrown while handling a request (unexpected ones become a 500, logged). */
  const toApiError = (err: unknown, where: string): ApiError => {
    if (err instanceof ApiError) return err;
    if (err instanceof QueueFullError) return new ApiError(429, `${err.message} (this server runs one completion at a time and queues at most ${maxQueue})`, { code: "rate_limit_exceeded", headers: { "retry-after": String(err.retryAfterS) } });
    if (err instanceof ArgumentError) return badRequest(err.field ?? null, err.message);
    say(`error in ${where}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return new ApiError(500, `internal error: ${err instanceof SafesailError ? err.message : "the server failed to answer (see its log)"}`, { code: "internal_error" });
  };

  const sendError = (res: ServerResponse, e: ApiError): void => {
    const body = e.body();
    body.error.message = redact(body.error.message);
    if (body.error.param !== null) body.error.param = redact(body.error.param);
    sendJson(res, e.status, body, { ...e.headers, ...(e.status === 401 ? { "www-authenticate": "Bearer" } : {}) });
  };

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers["content-length"]);
      if (Number.isFinite(declared) && declared > maxBody) return reject(new ApiError(413, `the request body is ${declared} bytes; the limit is ${maxBody}`, { code: "request_too_large" }));
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > maxBody) {
          reject(new ApiError(413, `the request body is over the limit of ${maxBody} bytes`, { code: "request_too_large" }));
          req.pause();
          return;
        }
        chunks.push(c);
      });
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      req.on("error", reject);
    });

  const completionId = () => `chatcmpl-${randomBytes(12).toString("hex")}`;
  const usage = (r: CompletionResult) => ({ prompt_tokens: r.promptTokens, completion_tokens: r.ids.length, total_tokens: r.promptTokens + r.ids.length });
  const extension = (r: CompletionResult, wanted: boolean) => (wanted ? { safesail: { interventions: r.interventions, seed: r.seed, ...(r.features ? { features: r.features } : {}) } } : {});
  const logprobsBody = (entries: LogprobEntry[] | null) => (entries === null ? null : { content: entries, refusal: null });

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const text = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new ApiError(400, `the request body is not valid JSON: ${(err as Error).message}`, { code: "invalid_json" });
    }
    const params = parseChatRequest(body);
    const prep = prepareCompletion(ctx, params, () => randomInt(0, 2 ** 31));
    const controller = new AbortController();
    active.add(controller);
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    if (req.socket.destroyed) controller.abort(); // gone before the listener was in place
    const id = completionId();
    const now = Math.floor(Date.now() / 1000);
    const head = { id, created: now, model: name, system_fingerprint: null };
    const wantExt = params.safesail !== null;
    try {
      if (!params.stream) {
        const r = await queue.submit((signal) => runCompletion(ctx, prep, { signal }), controller.signal);
        sendJson(res, 200, {
          ...head,
          object: "chat.completion",
          choices: [{ index: 0, message: { role: "assistant", content: r.text, refusal: null }, logprobs: logprobsBody(r.logprobs), finish_reason: r.finishReason }],
          usage: usage(r),
          ...extension(r, wantExt),
        });
        return `prompt ${r.promptTokens} completion ${r.ids.length} ${r.finishReason}`;
      }
      // Streaming: the 200 and the SSE headers go out with the first piece of the answer, so a full queue can still
      // answer 429, and a request that fails at its first step (a steered forward gone non-finite) a 400.
      const chunk = (delta: Record<string, unknown>, logprobs: LogprobEntry[] | null, finish: string | null) => ({ ...head, object: "chat.completion.chunk", choices: [{ index: 0, delta, logprobs: logprobsBody(logprobs), finish_reason: finish }] });
      const send = (c: unknown): void => {
        if (res.destroyed || controller.signal.aborted) return;
        if (!res.headersSent) {
          res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
          res.write(`data: ${JSON.stringify(chunk({ role: "assistant", content: "" }, null, null))}\n\n`);
        }
        res.write(`data: ${JSON.stringify(c)}\n\n`);
      };
      try {
        const r = await queue.submit((signal) => runCompletion(ctx, prep, { signal, onDelta: (d) => send(chunk({ content: d.text }, params.logprobs ? d.logprobs : null, null)) }), controller.signal);
        send({ ...chunk({}, null, r.finishReason), ...extension(r, wantExt) });
        if (params.includeUsage) send({ ...head, object: "chat.completion.chunk", choices: [], usage: usage(r) });
        if (!res.destroyed) res.end("data: [DONE]\n\n");
        return `prompt ${r.promptTokens} completion ${r.ids.length} ${r.finishReason} (stream)`;
      } catch (err) {
        if (!res.headersSent) throw err;
        // Mid-stream: an error event in OpenAI's shape, then the end of the stream.
        if (err instanceof CompletionAborted) throw err;
        const e = toApiError(err, "chat stream");
        const b = e.body();
        b.error.message = redact(b.error.message);
        send(b);
        if (!res.destroyed) res.end("data: [DONE]\n\n");
        return `stream ended by error ${e.status}: ${b.error.message}`;
      }
    } finally {
      active.delete(controller);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = req.method ?? "GET";
    let path = "/";
    try {
      path = new URL(req.url ?? "/", "http://localhost").pathname;
    } catch {
      /* a malformed target: 404 below */
    }
    let note = "";
    res.on("error", () => {});
    try {
      if (!authorised(req.headers.authorization)) throw new ApiError(401, 'missing or incorrect API key: send "Authorization: Bearer KEY" with the key this server was started with', { code: "invalid_api_key" });
      const route = path.startsWith("/v1/models/") ? "/v1/models/{id}" : path;
      const allowed = route === "/v1/models/{id}" ? ["GET"] : ROUTES[route];
      if (!allowed) throw new ApiError(404, `no route ${path}; this server has POST /v1/chat/completions, GET /v1/models, GET /health`, { code: "not_found" });
      if (!allowed.includes(method)) throw new ApiError(405, `${method} is not allowed on ${path} (allowed: ${allowed.join(", ")})`, { code: "method_not_allowed", headers: { allow: allowed.join(", ") } });
      if (route === "/v1/chat/completions") note = await chat(req, res);
      else if (route === "/v1/models") sendJson(res, 200, { object: "list", data: [modelCard()] });
      else if (route === "/v1/models/{id}") {
        const id = decodeURIComponent(path.slice("/v1/models/".length));
        if (id !== name) throw new ApiError(404, `model ${JSON.stringify(id)} is not served here; this server serves ${JSON.stringify(name)}`, { param: "model", code: "model_not_found" });
        sendJson(res, 200, modelCard());
      } else {
        const s = queue.stats();
        sendJson(res, 200, { status: "ok", model: name, running: s.running, waiting: s.waiting, max_queue: s.maxWaiting });
      }
    } catch (err) {
      if ((err instanceof JobAbortedError || err instanceof CompletionAborted) && shuttingDown) {
        sendError(res, new ApiError(503, "the server is shutting down", { code: "shutting_down" }));
        note = "shutting down";
      } else if (err instanceof JobAbortedError || err instanceof CompletionAborted) note = "client disconnected";
      else {
        const e = toApiError(err, `${method} ${path}`);
        sendError(res, e);
        note = `${e.code ?? e.type}`;
        if (e.status === 413) res.once("finish", () => req.destroy());
      }
    }
    const line = () => say(`${method} ${path} ${res.headersSent ? res.statusCode : "-"} ${(performance.now() - started).toFixed(0)} ms${note ? ` ${note}` : ""}`);
    if (res.closed) line();
    else res.once("close", line);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      say(`unhandled: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) sendError(res, new ApiError(500, "internal error", { code: "internal_error" }));
      else res.destroy();
    });
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    name,
    stats: () => ({ ...queue.stats(), inFlight: active.size }),
    close() {
      closing ??= (async () => {
        shuttingDown = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of active) c.abort();
        await queue.drain();
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
