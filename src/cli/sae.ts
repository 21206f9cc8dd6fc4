// `safesail train-sae` and `safesail eval-sae`: thin over src/sae/ and src/activations/.
//
//   safesail train-sae --acts DIR --layer L --k K --out DIR [--expansion 10] [--tokens N | --steps N]
//                      [--batch 1024] [--lr 1e-3] [--seed 0] [--aux-coef 0.03125] [--drop-special] [--fresh]
//   safesail eval-sae SAE_DIR --model MODEL --corpus FILE [--chat] [--max-docs N] [--json]
//
// train-sae checkpoints into --out every 200 steps (SAELens files are written at the end); run the same
// command again after an interruption to resume.
import * as path from "node:path";
import { parseArgs } from "node:util";
import { openActivationStore } from "../activations/store.ts";
import { ArgumentError } from "../errors.ts";
import { loadModel } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";
import { evalSae } from "../sae/eval.ts";
import { loadSae } from "../sae/saelens.ts";
import { trainSae } from "../sae/train.ts";

function num(name: string, v: string | undefined, kind: "int" | "float" = "int", min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  const ok = kind === "int" ? Number.isSafeInteger(n) && n >= min : Number.isFinite(n) && n >= min;
  if (!ok) throw new ArgumentError(`--${name} must be ${kind === "int" ? "an integer" : "a number"} >= ${min}, got "${v}"`, { field: name });
  return n;
}

export async function trainSaeCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      acts: { type: "string" },
      layer: { type: "string" },
      k: { type: "string" },
      out: { type: "string" },
      expansion: { type: "string" },
      tokens: { type: "string" },
      steps: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      seed: { type: "string" },
      "aux-coef": { type: "string" },
      "drop-special": { type: "boolean", default: false },
      fresh: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  for (const req of ["acts", "layer", "k", "out"] as const) {
    if (values[req] === undefined) throw new ArgumentError(`--${req} is required (safesail train-sae --acts DIR --layer L --k K --out DIR)`, { field: req });
  }
  const store = await openActivationStore(values.acts!);
  const layer = num("layer", values.layer, "int", 0)!;
  const reader = store.reader(layer, { dropSpecial: values["drop-special"] });
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const run = await trainSae(reader, {
      k: num("k", values.k)!,
      expansion: num("expansion", values.expansion),
      tokens: num("tokens", values.tokens),
      steps: num("steps", values.steps),
      batchSize: num("batch", values.batch),
      lr: num("lr", values.lr, "float", 0),
      seed: num("seed", values.seed, "int", 0),
      auxCoef: num("aux-coef", values["aux-coef"], "float", 0),
      out: path.resolve(values.out!),
      resume: !values.fresh,
      progress: terminalProgress(),
      signal: controller.signal,
    });
    const last = run.history.slice(-10);
    const mean = (f: (h: (typeof last)[number]) => number) => last.reduce((a, h) => a + f(h), 0) / Math.max(1, last.length);
    const summary = {
      out: path.resolve(values.out!),
      stop_reason: run.stopReason,
      steps: run.steps,
      total_steps: run.totalSteps,
      tokens: run.tokens,
      tokens_per_second: Math.round(run.tokensPerSecond),
      fvu: mean((h) => h.fvu),
      l0: mean((h) => h.l0),
      dead_fraction: run.deadFraction,
    };
    process.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : `${Object.entries(summary).map(([k, v]) => `${k}: ${v}`).join("\n")}\n`);
    return run.stopReason === "done" ? 0 : 3;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

export async function evalSaeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: "string" },
      corpus: { type: "string" },
      chat: { type: "boolean" },
      "no-chat": { type: "boolean", default: false },
      positions: { type: "string" },
      "max-docs": { type: "string" },
      hook: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const saeDir = positionals[0];
  if (!saeDir) throw new ArgumentError("SAE_DIR is required (safesail eval-sae SAE_DIR --model MODEL --corpus FILE)", { field: "SAE_DIR" });
  if (!values.model) throw new ArgumentError("--model is required", { field: "model" });
  if (!values.corpus) throw new ArgumentError("--corpus is required", { field: "corpus" });
  const sae = await loadSae(saeDir);
  const positions = values.positions ?? "all";
  if (positions !== "all" && positions !== "answer") throw new ArgumentError(`--positions must be "all" or "answer", got "${positions}"`, { field: "positions" });
  const maxDocs = num("max-docs", values["max-docs"]);
  const model = await loadModel(values.model);
  try {
    const report = await evalSae(sae, model, values.corpus, { hookName: values.hook, chat: !values["no-chat"], positions, maxDocs, progress: values.json ? undefined : terminalProgress() });
    if (!values.json) for (const w of report.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${Object.entries(report).map(([k, v]) => `${k}: ${typeof v === "number" ? Number(v.toPrecision(6)) : v}`).join("\n")}\n`);
  } finally {
    await model.dispose();
  }
  return 0;
}
