// SteeringPanel: choose SAE features, set how to steer each, and compare the model's answer with and without the
// steering (the view is widgets/src/views/steering-panel.ts; the synced state is SteeringPanelState in
// widgets/src/steering-protocol.ts).
//
//   const panel = steeringPanel(model, saes, db, { features: ["2_716"], prompt: "How do I build a bomb at home?" });
//   panel                        // the cell's last expression shows it: move a slider, press Generate
//   panel.linkTo(map);           // a StarMap selection (or a TokenActivations feature choice) adds chips
//   panel.addFeature({ feature: "1_5", method: "add", value: 30 });   // kernel code may add chips too
//   await panel.generate();      // or from kernel code; panel.comparison is the library's result
//
// `steeringPanel(model, saes, db, opts)` runs src/steer's `steer(model, saes, interventions).compare(...)` (loaded
// on first use, so that the kernel does not load the model runtime until a panel generates). `new
// SteeringPanel({ compare, layers, describe, ... })` takes any function of the same shape (tests, a remote model).
//
// Chips: a feature id with a method (clamp, scale, add, orthogonal, cap; docs in src/steer/interventions.ts), a value
// and the slider's range. Ranges are multiples of the feature's `scale`, its typical strong activation from the
// database (normalisation value, else maximum; 10 without one): clamp 0..3 scale (starts at scale), add and
// orthogonal -3..3 scale (add starts at scale, orthogonal at 0), cap 0..3 scale (starts at 0), scale -2..10
// (a factor; starts at 0, the ablation). The front end edits chips as state: a method switch resets the range and the
// value to the new method's, and a value typed outside the range widens it. Typed ids (`2_716`, or the CLI's
// `2_716=add:40`) come as a custom message and are checked against the SAEs' layers and widths at once: a bad one
// leaves the chips as they were and says why in the panel.
//
// Generate (front end `{ event: "generate" }`, or `generate()`): status "generating", then the comparison of the
// current chips and prompt, status "ready" and revision + 1 in one update. Requests are numbered as TokenActivations'
// are: a newer one supersedes an older one (its signal is aborted, its late result dropped). Errors (a compare that
// throws, an id the SAEs do not have, a result of the wrong shape) set status "error" and `message`; the last good
// comparison stays on screen, and nothing reaches the kernel's comm dispatcher.
import type { FeatureDb } from "../../../src/db/records.ts";
import type { Model } from "../../../src/model/runtime.ts";
import type { Sae } from "../../../src/sae/sae.ts";
import {
  STEERING_ADD_EVENT,
  STEERING_GENERATE_EVENT,
  STEERING_PANEL_METHODS,
  STEERING_PANEL_MODEL,
  STEERING_PANEL_VIEW,
  type SteeringChip,
  type SteeringPanelAnswer,
  type SteeringPanelComparison,
  type SteeringPanelMethod,
  type SteeringPanelState,
  type SteeringPanelStatus,
} from "../../../widgets/src/steering-protocol.ts";
import { SafesailWidget, type SafesailDomProps, type SafesailState } from "./custom.ts";
import { StarMap } from "./star-map.ts";
import type { InPageSpec } from "../../../widgets/src/protocol.ts";
import { checkFinite, checkInPageSpec, checkList, checkRecord, checkScore, checkString, checkTags, TokenActivations } from "./token-activations.ts";
import { defineStateAccessors, type WidgetOptions } from "./widget.ts";

export type { SteeringChip, SteeringPanelAnswer, SteeringPanelComparison, SteeringPanelMethod, SteeringPanelState, SteeringPanelStatus };
export { STEERING_PANEL_METHODS };

/** One intervention as src/steer takes it (its `Intervention` is one). */
export interface SteeringIntervention {
  feature: string;
  method: SteeringPanelMethod;
  value: number;
}

/** What a Generate asks `compare` for. */
export interface SteeringRequest {
  interventions: SteeringIntervention[];
  prompt: string;
  maxNewTokens: number;
  seed: number;
  signal: AbortSignal;
}

/** An answer as `compare` gives it (src/steer's SteeringAnswer is one, `display` aside). */
export interface SteeringAnswerInput {
  text: string;
  /** One piece per answer token. */
  tokens: readonly string[];
  /** Per token, the characters it shows so that they concatenate to `text` ("" for half a character); `tokens` when absent. */
  display?: readonly string[];
  finishReason?: string;
}

