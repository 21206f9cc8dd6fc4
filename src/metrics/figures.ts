// Figures of the configuration sweep's metrics, as data: `{ traces, layout, warnings }` with every series a
// Float32Array, ready for the kernel's MetricPlot widget (its `compute` may return one as is) or for any Plotly
// front end. Plain functions of a finished sweep (`sweepConfigurations`' result): nothing is harvested, trained or
// pooled again, so redrawing for another (site, layer, k) costs microseconds.
//
//   const figure = configurationFigure(sweep, { site: "mlp_out", layer: 2, k: 64 });
//   figure.traces      // FigureTrace[]: name, x, y (Float32Array), type, mode, line, marker, xaxis, yaxis, text
//   figure.warnings    // what the figure cannot show: no SAE for that configuration, NaN metrics (left as gaps)
//
// The panels (each also a function of its own, drawn on the axes it is given):
//   l0tCurvesPanel      L0,t over the threshold grid (mean over concepts): the chosen configuration, the other k
//                       of its site and layer (dashed), every other configuration (grey); the raw-hook baseline at
//                       the report threshold (x) and the report threshold (dotted line)
//   icdfCurvesPanel     the same for I_CDF
//   probePanel          the probe baselines: best k-sparse F1 and 1-d probe F1 of the SAE latents and of the raw
//                       hook dimensions of the same site and layer (bars)
//   kSweepPanel         the TopK k sweep at the chosen site and layer: L0,t at the report threshold and the number
//                       of safety features the precision-recall filter keeps, against k (log axis)
//
// The trace shape is structurally PlotTrace of widgets/src/protocol.ts (src/ does not import the widgets package).
// A metric that is NaN (a concept set too small for the probes, a mean over no concepts) is never drawn as a value:
// it stays NaN in the Float32Array (Plotly leaves a gap; a NaN bar is no bar) and the figure carries a warning
// naming it. A configuration the sweep did not train gives a warning and an annotation, not an empty plot.
import type { SweepResult, SweepRow } from "./sweep.ts";

/** One Plotly scatter / bar trace; numeric series as Float32Array (PlotTrace in widgets/src/protocol.ts). */
export interface FigureTrace {
  name: string;
  x: Float32Array;
  y: Float32Array;
  type?: "scatter" | "bar";
  mode?: "lines" | "markers" | "lines+markers";
  line?: { color?: string; dash?: string; width?: number };
  marker?: { color?: string; size?: number; symbol?: string };
  /** Plotly axis ids: "x", "x2", ... and "y", "y2", ... */
  xaxis?: string;
  yaxis?: string;
  /** Per-point hover text (plain text). */
  text?: string[];
  showlegend?: boolean;
  legendgroup?: string;
}

/** A figure as data: traces, a Plotly layout (plain JSON), and what the figure cannot show. */
export interface Figure {
  traces: FigureTrace[];
  layout: Record<string, unknown>;
  warnings: string[];
}

/** One configuration of the sweep. */
export interface ConfigurationKey {
  site: string;
  layer: number;
  k: number;
}

/** The fields of a sweep row the figures read. */
export type SweepFigureRow = Pick<SweepRow, "layer" | "k" | "l0t" | "icdf" | "l0tCurve" | "icdfCurve" | "kSparseF1" | "oneDF1" | "safetyFeatures"> & { site: string };
/** The fields of a raw-hook baseline the figures read. */
export type SweepFigureBaseline = Omit<SweepResult["baselines"][number], "site"> & { site: string };

/** The parts of a sweep result the figures read (a SweepResult is one). */
export interface SweepFigureInput {
  rows: readonly SweepFigureRow[];
  baselines: readonly SweepFigureBaseline[];
  reportThreshold: number;
}

/** Plotly axis ids of one panel: "x" / "y" for the first, "x2" / "y2", ... */
export interface PanelAxes {
  x: string;
  y: string;
}

const FIRST: PanelAxes = { x: "x", y: "y" };
const HIGHLIGHT = "#1f77b4";
const SIBLING = "#ff7f0e";
const BACKGROUND = "#d0d0d0";
const BASELINE = "#2ca02c";
const SAFETY = "#d62728";

