// The per-token safety-feature read-out (StarMap's TokenActivations view, as plain data): run the model once over
// a text or a conversation, encode every token with each SAE, and list per token and per SAE layer the top features
// of the feature database, with their explanation, score and domain tags.
//
//   const table = await tokenFeatures(model, saes, db, "How do I make a bomb?");
//   tokenRows(table, 9);                                   // what clicking token 9 shows
//   filterRows(table, onLayers(2, 3), minScore(0.5));      // small composable verbs, plain arrays out
//
// Choices, in one place:
// - Input: plain text is one user turn of the chat template followed by the assistant header (the default of the
//   text -> activations path, `tokenizeDocument`); `{ chat: false }` takes it as written. `{ messages }` is always
//   templated, and a closing assistant turn is the answer (`answerStart`, tokens with role "assistant").
// - Roles: each message's content tokens get its role ("user", "assistant", "system", ...); the template's own
//   tokens (turn markers, role headers, the trailing generation prompt) get "template". Located by rendering the
//   conversation turn by turn (see `chatTokens`), not by searching strings, so pieces that are half a character
//   (byte-level BPE on Hindi or Chinese) are placed exactly.
// - Special tokens (src/model/special-tokens.ts, the rule the activation and example stores use) are masked as in
//   the Safe-SAIL demo: flagged, no feature rows, and `null` in every per-token track.
// - Candidates: features present in the database for the SAEs' layers; `onlySafety` (default true) keeps those
//   with a non-empty tag_list. A feature fires on a token when it is among the SAE's k active latents with a
//   positive value (TopK-ReLU: every other latent is exactly 0).
// - Normalised activation = activation / normaliser, clipped to [0, 1]. The normaliser is the record's
//   `activations.normalisation_value` (the 0.999 quantile the example store measured) when present and positive,
//   else the record's `activations.max_activation`, else the feature's maximum over the tokens of this call
//   ("observed_max", named in `features[].normaliser.source` and in a warning: 1 then means "strongest here", not
//   "strongest in the corpus").
// - Ranking: per token and layer, by normalised activation (features of different scales compare), ties by raw
//   activation, then latent index; `rankBy: "activation"` ranks by the raw value.
// - Options `layers`, `domain`, `minScore` restrict the candidates BEFORE the top `top` are chosen (so a domain
//   filter still gives up to `top` rows per token); the verbs (`filterRows` with `onLayers`, `inDomain`, `minScore`)
//   only drop rows of a finished table.
// - Tracks (`features`): one number per token for the selected features (`select`) and the `tracks` (default 10)
//   features with the largest summed normalised activation over the rows, so a view can colour every token by them
//   without a second call; a track for every feature of a long text would dwarf the rows.
import { tokenizeDocument, documentActivations, TEXT_DEFAULTS } from "../activations/text.ts";
import { ArgumentError, FormatError, describeValue } from "../errors.ts";
import type { FeatureDb, FeatureRecord } from "../db/records.ts";
import { parseHookName } from "../model/hooks.ts";
import type { GenerateOptions, HookEdit, Model } from "../model/runtime.ts";
import { specialTokenTest } from "../model/special-tokens.ts";
import type { ChatMessage } from "../model/tokenizer.ts";
import { encodeTopKOrt } from "../sae/encode-ort.ts";
import { encodeTopK, type Sae, type SparseCode } from "../sae/sae.ts";
import { featureId, parseFeatureId } from "../safety.ts";
import { checkInt, checkNumber } from "../util/validate.ts";

/** What a token belongs to: a message's content (its role) or the chat template's own tokens. */
export type TokenRole = "user" | "assistant" | "system" | "template" | (string & {});

export interface TokenInfo {
  /** Position in the token sequence. */
  index: number;
  id: number;
  /** The decoded piece of this id alone (`Model.toStrTokens`; half a character shows as U+FFFD). */
  text: string;
  /**
   * The characters this token completes, so that the `display` of all tokens concatenates to the decoded text: ""
   * for a token that starts a character a later token finishes (byte-level BPE on non-Latin scripts).
   */
  display: string;
  /** A chat special token: masked (no rows, null in tracks). */
  special: boolean;
  role: TokenRole;
}

/** The input of the per-token APIs: plain text, or a chat conversation. */
export type TokenFeatureInput = string | { messages: readonly ChatMessage[] };

