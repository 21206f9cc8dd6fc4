// The figure builders of src/metrics/figures.ts on small hand-made inputs: pooled activations -> contrastiveReport
// -> sweep rows (as sweepConfigurations makes them) -> figures, with the drawn values checked against L0,t and
// I_CDF recomputed here from the raw numbers by plain loops; NaN metrics and missing configurations give warnings.
import { describe, expect, it } from "vitest";
import {
  axisKey,
  configurationFigure,
  configurationLabel,
  contrastiveReport,
  icdfCurvesPanel,
  kSweepPanel,
  l0tCurvesPanel,
  probePanel,
  sweepChoices,
  type Figure,
  type FigureTrace,
  type PairLike,
  type SweepFigureInput,
  type SweepFigureRow,
} from "../src/metrics/index.ts";

const M = 3; // features
const THRESHOLDS = [0, 0.5, 1];
const RHO = 0.5;

// Pairs of two concepts (3 + 2 pairs); per pair the concept query's and the twin's pooled activations.
const PAIRS: Array<PairLike & { P: number[]; N: number[] }> = [
  { domain: "d", concept: "a", positive: "q0", negative: "n0", P: [1.0, 0.2, 0.0], N: [0.0, 0.3, 0.6] },
  { domain: "d", concept: "a", positive: "q1", negative: "n1", P: [0.8, 0.7, 0.0], N: [0.1, 0.0, 0.9] },
  { domain: "d", concept: "a", positive: "q2", negative: "n2", P: [0.4, 0.9, 1.2], N: [0.0, 0.2, 1.0] },
  { domain: "d", concept: "b", positive: "q3", negative: "n3", P: [0.0, 1.5, 0.3], N: [0.0, 0.1, 0.2] },
  { domain: "d", concept: "b", positive: "q4", negative: "n4", P: [0.6, 0.0, 0.7], N: [0.7, 0.0, 0.1] },
];

/** L0,t and I_CDF over THRESHOLDS, mean over concepts, by the definitions (docs/metrics.md), plain loops. */
function byHand(scale: number): { l0t: number[]; icdf: number[] } {
  const concepts = [...new Set(PAIRS.map((p) => p.concept))];
  const l0t: number[] = [];
  const icdf: number[] = [];
  for (const t of THRESHOLDS) {
    let l0Sum = 0;
    let icdfSum = 0;
    for (const c of concepts) {
      const ps = PAIRS.filter((p) => p.concept === c);
      let l0 = 0;
      let fSum = 0;
      for (let j = 0; j < M; j++) {
        let hits = 0;
        for (const p of ps) if (p.P[j]! * scale > t && !(p.N[j]! * scale > t)) hits++;
        const f = hits / ps.length;
        if (f >= RHO) l0++;
        fSum += f;
      }
      l0Sum += l0;
      icdfSum += fSum / M;
    }
    l0t.push(l0Sum / concepts.length);
    icdf.push(icdfSum / concepts.length);
  }
  return { l0t, icdf };
}

/** A sweep row from pooled values scaled by `scale`, made as sweepConfigurations makes it. */
function row(site: string, layer: number, k: number, scale: number, safetyFeatures: number): SweepFigureRow {
  const values = Float32Array.from(PAIRS.flatMap((p) => [...p.P, ...p.N]), (v) => v * scale);
  const report = contrastiveReport({ values, queries: 2 * PAIRS.length, features: M, hookName: `blocks.${layer}.hook_${site}`, basis: "sae" }, PAIRS, {
    thresholds: THRESHOLDS, normalise: false, minFrequency: RHO,
  });
  const ti = THRESHOLDS.indexOf(0.5);
  return {
    site, layer, k,
    l0t: report.overall.l0t[ti]!.value, icdf: report.overall.icdf[ti]!.value,
    l0tCurve: report.overall.l0t, icdfCurve: report.overall.icdf,
    // Fewer than 4 pairs per concept: no probes, so these are what the sweep computes then (-Infinity and NaN).
    kSparseF1: Math.max(...report.overall.kSparseF1), oneDF1: report.overall.oneDF1,
    safetyFeatures,
  };
}

function sweep(): SweepFigureInput {
  return {
    reportThreshold: 0.5,
    rows: [row("mlp_out", 1, 8, 1, 3), row("mlp_out", 1, 16, 0.5, 5), row("resid_post", 1, 8, 2, 7)],
    baselines: [{ site: "mlp_out", layer: 1, kSparseF1: 0.75, oneDF1: 0.5, l0t: 1.5, icdf: 0.25 }],
  };
}

