// Qwen2 / Llama forward pass in float32 with TensorFlow.js ops, recording TransformerLens-style hooks.
//
// Built in two layers so training code can reuse it:
//  - `forwardTensors(tf, params, cfg, inputs, opts)` is a pure function of tensors: no reads, no
//    disposal, no async. It works inside `tf.tidy`, `tf.grad` and `tf.variableGrads`, and takes
//    optional hook functions that may replace an activation (for SAE splicing, steering, ablation).
//  - `TfjsForward` owns the parameters (uploaded once from a WeightSource) and turns `number[][]`
//    ids into a `ForwardResult` of plain Float32Arrays with no tensor left behind.
//
// Parameter naming and layout (see `tfjsParamSpecs`): TransformerLens-like names, every linear
// weight pre-transposed to `[in, out]` so each projection is a plain 2-D matMul on `[B*T, in]`
// rows (the fast path of the wasm backend; transpose flags and batched matMuls are ~12x slower).
//
//   embed.W_E             [V, D]     model.embed_tokens.weight          (absent when tied)
//   blocks.{i}.ln1.w      [D]        model.layers.{i}.input_layernorm.weight
//   blocks.{i}.attn.W_Q   [D, H*hd]  q_proj.weight^T   (+ attn.b_Q [H*hd] when attentionBias)
//   blocks.{i}.attn.W_K   [D, KV*hd] k_proj.weight^T   (+ attn.b_K)
//   blocks.{i}.attn.W_V   [D, KV*hd] v_proj.weight^T   (+ attn.b_V)
//   blocks.{i}.attn.W_O   [H*hd, D]  o_proj.weight^T   (+ attn.b_O [D] when oProjBias)
//   blocks.{i}.ln2.w      [D]        model.layers.{i}.post_attention_layernorm.weight
//   blocks.{i}.mlp.W_gate [D, I]     gate_proj.weight^T (+ mlp.b_gate when mlpBias)
//   blocks.{i}.mlp.W_in   [D, I]     up_proj.weight^T   (+ mlp.b_in)
//   blocks.{i}.mlp.W_out  [I, D]     down_proj.weight^T (+ mlp.b_out)
//   ln_final.w            [D]        model.norm.weight
//   unembed.W_U           [D, V]     lm_head.weight^T, or embed_tokens.weight^T when tied
//
// With tied embeddings only `unembed.W_U` exists and the embedding lookup gathers its columns, so
// one tensor serves both ends (and receives both gradients).
//
// Masking matches `referenceForward`: key s is visible to query t when s <= t and the attention mask
// keeps s; a query with no visible key (left padding) gets a zero attention output.
import { getTf, type Tf, type TfBackend } from "../engine/tfjs.ts";
import { ConfigError, NotFoundError } from "../errors.ts";
import { checkHeadLayout, computeInvFreq, normalizeForwardInputs, type ForwardOptions } from "./reference.ts";
import { type F32Tensor, type ForwardResult, type ModelConfig, type WeightSource } from "./types.ts";
import { hookName } from "./hooks.ts";
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from "@tensorflow/tfjs";

/** One parameter of the tfjs forward and where it comes from. */
export interface TfjsParamSpec {
  /** Name in the params record, e.g. `blocks.0.attn.W_Q`. */
  name: string;
  /** Hugging Face weight it is read from. */
  hfName: string;
  /** Shape in the params record. */
  shape: number[];
  /** Whether the Hugging Face `[out, in]` weight is stored transposed (`[in, out]`). */
  transposed: boolean;
}

/** Parameters of the tfjs forward, keyed by {@link TfjsParamSpec.name}. */
export type TfjsParams = Record<string, Tensor>;

