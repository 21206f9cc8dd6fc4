// The prompts of stage 2 and the parsers of their answers. One place for the words an LLM sees, so the LLM path and
// the offline baselines build the same requests (the baselines count the tokens of the request they stand in for,
// which keeps their cost figures comparable with an LLM's).
//
//   explain:   top-activating and quantile windows, activating tokens marked <<token>> with their activation on a
//              0-10 scale, plus the decoder direction's top logits  ->  {"explanation": "..."}
//   TLS:       the explanation and one test window as numbered tokens  ->  {"activations": [0-10 per token]}
//              (OpenAI's "all at once" simulation: one request per sequence, every token predicted together)
//   SLS:       the explanation and one test window cut into n segments  ->  {"active": [true|false per segment]}
//              (Safe-SAIL's segment-level simulation: n booleans instead of one number per token, hence cheaper)
//   detection: the explanation and all test windows, shuffled  ->  {"answers": [0|1 per window]}
//
// Chat special tokens (ActivationExample.special) are left out of every prompt and of the scoring, as the Safe-SAIL
// demo masks them: they are template, not text.
import { FormatError } from "../errors.ts";
import type { ActivationExample, ChatMessage, FeatureExamples } from "./types.ts";

/** The safety domains named in the explainer's instructions (Safe-SAIL's four). */
const DOMAINS_TEXT = "pornography, politics, violence and terror";

/** Tokens of a window that prompts show (special tokens dropped), with their raw activations. */
export function visibleTokens(ex: ActivationExample): { tokens: string[]; acts: number[] } {
  const tokens: string[] = [];
  const acts: number[] = [];
  ex.tokens.forEach((t, i) => {
    if (ex.special?.[i]) return;
    tokens.push(t);
    acts.push(ex.acts[i] ?? 0);
  });
  return { tokens, acts };
}

/** A word of a window: the tokens `[start, end)` it is made of, joined. */
export interface WordSpan {
  text: string;
  start: number;
  end: number;
}

const PUNCTUATION_ONLY = /^[\p{P}\p{S}\s]+$/u;

/**
 * The words of a token sequence. BPE pieces carry their leading space (" election") and continuation pieces have none
 * ("ist" in "assist"), so a word starts at a piece that starts with whitespace or follows one that ends with it;
 * punctuation pieces stand alone. The offline baselines compare words, not pieces, so a fragment such as "ist" is
 * never mistaken for what a feature detects.
 */
export function wordSpans(tokens: readonly string[]): WordSpan[] {
  const spans: WordSpan[] = [];
  tokens.forEach((t, i) => {
    const prev = spans[spans.length - 1];
    const startsWord = !prev || /^\s/u.test(t) || /\s$/u.test(tokens[i - 1]!) || PUNCTUATION_ONLY.test(t) || PUNCTUATION_ONLY.test(tokens[i - 1]!);
    if (startsWord) spans.push({ text: t, start: i, end: i + 1 });
    else {
      prev.text += t;
      prev.end = i + 1;
    }
  });
  return spans;
}

/** An activation on the prompts' 0-10 scale: 10 at the feature's normalising quantile and above. */
export const activationLevel = (a: number, normaliser: number): number => (normaliser > 0 ? Math.min(10, Math.max(0, Math.round((10 * Math.max(0, a)) / normaliser))) : 0);

/** One window as text with activating tokens marked `<<token>>(level)`. Tokens are shown exactly as decoded. */
export function markedWindow(ex: ActivationExample, normaliser: number): string {
  const { tokens, acts } = visibleTokens(ex);
  let out = "";
  tokens.forEach((t, i) => {
    const level = activationLevel(acts[i]!, normaliser);
    out += level > 0 ? `<<${t}>>(${level})` : t;
  });
  return out.replace(/\s+/g, " ").trim();
}

export const EXPLAIN_SYSTEM = [
  "You are studying the features of a sparse autoencoder trained on a chat model's internal activations.",
  "Each feature responds to a particular pattern in text. You will see text excerpts in which the feature is active:",
  "the tokens where it fires are marked <<like this>>(n), with n its activation from 1 to 10.",
  `Safety-relevant features concern ${DOMAINS_TEXT}; say so when the feature concerns one of them.`,
  "Explain in one short phrase (at most 15 words) what the feature detects.",
  'Answer with a JSON object: {"explanation": "..."}',
].join("\n");

export function explainMessages(fe: FeatureExamples, opts: { maxExamples?: number } = {}): ChatMessage[] {
  const max = opts.maxExamples ?? 30;
  const windows = [...fe.train.top, ...fe.train.quantiles.flat()].slice(0, max);
  const lines = windows.map((ex, i) => `Example ${i + 1}: ${markedWindow(ex, fe.normalisation.value)}`);
  const promoted = fe.logits.top.map((l) => JSON.stringify(l.token)).join(", ");
  if (promoted) lines.push("", `Tokens the feature's decoder direction promotes most: ${promoted}`);
  return [
    { role: "system", content: EXPLAIN_SYSTEM },
    { role: "user", content: lines.join("\n") },
  ];
}

