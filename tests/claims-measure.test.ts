// The claims' figures on hand-built grids and records, checked against sums and correlations computed here
// independently, and the verdict rules on cases built to fall on each side.
import { describe, expect, it } from "vitest";
import {
  chooseGridThreshold,
  claim1Row,
  claim2Row,
  claim3Row,
  convergenceCheck,
  countInterval,
  countsAgainstK,
  heldoutWarnings,
  percentileInterval,
  mainEntries,
  metricAgreement,
  resultsFromNotebook,
  resultsMarkdown,
  slsTlsAgreement,
  type ClaimsGridFile,
  type GridEntry,
} from "../src/claims/index.ts";
import type { FeatureRecord } from "../src/db/records.ts";

const B = 40;
function entry(site: "mlp_out" | "resid_post", k: number, kept: [number, number], cal: [number, number], icdf: number[], steps = 100): GridEntry {
  return {
    site,
    layer: 1,
    k,
    steps,
    hook: `blocks.1.hook_${site}`,
    dSae: 100,
    key: "x",
    training: { tokens: 0, epochs: 1, seconds: 1, curve: [], plateau: { improvement: 0, plateaued: true }, final_fvu: 0.1, final_dead_fraction: 0, warnings: [] },
    heldout: { documents: 1, tokens: 1, fvu: 0.2, l0: k, dead_fraction: 0, dense_fraction: 0, ce: { documents: 1, ce_loss_clean: 1, ce_loss_sae: 1.1, ce_loss_zero_ablation: 3, ce_loss_recovered: 0.95, kl_sae: 0.1, warnings: [] } },
    // Three concepts; L0,t at t = 0.5 is the concept's I_CDF x 10, the probes are constant-ish.
    concepts: icdf.map((v, c) => ({ domain: "terror", concept: `c${c}`, pairs: 10, l0t: [0, v * 10], icdf: [0, v], kSparseF1: 0.9 - 0.01 * c, oneDF1: 0.5 + (k % 3) * 0.01 })),
    filter: {
      calibration: [...cal],
      evaluation: [...kept],
      evaluationPerDomain: { terror: [...kept], violence: [0, 0], politics: [0, 0], pornography: [0, 0] },
      // Replicates: the count, then +-1 around it.
      replicates: kept.map((n) => Array.from({ length: B }, (_, b) => Math.max(0, n + (b % 3) - 1))),
    },
    evaluateSeconds: 1,
  };
}

function grid(entries: GridEntry[]): ClaimsGridFile {
  return {
    format: "safesail-claims-grid",
    version: 1,
    description: "",
    command: "",
    settings: { steps: 100, bootstrap: B },
    model: { folder: "m", fingerprint: "f" },
    corpus: { conversations: 1, tokens: 1, sha256: "", generator_seed: 0 },
    data: { pairs: "", pairs_sha256: "", samples: "", samples_sha256: "", calibration: 1, evaluation: 1, concepts: 3 },
    thresholds: [0, 0.5],
    filterThresholds: [0.1, 0.5],
    entries,
    missing: [],
    wall_seconds: { harvest: 0, train: 0, evaluate: 0, processes: 1 },
    machine: "",
  };
}

const G = grid([
  entry("mlp_out", 4, [1, 2], [3, 5], [0.1, 0.2, 0.1]),
  entry("mlp_out", 16, [4, 9], [4, 5], [0.3, 0.4, 0.5]),
  entry("mlp_out", 64, [2, 3], [1, 2], [0.2, 0.2, 0.3]),
  entry("resid_post", 4, [0, 1], [0, 1], [0.05, 0.1, 0.05]),
  entry("resid_post", 16, [1, 4], [1, 0], [0.2, 0.25, 0.2]),
  entry("resid_post", 64, [1, 5], [0, 1], [0.1, 0.1, 0.25]),
  entry("mlp_out", 16, [3, 10], [4, 5], [0.3, 0.4, 0.5], 200),
]);

/** Spearman by the textbook formula on distinct values: 1 - 6 Σd² / (n(n² - 1)). */
function spearmanDistinct(a: number[], b: number[]): number {
  const rank = (v: number[]) => v.map((x) => v.filter((y) => y < x).length + 1);
  const ra = rank(a);
  const rb = rank(b);
  const n = a.length;
  return 1 - (6 * ra.reduce((s, r, i) => s + (r - rb[i]!) ** 2, 0)) / (n * (n * n - 1));
}

