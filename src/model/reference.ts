// Plain-loop reference forward pass of a Qwen2 / Llama decoder LM, in float64.
//
// This file is the ground truth the faster engines (tfjs, ONNX) are tested against on tiny shapes.
// It is written for clarity, not speed: every step is a loop that mirrors Hugging Face
// `modeling_qwen2.py` / `modeling_llama.py` line by line, and it uses no library at all.
//
//   x = embed_tokens[ids]
//   per layer i:
//     resid_pre = x
//     h    = RMSNorm(x) * input_layernorm.weight
//     q,k,v = h Wq^T (+bq), h Wk^T (+bk), h Wv^T (+bv)
//     q,k  = RoPE(q), RoPE(k)                (rotate_half convention)
//     attn = softmax(q k^T / sqrt(hd) + mask) v   per head, head h reads kv head floor(h / (H/KV))
//     attn_out = concat(heads) Wo^T (+bo)
//     resid_mid = resid_pre + attn_out
//     h2   = RMSNorm(resid_mid) * post_attention_layernorm.weight
//     mlp_out = (silu(h2 Wg^T) * (h2 Wu^T)) Wd^T
//     resid_post = resid_mid + mlp_out
//   logits = (RMSNorm(x) * norm.weight) Wlm^T     (Wlm = embed_tokens when tied)
//
// Masking: key s is visible to query t when s <= t and attentionMask[b][s] != 0. A query that sees
// no key at all (a left-padding position) gets an all-zero attention output instead of NaN; such
// positions are padding and their values carry no meaning, but they stay finite so they cannot
// poison real positions.
//
// Attention hooks (`attentionHooks: true`): blocks.{i}.attn.hook_q|k|v|rot_q|rot_k [B, T, heads, hd],
// hook_attn_scores / hook_pattern [B, H, T, T], hook_z [B, T, H, hd] (hooks.ts). A score of an invisible key is
// -1e30, the bias the ONNX graph adds; its pattern entry is 0; a query with no visible key has an all-zero
// pattern row (the ONNX graph's is uniform there: padding, meaningless either way). `edit` may change any
// attention hook's float64 values in place before the forward goes on.
import { ArgumentError, ConfigError, NotFoundError } from "../errors.ts";
import type { F32Tensor, ForwardResult, ModelConfig, WeightSource } from "./types.ts";
import { attnHookName, hookName, type AttnSite } from "./hooks.ts";

/** Optional inputs of a forward pass besides the token ids. */
export interface ForwardOptions {
  /** `[B][T]` position of every token; default `0..T-1` in every row. */
  positionIds?: number[][];
  /** `[B][T]`, 1 = real token, 0 = padding (never attended to). Default all ones. */
  attentionMask?: number[][];
  /** Also report the attention hook points (`blocks.{i}.attn.hook_*`). */
  attentionHooks?: boolean;
  /** Called at every attention hook point with its float64 values (TransformerLens layout); may edit them in place. */
  edit?: (name: string, value: Float64Array, shape: number[]) => void;
}

/** Checked, normalised inputs of a forward pass. */
export interface NormalizedInputs {
  batch: number;
  seqLen: number;
  ids: number[][];
  positionIds: number[][];
  /** `null` when no attention mask was given (every key is real). */
  attentionMask: number[][] | null;
}

/**
 * Validates `ids` (`[B][T]`, integers in `[0, vocabSize)`) and the optional position ids and
 * attention mask against each other, and fills in the default position ids.
 */
