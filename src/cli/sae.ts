// `safesail train-sae` and `safesail eval-sae`: thin over src/sae/ and src/activations/.
//
//   safesail train-sae --acts DIR --layer L --k K --out DIR [--expansion 10] [--tokens N | --steps N]
//                      [--batch 1024] [--lr 1e-3] [--seed 0] [--aux-coef 0.03125] [--drop-special] [--overwrite]
//                      [--allow-incomplete]
//   safesail train-sae --acts DIR --layer 1,2 --k 8,32 --out SWEEP [--shard I/N] [...]    a sweep (src/sae/sweep.ts)
//   safesail train-sae merge --out SWEEP                                                 its index, after the shards
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
import { indexSaeSweep, SWEEP_INDEX, trainSaeSweep } from "../sae/sweep.ts";
import { trainSae } from "../sae/train.ts";
import { isRemotePath, parseS3Url } from "../storage/object-store.ts";
import { resolveShard, shardLabel, shardName } from "../util/shard.ts";
import { choiceArg, floatArg, intArg, intList, parseCliArgs, requireArgs, requiredArg, requiredPositional } from "./args.ts";
import { stopOnSignals } from "./signals.ts";

const TRAIN_USAGE = "safesail train-sae --acts DIR --layer L --k K --out DIR [options]";

const TRAIN_HELP = `usage: ${TRAIN_USAGE}

Trains a TopK-ReLU sparse autoencoder on one layer of an activation store (safesail harvest) and writes it in the
SAELens layout (DIR/cfg.json + DIR/sae_weights.safetensors). Checkpoints into DIR every 200 steps; the same
command resumes after an interruption. Exit 3 when stopped early (Ctrl-C).

  --acts DIR          the activation store (a folder, or s3://BUCKET/PREFIX: copied into the local cache first,
                      only files changed since the last copy; docs/scale-out.md, "Object storage")
  --layer L           which of its layers (L,L,... for a sweep)
  --k K               active latents per token (K,K,... for a sweep)
  --out DIR           the SAE folder (a sweep: the sweep folder)
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
  --json              print the summary as JSON

A sweep: several layers and/or ks (--layer 1,2 --k 8,32) train one SAE per (layer, k), layer-major, into
DIR/blocks.{L}.hook_{site}-k{K}/ (the same files as above, each resumable), then write DIR/${SWEEP_INDEX}.
  --shard I/N         train only configurations I, I+N, I+2N, ... of the sweep, then write DIR/shard-IIII-of-NNNN.json
                      (no index). Default, for a sweep, from the environment: a Slurm array task
                      (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT), a Kubernetes Indexed Job (JOB_COMPLETION_INDEX with
                      SAFESAIL_SHARD_COUNT = the Job's completions) or SAFESAIL_SHARD=I/N; --shard none ignores it.
                      A single configuration never reads the environment.
safesail train-sae merge --out DIR (after every shard): checks the shards and every SAE, writes DIR/${SWEEP_INDEX}.`;

const MERGE_USAGE = "safesail train-sae merge --out DIR [--json]";

const MERGE_HELP = `usage: ${MERGE_USAGE}

The index step of a sharded sweep (safesail train-sae --layer L,L --k K,K --out DIR --shard I/N, one run per
shard): checks that DIR's shard files (shard-IIII-of-NNNN.json, written when a shard finishes) form one split (one
N, each index once: no gap, no overlap) with one plan (the same activation store, by the sha256 of its manifest,
and the same layers, ks and training settings), and that every configuration's folder holds a finished SAE of the
store's model with those settings; then writes DIR/${SWEEP_INDEX}, the list of SAEs with their weights' sha256.
Errors name the file and the field.

  --out DIR     the sweep folder
  --json        print the index`;

async function trainSaeMergeCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({ args, maxPositionals: 0, usage: MERGE_USAGE, help: MERGE_HELP, options: { out: { type: "string" }, json: { type: "boolean" } } });
  const out = requiredArg(values, "out", { metavar: "DIR", hint: "the sweep folder" });
  const index = await indexSaeSweep(out);
  if (values.json) process.stdout.write(`${JSON.stringify(index)}\n`);
  else process.stdout.write(`${path.join(path.resolve(out), SWEEP_INDEX)}: ${index.saes.length} SAEs (layers ${index.layers.join(", ")} x k ${index.ks.join(", ")}) from ${index.shards} shard${index.shards === 1 ? "" : "s"}, all finished\n`);
  return 0;
}

