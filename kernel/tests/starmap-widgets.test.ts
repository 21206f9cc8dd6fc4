// The StarMap widgets' kernel side (kernel/src/widgets/token-activations.ts, star-map.ts, layer-trajectory.ts)
// against the in-memory front end of widgets-fake.ts: what comm_open and the updates carry (columns as float32
// buffers, checked against the same reduction written in Python by /usr/bin/python3), the Generate round trip with
// streamed text, superseded requests, the map selection synced both ways, the trajectory's flattened token lists,
// and the errors that name the field. The library's own result types (src/steer, src/map) are assigned to the
// widgets' input types at compile time, and a real buildMap result goes through starMap.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  LAYER_TRAJECTORY_MODEL,
  LAYER_TRAJECTORY_VIEW,
  MODULE_NAME,
  MODULE_VERSION,
  STAR_MAP_MODEL,
  STAR_MAP_VIEW,
  TOKEN_ACTIVATIONS_MODEL,
  TOKEN_ACTIVATIONS_VIEW,
  TOKEN_ANSWER,
  TOKEN_SPECIAL,
} from "../../widgets/src/protocol.ts";
import type { GenerationWithFeatures, TokenFeatureTable } from "../../src/steer/token-features.ts";
import type { Trajectory } from "../../src/steer/trajectory.ts";
import type { FeatureMap } from "../../src/map/format.ts";
import { buildMap } from "../../src/map/build.ts";
import { featureRecord } from "../../src/db/records.ts";
import { newFeatureDb } from "../../src/db/store.ts";
import { loadModel } from "../../src/model/runtime.ts";
import { createSae } from "../../src/sae/sae.ts";
import { generateWithFeatures, trajectory } from "../../src/steer/index.ts";
import {
  layerTrajectory,
  starMap,
  starMapState,
  tokenActivations,
  type FeatureMapInput,
  type TokenAnalysis,
  type TokenView,
  type TrajectoryInput,
} from "../src/widgets/index.ts";
import { putBuffers } from "../src/widgets/buffers.ts";
import { startFakeWidgetKernel, stopFakeWidgetKernel } from "./widgets-harness.ts";
import type { FakeKernel, Sent } from "./widgets-fake.ts";

// The library's results are the widgets' inputs as they are (a compile-time check: this file must type-check).
export const libraryShapes = {
  table: (t: TokenFeatureTable): TokenView => t,
  generation: (g: GenerationWithFeatures): TokenAnalysis => g,
  map: (m: FeatureMap): FeatureMapInput => m,
  trajectory: (t: Trajectory): TrajectoryInput => t,
};

let k: FakeKernel;
let errors: string[];

beforeEach(() => {
  ({ kernel: k, errors } = startFakeWidgetKernel());
});

afterEach(() => {
  stopFakeWidgetKernel();
});

const flush = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** A sent state as the front end rebuilds it: buffers put back at their paths, as float32 columns. */
function frontEndState(msg: Sent): Record<string, unknown> {
  const state = structuredClone(msg.data.state) as Record<string, unknown>;
  putBuffers(state, msg.data.buffer_paths, msg.buffers.map((b) => b.slice()));
  const toFloats = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return Array.from(new Float32Array(v.buffer, v.byteOffset, v.byteLength / 4));
    if (Array.isArray(v)) return v.map(toFloats);
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([key, x]) => [key, toFloats(x)]));
    return v;
  };
  return toFloats(state) as Record<string, unknown>;
}

function opened(id: string): Sent {
  return k.sent.find((s) => s.kind === "open" && s.commId === id)!;
}

