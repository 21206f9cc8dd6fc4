// LayerTrajectory: the cross-layer chain (LayerTrajectoryState in protocol.ts), drawn as SVG. One column per SAE
// layer; the `max_nodes` strongest features of each layer as circles whose area follows their summed normalised
// activation; curves between features of adjacent layers that fire on the same tokens, as wide as their weight.
// Hovering a node shows its explanation and the tokens it fires on (highlighted in the text strip above); a click
// pins it and writes `selected`. All text (ids, explanations, tokens) is SVG or HTML text nodes.
import { DOMWidgetModel, DOMWidgetView, type ISerializers } from "@jupyter-widgets/base";
import {
  LAYER_TRAJECTORY_MODEL,
  LAYER_TRAJECTORY_VIEW,
  TOKEN_ANSWER,
  TOKEN_SPECIAL,
  type LayerTrajectoryState,
} from "../protocol.ts";
import { safesailNames } from "./model-names.ts";
import { float32Columns } from "./buffers.ts";
import { el, markRoot, versionProblem } from "./dom.ts";
import { domainColour, saveChanges, withAlpha } from "./star-map.ts";

const FLOAT_COLUMNS = ["token_flags", "node_tokens", "node_token_start", "link_tokens", "link_token_start"] as const;

export class LayerTrajectoryModel extends DOMWidgetModel {
  override defaults(): Backbone.ObjectHash {
    const state: LayerTrajectoryState = {
      title: "", layers: [], tokens: [], token_flags: new Float32Array(0), nodes: [],
      node_tokens: new Float32Array(0), node_token_start: new Float32Array(1), links: [],
      link_tokens: new Float32Array(0), link_token_start: new Float32Array(1), max_nodes: 12, selected: "", message: "", revision: 0,
    };
    return {
      ...super.defaults(),
      ...safesailNames(LAYER_TRAJECTORY_MODEL, LAYER_TRAJECTORY_VIEW),
      ...state,
    };
  }

  static override serializers: ISerializers = {
    ...DOMWidgetModel.serializers,
    ...float32Columns(FLOAT_COLUMNS),
  };
}

const SVG_NS = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, children: Node[] = []): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.appendChild(c);
  return node;
}

/** An SVG <text> (or <title>) whose content is a text node. */
function svgText(tag: "text" | "title", text: string, attrs: Record<string, string | number> = {}): SVGElement {
  const node = svg(tag, attrs);
  node.textContent = text;
  return node;
}

const WIDTH = 960;
const TOP = 34;
const ROW = 42;
const PAD_X = 24;

type TrajNode = LayerTrajectoryState["nodes"][number];

export class LayerTrajectoryView extends DOMWidgetView {
  private stripEl!: HTMLDivElement;
  private graphEl!: HTMLDivElement;
  private detailEl!: HTMLDivElement;
  private statusEl!: HTMLDivElement;
  private tokenSpans: HTMLSpanElement[] = [];
  private nodeEls = new Map<number, SVGGElement>();
  private linkEls: { el: SVGPathElement; source: number; target: number }[] = [];
  private hovered = -1;

  override render(): void {
    markRoot(this.el, "LayerTrajectory");
    this.el.classList.add("safesail-layer-trajectory");
    const problem = versionProblem(this.model.get("_model_module_version"));
    if (problem) {
      this.el.appendChild(el("div", { className: "safesail-error", text: problem }));
      return;
    }
    this.statusEl = el("div", { className: "safesail-status" });
    this.statusEl.setAttribute("role", "status");
    this.stripEl = el("div", { className: "safesail-lt-tokens" });
    this.graphEl = el("div", { className: "safesail-lt-graph" });
    this.detailEl = el("div", { className: "safesail-lt-detail" });
    this.el.append(el("div", { className: "safesail-title", text: String(this.model.get("title") ?? "") }), this.statusEl, this.stripEl, this.graphEl, this.detailEl);
    this.draw();
  }

  override update(): void {
    if (!this.graphEl) return;
    const changed = this.model.changedAttributes() || {};
    if ("title" in changed) (this.el.querySelector(".safesail-title") as HTMLElement).textContent = String(this.model.get("title") ?? "");
    if ("revision" in changed || "nodes" in changed || "links" in changed || "max_nodes" in changed) return this.draw();
    if ("selected" in changed) this.highlight();
    if ("message" in changed) this.statusEl.textContent = String(this.model.get("message") ?? "");
  }