export function normalizeForwardInputs(cfg: ModelConfig, ids: number[][], opts: ForwardOptions = {}): NormalizedInputs {
  if (!Array.isArray(ids) || ids.length === 0) throw new ArgumentError("ids: expected a non-empty [batch][seq] array", { field: "ids" });
  const seqLen = ids[0]?.length ?? 0;
  if (seqLen === 0) throw new ArgumentError("ids: rows must hold at least one token", { field: "ids" });
  ids.forEach((row, b) => {
    if (!Array.isArray(row) || row.length !== seqLen) {
      throw new ArgumentError(`ids[${b}]: expected ${seqLen} tokens like row 0, got ${Array.isArray(row) ? row.length : typeof row}`, { field: "ids" });
    }
    row.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) {
        throw new ArgumentError(`ids[${b}][${t}] = ${id}: not a token id in [0, ${cfg.vocabSize})`, { field: "ids" });
      }
    });
  });
  const checkGrid = (grid: number[][], field: string, integer: boolean): void => {
    if (!Array.isArray(grid) || grid.length !== ids.length) {
      throw new ArgumentError(`${field}: expected ${ids.length} rows like ids`, { field });
    }
    grid.forEach((row, b) => {
      if (!Array.isArray(row) || row.length !== seqLen) throw new ArgumentError(`${field}[${b}]: expected ${seqLen} entries like ids`, { field });
      row.forEach((v, t) => {
        if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
          throw new ArgumentError(`${field}[${b}][${t}] = ${v}: expected ${integer ? "an integer" : "a finite number"}`, { field });
        }
      });
    });
  };
  let positionIds: number[][];
  if (opts.positionIds !== undefined) {
    checkGrid(opts.positionIds, "positionIds", true);
    positionIds = opts.positionIds;
  } else {
    positionIds = ids.map((row) => row.map((_, t) => t));
  }
  let attentionMask: number[][] | null = null;
  if (opts.attentionMask !== undefined) {
    checkGrid(opts.attentionMask, "attentionMask", false);
    attentionMask = opts.attentionMask;
  }
  return { batch: ids.length, seqLen, ids, positionIds, attentionMask };
}

/** Checks the head layout of `cfg` (used by every forward implementation). */
export function checkHeadLayout(cfg: ModelConfig): void {
  if (cfg.headDim % 2 !== 0) throw new ConfigError(`head_dim ${cfg.headDim} must be even for RoPE`, { field: "head_dim" });
  if (cfg.numKvHeads <= 0 || cfg.numHeads % cfg.numKvHeads !== 0) {
    throw new ConfigError(`num_attention_heads ${cfg.numHeads} is not a multiple of num_key_value_heads ${cfg.numKvHeads}`, {
      field: "num_key_value_heads",
    });
  }
}

/**
 * RoPE inverse frequencies, `headDim / 2` of them: `inv_freq[j] = 1 / theta^(2j / headDim)`, then
 * changed by `rope_scaling` exactly as Hugging Face `modeling_rope_utils` does (linear: divide by
 * factor; llama3: keep high frequencies, divide low ones by factor, blend in between).
 */
export function computeInvFreq(cfg: Pick<ModelConfig, "headDim" | "ropeTheta" | "ropeScaling">): Float64Array {
  const hd = cfg.headDim;
  const half = hd / 2;
  const invFreq = new Float64Array(half);
  for (let j = 0; j < half; j++) invFreq[j] = 1 / Math.pow(cfg.ropeTheta, (2 * j) / hd);

  const scaling = cfg.ropeScaling;
  if (scaling === null) return invFreq;
  if (scaling.type === "linear") {
    for (let j = 0; j < half; j++) invFreq[j] = invFreq[j]! / scaling.factor;
    return invFreq;
  }
  // llama3
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldContext } = scaling;
  const lowFreqWavelen = oldContext / lowFreqFactor;
  const highFreqWavelen = oldContext / highFreqFactor;
  for (let j = 0; j < half; j++) {
    const inv = invFreq[j]!;
    const wavelen = (2 * Math.PI) / inv;
    if (wavelen < highFreqWavelen) {
      invFreq[j] = inv; // high frequency: unchanged
    } else if (wavelen > lowFreqWavelen) {
      invFreq[j] = inv / factor; // low frequency: fully scaled
    } else {
      const smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      invFreq[j] = ((1 - smooth) * inv) / factor + smooth * inv;
    }
  }
  return invFreq;
}

