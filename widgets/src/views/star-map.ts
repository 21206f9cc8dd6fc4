// StarMap: every feature as a point of a 2-D map (StarMapState in protocol.ts). Plotly scattergl (WebGL) draws one
// trace per domain (a point takes its first tag's colour; untagged grey), cluster labels sit at cluster centres,
// and a search box rings the points whose id or explanation contains the text. A lasso or box selection is written
// to `selection` (feature ids) and reaches the kernel; a selection the kernel writes is shown the same way.
//
// WebGL needs a context and, for Plotly's regl, the right to compile code at run time; where either is missing (a
// browser without WebGL, a page whose Content-Security-Policy has no 'unsafe-eval', such as a published page of
// `safesail publish`) the same traces are drawn as SVG `scatter`, slower on big maps, and the status line says so.
// (Checked: under such a policy Plotly's scattergl reports success and draws only a "WebGL is not supported"
// notice, so the choice is made before drawing, not by catching an error.)
import { DOMWidgetModel, DOMWidgetView, type ISerializers } from "@jupyter-widgets/base";
import { STAR_MAP_MODEL, STAR_MAP_VIEW, type StarMapState } from "../protocol.ts";
import { safesailNames } from "./model-names.ts";
import { float32Columns } from "./buffers.ts";
import { el, markRoot, versionProblem } from "./dom.ts";
import { loadPlotly, plotlyText, type PlotlyApi } from "./plotly.ts";

// ---- the domain palette (shared by the three StarMap views) ----------------------------------------------------

/** Safe-SAIL's four domains keep one colour everywhere; any other tag gets one from its name. */
const DOMAIN_COLOURS: Record<string, string> = {
  pornography: "#d6619e",
  politics: "#1f77b4",
  violence: "#d62728",
  terror: "#ff7f0e",
};
const OTHER_COLOURS = ["#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939"];
export const UNTAGGED_COLOUR = "#a0a0a0";

/** The colour of a domain tag (grey for none). */
export function domainColour(domain: string | undefined): string {
  if (!domain) return UNTAGGED_COLOUR;
  const known = DOMAIN_COLOURS[domain.toLowerCase()];
  if (known) return known;
  let h = 0;
  for (let i = 0; i < domain.length; i++) h = (h * 31 + domain.charCodeAt(i)) >>> 0;
  return OTHER_COLOURS[h % OTHER_COLOURS.length]!;
}

/** `#rrggbb` as `rgba(r, g, b, alpha)`. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha.toFixed(3)})`;
}

/** Text cut at about `width` characters per line (at spaces), at most `lines` lines. */
export function wrapText(text: string, width: number, lines: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = "";
      if (out.length === lines) break;
    }
    line = line ? `${line} ${word}` : word;
  }
  if (out.length < lines && line) out.push(line);
  else if (out.length === lines) out[lines - 1] = `${out[lines - 1]} …`;
  return out.map((l) => (l.length > width + 20 ? `${l.slice(0, width + 20)}…` : l));
}

/**
 * Sends the model's changed attributes to the kernel. A published page has no kernel (the model has no comm, and
 * @jupyter-widgets/base throws on sync): the change then stays in the page, which still shows it.
 */
export function saveChanges(model: DOMWidgetModel): boolean {
  if ((model as unknown as { comm?: unknown }).comm === undefined) return false;
  model.save_changes();
  return true;
}

// ---- the model ----------------------------------------------------------------------------------------------------

const FLOAT_COLUMNS = ["x", "y", "cluster", "score", "tag_set"] as const;

export class StarMapModel extends DOMWidgetModel {
  override defaults(): Backbone.ObjectHash {
    const state: StarMapState = {
      title: "", ids: [], explanations: [],
      x: new Float32Array(0), y: new Float32Array(0), cluster: new Float32Array(0), score: new Float32Array(0),
      tag_sets: [], tag_set: new Float32Array(0), domains: [], clusters: [], selection: [], search: "", message: "", revision: 0,
    };
    return {
      ...super.defaults(),
      ...safesailNames(STAR_MAP_MODEL, STAR_MAP_VIEW),
      ...state,
    };
  }

  static override serializers: ISerializers = {
    ...DOMWidgetModel.serializers,
    ...float32Columns(FLOAT_COLUMNS),
  };
}

// ---- the view -----------------------------------------------------------------------------------------------------

/** What Plotly reports for a selection. */
interface SelectionEvent {
  points?: { curveNumber: number; pointIndex?: number; pointNumber?: number }[];
}

type PlotDiv = HTMLDivElement & { on?(event: string, handler: (e: SelectionEvent | undefined) => void): void };

