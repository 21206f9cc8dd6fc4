// Hugging Face `config.json` -> ModelConfig (and back) for the decoder-only architectures we run:
// Qwen2ForCausalLM and LlamaForCausalLM. Every error names the file and the field at fault.

import { readFile } from "node:fs/promises";
import { ArgumentError, ConfigError, FormatError, NotFoundError, UnsupportedError, describeValue } from "../errors.ts";
import type { Architecture, ModelConfig, RopeScaling } from "./types.ts";

export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ["Qwen2ForCausalLM", "LlamaForCausalLM"];

const MODEL_TYPES: Record<Architecture, "qwen2" | "llama"> = {
  Qwen2ForCausalLM: "qwen2",
  LlamaForCausalLM: "llama",
};

/** Hugging Face defaults of `max_position_embeddings` when a config leaves it out. */
const DEFAULT_MAX_POSITIONS: Record<"qwen2" | "llama", number> = { qwen2: 32768, llama: 2048 };

type Json = Record<string, unknown>;

class FieldReader {
  constructor(
    readonly json: Json,
    readonly file: string,
    readonly prefix = "",
  ) {}

  private fail(field: string, what: string, value: unknown): never {
    const name = this.prefix + field;
    throw new ConfigError(`${this.file}: field "${name}" ${what}, got ${describeValue(value)}`, { file: this.file, field: name });
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  positiveInt(field: string, fallback?: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${this.file}: required field "${this.prefix + field}" is missing`, { file: this.file, field: this.prefix + field });
    }
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) this.fail(field, "must be a positive integer", v);
    return v;
  }

  positiveNumber(field: string, fallback?: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${this.file}: required field "${this.prefix + field}" is missing`, { file: this.file, field: this.prefix + field });
    }
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) this.fail(field, "must be a positive number", v);
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.json[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") this.fail(field, "must be true or false", v);
    return v;
  }

  tokenId(field: string): number | null {
    const v = this.json[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) this.fail(field, "must be a non-negative integer or null", v);
    return v;
  }

  tokenIds(field: string): number[] {
    const v = this.json[field];
    if (v === undefined || v === null) return [];
    const ok = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
    if (ok(v)) return [v as number];
    if (Array.isArray(v) && v.every(ok)) return [...new Set(v as number[])];
    return this.fail(field, "must be a token id or a list of token ids", v);
  }
}

function pickArchitecture(json: Json, file: string): Architecture {
  const archs = json.architectures;
  const supported = SUPPORTED_ARCHITECTURES.join(", ");
  if (archs !== undefined && archs !== null) {
    if (!Array.isArray(archs) || !archs.every((a) => typeof a === "string")) {
      throw new ConfigError(`${file}: field "architectures" must be a list of strings, got ${describeValue(archs)}`, { file, field: "architectures" });
    }
    const found = (archs as string[]).find((a): a is Architecture => (SUPPORTED_ARCHITECTURES as readonly string[]).includes(a));
    if (found) return found;
    throw new UnsupportedError(
      `${file}: field "architectures": unsupported architecture ${describeValue(archs.length === 1 ? archs[0] : archs)}; supported: ${supported}`,
      { file, field: "architectures" },
    );
  }
  const modelType = json.model_type;
  if (modelType === "qwen2") return "Qwen2ForCausalLM";
  if (modelType === "llama") return "LlamaForCausalLM";
  if (modelType === undefined || modelType === null) {
    throw new ConfigError(`${file}: required field "architectures" is missing (supported: ${supported})`, { file, field: "architectures" });
  }
  throw new UnsupportedError(`${file}: field "model_type": unsupported model type ${describeValue(modelType)}; supported architectures: ${supported}`, {
    file,
    field: "model_type",
  });
}

