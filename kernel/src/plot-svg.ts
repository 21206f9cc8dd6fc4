// A static SVG picture of a Plotly figure, drawn by the kernel: plot()'s HTML fallback shows it without any
// script, and its draw script replaces it with the interactive chart when window.Plotly is on the page.
//
// Drawn: `scatter` / `scattergl` traces (mode lines, markers or lines+markers; default lines+markers up to 20 points,
// else lines; null / NaN break the line unless `connectgaps`), vertical `bar` traces (grouped, from 0), several traces
// with a legend (shown for more than one trace or `showlegend: true`), the title, the axis titles, numeric x and y on
// linear axes with 1/2/5 x 10^n ticks (the axis runs from the tick below the data to the tick above: autorange only,
// an explicit `range` is not followed), text x as categories (in order of first appearance), Plotly's 10 default
// colours (a trace's own `line.color` / `marker.color` when it is a plain colour string). Plotly's pseudo-HTML in
// text (<br>, <b>, <i>, <sup>, <sub>, <span>) is reduced to plain text.
// Not drawn, named in a note inside the picture instead (never a wrong picture): other trace types (heatmap,
// histogram, pie, 3-D, ...), horizontal or stacked bars, traces on a second axis (`yaxis: "y2"`, subplots: skipped),
// text y values; log / date / reversed axes block the whole picture (only the note and the title are drawn).
//
// Safety: every text (names, titles, tick and category labels) is XML-escaped (& < > " ') after characters XML
// forbids become U+FFFD, so the SVG is well-formed XML and inside HTML no text can become markup. The only attribute
// values are numbers formatted here (finite, one decimal), fixed words, and colour strings that match a plain colour
// pattern. No <script>, no event attributes, no href, no url(): the picture loads and runs nothing.
import type { JsonObject } from "./types.ts";

export interface FigureSvgOptions {
  /** viewBox width; default layout.width, else 800 (the SVG itself is 100% wide). */
  width?: number;
  /** Height in pixels; default layout.height, else 420. */
  height?: number;
}

export const PLOTLY_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const NOT_XML = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text safe as XML character data and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(NOT_XML, "\uFFFD").replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A coordinate: rounded to 0.1, always finite. */
const num = (n: number): string => {
  const r = Math.round(n * 10) / 10;
  return Number.isFinite(r) && r !== 0 ? String(r) : "0";
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const positive = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined);
const NUMERIC = /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i;
const DATE = /^\s*\d{4}-\d\d(-\d\d)?([ T]\d|\s*$)/;
const COLOR = /^(#[0-9a-f]{3,8}|rgba?\([\d.,\s%]+\)|[a-z]{3,20})$/i;

/** A finite number from a number or a numeric string; null for anything else (gaps). */
function toNum(v: unknown): number | null {
  const n = typeof v === "number" ? v : typeof v === "string" && NUMERIC.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** Plain one-line text of a label (Plotly's pseudo-HTML tags dropped), at most `max` characters (not escaped yet). */
function plain(v: unknown, max = 60): string {
  const s = (typeof v === "string" ? v : typeof v === "number" && Number.isFinite(v) ? String(v) : "")
    .replace(/<br\s*\/?>/gi, " ")
    .replace(/<\/?(?:b|i|em|strong|sup|sub|span)(?:\s[^<>]*)?>/gi, "")
    .replace(/\s+/g, " ")
    .trim();
  return s.length > max ? `${s.slice(0, Math.max(1, max - 1))}\u2026` : s;
}
const titleOf = (t: unknown): string => plain(typeof t === "string" ? t : obj(t).text, 90);

/** [min, max] of the numbers (a loop: a spread would overflow the stack for long traces); [0, 1] when none. */
function bounds(vs: Array<number | null>): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of vs) if (v !== null) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  return lo <= hi ? [lo, hi] : [0, 1];
}

export interface Ticks {
  min: number;
  max: number;
  step: number;
  values: number[];
}

/** About `target` ticks 1, 2 or 5 x 10^n apart covering [lo, hi]; min / max are the outer ticks. */
export function niceTicks(lo: number, hi: number, target = 6): Ticks {
  if (!(hi > lo)) [lo, hi] = lo === 0 || !Number.isFinite(lo) ? [-1, 1] : [lo - Math.abs(lo) / 10, hi + Math.abs(hi) / 10];
  if (!(hi > lo) || !Number.isFinite(hi - lo)) [lo, hi] = [-1, 1];
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].find((m) => m * mag >= raw * (1 - 1e-9))! * mag;
  const k0 = Math.floor(lo / step + 1e-9), k1 = Math.ceil(hi / step - 1e-9);
  const values = Array.from({ length: k1 - k0 + 1 }, (_, i) => Number(((k0 + i) * step).toPrecision(12)));
  return { min: values[0]!, max: values.at(-1)!, step, values };
}