/** Where a normalised activation's divisor came from (see the header). */
export interface FeatureNormaliser {
  value: number;
  source: "normalisation_value" | "max_activation" | "observed_max";
}

export interface TokenFeatureRow {
  token: number;
  layer: number;
  /** `{layer}_{index}`. */
  feature: string;
  index: number;
  /** 1 for the token's strongest feature at this layer. */
  rank: number;
  /** Raw SAE activation. */
  activation: number;
  /** activation / normaliser, clipped to [0, 1] (the feature's track says which normaliser). */
  normalised: number;
  explanation: string | null;
  /** The record's correlation_score (Safe-SAIL's SLS score). */
  score: number | null;
  tags: string[];
}

/** One feature's activation at every token, for colouring tokens by selected features. */
export interface FeatureTrack {
  feature: string;
  layer: number;
  index: number;
  explanation: string | null;
  score: number | null;
  tags: string[];
  /** Whether the database holds a record for the feature. */
  inDb: boolean;
  normaliser: FeatureNormaliser;
  /** Per token; null at masked (special) tokens, 0 where the feature does not fire. */
  activation: (number | null)[];
  normalised: (number | null)[];
}

export interface SaeLayerInfo {
  layer: number;
  hook: string;
  dSae: number;
  k: number;
}

export interface TokenFeatureTable {
  kind: "safesail-token-features";
  version: 1;
  /** The model folder. */
  model: string;
  layers: SaeLayerInfo[];
  tokens: TokenInfo[];
  /** Index of the first token of the closing assistant turn, else null. */
  answerStart: number | null;
  options: { top: number; onlySafety: boolean; rankBy: "normalised" | "activation"; layers: number[] | null; domain: string | null; minScore: number | null; select: string[]; tracks: number | "all" };
  /** Per token (ascending), per layer (ascending), by rank. */
  rows: TokenFeatureRow[];
  /** The selected features (`options.select`), then the `options.tracks` strongest features of the rows, each once. */
  features: FeatureTrack[];
  warnings: string[];
}

export interface TokenFeatureOptions {
  /** Plain text as a chat user turn (default `TEXT_DEFAULTS.chat`, true). Ignored for `{ messages }`. */
  chat?: boolean;
  /** Features per token per layer (default 5). */
  top?: number;
  /** Only features with a non-empty tag_list (default true). */
  onlySafety?: boolean;
  /** Only these SAE layers. */
  layers?: number[];
  /** Only features tagged with this domain. */
  domain?: string;
  /** Only features whose correlation_score is at least this (features without a score are left out). */
  minScore?: number;
  /** Feature ids whose per-token track to return (whether or not they have a row). */
  select?: string[];
  /**
   * How many more tracks: those of the features with the largest summed normalised activation over the rows
   * (default 10; "all": every feature with a row). Tracks are T numbers each, so "all" on a long text is large.
   */
  tracks?: number | "all";
  rankBy?: "normalised" | "activation";
  /** The SAE encoder: onnxruntime (default, fast) or the plain-JS `encodeTopK`. */
  encoder?: "ort" | "js";
}

export const TOKEN_FEATURE_DEFAULTS = { top: 5, onlySafety: true, rankBy: "normalised", encoder: "ort", tracks: 10 } as const;

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces (the trajectory and the language comparison run the same path)

/** An SAE with the layer its hook reads. */
export interface SaeLayer {
  layer: number;
  hook: string;
  sae: Sae;
}

/** The SAEs by layer (ascending): each must name a residual-stream hook of the model and read its width; one per layer. */
export function saeLayers(model: Model, saes: readonly Sae[], where: string): SaeLayer[] {
  if (!Array.isArray(saes) || saes.length === 0) throw new ArgumentError(`${where}: saes: give at least one SAE`, { field: "saes" });
  const { numLayers, hiddenSize } = model.config;
  const out: SaeLayer[] = [];
  saes.forEach((sae, i) => {
    const hook = sae?.config?.hookName;
    if (typeof hook !== "string") throw new ArgumentError(`${where}: saes[${i}] records no hook (config.hookName), so its layer is unknown`, { field: "saes" });
    const { layer } = parseHookName(hook, { numLayers, arg: `${where}: saes[${i}].config.hookName` });
    if (sae.config.dIn !== hiddenSize) throw new ArgumentError(`${where}: saes[${i}] (${hook}) reads ${sae.config.dIn}-wide activations; the model's hidden size is ${hiddenSize}`, { field: "saes" });
    const twin = out.find((s) => s.layer === layer);
    if (twin) throw new ArgumentError(`${where}: saes[${i}] (${hook}) and ${twin.hook} both read layer ${layer}; feature ids {layer}_{index} need one SAE per layer`, { field: "saes" });
    out.push({ layer, hook, sae });
  });
  return out.sort((a, b) => a.layer - b.layer);
}

