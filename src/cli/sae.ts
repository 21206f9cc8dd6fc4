// `safesail train-sae` and `safesail eval-sae`: thin over src/sae/ and src/activations/.
//
//   safesail train-sae --acts DIR --layer L --k K --out DIR [--expansion 10] [--tokens N | --steps N]
//                      [--batch 1024] [--lr 1e-3] [--seed 0] [--aux-coef 0.03125] [--drop-special] [--overwrite]
//                      [--allow-incomplete]
//   safesail eval-sae SAE_DIR --model MODEL --corpus FILE [--no-chat] [--positions all|answer] [--max-docs N] [--lossy-utf8] [--json]
//
// train-sae checkpoints into --out every 200 steps (SAELens files are written at the end); run the same
// command again after an interruption to resume, or with a larger --steps to extend a finished run.
import * as path from "node:path";
import { openActivationStore } from "../activations/store.ts";
import { loadModel } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";
import { evalSae } from "../sae/eval.ts";
import { loadSae } from "../sae/saelens.ts";
import { trainSae } from "../sae/train.ts";
import { choiceArg, floatArg, intArg, parseCliArgs, requireArgs, requiredArg, requiredPositional } from "./args.ts";
import { stopOnSignals } from "./signals.ts";

const TRAIN_USAGE = "safesail train-sae --acts DIR --layer L --k K --out DIR [options]";

const TRAIN_HELP = `usage: ${TRAIN_USAGE}

Trains a TopK-ReLU sparse autoencoder on one layer of an activation store (safesail harvest) and writes it in the
SAELens layout (DIR/cfg.json + DIR/sae_weights.safetensors). Checkpoints into DIR every 200 steps; the same
command resumes after an interruption. Exit 3 when stopped early (Ctrl-C).

  --acts DIR          the activation store
  --layer L           which of its layers
  --k K               active latents per token
  --out DIR           the SAE folder
  --expansion E       latents = E x d_model (default 10)
  --tokens N          training tokens; or
  --steps N           a number of steps (default: one pass over the store, at least 1000 steps);
                      a larger --steps than a finished run's extends it from its checkpoint
  --batch N           rows per step (default 1024)
  --lr X              peak learning rate (default 1e-3)
  --seed S            seed (default 0)
  --aux-coef X        AuxK loss weight for dead latents (default 1/32; 0 disables it)
  --drop-special      leave out special tokens (chat markers, BOS/EOS)
  --overwrite         start over instead of resuming (removes DIR/checkpoint)
  --fresh             deprecated alias of --overwrite
  --allow-incomplete  train on an unfinished store (a harvest stopped part-way); refused otherwise
  --json              print the summary as JSON`;

export async function trainSaeCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    usage: TRAIN_USAGE,
    help: TRAIN_HELP,
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
      overwrite: { type: "boolean", default: false },
      fresh: { type: "boolean", default: false },
      "allow-incomplete": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  requireArgs(values, ["acts", "layer", "k", "out"], "safesail train-sae --acts DIR --layer L --k K --out DIR");
  // Every flag is read before the store is opened: a typo fails at once.
  const layer = intArg(values, "layer", { min: 0, required: true });
  const options = {
    k: intArg(values, "k", { min: 1, required: true }),
    expansion: intArg(values, "expansion", { min: 1 }),
    tokens: intArg(values, "tokens", { min: 1 }),
    steps: intArg(values, "steps", { min: 1 }),
    batchSize: intArg(values, "batch", { min: 1 }),
    lr: floatArg(values, "lr", { gt: 0 }),
    seed: intArg(values, "seed", { min: 0 }),
    auxCoef: floatArg(values, "aux-coef", { min: 0 }),
  };
  if (values.fresh) process.stderr.write("safesail train-sae: --fresh is deprecated and will be removed; it means --overwrite (start over), the spelling every command uses\n");
  const store = await openActivationStore(values.acts!);
  const reader = store.reader(layer, { dropSpecial: values["drop-special"] });
  const stopSignals = stopOnSignals("safesail train-sae: stopping at the next step; a checkpoint is written");
  try {
    const run = await trainSae(reader, {
      ...options,
      out: path.resolve(values.out!),
      overwrite: values.overwrite || values.fresh,
      allowIncomplete: values["allow-incomplete"],
      progress: terminalProgress(),
      signal: stopSignals.signal,
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
      epochs: Number(run.epochs.toFixed(3)),
      resumed_from: run.resumedFrom,
      warnings: run.warnings,
    };
    for (const w of run.warnings) process.stderr.write(`safesail train-sae: warning: ${w}\n`);
    const { warnings: _w, ...text } = summary;
    process.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : `${Object.entries(text).map(([k, v]) => `${k}: ${v}`).join("\n")}\n`);
    return run.stopReason === "done" ? 0 : 3;
  } finally {
    stopSignals.release();
  }
}

const EVAL_USAGE = "safesail eval-sae SAE_DIR --model MODEL --corpus FILE";

const EVAL_HELP = `usage: ${EVAL_USAGE} [--no-chat] [--positions all|answer] [--max-docs N] [--hook NAME] [--lossy-utf8] [--json]

Evaluates an SAE (SAELens folder or Safe-SAIL .pt) on a corpus: mse, fvu, explained_variance, l0,
dead_fraction, dense_fraction, and the cross-entropy with the reconstruction spliced in at the hook
(ce_loss_clean, ce_loss_sae, ce_loss_zero_ablation, ce_loss_recovered, kl_sae).

  --model MODEL            the model the SAE reads
  --corpus FILE            documents as for safesail harvest (text lines or JSONL)
  --no-chat                plain text as written (default: as a user turn of the chat template)
  --positions all|answer   score every token (default) or only the assistant answers
  --max-docs N             only the first N documents
  --hook NAME              the hook point (default: the SAE's hook_name)
  --lossy-utf8             read corpus bytes that are not UTF-8 as U+FFFD (default: refuse, naming file:line)
  --json                   print the report as one JSON object`;

export async function evalSaeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 1,
    usage: EVAL_USAGE,
    help: EVAL_HELP,
    options: {
      model: { type: "string" },
      corpus: { type: "string" },
      chat: { type: "boolean" },
      "no-chat": { type: "boolean", default: false },
      "lossy-utf8": { type: "boolean" },
      positions: { type: "string" },
      "max-docs": { type: "string" },
      hook: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const saeDir = requiredPositional(positionals, 0, "SAE_DIR", EVAL_USAGE);
  const modelPath = requiredArg(values, "model", { hint: EVAL_USAGE });
  const corpus = requiredArg(values, "corpus", { hint: EVAL_USAGE });
  const positions = choiceArg(values, "positions", ["all", "answer"] as const, { default: "all" });
  const maxDocs = intArg(values, "max-docs", { min: 1 });
  const sae = await loadSae(saeDir);
  const model = await loadModel(modelPath);
  try {
    const report = await evalSae(sae, model, corpus, { hookName: values.hook, chat: !values["no-chat"], positions, maxDocs, invalidUtf8: values["lossy-utf8"] ? "replace" : "error", progress: values.json ? undefined : terminalProgress() });
    if (!values.json) for (const w of report.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${Object.entries(report).map(([k, v]) => `${k}: ${typeof v === "number" ? Number(v.toPrecision(6)) : v}`).join("\n")}\n`);
  } finally {
    await model.dispose();
  }
  return 0;
}
