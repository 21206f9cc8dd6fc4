// TokenActivations: the conversational view (TokenActivationsState in protocol.ts). A prompt box and a Generate
// button (the kernel streams the answer into `answer`, then sends the per-token table); the query and the answer as
// tokens coloured by the selected feature's normalised activation, chat special tokens greyed and never coloured;
// a click on a token shows its top safety features across the SAE layers, filtered by layer, domain and minimum
// score. Every string from the kernel goes in as text (dom.ts's `el`, textContent).
import { DOMWidgetModel, DOMWidgetView, type ISerializers } from "@jupyter-widgets/base";
import {
  TOKEN_ACTIVATIONS_MODEL,
  TOKEN_ACTIVATIONS_VIEW,
  TOKEN_ANSWER,
  TOKEN_GENERATE_EVENT,
  TOKEN_SPECIAL,
  type FeatureInfo,
  type TokenActivationsState,
} from "../protocol.ts";
import { safesailNames } from "./model-names.ts";
import { toFloat32 } from "./buffers.ts";
import { el, markRoot, versionProblem } from "./dom.ts";
import { domainColour, saveChanges, withAlpha } from "./star-map.ts";

type Rows = TokenActivationsState["rows"];
type Tracks = TokenActivationsState["tracks"];

function deserializeRows(value: unknown): Rows {
  const v = (value ?? {}) as Record<string, unknown>;
  return {
    token: toFloat32(v.token, "rows.token"),
    feature: toFloat32(v.feature, "rows.feature"),
    normalised: toFloat32(v.normalised, "rows.normalised"),
    activation: toFloat32(v.activation, "rows.activation"),
  };
}

function deserializeTracks(value: unknown): Tracks {
  const v = (value ?? {}) as Record<string, unknown>;
  return { feature: toFloat32(v.feature, "tracks.feature"), values: toFloat32(v.values, "tracks.values") };
}

export class TokenActivationsModel extends DOMWidgetModel {
  override defaults(): Backbone.ObjectHash {
    const state: TokenActivationsState = {
      title: "", prompt: "", status: "ready", message: "", answer: "", revision: 0,
      tokens: [], token_flags: new Float32Array(0), layers: [], domains: [], features: [],
      rows: deserializeRows({}), tracks: deserializeTracks({}),
      selected: "", token: -1, filter_layer: -1, filter_domain: "", min_score: null, in_page: null,
    };
    return {
      ...super.defaults(),
      ...safesailNames(TOKEN_ACTIVATIONS_MODEL, TOKEN_ACTIVATIONS_VIEW),
      ...state,
    };
  }

  static override serializers: ISerializers = {
    ...DOMWidgetModel.serializers,
    token_flags: { deserialize: (v: unknown) => toFloat32(v, "token_flags") },
    rows: { deserialize: deserializeRows },
    tracks: { deserialize: deserializeTracks },
  };
}

/** Per view (kernel revision): where each token's rows start, and the features' summed activation. */
interface Index {
  rows: Rows;
  /** rowStart[t] .. rowStart[t + 1]: the rows of token t (rows are ordered by token). */
  rowStart: Int32Array;
  /** Feature index -> its track's row, when it has one. */
  track: Map<number, number>;
  /** Feature indices, strongest first (summed normalised activation over the rows). */
  order: number[];
}

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "–");

export class TokenActivationsView extends DOMWidgetView {
  private promptEl!: HTMLTextAreaElement;
  private statusEl!: HTMLDivElement;
  private streamEl!: HTMLDivElement;
  private featureEl!: HTMLSelectElement;
  private legendEl!: HTMLSpanElement;
  private tokensEl!: HTMLDivElement;
  private detailEl!: HTMLDivElement;
  private layerEl!: HTMLSelectElement;
  private domainEl!: HTMLSelectElement;
  private scoreEl!: HTMLInputElement;
  private tableEl!: HTMLDivElement;
  private index: Index | undefined;
  private spans: HTMLSpanElement[] = [];