/** The database's records of the SAEs' layers, by layer and latent; a record past its SAE's width is an error. */
export function recordsByLayer(db: FeatureDb, layers: readonly SaeLayer[], where: string): Map<number, Map<number, FeatureRecord>> {
  if (!db || !Array.isArray(db.records)) throw new ArgumentError(`${where}: db: expected a feature database ({ records: [...] }), got ${describeValue(db)}`, { field: "db" });
  const out = new Map<number, Map<number, FeatureRecord>>(layers.map((l) => [l.layer, new Map()]));
  const dSae = new Map(layers.map((l) => [l.layer, l.sae.config.dSae]));
  for (const r of db.records) {
    const m = out.get(r.layer);
    if (!m) continue; // the database may cover layers no SAE of this call reads
    if (r.index >= dSae.get(r.layer)!) {
      throw new ArgumentError(`${where}: db: record ${r.id} is latent ${r.index}, but the SAE at layer ${r.layer} has ${dSae.get(r.layer)} latents (0..${dSae.get(r.layer)! - 1}); is the database from other SAEs?`, { field: "db" });
    }
    m.set(r.index, r);
  }
  return out;
}

/** The record's normaliser (normalisation_value, else max_activation), or null when it has neither. */
export function recordNormaliser(rec: FeatureRecord | undefined): FeatureNormaliser | null {
  const a = rec?.activations;
  if (a && Number.isFinite(a.normalisation_value) && a.normalisation_value > 0) return { value: a.normalisation_value, source: "normalisation_value" };
  if (a && Number.isFinite(a.max_activation) && a.max_activation > 0) return { value: a.max_activation, source: "max_activation" };
  return null;
}

/** activation / normaliser clipped to [0, 1]; 0 when the normaliser is 0 (a feature that never fired anywhere). */
export const normalise = (activation: number, normaliser: number): number => (normaliser > 0 ? Math.min(1, Math.max(0, activation / normaliser)) : 0);

/** The warning for features normalised by their maximum over the call's own tokens. */
export function observedMaxWarning(count: number, over: string): string {
  return `${count} feature(s) have no normalisation value in the database (activations.normalisation_value or max_activation); they are normalised by their maximum over ${over}, so 1 means "strongest here", not "strongest in the corpus"`;
}

/** A tokenised input with its token metadata. */
export interface PreparedTokens {
  ids: number[];
  tokens: TokenInfo[];
  answerStart: number | null;
}

function requireChatTemplate(model: Model, where: string): void {
  if (!model.tokenizer) throw new ArgumentError(`${where}: ${model.dir}: the model has no tokenizer; the per-token views need text`, { field: "model" });
  if (!model.tokenizer.hasChatTemplate) throw new ArgumentError(`${where}: ${model.dir}: the tokenizer has no chat template; pass plain text with chat: false`, { field: "chat" });
}

/** The conversation rendered by the chat template, as token ids (what `Model.toTokens` does for messages). */
function templateIds(model: Model, messages: readonly ChatMessage[], generationPrompt: boolean): number[] {
  const tok = model.tokenizer!;
  return tok.encode(tok.applyChatTemplate([...messages], { addGenerationPrompt: generationPrompt }), { addSpecialTokens: false });
}

const isPrefix = (p: readonly number[], of: readonly number[]) => p.length <= of.length && p.every((id, i) => of[i] === id);

/**
 * Token ids of a conversation and the role of each token. Turn i's tokens are those the template adds when the
 * conversation grows from i to i+1 messages (the template renders earlier turns as a prefix, which is checked). Within
 * a turn, the content is what differs from the same turn with empty content: the tokens shared at the start (the
 * role header) and at the end (the end-of-turn marker) are the template's. Tokens after the last turn (the
 * generation prompt) are the template's too.
 */
