// MetricPlot: a Plotly figure of stage-1 metrics with layer, site and k controls. A control change is written to the
// model and sent to the kernel, which recomputes and answers with new traces (MetricPlotState in protocol.ts).
import { DOMWidgetModel, DOMWidgetView, type ISerializers } from "@jupyter-widgets/base";
import {
  METRIC_PLOT_MODEL,
  METRIC_PLOT_VIEW,
  type MetricPlotState,
  type PlotTrace,
} from "../protocol.ts";
import { safesailNames } from "./model-names.ts";
import { toFloat32 } from "./buffers.ts";
import { el, markRoot, versionProblem } from "./dom.ts";
import { loadPlotly, plotlyText, type PlotlyApi } from "./plotly.ts";

function deserializeTraces(value: unknown): PlotTrace[] {
  if (!Array.isArray(value)) return [];
  return value.map((t: Record<string, unknown>, i) => ({
    ...(t as unknown as PlotTrace),
    x: toFloat32(t.x, `traces[${i}].x`),
    y: toFloat32(t.y, `traces[${i}].y`),
  }));
}

export class MetricPlotModel extends DOMWidgetModel {
  override defaults(): Backbone.ObjectHash {
    const state: MetricPlotState = {
      title: "",
      traces: [],
      plot_layout: {},
      layer: 0,
      layers: [],
      site: "",
      sites: [],
      k: 0,
      ks: [],
      status: "ready",
      message: "",
      revision: 0,
    };
    return {
      ...super.defaults(),
      ...safesailNames(METRIC_PLOT_MODEL, METRIC_PLOT_VIEW),
      ...state,
    };
  }

  static override serializers: ISerializers = {
    ...DOMWidgetModel.serializers,
    // The front end never writes traces; serialising keeps typed arrays (sent as buffers) as they are.
    traces: { deserialize: deserializeTraces },
  };
}

type Control = "layer" | "site" | "k";

export class MetricPlotView extends DOMWidgetView {
  private plotEl!: HTMLDivElement;
  private statusEl!: HTMLDivElement;
  private selects = new Map<Control, HTMLSelectElement>();
  private plotly: PlotlyApi | undefined;
  private drawing: Promise<void> = Promise.resolve();

  override render(): void {
    markRoot(this.el, "MetricPlot");
    this.el.classList.add("safesail-metric-plot");
    const problem = versionProblem(this.model.get("_model_module_version"));
    if (problem) {
      this.el.appendChild(el("div", { className: "safesail-error", text: problem }));
      return;
    }
    const title = el("div", { className: "safesail-title", text: String(this.model.get("title") ?? "") });
    const controls = el("div", { className: "safesail-controls" });
    for (const [name, label] of [["layer", "layer"], ["site", "site"], ["k", "k"]] as [Control, string][]) {
      const select = el("select", { className: `safesail-control-${name}` });
      select.setAttribute("aria-label", label);
      select.addEventListener("change", () => this.onControl(name, select.value));
      this.selects.set(name, select);
      controls.appendChild(el("label", { text: `${label} ` }, [select]));
    }
    this.statusEl = el("div", { className: "safesail-status" });
    this.statusEl.setAttribute("role", "status");
    this.plotEl = el("div", { className: "safesail-plot" });
    this.el.append(title, controls, this.statusEl, this.plotEl);

    this.syncControls();
    this.syncStatus();
    this.listenTo(this.model, "change:layers change:sites change:ks change:layer change:site change:k", () => this.syncControls());
    this.listenTo(this.model, "change:status change:message", () => this.syncStatus());
    this.listenTo(this.model, "change:title", () => {
      title.textContent = String(this.model.get("title") ?? "");
    });
    this.listenTo(this.model, "change:traces change:plot_layout change:revision", () => this.scheduleDraw());
    this.scheduleDraw();
  }

  private onControl(name: Control, raw: string): void {
    const value = name === "site" ? raw : Number(raw);
    this.model.set(name, value);
    this.model.save_changes();
    // Until the kernel answers, say so (the kernel also sets status "computing").
    this.statusEl.textContent = "computing…";
    this.el.dataset.status = "computing";
  }

  private syncControls(): void {
    for (const [name, options] of [["layer", "layers"], ["site", "sites"], ["k", "ks"]] as [Control, string][]) {
      const select = this.selects.get(name)!;
      const values = (this.model.get(options) as (string | number)[]) ?? [];
      const current = String(this.model.get(name));
      const existing = [...select.options].map((o) => o.value);
      if (existing.length !== values.length || existing.some((v, i) => v !== String(values[i]))) {
        select.replaceChildren(...values.map((v) => {
          const option = document.createElement("option");
          option.value = String(v);
          option.textContent = String(v);
          return option;
        }));
      }
      select.value = current;
      select.disabled = values.length <= 1;
    }
  }

  private syncStatus(): void {
    const status = String(this.model.get("status") ?? "ready");
    const message = String(this.model.get("message") ?? "");
    this.el.dataset.status = status;
    this.statusEl.className = `safesail-status safesail-status-${status}`;
    this.statusEl.textContent = status === "computing" ? "computing…" : message;
  }

  private scheduleDraw(): void {
    // Draws run one after another, so a slow first load of plotly.js cannot paint an older figure last.
    this.drawing = this.drawing.then(() => this.draw()).catch((err) => {
      this.statusEl.textContent = `could not draw the figure: ${err instanceof Error ? err.message : String(err)}`;
      this.el.dataset.status = "error";
    });
  }

  private async draw(): Promise<void> {
    const traces = (this.model.get("traces") as PlotTrace[]) ?? [];
    const layout = (this.model.get("plot_layout") as Record<string, unknown>) ?? {};
    const revision = Number(this.model.get("revision") ?? 0);
    this.plotly ??= await loadPlotly();
    const data = traces.map((t) => ({
      ...t,
      name: plotlyText(String(t.name ?? "")),
      text: t.text?.map((s) => plotlyText(String(s))),
      x: Array.from(t.x),
      y: Array.from(t.y),
    }));
    const started = performance.now();
    await this.plotly.react(this.plotEl, data, { margin: { t: 30, r: 10, b: 40, l: 50 }, height: 360, ...layout, datarevision: revision }, {
      displaylogo: false,
      responsive: true,
    });
    // What tests and the bench read: which kernel revision is on screen, and how long Plotly took to draw it.
    this.el.dataset.revision = String(revision);
    this.el.dataset.renderMs = (performance.now() - started).toFixed(1);
  }

  override processLuminoMessage(msg: { type: string }): void {
    super.processLuminoMessage(msg as never);
    if ((msg.type === "resize" || msg.type === "after-show") && this.plotly && this.plotEl?.isConnected) {
      this.plotly.Plots.resize(this.plotEl);
    }
  }

  override remove(): this {
    if (this.plotly && this.plotEl) this.plotly.purge(this.plotEl);
    return super.remove();
  }
}
