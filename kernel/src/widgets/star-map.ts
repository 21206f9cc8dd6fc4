// StarMap: the feature panorama (the view is widgets/src/views/star-map.ts; the synced state is StarMapState in
// widgets/src/protocol.ts).
//
//   const m = starMap({ map: await readMap("MAP.json"), onSelect: (ids) => console.log(ids.length, "selected") });
//   m                    // the cell's last expression shows it
//   m.selection          // later: the feature ids of the last lasso / box selection
//   m.selectedPoints()   // ... as the map's own point objects
//
// `map` is plain data: `{ points: [{ id, x, y, cluster, tags, explanation, score }], clusters: [{ label, x, y,
// size }] }` (src/map's FeatureMap is one; nothing here imports the library). A cluster without x / y is placed at
// the mean of its members, one without `size` counts them. Points travel as columns: ids and explanations as JSON
// lists of strings, coordinates, cluster, score and tag-list indices as Float32Array buffers, so the 4,700 points
// of the released Safe-SAIL database are one message of about 0.6 MB, most of it the explanations.
//
// `selection` is synced both ways: the front end writes the ids of a lasso or box selection (or of "select
// matches"), kernel code may write it too (the view then highlights those points). Every change calls `onSelect`
// with the new ids. An id not on the map is refused (from kernel code: thrown; from the front end: the kernel's
// selection goes back).
import { STAR_MAP_MODEL, STAR_MAP_VIEW, type StarMapState } from "../../../widgets/src/protocol.ts";
import { SafesailWidget, type SafesailDomProps, type SafesailState } from "./custom.ts";
import { checkFinite, checkList, checkRecord, checkScore, checkString, checkTags, isRecord } from "./token-activations.ts";
import { defineStateAccessors, type WidgetOptions } from "./widget.ts";

export type { StarMapState };

/** A point of the map (src/map's MapPoint is one). */
export interface MapPointInput {
  /** `{layer}_{index}`. */
  id: string;
  x: number;
  y: number;
  /** Index into `clusters`; -1, null or absent: none. */
  cluster?: number | null;
  tags?: readonly string[];
  explanation?: string | null;
  score?: number | null;
}

/** A cluster (src/map's MapCluster is one): `id` is its index in `clusters`. */
export interface MapClusterInput {
  label: string;
  x?: number;
  y?: number;
  size?: number;
}

/** The feature map as plain data (src/map's FeatureMap is one). */
export interface FeatureMapInput {
  points: readonly MapPointInput[];
  clusters?: readonly MapClusterInput[];
  /** Features not on the map, with why (counted in the widget's message). */
  unplaced?: readonly { id: string; reason?: string }[];
  warnings?: readonly string[];
}

export interface StarMapInit extends Partial<SafesailDomProps> {
  map: FeatureMapInput;
  title?: string;
  /** Called with the feature ids on every change of `selection`. */
  onSelect?: (ids: string[]) => unknown;
  search?: string;
  selection?: string[];
}

export type StarMapData = Pick<StarMapState, "ids" | "explanations" | "x" | "y" | "cluster" | "score" | "tag_sets" | "tag_set" | "domains" | "clusters" | "message">;

