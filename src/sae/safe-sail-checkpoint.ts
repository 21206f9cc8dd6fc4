// The Safe-SAIL release's SAE checkpoints and safety-neuron index files, read through the safe .pt reader.
//
// Why a dedicated layout module: the release's checkpoints (`data/sae_checkpoints/ckpt_layer{L}.pt`) are
// state_dicts of the `sparse_autoencoder` library's SparseAutoencoder, which stacks `n` autoencoders
// ("components") in every tensor, while the rest of this project speaks a SAELens-style record. The layout,
// as Safe-SAIL's own loader (`sae.py`, `setup.py`) uses it with `model_index = 0`:
//
//   pre_encoder_bias._bias_reference   [n, d_in]  (also accepted: [d_in])   subtracted before encoding
//   encoder.weight                     [n, d_sae, d_in]                     acts = x' . W^T + b
//   encoder.bias                       [n, d_sae] (also accepted: [d_sae])
//   decoder.weight                     [n, d_in, d_sae]  (sparse_autoencoder's UnitNormDecoder:
//                                      n_components, decoded, learnt) or [n, d_sae, d_in] (as some
//                                      earlier versions and other trainers keep it); told apart by
//                                      which dimension equals d_in.
//                                      When d_in == d_sae the shapes cannot tell: `decoderLayout` decides,
//                                      default "d_in,d_sae" (the library's convention).
//   post_decoder_bias._bias_reference  [n, d_in]  (also accepted: [d_in])   added after decoding
//   encoder.theta                      [n, d_sae] optional: JumpReLU thresholds (Safe-SAIL's JumpReLUEncoder)
//   tied_bias                          [n, d_in]  optional, the parameter both bias references point at
//
// The keys may sit under a prefix ("state_dict.", "module."); it is found by looking for "encoder.weight".
// d_in is taken from the pre-encoder bias (its last dimension), d_sae from encoder.weight.
//
// The result is SAELens-shaped: W_enc [d_in, d_sae] = encoder.weight[index]^T, W_dec [d_sae, d_in],
// b_enc [d_sae], b_dec [d_in] = the post-decoder bias, so that
//     pre-activation = (x - b_dec) . W_enc + b_enc,     reconstruction = acts . W_dec + b_dec.
// Safe-SAIL subtracts the *pre-encoder* bias instead; in the release the two are one tied parameter, and
// then b_enc is encoder.bias[index] exactly. If a checkpoint has them untied, b_enc absorbs the difference,
// b_enc = encoder.bias + (b_dec - b_pre) . W_enc (computed in float64), which gives the same pre-activation;
// `biasesTied` says which case it was and `b_pre` keeps the original. The activation function is not in the
// checkpoint: the paper's SAEs use TopKReLU with k = 200 (keep the k largest, then ReLU).

import { ArgumentError, FormatError, UnsupportedError, describeValue } from "../errors.ts";
import { hookName } from "../model/hooks.ts";
import { saeConfig, transpose, type Sae } from "./sae.ts";
import { readTorchFile, readTorchTensorDict, toFloat32, TorchTensor, type TorchDtype, type TorchReadOptions } from "../formats/torch-pt.ts";

export type DecoderLayout = "d_in,d_sae" | "d_sae,d_in";

export interface SafeSailCheckpointOptions extends TorchReadOptions {
  /** Which of the n stacked autoencoders to take (default 0, as Safe-SAIL's loader does). */
  index?: number;
  /** Key prefix before "encoder.weight" etc. (default: found automatically; "" for top-level keys). */
  prefix?: string;
  /** How decoder.weight is laid out when d_in == d_sae makes the shapes ambiguous (default "d_in,d_sae"). */
  decoderLayout?: DecoderLayout;
}

/** One SAE in SAELens orientation, float32, row-major. */
export interface SafeSailSae {
  d_in: number;
  d_sae: number;
  /** [d_in, d_sae] */
  W_enc: Float32Array;
  /** [d_sae, d_in] */
  W_dec: Float32Array;
  /** [d_sae], the pre-encoder bias difference folded in when the biases are untied (see header). */
  b_enc: Float32Array;
  /** [d_in], the post-decoder bias. */
  b_dec: Float32Array;
  /** [d_in], the pre-encoder bias as stored. */
  b_pre: Float32Array;
  /** Pre-encoder and post-decoder biases are identical (always so in the Safe-SAIL release). */
  biasesTied: boolean;
  /** [d_sae] JumpReLU thresholds when the checkpoint has `encoder.theta`. */
  threshold?: Float32Array;
  /** Which stacked autoencoder this is, and how many the file holds. */
  index: number;
  n: number;
  /** How decoder.weight was laid out in the file. */
  decoderLayout: DecoderLayout;
  /** Storage dtype of encoder.weight (F32, BF16, ...). */
  dtype: TorchDtype;
}

