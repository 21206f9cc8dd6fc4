// TokenActivations: the conversational view of StarMap (the view is widgets/src/views/token-activations.ts; the
// synced state is TokenActivationsState in widgets/src/protocol.ts).
//
//   const view = tokenActivations({
//     analyse: (prompt, onText) => generateWithFeatures(model, saes, db, prompt, { onToken: (_id, piece) => onText(piece) }),
//   });
//   view                 // the cell's last expression shows it: type a prompt, press Generate
//   await view.generate("How do I pick a lock?");   // or from kernel code
//
// `analyse(prompt, onText, signal)` is the kernel's side of a Generate click: it streams the answer through
// `onText(piece)` (each call appends a piece; the view shows the text growing) and returns the per-token table,
// either as a TokenView or as `{ table, text }` (src/steer's GenerationWithFeatures is one; its `table`, a
// TokenFeatureTable, is a TokenView). The widget takes plain data only: nothing here imports the library.
//
// What the widget does with a TokenView (tokenViewState): features are listed once (`features`) and referred to by
// index; rows become float32 columns ordered by token, layer and normalised activation (descending); tracks become
// one tokens-long float32 row each, NaN at masked tokens. Chat special tokens are masked: a row on one is dropped
// (and the warning says how many), and it is never coloured. The strongest feature of the view (largest summed
// normalised activation over the rows) is selected to colour the tokens.
//
// Requests are numbered as MetricPlot's are: a Generate while another runs supersedes it (its signal is aborted;
// its late text and result are dropped). Streamed text is sent at most every `streamIntervalMs` (default 50 ms;
// 0 sends each piece as it comes), and whatever is pending goes out before the result.
import {
  TOKEN_ACTIVATIONS_MODEL,
  TOKEN_ACTIVATIONS_VIEW,
  TOKEN_ANSWER,
  TOKEN_GENERATE_EVENT,
  TOKEN_SPECIAL,
  type FeatureInfo,
  type InPageSpec,
  type TokenActivationsState,
  type TokenActivationsStatus,
} from "../../../widgets/src/protocol.ts";
import { SafesailWidget, type SafesailDomProps, type SafesailState } from "./custom.ts";
import { defineStateAccessors, type WidgetOptions } from "./widget.ts";

export type { FeatureInfo, TokenActivationsState, TokenActivationsStatus };

/** A token of a view (src/steer's TokenInfo is one). */
export interface TokenViewToken {
  /** The decoded piece of this id alone. */
  text: string;
  /** What the token shows so that all of them concatenate to the decoded text; `text` when absent. */
  display?: string;
  /** A chat special token: masked (no rows, never coloured). */
  special?: boolean;
  role?: string;
}

/** One (token, layer, feature) row (src/steer's TokenFeatureRow is one). */
export interface TokenViewRow {
  token: number;
  layer: number;
  /** `{layer}_{index}`. */
  feature: string;
  /** Activation divided by the feature's normaliser, in [0, 1]. */
  normalised: number;
  activation?: number;
  explanation: string | null;
  score: number | null;
  tags: readonly string[];
}

/** A feature's normalised activation at every token (src/steer's FeatureTrack is one). */
export interface TokenViewTrack {
  feature: string;
  layer: number;
  explanation: string | null;
  score: number | null;
  tags: readonly string[];
  /** Per token; null at masked tokens. */
  normalised: readonly (number | null)[];
}

/** The per-token feature table as plain data (src/steer's TokenFeatureTable is one). */
export interface TokenView {
  tokens: readonly TokenViewToken[];
  /** Index of the first answer token, or null / absent when the view has no answer. */
  answerStart?: number | null;
  /** The SAE layers (numbers or `{ layer }`); the rows' layers when absent. */
  layers?: readonly (number | { layer: number })[];
  rows: readonly TokenViewRow[];
  /** Per-token tracks of some features (src/steer calls them `features`). */
  features?: readonly TokenViewTrack[];
  warnings?: readonly string[];
}

/** What `analyse` returns: a view, or `{ table, text }` (src/steer's GenerationWithFeatures). */
export type TokenAnalysis = TokenView | { table: TokenView; text?: string };

export type TokenAnalyse = (prompt: string, onText: (piece: string) => void, signal: AbortSignal) => TokenAnalysis | Promise<TokenAnalysis>;

