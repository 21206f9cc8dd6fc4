// One executed notebook as one self-contained HTML page (`safesail publish`; docs/publish.md).
//
// The page is plain HTML first: Markdown cells rendered with marked (GFM) and sanitised; code cells as escaped
// source with their execution count; outputs as escaped text, data: images and (trusted) HTML. Widget views and
// Plotly figures are a text fallback plus a JSON <script> that the embed bundle (widgets/dist/embed.js, inlined
// once, only when the page has such outputs) replaces with the live view. Nothing on the page loads anything: no
// <link>, no <script src>, images as data: URIs, and a Content-Security-Policy that forbids every fetch.
//
// Outputs pick the richest representation in JupyterLab's order: widget view > Plotly > text/html >
// text/markdown > image/svg+xml > image/png > image/jpeg > image/gif > text/plain (then text/latex and
// application/json as text). HTML and SVG go in as they are only for a trusted notebook (publish/trust.ts);
// otherwise HTML is sanitised (widgets/src/sanitize.ts) and SVG is shown through an <img> (where it cannot run
// scripts). Markdown, cells and outputs alike, is always sanitised. A Plotly output is drawn from its
// `application/vnd.plotly.v1+json` with the bundle's one Plotly, never from the kernel's HTML fallback (which
// inlines plotly.js again in a session's first plot).
import { readFileSync, statSync } from "node:fs";
import { extname, isAbsolute, normalize, resolve, sep } from "node:path";
import { marked } from "marked";
import { sanitizeHtml } from "../sanitize.ts";
import {
  PLOTLY_MIME,
  text,
  WIDGET_STATE_MIME,
  WIDGET_VIEW_MIME,
  type Cell,
  type CodeCell,
  type DataOutput,
  type ErrorOutput,
  type MarkdownCell,
  type MimeBundle,
  type Notebook,
  type Output,
  type StreamOutput,
  type WidgetState,
} from "./notebook.ts";

export interface PageOptions {
  /** Whether the notebook's signature is trusted (trust.ts): its HTML and SVG outputs go in unsanitised. */
  trusted: boolean;
  /** The embed bundle's text (widgets/dist/embed.js); inlined once when the page has widgets or Plotly figures. */
  embedJs: string | null;
  /** The page's <title> and top heading; default: the notebook's first Markdown heading, else "Notebook". */
  title?: string;
  /** Saved widget state (notebook.ts widgetState); default: none (widget views show their text fallback). */
  widgetState?: WidgetState | null;
  /** The folder the notebook is in: relative Markdown images inside it are inlined as data: URIs. */
  baseDir?: string;
  /** A link back to the index page: `{ href: "index.html", text: "Supplement" }`. */
  back?: { href: string; text: string };
  /** Name of the notebook in warnings. */
  file?: string;
  /** Non-fatal problems (an image that could not be inlined, a widget whose state was not saved, ...). */
  warn?: (message: string) => void;
  /**
   * The in-page model's scripts (inpage.ts: paths relative to the page, in load order), loaded before the embed
   * bundle so that the page's runnable widgets answer Generate in the browser; the CSP then allows scripts from the
   * page's own folder and WebAssembly.
   */
  inPageScripts?: string[];
}

// ---- escaping ---------------------------------------------------------------------------------------------------

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text safe as HTML element content and as a quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const JSON_ESCAPES: Record<string, string> = { "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029" };

