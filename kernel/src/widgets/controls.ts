// The core @jupyter-widgets/controls models (module "@jupyter-widgets/controls" 2.0.0, front end
// @jupyter-widgets/controls 5.x as in JupyterLab with ipywidgets 8), with the attribute names and defaults the 8.x
// front end expects. Every DOM widget references a LayoutModel (module @jupyter-widgets/base) and, for controls
// with one, a style model, as "IPY_MODEL_<id>"; both are opened before the widget itself.
//
// Each class is paired with an interface of the same name, so `slider.value = 4` is typed and is `slider.set(...)`.
import {
  baseState,
  BASE_MODULE,
  BASE_VERSION,
  CONTROLS_MODULE,
  CONTROLS_VERSION,
  defineStateAccessors,
  WidgetModel,
  type BaseState,
  type WidgetOptions,
} from "./widget.ts";

// ---- layout ----

export interface LayoutProps {
  align_content: string | null;
  align_items: string | null;
  align_self: string | null;
  border_top: string | null;
  border_right: string | null;
  border_bottom: string | null;
  border_left: string | null;
  bottom: string | null;
  display: string | null;
  flex: string | null;
  flex_flow: string | null;
  grid_area: string | null;
  grid_auto_columns: string | null;
  grid_auto_flow: string | null;
  grid_auto_rows: string | null;
  grid_column: string | null;
  grid_gap: string | null;
  grid_row: string | null;
  grid_template_areas: string | null;
  grid_template_columns: string | null;
  grid_template_rows: string | null;
  height: string | null;
  justify_content: string | null;
  justify_items: string | null;
  left: string | null;
  margin: string | null;
  max_height: string | null;
  max_width: string | null;
  min_height: string | null;
  min_width: string | null;
  object_fit: string | null;
  object_position: string | null;
  order: string | null;
  overflow: string | null;
  padding: string | null;
  right: string | null;
  top: string | null;
  visibility: string | null;
  width: string | null;
}
export type LayoutState = BaseState & LayoutProps;

const LAYOUT_KEYS: Array<keyof LayoutProps> = [
  "align_content", "align_items", "align_self", "border_top", "border_right", "border_bottom", "border_left",
  "bottom", "display", "flex", "flex_flow", "grid_area", "grid_auto_columns", "grid_auto_flow", "grid_auto_rows",
  "grid_column", "grid_gap", "grid_row", "grid_template_areas", "grid_template_columns", "grid_template_rows",
  "height", "justify_content", "justify_items", "left", "margin", "max_height", "max_width", "min_height",
  "min_width", "object_fit", "object_position", "order", "overflow", "padding", "right", "top", "visibility",
  "width",
];

export interface Layout extends LayoutProps {}
/** CSS layout of a DOM widget (LayoutModel / LayoutView in @jupyter-widgets/base). */
export class Layout extends WidgetModel<LayoutState> {
  constructor(init: Partial<LayoutProps> = {}, opts: WidgetOptions = {}) {
    const props = Object.fromEntries(LAYOUT_KEYS.map((k) => [k, null])) as unknown as LayoutProps;
    super({ ...baseState(), _model_name: "LayoutModel", _view_name: "LayoutView", ...props }, init, opts);
  }
}
defineStateAccessors(Layout, LAYOUT_KEYS);

// ---- styles ----

function styleBase(modelName: string, module = CONTROLS_MODULE): BaseState {
  return {
    ...baseState(),
    _model_module: module,
    _model_module_version: module === BASE_MODULE ? BASE_VERSION : CONTROLS_VERSION,
    _model_name: modelName,
    _view_name: "StyleView",
  };
}

export interface DescriptionStyleProps { description_width: string }
export interface DescriptionStyle extends DescriptionStyleProps {}
export class DescriptionStyle extends WidgetModel<BaseState & DescriptionStyleProps> {
  constructor(init: Partial<DescriptionStyleProps> = {}, opts: WidgetOptions = {}) {
    super({ ...styleBase("DescriptionStyleModel"), description_width: "" }, init, opts);
  }
}
defineStateAccessors(DescriptionStyle, ["description_width"]);