export interface TokenActivationsInit extends Partial<SafesailDomProps> {
  analyse: TokenAnalyse;
  /** The prompt box's text. Without `initial`, the widget generates for it at once. */
  prompt?: string;
  /** A view to show from the start (e.g. computed earlier), without calling `analyse`. */
  initial?: TokenAnalysis;
  title?: string;
  /** Least time between two streamed-text updates (default 50 ms; 0: every piece). */
  streamIntervalMs?: number;
  /**
   * How a published page runs `analyse` itself (protocol.ts InPageSpec); default: `analyse.inPage` when it has one
   * (src/steer's featureAnalyser sets it), else null (a published page shows the saved view only).
   */
  inPage?: InPageSpec | null;
}

/** The part of the state a view fills in, plus what the widget reports about it. */
export type TokenViewData = Pick<TokenActivationsState, "tokens" | "token_flags" | "layers" | "domains" | "features" | "rows" | "tracks"> & {
  /** The feature to colour the tokens by: the largest summed normalised activation over the rows ("" when none). */
  strongest: string;
  warnings: string[];
};

// ---- checks shared by the StarMap widgets ---------------------------------------------------------------------

const show = (v: unknown): string => {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v !== null && typeof v === "object") return "an object";
  return String(v);
};

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function checkList(value: unknown, where: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list, got ${show(value)}`);
  return value;
}

export function checkRecord(value: unknown, where: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`${where}: expected an object, got ${show(value)}`);
  return value;
}

export function checkString(value: unknown, where: string): string {
  if (typeof value !== "string") throw new Error(`${where}: expected a string, got ${show(value)}`);
  return value;
}

export function checkFinite(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`${where}: expected a finite number, got ${show(value)}`);
  return value;
}

export function checkIndex(value: unknown, size: number, where: string, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value >= size) {
    throw new Error(`${where}: expected a ${what} index 0..${size - 1}, got ${show(value)}`);
  }
  return value;
}

/** A score: a finite number or null (undefined counts as null). */
export function checkScore(value: unknown, where: string): number | null {
  if (value === null || value === undefined) return null;
  return checkFinite(value, where);
}

export function checkTags(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  return checkList(value, where).map((t, i) => checkString(t, `${where}[${i}]`));
}

/** A feature's id, layer, explanation, score and tags from any object that has them (a row, a track, a node). */
/** An InPageSpec (or null): the model's name, the SAE hook names and JSON options; errors name the field. */
export function checkInPageSpec(value: unknown, where: string): InPageSpec | null {
  if (value === null) return null;
  const o = checkRecord(value, where);
  const model = checkString(o.model, `${where}.model`);
  if (model === "") throw new Error(`${where}.model: the model's name is empty`);
  const saes = checkList(o.saes, `${where}.saes`).map((h, i) => checkString(h, `${where}.saes[${i}]`));
  const options = checkRecord(o.options ?? {}, `${where}.options`);
  for (const [k, v] of Object.entries(options)) {
    const plain = (x: unknown) => x === null || ["string", "number", "boolean"].includes(typeof x);
    if (!(plain(v) || (Array.isArray(v) && v.every(plain)))) throw new Error(`${where}.options.${k}: expected JSON (a string, number, boolean, null or a list of them), got ${show(v)}`);
  }
  return { model, saes, options: options as InPageSpec["options"] };
}

export function featureInfo(o: Record<string, unknown>, idKey: string, where: string): FeatureInfo {
  const id = checkString(o[idKey], `${where}.${idKey}`);
  if (id === "") throw new Error(`${where}.${idKey}: empty feature id`);
  const layer = o.layer;
  if (typeof layer !== "number" || !Number.isInteger(layer) || layer < 0) throw new Error(`${where}.layer: expected a layer number, got ${show(layer)}`);
  const explanation = o.explanation === null || o.explanation === undefined ? "" : checkString(o.explanation, `${where}.explanation`);
  return { id, layer, explanation, score: checkScore(o.score, `${where}.score`), tags: checkTags(o.tags, `${where}.tags`) };
}

