// The cross-language comparison: the same concept queries in several languages, and per language and SAE layer how
// strongly the concept's (or domain's) features fire and how many of them fire; the gap to a reference language with
// a seeded bootstrap interval. And `refusalFeatures`, which finds the features to restrict that comparison to when
// the question is "does the refusal chain break" (issue 16, claim 5: the Hindi gap).
//
//   const ref = await refusalFeatures(model, saes, db, conversations);       // { messages, refused }[]
//   const cmp = await compareLanguages(model, saes, db, queries, { features: ref.ids });
//   cmp.gaps.filter((g) => g.lang === "hi")                                  // per layer, vs "en"
//
// Definitions:
// - A query's positions (`positions`): "query" (default) = the tokens of the user's text (role "user"); "answer" =
//   the closing assistant turn's tokens (queries given as { messages } with an answer); "nonspecial" = every token
//   but the chat special ones (the template's role header included, where a model decides how to answer).
// - A query's feature set at a layer: `featureSets[query.concept]` when given, else `features` when given (e.g. the
//   refusal features; they override domains), else the database's features of that layer tagged with the query's
//   domain, else its safety features (non-empty tag_list; every record with `onlySafety: false`).
// - Per query and layer: for each feature f of the set, m_f = the maximum over the positions of f's normalised
//   activation (normalisation as in ./token-features.ts: the record's normalisation_value, else max_activation, else
//   the feature's maximum over every position of this call, warned). strength = the mean of m_f over the set;
//   count = how many m_f exceed `threshold` (default 0.2, the SLS threshold: "active" as Safe-SAIL's segment
//   scoring means it). A query with an empty set or no positions has no strength (null, warned).
// - Per language and layer: the mean strength and the mean count over its queries (those with a strength).
// - Gap vs the reference language (default "en"), per language and layer: mean(lang) - mean(reference)
//   (`gap: "difference"`, default) or mean(lang) / mean(reference) (`"ratio"`; null when the reference mean is 0),
//   for strength and for count, with a percentile bootstrap interval: each resample draws the language's queries
//   and the reference's queries with replacement, independently (two samples; the queries of two languages are not
//   paired item by item), from mulberry32 seeded by deriveSeed(seed, lang, layer, measure), so the interval is the
//   same on every run and does not depend on the order of languages. The reference language's gap to itself is 0
//   (ratio 1) exactly, interval [0, 0] ([1, 1]).
// - refusalFeatures: conversations ending with an assistant answer, flagged refused or complied by the caller (the
//   detector is src/refusal.ts). Per feature: the mean over refused
//   conversations of its mean normalised activation over the answer's tokens, the same over complied ones, and the
//   difference; features ranked by the difference, those above `minDifference` (default 0) kept, at most `top`.
import { ArgumentError, describeValue } from "../errors.ts";
import type { FeatureDb, FeatureRecord } from "../db/records.ts";
import { SLS_THRESHOLD, type BootstrapInterval } from "../interpret/scoring.ts";
import { quantileSorted } from "../metrics/normalise.ts";
import type { Model } from "../model/runtime.ts";
import type { ChatMessage } from "../model/tokenizer.ts";
import type { Sae, SparseCode } from "../sae/sae.ts";
import { featureId, parseFeatureId } from "../safety.ts";
import { deriveSeed, mulberry32 } from "../util/prng.ts";
import { checkInt, checkNumber } from "../util/validate.ts";
import {
  encodeDocuments,
  normalise,
  observedMaxWarning,
  prepareTokens,
  recordNormaliser,
  recordsByLayer,
  saeLayers,
  type FeatureNormaliser,
  type PreparedTokens,
  type SaeLayer,
  type SaeLayerInfo,
} from "./token-features.ts";

export interface LanguageQuery {
  lang: string;
  /** The query as plain text (a chat user turn unless `chat: false`), or ... */
  text?: string;
  /** ... a conversation (with an answer for `positions: "answer"`). */
  messages?: ChatMessage[];
  concept?: string;
  domain?: string;
  id?: string;
}

