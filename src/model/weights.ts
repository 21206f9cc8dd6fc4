// Model weights from a Hugging Face folder: `model.safetensors`, or shards listed by
// `model.safetensors.index.json` (`weight_map`: tensor name -> shard file). Headers are read up front
// (cheap); tensor data is read on demand.

import * as fs from "node:fs";
import * as path from "node:path";
import { FormatError, NotFoundError, UnsupportedError, describeValue } from "../errors.ts";
import { checkInt } from "../util/validate.ts";
import { FLOAT_DTYPES, openSafetensors, readTensorF32, type SafetensorsFile } from "../formats/safetensors.ts";
import type { F32Tensor, ModelConfig, TensorRef, WeightSource } from "./types.ts";

export const SINGLE_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";

/** WeightSource over one or more safetensors files, plus the files it came from. */
export interface SafetensorsWeights extends WeightSource {
  /** Absolute paths of the safetensors files, in load order. */
  readonly files: string[];
  /** Metadata of each file (`__metadata__`), keyed by absolute path. */
  readonly metadata: Record<string, Record<string, string> | null>;
}

/** Builds a WeightSource from already parsed safetensors headers. Later files never silently shadow earlier ones. */
export function weightSourceFromFiles(files: SafetensorsFile[], only?: Map<string, string>): SafetensorsWeights {
  const refs = new Map<string, TensorRef>();
  for (const f of files) {
    for (const [name, ref] of f.tensors) {
      if (only && only.get(name) !== f.file) continue;
      const prev = refs.get(name);
      if (prev) {
        throw new FormatError(`${f.file}: tensor "${name}" is also stored in ${prev.file}`, { file: f.file, field: name });
      }
      refs.set(name, ref);
    }
  }
  const names = [...refs.keys()];
  const ref = (name: string): TensorRef => {
    const r = refs.get(name);
    if (!r) {
      throw new NotFoundError(`weight "${name}" not found in ${files.map((f) => path.basename(f.file)).join(", ")}`, { field: name });
    }
    return r;
  };
  return {
    files: files.map((f) => f.file),
    metadata: Object.fromEntries(files.map((f) => [f.file, f.metadata])),
    names: () => [...names],
    has: (name) => refs.has(name),
    ref,
    // NaN or ±Infinity in a weight is an error naming the file and tensor (it would otherwise run silently and
    // make every logit NaN): checked as the tensor is converted to float32.
    get: (name): F32Tensor => readTensorF32(ref(name), { finite: true }),
  };
}

/**
 * Opens the weights of a Hugging Face model folder. Prefers the sharded index when present.
 * Throws NotFoundError naming the folder/file when no weights or a shard is missing.
 */
export function openWeights(modelDir: string, _cfg?: ModelConfig): SafetensorsWeights {
  const dir = path.resolve(modelDir);
  const indexPath = path.join(dir, INDEX_FILE);
  const singlePath = path.join(dir, SINGLE_FILE);
  if (fs.existsSync(indexPath)) return openSharded(indexPath);
  if (fs.existsSync(singlePath)) return weightSourceFromFiles([openSafetensors(singlePath)]);
  let hint = "";
  try {
    const entries = fs.readdirSync(dir);
    const others = entries.filter((e) => e.endsWith(".safetensors"));
    if (others.length > 0) hint = `; found ${others.join(", ")} but no ${INDEX_FILE} naming them`;
    else if (entries.some((e) => /\.(bin|pt|pth|ckpt|h5|msgpack|gguf)$/.test(e))) {
      hint = "; only non-safetensors weights found (convert them to safetensors)";
    }
  } catch (err) {
    throw new NotFoundError(`${modelDir}: model folder not found`, { file: dir, cause: err });
  }
  throw new NotFoundError(`${modelDir}: no ${SINGLE_FILE} or ${INDEX_FILE}${hint}`, { file: dir });
}

