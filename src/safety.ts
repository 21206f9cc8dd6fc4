// The paper's vocabulary, on the ground floor: every stage (data builders, metrics, the feature database, StarMap,
// the toy model) imports these definitions and none spells them again.
//
// - Safety domains: Safe-SAIL's four (its database's `tag_list` values), plus "benign" for labelled corpora.
// - Languages of the walkthrough's multilingual data (the paper compares English with low-resource languages).
// - Feature ids as Safe-SAIL writes them: `{layer}_{index}`.
import { ArgumentError, describeValue } from "./errors.ts";

export type SafetyDomain = "pornography" | "politics" | "violence" | "terror";
export const SAFETY_DOMAINS: readonly SafetyDomain[] = ["pornography", "politics", "violence", "terror"];

/** A corpus label: one safety domain, or benign. */
export type DomainLabel = SafetyDomain | "benign";
export const DOMAIN_LABELS: readonly DomainLabel[] = [...SAFETY_DOMAINS, "benign"];

export const isSafetyDomain = (value: unknown): value is SafetyDomain => (SAFETY_DOMAINS as readonly unknown[]).includes(value);
export const isDomainLabel = (value: unknown): value is DomainLabel => (DOMAIN_LABELS as readonly unknown[]).includes(value);

/** ISO 639-1 codes of the languages the data sets cover: English, Chinese, Italian, Vietnamese, Hindi. */
export type Language = "en" | "zh" | "it" | "vi" | "hi";
export const LANGUAGES: readonly Language[] = ["en", "zh", "it", "vi", "hi"];
export const isLanguage = (value: unknown): value is Language => (LANGUAGES as readonly unknown[]).includes(value);

/** A feature as Safe-SAIL names it: SAE layer and latent index. */
export interface FeatureRef {
  layer: number;
  index: number;
}

/** `featureId(3, 120)` -> `"3_120"`. */
export function featureId(layer: number, index: number): string {
  if (!Number.isSafeInteger(layer) || layer < 0) throw new ArgumentError(`featureId: layer must be an integer >= 0, got ${describeValue(layer)}`, { field: "layer" });
  if (!Number.isSafeInteger(index) || index < 0) throw new ArgumentError(`featureId: index must be an integer >= 0, got ${describeValue(index)}`, { field: "index" });
  return `${layer}_${index}`;
}

/** `"3_120"` -> `{ layer: 3, index: 120 }`; anything else is an ArgumentError naming `arg`. */
export function parseFeatureId(id: unknown, arg = "feature"): FeatureRef {
  const m = typeof id === "string" ? /^(\d+)_(\d+)$/.exec(id) : null;
  if (!m) throw new ArgumentError(`${arg}: not a feature id: ${describeValue(id)}; expected {layer}_{index}, e.g. "3_120"`, { field: arg });
  return { layer: Number(m[1]), index: Number(m[2]) };
}
