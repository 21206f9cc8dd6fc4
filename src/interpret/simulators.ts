// Simulators: an explanation + text -> predicted activations, the three ways stage 2 scores explanations.
//   llmSimulator(client)   the prompts of ./prompts.ts through an OpenAI-compatible endpoint (or its replay cache).
//                          TLS uses expected values when the server returns logprobs (the probability-weighted mean
//                          of the 0-10 digits, as OpenAI's simulator does); otherwise the integers it wrote.
//   baselineSimulator()    an OFFLINE BASELINE, not an LLM: a token is predicted active (10) when the word it is part of
//                          (prompts.ts wordSpans) matches a content word of the explanation (same word, or one a
//                          prefix of the other, both >= 4 letters).
// Both report usage: the API's, or for the baseline the counted tokens of the request an LLM would have received
// and of the answer it would have written.
import type { ChatClient, ChatUsage, TokenLogprob } from "./types.ts";
import { estimateTokens, normaliseWord, STOPWORDS, BASELINE_SIMULATOR, type TokenCounter } from "./explainers.ts";
import { detectionMessages, parseDetectionAnswer, parseSlsAnswer, parseTlsAnswer, slsMessages, tlsMessages, wordSpans } from "./prompts.ts";
import { expectedValueFromLogprobs } from "./scoring.ts";

export interface Simulated<T> {
  predictions: T;
  usage: ChatUsage;
  cached: boolean;
}

export interface SimulationContext {
  feature: string;
  signal?: AbortSignal;
}

export interface Simulator {
  /** Recorded in the database: "llm:NAME" or "baseline:word-match". */
  readonly name: string;
  readonly kind: "llm" | "baseline";
  /** TLS: a 0-10 prediction for every token of one sequence. */
  tokens(explanation: string, tokens: readonly string[], ctx: SimulationContext): Promise<Simulated<number[]>>;
  /** SLS: active or not for each segment (segment texts in order). */
  segments(explanation: string, segments: readonly string[], ctx: SimulationContext): Promise<Simulated<boolean[]>>;
  /** Detection: active or not for each excerpt. */
  detect(explanation: string, excerpts: readonly string[], ctx: SimulationContext): Promise<Simulated<boolean[]>>;
}

/**
 * Expected 0-10 values from the completion's logprobs: the tokens that are whole numbers 0..10, in order, each
 * replaced by the probability-weighted mean over its alternatives. Null unless exactly `n` such tokens are found
 * (tokenisers that split "10" into "1" "0" fall back to the written integers).
 */
export function expectedActivations(logprobs: readonly TokenLogprob[] | null, n: number): number[] | null {
  if (!logprobs) return null;
  const out: number[] = [];
  for (const lp of logprobs) {
    const t = lp.token.trim();
    if (!/^(?:10|\d)$/.test(t)) continue;
    const alternatives = lp.top_logprobs.length > 0 ? lp.top_logprobs : [{ token: lp.token, logprob: lp.logprob }];
    const ev = expectedValueFromLogprobs(alternatives);
    out.push(ev ?? Number(t));
  }
  return out.length === n ? out : null;
}

export function llmSimulator(client: ChatClient, opts: { logprobs?: boolean } = {}): Simulator {
  const useLogprobs = opts.logprobs ?? true;
  const base = { temperature: 0, response_format: { type: "json_object" as const } };
  return {
    name: `llm:${client.model}`,
    kind: "llm",
    async tokens(explanation, tokens, ctx) {
      const r = await client.chat(
        { ...base, messages: tlsMessages(explanation, tokens), max_tokens: 8 + 4 * tokens.length, ...(useLogprobs ? { logprobs: true, top_logprobs: 5 } : {}) },
        { feature: ctx.feature, purpose: "simulate-tls", signal: ctx.signal },
      );
      const written = parseTlsAnswer(r.content, tokens.length);
      return { predictions: expectedActivations(r.logprobs, tokens.length) ?? written, usage: r.usage, cached: r.cached };
    },
    async segments(explanation, segments, ctx) {
      const r = await client.chat({ ...base, messages: slsMessages(explanation, segments), max_tokens: 8 + 3 * segments.length }, { feature: ctx.feature, purpose: "simulate-sls", signal: ctx.signal });
      return { predictions: parseSlsAnswer(r.content, segments.length), usage: r.usage, cached: r.cached };
    },
    async detect(explanation, excerpts, ctx) {
      const r = await client.chat({ ...base, messages: detectionMessages(explanation, excerpts), max_tokens: 8 + 3 * excerpts.length }, { feature: ctx.feature, purpose: "detect", signal: ctx.signal });
      return { predictions: parseDetectionAnswer(r.content, excerpts.length), usage: r.usage, cached: r.cached };
    },
  };
}

/** Words of an explanation the baseline simulator looks for (content words, normalised). */
export function explanationWords(explanation: string): string[] {
  const words = explanation.split(/[\s,;:.!?()"'“”]+/u).map(normaliseWord).filter((w) => w.length >= 2 && !STOPWORDS.has(w) && !BOILERPLATE.has(w));
  return [...new Set(words)];
}

/** The baseline explainer's own framing words, which say nothing about the feature. */
const BOILERPLATE = new Set(["words", "word", "text", "tokens", "token"]);

const matches = (w: string, words: readonly string[]): boolean =>
  w.length >= 2 && words.some((e) => e === w || (Math.min(e.length, w.length) >= 4 && (e.startsWith(w) || w.startsWith(e))));

export function baselineSimulator(opts: { count?: TokenCounter } = {}): Simulator {
  const count = opts.count ?? estimateTokens;
  const usage = (messages: { content: string }[], answer: unknown): ChatUsage => ({
    prompt_tokens: count(messages.map((m) => m.content).join("\n")),
    completion_tokens: count(JSON.stringify(answer)),
  });
  const fires = (text: string, words: readonly string[]) => text.split(/\s+/u).some((t) => matches(normaliseWord(t), words));
  return {
    name: BASELINE_SIMULATOR,
    kind: "baseline",
    async tokens(explanation, tokens) {
      const words = explanationWords(explanation);
      const predictions = new Array<number>(tokens.length).fill(0);
      for (const span of wordSpans(tokens)) if (matches(normaliseWord(span.text), words)) predictions.fill(10, span.start, span.end);
      return { predictions, usage: usage(tlsMessages(explanation, tokens), { activations: predictions }), cached: false };
    },
    async segments(explanation, segments) {
      const words = explanationWords(explanation);
      const predictions = segments.map((s) => fires(s, words));
      return { predictions, usage: usage(slsMessages(explanation, segments), { active: predictions }), cached: false };
    },
    async detect(explanation, excerpts) {
      const words = explanationWords(explanation);
      const predictions = excerpts.map((s) => fires(s, words));
      return { predictions, usage: usage(detectionMessages(explanation, excerpts), { answers: predictions.map(Number) }), cached: false };
    },
  };
}
