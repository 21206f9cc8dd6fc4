// Explainers: a feature's examples -> a short explanation. Two kinds, named apart in every output:
//   llmExplainer(client)   the prompt of ./prompts.ts sent to an OpenAI-compatible endpoint (or its replay cache);
//   baselineExplainer()    an OFFLINE BASELINE, not an LLM: it lists the tokens the feature fires on most and the
//                          words around them. It exists so every stage runs where no LLM can be reached; its
//                          explanations are what a keyword summary can say, nothing more.
import type { ActivationExample, ChatClient, ChatUsage, FeatureExamples } from "./types.ts";
import { explainMessages, parseExplanation, visibleTokens, wordSpans } from "./prompts.ts";

/** Counts a text's tokens (for the cost figures when no API reports usage). */
export type TokenCounter = (text: string) => number;

/** The fallback counter: about four characters per token, the usual rule of thumb for English BPE vocabularies. */
export const estimateTokens: TokenCounter = (text) => Math.ceil(text.length / 4);

export interface Explanation {
  id: string;
  explanation: string;
  /** Who wrote it: "llm:NAME" or "baseline:top-tokens". */
  explainer: string;
  usage: ChatUsage;
  /** True when an LLM answer came from the replay cache. */
  cached: boolean;
}

export interface Explainer {
  /** Recorded in the database: "llm:NAME" for a model, "baseline:..." for an offline baseline. */
  readonly name: string;
  readonly kind: "llm" | "baseline";
  explain(fe: FeatureExamples, signal?: AbortSignal): Promise<Explanation>;
}

export const BASELINE_EXPLAINER = "baseline:top-tokens";
export const BASELINE_SIMULATOR = "baseline:word-match";

/** Which explainer a name stands for, as `--explainer` takes it. */
export const isBaselineName = (name: string): boolean => name.startsWith("baseline");

export function llmExplainer(client: ChatClient): Explainer {
  return {
    name: `llm:${client.model}`,
    kind: "llm",
    async explain(fe, signal) {
      const r = await client.chat({ messages: explainMessages(fe), temperature: 0, max_tokens: 200, response_format: { type: "json_object" } }, { feature: fe.id, purpose: "explain", signal });
      return { id: fe.id, explanation: parseExplanation(r.content), explainer: `llm:${client.model}`, usage: r.usage, cached: r.cached };
    },
  };
}

/** Words that say nothing about a feature (English function words; the toy corpus is English and Hindi). */
export const STOPWORDS = new Set(
  "a an the and or but if of to in on at by for with from as is are was were be been being it its this that these those i you he she we they me him her us them my your his our their what which who whom how why when where do does did done can could will would shall should may might must not no yes so than then too very just also about into over under again there here all any some such only own same other more most".split(" "),
);

/** A token or word reduced to what the baselines compare: lower case, letters and digits only. */
export const normaliseWord = (s: string): string => s.toLowerCase().normalize("NFKC").replace(/[^\p{L}\p{M}\p{N}]+/gu, "");

const isContentWord = (w: string): boolean => w.length >= 2 && !STOPWORDS.has(w) && !/^\d+$/.test(w);

/**
 * The offline explainer: the words the feature fires on most (summed normalised activation over the train windows),
 * then the words that most often surround its strongest tokens. Deterministic; counted in tokens as if its prompt
 * had gone to an LLM, so cost comparisons stay meaningful.
 */
export function baselineExplainer(opts: { count?: TokenCounter; topWords?: number; contextWords?: number } = {}): Explainer {
  const count = opts.count ?? estimateTokens;
  const topWords = opts.topWords ?? 4;
  const contextWords = opts.contextWords ?? 3;
  return {
    name: BASELINE_EXPLAINER,
    kind: "baseline",
    async explain(fe) {
      const norm = fe.normalisation.value > 0 ? fe.normalisation.value : fe.max_activation || 1;
      // Words, not BPE pieces (prompts.ts wordSpans): a word fires with the largest activation of its pieces. Firing
      // words are ranked by summed normalised activation times the share of their occurrences that fire (so a word in
      // every window, such as a chat template's "assistant", ranks only as high as it is specific); the words around
      // them by the number of windows they are in.
      const firing = new Map<string, number>();
      const occurrences = new Map<string, { all: number; firing: number }>();
      const around = new Map<string, number>();
      const windows: ActivationExample[] = [...fe.train.top, ...fe.train.quantiles.flat()];
      for (const ex of windows) {
        const { tokens, acts } = visibleTokens(ex);
        const seen = new Set<string>();
        for (const span of wordSpans(tokens)) {
          const w = normaliseWord(span.text);
          if (!isContentWord(w)) continue;
          const a = Math.min(1, Math.max(0, ...acts.slice(span.start, span.end)) / norm);
          const o = occurrences.get(w) ?? { all: 0, firing: 0 };
          o.all++;
          if (a > 0) o.firing++;
          occurrences.set(w, o);
          if (a > 0) firing.set(w, (firing.get(w) ?? 0) + a);
          else if (!seen.has(w)) {
            seen.add(w);
            around.set(w, (around.get(w) ?? 0) + 1);
          }
        }
      }
      for (const [w, sum] of firing) firing.set(w, (sum * occurrences.get(w)!.firing) / occurrences.get(w)!.all);
      // A context word must recur: one window's words say nothing about the feature.
      for (const [w, n] of around) if (n < 2 || w.length < 3) around.delete(w);
      const ranked = (m: Map<string, number>, n: number, skip: Set<string>) =>
        [...m.entries()].filter(([w]) => !skip.has(w)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n).map(([w]) => w);
      const top = ranked(firing, topWords, new Set());
      const ctx = ranked(around, contextWords, new Set(top));
      let explanation: string;
      if (top.length === 0) explanation = windows.length === 0 ? "never fires on the corpus" : "fires on punctuation, numbers or template tokens only";
      else explanation = `words ${top.map((w) => `"${w}"`).join(", ")}` + (ctx.length ? `, in text with ${ctx.map((w) => `"${w}"`).join(", ")}` : "");
      const prompt = explainMessages(fe).map((m) => m.content).join("\n");
      return { id: fe.id, explanation, explainer: BASELINE_EXPLAINER, usage: { prompt_tokens: count(prompt), completion_tokens: count(JSON.stringify({ explanation })) }, cached: false };
    },
  };
}
