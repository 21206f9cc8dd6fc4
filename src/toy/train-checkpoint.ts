// Training checkpoints in `outDir/checkpoint/`:
//   state-<step>.safetensors  parameters and both Adam moments, float32, tfjs names with a prefix
//                             (`param/…`, `adam_m/…`, `adam_v/…`)
//   state.json                step, data cursor (epoch, batch within the epoch), seed, the settings
//                             that must match on resume, loss history, and the tensor file's name
// Each file is written atomically (temp file + rename); state.json is written last and names its
// tensor file, so a crash at any moment leaves the previous complete checkpoint in force. Older
// tensor files are removed after the new state.json is in place.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { ConfigError, FormatError } from "../errors.ts";
import { openSafetensors, readTensorF32, writeSafetensors, type TensorToWrite } from "../formats/safetensors.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import { checkSettings, readStateFile } from "../util/resume.ts";
import { slotView, type ParamLayout } from "./train-params.ts";

export const CHECKPOINT_DIR = "checkpoint";
export const CHECKPOINT_STATE = "state.json";
export const CHECKPOINT_FORMAT = "safesail-train-checkpoint";

/** Settings a resumed run must share with the run that wrote the checkpoint (compared as JSON). */
export type RunFingerprint = Record<string, unknown>;

export interface LossRecord {
  step: number;
  loss: number;
  /** Counted (loss) tokens in the step. */
  tokens: number;
  lr: number;
}

export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  /** Optimizer steps done. */
  step: number;
  totalSteps: number;
  /** Data cursor: the next batch is batch `batchInEpoch` of epoch `epoch`. */
  epoch: number;
  batchInEpoch: number;
  /** Non-padding tokens processed so far. */
  tokensSeen: number;
  /** Training wall time so far, all runs together. */
  trainMs: number;
  fingerprint: RunFingerprint;
  lossHistory: LossRecord[];
  tensors: string;
  savedAt: string;
}

export interface TrainState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

export function checkpointDir(outDir: string): string {
  return path.join(outDir, CHECKPOINT_DIR);
}

/** Writes a checkpoint atomically (see the file comment). */
export async function saveCheckpoint(outDir: string, layout: ParamLayout, tensors: TrainState, state: Omit<CheckpointState, "format" | "version" | "tensors" | "savedAt">): Promise<void> {
  const dir = checkpointDir(outDir);
  await fsp.mkdir(dir, { recursive: true });
  const file = `state-${String(state.step).padStart(7, "0")}.safetensors`;
  const record: Record<string, TensorToWrite> = {};
  for (const [prefix, buf] of [["param", tensors.params], ["adam_m", tensors.m], ["adam_v", tensors.v]] as const) {
    for (const slot of layout.slots) record[`${prefix}/${slot.name}`] = { dtype: "F32", shape: slot.shape, data: slotView(buf, slot) };
  }
  await writeSafetensors(path.join(dir, file), record, { format: CHECKPOINT_FORMAT, step: String(state.step) });
  const full: CheckpointState = { format: CHECKPOINT_FORMAT, version: 1, ...state, tensors: file, savedAt: new Date().toISOString() };
  await writeJsonAtomic(path.join(dir, CHECKPOINT_STATE), full);
  for (const entry of await fsp.readdir(dir)) {
    if (entry !== file && /^state-\d+\.safetensors$/.test(entry)) await fsp.rm(path.join(dir, entry), { force: true });
  }
}

/** Reads `outDir/checkpoint/state.json`, or null when there is none. */
export async function readCheckpointState(outDir: string): Promise<CheckpointState | null> {
  const file = path.join(checkpointDir(outDir), CHECKPOINT_STATE);
  const json = await readStateFile<CheckpointState>(file, "remove the checkpoint folder, or train with resume: false to start over");
  if (json === null) return null;
  const s = json;
  if (s === null || typeof s !== "object" || s.format !== CHECKPOINT_FORMAT || s.version !== 1) {
    throw new FormatError(`${file}: not a safesail training checkpoint (format "${CHECKPOINT_FORMAT}", version 1)`, { file, field: "format" });
  }
  for (const field of ["step", "totalSteps", "epoch", "batchInEpoch", "tokensSeen", "trainMs"] as const) {
    if (typeof s[field] !== "number" || !Number.isFinite(s[field]) || s[field] < 0) {
      throw new FormatError(`${file}: field "${field}" must be a non-negative number`, { file, field });
    }
  }
  if (typeof s.tensors !== "string" || !/^state-\d+\.safetensors$/.test(s.tensors)) {
    throw new FormatError(`${file}: field "tensors" must name a state-<step>.safetensors file`, { file, field: "tensors" });
  }
  if (!Array.isArray(s.lossHistory)) throw new FormatError(`${file}: field "lossHistory" must be a list`, { file, field: "lossHistory" });
  return s;
}

/** Loads the tensors a checkpoint names into `into` (shapes checked against `layout`). */
export function loadCheckpointTensors(outDir: string, state: CheckpointState, layout: ParamLayout, into: TrainState): void {
  const file = path.join(checkpointDir(outDir), state.tensors);
  const st = openSafetensors(file);
  for (const [prefix, buf] of [["param", into.params], ["adam_m", into.m], ["adam_v", into.v]] as const) {
    for (const slot of layout.slots) {
      const name = `${prefix}/${slot.name}`;
      const ref = st.tensors.get(name);
      if (ref === undefined) throw new FormatError(`${file}: tensor "${name}" is missing`, { file, field: name });
      if (ref.dtype !== "F32" || ref.shape.length !== slot.shape.length || ref.shape.some((d, i) => d !== slot.shape[i])) {
        throw new FormatError(`${file}: tensor "${name}" is ${ref.dtype} [${ref.shape.join(", ")}], expected F32 [${slot.shape.join(", ")}]`, { file, field: name });
      }
      slotView(buf, slot).set(readTensorF32(ref).data);
    }
  }
}

/** Throws ConfigError naming every setting that differs between the checkpoint and this run (util/resume.ts). */
export function checkFingerprint(outDir: string, saved: RunFingerprint, current: RunFingerprint): void {
  checkSettings(saved, current, {
    file: path.join(checkpointDir(outDir), CHECKPOINT_STATE),
    advice: "train with the same settings, or with resume: false to start over",
    error: ConfigError,
  });
}

/** Removes a checkpoint folder (a fresh run in the same outDir). */
export async function removeCheckpoint(outDir: string): Promise<void> {
  await fsp.rm(checkpointDir(outDir), { recursive: true, force: true });
}
