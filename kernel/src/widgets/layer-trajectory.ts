// LayerTrajectory: the cross-layer chain of a query and its answer (the view is widgets/src/views/layer-trajectory.ts;
// the synced state is LayerTrajectoryState in widgets/src/protocol.ts).
//
//   const tr = await trajectory(model, saes, db, { messages: [...] });   // src/steer
//   layerTrajectory({ trajectory: tr, title: "How do I make a bomb?" })
//
// `trajectory` is plain data: `{ tokens, answerStart, layers, nodes: [{ id, layer, tokens, total, max, explanation,
// score, tags }], links: [{ source, target, weight, tokens }] }` (src/steer's Trajectory is one; nothing here
// imports the library). Links join nodes by id; each must go from a lower to a higher layer. The view draws the
// `maxNodes` strongest nodes (by `total`) of each layer and the links between drawn nodes, and counts the rest.
// The front end writes `selected` (the clicked node).
import { LAYER_TRAJECTORY_MODEL, LAYER_TRAJECTORY_VIEW, type LayerTrajectoryState } from "../../../widgets/src/protocol.ts";
import { SafesailWidget, type SafesailDomProps, type SafesailState } from "./custom.ts";
import { checkFinite, checkIndex, checkList, checkRecord, checkString, featureInfo, layerNumbers, tokenColumns } from "./token-activations.ts";
import { defineStateAccessors, type WidgetOptions } from "./widget.ts";

export type { LayerTrajectoryState };

/** A node: a feature with the tokens it is a top feature of (src/steer's TrajectoryNode is one). */
export interface TrajectoryNodeInput {
  id: string;
  layer: number;
  tokens: readonly number[];
  total: number;
  max: number;
  explanation: string | null;
  score: number | null;
  tags: readonly string[];
}

/** A link between nodes of adjacent layers (src/steer's TrajectoryLink is one). */
export interface TrajectoryLinkInput {
  source: string;
  target: string;
  weight: number;
  tokens?: readonly number[];
}

/** The trajectory as plain data (src/steer's Trajectory is one). */
export interface TrajectoryInput {
  tokens: readonly { text: string; display?: string; special?: boolean }[];
  answerStart?: number | null;
  /** SAE layers (numbers or `{ layer }`); the nodes' layers when absent. */
  layers?: readonly (number | { layer: number })[];
  nodes: readonly TrajectoryNodeInput[];
  links: readonly TrajectoryLinkInput[];
  warnings?: readonly string[];
}

export interface LayerTrajectoryInit extends Partial<SafesailDomProps> {
  trajectory: TrajectoryInput;
  title?: string;
  /** Nodes drawn per layer (default 12). */
  maxNodes?: number;
}

export type LayerTrajectoryData = Pick<LayerTrajectoryState, "layers" | "tokens" | "token_flags" | "nodes" | "node_tokens" | "node_token_start" | "links" | "link_tokens" | "link_token_start" | "message">;

/** Token index lists flattened into one column plus start offsets (n + 1 of them). */
function flatten(lists: readonly (readonly number[])[]): { values: Float32Array; start: Float32Array } {
  const start = new Float32Array(lists.length + 1);
  let total = 0;
  lists.forEach((l, i) => {
    start[i] = total;
    total += l.length;
  });
  start[lists.length] = total;
  const values = new Float32Array(total);
  let k = 0;
  for (const l of lists) for (const t of l) values[k++] = t;
  return { values, start };
}

function tokenList(value: unknown, size: number, where: string): number[] {
  const list = checkList(value, where).map((t, i) => checkIndex(t, size, `${where}[${i}]`, "token"));
  return [...new Set(list)].sort((a, b) => a - b);
}

/** A trajectory in the form the state keeps (see the file comment); errors name the field (`trajectory.links[2].target`). */
export function trajectoryState(trajectory: TrajectoryInput, where = "trajectory"): LayerTrajectoryData {
  const tr = checkRecord(trajectory, where);
  const { tokens, flags } = tokenColumns(tr.tokens, tr.answerStart, where);
  const T = tokens.length;
  const nodeList = checkList(tr.nodes, `${where}.nodes`);
  const byId = new Map<string, number>();
  const nodeTokens: number[][] = [];
  const nodes = nodeList.map((n, i) => {
    const nw = `${where}.nodes[${i}]`;
    const o = checkRecord(n, nw);
    const info = featureInfo(o, "id", nw);
    if (byId.has(info.id)) throw new Error(`${nw}.id: ${info.id} is also nodes[${byId.get(info.id)}]`);
    byId.set(info.id, i);
    const total = checkFinite(o.total, `${nw}.total`);
    const max = checkFinite(o.max, `${nw}.max`);
    if (total < 0 || max < 0) throw new Error(`${nw}: total and max must be >= 0, got ${total} and ${max}`);
    nodeTokens.push(tokenList(o.tokens, T, `${nw}.tokens`));
    return { ...info, total, max };
  });
  const layers = tr.layers === undefined ? [...new Set(nodes.map((n) => n.layer))].sort((a, b) => a - b) : layerNumbers(tr.layers, `${where}.layers`);
  nodes.forEach((n, i) => {
    if (!layers.includes(n.layer)) throw new Error(`${where}.nodes[${i}]: layer ${n.layer} is not among the trajectory's layers (${layers.join(", ")})`);
  });
  const linkTokens: number[][] = [];
  const links = checkList(tr.links, `${where}.links`).map((l, i) => {
    const lw = `${where}.links[${i}]`;
    const o = checkRecord(l, lw);
    const end = (key: "source" | "target") => {
      const id = checkString(o[key], `${lw}.${key}`);
      const k = byId.get(id);
      if (k === undefined) throw new Error(`${lw}.${key}: ${id} is not a node`);
      return k;
    };
    const source = end("source");
    const target = end("target");
    if (nodes[source]!.layer >= nodes[target]!.layer) {
      throw new Error(`${lw}: goes from layer ${nodes[source]!.layer} (${nodes[source]!.id}) to layer ${nodes[target]!.layer} (${nodes[target]!.id}); a link goes to a higher layer`);
    }
    const weight = checkFinite(o.weight, `${lw}.weight`);
    if (weight < 0) throw new Error(`${lw}.weight: must be >= 0, got ${weight}`);
    linkTokens.push(o.tokens === undefined ? [] : tokenList(o.tokens, T, `${lw}.tokens`));
    return { source, target, weight };
  });
  const nt = flatten(nodeTokens);
  const lt = flatten(linkTokens);
  const warnings = tr.warnings === undefined ? [] : checkList(tr.warnings, `${where}.warnings`).map((w, i) => checkString(w, `${where}.warnings[${i}]`));
  if (nodes.length === 0) warnings.push("no feature fires on these tokens at any layer");
  return {
    layers, tokens, token_flags: flags, nodes, node_tokens: nt.values, node_token_start: nt.start,
    links, link_tokens: lt.values, link_token_start: lt.start, message: warnings.join("; "),
  };
}

