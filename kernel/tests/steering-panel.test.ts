// The SteeringPanel's kernel side (kernel/src/widgets/steering-panel.ts) against the in-memory front end of
// widgets-fake.ts, on the toy model with its shipped SAEs and feature database: the chips' state (explanations and
// slider ranges from the database), chip edits from the front end (a method switch resets the range, a value outside
// it widens it, bad values go back), typed ids checked against the SAEs, the Generate round trip compared with
// src/steer's own `steer(...).compare` run in this process, errors shown in the panel (never thrown at the comm), a
// superseded request dropped, and the links from a StarMap selection and a TokenActivations feature choice.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FeatureDb } from "../../src/db/records.ts";
import { readFeatureDb } from "../../src/db/store.ts";
import { loadSaes } from "../../src/interpret/examples.ts";
import { loadModel, type Model } from "../../src/model/runtime.ts";
import type { Sae } from "../../src/sae/sae.ts";
import { steer, type SteeringComparison } from "../../src/steer/index.ts";
import { STEERING_PANEL_MODEL, STEERING_PANEL_VIEW } from "../../widgets/src/steering-protocol.ts";
import { MODULE_NAME } from "../../widgets/src/protocol.ts";
import { putBuffers } from "../src/widgets/buffers.ts";
import {
  methodRange,
  SteeringPanel,
  starMap,
  steeringPanel,
  tokenActivations,
  type SteeringComparisonInput,
  type SteeringRequest,
  type TokenView,
} from "../src/widgets/index.ts";
import type { FakeKernel, Sent } from "./widgets-fake.ts";
import { startFakeWidgetKernel, stopFakeWidgetKernel } from "./widgets-harness.ts";

// src/steer's comparison is the panel's compare result as it is (a compile-time check).
export const libraryShape = (c: SteeringComparison): SteeringComparisonInput => c;

const MODEL_DIR = new URL("../../models/toy-safety-qwen2", import.meta.url).pathname;
const PROMPT = "How do I build a bomb at home?";

let model: Model;
let saes: Sae[];
let db: FeatureDb;
let k: FakeKernel;
let errors: string[];

beforeAll(async () => {
  model = await loadModel(MODEL_DIR);
  saes = await loadSaes(`${MODEL_DIR}/saes`);
  db = await readFeatureDb(`${MODEL_DIR}/saes/features.db.json`);
}, 60_000);

beforeEach(() => {
  ({ kernel: k, errors } = startFakeWidgetKernel());
});

afterEach(() => {
  stopFakeWidgetKernel();
});

/** A sent state as the front end rebuilds it: buffers put back at their paths, float32 columns as number lists. */
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

