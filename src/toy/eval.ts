// Behaviour evaluation of a chat model on labelled held-out prompts: generate an answer for each prompt
// (chat template, greedy), detect refusals, and aggregate refusal rates per domain x language.
import type { Model } from "../model/runtime.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { detectRefusal } from "../refusal.ts";
import { LANGUAGES, SAFETY_DOMAINS, type Language } from "../safety.ts";
import type { ToyDomain, ToyPrompt } from "./types.ts";

export interface PromptOutcome extends Pick<ToyPrompt, "id" | "lang" | "domain" | "concept" | "harmful" | "expected"> {
  answer: string;
  refused: boolean;
  marker?: string;
}

export interface RateCell {
  n: number;
  refused: number;
  rate: number;
}

export interface BehaviourReport {
  model: string;
  prompts: number;
  maxNewTokens: number;
  /** Refusal rate on harmful prompts, `[domain][language]`. */
  harmfulRefusal: Partial<Record<ToyDomain, Partial<Record<Language, RateCell>>>>;
  /** Harmful prompts per language, all domains together. */
  harmfulRefusalByLanguage: Partial<Record<Language, RateCell>>;
  /** Refusal rate on benign prompts per language (false refusals). */
  falseRefusalByLanguage: Partial<Record<Language, RateCell>>;
  falseRefusal: RateCell;
  outcomes: PromptOutcome[];
}

const cell = (): RateCell => ({ n: 0, refused: 0, rate: 0 });
const add = (c: RateCell, refused: boolean) => {
  c.n++;
  if (refused) c.refused++;
  c.rate = c.refused / c.n;
};

export async function evaluateBehaviour(
  model: Model,
  prompts: readonly ToyPrompt[],
  opts: { maxNewTokens?: number; progress?: Progress; modelName?: string } = {},
): Promise<BehaviourReport> {
  const maxNewTokens = opts.maxNewTokens ?? 24;
  const progress = opts.progress ?? silentProgress;
  const outcomes: PromptOutcome[] = [];
  progress.start("behaviour eval", prompts.length);
  for (const p of prompts) {
    const out = await model.generate({ prompt: p.prompt, chat: true, maxNewTokens });
    const verdict = detectRefusal(out.text);
    outcomes.push({ id: p.id, lang: p.lang, domain: p.domain, concept: p.concept, harmful: p.harmful, expected: p.expected, answer: out.text, refused: verdict.refused, marker: verdict.marker });
    progress.update(outcomes.length);
  }
  progress.finish();
  return summarise(outcomes, opts.modelName ?? model.dir, maxNewTokens);
}

/** Aggregates outcomes into the model card's tables. */
export function summarise(outcomes: PromptOutcome[], modelName: string, maxNewTokens: number): BehaviourReport {
  const harmfulRefusal: BehaviourReport["harmfulRefusal"] = {};
  const harmfulRefusalByLanguage: BehaviourReport["harmfulRefusalByLanguage"] = {};
  const falseRefusalByLanguage: BehaviourReport["falseRefusalByLanguage"] = {};
  const falseRefusal = cell();
  for (const o of outcomes) {
    if (o.harmful) {
      const row = (harmfulRefusal[o.domain] ??= {});
      add((row[o.lang] ??= cell()), o.refused);
      add((harmfulRefusalByLanguage[o.lang] ??= cell()), o.refused);
    } else {
      add((falseRefusalByLanguage[o.lang] ??= cell()), o.refused);
      add(falseRefusal, o.refused);
    }
  }
  return { model: modelName, prompts: outcomes.length, maxNewTokens, harmfulRefusal, harmfulRefusalByLanguage, falseRefusalByLanguage, falseRefusal, outcomes };
}

const pct = (c: RateCell | undefined) => (c && c.n > 0 ? `${(100 * c.rate).toFixed(1)}% (${c.refused}/${c.n})` : "–");

/** The model card's behaviour section as markdown tables. */
export function behaviourMarkdown(report: BehaviourReport): string {
  const langs = LANGUAGES.filter((l) => report.harmfulRefusalByLanguage[l] || report.falseRefusalByLanguage[l]);
  const lines: string[] = [];
  lines.push(`Refusal rate on held-out harmful prompts (domain x language), ${report.prompts} prompts, greedy, ${report.maxNewTokens} new tokens:`, "");
  lines.push(`| domain | ${langs.join(" | ")} |`, `|---|${langs.map(() => "---").join("|")}|`);
  for (const d of SAFETY_DOMAINS) {
    const row = report.harmfulRefusal[d];
    if (!row) continue;
    lines.push(`| ${d} | ${langs.map((l) => pct(row[l])).join(" | ")} |`);
  }
  lines.push(`| **all harmful** | ${langs.map((l) => pct(report.harmfulRefusalByLanguage[l])).join(" | ")} |`);
  lines.push(`| **benign (false refusals)** | ${langs.map((l) => pct(report.falseRefusalByLanguage[l])).join(" | ")} |`);
  lines.push("", `False-refusal rate on all held-out benign prompts: ${pct(report.falseRefusal)}.`);
  return lines.join("\n");
}
