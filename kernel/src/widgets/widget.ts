// Kernel side of the Jupyter widget message protocol, version 2.1 (ipywidgets 8 / @jupyter-widgets/base 6 front
// ends, JupyterLab's widget manager 5.x):
//
//   kernel -> front end   comm_open  target "jupyter.widget", data {state, buffer_paths}, metadata {version: "2.1.0"}
//                         comm_msg   {method: "update", state, buffer_paths}        (kernel-side changes)
//                         comm_msg   {method: "echo_update", state, buffer_paths}   (front-end changes, echoed)
//                         comm_msg   {method: "custom", content}                    (WidgetModel.send)
//                         comm_close                                               (WidgetModel.close)
//   front end -> kernel   comm_msg   {method: "update", state, buffer_paths}
//                         comm_msg   {method: "request_state"}  -> a full "update"
//                         comm_msg   {method: "custom", content}  -> on("msg:custom")
//   control comm          target "jupyter.widget.control": {method: "request_states"} -> {method: "update_states",
//                         states: {model_id: {model_name, model_module, model_module_version, state}}, buffer_paths}
//
// Echo ordering. For a front-end update the kernel sends the echo_update *before* applying the state and running
// the change callbacks, as ipywidgets does. The 8.x front end records, per attribute, the msg_id of its own update
// and applies the echo whose parent_header.msg_id matches it; plain "update" messages are always applied. If the
// echo came after a callback's "update" (a clamp, say), the front end would apply the stale echoed value last and
// disagree with the kernel. Echoes can be switched off with JUPYTER_WIDGETS_ECHO=0 (as in ipywidgets) and per
// attribute (a class's `noEcho`); front ends before 8.0 ignore the method.
//
// While a front-end update is applied, its attributes are "locked" at the received values: an attribute equal to
// what the front end sent is not sent back (it has it already). A value the kernel coerces (IntSlider rounds and
// clamps) or rejects differs from the lock, so an "update" corrects the front end, before the change callbacks
// run; what the callbacks change goes out as they change it (use holdSync inside a callback to batch).
import { randomUUID } from "node:crypto";
import type { Comm, CommMessage, DisplayOptions, JsonObject, KernelApi, MimeBundle } from "../types.ts";
import { asBytes, bytesLike, isBinary, putBuffers, removeBuffers, stateEqual, type BufferPath } from "./buffers.ts";
import { currentKernel, MIMEBUNDLE, setKernel } from "./kernel.ts";

export const PROTOCOL_VERSION = "2.1.0";
export const WIDGET_TARGET = "jupyter.widget";
export const CONTROL_TARGET = "jupyter.widget.control";
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";

export const BASE_MODULE = "@jupyter-widgets/base";
export const BASE_VERSION = "2.0.0";
export const CONTROLS_MODULE = "@jupyter-widgets/controls";
export const CONTROLS_VERSION = "2.0.0";
export const OUTPUT_MODULE = "@jupyter-widgets/output";
export const OUTPUT_VERSION = "1.0.0";

/** The attributes every widget model syncs. */
export interface BaseState {
  _model_module: string;
  _model_module_version: string;
  _model_name: string;
  _view_module: string | null;
  _view_module_version: string;
  _view_name: string | null;
  _view_count: number | null;
}

export function baseState(): BaseState {
  return {
    _model_module: BASE_MODULE,
    _model_module_version: BASE_VERSION,
    _model_name: "WidgetModel",
    _view_module: BASE_MODULE,
    _view_module_version: BASE_VERSION,
    _view_name: null,
    _view_count: null,
  };
}

export interface WidgetOptions {
  /** The kernel to open the comm on; default: the running kernel (currentKernel()). */
  kernel?: KernelApi;
  /** Model id (= comm id); default: a random 32-hex-digit id. */
  modelId?: string;
}

export type ChangeCallback<V> = (value: V, old: V) => unknown;
export type AnyChangeCallback<S> = (changed: Partial<S>, previous: Partial<S>) => unknown;
export type CustomCallback = (content: JsonObject, buffers: Uint8Array[]) => unknown;

