// `safesail toy ...`: the embedded default model, built from nothing by committed code. Usage texts: USAGE / HELP below.
//
//   safesail toy corpus --out DIR [--seed N] [--conversations N] [--held-out-per-cell N]
//                                                     the generated conversations + held-out prompts
//   safesail toy train [--out DIR] [--work DIR] [--corpus DIR] [--minutes M] [--epochs E] [--steps S] [--fresh]
//                                                     corpus -> tokenizer -> training -> HF folder
//   safesail toy eval [MODEL] [--max-new-tokens N] [--limit N] [--json FILE]
//                                                     refusal rates on the model's held-out prompts
//   safesail toy card [MODEL]                         eval + README.md model card in the folder
//   safesail toy saes [--out DIR] [--work DIR] [--seed N] [--steps N] [--conversations N] [--layers L,..] [--held-out N]
//                                                     the shipped SAE set + its scored feature database (toy-saes.ts)
//
// `train` checkpoints into --work (default .cache/toy-train) every 25 steps; run the same command
// again after an interruption and it resumes where it stopped (the data and settings must match).
import { existsSync } from "node:fs";
import * as path from "node:path";
import { ArgumentError } from "../errors.ts";
import { loadModel } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import { TOY_HELDOUT_FILE, TOY_MODEL_DIR, TOY_TRAINING, encodeCorpus, toyModelConfig, trainToyTokenizer, writeToyModelExtras } from "../toy/build.ts";
import { writeToyCard, readHeldOut } from "../toy/card.ts";
import { TOY_CORPUS_SEED, generateCorpus, readCorpus, writeCorpus } from "../toy/corpus.ts";
import { behaviourMarkdown, evaluateBehaviour } from "../toy/eval.ts";
import { readCheckpointState } from "../toy/train-checkpoint.ts";
import { trainToyModel } from "../toy/train.ts";
import { floatArg, intArg, parseCliArgs, requiredArg } from "./args.ts";
import { buildToySaes, ToySaesStopped } from "./toy-saes.ts";
import { TOY_SAES_CONFIG, TOY_SAES_DIR, TOY_SAES_TRAINING, TOY_SAES_WORK } from "../toy/saes.ts";
import { stopOnSignals } from "./signals.ts";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

const USAGE = {
  corpus: "safesail toy corpus --out DIR [--seed N] [--conversations N] [--held-out-per-cell N]",
  train: "safesail toy train [--out DIR] [--work DIR] [--corpus DIR] [--minutes M] [--epochs E | --steps S] [--workers N|auto] [--fresh]",
  eval: "safesail toy eval [MODEL] [--max-new-tokens N] [--limit N] [--json FILE]",
  card: "safesail toy card [MODEL] [--reuse-eval]",
  saes: "safesail toy saes [--out DIR] [--work DIR] [--seed N] [--steps N] [--conversations N] [--layers L,..] [--held-out N] [--samples FILE] [--model DIR]",
};

