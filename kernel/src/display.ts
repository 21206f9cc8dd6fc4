// Rich display: values as Jupyter mime bundles, and the DisplayApi of types.ts over iopub
// (`display_data`, `update_display_data` with transient.display_id, `clear_output`).
//
// A value controls its own rendering with a method `[Symbol.for("jupyter.mimebundle")]()` or
// `_repr_mimebundle_()` (IPython's name) returning either a bundle `{"text/html": ..., ...}`, a
// `{data, metadata}` pair, or a `[data, metadata]` tuple. Anything else is shown as `text/plain` from
// util.inspect. A bundle always gets a `text/plain` fallback.
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

/** The rich representation of a value (its own bundle when it has one, else util.inspect text). */
export function richRepr(value: unknown): RichResult {
  if ((typeof value === "object" && value !== null) || typeof value === "function") {
    const v = value as Record<string | symbol, unknown>;
    let method: unknown;
    try {
      method = typeof v[MIMEBUNDLE] === "function" ? v[MIMEBUNDLE] : typeof v._repr_mimebundle_ === "function" ? v._repr_mimebundle_ : undefined;
    } catch {
      method = undefined; // a throwing getter (e.g. a Proxy): fall back to inspect
    }
    if (typeof method === "function") {
      const r = normaliseBundle((method as () => unknown).call(value));
      if (r) {
        if (!("text/plain" in r.data)) r.data["text/plain"] = inspectValue(value);
        return r;
      }
    }
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
