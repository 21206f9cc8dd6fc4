// Trained parameters (tfjs names, linear weights `[in, out]`) -> a Hugging Face model folder:
// config.json, model.safetensors (HF names, linear weights back to `[out, in]`, F32 or BF16) and
// generation_config.json, each written atomically. Tokenizer files are the tokenizer stage's job.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { ArgumentError } from "../errors.ts";
import { modelConfigToJson } from "../model/config.ts";
import { writeSafetensors, type TensorToWrite } from "../formats/safetensors.ts";
import { tfjsParamSpecs } from "../model/tfjs-forward.ts";
import type { F32Tensor, ModelConfig } from "../model/types.ts";
import { writeJsonAtomic } from "../util/atomic.ts";

/** Parameters by tfjs name (`blocks.0.attn.W_Q`, …) in the layout of `tfjsParamSpecs`. */
export type TrainedParams = Record<string, F32Tensor>;

export interface SaveHfOptions {
  /** Storage type of model.safetensors (default F32). */
  dtype?: "F32" | "BF16";
  /** `pad_token_id` for generation_config.json (default: the first eos id, else null). */
  padTokenId?: number | null;
  /** Extra fields for config.json. */
  extraConfig?: Record<string, unknown>;
}

/** `[rows, cols]` row-major -> `[cols, rows]`. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[src + c]!;
  }
  return out;
}

/** The Hugging Face weights of `params`: HF names, `[out, in]` linear weights. */
export function toHfTensors(config: ModelConfig, params: TrainedParams): Record<string, F32Tensor> {
  const out: Record<string, F32Tensor> = {};
  for (const spec of tfjsParamSpecs(config)) {
    const p = params[spec.name];
    if (p === undefined) throw new ArgumentError(`saveHfModel: parameter "${spec.name}" is missing`, { field: spec.name });
    const numel = spec.shape.reduce((a, b) => a * b, 1);
    if (p.shape.length !== spec.shape.length || p.shape.some((d, i) => d !== spec.shape[i]) || p.data.length !== numel) {
      throw new ArgumentError(`saveHfModel: parameter "${spec.name}" has shape [${p.shape.join(", ")}], the config implies [${spec.shape.join(", ")}]`, {
        field: spec.name,
      });
    }
    out[spec.hfName] = spec.transposed
      ? { shape: [spec.shape[1]!, spec.shape[0]!], data: transpose2d(p.data, spec.shape[0]!, spec.shape[1]!) }
      : { shape: [...spec.shape], data: p.data };
  }
  return out;
}

/** Writes `config.json`, `model.safetensors` and `generation_config.json` into `outDir`. */
export async function saveHfModel(outDir: string, config: ModelConfig, params: TrainedParams, opts: SaveHfOptions = {}): Promise<string[]> {
  const dtype = opts.dtype ?? "F32";
  if (dtype !== "F32" && dtype !== "BF16") throw new ArgumentError(`saveHfModel: dtype must be F32 or BF16, got ${String(dtype)}`, { field: "dtype" });
  const hf = toHfTensors(config, params);
  await fsp.mkdir(outDir, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of Object.entries(hf)) tensors[name] = { dtype, shape: t.shape, data: t.data };
  await writeSafetensors(path.join(outDir, "model.safetensors"), tensors, { format: "pt" });
  await writeJsonAtomic(
    path.join(outDir, "config.json"),
    modelConfigToJson(config, { torchDtype: dtype === "F32" ? "float32" : "bfloat16", extra: { ...opts.extraConfig } }),
  );
  const eos = config.eosTokenIds;
  await writeJsonAtomic(path.join(outDir, "generation_config.json"), {
    bos_token_id: config.bosTokenId,
    eos_token_id: eos.length === 0 ? null : eos.length === 1 ? eos[0] : [...eos],
    pad_token_id: opts.padTokenId !== undefined ? opts.padTokenId : (eos[0] ?? null),
    do_sample: false,
  });
  return ["config.json", "model.safetensors", "generation_config.json"];
}