/** Every parameter the forward of `cfg` reads, in a stable order. */
export function tfjsParamSpecs(cfg: ModelConfig): TfjsParamSpec[] {
  const D = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const I = cfg.intermediateSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const specs: TfjsParamSpec[] = [];
  const vec = (name: string, hfName: string, size: number): void => void specs.push({ name, hfName, shape: [size], transposed: false });
  const lin = (name: string, hfName: string, inDim: number, outDim: number): void =>
    void specs.push({ name, hfName, shape: [inDim, outDim], transposed: true });

  if (!cfg.tieWordEmbeddings) specs.push({ name: "embed.W_E", hfName: "model.embed_tokens.weight", shape: [V, D], transposed: false });
  for (let i = 0; i < cfg.numLayers; i++) {
    const hf = `model.layers.${i}`;
    const b = `blocks.${i}`;
    vec(`${b}.ln1.w`, `${hf}.input_layernorm.weight`, D);
    lin(`${b}.attn.W_Q`, `${hf}.self_attn.q_proj.weight`, D, qDim);
    if (cfg.attentionBias) vec(`${b}.attn.b_Q`, `${hf}.self_attn.q_proj.bias`, qDim);
    lin(`${b}.attn.W_K`, `${hf}.self_attn.k_proj.weight`, D, kvDim);
    if (cfg.attentionBias) vec(`${b}.attn.b_K`, `${hf}.self_attn.k_proj.bias`, kvDim);
    lin(`${b}.attn.W_V`, `${hf}.self_attn.v_proj.weight`, D, kvDim);
    if (cfg.attentionBias) vec(`${b}.attn.b_V`, `${hf}.self_attn.v_proj.bias`, kvDim);
    lin(`${b}.attn.W_O`, `${hf}.self_attn.o_proj.weight`, qDim, D);
    if (cfg.oProjBias) vec(`${b}.attn.b_O`, `${hf}.self_attn.o_proj.bias`, D);
    vec(`${b}.ln2.w`, `${hf}.post_attention_layernorm.weight`, D);
    lin(`${b}.mlp.W_gate`, `${hf}.mlp.gate_proj.weight`, D, I);
    if (cfg.mlpBias) vec(`${b}.mlp.b_gate`, `${hf}.mlp.gate_proj.bias`, I);
    lin(`${b}.mlp.W_in`, `${hf}.mlp.up_proj.weight`, D, I);
    if (cfg.mlpBias) vec(`${b}.mlp.b_in`, `${hf}.mlp.up_proj.bias`, I);
    lin(`${b}.mlp.W_out`, `${hf}.mlp.down_proj.weight`, I, D);
    if (cfg.mlpBias) vec(`${b}.mlp.b_out`, `${hf}.mlp.down_proj.bias`, D);
  }
  vec("ln_final.w", "model.norm.weight", D);
  lin("unembed.W_U", cfg.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight", D, V);
  return specs;
}

/**
 * Uploads every parameter of `cfg` from `weights` as float32 tensors in the layout of
 * {@link tfjsParamSpecs}. The caller owns (and must dispose) the returned tensors.
 */
export function loadTfjsParams(tf: Tf, cfg: ModelConfig, weights: WeightSource): TfjsParams {
  checkHeadLayout(cfg);
  const params: TfjsParams = {};
  try {
    for (const spec of tfjsParamSpecs(cfg)) {
      if (!weights.has(spec.hfName)) throw new NotFoundError(`weight "${spec.hfName}" is missing`, { field: spec.hfName });
      const w = weights.get(spec.hfName);
      const hfShape = spec.transposed ? [spec.shape[1]!, spec.shape[0]!] : spec.shape;
      if (w.shape.length !== hfShape.length || w.shape.some((d, i) => d !== hfShape[i])) {
        throw new ConfigError(`weight "${spec.hfName}": shape [${w.shape.join(", ")}] but the config implies [${hfShape.join(", ")}]`, {
          field: spec.hfName,
        });
      }
      params[spec.name] = tf.tidy(() => {
        const t = tf.tensor(w.data, hfShape, "float32");
        return spec.transposed ? tf.transpose(t) : t;
      });
    }
  } catch (err) {
    for (const t of Object.values(params)) t.dispose();
    throw err;
  }
  return params;
}

/** Tensors a forward pass needs besides the parameters; build them with {@link prepareTfjsInputs}. */
export interface TfjsInputs {
  /** `[B, T]` int32 token ids. */
  ids: Tensor2D;
  /** `[B, T, 1, hd]` RoPE cos/sin (`concat(angle, angle)`), broadcast over heads. */
  cos: Tensor4D;
  sin: Tensor4D;
  /** `[B, 1, T, T]` additive mask: 0 where key s is visible to query t, -1e9 elsewhere. */
  maskBias: Tensor4D;
  /** `[B, 1, T, T]` 0/1 visibility, present only when some query sees no key (it zeroes that row). */
  maskKeep: Tensor4D | null;
}

/** Added to the scores of hidden keys. Finite so that a fully hidden row cannot produce NaN. */
const MASKED_SCORE = -1e9;

/**
 * Validates ids/positions/mask (as {@link referenceForward} does) and builds the input tensors.
 * cos/sin are computed in float64 on the host, then rounded to float32.
 */
export function prepareTfjsInputs(tf: Tf, cfg: ModelConfig, ids: number[][], opts: ForwardOptions = {}): TfjsInputs {
  const inp = normalizeForwardInputs(cfg, ids, opts);
  const { batch: B, seqLen: T } = inp;
  const hd = cfg.headDim;
  const half = hd / 2;
  const invFreq = computeInvFreq(cfg);
  const cos = new Float32Array(B * T * hd);
  const sin = new Float32Array(B * T * hd);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const pos = inp.positionIds[b]![t]!;
      const off = (b * T + t) * hd;
      for (let j = 0; j < half; j++) {
        const angle = pos * invFreq[j]!;
        cos[off + j] = cos[off + j + half] = Math.cos(angle);
        sin[off + j] = sin[off + j + half] = Math.sin(angle);
      }
    }
  }
  const bias = new Float32Array(B * T * T);
  const keep = new Float32Array(B * T * T);
  let someRowBlind = false;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      let visibleCount = 0;
      for (let s = 0; s < T; s++) {
        const visible = s <= t && (inp.attentionMask === null || inp.attentionMask[b]![s] !== 0);
        const e = (b * T + t) * T + s;
        bias[e] = visible ? 0 : MASKED_SCORE;
        keep[e] = visible ? 1 : 0;
        if (visible) visibleCount++;
      }
      if (visibleCount === 0) someRowBlind = true;
    }
  }
  return {
    ids: tf.tensor2d(inp.ids.flat(), [B, T], "int32"),
    cos: tf.tensor4d(cos, [B, T, 1, hd]),
    sin: tf.tensor4d(sin, [B, T, 1, hd]),
    maskBias: tf.tensor4d(bias, [B, 1, T, T]),
    maskKeep: someRowBlind ? tf.tensor4d(keep, [B, 1, T, T]) : null,
  };
}

