// The notebook implementation of src/progress.ts's Progress: a live display in the cell's output.
//
//   start(label, total)  display_data with a fresh display id (an HTML <progress> bar plus text, and text/plain)
//   update(done, detail) update_display_data for that id, at most every `minIntervalMs` (100 ms); an update that
//                        comes sooner is held and sent by a timer (or by the next update / finish)
//   finish(detail)       a final update_display_data, always sent
//
// Labels and details are untrusted text (prompts, file names, model output): they are HTML-escaped, and numbers
// are formatted from numbers, so nothing a caller passes becomes markup.
import { terminalProgress, type Progress } from "../../src/progress.ts";
import type { DisplayApi, MimeBundle } from "./types.ts";
import { currentKernel } from "./widgets/kernel.ts";

export interface NotebookProgressOptions {
  /** Where the display goes; default: the running kernel's display API. */
  display?: DisplayApi;
  /** Least time between two update_display_data messages (default 100 ms). */
  minIntervalMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

export interface ProgressView {
  label: string;
  total: number;
  done: number;
  detail: string;
  elapsedMs: number;
  finished: boolean;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function count(n: number): string {
  if (!Number.isFinite(n)) return "?";
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

/** The mime bundle for one state of a progress display. */
export function progressBundle(v: ProgressView): MimeBundle {
  const total = Number.isFinite(v.total) && v.total > 0 ? v.total : 0;
  const done = Number.isFinite(v.done) ? Math.max(0, v.done) : 0;
  const frac = total > 0 ? Math.min(1, done / total) : v.finished ? 1 : 0;
  const pct = `${Math.floor(frac * 100)}%`;
  const secs = v.elapsedMs / 1000;
  const rate = secs > 0 ? `${(done / secs).toFixed(1)}/s` : "";
  const counts = `${count(done)}/${total > 0 ? count(total) : "?"}`;
  // "done" once: not when the finish detail says it already ("done at step 40/40", as toy training finishes).
  const saysDone = /^done\b/i.test(v.detail.trim());
  const status = [total > 0 || v.finished ? pct : "", counts, rate, duration(v.elapsedMs), v.finished && !saysDone ? "done" : ""].filter(Boolean).join(" · ");

  const width = 30;
  const filled = Math.round(frac * width);
  const bar = total > 0 || v.finished ? `[${"#".repeat(filled)}${"-".repeat(width - filled)}]` : "[...]";
  const plain = [v.label, bar, status, v.detail].filter(Boolean).join(" ");

  // <progress> without a value is the indeterminate bar (unknown total, still running).
  const progress = total > 0 || v.finished
    ? `<progress value="${frac.toFixed(4)}" max="1" style="width:20em"></progress>`
    : `<progress style="width:20em"></progress>`;
  const html =
    `<div class="safesail-progress" style="display:flex;gap:0.6em;align-items:center;font-family:var(--jp-code-font-family,monospace)">` +
    (v.label ? `<span class="safesail-progress-label">${escapeHtml(v.label)}</span>` : "") +
    progress +
    `<span class="safesail-progress-status">${escapeHtml(status)}</span>` +
    (v.detail ? `<span class="safesail-progress-detail">${escapeHtml(v.detail)}</span>` : "") +
    `</div>`;
  return { "text/html": html, "text/plain": plain };
}

let displayCounter = 0;

/** A Progress that draws a live display in the running notebook cell. */
export function notebookProgress(opts: NotebookProgressOptions = {}): Progress {
  const display = opts.display ?? currentKernel()?.display;
  if (!display) throw new Error("notebookProgress: not running in a kernel (pass `display`, or use autoProgress())");
  const interval = opts.minIntervalMs ?? 100;
  const now = opts.now ?? Date.now;

  let displayId: string | null = null;
  let view: ProgressView = { label: "", total: 0, done: 0, detail: "", elapsedMs: 0, finished: false };
  let started = 0;
  let lastSent = 0;
  let dirty = false;
  let timer: NodeJS.Timeout | null = null;

  const clearTimer = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const send = () => {
    clearTimer();
    if (!displayId) return;
    view.elapsedMs = now() - started;
    display.updateDisplay(displayId, progressBundle(view));
    lastSent = now();
    dirty = false;
  };
  const start = (label: string, total: number) => {
    if (displayId && !view.finished) send(); // the previous task's last state
    clearTimer();
    displayId = `safesail-progress-${process.pid}-${++displayCounter}-${Date.now().toString(36)}`;
    started = now();
    view = { label: String(label ?? ""), total: Number(total) || 0, done: 0, detail: "", elapsedMs: 0, finished: false };
    display.display(progressBundle(view), { displayId });
    lastSent = now();
    dirty = false;
  };

  return {
    start,
    update(done, detail) {
      if (!displayId) start("", 0);
      view.done = Number(done);
      if (detail !== undefined) view.detail = String(detail);
      dirty = true;
      const wait = lastSent + interval - now();
      if (wait <= 0) send();
      else if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          if (dirty) send();
        }, wait);
        timer.unref?.();
      }
    },
    finish(detail) {
      if (!displayId) start("", 0);
      if (detail !== undefined) view.detail = String(detail);
      view.finished = true;
      send();
    },
  };
}

/** The notebook display inside a kernel, the terminal bar elsewhere. */
export function autoProgress(): Progress {
  return currentKernel() ? notebookProgress() : terminalProgress();
}