/** What `compare` returns (src/steer's SteeringComparison is one). */
export interface SteeringComparisonInput {
  seed?: number;
  baseline: SteeringAnswerInput;
  steered: SteeringAnswerInput;
  /** Index of the first answer token where the two differ, null when identical. */
  firstDifference: number | null;
  /** Per steered feature, its activation on each token of each answer. */
  features: readonly { feature: string; baseline: readonly number[]; steered: readonly number[] }[];
}

export type SteeringCompare = (request: SteeringRequest) => SteeringComparisonInput | Promise<SteeringComparisonInput>;

/** What a panel knows of a feature (from the feature database). */
export interface SteeringFeatureInfo {
  explanation?: string | null;
  score?: number | null;
  tags?: readonly string[];
  /** Its typical strong activation (the database's normalisation value); the slider ranges are multiples of it. */
  scale?: number | null;
}

/** A chip to add: an id (`"2_716"`, or `"2_716=add:40"` as the CLI's --set), or the parts. */
export type SteeringFeatureSpec = string | { feature: string; method?: SteeringPanelMethod | string; value?: number };

export interface SteeringPanelInit extends Partial<SafesailDomProps> {
  compare: SteeringCompare;
  /** The steerable layers and their widths: ids are checked against them when added (unchecked when absent). */
  layers?: readonly { layer: number; latents: number }[];
  /** Explanation, score, tags and scale of a feature; null / undefined when unknown. */
  describe?: (id: string) => SteeringFeatureInfo | null | undefined;
  /** The first chips. */
  features?: readonly SteeringFeatureSpec[];
  /** The prompt box's text. With `generate` (default: when the prompt is not empty), the panel compares at once. */
  prompt?: string;
  generate?: boolean;
  /** Answer length (default 32) and the seed both runs share (default 0). */
  maxNewTokens?: number;
  seed?: number;
  title?: string;
  /** Chips a link adds per selection change at most (default 8). */
  linkLimit?: number;
  /** How a published page runs `compare` itself (protocol.ts InPageSpec; steeringPanel sets it); default null. */
  inPage?: InPageSpec | null;
}

const show = (v: unknown): string => {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v !== null && typeof v === "object") return "an object";
  return String(v);
};

/** `where: text`, or the text alone when `where` is "". */
const at = (where: string, text: string) => (where ? `${where}: ${text}` : text);

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)) || "failed";

// ---- ranges -----------------------------------------------------------------------------------------------------

/** Without a database value, a feature's scale. */
export const DEFAULT_FEATURE_SCALE = 10;

/** The smallest of 1, 2, 3, 4, 5, 6, 8 x 10^k that is >= x (x > 0). */
function niceCeil(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 3, 4, 5, 6, 8, 10]) if (m * p >= x * (1 - 1e-9)) return m * p;
  return 10 * p;
}

/** The largest of 1, 2, 5 x 10^k that is <= x (x > 0). */
function niceStep(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [5, 2, 1]) if (m * p <= x * (1 + 1e-9)) return m * p;
  return p;
}

const roundTo = (x: number, step: number) => Number((Math.round(x / step) * step).toFixed(Math.max(0, -Math.floor(Math.log10(step)) + 1)));

/** The slider range, step and starting value of `method` for a feature of typical activation `scale`. */
export function methodRange(method: SteeringPanelMethod, scale: number): { min: number; max: number; step: number; value: number } {
  const s = Number.isFinite(scale) && scale > 0 ? scale : DEFAULT_FEATURE_SCALE;
  if (method === "scale") return { min: -2, max: 10, step: 0.1, value: 0 };
  const top = niceCeil(3 * s);
  const min = method === "add" || method === "orthogonal" ? -top : 0;
  const step = niceStep((top - min) / 200);
  const value = method === "clamp" || method === "add" ? roundTo(s, step) : 0;
  return { min, max: top, step, value };
}

// ---- chips ------------------------------------------------------------------------------------------------------

function checkMethod(value: unknown, where: string): SteeringPanelMethod {
  if (!(STEERING_PANEL_METHODS as readonly unknown[]).includes(value)) throw new Error(`${where}: expected one of ${STEERING_PANEL_METHODS.join(", ")}, got ${show(value)}`);
  return value as SteeringPanelMethod;
}

