// SAEs on disk in the SAELens layout, so SAELens users can load ours and we can load theirs:
//   cfg.json                  architecture "topk", d_in, d_sae, k (also as activation_fn_kwargs.k, the
//                             pre-v6 spelling), hook_name, model_name, apply_b_dec_to_input, ...
//   sae_weights.safetensors   W_enc [d_in, d_sae], W_dec [d_sae, d_in], b_enc [d_sae], b_dec [d_in]
// Both files are written atomically. Reading accepts F32, F16 and BF16 weights and the config spellings
// of SAELens v5 (activation_fn_str "topk" + activation_fn_kwargs.k) and v6 (architecture "topk" + k,
// model and hook under `metadata`). Other architectures (standard ReLU, JumpReLU, gated) are refused
// by name: safesail's encoders are TopK only.
import { existsSync, promises as fsp } from "node:fs";
import * as path from "node:path";
import { ConfigError, FormatError, NotFoundError, UnsupportedError } from "../errors.ts";
import { tryParseHookName } from "../model/hooks.ts";
import { downloadRepoFiles, isHubId, type HubOptions } from "../model/hub.ts";
import { openSafetensors, readTensorF32 } from "../formats/safetensors.ts";
import { writeSafetensors } from "../formats/safetensors.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import { safeSailSae, type SafeSailSaeOptions } from "./safe-sail-checkpoint.ts";
import { transpose, type Sae, type SaeConfig } from "./sae.ts";

export { transpose };

export const SAELENS_CFG = "cfg.json";
export const SAELENS_WEIGHTS = "sae_weights.safetensors";


/** Writes `sae` into `dir` (created if needed). `extra` fields are merged into cfg.json (training metadata). */
export async function saveSae(dir: string, sae: Sae, extra: Record<string, unknown> = {}): Promise<string[]> {
  const { dIn, dSae, k, hookName, modelName } = sae.config;
  await fsp.mkdir(dir, { recursive: true });
  const weights = path.join(dir, SAELENS_WEIGHTS);
  await writeSafetensors(weights, {
    W_enc: { dtype: "F32", shape: [dIn, dSae], data: transpose(sae.params.W_encT, dSae, dIn) },
    W_dec: { dtype: "F32", shape: [dSae, dIn], data: sae.params.W_dec },
    b_enc: { dtype: "F32", shape: [dSae], data: sae.params.b_enc },
    b_dec: { dtype: "F32", shape: [dIn], data: sae.params.b_dec },
  });
  // SAEs on hooks outside the TransformerLens naming (other tools) keep hook_layer null.
  const hookLayer = tryParseHookName(hookName)?.layer ?? null;
  const cfg = {
    architecture: "topk",
    d_in: dIn,
    d_sae: dSae,
    k,
    activation_fn_str: "topk",
    activation_fn_kwargs: { k },
    apply_b_dec_to_input: true,
    normalize_activations: "none",
    dtype: "float32",
    device: "cpu",
    model_name: modelName,
    hook_name: hookName,
    hook_layer: hookLayer,
    hook_head_index: null,
    finetuning_scaling_factor: false,
    metadata: { model_name: modelName, hook_name: hookName, hook_layer: hookLayer, hook_head_index: null },
    ...extra,
  };
  const cfgFile = path.join(dir, SAELENS_CFG);
  await writeJsonAtomic(cfgFile, cfg);
  return [cfgFile, weights];
}

function int(cfg: Record<string, unknown>, field: string, file: string): number {
  const v = cfg[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) throw new ConfigError(`${file}: field "${field}" must be a positive integer, got ${JSON.stringify(v)}`, { file, field });
  return v;
}

/** Reads an SAE in the SAELens layout (see the file comment). */
export interface LoadSaeOptions extends SafeSailSaeOptions, HubOptions {
  /**
   * With a hub id: the SAE's folder inside the repository (SAELens releases keep one SAE per folder, e.g.
   * "blocks.8.hook_resid_pre"), or a Safe-SAIL `.pt` file's path in it. Default: the repository's top level.
   */
  path?: string;
}

/**
 * Loads an SAE from
 *   - a SAELens folder (`cfg.json` + `sae_weights.safetensors`),
 *   - a Safe-SAIL checkpoint file (`.pt`, read safely; `opts` gives what the file does not hold: k, the layer or
 *     hook, which stacked SAE),
 *   - or a hub id (`org/repo`, `org/repo@revision`) with `opts.path`: the files download into the Hugging Face
 *     cache layout (as models do) and are reused offline afterwards.
 */
