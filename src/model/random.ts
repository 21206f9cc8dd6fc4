// A complete random model folder in Hugging Face layout, for tests and demos:
//   config.json, generation_config.json, model.safetensors (or 2 shards + index),
//   tokenizer.json (byte-level BPE), tokenizer_config.json (Qwen-style chat template), special_tokens_map.json.
// Weights come from a seeded PRNG keyed by (seed, tensor name), so the same options always give the same
// bytes, sharded or not, and tensors are generated and written one chunk at a time (the 0.5B preset
// never holds more than a few MB of weights in memory).

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { ArgumentError, describeValue } from "../errors.ts";
import { checkInt } from "../util/validate.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import { modelConfigToJson } from "./config.ts";
import { DTYPE_SIZES, numelOf, writeSafetensorsStreaming, type TensorSpec } from "../formats/safetensors.ts";
import type { Architecture, ModelConfig, RopeScaling, StorageDtype } from "./types.ts";
import { INDEX_FILE, SINGLE_FILE, expectedWeightShapes } from "./weights.ts";
import { mulberry32 } from "../util/prng.ts";
import { buildTokenizerFiles, writeTokenizer, type BpeModel, type TokenizerFiles } from "./bpe.ts";
import { SPECIAL_TOKENS, bytesToUnicode } from "./byte-level.ts";

export { QWEN_CHAT_TEMPLATE, SPECIAL_TOKENS, bytesToUnicode } from "./byte-level.ts";

export interface RandomModelOptions {
  /** A preset such as QWEN25_05B_SHAPES; the other options override its fields. */
  shapes?: Readonly<RandomModelOptions>;
  architecture?: Architecture;
  hidden?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  /** Default hidden / heads. */
  headDim?: number;
  intermediate?: number;
  /** Default: the tokenizer size rounded up to a multiple of 64. Must be at least the tokenizer size. */
  vocab?: number;
  tied?: boolean;
  dtype?: StorageDtype;
  /** Write two shards plus `model.safetensors.index.json` instead of one `model.safetensors`. */
  sharded?: boolean;
  seed?: number;
  ropeScaling?: RopeScaling | null;
  ropeTheta?: number;
  rmsNormEps?: number;
  maxPositionEmbeddings?: number;
  /** Llama only: q/k/v/o biases (`attention_bias`). Qwen2 always has q/k/v biases. */
  attentionBias?: boolean;
  /** Llama only: MLP biases (`mlp_bias`). */
  mlpBias?: boolean;
  /** Write the tokenizer files (default true). */
  tokenizer?: boolean;
  /** Called after each tensor with bytes written so far and in total. */
  onProgress?: (doneBytes: number, totalBytes: number, tensor: string) => void;
}

export interface RandomModel {
  dir: string;
  config: ModelConfig;
  /** Every file written, relative to `dir`. */
  files: string[];
}

/** Shapes of Qwen2.5-0.5B(-Instruct): a full-size test of memory and speed with random weights. */
export const QWEN25_05B_SHAPES: Readonly<RandomModelOptions> = Object.freeze({
  architecture: "Qwen2ForCausalLM",
  hidden: 896,
  layers: 24,
  heads: 14,
  kvHeads: 2,
  intermediate: 4864,
  vocab: 151936,
  tied: true,
  ropeTheta: 1000000,
  rmsNormEps: 1e-6,
  maxPositionEmbeddings: 32768,
});

/**
 * Shapes of Qwen2.5-3B(-Instruct), the paper's model: 36 layers, hidden 2048, 16 heads / 2 KV heads, intermediate
 * 11008, tied embeddings. About 6.2 GB in BF16, 12.4 GB as float32.
 */
export const QWEN25_3B_SHAPES: Readonly<RandomModelOptions> = Object.freeze({
  architecture: "Qwen2ForCausalLM",
  hidden: 2048,
  layers: 36,
  heads: 16,
  kvHeads: 2,
  intermediate: 11008,
  vocab: 151936,
  tied: true,
  ropeTheta: 1000000,
  rmsNormEps: 1e-6,
  maxPositionEmbeddings: 32768,
});