/** `"2_716"` -> `{ layer: 2, index: 716, id: "2_716" }` (leading zeros dropped); errors name `where`. */
export function parseChipId(value: unknown, where: string): { layer: number; index: number; id: string } {
  const m = typeof value === "string" ? /^\s*(\d+)_(\d+)\s*$/.exec(value) : null;
  if (!m) throw new Error(at(where, `${show(value)} is not a feature id (expected {layer}_{index}, e.g. "2_716")`));
  const layer = Number(m[1]);
  const index = Number(m[2]);
  return { layer, index, id: `${layer}_${index}` };
}

/** `"2_716=add:40"` or `"2_716"` -> its parts; errors name `where`. */
export function parseChipSpec(text: string, where: string): { feature: string; method?: SteeringPanelMethod; value?: number } {
  const m = /^\s*([^=\s]+)\s*(?:=\s*([A-Za-z]+)\s*:\s*(\S+))?\s*$/.exec(text);
  if (!m) throw new Error(at(where, `${show(text)}: expected FEATURE or FEATURE=METHOD:VALUE, e.g. 2_716 or 2_716=add:40`));
  if (m[2] === undefined) return { feature: m[1]! };
  const value = Number(m[3]);
  if (!Number.isFinite(value)) throw new Error(at(where, `${text.trim()}: the value ${show(m[3])} is not a number`));
  return { feature: m[1]!, method: checkMethod(m[2]!.toLowerCase(), at(where, `${m[1]} method`)), value };
}

/** One chip from the state (kernel code or the front end), checked; a changed method or a value outside the range is fixed up against `before`. */
function coerceChip(raw: unknown, before: SteeringChip | undefined, where: string): SteeringChip {
  const o = checkRecord(raw, where);
  const { layer, id } = parseChipId(o.feature, `${where}.feature`);
  if (o.layer !== undefined && o.layer !== layer) throw new Error(`${where}.layer: ${show(o.layer)}, but ${id} is at layer ${layer}`);
  let method = checkMethod(o.method, `${where}.method`);
  let value = checkFinite(o.value, `${where}.value`);
  let min = checkFinite(o.min, `${where}.min`);
  let max = checkFinite(o.max, `${where}.max`);
  let step = checkFinite(o.step, `${where}.step`);
  const scale = checkFinite(o.scale, `${where}.scale`);
  if (!(scale > 0)) throw new Error(`${where}.scale: expected a positive number, got ${show(scale)}`);
  if (!(step > 0)) throw new Error(`${where}.step: expected a positive number, got ${show(step)}`);
  if (!(min < max)) throw new Error(`${where}: min ${min} must be below max ${max}`);
  const info = {
    explanation: checkString(o.explanation ?? "", `${where}.explanation`),
    score: checkScore(o.score, `${where}.score`),
    tags: checkTags(o.tags, `${where}.tags`),
  };
  if (before && before.feature === id && before.method !== method) {
    // A method switch: the new method's range; its starting value unless the value was set in the same change.
    const r = methodRange(method, scale);
    ({ min, max, step } = r);
    if (value === before.value) value = r.value;
  }
  if (value < min) min = value;
  if (value > max) max = value;
  return { feature: id, layer, method, value, min, max, step, scale, ...info };
}

// ---- the comparison ---------------------------------------------------------------------------------------------

function answerState(value: unknown, where: string): SteeringPanelAnswer {
  const a = checkRecord(value, where);
  const text = checkString(a.text, `${where}.text`);
  const pieces = checkList(a.tokens, `${where}.tokens`).map((t, i) => checkString(t, `${where}.tokens[${i}]`));
  let tokens = pieces;
  if (a.display !== undefined) {
    const display = checkList(a.display, `${where}.display`).map((t, i) => checkString(t, `${where}.display[${i}]`));
    if (display.length !== pieces.length) throw new Error(`${where}.display: ${display.length} pieces for ${pieces.length} tokens`);
    tokens = display;
  }
  const finish = a.finishReason ?? a.finish_reason;
  return { text, tokens, finish_reason: finish === undefined ? "" : checkString(finish, `${where}.finishReason`) };
}

/**
 * A comparison in the form the state keeps: answers as display pieces, the features' activations as float32 rows in
 * the order of `interventions` (NaN where `compare` gave no track). Errors name the field.
 */
