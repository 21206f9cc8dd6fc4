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
import { ArgumentError } from "../errors.ts";
import type { StoredWeights, WeightPrecision } from "./graph.ts";
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
  /**
   * "fp32" (default): the reference. "int8": the projections and the head as blockwise 8-bit weights run by
   * onnxruntime's int8 kernel, for faster generation at a small logit error (bench/README.md, "Reduced precision");
   * needs the weight cache.
   */
  precision?: WeightPrecision;
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
  const precision = opts.precision ?? "fp32";
  if (precision !== "fp32" && precision !== "int8") throw new ArgumentError(`precision must be "fp32" or "int8", got ${JSON.stringify(precision)}`, { field: "precision" });
  const useCache = opts.weightCache === undefined ? !weightCacheDisabled() : opts.weightCache !== false;
  if (!useCache && precision !== "fp32") {
    throw new ArgumentError(`precision "${precision}" needs the weight cache (it stores the 8-bit weights); it is off (${opts.weightCache === false ? "weightCache: false" : "SAFESAIL_WEIGHT_CACHE"})`, { field: "precision" });
  }
  if (useCache) {
    const root = typeof opts.weightCache === "string" ? opts.weightCache : undefined;
    const res = await openWeightCache(weights, cfg, { root, progress: opts.progress, log: opts.log, precision });
    if (res.stored) stored = res.stored;
    else if (precision !== "fp32") throw new ArgumentError(`precision "${precision}" needs the weight cache, which cannot be written: ${res.reason}`, { field: "precision" });
    else (opts.log ?? ((m: string) => process.stderr.write(`${m}; loading the weights in memory\n`)))(res.reason);
  }
  return new Model(dir, cfg, weights, tokenizer, { device, threads: opts.threads, prepack: opts.prepack }, stored);
}