/** Layout key of a Plotly axis id: "x" -> "xaxis", "y3" -> "yaxis3". */
export function axisKey(id: string): string {
  const m = /^([xy])(\d*)$/.exec(id);
  if (!m) throw new Error(`figures: ${JSON.stringify(id)} is not a Plotly axis id (x, x2, y, y3, ...)`);
  return `${m[1]}axis${m[2] === "1" ? "" : m[2]}`;
}

/** "mlp_out L2 k64". */
export function configurationLabel(key: ConfigurationKey): string {
  return `${key.site} L${key.layer} k${key.k}`;
}

/** The distinct sites, layers and ks of a sweep, in first-seen order (the MetricPlot's options). */
export function sweepChoices(sweep: Pick<SweepFigureInput, "rows">): { sites: string[]; layers: number[]; ks: number[] } {
  const uniq = <T>(xs: T[]) => [...new Set(xs)];
  return {
    sites: uniq(sweep.rows.map((r) => r.site)),
    layers: uniq(sweep.rows.map((r) => r.layer)),
    ks: uniq(sweep.rows.map((r) => r.k)),
  };
}

/** The sweep row of a configuration, or undefined when the sweep did not train it. */
export function findRow(sweep: Pick<SweepFigureInput, "rows">, key: ConfigurationKey): SweepFigureRow | undefined {
  return sweep.rows.find((r) => r.site === key.site && r.layer === key.layer && r.k === key.k);
}

function same(a: ConfigurationKey, b: ConfigurationKey): boolean {
  return a.site === b.site && a.layer === b.layer && a.k === b.k;
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4))));

/** Indices of the values that are not finite numbers. */
function notFinite(values: readonly number[]): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) out.push(i);
  });
  return out;
}

/** Warns about non-finite values of a series, naming where (`at` gives each point's name). */
function warnNonFinite(warnings: string[], what: string, values: readonly number[], at: (i: number) => string): void {
  const bad = notFinite(values);
  if (bad.length === 0) return;
  const kinds = [...new Set(bad.map((i) => (Number.isNaN(values[i]!) ? "NaN" : "infinite")))].join(" or ");
  warnings.push(`${what} is ${kinds} at ${bad.map(at).join(", ")}: not drawn`);
}

/** A series as Float32Array; non-finite values become NaN (a gap, never a point at some stand-in value). */
function series(values: readonly number[]): Float32Array {
  return Float32Array.from(values, (v) => (Number.isFinite(v) ? v : NaN));
}

function noSaeWarning(sweep: SweepFigureInput, key: ConfigurationKey): string {
  const trained = sweep.rows.filter((r) => r.site === key.site && r.layer === key.layer).map((r) => r.k);
  const where = trained.length
    ? `trained at ${key.site} layer ${key.layer}: k ${trained.join(", ")}`
    : `nothing was trained at ${key.site} layer ${key.layer}`;
  return `no SAE in the sweep for ${key.site}, layer ${key.layer}, k ${key.k} (${where})`;
}

function reportLine(t: number, axes: PanelAxes): Record<string, unknown> {
  return { type: "line", xref: axes.x, yref: `${axes.y} domain`, x0: t, x1: t, y0: 0, y1: 1, line: { color: "#888", dash: "dot", width: 1 } };
}

function noDataNote(text: string, axes: PanelAxes): Record<string, unknown> {
  return { text, xref: `${axes.x} domain`, yref: `${axes.y} domain`, x: 0.5, y: 0.5, showarrow: false, font: { color: "#a00" } };
}