const f32 = (xs: number[]) => xs.map((v) => Math.fround(v));
const values = (a: Float32Array) => [...a];
function trace(fig: Figure, name: string, xaxis = "x"): FigureTrace {
  const t = fig.traces.find((tr) => tr.name === name && (tr.xaxis ?? "x") === xaxis);
  if (!t) throw new Error(`no trace ${name} on ${xaxis}: ${fig.traces.map((tr) => `${tr.name}@${tr.xaxis}`).join(", ")}`);
  return t;
}

describe("figures of the sweep", () => {
  it("the hand computation agrees with contrastiveReport on these numbers (sanity of the fixture)", () => {
    const hand = byHand(1);
    // t = 0: concept a: feature 0 separates 2/3 pairs, feature 1 1/3, feature 2 0/3 -> L0 = 1; concept b: 0/2 each
    // -> 0; mean 0.5. t = 0.5 silences twins too: a: 2/3, 2/3, 0/3 -> 2; b: 0/2, 1/2, 1/2 -> 2; mean 2.
    expect(hand.l0t.slice(0, 2)).toEqual([0.5, 2]);
    expect(row("mlp_out", 1, 8, 1, 0).l0tCurve.map((p) => p.value)).toEqual(hand.l0t);
  });

  it("L0,t and I_CDF curves: the chosen configuration's values are those recomputed from the raw numbers", () => {
    const s = sweep();
    const fig = configurationFigure(s, { site: "mlp_out", layer: 1, k: 16 });
    const hand = byHand(0.5);
    const l0 = trace(fig, "mlp_out L1 k16", "x");
    expect(values(l0.x)).toEqual(f32(THRESHOLDS));
    expect(values(l0.y)).toEqual(f32(hand.l0t));
    expect(l0).toMatchObject({ type: "scatter", mode: "lines+markers", yaxis: "y" });
    const ic = trace(fig, "mlp_out L1 k16", "x2");
    expect(values(ic.y)).toEqual(f32(hand.icdf));
    expect(ic.yaxis).toBe("y2");
    // The other k of the same site and layer dashed; the other site grey and out of the legend.
    expect(trace(fig, "mlp_out L1 k8", "x").line).toMatchObject({ dash: "dash" });
    expect(values(trace(fig, "mlp_out L1 k8", "x").y)).toEqual(f32(byHand(1).l0t));
    expect(trace(fig, "resid_post L1 k8", "x")).toMatchObject({ showlegend: false });
    expect(values(trace(fig, "resid_post L1 k8", "x2").y)).toEqual(f32(byHand(2).icdf));
    // The raw-hook baseline at the report threshold.
    const raw = trace(fig, "raw hook mlp_out L1 (t = 0.5)", "x");
    expect([values(raw.x), values(raw.y)]).toEqual([[0.5], [1.5]]);
    expect(values(trace(fig, "raw hook mlp_out L1 (t = 0.5)", "x2").y)).toEqual([0.25]);
    // Every series is a Float32Array; the layout is plain JSON (it goes as JSON, the series as buffers).
    for (const t of fig.traces) expect([t.x, t.y].every((a) => a instanceof Float32Array)).toBe(true);
    expect(JSON.parse(JSON.stringify(fig.layout))).toEqual(fig.layout);
    expect(fig.layout).toMatchObject({ grid: { rows: 2, columns: 2 }, xaxis4: { type: "log", tickvals: [8, 16] } });
    expect((fig.layout.title as { text: string }).text).toBe(`mlp_out L1 k16: 5 safety features, L0,t ${Number(hand.l0t[1]!.toPrecision(4))}, I_CDF ${Number(hand.icdf[1]!.toPrecision(4))} at t = 0.5`);
  });

  it("the k sweep: L0,t at the report threshold and the safety features against k, at the chosen site and layer", () => {
    const fig = kSweepPanel(sweep(), { site: "mlp_out", layer: 1, k: 16 }, { x: "x4", y: "y4" });
    const l0 = trace(fig, "L0,t (t = 0.5)", "x4");
    expect(values(l0.x)).toEqual([8, 16]);
    expect(values(l0.y)).toEqual(f32([byHand(1).l0t[1]!, byHand(0.5).l0t[1]!]));
    expect(values(trace(fig, "safety features (filter)", "x4").y)).toEqual([3, 5]);
    const chosen = trace(fig, "k 16 (chosen)", "x4");
    expect([values(chosen.x), values(chosen.y)]).toEqual([[16, 16], f32([byHand(0.5).l0t[1]!, 5])]);
    expect(fig.layout).toHaveProperty("xaxis4.title.text", "TopK k");
    expect(fig.warnings).toEqual([]);
  });

  it("probe baselines: a NaN (or infinite) F1 is no bar and a warning, never a value", () => {
    const fig = probePanel(sweep(), { site: "mlp_out", layer: 1, k: 8 });
    const sae = trace(fig, "SAE latents mlp_out L1 k8");
    expect(sae.type).toBe("bar");
    expect(values(sae.y).every(Number.isNaN)).toBe(true);
    expect(sae.text).toEqual(["NaN", "NaN"]);
    expect(values(trace(fig, "raw hook mlp_out L1").y)).toEqual([0.75, 0.5]);
    expect(fig.warnings).toEqual(["probe F1 of mlp_out L1 k8 is infinite or NaN at k-sparse F1 (best k), 1-d probe F1: not drawn"]);
    expect(fig.layout).toHaveProperty("xaxis.ticktext", ["k-sparse F1 (best k)", "1-d probe F1"]);
  });

  it("a NaN on a curve stays a gap and is named in a warning; grey curves with NaN are counted", () => {
    const s = sweep();
    const rows = s.rows.map((r) => ({ ...r, l0tCurve: r.l0tCurve.map((p) => ({ ...p })) }));
    rows[1]!.l0tCurve[2]!.value = NaN; // mlp_out L1 k16 at t = 1
    rows[2]!.l0tCurve[0]!.value = NaN; // resid_post L1 k8 at t = 0
    const fig = l0tCurvesPanel({ ...s, rows }, { site: "mlp_out", layer: 1, k: 16 });
    const y = values(trace(fig, "mlp_out L1 k16").y);
    expect(Number.isNaN(y[2])).toBe(true);
    expect(y.slice(0, 2)).toEqual(f32(byHand(0.5).l0t.slice(0, 2)));
    expect(fig.warnings).toEqual([
      "L0,t of mlp_out L1 k16 is NaN at t = 1: not drawn",
      "L0,t is NaN or infinite at some t in 1 other configuration (resid_post L1 k8): not drawn there",
    ]);
    const icdf = icdfCurvesPanel({ ...s, rows }, { site: "mlp_out", layer: 1, k: 16 });
    expect(icdf.warnings).toEqual([]);
    rows[1]!.l0t = NaN;
    expect(kSweepPanel({ ...s, rows }, { site: "mlp_out", layer: 1, k: 16 }).warnings).toEqual(["L0,t (t = 0.5) at mlp_out L1 is NaN at k = 16: not drawn"]);
  });

  it("a configuration the sweep did not train: a warning and an annotation, the rest still drawn", () => {
    const s = sweep();
    const fig = configurationFigure(s, { site: "resid_post", layer: 1, k: 16 });
    expect(fig.warnings[0]).toBe("no SAE in the sweep for resid_post, layer 1, k 16 (trained at resid_post layer 1: k 8)");
    expect(fig.warnings).toContain("no raw-hook baseline in the sweep for resid_post, layer 1");
    expect(new Set(fig.warnings).size).toBe(fig.warnings.length);
    expect((fig.layout.annotations as Array<{ text: string }>).map((a) => a.text)).toContain("no SAE for resid_post L1 k16");
    expect((fig.layout.title as { text: string }).text).toBe("resid_post L1 k16: not in the sweep");
    expect(fig.traces.some((t) => t.name === "mlp_out L1 k8")).toBe(true);
    expect(fig.traces.some((t) => t.name === "resid_post L1 k16")).toBe(false);
    const none = configurationFigure(s, { site: "attn_out", layer: 3, k: 8 });
    expect(none.warnings).toContain("no SAE in the sweep for attn_out, layer 3, k 8 (nothing was trained at attn_out layer 3)");
    expect(none.warnings).toContain("no SAE in the sweep at attn_out, layer 3: no k sweep to draw");
  });

  it("choices, labels and axis keys", () => {
    expect(sweepChoices(sweep())).toEqual({ sites: ["mlp_out", "resid_post"], layers: [1], ks: [8, 16] });
    expect(configurationLabel({ site: "mlp_out", layer: 2, k: 64 })).toBe("mlp_out L2 k64");
    expect([axisKey("x"), axisKey("y3"), axisKey("x1")]).toEqual(["xaxis", "yaxis3", "xaxis"]);
    expect(() => axisKey("z")).toThrow(/not a Plotly axis id/);
  });
});