/** Tokens as the views show them: text (display when given) and TOKEN_SPECIAL / TOKEN_ANSWER flags. */
export function tokenColumns(tokensValue: unknown, answerStartValue: unknown, where: string): { tokens: string[]; flags: Float32Array } {
  const list = checkList(tokensValue, `${where}.tokens`);
  const tokens: string[] = [];
  const flags = new Float32Array(list.length);
  let answerStart: number | null = null;
  if (answerStartValue !== null && answerStartValue !== undefined) {
    if (typeof answerStartValue !== "number" || !Number.isInteger(answerStartValue) || answerStartValue < 0 || answerStartValue > list.length) {
      throw new Error(`${where}.answerStart: expected a token index 0..${list.length} or null, got ${show(answerStartValue)}`);
    }
    answerStart = answerStartValue;
  }
  list.forEach((t, i) => {
    const tw = `${where}.tokens[${i}]`;
    const tok = checkRecord(t, tw);
    const text = checkString(tok.text, `${tw}.text`);
    const display = tok.display === undefined ? text : checkString(tok.display, `${tw}.display`);
    if (tok.special !== undefined && typeof tok.special !== "boolean") throw new Error(`${tw}.special: expected true or false, got ${show(tok.special)}`);
    tokens.push(display);
    flags[i] = (tok.special === true ? TOKEN_SPECIAL : 0) | (answerStart !== null && i >= answerStart ? TOKEN_ANSWER : 0);
  });
  return { tokens, flags };
}

/** The layer numbers of a `layers` list (numbers or `{ layer }`), ascending and distinct. */
export function layerNumbers(value: unknown, where: string): number[] {
  const out = checkList(value, where).map((l, i) => {
    const n = typeof l === "number" ? l : isRecord(l) ? l.layer : undefined;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new Error(`${where}[${i}]: expected a layer number or { layer }, got ${show(l)}`);
    return n;
  });
  return [...new Set(out)].sort((a, b) => a - b);
}

/** Keeps the first description of each feature id; a second one at another layer is an error. */
export class FeatureIndex {
  readonly features: FeatureInfo[] = [];
  readonly #byId = new Map<string, number>();

  add(info: FeatureInfo, where: string): number {
    const i = this.#byId.get(info.id);
    if (i !== undefined) {
      const known = this.features[i]!;
      if (known.layer !== info.layer) throw new Error(`${where}: feature ${info.id} is at layer ${info.layer} here and at layer ${known.layer} before`);
      return i;
    }
    this.#byId.set(info.id, this.features.length);
    this.features.push(info);
    return this.features.length - 1;
  }

  get(id: string): number | undefined {
    return this.#byId.get(id);
  }
}

// ---- the adapter ------------------------------------------------------------------------------------------------

/** The view (or `{ table }`) a TokenAnalysis holds, and its answer text when it says. */
function unwrap(analysis: unknown, where: string): { view: Record<string, unknown>; text: string | undefined } {
  const o = checkRecord(analysis, where);
  if (!Array.isArray(o.tokens) && isRecord(o.table)) {
    const text = o.text === undefined ? undefined : checkString(o.text, `${where}.text`);
    return { view: o.table, text };
  }
  return { view: o, text: undefined };
}

/**
 * A TokenView in the form the state keeps (see the file comment). Throws an error naming the field
 * (`view.rows[3].token`) for anything the view cannot show.
 */
