// The shapes stage 2 passes between its parts: activation examples (./examples.ts writes and reads them), the chat
// client every explainer and simulator calls (./llm.ts), and what explaining and scoring return. One definition
// here; everything else imports it.

/** One context window of a feature's activations: token ids, their text pieces, and the feature's raw activation. */
export interface ActivationExample {
  /** Token ids of the window (up to `context` tokens, fewer at a document's edge). */
  ids: number[];
  /** One decoded piece per id (`Model.toStrTokens`), chat special tokens included. */
  tokens: string[];
  /** The feature's raw (un-normalised) activation at each token of the window; 0 where it does not fire. */
  acts: number[];
  /** Corpus index of the document the window comes from. */
  doc: number;
  /** Position in the document of the window's first token. */
  start: number;
  /** Index within the window of the token the window was centred on (the activating token; -1 for random windows). */
  centre: number;
  /** Whether any token of the window is a chat special token that views should mask. */
  special?: boolean[];
}

/** Equal-count bins of a feature's non-zero activations, or fixed-width bins: `counts[i]` values in `[edges[i], edges[i+1])`. */
export interface Histogram {
  edges: number[];
  counts: number[];
}

export interface TokenLogit {
  id: number;
  token: string;
  value: number;
}

/** Everything the example store holds about one feature. */
export interface FeatureExamples {
  /** `{layer}_{index}` (safety.ts featureId). */
  id: string;
  layer: number;
  index: number;
  /** TransformerLens hook of the SAE, e.g. "blocks.2.hook_mlp_out". */
  hook: string;
  /** Domain tags known when the store was built (from the filter or a database), else []. */
  tags: string[];
  /** Tokens the feature was evaluated on, and the share of them where it is non-zero. */
  tokens: number;
  frac_nonzero: number;
  max_activation: number;
  /** The normalising quantile (e.g. 0.999) and its value over the non-zero activations; activations / value, clipped to 1, are the "normalised" activations. */
  normalisation: { quantile: number; value: number };
  histogram: Histogram;
  /** W_dec[f] · W_U: the vocabulary entries the decoder direction promotes most and least. */
  logits: { top: TokenLogit[]; bottom: TokenLogit[] };
  /** What the explainer sees: top-activating windows, and samples from the activation quantiles (train documents only). */
  train: { top: ActivationExample[]; quantiles: ActivationExample[][] };
  /** What scorers see, from documents disjoint from the train ones: activating windows (quantile samples) and non-activating windows. */
  test: { activating: ActivationExample[]; nonActivating: ActivationExample[] };
}

// ---------------------------------------------------------------------------------------------------------------
// Chat client (OpenAI-compatible). The same interface serves a server, the replay cache and the offline baselines.

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** The body of `POST {base}/chat/completions`, as sent (the replay cache keys on its exact JSON). */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  max_tokens?: number;
  seed?: number;
  /** JSON mode. */
  response_format?: { type: "json_object" };
  logprobs?: boolean;
  top_logprobs?: number;
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** One generated token's log-probability and its alternatives, as the API returns them. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  top_logprobs: { token: string; logprob: number }[];
}

export interface ChatResult {
  content: string;
  usage: ChatUsage;
  /** Null when the server did not return logprobs (not every server offers them). */
  logprobs: TokenLogprob[] | null;
  /** The model name the server reports. */
  model: string;
  finish_reason: string | null;
  /** True when the answer came from the replay cache. */
  cached: boolean;
}

/** Who a request is for, so errors and usage records can name it. */
export interface ChatContext {
  /** The feature id the request is about (errors name it). */
  feature?: string;
  /** What the request does: "explain", "simulate-tls", "simulate-sls", "detect". */
  purpose?: string;
  signal?: AbortSignal;
}

export interface ChatClient {
  /** The model name requests carry (`--llm`). */
  readonly model: string;
  chat(request: Omit<ChatRequest, "model">, context?: ChatContext): Promise<ChatResult>;
}
