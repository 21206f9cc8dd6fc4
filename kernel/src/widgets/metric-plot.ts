// MetricPlot: a Plotly figure of stage-1 metrics with layer, site and k controls (the view is
// widgets/src/views/metric-plot.ts; the synced state is MetricPlotState in widgets/src/protocol.ts).
//
//   const plot = metricPlot({
//     title: "L0,t", layers: [1, 2], sites: ["mlp_out", "resid_post"], ks: [16, 64],
//     compute: async ({ layer, site, k }) => configurationFigure(sweep, { layer, site, k }),   // { traces, layout, warnings? }
//   });
//   plot            // the cell's last expression shows it
//
// The front end writes `layer` / `site` / `k` (so can kernel code: `plot.k = 64`). For each change the kernel sets
// `status` "computing" (one update), calls `compute`, and when it answers sets `traces`, `plot_layout`, `status` "ready",
// `message` (the warnings, joined) and `revision` + 1 in one update (holdSync). Requests are numbered: when controls
// change faster than `compute` answers, only the latest request's figure (or error) is applied; older ones are
// dropped when they arrive, and their `signal` is aborted so a long computation can stop early. An error sets
// `status` "error" and `message` to the error's message and keeps the last good figure. A control value not among
// its options is refused: from the front end the kernel's value goes back (as a slider's clamp does) and `message`
// says why; from kernel code it throws.
//
// Trace data: x / y are sent as Float32Array binary buffers (buffer paths ["traces", i, "x"]); lists of numbers and
// other typed arrays are converted. `plot_layout` (the figure's `layout`) is plain JSON (typed arrays in it become lists).
import type { MetricPlotState, MetricPlotStatus, PlotTrace } from "../../../widgets/src/protocol.ts";
import { METRIC_PLOT_MODEL, METRIC_PLOT_VIEW } from "../../../widgets/src/protocol.ts";
import { SafesailWidget, toFloat32Array, type SafesailDomProps, type SafesailState } from "./custom.ts";
import { defineStateAccessors, type WidgetOptions } from "./widget.ts";
import { isBinary } from "./buffers.ts";

export type { MetricPlotState, MetricPlotStatus, PlotTrace };

/** What compute() is asked for: the controls' values, and a signal aborted once a newer request supersedes it. */
export interface MetricPlotRequest {
  layer: number;
  site: string;
  k: number;
  signal: AbortSignal;
}

/** A trace as compute() may give it: PlotTrace, with x / y also as lists of numbers or other typed arrays. */
export type PlotTraceInput = Omit<PlotTrace, "x" | "y"> & {
  x: Float32Array | ArrayLike<number>;
  y: Float32Array | ArrayLike<number>;
};

/** What compute() answers (src/metrics/figures.ts's Figure is one). */
export interface MetricPlotFigure {
  traces: readonly PlotTraceInput[];
  layout?: Record<string, unknown>;
  /** Shown as the status message (joined with "; "); the figure is still drawn. */
  warnings?: readonly string[];
}

export type MetricPlotCompute = (request: MetricPlotRequest) => MetricPlotFigure | Promise<MetricPlotFigure>;

export type MetricPlotInit = Partial<Pick<MetricPlotState, "title" | "layer" | "site" | "k">> &
  Partial<SafesailDomProps> & {
    layers: readonly number[];
    sites: readonly string[];
    ks: readonly number[];
    compute: MetricPlotCompute;
  };

const CONTROLS = ["layer", "site", "k"] as const;
type Control = (typeof CONTROLS)[number];
const OPTIONS: Record<Control, "layers" | "sites" | "ks"> = { layer: "layers", site: "sites", k: "ks" };

const TRACE_TYPES = new Set(["scatter", "bar"]);
const TRACE_MODES = new Set(["lines", "markers", "lines+markers"]);
const TRACE_KEYS = new Set(["name", "x", "y", "type", "mode", "line", "marker", "xaxis", "yaxis", "text", "showlegend", "legendgroup"]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const show = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : String(v));

function checkOptions(key: "layers" | "sites" | "ks", value: unknown): (number | string)[] {
  if (!Array.isArray(value) || value.length === 0) throw new Error(`MetricPlot: "${key}" must be a non-empty list, got ${JSON.stringify(value)}`);
  for (const v of value) {
    const ok = key === "sites" ? typeof v === "string" : typeof v === "number" && Number.isInteger(v);
    if (!ok) throw new Error(`MetricPlot: "${key}" holds ${JSON.stringify(v)}, expected ${key === "sites" ? "strings" : "integers"}`);
  }
  if (new Set(value).size !== value.length) throw new Error(`MetricPlot: "${key}" lists a value twice: ${JSON.stringify(value)}`);
  return [...value] as (number | string)[];
}

