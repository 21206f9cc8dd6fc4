// The replay cache: every answer an LLM server gave, keyed by the exact request body, so a run can be repeated
// without a server (offline, in CI, by a reader of a paper) and give the same explanations and scores.
//
// File format: JSON lines, one answer per line:
//   {"key": "<sha256 hex of the request body>", "request": {...the body as sent...}, "response": {"content", "usage",
//    "logprobs", "model", "finish_reason"}}
// `usage` is null when the server reported none (the client then estimates it again on replay, and says so).
// The request body never holds the API key: the key travels in the Authorization header only.
//
// Why append, not temp file + rename like the project's other writes: the cache only ever grows, by one answer at
// a time, and rewriting a file of 10,000 answers for each new one would be quadratic. An append of one complete line
// (one `appendFile` call, serialised by a mutex so concurrent puts never interleave) leaves every earlier line
// intact; a crash mid-write can only leave a partial *last* line. So, on open, a last line that does not parse is
// dropped with a warning (and cut off before the next append), while a bad line anywhere else is real corruption:
// a FormatError naming file:line. When a key occurs twice, the later line wins.
//
// One process should append to a given file at a time; two ReplayCache objects on one file in one process are
// safe for appends (each line is one O_APPEND write) but do not see each other's new entries.
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { ArgumentError, FormatError, describeValue } from "../errors.ts";
import type { ChatUsage, TokenLogprob } from "./types.ts";

/** A recorded answer: what ChatResult holds, less `cached`; `usage` null when the server sent none. */
export interface CachedAnswer {
  content: string;
  usage: ChatUsage | null;
  logprobs: TokenLogprob[] | null;
  model: string;
  finish_reason: string | null;
}

export interface ReplayCacheOptions {
  /** Where warnings go (a dropped partial last line); default console.warn. They are also kept in `warnings`. */
  warn?: (message: string) => void;
}

/** sha256 (hex) of the exact request body string: the cache key. */
export function requestKey(body: string): string {
  return createHash("sha256").update(body, "utf8").digest("hex");
}

export class ReplayCache {
  readonly file: string;
  /** Warnings from opening the file (a dropped partial last line). */
  readonly warnings: string[];
  private readonly answers: Map<string, CachedAnswer>;
  /** The tail of the mutex: every put chains on it, so appends run one after another. */
  private queue: Promise<void> = Promise.resolve();
  /** Byte length to cut the file back to before the next append (a partial last line was found), else null. */
  private truncateTo: number | null;
  /** The file's last line is complete but lacks its newline: write one before the next line. */
  private needsNewline: boolean;
  /** The file's folder is known to exist (made once, not before every append). */
  private dirReady = false;

  /** Use openReplayCache. */
  constructor(file: string, answers: Map<string, CachedAnswer>, warnings: string[], truncateTo: number | null, needsNewline: boolean) {
    this.file = file;
    this.answers = answers;
    this.warnings = warnings;
    this.truncateTo = truncateTo;
    this.needsNewline = needsNewline;
  }

  /** Number of distinct requests with a recorded answer. */
  get size(): number {
    return this.answers.size;
  }

  /** The recorded answer for this exact body, if any. */
  get(body: string): CachedAnswer | undefined {
    return this.answers.get(requestKey(body));
  }

  /** Records an answer: appends one line (after every earlier put has finished) and then indexes it. */
  put(body: string, answer: CachedAnswer): Promise<void> {
    let request: unknown;
    try {
      request = JSON.parse(body);
    } catch (err) {
      return Promise.reject(new ArgumentError(`replay cache ${this.file}: the request body to record is not JSON (${(err as Error).message})`, { field: "body" }));
    }
    const key = requestKey(body);
    const response: CachedAnswer = {
      content: answer.content,
      usage: answer.usage === null ? null : { prompt_tokens: answer.usage.prompt_tokens, completion_tokens: answer.usage.completion_tokens },
      logprobs: answer.logprobs,
      model: answer.model,
      finish_reason: answer.finish_reason,
    };
    const line = JSON.stringify({ key, request, response }) + "\n";
    const run = async (): Promise<void> => {
      if (!this.dirReady) {
        await fsp.mkdir(path.dirname(this.file), { recursive: true });
        this.dirReady = true;
      }
      if (this.truncateTo !== null) {
        await fsp.truncate(this.file, this.truncateTo);
        this.truncateTo = null;
      }
      await fsp.appendFile(this.file, this.needsNewline ? "\n" + line : line, "utf8");
      this.needsNewline = false;
      this.answers.set(key, response);
    };
    const done = this.queue.then(run);
    // The next put waits for this one whether it succeeded or not; this put's caller sees its own error.
    this.queue = done.catch(() => undefined);
    return done;
  }

  /** Resolves when every put so far has been written (or has failed). */
  flush(): Promise<void> {
    return this.queue;
  }
}

