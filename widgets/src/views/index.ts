// The safesail-widgets module as widget managers load it: model and view classes by name. JupyterLab gets it
// through the extension (src/lab/index.ts), published pages through the embed bundle (src/embed/).
import { LayerTrajectoryModel, LayerTrajectoryView } from "./layer-trajectory.ts";
import { MetricPlotModel, MetricPlotView } from "./metric-plot.ts";
import { StarMapModel, StarMapView } from "./star-map.ts";
import { SteeringPanelModel, SteeringPanelView } from "./steering-panel.ts";
import { TokenActivationsModel, TokenActivationsView } from "./token-activations.ts";

export { MetricPlotModel, MetricPlotView };
export { TokenActivationsModel, TokenActivationsView, StarMapModel, StarMapView, LayerTrajectoryModel, LayerTrajectoryView };
export { SteeringPanelModel, SteeringPanelView };
export { loadPlotly, plotlyText, type PlotlyApi } from "./plotly.ts";
export { markRoot, versionProblem } from "./dom.ts";

/** Class name -> class, the shape `registerWidget({ exports })` and the html-manager's loader expect. */
export const safesailWidgets: Record<string, unknown> = {
  MetricPlotModel,
  MetricPlotView,
  TokenActivationsModel,
  TokenActivationsView,
  StarMapModel,
  StarMapView,
  LayerTrajectoryModel,
  LayerTrajectoryView,
  SteeringPanelModel,
  SteeringPanelView,
};
