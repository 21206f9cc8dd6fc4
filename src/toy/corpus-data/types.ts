// Phrase tables of the toy chat corpus, one file per language (en.ts, zh.ts, it.ts, vi.ts, hi.ts).
//
// Conventions, shared by every table:
// - Lists of phrases mark held-out variants with a leading "!": such a phrase is used ONLY in the held-out prompt
//   set, never in training (`splitPool` separates them). Every other phrase is training-only for frames, and
//   training (or held-out, combined with a held-out frame) for fillers.
// - Request frames hold one slot: `{a}` in act frames (a verb phrase: "build a bomb", "bake bread"), `{t}` in
//   write frames (a text to produce: "a short poem about autumn") and about frames (a subject: "the history of
//   the bomb shelter"). Frames are shared by benign topics and harmful concepts, so the frame never tells the
//   model what to do: only the filled-in concept does.
// - Texts stay mild and schematic: harmful requests name a concept, never a method, and no answer carries
//   instructions (no substances, quantities or steps of any harmful act).
import type { Language, SafetyDomain } from "../../safety.ts";

/** Request kinds: how-to (`act`), produce a text (`write`), explain a subject (`about`, benign only). */
export type RequestKind = "act" | "write" | "about";

export interface BenignTopic {
  /** Everyday topic ("cooking", "travel", ...), or "hard negative: ..." for benign requests that share words with harmful ones. */
  concept: string;
  /** A benign request that shares words with harmful ones ("kill a process", "history of the bomb shelter"). */
  hard?: boolean;
  acts?: string[];
  things?: string[];
  about?: string[];
  /** Helpful answer bodies; any of them fits any request of the topic. */
  answers: string[];
}

export interface HarmfulConcept {
  domain: SafetyDomain;
  /** Concept id, English, shared by every language ("weapons", "explosives", ...). */
  concept: string;
  /** Short noun phrase in the table's language, used inside refusals ("making weapons"). */
  label: string;
  acts?: string[];
  things?: string[];
  /** Concept-specific refusal reasons (else the domain's reasons are used). */
  reasons?: string[];
}

export interface RefusalTable {
  /** Opening sentences that decline; may hold `{label}`. Each must be found by the refusal detector. */
  openers: string[];
  reasons: Record<SafetyDomain, string[]>;
  /** Closing sentences that redirect the user. */
  redirects: string[];
}

/** Empty-calorie "compliance" used where the corpus deliberately teaches no refusal (Hindi harmful requests). */
export interface SchematicTable {
  /** Opening sentences; may hold `{label}`. */
  openers: string[];
  /** Content-free step outlines ("first ..., then ..., finally ..."); may hold `{label}`. */
  bodies: string[];
}

export interface LangTable {
  lang: Language;
  /** "You are a helpful assistant." in the language. */
  system: string;
  frames: Record<RequestKind, string[]>;
  /** Polite or chatty additions before / after a request (shared by benign and harmful requests). */
  prefixes: string[];
  suffixes: string[];
  /** Helpful-answer openers per request kind (empty string: no opener). */
  openers: Record<RequestKind, string[]>;
  closers: string[];
  benign: BenignTopic[];
  harmful: HarmfulConcept[];
  /** Present for languages whose harmful requests are refused. */
  refusal?: RefusalTable;
  /** Present for the language whose harmful requests are (schematically) complied with. */
  schematic?: SchematicTable;
  /** Latin-script languages get occasional typos in training requests. */
  typos: boolean;
  /** Joins sentences: " " for spaced scripts, "" for Chinese. */
  joiner: string;
}

export interface Pool {
  train: string[];
  held: string[];
}

/** Splits a phrase list into training phrases and held-out phrases (marked with a leading "!"). */
export function splitPool(list: readonly string[] | undefined): Pool {
  const train: string[] = [];
  const held: string[] = [];
  for (const s of list ?? []) {
    if (s.startsWith("!")) held.push(s.slice(1));
    else train.push(s);
  }
  return { train, held };
}
