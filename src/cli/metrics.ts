// `safesail metrics` and `safesail filter`: the configuration-choice report of one SAE on contrastive
// pairs, and the precision-recall filter on a domain-labelled corpus. Thin over src/metrics/.
//
//   safesail metrics --sae DIR --model MODEL --pairs FILE [--thresholds 0,0.1,...,0.9] [--quantile 0.999]
//                    [--min-frequency 0.5] [--languages en,zh] [--raw [--hook NAME]] [--no-chat] [--json]
//   (--raw: the baseline on the raw hook dimensions; the hook is --hook, else the SAE's)
//   safesail filter --sae DIR --model MODEL --corpus FILE [--min-precision 0.6] [--min-recall 0.2]
//                   [--threshold auto|T] [--quantile 0.999] [--seed 0] [--no-chat] [--json]
//
// Thresholds are on the normalised scale: each feature's pooled activation divided by the --quantile of its
// |pooled activation| over the pairs' queries (metrics) or the corpus's samples (filter); docs/metrics.md.
// `--threshold auto` (the filter's default) chooses the firing threshold on a calibration half of the corpus
// and reports the evaluation half.
import { loadModel } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";
import { readDomainCorpus } from "../data/domain-corpus.ts";
import { contrastiveMetrics, type ContrastiveReport } from "../metrics/evaluate.ts";
import { describeThreshold, filterSafetyFeatures } from "../metrics/filter.ts";
import { readPairs } from "../data/pairs.ts";
import { loadSae } from "../sae/saelens.ts";
import { LANGUAGES } from "../safety.ts";
import { ArgumentError, describeValue } from "../errors.ts";
import { choiceList, floatArg, fractionArg, intArg, numberList, parseCliArgs, requireArgs } from "./args.ts";

const pct = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "–");

const METRICS_USAGE = "safesail metrics --sae DIR --model MODEL --pairs FILE [options]";
const METRICS_HELP = `usage: ${METRICS_USAGE}

L0,t, I_CDF and probe baselines (k-sparse and 1-d probes) per concept, domain and overall, on contrastive pairs
(docs/metrics.md).

  --sae DIR             SAELens folder (or hub id) whose latents are measured (not needed with --raw)
  --model MODEL         model folder or hub id the SAE reads
  --pairs FILE          contrastive pairs, JSONL
  --thresholds LIST     thresholds t on the normalised scale, comma-separated (default 0,0.1,...,0.9)
  --quantile Q          per-feature quantile of |pooled activation| that scales to 1 (default 0.999)
  --min-frequency F     fraction of a concept's pairs a feature must distinguish for L0,t (default 0.5)
  --languages LIST      only pairs in these languages, e.g. en,zh
  --raw                 measure the raw hook dimensions instead of SAE latents
  --hook NAME           hook point (default the SAE's hook)
  --no-chat             feed queries as plain text, not as a chat user turn
  --json                one JSON report on stdout instead of the tables
  -h, --help            this help`;

const FILTER_USAGE = "safesail filter --sae DIR --model MODEL --corpus FILE [options]";
const FILTER_HELP = `usage: ${FILTER_USAGE}

Safety features kept by the precision-recall filter, with their domain tags.

  --sae DIR             SAELens folder (or hub id)
  --model MODEL         model folder or hub id the SAE reads
  --corpus FILE         domain-labelled samples, JSONL
  --min-precision P     precision a feature needs for a domain (default 0.6)
  --min-recall R        recall a feature needs for a domain (default 0.2)
  --threshold auto|T    firing threshold on the normalised scale; auto (default) calibrates it on a seeded half
  --quantile Q          per-feature quantile of |pooled activation| that scales to 1 (default 0.999)
  --seed S              seed of the calibration/evaluation split (default 0)
  --no-chat             feed samples as plain text, not as a chat user turn
  --json                one JSON result on stdout
  -h, --help            this help`;

export async function metricsCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    options: {
      sae: { type: "string" },
      model: { type: "string" },
      pairs: { type: "string" },
      thresholds: { type: "string" },
      quantile: { type: "string" },
      "min-frequency": { type: "string" },
      languages: { type: "string" },
      raw: { type: "boolean", default: false },
      hook: { type: "string" },
      "no-chat": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
    usage: METRICS_USAGE,
    help: METRICS_HELP,
  });
  requireArgs(values, ["model", "pairs", ...(values.raw ? [] : ["sae" as const])], "safesail metrics --sae DIR --model MODEL --pairs FILE");
  const thresholds = numberList(values, "thresholds");
  const quantile = floatArg(values, "quantile", { gt: 0, max: 1 });
  const minFrequency = fractionArg(values, "min-frequency");
  const languages = choiceList(values, "languages", LANGUAGES);
  const pairs = await readPairs(values.pairs!);
  const sae = values.sae ? await loadSae(values.sae) : null;
  const model = await loadModel(values.model!);
  try {
    const report = await contrastiveMetrics(model, values.raw ? null : sae, pairs, {
      thresholds,
      quantile,
      minFrequency,
      languages,
      hookName: values.hook ?? sae?.config.hookName ?? undefined,
      chat: !values["no-chat"],
      progress: values.json ? undefined : terminalProgress(),
    });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return 0;
    }
    process.stdout.write(`${metricsTable(report).join("\n")}\n`);
  } finally {
    await model.dispose();
  }
  return 0;
}