export function tokenViewState(view: TokenView, where = "view"): TokenViewData {
  const v = checkRecord(view, where);
  const { tokens, flags } = tokenColumns(v.tokens, v.answerStart, where);
  const T = tokens.length;
  const index = new FeatureIndex();
  const warnings: string[] = v.warnings === undefined ? [] : checkList(v.warnings, `${where}.warnings`).map((w, i) => checkString(w, `${where}.warnings[${i}]`));

  const rowList = checkList(v.rows, `${where}.rows`);
  const rows: { token: number; feature: number; layer: number; normalised: number; activation: number; order: number }[] = [];
  let masked = 0;
  rowList.forEach((r, i) => {
    const rw = `${where}.rows[${i}]`;
    const row = checkRecord(r, rw);
    const token = checkIndex(row.token, T, `${rw}.token`, "token");
    const info = featureInfo(row, "feature", rw);
    const normalised = checkFinite(row.normalised, `${rw}.normalised`);
    const activation = row.activation === undefined ? NaN : checkFinite(row.activation, `${rw}.activation`);
    const feature = index.add(info, rw);
    if (flags[token]! & TOKEN_SPECIAL) {
      masked++;
      return;
    }
    rows.push({ token, feature, layer: info.layer, normalised, activation, order: i });
  });
  if (masked > 0) warnings.push(`${masked} row${masked === 1 ? "" : "s"} on chat special tokens dropped: special tokens are masked`);
  rows.sort((a, b) => a.token - b.token || a.layer - b.layer || b.normalised - a.normalised || a.order - b.order);

  const trackList = v.features === undefined ? [] : checkList(v.features, `${where}.features`);
  const trackFeatures: number[] = [];
  const trackValues = new Float32Array(trackList.length * T);
  trackList.forEach((t, i) => {
    const tw = `${where}.features[${i}]`;
    const track = checkRecord(t, tw);
    const feature = index.add(featureInfo(track, "feature", tw), tw);
    const values = checkList(track.normalised, `${tw}.normalised`);
    if (values.length !== T) throw new Error(`${tw}.normalised: ${values.length} values for ${T} tokens`);
    values.forEach((x, j) => {
      const masked = (flags[j]! & TOKEN_SPECIAL) !== 0;
      trackValues[i * T + j] = x === null || masked ? NaN : checkFinite(x, `${tw}.normalised[${j}]`);
    });
    trackFeatures.push(feature);
  });

  const layers = v.layers === undefined ? [...new Set(index.features.map((f) => f.layer))].sort((a, b) => a - b) : layerNumbers(v.layers, `${where}.layers`);
  for (const f of index.features) {
    if (!layers.includes(f.layer)) throw new Error(`${where}: feature ${f.id} is at layer ${f.layer}, which is not among the view's layers (${layers.join(", ")})`);
  }

  // The strongest feature: summed normalised activation over the rows; ties go to the lower layer, then the id.
  const sums = new Float64Array(index.features.length);
  for (const r of rows) sums[r.feature]! += r.normalised;
  let strongest = -1;
  for (let f = 0; f < sums.length; f++) {
    if (rows.length === 0) break;
    if (strongest < 0 || sums[f]! > sums[strongest]!) strongest = f;
  }
  if (strongest < 0 && trackFeatures.length > 0) strongest = trackFeatures[0]!;

  return {
    tokens,
    token_flags: flags,
    layers,
    domains: [...new Set(index.features.flatMap((f) => f.tags))].sort(),
    features: index.features,
    rows: {
      token: Float32Array.from(rows, (r) => r.token),
      feature: Float32Array.from(rows, (r) => r.feature),
      normalised: Float32Array.from(rows, (r) => r.normalised),
      activation: Float32Array.from(rows, (r) => r.activation),
    },
    tracks: { feature: Float32Array.from(trackFeatures), values: trackValues },
    strongest: strongest < 0 ? "" : index.features[strongest]!.id,
    warnings,
  };
}

// ---- the widget -------------------------------------------------------------------------------------------------

const STATUSES: readonly TokenActivationsStatus[] = ["ready", "generating", "error"];

function emptyData(): Omit<TokenViewData, "strongest" | "warnings"> {
  return {
    tokens: [],
    token_flags: new Float32Array(0),
    layers: [],
    domains: [],
    features: [],
    rows: { token: new Float32Array(0), feature: new Float32Array(0), normalised: new Float32Array(0), activation: new Float32Array(0) },
    tracks: { feature: new Float32Array(0), values: new Float32Array(0) },
  };
}

export interface TokenActivations extends TokenActivationsState {}

/** TokenActivationsModel (module "safesail-widgets"); `tokenActivations(init)` is `new TokenActivations(init)`. */
export class TokenActivations extends SafesailWidget<TokenActivationsState> {
  /** Only the kernel writes the table; its buffers are not echoed. */
  static override readonly noEcho: readonly string[] = ["tokens", "token_flags", "layers", "domains", "features", "rows", "tracks", "answer"];

  readonly #analyse: TokenAnalyse;
  readonly #interval: number;
  #requested = 0;
  #controller: AbortController | undefined;
  #pending: Promise<void> = Promise.resolve();

