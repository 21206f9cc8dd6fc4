// The body of `POST /v1/chat/completions`, checked field by field into plain options. Every problem is a 400 whose
// `param` names the field (`messages[1].content`, `safesail.interventions[0].value`), the way OpenAI names them.
//
// Supported: model, messages (system | developer | user | assistant; content a string or text parts), max_tokens
// (or max_completion_tokens), temperature, top_p, seed, stop, stream, stream_options.include_usage, logprobs,
// top_logprobs, n (1 only), response_format ("text", or "json_object", accepted but not enforced), and the
// extension field `safesail`. Refused with a 400 naming them: tools and function calling, logit_bias, penalties
// other than 0, audio and other modalities. Any other field is ignored (as vLLM does), so clients that send
// `user`, `metadata` or `store` work.
import { describeValue } from "../errors.ts";
import type { ChatMessage } from "../model/tokenizer.ts";
import { badRequest } from "./errors.ts";

/** The extension field's options, before they are checked against the server's SAEs. */
export interface SafesailExtension {
  /** Raw intervention objects (`{feature, method, value}`), checked by resolveInterventions. */
  interventions: unknown[];
  returnFeatures: boolean;
  /** Features per answer token (over all SAE layers), default 5. */
  topFeatures: number;
}

export interface ChatCompletionParams {
  model: string;
  messages: ChatMessage[];
  /** null: up to the model's context. */
  maxTokens: number | null;
  temperature: number;
  topP: number;
  /** null: 0 when greedy, a random seed when sampling. */
  seed: number | null;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
  logprobs: boolean;
  topLogprobs: number;
  safesail: SafesailExtension | null;
}

export const MAX_TOP_LOGPROBS = 20;
export const MAX_TOP_FEATURES = 50;
export const MAX_STOP_STRINGS = 4;
const ROLES = ["system", "developer", "user", "assistant"];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `${typeof v} ${describeValue(v)}`);

function optionalNumber(body: Record<string, unknown>, name: string, range: { min: number; max: number; gt?: boolean }, fallback: number): number {
  const v = body[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) throw badRequest(name, `${name} must be a number, got ${typeName(v)}`, "invalid_type");
  if ((range.gt ? v <= range.min : v < range.min) || v > range.max) throw badRequest(name, `${name} must be in ${range.gt ? "(" : "["}${range.min}, ${range.max}], got ${v}`);
  return v;
}

function optionalInt(body: Record<string, unknown>, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw badRequest(name, `${name} must be an integer, got ${typeName(v)}`, "invalid_type");
  if (v < min || v > max) throw badRequest(name, `${name} must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `in [${min}, ${max}]`}, got ${v}`);
  return v;
}

function optionalBool(o: Record<string, unknown>, name: string, param = name): boolean {
  const v = o[name];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw badRequest(param, `${param} must be a boolean, got ${typeName(v)}`, "invalid_type");
  return v;
}

function messageContent(v: unknown, at: string): string {
  if (typeof v === "string") return v;
  // Content parts: only text parts (this server has no image or audio input).
  if (Array.isArray(v)) {
    return v
      .map((part, j) => {
        if (!isObject(part) || part.type !== "text") throw badRequest(`${at}[${j}]`, `${at}[${j}]: only text content parts ({"type": "text", "text": ...}) are supported, got ${describeValue(part)}`, isObject(part) ? "unsupported_value" : "invalid_type");
        if (typeof part.text !== "string") throw badRequest(`${at}[${j}].text`, `${at}[${j}].text must be a string, got ${typeName(part.text)}`, "invalid_type");
        return part.text;
      })
      .join("");
  }
  throw badRequest(at, `${at} must be a string or a list of text parts, got ${typeName(v)}`, "invalid_type");
}

function parseMessages(v: unknown): ChatMessage[] {
  if (v === undefined) throw badRequest("messages", "messages is required", "missing_required_parameter");
  if (!Array.isArray(v)) throw badRequest("messages", `messages must be a list of {role, content}, got ${typeName(v)}`, "invalid_type");
  if (v.length === 0) throw badRequest("messages", "messages must hold at least one message");
  const out = v.map((m, i): ChatMessage => {
    const at = `messages[${i}]`;
    if (!isObject(m)) throw badRequest(at, `${at} must be an object {role, content}, got ${typeName(m)}`, "invalid_type");
    if (typeof m.role !== "string") throw badRequest(`${at}.role`, `${at}.role must be a string, got ${typeName(m.role)}`, "invalid_type");
    if (!ROLES.includes(m.role)) throw badRequest(`${at}.role`, `${at}.role must be one of ${ROLES.join(", ")}, got ${describeValue(m.role)} (tools and function calls are not supported)`, "unsupported_value");
    if (m.tool_calls !== undefined || m.function_call !== undefined) throw badRequest(`${at}.tool_calls`, `${at}: tool and function calls are not supported`, "unsupported_value");
    // OpenAI's "developer" role is the newer name of "system".
    return { role: m.role === "developer" ? "system" : m.role, content: messageContent(m.content, `${at}.content`) };
  });
  if (out[out.length - 1]!.role === "assistant") throw badRequest(`messages[${out.length - 1}].role`, "the conversation ends with an assistant turn; end it with the user's turn (continuing an assistant message is not supported)", "unsupported_value");
  return out;
}