/** Reads one weight as float32 and checks its shape. */
function readWeight(weights: WeightSource, name: string, shape: number[]): Float32Array {
  if (!weights.has(name)) throw new NotFoundError(`weight "${name}" is missing`, { field: name });
  const t: F32Tensor = weights.get(name);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ConfigError(`weight "${name}": shape [${t.shape.join(", ")}] but the config implies [${shape.join(", ")}]`, { field: name });
  }
  return t.data;
}

/** `y[n][o] = sum_i x[n][i] * W[o][i] + b[o]` with W stored `[out, in]` as in PyTorch. */
function linear(x: Float64Array, rows: number, inDim: number, w: Float32Array, bias: Float32Array | null, outDim: number): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let n = 0; n < rows; n++) {
    for (let o = 0; o < outDim; o++) {
      let acc = bias === null ? 0 : bias[o]!;
      for (let i = 0; i < inDim; i++) acc += x[n * inDim + i]! * w[o * inDim + i]!;
      y[n * outDim + o] = acc;
    }
  }
  return y;
}

/** `x / sqrt(mean(x^2) + eps) * weight`, row by row. */
function rmsNorm(x: Float64Array, rows: number, dim: number, weight: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let n = 0; n < rows; n++) {
    let sumSq = 0;
    for (let d = 0; d < dim; d++) sumSq += x[n * dim + d]! ** 2;
    const scale = 1 / Math.sqrt(sumSq / dim + eps);
    for (let d = 0; d < dim; d++) y[n * dim + d] = x[n * dim + d]! * scale * weight[d]!;
  }
  return y;
}

/** `rotate_half(x) = concat(-x[hd/2:], x[:hd/2])` on one head vector. */
function rotateHalf(x: Float64Array): Float64Array {
  const half = x.length / 2;
  const out = new Float64Array(x.length);
  for (let i = 0; i < half; i++) {
    out[i] = -x[i + half]!;
    out[i + half] = x[i]!;
  }
  return out;
}

/**
 * Applies RoPE in place to `numHeads` head vectors of every row of `x` (`[rows, numHeads*hd]`):
 * `x' = x * cos + rotate_half(x) * sin` with `cos/sin = concat(angle, angle)`, `angle = pos * inv_freq`.
 */
function applyRope(x: Float64Array, positions: number[], numHeads: number, hd: number, invFreq: Float64Array): void {
  const half = hd / 2;
  const cos = new Float64Array(hd);
  const sin = new Float64Array(hd);
  positions.forEach((pos, n) => {
    for (let j = 0; j < half; j++) {
      const angle = pos * invFreq[j]!;
      cos[j] = cos[j + half] = Math.cos(angle);
      sin[j] = sin[j + half] = Math.sin(angle);
    }
    for (let h = 0; h < numHeads; h++) {
      const start = (n * numHeads + h) * hd;
      const head = x.slice(start, start + hd);
      const rotated = rotateHalf(head);
      for (let i = 0; i < hd; i++) x[start + i] = head[i]! * cos[i]! + rotated[i]! * sin[i]!;
    }
  });
}

function toF32(x: Float64Array, shape: number[]): F32Tensor {
  return { shape, data: Float32Array.from(x) };
}

/**
 * Forward pass in float64 with plain loops. Returns logits `[B, T, V]` and every hook
 * (`blocks.{i}.hook_resid_pre|hook_attn_out|hook_resid_mid|hook_mlp_out|hook_resid_post`, each
 * `[B, T, D]`), rounded to float32 at the end.
 */