export interface SliderStyleProps extends DescriptionStyleProps { handle_color: string | null }
export interface SliderStyle extends SliderStyleProps {}
export class SliderStyle extends WidgetModel<BaseState & SliderStyleProps> {
  constructor(init: Partial<SliderStyleProps> = {}, opts: WidgetOptions = {}) {
    super({ ...styleBase("SliderStyleModel"), description_width: "", handle_color: null }, init, opts);
  }
}
defineStateAccessors(SliderStyle, ["description_width", "handle_color"]);

export interface ProgressStyleProps extends DescriptionStyleProps { bar_color: string | null }
export interface ProgressStyle extends ProgressStyleProps {}
export class ProgressStyle extends WidgetModel<BaseState & ProgressStyleProps> {
  constructor(init: Partial<ProgressStyleProps> = {}, opts: WidgetOptions = {}) {
    super({ ...styleBase("ProgressStyleModel"), description_width: "", bar_color: null }, init, opts);
  }
}
defineStateAccessors(ProgressStyle, ["description_width", "bar_color"]);

export interface CheckboxStyleProps extends DescriptionStyleProps { background: string | null }
export interface CheckboxStyle extends CheckboxStyleProps {}
export class CheckboxStyle extends WidgetModel<BaseState & CheckboxStyleProps> {
  constructor(init: Partial<CheckboxStyleProps> = {}, opts: WidgetOptions = {}) {
    super({ ...styleBase("CheckboxStyleModel"), description_width: "", background: null }, init, opts);
  }
}
defineStateAccessors(CheckboxStyle, ["description_width", "background"]);

export interface TextStyleProps extends DescriptionStyleProps { background: string | null; font_size: string; text_color: string }
export interface TextStyle extends TextStyleProps {}
export class TextStyle extends WidgetModel<BaseState & TextStyleProps> {
  constructor(init: Partial<TextStyleProps> = {}, opts: WidgetOptions = {}) {
    super({ ...styleBase("TextStyleModel"), description_width: "", background: null, font_size: "", text_color: "" }, init, opts);
  }
}
defineStateAccessors(TextStyle, ["description_width", "background", "font_size", "text_color"]);

export interface HTMLStyleProps extends TextStyleProps {}
export interface HTMLStyle extends HTMLStyleProps {}
export class HTMLStyle extends WidgetModel<BaseState & HTMLStyleProps> {
  constructor(init: Partial<HTMLStyleProps> = {}, opts: WidgetOptions = {}) {
    super({ ...styleBase("HTMLStyleModel"), description_width: "", background: null, font_size: "", text_color: "" }, init, opts);
  }
}
defineStateAccessors(HTMLStyle, ["description_width", "background", "font_size", "text_color"]);

export interface LabelStyleProps extends TextStyleProps {
  font_family: string;
  font_style: string;
  font_variant: string;
  font_weight: string;
  text_decoration: string;
}
const LABEL_STYLE_KEYS = ["description_width", "background", "font_size", "text_color", "font_family", "font_style", "font_variant", "font_weight", "text_decoration"];
export interface LabelStyle extends LabelStyleProps {}
export class LabelStyle extends WidgetModel<BaseState & LabelStyleProps> {
  constructor(init: Partial<LabelStyleProps> = {}, opts: WidgetOptions = {}) {
    super({
      ...styleBase("LabelStyleModel"), description_width: "", background: null, font_size: "", text_color: "",
      font_family: "", font_style: "", font_variant: "", font_weight: "", text_decoration: "",
    }, init, opts);
  }
}
defineStateAccessors(LabelStyle, LABEL_STYLE_KEYS);

export interface ButtonStyleProps {
  button_color: string | null;
  font_family: string;
  font_size: string;
  font_style: string;
  font_variant: string;
  font_weight: string;
  text_color: string;
  text_decoration: string;
}
const BUTTON_STYLE_KEYS = ["button_color", "font_family", "font_size", "font_style", "font_variant", "font_weight", "text_color", "text_decoration"];
export interface ButtonStyle extends ButtonStyleProps {}
export class ButtonStyle extends WidgetModel<BaseState & ButtonStyleProps> {
  constructor(init: Partial<ButtonStyleProps> = {}, opts: WidgetOptions = {}) {
    super({
      ...styleBase("ButtonStyleModel"), button_color: null, font_family: "", font_size: "", font_style: "",
      font_variant: "", font_weight: "", text_color: "", text_decoration: "",
    }, init, opts);
  }
}
defineStateAccessors(ButtonStyle, BUTTON_STYLE_KEYS);