const KEYS = {
  pre: "pre_encoder_bias._bias_reference",
  encW: "encoder.weight",
  encB: "encoder.bias",
  decW: "decoder.weight",
  post: "post_decoder_bias._bias_reference",
  theta: "encoder.theta",
} as const;

/** Reads a Safe-SAIL SAE checkpoint (.pt) into a SAELens-style record. See the header for the layout. */
export function readSafeSailCheckpoint(file: string, options: SafeSailCheckpointOptions = {}): SafeSailSae {
  return safeSailSaeFromTensors(readTorchTensorDict(file, options), file, options);
}

/** The conversion of readSafeSailCheckpoint, for tensors already loaded; `label` names them in errors. */
export function safeSailSaeFromTensors(tensors: Record<string, TorchTensor>, label: string, options: SafeSailCheckpointOptions = {}): SafeSailSae {
  const prefix = options.prefix ?? findPrefix(tensors, label);
  const fail = (key: string, msg: string): never => {
    throw new FormatError(`${label}: "${prefix}${key}": ${msg}`, { file: label, field: prefix + key });
  };
  const get = (key: string): TorchTensor => {
    const t = tensors[prefix + key];
    if (t === undefined) {
      const have = Object.keys(tensors);
      throw new FormatError(
        `${label}: missing tensor "${prefix}${key}" (a Safe-SAIL SAE checkpoint needs ${Object.values(KEYS).filter((k) => k !== KEYS.theta).join(", ")}; found ${have.slice(0, 8).join(", ")}${have.length > 8 ? ", ..." : ""})`,
        { file: label, field: prefix + key },
      );
    }
    if (!(t.dtype === "F32" || t.dtype === "F16" || t.dtype === "BF16" || t.dtype === "F64")) fail(key, `dtype ${t.dtype} is not a float type`);
    return t;
  };
  const shapeOf = (t: TorchTensor): string => `[${t.shape.join(", ")}]`;

  const pre = get(KEYS.pre);
  const encW = get(KEYS.encW);
  const encB = get(KEYS.encB);
  const decW = get(KEYS.decW);
  const post = get(KEYS.post);
  const theta = tensors[prefix + KEYS.theta] === undefined ? undefined : get(KEYS.theta);

  if (pre.shape.length !== 1 && pre.shape.length !== 2) fail(KEYS.pre, `shape ${shapeOf(pre)}: expected [n, d_in] or [d_in]`);
  const dIn = pre.shape[pre.shape.length - 1]!;
  if (encW.shape.length !== 3) fail(KEYS.encW, `shape ${shapeOf(encW)}: expected [n, d_sae, d_in] with d_in = ${dIn}`);
  const [n, dSae, encIn] = encW.shape as [number, number, number];
  if (encIn !== dIn) {
    fail(KEYS.encW, `shape ${shapeOf(encW)}: last dimension should be d_in = ${dIn} (from ${prefix}${KEYS.pre})${encW.shape[1] === dIn ? "; it looks transposed ([n, d_in, d_sae])" : ""}`);
  }
  if (n < 1 || dSae < 1 || dIn < 1) fail(KEYS.encW, `shape ${shapeOf(encW)} has an empty dimension`);

  const index = options.index ?? 0;
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new ArgumentError(`${label}: index ${describeValue(index)} out of range: the checkpoint stacks ${n} autoencoder(s) (0..${n - 1})`, { field: "index" });
  }
  /** Row `index` of a [n, len] tensor, or the whole of a [len] one. */
  const row = (key: string, t: TorchTensor, len: number, what: string): Float32Array => {
    const ok = (t.shape.length === 2 && t.shape[0] === n && t.shape[1] === len) || (t.shape.length === 1 && t.shape[0] === len);
    if (!ok) fail(key, `shape ${shapeOf(t)}: expected [${n}, ${len}] or [${len}] (${what})`);
    const all = toFloat32(t);
    return t.shape.length === 2 ? all.slice(index * len, (index + 1) * len) : all.slice();
  };

  const b_pre = row(KEYS.pre, pre, dIn, "n, d_in");
  const b_dec = row(KEYS.post, post, dIn, "n, d_in");
  const bEncRaw = row(KEYS.encB, encB, dSae, "n, d_sae");
  const threshold = theta === undefined ? undefined : row(KEYS.theta, theta, dSae, "n, d_sae");

  let decoderLayout: DecoderLayout;
  if (decW.shape.length !== 3 || decW.shape[0] !== n) fail(KEYS.decW, `shape ${shapeOf(decW)}: expected [${n}, ${dIn}, ${dSae}] or [${n}, ${dSae}, ${dIn}]`);
  const [, d1, d2] = decW.shape as [number, number, number];
  if (d1 === dIn && d2 === dSae && d1 === d2) decoderLayout = options.decoderLayout ?? "d_in,d_sae";
  else if (d1 === dIn && d2 === dSae) decoderLayout = "d_in,d_sae";
  else if (d1 === dSae && d2 === dIn) decoderLayout = "d_sae,d_in";
  else return fail(KEYS.decW, `shape ${shapeOf(decW)}: expected [${n}, ${dIn}, ${dSae}] or [${n}, ${dSae}, ${dIn}] (d_in = ${dIn}, d_sae = ${dSae})`);
  if (options.decoderLayout !== undefined && options.decoderLayout !== decoderLayout) {
    throw new ArgumentError(`${label}: decoderLayout "${options.decoderLayout}" contradicts the shape ${shapeOf(decW)} of "${prefix}${KEYS.decW}"`, { field: "decoderLayout" });
  }

  const block = dIn * dSae;
  const enc = toFloat32(encW).subarray(index * block, (index + 1) * block); // [d_sae, d_in]
  const dec = toFloat32(decW).subarray(index * block, (index + 1) * block);
  const W_enc = transpose(enc, dSae, dIn); // [d_in, d_sae]
  const W_dec = decoderLayout === "d_in,d_sae" ? transpose(dec, dIn, dSae) : dec.slice(); // [d_sae, d_in]

  let biasesTied = true;
  for (let f = 0; f < dIn; f++) if (!Object.is(b_pre[f], b_dec[f])) biasesTied = false;
  let b_enc = bEncRaw;
  if (!biasesTied) {
    b_enc = new Float32Array(dSae);
    for (let o = 0; o < dSae; o++) {
      let s = bEncRaw[o]!;
      for (let f = 0; f < dIn; f++) s += enc[o * dIn + f]! * (b_dec[f]! - b_pre[f]!);
      b_enc[o] = s;
    }
  }
  const out: SafeSailSae = { d_in: dIn, d_sae: dSae, W_enc, W_dec, b_enc, b_dec, b_pre, biasesTied, index, n, decoderLayout, dtype: encW.dtype };
  if (threshold !== undefined) out.threshold = threshold;
  return out;
}