/** A trace in the form the state keeps: a fresh plain object, x / y as Float32Array of equal length. */
export function normaliseTrace(trace: unknown, i: number): PlotTrace {
  const where = `traces[${i}]`;
  if (!isPlainObject(trace)) throw new Error(`${where}: expected a trace object, got ${trace === null ? "null" : typeof trace}`);
  for (const key of Object.keys(trace)) if (!TRACE_KEYS.has(key)) throw new Error(`${where}: unknown field "${key}" (PlotTrace in widgets/src/protocol.ts)`);
  if (typeof trace.name !== "string") throw new Error(`${where}.name: expected a string`);
  const x = toFloat32Array(trace.x, `${where}.x`);
  const y = toFloat32Array(trace.y, `${where}.y`);
  if (x.length !== y.length) throw new Error(`${where}: x has ${x.length} values, y has ${y.length}`);
  const out: PlotTrace = { name: trace.name, x, y };
  if (trace.type !== undefined) {
    if (!TRACE_TYPES.has(trace.type as string)) throw new Error(`${where}.type: ${show(trace.type)} (scatter or bar)`);
    out.type = trace.type as PlotTrace["type"];
  }
  if (trace.mode !== undefined) {
    if (!TRACE_MODES.has(trace.mode as string)) throw new Error(`${where}.mode: ${show(trace.mode)} (lines, markers or lines+markers)`);
    out.mode = trace.mode as PlotTrace["mode"];
  }
  for (const key of ["line", "marker"] as const) {
    if (trace[key] === undefined) continue;
    if (!isPlainObject(trace[key])) throw new Error(`${where}.${key}: expected an object`);
    out[key] = { ...(trace[key] as object) };
  }
  for (const key of ["xaxis", "yaxis", "legendgroup"] as const) {
    if (trace[key] === undefined) continue;
    if (typeof trace[key] !== "string") throw new Error(`${where}.${key}: expected a string`);
    out[key] = trace[key] as string;
  }
  if (trace.showlegend !== undefined) {
    if (typeof trace.showlegend !== "boolean") throw new Error(`${where}.showlegend: expected true or false`);
    out.showlegend = trace.showlegend;
  }
  if (trace.text !== undefined) {
    if (!Array.isArray(trace.text) || !trace.text.every((s) => typeof s === "string")) throw new Error(`${where}.text: expected a list of strings`);
    out.text = [...(trace.text as string[])];
  }
  return out;
}

/** A Plotly layout as plain JSON (typed arrays become lists: the front end reads layout as JSON). */
function plainLayout(value: unknown, where = "layout"): unknown {
  if (isBinary(value)) return ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as unknown as ArrayLike<number>, Number) : [];
  if (Array.isArray(value)) return value.map((v, i) => plainLayout(v, `${where}[${i}]`));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainLayout(v, `${where}.${k}`)]));
  if (value !== null && typeof value === "object") throw new Error(`${where}: expected plain JSON, got a ${value.constructor?.name ?? "object"}`);
  return value;
}

export interface MetricPlot extends MetricPlotState {}

/**
 * MetricPlotModel (module "safesail-widgets"). See the file comment; `metricPlot(init)` is the same as
 * `new MetricPlot(init)`.
 */
export class MetricPlot extends SafesailWidget<MetricPlotState> {
  /** Attributes only the kernel writes are not echoed (the traces' buffers would go back for nothing). */
  static override readonly noEcho: readonly string[] = ["traces", "plot_layout"];

  readonly #compute: MetricPlotCompute;
  #requested = 0;
  #controller: AbortController | undefined;
  #pending: Promise<void> = Promise.resolve();

  constructor(init: MetricPlotInit, opts: WidgetOptions = {}) {
    const { compute, layers, sites, ks, ...rest } = init;
    if (typeof compute !== "function") throw new Error("MetricPlot: compute must be a function ({ layer, site, k }) => { traces, layout }");
    const options = { layers: checkOptions("layers", layers) as number[], sites: checkOptions("sites", sites) as string[], ks: checkOptions("ks", ks) as number[] };
    const selection = {
      layer: rest.layer ?? options.layers[0]!,
      site: rest.site ?? options.sites[0]!,
      k: rest.k ?? options.ks[0]!,
    };
    for (const c of CONTROLS) {
      if (!(options[OPTIONS[c]] as unknown[]).includes(selection[c])) {
        throw new Error(`MetricPlot: ${c} ${show(selection[c])} is not one of the ${OPTIONS[c]} ${JSON.stringify(options[OPTIONS[c]])}`);
      }
    }
    super({ model: METRIC_PLOT_MODEL, view: METRIC_PLOT_VIEW }, {
      title: "", traces: [], plot_layout: {}, layer: 0, layers: [], site: "", sites: [], k: 0, ks: [],
      status: "computing", message: "", revision: 0,
    }, { ...rest, ...options, ...selection }, opts);
    this.#compute = compute;
    this.on("change", (changed) => {
      if (CONTROLS.some((c) => c in changed)) this.#request();
    });
    for (const c of CONTROLS) {
      // New options without the current value: the first option is selected (and computed).
      this.on(`change:${OPTIONS[c]}`, (values) => {
        if (!(values as unknown[]).includes(this.get(c))) this.set({ [c]: values[0] } as Partial<MetricPlotState>);
      });
    }
    this.#request();
  }

