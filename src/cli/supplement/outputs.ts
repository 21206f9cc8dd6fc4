// What an executed notebook computed, as text that can be compared between two runs: every output of every code
// cell (streams, results, displays, errors) and the saved widget state, with what legitimately changes from run to
// run masked out. `safesail supplement compare A B` and tests/supplement.test.ts run the same check.
//
// Masked (normaliseText): durations, clock times and rates ("12.3 s", "41 ms", "00:18", "8.1 tok/s"), values of timing keys
// ("seconds: 12.3", "renderMs": 41), ISO timestamps, temporary paths (/tmp/...), UUIDs, ANSI colour codes.
// Widget model ids (random per kernel session) become W0, W1, ... in the order the outputs show them (widgetNames). Binary
// widget buffers and images are compared by sha256. A Plotly figure is compared by its JSON (the data), not by
// its HTML fallback (which inlines plotly.js and random element ids). Every other number is compared exactly.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FormatError } from "../../errors.ts";
import { PLOTLY_MIME, text, validateNotebook, WIDGET_STATE_MIME, WIDGET_VIEW_MIME, type Notebook } from "../../../widgets/src/publish/notebook.ts";
import { sha256Hex } from "../../util/hash.ts";

/** One comparable piece of a notebook: an output of a code cell, or one saved widget model. */
export interface OutputRecord {
  /** Where it is: "cell 3, output 1 (text/plain)" or "widget W2 (IntSliderModel)". */
  where: string;
  /** The normalised text. */
  text: string;
}

// ESC [ ... final byte, ESC ] ... BEL/ST, other ESC pairs.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;
const NUMBER = String.raw`-?\d+(?:[.,]\d+)*(?:e[+-]?\d+)?`;
const ISO_TIME = /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const TMP_PATH = /(?:\/tmp|\/var\/folders)\/[^\s"'`<>)\]}]+/g;
/** Elapsed clock times of progress displays: "00:18", "1:02:03". */
const CLOCK = /(?<![\d:.])\d{1,3}:\d{2}(?::\d{2})?(?![\d:])/g;
const RATE = new RegExp(String.raw`${NUMBER}\s?(?:tok(?:en)?s?/s|it/s|rows?/s|docs?/s|steps?/s|/s)(?![A-Za-z])`, "g");
const DURATION = new RegExp(String.raw`(?<![\w.])${NUMBER}\s?(?:ms|µs|us|ns|s|sec|secs|seconds?|min|mins|minutes?|h|hours?)(?![\w/])`, "g");
/** Keys whose value is a duration or a rate: `seconds: 12.3`, `"renderMs": 41`, `elapsed=3.2`, `tokPerSec: 8`. */
const TIMING_KEY = new RegExp(
  String.raw`\b((?:[A-Za-z_]*(?:[Ss]econds|[Ss]ecs|Ms|_ms|[Ee]lapsed|[Dd]uration|[Ww]all|[Pp]erSec(?:ond)?|_per_s|[Tt]imeMs|[Tt]iming))|ms|secs?|seconds|elapsed|wall_s)(["']?\s*[:=]\s*["']?)${NUMBER}`,
  "g",
);

/** `s` with what changes between identical runs masked (see the file comment). */
export function normaliseText(s: string): string {
  return s
    .replace(ANSI, "")
    .replace(ISO_TIME, "<time>")
    .replace(UUID, "<uuid>")
    .replace(TMP_PATH, "<tmp>")
    .replace(TIMING_KEY, "$1$2<t>")
    .replace(RATE, "<rate>")
    .replace(CLOCK, "<t>")
    .replace(DURATION, "<t>");
}

/** The numbers in a text, as written (after masking: timings are not among them). */
export function numbersIn(s: string): string[] {
  return normaliseText(s).match(/-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/g) ?? [];
}

/** JSON with sorted keys, every string normalised, widget ids renamed, long base64 replaced by its hash. */
function canonical(value: unknown, ids: Map<string, string>): unknown {
  if (typeof value === "string") return normaliseText(renameIds(value, ids));
  if (Array.isArray(value)) return value.map((v) => canonical(v, ids));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = canonical((value as Record<string, unknown>)[k], ids);
    return out;
  }
  return value;
}

