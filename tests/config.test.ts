import { describe, expect, it } from "vitest";
import { modelConfigToJson, parseModelConfig } from "../src/model/config.ts";
import { ConfigError, UnsupportedError } from "../src/errors.ts";

const qwen25 = {
  architectures: ["Qwen2ForCausalLM"],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: "silu",
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: "qwen2",
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.43.1",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const llama32 = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: "silu",
  hidden_size: 2048,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  vocab_size: 128256,
};

function expectError(fn: () => unknown, cls: Function, pattern: RegExp, field?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(pattern);
  if (field) expect((caught as ConfigError).field).toBe(field);
}

describe("parseModelConfig", () => {
  it("parses a Qwen2.5 config", () => {
    const c = parseModelConfig(qwen25, "config.json");
    expect(c).toEqual({
      architecture: "Qwen2ForCausalLM",
      modelType: "qwen2",
      vocabSize: 151936,
      hiddenSize: 896,
      intermediateSize: 4864,
      numLayers: 24,
      numHeads: 14,
      numKvHeads: 2,
      headDim: 64,
      rmsNormEps: 1e-6,
      ropeTheta: 1000000,
      ropeScaling: null,
      maxPositionEmbeddings: 32768,
      tieWordEmbeddings: true,
      attentionBias: true,
      oProjBias: false,
      mlpBias: false,
      bosTokenId: 151643,
      eosTokenIds: [151645],
    });
  });

  it("parses a Llama 3.2 config with llama3 rope scaling", () => {
    const c = parseModelConfig(llama32, "config.json");
    expect(c.architecture).toBe("LlamaForCausalLM");
    expect(c.headDim).toBe(64);
    expect(c.numKvHeads).toBe(8);
    expect(c.attentionBias).toBe(false);
    expect(c.oProjBias).toBe(false);
    expect(c.eosTokenIds).toEqual([128001, 128008, 128009]);
    expect(c.ropeScaling).toEqual({ type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(c.rmsNormEps).toBe(1e-5);
  });

  it("applies defaults", () => {
    const c = parseModelConfig(
      { architectures: ["LlamaForCausalLM"], hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, vocab_size: 300 },
      "config.json",
    );
    expect(c.numKvHeads).toBe(4);
    expect(c.headDim).toBe(16);
    expect(c.rmsNormEps).toBe(1e-6);
    expect(c.ropeTheta).toBe(10000);
    expect(c.tieWordEmbeddings).toBe(false);
    expect(c.ropeScaling).toBeNull();
    expect(c.eosTokenIds).toEqual([]);
    expect(c.bosTokenId).toBeNull();
    const q = parseModelConfig({ ...qwen25, tie_word_embeddings: undefined }, "config.json");
    expect(q.tieWordEmbeddings).toBe(false);
  });

  it("maps llama attention_bias to q/k/v and o biases, and mlp_bias", () => {
    const c = parseModelConfig({ ...llama32, attention_bias: true, mlp_bias: true }, "config.json");
    expect(c.attentionBias).toBe(true);
    expect(c.oProjBias).toBe(true);
    expect(c.mlpBias).toBe(true);
  });

  it("parses linear rope scaling given as `type`", () => {
    const c = parseModelConfig({ ...llama32, rope_scaling: { type: "linear", factor: 2 } }, "config.json");
    expect(c.ropeScaling).toEqual({ type: "linear", factor: 2 });
    expect(parseModelConfig({ ...llama32, rope_scaling: { rope_type: "default" } }).ropeScaling).toBeNull();
  });

  it("names the field in errors", () => {
    expectError(
      () => parseModelConfig({ ...qwen25, num_hidden_layers: "x" }, "config.json"),
      ConfigError,
      /^config\.json: field "num_hidden_layers" must be a positive integer, got "x"$/,
      "num_hidden_layers",
    );
    const { hidden_size: _h, ...noHidden } = qwen25;
    expectError(() => parseModelConfig(noHidden, "/m/config.json"), ConfigError, /\/m\/config\.json: required field "hidden_size" is missing/, "hidden_size");
    expectError(() => parseModelConfig({ ...qwen25, num_key_value_heads: 3 }, "config.json"), ConfigError, /"num_key_value_heads" \(3\) must divide/);
    expectError(() => parseModelConfig({ ...qwen25, rms_norm_eps: -1 }, "config.json"), ConfigError, /"rms_norm_eps" must be a positive number, got -1/);
    expectError(() => parseModelConfig({ ...qwen25, tie_word_embeddings: "yes" }, "config.json"), ConfigError, /"tie_word_embeddings" must be true or false/);
    expectError(() => parseModelConfig({ ...qwen25, eos_token_id: ["a"] }, "config.json"), ConfigError, /"eos_token_id"/);
    expectError(
      () => parseModelConfig({ ...llama32, rope_scaling: { rope_type: "llama3", factor: 8 } }, "config.json"),
      ConfigError,
      /"rope_scaling\.low_freq_factor"/,
      "rope_scaling.low_freq_factor",
    );
    expectError(() => parseModelConfig([], "config.json"), ConfigError, /config\.json: must hold a JSON object/);
  });

  it("rejects unsupported architectures and rope types", () => {
    expectError(
      () => parseModelConfig({ ...qwen25, architectures: ["MistralForCausalLM"] }, "config.json"),
      UnsupportedError,
      /unsupported architecture "MistralForCausalLM"; supported: Qwen2ForCausalLM, LlamaForCausalLM/,
    );
    expectError(
      () => parseModelConfig({ ...qwen25, rope_scaling: { rope_type: "yarn", factor: 4 } }, "config.json"),
      UnsupportedError,
      /field "rope_scaling\.rope_type": unsupported RoPE scaling "yarn"/,
      "rope_scaling.rope_type",
    );
    expectError(() => parseModelConfig({ ...qwen25, hidden_act: "gelu" }, "config.json"), UnsupportedError, /"hidden_act"/);
    expect(parseModelConfig({ ...qwen25, architectures: undefined }).architecture).toBe("Qwen2ForCausalLM");
  });

  it("round-trips through modelConfigToJson", () => {
    for (const json of [qwen25, llama32, { ...llama32, attention_bias: true, mlp_bias: true, rope_scaling: { type: "linear", factor: 4 }, eos_token_id: 5 }]) {
      const c = parseModelConfig(json, "config.json");
      const back = modelConfigToJson(c);
      expect(JSON.parse(JSON.stringify(back))).toEqual(back);
      expect(parseModelConfig(back, "config.json")).toEqual(c);
    }
    expect(modelConfigToJson(parseModelConfig(llama32)).eos_token_id).toEqual([128001, 128008, 128009]);
    expect(modelConfigToJson(parseModelConfig(qwen25)).eos_token_id).toBe(151645);
  });
});