/** Replaces (or just observes) a hook activation `[B, T, D]`; must return the same shape. */
export type HookFn = (activation: Tensor3D, name: string) => Tensor3D;

export interface ForwardTensorsOptions {
  /** Hook names to return; default all of them. Pass `[]` to return none. */
  hooks?: readonly string[];
  /** Functions applied at hook points, by hook name; their output replaces the activation downstream. */
  hookFns?: Record<string, HookFn>;
  /** Compute logits (default true). Set false to stop after the last layer, e.g. when only hooks matter. */
  logits?: boolean;
  /** Run only the first `numLayers` layers (default all); logits are then not computed. */
  numLayers?: number;
  /**
   * Training kernels: the same forward values (to float rounding), with gradients that stay on the
   * wasm backend's fast paths. Every projection goes through {@link matMul2d}, whose gradient uses
   * explicit transposes and plain 2-D matMuls; the attention products through {@link blockMatMul}
   * (one 2-D product per batch row and kv head, blocks cut by a kernel that copies straight out of
   * the wasm heap); RoPE's rotate_half is a product with a fixed signed permutation (no Slice); and
   * where the backend lacks UnsortedSegmentSum the embedding gradient is a host-side scatter-add
   * (it reads `dy` synchronously, so use it on the wasm and cpu backends only). About 6x faster
   * forward+backward on wasm than the default kernels. Default false.
   */
  fastGrad?: boolean;
}