/** A map in the form the state keeps (see the file comment); errors name the field (`map.points[12].x`). */
export function starMapState(map: FeatureMapInput, where = "map"): StarMapData {
  const m = checkRecord(map, where);
  const points = checkList(m.points, `${where}.points`);
  const clusterList = m.clusters === undefined ? [] : checkList(m.clusters, `${where}.clusters`);
  const n = points.length;
  const ids: string[] = [];
  const explanations: string[] = [];
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const cluster = new Float32Array(n);
  const score = new Float32Array(n);
  const tagSet = new Float32Array(n);
  const tagSets: string[][] = [];
  const tagSetIndex = new Map<string, number>();
  const seen = new Map<string, number>();
  const domainCount = new Map<string, number>();
  points.forEach((p, i) => {
    const pw = `${where}.points[${i}]`;
    const pt = checkRecord(p, pw);
    const id = checkString(pt.id, `${pw}.id`);
    if (id === "") throw new Error(`${pw}.id: empty feature id`);
    const twin = seen.get(id);
    if (twin !== undefined) throw new Error(`${pw}.id: ${id} is also points[${twin}]`);
    seen.set(id, i);
    ids.push(id);
    x[i] = checkFinite(pt.x, `${pw}.x`);
    y[i] = checkFinite(pt.y, `${pw}.y`);
    const c = pt.cluster;
    if (c === undefined || c === null || c === -1) cluster[i] = -1;
    else if (typeof c !== "number" || !Number.isInteger(c) || c < 0 || c >= clusterList.length) {
      throw new Error(`${pw}.cluster: expected -1, null or a cluster index 0..${clusterList.length - 1}, got ${JSON.stringify(c)}`);
    } else cluster[i] = c;
    explanations.push(pt.explanation === null || pt.explanation === undefined ? "" : checkString(pt.explanation, `${pw}.explanation`));
    const s = checkScore(pt.score, `${pw}.score`);
    score[i] = s === null ? NaN : s;
    const tags = [...new Set(checkTags(pt.tags, `${pw}.tags`))];
    const key = JSON.stringify(tags);
    let t = tagSetIndex.get(key);
    if (t === undefined) {
      t = tagSets.length;
      tagSetIndex.set(key, t);
      tagSets.push(tags);
    }
    tagSet[i] = t;
    if (tags.length > 0) domainCount.set(tags[0]!, (domainCount.get(tags[0]!) ?? 0) + 1);
  });

  // Cluster centres and sizes from the members where the map does not give them.
  const sumX = new Float64Array(clusterList.length);
  const sumY = new Float64Array(clusterList.length);
  const members = new Float64Array(clusterList.length);
  for (let i = 0; i < n; i++) {
    const c = cluster[i]!;
    if (c < 0) continue;
    sumX[c]! += x[i]!;
    sumY[c]! += y[i]!;
    members[c]!++;
  }
  const clusters = clusterList.map((cl, c) => {
    const cw = `${where}.clusters[${c}]`;
    const o = checkRecord(cl, cw);
    const label = checkString(o.label, `${cw}.label`);
    const cx = o.x === undefined ? (members[c]! > 0 ? sumX[c]! / members[c]! : NaN) : checkFinite(o.x, `${cw}.x`);
    const cy = o.y === undefined ? (members[c]! > 0 ? sumY[c]! / members[c]! : NaN) : checkFinite(o.y, `${cw}.y`);
    if (!Number.isFinite(cx) || !Number.isFinite(cy)) throw new Error(`${cw}: no x / y and no member point to place its label`);
    const size = o.size === undefined ? members[c]! : checkFinite(o.size, `${cw}.size`);
    return { id: c, label, x: cx, y: cy, size };
  });

  const warnings = m.warnings === undefined ? [] : checkList(m.warnings, `${where}.warnings`).map((w, i) => checkString(w, `${where}.warnings[${i}]`));
  if (m.unplaced !== undefined) {
    const unplaced = checkList(m.unplaced, `${where}.unplaced`);
    // A map from src/map already says it in its warnings (with the reasons in words); say it once.
    if (unplaced.length > 0 && !warnings.some((w) => w.includes("not on the map"))) {
      const reasons = new Map<string, number>();
      for (const u of unplaced) {
        const r = isRecord(u) && typeof u.reason === "string" ? u.reason : "unknown";
        reasons.set(r, (reasons.get(r) ?? 0) + 1);
      }
      const why = [...reasons].map(([r, k]) => `${r} ${k}`).join(", ");
      warnings.push(`${unplaced.length} feature${unplaced.length === 1 ? " is" : "s are"} not on the map (${why})`);
    }
  }
  if (n === 0) warnings.push("the map has no points");

  const domains = [...domainCount].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([d]) => d);
  return { ids, explanations, x, y, cluster, score, tag_sets: tagSets, tag_set: tagSet, domains, clusters, message: warnings.join("; ") };
}

function emptyMap(): StarMapData {
  return {
    ids: [], explanations: [], x: new Float32Array(0), y: new Float32Array(0), cluster: new Float32Array(0), score: new Float32Array(0),
    tag_sets: [], tag_set: new Float32Array(0), domains: [], clusters: [], message: "",
  };
}