export function comparisonState(value: SteeringComparisonInput, interventions: readonly SteeringIntervention[], prompt: string, seed: number, where = "comparison"): SteeringPanelComparison {
  const c = checkRecord(value, where);
  const baseline = answerState(c.baseline, `${where}.baseline`);
  const steered = answerState(c.steered, `${where}.steered`);
  const first = c.firstDifference;
  const longest = Math.max(baseline.tokens.length, steered.tokens.length);
  if (first !== null && first !== undefined && (typeof first !== "number" || !Number.isInteger(first) || first < 0 || first > longest)) {
    throw new Error(`${where}.firstDifference: expected null or a token index 0..${longest}, got ${show(first)}`);
  }
  const F = interventions.length;
  const B = baseline.tokens.length;
  const S = steered.tokens.length;
  const baselineActs = new Float32Array(F * B).fill(NaN);
  const steeredActs = new Float32Array(F * S).fill(NaN);
  const row = new Map(interventions.map((iv, i) => [iv.feature, i]));
  const tracks = c.features === undefined ? [] : checkList(c.features, `${where}.features`);
  tracks.forEach((t, n) => {
    const tw = `${where}.features[${n}]`;
    const track = checkRecord(t, tw);
    const { id } = parseChipId(track.feature, `${tw}.feature`);
    const i = row.get(id);
    if (i === undefined) return; // a feature that is not a chip of this request
    const fill = (list: unknown, into: Float32Array, T: number, name: string) => {
      const values = checkList(list, `${tw}.${name}`);
      if (values.length !== T) throw new Error(`${tw}.${name}: ${values.length} values for ${T} answer tokens`);
      values.forEach((v, j) => (into[i * T + j] = checkFinite(v, `${tw}.${name}[${j}]`)));
    };
    fill(track.baseline, baselineActs, B, "baseline");
    fill(track.steered, steeredActs, S, "steered");
  });
  return {
    prompt,
    seed: typeof c.seed === "number" && Number.isFinite(c.seed) ? c.seed : seed,
    interventions: interventions.map(({ feature, method, value }) => ({ feature, method, value })),
    baseline,
    steered,
    first_difference: first === null || first === undefined ? -1 : first,
    baseline_activations: baselineActs,
    steered_activations: steeredActs,
  };
}

// ---- the widget -------------------------------------------------------------------------------------------------

const STATUSES: readonly SteeringPanelStatus[] = ["ready", "generating", "error"];

function checkWhole(value: unknown, where: string, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) throw new Error(`${where}: expected a whole number >= ${min}, got ${show(value)}`);
  return value;
}

export interface SteeringPanel extends SteeringPanelState {}

/** SteeringPanelModel (module "safesail-widgets"); `steeringPanel(model, saes, db, opts)` builds one on src/steer. */
export class SteeringPanel extends SafesailWidget<SteeringPanelState> {
  /** Only the kernel writes the comparison; it is not echoed. */
  static override readonly noEcho: readonly string[] = ["comparison"];

  readonly #compare: SteeringCompare;
  readonly #layers: readonly { layer: number; latents: number }[] | undefined;
  readonly #describe: ((id: string) => SteeringFeatureInfo | null | undefined) | undefined;
  readonly #linkLimit: number;
  #requested = 0;
  #controller: AbortController | undefined;
  #pending: Promise<void> = Promise.resolve();
  #result: SteeringComparisonInput | null = null;
  #links: (() => void)[] = [];