function renameIds(s: string, ids: Map<string, string>): string {
  if (ids.size === 0) return s;
  let out = s;
  for (const [id, name] of ids) if (out.includes(id)) out = out.split(id).join(name);
  return out;
}

const BINARY_MIMES = /^(image\/(?!svg)|application\/(?:pdf|octet-stream))/;

type SavedModel = { model_name?: string; state?: unknown; buffers?: { path: unknown; data: string }[] };

/** The `IPY_MODEL_<id>` references in a widget state, in key order (depth first). */
function references(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") {
    for (const m of value.matchAll(/IPY_MODEL_([\w-]+)/g)) out.push(m[1]!);
  } else if (Array.isArray(value)) {
    for (const v of value) references(v, out);
  } else if (value && typeof value === "object") {
    for (const k of Object.keys(value).sort()) references((value as Record<string, unknown>)[k], out);
  }
  return out;
}

/**
 * Stable names for the widget models (their ids are random per session, and nbformat writes the saved state
 * sorted by id): W0, W1, ... in the order the outputs show them, each followed by the models its state refers to
 * (layouts, styles, children), depth first; models no output reaches come last, ordered by their content.
 */
function widgetNames(nb: Notebook, models: Record<string, SavedModel>): Map<string, string> {
  const ids = new Map<string, string>();
  const visit = (id: string) => {
    if (ids.has(id)) return;
    ids.set(id, `W${ids.size}`);
    for (const ref of references(models[id]?.state)) visit(ref);
  };
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    for (const o of cell.outputs) {
      const view = o.output_type === "display_data" || o.output_type === "execute_result" ? (o.data[WIDGET_VIEW_MIME] as { model_id?: unknown } | undefined) : undefined;
      if (typeof view?.model_id === "string") visit(view.model_id);
    }
  }
  const rest = Object.keys(models).filter((id) => !ids.has(id));
  const key = (id: string) => JSON.stringify({ n: models[id]!.model_name, s: models[id]!.state }).replace(/IPY_MODEL_[\w-]+/g, "IPY_MODEL_?");
  rest.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  for (const id of rest) visit(id);
  return ids;
}

/** The comparable records of one executed notebook. */
export function notebookOutputs(nb: Notebook): OutputRecord[] {
  const records: OutputRecord[] = [];
  const saved = (nb.metadata.widgets as Record<string, unknown> | undefined)?.[WIDGET_STATE_MIME] as { state?: Record<string, SavedModel> } | undefined;
  const models = saved?.state ?? {};
  const ids = widgetNames(nb, models);
  nb.cells.forEach((cell, c) => {
    if (cell.cell_type !== "code") return;
    cell.outputs.forEach((o, i) => {
      const at = `cell ${c}, output ${i}`;
      if (o.output_type === "stream") records.push({ where: `${at} (${o.name})`, text: normaliseText(text(o.text)) });
      else if (o.output_type === "error") records.push({ where: `${at} (error)`, text: normaliseText(`${o.ename}: ${o.evalue}`) });
      else {
        const data = o.data;
        for (const mime of Object.keys(data).sort()) {
          // The HTML fallback of a Plotly figure or a widget view is presentation (inlined plotly.js, element ids).
          if (mime === "text/html" && (PLOTLY_MIME in data || WIDGET_VIEW_MIME in data)) continue;
          const value = data[mime];
          let t: string;
          if (BINARY_MIMES.test(mime)) t = `sha256 ${sha256Hex(typeof value === "string" ? value.replace(/\s+/g, "") : JSON.stringify(value))}`;
          else if (typeof value === "string" || Array.isArray(value)) t = normaliseText(renameIds(text(value as string | string[]), ids));
          else t = JSON.stringify(canonical(value, ids), null, 1);
          records.push({ where: `${at} (${mime})`, text: t });
        }
      }
    });
  });
  const named = Object.keys(models).sort((a, b) => Number(ids.get(a)!.slice(1)) - Number(ids.get(b)!.slice(1)));
  for (const id of named) {
    const model = models[id]!;
    const buffers = (model.buffers ?? []).map((b) => ({ path: b.path, sha256: sha256Hex(Buffer.from(b.data, "base64")) }));
    records.push({ where: `widget ${ids.get(id)} (${model.model_name ?? "?"})`, text: JSON.stringify(canonical({ state: model.state, buffers }, ids), null, 1) });
  }
  return records;
}

