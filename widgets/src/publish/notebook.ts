// Reading a notebook for publishing: nbformat 4 JSON, checked field by field. Errors are FormatErrors whose
// message names the file and the field (`nb.ipynb: cells[3].outputs[0].output_type: expected one of ...`), so a
// user can fix the file without a stack trace. Only what the page renderer relies on is checked; unknown extra
// fields are ignored as nbformat allows.
import { readFile } from "node:fs/promises";
import { FormatError, NotFoundError } from "../../../src/errors.ts";

export const WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json";
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** A multiline string as nbformat stores it: one string, or a list of lines to join. */
export type MultilineString = string | string[];

export type MimeBundle = Record<string, unknown>;

export interface StreamOutput {
  output_type: "stream";
  name: string;
  text: MultilineString;
}
export interface ErrorOutput {
  output_type: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}
export interface DataOutput {
  output_type: "execute_result" | "display_data";
  data: MimeBundle;
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
}
export type Output = StreamOutput | ErrorOutput | DataOutput;

export interface CodeCell {
  cell_type: "code";
  id?: string;
  source: MultilineString;
  execution_count: number | null;
  outputs: Output[];
  metadata?: Record<string, unknown>;
}
export interface MarkdownCell {
  cell_type: "markdown";
  id?: string;
  source: MultilineString;
  attachments?: Record<string, MimeBundle>;
  metadata?: Record<string, unknown>;
}
export interface RawCell {
  cell_type: "raw";
  id?: string;
  source: MultilineString;
  metadata?: Record<string, unknown>;
}
export type Cell = CodeCell | MarkdownCell | RawCell;

/** One saved widget model (@jupyter-widgets/schema v2 state). */
export interface WidgetModelState {
  model_name: string;
  model_module: string;
  model_module_version: string;
  state: Record<string, unknown>;
  buffers?: { path: (string | number)[]; encoding: "base64" | "hex"; data: string }[];
}
export interface WidgetState {
  version_major: 2;
  version_minor: number;
  state: Record<string, WidgetModelState>;
}

export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: Record<string, unknown> & {
    widgets?: Record<string, unknown>;
    language_info?: { name?: string; [key: string]: unknown };
    kernelspec?: { language?: string; display_name?: string; [key: string]: unknown };
    title?: string;
  };
  cells: Cell[];
}