/**
 * Opens (or prepares to create) a replay cache file. A missing file is an empty cache; the file and its folder are
 * created by the first put. See the header for how partial and corrupt lines are treated.
 */
export async function openReplayCache(file: string, options: ReplayCacheOptions = {}): Promise<ReplayCache> {
  if (typeof file !== "string" || file === "") throw new ArgumentError(`replay cache: expected a file path, got ${describeValue(file)}`, { field: "cache" });
  const warn = options.warn ?? ((m: string) => console.warn(m));
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return new ReplayCache(file, new Map(), [], null, false);
    throw err;
  }
  const answers = new Map<string, CachedAnswer>();
  const warnings: string[] = [];
  let truncateTo: number | null = null;
  let needsNewline = false;
  let lineNo = 0;
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    const end = nl < 0 ? buf.length : nl;
    const text = buf.subarray(pos, end).toString("utf8").replace(/\r$/, "");
    lineNo++;
    const lineStart = pos;
    pos = end + 1;
    if (text.trim() === "") continue;
    let record: { key: string; response: CachedAnswer };
    try {
      record = parseLine(text, file, lineNo);
    } catch (err) {
      // Only an unterminated last line can be the remains of an interrupted append.
      if (nl < 0 && err instanceof FormatError) {
        const message = `${file}:${lineNo}: dropped a partial last line (${end - lineStart} bytes; an interrupted write?); it is cut off before the next answer is appended`;
        warnings.push(message);
        warn(message);
        truncateTo = lineStart;
        break;
      }
      throw err;
    }
    answers.set(record.key, record.response);
    if (nl < 0) needsNewline = true;
  }
  return new ReplayCache(file, answers, warnings, truncateTo, needsNewline);
}

function parseLine(text: string, file: string, line: number): { key: string; response: CachedAnswer } {
  const fail = (field: string, problem: string): never => {
    throw new FormatError(`${file}:${line}: ${field ? `field "${field}": ` : ""}${problem}`, { file, ...(field ? { field } : {}) });
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail("", `not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return fail("", `expected a JSON object, got ${describeValue(value)}`);
  const rec = value as Record<string, unknown>;
  for (const k of Object.keys(rec)) if (k !== "key" && k !== "request" && k !== "response") fail(k, "unknown field");
  const key = rec.key;
  if (typeof key !== "string" || !/^[0-9a-f]{64}$/.test(key)) fail("key", `expected a sha256 hex string, got ${describeValue(key)}`);
  const request = rec.request;
  if (request === null || typeof request !== "object" || Array.isArray(request)) fail("request", `expected the request body as an object, got ${describeValue(request)}`);
  // The key is derived from the request, so a mismatch means the line was edited (it could never be hit again).
  if (requestKey(JSON.stringify(request)) !== key) fail("key", "does not match the request (sha256 of its JSON); was the line edited?");
  const r = rec.response;
  if (r === null || typeof r !== "object" || Array.isArray(r)) return fail("response", `expected an object, got ${describeValue(r)}`);
  const res = r as Record<string, unknown>;
  if (typeof res.content !== "string") fail("response.content", `expected a string, got ${describeValue(res.content)}`);
  if (typeof res.model !== "string") fail("response.model", `expected a string, got ${describeValue(res.model)}`);
  if (res.finish_reason !== null && typeof res.finish_reason !== "string") fail("response.finish_reason", `expected a string or null, got ${describeValue(res.finish_reason)}`);
  let usage: ChatUsage | null = null;
  if (res.usage !== null) {
    const u = res.usage as Record<string, unknown> | undefined;
    if (u === undefined || typeof u !== "object" || Array.isArray(u)) return fail("response.usage", `expected an object or null, got ${describeValue(res.usage)}`);
    for (const f of ["prompt_tokens", "completion_tokens"] as const) {
      const n = u[f];
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0) fail(`response.usage.${f}`, `expected a non-negative integer, got ${describeValue(n)}`);
    }
    usage = { prompt_tokens: u.prompt_tokens as number, completion_tokens: u.completion_tokens as number };
  }
  let logprobs: TokenLogprob[] | null = null;
  if (res.logprobs !== null) {
    if (!Array.isArray(res.logprobs)) return fail("response.logprobs", `expected an array or null, got ${describeValue(res.logprobs)}`);
    res.logprobs.forEach((t: unknown, i: number) => {
      const e = t as Record<string, unknown> | null;
      if (e === null || typeof e !== "object" || typeof e.token !== "string" || typeof e.logprob !== "number" || !Array.isArray(e.top_logprobs)) {
        fail(`response.logprobs[${i}]`, `expected {token, logprob, top_logprobs}, got ${describeValue(t)}`);
      }
    });
    logprobs = res.logprobs as TokenLogprob[];
  }
  return {
    key: key as string,
    response: { content: res.content as string, usage, logprobs, model: res.model as string, finish_reason: res.finish_reason as string | null },
  };
}