/**
 * Which tokens of a query count: "query" (the user's text), "answer" (the closing assistant turn), "nonspecial" (every
 * unmasked token) or "header" (the template's unmasked tokens between the last user turn and the answer, i.e. the
 * generation prompt: where the model has read the request and not yet written a word of its answer, so what fires
 * there is the decision, not the wording of an answer already given).
 */
export type QueryPositions = "query" | "answer" | "nonspecial" | "header";

export interface BootstrapSettings {
  /** Resamples (default 1000). */
  samples?: number;
  /** Default 0. */
  seed?: number;
  /** Default 0.95. */
  level?: number;
}

export interface CompareLanguagesOptions {
  /** The language the others are compared with (default "en"). */
  reference?: string;
  /** One feature set for every query (e.g. `refusalFeatures(...).ids`); overrides the domains. */
  features?: readonly string[];
  /** Feature sets per concept (a query's `concept` picks its set); override `features` and the domains. */
  featureSets?: Record<string, readonly string[]>;
  /** Without a set or a domain: only features with a non-empty tag_list (default true). */
  onlySafety?: boolean;
  /** Normalised activation above which a feature counts as firing (default 0.2). */
  threshold?: number;
  positions?: QueryPositions;
  gap?: "difference" | "ratio";
  bootstrap?: BootstrapSettings;
  /** Plain-text queries as chat user turns (default true). */
  chat?: boolean;
  encoder?: "ort" | "js";
}

export interface QueryLayerMeasure {
  /** Index into the queries given. */
  query: number;
  id: string | null;
  lang: string;
  /** concept ?? domain ?? "all". */
  group: string;
  layer: number;
  /** Size of the feature set and positions used. */
  features: number;
  positions: number;
  strength: number | null;
  count: number | null;
  /** The set's features that exceed the threshold, for inspection. */
  firing: string[];
}

export interface LanguageLayerMeasure {
  lang: string;
  layer: number;
  /** Queries with a strength (the means are over these) and queries given. */
  queries: number;
  given: number;
  strength: number | null;
  count: number | null;
}

export interface GroupLayerMeasure extends LanguageLayerMeasure {
  group: string;
}

/** A gap with its bootstrap interval: the same record as stage 2's score intervals. */
export type GapInterval = BootstrapInterval;

export interface LanguageGap {
  lang: string;
  layer: number;
  reference: string;
  measure: "difference" | "ratio";
  strength: GapInterval;
  count: GapInterval;
}

export interface LanguageComparison {
  kind: "safesail-language-comparison";
  version: 1;
  model: string;
  layers: SaeLayerInfo[];
  reference: string;
  /** Languages in order of first appearance. */
  languages: string[];
  options: { threshold: number; positions: QueryPositions; gap: "difference" | "ratio"; bootstrap: Required<BootstrapSettings>; featureSource: "featureSets" | "features" | "domain" };
  perQuery: QueryLayerMeasure[];
  perLanguage: LanguageLayerMeasure[];
  perGroup: GroupLayerMeasure[];
  gaps: LanguageGap[];
  warnings: string[];
}

const mean = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/**
 * Two-sample percentile bootstrap of mean(a) - mean(b) or mean(a) / mean(b): per resample, a.length draws from `a`
 * then b.length draws from `b`, with replacement, from one mulberry32 stream.
 */
