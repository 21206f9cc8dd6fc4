// The one way views load Plotly: a dynamic import, so the lab fetches plotly.js (about 4.6 MB) only when a figure
// is first drawn, and the offline embed bundle (esbuild, no code splitting) inlines it once.
export interface PlotlyApi {
  react(el: HTMLElement, data: unknown[], layout?: Record<string, unknown>, config?: Record<string, unknown>): Promise<unknown>;
  purge(el: HTMLElement): void;
  Plots: { resize(el: HTMLElement): void };
}

let plotly: Promise<PlotlyApi> | undefined;

export function loadPlotly(): Promise<PlotlyApi> {
  plotly ??= import(/* webpackChunkName: "plotly" */ "plotly.js-dist-min").then((m: { default?: PlotlyApi } & Partial<PlotlyApi>) => (m.default ?? m) as PlotlyApi);
  return plotly;
}

/**
 * Plotly reads a small HTML subset in text fields (<b>, <a href>, <br>) and decodes entities. Untrusted text
 * (token strings, explanations) is escaped first, so it shows literally: `<img src=x onerror=...>` is drawn as
 * those characters, never parsed as a tag.
 */
export function plotlyText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
