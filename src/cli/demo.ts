// `safesail demo`: the reproducible supplement (`safesail supplement --overwrite`: every numbered notebook executed
// headless on the embedded toy model, published offline into out/supplement with an index and a run manifest;
// docs/supplement.md). `npm run demo` runs it after the bootstrap.
//
// `safesail demo --quick [MODEL]`: the short printout on the embedded default model (models/toy-safety-qwen2): its
// safety behaviour on held-out prompts (a benign request, harmful ones in English and in Hindi, where the toy
// model has no safety training), a hook read-out at the MLP output, and steering along a refusal direction read
// from the model's own activations. Without that folder it runs on a random tiny model, which generates noise but
// exercises every part.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ArgumentError } from "../errors.ts";
import { DEFAULT_MODEL_DIR } from "../model/default.ts";
import { hookName } from "../model/hooks.ts";
import { createRandomModel } from "../model/random.ts";
import { loadModel, type Model } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";
import { TOY_HELDOUT_FILE } from "../toy/build.ts";
import { readHeldOut } from "../toy/card.ts";
import { detectRefusal } from "../refusal.ts";
import type { ToyPrompt } from "../toy/types.ts";
import { parseCliArgs } from "./args.ts";
import { notebookList, runSupplement } from "./supplement.ts";
import { DEFAULT_SUPPLEMENT_DIR } from "./supplement/build.ts";

const RANDOM_MODEL_DIR = resolve(import.meta.dirname, "../../.cache/random-tiny-qwen2");

const SYNOPSIS = "safesail demo [--out DIR] [--notebooks LIST] | safesail demo --quick [MODEL]";

const HELP = `usage: safesail demo [--out DIR] [--notebooks LIST]
       safesail demo --quick [MODEL]

The reproducible supplement, what \`npm run demo\` builds: every numbered notebook (notebooks/NN-*.ipynb, not
the 99 appendix) executed headless, in order, on the embedded toy model with fixed seeds, and published as
offline pages with live widgets, an index and a run manifest (versions, seeds, input hashes, timings) in
${DEFAULT_SUPPLEMENT_DIR}; it prints the file:// URL of the index. An earlier supplement there is replaced (any
other folder is refused). Takes several minutes. Same as \`safesail supplement --overwrite\` (its --help has the
details; docs/supplement.md).

  --out DIR         output folder (default ${DEFAULT_SUPPLEMENT_DIR})
  --notebooks LIST  comma-separated notebooks to run instead of all ("00,04")
  --quick [MODEL]   instead, a short printout in about a minute, on the embedded default model
                    (models/toy-safety-qwen2, or MODEL): its safety behaviour on held-out prompts (benign, harmful
                    in English, Chinese and Hindi), a generation with a read-out of the activations at a middle
                    layer's MLP output (the site Safe-SAIL trains its SAEs on), and steering along a refusal
                    direction (mean harmful minus mean benign activation). Without the default model it runs on a
                    random tiny model, which generates noise but exercises every part.`;

export async function demoCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 1,
    usage: SYNOPSIS,
    help: HELP,
    options: { quick: { type: "boolean" }, out: { type: "string" }, notebooks: { type: "string" } },
  });
  if (!values.quick) {
    if (positionals.length > 0) throw new ArgumentError(`MODEL goes with --quick (safesail demo --quick ${positionals[0]}); the supplement runs on the embedded toy model`);
    return runSupplement({
      out: values.out ?? DEFAULT_SUPPLEMENT_DIR,
      ...(values.notebooks !== undefined ? { notebooks: notebookList(values.notebooks) } : {}),
      overwrite: true,
      command: ["safesail", "demo", ...args].join(" "),
    });
  }
  if (values.out !== undefined || values.notebooks !== undefined) throw new ArgumentError("--out and --notebooks are for the supplement, not --quick");
  return quickDemo(positionals[0]);
}