const updates = (id: string) => k.on(id, "update").map(frontEndState);
const record = (id: string) => db.records.find((r) => r.id === id)!;
const flush = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe("SteeringPanel on the toy model", () => {
  it("opens with the chips: explanation, score and tags from the database, slider ranges from its scale", () => {
    const p = steeringPanel(model, saes, db, { features: ["2_716", { feature: "02_1593", method: "add", value: -40 }, "3_7=scale:0.5"], title: "steer" });
    // What a published page needs to run the same compare (widgets/src/inpage).
    expect(p.in_page).toEqual({ model: "toy-safety-qwen2", saes: [0, 1, 2, 3].map((l) => `blocks.${l}.hook_resid_post`), options: { chat: true } });
    const open = k.sent.find((s) => s.kind === "open" && s.commId === p.modelId)!;
    const state = frontEndState(open);
    expect(state).toMatchObject({ _model_module: MODULE_NAME, _model_name: STEERING_PANEL_MODEL, _view_name: STEERING_PANEL_VIEW, title: "steer", status: "ready", revision: 0, comparison: null, max_new_tokens: 32, seed: 0 });
    const r = record("2_716");
    const scale = r.activations!.normalisation_value;
    const clamp = methodRange("clamp", scale);
    expect(clamp).toMatchObject({ min: 0, max: 80 });
    expect(clamp.value).toBeCloseTo(scale, 0);
    expect(state.chips).toEqual([
      { feature: "2_716", layer: 2, method: "clamp", value: clamp.value, min: 0, max: 80, step: clamp.step, scale, explanation: r.explanation, score: r.correlation_score, tags: r.tag_list },
      expect.objectContaining({ feature: "2_1593", layer: 2, method: "add", value: -40, min: -methodRange("add", record("2_1593").activations!.normalisation_value).max, explanation: record("2_1593").explanation }),
      expect.objectContaining({ feature: "3_7", method: "scale", value: 0.5, min: -2, max: 10, step: 0.1 }),
    ]);
    expect(p.interventions).toEqual([{ feature: "2_716", method: "clamp", value: clamp.value }, { feature: "2_1593", method: "add", value: -40 }, { feature: "3_7", method: "scale", value: 0.5 }]);
    // Not in the database: the default scale (10) and no explanation.
    const unknown = db.records.some((x) => x.id === "0_1") ? "0_3" : "0_1";
    p.addFeature(unknown);
    expect(p.chips.at(-1)).toMatchObject({ feature: unknown, scale: 10, explanation: "", score: null, tags: [], min: 0, max: 30, value: 10 });
    expect(p.repr()).toMatch(/^SteeringPanel\(chips=\[2_716=clamp:[\d.]+, 2_1593=add:-40, 3_7=scale:0\.5, 0_\d=clamp:10\], status="ready", revision=0\)$/);
    // Bad first chips throw at once, naming the entry.
    expect(() => steeringPanel(model, saes, db, { features: ["9_1"] })).toThrow("SteeringPanel: features[0]: 9_1: no SAE reads layer 9 (the SAEs read layers 0, 1, 2, 3)");
    expect(() => steeringPanel(model, saes, db, { features: ["2_716", "2_716=add:3"] })).toThrow("SteeringPanel: features[1]: 2_716 is given twice");
    expect(() => steeringPanel(model, saes, db, { features: [{ feature: "2_716", method: "push" }] })).toThrow('SteeringPanel: features[0]: 2_716 method: expected one of clamp, scale, add, orthogonal, cap, got "push"');
  });

  it("Generate from the front end: chip edits arrive as state, the comparison equals steer(...).compare in this process", async () => {
    const p = steeringPanel(model, saes, db, { features: [{ feature: "2_716", method: "add", value: 0 }], prompt: PROMPT, generate: false, maxNewTokens: 24 });
    const fe = k.comm(p.modelId);
    k.take();
    // The slider moved to 60, then Generate.
    fe.receive({ method: "update", state: { chips: [{ ...p.chips[0]!, value: 60 }] }, buffer_paths: [] });
    fe.receive({ method: "custom", content: { event: "generate" } });
    await p.settled();
    expect(p.status, p.message).toBe("ready");
    const sent = updates(p.modelId);
    expect(sent[0]).toEqual({ status: "generating" });
    expect(sent).toHaveLength(2);
    const last = sent[1]!;
    expect(last).toMatchObject({ status: "ready", revision: 1 });
    expect(p.message).toBe("");
    expect(k.on(p.modelId, "update").at(-1)!.data.buffer_paths).toEqual([["comparison", "baseline_activations"], ["comparison", "steered_activations"]]);

    const want = await steer(model, saes, [{ feature: "2_716", method: "add", value: 60 }]).compare({ prompt: PROMPT, chat: true, maxNewTokens: 24, seed: 0 });
    expect(want.baseline.text).not.toBe(want.steered.text); // the setting really changes the answer
    const c = last.comparison as Record<string, any>;
    expect(c.prompt).toBe(PROMPT);
    expect(c.interventions).toEqual([{ feature: "2_716", method: "add", value: 60 }]);
    expect(c.baseline.text).toBe(want.baseline.text);
    expect(c.steered.text).toBe(want.steered.text);
    expect(c.baseline.tokens.join("")).toBe(want.baseline.text);
    expect(c.steered.tokens.join("")).toBe(want.steered.text);
    expect(c.steered.tokens).toHaveLength(want.steered.ids.length);
    expect(c.baseline.finish_reason).toBe(want.baseline.finishReason);
    expect(c.first_difference).toBe(want.firstDifference);
    expect(c.baseline_activations).toEqual(want.features[0]!.baseline.map(Math.fround));
    expect(c.steered_activations).toEqual(want.features[0]!.steered.map(Math.fround));
    // The library's result as it came, for kernel code.
    expect(p.result!.steered.text).toBe(want.steered.text);
    expect(p.comparison!.first_difference).toBe(want.firstDifference);
    expect(errors).toEqual([]);
  });

  it("chip edits: a method switch resets range and value, a value outside the range widens it, bad edits go back", () => {
    const p = steeringPanel(model, saes, db, { features: ["2_716"] });
    const fe = k.comm(p.modelId);
    const chip = p.chips[0]!;
    const add = methodRange("add", chip.scale);
    k.take();
    fe.receive({ method: "update", state: { chips: [{ ...chip, method: "add" }] }, buffer_paths: [] });
    expect(p.chips[0]).toMatchObject({ method: "add", value: add.value, min: add.min, max: add.max, step: add.step });
    // The kernel's correction goes back after the echo.
    const back = updates(p.modelId);
    expect(back).toHaveLength(1);
    expect((back[0]!.chips as unknown[])[0]).toMatchObject({ method: "add", min: -80, max: 80 });
    // Method and value in one change: the value is kept.
    fe.receive({ method: "update", state: { chips: [{ ...p.chips[0]!, method: "orthogonal", value: 5 }] }, buffer_paths: [] });
    expect(p.chips[0]).toMatchObject({ method: "orthogonal", value: 5, min: -80, max: 80 });
    fe.receive({ method: "update", state: { chips: [{ ...p.chips[0]!, value: 250 }] }, buffer_paths: [] });
    expect(p.chips[0]).toMatchObject({ value: 250, min: -80, max: 250 });
    // Removing a chip is writing the list without it.
    p.addFeature("3_7");
    fe.receive({ method: "update", state: { chips: [p.chips[1]] }, buffer_paths: [] });
    expect(p.chips.map((c) => c.feature)).toEqual(["3_7"]);
    // Rejected: the kernel's chips go back, the error is logged (not thrown into the comm).
    k.take();
    const before = p.chips;
    for (const bad of [{ ...before[0]!, method: "push" }, { ...before[0]!, value: "x" }, { ...before[0]!, feature: "abc" }]) {
      fe.receive({ method: "update", state: { chips: [bad] }, buffer_paths: [] });
    }
    fe.receive({ method: "update", state: { chips: [before[0], before[0]] }, buffer_paths: [] });
    expect(p.chips).toEqual(before);
    expect(errors.join("\n")).toMatch(/chips"\[0\]\.method: expected one of clamp, scale, add, orthogonal, cap, got "push"/);
    expect(errors.join("\n")).toMatch(/chips"\[0\]\.value: expected a finite number, got "x"/);
    expect(errors.join("\n")).toMatch(/chips"\[0\]\.feature: "abc" is not a feature id/);
    expect(errors.join("\n")).toMatch(/chips"\[1\]: 3_7 is chosen twice; one chip per feature/);
    expect(updates(p.modelId).every((u) => JSON.stringify(u.chips) === JSON.stringify(before))).toBe(true);
  });

  it("typed ids: good ones become chips, bad ones are named in the panel", () => {
    const p = steeringPanel(model, saes, db, { features: ["2_716"] });
    const fe = k.comm(p.modelId);
    k.take();
    fe.receive({ method: "custom", content: { event: "add", features: "2_1593, 9_1 abc;2_99999 2_716 1_5=push:3 1_6=add:x" } });
    expect(p.chips.map((c) => c.feature)).toEqual(["2_716", "2_1593"]);
    // The chips and the note in one update.
    expect(updates(p.modelId).map((u) => Object.keys(u).sort())).toEqual([["chips", "message", "status"]]);
    expect(p.status).toBe("error");
    expect(p.message.split("; ")).toEqual([
      "added 2_1593",
      "9_1: no SAE reads layer 9 (the SAEs read layers 0, 1, 2, 3)",
      '"abc" is not a feature id (expected {layer}_{index}, e.g. "2_716")',
      "2_99999: the SAE at layer 2 has 2560 latents (0..2559)",
      "2_716 is already chosen",
      '1_5 method: expected one of clamp, scale, add, orthogonal, cap, got "push"',
      '1_6=add:x: the value "x" is not a number',
    ]);
    fe.receive({ method: "custom", content: { event: "add", features: "3_7=add:12 2_716=cap:4" } });
    expect(p.status).toBe("ready");
    expect(p.message).toBe("added 3_7, 2_716");
    expect(p.chips.map((c) => [c.feature, c.method, c.value])).toEqual([["2_716", "cap", 4], ["2_1593", "clamp", p.chips[1]!.value], ["3_7", "add", 12]]);
    fe.receive({ method: "custom", content: { event: "add", features: "  " } });
    expect(p.message).toBe("type a feature id first, e.g. 2_716 or 2_716=add:40");
    // A malformed message is logged, nothing changes.
    fe.receive({ method: "custom", content: { event: "add" } });
    expect(errors.join("\n")).toMatch(/an "add" message without a features string/);
    expect(p.chips).toHaveLength(3);
    // A chip edit makes the note stale: it goes (and an error status with it).
    fe.receive({ method: "custom", content: { event: "add", features: "9_9" } });
    expect(p.status).toBe("error");
    fe.receive({ method: "update", state: { chips: p.chips.map((c, i) => (i === 0 ? { ...c, value: 5 } : c)) }, buffer_paths: [] });
    expect(p).toMatchObject({ status: "ready", message: "" });
  });

  it("errors show in the panel: the library's own (a chip at a layer without an SAE), a throwing compare, a malformed result, no prompt", async () => {
    // Two of the four SAEs: a chip at layer 1 slipped in from the front end reaches steer(), which refuses it.
    const p = steeringPanel(model, [saes[0]!, saes[2]!], db, { features: ["2_716"], prompt: PROMPT, generate: false, maxNewTokens: 8 });
    const fe = k.comm(p.modelId);
    fe.receive({ method: "update", state: { chips: [...p.chips, { ...p.chips[0]!, feature: "1_5", layer: 1 }] }, buffer_paths: [] });
    expect(p.chips).toHaveLength(2);
    fe.receive({ method: "custom", content: { event: "generate" } });
    await p.settled();
    expect(p.status).toBe("error");
    expect(p.message).toMatch(/interventions\[1\]\.feature: 1_5: no SAE reads layer 1 \(the SAEs read layers 0, 2\)/);
    expect(p.comparison).toBeNull();

    let mode: "ok" | "throw" | "bad" = "ok";
    const fake = (req: SteeringRequest): SteeringComparisonInput => {
      if (mode === "throw") throw new Error("the model went away");
      const answer = { text: "ab", tokens: ["a", "b"], finishReason: "stop" };
      return {
        baseline: answer, steered: { ...answer, tokens: mode === "bad" ? ["a"] : answer.tokens }, firstDifference: null,
        features: req.interventions.map((iv) => ({ feature: iv.feature, baseline: [1, 2], steered: [3, 4] })),
      };
    };
    const q = new SteeringPanel({ compare: fake, features: ["5_5"], prompt: "hi", generate: false });
    await q.generate();
    expect(q.status).toBe("ready");
    expect(Array.from(q.comparison!.steered_activations)).toEqual([3, 4]);
    expect(q.comparison!.first_difference).toBe(-1);
    mode = "throw";
    await q.generate();
    expect(q).toMatchObject({ status: "error", message: "the model went away", revision: 1 });
    expect(q.comparison!.steered.text).toBe("ab"); // the last good comparison stays
    mode = "bad";
    await q.generate();
    expect(q.message).toBe("compare returned.features[0].steered: 2 values for 1 answer tokens");
    mode = "ok";
    q.prompt = "  ";
    await q.generate();
    expect(q).toMatchObject({ status: "error", message: "type a prompt first" });
    q.prompt = "hi";
    q.removeFeature("5_5");
    await q.generate();
    expect(q).toMatchObject({ status: "ready", revision: 2, message: "no feature chosen: the steered answer is the baseline" });
    expect(errors).toEqual([]);
  });

  it("a newer Generate supersedes a running one: only its result is applied", async () => {
    const gates: (() => void)[] = [];
    const seen: string[] = [];
    const p = new SteeringPanel({
      prompt: "one",
      compare: async (req) => {
        seen.push(req.prompt);
        await new Promise<void>((r) => gates.push(r));
        const answer = { text: req.prompt, tokens: [req.prompt] };
        return { baseline: answer, steered: answer, firstDifference: null, features: [] };
      },
    });
    await flush();
    p.prompt = "two";
    const second = p.generate();
    await flush();
    gates[1]!();
    await second;
    gates[0]!();
    await flush(5);
    expect(seen).toEqual(["one", "two"]);
    expect(p.comparison!.prompt).toBe("two");
    expect(p.comparison!.steered.text).toBe("two");
    expect(p.revision).toBe(1);
  });

  it("links: a StarMap selection and a TokenActivations feature choice add chips", () => {
    const p = steeringPanel(model, saes, db, { features: ["2_716"], linkLimit: 2 });
    const points = ["2_716", "2_1593", "3_7", "1_5", "7_7"].map((id, i) => ({ id, x: i, y: i, explanation: `map text ${id}` }));
    const map = starMap({ map: { points } });
    const unlink = p.linkTo(map);
    const fe = k.comm(map.modelId);
    fe.receive({ method: "update", state: { selection: ["2_716", "2_1593"] }, buffer_paths: [] });
    expect(p.chips.map((c) => c.feature)).toEqual(["2_716", "2_1593"]);
    expect(p.chips[1]!.explanation).toBe(record("2_1593").explanation);
    expect(p.message).toBe("added 2_1593 from the map's selection");
    // Three new ids, a limit of two: two chips, the rest counted; an id without an SAE is named.
    map.selection = ["2_716", "2_1593", "7_7", "3_7", "1_5"];
    expect(p.chips.map((c) => c.feature)).toEqual(["2_716", "2_1593", "3_7"]);
    expect(p.message).toBe("added 3_7 from the map's selection; 1 more selected features not added (at most 2 at a time); 7_7: no SAE reads layer 7 (the SAEs read layers 0, 1, 2, 3)");
    expect(p.status).toBe("error");
    unlink();
    map.selection = ["1_5"];
    expect(p.chips).toHaveLength(3);

    const view: TokenView = {
      tokens: [{ text: "bomb" }, { text: " now" }],
      rows: [
        { token: 0, layer: 2, feature: "2_1781", normalised: 0.9, explanation: "bombs", score: 0.5, tags: ["terror"] },
        { token: 1, layer: 1, feature: "1_5", normalised: 0.2, explanation: "now", score: null, tags: [] },
      ],
    };
    const ta = tokenActivations({ analyse: () => view, initial: view });
    p.linkTo(ta);
    // A new view selects its strongest feature by itself: not a user choice, no chip.
    ta.setView(view);
    expect(ta.selected).toBe("2_1781");
    expect(p.chips).toHaveLength(3);
    // The user picks a feature in the table: a chip.
    k.comm(ta.modelId).receive({ method: "update", state: { selected: "1_5" }, buffer_paths: [] });
    expect(p.chips.map((c) => c.feature)).toEqual(["2_716", "2_1593", "3_7", "1_5"]);
    expect(p.message).toBe("added 1_5 from the token view");
    expect(p.status).toBe("ready");
    p.close();
    k.comm(ta.modelId).receive({ method: "update", state: { selected: "2_1781" }, buffer_paths: [] });
    expect(errors).toEqual([]);
    expect(() => p.linkTo({} as never)).toThrow("SteeringPanel.linkTo: expected a StarMap or a TokenActivations widget, got an object");
  });
});
