// `safesail metrics` and `safesail filter`: the configuration-choice report of one SAE on contrastive
// pairs, and the precision-recall filter on a domain-labelled corpus. Thin over src/metrics/.
//
//   safesail metrics --sae DIR --model MODEL --pairs FILE [--thresholds 0,0.5,1,2] [--min-frequency 0.5]
//                    [--languages en,zh] [--raw [--hook NAME]] [--no-chat] [--json]
//   (--raw: the baseline on the raw hook dimensions; the hook is --hook, else the SAE's)
//   safesail filter --sae DIR --model MODEL --corpus FILE [--min-precision 0.6] [--min-recall 0.2]
//                   [--threshold 0] [--no-chat] [--json]
import { loadModel } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";
import { readDomainCorpus } from "../data/domain-corpus.ts";
import { contrastiveMetrics } from "../metrics/evaluate.ts";
import { filterSafetyFeatures } from "../metrics/filter.ts";
import { readPairs } from "../data/pairs.ts";
import { loadSae } from "../sae/saelens.ts";
import { LANGUAGES } from "../safety.ts";
import { choiceList, floatArg, fractionArg, numberList, parseCliArgs, requireArgs } from "./args.ts";

const pct = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "–");

export async function metricsCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    options: {
      sae: { type: "string" },
      model: { type: "string" },
      pairs: { type: "string" },
      thresholds: { type: "string" },
      "min-frequency": { type: "string" },
      languages: { type: "string" },
      raw: { type: "boolean", default: false },
      hook: { type: "string" },
      "no-chat": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  requireArgs(values, ["model", "pairs", ...(values.raw ? [] : ["sae" as const])], "safesail metrics --sae DIR --model MODEL --pairs FILE");
  const thresholds = numberList(values, "thresholds");
  const minFrequency = fractionArg(values, "min-frequency");
  const languages = choiceList(values, "languages", LANGUAGES);
  const pairs = await readPairs(values.pairs!);
  const sae = values.sae ? await loadSae(values.sae) : null;
  const model = await loadModel(values.model!);
  try {
    const report = await contrastiveMetrics(model, values.raw ? null : sae, pairs, {
      thresholds,
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
    const L: string[] = [`${report.basis === "sae" ? "SAE latents" : "raw hook dimensions"} at ${report.hookName}: ${report.features} features; L0,t counts features distinguishing >= ${report.minFrequency} of a concept's pairs`];
    const head = `${"".padEnd(34)}${report.thresholds.map((t) => `L0,${t}`.padStart(9)).join("")}${report.thresholds.map((t) => `I_CDF,${t}`.padStart(11)).join("")}  kSparseF1(max)  1dF1`;
    L.push(head);
    const line = (label: string, l0: number[], icdf: number[], ks: number[] | null, oneD: number | null) =>
      `${label.slice(0, 33).padEnd(34)}${l0.map((v) => v.toFixed(1).padStart(9)).join("")}${icdf.map((v) => v.toFixed(4).padStart(11)).join("")}  ${(ks && ks.length ? pct(Math.max(...ks)) : "–").padStart(14)}  ${oneD === null ? "–" : pct(oneD)}`;
    for (const c of report.concepts) L.push(line(`${c.domain}/${c.concept} (${c.pairs})`, c.byThreshold.map((b) => b.l0), c.byThreshold.map((b) => b.icdf), c.kSparseF1, c.oneDF1));
    for (const [d, a] of Object.entries(report.domains)) L.push(line(`[${d}]`, a.l0t.map((x) => x.value), a.icdf.map((x) => x.value), a.kSparseF1, a.oneDF1));
    const o = report.overall;
    L.push(line("[all]", o.l0t.map((x) => x.value), o.icdf.map((x) => x.value), o.kSparseF1, o.oneDF1));
    process.stdout.write(`${L.join("\n")}\n`);
  } finally {
    await model.dispose();
  }
  return 0;
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
      "no-chat": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  requireArgs(values, ["sae", "model", "corpus"], "safesail filter --sae DIR --model MODEL --corpus FILE");
  const minPrecision = fractionArg(values, "min-precision");
  const minRecall = fractionArg(values, "min-recall");
  const threshold = floatArg(values, "threshold");
  const samples = await readDomainCorpus(values.corpus!);
  const sae = await loadSae(values.sae!);
  const model = await loadModel(values.model!);
  try {
    const r = await filterSafetyFeatures(model, sae, samples, { minPrecision, minRecall, threshold, chat: !values["no-chat"], progress: values.json ? undefined : terminalProgress() });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return 0;
    }
    const L = [
      `${r.kept.length} of ${r.features} features kept at ${r.hookName} (precision >= ${r.options.minPrecision}, recall >= ${r.options.minRecall}, firing above ${r.options.threshold}); ${r.samples} samples`,
      `per domain: ${Object.entries(r.keptPerDomain).map(([d, n]) => `${d} ${n}`).join(", ")}`,
    ];
    for (const k of r.kept.slice(0, 50)) L.push(`  ${k.name.padEnd(10)} ${k.tag_list.map((d) => `${d} (p ${k.precision[d]!.toFixed(2)}, r ${k.recall[d]!.toFixed(2)})`).join(", ")}`);
    if (r.kept.length > 50) L.push(`  ... ${r.kept.length - 50} more (--json for all)`);
    process.stdout.write(`${L.join("\n")}\n`);
  } finally {
    await model.dispose();
  }
  return 0;
}