/** Reads `rope_scaling` (or the `rope_parameters` of newer configs). `"default"` / absent -> null. */
function parseRopeScaling(raw: unknown, file: string, fieldName: string): RopeScaling | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(`${file}: field "${fieldName}" must be an object or null, got ${describeValue(raw)}`, { file, field: fieldName });
  }
  const obj = raw as Json;
  const typeKey = obj.rope_type !== undefined ? "rope_type" : "type";
  const type = obj[typeKey];
  const r = new FieldReader(obj, file, `${fieldName}.`);
  if (type === undefined || type === null || type === "default") return null;
  if (type === "linear") {
    return { type: "linear", factor: r.positiveNumber("factor") };
  }
  if (type === "llama3") {
    return {
      type: "llama3",
      factor: r.positiveNumber("factor"),
      lowFreqFactor: r.positiveNumber("low_freq_factor"),
      highFreqFactor: r.positiveNumber("high_freq_factor"),
      originalMaxPositionEmbeddings: r.positiveInt("original_max_position_embeddings"),
    };
  }
  throw new UnsupportedError(`${file}: field "${fieldName}.${typeKey}": unsupported RoPE scaling ${describeValue(type)}; supported: "linear", "llama3"`, {
    file,
    field: `${fieldName}.${typeKey}`,
  });
}

/**
 * Reads and parses a model folder's `config.json`: a missing file is a NotFoundError, text that is not JSON a
 * FormatError naming the file (`/m/config.json: not valid JSON: Unexpected token ...`), and a bad field a
 * ConfigError naming it (parseModelConfig).
 */
export async function readModelConfig(file: string): Promise<ModelConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${file}: not found (a model folder needs config.json)`, { file, cause: err });
    throw new NotFoundError(`${file}: cannot read: ${(err as Error).message}`, { file, cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON: ${(err as Error).message}`, { file, cause: err });
  }
  return parseModelConfig(json, file);
}

/**
 * Normalises a parsed Hugging Face `config.json`. `file` is used in error messages only.
 * Throws ConfigError for missing/bad fields and UnsupportedError for architectures or features we cannot run.
 */
export function parseModelConfig(json: unknown, file = "config.json"): ModelConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ConfigError(`${file}: must hold a JSON object, got ${describeValue(json)}`, { file });
  }
  const cfg = json as Json;
  const architecture = pickArchitecture(cfg, file);
  const modelType = MODEL_TYPES[architecture];
  const r = new FieldReader(cfg, file);

  const hiddenSize = r.positiveInt("hidden_size");
  const numLayers = r.positiveInt("num_hidden_layers");
  const numHeads = r.positiveInt("num_attention_heads");
  const intermediateSize = r.positiveInt("intermediate_size");
  const vocabSize = r.positiveInt("vocab_size");
  const numKvHeads = r.positiveInt("num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError(
      `${file}: field "num_key_value_heads" (${numKvHeads}) must divide "num_attention_heads" (${numHeads})`,
      { file, field: "num_key_value_heads" },
    );
  }
  let headDim: number;
  if (r.has("head_dim")) headDim = r.positiveInt("head_dim");
  else {
    if (hiddenSize % numHeads !== 0) {
      throw new ConfigError(
        `${file}: field "hidden_size" (${hiddenSize}) is not divisible by "num_attention_heads" (${numHeads}) and "head_dim" is not given`,
        { file, field: "hidden_size" },
      );
    }
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) {
    throw new ConfigError(`${file}: field "head_dim" must be even for rotary embeddings, got ${headDim}`, { file, field: "head_dim" });
  }

  const act = cfg.hidden_act ?? cfg.hidden_activation;
  if (act !== undefined && act !== null && act !== "silu" && act !== "swish") {
    throw new UnsupportedError(`${file}: field "hidden_act": unsupported activation ${describeValue(act)}; supported: "silu"`, { file, field: "hidden_act" });
  }
  if (modelType === "qwen2" && cfg.use_sliding_window === true) {
    throw new UnsupportedError(`${file}: field "use_sliding_window": sliding-window attention is not supported`, { file, field: "use_sliding_window" });
  }

  // Newer configs (transformers v5) fold rope_theta and the scaling into `rope_parameters`.
  let ropeTheta: number;
  let ropeScaling: RopeScaling | null;
  if (cfg.rope_parameters !== undefined && cfg.rope_parameters !== null && cfg.rope_scaling == null) {
    const rp = cfg.rope_parameters;
    if (typeof rp !== "object" || Array.isArray(rp)) {
      throw new ConfigError(`${file}: field "rope_parameters" must be an object, got ${describeValue(rp)}`, { file, field: "rope_parameters" });
    }
    ropeTheta = new FieldReader(rp as Json, file, "rope_parameters.").positiveNumber("rope_theta", r.positiveNumber("rope_theta", 10000));
    ropeScaling = parseRopeScaling(rp, file, "rope_parameters");
  } else {
    ropeTheta = r.positiveNumber("rope_theta", 10000);
    ropeScaling = parseRopeScaling(cfg.rope_scaling, file, "rope_scaling");
  }

  let attentionBias: boolean;
  let oProjBias: boolean;
  let mlpBias: boolean;
  if (modelType === "qwen2") {
    attentionBias = true;
    oProjBias = false;
    mlpBias = false;
  } else {
    attentionBias = r.bool("attention_bias", false);
    oProjBias = attentionBias;
    mlpBias = r.bool("mlp_bias", false);
  }

  return {
    architecture,
    modelType,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: r.positiveNumber("rms_norm_eps", 1e-6),
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings: r.positiveInt("max_position_embeddings", DEFAULT_MAX_POSITIONS[modelType]),
    tieWordEmbeddings: r.bool("tie_word_embeddings", false),
    attentionBias,
    oProjBias,
    mlpBias,
    bosTokenId: r.tokenId("bos_token_id"),
    eosTokenIds: r.tokenIds("eos_token_id"),
  };
}

