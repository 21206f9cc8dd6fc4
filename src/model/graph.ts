// The ONNX forward graph of a Qwen2 / Llama decoder, built from the config and the weights.
//
// The forward is a walk over "hook points": for block i the points are resid_pre, attn_out, resid_mid,
// mlp_out and resid_post (TransformerLens names). A graph covers a *segment* of that walk: it starts either
// at the token ids or just after a hook point, and ends either at the logits or at a hook point. Whole-model
// runs use one segment; an arbitrary JavaScript edit at a hook splits the model into segments at that hook
// so the edited value can be fed back in.
//
// Attention hook points (`blocks.{i}.attn.hook_q` ... `hook_z`, see hooks.ts) exist only in segments built with
// `attentionHooks`: their attention is written out step by step in TransformerLens layouts, and every attention
// hook of the segment is an output. Runs that ask for none keep the fused attention below (no extra transposes,
// no extra outputs). A cut at an attention point carries the residual plus the attention state still live there
// (e.g. after hook_pattern: the pattern and the values), under `cut.out.attn.*` / `cut.in.attn.*`. Additive steering needs no split: the `steer` input holds one row
// per hook point of the segment (zeros where nothing is steered), added in-graph. (One required input, not
// an overridable initializer per hook: onnxruntime-node silently drops feeds for overridable initializers.)
import { DataType, GraphBuilder, type ExternalBlob } from "../engine/onnx-builder.ts";
import { computeInvFreq } from "./rope.ts";
import { anyHookName, ATTN_SITES, hookName, isAttnPoint, SITES, walkIndex, WALK_PER_BLOCK, type AnyHookPoint, type AttnSite, type HookPoint, type Site } from "./hooks.ts";
import type { ModelConfig } from "./types.ts";

/** Sites whose state is a residual plus a pending branch output (the branch is the hook value). */
const BRANCH_SITES: ReadonlySet<Site> = new Set(["attn_out", "mlp_out"]);
export const isBranchPoint = (p: AnyHookPoint): boolean => !isAttnPoint(p) && BRANCH_SITES.has(p.site);

/** The point at a walk index (see hooks.ts walkIndex): resid_pre, q..z, attn_out, resid_mid, mlp_out, resid_post. */
function walkAt(index: number): AnyHookPoint {
  const layer = Math.floor(index / WALK_PER_BLOCK);
  const r = index % WALK_PER_BLOCK;
  if (r === 0) return { layer, site: "resid_pre" };
  if (r <= ATTN_SITES.length) return { layer, attn: ATTN_SITES[r - 1]! };
  return { layer, site: SITES[r - ATTN_SITES.length]! };
}

/** Attention state kept across a cut at an attention point (TransformerLens layouts; v_full: `[B, KV, kvLen, hd]`). */
type AttnKey = AttnSite | "v_full";
const LIVE_AFTER: Record<AttnSite, AttnKey[]> = {
  q: ["q", "k", "v"],
  k: ["q", "k", "v"],
  v: ["q", "k", "v"],
  rot_q: ["rot_q", "k", "v"],
  rot_k: ["rot_q", "rot_k", "v"],
  attn_scores: ["attn_scores", "v_full"],
  pattern: ["pattern", "v_full"],
  z: ["z"],
};

export interface SegmentSpec {
  /** null: start from `input_ids`; otherwise start right after this hook point (its value is an input). */
  start: AnyHookPoint | null;
  /** null: run to the logits; otherwise stop at this hook point (after its steering add). */
  end: AnyHookPoint | null;
  /** Write attention out step by step and expose its hook points (implied by an attention start or end). */
  attentionHooks?: boolean;
  /** Give the segment a `steer` input `[hooks, hidden]` added at its hook points. Default true. */
  steerable?: boolean;
}

