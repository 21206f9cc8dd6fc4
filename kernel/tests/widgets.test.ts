// Widget protocol 2.1 on the kernel side, against an in-memory CommManager (the real kernel is exercised by
// widgets-kernel.test.ts through jupyter_client).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  baseState,
  bytesLike,
  Button,
  CONTROL_TARGET,
  displayWidget,
  Dropdown,
  getWidget,
  HBox,
  IntSlider,
  Layout,
  Output,
  putBuffers,
  removeBuffers,
  SliderStyle,
  stateEqual,
  Text,
  VBox,
  WidgetModel,
  widgets,
  WIDGET_VIEW_MIME,
  type BaseState,
  type WidgetOptions,
} from "../src/widgets/index.ts";
import { setKernel } from "../src/widgets/kernel.ts";
import { startFakeWidgetKernel, stopFakeWidgetKernel } from "./widgets-harness.ts";
import { FakeKernel } from "./widgets-fake.ts";

const MIMEBUNDLE = Symbol.for("jupyter.mimebundle");

let k: FakeKernel;
let errors: string[];

beforeEach(() => {
  ({ kernel: k, errors } = startFakeWidgetKernel());
});

afterEach(() => {
  stopFakeWidgetKernel();
  delete process.env.JUPYTER_WIDGETS_ECHO;
});

/** A model with binary state, as a custom widget would have. */
interface ArrayState extends BaseState {
  data: Float32Array;
  nested: { label: string; bytes: Uint8Array | null; parts: Array<Uint8Array | number> };
  title: string;
}
class ArrayModel extends WidgetModel<ArrayState> {
  constructor(init: Partial<ArrayState> = {}, opts: WidgetOptions = {}) {
    super({
      ...baseState(), _model_module: "safesail-test", _model_module_version: "0.1.0", _model_name: "ArrayModel",
      data: new Float32Array(0), nested: { label: "", bytes: null, parts: [] }, title: "",
    }, init, opts);
  }
}

