// Shared shapes of the model layer. Every module of src/model speaks these, so the ONNX runtime,
// the tfjs forward and the plain-loop reference can be compared on one set of weights.

// StorageDtype, TensorRef and F32Tensor live with the safetensors format (src/formats/ is the ground
// floor and imports nothing from here); re-exported so the model layer keeps speaking them.
import type { F32Tensor, TensorRef } from "../formats/safetensors.ts";
export type { F32Tensor, StorageDtype, TensorRef } from "../formats/safetensors.ts";

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