function parseStop(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== "string")) throw badRequest("stop", `stop must be a string or a list of strings, got ${typeName(v)}`, "invalid_type");
  if (list.length > MAX_STOP_STRINGS) throw badRequest("stop", `stop takes at most ${MAX_STOP_STRINGS} strings, got ${list.length}`);
  const bad = (list as string[]).findIndex((s) => s === "");
  if (bad >= 0) throw badRequest(typeof v === "string" ? "stop" : `stop[${bad}]`, "a stop string must not be empty");
  return list as string[];
}

function parseExtension(v: unknown): SafesailExtension | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw badRequest("safesail", `safesail must be an object {interventions, return_features, top_features}, got ${typeName(v)}`, "invalid_type");
  const known = ["interventions", "return_features", "top_features"];
  const unknown = Object.keys(v).find((k) => !known.includes(k));
  // The extension is ours: a misspelt option is an error, not silently ignored.
  if (unknown !== undefined) throw badRequest(`safesail.${unknown}`, `safesail.${unknown} is not an option (options: ${known.join(", ")})`, "unknown_parameter");
  const interventions = v.interventions ?? [];
  if (!Array.isArray(interventions)) throw badRequest("safesail.interventions", `safesail.interventions must be a list of {feature, method, value}, got ${typeName(interventions)}`, "invalid_type");
  const top = v.top_features ?? 5;
  if (typeof top !== "number" || !Number.isSafeInteger(top)) throw badRequest("safesail.top_features", `safesail.top_features must be an integer, got ${typeName(top)}`, "invalid_type");
  if (top < 1 || top > MAX_TOP_FEATURES) throw badRequest("safesail.top_features", `safesail.top_features must be in [1, ${MAX_TOP_FEATURES}], got ${top}`);
  return { interventions, returnFeatures: optionalBool(v, "return_features", "safesail.return_features"), topFeatures: top };
}

/** Checks a parsed JSON body; throws a 400 ApiError naming the first field at fault. */
export function parseChatRequest(body: unknown): ChatCompletionParams {
  if (!isObject(body)) throw badRequest(null, `the request body must be a JSON object, got ${typeName(body)}`, "invalid_type");
  if (body.model === undefined) throw badRequest("model", "model is required (GET /v1/models lists the served name)", "missing_required_parameter");
  if (typeof body.model !== "string") throw badRequest("model", `model must be a string, got ${typeName(body.model)}`, "invalid_type");
  const messages = parseMessages(body.messages);

  for (const f of ["tools", "tool_choice", "functions", "function_call", "audio", "prediction"]) {
    if (body[f] !== undefined && body[f] !== null) throw badRequest(f, `${f} is not supported by this server`, "unsupported_parameter");
  }
  if (body.logit_bias !== undefined && body.logit_bias !== null && !(isObject(body.logit_bias) && Object.keys(body.logit_bias).length === 0)) {
    throw badRequest("logit_bias", "logit_bias is not supported by this server", "unsupported_parameter");
  }
  for (const f of ["frequency_penalty", "presence_penalty"]) {
    if (optionalNumber(body, f, { min: -2, max: 2 }, 0) !== 0) throw badRequest(f, `${f} is not supported by this server (only 0)`, "unsupported_value");
  }
  if ((optionalInt(body, "n", 1) ?? 1) !== 1) throw badRequest("n", "n must be 1 (this server returns one choice)", "unsupported_value");
  if (body.modalities !== undefined && body.modalities !== null && !(Array.isArray(body.modalities) && body.modalities.every((m) => m === "text"))) {
    throw badRequest("modalities", `modalities: only ["text"] is supported, got ${describeValue(body.modalities)}`, "unsupported_value");
  }
  const rf = body.response_format;
  if (rf !== undefined && rf !== null) {
    if (!isObject(rf)) throw badRequest("response_format", `response_format must be an object {type}, got ${typeName(rf)}`, "invalid_type");
    if (rf.type !== "text" && rf.type !== "json_object") throw badRequest("response_format.type", `response_format.type: only "text" and "json_object" are supported, got ${describeValue(rf.type)}`, "unsupported_value");
  }

  const maxTokens = optionalInt(body, "max_tokens", 1);
  const maxCompletion = optionalInt(body, "max_completion_tokens", 1);
  if (maxTokens !== null && maxCompletion !== null && maxTokens !== maxCompletion) throw badRequest("max_completion_tokens", "give max_tokens or max_completion_tokens, not two different values");

  const stream = optionalBool(body, "stream");
  const so = body.stream_options;
  let includeUsage = false;
  if (so !== undefined && so !== null) {
    if (!stream) throw badRequest("stream_options", "stream_options is only allowed with stream: true");
    if (!isObject(so)) throw badRequest("stream_options", `stream_options must be an object, got ${typeName(so)}`, "invalid_type");
    includeUsage = optionalBool(so, "include_usage", "stream_options.include_usage");
  }

  const logprobs = optionalBool(body, "logprobs");
  const topLogprobs = optionalInt(body, "top_logprobs", 0, MAX_TOP_LOGPROBS);
  if (topLogprobs !== null && !logprobs) throw badRequest("top_logprobs", "top_logprobs needs logprobs: true");

  const seed = optionalInt(body, "seed", Number.MIN_SAFE_INTEGER);
  return {
    model: body.model,
    messages,
    maxTokens: maxTokens ?? maxCompletion,
    temperature: optionalNumber(body, "temperature", { min: 0, max: 2 }, 1),
    topP: optionalNumber(body, "top_p", { min: 0, max: 1, gt: true }, 1),
    seed,
    stop: parseStop(body.stop),
    stream,
    includeUsage,
    logprobs,
    topLogprobs: topLogprobs ?? 0,
    safesail: parseExtension(body.safesail),
  };
}
