// One chat completion on the runtime: the request checked against the model and the SAEs (prepareCompletion), then
// the decoding loop (runCompletion) with the steering hooks, per-token logprobs from the logits, stop strings,
// cancellation, and the answer's top safety features.
//
// The loop is Model.generate's own (its onStep hands over each step's logits for logprobs and lets a completed stop
// string end the answer; its signal stops between steps when a client goes away), so a request answers exactly what
// `steer(model, saes, interventions).generate({messages, maxNewTokens, temperature, topP, seed})` gives in process
// (tests/serve.test.ts checks it).
import { ArgumentError, NonFiniteError, SafesailError } from "../errors.ts";
import type { FeatureDb } from "../db/records.ts";
import { settledText, type GenerateOutput, type HookEdit, type Model } from "../model/runtime.ts";
import { bytesToUnicode } from "../model/byte-level.ts";
import { resolveInterventions, steeringHooks, type Intervention } from "../steer/interventions.ts";
import { buildTable, chatTokens, checkTokenFeatureOptions, encodeDocuments, tokenInfos, type SaeLayer, type TokenRole } from "../steer/token-features.ts";
import { ApiError, badRequest } from "./errors.ts";
import type { ChatCompletionParams } from "./request.ts";

/** What the server serves: one model, optionally its SAEs (steering) and feature database (features). */
export interface ServeContext {
  model: Model;
  /** The name clients put in `model` (and /v1/models lists). */
  name: string;
  /** The SAEs by layer (saeLayers), or null: no steering. */
  layers: SaeLayer[] | null;
  /** The feature database of the SAEs, or null: no `return_features`. */
  db: FeatureDb | null;
  /** Most new tokens of one answer (below the context); null: up to the context. */
  maxTokens: number | null;
}

export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface LogprobEntry extends TopLogprob {
  top_logprobs: TopLogprob[];
}

/** One answer token's top features (the extension's compact per-token read-out). */
export interface AnswerTokenFeatures {
  /** Position in the answer (0 = first generated token). */
  index: number;
  /** The token's decoded piece. */
  token: string;
  features: { feature: string; layer: number; activation: number; normalised: number; explanation: string | null }[];
}

/** A request checked against the model and the SAEs, ready to run. */
export interface PreparedCompletion {
  params: ChatCompletionParams;
  promptIds: number[];
  /** Roles of the prompt tokens (only when features are asked for). */
  roles: TokenRole[] | null;
  maxNewTokens: number;
  seed: number;
  interventions: Intervention[];
  hooks: Record<string, HookEdit> | undefined;
}

export interface CompletionResult {
  text: string;
  ids: number[];
  promptTokens: number;
  finishReason: "stop" | "length";
  logprobs: LogprobEntry[] | null;
  features: AnswerTokenFeatures[] | null;
  interventions: Intervention[];
  seed: number;
}

/** A piece of the answer as it is decided: text (may be "") and the logprobs of the tokens it completes. */
export interface CompletionDelta {
  text: string;
  logprobs: LogprobEntry[];
}

/** Thrown by runCompletion when its signal aborts between steps (the client went away). */
export class CompletionAborted extends Error {
  constructor() {
    super("the completion was cancelled (client disconnected)");
    this.name = "CompletionAborted";
  }
}

/** `safesail: interventions[0].feature` (the steering module's field naming) as the request's `safesail.interventions[0].feature`. */
const asParam = (field: string | undefined): string => (field ? field.replace(/^safesail: /, "safesail.").replace(/^interventions$/, "safesail.interventions") : "safesail.interventions");

/**
 * Checks a request against what the server serves: the model name, the prompt against the context, max_tokens,
 * the interventions against the SAEs, features against the database. Tokenises the prompt. Throws 400 ApiErrors.
 */