/** Whether WebGL traces can draw here: a WebGL context, and no page policy that forbids compiling code (regl needs it). */
function webglProblem(): string | null {
  for (const meta of Array.from(document.querySelectorAll('meta[http-equiv="Content-Security-Policy" i]'))) {
    const policy = meta.getAttribute("content") ?? "";
    const scripts = /(?:^|;)\s*script-src\s+([^;]*)/i.exec(policy)?.[1] ?? /(?:^|;)\s*default-src\s+([^;]*)/i.exec(policy)?.[1];
    if (scripts !== undefined && !/'unsafe-eval'/.test(scripts)) return "this page's Content-Security-Policy does not let WebGL traces compile";
  }
  // A policy sent as an HTTP header is not in the DOM: try what regl does. (Plotly itself does not throw when regl
  // cannot compile; it draws a "WebGL is not supported" notice instead of the points.)
  try {
    new Function("return 0")();
  } catch {
    return "this page's Content-Security-Policy does not let WebGL traces compile";
  }
  try {
    const canvas = document.createElement("canvas");
    if (!(canvas.getContext("webgl") ?? canvas.getContext("experimental-webgl"))) return "this browser gives no WebGL context";
  } catch {
    return "this browser gives no WebGL context";
  }
  return null;
}

let webglChecked: string | null | undefined;

interface Derived {
  revision: number;
  hover: string[];
  lowerIds: string[];
  lowerExplanations: string[];
  /** Point indices of each drawn trace (domains in order, then untagged). */
  groups: { name: string; colour: string; members: number[] }[];
  idIndex: Map<string, number>;
}

export class StarMapView extends DOMWidgetView {
  private plotEl!: PlotDiv;
  private statusEl!: HTMLDivElement;
  private searchEl!: HTMLInputElement;
  private matchesEl!: HTMLSpanElement;
  private labelsEl!: HTMLInputElement;
  private plotly: PlotlyApi | undefined;
  private derived: Derived | undefined;
  private matches: number[] = [];
  private drawing: Promise<void> = Promise.resolve();
  private searchTimer: ReturnType<typeof setTimeout> | undefined;
  private listening = false;
  private renderer: "webgl" | "svg" = "webgl";
  private fallbackNote = "";

  override render(): void {
    markRoot(this.el, "StarMap");
    this.el.classList.add("safesail-star-map");
    const problem = versionProblem(this.model.get("_model_module_version"));
    if (problem) {
      this.el.appendChild(el("div", { className: "safesail-error", text: problem }));
      return;
    }
    const title = el("div", { className: "safesail-title", text: String(this.model.get("title") ?? "") });
    this.searchEl = el("input", { className: "safesail-sm-search" });
    this.searchEl.type = "search";
    this.searchEl.placeholder = "search explanations or ids";
    this.searchEl.setAttribute("aria-label", "search");
    this.searchEl.setAttribute("data-lm-suppress-shortcuts", "true");
    this.searchEl.value = String(this.model.get("search") ?? "");
    this.searchEl.addEventListener("input", () => this.onSearchInput());
    this.matchesEl = el("span", { className: "safesail-sm-matches" });
    const selectMatches = el("button", { className: "safesail-sm-select-matches", text: "select matches" });
    selectMatches.addEventListener("click", () => {
      // The matches of what is typed now, even within the search's debounce.
      if (this.searchTimer !== undefined) this.commitSearch();
      this.writeSelection(this.matches.map((i) => this.derive().idsAt(i)));
    });
    const clear = el("button", { className: "safesail-sm-clear", text: "clear selection" });
    clear.addEventListener("click", () => this.writeSelection([]));
    this.labelsEl = el("input", { className: "safesail-sm-labels" });
    this.labelsEl.type = "checkbox";
    this.labelsEl.checked = true;
    this.labelsEl.addEventListener("change", () => this.scheduleDraw());
    const controls = el("div", { className: "safesail-controls" }, [
      this.searchEl, this.matchesEl, selectMatches, clear, el("label", { text: " cluster labels" }, [this.labelsEl]),
    ]);
    this.labelsEl.parentElement!.prepend(this.labelsEl);
    this.statusEl = el("div", { className: "safesail-status" });
    this.statusEl.setAttribute("role", "status");
    this.plotEl = el("div", { className: "safesail-plot safesail-sm-plot" });
    this.el.append(title, controls, this.statusEl, this.plotEl);

    this.listenTo(this.model, "change:title", () => {
      title.textContent = String(this.model.get("title") ?? "");
    });
    this.listenTo(this.model, "change:search", () => {
      const search = String(this.model.get("search") ?? "");
      if (this.searchEl.value !== search) this.searchEl.value = search;
      this.updateMatches();
      this.scheduleDraw();
    });
    this.listenTo(this.model, "change:selection change:message", () => this.syncStatus());
    this.listenTo(this.model, "change:selection", () => this.scheduleDraw());
    this.listenTo(this.model, "change:revision change:ids change:x change:y change:tag_set change:clusters", () => {
      this.updateMatches();
      this.scheduleDraw();
    });
    this.updateMatches();
    this.syncStatus();
    this.scheduleDraw();
  }

