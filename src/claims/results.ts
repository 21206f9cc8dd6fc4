// The results table of the claims notebook: one row per claim (claim | paper | safesail on the toy model | holds?),
// each verdict by a rule written here before the figures were read, and the markdown of docs/results.md.
import { FormatError } from "../errors.ts";
import type { BootstrapInterval } from "../interpret/scoring.ts";
import type { LanguageComparison } from "../steer/languages.ts";
import type { SteeringEvalRow } from "../steer/refusal-eval.ts";
import type { LayerHierarchy } from "./hierarchy.ts";
import { METRIC_LABELS, type CountsAgainstK, type MetricAgreement, type SlsTlsAgreement } from "./measure.ts";

export type Verdict = "yes" | "partly" | "no";

export interface ClaimRow {
  claim: string;
  paper: string;
  toy: string;
  holds: Verdict;
  /** The rule the verdict follows, in words. */
  rule: string;
}

const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(d));
const iv = (b: { estimate: number | null; low: number | null; high: number | null }, d = 2) => `${f(b.estimate, d)} [${f(b.low, d)}, ${f(b.high, d)}]`;
const pct = (x: number) => `${Math.round(100 * x)}%`;
const above = (b: BootstrapInterval, v = 0) => b.low !== null && b.low > v;
const below = (b: { high: number | null }, v = 0) => b.high !== null && b.high < v;

export function claim1Row(c: CountsAgainstK): ClaimRow {
  const winner = Object.entries(c.siteWins).sort((a, b) => b[1] - a[1])[0]!;
  const peak = c.peaks.find((p) => p.site === c.best.site)!;
  const robustPeak = peak.interior && peak.interiorShare >= 0.95;
  const mlpWins = c.best.site === "mlp_out" && winner[0] === "mlp_out";
  const holds: Verdict = c.best.kept === 0 ? "no" : robustPeak && mlpWins ? "yes" : robustPeak || mlpWins ? "partly" : "no";
  return {
    claim: "1. Safety-feature count against k peaks at intermediate sparsity; MLP output wins",
    paper: "most safety features at TopK k = 200 on MLP output (20,480 latents: k is 1% of the width)",
    toy: `most at ${c.best.site} layer ${c.best.layer}, k = ${c.best.k}: ${c.best.kept} features [${f(c.best.low, 1)}, ${f(c.best.high, 1)}] (filter threshold ${c.threshold}); summed over layers, each site peaks at k = ${c.peaks.map((p) => `${p.k} (${p.site}; interior in ${pct(p.interiorShare)} of resamples)`).join(", ")}; the best configuration is on ${Object.entries(c.siteWins).map(([s, w]) => `${s} in ${pct(w)}`).join(", ")} of resamples`,
    holds,
    rule: "yes: the winning site's count (summed over layers) peaks at neither the smallest nor the largest k in at least 95% of the filter resamples, and the best configuration is on mlp_out; partly: one of the two; no: neither",
  };
}

export function claim2Row(a: MetricAgreement): ClaimRow {
  const metricsRank = above(a.rho.l0t) && above(a.rho.icdf);
  const better = a.differences.every((d) => above(d.interval));
  const holds: Verdict = metricsRank && better ? "yes" : metricsRank || a.differences.some((d) => above(d.interval)) ? "partly" : "no";
  return {
    claim: "2. L0,t and I_CDF rank configurations like the filtered count, better than probes",
    paper: "L0,t and I_CDF track the number of safety features; k-sparse and 1-d probing do not",
    toy: `Spearman with the count over ${a.configurations} SAEs (95% interval over ${a.concepts} concepts): ${(["l0t", "icdf", "kSparseF1", "oneDF1"] as const).map((m) => `${METRIC_LABELS[m]} ${iv(a.rho[m])}`).join("; ")}`,
    holds,
    rule: "yes: the intervals of rho(L0,t) and rho(I_CDF) are above 0 and every difference rho(metric) - rho(probe) has its interval above 0; partly: the metrics rank (or one difference is clear) but not all; no: otherwise",
  };
}

