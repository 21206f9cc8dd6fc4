// Plotly figures from cells: `plot({ data: [{ x, y, type: "scatter", name: "k=32" }], layout: { title: { text: "FVU" } } })`.
//
// One display_data with three representations:
//   application/vnd.plotly.v1+json   {data, layout, config?, frames?}: what JupyterLab's plotly renderer extension
//                                    (jupyterlab-plotly), VS Code and nteract draw when they have it
//   text/html                        a self-contained fallback for plain JupyterLab / Notebook and nbconvert HTML
//                                    exports, with no network: every plot's <div> holds a static SVG picture of
//                                    the figure drawn here (src/plot-svg.ts; shows with no script at all); the
//                                    first plot of a kernel session also inlines the plotly.js-dist-min bundle in
//                                    a <script> (it defines window.Plotly, and is skipped when the page has it
//                                    already); every plot's script then replaces its SVG with Plotly.newPlot on
//                                    its own fresh <div> id once window.Plotly is there
//   text/plain                       a one-line summary (traces, types, title)
//
// Safety: the figure may hold untrusted text (token strings, prompts as trace names or hover text). It only
// ever enters the HTML as JSON inside a <script>, with `<`, `>`, `&`, U+2028 and U+2029 written as \uXXXX
// escapes, so no `</script>` or `<!--` can appear and the JSON stays a valid JavaScript literal with the same
// value. The SVG's text is XML-escaped (& < > " ') and it has no script, event attribute, href or url(), see
// plot-svg.ts. Numbers that reach attributes (the height) come from finite numbers; ids are generated here. The
// library text is inserted with `<!--`, `<script` and `</script` turned into `\x3C...` (it holds one `<!--`,
// inside a string literal, where the escape means the same character).
//
// Limits: the interactive chart needs the notebook to be trusted (JupyterLab runs scripts of outputs it produced
// itself, and of trusted notebooks) and, for plots after the first, window.Plotly defined on the page by the
// first plot's output. Where Plotly is missing (a reloaded page, the first output cleared or its cell re-run, a
// viewer that runs no scripts) each plot still shows its static SVG: the figure kinds of plot-svg.ts (scatter
// lines / markers, grouped bars, linear and category axes, legend, titles), with a note in the picture naming
// whatever it does not draw (other trace types, log / date axes, second axes, ...) and no hover, zoom or exact
// Plotly styling. An untrusted notebook in a JupyterLab without safesail's Plotly renderer gets the static picture
// only (its sanitizer drops the <script> and keeps the data: image). `plot(fig, { inline: true })` inlines the
// library again.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { DisplayApi, JsonObject, MimeBundle } from "./types.ts";
import { figureSvg } from "./plot-svg.ts";
import { currentKernel } from "./widgets/kernel.ts";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

export interface PlotFigure {
  data: object[];
  layout?: object;
  config?: object;
  frames?: object[];
}

export interface PlotOptions {
  /** Display id (a later `updateDisplay(id, ...)` replaces the output). */
  displayId?: string;
  /** Inline plotly.js in this plot's HTML even when an earlier plot of the session did. */
  inline?: boolean;
  /** Where the display goes; default: the running kernel (tests). */
  display?: DisplayApi;
}

export interface PlotBundleOptions {
  /** Put the plotly.js library into the HTML. */
  includeLibrary: boolean;
  /** The <div> id (letters, digits, `-`, `_`); default: a fresh one. */
  divId?: string;
}

interface PlotSession {
  inlined: boolean;
  counter: number;
  library?: { version: string; script: string };
}

// Per process (= per kernel session), shared by every copy of this module as api.ts's kernel slot is.
const SESSION_KEY = Symbol.for("safesail.kernel.plotly");
type Slot = { [SESSION_KEY]?: PlotSession };

function session(): PlotSession {
  const g = globalThis as Slot;
  return (g[SESSION_KEY] ??= { inlined: false, counter: 0 });
}

/** @internal Forget that this session inlined plotly.js (tests). */
export function resetPlotSession(): void {
  const s = session();
  s.inlined = false;
}

/** plotly.js-dist-min's version and its script text made safe to place inside a <script> element. */
export function plotlyLibrary(): { version: string; script: string } {
  const s = session();
  if (!s.library) {
    const require = createRequire(import.meta.url);
    const file = require.resolve("plotly.js-dist-min/plotly.min.js");
    const pkg = JSON.parse(readFileSync(require.resolve("plotly.js-dist-min/package.json"), "utf8")) as { version: string };
    const text = readFileSync(file, "utf8");
    s.library = { version: String(pkg.version), script: text.replace(/<(!--|\/?script)/gi, "\\x3C$1") };
  }
  return s.library;
}

const JSON_ESCAPES: Record<string, string> = { "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029" };

/** JSON text safe inside an HTML <script> element (and a JavaScript literal with the same value). */
export function scriptSafeJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError("plot: the value has no JSON form");
  return text.replace(/[<>&\u2028\u2029]/g, (c) => JSON_ESCAPES[c]!);
}

