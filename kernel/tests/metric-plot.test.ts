// MetricPlot (kernel/src/widgets/metric-plot.ts) and the SafesailWidget base (custom.ts) against the in-memory front
// end of widgets-fake.ts: what comm_open announces, traces as binary buffers, recompute on a control change, the
// correction of a value that is not an option, errors, and stale results dropped when changes race.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { METRIC_PLOT_MODEL, METRIC_PLOT_VIEW, MODULE_NAME, MODULE_VERSION, type PlotTrace } from "../../widgets/src/protocol.ts";
import { configurationFigure, sweepChoices, type SweepFigureInput } from "../../src/metrics/figures.ts";
import {
  bulkyNumberList,
  CONTROL_TARGET,
  MetricPlot,
  metricPlot,
  SafesailWidget,
  toFloat32Array,
  WIDGET_VIEW_MIME,
  type MetricPlotFigure,
  type MetricPlotRequest,
} from "../src/widgets/index.ts";
import { startFakeWidgetKernel, stopFakeWidgetKernel } from "./widgets-harness.ts";
import { FakeKernel, type Sent } from "./widgets-fake.ts";

let k: FakeKernel;
let errors: string[];

beforeEach(() => {
  ({ kernel: k, errors } = startFakeWidgetKernel());
});

afterEach(() => {
  stopFakeWidgetKernel();
});

const TS = [0, 0.25, 0.5, 0.75];
/** A deterministic stand-in for the metrics: y depends on every control, so a test knows what each choice draws. */
function figureFor({ layer, site, k: kk }: { layer: number; site: string; k: number }): MetricPlotFigure {
  const y = Float32Array.from(TS, (t) => layer * 10 + (site === "mlp_out" ? 1 : 2) + kk / 100 - t);
  return {
    traces: [
      { name: `L${layer}`, x: Float32Array.from(TS), y, mode: "lines+markers" },
      { name: "twice", x: Float32Array.from(TS), y: y.map((v) => 2 * v), type: "bar", xaxis: "x2", yaxis: "y2" },
    ],
    layout: { xaxis: { title: { text: "t" } } },
  };
}

const OPTIONS = { layers: [0, 1, 2, 3], sites: ["mlp_out", "resid_post"], ks: [8, 16] };

/** The float32 values of a received buffer. */
const floats = (b: Uint8Array) => [...new Float32Array(b.slice().buffer)];

/** Puts the buffers of a sent update back at their paths: the traces as the front end sees them. */
function tracesOf(msg: Sent): Array<{ name: string; x: number[]; y: number[] }> {
  const paths = msg.data.buffer_paths as Array<Array<string | number>>;
  const traces = structuredClone((msg.data.state as { traces: Array<Record<string, unknown>> }).traces);
  paths.forEach((p, i) => {
    expect(p[0]).toBe("traces");
    (traces[p[1] as number]! as Record<string, unknown>)[p[2] as string] = floats(msg.buffers[i]!);
  });
  return traces as Array<{ name: string; x: number[]; y: number[] }>;
}

