// A real OpenAI-compatible server on loopback for tests: `POST /v1/chat/completions` and `GET /v1/models` on
// 127.0.0.1 (port chosen by the OS), answering from a script of behaviours, and recording every request it gets.
//
//   const server = await startOpenAiServer([{ status: 500 }, { reply: "ok", usage: { prompt_tokens: 3, completion_tokens: 1 } }]);
//   const client = llmClient({ model: "m", baseUrl: server.url });   // server.url is http://127.0.0.1:PORT/v1
//   ...
//   server.requests[0].headers.authorization; server.requests[1].body.messages; server.maxInFlight
//   await server.close();
//
// The script is either a queue (an array: the n-th chat request gets the n-th behaviour; past its end the server
// answers 500 "script exhausted", so a test that sends more requests than it planned sees it) or a function
// `(body, index, request) => Behaviour` (sync or async), e.g. one that reads the prompt and answers an explain or
// simulate request. `index` counts chat requests from 0, retries included.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ChatUsage, TokenLogprob } from "../../src/interpret/types.ts";

/** What the server does with one chat request. `delayMs` (any behaviour) waits that long before acting. */
export type Behaviour =
  /** A well-formed reply. `usage` null: the reply has no usage field; absent: fixed counts (see defaultUsage). */
  | { reply: string; usage?: ChatUsage | null; logprobs?: TokenLogprob[] | null; model?: string; finish_reason?: string | null; delayMs?: number }
  /** 200 with this raw text as the body (not JSON, or JSON of the wrong shape). */
  | { malformed: string; delayMs?: number }
  /** 200 with this value as the JSON body (e.g. a reply without choices). */
  | { json: unknown; delayMs?: number }
  /** An error status with an OpenAI-style error body; `retryAfter` (seconds, or an HTTP date) as the Retry-After header. */
  | { status: number; error?: string; retryAfter?: number | string; delayMs?: number }
  /** Destroy the connection once the request is read, without an answer. */
  | { drop: true; delayMs?: number }
  /** Only slow: wait, then a well-formed reply "(delayed)" (used beyond a client's timeout). */
  | { delayMs: number };

export type Script = Behaviour[] | ((body: any, index: number, request: RecordedRequest) => Behaviour | Promise<Behaviour>);

export interface RecordedRequest {
  method: string;
  /** Path with query, e.g. "/v1/chat/completions". */
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as received. */
  raw: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: any;
  /** Chat request index (retries included); -1 for other paths. */
  index: number;
}

export interface OpenAiServer {
  /** Base URL for the client: http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  /** Every request received, in arrival order (chat and others). */
  requests: RecordedRequest[];
  /** Chat requests being handled right now, and the most there ever were at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Stops listening and cuts every open connection (keep-alive ones included). */
  close(): Promise<void>;
}

export interface OpenAiServerOptions {
  /** Model name the server reports (default "test-model"). */
  model?: string;
  /** Keep every request in `requests` (default true; benchmarks turn it off so memory stays flat). */
  record?: boolean;
}

/** Fixed usage for replies that do not give one: derived from the body so different prompts differ. */
export function defaultUsage(raw: string, reply: string): ChatUsage {
  return { prompt_tokens: 10 + (raw.length % 97), completion_tokens: 1 + reply.length };
}

export async function startOpenAiServer(script: Script, options: OpenAiServerOptions = {}): Promise<OpenAiServer> {
  const model = options.model ?? "test-model";
  const requests: RecordedRequest[] = [];
  let chatIndex = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  const next = async (body: any, index: number, rec: RecordedRequest): Promise<Behaviour> => {
    if (typeof script === "function") return script(body, index, rec);
    return script[index] ?? { status: 500, error: `openai-server: script exhausted (request ${index}, ${script.length} behaviours)` };
  };

  const send = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void => {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const handleChat = async (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): Promise<void> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let counted = true;
    const done = (): void => {
      if (counted) inFlight--;
      counted = false;
    };
    res.on("close", done);
    try {
      const b = await next(rec.body, rec.index, rec);
      if (b.delayMs !== undefined) await new Promise((r) => setTimeout(r, b.delayMs));
      // The client may have given up while we waited (its timeout): nothing left to answer.
      if (res.destroyed || req.socket.destroyed) return;
      if ("drop" in b) {
        req.socket.destroy();
        return;
      }
      if ("malformed" in b) return send(res, 200, b.malformed);
      if ("json" in b) return send(res, 200, b.json);
      if ("status" in b) {
        const headers: Record<string, string> = {};
        if (b.retryAfter !== undefined) headers["retry-after"] = String(b.retryAfter);
        return send(res, b.status, { error: { message: b.error ?? `HTTP ${b.status} from the test server`, type: "test_error", code: b.status } }, headers);
      }
      const reply = "reply" in b ? b.reply : "(delayed)";
      const choice: Record<string, unknown> = { index: 0, message: { role: "assistant", content: reply }, finish_reason: "reply" in b && b.finish_reason !== undefined ? b.finish_reason : "stop" };
      if ("reply" in b && b.logprobs) choice.logprobs = { content: b.logprobs.map((t) => ({ ...t, bytes: [...Buffer.from(t.token)] })) };
      else choice.logprobs = null;
      const out: Record<string, unknown> = { id: `chatcmpl-${rec.index}`, object: "chat.completion", created: 1_700_000_000, model: ("reply" in b && b.model) || model, choices: [choice] };
      const usage = "reply" in b && b.usage !== undefined ? b.usage : defaultUsage(rec.raw, reply);
      if (usage !== null) out.usage = { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens };
      send(res, 200, out);
    } catch (err) {
      if (!res.headersSent && !res.destroyed) send(res, 500, { error: { message: `openai-server: script threw: ${(err as Error).message}` } });
    } finally {
      if (res.writableEnded || res.destroyed) done();
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: any;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const url = req.url ?? "/";
      const isChat = req.method === "POST" && url.split("?")[0] === "/v1/chat/completions";
      const rec: RecordedRequest = { method: req.method ?? "", path: url, headers: req.headers, raw, body, index: isChat ? chatIndex++ : -1 };
      if (options.record !== false) requests.push(rec);
      if (isChat) {
        void handleChat(req, res, rec);
      } else if (req.method === "GET" && url.split("?")[0] === "/v1/models") {
        send(res, 200, { object: "list", data: [{ id: model, object: "model", created: 1_700_000_000, owned_by: "test" }] });
      } else {
        send(res, 404, { error: { message: `openai-server: no route ${req.method} ${url}` } });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