  private nodeTokens(i: number, which: "node" | "link" = "node"): Float32Array {
    const values = this.model.get(`${which}_tokens`) as Float32Array;
    const start = this.model.get(`${which}_token_start`) as Float32Array;
    return values.subarray(start[i]!, start[i + 1]!);
  }

  private draw(): void {
    const started = performance.now();
    const layers = (this.model.get("layers") as number[]) ?? [];
    const nodes = (this.model.get("nodes") as TrajNode[]) ?? [];
    const links = (this.model.get("links") as LayerTrajectoryState["links"]) ?? [];
    const tokens = (this.model.get("tokens") as string[]) ?? [];
    const flags = this.model.get("token_flags") as Float32Array;
    const maxNodes = Math.max(1, Number(this.model.get("max_nodes") ?? 12));
    this.statusEl.textContent = String(this.model.get("message") ?? "");

    // The text strip: every token, special ones greyed; the hovered node's tokens are highlighted.
    this.tokenSpans = tokens.map((t, i) => {
      const span = el("span", { className: flags[i]! & TOKEN_SPECIAL ? "safesail-tok safesail-tok-special" : "safesail-tok", text: t });
      if (flags[i]! & TOKEN_ANSWER) span.classList.add("safesail-tok-answer");
      span.dataset.index = String(i);
      return span;
    });
    this.stripEl.replaceChildren(...this.tokenSpans);

    // Columns: the strongest nodes of each layer.
    const shown = new Map<number, { x: number; y: number; r: number }>();
    const hidden = new Map<number, number>();
    const maxTotal = Math.max(1e-9, ...nodes.map((n) => n.total));
    const colW = layers.length > 1 ? (WIDTH - 2 * PAD_X - 180) / (layers.length - 1) : 0;
    const labelChars = Math.max(12, Math.floor(((layers.length > 1 ? colW : WIDTH / 2) - 40) / 6.2));
    let rows = 0;
    const colX = new Map(layers.map((l, c) => [l, PAD_X + 16 + c * colW]));
    for (const layer of layers) {
      const members = nodes.map((n, i) => ({ n, i })).filter((m) => m.n.layer === layer).sort((a, b) => b.n.total - a.n.total || a.i - b.i);
      members.slice(0, maxNodes).forEach((m, j) => {
        shown.set(m.i, { x: colX.get(layer)!, y: TOP + 22 + j * ROW, r: 3 + 11 * Math.sqrt(m.n.total / maxTotal) });
      });
      hidden.set(layer, Math.max(0, members.length - maxNodes));
      rows = Math.max(rows, Math.min(maxNodes, members.length));
    }
    const height = TOP + 22 + Math.max(1, rows) * ROW;
    const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: "100%", role: "img", class: "safesail-lt-svg" });
    root.appendChild(svgText("title", `features per layer: ${layers.join(", ")}`));
    for (const layer of layers) {
      const more = hidden.get(layer)!;
      root.appendChild(svgText("text", `layer ${layer}${more ? ` (+${more} more)` : ""}`, { x: colX.get(layer)! - 10, y: 16, class: "safesail-lt-layer" }));
    }

    const maxWeight = Math.max(1e-9, ...links.map((l) => l.weight));
    const linkGroup = svg("g", { class: "safesail-lt-links" });
    this.linkEls = [];
    links.forEach((l, i) => {
      const a = shown.get(l.source);
      const b = shown.get(l.target);
      if (!a || !b) return;
      const mx = (a.x + b.x) / 2;
      const path = svg("path", {
        d: `M ${a.x + a.r} ${a.y} C ${mx} ${a.y}, ${mx} ${b.y}, ${b.x - b.r} ${b.y}`,
        "stroke-width": (0.6 + 7 * (l.weight / maxWeight)).toFixed(2),
        class: "safesail-lt-link",
      });
      path.dataset.link = String(i);
      const shared = Array.from(this.nodeTokens(i, "link"), (t) => JSON.stringify(tokens[t] ?? ""));
      path.appendChild(svgText("title", `${nodes[l.source]!.id} → ${nodes[l.target]!.id}: weight ${l.weight.toFixed(2)}${shared.length ? `; shared tokens ${shared.slice(0, 12).join(" ")}${shared.length > 12 ? " …" : ""}` : ""}`));
      linkGroup.appendChild(path);
      this.linkEls.push({ el: path, source: l.source, target: l.target });
    });
    root.appendChild(linkGroup);

    this.nodeEls = new Map();
    const nodeGroup = svg("g", { class: "safesail-lt-nodes" });
    for (const [i, p] of shown) {
      const n = nodes[i]!;
      const colour = domainColour(n.tags[0]);
      const explanation = n.explanation || "(no explanation)";
      const g = svg("g", { class: "safesail-lt-node", transform: `translate(${p.x} ${p.y})`, tabindex: 0 }, [
        svg("circle", { r: p.r.toFixed(2), fill: withAlpha(colour, 0.85), stroke: colour }),
        svgText("text", n.id, { x: p.r + 4, y: -2, class: "safesail-lt-id" }),
        svgText("text", explanation.length > labelChars ? `${explanation.slice(0, labelChars - 1)}…` : explanation, { x: p.r + 4, y: 10, class: "safesail-lt-expl" }),
        svgText("title", `${n.id}: ${explanation}`),
      ]);
      g.dataset.node = n.id;
      g.addEventListener("mouseenter", () => this.hover(i));
      g.addEventListener("mouseleave", () => this.hover(-1));
      g.addEventListener("click", () => {
        this.model.set("selected", this.model.get("selected") === n.id ? "" : n.id);
        saveChanges(this.model);
      });
      nodeGroup.appendChild(g);
      this.nodeEls.set(i, g);
    }
    root.appendChild(nodeGroup);
    this.graphEl.replaceChildren(root);
    this.highlight();
    void this.el.offsetHeight;
    this.el.dataset.revision = String(this.model.get("revision") ?? 0);
    this.el.dataset.nodes = String(shown.size);
    this.el.dataset.links = String(this.linkEls.length);
    this.el.dataset.renderMs = (performance.now() - started).toFixed(1);
  }

  private hover(i: number): void {
    this.hovered = i;
    this.highlight();
  }

  /** The node shown in detail: the hovered one, else the selected one. */
  private focus(): number {
    if (this.hovered >= 0) return this.hovered;
    const selected = String(this.model.get("selected") ?? "");
    return ((this.model.get("nodes") as TrajNode[]) ?? []).findIndex((n) => n.id === selected);
  }

  private highlight(): void {
    const i = this.focus();
    const selected = String(this.model.get("selected") ?? "");
    for (const [k, g] of this.nodeEls) {
      g.classList.toggle("safesail-lt-node-focus", k === i);
      g.classList.toggle("safesail-lt-node-selected", g.dataset.node === selected);
    }
    for (const l of this.linkEls) {
      l.el.classList.toggle("safesail-lt-link-focus", i >= 0 && (l.source === i || l.target === i));
      l.el.classList.toggle("safesail-lt-link-dim", i >= 0 && l.source !== i && l.target !== i);
    }
    const fires = i >= 0 ? new Set(this.nodeTokens(i)) : new Set<number>();
    this.tokenSpans.forEach((s, t) => s.classList.toggle("safesail-tok-fires", fires.has(t)));
    this.detail(i);
  }

  private detail(i: number): void {
    const nodes = (this.model.get("nodes") as TrajNode[]) ?? [];
    const n = nodes[i];
    if (!n) {
      this.detailEl.replaceChildren(el("div", { className: "safesail-ta-hint", text: "hover or click a feature to see its explanation and the tokens it fires on" }));
      return;
    }
    const tokens = (this.model.get("tokens") as string[]) ?? [];
    const chips = Array.from(this.nodeTokens(i), (t) => {
      const chip = el("span", { className: "safesail-lt-chip", text: tokens[t] ?? "", title: `token ${t}` });
      chip.style.borderColor = domainColour(n.tags[0]);
      return chip;
    });
    this.detailEl.replaceChildren(
      el("div", { className: "safesail-lt-detail-head" }, [
        el("b", { text: n.id }),
        el("span", { text: ` · layer ${n.layer} · ${n.tags.join(", ") || "untagged"} · score ${n.score === null ? "–" : n.score.toFixed(2)} · total ${n.total.toFixed(2)} · max ${n.max.toFixed(2)}` }),
      ]),
      el("div", { className: "safesail-lt-detail-expl", text: n.explanation || "(no explanation)" }),
      el("div", { className: "safesail-lt-detail-tokens" }, [el("span", { text: `fires on ${chips.length} token${chips.length === 1 ? "" : "s"}: ` }), ...chips]),
    );
  }
}