export function referenceForward(cfg: ModelConfig, weights: WeightSource, ids: number[][], opts: ForwardOptions = {}): ForwardResult {
  checkHeadLayout(cfg);
  const inputs = normalizeForwardInputs(cfg, ids, opts);
  const { batch: B, seqLen: T } = inputs;
  const D = cfg.hiddenSize;
  const H = cfg.numHeads;
  const KV = cfg.numKvHeads;
  const hd = cfg.headDim;
  const I = cfg.intermediateSize;
  const V = cfg.vocabSize;
  const N = B * T; // rows are (b, t) pairs, row n = b * T + t
  const eps = cfg.rmsNormEps;
  const groupSize = H / KV;
  const invFreq = computeInvFreq(cfg);
  const positions = inputs.positionIds.flat();
  const hookShape = [B, T, D];
  const hooks: Record<string, F32Tensor> = {};

  // Embedding lookup.
  const embed = readWeight(weights, "model.embed_tokens.weight", [V, D]);
  let x = new Float64Array(N * D);
  inputs.ids.flat().forEach((id, n) => {
    for (let d = 0; d < D; d++) x[n * D + d] = embed[id * D + d]!;
  });

  const isVisible = (b: number, t: number, s: number): boolean =>
    s <= t && (inputs.attentionMask === null || inputs.attentionMask[b]![s] !== 0);

  for (let layer = 0; layer < cfg.numLayers; layer++) {
    const p = `model.layers.${layer}`;
    const bias = (name: string, enabled: boolean, size: number): Float32Array | null =>
      enabled ? readWeight(weights, `${p}.${name}.bias`, [size]) : null;

    hooks[hookName(layer, "resid_pre")] = toF32(x, hookShape);

    // --- self attention ---
    const h = rmsNorm(x, N, D, readWeight(weights, `${p}.input_layernorm.weight`, [D]), eps);
    const q = linear(h, N, D, readWeight(weights, `${p}.self_attn.q_proj.weight`, [H * hd, D]), bias("self_attn.q_proj", cfg.attentionBias, H * hd), H * hd);
    const k = linear(h, N, D, readWeight(weights, `${p}.self_attn.k_proj.weight`, [KV * hd, D]), bias("self_attn.k_proj", cfg.attentionBias, KV * hd), KV * hd);
    const v = linear(h, N, D, readWeight(weights, `${p}.self_attn.v_proj.weight`, [KV * hd, D]), bias("self_attn.v_proj", cfg.attentionBias, KV * hd), KV * hd);
    // Attention hook points: reported (rounded to float32) when asked, editable in place by `opts.edit`.
    const attnPoint = (site: AttnSite, value: Float64Array, shape: number[]): void => {
      const name = attnHookName(layer, site);
      opts.edit?.(name, value, shape);
      if (opts.attentionHooks) hooks[name] = toF32(value, shape);
    };
    attnPoint("q", q, [B, T, H, hd]);
    attnPoint("k", k, [B, T, KV, hd]);
    attnPoint("v", v, [B, T, KV, hd]);
    applyRope(q, positions, H, hd, invFreq);
    applyRope(k, positions, KV, hd, invFreq);
    attnPoint("rot_q", q, [B, T, H, hd]);
    attnPoint("rot_k", k, [B, T, KV, hd]);

    // Scaled scores [B, H, T, T]; an invisible key gets -1e30 (as the ONNX graph's additive mask).
    const scale = 1 / Math.sqrt(hd);
    const scores = new Float64Array(B * H * T * T);
    for (let b = 0; b < B; b++) {
      for (let head = 0; head < H; head++) {
        const kvHead = Math.floor(head / groupSize);
        for (let t = 0; t < T; t++) {
          const qOff = ((b * T + t) * H + head) * hd;
          for (let s = 0; s < T; s++) {
            const at = ((b * H + head) * T + t) * T + s;
            if (!isVisible(b, t, s)) {
              scores[at] = -1e30;
              continue;
            }
            const kOff = ((b * T + s) * KV + kvHead) * hd;
            let dot = 0;
            for (let i = 0; i < hd; i++) dot += q[qOff + i]! * k[kOff + i]!;
            scores[at] = dot * scale;
          }
        }
      }
    }
    attnPoint("attn_scores", scores, [B, H, T, T]);

    // Numerically safe softmax of each query's row of the (possibly edited) scores, as the ONNX graph takes it:
    // an invisible key's -1e30 contributes exp(-1e30 - max) = 0 whenever some key is visible, and an edit that
    // changes which keys count (a score set to -Infinity, or an unmasked one) counts here too.
    const pattern = new Float64Array(B * H * T * T);
    for (let b = 0; b < B; b++) {
      for (let head = 0; head < H; head++) {
        for (let t = 0; t < T; t++) {
          const row = ((b * H + head) * T + t) * T;
          let max = -Infinity;
          for (let s = 0; s < T; s++) if (scores[row + s]! > max) max = scores[row + s]!;
          if (!(max > -1e29)) continue; // no visible key: the row stays zero (padding query)
          let denom = 0;
          for (let s = 0; s < T; s++) denom += pattern[row + s] = Math.exp(scores[row + s]! - max);
          for (let s = 0; s < T; s++) pattern[row + s] = pattern[row + s]! / denom;
        }
      }
    }
    attnPoint("pattern", pattern, [B, H, T, T]);

    const attn = new Float64Array(N * H * hd); // z: concat of head outputs, row n = (b, t)
    for (let b = 0; b < B; b++) {
      for (let head = 0; head < H; head++) {
        const kvHead = Math.floor(head / groupSize);
        for (let t = 0; t < T; t++) {
          const qOff = ((b * T + t) * H + head) * hd;
          const row = ((b * H + head) * T + t) * T;
          for (let s = 0; s < T; s++) {
            const weight = pattern[row + s]!;
            if (weight === 0) continue;
            const vOff = ((b * T + s) * KV + kvHead) * hd;
            for (let i = 0; i < hd; i++) attn[qOff + i] = attn[qOff + i]! + weight * v[vOff + i]!;
          }
        }
      }
    }
    attnPoint("z", attn, [B, T, H, hd]);
    const attnOut = linear(attn, N, H * hd, readWeight(weights, `${p}.self_attn.o_proj.weight`, [D, H * hd]), bias("self_attn.o_proj", cfg.oProjBias, D), D);
    hooks[hookName(layer, "attn_out")] = toF32(attnOut, hookShape);

    const residMid = new Float64Array(N * D);
    for (let e = 0; e < N * D; e++) residMid[e] = x[e]! + attnOut[e]!;
    hooks[hookName(layer, "resid_mid")] = toF32(residMid, hookShape);

    // --- MLP ---
    const h2 = rmsNorm(residMid, N, D, readWeight(weights, `${p}.post_attention_layernorm.weight`, [D]), eps);
    const gate = linear(h2, N, D, readWeight(weights, `${p}.mlp.gate_proj.weight`, [I, D]), bias("mlp.gate_proj", cfg.mlpBias, I), I);
    const up = linear(h2, N, D, readWeight(weights, `${p}.mlp.up_proj.weight`, [I, D]), bias("mlp.up_proj", cfg.mlpBias, I), I);
    const act = new Float64Array(N * I);
    for (let e = 0; e < N * I; e++) {
      const z = gate[e]!;
      act[e] = (z / (1 + Math.exp(-z))) * up[e]!; // silu(z) = z * sigmoid(z)
    }
    const mlpOut = linear(act, N, I, readWeight(weights, `${p}.mlp.down_proj.weight`, [D, I]), bias("mlp.down_proj", cfg.mlpBias, D), D);
    hooks[hookName(layer, "mlp_out")] = toF32(mlpOut, hookShape);

    const residPost = new Float64Array(N * D);
    for (let e = 0; e < N * D; e++) residPost[e] = residMid[e]! + mlpOut[e]!;
    hooks[hookName(layer, "resid_post")] = toF32(residPost, hookShape);
    x = residPost;
  }

  const final = rmsNorm(x, N, D, readWeight(weights, "model.norm.weight", [D]), eps);
  const lmHead = cfg.tieWordEmbeddings ? embed : readWeight(weights, "lm_head.weight", [V, D]);
  const logits = linear(final, N, D, lmHead, null, V);
  return { logits: toF32(logits, [B, T, V]), hooks };
}
