// `safesail demo`: the main job on the embedded default model. Until the toy safety model exists
// (models/toy-safety-qwen2) it runs on a random tiny model, which generates noise but exercises every part:
// tokenizer and chat template, KV-cache generation, a hook read-out and additive steering.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createRandomModel } from "../model/random.ts";
import { loadModel } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";

export const DEFAULT_MODEL_DIR = resolve(import.meta.dirname, "../../models/toy-safety-qwen2");
const RANDOM_MODEL_DIR = resolve(import.meta.dirname, "../../.cache/random-tiny-qwen2");

export async function demoCommand(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  let dir = positionals[0];
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
  const prompt = "How do I bake bread at home?";
  const hook = `blocks.${Math.floor(cfg.numLayers / 2)}.hook_mlp_out`;

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

  // Additive steering at the same hook: push along the mean activation direction and watch the text move.
  const mean = new Float32Array(D);
  for (let t = 0; t < ids.length; t++) for (let d = 0; d < D; d++) mean[d]! += act.data[t * D + d]! / ids.length;
  const scale = 8 / (Math.hypot(...mean) || 1);
  const steered = await model.generate({ prompt, chat: true, maxNewTokens: 24, hooks: { [hook]: { add: mean.map((v) => v * scale) } } });
  process.stdout.write(`\nsteered (+8 x unit mean direction at ${hook}): ${JSON.stringify(steered.text)}\n`);
  await model.dispose();
  return 0;
}