export function twoSampleGap(a: readonly number[], b: readonly number[], measure: "difference" | "ratio", opts: { samples: number; seed: number; level: number }): GapInterval {
  const stat = (ma: number | null, mb: number | null): number | null => (ma === null || mb === null ? null : measure === "difference" ? ma - mb : mb === 0 ? null : ma / mb);
  const estimate = stat(mean(a), mean(b));
  const base = { level: opts.level };
  if (a.length === 0 || b.length === 0) return { ...base, estimate: null, low: null, high: null, samples: 0, dropped: 0, warning: `no queries with a strength in ${a.length === 0 ? "this language" : "the reference language"}` };
  const rng = mulberry32(opts.seed);
  const stats: number[] = [];
  let dropped = 0;
  for (let s = 0; s < opts.samples; s++) {
    let sa = 0;
    for (let i = 0; i < a.length; i++) sa += a[Math.floor(rng() * a.length)]!;
    let sb = 0;
    for (let i = 0; i < b.length; i++) sb += b[Math.floor(rng() * b.length)]!;
    const v = stat(sa / a.length, sb / b.length);
    if (v === null) dropped++;
    else stats.push(v);
  }
  const warnings: string[] = [];
  if (a.length < 2 || b.length < 2) warnings.push(`only one query ${a.length < 2 ? "in this language" : "in the reference language"}: that side does not vary across resamples, so the interval understates the uncertainty`);
  if (estimate === null) warnings.push("the reference mean is 0, so the ratio is undefined");
  if (dropped > 0) warnings.push(`${dropped} of ${opts.samples} resamples had a reference mean of 0 and were left out`);
  if (stats.length === 0) return { ...base, estimate, low: null, high: null, samples: 0, dropped, warning: warnings.join("; ") };
  stats.sort((x, y) => x - y);
  const tail = (1 - opts.level) / 2;
  return { ...base, estimate, low: quantileSorted(stats, tail), high: quantileSorted(stats, 1 - tail), samples: stats.length, dropped, ...(warnings.length ? { warning: warnings.join("; ") } : {}) };
}

/** Token positions of a prepared input by the `positions` rule. */
export function positionsOf(p: PreparedTokens, rule: QueryPositions): number[] {
  const out: number[] = [];
  let lastUser = -1;
  for (const t of p.tokens) if (t.role === "user") lastUser = t.index;
  const end = p.answerStart ?? p.tokens.length;
  for (const t of p.tokens) {
    if (t.special) continue;
    if (
      rule === "nonspecial" ||
      (rule === "query" && t.role === "user") ||
      (rule === "answer" && t.role === "assistant") ||
      (rule === "header" && t.role === "template" && t.index > lastUser && lastUser >= 0 && t.index < end)
    ) {
      out.push(t.index);
    }
  }
  return out;
}

/** Per latent, the maximum raw activation over the positions (latents that never fire there are absent). */
function latentMax(code: SparseCode, positions: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of positions) {
    for (let j = t * code.k; j < (t + 1) * code.k; j++) {
      const v = code.values[j]!;
      if (v > 0 && v > (out.get(code.indices[j]!) ?? 0)) out.set(code.indices[j]!, v);
    }
  }
  return out;
}

function checkFeatureList(ids: unknown, field: string, layers: readonly SaeLayer[], where: string): string[] {
  if (!Array.isArray(ids)) throw new ArgumentError(`${where}: ${field} must be a list of feature ids, got ${describeValue(ids)}`, { field });
  for (const id of ids) {
    const { layer, index } = parseFeatureId(id, `${where}: ${field}`);
    const l = layers.find((s) => s.layer === layer);
    if (!l) throw new ArgumentError(`${where}: ${field}: ${id}: no SAE reads layer ${layer} (the SAEs read ${layers.map((s) => s.layer).join(", ")})`, { field });
    if (index >= l.sae.config.dSae) throw new ArgumentError(`${where}: ${field}: ${id}: the SAE at layer ${layer} has ${l.sae.config.dSae} latents`, { field });
  }
  return [...new Set(ids as string[])];
}

/** Normalisers for features, with the call-wide observed maximum as the fallback (counted for a warning). */
function normaliserTable(records: Map<number, Map<number, FeatureRecord>>, observedMax: (layer: number, index: number) => number) {
  const cache = new Map<string, FeatureNormaliser>();
  let observed = 0;
  return {
    get(layer: number, index: number): FeatureNormaliser {
      const id = featureId(layer, index);
      let n = cache.get(id);
      if (!n) {
        n = recordNormaliser(records.get(layer)?.get(index)) ?? { value: observedMax(layer, index), source: "observed_max" };
        if (n.source === "observed_max") observed++;
        cache.set(id, n);
      }
      return n;
    },
    get observed() {
      return observed;
    },
  };
}

