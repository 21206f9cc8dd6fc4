// SteeringPanel: the features to steer as chips (method menu, slider, number box, remove), a box for typed ids, a
// prompt box and a Generate button; the baseline and steered answers side by side, tokens from the first difference
// on marked in both; and per steered feature a sparkline of its activation over the answer tokens, steered against
// baseline (SteeringPanelState in steering-protocol.ts). Every string from the kernel (explanations, tokens, the
// model's answers, messages) goes in as text (dom.ts's `el`, textContent); the sparklines are SVG built with
// createElementNS and numeric attributes only.
//
// A chip edit is written to `chips` when it is made (the slider on release or on a key, the number box on change,
// the method menu on change); the kernel sends back what it corrects (a method switch resets range and value). The
// chips are updated in place, keyed by feature, so a slider keeps its focus and a drag is not interrupted by the
// kernel's answer. A saved view (a published page: no kernel) shows the last comparison with the controls disabled.
import { DOMWidgetModel, DOMWidgetView, type ISerializers } from "@jupyter-widgets/base";
import {
  STEERING_ADD_EVENT,
  STEERING_GENERATE_EVENT,
  STEERING_PANEL_METHODS,
  STEERING_PANEL_MODEL,
  STEERING_PANEL_VIEW,
  type SteeringChip,
  type SteeringPanelComparison,
  type SteeringPanelState,
} from "../steering-protocol.ts";
import { toFloat32 } from "./buffers.ts";
import { el, markRoot, versionProblem } from "./dom.ts";
import { safesailNames } from "./model-names.ts";
import { domainColour, saveChanges, withAlpha } from "./star-map.ts";

function deserializeComparison(value: unknown): SteeringPanelComparison | null {
  if (value === null || value === undefined) return null;
  const v = value as Record<string, unknown>;
  return {
    ...(v as unknown as SteeringPanelComparison),
    baseline_activations: toFloat32(v.baseline_activations, "comparison.baseline_activations"),
    steered_activations: toFloat32(v.steered_activations, "comparison.steered_activations"),
  };
}

export class SteeringPanelModel extends DOMWidgetModel {
  override defaults(): Backbone.ObjectHash {
    const state: SteeringPanelState = {
      title: "", chips: [], prompt: "", max_new_tokens: 32, seed: 0, status: "ready", message: "", revision: 0, comparison: null, in_page: null,
    };
    return { ...super.defaults(), ...safesailNames(STEERING_PANEL_MODEL, STEERING_PANEL_VIEW), ...state };
  }

  static override serializers: ISerializers = {
    ...DOMWidgetModel.serializers,
    comparison: { deserialize: deserializeComparison },
  };
}

// ---- the look (injected once per document: the view owns its stylesheet) ---------------------------------------