const SIMULATE_INTRO = (explanation: string) => `A feature of a language model is explained as: ${JSON.stringify(explanation)}`;

export const TLS_SYSTEM = [
  "You predict how strongly a feature of a language model fires on each token of a text, from the feature's explanation.",
  "Activations go from 0 (not active) to 10 (maximally active); most tokens are 0.",
  'Answer with a JSON object {"activations": [...]} holding one integer per token, in order.',
].join("\n");

export function tlsMessages(explanation: string, tokens: readonly string[]): ChatMessage[] {
  const rows = tokens.map((t, i) => `${i + 1}\t${JSON.stringify(t)}`);
  return [
    { role: "system", content: TLS_SYSTEM },
    { role: "user", content: `${SIMULATE_INTRO(explanation)}\nTokens (${tokens.length}), one per line as number<TAB>token:\n${rows.join("\n")}` },
  ];
}

export const SLS_SYSTEM = [
  "You predict whether a feature of a language model is active in each segment of a text, from the feature's explanation.",
  'Answer with a JSON object {"active": [...]} holding one boolean per segment, in order.',
].join("\n");

export function slsMessages(explanation: string, segments: readonly string[]): ChatMessage[] {
  const rows = segments.map((s, i) => `Segment ${i + 1}: ${JSON.stringify(s)}`);
  return [
    { role: "system", content: SLS_SYSTEM },
    { role: "user", content: `${SIMULATE_INTRO(explanation)}\nSegments (${segments.length}):\n${rows.join("\n")}` },
  ];
}

export const DETECTION_SYSTEM = [
  "You decide, from a feature's explanation, in which text excerpts the feature of a language model is active.",
  'Answer with a JSON object {"answers": [...]} holding 1 (active) or 0 (not active) per excerpt, in order.',
].join("\n");

export function detectionMessages(explanation: string, excerpts: readonly string[]): ChatMessage[] {
  const rows = excerpts.map((s, i) => `Excerpt ${i + 1}: ${JSON.stringify(s)}`);
  return [
    { role: "system", content: DETECTION_SYSTEM },
    { role: "user", content: `${SIMULATE_INTRO(explanation)}\nExcerpts (${excerpts.length}):\n${rows.join("\n")}` },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Answers. Servers in JSON mode return a bare object; others sometimes wrap it in a ```json fence or add a sentence,
// so the first balanced {...} is taken. Anything else is a FormatError whose message quotes the start of the reply.

export function extractJsonObject(content: string, what: string): Record<string, unknown> {
  const start = content.indexOf("{");
  if (start >= 0) {
    let depth = 0;
    let inString = false;
    for (let i = start; i < content.length; i++) {
      const c = content[i];
      if (inString) {
        if (c === "\\") i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "{") depth++;
      else if (c === "}" && --depth === 0) {
        try {
          const v = JSON.parse(content.slice(start, i + 1));
          if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
        } catch {
          // falls through to the error below
        }
        break;
      }
    }
  }
  throw new FormatError(`${what}: the reply is not a JSON object: ${JSON.stringify(content.slice(0, 120))}`);
}

export function parseExplanation(content: string): string {
  const v = extractJsonObject(content, "explanation");
  const e = v.explanation;
  if (typeof e !== "string" || e.trim() === "") throw new FormatError(`explanation: the reply has no "explanation" string: ${JSON.stringify(content.slice(0, 120))}`);
  return e.trim();
}

function listField(content: string, field: string, n: number, what: string): unknown[] {
  const v = extractJsonObject(content, what);
  const xs = v[field];
  if (!Array.isArray(xs)) throw new FormatError(`${what}: the reply has no "${field}" list: ${JSON.stringify(content.slice(0, 120))}`);
  if (xs.length !== n) throw new FormatError(`${what}: expected ${n} values in "${field}", the reply has ${xs.length}`);
  return xs;
}

export function parseTlsAnswer(content: string, n: number): number[] {
  return listField(content, "activations", n, "TLS simulation").map((x, i) => {
    const v = typeof x === "string" ? Number(x) : x;
    if (typeof v !== "number" || !Number.isFinite(v)) throw new FormatError(`TLS simulation: activations[${i}] is ${JSON.stringify(x)}, not a number`);
    return Math.min(10, Math.max(0, v));
  });
}

const truthy = (x: unknown, what: string, i: number): boolean => {
  if (x === true || x === 1 || x === "1" || x === "true" || x === "active" || x === "yes") return true;
  if (x === false || x === 0 || x === "0" || x === "false" || x === "inactive" || x === "no") return false;
  throw new FormatError(`${what}: value ${i} is ${JSON.stringify(x)}, not a yes/no answer`);
};

export function parseSlsAnswer(content: string, n: number): boolean[] {
  return listField(content, "active", n, "SLS simulation").map((x, i) => truthy(x, "SLS simulation", i));
}

export function parseDetectionAnswer(content: string, n: number): boolean[] {
  return listField(content, "answers", n, "detection").map((x, i) => truthy(x, "detection", i));
}
