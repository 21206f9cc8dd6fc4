// Entry of the offline embed bundle (widgets/dist/embed.js, built by widgets/scripts/build-embed.mjs): inlined
// once into every published page that has widgets or Plotly figures. It injects the widget stylesheets, then
// draws the page's figures and widget views from the JSON the page carries (render.ts). Nothing here fetches:
// the widget classes, Plotly, the CSS and its fonts are all inside this one script.
import "./styles.ts";
import { safesailWidgets } from "safesail-embed/views";
import { sanitizeHtml } from "../sanitize.ts";
import { PageManager } from "./manager.ts";
import { Plotly } from "./plotly.ts";
import { renderPage, type RenderResult } from "./render.ts";

export interface SafesailEmbed {
  Plotly: typeof Plotly;
  sanitizeHtml: typeof sanitizeHtml;
  PageManager: typeof PageManager;
  /** Resolves when every figure and widget view of the page has been drawn (or has failed, with its note). */
  ready: Promise<RenderResult>;
}

declare global {
  interface Window {
    safesailEmbed?: SafesailEmbed;
  }
}

function start(): Promise<RenderResult> {
  return renderPage(document, safesailWidgets).catch((err: unknown) => {
    console.error("safesail embed:", err);
    return { rendered: 0, failed: 1, errors: [String(err)] };
  });
}

const ready =
  document.readyState === "loading"
    ? new Promise<RenderResult>((resolve) => document.addEventListener("DOMContentLoaded", () => resolve(start()), { once: true }))
    : start();

window.safesailEmbed = { Plotly, sanitizeHtml, PageManager, ready };