export async function loadSae(dir: string, opts: LoadSaeOptions = {}): Promise<Sae> {
  if (/\.pt$/i.test(dir) && existsSync(dir) && !(await fsp.stat(dir)).isDirectory()) return safeSailSae(dir, opts);
  if (!existsSync(dir) && isHubId(dir) && !/^\.{0,2}\//.test(dir)) {
    let local: string;
    try {
      local = await fetchSae(dir, opts);
    } catch (err) {
      const e = err as Error & { file?: string; field?: string };
      throw new NotFoundError(`${dir}: no such SAE folder here, and as a hub id: ${e.message}`, { file: e.file ?? dir, field: e.field, cause: err });
    }
    return loadSae(local, opts);
  }
  const cfgFile = path.join(dir, SAELENS_CFG);
  const weightsFile = path.join(dir, SAELENS_WEIGHTS);
  if (!existsSync(cfgFile)) throw new NotFoundError(`${cfgFile}: not found (an SAE folder holds ${SAELENS_CFG} and ${SAELENS_WEIGHTS})`, { file: cfgFile });
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(await fsp.readFile(cfgFile, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new FormatError(`${cfgFile}: not valid JSON (${(err as Error).message})`, { file: cfgFile });
  }
  if (cfg === null || typeof cfg !== "object" || Array.isArray(cfg)) throw new FormatError(`${cfgFile}: expected a JSON object`, { file: cfgFile });
  const arch = typeof cfg.architecture === "string" ? cfg.architecture : null;
  const actFn = typeof cfg.activation_fn_str === "string" ? cfg.activation_fn_str : null;
  const isTopK = arch === "topk" || (arch === null || arch === "standard") && actFn === "topk";
  if (!isTopK) {
    throw new UnsupportedError(`${cfgFile}: SAE architecture "${arch ?? actFn ?? "unknown"}" is not supported (safesail loads TopK SAEs: architecture "topk" or activation_fn_str "topk")`, { file: cfgFile, field: "architecture" });
  }
  const kwargs = (cfg.activation_fn_kwargs ?? {}) as Record<string, unknown>;
  const k = int(typeof cfg.k === "number" ? cfg : { k: kwargs.k }, "k", cfgFile);
  const dIn = int(cfg, "d_in", cfgFile);
  const dSae = int(cfg, "d_sae", cfgFile);
  if (cfg.apply_b_dec_to_input === false) {
    throw new UnsupportedError(`${cfgFile}: apply_b_dec_to_input false is not supported (safesail's encoder subtracts b_dec)`, { file: cfgFile, field: "apply_b_dec_to_input" });
  }
  if (typeof cfg.normalize_activations === "string" && cfg.normalize_activations !== "none") {
    throw new UnsupportedError(`${cfgFile}: normalize_activations "${cfg.normalize_activations}" is not supported`, { file: cfgFile, field: "normalize_activations" });
  }
  const meta = (cfg.metadata ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  const config: SaeConfig = { dIn, dSae, k, hookName: str(cfg.hook_name) ?? str(meta.hook_name), modelName: str(cfg.model_name) ?? str(meta.model_name) };
  if (!existsSync(weightsFile)) throw new NotFoundError(`${weightsFile}: not found`, { file: weightsFile });
  const st = openSafetensors(weightsFile);
  const get = (name: string, shape: number[]) => {
    const ref = st.tensors.get(name);
    if (!ref) throw new FormatError(`${weightsFile}: tensor "${name}" is missing`, { file: weightsFile, field: name });
    if (ref.shape.join(",") !== shape.join(",")) throw new FormatError(`${weightsFile}: tensor "${name}" has shape [${ref.shape.join(", ")}], expected [${shape.join(", ")}] (from ${SAELENS_CFG})`, { file: weightsFile, field: name });
    return readTensorF32(ref, { finite: true }).data;
  };
  const W_enc = get("W_enc", [dIn, dSae]);
  return {
    config,
    params: { dIn, dSae, W_encT: transpose(W_enc, dIn, dSae), b_enc: get("b_enc", [dSae]), W_dec: get("W_dec", [dSae, dIn]), b_dec: get("b_dec", [dIn]) },
  };
}

/** Downloads an SAE's files from the hub (see loadSae) and returns the local folder or `.pt` file. */
async function fetchSae(id: string, opts: LoadSaeOptions): Promise<string> {
  const at = id.indexOf("@");
  const repoId = at >= 0 ? id.slice(0, at) : id;
  const revision = at >= 0 ? id.slice(at + 1) : opts.revision;
  const sub = (opts.path ?? "").replace(/^\/+|\/+$/g, "");
  const files = /\.pt$/i.test(sub) ? [sub] : [SAELENS_CFG, SAELENS_WEIGHTS].map((f) => (sub ? `${sub}/${f}` : f));
  const snapshot = await downloadRepoFiles(repoId, files, { ...opts, revision });
  return sub ? path.join(snapshot, ...sub.split("/")) : snapshot;
}
