// A mime renderer for application/vnd.plotly.v1+json. With it the lab draws every Plotly output from its JSON,
// trusted or not (the figure is data; nothing in it runs), after a reload as on first run: no reliance on the HTML
// fallback, which needs a trusted notebook and plotly.js inlined in an earlier output.
import type { IRenderMime } from "@jupyterlab/rendermime-interfaces";
import { Widget } from "@lumino/widgets";
import { loadPlotly, markRoot, type PlotlyApi } from "../views/index.ts";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

interface Figure {
  data?: unknown[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

class PlotlyRenderer extends Widget implements IRenderMime.IRenderer {
  private plotly: PlotlyApi | undefined;

  constructor() {
    super();
    markRoot(this.node, "PlotlyFigure");
    this.addClass("safesail-plotly");
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const figure = (model.data[PLOTLY_MIME] ?? {}) as Figure;
    this.plotly ??= await loadPlotly();
    const layout = { ...(figure.layout ?? {}) };
    await this.plotly.react(this.node, figure.data ?? [], layout, { displaylogo: false, responsive: true, ...(figure.config ?? {}) });
  }

  protected override onResize(): void {
    if (this.plotly && this.isVisible) this.plotly.Plots.resize(this.node);
  }

  protected override onAfterShow(): void {
    if (this.plotly) this.plotly.Plots.resize(this.node);
  }

  override dispose(): void {
    if (this.plotly) this.plotly.purge(this.node);
    super.dispose();
  }
}

const extension: IRenderMime.IExtension = {
  id: "safesail-widgets:plotly",
  description: "Renders Plotly figures (application/vnd.plotly.v1+json) offline",
  rendererFactory: {
    safe: true,
    mimeTypes: [PLOTLY_MIME],
    createRenderer: () => new PlotlyRenderer(),
  },
  // Ahead of text/html, so the figure JSON wins over the HTML fallback in the same output.
  rank: 0,
  dataType: "json",
};

export default extension;