type AnyStyle = DescriptionStyle | SliderStyle | ProgressStyle | CheckboxStyle | TextStyle | HTMLStyle | LabelStyle | ButtonStyle;
type StyleCtor = new (init: Record<string, unknown>, opts: WidgetOptions) => WidgetModel<BaseState>;

// ---- DOM widgets ----

export interface DOMWidgetProps {
  _dom_classes: string[];
  layout: Layout;
  tabbable: boolean | null;
  tooltip: string | null;
}
export type DOMWidgetState = BaseState & DOMWidgetProps;

type StylePropsOf<St> = St extends WidgetModel<infer SS> ? Partial<Omit<SS, keyof BaseState>> : never;

/** What a DOM widget's constructor takes: its attributes, with layout / style as models or plain attribute objects. */
export type DOMInit<S extends DOMWidgetState> = Partial<Omit<S, "layout" | "style" | keyof BaseState>> & {
  layout?: Layout | Partial<LayoutProps>;
  style?: S extends { style: infer St } ? St | StylePropsOf<St> : never;
};

function coreBase(modelName: string, viewName: string): BaseState {
  return {
    ...baseState(),
    _model_module: CONTROLS_MODULE,
    _model_module_version: CONTROLS_VERSION,
    _model_name: modelName,
    _view_module: CONTROLS_MODULE,
    _view_module_version: CONTROLS_VERSION,
    _view_name: viewName,
  };
}

/** Base of the widgets with a view: layout, CSS classes, tooltip; the style model when the class has one. */
export class DOMWidget<S extends DOMWidgetState = DOMWidgetState> extends WidgetModel<S> {
  static override readonly refKeys: readonly string[] = ["layout", "style"];

  constructor(defaults: Omit<S, "layout" | "style">, init: DOMInit<S>, opts: WidgetOptions = {}, styleClass?: StyleCtor) {
    const sub: WidgetOptions = opts.kernel ? { kernel: opts.kernel } : {};
    const { layout, style, ...rest } = init as DOMInit<S> & { style?: unknown };
    const full: Record<string, unknown> = {
      ...defaults,
      layout: layout instanceof Layout ? layout : new Layout(layout ?? {}, sub),
    };
    if (styleClass) {
      full.style = style instanceof WidgetModel ? style : new styleClass((style ?? {}) as Record<string, unknown>, sub);
    } else if (style !== undefined) {
      throw new Error(`${defaults._model_name} has no style`);
    }
    super(full as unknown as S, rest as Partial<S>, opts);
  }

  addClass(className: string): this {
    if (!this.get("_dom_classes").includes(className)) this.set({ _dom_classes: [...this.get("_dom_classes"), className] } as Partial<S>);
    return this;
  }

  removeClass(className: string): this {
    this.set({ _dom_classes: this.get("_dom_classes").filter((c) => c !== className) } as Partial<S>);
    return this;
  }
}
defineStateAccessors(DOMWidget, ["_dom_classes", "layout", "tabbable", "tooltip"]);

function domDefaults(): Pick<DOMWidgetProps, "_dom_classes" | "tabbable" | "tooltip"> {
  return { _dom_classes: [], tabbable: null, tooltip: null };
}

export interface DescriptionProps { description: string; description_allow_html: boolean }

function checkNumber(key: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`"${key}" must be a finite number, got ${JSON.stringify(value)}`);
  return value;
}

// ---- numbers: sliders and progress bars ----

interface BoundedProps { value: number; min: number; max: number }

/** value / min / max handling shared by the int and float sliders and progress bars. */
function coerceBounded(key: string, value: unknown, state: BoundedProps, integer: boolean): unknown {
  if (key !== "value" && key !== "min" && key !== "max" && key !== "step") return value;
  let v = checkNumber(key, value);
  if (integer) v = Math.round(v);
  if (key === "value") return Math.min(state.max, Math.max(state.min, v));
  if (key === "min" && v > state.max) throw new Error(`min ${v} > max ${state.max}`);
  if (key === "max" && v < state.min) throw new Error(`max ${v} < min ${state.min}`);
  return v;
}