/** JSON text safe inside a <script> element: no `</script>`, no `<!--`, same value when parsed. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => JSON_ESCAPES[c]!);
}

/** A script's text safe inside <script>...</script> (the element cannot be closed or turned into a comment early). */
export function scriptSafeText(js: string): string {
  return js.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

// ESC [ ... final byte (CSI, colours and cursor moves), ESC ] ... BEL/ST (OSC, titles and links), other ESC pairs.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]|\u009b[0-?]*[ -/]*[@-~]/g;

/** Text without ANSI escape sequences. */
export function stripAnsi(s: string): string {
  return s.replace(ANSI, "");
}

/**
 * Terminal text as a terminal would leave it: `\r` returns to the start of the line and overwrites it (progress
 * bars), `\b` deletes the character before it.
 */
export function terminalText(s: string): string {
  return s
    .replace(/\r+\n/g, "\n")
    .split("\n")
    .map((line) => {
      let out = "";
      for (const seg of line.split("\r")) out = seg + out.slice(seg.length);
      while (/[^\b\n]\u0008/.test(out)) out = out.replace(/[^\b\n]\u0008/g, "");
      return out.replace(/\u0008/g, "");
    })
    .join("\n");
}

// ---- mime bundles -----------------------------------------------------------------------------------------------

/** JupyterLab's order, richest first (text/latex and application/json come after text/plain: no MathJax here). */
export const MIME_ORDER = [
  WIDGET_VIEW_MIME,
  PLOTLY_MIME,
  "text/html",
  "text/markdown",
  "image/svg+xml",
  "image/png",
  "image/jpeg",
  "image/gif",
  "text/plain",
  "text/latex",
  "application/json",
] as const;

/** The richest mime type of `data` this page can show, in MIME_ORDER; null when none is known. */
export function pickMime(data: MimeBundle, skip: ReadonlySet<string> = new Set()): string | null {
  for (const mime of MIME_ORDER) if (mime in data && !skip.has(mime)) return mime;
  return null;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function imageTag(mime: string, value: unknown, meta: Record<string, unknown> | undefined, alt: string): string | null {
  const b64 = text(value as string | string[]).replace(/\s+/g, "");
  if (!BASE64.test(b64)) return null;
  const m = (meta?.[mime] ?? {}) as { width?: unknown; height?: unknown };
  const size = ["width", "height"]
    .map((k) => {
      const v = m[k as "width"];
      return typeof v === "number" && Number.isFinite(v) && v > 0 ? ` ${k}="${Math.round(v)}"` : "";
    })
    .join("");
  return `<img src="data:${mime};base64,${b64}"${size} alt="${escapeHtml(alt)}">`;
}

// ---- markdown --------------------------------------------------------------------------------------------------

const IMAGE_TYPES: Record<string, string> = { ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml" };
const MAX_INLINE_IMAGE = 20 * 1024 * 1024;

/**
 * The <img src> policy of Markdown and sanitised HTML on a published page: data: URIs stay; `attachment:NAME`
 * becomes the cell attachment's data: URI; a relative path to an image file inside `baseDir` is inlined; anything
 * else (http URLs, files outside the notebook's folder) cannot be shown offline and becomes its alt text.
 */
function imagePolicy(opts: PageOptions, attachments: Record<string, MimeBundle> | undefined, where: string): (src: string) => string | null {
  return (src) => {
    if (/^data:/i.test(src)) return src;
    if (src.startsWith("attachment:")) {
      let name = src.slice("attachment:".length);
      try {
        name = decodeURIComponent(name);
      } catch {
        // not %-encoded: the name as written
      }
      const bundle = attachments?.[name];
      const mime = bundle && Object.keys(bundle).find((k) => k.startsWith("image/"));
      if (bundle && mime) {
        const b64 = text(bundle[mime] as string | string[]).replace(/\s+/g, "");
        if (BASE64.test(b64)) return `data:${mime};base64,${b64}`;
      }
      opts.warn?.(`${where}: attachment ${JSON.stringify(src)} not found in the cell; shown as its alt text`);
      return null;
    }
    if (opts.baseDir && !/^[a-z][a-z0-9+.-]*:/i.test(src) && !src.startsWith("/") && !src.startsWith("\\")) {
      let rel: string;
      try {
        rel = decodeURIComponent(src.split(/[?#]/)[0]!);
      } catch {
        rel = src;
      }
      const base = resolve(opts.baseDir);
      const path = resolve(base, normalize(rel));
      const type = IMAGE_TYPES[extname(path).toLowerCase()];
      if (type && !isAbsolute(rel) && (path + sep).startsWith(base + sep)) {
        try {
          if (statSync(path).size <= MAX_INLINE_IMAGE) return `data:${type};base64,${readFileSync(path).toString("base64")}`;
        } catch {
          // missing: warned below
        }
      }
    }
    opts.warn?.(`${where}: image ${JSON.stringify(src.length > 100 ? `${src.slice(0, 97)}...` : src)} cannot be inlined (only data:, cell attachments and image files in the notebook's folder are); shown as its alt text`);
    return null;
  };
}

/** Markdown (GFM) as sanitised HTML. */
export function renderMarkdown(source: string, imageSrc?: (src: string) => string | null): string {
  const html = marked.parse(source, { gfm: true, async: false }) as string;
  return sanitizeHtml(html, imageSrc ? { imageSrc } : undefined);
}

/** The first Markdown heading of the notebook, as plain text (null when it has none). */
export function firstHeading(nb: Notebook): string | null {
  for (const cell of nb.cells) {
    if (cell.cell_type !== "markdown") continue;
    for (const token of marked.lexer(text(cell.source), { gfm: true })) {
      if (token.type !== "heading") continue;
      // The heading's inline Markdown rendered, then every tag dropped and entities decoded: its text.
      const inline = marked.parseInline(token.text, { gfm: true, async: false }) as string;
      const plain = decodeEntities(inline.replace(/<[^>]*>/g, "")).replace(/\s+/g, " ").trim();
      if (plain) return plain;
    }
  }
  return null;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|#39|apos|nbsp);/gi, (all, e: string) => {
    const k = e.toLowerCase();
    if (k.startsWith("#x")) return String.fromCodePoint(parseInt(k.slice(2), 16));
    if (k.startsWith("#")) return String.fromCodePoint(parseInt(k.slice(1), 10));
    return ({ amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" } as Record<string, string>)[k] ?? all;
  });
}

// ---- outputs ----------------------------------------------------------------------------------------------------

interface RenderContext {
  opts: PageOptions;
  where: string;
  /** Set when the page needs the embed bundle (a widget view or a Plotly figure was written). */
  needsEmbed: { value: boolean };
  /** External references found in trusted HTML (warned once per page). */
  external: Set<string>;
}

function pre(cls: string, body: string): string {
  return `<pre class="${cls}">${escapeHtml(body)}</pre>`;
}

function renderStream(out: StreamOutput): string {
  const name = out.name === "stderr" ? "stderr" : "stdout";
  return `<div class="ss-output ss-stream ss-${name}">${pre("ss-text", terminalText(stripAnsi(text(out.text))))}</div>`;
}

function renderError(out: ErrorOutput): string {
  const head = `<div class="ss-error-head"><span class="ss-ename">${escapeHtml(stripAnsi(out.ename))}</span>: ${escapeHtml(stripAnsi(out.evalue))}</div>`;
  const tb = (out.traceback ?? []).map((l) => stripAnsi(l)).join("\n");
  return `<div class="ss-output ss-error">${head}${tb.trim() ? pre("ss-traceback", tb) : ""}</div>`;
}

/** Finds src/href/url() references that would leave the page (for a warning on trusted HTML). */
function externalRefs(html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(/\b(?:src|href|action|poster|data)\s*=\s*["']?\s*((?:https?:)?\/\/[^\s"'>]+)/gi)) found.push(m[1]!);
  for (const m of html.matchAll(/url\(\s*["']?((?:https?:)?\/\/[^\s"')]+)/gi)) found.push(m[1]!);
  return found;
}

/** One mime type of a bundle as HTML (null when the value is not usable). */
function renderMime(mime: string, data: MimeBundle, meta: Record<string, unknown> | undefined, ctx: RenderContext): string | null {
  const value = data[mime];
  const { opts } = ctx;
  switch (mime) {
    case "text/html": {
      const html = text(value as string[]);
      if (opts.trusted) {
        for (const ref of externalRefs(html)) ctx.external.add(ref);
        return `<div class="ss-output ss-html">${html}</div>`;
      }
      return `<div class="ss-output ss-html ss-sanitized">${sanitizeHtml(html, { imageSrc: imagePolicy(opts, undefined, ctx.where) })}</div>`;
    }
    case "text/markdown":
      return `<div class="ss-output ss-markdown">${renderMarkdown(text(value as string[]), imagePolicy(opts, undefined, ctx.where))}</div>`;
    case "image/svg+xml": {
      const svg = text(value as string[]);
      if (opts.trusted) {
        for (const ref of externalRefs(svg)) ctx.external.add(ref);
        return `<div class="ss-output ss-svg">${svg.replace(/^\s*<\?xml[^>]*>\s*/, "")}</div>`;
      }
      return `<div class="ss-output ss-svg"><img src="data:image/svg+xml;base64,${Buffer.from(svg, "utf8").toString("base64")}" alt="SVG output"></div>`;
    }
    case "image/png":
    case "image/jpeg":
    case "image/gif": {
      const tag = imageTag(mime, value, meta, typeof data["text/plain"] === "string" || Array.isArray(data["text/plain"]) ? text(data["text/plain"] as string[]).slice(0, 200) : "image output");
      return tag && `<div class="ss-output ss-image">${tag}</div>`;
    }
    case "text/plain":
    case "text/latex":
      return `<div class="ss-output ss-plain">${pre("ss-text", stripAnsi(text(value as string[])))}</div>`;
    case "application/json":
      return `<div class="ss-output ss-json">${pre("ss-text", JSON.stringify(value, null, 2) ?? "")}</div>`;
    default:
      return null;
  }
}

/** The best static (script-free) rendering of a bundle, for text fallbacks: images or text. */
function staticFallback(data: MimeBundle, meta: Record<string, unknown> | undefined, ctx: RenderContext, placeholder: string): string {
  for (const mime of ["image/png", "image/jpeg", "image/gif", "text/plain"]) {
    if (!(mime in data)) continue;
    const html = renderMime(mime, data, meta, ctx);
    if (html) return html;
  }
  return `<div class="ss-output ss-plain">${pre("ss-text", placeholder)}</div>`;
}

function renderData(out: DataOutput, ctx: RenderContext): string {
  const data = out.data;
  const meta = out.metadata;
  const skip = new Set<string>();
  for (;;) {
    const mime = pickMime(data, skip);
    if (mime === null) {
      const types = Object.keys(data);
      return `<div class="ss-output ss-plain">${pre("ss-text ss-unsupported", types.length ? `[output of type ${types.join(", ")}: not shown on this page]` : "[empty output]")}</div>`;
    }
    if (mime === WIDGET_VIEW_MIME) {
      const view = data[mime] as { model_id: string };
      const model = ctx.opts.widgetState?.state[view.model_id];
      if (!model) {
        const why = ctx.opts.widgetState ? "is not in the notebook's saved widget state" : "cannot be shown: the notebook has no saved widget state";
        ctx.opts.warn?.(`${ctx.where}: widget ${view.model_id} ${why} (metadata.widgets; execute it with safesail notebooks run); shown as text`);
        skip.add(mime);
        continue;
      }
      ctx.needsEmbed.value = true;
      const fallback = staticFallback(data, meta, ctx, `[widget: ${model.model_name}]`);
      return (
        `<div class="ss-output ss-widget" data-model-name="${escapeHtml(model.model_name)}">` +
        `<div class="ss-fallback">${fallback}</div>` +
        `<script type="${WIDGET_VIEW_MIME}">${scriptSafeJson(view)}</script></div>`
      );
    }
    if (mime === PLOTLY_MIME) {
      ctx.needsEmbed.value = true;
      const fallback = staticFallback(data, meta, ctx, "[Plotly figure]");
      return `<div class="ss-output ss-plotly"><div class="ss-fallback">${fallback}</div><script type="${PLOTLY_MIME}">${scriptSafeJson(data[mime])}</script></div>`;
    }
    const html = renderMime(mime, data, meta, ctx);
    if (html !== null) return html;
    skip.add(mime);
  }
}

function renderOutput(out: Output, ctx: RenderContext): string {
  switch (out.output_type) {
    case "stream":
      return renderStream(out);
    case "error":
      return renderError(out);
    default: {
      const body = renderData(out, ctx);
      if (out.output_type === "execute_result") {
        const n = out.execution_count;
        return `<div class="ss-result"><div class="ss-prompt ss-out-prompt">[${n ?? " "}]:</div>${body}</div>`;
      }
      return body;
    }
  }
}

// ---- cells ------------------------------------------------------------------------------------------------------

function languageOf(nb: Notebook): string {
  const lang = nb.metadata?.language_info?.name ?? nb.metadata?.kernelspec?.language ?? "text";
  return String(lang).toLowerCase().replace(/[^a-z0-9+#-]/g, "") || "text";
}

function renderCode(cell: CodeCell, i: number, ctx: RenderContext, lang: string): string {
  const n = cell.execution_count;
  const input =
    `<div class="ss-input"><div class="ss-prompt">[${n ?? " "}]:</div>` +
    `<pre class="ss-source"><code class="language-${lang}">${escapeHtml(text(cell.source))}</code></pre></div>`;
  const outputs = cell.outputs.map((o, j) => renderOutput(o, { ...ctx, where: `${ctx.where}cells[${i}].outputs[${j}]` })).join("\n");
  return `<section class="ss-cell ss-code-cell" id="cell-${i}">${input}${outputs ? `<div class="ss-outputs">${outputs}</div>` : ""}</section>`;
}

function renderCell(cell: Cell, i: number, ctx: RenderContext, lang: string): string {
  switch (cell.cell_type) {
    case "code":
      return renderCode(cell, i, ctx, lang);
    case "markdown": {
      const md = cell as MarkdownCell;
      const html = renderMarkdown(text(md.source), imagePolicy(ctx.opts, md.attachments, `${ctx.where}cells[${i}]`));
      return `<section class="ss-cell ss-markdown-cell" id="cell-${i}">${html}</section>`;
    }
    default:
      return `<section class="ss-cell ss-raw-cell" id="cell-${i}">${pre("ss-raw", text(cell.source))}</section>`;
  }
}

// ---- the page ---------------------------------------------------------------------------------------------------

/** The Content-Security-Policy of a page: no fetch of any kind; inline scripts only where the page needs them. */
export function contentSecurityPolicy(scripts: boolean, inPage = false): string {
  return [
    "default-src 'none'",
    // An in-page model loads its scripts from the page's own folder ('self'; file:// included) and compiles
    // onnxruntime-web's WebAssembly ('wasm-unsafe-eval': compiling only, no JavaScript eval).
    `script-src ${scripts ? "'unsafe-inline'" : "'none'"}${scripts && inPage ? " 'self' 'wasm-unsafe-eval'" : ""}`,
    "style-src 'unsafe-inline'",
    // blob: is in-memory (the Image widget shows its bytes through a blob: URL); nothing is fetched.
    "img-src data: blob:",
    "media-src data: blob:",
    "font-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

export const PAGE_CSS = `
:root { color-scheme: light; --ss-fg: #1f2328; --ss-muted: #656d76; --ss-border: #d0d7de; --ss-code-bg: #f6f8fa;
  --ss-err-bg: #fdecea; --ss-err-fg: #82071e; --ss-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  --ss-mono: ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ss-fg); background: #fff; font: 15px/1.55 var(--ss-font); }
.ss-page { max-width: 1100px; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
.ss-nav { font-size: 0.9rem; margin-bottom: 1rem; }
.ss-nav a { color: #0969da; text-decoration: none; }
.ss-meta { color: var(--ss-muted); font-size: 0.85rem; margin: 0 0 1.5rem; }
.ss-cell { margin: 0.9rem 0; }
.ss-markdown-cell img, .ss-output img { max-width: 100%; height: auto; }
.ss-markdown-cell table, .ss-html table { border-collapse: collapse; margin: 0.5rem 0; }
.ss-markdown-cell th, .ss-markdown-cell td, .ss-html th, .ss-html td { border: 1px solid var(--ss-border); padding: 0.25rem 0.6rem; }
.ss-markdown-cell code { font-family: var(--ss-mono); font-size: 0.9em; background: var(--ss-code-bg); padding: 0.1em 0.3em; border-radius: 4px; }
.ss-markdown-cell pre code { padding: 0; background: none; }
.ss-markdown-cell pre, .ss-source { background: var(--ss-code-bg); border: 1px solid var(--ss-border); border-radius: 6px; padding: 0.6rem 0.8rem; overflow-x: auto; }
.ss-input, .ss-result { display: grid; grid-template-columns: 4.5rem minmax(0, 1fr); align-items: start; }
.ss-prompt { font: 0.85rem var(--ss-mono); color: var(--ss-muted); padding-top: 0.65rem; }
.ss-out-prompt { color: #bc4c00; padding-top: 0.35rem; }
.ss-source { margin: 0; font: 0.88rem/1.45 var(--ss-mono); }
.ss-outputs { margin-left: 4.5rem; }
.ss-result { margin-left: -4.5rem; }
.ss-output { margin: 0.35rem 0; overflow-x: auto; }
pre.ss-text, pre.ss-traceback, pre.ss-raw { margin: 0; font: 0.85rem/1.4 var(--ss-mono); white-space: pre-wrap; word-break: break-word; }
.ss-stderr { background: var(--ss-err-bg); padding: 0.2rem 0.5rem; border-radius: 4px; }
.ss-error { background: var(--ss-err-bg); color: var(--ss-err-fg); padding: 0.4rem 0.6rem; border-radius: 4px; }
.ss-error-head { font-family: var(--ss-mono); font-size: 0.88rem; margin-bottom: 0.3rem; }
.ss-ename { font-weight: 700; }
.ss-fallback pre { color: var(--ss-muted); }
.ss-render-error, .safesail-widget-error { color: var(--ss-err-fg); font-size: 0.85rem; }
.safesail-widget-error-detail { white-space: pre-wrap; margin: 0.2rem 0 0; font-size: 0.8rem; }
.safesail-image-omitted { color: var(--ss-muted); font-style: italic; }
.ss-index ul { list-style: none; padding: 0; }
.ss-index li { margin: 0.6rem 0; padding: 0.6rem 0.8rem; border: 1px solid var(--ss-border); border-radius: 6px; }
.ss-index li a { font-weight: 600; color: #0969da; text-decoration: none; }
.ss-index .ss-file { color: var(--ss-muted); font: 0.8rem var(--ss-mono); margin-left: 0.5rem; }
`;

/** Shared page frame: doctype, CSP, title, styles. */
export function pageFrame(title: string, body: string, opts: { scripts: boolean; inPage?: boolean; head?: string }): string {
  return (
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
    `<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(opts.scripts, opts.inPage)}">\n` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<meta name="generator" content="safesail publish">\n` +
    `<title>${escapeHtml(title)}</title>\n<style>${PAGE_CSS}</style>\n${opts.head ?? ""}</head>\n<body>\n${body}\n</body>\n</html>\n`
  );
}

/** One notebook as a self-contained HTML page (see the file comment). */
export function renderNotebookPage(nb: Notebook, opts: PageOptions): string {
  const title = opts.title ?? firstHeading(nb) ?? "Notebook";
  const ctx: RenderContext = { opts, where: opts.file ? `${opts.file}: ` : "", needsEmbed: { value: false }, external: new Set() };
  const lang = languageOf(nb);
  const cells = nb.cells.map((c, i) => renderCell(c, i, ctx, lang)).join("\n");
  if (ctx.external.size > 0) {
    const list = [...ctx.external].slice(0, 3).join(", ");
    opts.warn?.(`${ctx.where}trusted HTML refers to ${ctx.external.size} external URL${ctx.external.size === 1 ? "" : "s"} (${list}${ctx.external.size > 3 ? ", ..." : ""}); the page's Content-Security-Policy blocks them, so they will not show`);
  }
  const embed = ctx.needsEmbed.value && opts.embedJs !== null;
  const inPage = embed && opts.widgetState ? (opts.inPageScripts ?? []) : [];
  if (ctx.needsEmbed.value && opts.embedJs === null) opts.warn?.(`${ctx.where}no embed bundle given: widgets and figures are shown as text`);
  const back = opts.back ? `<nav class="ss-nav"><a href="${escapeHtml(opts.back.href)}">&larr; ${escapeHtml(opts.back.text)}</a></nav>\n` : "";
  const trustNote = opts.trusted ? "trusted notebook: HTML outputs as written" : "untrusted notebook: HTML outputs sanitised";
  let body = `<main class="ss-page">\n${back}<p class="ss-meta">${escapeHtml(trustNote)}</p>\n${cells}\n</main>`;
  if (embed) {
    body +=
      `\n<script type="application/json" id="safesail-page">${scriptSafeJson({ trusted: opts.trusted })}</script>` +
      (opts.widgetState ? `\n<script type="${WIDGET_STATE_MIME}">${scriptSafeJson(opts.widgetState)}</script>` : "") +
      inPage.map((src) => `\n<script src="${escapeHtml(encodeURI(src))}"></script>`).join("") +
      `\n<script>${scriptSafeText(opts.embedJs!)}</script>`;
  }
  // Scripts run only where the page has the bundle, or trusted HTML that may carry its own.
  return pageFrame(title, body, { scripts: embed || opts.trusted, inPage: embed && inPage.length > 0 });
}