/** A tick label: as many decimals as the step needs; exponent form for very large or small values. */
export function tickLabel(v: number, step: number): string {
  if (v === 0) return "0";
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const fixed = v.toFixed(Math.min(decimals, 20));
  return decimals > 6 || fixed.length > 10 ? Number(v.toPrecision(6)).toExponential() : fixed;
}

interface Series {
  index: number;
  name: string;
  color: string;
  bar: boolean;
  lines: boolean;
  markers: boolean;
  connect: boolean;
  legend: boolean;
  draw: boolean;
  x: unknown[];
  y: Array<number | null>;
}

/** The figure as a self-contained `<svg>` (see the file comment for what is drawn and what is only named). */
export function figureSvg(fig: JsonObject, opts: FigureSvgOptions = {}): string {
  const layout = obj(fig.layout), xaxis = obj(layout.xaxis), yaxis = obj(layout.yaxis);
  const W = Math.round(positive(opts.width) ?? positive(layout.width) ?? 800), H = Math.round(positive(opts.height) ?? positive(layout.height) ?? 420);
  const blocked: string[] = [], notes: string[] = [], series: Series[] = [];
  for (const [n, a] of [["x", xaxis], ["y", yaxis]] as const) {
    if (a.type !== undefined && !["-", "linear", ...(n === "x" ? ["category"] : [])].includes(a.type as string)) blocked.push(`${plain(a.type, 20)} ${n} axis`);
    if (a.autorange === "reversed") blocked.push(`reversed ${n} axis`);
  }
  (Array.isArray(fig.data) ? fig.data : []).forEach((raw, index) => {
    const t = obj(raw), type = typeof t.type === "string" ? t.type : "scatter";
    const name = plain(t.name) || `trace ${index}`, what = `${plain(type, 20)} trace "${name}"`;
    if (t.visible === false) return;
    if (type !== "scatter" && type !== "scattergl" && type !== "bar") return void notes.push(what);
    const bar = type === "bar";
    if (bar && t.orientation === "h") return void notes.push(`horizontal ${what}`);
    if (bar && layout.barmode !== undefined && layout.barmode !== "group") return void notes.push(`${plain(layout.barmode, 10)} ${what}`);
    if ((t.xaxis ?? "x") !== "x" || (t.yaxis ?? "y") !== "y") return void notes.push(`${what} on a second axis`);
    if (!Array.isArray(t.y)) return void notes.push(`${what} without y`);
    const y = (t.y as unknown[]).map(toNum);
    if ((t.y as unknown[]).some((v, j) => y[j] === null && typeof v === "string" && v.trim() !== "")) return void notes.push(`${what} with text y values`);
    const x = Array.isArray(t.x) ? (t.x as unknown[]).slice(0, y.length) : y.map((_, j) => j);
    y.length = x.length;
    const mode = typeof t.mode === "string" ? t.mode : y.length <= 20 ? "lines+markers" : "lines";
    const lines = !bar && mode.includes("lines"), markers = !bar && mode.includes("markers");
    if (!bar && !lines && !markers) return void notes.push(`${what} in mode ${plain(mode, 20)}`);
    const own = [obj(t.line).color, obj(t.marker).color].find((c): c is string => typeof c === "string" && COLOR.test(c));
    const color = own ?? PLOTLY_COLORS[index % PLOTLY_COLORS.length]!;
    series.push({ index, name, color, bar, lines, markers, connect: t.connectgaps === true, legend: t.showlegend !== false, draw: t.visible !== "legendonly", x, y });
  });
  const isText = (v: unknown) => typeof v === "string" && toNum(v) === null;
  const spans = [series.flatMap((s) => s.y), series.flatMap((s) => s.x.map(toNum))].map((vs) => bounds(vs)).map(([lo, hi]) => hi - lo);
  if (!spans.every(Number.isFinite)) blocked.push("values too far apart to draw (beyond ~1.8e308)");
  if (xaxis.type !== "category" && series.some((s) => s.x.some((v) => typeof v === "string" && DATE.test(v)))) blocked.push("date x axis");

  const out: string[] = [];
  const text = (x: number, y: number, s: string, attrs = "") => out.push(`<text x="${num(x)}" y="${num(y)}"${attrs}>${escapeXml(s)}</text>`);
  const title = titleOf(layout.title);
  const xTitle = titleOf(xaxis.title), yTitle = titleOf(yaxis.title);
  const legend = series.filter((s) => s.legend);
  const showLegend = !blocked.length && (layout.showlegend === true || (layout.showlegend !== false && legend.length > 1));
  const left = yTitle ? 78 : 60, right = showLegend ? 170 : 20, top = title ? 44 : 20, bottom = xTitle ? 54 : 34;
  const pw = Math.max(10, W - left - right), ph = Math.max(10, H - top - bottom);
  if (title) text(W / 2, 26, title, ` class="title" text-anchor="middle" font-size="16"`);

  if (!blocked.length && (series.length || !notes.length)) {
    // x: categories sit at 0..n-1 on a linear scale from -0.5 to n-0.5; numbers as they are.
    const category = xaxis.type === "category" || series.some((s) => s.x.some(isText));
    const cats = new Map<string, number>();
    const catIndex = (v: unknown): number | null => {
      if (v === null || v === undefined || v === "") return null;
      const key = String(v);
      if (!cats.has(key)) cats.set(key, cats.size);
      return cats.get(key)!;
    };
    const xs = series.map((s) => s.x.map((v) => (category ? catIndex(v) : toNum(v))));
    const bars = series.filter((s) => s.bar && s.draw);
    const xv: number[] = [], yv: number[] = bars.length ? [0] : [];
    for (const [i, s] of series.entries()) {
      if (!s.draw) continue;
      s.y.forEach((y, j) => {
        const x = xs[i]![j];
        if (y !== null && x !== null && x !== undefined) xv.push(x), yv.push(y);
      });
    }
    let slot = 1;
    if (bars.length && !category) {
      const d = [...new Set(bars.flatMap((s) => xs[series.indexOf(s)]!.filter((v): v is number => v !== null)))].sort((a, b) => a - b);
      slot = d.slice(1).reduce((m, v, i) => Math.min(m, v - d[i]!), Infinity);
      if (!Number.isFinite(slot)) slot = 1;
    }
    const [xmin, xmax] = bounds(xv);
    const xt = category ? { min: -0.5, max: Math.max(cats.size, 1) - 0.5, step: 1, values: [...cats.values()] } : niceTicks(xmin - (bars.length ? slot / 2 : 0), xmax + (bars.length ? slot / 2 : 0), Math.max(2, Math.round(pw / 90)));
    const yt = niceTicks(...bounds(yv), Math.max(2, Math.round(ph / 55)));
    const px = (x: number) => left + ((x - xt.min) / (xt.max - xt.min)) * pw;
    const py = (y: number) => top + ph - ((y - yt.min) / (yt.max - yt.min)) * ph;
    out.push(`<rect class="plot-area" x="${left}" y="${top}" width="${num(pw)}" height="${num(ph)}" fill="none" stroke="#ccc" data-x-type="${category ? "category" : "linear"}" data-x-range="${xt.min} ${xt.max}" data-y-range="${yt.min} ${yt.max}"/>`);
    out.push(`<g class="y-ticks" font-size="11" fill="#444" text-anchor="end">`);
    for (const v of yt.values) out.push(`<line x1="${left}" x2="${num(left + pw)}" y1="${num(py(v))}" y2="${num(py(v))}" stroke="#eee"/>`), text(left - 6, py(v) + 4, tickLabel(v, yt.step));
    out.push(`</g>`, `<g class="x-ticks" font-size="11" fill="#444" text-anchor="middle">`);
    const names = [...cats.keys()], every = Math.max(1, Math.ceil(xt.values.length / Math.max(1, Math.floor(pw / 40))));
    const maxChars = Math.max(3, Math.floor(((pw / Math.max(1, xt.values.length)) * every) / 7));
    xt.values.forEach((v, i) => {
      if (!category) out.push(`<line x1="${num(px(v))}" x2="${num(px(v))}" y1="${top}" y2="${num(top + ph)}" stroke="#eee"/>`);
      if (i % every === 0) text(px(v), top + ph + 16, category ? plain(names[i], maxChars) : tickLabel(v, xt.step));
    });
    out.push(`</g>`);
    bars.forEach((s, b) => {
      const group = slot * 0.8, width = group / bars.length, i = series.indexOf(s);
      out.push(`<g class="trace" data-trace="${s.index}" fill="${s.color}">`);
      s.y.forEach((y, j) => {
        const x = xs[i]![j];
        if (y === null || x === null || x === undefined) return;
        const x0 = px(x - group / 2 + b * width), y0 = Math.min(py(0), py(y));
        out.push(`<rect class="bar" x="${num(x0)}" y="${num(y0)}" width="${num(px(x - group / 2 + (b + 1) * width) - x0)}" height="${num(Math.abs(py(y) - py(0)))}"/>`);
      });
      out.push(`</g>`);
    });
    series.forEach((s, i) => {
      if (s.bar || !s.draw) return;
      const pts = s.y.map((y, j) => {
        const x = xs[i]![j];
        return y === null || x === null || x === undefined ? null : [num(px(x)), num(py(y))];
      });
      out.push(`<g class="trace" data-trace="${s.index}">`);
      if (s.lines) {
        let d = "", pen = false;
        for (const p of pts) {
          if (p) d += `${pen ? "L" : "M"}${p[0]} ${p[1]}`;
          pen = p ? true : pen && s.connect; // a gap lifts the pen
        }
        if (d) out.push(`<path class="line" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
      }
      if (s.markers) for (const p of pts) if (p) out.push(`<circle class="marker" cx="${p[0]}" cy="${p[1]}" r="3" fill="${s.color}"/>`);
      out.push(`</g>`);
    });
    if (xTitle) text(left + pw / 2, H - 12, xTitle, ` class="axis-title" text-anchor="middle"`);
    if (yTitle) text(18, top + ph / 2, yTitle, ` class="axis-title" text-anchor="middle" transform="rotate(-90 18 ${num(top + ph / 2)})"`);
    if (showLegend) {
      const fits = Math.max(1, Math.floor(ph / 18)), lx = W - right + 14;
      out.push(`<g class="legend" font-size="12" fill="#444">`);
      legend.slice(0, legend.length > fits ? fits - 1 : fits).forEach((s, k) => {
        const y = top + 10 + k * 18;
        if (s.bar) out.push(`<rect x="${num(lx)}" y="${num(y - 6)}" width="14" height="12" fill="${s.color}"/>`);
        else out.push(`<line x1="${num(lx)}" x2="${num(lx + 20)}" y1="${num(y)}" y2="${num(y)}" stroke="${s.color}" stroke-width="2"/>`);
        text(lx + 26, y + 4, plain(s.name, 20), ` class="legend-entry"`);
      });
      if (legend.length > fits) text(lx + 26, top + 10 + (fits - 1) * 18 + 4, `+${legend.length - fits + 1} more`);
      out.push(`</g>`);
    }
  }
  const why = [...blocked, ...notes];
  why.slice(0, 6).forEach((n, k) => text(left + 8, top + 18 + k * 16, k === 5 ? `and ${why.length - 5} more not drawn` : `not drawn in this static picture: ${n}`, ` class="note" fill="#888" font-style="italic"`));
  const label = title ? ` aria-label="${escapeXml(title)}"` : "";
  return `<svg xmlns="http://www.w3.org/2000/svg" class="safesail-plot-svg" viewBox="0 0 ${W} ${H}" width="100%" height="${H}" role="img"${label} font-family="sans-serif" font-size="12">\n${out.join("\n")}\n</svg>`;
}
