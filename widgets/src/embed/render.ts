// What the embed bundle does to a published page (widgets/src/publish/page.ts writes the markup it reads):
//
//   <script type="application/json" id="safesail-page">{"trusted": false}</script>
//   <script type="application/vnd.jupyter.widget-state+json">{"version_major": 2, "state": {...}}</script>
//   <div class="ss-widget"><div class="ss-fallback">text</div>
//     <script type="application/vnd.jupyter.widget-view+json">{"model_id": ...}</script></div>
//   <div class="ss-plotly"><div class="ss-fallback">text</div>
//     <script type="application/vnd.plotly.v1+json">{"data": [...], "layout": {...}}</script></div>
//
// Each figure and each widget view is drawn next to its script; once drawn, its text fallback is removed. When one
// fails, the fallback stays and a one-line note (text) says why; the others still render. The document element
// gets `data-safesail-rendered="N/M"` (rendered/total) when all are done, and `window.safesailEmbed.ready`
// resolves to the same counts.
import type { DOMWidgetView, WidgetModel } from "@jupyter-widgets/base";
import { PageManager } from "./manager.ts";
import { drawFigure, type PlotlyFigure } from "./plotly.ts";

export const WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json";
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

export interface RenderResult {
  rendered: number;
  failed: number;
  errors: string[];
}

interface PageConfig {
  trusted: boolean;
}

function readJson<T>(tag: Element): T {
  return JSON.parse(tag.textContent ?? "") as T;
}

function pageConfig(doc: Document): PageConfig {
  const tag = doc.getElementById("safesail-page");
  try {
    const cfg = tag ? readJson<Partial<PageConfig>>(tag) : {};
    return { trusted: cfg.trusted === true };
  } catch {
    return { trusted: false };
  }
}

/** Keeps the text fallback and adds a note saying why the rich view is missing. */
function failed(tag: Element, what: string, err: unknown, result: RenderResult): void {
  const message = `${what} could not be drawn: ${err instanceof Error ? err.message : String(err)}`;
  result.failed++;
  result.errors.push(message);
  const note = tag.ownerDocument.createElement("div");
  note.className = "ss-render-error";
  note.textContent = message;
  tag.parentElement?.insertBefore(note, tag);
}

function removeFallback(tag: Element): void {
  for (const el of Array.from(tag.parentElement?.children ?? [])) if (el.classList.contains("ss-fallback")) el.remove();
}

async function renderPlots(doc: Document, result: RenderResult): Promise<void> {
  for (const tag of Array.from(doc.querySelectorAll(`script[type="${PLOTLY_MIME}"]`))) {
    try {
      const fig = readJson<PlotlyFigure>(tag);
      const el = doc.createElement("div");
      tag.parentElement!.insertBefore(el, tag);
      await drawFigure(el, fig);
      removeFallback(tag);
      result.rendered++;
    } catch (err) {
      failed(tag, "this figure", err, result);
    }
  }
}

async function renderWidgets(doc: Document, config: PageConfig, safesailWidgets: Record<string, unknown>, result: RenderResult): Promise<void> {
  const views = Array.from(doc.querySelectorAll(`script[type="${WIDGET_VIEW_MIME}"]`));
  if (views.length === 0) return;
  const stateTag = doc.querySelector(`script[type="${WIDGET_STATE_MIME}"]`);
  if (!stateTag) {
    for (const tag of views) failed(tag, "this widget", new Error("the notebook has no saved widget state"), result);
    return;
  }
  let models: WidgetModel[];
  const manager = new PageManager({ trusted: config.trusted, safesailWidgets });
  try {
    models = await manager.set_state(readJson(stateTag));
  } catch (err) {
    for (const tag of views) failed(tag, "this widget", err, result);
    return;
  }
  // A page published with an in-page model (inpage/runtime.js, loaded before this bundle) connects the widgets it
  // can run before their views are drawn, so that the views come up with their controls enabled.
  const inPage = (window as { safesailInPage?: { attach(manager: unknown, models: WidgetModel[]): number } }).safesailInPage;
  if (inPage) {
    try {
      inPage.attach(manager, models);
    } catch (err) {
      console.error("safesail in-page runtime:", err);
    }
  }
  const byId = new Map(models.map((m) => [m.model_id, m]));
  for (const tag of views) {
    try {
      const { model_id } = readJson<{ model_id: string }>(tag);
      const model = byId.get(model_id);
      if (!model) throw new Error(`model ${model_id} is not in the saved widget state`);
      const host = doc.createElement("div");
      host.className = "widget-subarea";
      tag.parentElement!.insertBefore(host, tag);
      const view = await manager.create_view<DOMWidgetView>(model as never);
      await manager.display_view(view, host);
      removeFallback(tag);
      result.rendered++;
    } catch (err) {
      failed(tag, "this widget", err, result);
    }
  }
}

/** Draws every figure and widget view of `doc`. */
export async function renderPage(doc: Document, safesailWidgets: Record<string, unknown>): Promise<RenderResult> {
  const result: RenderResult = { rendered: 0, failed: 0, errors: [] };
  const config = pageConfig(doc);
  await renderPlots(doc, result);
  await renderWidgets(doc, config, safesailWidgets, result);
  doc.documentElement.setAttribute("data-safesail-rendered", `${result.rendered}/${result.rendered + result.failed}`);
  return result;
}