export interface ForwardTensorsResult {
  /** `[B, T, V]`, or null when not requested. */
  logits: Tensor3D | null;
  /** `[B, T, D]` per requested hook. */
  hooks: Record<string, Tensor3D>;
}


function param(params: TfjsParams, name: string): Tensor {
  const t = params[name];
  if (t === undefined) throw new NotFoundError(`tfjs parameter "${name}" is missing`, { field: name });
  return t;
}

/**
 * Embedding lookup `[N, D]`: rows of `table` (`[V, D]`), or columns of it when `columns` (`[D, V]`).
 * The gradient of `gather` needs the UnsortedSegmentSum kernel, which the wasm backend lacks; there
 * the lookup carries its own gradient, `dTable = onehot(ids)^T dy` as plain 2-D matMuls (the
 * backward pass materialises an `[N, V]` float32 one-hot matrix, 4·N·V bytes).
 */
function embedLookup(tf: Tf, table: Tensor2D, ids: Tensor1D, columns: boolean): Tensor2D {
  const lookup = (t: Tensor, i: Tensor1D): Tensor2D => (columns ? tf.transpose(tf.gather(t, i, 1)) : tf.gather(t, i)) as Tensor2D;
  if (tf.getKernel("UnsortedSegmentSum", tf.getBackend()) !== undefined) return lookup(table, ids);
  const vocab = columns ? table.shape[1] : table.shape[0];
  // ids go in as an input and are saved for the backward pass, rather than captured by the closure,
  // so the gradient never depends on the lifetime of forward-pass intermediates.
  const withGrad = tf.customGrad<Tensor2D>((...args) => {
    const [t, i, save] = args as [Tensor, Tensor1D, (tensors: Tensor[]) => void];
    save([i]);
    return {
      value: lookup(t, i),
      gradFunc: (dy: Tensor2D, saved: Tensor[]) => {
        const savedIds = saved[0] as Tensor1D;
        // The wasm OneHot kernel ignores dtype "float32" (it writes int32 bit patterns): cast instead.
        const oneHot = tf.cast(tf.oneHot(savedIds, vocab), "float32"); // [N, V]
        const byToken = tf.matMul(tf.transpose(dy), oneHot); // [D, N] x [N, V]
        return [columns ? byToken : tf.transpose(byToken), tf.zerosLike(savedIds)];
      },
    };
  });
  return withGrad(table, ids);
}

/**
 * A plain 2-D `a · b` whose gradient uses explicit transposes then plain 2-D matMuls
 * (`da = dy · bᵀ`, `db = aᵀ · dy`): tfjs's own matMul gradient sets the transpose flags, which send
 * the wasm backend to a kernel about 12x slower.
 */
export function matMul2d(tf: Tf, a: Tensor2D, b: Tensor2D): Tensor2D {
  const f = tf.customGrad<Tensor2D>((...args) => {
    const [x, w, save] = args as [Tensor2D, Tensor2D, (tensors: Tensor[]) => void];
    save([x, w]);
    return {
      value: tf.matMul(x, w),
      gradFunc: (dy: Tensor2D, saved: Tensor[]) => {
        const [sx, sw] = saved as [Tensor2D, Tensor2D];
        return [tf.matMul(dy, tf.transpose(sw)), tf.matMul(tf.transpose(sx), dy)];
      },
    };
  });
  return f(a, b);
}

/** `x · c` for a constant `c`: the gradient reaches `x` only (`dx = dy · cᵀ`, explicit transpose). */
function matMulConst(tf: Tf, x: Tensor2D, c: Tensor2D): Tensor2D {
  const f = tf.customGrad<Tensor2D>((...args) => {
    const [a, b, save] = args as [Tensor2D, Tensor2D, (tensors: Tensor[]) => void];
    save([b]);
    return {
      value: tf.matMul(a, b),
      gradFunc: (dy: Tensor2D, saved: Tensor[]) => [tf.matMul(dy, tf.transpose(saved[0] as Tensor2D)), tf.zerosLike(saved[0]!)],
    };
  });
  return f(x, c);
}