const STYLE_ID = "safesail-steering-panel-style";
const CSS = `
.safesail-steering-panel .safesail-sp-chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0; }
.safesail-steering-panel .safesail-sp-chip { border: 1px solid var(--jp-border-color2, #d0d0d0); border-left: 4px solid var(--sp-colour, #a0a0a0); border-radius: 4px; padding: 3px 6px; background: var(--jp-layout-color1, #fff); min-width: 22em; max-width: 34em; }
.safesail-steering-panel .safesail-sp-chip-head { display: flex; gap: 6px; align-items: baseline; }
.safesail-steering-panel .safesail-sp-id { font-family: var(--jp-code-font-family, ui-monospace, monospace); font-weight: 600; white-space: nowrap; }
.safesail-steering-panel .safesail-sp-expl { flex: 1; color: var(--jp-ui-font-color2, #616161); font-size: 0.92em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.safesail-steering-panel .safesail-sp-remove { font: inherit; border: none; background: none; cursor: pointer; color: var(--jp-ui-font-color2, #616161); padding: 0 4px; }
.safesail-steering-panel .safesail-sp-remove:hover { color: var(--jp-error-color1, #d32f2f); }
.safesail-steering-panel .safesail-sp-chip-controls { display: flex; gap: 6px; align-items: center; margin-top: 2px; }
.safesail-steering-panel .safesail-sp-method { font: inherit; padding: 0 2px; }
.safesail-steering-panel .safesail-sp-slider { flex: 1; min-width: 8em; }
.safesail-steering-panel .safesail-sp-value { font: inherit; width: 5.5em; padding: 0 2px; }
.safesail-steering-panel .safesail-sp-range { color: var(--jp-ui-font-color3, #9e9e9e); font-size: 0.85em; white-space: nowrap; }
.safesail-steering-panel .safesail-sp-empty, .safesail-steering-panel .safesail-sp-hint { color: var(--jp-ui-font-color2, #616161); font-style: italic; }
.safesail-steering-panel .safesail-sp-row { display: flex; gap: 8px; align-items: flex-start; margin: 4px 0; flex-wrap: wrap; }
.safesail-steering-panel .safesail-sp-add { font: inherit; min-width: 22em; padding: 1px 4px; }
.safesail-steering-panel .safesail-sp-prompt { flex: 1; min-width: 20em; font: inherit; min-height: 2.6em; resize: vertical; }
.safesail-steering-panel .safesail-sp-settings input { font: inherit; width: 4.5em; padding: 0 2px; }
.safesail-steering-panel button.safesail-sp-generate, .safesail-steering-panel button.safesail-sp-add-button { font: inherit; padding: 3px 14px; cursor: pointer; }
.safesail-steering-panel button:disabled { cursor: default; opacity: 0.6; }
.safesail-steering-panel .safesail-sp-note { color: var(--jp-warn-color1, #e65100); margin: 2px 0; }
.safesail-steering-panel .safesail-sp-answers { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; margin: 6px 0; }
.safesail-steering-panel .safesail-sp-column { border: 1px solid var(--jp-border-color2, #e0e0e0); border-radius: 3px; padding: 4px 6px; min-width: 0; }
.safesail-steering-panel .safesail-sp-heading { font-weight: 600; margin-bottom: 2px; }
.safesail-steering-panel .safesail-sp-sub { color: var(--jp-ui-font-color2, #616161); font-weight: normal; font-size: 0.9em; }
.safesail-steering-panel .safesail-sp-tokens { white-space: pre-wrap; overflow-wrap: anywhere; }
.safesail-steering-panel .safesail-sp-tokens .safesail-tok { cursor: default; }
.safesail-steering-panel .safesail-sp-baseline .safesail-sp-diff { background: rgba(229, 57, 53, 0.16); text-decoration: line-through rgba(229, 57, 53, 0.55); }
.safesail-steering-panel .safesail-sp-steered .safesail-sp-diff { background: rgba(67, 160, 71, 0.24); }
.safesail-steering-panel .safesail-sp-first { box-shadow: inset 2px 0 0 #37474f; }
.safesail-steering-panel .safesail-sp-summary { margin: 2px 0; }
.safesail-steering-panel .safesail-sp-acts { margin: 4px 0; }
.safesail-steering-panel .safesail-sp-act { display: grid; grid-template-columns: minmax(14em, 22em) 1fr; gap: 8px; align-items: center; margin: 2px 0; }
.safesail-steering-panel .safesail-sp-act-label { font-size: 0.92em; }
.safesail-steering-panel .safesail-sp-spark { width: 100%; height: 40px; display: block; background: var(--jp-layout-color2, #f7f7f7); border-radius: 2px; }
.safesail-steering-panel .safesail-sp-legend { color: var(--jp-ui-font-color2, #616161); font-size: 0.85em; }
.safesail-steering-panel .safesail-sp-key { display: inline-block; width: 18px; height: 0; border-top: 2px solid; vertical-align: middle; margin: 0 3px 0 8px; }
`;

function injectStyle(doc: Document): void {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  (doc.head ?? doc.documentElement).appendChild(style);
}

// ---- the view ---------------------------------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
const STEERED_COLOUR = "#2e7d32";
const BASELINE_COLOUR = "#9e9e9e";