export function prepareCompletion(ctx: ServeContext, params: ChatCompletionParams, randomSeed: () => number): PreparedCompletion {
  const { model } = ctx;
  if (params.model !== ctx.name) throw new ApiError(400, `model ${JSON.stringify(params.model)} is not served here; this server serves ${JSON.stringify(ctx.name)}`, { param: "model", code: "model_not_found" });
  const ext = params.safesail;
  const steering = ext !== null && ext.interventions.length > 0;
  if (steering && ctx.layers === null) throw badRequest("safesail.interventions", "steering needs SAEs, and this server was started without --saes", "unsupported_parameter");
  if (ext?.returnFeatures && (ctx.layers === null || ctx.db === null)) {
    throw badRequest("safesail.return_features", ctx.layers === null ? "return_features needs SAEs, and this server was started without --saes" : "return_features needs a feature database, and this server has none (--db)", "unsupported_parameter");
  }
  let interventions: Intervention[] = [];
  let hooks: Record<string, HookEdit> | undefined;
  if (steering) {
    try {
      const resolved = resolveInterventions(ctx.layers!, ext!.interventions, "safesail");
      interventions = resolved.map(({ feature, method, value }) => ({ feature, method, value }));
      hooks = steeringHooks(resolved);
    } catch (err) {
      if (!(err instanceof ArgumentError)) throw err;
      throw badRequest(asParam(err.field), err.message.replace(/^safesail: /, "safesail."), "invalid_intervention");
    }
  }

  if (!model.tokenizer?.hasChatTemplate) throw new ApiError(500, `the served model has no ${model.tokenizer ? "chat template" : "tokenizer"}; chat completions need one`, { code: "model_unusable" });
  let promptIds: number[];
  let roles: TokenRole[] | null = null;
  try {
    if (ext?.returnFeatures) ({ ids: promptIds, roles } = chatTokens(model, params.messages, true, "messages"));
    else promptIds = model.toTokens({ messages: params.messages });
  } catch (err) {
    if (!(err instanceof SafesailError)) throw err;
    throw badRequest("messages", `messages: the chat template cannot render them: ${err.message}`);
  }
  const context = model.config.maxPositionEmbeddings;
  const P = promptIds.length;
  if (P >= context) {
    throw new ApiError(400, `this model's maximum context length is ${context} tokens; the messages are ${P} tokens, which leaves no room for an answer`, { param: "messages", code: "context_length_exceeded" });
  }
  let maxNewTokens = context - P;
  if (params.maxTokens !== null) {
    if (P + params.maxTokens > context) {
      throw new ApiError(400, `this model's maximum context length is ${context} tokens; you requested ${P + params.maxTokens} tokens (${P} in the messages, ${params.maxTokens} in the completion). Reduce max_tokens to at most ${context - P}`, { param: "max_tokens", code: "context_length_exceeded" });
    }
    if (ctx.maxTokens !== null && params.maxTokens > ctx.maxTokens) throw badRequest("max_tokens", `max_tokens must be at most ${ctx.maxTokens} on this server, got ${params.maxTokens}`);
    maxNewTokens = params.maxTokens;
  } else if (ctx.maxTokens !== null) {
    maxNewTokens = Math.min(maxNewTokens, ctx.maxTokens);
  }
  const seed = params.seed ?? (params.temperature > 0 ? randomSeed() : 0);
  return { params, promptIds, roles, maxNewTokens, seed, interventions, hooks };
}

/** Log-softmax of `logits` at `id`, and the `top` most probable tokens (ties: lower id first). */
function logprobEntry(logits: Float32Array, id: number, top: number, piece: (id: number) => string, bytes: (id: number) => number[]): LogprobEntry {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  const best: number[] = [];
  if (top > 0) {
    // Insertion into a short sorted list: top is at most 20, so this is one pass over the vocabulary.
    for (let i = 0; i < logits.length; i++) {
      const v = logits[i]!;
      if (best.length === top && v <= logits[best[top - 1]!]!) continue;
      let j = best.length === top ? top - 1 : best.length;
      while (j > 0 && logits[best[j - 1]!]! < v) {
        best[j] = best[j - 1]!;
        j--;
      }
      best[j] = i;
    }
  }
  const entry = (t: number): TopLogprob => ({ token: piece(t), logprob: logits[t]! - lse, bytes: bytes(t) });
  return { ...entry(id), top_logprobs: best.map(entry) };
}

/** Token id -> its bytes: exact for byte-level BPE vocabularies, else the UTF-8 of the decoded piece. */
function tokenBytes(model: Model): (id: number) => number[] {
  const byteOf = new Map(bytesToUnicode().map((ch, b) => [ch, b]));
  const cache = new Map<number, number[]>();
  const tok = model.tokenizer!;
  return (id) => {
    let out = cache.get(id);
    if (out) return out;
    const raw = tok.idToToken(id);
    const chars = raw === null ? null : [...raw];
    out = chars !== null && chars.length > 0 && chars.every((c) => byteOf.has(c)) && !/^<\|.*\|>$/.test(raw!) ? chars.map((c) => byteOf.get(c)!) : [...Buffer.from(tok.decode([id]), "utf8")];
    cache.set(id, out);
    return out;
  };
}