  constructor(init: TokenActivationsInit, opts: WidgetOptions = {}) {
    const { analyse, initial, streamIntervalMs, prompt, inPage, ...rest } = init;
    if (typeof analyse !== "function") throw new Error("TokenActivations: analyse must be a function (prompt, onText) => TokenView");
    const interval = streamIntervalMs ?? 50;
    if (typeof interval !== "number" || !(interval >= 0)) throw new Error(`TokenActivations: streamIntervalMs must be a number >= 0, got ${show(interval)}`);
    let start: Partial<TokenActivationsState> = {};
    if (initial !== undefined) {
      const { view, text } = unwrap(initial, "TokenActivations: initial");
      const data = tokenViewState(view as unknown as TokenView, "TokenActivations: initial");
      const { strongest, warnings, ...columns } = data;
      start = { ...columns, selected: strongest, message: warnings.join("; "), answer: text ?? "", revision: 1 };
    }
    super({ model: TOKEN_ACTIVATIONS_MODEL, view: TOKEN_ACTIVATIONS_VIEW }, {
      title: "", prompt: "", status: "ready", message: "", answer: "", revision: 0,
      ...emptyData(),
      selected: "", token: -1, filter_layer: -1, filter_domain: "", min_score: null, in_page: null,
    }, { ...rest, ...start, prompt: prompt ?? "", in_page: inPage ?? (analyse as { inPage?: InPageSpec }).inPage ?? null }, opts);
    this.#analyse = analyse;
    this.#interval = interval;
    this.on("msg:custom", (content) => {
      if (content.event !== TOKEN_GENERATE_EVENT) return;
      if (typeof content.prompt !== "string") throw new Error(`TokenActivations: a "${TOKEN_GENERATE_EVENT}" message without a prompt string`);
      return this.generate(content.prompt);
    });
    if (initial === undefined && prompt !== undefined && prompt.trim() !== "") void this.generate(prompt);
  }

  /**
   * Generates for `prompt` (default: the prompt box's): streams the answer into the view, then shows the table.
   * Resolves when this request's result (or error) is applied, or when a newer request superseded it.
   */
  generate(prompt: string = this.get("prompt")): Promise<void> {
    if (typeof prompt !== "string") throw new Error(`TokenActivations.generate: prompt must be a string, got ${show(prompt)}`);
    const id = ++this.#requested;
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    const current = () => id === this.#requested && !this.closed;
    if (prompt.trim() === "") {
      this.set({ prompt, status: "error", message: "type a prompt first" });
      this.#pending = Promise.resolve();
      return this.#pending;
    }
    this.holdSync(() => this.set({ prompt, status: "generating", answer: "", message: "" }));

    let streamed = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      if (current() && this.get("answer") !== streamed) this.set({ answer: streamed });
    };
    const onText = (piece: string) => {
      if (!current() || typeof piece !== "string" || piece === "") return;
      streamed += piece;
      if (this.#interval === 0) flush();
      else timer ??= setTimeout(flush, this.#interval);
    };

    const run = (async () => {
      try {
        const result = await this.#analyse(prompt, onText, controller.signal);
        if (timer !== undefined) clearTimeout(timer);
        if (!current()) return;
        const { view, text } = unwrap(result, "analyse returned");
        // Checked before anything is set, so a bad view cannot leave half of itself on screen.
        this.#apply(tokenViewState(view as unknown as TokenView, "analyse returned"), text ?? streamed);
      } catch (err) {
        if (timer !== undefined) clearTimeout(timer);
        if (!current()) return;
        const message = err instanceof Error ? err.message : String(err);
        this.holdSync(() => {
          if (this.get("answer") !== streamed) this.set({ answer: streamed });
          this.set({ status: "error", message: message || "analyse failed" });
        });
      }
    })();
    this.#pending = run;
    return run;
  }

  /** Shows a view computed elsewhere (no generation); `text` is the answer, when the view has one. */
  setView(analysis: TokenAnalysis, prompt?: string): void {
    ++this.#requested;
    this.#controller?.abort();
    const { view, text } = unwrap(analysis, "TokenActivations.setView");
    const data = tokenViewState(view as unknown as TokenView, "TokenActivations.setView");
    this.holdSync(() => {
      if (prompt !== undefined) this.set({ prompt });
      this.#apply(data, text ?? "");
    });
  }

  /** A checked view on screen, in one update: its strongest feature selected, no token clicked. */
  #apply(data: TokenViewData, answer: string): void {
    const { strongest, warnings, ...columns } = data;
    this.holdSync(() => {
      // The columns first: `selected` and `token` are checked against them.
      this.set({
        ...columns, answer, selected: strongest, token: -1, status: "ready", message: warnings.join("; "),
        revision: this.get("revision") + 1,
      });
      // Filters that no longer have options fall back to "all".
      if (!columns.layers.includes(this.get("filter_layer"))) this.set({ filter_layer: -1 });
      if (this.get("filter_domain") !== "" && !columns.domains.includes(this.get("filter_domain"))) this.set({ filter_domain: "" });
    });
  }

