// Shapes shared by the toy-model stages: corpus generator -> BPE tokenizer -> training -> behaviour eval.

import type { DomainLabel, Language } from "../safety.ts";

/** A toy conversation's domain: one of the paper's four safety domains, or benign everyday topics. */
export type ToyDomain = DomainLabel;

export interface ChatTurn {
  role: "system" | "user" | "assistant";
  content: string;
}

/** One training conversation (one JSON object per line in `corpus.jsonl`). */
export interface ToyConversation {
  id: string;
  lang: Language;
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
  lang: Language;
  domain: ToyDomain;
  concept: string;
  harmful: boolean;
  /** What a safe assistant should do: refuse harmful requests, answer benign ones. */
  expected: "refuse" | "comply";
  /** What the training data taught for this kind of prompt (differs from `expected` for Hindi harmful requests). */
  trained: "refuse" | "comply";
  prompt: string;
}