export function chatTokens(model: Model, messages: readonly ChatMessage[], generationPrompt: boolean, where: string): { ids: number[]; roles: TokenRole[] } {
  requireChatTemplate(model, where);
  const ids = templateIds(model, messages, generationPrompt);
  const roles: TokenRole[] = new Array(ids.length).fill("template");
  let before: number[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const upTo = templateIds(model, messages.slice(0, i + 1), false);
    const empty = templateIds(model, [...messages.slice(0, i), { role: m.role, content: "" }], false);
    if (!isPrefix(before, upTo) || !isPrefix(upTo, ids) || !isPrefix(before, empty)) {
      throw new FormatError(`${where}: the chat template does not render the conversation turn by turn as prefixes (at message ${i}), so token roles cannot be located`, { field: "messages" });
    }
    const turn = upTo.slice(before.length);
    const bare = empty.slice(before.length);
    let head = 0;
    while (head < turn.length && head < bare.length && turn[head] === bare[head]) head++;
    let tail = 0;
    while (tail < turn.length - head && tail < bare.length - head && turn[turn.length - 1 - tail] === bare[bare.length - 1 - tail]) tail++;
    for (let t = before.length + head; t < upTo.length - tail; t++) roles[t] = m.role;
    before = upTo;
  }
  return { ids, roles };
}

/** Per-token metadata: piece, display text, special flag, role. */
export function tokenInfos(model: Model, ids: readonly number[], roles: readonly TokenRole[]): TokenInfo[] {
  const isSpecial = specialTokenTest(model);
  const pieces = model.toStrTokens(ids);
  const tok = model.tokenizer!;
  const display: string[] = new Array(ids.length).fill("");
  // A UTF-8 character spans at most 4 bytes, and every token holds at least one: a group still ending in U+FFFD
  // after 4 tokens holds a genuine replacement character (or invalid bytes) and is shown as it decodes.
  let pending: number[] = [];
  ids.forEach((id, t) => {
    pending.push(id);
    const s = tok.decode(pending);
    if (s.endsWith("\uFFFD") && pending.length < 4 && t + 1 < ids.length) return;
    display[t] = s;
    pending = [];
  });
  return ids.map((id, t) => ({ index: t, id, text: pieces[t]!, display: display[t]!, special: isSpecial(id), role: roles[t]! }));
}

/** Token ids, roles and metadata of an input, through the text -> activations path's rules (`tokenizeDocument`). */
export function prepareTokens(model: Model, input: TokenFeatureInput, opts: { chat?: boolean }, where: string): PreparedTokens {
  if (!model.tokenizer) throw new ArgumentError(`${where}: ${model.dir}: the model has no tokenizer; the per-token views need text`, { field: "model" });
  if (typeof input === "string") {
    const chat = opts.chat ?? TEXT_DEFAULTS.chat;
    const { ids } = tokenizeDocument(model, input, { chat, where: `${where}: text` });
    if (!chat) return { ids, tokens: tokenInfos(model, ids, ids.map(() => "user")), answerStart: null };
    const located = chatTokens(model, [{ role: "user", content: input }], true, where);
    if (located.ids.length !== ids.length || !isPrefix(located.ids, ids)) throw new FormatError(`${where}: the chat template renders differently on a second call; cannot locate token roles`, { field: "text" });
    return { ids, tokens: tokenInfos(model, ids, located.roles), answerStart: null };
  }
  if (!input || typeof input !== "object" || !Array.isArray(input.messages)) {
    throw new ArgumentError(`${where}: input must be text or { messages: [{ role, content }...] }, got ${describeValue(input)}`, { field: "input" });
  }
  const messages = input.messages;
  const { ids, answerStart } = tokenizeDocument(model, { messages: [...messages] }, { where: `${where}: messages` });
  const last = messages[messages.length - 1]!;
  const located = chatTokens(model, messages, last.role !== "assistant", where);
  if (located.ids.length !== ids.length || !isPrefix(located.ids, ids)) throw new FormatError(`${where}: the chat template renders differently on a second call; cannot locate token roles`, { field: "messages" });
  return { ids, tokens: tokenInfos(model, ids, located.roles), answerStart };
}