function openSharded(indexPath: string): SafetensorsWeights {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(indexPath, "utf8"));
  } catch (err) {
    throw new FormatError(`${indexPath}: not valid JSON: ${(err as Error).message}`, { file: indexPath, cause: err });
  }
  const wm = (json as Record<string, unknown> | null)?.weight_map;
  if (wm === null || typeof wm !== "object" || Array.isArray(wm)) {
    throw new FormatError(`${indexPath}: field "weight_map" must be an object of tensor name -> shard file, got ${describeValue(wm)}`, {
      file: indexPath,
      field: "weight_map",
    });
  }
  const dir = path.dirname(indexPath);
  const owner = new Map<string, string>();
  const shardNames: string[] = [];
  for (const [name, shard] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof shard !== "string" || shard.length === 0 || path.isAbsolute(shard) || shard.split(/[\\/]/).includes("..")) {
      throw new FormatError(`${indexPath}: weight_map["${name}"] must be a shard file name in the same folder, got ${describeValue(shard)}`, {
        file: indexPath,
        field: `weight_map.${name}`,
      });
    }
    const abs = path.join(dir, shard);
    owner.set(name, abs);
    if (!shardNames.includes(shard)) shardNames.push(shard);
  }
  const files: SafetensorsFile[] = [];
  for (const shard of shardNames) {
    const abs = path.join(dir, shard);
    if (!fs.existsSync(abs)) {
      throw new NotFoundError(`${indexPath}: shard "${shard}" is missing (expected at ${abs})`, { file: abs, field: shard });
    }
    files.push(openSafetensors(abs));
  }
  for (const [name, abs] of owner) {
    const f = files.find((x) => x.file === abs)!;
    if (!f.tensors.has(name)) {
      throw new FormatError(`${indexPath}: weight_map puts "${name}" in ${path.basename(abs)}, but that shard does not hold it`, {
        file: abs,
        field: name,
      });
    }
  }
  return weightSourceFromFiles(files, owner);
}

/** Every tensor a model with `cfg` needs, with its shape (`lm_head.weight` left out when tied). */
export function expectedWeightShapes(cfg: ModelConfig): Record<string, number[]> {
  const D = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const V = cfg.vocabSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  const out: Record<string, number[]> = { "model.embed_tokens.weight": [V, D] };
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    out[`${p}.input_layernorm.weight`] = [D];
    out[`${p}.self_attn.q_proj.weight`] = [q, D];
    out[`${p}.self_attn.k_proj.weight`] = [kv, D];
    out[`${p}.self_attn.v_proj.weight`] = [kv, D];
    if (cfg.attentionBias) {
      out[`${p}.self_attn.q_proj.bias`] = [q];
      out[`${p}.self_attn.k_proj.bias`] = [kv];
      out[`${p}.self_attn.v_proj.bias`] = [kv];
    }
    out[`${p}.self_attn.o_proj.weight`] = [D, q];
    if (cfg.oProjBias) out[`${p}.self_attn.o_proj.bias`] = [D];
    out[`${p}.post_attention_layernorm.weight`] = [D];
    out[`${p}.mlp.gate_proj.weight`] = [I, D];
    out[`${p}.mlp.up_proj.weight`] = [I, D];
    out[`${p}.mlp.down_proj.weight`] = [D, I];
    if (cfg.mlpBias) {
      out[`${p}.mlp.gate_proj.bias`] = [I];
      out[`${p}.mlp.up_proj.bias`] = [I];
      out[`${p}.mlp.down_proj.bias`] = [D];
    }
  }
  out["model.norm.weight"] = [D];
  if (!cfg.tieWordEmbeddings) out["lm_head.weight"] = [V, D];
  return out;
}

const shapeStr = (s: readonly number[]) => `[${s.join(", ")}]`;

/**
 * Checks that every expected tensor exists with the right shape and a float dtype (headers only; no data
 * is read). With tied embeddings an `lm_head.weight` is accepted if its shape matches.
 * Throws NotFoundError (missing weight), FormatError (wrong shape) or UnsupportedError (dtype).
 */
export function validateWeights(ws: WeightSource, cfg: ModelConfig, dir = "model"): void {
  checkInt(cfg.numLayers, "numLayers", { min: 1, where: "validateWeights", label: "cfg.numLayers" });
  const expected = expectedWeightShapes(cfg);
  if (cfg.tieWordEmbeddings && ws.has("lm_head.weight")) expected["lm_head.weight"] = [cfg.vocabSize, cfg.hiddenSize];
  const missing = Object.keys(expected).filter((n) => !ws.has(n));
  if (missing.length > 0) {
    const list = missing.slice(0, 5).map((n) => `"${n}" ${shapeStr(expected[n]!)}`).join(", ");
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : "";
    throw new NotFoundError(`${dir}: missing weight ${list}${more}`, { file: dir, field: missing[0] });
  }
  for (const [name, shape] of Object.entries(expected)) {
    const ref = ws.ref(name);
    if (ref.shape.length !== shape.length || ref.shape.some((d, i) => d !== shape[i])) {
      throw new FormatError(`${dir}: weight "${name}" has shape ${shapeStr(ref.shape)}, expected ${shapeStr(shape)} from config`, {
        file: ref.file,
        field: name,
      });
    }
    if (!FLOAT_DTYPES.includes(ref.dtype)) {
      throw new UnsupportedError(
        `${dir}: weight "${name}" has dtype ${ref.dtype}; supported: ${FLOAT_DTYPES.join(", ")} (quantized checkpoints are not supported)`,
        { file: ref.file, field: name },
      );
    }
  }
}