  /** Per-revision data: hover texts, lower-cased search fields, traces' members. */
  private derive(): Derived & { idsAt(i: number): string } {
    const revision = Number(this.model.get("revision") ?? 0);
    const ids = (this.model.get("ids") as string[]) ?? [];
    if (!this.derived || this.derived.revision !== revision || this.derived.lowerIds.length !== ids.length) {
      const explanations = (this.model.get("explanations") as string[]) ?? [];
      const tagSets = (this.model.get("tag_sets") as string[][]) ?? [];
      const tagSet = this.model.get("tag_set") as Float32Array;
      const score = this.model.get("score") as Float32Array;
      const domains = (this.model.get("domains") as string[]) ?? [];
      const groupOf = new Map<string, number>(domains.map((d, i) => [d, i]));
      const groups = [...domains.map((d) => ({ name: d, colour: domainColour(d), members: [] as number[] })), { name: "untagged", colour: UNTAGGED_COLOUR, members: [] as number[] }];
      const hover: string[] = new Array(ids.length);
      for (let i = 0; i < ids.length; i++) {
        const tags = tagSets[tagSet[i]!] ?? [];
        const g = tags.length ? (groupOf.get(tags[0]!) ?? groups.length - 1) : groups.length - 1;
        groups[g]!.members.push(i);
        const s = score[i]!;
        const head = `<b>${plotlyText(ids[i]!)}</b> · ${plotlyText(tags.join(", ") || "untagged")}${Number.isFinite(s) ? ` · score ${s.toFixed(2)}` : ""}`;
        const body = wrapText(explanations[i] ?? "", 70, 4).map(plotlyText);
        hover[i] = [head, ...(body.length ? body : ["(no explanation)"])].join("<br>");
      }
      this.derived = {
        revision,
        hover,
        lowerIds: ids.map((s) => s.toLowerCase()),
        lowerExplanations: explanations.map((s) => (s ?? "").toLowerCase()),
        groups: groups.filter((g) => g.members.length > 0),
        idIndex: new Map(ids.map((id, i) => [id, i])),
      };
    }
    return { ...this.derived, idsAt: (i: number) => ids[i]! };
  }