function updates(id: string): Sent[] {
  return k.on(id, "update");
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("MetricPlot on the wire", () => {
  it("comm_open names the safesail-widgets module and version, the model and view", async () => {
    const plot = metricPlot({ title: "L0,t", ...OPTIONS, layer: 1, compute: figureFor });
    const open = k.sent.find((s) => s.kind === "open" && s.commId === plot.modelId)!;
    expect(open.targetName).toBe("jupyter.widget");
    expect(open.metadata).toEqual({ version: "2.1.0" });
    const state = open.data.state as Record<string, unknown>;
    expect(state).toMatchObject({
      _model_module: "safesail-widgets", _model_module_version: MODULE_VERSION, _model_name: METRIC_PLOT_MODEL,
      _view_module: MODULE_NAME, _view_module_version: MODULE_VERSION, _view_name: METRIC_PLOT_VIEW,
      _dom_classes: [], tabbable: null, tooltip: null,
      title: "L0,t", layer: 1, site: "mlp_out", k: 8, ...OPTIONS, status: "computing", revision: 0, traces: [], plot_layout: {},
    });
    expect(MODULE_NAME).toBe("safesail-widgets");
    // No CSS layout model was opened; the Plotly layout is "plot_layout" (protocol.ts).
    expect(k.sent.filter((s) => s.kind === "open")).toHaveLength(1);
    await plot.settled();
  });

  it("sends the computed traces as Float32Array buffers at ['traces', i, 'x' | 'y'], in one update", async () => {
    const plot = metricPlot({ title: "t", ...OPTIONS, layer: 1, compute: figureFor });
    await plot.settled();
    const ups = updates(plot.modelId);
    expect(ups).toHaveLength(1);
    const up = ups[0]!;
    expect(up.data.buffer_paths).toEqual([["traces", 0, "x"], ["traces", 0, "y"], ["traces", 1, "x"], ["traces", 1, "y"]]);
    // Nothing numeric in the JSON part of the traces.
    expect(JSON.stringify((up.data.state as { traces: unknown }).traces)).not.toMatch(/\d\.\d/);
    expect(up.data.state).toMatchObject({ status: "ready", revision: 1, plot_layout: { xaxis: { title: { text: "t" } } } });
    expect(plot.message).toBe(""); // unchanged, so not sent
    const expected = figureFor({ layer: 1, site: "mlp_out", k: 8 });
    const got = tracesOf(up);
    expect(got.map((t) => t.name)).toEqual(["L1", "twice"]);
    expect(got[0]!.x).toEqual([...(expected.traces[0]!.x as Float32Array)]);
    expect(got[0]!.y).toEqual([...(expected.traces[0]!.y as Float32Array)]);
    expect(got[1]!.y).toEqual([...(expected.traces[1]!.y as Float32Array)]);
    // The values themselves, computed here independently of compute(): layer 1, mlp_out, k 8.
    expect(got[0]!.y).toEqual(TS.map((t) => Math.fround(10 + 1 + 0.08 - t)));
    expect(got[1]).toMatchObject({ type: "bar", xaxis: "x2", yaxis: "y2" });
    expect(plot.traces[0]!.x).toBeInstanceOf(Float32Array);
    expect(plot.revision).toBe(1);
  });

  it("a front-end update of layer: echo, status computing, then the new traces, status ready and a higher revision", async () => {
    const seen: Array<Omit<MetricPlotRequest, "signal">> = [];
    const plot = metricPlot({ ...OPTIONS, layer: 1, compute: (r) => {
      seen.push({ layer: r.layer, site: r.site, k: r.k });
      return figureFor(r);
    } });
    await plot.settled();
    k.take();
    k.comm(plot.modelId).receive({ method: "update", state: { layer: 3 }, buffer_paths: [] });
    const before = k.take();
    expect(before.map((s) => s.data.method)).toEqual(["echo_update", "update"]);
    expect(before[1]!.data.state).toEqual({ status: "computing" });
    await plot.settled();
    const after = k.take();
    expect(after).toHaveLength(1);
    expect(after[0]!.data.state).toMatchObject({ status: "ready", revision: 2 });
    expect(tracesOf(after[0]!)[0]!.y).toEqual(TS.map((t) => Math.fround(30 + 1 + 0.08 - t)));
    expect(seen).toEqual([{ layer: 1, site: "mlp_out", k: 8 }, { layer: 3, site: "mlp_out", k: 8 }]);

    // layer and site in one update: one request.
    k.comm(plot.modelId).receive({ method: "update", state: { layer: 0, site: "resid_post" }, buffer_paths: [] });
    await plot.settled();
    expect(seen).toHaveLength(3);
    expect(plot.revision).toBe(3);
    expect(floats(k.sent.at(-1)!.buffers[1]!)).toEqual(TS.map((t) => Math.fround(0 + 2 + 0.08 - t)));
  });

  it("kernel code may set a control too; a value not among the options throws there", async () => {
    const plot = metricPlot({ ...OPTIONS, compute: figureFor });
    expect(plot.selection).toEqual({ layer: 0, site: "mlp_out", k: 8 });
    plot.k = 16; // before the first figure arrived: that one is stale and dropped
    await plot.settled();
    expect(plot.revision).toBe(1);
    expect(plot.traces[0]!.y[0]).toBe(Math.fround(1 + 0.16));
    expect(() => (plot.k = 20)).toThrow(/k 20 is not one of the options \(8, 16\)/);
    expect(() => plot.set({ site: "attn_out" })).toThrow(/site "attn_out" is not one of the options/);
    expect(plot.k).toBe(16);
  });

  it("corrects a k that is not an option: the kernel's value goes back, nothing is computed, message says why", async () => {
    let calls = 0;
    const plot = metricPlot({ ...OPTIONS, k: 16, compute: (r) => {
      calls++;
      return figureFor(r);
    } });
    await plot.settled();
    k.take();
    k.comm(plot.modelId).receive({ method: "update", state: { k: 20 }, buffer_paths: [] });
    const sent = k.take();
    expect(sent.map((s) => s.data.method)).toEqual(["echo_update", "update"]);
    expect(sent[1]!.data.state).toEqual({ k: 16 });
    expect(errors.join("\n")).toMatch(/rejected "k".*k 20 is not one of the options \(8, 16\); kept 16/s);
    await flush();
    expect(k.take().map((s) => s.data.state)).toEqual([{ message: "k 20 is not one of the options (8, 16); kept 16" }]);
    expect(calls).toBe(1);
    expect(plot.k).toBe(16);
    expect(plot.status).toBe("ready");
    // A string where a number belongs is refused the same way.
    k.comm(plot.modelId).receive({ method: "update", state: { layer: "2" }, buffer_paths: [] });
    expect(k.take()[1]!.data.state).toEqual({ layer: 0 });
  });

  it("a throwing compute gives status error with its message and keeps the last good traces", async () => {
    const plot = metricPlot({ ...OPTIONS, compute: (r) => {
      if (r.layer === 2) throw new Error("no pooled activations for layer 2");
      return figureFor(r);
    } });
    await plot.settled();
    const good = plot.traces;
    k.take();
    k.comm(plot.modelId).receive({ method: "update", state: { layer: 2 }, buffer_paths: [] });
    await plot.settled();
    const sent = k.take();
    expect(sent.map((s) => s.data.state)).toEqual([{ layer: 2 }, { status: "computing" }, { status: "error", message: "no pooled activations for layer 2" }]);
    expect(plot.traces).toBe(good);
    expect(plot.revision).toBe(1);
    // The next good answer clears the error.
    plot.layer = 3;
    await plot.settled();
    expect(plot.getState()).toMatchObject({ status: "ready", message: "", revision: 2 });
  });

  it("a rejected promise and a malformed figure are errors too", async () => {
    const plot = metricPlot({ ...OPTIONS, compute: async () => Promise.reject(new Error("later")) });
    await plot.settled();
    expect(plot.getState()).toMatchObject({ status: "error", message: "later", revision: 0 });
    const bad = metricPlot({ ...OPTIONS, compute: () => ({ traces: [{ name: "a", x: [1, 2], y: [1] }] }) });
    await bad.settled();
    expect(bad.getState()).toMatchObject({ status: "error", message: "traces[0]: x has 2 values, y has 1", revision: 0 });
    const none = metricPlot({ ...OPTIONS, compute: () => null as unknown as MetricPlotFigure });
    await none.settled();
    expect(none.message).toMatch(/without a "traces" list/);
  });

  it("drops stale results when two changes race, whichever answers first", async () => {
    const waiting = new Map<number, { resolve: (f: MetricPlotFigure) => void; signal: AbortSignal }>();
    const plot = metricPlot({ ...OPTIONS, compute: (r) => {
      if (r.layer === 0) return figureFor(r);
      return new Promise((resolve) => waiting.set(r.layer, { resolve: () => resolve(figureFor(r)), signal: r.signal }));
    } });
    await plot.settled();
    const comm = k.comm(plot.modelId);

    // layer 2, then layer 3 before 2 answers; 3 answers first, then 2.
    comm.receive({ method: "update", state: { layer: 2 }, buffer_paths: [] });
    comm.receive({ method: "update", state: { layer: 3 }, buffer_paths: [] });
    expect(waiting.get(2)!.signal.aborted).toBe(true);
    expect(waiting.get(3)!.signal.aborted).toBe(false);
    waiting.get(3)!.resolve(figureFor({ layer: 3, site: "mlp_out", k: 8 }));
    await plot.settled();
    expect(plot.revision).toBe(2);
    expect(plot.traces[0]!.name).toBe("L3");
    k.take();
    waiting.get(2)!.resolve(figureFor({ layer: 2, site: "mlp_out", k: 8 }));
    await flush();
    expect(k.take()).toEqual([]);
    expect(plot.traces[0]!.name).toBe("L3");
    expect(plot.getState()).toMatchObject({ status: "ready", revision: 2, layer: 3 });

    // layer 1, then layer 2 again: the old request (1) answers first and is dropped; status stays computing.
    waiting.clear();
    comm.receive({ method: "update", state: { layer: 1 }, buffer_paths: [] });
    comm.receive({ method: "update", state: { layer: 2 }, buffer_paths: [] });
    waiting.get(1)!.resolve(figureFor({ layer: 1, site: "mlp_out", k: 8 }));
    await flush();
    expect(plot.getState()).toMatchObject({ status: "computing", revision: 2 });
    expect(plot.traces[0]!.name).toBe("L3");
    waiting.get(2)!.resolve(figureFor({ layer: 2, site: "mlp_out", k: 8 }));
    await plot.settled();
    expect(plot.getState()).toMatchObject({ status: "ready", revision: 3, layer: 2 });
    expect(plot.traces[0]!.name).toBe("L2");
  });

  it("converts lists and other typed arrays to Float32Array values; refuses bulky JSON number lists", async () => {
    const plot = metricPlot({ ...OPTIONS, compute: () => ({
      traces: [{ name: "list", x: [0, 1, 2], y: [0.5, null as unknown as number, 2] }, { name: "f64", x: new Float64Array([1, 2]), y: new Int32Array([3, 4]) }],
      layout: { xaxis: { tickvals: new Float64Array([0, 1]) } },
      warnings: ["L0,t is NaN at t = 0.5", "second"],
    }) });
    await plot.settled();
    expect(plot.status).toBe("ready");
    expect(plot.message).toBe("L0,t is NaN at t = 0.5; second");
    const up = updates(plot.modelId).at(-1)!;
    const got = tracesOf(up);
    expect(got[0]!.y.map((v) => (Number.isNaN(v) ? "NaN" : v))).toEqual([0.5, "NaN", 2]);
    expect(got[1]).toMatchObject({ x: [1, 2], y: [3, 4] });
    expect(plot.plot_layout).toEqual({ xaxis: { tickvals: [0, 1] } });

    const bulky = metricPlot({ ...OPTIONS, compute: () => ({ traces: [], layout: { annotations: [{ values: Array.from({ length: 100 }, (_, i) => i) }] } }) });
    await bulky.settled();
    expect(bulky.getState()).toMatchObject({ status: "error", revision: 0 });
    expect(bulky.message).toMatch(/"plot_layout\.annotations\[0\]\.values" is a list of more than 64 numbers; give a Float32Array/);
    expect(bulkyNumberList({ a: [{ b: new Array(65).fill(1) }] }, 64)).toEqual(["a", 0, "b"]);
    expect(bulkyNumberList({ a: new Float32Array(1000), b: ["x", 1, 2] }, 64)).toBeNull();
    expect(() => toFloat32Array(new Uint8Array(3), "x")).toThrow(/3 bytes/);
    expect([...toFloat32Array(new Uint8Array(new Float32Array([1.5]).buffer), "x")]).toEqual([1.5]);
  });

  it("takes a figure of src/metrics/figures.ts as compute's answer", async () => {
    const curve = (vs: number[]) => vs.map((value, i) => ({ t: i / 2, value }));
    const sweep: SweepFigureInput = {
      reportThreshold: 0.5,
      rows: [
        { site: "mlp_out", layer: 1, k: 8, l0t: 2, icdf: 0.1, l0tCurve: curve([3, 2, 0]), icdfCurve: curve([0.2, 0.1, 0]), kSparseF1: 0.8, oneDF1: 0.6, safetyFeatures: 4 },
        { site: "mlp_out", layer: 1, k: 16, l0t: 1, icdf: 0.05, l0tCurve: curve([2, 1, 0]), icdfCurve: curve([0.1, 0.05, 0]), kSparseF1: 0.7, oneDF1: 0.5, safetyFeatures: 2 },
      ],
      baselines: [{ site: "mlp_out", layer: 1, kSparseF1: 0.9, oneDF1: 0.7, l0t: 5, icdf: 0.3 }],
    };
    const figure = configurationFigure(sweep, { site: "mlp_out", layer: 1, k: 16 });
    const asTrace: PlotTrace = figure.traces[0]!; // the figure trace is a PlotTrace, structurally
    expect(asTrace.x).toBeInstanceOf(Float32Array);
    const choices = sweepChoices(sweep);
    const plot = metricPlot({ ...choices, layers: [1, 2], k: 16, compute: (r) => configurationFigure(sweep, r) });
    await plot.settled();
    expect(plot.status).toBe("ready");
    expect(plot.traces.map((t) => t.name)).toEqual(figure.traces.map((t) => t.name));
    plot.layer = 2;
    await plot.settled();
    expect(plot.status).toBe("ready");
    expect(plot.message).toMatch(/no SAE in the sweep for mlp_out, layer 2, k 16/);
  });

  it("display bundle: the widget view and a text/plain repr; request_state and the control comm carry the buffers", async () => {
    const plot = metricPlot({ title: "metrics", ...OPTIONS, compute: figureFor });
    await plot.settled();
    const bundle = plot._repr_mimebundle_();
    expect(bundle[WIDGET_VIEW_MIME]).toEqual({ model_id: plot.modelId, version_major: 2, version_minor: 0 });
    expect(bundle["text/plain"]).toBe('MetricPlot(site="mlp_out", layer=0, k=8, status="ready", revision=1, traces=2, title="metrics")');
    expect(String(plot)).toBe(bundle["text/plain"]);
    k.take();
    k.comm(plot.modelId).receive({ method: "request_state" });
    const full = k.take()[0]!;
    expect(full.data.buffer_paths).toEqual([["traces", 0, "x"], ["traces", 0, "y"], ["traces", 1, "x"], ["traces", 1, "y"]]);
    expect((full.data.state as Record<string, unknown>)._model_module).toBe("safesail-widgets");
    const control = k.frontendOpen(CONTROL_TARGET);
    control.receive({ method: "request_states" });
    const states = k.take().find((s) => s.commId === control.commId)!;
    expect(states.data.buffer_paths).toEqual(expect.arrayContaining([[plot.modelId, "state", "traces", 1, "y"]]));
  });

  it("checks its options and initial selection", () => {
    expect(() => metricPlot({ ...OPTIONS, layers: [], compute: figureFor })).toThrow(/"layers" must be a non-empty list/);
    expect(() => metricPlot({ ...OPTIONS, ks: [8, 8], compute: figureFor })).toThrow(/lists a value twice/);
    expect(() => metricPlot({ ...OPTIONS, layer: 9, compute: figureFor })).toThrow(/layer 9 is not one of the layers/);
    expect(() => new MetricPlot({ ...OPTIONS, compute: undefined as never })).toThrow(/compute must be a function/);
  });

  it("new options without the current value select the first option and recompute", async () => {
    const plot = metricPlot({ ...OPTIONS, layer: 3, compute: figureFor });
    await plot.settled();
    plot.layers = [0, 1];
    await plot.settled();
    expect(plot.layer).toBe(0);
    expect(plot.revision).toBe(2);
  });
});

describe("SafesailWidget", () => {
  it("is a WidgetModel of the safesail-widgets module with the DOM attributes", () => {
    interface Props { values: Float32Array; label: string }
    class Probe extends SafesailWidget<Props> {
      constructor(init: Partial<Props> = {}) {
        super({ model: "ProbeModel", view: "ProbeView" }, { values: new Float32Array(0), label: "" }, init);
      }
    }
    const w = new Probe({ values: new Float32Array([1, 2]), label: "x" });
    const open = k.sent.find((s) => s.kind === "open" && s.commId === w.modelId)!;
    expect(open.data.state).toMatchObject({ _model_module: MODULE_NAME, _model_module_version: MODULE_VERSION, _model_name: "ProbeModel", _view_name: "ProbeView", label: "x" });
    expect(open.data.buffer_paths).toEqual([["values"]]);
    expect(floats(open.buffers[0]!)).toEqual([1, 2]);
    w.addClass("wide");
    expect(w.get("_dom_classes")).toEqual(["wide"]);
    expect(() => w.set({ values: Array.from({ length: 65 }, () => 0) as unknown as Float32Array })).toThrow(/"values" is a list of more than 64 numbers/);
  });
});