// ---- registry (shared by every copy of this module, see kernel.ts) ----

const REGISTRY_KEY = Symbol.for("safesail.widgets.registry");
const CONTROL_KEY = Symbol.for("safesail.widgets.control");
type Global = typeof globalThis & {
  [REGISTRY_KEY]?: Map<string, WidgetModel<BaseState>>;
  [CONTROL_KEY]?: WeakSet<KernelApi>;
};

function registry(): Map<string, WidgetModel<BaseState>> {
  const g = globalThis as Global;
  return (g[REGISTRY_KEY] ??= new Map());
}

/** The open widget with this model id. */
export function getWidget(modelId: string): WidgetModel<BaseState> | undefined {
  return registry().get(modelId);
}

/** Every open widget, by model id. */
export function allWidgets(): ReadonlyMap<string, WidgetModel<BaseState>> {
  return registry();
}

// ---- serialisation ----

export const MODEL_REF_PREFIX = "IPY_MODEL_";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A state value in wire form (widgets as "IPY_MODEL_<id>", binary left in place for removeBuffers). */
export function toWire(value: unknown): unknown {
  if (value instanceof WidgetModel) return MODEL_REF_PREFIX + value.modelId;
  if (value === undefined) return null;
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return null; // JSON has no NaN / Infinity
    if (typeof value === "bigint") return Number(value);
    return value;
  }
  if (isBinary(value)) return value;
  if (Array.isArray(value)) return value.map(toWire);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWire(v);
    return out;
  }
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === "function") return toWire(withJson.toJSON());
  return String(value);
}

/** Wire form of (some keys of) a state: {state, buffer_paths} plus the buffers. */
export function serializeState(state: Record<string, unknown>): { state: JsonObject; buffer_paths: BufferPath[]; buffers: Uint8Array[] } {
  const wire: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(state)) wire[k] = toWire(v);
  const split = removeBuffers(wire);
  return { state: split.state, buffer_paths: split.bufferPaths, buffers: split.buffers };
}

/** Wire form with every binary value as a Uint8Array, for comparing what was received with what the kernel has. */
function wireBytes(value: unknown): unknown {
  const w = toWire(value);
  const norm = (v: unknown): unknown => {
    if (isBinary(v)) return asBytes(v);
    if (Array.isArray(v)) return v.map(norm);
    if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
    return v;
  };
  return norm(w);
}

function resolveRef(value: unknown, key: string): unknown {
  if (typeof value === "string" && value.startsWith(MODEL_REF_PREFIX)) {
    const w = getWidget(value.slice(MODEL_REF_PREFIX.length));
    if (!w) throw new Error(`"${key}": no open widget ${value}`);
    return w;
  }
  if (Array.isArray(value)) return value.map((v) => resolveRef(v, key));
  if (value === null) return null;
  throw new Error(`"${key}": expected a widget reference "${MODEL_REF_PREFIX}<id>", got ${JSON.stringify(value)}`);
}

function echoEnabled(): boolean {
  const v = process.env.JUPYTER_WIDGETS_ECHO;
  return v === undefined || !/^(0|false|no|off)$/i.test(v.trim());
}