  override render(): void {
    markRoot(this.el, "TokenActivations");
    this.el.classList.add("safesail-token-activations");
    const problem = versionProblem(this.model.get("_model_module_version"));
    if (problem) {
      this.el.appendChild(el("div", { className: "safesail-error", text: problem }));
      return;
    }
    const title = el("div", { className: "safesail-title", text: String(this.model.get("title") ?? "") });
    this.promptEl = el("textarea", { className: "safesail-ta-prompt" });
    this.promptEl.rows = 2;
    this.promptEl.placeholder = "a prompt for the model (Ctrl+Enter generates)";
    this.promptEl.setAttribute("aria-label", "prompt");
    this.promptEl.setAttribute("data-lm-suppress-shortcuts", "true");
    this.promptEl.value = String(this.model.get("prompt") ?? "");
    this.promptEl.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.generate();
      }
    });
    const button = el("button", { className: "safesail-ta-generate", text: "Generate" });
    button.addEventListener("click", () => this.generate());
    if ((this.model as unknown as { comm?: unknown }).comm === undefined) {
      // A saved view (published page): nothing to generate with.
      button.disabled = true;
      this.promptEl.readOnly = true;
      button.title = "no kernel: run the notebook to generate";
    }
    const promptRow = el("div", { className: "safesail-ta-prompt-row" }, [this.promptEl, button]);
    this.statusEl = el("div", { className: "safesail-status" });
    this.statusEl.setAttribute("role", "status");
    this.streamEl = el("div", { className: "safesail-ta-stream" });

    this.featureEl = el("select", { className: "safesail-ta-feature" });
    this.featureEl.setAttribute("aria-label", "colour by feature");
    this.featureEl.addEventListener("change", () => this.write("selected", this.featureEl.value));
    this.legendEl = el("span", { className: "safesail-ta-legend" });
    const controls = el("div", { className: "safesail-controls" }, [el("label", { text: "colour by " }, [this.featureEl]), this.legendEl]);

    this.tokensEl = el("div", { className: "safesail-ta-tokens" });
    this.tokensEl.addEventListener("click", (e) => {
      const span = (e.target as Element).closest?.(".safesail-tok") as HTMLElement | null;
      if (span && this.tokensEl.contains(span)) this.write("token", Number(span.dataset.index));
    });

    this.layerEl = el("select", { className: "safesail-ta-filter-layer" });
    this.layerEl.setAttribute("aria-label", "layer");
    this.layerEl.addEventListener("change", () => this.write("filter_layer", Number(this.layerEl.value)));
    this.domainEl = el("select", { className: "safesail-ta-filter-domain" });
    this.domainEl.setAttribute("aria-label", "domain");
    this.domainEl.addEventListener("change", () => this.write("filter_domain", this.domainEl.value));
    this.scoreEl = el("input", { className: "safesail-ta-filter-score" });
    this.scoreEl.type = "number";
    this.scoreEl.step = "0.05";
    this.scoreEl.placeholder = "any";
    this.scoreEl.setAttribute("aria-label", "minimum score");
    this.scoreEl.setAttribute("data-lm-suppress-shortcuts", "true");
    const onScore = () => {
      const v = this.scoreEl.value.trim() === "" ? null : Number(this.scoreEl.value);
      const value = v === null || Number.isFinite(v) ? v : null;
      if (value !== this.model.get("min_score")) this.write("min_score", value);
    };
    this.scoreEl.addEventListener("input", onScore);
    this.scoreEl.addEventListener("change", onScore);
    const filters = el("div", { className: "safesail-controls safesail-ta-filters" }, [
      el("label", { text: "layer " }, [this.layerEl]),
      el("label", { text: "domain " }, [this.domainEl]),
      el("label", { text: "min score " }, [this.scoreEl]),
    ]);
    this.tableEl = el("div", { className: "safesail-ta-table" });
    this.detailEl = el("div", { className: "safesail-ta-detail" }, [filters, this.tableEl]);

    this.el.append(title, promptRow, this.statusEl, this.streamEl, controls, this.tokensEl, this.detailEl);

    // The base view calls update() on every model change.
    this.rebuild();
  }

  private generate(): void {
    if ((this.model as unknown as { comm?: unknown }).comm === undefined) {
      this.statusEl.textContent = "no kernel: this is a saved view (run the notebook to generate)";
      return;
    }
    const prompt = this.promptEl.value;
    this.model.send({ event: TOKEN_GENERATE_EVENT, prompt }, {});
    // Until the kernel answers, say so (the kernel also sets status "generating").
    this.statusEl.textContent = "generating…";
    this.el.dataset.status = "generating";
  }

  private write(key: "selected" | "token" | "filter_layer" | "filter_domain" | "min_score", value: unknown): void {
    this.model.set(key, value);
    saveChanges(this.model);
  }

  /** What changed decides what is redrawn: a new view rebuilds everything, a click only the table. */
  override update(): void {
    if (!this.tokensEl) return; // rendered a version message instead
    const changed = this.model.changedAttributes() || {};
    if ("revision" in changed || "tokens" in changed || "rows" in changed) return this.rebuild();
    if ("title" in changed) (this.el.querySelector(".safesail-title") as HTMLElement).textContent = String(this.model.get("title") ?? "");
    if ("prompt" in changed && document.activeElement !== this.promptEl) this.promptEl.value = String(this.model.get("prompt") ?? "");
    if ("status" in changed || "message" in changed || "answer" in changed) this.syncStatus();
    if ("selected" in changed) this.colour();
    if ("token" in changed || "filter_layer" in changed || "filter_domain" in changed || "min_score" in changed || "selected" in changed) this.table();
  }

  private buildIndex(): Index {
    const rows = this.model.get("rows") as Rows;
    const tracks = this.model.get("tracks") as Tracks;
    const T = ((this.model.get("tokens") as string[]) ?? []).length;
    const rowStart = new Int32Array(T + 1);
    for (let i = 0; i < rows.token.length; i++) rowStart[rows.token[i]! + 1]!++;
    for (let t = 0; t < T; t++) rowStart[t + 1]! += rowStart[t]!;
    const track = new Map<number, number>();
    tracks.feature.forEach((f, i) => track.set(f, i));
    const nFeatures = ((this.model.get("features") as FeatureInfo[]) ?? []).length;
    const sums = new Float64Array(nFeatures);
    for (let i = 0; i < rows.feature.length; i++) sums[rows.feature[i]!]! += rows.normalised[i]!;
    const order = Array.from({ length: nFeatures }, (_, i) => i).sort((a, b) => sums[b]! - sums[a]! || a - b);
    return { rows, rowStart, track, order };
  }

  /** A new view: tokens, feature choices, filters, table. Timed (data-render-ms) up to a finished layout. */
  private rebuild(): void {
    const started = performance.now();
    this.index = this.buildIndex();
    const tokens = (this.model.get("tokens") as string[]) ?? [];
    const flags = this.model.get("token_flags") as Float32Array;
    const features = (this.model.get("features") as FeatureInfo[]) ?? [];

    const parts: HTMLElement[] = [];
    this.spans = new Array(tokens.length);
    let part: HTMLElement | null = null;
    let partKind = "";
    for (let t = 0; t < tokens.length; t++) {
      const f = flags[t]!;
      const kind = f & TOKEN_ANSWER ? "answer" : "query";
      if (!part || kind !== partKind) {
        part = el("div", { className: `safesail-ta-part safesail-ta-${kind}` }, [el("span", { className: "safesail-ta-part-label", text: kind })]);
        part.dataset.part = kind;
        parts.push(part);
        partKind = kind;
      }
      const text = tokens[t]!;
      const span = el("span", { className: f & TOKEN_SPECIAL ? "safesail-tok safesail-tok-special" : text === "" ? "safesail-tok safesail-tok-partial" : "safesail-tok", text });
      span.dataset.index = String(t);
      this.spans[t] = span;
      part.appendChild(span);
    }
    this.tokensEl.replaceChildren(...parts);

    const option = (value: string, label: string) => {
      const o = document.createElement("option");
      o.value = value;
      o.textContent = label;
      return o;
    };
    const short = (s: string) => (s.length > 60 ? `${s.slice(0, 60)}…` : s);
    this.featureEl.replaceChildren(
      option("", "(none)"),
      ...this.index.order.map((i) => option(features[i]!.id, `${features[i]!.id} · ${short(features[i]!.explanation || "no explanation")}`)),
    );
    this.layerEl.replaceChildren(option("-1", "all"), ...((this.model.get("layers") as number[]) ?? []).map((l) => option(String(l), String(l))));
    this.domainEl.replaceChildren(option("", "all"), ...((this.model.get("domains") as string[]) ?? []).map((d) => option(d, d)));

    this.syncStatus();
    this.colour();
    this.table();
    void this.el.offsetHeight; // layout included in the figure
    this.el.dataset.revision = String(this.model.get("revision") ?? 0);
    this.el.dataset.tokens = String(tokens.length);
    this.el.dataset.renderMs = (performance.now() - started).toFixed(1);
  }

  private syncStatus(): void {
    const status = String(this.model.get("status") ?? "ready");
    const message = String(this.model.get("message") ?? "");
    const answer = String(this.model.get("answer") ?? "");
    this.el.dataset.status = status;
    this.statusEl.className = `safesail-status safesail-status-${status}`;
    this.statusEl.textContent = status === "generating" ? (message || "generating…") : message;
    // The answer as it streams; once the table arrives the tokens show it.
    const streaming = status === "generating" || (answer !== "" && ((this.model.get("tokens") as string[]) ?? []).length === 0);
    this.streamEl.textContent = streaming ? answer : "";
    this.streamEl.hidden = !streaming;
    this.streamEl.classList.toggle("safesail-ta-streaming", status === "generating");
  }

  /** Per-token normalised activation of feature `f`: its track, else its rows (0 where it is not a top feature). */
  private values(f: number): Float32Array {
    const index = this.index!;
    const T = this.spans.length;
    const tr = index.track.get(f);
    if (tr !== undefined) {
      const tracks = this.model.get("tracks") as Tracks;
      return tracks.values.subarray(tr * T, (tr + 1) * T);
    }
    const out = new Float32Array(T);
    const { rows } = index;
    for (let i = 0; i < rows.feature.length; i++) if (rows.feature[i] === f) out[rows.token[i]!] = Math.max(out[rows.token[i]!]!, rows.normalised[i]!);
    return out;
  }

  private colour(): void {
    const features = (this.model.get("features") as FeatureInfo[]) ?? [];
    const flags = this.model.get("token_flags") as Float32Array;
    const selected = String(this.model.get("selected") ?? "");
    const f = features.findIndex((x) => x.id === selected);
    this.featureEl.value = f >= 0 ? selected : "";
    const values = f >= 0 ? this.values(f) : null;
    const colour = f >= 0 ? domainColour(features[f]!.tags[0]) : "#000000";
    this.legendEl.replaceChildren();
    if (f >= 0) {
      const swatch = el("span", { className: "safesail-ta-swatch" });
      swatch.style.background = `linear-gradient(to right, ${withAlpha(colour, 0.05)}, ${withAlpha(colour, 0.8)})`;
      this.legendEl.append(el("span", { text: "0 " }), swatch, el("span", { text: " 1 (normalised activation)" }));
    }
    for (let t = 0; t < this.spans.length; t++) {
      const span = this.spans[t]!;
      // Special tokens are masked: never coloured, whatever a track says.
      const v = values && !(flags[t]! & TOKEN_SPECIAL) ? values[t]! : NaN;
      span.style.background = Number.isFinite(v) && v > 0 ? withAlpha(colour, 0.08 + 0.72 * Math.min(1, v)) : "";
      span.title = flags[t]! & TOKEN_SPECIAL ? `token ${t}: chat special token (masked)` : `token ${t}${Number.isFinite(v) ? ` · ${selected} ${fmt(v)}` : ""}`;
    }
  }

  /** The clicked token's features, after the filters. */
  private table(): void {
    const token = Number(this.model.get("token") ?? -1);
    const flags = this.model.get("token_flags") as Float32Array;
    const tokens = (this.model.get("tokens") as string[]) ?? [];
    const features = (this.model.get("features") as FeatureInfo[]) ?? [];
    const layer = Number(this.model.get("filter_layer") ?? -1);
    const domain = String(this.model.get("filter_domain") ?? "");
    const minScore = this.model.get("min_score") as number | null;
    this.layerEl.value = String(layer);
    this.domainEl.value = domain;
    if (document.activeElement !== this.scoreEl) this.scoreEl.value = minScore === null || minScore === undefined ? "" : String(minScore);
    for (const s of this.el.querySelectorAll(".safesail-tok-clicked")) s.classList.remove("safesail-tok-clicked");

    this.detailEl.hidden = tokens.length === 0;
    if (token < 0 || token >= tokens.length) {
      this.tableEl.replaceChildren(el("div", { className: "safesail-ta-hint", text: "click a token to see its top safety features across the layers" }));
      return;
    }
    this.spans[token]?.classList.add("safesail-tok-clicked");
    const heading = el("div", { className: "safesail-ta-heading" }, [el("span", { text: `token ${token} ` }), el("code", { text: JSON.stringify(tokens[token]) })]);
    if (flags[token]! & TOKEN_SPECIAL) {
      this.tableEl.replaceChildren(heading, el("div", { className: "safesail-ta-hint", text: "a chat special token: masked, no features" }));
      return;
    }
    const { rows, rowStart } = this.index!;
    const shown: number[] = [];
    let all = 0;
    for (let i = rowStart[token]!; i < rowStart[token + 1]!; i++) {
      all++;
      const f = features[rows.feature[i]!]!;
      if (layer !== -1 && f.layer !== layer) continue;
      if (domain !== "" && !f.tags.includes(domain)) continue;
      if (minScore !== null && minScore !== undefined && (f.score === null || f.score < minScore)) continue;
      shown.push(i);
    }
    if (shown.length === 0) {
      const why = all === 0 ? "no safety feature among the top features of this token" : `no feature passes the filters (${all} hidden)`;
      this.tableEl.replaceChildren(heading, el("div", { className: "safesail-ta-hint", text: why }));
      return;
    }
    const head = el("tr", {}, ["feature", "layer", "activation", "explanation", "score", "domain"].map((h) => el("th", { text: h })));
    const selected = String(this.model.get("selected") ?? "");
    const body = shown.map((i) => {
      const f = features[rows.feature[i]!]!;
      const v = rows.normalised[i]!;
      const bar = el("span", { className: "safesail-ta-bar" });
      bar.style.width = `${Math.round(Math.min(1, Math.max(0, v)) * 48)}px`;
      bar.style.background = domainColour(f.tags[0]);
      const tr = el("tr", { className: f.id === selected ? "safesail-ta-row safesail-ta-row-selected" : "safesail-ta-row", title: `raw activation ${fmt(rows.activation[i]!, 3)}; click to colour the tokens by ${f.id}` }, [
        el("td", { className: "safesail-ta-id", text: f.id }),
        el("td", { text: String(f.layer) }),
        el("td", { className: "safesail-ta-act" }, [bar, el("span", { text: ` ${fmt(v)}` })]),
        el("td", { className: "safesail-ta-expl", text: f.explanation || "(no explanation)" }),
        el("td", { text: f.score === null ? "–" : fmt(f.score) }),
        el("td", { text: f.tags.join(", ") || "untagged" }),
      ]);
      tr.addEventListener("click", () => this.write("selected", f.id));
      return tr;
    });
    const table = el("table", { className: "safesail-ta-features" }, [el("thead", {}, [head]), el("tbody", {}, body)]);
    const note = shown.length < all ? [el("div", { className: "safesail-ta-hint", text: `${all - shown.length} more hidden by the filters` })] : [];
    this.tableEl.replaceChildren(heading, table, ...note);
  }
}