/** The length of the longest suffix of `text` that is a proper prefix of a stop string (text to hold back). */
function partialStop(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > hold; k--) {
      if (text.endsWith(s.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}

/**
 * Runs a prepared completion. `onDelta` gets the answer as it is decided (the concatenation of its texts is the
 * result's `text`); the signal is checked before every step (CompletionAborted).
 */
export async function runCompletion(ctx: ServeContext, prep: PreparedCompletion, opts: { signal?: AbortSignal; onDelta?: (d: CompletionDelta) => void } = {}): Promise<CompletionResult> {
  const { model } = ctx;
  const { params, promptIds, hooks } = prep;
  const tok = model.tokenizer!;
  const piece = (id: number) => tok.decode([id]);
  const bytes = params.logprobs ? tokenBytes(model) : null;
  const logprobs: LogprobEntry[] | null = params.logprobs ? [] : null;
  let sent = ""; // text handed to onDelta so far
  let pendingLogprobs: LogprobEntry[] = [];
  let stoppedAt: string | null = null; // the final text when a stop string ended the answer
  const emit = (text: string): void => {
    if (text === "" && pendingLogprobs.length === 0) return;
    sent += text;
    const d = { text, logprobs: pendingLogprobs };
    pendingLogprobs = [];
    opts.onDelta?.(d);
  };
  const maxStop = Math.max(0, ...params.stop.map((s) => s.length));

  // Model.generate's loop (prompt ids, KV cache, hooks at every step, seeded sampling); per step, the logprobs, the
  // stop strings and the text decided so far.
  const onStep = ({ id, ids, logits }: { id: number; ids: readonly number[]; logits: Float32Array }): "stop" | void => {
    if (logprobs) {
      const e = logprobEntry(logits, id, params.topLogprobs, piece, bytes!);
      logprobs.push(e);
      pendingLogprobs.push(e);
    }
    // The whole answer decoded again (a byte-level token can be half a character), less a trailing partial one.
    const complete = settledText(tok, ids);
    if (!complete.startsWith(sent)) return; // (a re-decode changed earlier text: wait for it to settle)
    if (maxStop > 0) {
      let at = -1;
      for (const s of params.stop) {
        const i = complete.indexOf(s, Math.max(0, sent.length - maxStop));
        if (i >= 0 && (at < 0 || i < at)) at = i;
      }
      if (at >= 0) {
        stoppedAt = complete.slice(0, Math.max(at, sent.length));
        emit(stoppedAt.slice(sent.length));
        return "stop";
      }
      emit(complete.slice(sent.length, complete.length - partialStop(complete, params.stop)));
    } else {
      emit(complete.slice(sent.length));
    }
  };

  let out: GenerateOutput;
  try {
    out = await model.generate({ ids: promptIds, maxNewTokens: prep.maxNewTokens, temperature: params.temperature, topP: params.topP, seed: prep.seed, hooks, onStep, signal: opts.signal });
  } catch (err) {
    if (opts.signal?.aborted) throw new CompletionAborted();
    if (err instanceof NonFiniteError && prep.interventions.length > 0) {
      throw badRequest("safesail.interventions", "the steered forward pass produced non-finite values (NaN or infinity); use smaller intervention values", "non_finite");
    }
    throw err;
  }
  const { ids, finishReason: finish } = out;
  let text: string;
  if (stoppedAt !== null) text = stoppedAt;
  else {
    const full = tok.decode(ids);
    text = full.startsWith(sent) ? full : sent;
    emit(text.slice(sent.length));
  }
  if (pendingLogprobs.length > 0) emit("");

  let features: AnswerTokenFeatures[] | null = null;
  if (params.safesail?.returnFeatures) features = await answerFeatures(ctx, prep, ids);
  return { text, ids, promptTokens: promptIds.length, finishReason: finish, logprobs, features, interventions: prep.interventions, seed: prep.seed };
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;

/**
 * Per answer token, its top features over every SAE layer (by normalised activation): the table of
 * generateWithFeatures over the prompt and the exact generated ids, read with the steering hooks (what the steered
 * model computed), cut to the answer and to `top_features` per token.
 */
async function answerFeatures(ctx: ServeContext, prep: PreparedCompletion, ids: number[]): Promise<AnswerTokenFeatures[]> {
  const { model } = ctx;
  const layers = ctx.layers!;
  const top = prep.params.safesail!.topFeatures;
  const all = [...prep.promptIds, ...ids];
  const prepared = { ids: all, tokens: tokenInfos(model, all, [...prep.roles!, ...ids.map((): TokenRole => "assistant")]), answerStart: prep.promptIds.length };
  const [codes] = await encodeDocuments(model, layers, [prepared], "ort", prep.hooks);
  const table = buildTable(model, layers, ctx.db!, prepared, codes!, checkTokenFeatureOptions({ top, tracks: 0 }, "return_features"), "return_features");
  const P = prep.promptIds.length;
  const out: AnswerTokenFeatures[] = ids.map((_, i) => ({ index: i, token: prepared.tokens[P + i]!.text, features: [] }));
  const rows = table.rows.filter((r) => r.token >= P).sort((a, b) => a.token - b.token || b.normalised - a.normalised || b.activation - a.activation || a.layer - b.layer);
  for (const r of rows) {
    const t = out[r.token - P]!;
    if (t.features.length < top) t.features.push({ feature: r.feature, layer: r.layer, activation: round(r.activation), normalised: round(r.normalised), explanation: r.explanation });
  }
  return out;
}
