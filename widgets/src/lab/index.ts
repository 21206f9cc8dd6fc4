// The JupyterLab plugin: registers the safesail-widgets module with the widget manager
// (@jupyter-widgets/jupyterlab-manager 5, @jupyter-widgets/base 6). The views load on first use.
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { IJupyterWidgetRegistry } from "@jupyter-widgets/base";
import { MODULE_NAME, MODULE_VERSION } from "../protocol.ts";

const widgetsPlugin: JupyterFrontEndPlugin<void> = {
  id: "safesail-widgets:plugin",
  description: "safesail's custom widgets (MetricPlot, ...) for the safesail kernel",
  requires: [IJupyterWidgetRegistry],
  autoStart: true,
  activate: (_app: JupyterFrontEnd, registry: IJupyterWidgetRegistry) => {
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: async () => (await import("../views/index.ts")).safesailWidgets as never,
    });
  },
};

export default [widgetsPlugin];
