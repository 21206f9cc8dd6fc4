// Widgets for TypeScript cells: `widgets.IntSlider({ value: 3, min: 0, max: 10, description: "k" })`.
//
// The classes are exported too (for instanceof, subclassing, and custom models on WidgetModel). A widget opens its
// comm when it is created; show it by making it a cell's last expression or with display(widget).
//
// Names here do not clash with kernel/src/api.ts (which exports MIMEBUNDLE, setKernel, display, ...), so that
// module can `export * from "./widgets/index.ts"`.
import {
  Box,
  Button,
  Checkbox,
  Dropdown,
  FloatProgress,
  FloatSlider,
  HBox,
  HTML,
  Image,
  IntProgress,
  IntSlider,
  Label,
  Layout,
  Text,
  VBox,
  type BoxInit,
  type ButtonState,
  type CheckboxState,
  type DOMInit,
  type DOMWidget,
  type DOMWidgetState,
  type DropdownInit,
  type FloatSliderState,
  type HTMLState,
  type ImageState,
  type IntSliderState,
  type LabelState,
  type LayoutProps,
  type ProgressState,
  type TextState,
} from "./controls.ts";
import { Output, type OutputState } from "./output.ts";
import type { WidgetOptions } from "./widget.ts";

export * from "./buffers.ts";
export * from "./controls.ts";
export * from "./custom.ts";
export * from "./metric-plot.ts";
// The StarMap views (issue 14): plain data in, no library import.
export {
  TokenActivations, tokenActivations, tokenViewState,
  type TokenActivationsInit, type TokenActivationsState, type TokenActivationsStatus, type TokenAnalyse, type TokenAnalysis,
  type TokenView, type TokenViewData, type TokenViewRow, type TokenViewToken, type TokenViewTrack, type FeatureInfo,
} from "./token-activations.ts";
export { StarMap, starMap, starMapState, type FeatureMapInput, type MapClusterInput, type MapPointInput, type StarMapData, type StarMapInit, type StarMapState } from "./star-map.ts";
export {
  LayerTrajectory, layerTrajectory, trajectoryState,
  type LayerTrajectoryData, type LayerTrajectoryInit, type LayerTrajectoryState, type TrajectoryInput, type TrajectoryLinkInput, type TrajectoryNodeInput,
} from "./layer-trajectory.ts";
// The SteeringPanel (issue 15): chips of features to steer, baseline and steered answers side by side.
export {
  SteeringPanel, steeringPanel, comparisonState, methodRange, DEFAULT_FEATURE_SCALE, STEERING_PANEL_METHODS,
  type SteeringChip, type SteeringCompare, type SteeringComparisonInput, type SteeringAnswerInput, type SteeringFeatureInfo,
  type SteeringFeatureSpec, type SteeringIntervention, type SteeringPanelComparison, type SteeringPanelInit, type SteeringPanelMethod,
  type SteeringPanelOptions, type SteeringPanelState, type SteeringPanelStatus, type SteeringRequest,
} from "./steering-panel.ts";
export * from "./output.ts";
export * from "./widget.ts";
// The notebook Progress display (kernel/src/progress.ts), exported here so `safesail/kernel` (api.ts re-exports
// this module) offers it to cells: `notebookProgress().start("harvest", n)`.
export { autoProgress, notebookProgress, type NotebookProgressOptions } from "../progress.ts";
export type { Progress } from "../../../src/progress.ts";

type Children = DOMWidget<DOMWidgetState>[];

/** Factories (no `new`), one per model. */
export const widgets = {
  IntSlider: (init?: DOMInit<IntSliderState>, opts?: WidgetOptions) => new IntSlider(init, opts),
  FloatSlider: (init?: DOMInit<FloatSliderState>, opts?: WidgetOptions) => new FloatSlider(init, opts),
  IntProgress: (init?: DOMInit<ProgressState>, opts?: WidgetOptions) => new IntProgress(init, opts),
  FloatProgress: (init?: DOMInit<ProgressState>, opts?: WidgetOptions) => new FloatProgress(init, opts),
  Button: (init?: DOMInit<ButtonState>, opts?: WidgetOptions) => new Button(init, opts),
  Text: (init?: DOMInit<TextState>, opts?: WidgetOptions) => new Text(init, opts),
  Label: (init?: DOMInit<LabelState> | string, opts?: WidgetOptions) => new Label(init, opts),
  HTML: (init?: DOMInit<HTMLState> | string, opts?: WidgetOptions) => new HTML(init, opts),
  Image: (init?: DOMInit<ImageState>, opts?: WidgetOptions) => new Image(init, opts),
  Checkbox: (init?: DOMInit<CheckboxState>, opts?: WidgetOptions) => new Checkbox(init, opts),
  Dropdown: <V = string>(init?: DropdownInit<V>, opts?: WidgetOptions) => new Dropdown<V>(init, opts),
  Box: (children?: Children | BoxInit, init?: BoxInit, opts?: WidgetOptions) => new Box(children, init, opts),
  HBox: (children?: Children | BoxInit, init?: BoxInit, opts?: WidgetOptions) => new HBox(children, init, opts),
  VBox: (children?: Children | BoxInit, init?: BoxInit, opts?: WidgetOptions) => new VBox(children, init, opts),
  Output: (init?: DOMInit<OutputState>, opts?: WidgetOptions) => new Output(init, opts),
  Layout: (init?: Partial<LayoutProps>, opts?: WidgetOptions) => new Layout(init, opts),
};
