// safesail's own widget models: the kernel side of the views in widgets/src/views (JupyterLab extension
// "safesail-widgets"). The module name, its version and each model's synced state come from one file shared with the
// front end, widgets/src/protocol.ts.
//
//   class TokenView extends SafesailWidget<TokenViewState> {
//     constructor(init: Partial<TokenViewState> = {}, opts: WidgetOptions = {}) {
//       super({ model: "TokenViewModel", view: "TokenViewView" }, { tokens: [], values: new Float32Array(0) }, init, opts);
//     }
//   }
//
// What the base adds to WidgetModel:
//   - `_model_module` / `_view_module` "safesail-widgets" and `_model_module_version` / `_view_module_version`
//     MODULE_VERSION, so JupyterLab asks the safesail-widgets extension for the model and view classes;
//   - the DOM attributes every DOMWidgetModel of @jupyter-widgets/base has (`_dom_classes`, `tabbable`, `tooltip`);
//   - a guard that keeps bulky numbers off the JSON part of a message: a list of more than `maxJsonNumbers` numbers
//     anywhere in an attribute (at any depth: `traces[3].y`) is refused, naming its path; such data belongs in a
//     typed array, which travels as a binary buffer (buffers.ts) at its own buffer path (`["traces", 3, "y"]`).
//
// Why not DOMWidget (controls.ts): DOMWidget always holds a CSS LayoutModel reference under `layout`, and the
// MetricPlot contract (protocol.ts) uses `layout` for the Plotly layout. So a SafesailWidget is a WidgetModel with
// the DOM attributes but without a CSS layout model; the one consequence is that Box/HBox/VBox (which take
// DOMWidget children) do not take it: display it on its own.
import type { BufferPath } from "./buffers.ts";
import { isBinary } from "./buffers.ts";
import { baseState, defineStateAccessors, WidgetModel, type BaseState, type WidgetOptions } from "./widget.ts";
import { MODULE_NAME, MODULE_VERSION } from "../../../widgets/src/protocol.ts";

export { MODULE_NAME as SAFESAIL_MODULE, MODULE_VERSION as SAFESAIL_MODULE_VERSION };

/** The DOM attributes of @jupyter-widgets/base's DOMWidgetModel (its CSS `layout` and `style` aside). */
export interface SafesailDomProps {
  _dom_classes: string[];
  tabbable: boolean | null;
  tooltip: string | null;
}

/** The synced state of a safesail model whose own attributes are P. */
export type SafesailState<P extends object> = BaseState & SafesailDomProps & P;

/** The model and view class names a SafesailWidget registers as (`_model_name`, `_view_name`). */
export interface SafesailNames {
  model: string;
  view: string;
}