/** Names of a segment graph's inputs and outputs, so the runtime can wire segments together. */
export const SegmentIO = {
  inputIds: "input_ids",
  positionIds: "position_ids",
  attentionMask: "attention_mask",
  /** Residual stream carried across a cut, `[N, D]` with N = batch * seq. */
  residIn: "cut.resid_in",
  /** Branch output (attn_out or mlp_out) carried across a cut at a branch point. */
  branchIn: "cut.branch_in",
  residOut: "cut.resid_out",
  branchOut: "cut.branch_out",
  /** Flat row indices (b * seq + t) whose logits to compute. */
  logitRows: "logit_rows",
  logits: "logits",
  pastKey: (layer: number) => `past_key.${layer}`,
  pastValue: (layer: number) => `past_value.${layer}`,
  presentKey: (layer: number) => `present_key.${layer}`,
  presentValue: (layer: number) => `present_value.${layer}`,
  /** `[hooks in segment, hidden]`: row i is added at the segment's i-th hook point. */
  steer: "steer",
  attnOut: (key: string) => `cut.out.attn.${key}`,
  attnIn: (key: string) => `cut.in.attn.${key}`,
} as const;

/** Supplies float32 weights by Hugging Face name. */
export type WeightGetter = (name: string) => { shape: number[]; data: Float32Array };

/** Where one graph initializer lies in a stored weight file (see weight-cache.ts). */
export interface StoredTensor {
  /** File name relative to `StoredWeights.folder`. */
  location: string;
  offset: number;
  length: number;
  shape: number[];
  /** Element type: float32 (default) or the uint8 blocks of an 8-bit weight. */
  dtype?: "F32" | "U8";
  /** 8-bit blocks: the matrix's input width K (the last block is zero-padded to 32). */
  inFeatures?: number;
}

/**
 * Weights already laid out on disk in the graph's own initializers (fused groups concatenated), so a session maps
 * them instead of receiving bytes from JavaScript. With `precision` "int8" the matrices of the projections and the
 * output head are stored as 8-bit blocks (`quantizedNames`) and run through MatMulNBits.
 */
export interface StoredWeights {
  folder: string;
  precision?: WeightPrecision;
  lookup(name: string): StoredTensor | undefined;
}

/**
 * How the weight matrices are kept for the forward: "fp32", the reference (every result of the project is
 * computed so); "int8": blockwise 8-bit weights (32 per block, one float32 scale each) with onnxruntime's int8
 * MatMulNBits kernel, opt-in, for generation speed (bench/README.md, "Reduced precision").
 */
export type WeightPrecision = "fp32" | "int8";
/** Weights per quantisation block of the int8 precision. */
export const Q8_BLOCK = 32;

/** Stored names of an 8-bit matrix: its blocks `[N, ceil(K / 32), 32]` uint8 and its scales `[N * ceil(K / 32)]`. */
export function quantizedNames(name: string): { blocks: string; scales: string } {
  return { blocks: `${name}:q8`, scales: `${name}:q8.scales` };
}

/** One initializer the decoder graph reads from the weights: the Hugging Face tensors it concatenates by rows. */
export interface GraphWeight {
  name: string;
  parts: string[];
  /** "q8": stored as 8-bit blocks under quantizedNames(name). Default float32. */
  format?: "f32" | "q8";
}

/** Name of the initializer made of several projections' weights (or biases) stacked by rows. */
export function fusedWeightName(prefixes: string[], kind: "weight" | "bias"): string {
  return `${prefixes.join("+")}.${kind}`;
}

const qkvPrefixes = (layer: number) => ["q_proj", "k_proj", "v_proj"].map((n) => `model.layers.${layer}.self_attn.${n}`);
const gateUpPrefixes = (layer: number) => [`model.layers.${layer}.mlp.gate_proj`, `model.layers.${layer}.mlp.up_proj`];

/**
 * Every initializer any segment of the decoder graph can ask for, in file order. buildSegment asks for nothing
 * else (a stored-weights lookup that misses is an error there), so a weight file written from this list serves
 * every segment.
 */