function clampOnBounds(w: WidgetModel<BaseState & BoundedProps>): void {
  const reclamp = () => {
    const { value, min, max } = w.getState();
    if (value < min) w.set({ value: min });
    else if (value > max) w.set({ value: max });
  };
  w.on("change:min", reclamp);
  w.on("change:max", reclamp);
}

export interface IntSliderProps extends DOMWidgetProps, DescriptionProps {
  value: number;
  min: number;
  max: number;
  step: number;
  orientation: "horizontal" | "vertical";
  readout: boolean;
  readout_format: string;
  continuous_update: boolean;
  disabled: boolean;
  behavior: string;
  style: SliderStyle;
}
export type IntSliderState = BaseState & IntSliderProps;
export interface IntSlider extends IntSliderProps {}
/** IntSliderModel: integer value in [min, max] (values are rounded and clamped, from either side). */
export class IntSlider extends DOMWidget<IntSliderState> {
  constructor(init: DOMInit<IntSliderState> = {}, opts: WidgetOptions = {}) {
    super({
      ...coreBase("IntSliderModel", "IntSliderView"), ...domDefaults(), description: "", description_allow_html: false,
      value: 0, min: 0, max: 100, step: 1, orientation: "horizontal", readout: true, readout_format: "d",
      continuous_update: true, disabled: false, behavior: "drag-tap",
    }, init, opts, SliderStyle as unknown as StyleCtor);
    clampOnBounds(this);
  }
  protected override coerce(key: string, value: unknown, state: IntSliderState): unknown {
    return coerceBounded(key, value, state, true);
  }
}

export interface FloatSliderProps extends Omit<IntSliderProps, "style"> { style: SliderStyle }
export type FloatSliderState = BaseState & FloatSliderProps;
export interface FloatSlider extends FloatSliderProps {}
/** FloatSliderModel: value in [min, max] (clamped). */
export class FloatSlider extends DOMWidget<FloatSliderState> {
  constructor(init: DOMInit<FloatSliderState> = {}, opts: WidgetOptions = {}) {
    super({
      ...coreBase("FloatSliderModel", "FloatSliderView"), ...domDefaults(), description: "", description_allow_html: false,
      value: 0, min: 0, max: 100, step: 0.1, orientation: "horizontal", readout: true, readout_format: ".2f",
      continuous_update: true, disabled: false, behavior: "drag-tap",
    }, init, opts, SliderStyle as unknown as StyleCtor);
    clampOnBounds(this);
  }
  protected override coerce(key: string, value: unknown, state: FloatSliderState): unknown {
    return coerceBounded(key, value, state, false);
  }
}

const SLIDER_KEYS = ["value", "min", "max", "step", "orientation", "readout", "readout_format", "continuous_update", "disabled", "behavior", "description", "description_allow_html", "style"];
defineStateAccessors(IntSlider, SLIDER_KEYS);
defineStateAccessors(FloatSlider, SLIDER_KEYS);

export interface ProgressProps extends DOMWidgetProps, DescriptionProps {
  value: number;
  min: number;
  max: number;
  orientation: "horizontal" | "vertical";
  bar_style: "" | "success" | "info" | "warning" | "danger";
  style: ProgressStyle;
}
export type ProgressState = BaseState & ProgressProps;
export interface IntProgress extends ProgressProps {}
export class IntProgress extends DOMWidget<ProgressState> {
  constructor(init: DOMInit<ProgressState> = {}, opts: WidgetOptions = {}) {
    super({
      ...coreBase("IntProgressModel", "ProgressView"), ...domDefaults(), description: "", description_allow_html: false,
      value: 0, min: 0, max: 100, orientation: "horizontal", bar_style: "",
    }, init, opts, ProgressStyle as unknown as StyleCtor);
    clampOnBounds(this);
  }
  protected override coerce(key: string, value: unknown, state: ProgressState): unknown {
    return coerceBounded(key, value, state, true);
  }
}
export interface FloatProgress extends ProgressProps {}
export class FloatProgress extends DOMWidget<ProgressState> {
  constructor(init: DOMInit<ProgressState> = {}, opts: WidgetOptions = {}) {
    super({
      ...coreBase("FloatProgressModel", "ProgressView"), ...domDefaults(), description: "", description_allow_html: false,
      value: 0, min: 0, max: 100, orientation: "horizontal", bar_style: "",
    }, init, opts, ProgressStyle as unknown as StyleCtor);
    clampOnBounds(this);
  }
  protected override coerce(key: string, value: unknown, state: ProgressState): unknown {
    return coerceBounded(key, value, state, false);
  }
}
const PROGRESS_KEYS = ["value", "min", "max", "orientation", "bar_style", "description", "description_allow_html", "style"];
defineStateAccessors(IntProgress, PROGRESS_KEYS);
defineStateAccessors(FloatProgress, PROGRESS_KEYS);