export function claim3Row(s: SlsTlsAgreement): ClaimRow {
  const agree = s.pearson.low !== null && s.pearson.low >= 0.6;
  const cheaper = s.tokens.saving >= 0.45;
  return {
    claim: "3. SLS agrees with TLS and costs about 55% less",
    paper: "r ≈ 0.8 between SLS and TLS scores; SLS about 55% cheaper",
    toy: `r = ${iv(s.pearson)} over ${s.features} features (simulator ${s.simulator}); SLS takes ${pct(s.tokens.ratio)} of TLS's tokens (${pct(s.tokens.saving)} cheaper)`,
    holds: agree && cheaper ? "yes" : agree || cheaper ? "partly" : "no",
    rule: "yes: the interval of r has its lower end at 0.6 or more and SLS saves at least 45% of the tokens; partly: one of the two; no: neither",
  };
}

export function claim4Row(h: LayerHierarchy): ClaimRow {
  const L = h.layers;
  const first = L[0]!;
  const last = L[L.length - 1]!;
  const wordsLow = first.tokenShare.low > last.tokenShare.high;
  const middle = L.slice(1, -1);
  const conceptMiddle = middle.length > 0 && Math.max(...middle.map((l) => l.conceptShare.estimate)) > Math.max(first.conceptShare.estimate, last.conceptShare.estimate);
  const refusalTop = last.refusal.features > 0 && L.every((l) => l === last || l.refusal.features < last.refusal.features);
  const met = [wordsLow, conceptMiddle, refusalTop].filter(Boolean).length;
  return {
    claim: "4. Low layers: word-level features; middle: concepts; top: refusal",
    paper: "a hierarchy from token-level features in low layers to concepts in the middle and refusal at the top",
    toy: `token-specific share of the top ${h.options.top} features per layer: ${L.map((l) => `L${l.layer} ${iv(l.tokenShare)}`).join(", ")}; concept-level: ${L.map((l) => `L${l.layer} ${iv(l.conceptShare)}`).join(", ")}; refusal-decision features per layer: ${L.map((l) => `L${l.layer} ${l.refusal.features}`).join(", ")} of ${h.refusalFeatures}`,
    holds: met === 3 ? "yes" : met > 0 ? "partly" : "no",
    rule: "three parts: the lowest layer's token-specific share is above the top layer's (intervals apart); the concept-level share is highest at a middle layer; the top layer holds the most refusal-decision features. yes: all three; partly: one or two; no: none",
  };
}

export function claim5Row(recognition: LanguageComparison, decision: LanguageComparison, lang = "hi"): ClaimRow {
  const gaps = (c: LanguageComparison) => c.gaps.filter((g) => g.lang === lang).sort((a, b) => a.layer - b.layer);
  const rec = gaps(recognition);
  const dec = gaps(decision);
  const recLower = rec.length > 0 && rec.every((g) => below(g.strength));
  const decLower = dec.length > 0 && dec.every((g) => below(g.strength));
  const some = [...rec, ...dec].some((g) => below(g.strength));
  return {
    claim: "5. Low-resource gap: Hindi activates concept and refusal features less than English, per layer",
    paper: "low-resource languages (Hindi) activate the safety concept and refusal features less than English",
    toy: `Hindi - English strength per layer (95% interval): domain features on the request ${rec.map((g) => `L${g.layer} ${iv(g.strength)}`).join(", ")}; refusal-decision features at the answer header ${dec.map((g) => `L${g.layer} ${iv(g.strength)}`).join(", ")}`,
    holds: recLower && decLower ? "yes" : some ? "partly" : "no",
    rule: "yes: both gaps have their intervals below 0 at every layer; partly: some layer of either does; no: none",
  };
}