const HELP = {
  corpus: `usage: ${USAGE.corpus}

Writes the generated conversations and held-out prompts of the toy safety model to DIR.

  --out DIR                 the folder to write
  --seed N                  generator seed (default ${TOY_CORPUS_SEED})
  --conversations N         how many training conversations (default: the toy model's)
  --held-out-per-cell N     held-out prompts per domain x language cell (default: the toy model's)`,
  train: `usage: ${USAGE.train}

Corpus -> tokenizer -> training -> a Hugging Face model folder (default ${TOY_MODEL_DIR}). Checkpoints into --work
every 25 steps; the same command resumes after an interruption (data and settings must match). Exit 3 when
stopped early (time budget, Ctrl-C).

  --out DIR          the model folder to write (default ${TOY_MODEL_DIR})
  --work DIR         checkpoints (default .cache/toy-train)
  --corpus DIR       a corpus written by "safesail toy corpus" (default: generated with seed ${TOY_CORPUS_SEED})
  --minutes M        time budget (default ${TOY_TRAINING.timeBudgetMinutes})
  --epochs E         passes over the corpus (default ${TOY_TRAINING.epochs}); or
  --steps S          a number of optimizer steps
  --workers N|auto   training worker threads (default auto)
  --fresh            start over instead of resuming`,
  eval: `usage: ${USAGE.eval}

Refusal rates of a model (default ${TOY_MODEL_DIR}) on its held-out prompts, per domain x language, as Markdown.

  --max-new-tokens N   tokens generated per answer
  --limit N            only the first N held-out prompts
  --json FILE          also write the report as JSON`,
  card: `usage: ${USAGE.card}

Measures the model (default ${TOY_MODEL_DIR}) and writes eval.json and the README.md model card into its folder.

  --reuse-eval   rewrite the card only, from the recorded eval.json (e.g. after \`safesail toy saes\`: the SAE set's
                 held-out figures were measured on the recorded answers)`,
  saes: `usage: ${USAGE.saes}

Builds the SAE set shipped with the toy model and its scored feature database: harvest of the model's training
conversations (resid_post, every layer), one TopK SAE per layer (k 64, expansion 10: notebook 02's recorded choice)
trained with one thread, stored F16 in SAELens layout, evaluated on the held-out conversations, filtered into
safety features on the English domain samples, activation examples, explanations and scores by the offline
baselines (not an LLM), into DIR/features.db.json, with DIR/manifest.json, README.md and fvu-curves.svg.
Every long step shows progress and resumes after an interruption (the same command); a layer already built with
the same settings is kept. Exit 3 when stopped early (Ctrl-C).

  --out DIR            the set's folder (default ${TOY_SAES_DIR})
  --work DIR           activations, checkpoints and the example store (default ${TOY_SAES_WORK})
  --seed N             seed of SAE initialisation and data order, filter split, example samples (default ${TOY_SAES_TRAINING.seed})
  --steps N            training steps per SAE, batches of ${TOY_SAES_TRAINING.batchSize} rows (default ${TOY_SAES_TRAINING.steps})
  --conversations N    train on the first N training conversations only (default all)
  --layers L,..        build these layers only (default all; for experiments such as a longer run of one layer)
  --held-out N         evaluate and collect examples on N held-out conversations, evenly spaced (default all)
  --samples FILE       domain-labelled samples for the filter and the examples; their English ones are used
                       (default data/domain-corpus.jsonl)
  --model DIR          the toy model folder (default ${TOY_MODEL_DIR})`,
};

const GROUP_USAGE = `usage:
  ${USAGE.corpus}
                                                    the generated conversations + held-out prompts
  ${USAGE.train}
                                                    corpus -> tokenizer -> training -> HF folder
  ${USAGE.eval}
                                                    refusal rates on the model's held-out prompts
  ${USAGE.card}
                                                    eval + README.md model card in the folder
  ${USAGE.saes}
                                                    the shipped SAE set + its scored feature database

safesail toy SUBCOMMAND --help for its options.`;

async function corpusCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    usage: USAGE.corpus,
    help: HELP.corpus,
    options: { out: { type: "string" }, seed: { type: "string" }, conversations: { type: "string" }, "held-out-per-cell": { type: "string" } },
  });
  const out = requiredArg(values, "out", { metavar: "DIR", hint: "safesail toy corpus --out DIR" });
  const seed = intArg(values, "seed", { min: 0, default: TOY_CORPUS_SEED });
  const result = generateCorpus({ seed, conversations: intArg(values, "conversations", { min: 1 }), heldOutPerCell: intArg(values, "held-out-per-cell", { min: 1 }) });
  const files = await writeCorpus(out, result);
  process.stdout.write(`${result.train.length} conversations, ${result.heldOut.length} held-out prompts\n${Object.values(files).join("\n")}\n`);
  return 0;
}