export function graphWeights(cfg: ModelConfig, precision: WeightPrecision = "fp32"): GraphWeight[] {
  const matrix: GraphWeight["format"] = precision === "int8" ? "q8" : "f32";
  const one = (name: string, format: GraphWeight["format"] = "f32"): GraphWeight => ({ name, parts: [name], format });
  const fused = (prefixes: string[], kind: "weight" | "bias"): GraphWeight => ({
    name: fusedWeightName(prefixes, kind),
    parts: prefixes.map((p) => `${p}.${kind}`),
    format: kind === "weight" ? matrix : "f32",
  });
  const out: GraphWeight[] = [one("model.embed_tokens.weight")];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.push(one(`${p}.input_layernorm.weight`), fused(qkvPrefixes(i), "weight"));
    if (cfg.attentionBias) out.push(fused(qkvPrefixes(i), "bias"));
    out.push(one(`${p}.self_attn.o_proj.weight`, matrix));
    if (cfg.oProjBias) out.push(one(`${p}.self_attn.o_proj.bias`));
    out.push(one(`${p}.post_attention_layernorm.weight`), fused(gateUpPrefixes(i), "weight"));
    if (cfg.mlpBias) out.push(fused(gateUpPrefixes(i), "bias"));
    out.push(one(`${p}.mlp.down_proj.weight`, matrix));
    if (cfg.mlpBias) out.push(one(`${p}.mlp.down_proj.bias`));
  }
  out.push(one("model.norm.weight"));
  // The head: with tied embeddings at int8, an 8-bit copy of the embedding (the Gather keeps the float32 one).
  if (!cfg.tieWordEmbeddings) out.push(one("lm_head.weight", matrix));
  else if (matrix === "q8") out.push(one("model.embed_tokens.weight", "q8"));
  return out;
}

