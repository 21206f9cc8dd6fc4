// A notebook that exercises every part of a published page, with hostile content where it matters: for the
// publish tests (widgets/tests/publish*.test.ts) and the bench (bench/publish.ts). Built in memory; nothing here
// runs a kernel. The Plotly outputs are the kernel's own bundles (kernel/src/plot.ts plotBundle), each with the
// HTML fallback that inlines plotly.js, so a test can show the page carries Plotly once however many there are.
import { plotBundle } from "../../../kernel/src/plot.ts";
import { METRIC_PLOT_MODEL, METRIC_PLOT_VIEW, MODULE_NAME, MODULE_VERSION } from "../protocol.ts";
import { WIDGET_STATE_MIME, WIDGET_VIEW_MIME, type Notebook, type WidgetModelState } from "./notebook.ts";

/** Strings a test looks for (or must not find) in the published page. */
export const HOSTILE = {
  /** In Markdown: must not run; the flag must stay unset. */
  markdownImg: `<img src=x onerror="window.__ssMarkdown=1;alert('md')">`,
  markdownScript: `<script>window.__ssMarkdownScript=1</script>`,
  /** In a stdout stream: must show as text. */
  stream: `<b>not bold</b> </pre><script>window.__ssStream=1</script>`,
  /** In an execute_result's text/plain: must show as text. */
  plain: `<img src=x onerror="window.__ssPlain=1">`,
  /** In a text/html output: kept only when the notebook is trusted. */
  html: `<b id="kept">bold html</b><script>window.__ssHtml=1</script><img src=x onerror="window.__ssHtmlImg=1">`,
  /** In the HTML widget's value: must never run (the page sanitises widget HTML whatever the trust). */
  widgetHtml: `<img src=x onerror="window.__ssWidget=1;alert('widget')"><span class="ss-fixture-html">safe widget text</span>`,
  /** In an Output widget's captured HTML output: sanitised unless trusted. */
  outputWidgetHtml: `<i class="ss-fixture-output">captured output</i><img src=x onerror="window.__ssOutput=1">`,
  /** A MetricPlot trace name (Plotly reads a little HTML in text): the view shows it as text. */
  plotTrace: `<img src=x onerror="window.__ssPlot=1">L0,t`,
  /** In code cell source: must show as text. */
  source: `const s = "</script><script>window.__ssSource=1</script>";`,
};

/** Model ids of the fixture's widgets. */
export const IDS = {
  slider: "a0000000000000000000000000000001",
  hbox: "a0000000000000000000000000000002",
  label: "a0000000000000000000000000000003",
  button: "a0000000000000000000000000000004",
  html: "a0000000000000000000000000000005",
  output: "a0000000000000000000000000000006",
  unsupported: "a0000000000000000000000000000007",
  metricPlot: "a0000000000000000000000000000008",
  missing: "a00000000000000000000000000000ff",
};

const CONTROLS = "@jupyter-widgets/controls";
const BASE = "@jupyter-widgets/base";

function model(module: string, version: string, name: string, view: string | null, viewModule: string, state: Record<string, unknown>): WidgetModelState {
  return {
    model_module: module,
    model_module_version: version,
    model_name: name,
    state: {
      _model_module: module,
      _model_module_version: version,
      _model_name: name,
      _view_module: viewModule,
      _view_module_version: version,
      _view_name: view,
      _view_count: null,
      ...state,
    },
  };
}

