// The trainer's parameters: one flat float32 buffer laid out in the order of `tfjsParamSpecs`, so the
// optimizer, gradient averaging, checkpoints and worker threads all work on plain typed arrays
// (optionally over a SharedArrayBuffer), and tfjs only sees them for the duration of one step.

import { ArgumentError } from "../errors.ts";
import { tfjsParamSpecs, type TfjsParamSpec } from "../model/tfjs-forward.ts";
import type { ModelConfig } from "../model/types.ts";
import { mulberry32 } from "../util/prng.ts";

/** One parameter's place in the flat buffer. */
export interface ParamSlot extends TfjsParamSpec {
  offset: number;
  size: number;
  /** AdamW weight decay applies (2-D weights: projections and embeddings; never norms or biases). */
  decay: boolean;
  /** Projection writing into the residual stream (attn.W_O, mlp.W_out): init scaled by 1/sqrt(2 layers). */
  residual: boolean;
}

export interface ParamLayout {
  slots: ParamSlot[];
  /** Total number of floats. */
  total: number;
  byName: Map<string, ParamSlot>;
}

/** The flat layout of every parameter of `cfg`, in `tfjsParamSpecs` order. */
export function paramLayout(cfg: ModelConfig): ParamLayout {
  const slots: ParamSlot[] = [];
  let offset = 0;
  for (const spec of tfjsParamSpecs(cfg)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    slots.push({
      ...spec,
      offset,
      size,
      decay: spec.shape.length === 2,
      residual: /\.(attn\.W_O|mlp\.W_out)$/.test(spec.name),
    });
    offset += size;
  }
  return { slots, total: offset, byName: new Map(slots.map((s) => [s.name, s])) };
}

/** A view of one parameter inside a flat buffer. */
export function slotView(buf: Float32Array, slot: ParamSlot): Float32Array {
  return buf.subarray(slot.offset, slot.offset + slot.size);
}

/** 32-bit FNV-1a of a string, to derive one independent stream per parameter from the seed. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export interface InitOptions {
  /** Standard deviation of weight matrices and embeddings (default 0.02). */
  std?: number;
}

/**
 * Seeded initialisation: weights normal(0, std), residual projections (o_proj, down_proj) scaled by
 * 1/sqrt(2·layers), norm weights 1, biases 0. Every parameter has its own stream keyed by (seed, name),
 * so the result does not depend on the order or the number of parameters.
 */
export function initParams(cfg: ModelConfig, seed: number, layout = paramLayout(cfg), opts: InitOptions = {}, out?: Float32Array): Float32Array {
  const std = opts.std ?? 0.02;
  if (!(std > 0)) throw new ArgumentError(`initParams: std must be positive, got ${std}`, { field: "std" });
  const buf = out ?? new Float32Array(layout.total);
  if (buf.length !== layout.total) throw new ArgumentError(`initParams: buffer holds ${buf.length} floats, the layout needs ${layout.total}`);
  for (const slot of layout.slots) {
    const v = slotView(buf, slot);
    if (slot.shape.length === 1) {
      v.fill(/\.w$/.test(slot.name) ? 1 : 0);
      continue;
    }
    const s = slot.residual ? std / Math.sqrt(2 * cfg.numLayers) : std;
    const rand = mulberry32(hashString(`${seed >>> 0}:${slot.name}`));
    for (let i = 0; i < v.length; i += 2) {
      // Box-Muller, both outputs used.
      const u = 1 - rand();
      const w = rand();
      const r = Math.sqrt(-2 * Math.log(u));
      v[i] = r * Math.cos(2 * Math.PI * w) * s;
      if (i + 1 < v.length) v[i + 1] = r * Math.sin(2 * Math.PI * w) * s;
    }
  }
  return buf;
}

/** Number of trainable parameters of `cfg`. */
export function countParams(cfg: ModelConfig): number {
  return paramLayout(cfg).total;
}