function emptyTrajectory(): LayerTrajectoryData {
  return {
    layers: [], tokens: [], token_flags: new Float32Array(0), nodes: [], node_tokens: new Float32Array(0), node_token_start: new Float32Array(1),
    links: [], link_tokens: new Float32Array(0), link_token_start: new Float32Array(1), message: "",
  };
}

export interface LayerTrajectory extends LayerTrajectoryState {}

/** LayerTrajectoryModel (module "safesail-widgets"); `layerTrajectory(init)` is `new LayerTrajectory(init)`. */
export class LayerTrajectory extends SafesailWidget<LayerTrajectoryState> {
  static override readonly noEcho: readonly string[] = ["layers", "tokens", "token_flags", "nodes", "node_tokens", "node_token_start", "links", "link_tokens", "link_token_start"];

  constructor(init: LayerTrajectoryInit, opts: WidgetOptions = {}) {
    const { trajectory, maxNodes, ...rest } = init;
    const data = trajectoryState(trajectory, "LayerTrajectory: trajectory");
    super({ model: LAYER_TRAJECTORY_MODEL, view: LAYER_TRAJECTORY_VIEW }, {
      title: "", ...emptyTrajectory(), max_nodes: 12, selected: "", revision: 0,
    }, { ...rest, ...data, ...(maxNodes === undefined ? {} : { max_nodes: maxNodes }), revision: 1 }, opts);
  }

  /** Shows another trajectory (the selection is cleared unless its node is in the new one). */
  setTrajectory(trajectory: TrajectoryInput): void {
    const data = trajectoryState(trajectory, "LayerTrajectory.setTrajectory");
    this.holdSync(() => {
      if (!data.nodes.some((n) => n.id === this.get("selected"))) this.set({ selected: "" });
      this.set({ ...data, revision: this.get("revision") + 1 });
    });
  }

  /** The selected node's feature, tokens (indices) and links, or null. */
  selectedNode(): { node: LayerTrajectoryState["nodes"][number]; tokens: number[] } | null {
    const s = this.getState();
    const i = s.nodes.findIndex((n) => n.id === s.selected);
    if (i < 0) return null;
    return { node: s.nodes[i]!, tokens: Array.from(s.node_tokens.subarray(s.node_token_start[i]!, s.node_token_start[i + 1]!)) };
  }

  override repr(maxLength = Infinity): string {
    const s = this.getState();
    const parts = [
      `layers=[${s.layers.join(", ")}]`, `nodes=${s.nodes.length}`, `links=${s.links.length}`, `tokens=${s.tokens.length}`,
      s.selected ? `selected=${JSON.stringify(s.selected)}` : "", s.title ? `title=${JSON.stringify(s.title)}` : "",
    ].filter(Boolean);
    const text = `LayerTrajectory(${parts.join(", ")})`;
    return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
  }

  protected override coerceAttribute(key: string, value: unknown, state: SafesailState<LayerTrajectoryState>): unknown {
    const where = `LayerTrajectory: "${key}"`;
    switch (key) {
      case "title":
      case "message":
        return checkString(value, where);
      case "selected":
        checkString(value, where);
        if (value !== "" && !state.nodes.some((n) => n.id === value)) throw new Error(`${where}: ${JSON.stringify(value)} is not a node of the trajectory`);
        return value;
      case "max_nodes":
        if (typeof value !== "number" || !Number.isInteger(value) || value < 1) throw new Error(`${where}: expected a whole number >= 1, got ${JSON.stringify(value)}`);
        return value;
      case "revision":
        if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new Error(`${where}: expected a whole number`);
        return value;
      default:
        return value;
    }
  }
}
defineStateAccessors(LayerTrajectory, ["title", "layers", "tokens", "token_flags", "nodes", "node_tokens", "node_token_start", "links", "link_tokens", "link_token_start", "max_nodes", "selected", "message", "revision"]);

/** `new LayerTrajectory(init, opts)` for cells. */
export function layerTrajectory(init: LayerTrajectoryInit, opts: WidgetOptions = {}): LayerTrajectory {
  return new LayerTrajectory(init, opts);
}