/** Joins a multiline string. */
export function text(value: MultilineString | undefined): string {
  return Array.isArray(value) ? value.join("") : (value ?? "");
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isMultiline = (v: unknown): v is MultilineString => typeof v === "string" || (Array.isArray(v) && v.every((x) => typeof x === "string"));

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** Checks `value` as an nbformat 4 notebook; `file` names it in errors. */
export function validateNotebook(value: unknown, file: string): Notebook {
  const fail = (field: string, message: string): never => {
    throw new FormatError(`${file}: ${field}: ${message}`, { file, field });
  };
  if (!isObject(value)) fail("(top level)", `expected a notebook object, got ${kind(value)}`);
  const nb = value as Record<string, unknown>;
  if (nb.nbformat !== 4) {
    fail("nbformat", nb.nbformat === undefined ? "missing (not a Jupyter notebook?)" : `only nbformat 4 is supported, got ${JSON.stringify(nb.nbformat)} (convert with: jupyter nbconvert --to notebook --nbformat 4)`);
  }
  if (nb.metadata !== undefined && !isObject(nb.metadata)) fail("metadata", `expected an object, got ${kind(nb.metadata)}`);
  if (!Array.isArray(nb.cells)) fail("cells", nb.cells === undefined ? "missing" : `expected an array, got ${kind(nb.cells)}`);
  (nb.cells as unknown[]).forEach((cell, i) => {
    const at = `cells[${i}]`;
    if (!isObject(cell)) return fail(at, `expected a cell object, got ${kind(cell)}`);
    if (!["code", "markdown", "raw"].includes(cell.cell_type as string)) fail(`${at}.cell_type`, `expected "code", "markdown" or "raw", got ${JSON.stringify(cell.cell_type)}`);
    if (!isMultiline(cell.source)) fail(`${at}.source`, `expected a string or a list of strings, got ${kind(cell.source)}`);
    if (cell.attachments !== undefined && !isObject(cell.attachments)) fail(`${at}.attachments`, `expected an object, got ${kind(cell.attachments)}`);
    if (cell.cell_type !== "code") return;
    if (cell.execution_count !== undefined && cell.execution_count !== null && !Number.isInteger(cell.execution_count)) {
      fail(`${at}.execution_count`, `expected an integer or null, got ${JSON.stringify(cell.execution_count)}`);
    }
    if (!Array.isArray(cell.outputs)) fail(`${at}.outputs`, cell.outputs === undefined ? "missing" : `expected an array, got ${kind(cell.outputs)}`);
    (cell.outputs as unknown[]).forEach((out, j) => validateOutput(out, `${at}.outputs[${j}]`, fail));
  });
  return value as unknown as Notebook;
}

function validateOutput(out: unknown, at: string, fail: (field: string, message: string) => never): void {
  if (!isObject(out)) return fail(at, `expected an output object, got ${kind(out)}`);
  switch (out.output_type) {
    case "stream":
      if (typeof out.name !== "string") fail(`${at}.name`, `expected "stdout" or "stderr", got ${JSON.stringify(out.name)}`);
      if (!isMultiline(out.text)) fail(`${at}.text`, `expected a string or a list of strings, got ${kind(out.text)}`);
      return;
    case "error":
      if (typeof out.ename !== "string") fail(`${at}.ename`, `expected a string, got ${kind(out.ename)}`);
      if (typeof out.evalue !== "string") fail(`${at}.evalue`, `expected a string, got ${kind(out.evalue)}`);
      if (out.traceback !== undefined && !(Array.isArray(out.traceback) && out.traceback.every((l) => typeof l === "string"))) {
        fail(`${at}.traceback`, "expected a list of strings");
      }
      return;
    case "execute_result":
    case "display_data":
      if (!isObject(out.data)) fail(`${at}.data`, out.data === undefined ? "missing" : `expected a mime bundle object, got ${kind(out.data)}`);
      for (const [mime, v] of Object.entries(out.data as Record<string, unknown>)) {
        const textual = mime.startsWith("text/") || mime === "image/svg+xml" || mime === "image/png" || mime === "image/jpeg" || mime === "image/gif";
        if (textual && !isMultiline(v)) fail(`${at}.data["${mime}"]`, `expected a string or a list of strings, got ${kind(v)}`);
        if ((mime === WIDGET_VIEW_MIME || mime === PLOTLY_MIME) && !isObject(v)) fail(`${at}.data["${mime}"]`, `expected an object, got ${kind(v)}`);
        if (mime === WIDGET_VIEW_MIME && typeof (v as Record<string, unknown>).model_id !== "string") fail(`${at}.data["${mime}"].model_id`, "expected a string");
      }
      return;
    default:
      fail(`${at}.output_type`, `expected "stream", "error", "execute_result" or "display_data", got ${JSON.stringify(out.output_type)}`);
  }
}

/**
 * The notebook's saved widget state, checked: null when there is none. A state this page cannot use (another
 * format version, a malformed model) is reported through `warn` and dropped, so the page still publishes with
 * text fallbacks in place of the widgets.
 */
export function widgetState(nb: Notebook, file: string, warn: (message: string) => void): WidgetState | null {
  const widgets = nb.metadata?.widgets;
  if (widgets === undefined) return null;
  const field = `metadata.widgets["${WIDGET_STATE_MIME}"]`;
  const raw = isObject(widgets) ? widgets[WIDGET_STATE_MIME] : undefined;
  if (!isObject(raw)) {
    warn(`${file}: ${field}: missing or not an object; widgets are shown as text`);
    return null;
  }
  if (raw.version_major !== 2) {
    warn(`${file}: ${field}.version_major: expected 2 (ipywidgets 8), got ${JSON.stringify(raw.version_major)}; widgets are shown as text`);
    return null;
  }
  if (!isObject(raw.state)) {
    warn(`${file}: ${field}.state: expected an object of models; widgets are shown as text`);
    return null;
  }
  const state: Record<string, WidgetModelState> = {};
  for (const [id, m] of Object.entries(raw.state)) {
    const bad = !isObject(m)
      ? "not an object"
      : typeof m.model_name !== "string" || typeof m.model_module !== "string" || typeof m.model_module_version !== "string"
        ? "model_name, model_module and model_module_version must be strings"
        : !isObject(m.state)
          ? "state must be an object"
          : m.buffers !== undefined && !(Array.isArray(m.buffers) && m.buffers.every((b) => isObject(b) && Array.isArray(b.path) && typeof b.data === "string" && (b.encoding === "base64" || b.encoding === "hex")))
            ? "buffers must be [{path, encoding: base64|hex, data}]"
            : null;
    if (bad) {
      warn(`${file}: ${field}.state["${id}"]: ${bad}; that model is left out`);
      continue;
    }
    state[id] = m as unknown as WidgetModelState;
  }
  return { version_major: 2, version_minor: typeof raw.version_minor === "number" ? raw.version_minor : 0, state };
}

/** Reads and checks one notebook file. */
export async function readNotebook(file: string): Promise<Notebook> {
  let body: string;
  try {
    body = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new NotFoundError(`${file}: no such notebook`, { file, cause: err });
    if (code === "EISDIR") throw new FormatError(`${file}: is a folder, not a notebook`, { file, cause: err });
    throw new FormatError(`${file}: cannot read: ${(err as Error).message}`, { file, cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON (${(err as Error).message})`, { file, cause: err });
  }
  return validateNotebook(value, file);
}
