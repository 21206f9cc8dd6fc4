// The contract between the kernel's custom widget models (kernel/src/widgets/custom.ts) and the front-end views
// (widgets/src/views/): module name and version, the view markers, and each model's synced state. One definition,
// imported by both sides; no DOM and no Node imports here, so the kernel and the browser bundles can both load it.

/** The widget module every safesail model and view names (`_model_module`, `_view_module`). */
export const MODULE_NAME = "safesail-widgets";
/**
 * The module's semver version. Equal to widgets/package.json's "version" (a test checks). A kernel sends it as
 * `_model_module_version`; the front end refuses a model whose major version (minor, while 0.x) differs.
 */
export const MODULE_VERSION = "0.1.0";

/** Class on every view's root element. */
export const VIEW_CLASS = "safesail-widget";
/** Attribute on every view's root element that names the view (`data-safesail-view="MetricPlot"`). */
export const VIEW_ATTRIBUTE = "data-safesail-view";

/** True when a front end built at `MODULE_VERSION` can render a model that announced `version`. */
export function compatibleVersion(version: string, ours: string = MODULE_VERSION): boolean {
  const parse = (v: string) => /^\^?~?(\d+)\.(\d+)\.(\d+)/.exec(v)?.slice(1, 4).map(Number);
  const a = parse(version);
  const b = parse(ours);
  if (!a || !b) return false;
  // semver caret rule: 0.x versions are compatible within a minor, 1.x and later within a major.
  return a[0] === b[0] && (a[0] !== 0 || a[1] === b[1]);
}

/** One Plotly scatter/bar trace; numeric arrays travel as Float32Array binary buffers, never as JSON lists. */
export interface PlotTrace {
  name: string;
  x: Float32Array;
  y: Float32Array;
  type?: "scatter" | "bar";
  mode?: "lines" | "markers" | "lines+markers";
  /** Plotly line/marker styling (colour, dash, width); plain JSON. */
  line?: { color?: string; dash?: string; width?: number };
  marker?: { color?: string; size?: number; symbol?: string };
  /** Which axes (Plotly's "x2", "y2" for a second panel). */
  xaxis?: string;
  yaxis?: string;
  /** Per-point hover text (shown as text, never as HTML). */
  text?: string[];
  showlegend?: boolean;
  legendgroup?: string;
}

export type MetricPlotStatus = "ready" | "computing" | "error";

/**
 * MetricPlot: a Plotly figure of stage-1 metrics (L0,t curves, I_CDF, probe baselines, the k sweep) with layer,
 * site and k controls. The front end writes `layer` / `site` / `k`; the kernel recomputes and writes `traces`,
 * `plot_layout`, `status`, `message` and bumps `revision`.
 */
export interface MetricPlotState {
  title: string;
  traces: PlotTrace[];
  /**
   * Plotly layout (axis titles, ranges, annotations); plain JSON, text fields shown as text. Not `layout`: that
   * name is every DOM widget's CSS layout model in ipywidgets, and the base view would try to render it.
   */
  plot_layout: Record<string, unknown>;
  layer: number;
  layers: number[];
  site: string;
  sites: string[];
  k: number;
  ks: number[];
  status: MetricPlotStatus;
  /** The error or warning text for `status` (empty when ready without warnings). */
  message: string;
  /** Incremented by the kernel each time it sends a newly computed figure. */
  revision: number;
}

export const METRIC_PLOT_MODEL = "MetricPlotModel";
export const METRIC_PLOT_VIEW = "MetricPlotView";

// ---- StarMap views (issue 14): TokenActivations, StarMap, LayerTrajectory -----------------------------------------
// Columns of numbers travel as Float32Array binary buffers, never as JSON lists. Integer columns (token and
// feature indices, offsets) are exact in float32 up to 2^24, far beyond any text or map these views show. A
// missing number (a feature without a score, a masked token's activation) is NaN in a column, null in JSON.

/** A safety feature as the views show it (TokenActivations' table, LayerTrajectory's nodes). */
export interface FeatureInfo {
  /** `{layer}_{index}`. */
  id: string;
  layer: number;
  /** "" when the database has no explanation. */
  explanation: string;
  /** The record's correlation_score (Safe-SAIL's SLS score), or null. */
  score: number | null;
  /** Domain tags (tag_list); empty for an untagged feature. */
  tags: string[];
}

/** Bits of `TokenActivationsState.token_flags`. */
export const TOKEN_SPECIAL = 1;
export const TOKEN_ANSWER = 2;

export type TokenActivationsStatus = "ready" | "generating" | "error";

/**
 * TokenActivations: the conversational view. The front end sends a custom message `{ event: "generate", prompt }`
 * (TOKEN_GENERATE_EVENT); the kernel sets `status` "generating", streams the model's answer into `answer`, then
 * sends the per-token table (`tokens` ... `tracks`) with `status` "ready" and `revision` + 1 in one update. The
 * front end writes `selected` (the feature colouring the tokens), `token` (the clicked token) and the table filters.
 */