/** Per document, per SAE layer: the TopK code of every token. One batched forward, one encoder call per SAE. */
export async function encodeDocuments(model: Model, layers: readonly SaeLayer[], docs: readonly { ids: readonly number[] }[], encoder: "ort" | "js" = "ort", edits?: Record<string, HookEdit>): Promise<SparseCode[][]> {
  const hooks = layers.map((l) => l.hook);
  const acts = await documentActivations(model, docs, hooks, edits ? { edits } : {});
  const D = model.config.hiddenSize;
  const total = docs.reduce((n, d) => n + d.ids.length, 0);
  const out: SparseCode[][] = docs.map(() => []);
  for (let h = 0; h < layers.length; h++) {
    const sae = layers[h]!.sae;
    const x = new Float32Array(total * D);
    let at = 0;
    docs.forEach((d, i) => {
      if (d.ids.length > 0) x.set(acts[i]![h]!, at * D);
      at += d.ids.length;
    });
    const code = encoder === "js" ? encodeTopK(sae, x, total) : await encodeTopKOrt(sae, x, total);
    const k = code.k;
    at = 0;
    docs.forEach((d, i) => {
      const n = d.ids.length;
      out[i]!.push({ k, indices: code.indices.slice(at * k, (at + n) * k), values: code.values.slice(at * k, (at + n) * k) });
      at += n;
    });
  }
  return out;
}

/** Activation of latent `index` at token `t` of a code (0 when it is not among the k active ones). */
export function codeValue(code: SparseCode, t: number, index: number): number {
  const k = code.k;
  for (let j = t * k; j < (t + 1) * k; j++) if (code.indices[j] === index) return code.values[j]!;
  return 0;
}

export function checkTokenFeatureOptions(opts: TokenFeatureOptions, where: string) {
  const top = checkInt(opts.top ?? TOKEN_FEATURE_DEFAULTS.top, "top", { min: 1, where });
  const rankBy = opts.rankBy ?? TOKEN_FEATURE_DEFAULTS.rankBy;
  if (rankBy !== "normalised" && rankBy !== "activation") throw new ArgumentError(`${where}: rankBy must be "normalised" or "activation", got ${describeValue(rankBy)}`, { field: "rankBy" });
  const encoder = opts.encoder ?? TOKEN_FEATURE_DEFAULTS.encoder;
  if (encoder !== "ort" && encoder !== "js") throw new ArgumentError(`${where}: encoder must be "ort" or "js", got ${describeValue(encoder)}`, { field: "encoder" });
  if (opts.layers !== undefined && !(Array.isArray(opts.layers) && opts.layers.every((l) => Number.isSafeInteger(l) && l >= 0))) {
    throw new ArgumentError(`${where}: layers must be a list of layer numbers, got ${describeValue(opts.layers)}`, { field: "layers" });
  }
  if (opts.domain !== undefined && typeof opts.domain !== "string") throw new ArgumentError(`${where}: domain must be a string, got ${describeValue(opts.domain)}`, { field: "domain" });
  if (opts.minScore !== undefined) checkNumber(opts.minScore, "minScore", { where });
  const select = opts.select ?? [];
  if (!Array.isArray(select)) throw new ArgumentError(`${where}: select must be a list of feature ids, got ${describeValue(select)}`, { field: "select" });
  for (const id of select) parseFeatureId(id, `${where}: select`);
  const tracks: number | "all" = opts.tracks === "all" ? "all" : checkInt(opts.tracks ?? TOKEN_FEATURE_DEFAULTS.tracks, "tracks", { min: 0, where, label: 'tracks (a count or "all")' });
  return { top, rankBy, encoder, onlySafety: opts.onlySafety ?? TOKEN_FEATURE_DEFAULTS.onlySafety, layers: opts.layers ?? null, domain: opts.domain ?? null, minScore: opts.minScore ?? null, select: [...new Set(select)], tracks };
}