/** The base state of a safesail model: module "safesail-widgets" at MODULE_VERSION for model and view. */
export function safesailBase(names: SafesailNames): BaseState & SafesailDomProps {
  return {
    ...baseState(),
    _model_module: MODULE_NAME,
    _model_module_version: MODULE_VERSION,
    _model_name: names.model,
    _view_module: MODULE_NAME,
    _view_module_version: MODULE_VERSION,
    _view_name: names.view,
    _dom_classes: [],
    tabbable: null,
    tooltip: null,
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const pathText = (path: BufferPath) => path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "");

/**
 * The first list in `value` (at any depth; typed arrays excepted) that holds more than `limit` numbers, as a path,
 * or null. Lists of strings, objects or a few numbers (axis ranges, option lists) are fine.
 */
export function bulkyNumberList(value: unknown, limit: number, path: BufferPath = []): BufferPath | null {
  if (value === null || typeof value !== "object" || isBinary(value)) return null;
  if (Array.isArray(value)) {
    let numbers = 0;
    for (const v of value) if (typeof v === "number") numbers++;
    if (numbers > limit) return path;
    for (let i = 0; i < value.length; i++) {
      const found = bulkyNumberList(value[i], limit, [...path, i]);
      if (found) return found;
    }
    return null;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      const found = bulkyNumberList(v, limit, [...path, k]);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Numbers as a Float32Array, the form plot data travels in (one binary buffer, read by the front end as float32):
 * a Float32Array is kept as is; other typed arrays and lists of numbers are converted value by value; raw bytes (a
 * Uint8Array, DataView or ArrayBuffer, the form the data has on the wire) are read as float32 and must be a whole
 * number of 4-byte values.
 */
export function toFloat32Array(value: unknown, where: string): Float32Array {
  if (value instanceof Float32Array) return value;
  if (value instanceof Uint8Array || value instanceof DataView || value instanceof ArrayBuffer) {
    const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (bytes.byteLength % 4 !== 0) throw new Error(`${where}: ${bytes.byteLength} bytes is not a whole number of float32 values`);
    return new Float32Array(bytes.slice().buffer);
  }
  if (ArrayBuffer.isView(value)) {
    if (value instanceof BigInt64Array || value instanceof BigUint64Array) return Float32Array.from(value, (v) => Number(v));
    return Float32Array.from(value as unknown as ArrayLike<number>);
  }
  if (Array.isArray(value)) {
    const bad = value.findIndex((v) => typeof v !== "number" && v !== null);
    if (bad >= 0) throw new Error(`${where}[${bad}]: expected a number, got ${JSON.stringify(value[bad])}`);
    // null (JSON's stand-in for NaN) is a gap, as Plotly draws it.
    return Float32Array.from(value as Array<number | null>, (v) => (v === null ? NaN : v));
  }
  throw new Error(`${where}: expected a Float32Array or a list of numbers, got ${value === null ? "null" : typeof value}`);
}

/**
 * Base of safesail's custom models. `P` is the model's own state (protocol.ts's `...State` interface); the class
 * adds the base and DOM attributes. Subclasses validate attributes in `coerceAttribute` (throw to reject: from the
 * front end the kernel's value is then sent back, from kernel code the error is thrown) and pair the class with an
 * interface of the same name plus `defineStateAccessors` for typed properties, as controls.ts does.
 */
export class SafesailWidget<P extends object> extends WidgetModel<SafesailState<P>> {
  /** The most numbers a JSON list in the state may hold; longer lists must be typed arrays (binary buffers). */
  static readonly maxJsonNumbers: number = 64;

  constructor(names: SafesailNames, defaults: P, init: Partial<P & SafesailDomProps> = {}, opts: WidgetOptions = {}) {
    super({ ...safesailBase(names), ...defaults } as SafesailState<P>, init as Partial<SafesailState<P>>, opts);
  }

  addClass(className: string): this {
    const classes = this.get("_dom_classes");
    if (!classes.includes(className)) this.set({ _dom_classes: [...classes, className] } as Partial<SafesailState<P>>);
    return this;
  }

  removeClass(className: string): this {
    this.set({ _dom_classes: this.get("_dom_classes").filter((c) => c !== className) } as Partial<SafesailState<P>>);
    return this;
  }

  /**
   * Validation of one attribute (kernel code and front end alike); throw to reject. Runs during construction too,
   * before a subclass's own fields exist: read only `state`, never `this`.
   */
  protected coerceAttribute(_key: string, value: unknown, _state: SafesailState<P>): unknown {
    return value;
  }

  protected override coerce(key: string, value: unknown, state: SafesailState<P>): unknown {
    const v = this.coerceAttribute(key, value, state);
    const limit = (this.constructor as typeof SafesailWidget).maxJsonNumbers;
    const bulky = bulkyNumberList(v, limit, [key]);
    if (bulky) {
      throw new Error(`${state._model_name}: "${pathText(bulky)}" is a list of more than ${limit} numbers; ` +
        `give a Float32Array (it travels as a binary buffer, not as JSON)`);
    }
    return v;
  }
}
defineStateAccessors(SafesailWidget, ["_dom_classes", "tabbable", "tooltip"]);