/**
 * The text report of `safesail metrics`: L0,t with the probes, then I_CDF, one row per concept, domain and overall.
 * The label column is as wide as the longest label (labels are never cut).
 */
export function metricsTable(report: ContrastiveReport): string[] {
  const n = report.normalisation;
  const scale = n.scale === "normalised"
    ? `thresholds t on the normalised scale (pooled activation / each feature's ${n.quantile}-quantile of |pooled activation| over the ${n.populationSize} queries of these pairs)`
    : "thresholds t in raw activation units";
  const rows: { label: string; l0: number[]; icdf: number[]; ks: number[] | null; oneD: number | null }[] = [
    ...report.concepts.map((c) => ({ label: `${c.domain}/${c.concept} (${c.pairs})`, l0: c.byThreshold.map((b) => b.l0), icdf: c.byThreshold.map((b) => b.icdf), ks: c.kSparseF1, oneD: c.oneDF1 })),
    ...Object.entries(report.domains).map(([d, a]) => ({ label: `[${d}]`, l0: a.l0t.map((x) => x.value), icdf: a.icdf.map((x) => x.value), ks: a.kSparseF1, oneD: a.oneDF1 })),
    { label: "[all]", l0: report.overall.l0t.map((x) => x.value), icdf: report.overall.icdf.map((x) => x.value), ks: report.overall.kSparseF1, oneD: report.overall.oneDF1 },
  ];
  const W = Math.max(...rows.map((r) => r.label.length)) + 2;
  const ts = report.thresholds;
  const L: string[] = [
    `${report.basis === "sae" ? "SAE latents" : "raw hook dimensions"} at ${report.hookName}: ${report.features} features; ${scale}`,
    "",
    `L0,t: features distinguishing >= ${report.minFrequency} of a concept's pairs (mean over concepts for [domain] and [all] rows)`,
    `${"".padEnd(W)}${ts.map((t) => `t=${t}`.padStart(8)).join("")}  kSparseF1(max)  1dF1`,
    ...rows.map((r) => `${r.label.padEnd(W)}${r.l0.map((v) => v.toFixed(1).padStart(8)).join("")}  ${(r.ks && r.ks.length ? pct(Math.max(...r.ks)) : "–").padStart(14)}  ${r.oneD === null ? "–" : pct(r.oneD)}`),
    "",
    "I_CDF: expected distinguishing frequency over all features",
    `${"".padEnd(W)}${ts.map((t) => `t=${t}`.padStart(8)).join("")}`,
    ...rows.map((r) => `${r.label.padEnd(W)}${r.icdf.map((v) => v.toFixed(4).padStart(8)).join("")}`),
  ];
  return L;
}

export async function filterCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    options: {
      sae: { type: "string" },
      model: { type: "string" },
      corpus: { type: "string" },
      "min-precision": { type: "string" },
      "min-recall": { type: "string" },
      threshold: { type: "string" },
      quantile: { type: "string" },
      seed: { type: "string" },
      "no-chat": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
    usage: FILTER_USAGE,
    help: FILTER_HELP,
  });
  requireArgs(values, ["sae", "model", "corpus"], "safesail filter --sae DIR --model MODEL --corpus FILE");
  const minPrecision = fractionArg(values, "min-precision");
  const minRecall = fractionArg(values, "min-recall");
  const threshold = thresholdArg(values.threshold);
  const quantile = floatArg(values, "quantile", { gt: 0, max: 1 });
  const seed = intArg(values, "seed", { min: 0 });
  const samples = await readDomainCorpus(values.corpus!);
  const sae = await loadSae(values.sae!);
  const model = await loadModel(values.model!);
  try {
    const r = await filterSafetyFeatures(model, sae, samples, { minPrecision, minRecall, threshold, quantile, seed, chat: !values["no-chat"], progress: values.json ? undefined : terminalProgress() });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return 0;
    }
    const L = [
      `${r.kept.length} of ${r.features} features kept at ${r.hookName} (precision >= ${r.options.minPrecision}, recall >= ${r.options.minRecall}, firing above ${r.options.threshold}); ${r.samples} samples`,
      describeThreshold(r.threshold),
    ];
    if (r.threshold.calibration) L.push(`calibration half, features kept per threshold: ${r.threshold.calibration.keptByThreshold.map((k) => `${k.t}: ${k.features}`).join(", ")}`);
    L.push(`per domain: ${Object.entries(r.keptPerDomain).map(([d, n]) => `${d} ${n}`).join(", ")}`);
    for (const c of r.caveats) L.push(`caveat: ${c}`);
    for (const k of r.kept.slice(0, 50)) L.push(`  ${k.name.padEnd(10)} ${k.tag_list.map((d) => `${d} (p ${k.precision[d]!.toFixed(2)}, r ${k.recall[d]!.toFixed(2)})`).join(", ")}`);
    if (r.kept.length > 50) L.push(`  ... ${r.kept.length - 50} more (--json for all)`);
    process.stdout.write(`${L.join("\n")}\n`);
  } finally {
    await model.dispose();
  }
  return 0;
}

/** `--threshold auto` (the default) or a finite number. */
function thresholdArg(text: string | undefined): number | "auto" | undefined {
  if (text === undefined || text === "auto") return text;
  const n = text.trim() === "" ? NaN : Number(text);
  if (!Number.isFinite(n)) throw new ArgumentError(`--threshold must be "auto" or a number, got ${describeValue(text)}`, { field: "threshold" });
  return n;
}