export interface BuiltSegment {
  model: Uint8Array;
  blobs: ExternalBlob[];
  /** Residual-stream hook names of this segment, in the order of the `steer` rows (outputs of the same name, `[N, D]`). */
  hooks: string[];
  /** Attention hook names this segment reports (outputs of the same name, TransformerLens layouts). */
  attnHooks: string[];
  /** At an `end` point: the outputs to feed the next segment, as `[output name, its input name there]`. */
  carry: [string, string][];
  /** At an `end` point: the output holding the hook value (what an edit replaces). */
  endValue: string | null;
  /** Layers whose attention runs in this segment (they take past_key/value inputs). */
  layers: number[];
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function buildSegment(cfg: ModelConfig, weights: WeightGetter, spec: SegmentSpec, stored?: StoredWeights): BuiltSegment {
  const L = cfg.numLayers;
  const D = cfg.hiddenSize;
  const H = cfg.numHeads;
  const KV = cfg.numKvHeads;
  const hd = cfg.headDim;
  const G = H / KV;
  const g = new GraphBuilder("safesail_decoder");
  const F = DataType.FLOAT;
  const I64 = DataType.INT64;

  const attnMode = spec.attentionHooks === true || (spec.start !== null && isAttnPoint(spec.start)) || (spec.end !== null && isAttnPoint(spec.end));
  const firstPoint = spec.start ? walkIndex(spec.start) + 1 : 0;
  const lastPoint = spec.end ? walkIndex(spec.end) : L * WALK_PER_BLOCK - 1;
  if (lastPoint < firstPoint - 1) throw new Error(`segment end ${spec.end && anyHookName(spec.end)} is before its start`);

  const positionIds = g.input(SegmentIO.positionIds, I64, ["batch", "seq"]);
  const attentionMask = g.input(SegmentIO.attentionMask, I64, ["batch", "total_seq"]);
  const cache = new Map<string, string>();
  // One initializer from the weights: mapped from the stored file when there is one, else handed over in memory
  // (the parts concatenated by rows).
  const initializer = (name: string, parts: string[]): string => {
    const hit = cache.get(name);
    if (hit) return hit;
    let id: string;
    if (stored) {
      const at = stored.lookup(name);
      if (!at) throw new Error(`stored weights in ${stored.folder} have no "${name}" (written by an older safesail? delete that folder)`);
      id = g.storedWeight(name, at.shape, at.location, at.offset, at.length);
    } else if (parts.length === 1) {
      const t = weights(parts[0]!);
      id = g.weight(name, t.shape, t.data);
    } else {
      const ts = parts.map((p) => weights(p));
      const rows = ts.reduce((n, t) => n + t.shape[0]!, 0);
      id = g.weight(name, ts[0]!.shape.length === 1 ? [rows] : [rows, ts[0]!.shape[1]!], concat(ts.map((t) => t.data)));
    }
    cache.set(name, id);
    return id;
  };
  const w = (name: string): string => initializer(name, [name]);
  // x [n, in] times a weight [out, in] transposed, plus an optional bias: Gemm on float32 weights; MatMulNBits
  // (8-bit blocks, int8 compute: onnxruntime's accuracy_level 4) where the stored weights hold the matrix as int8.
  const project = (x: string, name: string, parts: string[], bias?: string, opts: { outputs?: string[] } = {}): string => {
    const q = stored?.precision === "int8" ? quantizedNames(name) : null;
    const blocks = q ? stored!.lookup(q.blocks) : undefined;
    if (!q || !blocks) return g.op("Gemm", bias ? [x, initializer(name, parts), bias] : [x, initializer(name, parts)], { transB: 1 }, opts);
    let ids = cache.get(q.blocks);
    if (!ids) {
      const scales = stored!.lookup(q.scales);
      if (!scales) throw new Error(`stored weights in ${stored!.folder} have blocks but no scales for "${name}" (delete that folder)`);
      g.storedWeight(q.blocks, blocks.shape, blocks.location, blocks.offset, blocks.length, DataType.UINT8);
      g.storedWeight(q.scales, scales.shape, scales.location, scales.offset, scales.length);
      cache.set(q.blocks, (ids = q.blocks));
    }
    const [N, kBlocks] = blocks.shape as [number, number, number];
    const attrs = { K: blocks.inFeatures ?? kBlocks * Q8_BLOCK, N, bits: 8, block_size: Q8_BLOCK, accuracy_level: 4 };
    if (!bias) return g.op("MatMulNBits", [x, q.blocks, q.scales], attrs, { ...opts, domain: "com.microsoft" });
    return g.op("Add", [g.op("MatMulNBits", [x, q.blocks, q.scales], attrs, { domain: "com.microsoft" }), bias], {}, opts);
  };

  // Shapes used everywhere: [B, T] from position_ids, kvLen from the attention mask.
  const shapeBT = g.op("Shape", [positionIds]);
  const B = g.op("Slice", [shapeBT, g.constI64([0]), g.constI64([1])]);
  const T = g.op("Slice", [shapeBT, g.constI64([1]), g.constI64([2])]);
  const kvLen = g.op("Slice", [g.op("Shape", [attentionMask]), g.constI64([1]), g.constI64([2])]);
  const shape4 = (a: string, b: string, c: string, d: string) => g.op("Concat", [a, b, c, d], { axis: 0 });
  const c = (v: number) => g.constI64([v]);

  // Rotary tables and the attention bias are computed once per segment and shared by its layers.
  let rope: { cos: string; sin: string } | null = null;
  let attnBias: string | null = null;
  const ensureAttentionInputs = () => {
    if (rope && attnBias) return;
    const invFreq = Array.from(computeInvFreq(cfg), (v) => Math.fround(v));
    const pos = g.op("Unsqueeze", [g.op("Cast", [positionIds], { to: F }), c(2)]); // [B,T,1]
    const freqs = g.op("Mul", [pos, g.constF(invFreq, [invFreq.length])]); // [B,T,hd/2]
    const emb = g.op("Concat", [freqs, freqs], { axis: -1 }); // [B,T,hd]
    rope = {
      cos: g.op("Unsqueeze", [g.op("Cos", [emb]), c(1)]), // [B,1,T,hd]
      sin: g.op("Unsqueeze", [g.op("Sin", [emb]), c(1)]),
    };
    // Query t sits at absolute index past + t; it may see key k when k <= past + t and mask[k] == 1.
    const past = g.op("Sub", [kvLen, T]);
    const qIdx = g.op("Unsqueeze", [g.op("Range", [g.op("Squeeze", [past]), g.op("Squeeze", [kvLen]), g.constI64([1], [])]), c(1)]);
    const kIdx = g.op("Unsqueeze", [g.op("Range", [g.constI64([0], []), g.op("Squeeze", [kvLen]), g.constI64([1], [])]), c(0)]);
    const causal = g.op("LessOrEqual", [kIdx, qIdx]); // [T, kvLen]
    const keep = g.op("Cast", [g.op("Unsqueeze", [attentionMask, g.constI64([1, 2, 3])])], { to: DataType.BOOL }); // [B,1,1,1,kvLen]
    const allowed = g.op("And", [keep, causal]); // [B,1,1,T,kvLen]
    attnBias = g.op("Where", [allowed, g.constF([0], []), g.constF([-1e30], [])]);
  };

  // Written as Pow -> ReduceMean -> Add -> Sqrt -> Div -> Mul, the pattern onnxruntime fuses into one
  // SimplifiedLayerNormalization kernel.
  const rmsNorm = (x: string, weightName: string) => {
    const ms = g.op("ReduceMean", [g.op("Pow", [x, g.constF([2], [])])], { axes: [-1], keepdims: 1 });
    const rms = g.op("Sqrt", [g.op("Add", [ms, g.constF([cfg.rmsNormEps], [])])]);
    return g.op("Mul", [g.op("Div", [x, rms]), w(weightName)]);
  };

  // Several projections of one input as one Gemm over row-concatenated weights, then a Split: fewer,
  // larger matrix products (decode reads every weight once per token either way).
  const fusedLinear = (x: string, prefixes: string[], bias: boolean, outDims: number[]) => {
    const biasName = bias ? initializer(fusedWeightName(prefixes, "bias"), prefixes.map((p) => `${p}.bias`)) : undefined;
    const y = project(x, fusedWeightName(prefixes, "weight"), prefixes.map((p) => `${p}.weight`), biasName);
    return g.opMulti("Split", [y, g.constI64(outDims)], outDims.length, { axis: -1 });
  };

  const linear = (x: string, prefix: string, bias: boolean) => project(x, `${prefix}.weight`, [`${prefix}.weight`], bias ? w(`${prefix}.bias`) : undefined);

  const applyRope = (x: string) => {
    const r = rope!;
    const [x1, x2] = g.opMulti("Split", [x, g.constI64([hd / 2, hd / 2])], 2, { axis: -1 });
    const rotated = g.op("Concat", [g.op("Neg", [x2!]), x1!], { axis: -1 });
    return g.op("Add", [g.op("Mul", [x, r.cos]), g.op("Mul", [rotated, r.sin])]);
  };

  const layers: number[] = [];
  const attention = (x: string, layer: number) => {
    ensureAttentionInputs();
    layers.push(layer);
    const p = `model.layers.${layer}`;
    const h = rmsNorm(x, `${p}.input_layernorm.weight`);
    const [qFlat, kFlat, vFlat] = fusedLinear(h, qkvPrefixes(layer), cfg.attentionBias, [H * hd, KV * hd, KV * hd]);
    const heads = (flat: string, n: number) => g.op("Transpose", [g.op("Reshape", [flat, shape4(B, T, c(n), c(hd))])], { perm: [0, 2, 1, 3] });
    const q = applyRope(heads(qFlat!, H)); // [B,H,T,hd]
    const kNew = applyRope(heads(kFlat!, KV)); // [B,KV,T,hd]
    const vNew = heads(vFlat!, KV);
    const pastK = g.input(SegmentIO.pastKey(layer), F, ["batch", KV, "past_seq", hd]);
    const pastV = g.input(SegmentIO.pastValue(layer), F, ["batch", KV, "past_seq", hd]);
    const k = g.op("Concat", [pastK, kNew], { axis: 2 }, { outputs: [SegmentIO.presentKey(layer)] });
    const v = g.op("Concat", [pastV, vNew], { axis: 2 }, { outputs: [SegmentIO.presentValue(layer)] });
    g.output(SegmentIO.presentKey(layer), F, ["batch", KV, "total_seq", hd]);
    g.output(SegmentIO.presentValue(layer), F, ["batch", KV, "total_seq", hd]);
    // Grouped-query attention without copying K/V per head: queries as [B, KV, G, T, hd] against
    // keys as [B, KV, 1, kvLen, hd]; MatMul broadcasts over the group axis.
    const q5 = g.op("Reshape", [g.op("Mul", [q, g.constF([1 / Math.sqrt(hd)], [])]), g.op("Concat", [B, c(KV), c(G), T, c(hd)], { axis: 0 })]);
    const k5 = g.op("Unsqueeze", [g.op("Transpose", [k], { perm: [0, 1, 3, 2] }), c(2)]); // [B,KV,1,hd,kvLen]
    const v5 = g.op("Unsqueeze", [v, c(2)]); // [B,KV,1,kvLen,hd]
    const probs = g.op("Softmax", [g.op("Add", [g.op("MatMul", [q5, k5]), attnBias!])], { axis: -1 });
    const ctx = g.op("MatMul", [probs, v5]); // [B,KV,G,T,hd]
    const merged = g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [ctx, shape4(B, c(H), T, c(hd))])], { perm: [0, 2, 1, 3] }), g.constI64([-1, H * hd])]);
    return linear(merged, `${p}.self_attn.o_proj`, cfg.oProjBias);
  };

  // Attention written out step by step (attention-hook segments), state in TransformerLens layouts.
  const dimsOf: Record<AttnKey, (string | number)[]> = {
    q: ["batch", "seq", H, hd],
    k: ["batch", "seq", KV, hd],
    v: ["batch", "seq", KV, hd],
    rot_q: ["batch", "seq", H, hd],
    rot_k: ["batch", "seq", KV, hd],
    attn_scores: ["batch", H, "seq", "total_seq"],
    pattern: ["batch", H, "seq", "total_seq"],
    z: ["batch", "seq", H, hd],
    v_full: ["batch", KV, "total_seq", hd],
  };
  let att: Partial<Record<AttnKey, string>> = {};
  const attnHooks: string[] = [];
  const attnHook = (value: string, layer: number, site: AttnSite): string => {
    const name = anyHookName({ layer, attn: site });
    attnHooks.push(name);
    g.output(name, F, dimsOf[site]);
    return g.op("Identity", [value], {}, { outputs: [name] });
  };
  const toHeadsFirst = (x: string) => g.op("Transpose", [x], { perm: [0, 2, 1, 3] }); // [B,T,n,hd] <-> [B,n,T,hd]
  const attentionStep = (x: string, layer: number, site: AttnSite) => {
    const p = `model.layers.${layer}`;
    switch (site) {
      case "q": {
        const h = rmsNorm(x, `${p}.input_layernorm.weight`);
        const [qFlat, kFlat, vFlat] = fusedLinear(h, qkvPrefixes(layer), cfg.attentionBias, [H * hd, KV * hd, KV * hd]);
        const split = (flat: string, n: number) => g.op("Reshape", [flat, shape4(B, T, c(n), c(hd))]);
        att = { q: split(qFlat!, H), k: split(kFlat!, KV), v: split(vFlat!, KV) };
        att.q = attnHook(att.q!, layer, "q");
        break;
      }
      case "k":
      case "v":
        att[site] = attnHook(att[site]!, layer, site);
        break;
      case "rot_q":
      case "rot_k": {
        ensureAttentionInputs();
        const from = site === "rot_q" ? "q" : "k";
        att[site] = attnHook(toHeadsFirst(applyRope(toHeadsFirst(att[from]!))), layer, site);
        delete att[from];
        break;
      }
      case "attn_scores": {
        ensureAttentionInputs();
        layers.push(layer);
        const pastK = g.input(SegmentIO.pastKey(layer), F, ["batch", KV, "past_seq", hd]);
        const pastV = g.input(SegmentIO.pastValue(layer), F, ["batch", KV, "past_seq", hd]);
        const k = g.op("Concat", [pastK, toHeadsFirst(att.rot_k!)], { axis: 2 }, { outputs: [SegmentIO.presentKey(layer)] });
        att.v_full = g.op("Concat", [pastV, toHeadsFirst(att.v!)], { axis: 2 }, { outputs: [SegmentIO.presentValue(layer)] });
        g.output(SegmentIO.presentKey(layer), F, ["batch", KV, "total_seq", hd]);
        g.output(SegmentIO.presentValue(layer), F, ["batch", KV, "total_seq", hd]);
        const q5 = g.op("Reshape", [g.op("Mul", [toHeadsFirst(att.rot_q!), g.constF([1 / Math.sqrt(hd)], [])]), g.op("Concat", [B, c(KV), c(G), T, c(hd)], { axis: 0 })]);
        const k5 = g.op("Unsqueeze", [g.op("Transpose", [k], { perm: [0, 1, 3, 2] }), c(2)]); // [B,KV,1,hd,kvLen]
        const scores = g.op("Add", [g.op("MatMul", [q5, k5]), attnBias!]); // [B,KV,G,T,kvLen]
        att = { v_full: att.v_full, attn_scores: attnHook(g.op("Reshape", [scores, shape4(B, c(H), T, kvLen)]), layer, "attn_scores") };
        break;
      }
      case "pattern":
        att = { v_full: att.v_full, pattern: attnHook(g.op("Softmax", [att.attn_scores!], { axis: -1 }), layer, "pattern") };
        break;
      case "z": {
        const p5 = g.op("Reshape", [att.pattern!, g.op("Concat", [B, c(KV), c(G), T, kvLen], { axis: 0 })]);
        const ctx = g.op("MatMul", [p5, g.op("Unsqueeze", [att.v_full!, c(2)])]); // [B,KV,G,T,hd]
        att = { z: attnHook(toHeadsFirst(g.op("Reshape", [ctx, shape4(B, c(H), T, c(hd))])), layer, "z") };
        break;
      }
    }
  };
  const attentionOut = (layer: number) => {
    const merged = g.op("Reshape", [att.z!, g.constI64([-1, H * hd])]);
    att = {};
    return linear(merged, `model.layers.${layer}.self_attn.o_proj`, cfg.oProjBias);
  };

  const mlp = (x: string, layer: number) => {
    const p = `model.layers.${layer}`;
    const h = rmsNorm(x, `${p}.post_attention_layernorm.weight`);
    const [gate, up] = fusedLinear(h, gateUpPrefixes(layer), cfg.mlpBias, [cfg.intermediateSize, cfg.intermediateSize]) as [string, string];
    const act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up]);
    return linear(act, `${p}.mlp.down_proj`, cfg.mlpBias);
  };

  // State carried along the walk: the residual stream, plus a branch output at attn_out / mlp_out.
  let resid: string;
  let branch: string | null = null;
  if (spec.start === null) {
    const ids = g.input(SegmentIO.inputIds, I64, ["batch", "seq"]);
    const flat = g.op("Reshape", [ids, g.constI64([-1])]);
    resid = g.op("Gather", [w("model.embed_tokens.weight"), flat], { axis: 0 }); // [N, D]
  } else {
    resid = g.input(SegmentIO.residIn, F, ["n", D]);
    if (isBranchPoint(spec.start)) branch = g.input(SegmentIO.branchIn, F, ["n", D]);
    if (isAttnPoint(spec.start)) for (const key of LIVE_AFTER[spec.start.attn]) att[key] = g.input(SegmentIO.attnIn(key), F, dimsOf[key]);
  }

  const hooks: string[] = [];
  let steerInput: string | undefined;
  // Apply the steering add at a point and expose the value under the hook's name.
  const hookAt = (value: string, point: HookPoint): string => {
    const name = hookName(point);
    const row = hooks.length;
    hooks.push(name);
    g.output(name, F, ["n", D]);
    if (spec.steerable === false) return g.op("Identity", [value], {}, { outputs: [name] });
    steerInput ??= g.input(SegmentIO.steer, F, ["hooks", D]);
    const delta = g.op("Slice", [steerInput, g.constI64([row]), g.constI64([row + 1])]); // [1, D]
    return g.op("Add", [value, delta], {}, { outputs: [name] });
  };

  for (let idx = firstPoint; idx <= lastPoint; idx++) {
    const point = walkAt(idx);
    if (isAttnPoint(point)) {
      if (attnMode) attentionStep(resid, point.layer, point.attn);
      continue;
    }
    switch (point.site) {
      case "resid_pre":
        resid = hookAt(resid, point);
        break;
      case "attn_out":
        branch = hookAt(attnMode ? attentionOut(point.layer) : attention(resid, point.layer), point);
        break;
      case "resid_mid":
        resid = hookAt(g.op("Add", [resid, branch!]), point);
        branch = null;
        break;
      case "mlp_out":
        branch = hookAt(mlp(resid, point.layer), point);
        break;
      case "resid_post":
        resid = hookAt(g.op("Add", [resid, branch!]), point);
        branch = null;
        break;
    }
  }

  if (spec.end === null) {
    // Logits only for the rows the caller lists (flat index b * seq + t): all rows for scoring, the last of
    // each row for generation, none when only hooks are wanted. ORT runs every node of a graph whatever
    // is fetched, so the choice has to be an input rather than a second output.
    const rows = g.input(SegmentIO.logitRows, I64, ["k"]);
    const picked = g.op("Gather", [resid, rows], { axis: 0 });
    const head = cfg.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
    project(rmsNorm(picked, "model.norm.weight"), head, [head], undefined, { outputs: [SegmentIO.logits] });
    g.output(SegmentIO.logits, F, ["k", cfg.vocabSize]);
  }
  const carry: [string, string][] = [];
  let endValue: string | null = null;
  if (spec.end !== null) {
    g.op("Identity", [resid], {}, { outputs: [SegmentIO.residOut] });
    g.output(SegmentIO.residOut, F, ["n", D]);
    carry.push([SegmentIO.residOut, SegmentIO.residIn]);
    endValue = SegmentIO.residOut;
    if (branch) {
      g.op("Identity", [branch], {}, { outputs: [SegmentIO.branchOut] });
      g.output(SegmentIO.branchOut, F, ["n", D]);
      carry.push([SegmentIO.branchOut, SegmentIO.branchIn]);
      endValue = SegmentIO.branchOut;
    }
    if (isAttnPoint(spec.end)) {
      for (const key of LIVE_AFTER[spec.end.attn]) {
        g.op("Identity", [att[key]!], {}, { outputs: [SegmentIO.attnOut(key)] });
        g.output(SegmentIO.attnOut(key), F, dimsOf[key]);
        carry.push([SegmentIO.attnOut(key), SegmentIO.attnIn(key)]);
      }
      endValue = SegmentIO.attnOut(spec.end.attn);
    }
  }

  const { model, blobs } = g.build();
  return { model, blobs, hooks, attnHooks, carry, endValue, layers };
}