export interface StarMap extends StarMapState {}

/** StarMapModel (module "safesail-widgets"); `starMap(init)` is `new StarMap(init)`. */
export class StarMap extends SafesailWidget<StarMapState> {
  static override readonly noEcho: readonly string[] = ["ids", "explanations", "x", "y", "cluster", "score", "tag_sets", "tag_set", "domains", "clusters"];

  #map: FeatureMapInput;
  #idIndex = new Map<string, number>();

  constructor(init: StarMapInit, opts: WidgetOptions = {}) {
    const { map, onSelect, ...rest } = init;
    if (onSelect !== undefined && typeof onSelect !== "function") throw new Error("StarMap: onSelect must be a function (ids) => ...");
    const data = starMapState(map, "StarMap: map");
    super({ model: STAR_MAP_MODEL, view: STAR_MAP_VIEW }, { title: "", ...emptyMap(), selection: [], search: "", revision: 0 }, { ...rest, ...data, revision: 1 }, opts);
    this.#map = map;
    this.#idIndex = new Map(data.ids.map((id, i) => [id, i]));
    if (onSelect) this.on("change:selection", (ids) => onSelect([...ids]));
  }

  /** Shows another map; the selection keeps the ids that are on it. */
  setMap(map: FeatureMapInput): void {
    const data = starMapState(map, "StarMap.setMap");
    const ids = new Set(data.ids);
    this.#map = map;
    this.holdSync(() => {
      // Narrowed first, so that the new ids check the remaining selection.
      this.set({ selection: this.get("selection").filter((id) => ids.has(id)) });
      this.set({ ...data, revision: this.get("revision") + 1 });
      this.#idIndex = new Map(data.ids.map((id, i) => [id, i]));
    });
  }

  /** The map as given (the last `map` or `setMap`). */
  get map(): FeatureMapInput {
    return this.#map;
  }

  /** The selected features as the map's own point objects, in selection order. */
  selectedPoints(): MapPointInput[] {
    return this.get("selection").map((id) => this.#map.points[this.#idIndex.get(id)!]!);
  }

  /** Ids whose explanation or id contains `text` (case-insensitive), the view's search rule. */
  matches(text: string = this.get("search")): string[] {
    const needle = text.trim().toLowerCase();
    if (needle === "") return [];
    const { ids, explanations } = this.getState();
    return ids.filter((id, i) => id.toLowerCase().includes(needle) || explanations[i]!.toLowerCase().includes(needle));
  }

  override repr(maxLength = Infinity): string {
    const s = this.getState();
    const parts = [
      `points=${s.ids.length}`, `clusters=${s.clusters.length}`, `selection=${s.selection.length}`,
      s.search ? `search=${JSON.stringify(s.search)}` : "", s.title ? `title=${JSON.stringify(s.title)}` : "",
      s.message ? `message=${JSON.stringify(s.message)}` : "",
    ].filter(Boolean);
    const text = `StarMap(${parts.join(", ")})`;
    return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
  }

  protected override coerceAttribute(key: string, value: unknown, state: SafesailState<StarMapState>): unknown {
    const where = `StarMap: "${key}"`;
    switch (key) {
      case "title":
      case "search":
      case "message":
        return checkString(value, where);
      case "revision":
        if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new Error(`${where}: expected a whole number`);
        return value;
      case "selection": {
        const ids = checkList(value, where).map((id, i) => checkString(id, `${where}[${i}]`));
        // From the state, not a field: this also runs during construction, before the fields exist.
        const known = new Set(state.ids);
        const missing = ids.filter((id) => !known.has(id));
        if (missing.length > 0) throw new Error(`${where}: not on the map: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? `, ... (${missing.length})` : ""}`);
        return [...new Set(ids)];
      }
      default:
        return value;
    }
  }
}
defineStateAccessors(StarMap, ["title", "ids", "explanations", "x", "y", "cluster", "score", "tag_sets", "tag_set", "domains", "clusters", "selection", "search", "message", "revision"]);

/** `new StarMap(init, opts)` for cells. */
export function starMap(init: StarMapInit, opts: WidgetOptions = {}): StarMap {
  return new StarMap(init, opts);
}