/** What `splitBlocks`'s wasm kernel uses of the wasm backend (public methods of its class). */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: string): { dataId: object; shape: number[]; dtype: string };
  typedArrayFromHeap(t: { dataId: object; shape: number[]; dtype: string }): Float32Array;
}

const SPLIT_BLOCKS_KERNEL = "SafesailSplitBlocks";
const splitKernelRegistered = new Set<string>();

/**
 * Splits `x` into `count` equal contiguous blocks (flat, `[size / count]` each). On wasm this is a kernel
 * of our own that copies each block straight out of the heap: the backend's Slice (and so Unpack and
 * Split) first copies its whole input out of the heap once per block, and its Gather walks element by
 * element, which made the per-block attention products cost more than the model's projections.
 */
function splitBlocks(tf: Tf, x: Tensor, count: number): Tensor[] {
  const size = x.size / count;
  const backend = tf.getBackend();
  if (backend !== "wasm") return tf.split(tf.reshape(x, [count, size]), count, 0).map((t) => tf.reshape(t, [size]));
  if (!splitKernelRegistered.has(backend)) {
    if (tf.getKernel(SPLIT_BLOCKS_KERNEL, backend) === undefined) {
      tf.registerKernel({
        kernelName: SPLIT_BLOCKS_KERNEL,
        backendName: backend,
        kernelFunc: ({ inputs, backend: be, attrs }) => {
          const heap = be as unknown as WasmHeapBackend;
          const src = inputs.x as unknown as { dataId: object; shape: number[]; dtype: string };
          const n = (attrs as unknown as { count: number }).count;
          const len = src.shape.reduce((a, b) => a * b, 1) / n;
          const outs = [];
          for (let g = 0; g < n; g++) {
            const out = heap.makeOutput([len], src.dtype);
            // Views are taken after each allocation: growing the heap replaces its buffer.
            heap.typedArrayFromHeap(out).set(heap.typedArrayFromHeap(src).subarray(g * len, (g + 1) * len));
            outs.push(out);
          }
          return outs as never;
        },
      });
    }
    splitKernelRegistered.add(backend);
  }
  return tf.engine().runKernel(SPLIT_BLOCKS_KERNEL, { x }, { count } as never) as unknown as Tensor[];
}

/**
 * Batched product `c[g] = a[g] · b[g]` (`[G, m, k] x [G, k, n] -> [G, m, n]`) as G plain 2-D matMuls,
 * in both directions: wasm runs batched matMuls on its slow kernel.
 */
export function blockMatMul(tf: Tf, a: Tensor3D, b: Tensor3D): Tensor3D {
  const [G, m, k] = a.shape;
  const n = b.shape[2];
  if (b.shape[0] !== G || b.shape[1] !== k) throw new ConfigError(`blockMatMul: shapes [${a.shape.join(", ")}] and [${b.shape.join(", ")}] do not match`);
  const products = (x: Tensor3D, xr: number, xc: number, y: Tensor3D, yr: number, yc: number): Tensor3D => {
    const xs = splitBlocks(tf, x, G);
    const ys = splitBlocks(tf, y, G);
    const out: Tensor2D[] = [];
    for (let g = 0; g < G; g++) out.push(tf.matMul(tf.reshape(xs[g]!, [xr, xc]) as Tensor2D, tf.reshape(ys[g]!, [yr, yc]) as Tensor2D));
    return tf.reshape(tf.concat(out, 0), [G, xr, yc]) as Tensor3D;
  };
  const f = tf.customGrad<Tensor3D>((...args) => {
    const [x, w, save] = args as [Tensor3D, Tensor3D, (tensors: Tensor[]) => void];
    save([x, w]);
    return {
      value: products(x, m, k, w, k, n),
      gradFunc: (dy: Tensor3D, saved: Tensor[]) => {
        const [sx, sw] = saved as [Tensor3D, Tensor3D];
        return [products(dy, m, n, tf.transpose(sw, [0, 2, 1]), n, k), products(tf.transpose(sx, [0, 2, 1]), k, m, dy, m, n)];
      },
    };
  });
  return f(a, b);
}