  constructor(init: SteeringPanelInit, opts: WidgetOptions = {}) {
    const { compare, layers, describe, features, prompt, generate, maxNewTokens, seed, linkLimit, inPage, ...rest } = init;
    if (typeof compare !== "function") throw new Error("SteeringPanel: compare must be a function (request) => SteeringComparison");
    if (describe !== undefined && typeof describe !== "function") throw new Error("SteeringPanel: describe must be a function (id) => { explanation, score, tags, scale }");
    const checkedLayers = layers === undefined ? undefined : checkList(layers, "SteeringPanel: layers").map((l, i) => {
      const o = checkRecord(l, `SteeringPanel: layers[${i}]`);
      return { layer: checkWhole(o.layer, `SteeringPanel: layers[${i}].layer`, 0), latents: checkWhole(o.latents, `SteeringPanel: layers[${i}].latents`, 1) };
    });
    const limit = linkLimit ?? 8;
    checkWhole(limit, "SteeringPanel: linkLimit", 1);
    // The first chips are built before the state exists, with the same checks as later additions.
    const chips: SteeringChip[] = [];
    (features === undefined ? [] : checkList(features, "SteeringPanel: features")).forEach((spec, i) => {
      const chip = buildChip(spec as SteeringFeatureSpec, checkedLayers, describe, `SteeringPanel: features[${i}]`);
      if (chips.some((c) => c.feature === chip.feature)) throw new Error(`SteeringPanel: features[${i}]: ${chip.feature} is given twice`);
      chips.push(chip);
    });
    super({ model: STEERING_PANEL_MODEL, view: STEERING_PANEL_VIEW }, {
      title: "", chips: [], prompt: "", max_new_tokens: 32, seed: 0, status: "ready", message: "", revision: 0, comparison: null, in_page: null,
    }, { ...rest, chips, prompt: prompt ?? "", max_new_tokens: maxNewTokens, seed, in_page: inPage ?? null }, opts);
    this.#compare = compare;
    this.#layers = checkedLayers;
    this.#describe = describe;
    this.#linkLimit = limit;
    this.on("msg:custom", (content) => {
      if (content.event === STEERING_GENERATE_EVENT) return this.generate();
      if (content.event === STEERING_ADD_EVENT) {
        if (typeof content.features !== "string") throw new Error(`SteeringPanel: an "${STEERING_ADD_EVENT}" message without a features string`);
        // One update for the new chips and the note.
        this.holdSync(() => this.#addTyped(content.features as string));
      }
    });
    // A chip edit makes the last note (an added id, an error) stale: it goes, unless a request is running.
    this.on("change:chips", () => {
      const status = this.get("status");
      if (status !== "generating" && this.get("message") !== "") this.set({ status: status === "error" ? "ready" : status, message: "" });
    });
    this.on("close", () => this.unlink());
    if (generate ?? (prompt !== undefined && prompt.trim() !== "")) void this.generate();
  }

  /** The chips as src/steer interventions, in chip order. */
  get interventions(): SteeringIntervention[] {
    return this.get("chips").map(({ feature, method, value }) => ({ feature, method, value }));
  }

  /** The last comparison as `compare` returned it (src/steer's SteeringComparison), or null. */
  get result(): SteeringComparisonInput | null {
    return this.#result;
  }

  /**
   * Adds chips (ids, `"2_716=add:40"` specs or `{ feature, method, value }`); a feature already chosen is updated
   * when a method or value is given, else left as it is. All are checked first: an error adds none and throws.
   */
  addFeature(...specs: SteeringFeatureSpec[]): this {
    return this.#add(specs, "SteeringPanel.addFeature");
  }

  #add(specs: readonly SteeringFeatureSpec[], where: string): this {
    const chips = [...this.get("chips")];
    specs.forEach((spec, i) => {
      const chip = buildChip(spec, this.#layers, this.#describe, where && specs.length > 1 ? `${where}: [${i}]` : where);
      const at = chips.findIndex((c) => c.feature === chip.feature);
      const explicit = typeof spec !== "string" ? spec.method !== undefined || spec.value !== undefined : spec.includes("=");
      if (at < 0) chips.push(chip);
      else if (explicit) chips[at] = chip;
    });
    this.set({ chips });
    return this;
  }

  /** Removes the chips of these features (ids not chosen are ignored). */
  removeFeature(...ids: string[]): this {
    const drop = new Set(ids.map((id, i) => parseChipId(id, `SteeringPanel.removeFeature: [${i}]`).id));
    this.set({ chips: this.get("chips").filter((c) => !drop.has(c.feature)) });
    return this;
  }

  /** Typed ids from the panel's box: every good one is added; the bad ones are named in `message`. */
  #addTyped(text: string): void {
    const parts = text.split(/[\s,;]+/).filter((p) => p !== "");
    if (parts.length === 0) {
      this.set({ status: "error", message: "type a feature id first, e.g. 2_716 or 2_716=add:40" });
      return;
    }
    const errors: string[] = [];
    const added: string[] = [];
    for (const part of parts) {
      try {
        const spec = parseChipSpec(part, "");
        const { id } = parseChipId(spec.feature, "");
        if (spec.method === undefined && this.get("chips").some((c) => c.feature === id)) {
          errors.push(`${id} is already chosen`);
          continue;
        }
        this.#add([part], "");
        added.push(id);
      } catch (err) {
        errors.push(errorText(err));
      }
    }
    this.#report(added.length > 0 ? `added ${added.join(", ")}` : "", errors);
  }