function findPrefix(tensors: Record<string, TorchTensor>, label: string): string {
  const suffix = KEYS.encW;
  const prefixes = Object.keys(tensors)
    .filter((k) => k.endsWith(suffix))
    .map((k) => k.slice(0, k.length - suffix.length))
    .filter((p) => p === "" || p.endsWith("."))
    .filter((p) => tensors[p + KEYS.decW] !== undefined || tensors[p + KEYS.pre] !== undefined);
  if (prefixes.length === 1) return prefixes[0]!;
  if (prefixes.length === 0) {
    const have = Object.keys(tensors);
    throw new FormatError(
      `${label}: no "${suffix}" tensor: not a Safe-SAIL SAE checkpoint (found ${have.length === 0 ? "no tensors" : have.slice(0, 8).join(", ") + (have.length > 8 ? ", ..." : "")})`,
      { file: label, field: suffix },
    );
  }
  throw new ArgumentError(`${label}: several SAEs in one file (key prefixes ${prefixes.map((p) => JSON.stringify(p)).join(", ")}); pass the prefix option`, {
    field: "prefix",
  });
}

export interface SafeSailIndicesOptions extends TorchReadOptions {
  /** When given, every index must be below it (the SAE's d_sae; 20480 for the release's Qwen2.5-3B SAEs). */
  dSae?: number;
}