  /** Resolves when the latest request has been applied. */
  settled(): Promise<void> {
    return this.#pending;
  }

  /** The rows of the clicked token (or of `token`), as the table shows them before its filters. */
  tokenRows(token: number = this.get("token")): { feature: FeatureInfo; normalised: number; activation: number }[] {
    const rows = this.get("rows");
    const features = this.get("features");
    const out: { feature: FeatureInfo; normalised: number; activation: number }[] = [];
    for (let i = 0; i < rows.token.length; i++) {
      if (rows.token[i] !== token) continue;
      out.push({ feature: features[rows.feature[i]!]!, normalised: rows.normalised[i]!, activation: rows.activation[i]! });
    }
    return out;
  }

  override repr(maxLength = Infinity): string {
    const s = this.getState();
    const parts = [
      `status=${JSON.stringify(s.status)}`, `tokens=${s.tokens.length}`, `rows=${s.rows.token.length}`, `revision=${s.revision}`,
      s.selected ? `selected=${JSON.stringify(s.selected)}` : "", s.token >= 0 ? `token=${s.token}` : "",
      s.prompt ? `prompt=${JSON.stringify(s.prompt.length > 40 ? `${s.prompt.slice(0, 40)}…` : s.prompt)}` : "",
      s.message ? `message=${JSON.stringify(s.message)}` : "",
    ].filter(Boolean);
    const text = `TokenActivations(${parts.join(", ")})`;
    return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
  }

  protected override coerceAttribute(key: string, value: unknown, state: SafesailState<TokenActivationsState>): unknown {
    const where = `TokenActivations: "${key}"`;
    switch (key) {
      case "title":
      case "prompt":
      case "message":
      case "answer":
      case "selected":
      case "filter_domain":
        checkString(value, where);
        if (key === "selected" && value !== "" && !state.features.some((f) => f.id === value)) throw new Error(`${where}: ${show(value)} is not a feature of the view`);
        if (key === "filter_domain" && value !== "" && !state.domains.includes(value as string)) throw new Error(`${where}: ${show(value)} is not a domain of the view (${state.domains.join(", ") || "none"})`);
        return value;
      case "status":
        if (!STATUSES.includes(value as TokenActivationsStatus)) throw new Error(`${where}: ${show(value)} (${STATUSES.join(", ")})`);
        return value;
      case "revision":
        if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new Error(`${where}: expected a whole number, got ${show(value)}`);
        return value;
      case "token":
        if (typeof value !== "number" || !Number.isInteger(value) || value < -1 || value >= state.tokens.length) {
          throw new Error(`${where}: expected -1 or a token index 0..${state.tokens.length - 1}, got ${show(value)}`);
        }
        return value;
      case "filter_layer":
        if (value !== -1 && !state.layers.includes(value as number)) throw new Error(`${where}: ${show(value)} is not -1 or a layer of the view (${state.layers.join(", ") || "none"})`);
        return value;
      case "min_score":
        return value === null ? null : checkFinite(value, where);
      case "in_page":
        return checkInPageSpec(value, where);
      default:
        return value;
    }
  }
}
defineStateAccessors(TokenActivations, ["in_page",
  "title", "prompt", "status", "message", "answer", "revision", "tokens", "token_flags", "layers", "domains", "features",
  "rows", "tracks", "selected", "token", "filter_layer", "filter_domain", "min_score",
]);

/** `new TokenActivations(init, opts)` for cells. */
export function tokenActivations(init: TokenActivationsInit, opts: WidgetOptions = {}): TokenActivations {
  return new TokenActivations(init, opts);
}