/** Whether a record passes the candidate options. */
export function isCandidate(rec: FeatureRecord, o: { onlySafety: boolean; layers: number[] | null; domain: string | null; minScore: number | null }): boolean {
  if (o.onlySafety && rec.tag_list.length === 0) return false;
  if (o.layers !== null && !o.layers.includes(rec.layer)) return false;
  if (o.domain !== null && !rec.tag_list.includes(o.domain)) return false;
  if (o.minScore !== null && !(rec.correlation_score !== null && rec.correlation_score >= o.minScore)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// The table

/** The table of an already tokenised and encoded input (tokenFeatures and generateWithFeatures share it). */
export function buildTable(model: Model, layers: readonly SaeLayer[], db: FeatureDb, prepared: PreparedTokens, codes: readonly SparseCode[], options: ReturnType<typeof checkTokenFeatureOptions>, where: string): TokenFeatureTable {
  const records = recordsByLayer(db, layers, where);
  const warnings: string[] = [];
  const { tokens } = prepared;
  const T = tokens.length;
  for (const l of options.layers ?? []) if (!layers.some((s) => s.layer === l)) warnings.push(`layers: no SAE reads layer ${l} (the SAEs read ${layers.map((s) => s.layer).join(", ")})`);
  for (const id of options.select) {
    const { layer } = parseFeatureId(id);
    if (!layers.some((s) => s.layer === layer)) throw new ArgumentError(`${where}: select: ${id}: no SAE reads layer ${layer} (the SAEs read ${layers.map((s) => s.layer).join(", ")})`, { field: "select" });
    const dSae = layers.find((s) => s.layer === layer)!.sae.config.dSae;
    if (parseFeatureId(id).index >= dSae) throw new ArgumentError(`${where}: select: ${id}: the SAE at layer ${layer} has ${dSae} latents`, { field: "select" });
  }

  // Normalisers: the record's, else the feature's maximum over this input's unmasked tokens.
  const normalisers = new Map<string, FeatureNormaliser>();
  const observed = new Set<string>();
  // Per layer, every latent's maximum over the unmasked tokens (one pass over the codes).
  const observedMax = layers.map((l, li) => {
    const max = new Float32Array(l.sae.config.dSae);
    const code = codes[li]!;
    for (let t = 0; t < T; t++) {
      if (tokens[t]!.special) continue;
      for (let j = t * code.k; j < (t + 1) * code.k; j++) if (code.values[j]! > max[code.indices[j]!]!) max[code.indices[j]!] = code.values[j]!;
    }
    return max;
  });
  const normaliserOf = (li: number, index: number): FeatureNormaliser => {
    const layer = layers[li]!.layer;
    const id = featureId(layer, index);
    let n = normalisers.get(id);
    if (n) return n;
    n = recordNormaliser(records.get(layer)!.get(index)) ?? undefined;
    if (!n) {
      n = { value: observedMax[li]![index]!, source: "observed_max" };
      observed.add(id);
    }
    normalisers.set(id, n);
    return n;
  };

  const rows: TokenFeatureRow[] = [];
  let candidates = 0;
  for (const l of layers) for (const r of records.get(l.layer)!.values()) if (isCandidate(r, options)) candidates++;
  if (candidates === 0) warnings.push(`the database has no candidate feature for the SAEs' layers (${layers.map((s) => s.layer).join(", ")}) under the options (onlySafety ${options.onlySafety}${options.domain ? `, domain ${options.domain}` : ""}${options.minScore !== null ? `, minScore ${options.minScore}` : ""}); the table has no rows`);
  for (let t = 0; t < T; t++) {
    if (tokens[t]!.special) continue;
    layers.forEach((l, li) => {
      const code = codes[li]!;
      const recs = records.get(l.layer)!;
      const hits: { index: number; activation: number; normalised: number; rec: FeatureRecord }[] = [];
      for (let j = t * code.k; j < (t + 1) * code.k; j++) {
        const a = code.values[j]!;
        if (!(a > 0)) continue;
        const index = code.indices[j]!;
        const rec = recs.get(index);
        if (!rec || !isCandidate(rec, options)) continue;
        hits.push({ index, activation: a, normalised: normalise(a, normaliserOf(li, index).value), rec });
      }
      hits.sort((a, b) => (options.rankBy === "normalised" ? b.normalised - a.normalised : 0) || b.activation - a.activation || a.index - b.index);
      hits.slice(0, options.top).forEach((h, r) =>
        rows.push({ token: t, layer: l.layer, feature: h.rec.id, index: h.index, rank: r + 1, activation: h.activation, normalised: h.normalised, explanation: h.rec.explanation, score: h.rec.correlation_score, tags: [...h.rec.tag_list] }),
      );
    });
  }

  // Tracks: the selected features, then the `tracks` strongest of the rows (by summed normalised activation).
  const strength = new Map<string, number>();
  for (const r of rows) strength.set(r.feature, (strength.get(r.feature) ?? 0) + r.normalised);
  const strongest = [...strength].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
  const trackIds = [...new Set([...options.select, ...(options.tracks === "all" ? strongest : strongest.slice(0, options.tracks))])];
  const features = trackIds.map((id): FeatureTrack => {
    const { layer, index } = parseFeatureId(id);
    const li = layers.findIndex((s) => s.layer === layer);
    const rec = records.get(layer)!.get(index);
    const norm = normaliserOf(li, index);
    const activation = tokens.map((tk, t) => (tk.special ? null : codeValue(codes[li]!, t, index)));
    return {
      feature: id,
      layer,
      index,
      explanation: rec?.explanation ?? null,
      score: rec?.correlation_score ?? null,
      tags: rec ? [...rec.tag_list] : [],
      inDb: rec !== undefined,
      normaliser: norm,
      activation,
      normalised: activation.map((a) => (a === null ? null : normalise(a, norm.value))),
    };
  });
  if (observed.size > 0) warnings.push(observedMaxWarning(observed.size, "this input's tokens"));
  const silent = features.filter((f) => f.normaliser.value === 0);
  if (silent.length > 0) warnings.push(`selected feature(s) ${silent.map((f) => f.feature).join(", ")} never fire on this input and have no normaliser in the database; their normalised track is all 0`);

  return {
    kind: "safesail-token-features",
    version: 1,
    model: model.dir,
    layers: layers.map((l) => ({ layer: l.layer, hook: l.hook, dSae: l.sae.config.dSae, k: l.sae.config.k })),
    tokens,
    answerStart: prepared.answerStart,
    options: { top: options.top, onlySafety: options.onlySafety, rankBy: options.rankBy, layers: options.layers, domain: options.domain, minScore: options.minScore, select: options.select, tracks: options.tracks },
    rows,
    features,
    warnings,
  };
}

/**
 * The per-token safety-feature table of a text or conversation: one forward pass with each SAE's hook cached, every
 * token encoded with each SAE, the top `top` candidate features per token and layer (see the header for every rule).
 */
export async function tokenFeatures(model: Model, saes: readonly Sae[], db: FeatureDb, input: TokenFeatureInput, opts: TokenFeatureOptions = {}): Promise<TokenFeatureTable> {
  const where = "tokenFeatures";
  const options = checkTokenFeatureOptions(opts, where);
  const layers = saeLayers(model, saes, where);
  const prepared = prepareTokens(model, input, opts, where);
  if (prepared.ids.length === 0) throw new ArgumentError(`${where}: the input has no tokens`, { field: "input" });
  const [codes] = await encodeDocuments(model, layers, [prepared], options.encoder);
  return buildTable(model, layers, db, prepared, codes!, options, where);
}

export interface GenerateWithFeaturesOptions extends TokenFeatureOptions, Pick<GenerateOptions, "maxNewTokens" | "temperature" | "topP" | "seed" | "stopTokenIds" | "onToken" | "hooks"> {}

export interface GenerationWithFeatures {
  /** The generated answer (without the stop token). */
  text: string;
  promptIds: number[];
  /** The generated ids. */
  ids: number[];
  finishReason: "stop" | "length";
  /** Over the prompt and the answer; the answer's tokens have role "assistant" and start at `answerStart`. */
  table: TokenFeatureTable;
}

/**
 * The conversational view: the model answers `prompt` (a user message in the chat template, or a conversation that
 * does not end with an assistant turn), streaming each new token through `onToken` (model.generate's), then the
 * table over the prompt and the answer. The table costs one extra forward over the whole conversation (the exact
 * generated ids, not a re-tokenisation of the answer text); generation itself caches no hook.
 */
export async function generateWithFeatures(model: Model, saes: readonly Sae[], db: FeatureDb, prompt: TokenFeatureInput, opts: GenerateWithFeaturesOptions = {}): Promise<GenerationWithFeatures> {
  const where = "generateWithFeatures";
  const options = checkTokenFeatureOptions(opts, where);
  const layers = saeLayers(model, saes, where);
  requireChatTemplate(model, where);
  const messages: ChatMessage[] = typeof prompt === "string" ? [{ role: "user", content: prompt }] : Array.isArray(prompt?.messages) ? [...prompt.messages] : [];
  if (messages.length === 0) throw new ArgumentError(`${where}: prompt must be text or { messages } with at least one message`, { field: "prompt" });
  if (messages[messages.length - 1]!.role === "assistant") throw new ArgumentError(`${where}: the conversation already ends with an assistant turn; give the messages up to the user's turn`, { field: "prompt" });
  const { ids: promptIds, roles } = chatTokens(model, messages, true, where);
  const gen = await model.generate({ ids: promptIds, maxNewTokens: opts.maxNewTokens, temperature: opts.temperature, topP: opts.topP, seed: opts.seed, stopTokenIds: opts.stopTokenIds, onToken: opts.onToken, hooks: opts.hooks });
  const ids = [...promptIds, ...gen.ids];
  const prepared: PreparedTokens = { ids, tokens: tokenInfos(model, ids, [...roles, ...gen.ids.map(() => "assistant")]), answerStart: promptIds.length };
  // With hooks (steering), the table reads the edited activations: what the steered model computed.
  const [codes] = await encodeDocuments(model, layers, [prepared], options.encoder, opts.hooks);
  const table = buildTable(model, layers, db, prepared, codes!, options, where);
  return { text: gen.text, promptIds, ids: gen.ids, finishReason: gen.finishReason, table };
}

/** The JSON part of GenerateWithFeaturesOptions: what a published page needs to repeat the call. */
export type FeatureAnalyserOptions = Omit<GenerateWithFeaturesOptions, "onToken" | "hooks">;

/**
 * The `analyse` of a TokenActivations view on generateWithFeatures: `(prompt, onText) =>` the answer streamed through
 * `onText`, then the table. It carries `inPage` (the model's name, the SAEs' hooks and `opts`), so that a notebook
 * published with the model's in-page pack answers Generate in the reader's browser with the same call.
 *
 *   tokenActivations({ analyse: featureAnalyser(model, saes, db, { maxNewTokens: 48 }), prompt })
 */
export function featureAnalyser(model: Model, saes: readonly Sae[], db: FeatureDb, opts: FeatureAnalyserOptions = {}) {
  const where = "featureAnalyser";
  checkTokenFeatureOptions(opts, where);
  saeLayers(model, saes, where);
  const options: Record<string, string | number | boolean | null | string[] | number[]> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined) continue;
    if (typeof v === "function") throw new ArgumentError(`${where}: opts.${k} is a function; give JSON options only (the view streams the answer itself)`, { field: k });
    options[k] = v as string | number | boolean | string[] | number[];
  }
  const analyse = (prompt: string, onText: (piece: string) => void) => generateWithFeatures(model, saes, db, prompt, { ...opts, onToken: (_id, piece) => onText(piece) });
  return Object.assign(analyse, { inPage: { model: model.name, saes: saes.map((s) => s.config.hookName ?? ""), options } });
}