describe("buffers by path", () => {
  it("removeBuffers takes binary values out of objects and lists without touching the input", () => {
    const f = new Float32Array([1.5, -2]);
    const b = new Uint8Array([1, 2, 3]);
    const state = { a: 1, f, obj: { x: "y", b, deep: [0, { z: b }] }, list: [f, "s", null] };
    const split = removeBuffers(state);
    expect(split.bufferPaths).toEqual([["f"], ["obj", "b"], ["obj", "deep", 1, "z"], ["list", 0]]);
    expect(split.state).toEqual({ a: 1, obj: { x: "y", deep: [0, {}] }, list: [null, "s", null] });
    expect(split.buffers[0]).toBeInstanceOf(Uint8Array);
    expect([...new Float32Array(split.buffers[0]!.slice().buffer)]).toEqual([1.5, -2]);
    expect(state.f).toBe(f);
    expect(state.obj.b).toBe(b);
    expect(state.list[0]).toBe(f);
    // Containers off the buffer paths are shared, not copied.
    const plain = { big: { k: 1 } };
    expect(removeBuffers(plain).state).toBe(plain);
  });

  it("putBuffers is the inverse", () => {
    const state = { a: 1, f: new Float64Array([3.25]), obj: { deep: [0, { z: new Uint8Array([9]) }] }, list: [new Uint8Array([7]), "s"] };
    const split = removeBuffers(state);
    const back = JSON.parse(JSON.stringify(split.state)) as Record<string, unknown>;
    putBuffers(back, split.bufferPaths, split.buffers);
    expect((back.list as unknown[])[1]).toBe("s");
    expect([...((back.list as unknown[])[0] as Uint8Array)]).toEqual([7]);
    expect([...(((back.obj as { deep: unknown[] }).deep[1] as { z: Uint8Array }).z)]).toEqual([9]);
    expect([...new Float64Array((back.f as Uint8Array).slice().buffer)]).toEqual([3.25]);
  });

  it("putBuffers rejects paths that do not lead through the state", () => {
    const one = [new Uint8Array([1])];
    expect(() => putBuffers({}, [["a", "b"]], one)).toThrow(/not an object or list/);
    expect(() => putBuffers({ a: {} }, [["__proto__", "x"]], one)).toThrow(/invalid path element/);
    expect(() => putBuffers({ a: {} }, [["a", "__proto__"]], one)).toThrow(/invalid path element/);
    expect(() => putBuffers({ a: [] }, [["a", "k"]], one)).toThrow(/not a number/);
    expect(() => putBuffers({}, [[]], one)).toThrow(/non-empty/);
    expect(() => putBuffers({}, "x", one)).toThrow(/not a list/);
    expect(() => putBuffers({ a: 1 }, [["a"], ["b"]], one)).toThrow(/2 buffers/);
    expect(() => putBuffers({}, [[1.5]], one)).toThrow(/invalid path element/);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("bytesLike keeps the field's typed array kind and checks the length", () => {
    const bytes = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const f = bytesLike(bytes.subarray(0, 12), new Float32Array(0)) as Float32Array;
    expect(f).toBeInstanceOf(Float32Array);
    expect([...f]).toEqual([1, 2, 3]);
    expect(bytesLike(bytes, null)).toBe(bytes);
    expect(() => bytesLike(bytes.subarray(1, 4), new Float32Array(0), "data")).toThrow(/data: 3 bytes/);
    // An odd offset still gives aligned floats (copied).
    const odd = new Uint8Array(13);
    odd.set(bytes.subarray(0, 12), 1);
    expect([...(bytesLike(odd.subarray(1), new Float32Array(0)) as Float32Array)]).toEqual([1, 2, 3]);
  });

  it("stateEqual compares typed arrays by kind and bytes", () => {
    expect(stateEqual(new Float32Array([1]), new Float32Array([1]))).toBe(true);
    expect(stateEqual(new Float32Array([1]), new Float32Array([2]))).toBe(false);
    expect(stateEqual(new Float32Array([0]), new Int32Array([0]))).toBe(false);
    expect(stateEqual({ a: [1, { b: "x" }] }, { a: [1, { b: "x" }] })).toBe(true);
    expect(stateEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
  });
});

describe("opening and state", () => {
  it("an IntSlider opens its layout, style and itself on jupyter.widget with version 2.1.0", () => {
    const s = widgets.IntSlider({ value: 3, min: 0, max: 10, description: "k" });
    const opens = k.sent.filter((m) => m.kind === "open");
    expect(opens.map((o) => o.data.state && (o.data.state as Record<string, unknown>)._model_name)).toEqual(["LayoutModel", "SliderStyleModel", "IntSliderModel"]);
    for (const o of opens) {
      expect(o.targetName).toBe("jupyter.widget");
      expect(o.metadata).toEqual({ version: "2.1.0" });
      expect(o.data.buffer_paths).toEqual([]);
    }
    const open = opens[2]!;
    expect(open.commId).toBe(s.modelId);
    expect(s.modelId).toMatch(/^[0-9a-f]{32}$/);
    const state = open.data.state as Record<string, unknown>;
    expect(state).toMatchObject({
      _model_module: "@jupyter-widgets/controls", _model_module_version: "2.0.0", _model_name: "IntSliderModel",
      _view_module: "@jupyter-widgets/controls", _view_module_version: "2.0.0", _view_name: "IntSliderView", _view_count: null,
      value: 3, min: 0, max: 10, step: 1, description: "k", description_allow_html: false, orientation: "horizontal",
      readout: true, readout_format: "d", continuous_update: true, disabled: false, behavior: "drag-tap",
      _dom_classes: [], tabbable: null, tooltip: null,
      layout: `IPY_MODEL_${opens[0]!.commId}`, style: `IPY_MODEL_${opens[1]!.commId}`,
    });
    const layoutState = opens[0]!.data.state as Record<string, unknown>;
    expect(layoutState).toMatchObject({ _model_module: "@jupyter-widgets/base", _model_module_version: "2.0.0", _view_name: "LayoutView", width: null, grid_area: null });
    const styleState = opens[1]!.data.state as Record<string, unknown>;
    expect(styleState).toMatchObject({ _model_module: "@jupyter-widgets/controls", _view_module: "@jupyter-widgets/base", _view_name: "StyleView", description_width: "", handle_color: null });
    expect(getWidget(s.modelId)).toBe(s);
  });

  it("layout and style can be given as attribute objects or models", () => {
    const layout = new Layout({ width: "300px" });
    const s = new IntSlider({ layout, style: { handle_color: "red" } });
    expect(s.layout).toBe(layout);
    expect(s.style).toBeInstanceOf(SliderStyle);
    expect(s.style.handle_color).toBe("red");
    const b = widgets.Button({ description: "go", layout: { width: "5em" } });
    expect(b.layout.width).toBe("5em");
  });

  it("unknown attributes and bad values are errors from kernel code", () => {
    expect(() => new IntSlider({ valu: 3 } as never)).toThrow(/no state attribute "valu"/);
    const s = new IntSlider();
    expect(() => s.set({ value: "x" as never })).toThrow(/finite number/);
    expect(() => s.set({ min: 200 })).toThrow(/min 200 > max 100/);
    expect(() => s.on("change:nope" as never, () => {})).toThrow(/unknown event/);
  });

  it("set and property setters send only what changed, coerced", () => {
    const s = new IntSlider({ max: 10 });
    k.take();
    s.value = 4;
    s.set({ value: 4 });
    s.set({ value: 20, description: "x" });
    s.value = 2.6;
    expect(k.take().map((m) => m.data)).toEqual([
      { method: "update", state: { value: 4 }, buffer_paths: [] },
      { method: "update", state: { value: 10, description: "x" }, buffer_paths: [] },
      { method: "update", state: { value: 3 }, buffer_paths: [] },
    ]);
    expect(s.value).toBe(3);
    s.max = 2; // value is clamped to the new max
    expect(k.take().map((m) => m.data.state)).toEqual([{ max: 2 }, { value: 2 }]);
  });

  it("holdSync sends one update", () => {
    const s = new IntSlider();
    k.take();
    s.holdSync(() => {
      s.value = 5;
      s.description = "d";
      s.value = 6;
    });
    expect(k.take().map((m) => m.data)).toEqual([{ method: "update", state: { value: 6, description: "d" }, buffer_paths: [] }]);
  });

  it("kernel-side changes fire change callbacks after the update is sent", () => {
    const s = new IntSlider();
    const seen: unknown[] = [];
    s.on("change:value", (v, old) => seen.push(["value", v, old, k.sent.length]));
    s.on("change", (changed, previous) => seen.push(["change", changed, previous]));
    k.take();
    s.value = 9;
    expect(seen).toEqual([["value", 9, 0, 1], ["change", { value: 9 }, { value: 0 }]]);
  });

  it("the mime bundle names the model, version 2.0; display() and the cell-result symbol use it", () => {
    const s = widgets.IntSlider({ value: 3, max: 10, description: "k" });
    const bundle = (s as unknown as Record<symbol, () => Record<string, unknown>>)[MIMEBUNDLE]!();
    expect(bundle[WIDGET_VIEW_MIME]).toEqual({ model_id: s.modelId, version_major: 2, version_minor: 0 });
    expect(bundle["text/plain"]).toBe("IntSlider(description='k', value=3, max=10)");
    expect(s._repr_mimebundle_()).toEqual(bundle);
    displayWidget(s, { displayId: "d1" });
    expect(k.displays).toEqual([{ kind: "display", bundle, displayId: "d1" }]);
    // A layout has a view name but is not something to show; a closed widget has no view.
    s.close();
    expect((s as unknown as Record<symbol, () => Record<string, unknown>>)[MIMEBUNDLE]!()[WIDGET_VIEW_MIME]).toBeUndefined();
  });

  it("close sends comm_close once and leaves the registry; a front-end close does the same without sending", () => {
    const s = new IntSlider();
    let closes = 0;
    s.on("close", () => closes++);
    k.take();
    s.close();
    s.close();
    expect(k.take()).toMatchObject([{ kind: "close", commId: s.modelId }]);
    expect(getWidget(s.modelId)).toBeUndefined();
    s.value = 5; // no comm any more: nothing sent
    expect(k.take()).toEqual([]);
    const t = new Text();
    k.take();
    t.on("close", () => closes++);
    k.comm(t.modelId).remoteClose();
    expect(t.closed).toBe(true);
    expect(k.take()).toEqual([]);
    expect(closes).toBe(2);
  });

  it("widgets created outside a kernel work locally and cannot be displayed", () => {
    setKernel(undefined);
    const s = new IntSlider({ value: 2 });
    expect(s.comm).toBeUndefined();
    s.value = 3;
    expect(s.value).toBe(3);
    expect((s as unknown as Record<symbol, () => Record<string, unknown>>)[MIMEBUNDLE]!()["text/plain"]).toBe("IntSlider(value=3)");
    expect(() => displayWidget(s, {}, k)).toThrow(/outside a kernel/);
  });
});

describe("messages from the front end", () => {
  it("update: echo_update first, then the callbacks, whose changes go out as updates", () => {
    const target = new IntSlider({ description: "target" });
    const s = new IntSlider({ max: 10 });
    const seen: unknown[] = [];
    s.on("change:value", (v, old) => {
      seen.push([v, old]);
      target.value = v * 2;
    });
    s.on("change", (changed) => seen.push(changed));
    k.take();
    k.comm(s.modelId).receive({ method: "update", state: { value: 7 }, buffer_paths: [] });
    expect(seen).toEqual([[7, 0], { value: 7 }]);
    expect(s.value).toBe(7);
    expect(k.take().map((m) => [m.commId, m.data])).toEqual([
      [s.modelId, { method: "echo_update", state: { value: 7 }, buffer_paths: [] }],
      [target.modelId, { method: "update", state: { value: 14 }, buffer_paths: [] }],
    ]);
  });

  it("update: a value the kernel coerces is sent back after the echo, before the callbacks; unchanged locked values are not", () => {
    const s = new IntSlider({ max: 10 });
    s.on("change:value", () => {
      s.description = `v=${s.value}`;
    });
    k.take();
    k.comm(s.modelId).receive({ method: "update", state: { value: 12.4 }, buffer_paths: [] });
    expect(k.take().map((m) => m.data)).toEqual([
      { method: "echo_update", state: { value: 12.4 }, buffer_paths: [] },
      { method: "update", state: { value: 10 }, buffer_paths: [] },
      { method: "update", state: { description: "v=10" }, buffer_paths: [] },
    ]);
    k.comm(s.modelId).receive({ method: "update", state: { value: 5 }, buffer_paths: [] });
    expect(k.take().map((m) => m.data)).toEqual([
      { method: "echo_update", state: { value: 5 }, buffer_paths: [] },
      { method: "update", state: { description: "v=5" }, buffer_paths: [] },
    ]);
  });

  it("update: the correction precedes what callbacks send; callbacks' own changes are filtered by the lock", () => {
    const s = new IntSlider({ max: 10 });
    s.on("change:value", (v) => {
      s.send({ seen: v });
      if (v === 10) s.value = 10; // equal to the corrected value already sent: nothing more
      if (v === 3) s.value = 4; // differs from what the front end sent: goes out
    });
    k.take();
    k.comm(s.modelId).receive({ method: "update", state: { value: 50 }, buffer_paths: [] });
    expect(k.take().map((m) => m.data)).toEqual([
      { method: "echo_update", state: { value: 50 }, buffer_paths: [] },
      { method: "update", state: { value: 10 }, buffer_paths: [] },
      { method: "custom", content: { seen: 10 } },
    ]);
    k.comm(s.modelId).receive({ method: "update", state: { value: 3 }, buffer_paths: [] });
    expect(k.take().map((m) => m.data)).toEqual([
      { method: "echo_update", state: { value: 3 }, buffer_paths: [] },
      { method: "custom", content: { seen: 3 } },
      { method: "update", state: { value: 4 }, buffer_paths: [] },
      { method: "custom", content: { seen: 4 } },
    ]);
  });

  it("update: a rejected value is logged and the kernel's value sent back; unknown attributes are ignored", () => {
    const s = new IntSlider({ value: 4 });
    k.take();
    k.comm(s.modelId).receive({ method: "update", state: { value: "abc", bogus: 1 }, buffer_paths: [] });
    expect(k.take().map((m) => m.data)).toEqual([
      { method: "echo_update", state: { value: "abc" }, buffer_paths: [] },
      { method: "update", state: { value: 4 }, buffer_paths: [] },
    ]);
    expect(errors.join("\n")).toMatch(/rejected "value"/);
  });

  it("echo_update can be switched off globally (JUPYTER_WIDGETS_ECHO=0) and per attribute", () => {
    const s = new IntSlider();
    k.take();
    process.env.JUPYTER_WIDGETS_ECHO = "0";
    k.comm(s.modelId).receive({ method: "update", state: { value: 3 }, buffer_paths: [] });
    expect(k.take()).toEqual([]);
    delete process.env.JUPYTER_WIDGETS_ECHO;
    class Quiet extends ArrayModel {
      static override readonly noEcho = ["data"];
    }
    const q = new Quiet();
    k.take();
    k.comm(q.modelId).receive({ method: "update", state: { title: "t", data: null }, buffer_paths: [["data"]] }, [new Uint8Array(8)]);
    expect(k.take().map((m) => m.data)).toEqual([{ method: "echo_update", state: { title: "t" }, buffer_paths: [] }]);
    expect([...q.get("data")]).toEqual([0, 0]);
  });

  it("request_state answers with the full state", () => {
    const s = new IntSlider({ value: 3 });
    k.take();
    k.comm(s.modelId).receive({ method: "request_state" });
    const [m] = k.take();
    expect(m!.data.method).toBe("update");
    expect(m!.data.state).toMatchObject({ value: 3, _model_name: "IntSliderModel", layout: `IPY_MODEL_${s.layout.modelId}` });
    expect(Object.keys(m!.data.state as object).sort()).toEqual(s.keys.sort());
  });

  it("binary state travels as buffers with buffer_paths, both ways", () => {
    const a = new ArrayModel({ data: new Float32Array([0.5, 1.5]), nested: { label: "n", bytes: new Uint8Array([1, 2]), parts: [3, new Uint8Array([4])] } });
    const open = k.sent.find((m) => m.kind === "open" && m.commId === a.modelId)!;
    expect(open.data.buffer_paths).toEqual([["data"], ["nested", "bytes"], ["nested", "parts", 1]]);
    expect(open.data.state).toMatchObject({ nested: { label: "n", parts: [3, null] } });
    expect("data" in (open.data.state as object)).toBe(false);
    expect(open.buffers.map((b) => [...b])).toEqual([[...new Uint8Array(new Float32Array([0.5, 1.5]).buffer)], [1, 2], [4]]);
    k.take();

    // From the front end: the bytes land at their paths; a top-level Float32Array field stays a Float32Array.
    const seen: Float32Array[] = [];
    a.on("change:data", (v) => seen.push(v));
    const incoming = new Uint8Array(new Float32Array([7, 8, 9]).buffer);
    k.comm(a.modelId).receive({ method: "update", state: { nested: { label: "m", parts: [null] } }, buffer_paths: [["data"], ["nested", "parts", 0]] }, [incoming, new Uint8Array([5])]);
    expect(seen).toHaveLength(1);
    expect(a.get("data")).toBeInstanceOf(Float32Array);
    expect([...a.get("data")]).toEqual([7, 8, 9]);
    expect(a.get("nested").label).toBe("m");
    expect([...(a.get("nested").parts[0] as Uint8Array)]).toEqual([5]);
    const echo = k.take()[0]!;
    expect(echo.data).toEqual({ method: "echo_update", state: { nested: { label: "m", parts: [null] } }, buffer_paths: [["nested", "parts", 0], ["data"]] });
    expect(echo.buffers.map((b) => b.byteLength)).toEqual([1, 12]);
    expect(k.sent).toEqual([]); // nothing differs from what the front end sent

    // Kernel-side set with binary.
    a.set({ data: new Float32Array([1]) });
    const up = k.take()[0]!;
    expect(up.data).toEqual({ method: "update", state: {}, buffer_paths: [["data"]] });
    expect([...new Float32Array(up.buffers[0]!.slice().buffer)]).toEqual([1]);
  });

  it("custom messages both ways; Button clicks and Text submits", () => {
    const b = new Button({ description: "go" });
    const t = new Text();
    const got: unknown[] = [];
    b.onClick((btn) => got.push(["click", btn === b]));
    b.on("msg:custom", (content, buffers) => got.push(["custom", content, buffers.length]));
    t.onSubmit((x) => got.push(["submit", x.value]));
    k.comm(b.modelId).receive({ method: "custom", content: { event: "click" } });
    k.comm(b.modelId).receive({ method: "custom", content: { hello: 1 } }, [new Uint8Array([1])]);
    k.comm(t.modelId).receive({ method: "update", state: { value: "typed" }, buffer_paths: [] });
    k.comm(t.modelId).receive({ method: "custom", content: { event: "submit" } });
    expect(got).toEqual([["click", true], ["custom", { event: "click" }, 0], ["custom", { hello: 1 }, 1], ["submit", "typed"]]);
    k.take();
    b.send({ ping: 2 }, [new Float64Array([1])]);
    const [m] = k.take();
    expect(m!.data).toEqual({ method: "custom", content: { ping: 2 } });
    expect(m!.buffers[0]!.byteLength).toBe(8);
  });

  it("failing callbacks and malformed messages are reported, never thrown into the comm layer", async () => {
    const s = new IntSlider();
    s.on("change:value", () => {
      throw new Error("boom");
    });
    s.on("change:value", async () => {
      throw new Error("async boom");
    });
    const c = k.comm(s.modelId);
    expect(() => c.receive({ method: "update", state: { value: 1 }, buffer_paths: [] })).not.toThrow();
    expect(s.value).toBe(1);
    for (const bad of [null, 1, {}, { method: 5 }, { method: "nope" }, { method: "update" }, { method: "update", state: [] },
      { method: "update", state: {}, buffer_paths: [["x", "y"]] }, { method: "update", state: { value: 2 }, buffer_paths: [["value"]] },
      { method: "custom" }, { method: "update", state: { layout: "IPY_MODEL_missing" }, buffer_paths: [] }]) {
      expect(() => c.receive(bad)).not.toThrow();
    }
    await new Promise((r) => setTimeout(r, 0));
    const log = errors.join("\n");
    expect(log).toMatch(/boom/);
    expect(log).toMatch(/async boom/);
    expect(log).toMatch(/unknown method/);
    expect(log).toMatch(/without a state object/);
    expect(log).toMatch(/no open widget IPY_MODEL_missing/);
    expect(s.layout).toBeInstanceOf(Layout);
  });
});

describe("containers, selection, output, control comm", () => {
  it("box children serialise as IPY_MODEL_ references and resolve from the front end", () => {
    const a = new IntSlider();
    const b = new Button();
    const box = widgets.HBox([a, b], { box_style: "info" });
    const open = k.sent.find((m) => m.commId === box.modelId)!;
    expect(open.data.state).toMatchObject({ _model_name: "HBoxModel", _view_name: "HBoxView", children: [`IPY_MODEL_${a.modelId}`, `IPY_MODEL_${b.modelId}`], box_style: "info" });
    expect((open.data.state as Record<string, unknown>).style).toBeUndefined();
    k.comm(box.modelId).receive({ method: "update", state: { children: [`IPY_MODEL_${b.modelId}`] }, buffer_paths: [] });
    expect(box.children).toEqual([b]);
    const v = new VBox({ children: [box] });
    expect(v.children[0]).toBe(box);
    expect(() => new HBox([{} as never])).toThrow(/list of widgets/);
  });

  it("Dropdown keeps values kernel-side and syncs labels and index", () => {
    const d = new Dropdown<number>({ options: [["one", 1], ["two", 2]], value: 2, description: "n" });
    const open = k.sent.find((m) => m.commId === d.modelId)!;
    expect(open.data.state).toMatchObject({ _model_name: "DropdownModel", _options_labels: ["one", "two"], index: 1 });
    expect(d.value).toBe(2);
    expect(d.label).toBe("two");
    k.comm(d.modelId).receive({ method: "update", state: { index: 0 }, buffer_paths: [] });
    expect(d.value).toBe(1);
    k.take();
    k.comm(d.modelId).receive({ method: "update", state: { index: 9 }, buffer_paths: [] });
    expect(k.take().map((m) => m.data.state)).toEqual([{ index: 9 }, { index: 0 }]);
    expect(() => (d.value = 3)).toThrow(/not one of the options/);
    const s = widgets.Dropdown({ options: ["a", "b"] });
    expect(s.value).toBe("a");
  });

  it("Output: outputs by state, and capture sets msg_id to the current request then clears it", async () => {
    const out = widgets.Output();
    const open = k.sent.find((m) => m.commId === out.modelId)!;
    expect(open.data.state).toMatchObject({ _model_module: "@jupyter-widgets/output", _model_module_version: "1.0.0", _model_name: "OutputModel", _view_name: "OutputView", msg_id: "", outputs: [] });
    k.take();
    out.appendStdout("hi\n").appendDisplayData({ "text/html": "<b>x</b>" });
    expect(out.outputs).toEqual([
      { output_type: "stream", name: "stdout", text: "hi\n" },
      { output_type: "display_data", data: { "text/html": "<b>x</b>" }, metadata: {} },
    ]);
    out.clear();
    expect(out.outputs).toEqual([]);
    k.take();
    k.parent = "exec-42";
    const r = await out.capture(async () => {
      expect(out.msg_id).toBe("exec-42");
      await out.capture(() => expect(out.msg_id).toBe("exec-42"));
      expect(out.msg_id).toBe("exec-42");
      return 5;
    });
    expect(r).toBe(5);
    expect(out.msg_id).toBe("");
    expect(k.take().map((m) => m.data.state)).toEqual([{ msg_id: "exec-42" }, { msg_id: "" }]);
    await expect(out.capture(() => {
      throw new Error("inner");
    })).rejects.toThrow("inner");
    expect(out.msg_id).toBe("");
  });

  it("the control comm answers request_states with every open widget", () => {
    const s = new IntSlider({ value: 1 });
    const a = new ArrayModel({ data: new Float32Array([2]) });
    const ctl = k.frontendOpen(CONTROL_TARGET);
    ctl.receive({ method: "request_states" });
    const reply = k.on(ctl.commId, "update_states")[0]!;
    const states = reply.data.states as Record<string, { model_name: string; model_module: string; model_module_version: string; state: Record<string, unknown> }>;
    expect(states[s.modelId]).toMatchObject({ model_name: "IntSliderModel", model_module: "@jupyter-widgets/controls", model_module_version: "2.0.0", state: { value: 1 } });
    expect(states[s.layout.modelId]!.model_name).toBe("LayoutModel");
    expect(reply.data.buffer_paths).toEqual([[a.modelId, "state", "data"]]);
    expect(reply.buffers).toHaveLength(1);
    ctl.receive({ method: "other" });
    expect(errors.join("\n")).toMatch(/control comm/);
  });
});

describe("Image", () => {
  it("sends its bytes as a buffer and takes new bytes from the front end", () => {
    const img = widgets.Image({ value: new Uint8Array([137, 80, 78, 71]), width: "32px" });
    const open = k.sent.find((m) => m.commId === img.modelId)!;
    expect(open.data.buffer_paths).toEqual([["value"]]);
    expect(open.data.state).toMatchObject({ _model_name: "ImageModel", _view_name: "ImageView", format: "png", width: "32px", height: "" });
    expect([...open.buffers[0]!]).toEqual([137, 80, 78, 71]);
    k.comm(img.modelId).receive({ method: "update", state: {}, buffer_paths: [["value"]] }, [new Uint8Array([1, 2])]);
    expect(img.value).toBeInstanceOf(Uint8Array);
    expect([...img.value]).toEqual([1, 2]);
  });
});

describe("registry", () => {
  it("Widget.widgets lists the open models by id", async () => {
    const { Widget } = await import("../src/widgets/index.ts");
    const s = new IntSlider();
    expect(Widget.widgets.get(s.modelId)).toBe(s);
    expect(Widget.widgets.get(s.layout.modelId)).toBe(s.layout);
    s.close();
    expect(Widget.widgets.has(s.modelId)).toBe(false);
  });
});