const fmt = (x: number): string => {
  if (!Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
};
/** A value as the number box shows it: no float noise from the slider's steps. */
const valueText = (x: number): string => String(Number(x.toPrecision(6)));

interface ChipEls {
  root: HTMLDivElement;
  id: HTMLElement;
  expl: HTMLSpanElement;
  method: HTMLSelectElement;
  slider: HTMLInputElement;
  value: HTMLInputElement;
  range: HTMLSpanElement;
  remove: HTMLButtonElement;
}

export class SteeringPanelView extends DOMWidgetView {
  private chipsEl!: HTMLDivElement;
  private chipEls = new Map<string, ChipEls>();
  private addEl!: HTMLInputElement;
  private addButton!: HTMLButtonElement;
  private promptEl!: HTMLTextAreaElement;
  private tokensEl!: HTMLInputElement;
  private seedEl!: HTMLInputElement;
  private generateEl!: HTMLButtonElement;
  private statusEl!: HTMLDivElement;
  private noteEl!: HTMLDivElement;
  private summaryEl!: HTMLDivElement;
  private answersEl!: HTMLDivElement;
  private actsEl!: HTMLDivElement;
  private live = false;

  override render(): void {
    markRoot(this.el, "SteeringPanel");
    this.el.classList.add("safesail-steering-panel");
    const problem = versionProblem(this.model.get("_model_module_version"));
    if (problem) {
      this.el.appendChild(el("div", { className: "safesail-error", text: problem }));
      return;
    }
    injectStyle(this.el.ownerDocument);
    // A saved view (published page) has no comm: nothing to generate with.
    this.live = (this.model as unknown as { comm?: unknown }).comm !== undefined;
    const title = el("div", { className: "safesail-title", text: String(this.model.get("title") ?? "") });
    this.chipsEl = el("div", { className: "safesail-sp-chips" });

    this.addEl = el("input", { className: "safesail-sp-add" });
    this.addEl.type = "text";
    this.addEl.placeholder = "add features: 2_716 or 2_716=add:40 (Enter)";
    this.addEl.setAttribute("aria-label", "add features by id");
    this.addEl.setAttribute("data-lm-suppress-shortcuts", "true");
    this.addEl.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.addTyped();
      }
    });
    this.addButton = el("button", { className: "safesail-sp-add-button", text: "Add" });
    this.addButton.addEventListener("click", () => this.addTyped());

    this.promptEl = el("textarea", { className: "safesail-sp-prompt" });
    this.promptEl.rows = 2;
    this.promptEl.placeholder = "a prompt for the model (Ctrl+Enter generates)";
    this.promptEl.setAttribute("aria-label", "prompt");
    this.promptEl.setAttribute("data-lm-suppress-shortcuts", "true");
    this.promptEl.value = String(this.model.get("prompt") ?? "");
    this.promptEl.addEventListener("change", () => this.syncPrompt());
    this.promptEl.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.generate();
      }
    });
    const number = (cls: string, label: string, min: number) => {
      const input = el("input", { className: cls });
      input.type = "number";
      input.min = String(min);
      input.step = "1";
      input.setAttribute("aria-label", label);
      input.setAttribute("data-lm-suppress-shortcuts", "true");
      return input;
    };
    this.tokensEl = number("safesail-sp-tokens-max", "answer tokens", 1);
    this.tokensEl.max = "4096";
    this.tokensEl.addEventListener("change", () => this.writeWhole("max_new_tokens", this.tokensEl, 1));
    this.seedEl = number("safesail-sp-seed", "seed", 0);
    this.seedEl.addEventListener("change", () => this.writeWhole("seed", this.seedEl, 0));
    this.generateEl = el("button", { className: "safesail-sp-generate", text: "Generate" });
    this.generateEl.addEventListener("click", () => this.generate());
    const settings = el("div", { className: "safesail-sp-settings" }, [
      el("label", { text: "tokens " }, [this.tokensEl]), el("span", { text: " " }), el("label", { text: "seed " }, [this.seedEl]),
    ]);

    this.statusEl = el("div", { className: "safesail-status" });
    this.statusEl.setAttribute("role", "status");
    this.noteEl = el("div", { className: "safesail-sp-note" });
    this.summaryEl = el("div", { className: "safesail-sp-summary" });
    this.answersEl = el("div", { className: "safesail-sp-answers" });
    this.actsEl = el("div", { className: "safesail-sp-acts" });

    this.el.append(
      title,
      this.chipsEl,
      el("div", { className: "safesail-sp-row" }, [this.addEl, this.addButton]),
      el("div", { className: "safesail-sp-row" }, [this.promptEl, settings, this.generateEl]),
      this.statusEl,
      this.noteEl,
      this.summaryEl,
      this.answersEl,
      this.actsEl,
    );
    if (!this.live) {
      for (const c of [this.addEl, this.addButton, this.tokensEl, this.seedEl, this.generateEl]) c.disabled = true;
      this.promptEl.readOnly = true;
      this.generateEl.title = "no kernel: run the notebook to steer";
    }
    this.syncChips();
    this.syncControls();
    this.drawComparison();
  }

  /** What changed decides what is redrawn. */
  override update(): void {
    if (!this.chipsEl) return; // rendered a version message instead
    const changed = this.model.changedAttributes() || {};
    if ("title" in changed) (this.el.querySelector(".safesail-title") as HTMLElement).textContent = String(this.model.get("title") ?? "");
    if ("chips" in changed) this.syncChips();
    if ("comparison" in changed || "revision" in changed) this.drawComparison();
    this.syncControls();
  }

  private chips(): SteeringChip[] {
    return ((this.model.get("chips") as SteeringChip[]) ?? []).map((c) => ({ ...c }));
  }

  private writeChips(chips: SteeringChip[]): void {
    this.model.set("chips", chips);
    saveChanges(this.model);
  }

  private editChip(feature: string, edit: (c: SteeringChip) => void): void {
    const chips = this.chips();
    const chip = chips.find((c) => c.feature === feature);
    if (!chip) return;
    edit(chip);
    this.writeChips(chips);
  }

  /** The chips on screen follow the state, element by element (keyed by feature). */
  private syncChips(): void {
    const chips = (this.model.get("chips") as SteeringChip[]) ?? [];
    const keep = new Set(chips.map((c) => c.feature));
    for (const [feature, els] of this.chipEls) {
      if (!keep.has(feature)) {
        els.root.remove();
        this.chipEls.delete(feature);
      }
    }
    const order: HTMLElement[] = [];
    for (const chip of chips) {
      const els = this.chipEls.get(chip.feature) ?? this.makeChip(chip.feature);
      this.fillChip(els, chip);
      order.push(els.root);
    }
    if (chips.length === 0) {
      order.push(el("div", { className: "safesail-sp-empty", text: "no feature chosen: add ids below, or link a StarMap or token view (panel.linkTo)" }));
    }
    this.chipsEl.replaceChildren(...order);
    this.el.dataset.chips = String(chips.length);
  }

  private makeChip(feature: string): ChipEls {
    const root = el("div", { className: "safesail-sp-chip" });
    root.dataset.feature = feature;
    const id = el("code", { className: "safesail-sp-id", text: feature });
    const expl = el("span", { className: "safesail-sp-expl" });
    const remove = el("button", { className: "safesail-sp-remove", text: "×", title: `remove ${feature}` });
    remove.setAttribute("aria-label", `remove ${feature}`);
    remove.addEventListener("click", () => this.writeChips(this.chips().filter((c) => c.feature !== feature)));
    const method = el("select", { className: "safesail-sp-method" });
    method.setAttribute("aria-label", `${feature} method`);
    for (const m of STEERING_PANEL_METHODS) method.appendChild(el("option", { text: m })).setAttribute("value", m);
    method.addEventListener("change", () => this.editChip(feature, (c) => (c.method = method.value as SteeringChip["method"])));
    const slider = el("input", { className: "safesail-sp-slider" });
    slider.type = "range";
    slider.setAttribute("aria-label", `${feature} value`);
    slider.setAttribute("data-lm-suppress-shortcuts", "true");
    const value = el("input", { className: "safesail-sp-value" });
    value.type = "number";
    value.setAttribute("aria-label", `${feature} value (number)`);
    value.setAttribute("data-lm-suppress-shortcuts", "true");
    // While dragging, the number follows; the kernel hears of it on release (change).
    slider.addEventListener("input", () => (value.value = valueText(Number(slider.value))));
    slider.addEventListener("change", () => this.editChip(feature, (c) => (c.value = Number(slider.value))));
    value.addEventListener("change", () => {
      const v = Number(value.value);
      if (value.value.trim() === "" || !Number.isFinite(v)) {
        const chip = this.chips().find((c) => c.feature === feature);
        if (chip) value.value = valueText(chip.value);
        return;
      }
      this.editChip(feature, (c) => (c.value = v));
    });
    const range = el("span", { className: "safesail-sp-range" });
    root.append(
      el("div", { className: "safesail-sp-chip-head" }, [id, expl, remove]),
      el("div", { className: "safesail-sp-chip-controls" }, [method, slider, value, range]),
    );
    const els: ChipEls = { root, id, expl, method, slider, value, range, remove };
    if (!this.live) for (const c of [method, slider, value, remove]) c.disabled = true;
    this.chipEls.set(feature, els);
    return els;
  }

  private fillChip(els: ChipEls, chip: SteeringChip): void {
    els.root.style.setProperty("--sp-colour", domainColour(chip.tags[0]));
    els.expl.textContent = chip.explanation || "(no explanation)";
    const detail = [`layer ${chip.layer}`, chip.score === null ? "" : `score ${fmt(chip.score)}`, chip.tags.length ? chip.tags.join(", ") : "untagged", `typical activation ${fmt(chip.scale)}`].filter(Boolean);
    els.expl.title = `${chip.explanation || "(no explanation)"}\n${detail.join(" · ")}`;
    els.method.value = chip.method;
    // Range first, so that the value is not clamped to the old range.
    els.slider.min = String(chip.min);
    els.slider.max = String(chip.max);
    els.slider.step = String(chip.step);
    els.slider.value = String(chip.value);
    els.value.step = String(chip.step);
    if (this.el.ownerDocument.activeElement !== els.value) els.value.value = valueText(chip.value);
    els.range.textContent = `${valueText(chip.min)} … ${valueText(chip.max)}`;
    els.root.dataset.method = chip.method;
    els.root.dataset.value = String(chip.value);
  }

  private addTyped(): void {
    if (!this.live) return;
    const text = this.addEl.value;
    this.model.send({ event: STEERING_ADD_EVENT, features: text }, {});
    this.addEl.value = "";
  }

  private syncPrompt(): void {
    if (!this.live) return;
    if (this.promptEl.value !== this.model.get("prompt")) {
      this.model.set("prompt", this.promptEl.value);
      saveChanges(this.model);
    }
  }

  private writeWhole(key: "max_new_tokens" | "seed", input: HTMLInputElement, min: number): void {
    const v = Number(input.value);
    if (!Number.isInteger(v) || v < min) {
      input.value = String(this.model.get(key));
      return;
    }
    this.model.set(key, v);
    saveChanges(this.model);
  }

  private generate(): void {
    if (!this.live) {
      this.statusEl.textContent = "no kernel: this is a saved view (run the notebook to steer)";
      return;
    }
    if (this.model.get("status") === "generating") return;
    this.syncPrompt();
    this.model.send({ event: STEERING_GENERATE_EVENT }, {});
    // Until the kernel answers, say so (it sets status "generating" too).
    this.statusEl.textContent = "generating…";
    this.generateEl.disabled = true;
    this.el.dataset.status = "generating";
  }

  private syncControls(): void {
    const status = String(this.model.get("status") ?? "ready");
    const message = String(this.model.get("message") ?? "");
    this.el.dataset.status = status;
    this.statusEl.className = `safesail-status safesail-status-${status}`;
    this.statusEl.textContent = status === "generating" ? message || "generating baseline and steered answers…" : message;
    this.generateEl.disabled = !this.live || status === "generating";
    if (this.el.ownerDocument.activeElement !== this.promptEl) this.promptEl.value = String(this.model.get("prompt") ?? "");
    if (this.el.ownerDocument.activeElement !== this.tokensEl) this.tokensEl.value = String(this.model.get("max_new_tokens") ?? 32);
    if (this.el.ownerDocument.activeElement !== this.seedEl) this.seedEl.value = String(this.model.get("seed") ?? 0);
    // A note: a saved view, or chips / prompt that moved since the comparison on screen.
    const c = this.model.get("comparison") as SteeringPanelComparison | null;
    let note = "";
    if (!this.live) note = "Saved view: no kernel is running, so the controls are off. Run the notebook to steer.";
    else if (c) {
      const now = JSON.stringify(((this.model.get("chips") as SteeringChip[]) ?? []).map((x) => [x.feature, x.method, x.value]));
      const then = JSON.stringify(c.interventions.map((x) => [x.feature, x.method, x.value]));
      if (now !== then || c.prompt !== this.model.get("prompt")) note = "The chips or the prompt changed since this comparison: Generate to update it.";
    }
    this.noteEl.textContent = note;
    this.noteEl.hidden = note === "";
  }

  /** The comparison on screen: the two answers and the activation sparklines. Timed (data-render-ms). */
  private drawComparison(): void {
    const started = performance.now();
    const c = this.model.get("comparison") as SteeringPanelComparison | null;
    this.el.dataset.revision = String(this.model.get("revision") ?? 0);
    if (!c) {
      this.summaryEl.replaceChildren(el("div", { className: "safesail-sp-hint", text: "press Generate to compare the steered answer with the unsteered one" }));
      this.answersEl.replaceChildren();
      this.actsEl.replaceChildren();
      this.el.dataset.renderMs = (performance.now() - started).toFixed(1);
      return;
    }
    const first = c.first_difference;
    const steering = c.interventions.map((iv) => `${iv.feature} ${iv.method} ${valueText(iv.value)}`).join(", ") || "nothing";
    this.summaryEl.replaceChildren(
      el("span", { text: first < 0 ? "The answers are identical." : `The answers part at answer token ${first}; the tokens from there on are marked.` }),
      el("span", { className: "safesail-sp-sub", text: `  (seed ${c.seed}; prompt: ${c.prompt.length > 80 ? `${c.prompt.slice(0, 80)}…` : c.prompt})` }),
    );
    const F = c.interventions.length;
    const column = (kind: "baseline" | "steered", heading: string, sub: string) => {
      const answer = c[kind];
      const acts = kind === "baseline" ? c.baseline_activations : c.steered_activations;
      const T = answer.tokens.length;
      const tokens = el("div", { className: "safesail-sp-tokens" });
      answer.tokens.forEach((text, t) => {
        const diff = first >= 0 && t >= first;
        const span = el("span", { className: `safesail-tok${diff ? " safesail-sp-diff" : ""}${diff && t === first ? " safesail-sp-first" : ""}${text === "" ? " safesail-tok-partial" : ""}`, text });
        span.dataset.index = String(t);
        const lines = [`token ${t}${diff ? " (differs)" : ""}`];
        for (let f = 0; f < F; f++) lines.push(`${c.interventions[f]!.feature}: ${fmt(acts[f * T + t]!)}`);
        span.title = lines.join("\n");
        tokens.appendChild(span);
      });
      const finish = answer.finish_reason === "length" ? "; cut at the token limit" : "";
      const col = el("div", { className: `safesail-sp-column safesail-sp-${kind}` }, [
        el("div", { className: "safesail-sp-heading" }, [el("span", { text: heading }), el("span", { className: "safesail-sp-sub", text: ` ${sub}${finish}` })]),
        tokens,
      ]);
      col.dataset.tokens = String(T);
      return col;
    };
    this.answersEl.replaceChildren(column("baseline", "Baseline", "(unsteered)"), column("steered", "Steered", `(${steering})`));

    // Per feature: steered (solid) and baseline (dashed) activation over the answer tokens.
    const B = c.baseline.tokens.length;
    const S = c.steered.tokens.length;
    const rows: HTMLElement[] = [];
    if (F > 0) {
      rows.push(el("div", { className: "safesail-sp-legend" }, [
        el("span", { text: "Activation of each steered feature on the answer tokens (SAE units):" }),
        this.key(STEERED_COLOUR, false), el("span", { text: "steered answer" }),
        this.key(BASELINE_COLOUR, true), el("span", { text: "baseline answer" }),
      ]));
    }
    const chips = (this.model.get("chips") as SteeringChip[]) ?? [];
    for (let f = 0; f < F; f++) {
      const iv = c.interventions[f]!;
      const base = c.baseline_activations.subarray(f * B, (f + 1) * B);
      const steer = c.steered_activations.subarray(f * S, (f + 1) * S);
      const mean = (a: Float32Array) => (a.length ? a.reduce((s, x) => s + x, 0) / a.length : NaN);
      const tags = chips.find((x) => x.feature === iv.feature)?.tags ?? [];
      const label = el("div", { className: "safesail-sp-act-label" }, [
        el("code", { className: "safesail-sp-id", text: iv.feature }),
        el("span", { text: ` ${iv.method} ${valueText(iv.value)} · mean ${fmt(mean(base))} → ${fmt(mean(steer))}` }),
      ]);
      label.style.borderLeft = `4px solid ${domainColour(tags[0])}`;
      label.style.paddingLeft = "4px";
      const row = el("div", { className: "safesail-sp-act" }, [label, this.sparkline(base, steer, first)]);
      row.dataset.feature = iv.feature;
      rows.push(row);
    }
    this.actsEl.replaceChildren(...rows);
    void this.el.offsetHeight; // layout included in the figure
    this.el.dataset.renderMs = (performance.now() - started).toFixed(1);
  }

  private key(colour: string, dashed: boolean): HTMLElement {
    const k = el("span", { className: "safesail-sp-key" });
    k.style.borderTopColor = colour;
    if (dashed) k.style.borderTopStyle = "dashed";
    return k;
  }

  /** One feature: the baseline (dashed grey) and steered (green) activations, a shared y scale, the first difference marked. */
  private sparkline(base: Float32Array, steer: Float32Array, first: number): SVGSVGElement {
    const W = 600;
    const H = 40;
    const pad = 3;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "safesail-sp-spark");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    const n = Math.max(base.length, steer.length, 2);
    let lo = 0;
    let hi = 0;
    for (const a of [base, steer]) for (const v of a) if (Number.isFinite(v)) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    if (hi - lo < 1e-6) hi = lo + 1;
    const x = (t: number) => pad + (t / (n - 1)) * (W - 2 * pad);
    const y = (v: number) => H - pad - ((v - lo) / (hi - lo)) * (H - 2 * pad);
    if (lo < 0) {
      const zero = document.createElementNS(SVG, "line");
      zero.setAttribute("x1", "0");
      zero.setAttribute("x2", String(W));
      zero.setAttribute("y1", y(0).toFixed(1));
      zero.setAttribute("y2", y(0).toFixed(1));
      zero.setAttribute("stroke", "#cfd8dc");
      svg.appendChild(zero);
    }
    if (first >= 0 && first < n) {
      const mark = document.createElementNS(SVG, "line");
      mark.setAttribute("x1", x(first).toFixed(1));
      mark.setAttribute("x2", x(first).toFixed(1));
      mark.setAttribute("y1", "0");
      mark.setAttribute("y2", String(H));
      mark.setAttribute("stroke", "#37474f");
      mark.setAttribute("stroke-dasharray", "2 2");
      mark.setAttribute("vector-effect", "non-scaling-stroke");
      svg.appendChild(mark);
    }
    const line = (a: Float32Array, colour: string, dashed: boolean, cls: string) => {
      const pts: string[] = [];
      a.forEach((v, t) => {
        if (Number.isFinite(v)) pts.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
      });
      if (pts.length === 0) return;
      if (pts.length === 1) pts.push(pts[0]!.replace(/^[\d.]+/, (s) => String(Number(s) + 4)));
      const pl = document.createElementNS(SVG, "polyline");
      pl.setAttribute("class", cls);
      pl.setAttribute("points", pts.join(" "));
      pl.setAttribute("fill", "none");
      pl.setAttribute("stroke", colour);
      pl.setAttribute("stroke-width", "2");
      pl.setAttribute("vector-effect", "non-scaling-stroke");
      if (dashed) pl.setAttribute("stroke-dasharray", "4 3");
      svg.appendChild(pl);
    };
    line(base, BASELINE_COLOUR, true, "safesail-sp-spark-baseline");
    line(steer, STEERED_COLOUR, false, "safesail-sp-spark-steered");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `range ${fmt(lo)} … ${fmt(hi)} over ${n} tokens`;
    svg.appendChild(title);
    // A faint fill under the steered line would hide the baseline; a tinted background says "steered" instead.
    svg.style.background = withAlpha(STEERED_COLOUR, 0.04);
    return svg;
  }
}