describe("claims figures", () => {
  it("leaves the convergence check out of the main entries", () => {
    expect(mainEntries(G).length).toBe(6);
  });

  it("warns on CE recovered by today's rule, keeping the warnings stored with the entry", () => {
    const e = entry("mlp_out", 8, [1, 1], [1, 1], [0.1]);
    expect(heldoutWarnings(e)).toEqual([]);
    const tiny = { ...e, heldout: { ...e.heldout, ce: { ...e.heldout.ce, ce_loss_zero_ablation: 1.004, ce_loss_recovered: 1.13 } } };
    expect(heldoutWarnings(tiny)).toEqual([expect.stringMatching(/unreliable here: zero-ablating .* raises the loss by 0\.0040 nats/)]);
    const stored = { ...e, heldout: { ...e.heldout, ce: { ...e.heldout.ce, warnings: ["stored"] } } };
    expect(heldoutWarnings(stored)).toEqual(["stored"]);
  });

  it("chooses the filter threshold on the calibration sums, ties to the larger", () => {
    const c = chooseGridThreshold(G);
    expect(c.calibration).toEqual([{ t: 0.1, kept: 9 }, { t: 0.5, kept: 14 }]);
    expect(c.threshold).toBe(0.5);
    const tie = grid([entry("mlp_out", 4, [1, 1], [2, 2], [0.1, 0.1, 0.1])]);
    expect(chooseGridThreshold(tie).threshold).toBe(0.5);
    const first = grid([entry("mlp_out", 4, [1, 1], [3, 2], [0.1, 0.1, 0.1])]);
    expect(chooseGridThreshold(first).threshold).toBe(0.1);
  });

  it("sums counts per site and k, finds interior peaks and the winning site", () => {
    const c = countsAgainstK(G, chooseGridThreshold(G));
    expect(c.bySite.find((r) => r.site === "mlp_out" && r.k === 16)!.kept).toBe(9);
    expect(c.best).toMatchObject({ site: "mlp_out", k: 16, kept: 9 });
    expect(c.peaks.find((p) => p.site === "mlp_out")).toMatchObject({ k: 16, interior: true, interiorShare: 1 });
    expect(c.siteWins.mlp_out).toBeCloseTo(1);
    expect(c.replicates).toBe(B);
    // Replicates are count-1, count, count+1 in turn (14, 13 and 13 of them: mean count - 0.025), centred on the
    // count: the 95% interval of 9 is [8.025, 10.025].
    expect(c.best.low).toBeCloseTo(8.025, 10);
    expect(c.best.high).toBeCloseTo(10.025, 10);
    const row = claim1Row(c);
    expect(row.holds).toBe("yes");
    expect(row.toy).toContain("mlp_out layer 1, k = 16: 9 features [8.0, 10.0]");
  });

  it("rank-correlates each metric with the count, as computed independently", () => {
    const choice = chooseGridThreshold(G);
    const a = metricAgreement(G, choice, { samples: 200 });
    const main = mainEntries(G);
    const target = main.map((e) => e.filter.evaluation[1]!);
    const meanIcdf = main.map((e) => e.concepts.reduce((s, c) => s + c.icdf[1]!, 0) / 3);
    // Distinct values here, so the textbook formula applies.
    expect(a.rho.icdf.estimate).toBeCloseTo(spearmanDistinct(meanIcdf, target), 10);
    expect(a.rho.l0t.estimate).toBeCloseTo(a.rho.icdf.estimate!, 10);
    expect(a.rho.icdf.low).not.toBeNull();
    expect(a.differences.length).toBe(4);
    expect(() => metricAgreement(G, choice, { metricThreshold: 0.3 })).toThrow(/not on the grid's thresholds/);
    expect(["yes", "partly", "no"]).toContain(claim2Row(a).holds);
  });

  it("compares the longer run with the shorter one's interval", () => {
    const rows = convergenceCheck(G, chooseGridThreshold(G));
    expect(rows).toEqual([expect.objectContaining({ site: "mlp_out", k: 16, steps: [100, 200], kept: [9, 10], keptWithinInterval: true })]);
  });

  it("centres replicates on the count, so that its interval holds it even when the resamples sit above it", () => {
    // Raw replicates 68-113 around a count of 51 (as on the first SAEs measured): centred, they straddle 51.
    const reps = Array.from({ length: 100 }, (_, b) => 68 + (45 * b) / 99);
    const i = countInterval(reps, 51);
    expect(i.low).toBeLessThan(51);
    expect(i.high).toBeGreaterThan(51);
    expect(i.high - i.low).toBeCloseTo(percentileInterval(reps).high - percentileInterval(reps).low, 10);
    expect(countInterval([0, 10, 20], 1).low).toBe(0);
  });
});

describe("SLS against TLS", () => {
  const rec = (i: number, tls: number | null, sls: number | null): FeatureRecord =>
    ({ id: `1_${i}`, layer: 1, index: i, explanation: "x", correlation_score: sls, tls_score: tls, tag_list: [], cost: { tls: { requests: 2, prompt_tokens: 100, completion_tokens: 20 }, sls: { requests: 2, prompt_tokens: 50, completion_tokens: 10 } } }) as unknown as FeatureRecord;
  const tls = [0.1, 0.4, 0.35, 0.8, 0.6, 0.2];
  const sls = [0.2, 0.5, 0.3, 0.9, 0.4, 0.1];
  const records = [...tls.map((t, i) => rec(i, t, sls[i]!)), rec(9, null, 0.3)];

  it("is Pearson's r over the features with both scores, and the token ratio", () => {
    const s = slsTlsAgreement(records, { samples: 300 });
    const mx = tls.reduce((a, b) => a + b) / 6;
    const my = sls.reduce((a, b) => a + b) / 6;
    const r = tls.reduce((a, x, i) => a + (x - mx) * (sls[i]! - my), 0) / Math.sqrt(tls.reduce((a, x) => a + (x - mx) ** 2, 0) * sls.reduce((a, y) => a + (y - my) ** 2, 0));
    expect(s.features).toBe(6);
    expect(s.pearson.estimate).toBeCloseTo(r, 12);
    expect(s.tokens).toEqual({ tls: 720, sls: 360, ratio: 0.5, saving: 0.5 });
    expect(claim3Row(s).toy).toContain("50% cheaper");
  });

  it("refuses too few scored features by name", () => {
    expect(() => slsTlsAgreement(records.slice(0, 2))).toThrow(/2 feature\(s\) have both an SLS and a TLS score/);
  });
});

describe("results markdown", () => {
  it("escapes table cells and lists each rule and note", () => {
    const md = resultsMarkdown([{ claim: "1. a | b", paper: "p", toy: "t\nu", holds: "no", rule: "r" }], { notebook: "nb", command: "cmd", notes: { "1": "small model" } });
    expect(md).toContain("| 1. a \\| b | p | t u | **no** |");
    expect(md).toContain("- **1.** r.");
    expect(md).toContain("small model");
  });
});

describe("the results cell of an executed notebook", () => {
  const cell = (tags: string[], outputs: unknown[]) => ({ cell_type: "code", metadata: { tags }, outputs, source: [] });
  it("is the markdown the tagged cell displayed", () => {
    const nb = { cells: [cell([], [{ output_type: "execute_result", data: { "text/markdown": "no" } }]), cell(["results-table"], [{ output_type: "execute_result", data: { "text/markdown": ["# T\n", "| a |\n"], "text/plain": "x" } }])] };
    expect(resultsFromNotebook(nb, "nb.ipynb")).toBe("# T\n| a |\n");
  });
  it("names the notebook and what is missing", () => {
    expect(() => resultsFromNotebook({}, "a.ipynb")).toThrow(/a.ipynb: not a notebook/);
    expect(() => resultsFromNotebook({ cells: [] }, "a.ipynb")).toThrow(/one code cell tagged "results-table", found 0/);
    expect(() => resultsFromNotebook({ cells: [cell(["results-table"], [])] }, "a.ipynb")).toThrow(/no markdown output \(was the notebook executed\?\)/);
    expect(() => resultsFromNotebook({ cells: [cell(["results-table"], [{ output_type: "error", ename: "TypeError", evalue: "x is undefined" }])] }, "a.ipynb")).toThrow(/the results cell failed: TypeError: x is undefined/);
  });
});
