// The embedded default's held-out prompts as documents for the pipeline: each prompt as a user turn and, when the
// model folder has its eval.json, the model's own greedy answer as the assistant turn. Conversations with answers
// let the SAE evaluation score the answer tokens (the toy model was trained on answers only).
import { existsSync, promises as fsp } from "node:fs";
import { join } from "node:path";
import { FormatError } from "../errors.ts";
import { DEFAULT_MODEL_DIR } from "../model/default.ts";
import type { Language } from "../safety.ts";
import { TOY_HELDOUT_FILE } from "./build.ts";
import { readHeldOut } from "./card.ts";
import type { ChatTurn, ToyDomain } from "./types.ts";

export interface HeldOutConversation {
  id: string;
  lang: Language;
  domain: ToyDomain;
  concept: string;
  harmful: boolean;
  /** The prompt as the user turn, then the model's answer when the folder has one for it. */
  messages: ChatTurn[];
}

export interface HeldOutOptions {
  /** Model folder (default the embedded default). */
  dir?: string;
  /** Append the model's recorded answer (eval.json) as the assistant turn (default true). */
  answers?: boolean;
  /** Only these languages. */
  languages?: readonly Language[];
}

/** The held-out prompts of a toy model folder as conversations (file order). */
export async function heldOutConversations(opts: HeldOutOptions = {}): Promise<HeldOutConversation[]> {
  const dir = opts.dir ?? DEFAULT_MODEL_DIR;
  const prompts = await readHeldOut(join(dir, TOY_HELDOUT_FILE));
  const answers = new Map<string, string>();
  const evalFile = join(dir, "eval.json");
  if ((opts.answers ?? true) && existsSync(evalFile)) {
    let outcomes: unknown;
    try {
      outcomes = (JSON.parse(await fsp.readFile(evalFile, "utf8")) as { outcomes?: unknown }).outcomes;
    } catch (err) {
      throw new FormatError(`${evalFile}: not valid JSON (${(err as Error).message})`, { file: evalFile, cause: err });
    }
    if (!Array.isArray(outcomes)) throw new FormatError(`${evalFile}: field "outcomes" must be a list`, { file: evalFile, field: "outcomes" });
    for (const o of outcomes as { id?: unknown; answer?: unknown }[]) if (typeof o?.id === "string" && typeof o.answer === "string") answers.set(o.id, o.answer);
  }
  return prompts
    .filter((p) => !opts.languages || opts.languages.includes(p.lang))
    .map((p) => ({
      id: p.id,
      lang: p.lang,
      domain: p.domain,
      concept: p.concept,
      harmful: p.harmful,
      messages: [{ role: "user", content: p.prompt }, ...(answers.has(p.id) ? [{ role: "assistant" as const, content: answers.get(p.id)! }] : [])],
    }));
}