// ---- button ----

export interface ButtonProps extends DOMWidgetProps {
  description: string;
  disabled: boolean;
  icon: string;
  button_style: "" | "primary" | "success" | "info" | "warning" | "danger";
  style: ButtonStyle;
}
export type ButtonState = BaseState & ButtonProps;
export interface Button extends ButtonProps {}
/** ButtonModel: clicks arrive as the custom message {event: "click"} and call the onClick callbacks. */
export class Button extends DOMWidget<ButtonState> {
  #clicks: Array<(b: Button) => unknown> = [];
  constructor(init: DOMInit<ButtonState> = {}, opts: WidgetOptions = {}) {
    super({
      ...coreBase("ButtonModel", "ButtonView"), ...domDefaults(), description: "", disabled: false, icon: "", button_style: "",
    }, init, opts, ButtonStyle as unknown as StyleCtor);
    this.on("msg:custom", (content) => {
      if (content.event === "click") this.click();
    });
  }
  /** Calls `cb(button)` on every click (`remove: true` takes it off again). */
  onClick(cb: (b: Button) => unknown, remove = false): this {
    this.#clicks = remove ? this.#clicks.filter((f) => f !== cb) : [...this.#clicks, cb];
    return this;
  }
  /** Runs the click callbacks, as a click in the browser does. */
  click(): void {
    for (const cb of [...this.#clicks]) runCallback(this, "click", () => cb(this));
  }
}
defineStateAccessors(Button, ["description", "disabled", "icon", "button_style", "style"]);

function runCallback(w: WidgetModel<BaseState>, what: string, fn: () => unknown): void {
  const fail = (err: unknown) => console.error(`${w.repr(60)} "${what}" callback: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  try {
    const r = fn();
    if (r && typeof (r as Promise<unknown>).then === "function") (r as Promise<unknown>).then(undefined, fail);
  } catch (err) {
    fail(err);
  }
}

// ---- strings ----

export interface StringProps extends DOMWidgetProps, DescriptionProps { value: string; placeholder: string }

export interface TextProps extends StringProps { disabled: boolean; continuous_update: boolean; style: TextStyle }
export type TextState = BaseState & TextProps;
export interface Text extends TextProps {}
/** TextModel: `value` follows the typing (continuous_update); Enter sends {event: "submit"} -> onSubmit. */
export class Text extends DOMWidget<TextState> {
  #submits: Array<(t: Text) => unknown> = [];
  constructor(init: DOMInit<TextState> = {}, opts: WidgetOptions = {}) {
    super({
      ...coreBase("TextModel", "TextView"), ...domDefaults(), description: "", description_allow_html: false,
      value: "", placeholder: "\u200b", disabled: false, continuous_update: true,
    }, init, opts, TextStyle as unknown as StyleCtor);
    this.on("msg:custom", (content) => {
      if (content.event === "submit") this.submit();
    });
  }
  onSubmit(cb: (t: Text) => unknown, remove = false): this {
    this.#submits = remove ? this.#submits.filter((f) => f !== cb) : [...this.#submits, cb];
    return this;
  }
  /** Runs the submit callbacks, as Enter in the browser does. */
  submit(): void {
    for (const cb of [...this.#submits]) runCallback(this, "submit", () => cb(this));
  }
}
defineStateAccessors(Text, ["value", "placeholder", "disabled", "continuous_update", "description", "description_allow_html", "style"]);

export interface LabelProps extends StringProps { style: LabelStyle }
export type LabelState = BaseState & LabelProps;
export interface Label extends LabelProps {}
/** LabelModel: plain text (no HTML). */
export class Label extends DOMWidget<LabelState> {
  constructor(init: DOMInit<LabelState> | string = {}, opts: WidgetOptions = {}) {
    super({
      ...coreBase("LabelModel", "LabelView"), ...domDefaults(), description: "", description_allow_html: false,
      value: "", placeholder: "\u200b",
    }, typeof init === "string" ? { value: init } : init, opts, LabelStyle as unknown as StyleCtor);
  }
}
defineStateAccessors(Label, ["value", "placeholder", "description", "description_allow_html", "style"]);

export interface HTMLProps extends StringProps { style: HTMLStyle }
export type HTMLState = BaseState & HTMLProps;
export interface HTML extends HTMLProps {}
/** HTMLModel: `value` is HTML (the front end sanitizes it); escape untrusted text yourself. */
export class HTML extends DOMWidget<HTMLState> {
  constructor(init: DOMInit<HTMLState> | string = {}, opts: WidgetOptions = {}) {
    super({
      ...coreBase("HTMLModel", "HTMLView"), ...domDefaults(), description: "", description_allow_html: false,
      value: "", placeholder: "\u200b",
    }, typeof init === "string" ? { value: init } : init, opts, HTMLStyle as unknown as StyleCtor);
  }
}
defineStateAccessors(HTML, ["value", "placeholder", "description", "description_allow_html", "style"]);

// ---- checkbox ----

export interface CheckboxProps extends DOMWidgetProps, DescriptionProps { value: boolean; disabled: boolean; indent: boolean; style: CheckboxStyle }
export type CheckboxState = BaseState & CheckboxProps;
export interface Checkbox extends CheckboxProps {}
export class Checkbox extends DOMWidget<CheckboxState> {
  constructor(init: DOMInit<CheckboxState> = {}, opts: WidgetOptions = {}) {
    super({
      ...coreBase("CheckboxModel", "CheckboxView"), ...domDefaults(), description: "", description_allow_html: false,
      value: false, disabled: false, indent: true,
    }, init, opts, CheckboxStyle as unknown as StyleCtor);
  }
  protected override coerce(key: string, value: unknown): unknown {
    if (key === "value" && typeof value !== "boolean") throw new Error(`"value" must be a boolean, got ${JSON.stringify(value)}`);
    return value;
  }
}
defineStateAccessors(Checkbox, ["value", "disabled", "indent", "description", "description_allow_html", "style"]);

// ---- dropdown ----

export interface DropdownProps extends DOMWidgetProps, DescriptionProps {
  _options_labels: string[];
  index: number | null;
  disabled: boolean;
  style: DescriptionStyle;
}
export type DropdownState = BaseState & DropdownProps;
export type DropdownOption<V> = string | readonly [string, V];
export type DropdownInit<V> = Omit<DOMInit<DropdownState>, "_options_labels"> & { options?: ReadonlyArray<DropdownOption<V>>; value?: V };

export interface Dropdown<V = string> extends Omit<DropdownProps, "_options_labels"> {}
/**
 * DropdownModel. The front end knows only the labels and the selected `index`; the kernel keeps the values:
 * options are labels, or [label, value] pairs. `value` / `label` read the selection (null when none).
 * Listen to "change:index" for selections from the browser.
 */
export class Dropdown<V = string> extends DOMWidget<DropdownState> {
  #values: V[] = [];
  constructor(init: DropdownInit<V> = {}, opts: WidgetOptions = {}) {
    const { options = [], value, ...rest } = init;
    const labels = options.map((o) => (typeof o === "string" ? o : o[0]));
    const values = options.map((o) => (typeof o === "string" ? (o as unknown as V) : o[1]));
    let index = rest.index !== undefined ? rest.index : labels.length > 0 ? 0 : null;
    if (value !== undefined) {
      index = values.findIndex((x) => Object.is(x, value));
      if (index < 0) throw new Error(`Dropdown: ${JSON.stringify(value)} is not one of the options`);
    }
    super({
      ...coreBase("DropdownModel", "DropdownView"), ...domDefaults(), description: "", description_allow_html: false,
      _options_labels: labels, index: null, disabled: false,
    }, { ...rest, index }, opts, DescriptionStyle as unknown as StyleCtor);
    this.#values = values;
  }
  get options(): Array<readonly [string, V]> {
    return this.get("_options_labels").map((l, i) => [l, this.#values[i] as V] as const);
  }
  set options(options: ReadonlyArray<DropdownOption<V>>) {
    this.#values = options.map((o) => (typeof o === "string" ? (o as unknown as V) : o[1]));
    const labels = options.map((o) => (typeof o === "string" ? o : o[0]));
    this.holdSync(() => this.set({ index: null, _options_labels: labels }).set({ index: labels.length > 0 ? 0 : null }));
  }
  get value(): V | null {
    const i = this.get("index");
    return i === null ? null : (this.#values[i] ?? null);
  }
  set value(v: V | null) {
    if (v === null) {
      this.set({ index: null });
      return;
    }
    const i = this.#values.findIndex((x) => Object.is(x, v));
    if (i < 0) throw new Error(`Dropdown: ${JSON.stringify(v)} is not one of the options`);
    this.set({ index: i });
  }
  get label(): string | null {
    const i = this.get("index");
    return i === null ? null : (this.get("_options_labels")[i] ?? null);
  }
  protected override coerce(key: string, value: unknown, state: DropdownState): unknown {
    if (key !== "index" || value === null) return value;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value >= state._options_labels.length) {
      throw new Error(`"index" ${JSON.stringify(value)} is out of range for ${state._options_labels.length} options`);
    }
    return value;
  }
}
defineStateAccessors(Dropdown, ["index", "disabled", "description", "description_allow_html", "style"]);

// ---- image ----

export interface ImageProps extends DOMWidgetProps {
  /** The encoded image (PNG, JPEG, ... bytes); travels as a binary buffer. */
  value: Uint8Array;
  format: string;
  width: string;
  height: string;
}
export type ImageState = BaseState & ImageProps;
export interface Image extends ImageProps {}
/** ImageModel: `value` holds the file's bytes, sent as a message buffer (buffer_paths [["value"]]). */
export class Image extends DOMWidget<ImageState> {
  constructor(init: DOMInit<ImageState> = {}, opts: WidgetOptions = {}) {
    super({
      ...coreBase("ImageModel", "ImageView"), ...domDefaults(), value: new Uint8Array(0), format: "png", width: "", height: "",
    }, init, opts);
  }
  protected override coerce(key: string, value: unknown): unknown {
    if (key !== "value") return value;
    if (value instanceof Uint8Array) return value;
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    throw new Error(`"value" must be bytes (a Uint8Array), got ${typeof value}`);
  }
}
defineStateAccessors(Image, ["value", "format", "width", "height"]);

// ---- boxes ----

export interface BoxProps extends DOMWidgetProps {
  children: DOMWidget<DOMWidgetState>[];
  box_style: "" | "success" | "info" | "warning" | "danger";
}
export type BoxState = BaseState & BoxProps;
export type BoxInit = DOMInit<BoxState>;

function boxArgs(children: DOMWidget<DOMWidgetState>[] | BoxInit | undefined, init: BoxInit): BoxInit {
  return Array.isArray(children) ? { ...init, children } : { ...(children ?? {}), ...init };
}

export interface Box extends BoxProps {}
/** BoxModel: lays `children` out (flex); HBox in a row, VBox in a column. */
export class Box extends DOMWidget<BoxState> {
  static override readonly refKeys: readonly string[] = ["layout", "children"];
  constructor(children?: DOMWidget<DOMWidgetState>[] | BoxInit, init: BoxInit = {}, opts: WidgetOptions = {}, names: [string, string] = ["BoxModel", "BoxView"]) {
    super({ ...coreBase(names[0], names[1]), ...domDefaults(), children: [], box_style: "" }, boxArgs(children, init), opts);
  }
  protected override coerce(key: string, value: unknown): unknown {
    if (key !== "children") return value;
    if (!Array.isArray(value) || !value.every((c) => c instanceof DOMWidget)) throw new Error(`"children" must be a list of widgets`);
    return value;
  }
}
export interface HBox extends BoxProps {}
export class HBox extends Box {
  constructor(children?: DOMWidget<DOMWidgetState>[] | BoxInit, init: BoxInit = {}, opts: WidgetOptions = {}) {
    super(children, init, opts, ["HBoxModel", "HBoxView"]);
  }
}
export interface VBox extends BoxProps {}
export class VBox extends Box {
  constructor(children?: DOMWidget<DOMWidgetState>[] | BoxInit, init: BoxInit = {}, opts: WidgetOptions = {}) {
    super(children, init, opts, ["VBoxModel", "VBoxView"]);
  }
}
defineStateAccessors(Box, ["children", "box_style"]);

export type { AnyStyle };