  private onSearchInput(): void {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => this.commitSearch(), 120);
  }

  /** Applies the typed search: matches, the ring trace, and `search` to the kernel. */
  private commitSearch(): void {
    clearTimeout(this.searchTimer);
    this.searchTimer = undefined;
    this.updateMatches();
    this.scheduleDraw();
    if (this.model.get("search") !== this.searchEl.value) {
      this.model.set("search", this.searchEl.value);
      saveChanges(this.model);
    }
  }

  /** The points whose id or explanation contains the search text (case-insensitive). */
  private updateMatches(): void {
    const needle = this.searchEl.value.trim().toLowerCase();
    const d = this.derive();
    this.matches = [];
    if (needle) {
      for (let i = 0; i < d.lowerIds.length; i++) {
        if (d.lowerIds[i]!.includes(needle) || d.lowerExplanations[i]!.includes(needle)) this.matches.push(i);
      }
    }
    this.matchesEl.textContent = needle ? `${this.matches.length} match${this.matches.length === 1 ? "" : "es"}` : "";
    this.el.dataset.matches = String(this.matches.length);
  }

  private writeSelection(ids: string[]): void {
    this.model.set("selection", ids);
    saveChanges(this.model);
  }

  private syncStatus(): void {
    const selection = (this.model.get("selection") as string[]) ?? [];
    const message = String(this.model.get("message") ?? "");
    const n = ((this.model.get("ids") as string[]) ?? []).length;
    const parts = [`${n} features`, selection.length ? `${selection.length} selected` : "", this.fallbackNote, message].filter(Boolean);
    this.statusEl.textContent = parts.join(" · ");
    this.el.dataset.selected = String(selection.length);
  }

  private scheduleDraw(): void {
    this.drawing = this.drawing.then(() => this.draw()).catch((err) => {
      this.statusEl.textContent = `could not draw the map: ${err instanceof Error ? err.message : String(err)}`;
      this.el.dataset.status = "error";
    });
  }

  private traces(type: "scattergl" | "scatter"): unknown[] {
    const d = this.derive();
    const x = this.model.get("x") as Float32Array;
    const y = this.model.get("y") as Float32Array;
    const selection = (this.model.get("selection") as string[]) ?? [];
    const selected = new Set(selection.map((id) => d.idIndex.get(id)).filter((i): i is number => i !== undefined));
    const pick = (col: Float32Array, members: number[]) => Float32Array.from(members, (i) => col[i]!);
    const traces: unknown[] = d.groups.map((g) => ({
      type,
      mode: "markers",
      name: plotlyText(g.name),
      x: pick(x, g.members),
      y: pick(y, g.members),
      text: g.members.map((i) => d.hover[i]!),
      hovertemplate: "%{text}<extra></extra>",
      marker: { color: g.colour, size: 6, opacity: 0.85 },
      // Points outside a selection fade; none fade when nothing is selected.
      selectedpoints: selected.size ? g.members.flatMap((i, k) => (selected.has(i) ? [k] : [])) : null,
      selected: { marker: { opacity: 1 } },
      unselected: { marker: { opacity: 0.15 } },
    }));
    if (this.matches.length) {
      traces.push({
        type,
        mode: "markers",
        name: plotlyText(`search: ${this.matches.length}`),
        x: pick(x, this.matches),
        y: pick(y, this.matches),
        text: this.matches.map((i) => d.hover[i]!),
        hovertemplate: "%{text}<extra></extra>",
        marker: { color: "rgba(0,0,0,0)", size: 13, line: { color: "#111", width: 2 }, symbol: "circle-open" },
        selectedpoints: null,
      });
    }
    return traces;
  }

  private layout(): Record<string, unknown> {
    const clusters = (this.model.get("clusters") as StarMapState["clusters"]) ?? [];
    const axis = { showgrid: false, zeroline: false, showticklabels: false, title: { text: "" } };
    return {
      height: 560,
      margin: { t: 10, r: 10, b: 10, l: 10 },
      dragmode: "select",
      hovermode: "closest",
      xaxis: axis,
      yaxis: axis,
      legend: { orientation: "h", y: -0.02, yanchor: "top" },
      // Keeps zoom and pan when the kernel sends a new selection or the search changes.
      uirevision: "star-map",
      annotations: this.labelsEl.checked
        ? clusters.map((c) => ({
            x: c.x, y: c.y, text: plotlyText(c.label), showarrow: false,
            font: { size: 11, color: "#222" }, bgcolor: "rgba(255,255,255,0.65)", borderpad: 1,
          }))
        : [],
    };
  }

  private async draw(): Promise<void> {
    this.plotly ??= await loadPlotly();
    if (webglChecked === undefined) webglChecked = webglProblem();
    const started = performance.now();
    if (this.renderer === "webgl" && webglChecked) this.useSvg(webglChecked);
    const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage"] };
    try {
      await this.plotly.react(this.plotEl, this.traces(this.renderer === "webgl" ? "scattergl" : "scatter"), this.layout(), config);
    } catch (err) {
      if (this.renderer !== "webgl") throw err;
      this.useSvg(`WebGL failed (${err instanceof Error ? err.message : String(err)})`);
      this.plotly.purge(this.plotEl);
      await this.plotly.react(this.plotEl, this.traces("scatter"), this.layout(), config);
    }
    if (!this.listening && this.plotEl.on) {
      this.listening = true;
      this.plotEl.on("plotly_selected", (e) => this.onSelected(e));
      this.plotEl.on("plotly_deselect", () => this.writeSelection([]));
    }
    this.el.dataset.revision = String(this.model.get("revision") ?? 0);
    this.el.dataset.renderer = this.renderer;
    this.el.dataset.points = String(((this.model.get("ids") as string[]) ?? []).length);
    this.el.dataset.renderMs = (performance.now() - started).toFixed(1);
  }

  private useSvg(why: string): void {
    this.renderer = "svg";
    this.fallbackNote = `drawn as SVG: ${why}`;
    this.syncStatus();
  }

  private onSelected(e: SelectionEvent | undefined): void {
    if (!e || !Array.isArray(e.points)) return;
    const d = this.derive();
    const traces = d.groups.map((g) => g.members);
    if (this.matches.length) traces.push(this.matches);
    const ids: string[] = [];
    const seen = new Set<number>();
    for (const p of e.points) {
      const members = traces[p.curveNumber];
      const k = p.pointIndex ?? p.pointNumber;
      if (!members || k === undefined) continue;
      const i = members[k];
      if (i === undefined || seen.has(i)) continue;
      seen.add(i);
      ids.push(d.idsAt(i));
    }
    this.writeSelection(ids);
  }

  override processLuminoMessage(msg: { type: string }): void {
    super.processLuminoMessage(msg as never);
    if ((msg.type === "resize" || msg.type === "after-show") && this.plotly && this.plotEl?.isConnected) {
      this.plotly.Plots.resize(this.plotEl);
    }
  }

  override remove(): this {
    clearTimeout(this.searchTimer);
    if (this.plotly && this.plotEl) this.plotly.purge(this.plotEl);
    return super.remove();
  }
}