export interface ConfigJsonOptions {
  /** Written as `torch_dtype` (e.g. "float32", "bfloat16"). */
  torchDtype?: string;
  /** Extra fields merged in last. */
  extra?: Record<string, unknown>;
}

/** ModelConfig -> a Hugging Face style `config.json` object that `parseModelConfig` maps back to the same config. */
export function modelConfigToJson(cfg: ModelConfig, opts: ConfigJsonOptions = {}): Record<string, unknown> {
  if (!SUPPORTED_ARCHITECTURES.includes(cfg.architecture)) {
    throw new ArgumentError(`modelConfigToJson: cfg.architecture ${describeValue(cfg.architecture)} is not one of ${SUPPORTED_ARCHITECTURES.join(", ")}`, {
      field: "architecture",
    });
  }
  const modelType = MODEL_TYPES[cfg.architecture];
  if (modelType === "qwen2" && (!cfg.attentionBias || cfg.oProjBias || cfg.mlpBias)) {
    throw new ArgumentError("modelConfigToJson: Qwen2 always has q/k/v biases and no o_proj/MLP bias (cfg.attentionBias, cfg.oProjBias, cfg.mlpBias)", {
      field: "attentionBias",
    });
  }
  if (modelType === "llama" && cfg.attentionBias !== cfg.oProjBias) {
    throw new ArgumentError("modelConfigToJson: Llama's attention_bias covers q/k/v and o_proj together (cfg.attentionBias must equal cfg.oProjBias)", {
      field: "oProjBias",
    });
  }
  let ropeScaling: Record<string, unknown> | null = null;
  if (cfg.ropeScaling?.type === "linear") ropeScaling = { rope_type: "linear", factor: cfg.ropeScaling.factor };
  else if (cfg.ropeScaling?.type === "llama3") {
    ropeScaling = {
      rope_type: "llama3",
      factor: cfg.ropeScaling.factor,
      low_freq_factor: cfg.ropeScaling.lowFreqFactor,
      high_freq_factor: cfg.ropeScaling.highFreqFactor,
      original_max_position_embeddings: cfg.ropeScaling.originalMaxPositionEmbeddings,
    };
  }
  const out: Record<string, unknown> = {
    architectures: [cfg.architecture],
    model_type: modelType,
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads,
    head_dim: cfg.headDim,
    hidden_act: "silu",
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling: ropeScaling,
    max_position_embeddings: cfg.maxPositionEmbeddings,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenIds.length === 0 ? null : cfg.eosTokenIds.length === 1 ? cfg.eosTokenIds[0] : [...cfg.eosTokenIds],
    attention_dropout: 0.0,
    initializer_range: 0.02,
    use_cache: true,
  };
  if (modelType === "llama") {
    out.attention_bias = cfg.attentionBias;
    out.mlp_bias = cfg.mlpBias;
    out.pretraining_tp = 1;
  } else {
    out.use_sliding_window = false;
    out.sliding_window = cfg.maxPositionEmbeddings;
    out.max_window_layers = cfg.numLayers;
  }
  if (opts.torchDtype) out.torch_dtype = opts.torchDtype;
  if (opts.extra) Object.assign(out, opts.extra);
  return out;
}
