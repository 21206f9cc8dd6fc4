// The model runtime: load a Hugging Face folder (or hub id), run it on onnxruntime with hooks, generate.
//
//   const model = await loadModel("models/toy-safety-qwen2");
//   const { logits, cache } = await model.runWithCache(ids, ["blocks.2.hook_mlp_out"]);
//   await model.runWithHooks(ids, { "blocks.2.hook_mlp_out": { add: direction } });
//   await model.generate({ prompt: "Hello", chat: true, maxNewTokens: 32 });
//
// The Model class itself (model.ts) touches no file: this module reads the folder and hands it the config,
// weights and tokenizer.
import { join } from "node:path";
import { checkDevice, defaultDevice, type SessionConfig } from "../engine/ort.ts";
import type { Progress } from "../progress.ts";
import { readModelConfig } from "./config.ts";
import { resolveModel } from "./hub.ts";
import { Model } from "./model.ts";
import { loadTokenizer, MissingTokenizerError } from "./tokenizer.ts";
import type { StoredWeights } from "./graph.ts";
import { openWeightCache, weightCacheDisabled } from "./weight-cache.ts";
import { openWeights, validateWeights } from "./weights.ts";

export * from "./model.ts";

export interface LoadOptions extends SessionConfig {
  /** Skip the weight shape check (it reads only headers, so it is cheap; off only for experiments). */
  skipValidation?: boolean;
  /** Only use the local hub cache, never the network. */
  offline?: boolean;
  /** Download progress for hub ids, and the weight cache's first conversion. */
  progress?: Progress;
  /**
   * Map the weights from the float32 weight cache (weight-cache.ts), building it on first use: default on, unless
   * SAFESAIL_WEIGHT_CACHE=0. false: read them into memory (no disk written). A string: the cache root.
   */
  weightCache?: boolean | string;
  /** What the weight cache did, and why it was skipped (default: stderr for a skip, nothing otherwise). */
  log?: (message: string) => void;
}

export async function loadModel(idOrPath: string, opts: LoadOptions = {}): Promise<Model> {
  // A bad SAFESAIL_DEVICE or a missing CUDA provider is reported now, not at the first forward.
  const device = opts.device ?? defaultDevice();
  await checkDevice(device);
  const dir = await resolveModel(idOrPath, { offline: opts.offline, progress: opts.progress });
  const configPath = join(dir, "config.json");
  const cfg = await readModelConfig(configPath);
  const weights = openWeights(dir, cfg);
  if (!opts.skipValidation) validateWeights(weights, cfg, dir);
  const tokenizer = await loadTokenizer(dir).catch((err: unknown) => {
    // A model without tokenizer.json still runs on ids; a tokenizer file that is there but broken is an error.
    if (err instanceof MissingTokenizerError) return null;
    throw err;
  });
  let stored: StoredWeights | null = null;
  const useCache = opts.weightCache === undefined ? !weightCacheDisabled() : opts.weightCache !== false;
  if (useCache) {
    const root = typeof opts.weightCache === "string" ? opts.weightCache : undefined;
    const res = await openWeightCache(weights, cfg, { root, progress: opts.progress, log: opts.log });
    if (res.stored) stored = res.stored;
    else (opts.log ?? ((m: string) => process.stderr.write(`${m}; loading the weights in memory\n`)))(res.reason);
  }
  return new Model(dir, cfg, weights, tokenizer, { device, threads: opts.threads, prepack: opts.prepack }, stored);
}