  /** Computes the figure of the current selection again (after the data behind `compute` changed). */
  refresh(): Promise<void> {
    this.#request();
    return this.settled();
  }

  /** Resolves when the latest request has been applied (figure or error). */
  settled(): Promise<void> {
    return this.#pending;
  }

  /** The current selection. */
  get selection(): { layer: number; site: string; k: number } {
    return { layer: this.get("layer"), site: this.get("site"), k: this.get("k") };
  }

  override repr(maxLength = Infinity): string {
    const s = this.getState();
    // The selection and status first: the display's text/plain is cut at 110 characters.
    const parts = [
      `site=${JSON.stringify(s.site)}`, `layer=${s.layer}`, `k=${s.k}`,
      `status=${JSON.stringify(s.status)}`, `revision=${s.revision}`, `traces=${s.traces.length}`,
      s.title ? `title=${JSON.stringify(s.title)}` : "", s.message ? `message=${JSON.stringify(s.message)}` : "",
    ].filter(Boolean);
    const text = `MetricPlot(${parts.join(", ")})`;
    return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
  }

  protected override coerceAttribute(key: string, value: unknown, state: SafesailState<MetricPlotState>): unknown {
    switch (key) {
      case "layer":
      case "site":
      case "k": {
        const options = state[OPTIONS[key]] as unknown[];
        if (!options.includes(value)) {
          const why = `${key} ${show(value)} is not one of the options (${options.map(show).join(", ")}); kept ${show(state[key])}`;
          // From the front end the rejection is logged and the kept value sent back; say it where the user looks.
          queueMicrotask(() => {
            if (!this.closed && this.get("status") !== "computing") this.set({ message: why });
          });
          throw new Error(`MetricPlot: ${why}`);
        }
        return value;
      }
      case "layers":
      case "sites":
      case "ks":
        return checkOptions(key, value);
      case "traces":
        if (!Array.isArray(value)) throw new Error(`MetricPlot: "traces" must be a list`);
        return value.map((t, i) => normaliseTrace(t, i));
      case "plot_layout":
        if (!isPlainObject(value)) throw new Error(`MetricPlot: "plot_layout" must be a plain object (a Plotly layout)`);
        return plainLayout(value);
      case "status":
        if (value !== "ready" && value !== "computing" && value !== "error") throw new Error(`MetricPlot: status ${show(value)} (ready, computing or error)`);
        return value;
      case "title":
      case "message":
        if (typeof value !== "string") throw new Error(`MetricPlot: "${key}" must be a string`);
        return value;
      case "revision":
        if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new Error(`MetricPlot: "revision" must be a whole number`);
        return value;
      default:
        return value;
    }
  }

  #request(): void {
    const id = ++this.#requested;
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    const request: MetricPlotRequest = { ...this.selection, signal: controller.signal };
    if (this.get("status") !== "computing") this.set({ status: "computing" });
    const run = (async () => {
      let figure: MetricPlotFigure;
      try {
        figure = await this.#compute(request);
        if (id !== this.#requested || this.closed) return; // stale: a newer request owns the figure
        // Checked (and converted) before anything is set, so a bad figure cannot leave half of itself applied.
        const given = (figure?.traces ?? null) as unknown;
        if (!Array.isArray(given)) throw new Error(`compute returned ${figure === null ? "null" : typeof figure} without a "traces" list`);
        const state = this.getState();
        const traces = this.coerce("traces", given, state) as PlotTrace[];
        const layout = this.coerce("plot_layout", figure.layout ?? {}, state) as Record<string, unknown>;
        const warnings = (figure.warnings ?? []).map(String);
        this.holdSync(() => {
          this.set({
            traces,
            plot_layout: layout,
            status: "ready",
            message: warnings.join("; "),
            revision: this.get("revision") + 1,
          });
        });
      } catch (err) {
        if (id !== this.#requested || this.closed) return;
        const message = err instanceof Error ? err.message : String(err);
        this.set({ status: "error", message: message || "compute failed" });
      }
    })();
    // settled() waits for the latest request only: an older one that is still running does not hold it up.
    this.#pending = run;
  }
}
defineStateAccessors(MetricPlot, ["title", "traces", "plot_layout", "layer", "layers", "site", "sites", "k", "ks", "status", "message", "revision"]);

/** `new MetricPlot(init, opts)` for cells. */
export function metricPlot(init: MetricPlotInit, opts: WidgetOptions = {}): MetricPlot {
  return new MetricPlot(init, opts);
}