/**
 * Embedding lookup like {@link embedLookup}, but where the backend lacks UnsortedSegmentSum the
 * gradient is a scatter-add on the host (`dy` read synchronously: O(N·D) work instead of the
 * one-hot product's O(N·D·V)).
 */
function embedLookupHostGrad(tf: Tf, table: Tensor2D, ids: Tensor1D, columns: boolean): Tensor2D {
  if (tf.getKernel("UnsortedSegmentSum", tf.getBackend()) !== undefined) return embedLookup(tf, table, ids, columns);
  const [rows, cols] = table.shape;
  const withGrad = tf.customGrad<Tensor2D>((...args) => {
    const [t, i, save] = args as [Tensor2D, Tensor1D, (tensors: Tensor[]) => void];
    save([i]);
    return {
      value: (columns ? tf.transpose(tf.gather(t, i, 1)) : tf.gather(t, i)) as Tensor2D,
      gradFunc: (dy: Tensor2D, saved: Tensor[]) => {
        const idv = saved[0]!.dataSync();
        const dyv = dy.dataSync() as Float32Array;
        const D = dy.shape[1];
        const g = new Float32Array(rows * cols);
        for (let n = 0; n < idv.length; n++) {
          const id = idv[n]!;
          const src = n * D;
          if (columns) for (let d = 0; d < D; d++) g[d * cols + id] += dyv[src + d]!;
          else for (let d = 0, dst = id * cols; d < D; d++) g[dst + d] += dyv[src + d]!;
        }
        return [tf.tensor2d(g, [rows, cols]), tf.zerosLike(saved[0]!)];
      },
    };
  });
  return withGrad(table, ids);
}

/**
 * The forward pass as a pure function of tensors (float32). Allocates intermediates freely: call
 * it inside `tf.tidy` (or `tf.grad` / `optimizer.minimize`, which tidy for you).
 */