function report(where: string, err: unknown): void {
  // Goes to the kernel's stderr stream (or its log when no request is being handled); never thrown into the
  // comm dispatcher, so a failing callback or a malformed message cannot take the kernel down.
  console.error(`${where}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
}

// ---- the model ----

export class WidgetModel<S extends BaseState = BaseState> {
  /** The open widgets by model id (the same map as allWidgets()). */
  static get widgets(): ReadonlyMap<string, WidgetModel<BaseState>> {
    return registry();
  }
  /** State keys whose values are widget references ("IPY_MODEL_<id>" on the wire, single or in a list). */
  static readonly refKeys: readonly string[] = [];
  /** State keys never echoed back to the front end (large or write-only values). */
  static readonly noEcho: readonly string[] = [];

  readonly modelId: string;
  #state: S;
  readonly #defaults: S;
  readonly #keys: ReadonlySet<string>;
  #comm: Comm | undefined;
  #closed = false;
  #listeners = new Map<string, Array<(...args: never[]) => unknown>>();
  #hold = 0;
  #pending = new Set<string>();
  /** Wire values of the attributes being applied from a front-end update (see the file comment). */
  #lock: Map<string, unknown> | null = null;

  constructor(defaults: S, init: Partial<S> = {}, opts: WidgetOptions = {}) {
    this.modelId = opts.modelId ?? randomUUID().replace(/-/g, "");
    this.#defaults = defaults;
    this.#keys = new Set(Object.keys(defaults));
    const state = { ...defaults };
    for (const [k, v] of Object.entries(init)) {
      if (v === undefined) continue;
      if (!this.#keys.has(k)) throw new Error(`${defaults._model_name}: no state attribute "${k}"`);
      (state as Record<string, unknown>)[k] = v;
    }
    this.#state = state;
    for (const k of this.#keys) {
      (this.#state as Record<string, unknown>)[k] = this.coerce(k, (state as Record<string, unknown>)[k], this.#state);
    }
    const api = opts.kernel ?? currentKernel();
    if (api) {
      attachControlComm(api);
      const wire = serializeState(this.#state as unknown as Record<string, unknown>);
      const comm = api.comms.open(WIDGET_TARGET, { state: wire.state, buffer_paths: wire.buffer_paths }, {
        commId: this.modelId,
        metadata: { version: PROTOCOL_VERSION },
        buffers: wire.buffers,
      });
      this.#comm = comm;
      comm.onMessage((msg) => this.#onMessage(msg));
      comm.onClose(() => this.#closeLocal());
    }
    registry().set(this.modelId, this as unknown as WidgetModel<BaseState>);
  }

  /** The comm to the front end (undefined when created outside a kernel). */
  get comm(): Comm | undefined {
    return this.#comm;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** State attribute names. */
  get keys(): string[] {
    return [...this.#keys];
  }

  get<K extends keyof S & string>(key: K): S[K] {
    return this.#state[key];
  }

  /** A shallow copy of the whole state. */
  getState(): S {
    return { ...this.#state };
  }

  /**
   * Sets attributes from kernel code: coerces, stores, sends one "update" with the attributes that changed (unless
   * sends are held), then fires `change:<key>` callbacks and one `change`.
   */
  set(values: Partial<S>): this {
    for (const k of Object.keys(values)) {
      if (!this.#keys.has(k)) throw new Error(`${this.#state._model_name}: no state attribute "${k}"`);
    }
    const { changed, previous } = this.#assign(values as Record<string, unknown>, false);
    if (this.#hold === 0) this.#flush();
    this.#notify(changed, previous);
    return this;
  }

  /** Runs `fn` with state sends held: every attribute changed inside goes out in one "update" at the end. */
  holdSync<T>(fn: () => T): T {
    this.#hold++;
    try {
      return fn();
    } finally {
      this.#hold--;
      if (this.#hold === 0) this.#flush();
    }
  }

  /** Sends the full state (or the given keys) as an "update". */
  sendState(keys: string[] = [...this.#keys]): void {
    const picked: Record<string, unknown> = {};
    for (const k of keys) picked[k] = (this.#state as Record<string, unknown>)[k];
    const wire = serializeState(picked);
    this.#sendRaw({ method: "update", state: wire.state, buffer_paths: wire.buffer_paths }, wire.buffers);
  }

  /** A custom message to the front end's model (`msg:custom` there). */
  send(content: JsonObject, buffers: Array<ArrayBufferView | ArrayBuffer> = []): void {
    this.#sendRaw({ method: "custom", content }, buffers.map(asBytes));
  }

  on<K extends keyof S & string>(event: `change:${K}`, cb: ChangeCallback<S[K]>): this;
  on(event: "change", cb: AnyChangeCallback<S>): this;
  on(event: "msg:custom", cb: CustomCallback): this;
  on(event: "close", cb: () => unknown): this;
  on(event: string, cb: (...args: never[]) => unknown): this {
    this.#checkEvent(event);
    const list = this.#listeners.get(event) ?? [];
    list.push(cb);
    this.#listeners.set(event, list);
    return this;
  }

  /** Removes a callback (or every callback of the event). */
  off(event: string, cb?: (...args: never[]) => unknown): this {
    if (!cb) this.#listeners.delete(event);
    else this.#listeners.set(event, (this.#listeners.get(event) ?? []).filter((f) => f !== cb));
    return this;
  }

  /** Closes the comm (front-end views go away) and drops the widget from the registry. */
  close(): void {
    if (this.#closed) return;
    const comm = this.#comm;
    this.#closeLocal();
    if (comm && !comm.closed) comm.close();
  }

  /** The display bundle: widget view (when the model has a view) plus a text/plain fallback. */
  _repr_mimebundle_(): MimeBundle {
    const bundle: MimeBundle = { "text/plain": this.repr(110) };
    if (this.#state._view_name !== null && !this.#closed) {
      bundle[WIDGET_VIEW_MIME] = { model_id: this.modelId, version_major: 2, version_minor: 0 };
    }
    return bundle;
  }

  [MIMEBUNDLE](): MimeBundle {
    return this._repr_mimebundle_();
  }

  /** `IntSlider(value=3, max=10, description='k')`: the attributes that differ from the defaults. */
  repr(maxLength = Infinity): string {
    const parts: string[] = [];
    for (const k of this.#keys) {
      if (k.startsWith("_")) continue;
      const v = (this.#state as Record<string, unknown>)[k];
      if (v instanceof WidgetModel) continue; // layout, style
      if (stateEqual(v, (this.#defaults as Record<string, unknown>)[k])) continue;
      parts.push(`${k}=${reprValue(v)}`);
    }
    const name = this.#state._model_name.replace(/Model$/, "");
    const s = `${name}(${parts.join(", ")})`;
    return s.length > maxLength ? `${s.slice(0, maxLength)}…` : s;
  }

  toString(): string {
    return this.repr();
  }

  /** Coercion / validation of one attribute, from kernel code or the front end; throw to reject. */
  protected coerce(_key: string, value: unknown, _state: S): unknown {
    return value;
  }

  /** Fires an event's callbacks; errors (and rejected promises) are reported, not thrown. */
  protected emit(event: string, ...args: unknown[]): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    for (const cb of [...list]) {
      try {
        const r = (cb as (...a: unknown[]) => unknown)(...args);
        if (r && typeof (r as Promise<unknown>).then === "function") {
          (r as Promise<unknown>).then(undefined, (err) => report(`${this.repr(60)} "${event}" callback`, err));
        }
      } catch (err) {
        report(`${this.repr(60)} "${event}" callback`, err);
      }
    }
  }

  // ---- internals ----

  #checkEvent(event: string): void {
    if (event === "change" || event === "msg:custom" || event === "close") return;
    if (event.startsWith("change:") && this.#keys.has(event.slice(7))) return;
    throw new Error(`${this.#state._model_name}: unknown event "${event}" (change, change:<attribute>, msg:custom, close)`);
  }

  #assign(values: Record<string, unknown>, fromFrontend: boolean): { changed: Record<string, unknown>; previous: Record<string, unknown> } {
    const changed: Record<string, unknown> = {};
    const previous: Record<string, unknown> = {};
    const state = this.#state as Record<string, unknown>;
    for (const [k, raw] of Object.entries(values)) {
      let v: unknown;
      try {
        v = this.coerce(k, raw, this.#state);
      } catch (err) {
        if (!fromFrontend) throw err;
        report(`${this.repr(60)}: rejected "${k}" from the front end`, err);
        this.#pending.add(k); // the lock holds the rejected value, so the current one goes back
        continue;
      }
      const old = state[k];
      if (stateEqual(old, v)) continue;
      state[k] = v;
      changed[k] = v;
      previous[k] = old;
      this.#pending.add(k);
    }
    return { changed, previous };
  }

  #notify(changed: Record<string, unknown>, previous: Record<string, unknown>): void {
    const keys = Object.keys(changed);
    if (keys.length === 0) return;
    for (const k of keys) this.emit(`change:${k}`, changed[k], previous[k]);
    this.emit("change", changed, previous);
  }

  #flush(): void {
    if (this.#pending.size === 0) return;
    const keys = [...this.#pending];
    this.#pending.clear();
    const picked: Record<string, unknown> = {};
    const state = this.#state as Record<string, unknown>;
    for (const k of keys) {
      if (this.#lock?.has(k) && stateEqual(wireBytes(state[k]), this.#lock.get(k))) continue;
      picked[k] = state[k];
    }
    if (Object.keys(picked).length === 0) return;
    const wire = serializeState(picked);
    this.#sendRaw({ method: "update", state: wire.state, buffer_paths: wire.buffer_paths }, wire.buffers);
  }

  #sendRaw(data: JsonObject, buffers: Uint8Array[]): void {
    const comm = this.#comm;
    if (!comm || comm.closed || this.#closed) return;
    comm.send(data, buffers.length ? { buffers } : {});
  }

  #closeLocal(): void {
    if (this.#closed) return;
    this.#closed = true;
    registry().delete(this.modelId);
    this.emit("close");
  }

  #onMessage(msg: CommMessage): void {
    try {
      const data = msg.data ?? {};
      const method = data.method;
      if (method === "update") {
        const state = data.state;
        if (!isPlainObject(state)) throw new Error(`"update" without a state object`);
        putBuffers(state, data.buffer_paths, msg.buffers ?? []);
        this.#applyFromFrontend(state);
      } else if (method === "request_state") {
        this.sendState();
      } else if (method === "custom") {
        const content = isPlainObject(data.content) ? (data.content as JsonObject) : {};
        this.emit("msg:custom", content, msg.buffers ?? []);
      } else {
        throw new Error(`unknown method ${JSON.stringify(method)}`);
      }
    } catch (err) {
      report(`widget ${this.#state._model_name} ${this.modelId}: comm message not handled`, err);
    }
  }

  #applyFromFrontend(received: Record<string, unknown>): void {
    const ctor = this.constructor as typeof WidgetModel;
    const keys = Object.keys(received).filter((k) => this.#keys.has(k));
    if (keys.length === 0) return;

    // 1. Echo what the front end sent, before anything the callbacks send (see the file comment).
    if (echoEnabled()) {
      const echo: Record<string, unknown> = {};
      for (const k of keys) if (!ctor.noEcho.includes(k)) echo[k] = received[k];
      if (Object.keys(echo).length > 0) {
        const wire = serializeState(echo);
        this.#sendRaw({ method: "echo_update", state: wire.state, buffer_paths: wire.buffer_paths }, wire.buffers);
      }
    }

    // 2. Wire values -> kernel values: widget references, typed arrays of the attribute's current kind.
    const values: Record<string, unknown> = {};
    const state = this.#state as Record<string, unknown>;
    for (const k of keys) {
      let v = received[k];
      try {
        if (ctor.refKeys.includes(k)) v = resolveRef(v, k);
        else if (isBinary(v)) v = bytesLike(v instanceof Uint8Array ? v : new Uint8Array(v as ArrayBuffer), state[k], k);
      } catch (err) {
        report(`${this.repr(60)}: rejected "${k}" from the front end`, err);
        this.#pending.add(k);
        continue;
      }
      values[k] = v;
    }

    // 3. Apply under the lock: first an update for what the kernel coerced or rejected (differs from the lock),
    //    then the callbacks, whose own changes go out as they make them (still filtered by the lock), as in
    //    ipywidgets, so the front end has the corrected state before anything a callback sends.
    const outerLock = this.#lock;
    this.#lock = new Map(keys.map((k) => [k, wireBytes(received[k])]));
    try {
      const { changed, previous } = this.#assign(values, true);
      if (this.#hold === 0) this.#flush();
      this.#notify(changed, previous);
    } finally {
      this.#lock = outerLock;
    }
  }
}

/** ipywidgets' name for the base class: `Widget.widgets` is the registry of open models by id. */
export const Widget = WidgetModel;
export type Widget<S extends BaseState = BaseState> = WidgetModel<S>;

function reprValue(v: unknown): string {
  if (typeof v === "string") return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (v instanceof WidgetModel) return v.repr(40);
  if (Array.isArray(v)) return `[${v.map(reprValue).join(", ")}]`;
  if (isBinary(v)) return `<${v.constructor.name} ${v.byteLength} bytes>`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Typed property accessors for a widget class's state attributes (`slider.value = 4` is `slider.set({value: 4})`).
 * Pair with an interface of the same name as the class that extends the state type, so TypeScript sees them.
 */
export function defineStateAccessors(cls: { prototype: object; name: string }, keys: Iterable<string>): void {
  for (const key of keys) {
    const existing = findDescriptor(cls.prototype, key);
    if (existing) {
      if (existing.get && STATE_GETTERS.has(existing.get)) continue; // inherited from a base class's accessors
      throw new Error(`${cls.name}: state attribute "${key}" clashes with a member`);
    }
    const get = function (this: WidgetModel<BaseState>) {
      return this.get(key as keyof BaseState);
    };
    STATE_GETTERS.add(get);
    Object.defineProperty(cls.prototype, key, {
      configurable: true,
      enumerable: false,
      get,
      set(this: WidgetModel<BaseState>, value: unknown) {
        this.set({ [key]: value } as Partial<BaseState>);
      },
    });
  }
}

const STATE_GETTERS = new WeakSet<object>();

function findDescriptor(proto: object | null, key: string): PropertyDescriptor | undefined {
  for (let p = proto; p; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, key);
    if (d) return d;
  }
  return undefined;
}

// ---- the control comm and kernel attachment ----

function attachControlComm(api: KernelApi): void {
  const g = globalThis as Global;
  const done = (g[CONTROL_KEY] ??= new WeakSet());
  if (done.has(api)) return;
  done.add(api);
  api.comms.registerTarget(CONTROL_TARGET, (comm) => {
    comm.onMessage((msg) => {
      try {
        const method = msg.data?.method;
        if (method !== "request_states") throw new Error(`unknown method ${JSON.stringify(method)}`);
        const states: Record<string, unknown> = {};
        for (const [id, w] of registry()) {
          if (w.closed) continue;
          const s = w.getState();
          const wire: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(s)) wire[k] = toWire(v);
          states[id] = { model_name: s._model_name, model_module: s._model_module, model_module_version: s._model_module_version, state: wire };
        }
        const split = removeBuffers(states);
        comm.send({ method: "update_states", states: split.state, buffer_paths: split.bufferPaths }, split.buffers.length ? { buffers: split.buffers } : {});
      } catch (err) {
        report(`widget control comm ${comm.commId}`, err);
      }
    });
  });
}

/**
 * What the kernel core calls once at start-up: makes `api` the kernel widgets and notebook progress use, and
 * registers the "jupyter.widget.control" comm target (front ends fetch every widget's state through it on reload).
 */
export function attachWidgets(api: KernelApi): void {
  setKernel(api);
  attachControlComm(api);
}

/** Shows a widget (or anything with a mime bundle) as display_data. */
export function displayWidget(widget: WidgetModel<BaseState> | { [MIMEBUNDLE](): MimeBundle }, opts: DisplayOptions = {}, api: KernelApi | undefined = currentKernel()): void {
  if (!api) throw new Error("displayWidget: not running in a kernel");
  if (widget instanceof WidgetModel && !widget.comm) throw new Error(`displayWidget: ${widget.repr(60)} was created outside a kernel (no comm)`);
  api.display.display(widget[MIMEBUNDLE](), opts);
}
