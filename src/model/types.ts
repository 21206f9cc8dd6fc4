// Shared shapes of the model layer. Every module of src/model speaks these, so the ONNX runtime,
// the tfjs forward and the plain-loop reference can be compared on one set of weights.

export type Architecture = "Qwen2ForCausalLM" | "LlamaForCausalLM";

/** RoPE frequency scaling as found in config.json `rope_scaling` (Llama 3 style or linear). */
export type RopeScaling =
  | { type: "linear"; factor: number }
  | {
      type: "llama3";
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

/** A decoder-only model's hyper-parameters, normalised from Hugging Face `config.json`. */
export interface ModelConfig {
  architecture: Architecture;
  modelType: "qwen2" | "llama";
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2 always, Llama when `attention_bias` is true). */
  attentionBias: boolean;
  /** o_proj carries a bias (Llama `attention_bias`; never in Qwen2). */
  oProjBias: boolean;
  /** MLP projections carry a bias (Llama `mlp_bias`). */
  mlpBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

export type StorageDtype = "F32" | "F16" | "BF16";

/** One tensor as stored on disk, before any conversion. */
export interface TensorRef {
  name: string;
  dtype: StorageDtype | string;
  shape: number[];
  /** Absolute path of the file holding the bytes. */
  file: string;
  /** Byte offset of the first element inside `file`. */
  offset: number;
  byteLength: number;
}

/** A dense float32 tensor in row-major order. */
export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Named weights of a model, read lazily. `get` converts F16/BF16 to float32.
 * Names are the Hugging Face ones (`model.layers.0.self_attn.q_proj.weight`).
 */
export interface WeightSource {
  names(): string[];
  ref(name: string): TensorRef;
  has(name: string): boolean;
  get(name: string): F32Tensor;
}


/** Result of a forward pass that records hook activations: every hook value is `[batch, seq, hidden]`. */
export interface ForwardResult {
  /** `[batch, seq, vocab]` */
  logits: F32Tensor;
  hooks: Record<string, F32Tensor>;
}