// ---------------------------------------------------------------------------------------------
// Tokenizer

/** A handful of English merges, so encoding is not purely one token per byte. */
const MERGES: [string, string][] = [
  ["Ġ", "t"],
  ["h", "e"],
  ["i", "n"],
  ["e", "r"],
  ["a", "n"],
  ["o", "n"],
  ["Ġ", "a"],
  ["r", "e"],
  ["Ġt", "he"],
  ["Ġ", "s"],
  ["e", "n"],
  ["o", "u"],
  ["Ġ", "w"],
  ["Ġ", "h"],
  ["i", "s"],
  ["Ġ", "i"],
  ["Ġ", "c"],
  ["Ġ", "o"],
  ["l", "l"],
  ["a", "t"],
];

/** The random models' byte-level BPE: the 256 byte tokens, the merges above, then the special tokens. */
export function randomTokenizerModel(): BpeModel {
  const symbols = bytesToUnicode();
  const vocab = new Map<string, number>(symbols.map((s, b) => [s, b]));
  for (const [a, b] of MERGES) {
    if (!vocab.has(a) || !vocab.has(b)) throw new Error(`merge ${a} ${b}: parts not in vocab`);
    vocab.set(a + b, vocab.size);
  }
  for (const s of SPECIAL_TOKENS) vocab.set(s, vocab.size);
  return { merges: MERGES, vocab, specialTokens: [...SPECIAL_TOKENS] };
}

/** Its Hugging Face tokenizer files (Qwen2-like), built by the same code as the toy model's tokenizer. */
export function buildByteLevelTokenizer(): TokenizerFiles {
  return buildTokenizerFiles(randomTokenizerModel());
}

// ---------------------------------------------------------------------------------------------
// Deterministic random numbers

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}


type Init = { kind: "normal"; std: number } | { kind: "norm" };

function initFor(name: string, shape: number[]): Init {
  if (name.endsWith("norm.weight")) return { kind: "norm" };
  if (name.endsWith(".bias")) return { kind: "normal", std: 0.05 };
  if (name === "model.embed_tokens.weight") return { kind: "normal", std: 0.1 };
  const fanIn = shape[shape.length - 1] ?? 1;
  return { kind: "normal", std: Math.min(0.1, Math.max(0.02, 1 / Math.sqrt(fanIn))) };
}

const CHUNK = 1 << 20;

/** The values of one tensor, generated in chunks of at most 1M elements. */
function* randomChunks(seed: number, name: string, shape: number[]): Generator<Float32Array> {
  const rand = mulberry32(fnv1a(`${seed}:${name}`) ^ Math.imul(seed | 0, 0x9e3779b1));
  const init = initFor(name, shape);
  const total = numelOf(shape);
  let spare: number | null = null;
  for (let start = 0; start < total; start += CHUNK) {
    const n = Math.min(CHUNK, total - start);
    const out = new Float32Array(n);
    if (init.kind === "norm") {
      for (let i = 0; i < n; i++) out[i] = 1 + 0.1 * (2 * rand() - 1);
    } else {
      const std = init.std;
      for (let i = 0; i < n; i++) {
        if (spare !== null) {
          out[i] = spare * std;
          spare = null;
          continue;
        }
        // Box-Muller
        const u = 1 - rand();
        const v = rand();
        const r = Math.sqrt(-2 * Math.log(u));
        out[i] = r * Math.cos(2 * Math.PI * v) * std;
        spare = r * Math.sin(2 * Math.PI * v);
      }
    }
    yield out;
  }
}

// ---------------------------------------------------------------------------------------------
// The folder

const checkPositiveInt = (name: string, v: unknown): number => checkInt(v, name, { min: 1, where: "createRandomModel", label: `option "${name}"` });