export function forwardTensors(tf: Tf, params: TfjsParams, cfg: ModelConfig, inputs: TfjsInputs, opts: ForwardTensorsOptions = {}): ForwardTensorsResult {
  checkHeadLayout(cfg);
  const [B, T] = inputs.ids.shape;
  const D = cfg.hiddenSize;
  const H = cfg.numHeads;
  const KV = cfg.numKvHeads;
  const hd = cfg.headDim;
  const half = hd / 2;
  const group = H / KV;
  const N = B * T;
  const eps = cfg.rmsNormEps;
  const layers = Math.min(opts.numLayers ?? cfg.numLayers, cfg.numLayers);
  const wanted = opts.hooks === undefined ? null : new Set(opts.hooks);
  const hooks: Record<string, Tensor3D> = {};

  /** Passes the residual-shaped activation `[N, D]` through hook `name`. */
  const hookPoint = (name: string, x: Tensor2D): Tensor2D => {
    let y = tf.reshape(x, [B, T, D]) as Tensor3D;
    const fn = opts.hookFns?.[name];
    if (fn !== undefined) {
      y = fn(y, name);
      if (y.shape.length !== 3 || y.shape[0] !== B || y.shape[1] !== T || y.shape[2] !== D) {
        throw new ConfigError(`hook function for "${name}" returned shape [${y.shape.join(", ")}], expected [${B}, ${T}, ${D}]`, { field: name });
      }
      x = tf.reshape(y, [N, D]) as Tensor2D;
    }
    if (wanted === null || wanted.has(name)) hooks[name] = y;
    return x;
  };
  const fast = opts.fastGrad === true;
  const mm = (a: Tensor2D, b: Tensor2D): Tensor2D => (fast ? matMul2d(tf, a, b) : (tf.matMul(a, b) as Tensor2D));
  const linear = (x: Tensor2D, w: string, b: string | null): Tensor2D => {
    const y = mm(x, param(params, w) as Tensor2D);
    return b === null ? y : tf.add(y, param(params, b));
  };
  const rmsNorm = (x: Tensor2D, w: string): Tensor2D => {
    const meanSq = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSq, eps))), param(params, w));
  };
  /** `x * cos + rotate_half(x) * sin` on `[B, T, heads, hd]`. */
  const rope = (x: Tensor4D, heads: number): Tensor4D => {
    let rotated: Tensor;
    if (fast) {
      // rotate_half as a product with a signed permutation (wasm's Slice copies its whole input).
      rotated = tf.reshape(matMulConst(tf, tf.reshape(x, [B * T * heads, hd]) as Tensor2D, rotateHalfMatrix()), [B, T, heads, hd]);
    } else {
      const x1 = tf.slice(x, [0, 0, 0, 0], [B, T, heads, half]);
      const x2 = tf.slice(x, [0, 0, 0, half], [B, T, heads, half]);
      rotated = tf.concat([tf.neg(x2), x1], 3);
    }
    return tf.add(tf.mul(x, inputs.cos), tf.mul(rotated, inputs.sin));
  };
  let rotation: Tensor2D | null = null;
  /** `R` with `x · R = concat(-x2, x1)`, built once per forward. */
  const rotateHalfMatrix = (): Tensor2D => {
    if (rotation === null) {
      const r = new Float32Array(hd * hd);
      for (let j = 0; j < half; j++) {
        r[(j + half) * hd + j] = -1; // out[j] = -x[j + half]
        r[j * hd + j + half] = 1; // out[j + half] = x[j]
      }
      rotation = tf.tensor2d(r, [hd, hd]);
    }
    return rotation;
  };

  // Embedding lookup: rows of W_E, or columns of W_U when tied.
  const flatIds = tf.reshape(inputs.ids, [N]) as Tensor1D;
  const lookup = fast ? embedLookupHostGrad : embedLookup;
  let x: Tensor2D =
    params["embed.W_E"] !== undefined
      ? lookup(tf, params["embed.W_E"] as Tensor2D, flatIds, false)
      : lookup(tf, param(params, "unembed.W_U") as Tensor2D, flatIds, true);

  for (let i = 0; i < layers; i++) {
    const p = `blocks.${i}`;
    const bias = (name: string, on: boolean): string | null => (on ? `${p}.${name}` : null);
    x = hookPoint(hookName(i, "resid_pre"), x);

    // Attention. Projections are 2-D matMuls on [N, D]; heads are split afterwards.
    const h = rmsNorm(x, `${p}.ln1.w`);
    const q = rope(tf.reshape(linear(h, `${p}.attn.W_Q`, bias("attn.b_Q", cfg.attentionBias)), [B, T, H, hd]), H);
    const k = rope(tf.reshape(linear(h, `${p}.attn.W_K`, bias("attn.b_K", cfg.attentionBias)), [B, T, KV, hd]), KV);
    const v = tf.reshape(linear(h, `${p}.attn.W_V`, bias("attn.b_V", cfg.attentionBias)), [B, T, KV, hd]);
    // GQA without copying k/v: query heads h = kv*group + j of one kv head are stacked along the
    // row axis, [B, H, T, hd] == [B, KV, group*T, hd].
    const qh = tf.reshape(tf.transpose(tf.mul(q, 1 / Math.sqrt(hd)), [0, 2, 1, 3]), [B, KV, group * T, hd]);
    let ctx: Tensor;
    if (!fast) {
      const kh = tf.transpose(k, [0, 2, 1, 3]); // [B, KV, T, hd]
      const vh = tf.transpose(v, [0, 2, 1, 3]);
      const scores = tf.add(tf.reshape(tf.matMul(qh, kh, false, true), [B, H, T, T]), inputs.maskBias);
      let probs = tf.softmax(scores, -1);
      if (inputs.maskKeep !== null) probs = tf.mul(probs, inputs.maskKeep);
      ctx = tf.matMul(tf.reshape(probs, [B, KV, group * T, T]), vh); // [B, KV, group*T, hd]
    } else {
      // One plain 2-D product per (batch row, kv head): batched matMuls are slow on wasm.
      const kT = tf.reshape(tf.transpose(k, [0, 2, 3, 1]), [B * KV, hd, T]) as Tensor3D;
      const vh = tf.reshape(tf.transpose(v, [0, 2, 1, 3]), [B * KV, T, hd]) as Tensor3D;
      const scores = tf.add(tf.reshape(blockMatMul(tf, tf.reshape(qh, [B * KV, group * T, hd]) as Tensor3D, kT), [B, H, T, T]), inputs.maskBias);
      let probs = tf.softmax(scores, -1);
      if (inputs.maskKeep !== null) probs = tf.mul(probs, inputs.maskKeep);
      ctx = blockMatMul(tf, tf.reshape(probs, [B * KV, group * T, T]) as Tensor3D, vh);
    }
    const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [B, H, T, hd]), [0, 2, 1, 3]), [N, H * hd]) as Tensor2D;
    const attnOut = hookPoint(hookName(i, "attn_out"), linear(merged, `${p}.attn.W_O`, bias("attn.b_O", cfg.oProjBias)));
    x = hookPoint(hookName(i, "resid_mid"), tf.add(x, attnOut));

    // MLP: down(silu(gate(h2)) * up(h2)).
    const h2 = rmsNorm(x, `${p}.ln2.w`);
    const gate = linear(h2, `${p}.mlp.W_gate`, bias("mlp.b_gate", cfg.mlpBias));
    const up = linear(h2, `${p}.mlp.W_in`, bias("mlp.b_in", cfg.mlpBias));
    const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as Tensor2D;
    const mlpOut = hookPoint(hookName(i, "mlp_out"), linear(act, `${p}.mlp.W_out`, bias("mlp.b_out", cfg.mlpBias)));
    x = hookPoint(hookName(i, "resid_post"), tf.add(x, mlpOut));
  }

  let logits: Tensor3D | null = null;
  if ((opts.logits ?? true) && layers === cfg.numLayers) {
    const final = rmsNorm(x, "ln_final.w");
    logits = tf.reshape(mm(final, param(params, "unembed.W_U") as Tensor2D), [B, T, cfg.vocabSize]);
  }
  return { logits, hooks };
}