/**
 * How strongly, and how many of, each query's concept (or domain, or given) features fire, per language and SAE
 * layer, and the gap of every language to the reference one with a seeded bootstrap interval (see the header).
 */
export async function compareLanguages(model: Model, saes: readonly Sae[], db: FeatureDb, queries: readonly LanguageQuery[], opts: CompareLanguagesOptions = {}): Promise<LanguageComparison> {
  const where = "compareLanguages";
  const layers = saeLayers(model, saes, where);
  const records = recordsByLayer(db, layers, where);
  if (!Array.isArray(queries) || queries.length === 0) throw new ArgumentError(`${where}: queries: give at least one query ({ lang, text })`, { field: "queries" });
  const reference = opts.reference ?? "en";
  const threshold = checkNumber(opts.threshold ?? SLS_THRESHOLD, "threshold", { min: 0, max: 1, where });
  const positionsRule = opts.positions ?? "query";
  if (!["query", "answer", "nonspecial", "header"].includes(positionsRule)) throw new ArgumentError(`${where}: positions must be "query", "answer", "nonspecial" or "header", got ${describeValue(positionsRule)}`, { field: "positions" });
  const measure = opts.gap ?? "difference";
  if (measure !== "difference" && measure !== "ratio") throw new ArgumentError(`${where}: gap must be "difference" or "ratio", got ${describeValue(measure)}`, { field: "gap" });
  const bootstrap = {
    samples: checkInt(opts.bootstrap?.samples ?? 1000, "bootstrap.samples", { min: 1, where }),
    seed: checkInt(opts.bootstrap?.seed ?? 0, "bootstrap.seed", { where }),
    level: checkNumber(opts.bootstrap?.level ?? 0.95, "bootstrap.level", { gt: 0, max: 1, where }),
  };
  const onlySafety = opts.onlySafety ?? true;
  const encoder = opts.encoder ?? "ort";
  const given = opts.features !== undefined ? checkFeatureList(opts.features, "features", layers, where) : null;
  const sets = new Map<string, string[]>();
  if (opts.featureSets !== undefined) {
    if (opts.featureSets === null || typeof opts.featureSets !== "object") throw new ArgumentError(`${where}: featureSets must be { concept: [feature ids] }, got ${describeValue(opts.featureSets)}`, { field: "featureSets" });
    for (const [c, ids] of Object.entries(opts.featureSets)) sets.set(c, checkFeatureList(ids, `featureSets.${c}`, layers, where));
  }

  // Tokenise every query (errors name the query), then one batched forward and encoding for all of them.
  const prepared = queries.map((q, i) => {
    const at = `${where}: queries[${i}]`;
    if (!q || typeof q !== "object" || typeof q.lang !== "string" || q.lang === "") throw new ArgumentError(`${at}.lang: expected a language code, got ${describeValue(q?.lang)}`, { field: `queries[${i}].lang` });
    if ((q.text === undefined) === (q.messages === undefined)) throw new ArgumentError(`${at}: give text or messages (exactly one)`, { field: `queries[${i}]` });
    return prepareTokens(model, q.text !== undefined ? q.text : { messages: q.messages! }, { chat: opts.chat }, at);
  });
  const languages = [...new Set(queries.map((q) => q.lang))];
  if (!languages.includes(reference)) throw new ArgumentError(`${where}: reference: no query is in "${reference}" (the queries' languages: ${languages.join(", ")})`, { field: "reference" });
  const codes = await encodeDocuments(model, layers, prepared, encoder);
  const positions = prepared.map((p) => positionsOf(p, positionsRule));
  const maxes = prepared.map((_, qi) => layers.map((_, li) => latentMax(codes[qi]![li]!, positions[qi]!)));
  const norms = normaliserTable(records, (layer, index) => {
    const li = layers.findIndex((l) => l.layer === layer);
    return maxes.reduce((m, perLayer) => Math.max(m, perLayer[li]!.get(index) ?? 0), 0);
  });

  const warnings: string[] = [];
  const setFor = (q: LanguageQuery, layer: number): number[] => {
    const ids = (q.concept !== undefined ? sets.get(q.concept) : undefined) ?? given;
    if (ids) return ids.map((id) => parseFeatureId(id)).filter((f) => f.layer === layer).map((f) => f.index);
    const out: number[] = [];
    for (const r of records.get(layer)!.values()) if (q.domain !== undefined ? r.tag_list.includes(q.domain) : !onlySafety || r.tag_list.length > 0) out.push(r.index);
    return out.sort((a, b) => a - b);
  };

  const perQuery: QueryLayerMeasure[] = [];
  let undefinedCount = 0;
  queries.forEach((q, qi) => {
    layers.forEach((l, li) => {
      const set = setFor(q, l.layer);
      const pos = positions[qi]!;
      let strength: number | null = null;
      let count: number | null = null;
      const firing: string[] = [];
      if (set.length > 0 && pos.length > 0) {
        let sum = 0;
        count = 0;
        for (const index of set) {
          const m = normalise(maxes[qi]![li]!.get(index) ?? 0, norms.get(l.layer, index).value);
          sum += m;
          if (m > threshold) {
            count++;
            firing.push(featureId(l.layer, index));
          }
        }
        strength = sum / set.length;
      } else undefinedCount++;
      perQuery.push({ query: qi, id: q.id ?? null, lang: q.lang, group: q.concept ?? q.domain ?? "all", layer: l.layer, features: set.length, positions: pos.length, strength, count, firing });
    });
  });
  if (undefinedCount > 0) warnings.push(`${undefinedCount} (query, layer) pair(s) have no strength: an empty feature set at that layer, or no ${positionsRule} tokens`);
  if (norms.observed > 0) warnings.push(observedMaxWarning(norms.observed, `every ${positionsRule} token of these queries`));

  const aggregate = (ms: QueryLayerMeasure[]) => {
    const ok = ms.filter((m) => m.strength !== null);
    return { queries: ok.length, given: ms.length, strength: mean(ok.map((m) => m.strength!)), count: mean(ok.map((m) => m.count!)) };
  };
  const perLanguage: LanguageLayerMeasure[] = [];
  const perGroup: GroupLayerMeasure[] = [];
  const gaps: LanguageGap[] = [];
  for (const lang of languages) {
    for (const l of layers) {
      const mine = perQuery.filter((m) => m.lang === lang && m.layer === l.layer);
      perLanguage.push({ lang, layer: l.layer, ...aggregate(mine) });
      for (const group of [...new Set(mine.map((m) => m.group))]) perGroup.push({ lang, group, layer: l.layer, ...aggregate(mine.filter((m) => m.group === group)) });
      const ok = (ms: QueryLayerMeasure[]) => ms.filter((m) => m.strength !== null);
      const a = ok(mine);
      const b = ok(perQuery.filter((m) => m.lang === reference && m.layer === l.layer));
      const gapOf = (name: "strength" | "count"): GapInterval => {
        if (lang === reference) {
          // The reference against itself: the same queries on both sides, so the gap is exactly the identity.
          const id = measure === "difference" ? 0 : 1;
          const defined = a.length > 0 && (measure === "difference" || (mean(a.map((m) => m[name]!)) ?? 0) !== 0);
          return defined ? { estimate: id, low: id, high: id, level: bootstrap.level, samples: bootstrap.samples, dropped: 0 } : { estimate: null, low: null, high: null, level: bootstrap.level, samples: 0, dropped: 0, warning: a.length ? "the reference mean is 0, so the ratio is undefined" : "no queries with a strength in the reference language" };
        }
        return twoSampleGap(a.map((m) => m[name]!), b.map((m) => m[name]!), measure, { samples: bootstrap.samples, level: bootstrap.level, seed: deriveSeed(bootstrap.seed, lang, String(l.layer), name) });
      };
      gaps.push({ lang, layer: l.layer, reference, measure, strength: gapOf("strength"), count: gapOf("count") });
    }
  }

  return {
    kind: "safesail-language-comparison",
    version: 1,
    model: model.dir,
    layers: layers.map((l) => ({ layer: l.layer, hook: l.hook, dSae: l.sae.config.dSae, k: l.sae.config.k })),
    reference,
    languages,
    options: { threshold, positions: positionsRule, gap: measure, bootstrap, featureSource: sets.size > 0 ? "featureSets" : given ? "features" : "domain" },
    perQuery,
    perLanguage,
    perGroup,
    gaps,
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Refusal-related features

export interface RefusalConversation {
  /** Ends with the model's answer (an assistant turn). */
  messages: ChatMessage[];
  /** Whether that answer is a refusal (the caller's detector). */
  refused: boolean;
  id?: string;
}

export interface RefusalFeaturesOptions {
  /** Only features with a non-empty tag_list (default false: refusal features need not carry a domain). */
  onlySafety?: boolean;
  /** Most features returned (default 20). */
  top?: number;
  /** Keep features whose difference exceeds this (default 0). */
  minDifference?: number;
  /**
   * Where the activations are read: "answer" (default: the answer's tokens, features of the refusal's wording) or
   * "header" (the generation prompt before the answer: features that carry the decision to refuse before a word of it
   * is written).
   */
  positions?: "answer" | "header";
  encoder?: "ort" | "js";
}

export interface RefusalFeature {
  feature: string;
  layer: number;
  index: number;
  /** Mean over refused (complied) conversations of the mean normalised activation over the answer's (header's) tokens. */
  refused: number;
  complied: number;
  difference: number;
  /** Share of refused (complied) conversations where it fires on at least one of the tokens read (answer or header). */
  refusedFiring: number;
  compliedFiring: number;
  explanation: string | null;
  score: number | null;
  tags: string[];
  normaliser: FeatureNormaliser;
}

export interface RefusalFeatureRanking {
  kind: "safesail-refusal-features";
  version: 1;
  model: string;
  layers: SaeLayerInfo[];
  conversations: { refused: number; complied: number };
  options: { onlySafety: boolean; top: number; minDifference: number; positions: "answer" | "header" };
  /** By difference, descending. */
  features: RefusalFeature[];
  /** The features' ids, in the same order (for `compareLanguages({ features })`). */
  ids: string[];
  warnings: string[];
}

/**
 * Features that fire more on refused answers than on complied ones (see the header): the database's features of the
 * SAEs' layers, ranked by the difference of their mean normalised activation over answer tokens.
 */
export async function refusalFeatures(model: Model, saes: readonly Sae[], db: FeatureDb, conversations: readonly RefusalConversation[], opts: RefusalFeaturesOptions = {}): Promise<RefusalFeatureRanking> {
  const where = "refusalFeatures";
  const layers = saeLayers(model, saes, where);
  const records = recordsByLayer(db, layers, where);
  const top = checkInt(opts.top ?? 20, "top", { min: 1, where });
  const minDifference = checkNumber(opts.minDifference ?? 0, "minDifference", { where });
  const onlySafety = opts.onlySafety ?? false;
  const positionsRule = opts.positions ?? "answer";
  if (positionsRule !== "answer" && positionsRule !== "header") throw new ArgumentError(`${where}: positions must be "answer" or "header", got ${describeValue(positionsRule)}`, { field: "positions" });
  if (!Array.isArray(conversations) || conversations.length === 0) throw new ArgumentError(`${where}: conversations: give conversations with the model's answers, some refused and some complied`, { field: "conversations" });
  const prepared = conversations.map((c, i) => {
    const at = `${where}: conversations[${i}]`;
    if (!c || typeof c !== "object" || typeof c.refused !== "boolean") throw new ArgumentError(`${at}.refused: expected true or false, got ${describeValue(c?.refused)}`, { field: `conversations[${i}].refused` });
    const p = prepareTokens(model, { messages: c.messages }, {}, at);
    if (p.answerStart === null) throw new ArgumentError(`${at}: the conversation does not end with an assistant answer`, { field: `conversations[${i}].messages` });
    return p;
  });
  const refusedN = conversations.filter((c) => c.refused).length;
  const compliedN = conversations.length - refusedN;
  if (refusedN === 0 || compliedN === 0) throw new ArgumentError(`${where}: conversations: need both refused and complied answers (got ${refusedN} refused, ${compliedN} complied)`, { field: "conversations" });

  const codes = await encodeDocuments(model, layers, prepared, opts.encoder ?? "ort");
  const read = prepared.map((p) => positionsOf(p, positionsRule));
  const warnings: string[] = [];
  const empty = read.filter((a) => a.length === 0).length;
  if (empty > 0) warnings.push(`${empty} conversation(s) have no ${positionsRule} tokens; they count as 0 for every feature`);
  const maxes = prepared.map((_, ci) => layers.map((_, li) => latentMax(codes[ci]![li]!, read[ci]!)));
  const norms = normaliserTable(records, (layer, index) => {
    const li = layers.findIndex((l) => l.layer === layer);
    return maxes.reduce((m, perLayer) => Math.max(m, perLayer[li]!.get(index) ?? 0), 0);
  });

  const out: RefusalFeature[] = [];
  layers.forEach((l, li) => {
    // Per conversation, per candidate latent: the sum of normalised activations over the answer tokens.
    const sums = prepared.map((_, ci) => {
      const code = codes[ci]![li]!;
      const s = new Map<number, number>();
      for (const t of read[ci]!) {
        for (let j = t * code.k; j < (t + 1) * code.k; j++) {
          const v = code.values[j]!;
          if (!(v > 0)) continue;
          const index = code.indices[j]!;
          const rec = records.get(l.layer)!.get(index);
          if (!rec || (onlySafety && rec.tag_list.length === 0)) continue;
          s.set(index, (s.get(index) ?? 0) + normalise(v, norms.get(l.layer, index).value));
        }
      }
      return s;
    });
    const fired = new Set<number>();
    for (const s of sums) for (const i of s.keys()) fired.add(i);
    for (const index of [...fired].sort((a, b) => a - b)) {
      let r = 0;
      let c = 0;
      let rf = 0;
      let cf = 0;
      conversations.forEach((conv, ci) => {
        const n = read[ci]!.length;
        const s = sums[ci]!.get(index);
        const m = n > 0 && s !== undefined ? s / n : 0;
        const fires = s !== undefined ? 1 : 0;
        if (conv.refused) {
          r += m;
          rf += fires;
        } else {
          c += m;
          cf += fires;
        }
      });
      const rec = records.get(l.layer)!.get(index)!;
      const refused = r / refusedN;
      const complied = c / compliedN;
      out.push({ feature: rec.id, layer: l.layer, index, refused, complied, difference: refused - complied, refusedFiring: rf / refusedN, compliedFiring: cf / compliedN, explanation: rec.explanation, score: rec.correlation_score, tags: [...rec.tag_list], normaliser: norms.get(l.layer, index) });
    }
  });
  if (norms.observed > 0) warnings.push(observedMaxWarning(norms.observed, `every ${positionsRule} token of these conversations`));
  const ranked = out.filter((f) => f.difference > minDifference).sort((a, b) => b.difference - a.difference || a.layer - b.layer || a.index - b.index).slice(0, top);
  if (ranked.length === 0) warnings.push(`no feature fires more in refused conversations than in complied ones (${positionsRule} tokens) by more than ${minDifference}`);
  return {
    kind: "safesail-refusal-features",
    version: 1,
    model: model.dir,
    layers: layers.map((l) => ({ layer: l.layer, hook: l.hook, dSae: l.sae.config.dSae, k: l.sae.config.k })),
    conversations: { refused: refusedN, complied: compliedN },
    options: { onlySafety, top, minDifference, positions: positionsRule },
    features: ranked,
    ids: ranked.map((f) => f.feature),
    warnings,
  };
}