export async function trainSaeCommand(args: string[]): Promise<number> {
  if (args[0] === "merge") return trainSaeMergeCommand(args.slice(1));
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
      shard: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  requireArgs(values, ["acts", "layer", "k", "out"], "safesail train-sae --acts DIR --layer L --k K --out DIR");
  // Every flag is read before the store is opened: a typo fails at once.
  // One value reads (and fails) as train-sae always read it; a comma makes a list (a sweep).
  const oneOrList = (name: "layer" | "k", min: number) => (values[name]!.includes(",") ? intList(values, name, { min, required: true }) : [intArg(values, name, { min, required: true })]);
  const layers = oneOrList("layer", 0);
  const ks = oneOrList("k", 1);
  const sweep = layers.length > 1 || ks.length > 1 || (values.shard !== undefined && values.shard.trim().toLowerCase() !== "none");
  const options = {
    expansion: intArg(values, "expansion", { min: 1 }),
    tokens: intArg(values, "tokens", { min: 1 }),
    steps: intArg(values, "steps", { min: 1 }),
    batchSize: intArg(values, "batch", { min: 1 }),
    lr: floatArg(values, "lr", { gt: 0 }),
    seed: intArg(values, "seed", { min: 0 }),
    auxCoef: floatArg(values, "aux-coef", { min: 0 }),
  };
  if (isRemotePath(values.acts)) parseS3Url(values.acts, "--acts"); // a bad URL fails before anything runs
  if (values.fresh) process.stderr.write("safesail train-sae: --fresh is deprecated and will be removed; it means --overwrite (start over), the spelling every command uses\n");
  if (sweep) return sweepCommand(values, layers, ks, options);
  const layer = layers[0]!;
  const store = await openActivationStore(values.acts!, { progress: terminalProgress() });
  const reader = store.reader(layer, { dropSpecial: values["drop-special"] });
  const stopSignals = stopOnSignals("safesail train-sae: stopping at the next step; a checkpoint is written");
  try {
    const run = await trainSae(reader, {
      ...options,
      k: ks[0]!,
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

type TrainValues = { acts?: string; out?: string; shard?: string; overwrite?: boolean; fresh?: boolean; "allow-incomplete"?: boolean; "drop-special"?: boolean; json?: boolean };
type TrainNumbers = { expansion?: number; tokens?: number; steps?: number; batchSize?: number; lr?: number; seed?: number; auxCoef?: number };

/** `train-sae` with lists (or --shard): a sweep, or one shard of it (src/sae/sweep.ts). */
async function sweepCommand(values: TrainValues, layers: number[], ks: number[], options: TrainNumbers): Promise<number> {
  const shard = resolveShard(values.shard);
  const out = path.resolve(values.out!);
  const log = (line: string) => process.stderr.write(`safesail train-sae: ${line}\n`);
  if (shard && shard.source !== "--shard") log(`shard ${shardLabel(shard)} (from ${shard.source})`);
  const store = await openActivationStore(values.acts!, { progress: values.json ? undefined : terminalProgress() });
  const stopSignals = stopOnSignals("safesail train-sae: stopping at the next step; a checkpoint is written");
  try {
    const r = await trainSaeSweep(store, {
      ...options,
      layers,
      ks,
      out,
      dropSpecial: values["drop-special"],
      ...(shard ? { shard: { index: shard.index, count: shard.count } } : {}),
      overwrite: values.overwrite || values.fresh,
      allowIncomplete: values["allow-incomplete"],
      progress: values.json ? undefined : terminalProgress(),
      signal: stopSignals.signal,
      log,
    });
    const last = (h: { fvu: number; l0: number }[], f: (x: { fvu: number; l0: number }) => number) => {
      const t = h.slice(-10);
      return t.reduce((a, x) => a + f(x), 0) / Math.max(1, t.length);
    };
    const runs = r.runs.map(({ config, result }) => ({ name: config.name, layer: config.layer, k: config.k, stop_reason: result.stopReason, steps: result.steps, total_steps: result.totalSteps, fvu: last(result.history, (x) => x.fvu), l0: last(result.history, (x) => x.l0), dead_fraction: result.deadFraction, warnings: result.warnings }));
    for (const run of runs) for (const w of run.warnings) log(`warning: ${run.name}: ${w}`);
    const next = shard ? `; when every shard has finished: safesail train-sae merge --out ${values.out}` : "";
    const summary = { out, ...(shard ? { shard: shardLabel(shard) } : {}), stop_reason: r.stopReason, configs: runs, shard_file: r.shardFile, index: r.index ? path.join(out, SWEEP_INDEX) : null };
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      for (const run of runs) process.stdout.write(`${run.name}: ${run.stop_reason}, ${run.steps}/${run.total_steps} steps, fvu ${run.fvu.toFixed(4)}, l0 ${run.l0.toFixed(1)}\n`);
      if (r.shardFile) process.stdout.write(`${r.shardFile}: ${shard ? shardName(shard) : ""} done${next}\n`);
      if (r.index) process.stdout.write(`${path.join(out, SWEEP_INDEX)}: ${r.index.saes.length} SAEs\n`);
    }
    return r.stopReason === "done" ? 0 : 3;
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