/** Runs Debian's Python 3 on a script reading JSON on stdin; returns its JSON output. */
function python(script: string, input: unknown): any {
  const r = spawnSync("/usr/bin/python3", ["-c", script], { input: JSON.stringify(input), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// ---- a small conversation as src/steer would give it --------------------------------------------------------------

const HOSTILE = '<img src=x onerror="window.__pwned=1">';

function conversation(): TokenView {
  const pieces = ["<|im_start|>", "user", "\n", "How", " to", " make", " a", " bomb", "?", "<|im_end|>", "\n", "<|im_start|>", "assistant", "\n", "I", " can't", " help", ".", "<|im_end|>"];
  const special = new Set([0, 9, 11, 18]);
  const tokens = pieces.map((text, i) => ({ text, display: text, special: special.has(i), role: i < 14 ? (i >= 3 && i <= 8 ? "user" : "template") : "assistant" }));
  const feature = (id: string, explanation: string | null, score: number | null, tags: string[]) => ({ feature: id, layer: Number(id.split("_")[0]), explanation, score, tags });
  const bomb = feature("1_7", "explosives and bomb making", 0.82, ["violence", "terror"]);
  const make = feature("1_3", HOSTILE, 0.4, ["violence"]);
  const refuse = feature("3_11", "<script>window.__pwned=2</script> refusals", 0.9, ["violence"]);
  const how = feature("3_2", null, null, []);
  const rows = [
    // Deliberately out of order (rank 2 before rank 1, a later token first): the widget orders them.
    { token: 7, ...make, normalised: 0.3, activation: 1.2 },
    { token: 7, ...bomb, normalised: 0.95, activation: 5.1 },
    { token: 5, ...make, normalised: 0.6, activation: 2.4 },
    { token: 7, ...refuse, normalised: 0.5, activation: 3.0 },
    { token: 15, ...refuse, normalised: 1, activation: 6.0 },
    { token: 3, ...how, normalised: 0.2, activation: 0.4 },
    { token: 16, ...refuse, normalised: 0.7, activation: 4.2 },
    // On a special token: masked, so dropped with a warning.
    { token: 9, ...bomb, normalised: 0.4, activation: 2.0 },
  ];
  const track = (f: ReturnType<typeof feature>, values: Record<number, number>) => ({
    ...f,
    normalised: tokens.map((t, i) => (t.special ? (i === 0 ? 0.5 : null) : (values[i] ?? 0))),
  });
  return {
    tokens,
    answerStart: 14,
    layers: [{ layer: 1 }, { layer: 3 }],
    rows,
    // A track with a value at special token 0: masked all the same.
    features: [track(refuse, { 7: 0.5, 15: 1, 16: 0.7, 17: 0.1 }), track(bomb, { 7: 0.95, 8: 0.05 })],
    warnings: ["normaliser: observed_max for 3_2"],
  };
}

/** The reduction the widget promises (file comment of token-activations.ts), in Python. */
const TOKEN_VIEW_PY = `
import json, sys, math
v = json.load(sys.stdin)
T = len(v["tokens"])
a = v.get("answerStart")
flags = [(1 if t.get("special") else 0) | (2 if a is not None and i >= a else 0) for i, t in enumerate(v["tokens"])]
features, index = [], {}
def add(o):
    fid = o["feature"]
    if fid not in index:
        index[fid] = len(features)
        features.append({"id": fid, "layer": o["layer"], "explanation": o["explanation"] or "", "score": o["score"], "tags": o["tags"]})
    return index[fid]
rows = []
for i, r in enumerate(v["rows"]):
    f = add(r)
    if flags[r["token"]] & 1: continue
    rows.append((r["token"], r["layer"], -r["normalised"], i, f, r["normalised"], r["activation"]))
rows.sort()
tracks = []
for t in v.get("features", []):
    f = add(t)
    tracks.append((f, [None if (x is None or flags[j] & 1) else x for j, x in enumerate(t["normalised"])]))
sums = [0.0] * len(features)
for r in rows: sums[r[4]] += r[5]
best = max(range(len(features)), key=lambda f: (sums[f], -f)) if rows else None
print(json.dumps({
  "flags": flags, "features": features,
  "rows": {"token": [r[0] for r in rows], "feature": [r[4] for r in rows], "normalised": [r[5] for r in rows], "activation": [r[6] for r in rows]},
  "tracks": {"feature": [t[0] for t in tracks], "values": [x for t in tracks for x in t[1]]},
  "strongest": features[best]["id"] if best is not None else "",
  "domains": sorted({g for f in features for g in f["tags"]}),
}))
`;

const f32 = (xs: (number | null)[]) => xs.map((x) => (x === null ? NaN : Math.fround(x)));

describe("TokenActivations", () => {
  it("comm_open names the model and view; an initial view arrives as float32 columns, reduced as the Python reference does", () => {
    const view = conversation();
    const w = tokenActivations({ analyse: () => view, initial: view, prompt: "How to make a bomb?", title: "tokens" });
    const open = opened(w.modelId);
    const state = frontEndState(open);
    expect(state).toMatchObject({
      _model_module: MODULE_NAME, _model_module_version: MODULE_VERSION, _model_name: TOKEN_ACTIVATIONS_MODEL,
      _view_module: MODULE_NAME, _view_name: TOKEN_ACTIVATIONS_VIEW, title: "tokens", prompt: "How to make a bomb?",
      status: "ready", revision: 1, token: -1, filter_layer: -1, filter_domain: "", min_score: null, layers: [1, 3],
    });
    // Numbers travel as buffers only.
    expect(open.data.buffer_paths).toEqual(expect.arrayContaining([["token_flags"], ["rows", "token"], ["rows", "feature"], ["rows", "normalised"], ["rows", "activation"], ["tracks", "feature"], ["tracks", "values"]]));
    const expected = python(TOKEN_VIEW_PY, view);
    expect(state.tokens).toEqual(view.tokens.map((t) => t.display));
    expect(state.token_flags).toEqual(expected.flags);
    expect(state.features).toEqual(expected.features);
    expect(state.rows).toEqual({
      token: expected.rows.token, feature: expected.rows.feature, normalised: f32(expected.rows.normalised), activation: f32(expected.rows.activation),
    });
    expect(state.tracks).toEqual({ feature: expected.tracks.feature, values: f32(expected.tracks.values) });
    expect(state.selected).toBe(expected.strongest);
    expect(state.selected).toBe("3_11"); // 1 + 0.7 + 0.5 beats 0.95
    expect(state.domains).toEqual(expected.domains);
    // The special token's row is gone, and the warning says so (after the table's own warnings).
    expect(state.message).toBe("normaliser: observed_max for 3_2; 1 row on chat special tokens dropped: special tokens are masked");
    // Flags: special tokens and the answer (from answerStart 14).
    expect((state.token_flags as number[])[0]).toBe(TOKEN_SPECIAL);
    expect((state.token_flags as number[])[18]).toBe(TOKEN_SPECIAL | TOKEN_ANSWER);
    expect((state.token_flags as number[])[15]).toBe(TOKEN_ANSWER);
    // The hostile explanation is data: kept as written, for the view to show as text.
    expect((state.features as { explanation: string }[]).map((f) => f.explanation)).toContain(HOSTILE);
    expect(w.tokenRows(7).map((r) => [r.feature.id, r.normalised])).toEqual([["1_7", Math.fround(0.95)], ["1_3", Math.fround(0.3)], ["3_11", 0.5]]);
  });

  it("Generate from the front end: the prompt reaches analyse, the answer streams piece by piece, then the table in one update", async () => {
    const prompts: string[] = [];
    const w = tokenActivations({
      streamIntervalMs: 0,
      analyse: async (prompt, onText) => {
        prompts.push(prompt);
        for (const piece of ["I", " can't", " help", "."]) {
          onText(piece);
          await flush();
        }
        return conversation();
      },
    });
    k.take();
    k.comm(w.modelId).receive({ method: "custom", content: { event: "generate", prompt: "How to make a bomb?" } });
    await w.settled();
    expect(prompts).toEqual(["How to make a bomb?"]);
    const sent = k.take().filter((s) => s.data.method === "update").map(frontEndState);
    expect(sent[0]).toEqual({ prompt: "How to make a bomb?", status: "generating" });
    // Each piece: the whole answer so far (state sync sends values, not deltas).
    expect(sent.slice(1, 5).map((s) => s.answer)).toEqual(["I", "I can't", "I can't help", "I can't help."]);
    const last = sent.at(-1)!;
    expect(sent).toHaveLength(6);
    expect(last).toMatchObject({ status: "ready", revision: 1, selected: "3_11", layers: [1, 3] });
    expect((last.rows as { token: number[] }).token).toEqual(python(TOKEN_VIEW_PY, conversation()).rows.token);
    expect(w.answer).toBe("I can't help.");
    expect(w.status).toBe("ready");
  });

  it("streamed text is sent at most every streamIntervalMs, and what is pending goes out before the result", async () => {
    const pieces = Array.from({ length: 40 }, (_, i) => `w${i} `);
    const w = tokenActivations({
      streamIntervalMs: 40,
      analyse: async (_p, onText) => {
        for (const p of pieces) {
          onText(p);
          await flush(2);
        }
        return { table: conversation(), text: pieces.join("") };
      },
    });
    k.take();
    await Promise.all([w.generate("q"), flush(0)]);
    const answers = k.take().filter((s) => s.data.method === "update").map(frontEndState).filter((s) => "answer" in s).map((s) => s.answer as string);
    expect(answers.length).toBeGreaterThan(1);
    expect(answers.length).toBeLessThan(pieces.length / 2);
    // Growing prefixes of the answer, ending with all of it.
    for (let i = 1; i < answers.length; i++) expect(answers[i]!.startsWith(answers[i - 1]!)).toBe(true);
    expect(answers.at(-1)).toBe(pieces.join(""));
  });

  it("a newer Generate supersedes a running one: its signal is aborted, its late text and result dropped", async () => {
    const signals: AbortSignal[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = tokenActivations({
      streamIntervalMs: 0,
      analyse: async (prompt, onText, signal) => {
        signals.push(signal);
        if (prompt === "slow") {
          await gate;
          onText("late text");
          return { table: { tokens: [{ text: "slow", special: false }], rows: [] }, text: "slow answer" };
        }
        onText("fast");
        return { table: conversation(), text: "fast answer" };
      },
    });
    const slow = w.generate("slow");
    await w.generate("fast");
    release();
    await slow;
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[1]!.aborted).toBe(false);
    expect(w.answer).toBe("fast answer");
    expect(w.prompt).toBe("fast");
    expect(w.tokens).toHaveLength(19);
    expect(w.revision).toBe(1);
    expect(k.on(w.modelId, "update").map(frontEndState).some((s) => s.answer === "late text" || s.answer === "slow answer")).toBe(false);
  });

  it("a failing analyse or a view it cannot show: status error, a message naming the field, the last good view kept", async () => {
    let mode = "ok";
    const w = tokenActivations({
      streamIntervalMs: 0,
      analyse: async (_p, onText) => {
        onText("partial");
        if (mode === "throw") throw new Error("the model ran out of memory");
        if (mode === "bad-token") return { ...conversation(), rows: [{ token: 99, layer: 1, feature: "1_1", normalised: 0.5, explanation: null, score: null, tags: [] }] };
        if (mode === "bad-layer") return { ...conversation(), layers: [1] };
        if (mode === "nan") return { ...conversation(), rows: [{ token: 3, layer: 1, feature: "1_1", normalised: NaN, explanation: null, score: null, tags: [] }] };
        return conversation();
      },
    });
    await w.generate("first");
    expect(w.revision).toBe(1);
    mode = "throw";
    await w.generate("second");
    expect(w.status).toBe("error");
    expect(w.message).toBe("the model ran out of memory");
    expect(w.answer).toBe("partial"); // what streamed before the failure stays visible
    mode = "bad-token";
    await w.generate("third");
    expect(w.message).toBe("analyse returned.rows[0].token: expected a token index 0..18, got 99");
    mode = "bad-layer";
    await w.generate("fourth");
    expect(w.message).toMatch(/feature 1_7 is at layer 1|feature 3_11 is at layer 3, which is not among the view's layers \(1\)/);
    mode = "nan";
    await w.generate("fifth");
    expect(w.message).toBe("analyse returned.rows[0].normalised: expected a finite number, got NaN");
    // The table on screen is still the first one.
    expect(w.revision).toBe(1);
    expect(w.rows.token.length).toBe(7);
    await w.generate("   ");
    expect(w).toMatchObject({ status: "error", message: "type a prompt first" });
  });

  it("the front end's click, colouring feature and filters are synced; values that do not fit the view are sent back", async () => {
    const w = tokenActivations({ analyse: () => conversation(), initial: conversation() });
    const fe = k.comm(w.modelId);
    k.take();
    fe.receive({ method: "update", state: { token: 7, filter_layer: 3, filter_domain: "terror", min_score: 0.5, selected: "1_7" }, buffer_paths: [] });
    expect(w).toMatchObject({ token: 7, filter_layer: 3, filter_domain: "terror", min_score: 0.5, selected: "1_7" });
    expect(k.take().map((s) => s.data.method)).toEqual(["echo_update"]);
    // Not a token, not a layer, not a domain, not a feature: each is refused and the kernel's value goes back.
    fe.receive({ method: "update", state: { token: 19, filter_layer: 2, filter_domain: "weather", selected: "9_9" }, buffer_paths: [] });
    const back = k.take().filter((s) => s.data.method === "update").map(frontEndState);
    expect(back).toEqual([{ token: 7, filter_layer: 3, filter_domain: "terror", selected: "1_7" }]);
    expect(errors.join("\n")).toMatch(/rejected "token"[\s\S]*expected -1 or a token index 0..18, got 19/);
    expect(errors.join("\n")).toMatch(/"filter_layer": 2 is not -1 or a layer of the view \(1, 3\)/);
    // Kernel code is refused outright.
    expect(() => (w.selected = "nope")).toThrow(/"selected": "nope" is not a feature of the view/);
    // A new view: the strongest feature is selected, the click cleared, a filter without options reset.
    w.setView({ tokens: [{ text: "a" }, { text: "b" }], rows: [{ token: 1, layer: 2, feature: "2_5", normalised: 0.4, explanation: "x", score: 0.1, tags: [] }] });
    expect(w).toMatchObject({ selected: "2_5", token: -1, filter_layer: -1, filter_domain: "", min_score: 0.5, layers: [2], revision: 2 });
  });

  it("a prompt without an initial view generates at once; a { table, text } result takes its text as the answer", async () => {
    const w = tokenActivations({ prompt: "hello", streamIntervalMs: 0, analyse: (p) => ({ table: { tokens: [{ text: p }], rows: [] }, text: "the answer" }) });
    expect(w.status).toBe("generating");
    await w.settled();
    expect(w).toMatchObject({ status: "ready", answer: "the answer", tokens: ["hello"], selected: "", revision: 1 });
    expect(() => tokenActivations({ analyse: undefined as never })).toThrow(/analyse must be a function/);
    expect(() => tokenActivations({ analyse: () => conversation(), initial: { tokens: "abc" } as never })).toThrow(/initial.tokens: expected a list/);
  });
});

// ---- StarMap -------------------------------------------------------------------------------------------------------

function smallMap(): FeatureMapInput {
  return {
    points: [
      { id: "1_7", x: 0.5, y: 1.5, cluster: 0, tags: ["violence", "terror"], explanation: "explosives and bomb making", score: 0.8 },
      { id: "1_3", x: 1.5, y: 2.5, cluster: 0, tags: ["violence"], explanation: HOSTILE, score: null },
      { id: "2_9", x: -3, y: 0.25, cluster: 1, tags: ["politics"], explanation: "elections and voting", score: 0.5 },
      { id: "2_4", x: -2, y: 0.75, cluster: 1, tags: [], explanation: null, score: 0.1 },
      { id: "3_11", x: 4, y: -1, cluster: -1, tags: ["violence"], explanation: "Refusals to help with WEAPONS", score: 0.9 },
    ],
    clusters: [{ label: "bomb, explosives, making" }, { label: "elections, voting", x: -2.5, y: 9, size: 2 }],
    unplaced: [{ id: "4_1", reason: "masked" }, { id: "4_2", reason: "null" }, { id: "4_3", reason: "null" }],
  };
}

describe("StarMap", () => {
  it("sends the points as columns: ids and explanations as strings, numbers as float32 buffers; cluster centres from members", () => {
    const map = smallMap();
    const m = starMap({ map, title: "toy map" });
    const open = opened(m.modelId);
    const s = frontEndState(open);
    expect(s).toMatchObject({ _model_name: STAR_MAP_MODEL, _view_name: STAR_MAP_VIEW, title: "toy map", revision: 1, selection: [], search: "" });
    expect(open.data.buffer_paths).toEqual(expect.arrayContaining([["x"], ["y"], ["cluster"], ["score"], ["tag_set"]]));
    const expected = python(`
import json, sys
m = json.load(sys.stdin)
pts = m["points"]
sets, tag_set = [], []
for p in pts:
    t = list(dict.fromkeys(p["tags"]))
    if t not in sets: sets.append(t)
    tag_set.append(sets.index(t))
first = [p["tags"][0] for p in pts if p["tags"]]
domains = sorted(set(first), key=lambda d: (-first.count(d), d))
centres = []
for c, cl in enumerate(m["clusters"]):
    xs = [(p["x"], p["y"]) for p in pts if p["cluster"] == c]
    centres.append([cl.get("x", sum(x for x, _ in xs) / len(xs)), cl.get("y", sum(y for _, y in xs) / len(xs)), cl.get("size", len(xs))])
print(json.dumps({"sets": sets, "tag_set": tag_set, "domains": domains, "centres": centres}))
`, map);
    expect(s.ids).toEqual(["1_7", "1_3", "2_9", "2_4", "3_11"]);
    expect(s.explanations).toEqual(["explosives and bomb making", HOSTILE, "elections and voting", "", "Refusals to help with WEAPONS"]);
    expect(s.x).toEqual(f32([0.5, 1.5, -3, -2, 4]));
    expect(s.cluster).toEqual([0, 0, 1, 1, -1]);
    expect(s.score).toEqual([Math.fround(0.8), NaN, 0.5, Math.fround(0.1), Math.fround(0.9)]);
    expect(s.tag_sets).toEqual(expected.sets);
    expect(s.tag_set).toEqual(expected.tag_set);
    expect(s.domains).toEqual(expected.domains);
    expect((s.clusters as { x: number; y: number; size: number }[]).map((c) => [c.x, c.y, c.size])).toEqual(expected.centres);
    expect(s.message).toBe("3 features are not on the map (masked 1, null 2)");
    // A map from src/map says it in its own warning: once, in its words.
    const own = '3 of 8 features are not on the map: 1 masked ("***"), 2 without explanation (listed in "unplaced")';
    expect(starMapState({ ...map, warnings: [own] }).message).toBe(own);
  });

  it("a lasso selection from the front end reaches the kernel: selection, onSelect, selectedPoints; unknown ids are sent back", () => {
    const calls: string[][] = [];
    const map = smallMap();
    const m = starMap({ map, onSelect: (ids) => calls.push(ids) });
    const fe = k.comm(m.modelId);
    k.take();
    fe.receive({ method: "update", state: { selection: ["2_9", "1_7", "2_9"] }, buffer_paths: [] });
    expect(m.selection).toEqual(["2_9", "1_7"]);
    expect(calls).toEqual([["2_9", "1_7"]]);
    expect(m.selectedPoints()).toEqual([map.points[2], map.points[0]]);
    // The echo, then a correction: the duplicate was dropped.
    const sent = k.take();
    expect(sent.map((x) => x.data.method)).toEqual(["echo_update", "update"]);
    expect(frontEndState(sent[1]!)).toEqual({ selection: ["2_9", "1_7"] });
    fe.receive({ method: "update", state: { selection: ["1_7", "9_9"] }, buffer_paths: [] });
    expect(m.selection).toEqual(["2_9", "1_7"]);
    expect(calls).toHaveLength(1);
    expect(errors.join("\n")).toMatch(/"selection": not on the map: 9_9/);
    // Kernel code sets it too (the view highlights it), and is refused an unknown id.
    k.take();
    m.selection = ["3_11"];
    expect(frontEndState(k.take()[0]!)).toEqual({ selection: ["3_11"] });
    expect(calls.at(-1)).toEqual(["3_11"]);
    expect(() => (m.selection = ["0_0"])).toThrow(/not on the map: 0_0/);
  });

  it("search: the front end's text is synced and matches() applies the view's rule (id or explanation, any case)", () => {
    const m = starMap({ map: smallMap() });
    k.comm(m.modelId).receive({ method: "update", state: { search: "WEAPON" }, buffer_paths: [] });
    expect(m.search).toBe("WEAPON");
    expect(m.matches()).toEqual(["3_11"]);
    expect(m.matches("1_")).toEqual(["1_7", "1_3"]);
    expect(m.matches("img src")).toEqual(["1_3"]);
    expect(m.matches("  ")).toEqual([]);
  });

  it("setMap sends the new map and keeps the selected ids that are still on it", () => {
    const m = starMap({ map: smallMap(), selection: ["1_7", "2_9"] });
    const next = smallMap();
    next.points = next.points.filter((p) => p.id !== "2_9");
    m.setMap(next);
    expect(m.selection).toEqual(["1_7"]);
    expect(m.ids).toEqual(["1_7", "1_3", "2_4", "3_11"]);
    expect(m.revision).toBe(2);
  });

  it("refuses a map it cannot draw, naming the field", () => {
    const bad = (edit: (m: { points: Record<string, unknown>[]; clusters?: Record<string, unknown>[] }) => void) => {
      const m = structuredClone(smallMap()) as unknown as { points: Record<string, unknown>[]; clusters?: Record<string, unknown>[] };
      edit(m);
      return () => starMap({ map: m as unknown as FeatureMapInput });
    };
    expect(bad((m) => (m.points[3]!.id = "1_7"))).toThrow("StarMap: map.points[3].id: 1_7 is also points[0]");
    expect(bad((m) => (m.points[2]!.x = NaN))).toThrow("StarMap: map.points[2].x: expected a finite number, got NaN");
    expect(bad((m) => (m.points[1]!.cluster = 2))).toThrow("StarMap: map.points[1].cluster: expected -1, null or a cluster index 0..1, got 2");
    expect(bad((m) => (m.points[0]!.tags = "violence"))).toThrow("StarMap: map.points[0].tags: expected a list");
    expect(bad((m) => delete m.clusters![0]!.label)).toThrow("StarMap: map.clusters[0].label: expected a string, got undefined");
    expect(() => starMap({ map: { points: [] } })).not.toThrow();
  });

  it("takes src/map's buildMap result as it is", async () => {
    const words = [["bomb", "explosive", "detonator"], ["vote", "election", "ballot"]];
    const records = Array.from({ length: 16 }, (_, i) => featureRecord(`${i % 2 ? 3 : 5}_${i}`, {
      explanation: `Text about ${words[i % 2]![i % 3]} and ${words[i % 2]![(i + 1) % 3]}.`,
      correlation_score: i % 2 ? 0.5 : null,
      tag_list: i % 2 ? ["violence"] : [],
    }));
    const map = await buildMap(records, { seed: 3, clusters: 2, shuffles: 5 });
    const m = starMap({ map });
    expect(m.ids).toEqual(map.points.map((p) => p.id));
    expect(Array.from(m.x)).toEqual(map.points.map((p) => Math.fround(p.x)));
    expect(m.clusters.map((c) => c.label)).toEqual(map.clusters.map((c) => c.label));
    expect(m.domains).toEqual(["violence"]);
  });

  it("4,700 points: the JSON part carries no list of numbers, the columns ride in five buffers", () => {
    const n = 4700;
    const points = Array.from({ length: n }, (_, i) => ({ id: `${i % 4}_${i}`, x: Math.cos(i), y: Math.sin(i) * i / n, cluster: i % 30, tags: i % 3 ? ["violence"] : [], explanation: `feature ${i} about something`, score: i % 7 ? i / n : null }));
    const clusters = Array.from({ length: 30 }, (_, c) => ({ label: `cluster ${c}` }));
    const m = starMap({ map: { points, clusters } });
    const open = opened(m.modelId);
    expect(open.buffers).toHaveLength(5);
    expect(open.buffers.reduce((a, b) => a + b.byteLength, 0)).toBe(5 * 4 * n);
    const json = JSON.stringify(open.data.state);
    expect(json).not.toMatch(/\[(-?\d[\d.e-]*,){64}/);
    expect(json.length).toBeLessThan(400_000);
  });
});

// ---- LayerTrajectory ------------------------------------------------------------------------------------------------

function smallTrajectory(): TrajectoryInput {
  const tokens = ["<|im_start|>", "How", " to", " make", " a", " bomb", "<|im_end|>", "I", " can't"].map((text, i) => ({ text, special: i === 0 || i === 6 }));
  const node = (id: string, toks: number[], total: number, tags: string[] = ["violence"], explanation: string | null = `feature ${id}`) =>
    ({ id, layer: Number(id.split("_")[0]), tokens: toks, total, max: total / toks.length, explanation, score: 0.5, tags });
  return {
    tokens,
    answerStart: 7,
    layers: [{ layer: 0 }, { layer: 2 }, { layer: 5 }],
    nodes: [node("0_4", [5, 3], 1.2), node("0_1", [1], 0.3, []), node("2_8", [3, 5, 7], 2.0, ["terror"], HOSTILE), node("5_2", [7, 8], 1.5)],
    links: [
      { source: "0_4", target: "2_8", weight: 1.1, tokens: [3, 5] },
      { source: "2_8", target: "5_2", weight: 0.6, tokens: [7] },
    ],
  };
}

describe("LayerTrajectory", () => {
  it("sends nodes as JSON and their token lists flattened with start offsets, links by node index", () => {
    const tr = smallTrajectory();
    const w = layerTrajectory({ trajectory: tr, title: "chain", maxNodes: 3 });
    const open = opened(w.modelId);
    const s = frontEndState(open);
    expect(s).toMatchObject({ _model_name: LAYER_TRAJECTORY_MODEL, _view_name: LAYER_TRAJECTORY_VIEW, title: "chain", layers: [0, 2, 5], max_nodes: 3, revision: 1, selected: "" });
    const expected = python(`
import json, sys
t = json.load(sys.stdin)
ids = [n["id"] for n in t["nodes"]]
def flat(lists):
    start, vals = [0], []
    for l in lists:
        vals += sorted(set(l)); start.append(len(vals))
    return vals, start
nv, ns = flat([n["tokens"] for n in t["nodes"]])
lv, ls = flat([l["tokens"] for l in t["links"]])
print(json.dumps({"nv": nv, "ns": ns, "lv": lv, "ls": ls, "links": [[ids.index(l["source"]), ids.index(l["target"]), l["weight"]] for l in t["links"]]}))
`, tr);
    expect(s.node_tokens).toEqual(expected.nv);
    expect(s.node_token_start).toEqual(expected.ns);
    expect(s.link_tokens).toEqual(expected.lv);
    expect(s.link_token_start).toEqual(expected.ls);
    expect((s.links as { source: number; target: number; weight: number }[]).map((l) => [l.source, l.target, l.weight])).toEqual(expected.links);
    expect((s.nodes as { id: string; explanation: string; total: number }[]).map((n) => [n.id, n.explanation, n.total])).toEqual([["0_4", "feature 0_4", 1.2], ["0_1", "feature 0_1", 0.3], ["2_8", HOSTILE, 2], ["5_2", "feature 5_2", 1.5]]);
    expect(s.token_flags).toEqual([TOKEN_SPECIAL, 0, 0, 0, 0, 0, TOKEN_SPECIAL, TOKEN_ANSWER, TOKEN_ANSWER]);
  });

  it("a click on a node from the front end is the kernel's selectedNode(); an unknown node is sent back", () => {
    const w = layerTrajectory({ trajectory: smallTrajectory() });
    const fe = k.comm(w.modelId);
    fe.receive({ method: "update", state: { selected: "2_8" }, buffer_paths: [] });
    expect(w.selectedNode()).toMatchObject({ node: { id: "2_8", layer: 2, explanation: HOSTILE }, tokens: [3, 5, 7] });
    k.take();
    fe.receive({ method: "update", state: { selected: "7_7" }, buffer_paths: [] });
    expect(w.selected).toBe("2_8");
    expect(frontEndState(k.take().find((x) => x.data.method === "update")!)).toEqual({ selected: "2_8" });
    // A new trajectory without the node clears the selection.
    w.setTrajectory({ ...smallTrajectory(), nodes: smallTrajectory().nodes.filter((n) => n.id !== "2_8"), links: [] });
    expect(w.selected).toBe("");
    expect(w.revision).toBe(2);
  });

  it("refuses a trajectory it cannot draw, naming the field", () => {
    const t = () => structuredClone(smallTrajectory()) as unknown as { nodes: Record<string, unknown>[]; links: Record<string, unknown>[] };
    const make = (x: unknown) => () => layerTrajectory({ trajectory: x as TrajectoryInput });
    const a = t(); a.links[0]!.target = "9_9";
    expect(make(a)).toThrow("LayerTrajectory: trajectory.links[0].target: 9_9 is not a node");
    const b = t(); b.links[1] = { source: "5_2", target: "2_8", weight: 1 };
    expect(make(b)).toThrow("LayerTrajectory: trajectory.links[1]: goes from layer 5 (5_2) to layer 2 (2_8); a link goes to a higher layer");
    const c = t(); c.nodes[0]!.tokens = [1, 9];
    expect(make(c)).toThrow("LayerTrajectory: trajectory.nodes[0].tokens[1]: expected a token index 0..8, got 9");
    const d = t(); d.nodes[2]!.layer = 3;
    expect(make(d)).toThrow("LayerTrajectory: trajectory.nodes[2]: layer 3 is not among the trajectory's layers (0, 2, 5)");
    const e = t(); e.nodes[1]!.id = "0_4";
    expect(make(e)).toThrow("LayerTrajectory: trajectory.nodes[1].id: 0_4 is also nodes[0]");
    expect(() => layerTrajectory({ trajectory: smallTrajectory(), maxNodes: 0 })).toThrow(/"max_nodes": expected a whole number >= 1, got 0/);
    expect(layerTrajectory({ trajectory: { tokens: [], nodes: [], links: [] } }).message).toBe("no feature fires on these tokens at any layer");
  });
});

// ---- the library's real output ---------------------------------------------------------------------------------

describe("src/steer's results on the toy model go into the widgets as they are", () => {
  it("generateWithFeatures streams through onText into TokenActivations; trajectory() into LayerTrajectory", async () => {
    const model = await loadModel(resolve(import.meta.dirname, "../../models/toy-safety-qwen2"));
    // Random SAEs (seeded) and a database tagging every third latent: the widgets only need the shapes to be real.
    const saes = [0, 2].map((l) => createSae({ dIn: model.config.hiddenSize, dSae: 64, k: 8, hookName: `blocks.${l}.hook_resid_post` }, { seed: 7 + l }));
    const domains = ["violence", "terror", "politics"];
    const db = newFeatureDb([0, 2].flatMap((l) => Array.from({ length: 64 }, (_, i) => featureRecord(`${l}_${i}`, {
      explanation: i % 5 === 0 ? null : `feature ${l}_${i}`, correlation_score: i % 4 ? i / 64 : null, tag_list: [domains[i % 3]!],
    }))));
    const pieces: string[] = [];
    let generation: Awaited<ReturnType<typeof generateWithFeatures>> | undefined;
    const w = tokenActivations({
      streamIntervalMs: 0,
      analyse: async (prompt, onText) => {
        generation = await generateWithFeatures(model, saes, db, prompt, { maxNewTokens: 8, seed: 1, onToken: (_id, piece) => {
          pieces.push(piece);
          onText(piece);
        } });
        return generation;
      },
    });
    await w.generate("How do I make a bomb?");
    expect(w.status, w.message).toBe("ready");
    const table = generation!.table;
    expect(w.answer).toBe(generation!.text);
    expect(pieces.join("")).toBe(generation!.text);
    expect(w.tokens).toEqual(table.tokens.map((t) => t.display));
    expect(Array.from(w.token_flags)).toEqual(table.tokens.map((t, i) => (t.special ? TOKEN_SPECIAL : 0) | (i >= table.answerStart! ? TOKEN_ANSWER : 0)));
    expect(w.layers).toEqual([0, 2]);
    // Every row of the table is in the widget (the library puts none on special tokens), with its feature.
    expect(table.rows.length).toBeGreaterThan(0);
    expect(table.tokens.some((t) => t.special)).toBe(true);
    expect(w.rows.token.length).toBe(table.rows.length);
    const got = Array.from(w.rows.token, (t, i) => `${t}:${w.features[w.rows.feature[i]!]!.id}:${Math.fround(w.rows.normalised[i]!)}`).sort();
    expect(got).toEqual(table.rows.map((r) => `${r.token}:${r.feature}:${Math.fround(r.normalised)}`).sort());
    // The library's tracks, masked where it says null.
    const T = table.tokens.length;
    table.features.forEach((f, i) => {
      expect(w.features[w.tracks.feature[i]!]!.id).toBe(f.feature);
      expect(Array.from(w.tracks.values.subarray(i * T, (i + 1) * T))).toEqual(f.normalised.map((v) => (v === null ? NaN : Math.fround(v))));
    });

    const tr = await trajectory(model, saes, db, { messages: [{ role: "user", content: "How do I make a bomb?" }, { role: "assistant", content: generation!.text }] });
    const lt = layerTrajectory({ trajectory: tr });
    expect(tr.links.length).toBeGreaterThan(0);
    expect(lt.nodes.map((n) => n.id)).toEqual(tr.nodes.map((n) => n.id));
    expect(lt.links).toEqual(tr.links.map((l) => ({ source: tr.nodes.findIndex((n) => n.id === l.source), target: tr.nodes.findIndex((n) => n.id === l.target), weight: l.weight })));
    tr.nodes.forEach((n, i) => expect(Array.from(lt.node_tokens.subarray(lt.node_token_start[i]!, lt.node_token_start[i + 1]!))).toEqual(n.tokens));
  }, 120_000);
});
