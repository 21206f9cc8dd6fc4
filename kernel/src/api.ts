// `safesail/kernel`: what code running in the safesail Jupyter kernel uses to reach it.
//
//   import { getKernel, display, updateDisplay, clearOutput, html } from "safesail/kernel";
//   display(html("<b>hi</b>"), { displayId: "status" });
//   updateDisplay("status", html("<b>done</b>"));
//   const comm = getKernel().comms.open("my.target", { hello: 1 });
//
// The running kernel is kept under a global symbol, not a module variable, so every copy of this module (a
// cell importing `safesail/kernel`, kernel/src/widgets importing "../api.ts", a bundled copy) sees the same
// kernel. Outside a kernel `getKernel()` throws; `kernelRunning()` tells without throwing.
import { MIMEBUNDLE, richRepr } from "./display.ts";
import type { DisplayOptions, JsonObject, KernelApi, MimeBundle } from "./types.ts";

// Widgets (ipywidgets protocol 2.1: `widgets.IntSlider(...)`, WidgetModel, Output, ...) come with this module.
export * from "./widgets/index.ts";
export type { Comm, CommManager, CommMessage, DisplayApi, DisplayOptions, JsonObject, KernelApi, MimeBundle, SendOptions } from "./types.ts";
export { MIMEBUNDLE };
export { plot, plotBundle, PLOTLY_MIME, type PlotFigure, type PlotOptions } from "./plot.ts";

/** @internal The global slot the kernel fills in at start. */
export const KERNEL_API_KEY = Symbol.for("safesail.kernel.api");

type Slot = { [KERNEL_API_KEY]?: KernelApi | undefined };

/** The running kernel's API (comms, display). Throws outside the safesail kernel. */
export function getKernel(): KernelApi {
  const k = (globalThis as Slot)[KERNEL_API_KEY];
  if (!k) {
    throw new Error(
      "safesail/kernel: no running kernel. getKernel() works in code run by the safesail Jupyter kernel " +
        "(install it with `safesail kernel install`, then pick \"TypeScript (safesail)\" in Jupyter).",
    );
  }
  return k;
}

/** True inside a running safesail kernel. */
export function kernelRunning(): boolean {
  return (globalThis as Slot)[KERNEL_API_KEY] !== undefined;
}

/** @internal Used by the kernel at start (and by tests). */
export function setKernel(api: KernelApi | undefined): void {
  (globalThis as Slot)[KERNEL_API_KEY] = api;
}

export interface ShowOptions extends DisplayOptions {
  /** `value` is already a mime bundle (`{"text/html": ...}`); otherwise it is rendered like a cell result. */
  raw?: boolean;
}

function bundleOf(value: unknown, raw: boolean | undefined, metadata: JsonObject | undefined): { data: MimeBundle; metadata: JsonObject } {
  if (raw) return { data: value as MimeBundle, metadata: metadata ?? {} };
  const r = richRepr(value);
  return { data: r.data, metadata: { ...r.metadata, ...(metadata ?? {}) } };
}

/** Shows a value as `display_data` (rendered like a cell result unless `raw`). */
export function display(value: unknown, opts: ShowOptions = {}): void {
  const { data, metadata } = bundleOf(value, opts.raw, opts.metadata);
  getKernel().display.display(data, { metadata, ...(opts.displayId !== undefined ? { displayId: opts.displayId } : {}) });
}

/** Replaces the output of an earlier `display(..., { displayId })`. */
export function updateDisplay(displayId: string, value: unknown, opts: Omit<ShowOptions, "displayId"> = {}): void {
  const { data, metadata } = bundleOf(value, opts.raw, opts.metadata);
  getKernel().display.updateDisplay(displayId, data, { metadata });
}

/** Clears the cell's output; with `wait`, when the next output arrives. */
export function clearOutput(wait = false): void {
  getKernel().display.clearOutput(wait);
}

/** A value that displays as the given mime bundle. */
export class Rich {
  constructor(readonly bundle: MimeBundle, readonly metadata: JsonObject = {}) {}
  [MIMEBUNDLE](): { data: MimeBundle; metadata: JsonObject } {
    return { data: this.bundle, metadata: this.metadata };
  }
}

export const html = (text: string): Rich => new Rich({ "text/html": text, "text/plain": text });
export const markdown = (text: string): Rich => new Rich({ "text/markdown": text, "text/plain": text });
export const svg = (text: string): Rich => new Rich({ "image/svg+xml": text, "text/plain": "<svg image>" });
/** PNG bytes (or base64 text). */
export const png = (bytes: Uint8Array | string): Rich =>
  new Rich({ "image/png": typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("base64"), "text/plain": "<png image>" });
export const json = (value: unknown): Rich => new Rich({ "application/json": value as JsonObject, "text/plain": JSON.stringify(value) });