export function claim6Row(rows: { setting: string; features: number; harmful: SteeringEvalRow; benign: SteeringEvalRow }): ClaimRow {
  const r = rows.harmful;
  const flips = below(r.change) && rows.features <= 3;
  const benignUp = rows.benign.change.low !== null && rows.benign.change.low > 0;
  const p = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);
  return {
    claim: "6. Steering 2-3 features flips refusals",
    paper: "steering a few safety features changes refusals, and can restore refusals in a low-resource language",
    toy: `${rows.setting} (${rows.features} features), on held-out English harmful prompts: refusals ${p(r.before.estimate)} -> ${p(r.after.estimate)}, change ${p(r.change.estimate)} [${p(r.change.low)}, ${p(r.change.high)}]; benign false refusals ${p(rows.benign.before.estimate)} -> ${p(rows.benign.after.estimate)}`,
    holds: flips && !benignUp ? "yes" : flips ? "partly" : "no",
    rule: "yes: at most 3 features change the harmful refusal rate with an interval that excludes 0, without raising false refusals on benign prompts (interval above 0); partly: the change is clear but false refusals rise; no: otherwise",
  };
}

/** docs/results.md: the table, each verdict's rule, and the notes (why a claim may not transfer), from the notebook. */
export function resultsMarkdown(rows: readonly ClaimRow[], o: { notebook: string; command: string; notes: Record<string, string> }): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
  const L = [
    "# The paper's claims on the toy model",
    "",
    `Generated from \`${o.notebook}\` by \`${o.command}\`; do not edit by hand. Every figure is an output of a cell of that notebook, with its 95% bootstrap interval in brackets. The model is the embedded toy model (4 layers, 3.8M parameters), not the paper's Qwen2.5-3B-Instruct.`,
    "",
    "| claim | paper | safesail on the toy model | holds? |",
    "| --- | --- | --- | --- |",
    ...rows.map((r) => `| ${esc(r.claim)} | ${esc(r.paper)} | ${esc(r.toy)} | **${r.holds}** |`),
    "",
    "## How each verdict is decided",
    "",
    ...rows.map((r) => `- **${r.claim.split(".")[0]}.** ${r.rule}.`),
  ];
  const notes = rows.filter((r) => o.notes[r.claim.split(".")[0]!]);
  if (notes.length) L.push("", "## Why a claim may not transfer to this model", "", ...notes.map((r) => `- **${r.claim}.** ${o.notes[r.claim.split(".")[0]!]}`));
  return `${L.join("\n")}\n`;
}

/** The claims notebook, its results cell's tag, and the file generated from that cell's output. */
export const CLAIMS_NOTEBOOK = "notebooks/07-reproduce-claims.ipynb";
export const RESULTS_CELL_TAG = "results-table";
export const RESULTS_FILE = "docs/results.md";

/**
 * The markdown the executed notebook's results cell (the code cell tagged RESULTS_CELL_TAG) displayed: what
 * docs/results.md holds. Errors name the notebook and what is missing (not executed, no such cell, a failed cell).
 */
export function resultsFromNotebook(notebook: unknown, file: string): string {
  const nb = notebook as { cells?: { cell_type?: string; metadata?: { tags?: unknown }; outputs?: { output_type?: string; data?: Record<string, unknown>; ename?: string; evalue?: string }[] }[] };
  if (!nb || !Array.isArray(nb.cells)) throw new FormatError(`${file}: not a notebook (no cells)`, { file, field: "cells" });
  const cells = nb.cells.filter((c) => c.cell_type === "code" && Array.isArray(c.metadata?.tags) && (c.metadata!.tags as unknown[]).includes(RESULTS_CELL_TAG));
  if (cells.length !== 1) throw new FormatError(`${file}: expected one code cell tagged "${RESULTS_CELL_TAG}", found ${cells.length}`, { file, field: "cells" });
  const outputs = cells[0]!.outputs ?? [];
  const error = outputs.find((o) => o.output_type === "error");
  if (error) throw new FormatError(`${file}: the results cell failed: ${error.ename}: ${error.evalue}`, { file, field: "outputs" });
  const md = outputs.map((o) => o.data?.["text/markdown"]).find((v) => v !== undefined);
  if (md === undefined) throw new FormatError(`${file}: the results cell has no markdown output (was the notebook executed?)`, { file, field: "outputs" });
  return Array.isArray(md) ? md.join("") : String(md);
}