function thresholdCurvesPanel(sweep: SweepFigureInput, key: ConfigurationKey, metric: "l0t" | "icdf", axes: PanelAxes): Figure {
  const curveOf = (r: SweepFigureRow) => (metric === "l0t" ? r.l0tCurve : r.icdfCurve);
  const label = metric === "l0t" ? "L0,t" : "I_CDF";
  const traces: FigureTrace[] = [];
  const warnings: string[] = [];
  const pick = findRow(sweep, key);
  const group = `${metric}`;
  const curve = (r: SweepFigureRow, style: Partial<FigureTrace>): FigureTrace => {
    const points = curveOf(r);
    return {
      name: configurationLabel(r), x: series(points.map((p) => p.t)), y: series(points.map((p) => p.value)),
      type: "scatter", xaxis: axes.x, yaxis: axes.y, legendgroup: group, ...style,
    };
  };
  // Every other configuration first (underneath), in grey, with no legend entry.
  for (const r of sweep.rows) {
    if (same(r, key) || (r.site === key.site && r.layer === key.layer)) continue;
    traces.push(curve(r, { mode: "lines", line: { color: BACKGROUND, width: 1 }, showlegend: false }));
  }
  // The other k at the same site and layer, dashed.
  for (const r of sweep.rows) {
    if (same(r, key) || r.site !== key.site || r.layer !== key.layer) continue;
    traces.push(curve(r, { mode: "lines", line: { color: SIBLING, dash: "dash", width: 1.5 }, showlegend: metric === "l0t" }));
  }
  // Non-finite values: named one by one for the curves in colour, counted for the grey ones.
  const greyWithGaps: string[] = [];
  for (const r of sweep.rows) {
    const points = curveOf(r);
    const values = points.map((p) => p.value);
    if (r.site === key.site && r.layer === key.layer) {
      warnNonFinite(warnings, `${label} of ${configurationLabel(r)}`, values, (i) => `t = ${fmt(points[i]!.t)}`);
    } else if (notFinite(values).length > 0) {
      greyWithGaps.push(configurationLabel(r));
    }
  }
  if (greyWithGaps.length > 0) {
    warnings.push(`${label} is NaN or infinite at some t in ${greyWithGaps.length} other configuration${greyWithGaps.length > 1 ? "s" : ""} (${greyWithGaps.join(", ")}): not drawn there`);
  }
  if (pick) {
    traces.push(curve(pick, { mode: "lines+markers", line: { color: HIGHLIGHT, width: 2.5 }, marker: { color: HIGHLIGHT, size: 6 }, showlegend: metric === "l0t" }));
  }
  const base = sweep.baselines.find((b) => b.site === key.site && b.layer === key.layer);
  if (base) {
    const v = metric === "l0t" ? base.l0t : base.icdf;
    warnNonFinite(warnings, `${label} of the raw hook ${key.site} L${key.layer}`, [v], () => `t = ${fmt(sweep.reportThreshold)}`);
    traces.push({
      name: `raw hook ${key.site} L${key.layer} (t = ${fmt(sweep.reportThreshold)})`, x: series([sweep.reportThreshold]), y: series([v]),
      type: "scatter", mode: "markers", marker: { color: BASELINE, size: 10, symbol: "x" }, xaxis: axes.x, yaxis: axes.y,
      legendgroup: "raw", showlegend: metric === "l0t",
    });
  }
  const layout: Record<string, unknown> = {
    [axisKey(axes.x)]: { title: { text: "threshold t (normalised)" } },
    [axisKey(axes.y)]: { title: { text: `${label} (mean over concepts)` }, rangemode: "tozero" },
    shapes: [reportLine(sweep.reportThreshold, axes)],
    annotations: pick ? [] : [noDataNote(`no SAE for ${configurationLabel(key)}`, axes)],
  };
  if (!pick) warnings.unshift(noSaeWarning(sweep, key));
  return { traces, layout, warnings };
}

/** L0,t over the threshold grid: the chosen configuration against the rest of the sweep. */
export function l0tCurvesPanel(sweep: SweepFigureInput, key: ConfigurationKey, axes: PanelAxes = FIRST): Figure {
  return thresholdCurvesPanel(sweep, key, "l0t", axes);
}

/** I_CDF over the threshold grid: the chosen configuration against the rest of the sweep. */
export function icdfCurvesPanel(sweep: SweepFigureInput, key: ConfigurationKey, axes: PanelAxes = FIRST): Figure {
  return thresholdCurvesPanel(sweep, key, "icdf", axes);
}