/** The fixture's saved widget state (@jupyter-widgets/schema v2), as `safesail notebooks run` writes it. */
export function fixtureWidgetState(): Record<string, WidgetModelState> {
  const state: Record<string, WidgetModelState> = {};
  let n = 0;
  const layout = (): string => {
    const id = `b${String(++n).padStart(31, "0")}`;
    state[id] = model(BASE, "2.0.0", "LayoutModel", "LayoutView", BASE, {});
    return `IPY_MODEL_${id}`;
  };
  const style = (name: string, extra: Record<string, unknown> = {}): string => {
    const id = `c${String(++n).padStart(31, "0")}`;
    state[id] = model(CONTROLS, "2.0.0", name, "StyleView", BASE, { description_width: "", ...extra });
    return `IPY_MODEL_${id}`;
  };
  const dom = { _dom_classes: [], tabbable: null, tooltip: null, description_allow_html: false, disabled: false };
  state[IDS.slider] = model(CONTROLS, "2.0.0", "IntSliderModel", "IntSliderView", CONTROLS, {
    ...dom, value: 7, min: 0, max: 10, step: 1, description: "k", orientation: "horizontal", readout: true, readout_format: "d",
    continuous_update: true, behavior: "drag-tap", layout: layout(), style: style("SliderStyleModel", { handle_color: null }),
  });
  state[IDS.label] = model(CONTROLS, "2.0.0", "LabelModel", "LabelView", CONTROLS, {
    ...dom, value: "k² = 49", description: "", placeholder: "", layout: layout(), style: style("LabelStyleModel", { font_size: "", text_color: "" }),
  });
  state[IDS.button] = model(CONTROLS, "2.0.0", "ButtonModel", "ButtonView", CONTROLS, {
    ...dom, description: "run", icon: "check", button_style: "", layout: layout(), style: style("ButtonStyleModel", { button_color: null, font_weight: "" }),
  });
  state[IDS.hbox] = model(CONTROLS, "2.0.0", "HBoxModel", "HBoxView", CONTROLS, {
    _dom_classes: [], box_style: "", tabbable: null, tooltip: null, children: [`IPY_MODEL_${IDS.label}`, `IPY_MODEL_${IDS.button}`], layout: layout(),
  });
  state[IDS.html] = model(CONTROLS, "2.0.0", "HTMLModel", "HTMLView", CONTROLS, {
    ...dom, value: HOSTILE.widgetHtml, description: "", placeholder: "", layout: layout(), style: style("HTMLStyleModel", { background: null, font_size: null, text_color: null }),
  });
  state[IDS.output] = model("@jupyter-widgets/output", "1.0.0", "OutputModel", "OutputView", "@jupyter-widgets/output", {
    _dom_classes: [], msg_id: "", layout: layout(),
    outputs: [
      { output_type: "stream", name: "stdout", text: "printed inside the Output widget\n" },
      { output_type: "display_data", data: { "text/html": HOSTILE.outputWidgetHtml, "text/plain": "captured output" }, metadata: {} },
      { output_type: "display_data", data: { "text/markdown": "**markdown in the Output widget**", "text/plain": "md" }, metadata: {} },
    ],
  });
  state[IDS.unsupported] = model("evil-widgets", "1.0.0", "EvilModel", "EvilView", "evil-widgets", { value: 1 });
  // A safesail-widgets MetricPlot as the kernel saves it: trace x / y as Float32Array buffers (base64 in the
  // saved state, null at their paths), `plot_layout` the Plotly layout (protocol.ts MetricPlotState).
  const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer).toString("base64");
  state[IDS.metricPlot] = {
    ...model(MODULE_NAME, MODULE_VERSION, METRIC_PLOT_MODEL, METRIC_PLOT_VIEW, MODULE_NAME, {
      _dom_classes: [], tabbable: null, tooltip: null,
      title: "L0,t by threshold", plot_layout: { xaxis: { title: { text: "t" } }, yaxis: { title: { text: "L0,t" } } },
      traces: [{ name: HOSTILE.plotTrace, type: "scatter", mode: "lines+markers", x: null, y: null }],
      layer: 2, layers: [1, 2], site: "mlp_out", sites: ["mlp_out", "resid_post"], k: 32, ks: [16, 32], status: "ready", message: "", revision: 3,
    }),
    buffers: [
      { path: ["traces", 0, "x"], encoding: "base64", data: f32([0, 0.25, 0.5, 0.75]) },
      { path: ["traces", 0, "y"], encoding: "base64", data: f32([40, 22, 9, 3]) },
    ],
  };
  return state;
}

const view = (id: string, plain: string) => ({
  output_type: "display_data" as const,
  data: { [WIDGET_VIEW_MIME]: { model_id: id, version_major: 2, version_minor: 0 }, "text/plain": plain },
  metadata: {},
});

/** A 1x1 red PNG. */
export const PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

/** The fixture notebook (nbformat 4.5, TypeScript kernel metadata, saved widget state). */
export function fixtureNotebook(title = "Fixture: every output & <hostile> input"): Notebook {
  const nb = fixtureCells(title);
  // nbformat 4.5 cells carry ids (without them nbformat invents fresh ones on every read, and no signature
  // could ever match).
  nb.cells = nb.cells.map((c, i) => ({ id: `fixture-cell-${i}`, ...c }));
  return nb;
}