export interface TfjsForwardOptions extends ForwardOptions {
  /** Hook names to return; default all. */
  hooks?: readonly string[];
  /** Run the training kernels (see {@link ForwardTensorsOptions.fastGrad}); default false. */
  fastGrad?: boolean;
}

async function readTensor(t: Tensor): Promise<F32Tensor> {
  const data = (await t.data()) as Float32Array;
  // Copy: some backends hand out their own storage.
  return { shape: [...t.shape], data: new Float32Array(data) };
}

/** A model uploaded to tfjs once and run many times. */
export class TfjsForward {
  private disposed = false;

  private constructor(
    readonly tf: Tf,
    readonly backend: TfBackend,
    readonly cfg: ModelConfig,
    readonly params: TfjsParams,
  ) {}

  /** Starts the tfjs backend (see `getTf`) and uploads the weights of `cfg`. */
  static async create(cfg: ModelConfig, weights: WeightSource): Promise<TfjsForward> {
    const { tf, backend } = await getTf();
    return new TfjsForward(tf, backend, cfg, loadTfjsParams(tf, cfg, weights));
  }

  /** Logits `[B, T, V]` and hook activations `[B, T, D]` for a batch of equal-length rows. */
  async forward(ids: number[][], opts: TfjsForwardOptions = {}): Promise<ForwardResult> {
    if (this.disposed) throw new ConfigError("TfjsForward.forward called after dispose()");
    const { tf, cfg, params } = this;
    const out = tf.tidy(() => {
      const inputs = prepareTfjsInputs(tf, cfg, ids, opts);
      const r = forwardTensors(tf, params, cfg, inputs, { ...(opts.hooks === undefined ? {} : { hooks: opts.hooks }), fastGrad: opts.fastGrad === true });
      return { logits: r.logits!, hooks: r.hooks };
    });
    try {
      const logits = await readTensor(out.logits);
      const hooks: Record<string, F32Tensor> = {};
      for (const [name, t] of Object.entries(out.hooks)) hooks[name] = await readTensor(t);
      return { logits, hooks };
    } finally {
      out.logits.dispose();
      for (const t of Object.values(out.hooks)) t.dispose();
    }
  }

  /** Frees every parameter tensor. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of Object.values(this.params)) t.dispose();
  }
}