async function trainCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    usage: USAGE.train,
    help: HELP.train,
    options: {
      out: { type: "string" },
      work: { type: "string" },
      corpus: { type: "string" },
      minutes: { type: "string" },
      epochs: { type: "string" },
      steps: { type: "string" },
      workers: { type: "string" },
      fresh: { type: "boolean", default: false },
    },
  });
  // Arguments first: a typo must not cost a tokenizer training or touch the model folder.
  const steps = intArg(values, "steps", { min: 1 });
  const epochs = steps === undefined ? intArg(values, "epochs", { min: 1, default: TOY_TRAINING.epochs }) : undefined;
  const minutes = floatArg(values, "minutes", { gt: 0, default: TOY_TRAINING.timeBudgetMinutes });
  const workers = values.workers === undefined || values.workers === "auto" ? "auto" : intArg(values, "workers", { min: 1, required: true });
  const out = path.resolve(values.out ?? path.join(REPO_ROOT, TOY_MODEL_DIR));
  const work = path.resolve(values.work ?? path.join(REPO_ROOT, ".cache/toy-train"));
  const progress = terminalProgress();
  const corpus = values.corpus ? await readCorpus(values.corpus) : generateCorpus({ seed: TOY_CORPUS_SEED });
  const t0 = performance.now();
  const bpe = trainToyTokenizer(corpus.train, { progress });
  const tokenizerSeconds = (performance.now() - t0) / 1000;
  const data = encodeCorpus(bpe, corpus.train);
  const config = toyModelConfig(bpe);
  const totalTokens = data.sequences.reduce((a, s) => a + s.length, 0);
  const answerTokens = data.lossMask.reduce((a, m) => a + m.reduce((x, y) => x + y, 0), 0);
  process.stdout.write(`corpus: ${corpus.train.length} conversations, ${totalTokens} tokens (${answerTokens} in answers); tokenizer ${bpe.vocab.size} ids in ${tokenizerSeconds.toFixed(1)} s\n`);
  await writeToyModelExtras(out, bpe, corpus.heldOut);
  const stop = stopOnSignals("safesail toy train: stopping at the next step; a checkpoint is written");
  try {
    const result = await trainToyModel({
      config,
      ...data,
      seed: TOY_TRAINING.seed,
      batchSize: TOY_TRAINING.batchSize,
      seqLen: TOY_TRAINING.seqLen,
      lr: TOY_TRAINING.lr,
      ...(steps === undefined ? { epochs } : { steps }),
      outDir: work,
      checkpointEvery: TOY_TRAINING.checkpointEvery,
      resume: !values.fresh,
      progress,
      timeBudgetMinutes: minutes,
      workers,
      signal: stop.signal,
      save: { dir: out, dtype: "F32" },
    });
    // Training time of all runs together (a resumed run's own time is only its part).
    const total = await readCheckpointState(work);
    const last = result.lossHistory.slice(-20);
    const finalLoss = last.reduce((a, r) => a + r.loss * r.tokens, 0) / Math.max(1, last.reduce((a, r) => a + r.tokens, 0));
    const log = {
      corpusSeed: corpus.stats.seed,
      corpusOptions: corpus.stats.options,
      trainingSeed: TOY_TRAINING.seed,
      conversations: corpus.train.length,
      corpusTokens: totalTokens,
      answerTokens,
      vocabSize: bpe.vocab.size,
      batchSize: TOY_TRAINING.batchSize,
      seqLen: TOY_TRAINING.seqLen,
      lr: TOY_TRAINING.lr,
      step: result.step,
      totalSteps: result.totalSteps,
      stopReason: result.stopReason,
      tokensSeen: result.tokensSeen,
      tokensPerSecond: Math.round(result.tokensPerSecond),
      trainMinutesThisRun: Math.round(result.trainMs / 600) / 100,
      trainMinutesTotal: total ? Math.round(total.trainMs / 600) / 100 : Math.round(result.trainMs / 600) / 100,
      resumedFrom: result.resumedFrom,
      backend: result.backend,
      workers: result.workers,
      truncatedSequences: result.truncatedSequences,
      finalLoss: Math.round(finalLoss * 1e4) / 1e4,
      lossCurve: result.lossHistory.filter((r, i) => r.step === 1 || r.step % 10 === 0 || i === result.lossHistory.length - 1).map((r) => ({ step: r.step, loss: Math.round(r.loss * 1e4) / 1e4 })),
    };
    await writeJsonAtomic(path.join(out, "training_log.json"), log);
    process.stdout.write(`${result.stopReason}: step ${result.step}/${result.totalSteps}, loss ${log.finalLoss}, ${log.tokensPerSecond} tok/s on ${result.backend} x${result.workers}\nmodel: ${out}\n`);
    return result.stopReason === "done" ? 0 : 3;
  } finally {
    stop.release();
  }
}

async function evalCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 1,
    usage: USAGE.eval,
    help: HELP.eval,
    options: { "max-new-tokens": { type: "string" }, limit: { type: "string" }, json: { type: "string" } },
  });
  const dir = path.resolve(positionals[0] ?? path.join(REPO_ROOT, TOY_MODEL_DIR));
  const limit = intArg(values, "limit", { min: 1 });
  const maxNewTokens = intArg(values, "max-new-tokens", { min: 1 });
  let prompts = await readHeldOut(path.join(dir, TOY_HELDOUT_FILE));
  if (limit !== undefined) prompts = prompts.slice(0, limit);
  const model = await loadModel(dir);
  try {
    const report = await evaluateBehaviour(model, prompts, { maxNewTokens, progress: terminalProgress(), modelName: path.basename(dir) });
    if (values.json) await writeJsonAtomic(values.json, report);
    process.stdout.write(`${behaviourMarkdown(report)}\n`);
  } finally {
    await model.dispose();
  }
  return 0;
}