/** The probe baselines of a configuration: best k-sparse F1 and 1-d F1, SAE latents next to the raw hook. */
export function probePanel(sweep: SweepFigureInput, key: ConfigurationKey, axes: PanelAxes = FIRST): Figure {
  const names = ["k-sparse F1 (best k)", "1-d probe F1"];
  const traces: FigureTrace[] = [];
  const warnings: string[] = [];
  const annotations: Record<string, unknown>[] = [];
  const pick = findRow(sweep, key);
  const base = sweep.baselines.find((b) => b.site === key.site && b.layer === key.layer);
  const bars = (name: string, values: number[], color: string): FigureTrace => ({
    name, x: Float32Array.from([0, 1]), y: series(values), type: "bar", marker: { color }, xaxis: axes.x, yaxis: axes.y,
    text: values.map((v) => (Number.isFinite(v) ? v.toFixed(2) : "NaN")), legendgroup: "probes",
  });
  if (pick) {
    const values = [pick.kSparseF1, pick.oneDF1];
    warnNonFinite(warnings, `probe F1 of ${configurationLabel(key)}`, values, (i) => names[i]!);
    traces.push(bars(`SAE latents ${configurationLabel(key)}`, values, HIGHLIGHT));
  } else {
    warnings.push(noSaeWarning(sweep, key));
  }
  if (base) {
    const values = [base.kSparseF1, base.oneDF1];
    warnNonFinite(warnings, `probe F1 of the raw hook ${key.site} L${key.layer}`, values, (i) => names[i]!);
    traces.push(bars(`raw hook ${key.site} L${key.layer}`, values, BASELINE));
  } else {
    warnings.push(`no raw-hook baseline in the sweep for ${key.site}, layer ${key.layer}`);
  }
  if (traces.length === 0) annotations.push(noDataNote(`no probes for ${key.site} L${key.layer}`, axes));
  const layout: Record<string, unknown> = {
    [axisKey(axes.x)]: { tickvals: [0, 1], ticktext: names, range: [-0.5, 1.5] },
    [axisKey(axes.y)]: { title: { text: "test F1 (mean over concepts)" }, range: [0, 1.05] },
    barmode: "group",
    annotations,
  };
  return { traces, layout, warnings };
}

/** The TopK k sweep at the chosen site and layer: L0,t at the report threshold and the safety features, against k. */
export function kSweepPanel(sweep: SweepFigureInput, key: ConfigurationKey, axes: PanelAxes = FIRST): Figure {
  const rows = sweep.rows.filter((r) => r.site === key.site && r.layer === key.layer).sort((a, b) => a.k - b.k);
  const ks = rows.map((r) => r.k);
  const warnings: string[] = [];
  const traces: FigureTrace[] = [];
  const t = fmt(sweep.reportThreshold);
  const at = (i: number) => `k = ${ks[i]}`;
  const l0t = rows.map((r) => r.l0t);
  const safety = rows.map((r) => r.safetyFeatures);
  warnNonFinite(warnings, `L0,t (t = ${t}) at ${key.site} L${key.layer}`, l0t, at);
  warnNonFinite(warnings, `the safety-feature count at ${key.site} L${key.layer}`, safety, at);
  const annotations: Record<string, unknown>[] = [];
  if (rows.length === 0) {
    warnings.push(`no SAE in the sweep at ${key.site}, layer ${key.layer}: no k sweep to draw`);
    annotations.push(noDataNote(`no SAEs at ${key.site} L${key.layer}`, axes));
  } else {
    const text = rows.map((r) => configurationLabel(r));
    traces.push({
      name: `L0,t (t = ${t})`, x: series(ks), y: series(l0t), type: "scatter", mode: "lines+markers", text,
      line: { color: HIGHLIGHT }, marker: { color: HIGHLIGHT, size: 7 }, xaxis: axes.x, yaxis: axes.y, legendgroup: "k",
    });
    traces.push({
      name: "safety features (filter)", x: series(ks), y: series(safety), type: "scatter", mode: "lines+markers", text,
      line: { color: SAFETY, dash: "dash" }, marker: { color: SAFETY, size: 7, symbol: "square" }, xaxis: axes.x, yaxis: axes.y, legendgroup: "k",
    });
    const chosen = rows.find((r) => r.k === key.k);
    if (chosen) {
      traces.push({
        name: `k ${key.k} (chosen)`, x: series([key.k, key.k]), y: series([chosen.l0t, chosen.safetyFeatures]), type: "scatter", mode: "markers",
        marker: { color: "#000", size: 13, symbol: "circle-open" }, xaxis: axes.x, yaxis: axes.y, legendgroup: "k", showlegend: false,
      });
    }
  }
  const layout: Record<string, unknown> = {
    [axisKey(axes.x)]: { title: { text: "TopK k" }, type: "log", tickvals: ks, ticktext: ks.map(String) },
    [axisKey(axes.y)]: { title: { text: "count" }, rangemode: "tozero" },
    annotations,
  };
  return { traces, layout, warnings };
}

