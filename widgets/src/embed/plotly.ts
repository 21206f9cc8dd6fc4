// The one Plotly of a published page: plotly.js-dist-min, bundled once into dist/embed.js and shared by the
// page's plotly outputs, the Output widget's plotly renderer and the safesail views (which import
// "plotly.js-dist-min" themselves: the bundle resolves every such import to this same single copy). It is also
// set as `window.Plotly` for code that looks for the global.
import PlotlyLib from "plotly.js-dist-min";

/** A Plotly figure as `application/vnd.plotly.v1+json` carries it. */
export interface PlotlyFigure {
  data: unknown[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
  frames?: unknown[];
}

/** The part of Plotly's API the page uses. */
export interface PlotlyApi {
  version: string;
  newPlot(el: HTMLElement, data: unknown[], layout?: object, config?: object): Promise<HTMLElement>;
  react(el: HTMLElement, data: unknown[], layout?: object, config?: object): Promise<HTMLElement>;
  addFrames(el: HTMLElement, frames: unknown[]): Promise<unknown>;
  purge(el: HTMLElement): void;
  Plots: { resize(el: HTMLElement): void };
}

export const Plotly = PlotlyLib as unknown as PlotlyApi;
if (typeof window !== "undefined") (window as unknown as { Plotly?: unknown }).Plotly ??= Plotly;

/** Figure height in pixels: the layout's, else 420 (as the kernel's HTML fallback sizes it). */
export function figureHeight(fig: PlotlyFigure): number {
  const h = fig.layout?.height;
  return typeof h === "number" && Number.isFinite(h) && h > 0 ? Math.round(h) : 420;
}

/** Draws `fig` into `el` (sized to the figure's height, full width). */
export async function drawFigure(el: HTMLElement, fig: PlotlyFigure): Promise<void> {
  if (!fig || typeof fig !== "object" || !Array.isArray(fig.data)) throw new Error("not a Plotly figure: no data array");
  el.classList.add("safesail-plot");
  el.style.width = "100%";
  el.style.height = `${figureHeight(fig)}px`;
  // No "Produced with Plotly" link and no cloud export: the page makes no request, even on click.
  const config = { responsive: true, ...(fig.config ?? {}), displaylogo: false, showLink: false, showSendToCloud: false, showEditInChartStudio: false };
  await Plotly.newPlot(el, fig.data, fig.layout ?? {}, config);
  if (Array.isArray(fig.frames) && fig.frames.length > 0) await Plotly.addFrames(el, fig.frames);
}