/** The ModelConfig `createRandomModel` writes for `opts`. */
export function randomModelConfig(options: RandomModelOptions = {}, tokenizerSize = buildByteLevelTokenizer().size): ModelConfig {
  const opts = withPreset(options);
  const architecture = opts.architecture ?? "Qwen2ForCausalLM";
  if (architecture !== "Qwen2ForCausalLM" && architecture !== "LlamaForCausalLM") {
    throw new ArgumentError(`createRandomModel: option "architecture" must be Qwen2ForCausalLM or LlamaForCausalLM, got ${describeValue(architecture)}`, {
      field: "architecture",
    });
  }
  const isQwen = architecture === "Qwen2ForCausalLM";
  const hidden = checkPositiveInt("hidden", opts.hidden ?? 64);
  const heads = checkPositiveInt("heads", opts.heads ?? 4);
  const kvHeads = checkPositiveInt("kvHeads", opts.kvHeads ?? heads);
  if (heads % kvHeads !== 0) throw new ArgumentError(`createRandomModel: option "kvHeads" (${kvHeads}) must divide "heads" (${heads})`, { field: "kvHeads" });
  const headDim = checkPositiveInt("headDim", opts.headDim ?? hidden / heads);
  if (headDim % 2 !== 0) throw new ArgumentError(`createRandomModel: head dim ${headDim} must be even`, { field: "headDim" });
  const vocab = checkPositiveInt("vocab", opts.vocab ?? Math.ceil(tokenizerSize / 64) * 64);
  if (opts.tokenizer !== false && vocab < tokenizerSize) {
    throw new ArgumentError(`createRandomModel: option "vocab" (${vocab}) is smaller than the tokenizer (${tokenizerSize} tokens)`, { field: "vocab" });
  }
  if (isQwen && (opts.attentionBias === false || opts.mlpBias === true)) {
    throw new ArgumentError(`createRandomModel: Qwen2 always has q/k/v biases and no MLP bias (options "attentionBias", "mlpBias")`, { field: "attentionBias" });
  }
  const attentionBias = isQwen ? true : (opts.attentionBias ?? false);
  const endoftext = 256 + MERGES.length; // first special token
  return {
    architecture,
    modelType: isQwen ? "qwen2" : "llama",
    vocabSize: vocab,
    hiddenSize: hidden,
    intermediateSize: checkPositiveInt("intermediate", opts.intermediate ?? Math.ceil((hidden * 5) / 2)),
    numLayers: checkPositiveInt("layers", opts.layers ?? 2),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    rmsNormEps: opts.rmsNormEps ?? 1e-6,
    ropeTheta: opts.ropeTheta ?? (isQwen ? 1000000 : 10000),
    ropeScaling: opts.ropeScaling ?? null,
    maxPositionEmbeddings: checkPositiveInt("maxPositionEmbeddings", opts.maxPositionEmbeddings ?? 4096),
    tieWordEmbeddings: opts.tied ?? false,
    attentionBias,
    oProjBias: isQwen ? false : attentionBias,
    mlpBias: isQwen ? false : (opts.mlpBias ?? false),
    bosTokenId: opts.tokenizer === false ? null : endoftext,
    eosTokenIds: opts.tokenizer === false ? [] : [endoftext + 2],
  };
}

/** Options with the `shapes` preset folded in (explicit options win). */
function withPreset(opts: RandomModelOptions): RandomModelOptions {
  if (!opts.shapes) return opts;
  const { shapes, ...rest } = opts;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  return { ...withPreset(shapes), ...defined };
}

const TORCH_DTYPES: Record<StorageDtype, string> = { F32: "float32", F16: "float16", BF16: "bfloat16" };

/** Removes weight files an earlier run may have left, so stale shards never mix with new ones. */
async function removeOldWeights(dir: string): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await fsp.readdir(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    if (e === SINGLE_FILE || e === INDEX_FILE || /^model-\d{5}-of-\d{5}\.safetensors$/.test(e)) {
      await fsp.rm(path.join(dir, e), { force: true });
    }
  }
}