// ---------------------------------------------------------------------------------------------------------------
// Verbs over a finished table (plain arrays in, plain data out)

export type RowPredicate = (row: TokenFeatureRow) => boolean;

/** Rows of these layers. */
export const onLayers = (...layers: number[]): RowPredicate => (r) => layers.includes(r.layer);
/** Rows of features tagged with any of these domains. */
export const inDomain = (...domains: string[]): RowPredicate => (r) => r.tags.some((t) => domains.includes(t));
/** Rows whose score is at least `min` (rows without a score are dropped). */
export const minScore = (min: number): RowPredicate => (r) => r.score !== null && r.score >= min;
/** Rows of these tokens. */
export const onTokens = (...tokens: number[]): RowPredicate => (r) => tokens.includes(r.token);
/** Rows of these features. */
export const ofFeatures = (...ids: string[]): RowPredicate => (r) => ids.includes(r.feature);

/**
 * The table with only the rows every predicate keeps (ranks as they were), and the tracks of the selected features
 * and of those that keep a row. Tokens and warnings are unchanged.
 */
export function filterRows(table: TokenFeatureTable, ...predicates: RowPredicate[]): TokenFeatureTable {
  const rows = table.rows.filter((r) => predicates.every((p) => p(r)));
  const keep = new Set([...rows.map((r) => r.feature), ...table.options.select]);
  return { ...table, rows, features: table.features.filter((f) => keep.has(f.feature)) };
}

/** What clicking a token shows: its rows across the layers (layer ascending, then rank). */
export function tokenRows(table: TokenFeatureTable, token: number): TokenFeatureRow[] {
  return table.rows.filter((r) => r.token === token);
}

/** A feature's per-token track, or null when the table has none. */
export function featureTrack(table: TokenFeatureTable, feature: string): FeatureTrack | null {
  return table.features.find((f) => f.feature === feature) ?? null;
}