async function cardCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({ args, maxPositionals: 1, usage: USAGE.card, help: HELP.card, options: { "reuse-eval": { type: "boolean" } } });
  const dir = path.resolve(positionals[0] ?? path.join(REPO_ROOT, TOY_MODEL_DIR));
  if (!existsSync(path.join(dir, "config.json"))) throw new ArgumentError(`toy card: ${dir} has no config.json (train the model first)`, { file: dir });
  const reuseEval = values["reuse-eval"] === true;
  const card = await writeToyCard(dir, { progress: terminalProgress(), reuseEval });
  process.stdout.write(`${(reuseEval ? card.files.filter((f) => !f.endsWith("eval.json")) : card.files).join("\n")}\n`);
  return 0;
}

async function saesCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    usage: USAGE.saes,
    help: HELP.saes,
    options: {
      out: { type: "string" },
      work: { type: "string" },
      seed: { type: "string" },
      steps: { type: "string" },
      conversations: { type: "string" },
      layers: { type: "string" },
      "held-out": { type: "string" },
      samples: { type: "string" },
      model: { type: "string" },
    },
  });
  // Arguments first: a typo must not cost a harvest.
  const seed = intArg(values, "seed", { min: 0, default: TOY_SAES_TRAINING.seed });
  const steps = intArg(values, "steps", { min: 1, default: TOY_SAES_TRAINING.steps });
  const conversations = intArg(values, "conversations", { min: 1 });
  const heldOut = intArg(values, "held-out", { min: 1 });
  const layers = values.layers === undefined ? undefined : values.layers.split(",").map((v) => {
    const n = Number(v.trim());
    if (v.trim() === "" || !Number.isSafeInteger(n) || !TOY_SAES_CONFIG.layers.includes(n)) throw new ArgumentError(`--layers: ${JSON.stringify(v)} is not a layer of the toy model (${TOY_SAES_CONFIG.layers.join(", ")})`, { field: "layers" });
    return n;
  });
  const model = values.model === undefined ? undefined : path.resolve(values.model);
  if (values.samples !== undefined && !existsSync(values.samples)) throw new ArgumentError(`--samples: ${values.samples}: file not found`, { file: values.samples, field: "samples" });
  if (model !== undefined && !existsSync(path.join(model, "config.json"))) throw new ArgumentError(`--model: ${model} has no config.json (a toy model folder)`, { file: model, field: "model" });
  const stop = stopOnSignals("safesail toy saes: stopping at the next checkpoint");
  try {
    const m = await buildToySaes({
      out: values.out,
      work: values.work,
      model,
      seed,
      steps,
      conversations,
      layers,
      heldOut,
      domainCorpus: values.samples,
      progress: terminalProgress(),
      log: (line) => process.stdout.write(`${line}\n`),
      signal: stop.signal,
    });
    const notPlateaued = m.saes.filter((e) => !e.training.plateau.plateaued).map((e) => e.layer);
    if (notPlateaued.length) process.stdout.write(`warning: the training FVU of layer(s) ${notPlateaued.join(", ")} has not plateaued by the rule of the manifest (on this corpus it falls as a power law of the steps, so a longer run does not change the verdict; what doubling the steps buys is measured in docs/toy-saes.md)\n`);
    return 0;
  } catch (err) {
    if (err instanceof ToySaesStopped || stop.signal.aborted) {
      process.stderr.write(`${err instanceof ToySaesStopped ? err.message : "toy saes: stopped"}; what is done is kept, and the same command resumes\n`);
      return 3;
    }
    throw err;
  } finally {
    stop.release();
  }
}

export async function toyCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "corpus":
      return corpusCommand(rest);
    case "train":
      return trainCommand(rest);
    case "eval":
      return evalCommand(rest);
    case "card":
      return cardCommand(rest);
    case "saes":
      return saesCommand(rest);
    case "--help":
    case "-h":
    case "help":
      process.stdout.write(`${GROUP_USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`${sub === undefined ? "" : `safesail toy: unknown subcommand "${sub}"\n\n`}${GROUP_USAGE}\n`);
      return 2;
  }
}