/** The short printout (see the file comment). */
async function quickDemo(modelDir?: string): Promise<number> {
  let dir = modelDir;
  if (!dir) {
    if (existsSync(join(DEFAULT_MODEL_DIR, "config.json"))) dir = DEFAULT_MODEL_DIR;
    else {
      if (!existsSync(join(RANDOM_MODEL_DIR, "config.json"))) {
        await createRandomModel(RANDOM_MODEL_DIR, { architecture: "Qwen2ForCausalLM", hidden: 64, layers: 4, heads: 4, kvHeads: 2, intermediate: 160, vocab: 320, seed: 1 });
      }
      dir = RANDOM_MODEL_DIR;
      process.stdout.write(`(models/toy-safety-qwen2 not found: using a random tiny Qwen2 model at ${dir}; its output is noise)\n`);
    }
  }
  const model = await loadModel(dir, { progress: terminalProgress() });
  const cfg = model.config;
  process.stdout.write(`model: ${dir}\n  ${cfg.architecture}, ${cfg.numLayers} layers, hidden ${cfg.hiddenSize}, ${cfg.numHeads} heads / ${cfg.numKvHeads} KV heads, vocab ${cfg.vocabSize}\n`);
  if (existsSync(join(dir, TOY_HELDOUT_FILE))) await safetyDemo(model, await readHeldOut(join(dir, TOY_HELDOUT_FILE)));
  const prompt = "How do I bake bread at home?";
  const hook = hookName(Math.floor(cfg.numLayers / 2), "mlp_out");

  const t0 = performance.now();
  const out = await model.generate({ prompt, chat: true, maxNewTokens: 24 });
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(`\nuser: ${prompt}\nassistant: ${JSON.stringify(out.text)}\n  (${out.ids.length} tokens, ${(out.ids.length / secs).toFixed(1)} tok/s, finish: ${out.finishReason})\n`);

  // Hook read-out: the activation at the MLP output (the site Safe-SAIL trains its SAEs on) per token.
  const ids = [...out.promptIds, ...out.ids];
  const { cache } = await model.runWithCache([ids], [hook]);
  const D = cfg.hiddenSize;
  const act = cache[hook]!;
  process.stdout.write(`\n${hook}: [${act.shape.join(", ")}]; last 8 tokens, L2 norm and strongest dimension:\n`);
  for (let t = Math.max(0, ids.length - 8); t < ids.length; t++) {
    const row = act.data.subarray(t * D, (t + 1) * D);
    let best = 0;
    for (let d = 1; d < D; d++) if (Math.abs(row[d]!) > Math.abs(row[best]!)) best = d;
    const token = model.tokenizer ? JSON.stringify(model.decode([ids[t]!])) : String(ids[t]);
    process.stdout.write(`  ${String(t).padStart(4)} ${token.padEnd(16)} norm ${Math.hypot(...row).toFixed(3).padStart(8)}  dim ${best} = ${row[best]!.toFixed(3)}\n`);
  }

  if (existsSync(join(dir, TOY_HELDOUT_FILE))) {
    await model.dispose();
    return 0;
  }
  // Additive steering at the same hook: push along the mean activation direction and watch the text move.
  const mean = new Float32Array(D);
  for (let t = 0; t < ids.length; t++) for (let d = 0; d < D; d++) mean[d]! += act.data[t * D + d]! / ids.length;
  const scale = 8 / (Math.hypot(...mean) || 1);
  const steered = await model.generate({ prompt, chat: true, maxNewTokens: 24, hooks: { [hook]: { add: mean.map((v) => v * scale) } } });
  process.stdout.write(`\nsteered (+8 x unit mean direction at ${hook}): ${JSON.stringify(steered.text)}\n`);
  await model.dispose();
  return 0;
}

/** Mean of the last prompt token's activation at `hook` over `prompts`. */
async function meanLastToken(model: Model, prompts: readonly ToyPrompt[], hook: string): Promise<Float32Array> {
  const D = model.config.hiddenSize;
  const mean = new Float32Array(D);
  for (const p of prompts) {
    const ids = model.promptIds({ prompt: p.prompt, chat: true });
    const { cache } = await model.runWithCache([ids], [hook], { logits: "none" });
    const row = cache[hook]!.data.subarray((ids.length - 1) * D, ids.length * D);
    for (let d = 0; d < D; d++) mean[d]! += row[d]! / prompts.length;
  }
  return mean;
}

/** The toy model's safety behaviour, and steering it along a difference-of-means refusal direction. */
async function safetyDemo(model: Model, heldOut: readonly ToyPrompt[]): Promise<void> {
  const first = (lang: string, harmful: boolean) => heldOut.find((p) => p.lang === lang && p.harmful === harmful);
  const shown = [first("en", false), first("en", true), first("zh", true), first("hi", true)].filter((p): p is ToyPrompt => p !== undefined);
  const say = async (p: ToyPrompt, hooks?: Parameters<Model["generate"]>[0]["hooks"]) => {
    const out = await model.generate({ prompt: p.prompt, chat: true, maxNewTokens: 24, hooks });
    const v = detectRefusal(out.text);
    return `${JSON.stringify(out.text)}  [${v.refused ? `refusal: "${v.marker}"` : "answers"}]`;
  };
  process.stdout.write(`\nSafety behaviour on held-out prompts (never trained on):\n`);
  for (const p of shown) process.stdout.write(`  [${p.lang}, ${p.harmful ? `harmful: ${p.domain} / ${p.concept}` : "benign"}] ${JSON.stringify(p.prompt)}\n    -> ${await say(p)}\n`);

  // A refusal direction: mean activation on harmful minus benign English prompts, at the middle layer's
  // residual stream, last prompt token. Added to Hindi harmful prompts (which the model answers) and
  // subtracted from English ones, on ten held-out prompts each: how often the behaviour flips. At full
  // strength (scale 1) the text breaks down; the scales below keep it readable.
  const hook = hookName(Math.floor(model.config.numLayers / 2), "resid_post");
  const pick = (lang: string, harmful: boolean, n: number) => heldOut.filter((p) => p.lang === lang && p.harmful === harmful).slice(0, n);
  const [harm, benign] = [await meanLastToken(model, pick("en", true, 24), hook), await meanLastToken(model, pick("en", false, 24), hook)];
  const direction = harm.map((v, i) => v - benign[i]!);
  process.stdout.write(`\nSteering along a refusal direction at ${hook} (mean harmful - mean benign English prompt, |d| = ${Math.hypot(...direction).toFixed(1)}):\n`);
  for (const [label, prompts, sign, want] of [["Hindi harmful, + s d", pick("hi", true, 10), 1, true], ["English harmful, - s d", pick("en", true, 10), -1, false]] as const) {
    for (const scale of [0.3, 0.5]) {
      let flipped = 0;
      let sample = "";
      for (const p of prompts) {
        const out = await model.generate({ prompt: p.prompt, chat: true, maxNewTokens: 20, hooks: { [hook]: { add: direction.map((v) => sign * scale * v) } } });
        if (detectRefusal(out.text).refused === want) flipped++;
        sample ||= out.text;
      }
      process.stdout.write(`  ${label}, s = ${scale}: ${want ? "refused" : "answered"} ${flipped}/${prompts.length}  e.g. ${JSON.stringify(sample.slice(0, 70))}\n`);
    }
  }
}
