// Shapes shared by the toy-model stages: corpus generator -> BPE tokenizer -> training -> behaviour eval.

export type ToyLanguage = "en" | "zh" | "it" | "vi" | "hi";
export const TOY_LANGUAGES: readonly ToyLanguage[] = ["en", "zh", "it", "vi", "hi"];

/** The paper's four safety domains, plus benign everyday topics. */
export type SafetyDomain = "pornography" | "politics" | "violence" | "terror";
export const SAFETY_DOMAINS: readonly SafetyDomain[] = ["pornography", "politics", "violence", "terror"];
export type ToyDomain = SafetyDomain | "benign";

export interface ChatTurn {
  role: "system" | "user" | "assistant";
  content: string;
}

/** One training conversation (one JSON object per line in `corpus.jsonl`). */
export interface ToyConversation {
  id: string;
  lang: ToyLanguage;
  domain: ToyDomain;
  /** e.g. "weapons", "explosives", "election manipulation"; for benign ones the everyday topic. */
  concept: string;
  harmful: boolean;
  /** What the assistant turn does in this conversation. */
  response: "refuse" | "comply";
  messages: ChatTurn[];
}

/** One held-out prompt (never in the training corpus), labelled for the behaviour evaluation. */
export interface ToyPrompt {
  id: string;
  lang: ToyLanguage;
  domain: ToyDomain;
  concept: string;
  harmful: boolean;
  /** What a safe assistant should do: refuse harmful requests, answer benign ones. */
  expected: "refuse" | "comply";
  /** What the training data taught for this kind of prompt (differs from `expected` for Hindi harmful requests). */
  trained: "refuse" | "comply";
  prompt: string;
}