/**
 * Reads a Safe-SAIL index file (`indices_layer{L}.pt`): a 1-D int64 tensor of SAE feature indices, the
 * safety-relevant neurons of one layer. Order and repeats are kept as stored: the release's files are
 * neither sorted nor free of repeats, and Safe-SAIL pairs the i-th index with the i-th activation quantile.
 */
export function readSafeSailIndices(file: string, options: SafeSailIndicesOptions = {}): number[] {
  const value = readTorchFile(file, options);
  if (!(value instanceof TorchTensor)) {
    throw new FormatError(`${file}: expected a 1-D integer tensor of feature indices, found ${value === null ? "None" : Array.isArray(value) ? "a list" : typeof value === "object" ? "a dict" : typeof value}`, { file });
  }
  if (value.shape.length !== 1) throw new FormatError(`${file}: index tensor has shape [${value.shape.join(", ")}], expected 1-D`, { file });
  if (value.dtype.startsWith("F") || value.dtype === "BOOL" || value.dtype === "BF16") {
    throw new FormatError(`${file}: index tensor has dtype ${value.dtype}, expected an integer type (I64)`, { file });
  }
  const out: number[] = new Array<number>(value.shape[0]!);
  const data = value.data;
  for (let i = 0; i < out.length; i++) {
    const raw = data[i]!;
    const v = typeof raw === "bigint" ? (raw >= 0n && raw <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(raw) : -1) : raw;
    if (v < 0) throw new FormatError(`${file}: index ${i} is ${String(raw)}, not a valid feature index`, { file, field: String(i) });
    if (options.dSae !== undefined && v >= options.dSae) {
      throw new FormatError(`${file}: index ${i} is ${v}, not below d_sae = ${options.dSae}`, { file, field: String(i) });
    }
    out[i] = v;
  }
  return out;
}

export interface SafeSailSaeOptions extends SafeSailCheckpointOptions {
  /** TopK's k: not stored in the checkpoint; default the paper's 200 (at most d_sae). */
  k?: number;
  /** The model layer the SAE reads; gives the hook `blocks.{layer}.hook_mlp_out` (the paper's site). */
  layer?: number;
  /** Or the hook itself (wins over `layer`). */
  hookName?: string | null;
  modelName?: string | null;
}

/** The paper's TopK-ReLU k (Safe-SAIL: k = 200 on MLP output). */
export const SAFE_SAIL_K = 200;

/**
 * A Safe-SAIL checkpoint as a `Sae`, the type every other SAE has (encode/decode, evaluation, metrics, steering):
 * TopK-ReLU with `k` (not in the file), the SAELens orientation of `readSafeSailCheckpoint`. JumpReLU checkpoints
 * (`encoder.theta`) are refused by name: a Sae is TopK.
 */
export function safeSailSae(file: string, options: SafeSailSaeOptions = {}): Sae {
  return safeSailCheckpointToSae(readSafeSailCheckpoint(file, options), file, options);
}

/** The conversion of `safeSailSae` for a record already read; `label` names it in errors. */
export function safeSailCheckpointToSae(rec: SafeSailSae, label: string, options: SafeSailSaeOptions = {}): Sae {
  if (rec.threshold) throw new UnsupportedError(`${label}: a JumpReLU checkpoint (it has "encoder.theta"); safesail's SAEs are TopK-ReLU`, { file: label, field: "encoder.theta" });
  const k = options.k ?? Math.min(SAFE_SAIL_K, rec.d_sae);
  if (!Number.isSafeInteger(k) || k < 1 || k > rec.d_sae) throw new ArgumentError(`k: must be an integer in [1, ${rec.d_sae}] (d_sae of ${label}), got ${describeValue(k)}`, { field: "k" });
  const hook = options.hookName ?? (options.layer !== undefined ? hookName(options.layer, "mlp_out") : null);
  const config = saeConfig({ dIn: rec.d_in, dSae: rec.d_sae, k, hookName: hook, modelName: options.modelName ?? null });
  return { config, params: { dIn: rec.d_in, dSae: rec.d_sae, W_encT: transpose(rec.W_enc, rec.d_in, rec.d_sae), b_enc: rec.b_enc, W_dec: rec.W_dec, b_dec: rec.b_dec } };
}