/** Writes a complete random model folder at `dir` (created if needed) and returns its config. */
export async function createRandomModel(dir: string, options: RandomModelOptions = {}): Promise<RandomModel> {
  const opts = withPreset(options);
  const tok = buildByteLevelTokenizer();
  const cfg = randomModelConfig(opts, tok.size);
  const dtype: StorageDtype = opts.dtype ?? "F32";
  if (!(dtype in TORCH_DTYPES)) throw new ArgumentError(`createRandomModel: option "dtype" must be F32, F16 or BF16, got ${describeValue(dtype)}`, { field: "dtype" });
  const seed = opts.seed ?? 0;
  const absDir = path.resolve(dir);
  await fsp.mkdir(absDir, { recursive: true });
  await removeOldWeights(absDir);
  const files: string[] = [];

  const configJson = modelConfigToJson(cfg, { torchDtype: TORCH_DTYPES[dtype], extra: { transformers_version: "4.45.0" } });
  await writeJsonAtomic(path.join(absDir, "config.json"), configJson);
  files.push("config.json");
  const generationConfig: Record<string, unknown> = {
    bos_token_id: cfg.bosTokenId,
    eos_token_id: opts.tokenizer === false ? null : [tok.specialIds["<|im_end|>"], tok.specialIds["<|endoftext|>"]],
    pad_token_id: opts.tokenizer === false ? null : tok.specialIds["<|endoftext|>"],
    do_sample: false,
    transformers_version: "4.45.0",
  };
  await writeJsonAtomic(path.join(absDir, "generation_config.json"), generationConfig);
  files.push("generation_config.json");
  if (opts.tokenizer !== false) {
    files.push(...(await writeTokenizer(absDir, randomTokenizerModel())).files);
  }

  const shapes = expectedWeightShapes(cfg);
  const specs: TensorSpec[] = Object.entries(shapes).map(([name, shape]) => ({ name, dtype, shape }));
  const sizeOf = (s: TensorSpec) => numelOf(s.shape) * DTYPE_SIZES[s.dtype]!;
  const totalBytes = specs.reduce((a, s) => a + sizeOf(s), 0);
  let done = 0;
  const produce = (spec: TensorSpec) => {
    const chunks = randomChunks(seed, spec.name, spec.shape);
    return (function* () {
      yield* chunks;
      done += sizeOf(spec);
      opts.onProgress?.(done, totalBytes, spec.name);
    })();
  };
  const metadata = { format: "pt" };
  if (!opts.sharded) {
    await writeSafetensorsStreaming(path.join(absDir, SINGLE_FILE), specs, produce, metadata);
    files.push(SINGLE_FILE);
  } else {
    // Split where the running size passes half of the total (each shard gets at least one tensor).
    let acc = 0;
    let cut = 1;
    for (let i = 0; i < specs.length - 1; i++) {
      acc += sizeOf(specs[i]!);
      cut = i + 1;
      if (acc >= totalBytes / 2) break;
    }
    const parts = [specs.slice(0, cut), specs.slice(cut)].filter((p) => p.length > 0);
    const weightMap: Record<string, string> = {};
    for (let k = 0; k < parts.length; k++) {
      const name = `model-${String(k + 1).padStart(5, "0")}-of-${String(parts.length).padStart(5, "0")}.safetensors`;
      await writeSafetensorsStreaming(path.join(absDir, name), parts[k]!, produce, metadata);
      for (const s of parts[k]!) weightMap[s.name] = name;
      files.push(name);
    }
    await writeJsonAtomic(path.join(absDir, INDEX_FILE), { metadata: { total_size: totalBytes }, weight_map: weightMap });
    files.push(INDEX_FILE);
  }
  return { dir: absDir, config: cfg, files };
}
