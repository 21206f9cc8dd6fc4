// Rich display: values as Jupyter mime bundles, and the DisplayApi of types.ts over iopub
// (`display_data`, `update_display_data` with transient.display_id, `clear_output`).
//
// A value controls its own rendering with a method `[Symbol.for("jupyter.mimebundle")]()` or
// `_repr_mimebundle_()` (IPython's name) returning either a bundle `{"text/html": ..., ...}`, a
// `{data, metadata}` pair, or a `[data, metadata]` tuple. Failing that, a value with a `toHTML()` method
// (arquero tables, and other libraries' objects that declare HTML) is shown as `text/html` (see htmlRepr). Anything
// else is shown as `text/plain` from util.inspect. A bundle always gets a `text/plain` fallback.
import { inspect } from "node:util";
import type { DisplayApi, DisplayOptions, JsonObject, MimeBundle } from "./types.ts";

export const MIMEBUNDLE = Symbol.for("jupyter.mimebundle");

export interface RichResult {
  data: MimeBundle;
  metadata: JsonObject;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function inspectValue(value: unknown): string {
  return inspect(value, { depth: 4, colors: false, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 });
}

/** Normalises what a `_repr_mimebundle_`-like method returned. */
function normaliseBundle(ret: unknown): RichResult | null {
  if (Array.isArray(ret) && ret.length >= 1 && isObject(ret[0])) {
    return { data: { ...ret[0] }, metadata: isObject(ret[1]) ? (ret[1] as JsonObject) : {} };
  }
  if (!isObject(ret)) return null;
  const keys = Object.keys(ret);
  // {data, metadata}: no key looks like a mime type.
  if ("data" in ret && isObject(ret.data) && keys.every((k) => k === "data" || k === "metadata")) {
    return { data: { ...(ret.data as MimeBundle) }, metadata: isObject(ret.metadata) ? (ret.metadata as JsonObject) : {} };
  }
  return { data: { ...ret }, metadata: {} };
}

/** Rows of an arquero table shown as HTML (arquero's own default is 100 as well). */
export const TABLE_HTML_ROWS = 100;

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function method(v: Record<string | symbol, unknown>, name: string | symbol): ((...a: unknown[]) => unknown) | undefined {
  try {
    const m = v[name];
    return typeof m === "function" ? (m as (...a: unknown[]) => unknown) : undefined;
  } catch {
    return undefined; // a throwing getter (e.g. a Proxy)
  }
}

/** An arquero table (any copy of the library: recognised by its API, not by class identity). */
function isArqueroTable(v: Record<string | symbol, unknown>): boolean {
  return ["toHTML", "columnNames", "numRows", "rename", "objects", "scan"].every((n) => method(v, n) !== undefined);
}

/** `text/plain` beside a toHTML rendering: the value's own toString() when it has a useful one, else inspect. */
function plainText(value: unknown): string {
  try {
    const s = String(value);
    if (s !== "[object Object]" && s !== "") return s;
  } catch {
    // Symbol.toPrimitive / toString threw
  }
  return inspectValue(value);
}

/**
 * `text/html` for a value with a `toHTML()` method, or null (no such method, it threw, or it returned no string).
 *
 * Trust: an object's own `toHTML()` declares HTML, so its output is used as it is (as IPython trusts
 * `_repr_html_`), with one exception. Arquero tables (arquero 7.2.1, checked) escape `&`, `<`, `>` in *cell values*
 * but write *column names* into `<th>` unescaped, so `aq.table({"<img src=x onerror=...>": [1]})` would inject
 * markup, and tables routinely hold untrusted data (prompts, model outputs, CSV headers). For arquero tables the
 * kernel therefore renames every column whose name needs it to its HTML-escaped form (escaping is injective, so
 * names stay distinct) before calling `toHTML({ limit })`: cells keep arquero's own value formatting and escaping,
 * headers come out escaped, and no option whose value arquero emits raw (`null`, `style`, `format` functions) is
 * passed. A note tells how many rows were left out.
 */
function htmlRepr(value: unknown): string | null {
  const v = value as Record<string | symbol, unknown>;
  const toHTML = method(v, "toHTML");
  if (!toHTML) return null;
  try {
    if (isArqueroTable(v)) {
      const names = (v.columnNames as () => string[])();
      const renames: Record<string, string> = {};
      for (const n of names) if (escapeHtml(n) !== n) renames[n] = escapeHtml(n);
      const t = Object.keys(renames).length ? ((v.rename as (m: object) => Record<string, unknown>).call(value, renames)) : v;
      const html = (t.toHTML as (o: object) => unknown).call(t, { limit: TABLE_HTML_ROWS });
      if (typeof html !== "string") return null;
      const rows = (v.numRows as () => number).call(value);
      const more = rows > TABLE_HTML_ROWS ? `<p style="font-size: smaller">${TABLE_HTML_ROWS} of ${Number(rows)} rows shown</p>` : "";
      return html + more;
    }
    const html = toHTML.call(value);
    return typeof html === "string" ? html : null;
  } catch {
    return null; // a toHTML that throws: shown as text instead
  }
}

/**
 * The rich representation of a value: its own bundle when it has one, else `text/html` from `toHTML()` (with a
 * `text/plain` fallback), else util.inspect text.
 */
export function richRepr(value: unknown): RichResult {
  if ((typeof value === "object" && value !== null) || typeof value === "function") {
    const v = value as Record<string | symbol, unknown>;
    const bundleMethod = method(v, MIMEBUNDLE) ?? method(v, "_repr_mimebundle_");
    if (bundleMethod) {
      const r = normaliseBundle(bundleMethod.call(value));
      if (r) {
        if (!("text/plain" in r.data)) r.data["text/plain"] = inspectValue(value);
        return r;
      }
    }
    const html = htmlRepr(value);
    if (html !== null) return { data: { "text/html": html, "text/plain": plainText(value) }, metadata: {} };
  }
  return { data: { "text/plain": inspectValue(value) }, metadata: {} };
}

/** Where display messages go: the kernel publishes them on iopub, parented to the current request. */
export type DisplaySink = (msgType: "display_data" | "update_display_data" | "clear_output", content: JsonObject) => void;

function checkBundle(bundle: unknown, what: string): MimeBundle {
  if (!isObject(bundle)) throw new TypeError(`${what}: the mime bundle must be an object such as {"text/plain": "..."}`);
  return bundle;
}

export class KernelDisplay implements DisplayApi {
  constructor(private readonly sink: DisplaySink) {}

  display(bundle: MimeBundle, opts: DisplayOptions = {}): void {
    const content: JsonObject = { data: checkBundle(bundle, "display"), metadata: opts.metadata ?? {}, transient: {} };
    if (opts.displayId !== undefined) content.transient = { display_id: String(opts.displayId) };
    this.sink("display_data", content);
  }

  updateDisplay(displayId: string, bundle: MimeBundle, opts: Omit<DisplayOptions, "displayId"> = {}): void {
    if (typeof displayId !== "string" || displayId === "") throw new TypeError("updateDisplay: displayId must be a non-empty string");
    this.sink("update_display_data", { data: checkBundle(bundle, "updateDisplay"), metadata: opts.metadata ?? {}, transient: { display_id: displayId } });
  }

  clearOutput(wait = false): void {
    this.sink("clear_output", { wait: Boolean(wait) });
  }
}
