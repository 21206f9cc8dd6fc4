// In-memory WeightSource with seeded random weights, for tests on tiny models.
import type { F32Tensor, ModelConfig, TensorRef, WeightSource } from "../../src/model/types.ts";
import { mulberry32 } from "../../src/util/prng.ts";
export { mulberry32 };


/** Standard normal samples (Box-Muller) from a uniform source. */
export function gaussian(rand: () => number): () => number {
  return () => {
    const u = 1 - rand(); // (0, 1]
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** A WeightSource over a Map of float32 tensors. */
export class MemWeights implements WeightSource {
  constructor(readonly tensors: Map<string, F32Tensor>) {}

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  get(name: string): F32Tensor {
    const t = this.tensors.get(name);
    if (t === undefined) throw new Error(`MemWeights: no tensor "${name}"`);
    return t;
  }

  ref(name: string): TensorRef {
    const t = this.get(name);
    return { name, dtype: "F32", shape: t.shape, file: "<memory>", offset: 0, byteLength: t.data.byteLength };
  }

  /** A copy in which `name` is replaced (the other tensors are shared). */
  with(name: string, tensor: F32Tensor): MemWeights {
    const m = new Map(this.tensors);
    m.set(name, tensor);
    return new MemWeights(m);
  }
}

/** A tiny model config; Qwen2-like unless overridden. */
export function tinyConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    architecture: "Qwen2ForCausalLM",
    modelType: "qwen2",
    vocabSize: 64,
    hiddenSize: 32,
    intermediateSize: 48,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 8,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: 2048,
    tieWordEmbeddings: false,
    attentionBias: true,
    oProjBias: false,
    mlpBias: false,
    bosTokenId: null,
    eosTokenIds: [0],
    ...overrides,
  };
}

/**
 * Random weights for every tensor `cfg` needs, Hugging Face names and `[out, in]` layout. Linear
 * weights are N(0, 1/in) so activations stay O(1); norms are 1 + N(0, 0.1²); biases N(0, 0.1²).
 */
export function randomWeights(cfg: ModelConfig, seed: number): MemWeights {
  const randn = gaussian(mulberry32(seed));
  const m = new Map<string, F32Tensor>();
  const add = (name: string, shape: number[], std: number, mean = 0): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = mean + std * randn();
    m.set(name, { shape, data });
  };
  const D = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  const linear = (name: string, out: number, inp: number, bias: boolean): void => {
    add(`${name}.weight`, [out, inp], 1 / Math.sqrt(inp));
    if (bias) add(`${name}.bias`, [out], 0.1);
  };
  add("model.embed_tokens.weight", [cfg.vocabSize, D], 1);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [D], 0.1, 1);
    linear(`${p}.self_attn.q_proj`, q, D, cfg.attentionBias);
    linear(`${p}.self_attn.k_proj`, kv, D, cfg.attentionBias);
    linear(`${p}.self_attn.v_proj`, kv, D, cfg.attentionBias);
    linear(`${p}.self_attn.o_proj`, D, q, cfg.oProjBias);
    add(`${p}.post_attention_layernorm.weight`, [D], 0.1, 1);
    linear(`${p}.mlp.gate_proj`, I, D, cfg.mlpBias);
    linear(`${p}.mlp.up_proj`, I, D, cfg.mlpBias);
    linear(`${p}.mlp.down_proj`, D, I, cfg.mlpBias);
  }
  add("model.norm.weight", [D], 0.1, 1);
  if (!cfg.tieWordEmbeddings) linear("lm_head", cfg.vocabSize, D, false);
  return new MemWeights(m);
}

/** Random token ids `[B][T]` in `[0, vocab)`. */
export function randomIds(batch: number, seqLen: number, vocab: number, seed: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: batch }, () => Array.from({ length: seqLen }, () => Math.floor(rand() * vocab)));
}