/** The figure as plain JSON data: typed arrays become arrays, bigints numbers, non-finite numbers null. */
export function figureJson(figure: PlotFigure): JsonObject {
  if (typeof figure !== "object" || figure === null || !Array.isArray(figure.data)) {
    throw new TypeError("plot: the figure must be an object { data: [...traces], layout?, config? }");
  }
  const replacer = (_key: string, v: unknown): unknown => {
    if (typeof v === "bigint") return Number(v);
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => Number(x));
    return v;
  };
  let text: string;
  try {
    text = JSON.stringify({ data: figure.data, layout: figure.layout ?? {}, ...(figure.config ? { config: figure.config } : {}), ...(figure.frames ? { frames: figure.frames } : {}) }, replacer);
  } catch (err) {
    throw new TypeError(`plot: the figure cannot be written as JSON (${(err as Error).message})`);
  }
  return JSON.parse(text) as JsonObject;
}

function summary(fig: JsonObject): string {
  const traces = fig.data as Array<Record<string, unknown>>;
  const types = new Map<string, number>();
  for (const t of traces) {
    const type = typeof t?.type === "string" ? t.type : "scatter";
    types.set(type, (types.get(type) ?? 0) + 1);
  }
  const layout = (fig.layout ?? {}) as Record<string, unknown>;
  const title = typeof layout.title === "string" ? layout.title : typeof (layout.title as { text?: unknown })?.text === "string" ? (layout.title as { text: string }).text : "";
  const kinds = [...types].map(([t, n]) => (n > 1 ? `${n} ${t}` : t)).join(", ");
  const short = title.length > 80 ? `${title.slice(0, 77)}...` : title;
  return `<Plotly figure${short ? ` "${short}"` : ""}: ${traces.length} trace${traces.length === 1 ? "" : "s"}${kinds ? ` (${kinds})` : ""}>`;
}

function freshDivId(): string {
  const s = session();
  return `safesail-plot-${process.pid}-${++s.counter}-${randomBytes(4).toString("hex")}`;
}

// Draws once the <div> is in the document and window.Plotly exists (outputs may be attached after their scripts
// run), replacing the static SVG in the div; after ~10 s without Plotly it stops and the SVG stays.
const DRAW = (id: string, fig: string): string =>
  `(function () {\n` +
  `  var id = ${scriptSafeJson(id)};\n` +
  `  var fig = ${fig};\n` +
  `  var tries = 0;\n` +
  `  function draw() {\n` +
  `    var el = document.getElementById(id);\n` +
  `    if (el && window.Plotly && typeof window.Plotly.newPlot === "function") {\n` +
  `      el.textContent = "";\n` +
  `      var config = Object.assign({ responsive: true, displaylogo: false }, fig.config || {});\n` +
  `      window.Plotly.newPlot(el, fig.data, fig.layout || {}, config).then(function () {\n` +
  `        if (fig.frames) window.Plotly.addFrames(el, fig.frames);\n` +
  `      });\n` +
  `      return;\n` +
  `    }\n` +
  `    if (++tries < 100) setTimeout(draw, 100);\n` +
  `  }\n` +
  `  draw();\n` +
  `})();\n`;

const ATTR_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * The static picture as an <img> with a data: URI, not inline <svg>: HTML sanitizers (JupyterLab's, for an
 * untrusted notebook) drop inline SVG but keep data: images, and an SVG loaded as an image runs no script even if
 * one got in. The alt text is the figure's one-line summary.
 */
function staticImage(fig: JsonObject, height: number): string {
  const svg = figureSvg(fig, { height });
  const alt = summary(fig).replace(/[&<>"']/g, (c) => ATTR_ESCAPES[c]!);
  return `<img class="safesail-plot-static" alt="${alt}" style="width:100%;height:${height}px" src="data:image/svg+xml;base64,${Buffer.from(svg, "utf8").toString("base64")}">`;
}

/** The mime bundle of one plot (pure; `plot` adds the session bookkeeping). */
export function plotBundle(figure: PlotFigure, opts: PlotBundleOptions): MimeBundle {
  const fig = figureJson(figure);
  const divId = opts.divId ?? freshDivId();
  if (!/^[A-Za-z][\w-]*$/.test(divId)) throw new TypeError(`plot: divId must be letters, digits, "-" or "_", got ${JSON.stringify(divId)}`);
  const layout = fig.layout as Record<string, unknown>;
  const height = typeof layout.height === "number" && Number.isFinite(layout.height) && layout.height > 0 ? Math.round(layout.height) : 420;
  let html = `<div id="${divId}" class="safesail-plot" style="width:100%;height:${height}px">${staticImage(fig, height)}</div>\n`;
  if (opts.includeLibrary) {
    const lib = plotlyLibrary();
    html +=
      `<script type="text/javascript" data-safesail-plotly="${lib.version.replace(/[^\w.-]/g, "")}">\n` +
      `if (typeof window.Plotly === "undefined") {\n${lib.script}\n}\n</script>\n`;
  }
  html += `<script type="text/javascript">\n${DRAW(divId, scriptSafeJson(fig))}</script>\n`;
  return { [PLOTLY_MIME]: fig, "text/html": html, "text/plain": summary(fig) };
}

/**
 * Shows a Plotly figure in the running notebook (see the file comment for what is sent). The first plot of a
 * kernel session carries plotly.js (about 4.8 MB) in its HTML; later ones only their data and a static SVG.
 */
export function plot(figure: PlotFigure, opts: PlotOptions = {}): void {
  const display = opts.display ?? currentKernel()?.display;
  if (!display) throw new Error("plot: not running in the safesail kernel (no display to show the figure on)");
  const s = session();
  const includeLibrary = opts.inline === true || !s.inlined;
  const bundle = plotBundle(figure, { includeLibrary });
  display.display(bundle, opts.displayId !== undefined ? { displayId: opts.displayId } : {});
  if (includeLibrary) s.inlined = true;
}