/**
 * How a published page can run a widget's model itself (widgets/src/inpage): the model's name (the last component of
 * its folder), the hook names of the SAEs it reads, and the JSON options of the library call the kernel made
 * (generateWithFeatures' for TokenActivations, steeringPanel's for SteeringPanel). A page published with that model's
 * in-page pack (`safesail publish --in-page MODEL`) answers Generate in the reader's browser; null: the kernel only.
 */
export interface InPageSpec {
  model: string;
  saes: string[];
  options: Record<string, string | number | boolean | null | string[] | number[]>;
}

export interface TokenActivationsState {
  title: string;
  /** The prompt of the view on screen (or being generated). */
  prompt: string;
  status: TokenActivationsStatus;
  /** The error, or the warnings of the view on screen ("" when none). */
  message: string;
  /** The answer text so far while generating; the whole answer after. */
  answer: string;
  /** Incremented by the kernel each time it sends a new token view. */
  revision: number;
  /** Per token: the text it shows (pieces concatenate to the decoded text; "" for half a character). */
  tokens: string[];
  /** Per token: TOKEN_SPECIAL (a chat special token: masked, never coloured) | TOKEN_ANSWER. */
  token_flags: Float32Array;
  /** The SAE layers of the view, ascending. */
  layers: number[];
  /** Every domain tag of a feature in the view, sorted (the domain filter's options). */
  domains: string[];
  /** The features that `rows` and `tracks` refer to by index. */
  features: FeatureInfo[];
  /** One row per (token, layer, top feature), ordered by token, then layer, then rank. */
  rows: { token: Float32Array; feature: Float32Array; normalised: Float32Array; activation: Float32Array };
  /**
   * Full per-token activations of some features (`feature[i]` indexes `features`): `values` holds
   * `feature.length` rows of `tokens.length` normalised activations, NaN at masked tokens. A feature without a
   * track colours only the tokens where it is a top feature.
   */
  tracks: { feature: Float32Array; values: Float32Array };
  /** The feature colouring the tokens ("" for none); the kernel sets the strongest feature of each new view. */
  selected: string;
  /** The clicked token (-1: none). */
  token: number;
  /** Table filters: a layer (-1: all), a domain ("": all), a minimum score (null: none). */
  filter_layer: number;
  filter_domain: string;
  min_score: number | null;
  /** What a published page needs to answer Generate itself (null: only a kernel can). */
  in_page: InPageSpec | null;
}

export const TOKEN_GENERATE_EVENT = "generate";
export const TOKEN_ACTIVATIONS_MODEL = "TokenActivationsModel";
export const TOKEN_ACTIVATIONS_VIEW = "TokenActivationsView";

/**
 * StarMap: every feature as a point of a 2-D map (Plotly scattergl), coloured by its first domain tag, with
 * cluster labels. Per-point columns are parallel to `ids`. The front end writes `search` (as typed) and
 * `selection` (the feature ids of a lasso / box selection); the kernel may write `selection` too.
 */
export interface StarMapState {
  title: string;
  ids: string[];
  explanations: string[];
  x: Float32Array;
  y: Float32Array;
  /** Index into `clusters`, -1 for none. */
  cluster: Float32Array;
  /** NaN for none. */
  score: Float32Array;
  /** The distinct tag lists of the points; `tag_set[i]` indexes it. A point is coloured by its first tag. */
  tag_sets: string[][];
  tag_set: Float32Array;
  /** The domain tags in legend order (most points first). */
  domains: string[];
  clusters: { id: number; label: string; x: number; y: number; size: number }[];
  selection: string[];
  search: string;
  /** Warnings about the map ("" when none). */
  message: string;
  /** Incremented by the kernel each time it sends a new map. */
  revision: number;
}

export const STAR_MAP_MODEL = "StarMapModel";
export const STAR_MAP_VIEW = "StarMapView";

/**
 * LayerTrajectory: features per SAE layer (columns) as nodes sized by activation, and links between features of
 * adjacent layers that fire on the same tokens. Node and link token lists are flattened: node i's tokens are
 * `node_tokens[node_token_start[i] .. node_token_start[i + 1])`, likewise for links. The front end writes
 * `selected` (the clicked node's id).
 */
export interface LayerTrajectoryState {
  title: string;
  layers: number[];
  tokens: string[];
  /** Per token: TOKEN_SPECIAL | TOKEN_ANSWER, as in TokenActivations. */
  token_flags: Float32Array;
  /** `total` / `max`: summed and largest normalised activation over the node's tokens. */
  nodes: (FeatureInfo & { total: number; max: number })[];
  node_tokens: Float32Array;
  node_token_start: Float32Array;
  /** `source` / `target` index `nodes` (source in the lower layer); weight: co-firing strength. */
  links: { source: number; target: number; weight: number }[];
  link_tokens: Float32Array;
  link_token_start: Float32Array;
  /** Nodes drawn per layer, strongest first (the rest are counted, not drawn). */
  max_nodes: number;
  selected: string;
  message: string;
  revision: number;
}

export const LAYER_TRAJECTORY_MODEL = "LayerTrajectoryModel";
export const LAYER_TRAJECTORY_VIEW = "LayerTrajectoryView";