function subplotTitle(text: string, axes: PanelAxes): Record<string, unknown> {
  return { text, xref: `${axes.x} domain`, yref: `${axes.y} domain`, x: 0, y: 1.12, xanchor: "left", showarrow: false, font: { size: 13 } };
}

/**
 * The four panels of one configuration in a 2 x 2 grid: L0,t curves, I_CDF curves, probe baselines, the k sweep
 * (what notebook 02's MetricPlot draws for each (site, layer, k)). Warnings of the panels, without repeats.
 */
export function configurationFigure(sweep: SweepFigureInput, key: ConfigurationKey): Figure {
  const panels: Array<[Figure, PanelAxes, string]> = [
    [l0tCurvesPanel(sweep, key, { x: "x", y: "y" }), { x: "x", y: "y" }, "L0,t over the threshold grid"],
    [icdfCurvesPanel(sweep, key, { x: "x2", y: "y2" }), { x: "x2", y: "y2" }, "I_CDF over the threshold grid"],
    [probePanel(sweep, key, { x: "x3", y: "y3" }), { x: "x3", y: "y3" }, "Probe baselines"],
    [kSweepPanel(sweep, key, { x: "x4", y: "y4" }), { x: "x4", y: "y4" }, `The k sweep at ${key.site} L${key.layer}`],
  ];
  const pick = findRow(sweep, key);
  const layout: Record<string, unknown> = {
    title: {
      text: pick
        ? `${configurationLabel(key)}: ${pick.safetyFeatures} safety features, L0,t ${fmt(pick.l0t)}, I_CDF ${fmt(pick.icdf)} at t = ${fmt(sweep.reportThreshold)}`
        : `${configurationLabel(key)}: not in the sweep`,
    },
    grid: { rows: 2, columns: 2, pattern: "independent", ygap: 0.35, xgap: 0.12 },
    height: 700,
    margin: { t: 70, r: 10, b: 120, l: 60 },
    // Under the x-axis titles of the bottom row.
    legend: { orientation: "h", x: 0, y: -0.2, yanchor: "top" },
    barmode: "group",
  };
  const shapes: unknown[] = [];
  const annotations: unknown[] = [];
  const traces: FigureTrace[] = [];
  const warnings: string[] = [];
  for (const [figure, axes, title] of panels) {
    traces.push(...figure.traces);
    const { shapes: s, annotations: a, ...rest } = figure.layout as { shapes?: unknown[]; annotations?: unknown[] };
    for (const [k, v] of Object.entries(rest)) if (k.startsWith("xaxis") || k.startsWith("yaxis")) layout[k] = v;
    shapes.push(...(s ?? []));
    annotations.push(subplotTitle(title, axes), ...(a ?? []));
    for (const w of figure.warnings) if (!warnings.includes(w)) warnings.push(w);
  }
  layout.shapes = shapes;
  layout.annotations = annotations;
  return { traces, layout, warnings };
}