/** Reads an executed notebook and returns its comparable records. */
export function notebookOutputsOf(file: string): OutputRecord[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new FormatError(`${file}: not a JSON notebook (${(err as Error).message})`, { file });
  }
  return notebookOutputs(validateNotebook(json, file));
}

export interface OutputDifference {
  notebook: string;
  where: string;
  /** The first differing line on each side (null: the record is missing on that side). */
  a: string | null;
  b: string | null;
}

function firstDifference(a: string, b: string): [string, string] {
  const la = a.split("\n");
  const lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return [clip(la[i] ?? "(end)"), clip(lb[i] ?? "(end)")];
  }
  return [clip(a), clip(b)];
}

const clip = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

/** The differences between two runs of one notebook (empty when they computed the same). */
export function compareOutputs(notebook: string, a: OutputRecord[], b: OutputRecord[]): OutputDifference[] {
  const diffs: OutputDifference[] = [];
  const mb = new Map(b.map((r) => [r.where, r.text]));
  const seen = new Set<string>();
  for (const r of a) {
    seen.add(r.where);
    const other = mb.get(r.where);
    if (other === undefined) diffs.push({ notebook, where: r.where, a: clip(r.text.split("\n")[0]!), b: null });
    else if (other !== r.text) {
      const [x, y] = firstDifference(r.text, other);
      diffs.push({ notebook, where: r.where, a: x, b: y });
    }
  }
  for (const r of b) if (!seen.has(r.where)) diffs.push({ notebook, where: r.where, a: null, b: clip(r.text.split("\n")[0]!) });
  return diffs;
}

export interface SupplementComparison {
  /** Notebooks found in both supplements and compared. */
  compared: string[];
  /** Notebooks in only one of them. */
  onlyIn: { a: string[]; b: string[] };
  differences: OutputDifference[];
  /** Records compared, all notebooks together. */
  records: number;
}

/** The executed notebooks of a supplement folder (its notebooks/ subfolder), by file name. */
export function executedNotebooks(dir: string): Map<string, string> {
  const folder = join(dir, "notebooks");
  const manifestFile = join(dir, "manifest.json");
  if (!existsSync(manifestFile)) throw new FormatError(`${dir}: not a supplement (no manifest.json)`, { file: manifestFile });
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { notebooks?: { executed?: string | null }[] };
  const out = new Map<string, string>();
  for (const n of manifest.notebooks ?? []) {
    if (!n.executed) continue;
    const name = n.executed.split("/").pop()!;
    out.set(name, join(folder, name));
  }
  return out;
}

/** Compares what the notebooks of two supplement folders computed (see the file comment). */
export function compareSupplements(dirA: string, dirB: string): SupplementComparison {
  const a = executedNotebooks(dirA);
  const b = executedNotebooks(dirB);
  const compared = [...a.keys()].filter((n) => b.has(n));
  const differences: OutputDifference[] = [];
  let records = 0;
  for (const name of compared) {
    const ra = notebookOutputsOf(a.get(name)!);
    const rb = notebookOutputsOf(b.get(name)!);
    records += ra.length;
    differences.push(...compareOutputs(name, ra, rb));
  }
  return { compared, onlyIn: { a: [...a.keys()].filter((n) => !b.has(n)), b: [...b.keys()].filter((n) => !a.has(n)) }, differences, records };
}