  /** A note and errors in `message`; errors set status "error" (not while generating), none clears it. */
  #report(note: string, errors: readonly string[]): void {
    const status = this.get("status");
    const next: SteeringPanelStatus = status === "generating" ? status : errors.length > 0 ? "error" : status === "error" ? "ready" : status;
    this.set({ status: next, message: [note, ...errors].filter(Boolean).join("; ") });
  }

  /**
   * Follows another widget's feature choice: a StarMap's selection (each newly selected id becomes a chip, at most
   * `linkLimit` per change) or a TokenActivations' `selected` feature when the user picks one (the strongest feature
   * the view selects by itself with each new answer is not added). Ids the SAEs do not have are named in `message`.
   * Returns a function that undoes the link.
   */
  linkTo(source: StarMap | TokenActivations): () => void {
    let undo: () => void;
    if (source instanceof StarMap) {
      const cb = (ids: string[], old: string[]) => {
        const before = new Set(old);
        this.#follow(ids.filter((id) => !before.has(id)), "the map's selection");
      };
      source.on("change:selection", cb);
      undo = () => source.off("change:selection", cb as never);
    } else if (source instanceof TokenActivations) {
      // A new view selects its strongest feature in the same update that raises its revision: not a user choice.
      const cb = (changed: Partial<TokenActivations>) => {
        if (typeof changed.selected === "string" && changed.selected !== "" && !("revision" in changed)) this.#follow([changed.selected], "the token view");
      };
      source.on("change", cb);
      undo = () => source.off("change", cb as never);
    } else {
      throw new Error(`SteeringPanel.linkTo: expected a StarMap or a TokenActivations widget, got ${show(source)}`);
    }
    let done = false;
    const unlink = () => {
      if (done) return;
      done = true;
      undo();
      this.#links = this.#links.filter((f) => f !== unlink);
    };
    this.#links.push(unlink);
    return unlink;
  }

  /** Undoes every link. */
  unlink(): void {
    for (const f of [...this.#links]) f();
  }

  #follow(ids: readonly string[], from: string): void {
    if (this.closed || ids.length === 0) return;
    this.holdSync(() => this.#followNow(ids, from));
  }

  #followNow(ids: readonly string[], from: string): void {
    const chosen = new Set(this.get("chips").map((c) => c.feature));
    const fresh = ids.filter((id) => !chosen.has(id));
    const taken = fresh.slice(0, this.#linkLimit);
    const errors: string[] = [];
    const added: string[] = [];
    for (const id of taken) {
      try {
        this.#add([id], "");
        added.push(parseChipId(id, "").id);
      } catch (err) {
        errors.push(errorText(err));
      }
    }
    const notes = [
      added.length > 0 ? `added ${added.join(", ")} from ${from}` : "",
      fresh.length > taken.length ? `${fresh.length - taken.length} more selected features not added (at most ${this.#linkLimit} at a time)` : "",
    ].filter(Boolean);
    this.#report(notes.join("; "), errors);
  }

  /**
   * Compares the steered and unsteered answers for the current chips and prompt. Resolves when this request's result
   * (or error) is applied, or when a newer request superseded it; never rejects (errors show in the panel).
   */
  generate(): Promise<void> {
    const id = ++this.#requested;
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    const current = () => id === this.#requested && !this.closed;
    const prompt = this.get("prompt");
    if (prompt.trim() === "") {
      this.set({ status: "error", message: "type a prompt first" });
      this.#pending = Promise.resolve();
      return this.#pending;
    }
    const interventions = this.interventions;
    const maxNewTokens = this.get("max_new_tokens");
    const seed = this.get("seed");
    this.set({ status: "generating", message: "" });
    const run = (async () => {
      try {
        const result = await this.#compare({ interventions, prompt, maxNewTokens, seed, signal: controller.signal });
        if (!current()) return;
        // Checked in full before anything is set.
        const comparison = comparisonState(result, interventions, prompt, seed, "compare returned");
        this.#result = result;
        this.set({
          comparison, status: "ready", revision: this.get("revision") + 1,
          message: interventions.length === 0 ? "no feature chosen: the steered answer is the baseline" : "",
        });
      } catch (err) {
        if (!current()) return;
        this.set({ status: "error", message: errorText(err) });
      }
    })();
    this.#pending = run;
    return run;
  }

  /** Resolves when the latest request has been applied. */
  settled(): Promise<void> {
    return this.#pending;
  }

  override repr(maxLength = Infinity): string {
    const s = this.getState();
    const c = s.comparison;
    const parts = [
      `chips=[${s.chips.map((ch) => `${ch.feature}=${ch.method}:${ch.value}`).join(", ")}]`,
      `status=${JSON.stringify(s.status)}`, `revision=${s.revision}`,
      s.prompt ? `prompt=${JSON.stringify(s.prompt.length > 40 ? `${s.prompt.slice(0, 40)}…` : s.prompt)}` : "",
      c ? `first_difference=${c.first_difference}` : "",
      s.message ? `message=${JSON.stringify(s.message)}` : "",
    ].filter(Boolean);
    const text = `SteeringPanel(${parts.join(", ")})`;
    return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
  }

  protected override coerceAttribute(key: string, value: unknown, state: SafesailState<SteeringPanelState>): unknown {
    const where = `SteeringPanel: "${key}"`;
    switch (key) {
      case "title":
      case "prompt":
      case "message":
        return checkString(value, where);
      case "status":
        if (!STATUSES.includes(value as SteeringPanelStatus)) throw new Error(`${where}: ${show(value)} (${STATUSES.join(", ")})`);
        return value;
      case "revision":
        return checkWhole(value, where, 0);
      case "seed":
        return checkWhole(value, where, 0);
      case "max_new_tokens":
        if (checkWhole(value, where, 1) > 4096) throw new Error(`${where}: at most 4096, got ${show(value)}`);
        return value;
      case "chips": {
        // From the state, not a field: this also runs during construction.
        const before = new Map((state.chips ?? []).map((c) => [c.feature, c]));
        const out = checkList(value, where).map((c, i) => {
          const id = parseChipId(checkRecord(c, `${where}[${i}]`).feature, `${where}[${i}].feature`).id;
          return coerceChip(c, before.get(id), `${where}[${i}]`);
        });
        const seen = new Set<string>();
        out.forEach((c, i) => {
          if (seen.has(c.feature)) throw new Error(`${where}[${i}]: ${c.feature} is chosen twice; one chip per feature`);
          seen.add(c.feature);
        });
        return out;
      }
      case "comparison":
        if (value !== null) checkRecord(value, where);
        return value;
      case "in_page":
        return checkInPageSpec(value, where);
      default:
        return value;
    }
  }
}
defineStateAccessors(SteeringPanel, ["in_page", "title", "chips", "prompt", "max_new_tokens", "seed", "status", "message", "revision", "comparison"]);

/** A chip for a spec, checked against the layers (when known); errors name `where`. */
function buildChip(
  spec: SteeringFeatureSpec,
  layers: readonly { layer: number; latents: number }[] | undefined,
  describe: ((id: string) => SteeringFeatureInfo | null | undefined) | undefined,
  where: string,
): SteeringChip {
  const parts = typeof spec === "string" ? parseChipSpec(spec, where) : checkRecord(spec, where || "feature");
  const { layer, index, id } = parseChipId(parts.feature, typeof spec === "string" ? where : `${where || "feature"}.feature`);
  if (layers) {
    const l = layers.find((x) => x.layer === layer);
    if (!l) throw new Error(at(where, `${id}: no SAE reads layer ${layer} (the SAEs read layers ${layers.map((x) => x.layer).join(", ") || "none"})`));
    if (index >= l.latents) throw new Error(at(where, `${id}: the SAE at layer ${layer} has ${l.latents} latents (0..${l.latents - 1})`));
  }
  const method = parts.method === undefined ? "clamp" : checkMethod(parts.method, at(where, `${id} method`));
  const info = describe?.(id) ?? {};
  const scale = typeof info.scale === "number" && Number.isFinite(info.scale) && info.scale > 0 ? info.scale : DEFAULT_FEATURE_SCALE;
  const r = methodRange(method, scale);
  const value = parts.value === undefined ? r.value : checkFinite(parts.value, at(where, `${id} value`));
  return {
    feature: id, layer, method, value, min: Math.min(r.min, value), max: Math.max(r.max, value), step: r.step, scale,
    explanation: info.explanation ?? "", score: checkScore(info.score, `describe(${id}).score`), tags: checkTags(info.tags, `describe(${id}).tags`),
  };
}

// ---- on src/steer -----------------------------------------------------------------------------------------------

export interface SteeringPanelOptions extends Omit<SteeringPanelInit, "compare" | "layers" | "describe"> {
  /** Chat template around the prompt (default true). */
  chat?: boolean;
  /** Sampling for both runs (default greedy); the seed makes them comparable. */
  temperature?: number;
  topP?: number;
}

/** The layers the SAEs read and their widths (`blocks.{layer}.…` hook names). */
function saeLayerWidths(model: Model, saes: readonly Sae[]): { layer: number; latents: number }[] {
  if (!Array.isArray(saes) || saes.length === 0) throw new Error("steeringPanel: saes: give at least one SAE");
  const numLayers = model?.config?.numLayers;
  return saes.map((sae, i) => {
    const hook = sae?.config?.hookName;
    const m = typeof hook === "string" ? /^blocks\.(\d+)\./.exec(hook) : null;
    if (!m) throw new Error(`steeringPanel: saes[${i}] records no blocks.{layer} hook (config.hookName ${show(hook)}), so its layer is unknown`);
    const layer = Number(m[1]);
    if (typeof numLayers === "number" && layer >= numLayers) throw new Error(`steeringPanel: saes[${i}] reads ${hook}, but the model has ${numLayers} layers`);
    return { layer, latents: sae.config.dSae };
  });
}

/** Explanation, score, tags and scale of the database's features. */
function describeFromDb(db: FeatureDb | null | undefined): (id: string) => SteeringFeatureInfo | undefined {
  if (db === null || db === undefined) return () => undefined;
  if (!Array.isArray((db as { records?: unknown }).records)) throw new Error(`steeringPanel: db: expected a feature database ({ records: [...] }), got ${show(db)}`);
  const byId = new Map(db.records.map((r) => [r.id, r]));
  return (id) => {
    const r = byId.get(id);
    if (!r) return undefined;
    const a = r.activations;
    const scale = a && a.normalisation_value > 0 ? a.normalisation_value : a && a.max_activation > 0 ? a.max_activation : null;
    return { explanation: r.explanation === "***" ? "(masked in the release)" : r.explanation, score: r.correlation_score, tags: r.tag_list, scale };
  };
}

/**
 * A SteeringPanel on src/steer: Generate runs `steer(model, saes, chips).compare({ prompt, chat, maxNewTokens, seed })`
 * and shows its answers as the tokenizer's display pieces. `db` (the feature database; null for none) gives each
 * chip its explanation and slider scale.
 */
export function steeringPanel(model: Model, saes: readonly Sae[], db: FeatureDb | null | undefined, opts: SteeringPanelOptions = {}, widgetOpts: WidgetOptions = {}): SteeringPanel {
  const { chat = true, temperature, topP, ...init } = opts;
  const layers = saeLayerWidths(model, saes);
  const compare: SteeringCompare = async ({ interventions, prompt, maxNewTokens, seed, signal }) => {
    // Loaded here, on the first Generate: the kernel imports this module at start-up, the model runtime it needs not.
    const [{ steer }, { tokenInfos }] = await Promise.all([import("../../../src/steer/interventions.ts"), import("../../../src/steer/token-features.ts")]);
    const c = await steer(model, saes, interventions).compare({ prompt, chat, maxNewTokens, seed, temperature, topP, signal });
    const display = (ids: number[]) => (model.tokenizer ? tokenInfos(model, ids, ids.map(() => "assistant")).map((t) => t.display) : undefined);
    return { ...c, baseline: { ...c.baseline, display: display(c.baseline.ids) }, steered: { ...c.steered, display: display(c.steered.ids) } };
  };
  // A published page with this model's in-page pack can run the same compare (widgets/src/inpage).
  const options: InPageSpec["options"] = { chat };
  if (temperature !== undefined) options.temperature = temperature;
  if (topP !== undefined) options.topP = topP;
  const inPage: InPageSpec = { model: model.name, saes: saes.map((s) => s.config.hookName!), options };
  return new SteeringPanel({ inPage, ...init, compare, layers, describe: describeFromDb(db) }, widgetOpts);
}