function fixtureCells(title: string): Notebook {
  const fig = (name: string, y: number[]) => ({ data: [{ type: "scatter", name, x: [1, 2, 3], y }], layout: { title: { text: `${name} <b>figure</b>` }, height: 320 } });
  const plot1 = plotBundle(fig("first", [1, 3, 2]), { includeLibrary: true, divId: "fixture-plot-1" });
  const plot2 = plotBundle(fig("second", [2, 1, 3]), { includeLibrary: true, divId: "fixture-plot-2" });
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { display_name: "TypeScript (safesail)", language: "typescript", name: "safesail" },
      language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
      widgets: { [WIDGET_STATE_MIME]: { version_major: 2, version_minor: 0, state: fixtureWidgetState() } },
    },
    cells: [
      {
        cell_type: "markdown",
        metadata: {},
        source: [
          `# ${title}\n`,
          "\n",
          "Some *Markdown* with a GFM table:\n",
          "\n",
          "| layer | k |\n",
          "| --- | --- |\n",
          "| 2 | 32 |\n",
          "\n",
          `Hostile: ${HOSTILE.markdownImg} and ${HOSTILE.markdownScript} and [a link](javascript:alert(1)).\n`,
          "\n",
          "![an attachment](attachment:dot.png)\n",
        ],
        attachments: { "dot.png": { "image/png": PNG_1X1 } },
      },
      {
        cell_type: "code",
        execution_count: 1,
        metadata: {},
        source: [`${HOSTILE.source}\n`, 'console.log("hello");\n', "42"],
        outputs: [
          { output_type: "stream", name: "stdout", text: [`hello ${HOSTILE.stream}\n`, "progress 10%\rprogress 100%\n"] },
          { output_type: "stream", name: "stderr", text: "\u001b[33ma warning on stderr\u001b[0m\n" },
          { output_type: "execute_result", execution_count: 1, metadata: {}, data: { "text/plain": `token ${HOSTILE.plain}` } },
        ],
      },
      {
        cell_type: "code",
        execution_count: 2,
        metadata: {},
        source: 'throw new TypeError("bad <input>")',
        outputs: [
          {
            output_type: "error",
            ename: "TypeError",
            evalue: "bad <input>",
            traceback: ["\u001b[31mTypeError\u001b[0m: bad <input>", "    at cell (<cell>:1:7)"],
          },
        ],
      },
      {
        cell_type: "code",
        execution_count: 3,
        metadata: {},
        source: 'display(html("..."))',
        outputs: [
          { output_type: "display_data", metadata: {}, data: { "text/html": HOSTILE.html, "text/plain": "html output" } },
          { output_type: "display_data", metadata: {}, data: { "text/markdown": "**markdown output** <img src=x onerror=\"window.__ssMdOut=1\">", "text/plain": "md" } },
          { output_type: "display_data", metadata: {}, data: { "image/png": PNG_1X1, "text/plain": "<png>" } },
          { output_type: "display_data", metadata: {}, data: { "image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><circle cx="10" cy="10" r="8" fill="teal"/></svg>', "text/plain": "<svg>" } },
        ],
      },
      { cell_type: "markdown", metadata: {}, source: "## Figures\n\nTwo Plotly figures, each carrying the kernel's HTML fallback with plotly.js inlined." },
      {
        cell_type: "code",
        execution_count: 4,
        metadata: {},
        source: "plot(first); plot(second);",
        outputs: [
          { output_type: "display_data", metadata: {}, data: plot1 },
          { output_type: "display_data", metadata: {}, data: plot2 },
        ],
      },
      { cell_type: "markdown", metadata: {}, source: "## Widgets" },
      {
        cell_type: "code",
        execution_count: 5,
        metadata: {},
        source: "widgets.IntSlider({ value: 7 })",
        outputs: [{ ...view(IDS.slider, "IntSlider(value=7, description='k')"), output_type: "execute_result", execution_count: 5 }],
      },
      {
        cell_type: "code",
        execution_count: 6,
        metadata: {},
        source: "widgets.HBox([label, button]); widgets.HTML(hostile); widgets.Output(); evil; missing",
        outputs: [
          view(IDS.hbox, "HBox(children=(Label(value='k² = 49'), Button(description='run')))"),
          { ...view(IDS.html, ""), data: { [WIDGET_VIEW_MIME]: { model_id: IDS.html, version_major: 2, version_minor: 0 } } },
          view(IDS.output, "Output()"),
          view(IDS.unsupported, "EvilWidget()"),
          view(IDS.metricPlot, "MetricPlot(title='L0,t by threshold')"),
          view(IDS.missing, "Gone()"),
        ],
      },
      { cell_type: "raw", metadata: {}, source: "raw <cell> text" },
    ],
  };
}
