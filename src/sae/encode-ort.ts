// TopK-ReLU encoding on onnxruntime: the same code as `encodeTopK` (sae.ts), for many tokens at once.
// The plain-JS encoder does dIn x dSae multiply-adds per token in a scalar loop; metrics over thousands
// of queries and several SAEs need the BLAS product. One session per SAE, built on first use and kept
// while the SAE object lives.
import { DataType, GraphBuilder } from "../engine/onnx-builder.ts";
import { createSession, ort } from "../engine/ort.ts";
import type { Sae, SparseCode } from "./sae.ts";

const sessions = new WeakMap<Sae, { key: string; session: Promise<ort.InferenceSession> }>();

function buildEncoder(dIn: number, dSae: number, k: number): Uint8Array {
  const g = new GraphBuilder("topk_sae_encode");
  const F = DataType.FLOAT;
  const x = g.input("x", F, ["N", dIn]);
  const W = g.input("W_encT", F, [dSae, dIn]);
  const bEnc = g.input("b_enc", F, [dSae]);
  const bDec = g.input("b_dec", F, [dIn]);
  const pre = g.op("Add", [g.op("Gemm", [g.op("Sub", [x, bDec]), W], { transB: 1 }), bEnc]);
  const [vals, idx] = g.opMulti("TopK", [pre, g.constI64([k])], 2, { axis: -1, largest: 1, sorted: 1 });
  g.op("Relu", [vals!], {}, { outputs: ["values"] });
  g.op("Cast", [idx!], { to: DataType.INT32 }, { outputs: ["indices"] });
  g.output("values", F, ["N", k]);
  g.output("indices", DataType.INT32, ["N", k]);
  return g.build({ opset: 17 }).model;
}

/**
 * TopK-ReLU code of `n` tokens (`x` [n, dIn] row-major) on onnxruntime; values in descending order per
 * token. Equal to `encodeTopK` up to float rounding of the pre-activations (ties may order differently).
 */
export async function encodeTopKOrt(sae: Sae, x: Float32Array, n: number): Promise<SparseCode> {
  const { dIn, dSae, k } = sae.config;
  const p = sae.params;
  // Parameters are inputs (not initializers), so an SAE trained further reuses its session.
  const key = `${dIn}:${dSae}:${k}`;
  let entry = sessions.get(sae);
  if (!entry || entry.key !== key) {
    entry = { key, session: createSession(buildEncoder(dIn, dSae, k), []) };
    sessions.set(sae, entry);
  }
  const session = await entry.session;
  if (n === 0) return { k, indices: new Int32Array(0), values: new Float32Array(0) };
  const out = await session.run({
    x: new ort.Tensor("float32", x.length === n * dIn ? x : x.subarray(0, n * dIn), [n, dIn]),
    W_encT: new ort.Tensor("float32", p.W_encT, [dSae, dIn]),
    b_enc: new ort.Tensor("float32", p.b_enc, [dSae]),
    b_dec: new ort.Tensor("float32", p.b_dec, [dIn]),
  });
  return { k, indices: out.indices!.data as Int32Array, values: out.values!.data as Float32Array };
}
