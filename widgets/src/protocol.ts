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
