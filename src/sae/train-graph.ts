// The TopK SAE training step's graphs, forward and hand-written backward with no autodiff framework, in two
// formulations:
//   buildSaeGradGraph (the default, at the end of this file): the code as a dense [B, S] matrix, every product a
//     GEMM, gradients out; step.ts then runs Adam in place (adam.ts).
//   buildSaeStepGraph (below; `formulation: "gather"`): the sparse formulation with gathered decoder rows and
//     scatter-add gradients, decoder-row projection and Adam inside the graph. Kept as the benchmark's and the
//     tests' second implementation; at the paper's shape its [B, k, d] intermediates made it 1.7x slower.
//
// The SAE (the Safe-SAIL release's TopK-ReLU autoencoder):
//   xc   = x - b_dec
//   pre  = xc · W_enc + b_enc                       [B, S]    (the gather formulation's only dense product)
//   (v, i) = TopK(pre, k);  a = ReLU(v)             [B, k]
//   x̂    = Σ_j a_j · W_dec[i_j] + b_dec             [B, d]    (decoder rows gathered, never a dense [B, S] code)
//   loss = Σ_b ||x̂ - x||² / B
// plus AuxK (OpenAI's TopK SAE recipe for dead latents): the top k_aux pre-activations among the latents
// marked dead reconstruct the detached residual e = x - x̂ (without b_dec):
//   aux  = coef · ||ê - e||² / ||e - mean_b(e)||²
//
// Why hand-written: the code is k-sparse, so every gradient except the encoder's forward product can be
// computed on the k chosen latents alone. The encoder is stored row-major by latent (`W_encT [S, d]`, the
// transpose of SAELens's `W_enc [d, S]`), which makes both weight gradients scatter-adds of k rows per
// token (ScatterND reduction=add) instead of [S, d] products:
//   g        = 2 (x̂ - x) / B
//   ∂a_j     = W_dec[i_j] · g            ∂v_j = ∂a_j · [v_j > 0]
//   ∂W_dec[i_j] += a_j g                ∂W_encT[i_j] += ∂v_j xc          ∂b_enc[i_j] += ∂v_j
//   ∂b_dec   = Σ_b g − Σ_b Σ_j ∂v_j W_encT[i_j]
// The AuxK terms add the same shapes with their own indices and residual gradient.
//
// Decoder rows stay unit-norm: the gradient's component along each row is removed before Adam and rows
// are renormalised after the update (the standard constrained-decoder recipe). Adam's bias corrections
// are folded into two scalar inputs (alpha, epsHat) computed by the caller per step.
import { DataType, GraphBuilder } from "../engine/onnx-builder.ts";

export interface SaeStepShapes {
  dIn: number;
  dSae: number;
  k: number;
  /** Latents AuxK may use per token; 0 builds the graph without AuxK. */
  kAux: number;
}

export type SaeGraphMode =
  /** Forward + backward + Adam: new parameters and moments out. */
  | "train"
  /** Forward + backward only: the raw gradients (tests and cross-checks). */
  | "grads";

/** Names of the trainable tensors, in the order of every list below. */
export const SAE_PARAMS = ["W_encT", "b_enc", "W_dec", "b_dec"] as const;
export type SaeParamName = (typeof SAE_PARAMS)[number];

export function paramShapes(s: Pick<SaeStepShapes, "dIn" | "dSae">): Record<SaeParamName, number[]> {
  return { W_encT: [s.dSae, s.dIn], b_enc: [s.dSae], W_dec: [s.dSae, s.dIn], b_dec: [s.dIn] };
}

/** The inputs both step graphs share: the batch, the four parameters, and AuxK's dead mask and coefficient. */
function declareInputs(g: GraphBuilder, { dIn: d, dSae: S, kAux }: SaeStepShapes): { x: string; P: Record<SaeParamName, string>; dead: string; auxCoef: string } {
  const F = DataType.FLOAT;
  return {
    x: g.input("x", F, ["B", d]),
    P: { W_encT: g.input("W_encT", F, [S, d]), b_enc: g.input("b_enc", F, [S]), W_dec: g.input("W_dec", F, [S, d]), b_dec: g.input("b_dec", F, [d]) },
    dead: kAux > 0 ? g.input("dead", F, [S]) : "",
    auxCoef: kAux > 0 ? g.input("aux_coef", F, [1]) : "",
  };
}

/** The loss statistics both step graphs output (see buildSaeStepGraph's doc). */
function declareStatsOutputs(g: GraphBuilder, S: number): void {
  const F = DataType.FLOAT;
  for (const name of ["mse", "var", "aux_loss", "l0"]) g.output(name, F, []);
  g.output("fired", F, [S]);
}

/**
 * Inputs: x [B, d]; the four parameters; for AuxK `dead` [S] (1 = dead) and `aux_coef` [1]; in "train"
 * mode `m_<p>`, `v_<p>` per parameter and the scalars `alpha`, `eps_hat`, `beta1`, `beta2` [1].
 * Outputs: `mse` [] (Σ||x̂-x||²/B), `var` [] (Σ||x - mean x||²/B), `aux_loss` [], `l0` [] (mean active
 * latents per token), `fired` [S] (tokens each latent fired on); then either `new_<p>`, `new_m_<p>`,
 * `new_v_<p>` ("train") or `grad_<p>` ("grads").
 */
export function buildSaeStepGraph(shapes: SaeStepShapes, mode: SaeGraphMode): { model: Uint8Array } {
  const { dIn: d, dSae: S, k, kAux } = shapes;
  const g = new GraphBuilder(`topk_sae_${mode}`);
  const F = DataType.FLOAT;
  const { x, P, dead, auxCoef } = declareInputs(g, shapes);

  const ax0 = g.constI64([0]);
  const ax1 = g.constI64([1]);
  const ax2 = g.constI64([2]);
  const two = g.constF([2]);
  const zeroF = g.constF([0]);
  const batch = g.op("Cast", [g.op("Gather", [g.op("Shape", [x]), g.constI64([0])])], { to: F }); // [1]

  // ---- forward
  const xc = g.op("Sub", [x, P.b_dec]);
  const pre = g.op("Add", [g.op("Gemm", [xc, P.W_encT], { transB: 1 }), P.b_enc]); // [B, S]
  const [vals, idx] = g.opMulti("TopK", [pre, g.constI64([k])], 2, { axis: -1, largest: 1, sorted: 0 });
  const acts = g.op("Relu", [vals!]); // [B, k]
  const decRows = g.op("Gather", [P.W_dec, idx!], { axis: 0 }); // [B, k, d]
  const recon = g.op("Add", [g.op("Squeeze", [g.op("MatMul", [g.op("Unsqueeze", [acts, ax1]), decRows]), ax1]), P.b_dec]); // [B, d]
  const err = g.op("Sub", [recon, x]);
  const sumSq = (t: string) => g.op("ReduceSum", [g.op("Mul", [t, t])], { keepdims: 0 });
  const mse = g.op("Div", [sumSq(err), g.op("Squeeze", [batch])]);
  g.op("Identity", [mse], {}, { outputs: ["mse"] });
  const centered = g.op("Sub", [x, g.op("ReduceMean", [x], { axes: [0], keepdims: 1 })]);
  g.op("Div", [sumSq(centered), g.op("Squeeze", [batch])], {}, { outputs: ["var"] });
  const active = g.op("Cast", [g.op("Greater", [vals!, zeroF])], { to: F }); // [B, k]
  g.op("Div", [g.op("ReduceSum", [active], { keepdims: 0 }), g.op("Squeeze", [batch])], {}, { outputs: ["l0"] });
  const idx3 = g.op("Unsqueeze", [idx!, ax2]); // [B, k, 1]
  g.op("ScatterND", [g.op("Expand", [zeroF, g.constI64([S])]), idx3, active], { reduction: "add" }, { outputs: ["fired"] });

  // ---- backward of the reconstruction loss
  const gRec = g.op("Div", [g.op("Mul", [err, two]), batch]); // [B, d]
  const dActs = g.op("Squeeze", [g.op("MatMul", [decRows, g.op("Unsqueeze", [gRec, ax2])]), ax2]); // [B, k]
  const dVals = g.op("Mul", [dActs, active]);
  const decUpd = g.op("Mul", [g.op("Unsqueeze", [acts, ax2]), g.op("Unsqueeze", [gRec, ax1])]); // [B, k, d]
  const encUpd = g.op("Mul", [g.op("Unsqueeze", [dVals, ax2]), g.op("Unsqueeze", [xc, ax1])]); // [B, k, d]
  const encRows = g.op("Gather", [P.W_encT, idx!], { axis: 0 }); // [B, k, d]
  let dXc = g.op("Squeeze", [g.op("MatMul", [g.op("Unsqueeze", [dVals, ax1]), encRows]), ax1]); // [B, d]
  let allIdx = idx3;
  let allDecUpd = decUpd;
  let allEncUpd = encUpd;
  let allDVals = dVals;
  let gBdec = g.op("ReduceSum", [gRec, ax0], { keepdims: 0 });

  // ---- AuxK
  if (kAux > 0) {
    // Live latents are pushed far below any pre-activation, so TopK picks dead ones first; any live
    // latent still picked (fewer dead than kAux) has a hugely negative value that ReLU zeroes.
    const masked = g.op("Add", [pre, g.op("Mul", [g.op("Sub", [dead, g.constF([1])]), g.constF([1e30])])]);
    const [aVals, aIdx] = g.opMulti("TopK", [masked, g.constI64([kAux])], 2, { axis: -1, largest: 1, sorted: 0 });
    const aActs = g.op("Relu", [aVals!]);
    const aActive = g.op("Cast", [g.op("Greater", [aVals!, zeroF])], { to: F });
    const aDecRows = g.op("Gather", [P.W_dec, aIdx!], { axis: 0 });
    const eHat = g.op("Squeeze", [g.op("MatMul", [g.op("Unsqueeze", [aActs, ax1]), aDecRows]), ax1]);
    const e = g.op("Neg", [err]); // the detached residual x - x̂: no gradient flows into it below
    const aErr = g.op("Sub", [eHat, e]);
    const eCentered = g.op("Sub", [e, g.op("ReduceMean", [e], { axes: [0], keepdims: 1 })]);
    // A tiny floor keeps the ratio finite when the residual is constant over the batch.
    const denom = g.op("Max", [sumSq(eCentered), g.constF([1e-12])]);
    const auxLoss = g.op("Mul", [g.op("Div", [sumSq(aErr), denom]), g.op("Squeeze", [auxCoef])]);
    g.op("Identity", [auxLoss], {}, { outputs: ["aux_loss"] });
    const gAux = g.op("Div", [g.op("Mul", [aErr, g.op("Mul", [two, auxCoef])]), denom]); // [B, d]
    const aDActs = g.op("Squeeze", [g.op("MatMul", [aDecRows, g.op("Unsqueeze", [gAux, ax2])]), ax2]);
    const aDVals = g.op("Mul", [aDActs, aActive]);
    const aDecUpd = g.op("Mul", [g.op("Unsqueeze", [aActs, ax2]), g.op("Unsqueeze", [gAux, ax1])]);
    const aEncUpd = g.op("Mul", [g.op("Unsqueeze", [aDVals, ax2]), g.op("Unsqueeze", [xc, ax1])]);
    const aEncRows = g.op("Gather", [P.W_encT, aIdx!], { axis: 0 });
    dXc = g.op("Add", [dXc, g.op("Squeeze", [g.op("MatMul", [g.op("Unsqueeze", [aDVals, ax1]), aEncRows]), ax1])]);
    allIdx = g.op("Concat", [idx3, g.op("Unsqueeze", [aIdx!, ax2])], { axis: 1 });
    allDecUpd = g.op("Concat", [decUpd, aDecUpd], { axis: 1 });
    allEncUpd = g.op("Concat", [encUpd, aEncUpd], { axis: 1 });
    allDVals = g.op("Concat", [dVals, aDVals], { axis: 1 });
  } else {
    g.op("Identity", [g.constF([0])], {}, { outputs: ["aux_loss_1"] });
    g.op("Squeeze", ["aux_loss_1"], {}, { outputs: ["aux_loss"] });
  }

  const zerosLike = (p: string) => g.op("Expand", [zeroF, g.op("Shape", [p])]);
  const grads: Record<SaeParamName, string> = {
    W_dec: g.op("ScatterND", [zerosLike(P.W_dec), allIdx, allDecUpd], { reduction: "add" }),
    W_encT: g.op("ScatterND", [zerosLike(P.W_encT), allIdx, allEncUpd], { reduction: "add" }),
    b_enc: g.op("ScatterND", [zerosLike(P.b_enc), allIdx, allDVals], { reduction: "add" }),
    b_dec: (gBdec = g.op("Sub", [gBdec, g.op("ReduceSum", [dXc, ax0], { keepdims: 0 })])),
  };

  declareStatsOutputs(g, S);
  const shapesOf = paramShapes(shapes);
  if (mode === "grads") {
    for (const p of SAE_PARAMS) {
      g.op("Identity", [grads[p]], {}, { outputs: [`grad_${p}`] });
      g.output(`grad_${p}`, F, shapesOf[p]);
    }
    return { model: g.build({ opset: 17 }).model };
  }

  // ---- decoder-row projection: drop the gradient component that would change a row's norm
  const rowDot = g.op("ReduceSum", [g.op("Mul", [grads.W_dec, P.W_dec]), ax1], { keepdims: 1 }); // [S, 1]
  grads.W_dec = g.op("Sub", [grads.W_dec, g.op("Mul", [rowDot, P.W_dec])]);

  // ---- Adam
  const alpha = g.input("alpha", F, [1]);
  const epsHat = g.input("eps_hat", F, [1]);
  const beta1 = g.input("beta1", F, [1]);
  const beta2 = g.input("beta2", F, [1]);
  const one = g.constF([1]);
  const oneMinusB1 = g.op("Sub", [one, beta1]);
  const oneMinusB2 = g.op("Sub", [one, beta2]);
  for (const p of SAE_PARAMS) {
    const m = g.input(`m_${p}`, F, shapesOf[p]);
    const v = g.input(`v_${p}`, F, shapesOf[p]);
    const grad = grads[p];
    const m2 = g.op("Add", [g.op("Mul", [m, beta1]), g.op("Mul", [grad, oneMinusB1])], {}, { outputs: [`new_m_${p}`] });
    const v2 = g.op("Add", [g.op("Mul", [v, beta2]), g.op("Mul", [g.op("Mul", [grad, grad]), oneMinusB2])], {}, { outputs: [`new_v_${p}`] });
    const step = g.op("Div", [g.op("Mul", [m2, alpha]), g.op("Add", [g.op("Sqrt", [v2]), epsHat])]);
    let updated = g.op("Sub", [P[p], step]);
    if (p === "W_dec") {
      const norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [updated, updated]), ax1], { keepdims: 1 })]);
      updated = g.op("Div", [updated, g.op("Max", [norm, g.constF([1e-12])])]);
    }
    g.op("Identity", [updated], {}, { outputs: [`new_${p}`] });
    g.output(`new_${p}`, F, shapesOf[p]);
    g.output(`new_m_${p}`, F, shapesOf[p]);
    g.output(`new_v_${p}`, F, shapesOf[p]);
  }
  return { model: g.build({ opset: 17 }).model };
}

/**
 * The loss statistics and raw gradients with the code kept dense: the TopK code is scattered into a [B, S] matrix
 * and every product that touches the decoder or the encoder's gradient is a plain GEMM over it.
 *
 * Why dense, although the code is k-sparse: onnxruntime's CPU operators can only do the sparse products by first
 * materialising the k rows per token ([B, k, d]: 1.7 GB at the paper's shape, and [B, d/2, d] = 8.6 GB for AuxK),
 * and writing that memory costs more than the arithmetic the sparsity saves. A GEMM runs near the FMA peak
 * (bench/README.md, "SAE step"). The products, 2·B·S·d FLOPs each:
 *   pre  = xc · W_encT^T                     (encoder)
 *   x̂   = Z · W_dec + b_dec                  (decoder, Z the scattered code)
 *   dZ   = g · W_dec^T, read at the k chosen latents only
 *   ∂W_dec  = Z^T · g                        ∂W_encT = dPre^T · xc         (dPre: ∂v scattered to [B, S])
 * and ∂b_dec = Σ_b g − (Σ_b dPre_b) · W_encT, a vector product, since Σ_b dXc_b = (Σ_b dPre_b) · W_encT.
 * AuxK adds its own decoder product and dZ, and shares the weight-gradient GEMMs (stacked along the batch for
 * W_dec; summed into dPre for W_encT, whose input xc is the same). No decoder-row projection and no Adam here:
 * the caller updates the parameters in place (adam.ts).
 *
 * Inputs and the statistics outputs are those of `buildSaeStepGraph`; the gradient outputs are `grad_<p>`, the
 * two [S, d] ones in row blocks (`gradOutputPieces`).
 */
export function buildSaeGradGraph(shapes: SaeStepShapes, pieceBytes = GRAD_OUTPUT_PIECE_BYTES): { model: Uint8Array } {
  const { dIn: d, dSae: S, k, kAux } = shapes;
  const g = new GraphBuilder("topk_sae_dense_grads");
  const F = DataType.FLOAT;
  const { x, P, dead, auxCoef } = declareInputs(g, shapes);

  const ax0 = g.constI64([0]);
  const two = g.constF([2]);
  const zeroF = g.constF([0]);
  const batchI = g.op("Gather", [g.op("Shape", [x]), g.constI64([0])]); // [1] int64
  const batch = g.op("Cast", [batchI], { to: F }); // [1]
  const batchScalar = g.op("Squeeze", [batch]);
  const zerosBS = () => g.op("Expand", [zeroF, g.op("Concat", [batchI, g.constI64([S])], { axis: 0 })]); // [B, S]
  // The code transposed, [S, B], scattered directly in that layout: the weight gradients are [S, B]·[B, d] products,
  // and onnxruntime's Gemm with transA (or a Transpose it fuses back into one) took twice as long as a plain product
  // (541 against 276 ms at the paper's shape).
  const transpose = (t: string) => g.op("Transpose", [t], { perm: [1, 0] });
  const scatterT = (indices: string, values: string, reduction?: "add") =>
    g.op("ScatterElements", [g.op("Expand", [zeroF, g.op("Concat", [g.constI64([S]), batchI], { axis: 0 })]), transpose(indices), transpose(values)], { axis: 0, ...(reduction ? { reduction } : {}) }); // [S, B]
  const sumSq = (t: string) => g.op("ReduceSum", [g.op("Mul", [t, t])], { keepdims: 0 });

  // ---- forward
  const xc = g.op("Sub", [x, P.b_dec]);
  const pre = g.op("Gemm", [xc, P.W_encT, P.b_enc], { transB: 1 }); // [B, S]
  const [vals, idx] = g.opMulti("TopK", [pre, g.constI64([k])], 2, { axis: -1, largest: 1, sorted: 0 });
  const acts = g.op("Relu", [vals!]); // [B, k]
  const code = g.op("ScatterElements", [zerosBS(), idx!, acts], { axis: 1 }); // [B, S]
  const recon = g.op("Add", [g.op("MatMul", [code, P.W_dec]), P.b_dec]); // [B, d]
  const err = g.op("Sub", [recon, x]);
  g.op("Div", [sumSq(err), batchScalar], {}, { outputs: ["mse"] });
  const centered = g.op("Sub", [x, g.op("ReduceMean", [x], { axes: [0], keepdims: 1 })]);
  g.op("Div", [sumSq(centered), batchScalar], {}, { outputs: ["var"] });
  const active = g.op("Cast", [g.op("Greater", [vals!, zeroF])], { to: F }); // [B, k]
  g.op("Div", [g.op("ReduceSum", [active], { keepdims: 0 }), batchScalar], {}, { outputs: ["l0"] });
  g.op("ScatterND", [g.op("Expand", [zeroF, g.constI64([S])]), g.op("Unsqueeze", [idx!, g.constI64([2])]), active], { reduction: "add" }, { outputs: ["fired"] });

  // ---- backward of the reconstruction loss
  const gRec = g.op("Div", [g.op("Mul", [err, two]), batch]); // [B, d]
  const dVals = g.op("Mul", [g.op("GatherElements", [g.op("Gemm", [gRec, P.W_dec], { transB: 1 }), idx!], { axis: 1 }), active]); // [B, k]
  let decCodeT = scatterT(idx!, acts);
  let decGrad = gRec;
  let allIdx = idx!;
  let allDVals = dVals;

  // ---- AuxK
  if (kAux > 0) {
    // Live latents are pushed far below any pre-activation, so TopK picks dead ones first; any live latent still
    // picked (fewer dead than kAux) has a hugely negative value that ReLU zeroes.
    const masked = g.op("Add", [pre, g.op("Mul", [g.op("Sub", [dead, g.constF([1])]), g.constF([1e30])])]);
    const [aVals, aIdx] = g.opMulti("TopK", [masked, g.constI64([kAux])], 2, { axis: -1, largest: 1, sorted: 0 });
    const aActs = g.op("Relu", [aVals!]);
    const aActive = g.op("Cast", [g.op("Greater", [aVals!, zeroF])], { to: F });
    const aCode = g.op("ScatterElements", [zerosBS(), aIdx!, aActs], { axis: 1 });
    const eHat = g.op("MatMul", [aCode, P.W_dec]);
    const e = g.op("Neg", [err]); // the detached residual x - x̂: no gradient flows into it below
    const aErr = g.op("Sub", [eHat, e]);
    const eCentered = g.op("Sub", [e, g.op("ReduceMean", [e], { axes: [0], keepdims: 1 })]);
    // A tiny floor keeps the ratio finite when the residual is constant over the batch.
    const denom = g.op("Max", [sumSq(eCentered), g.constF([1e-12])]);
    g.op("Mul", [g.op("Div", [sumSq(aErr), denom]), g.op("Squeeze", [auxCoef])], {}, { outputs: ["aux_loss"] });
    const gAux = g.op("Div", [g.op("Mul", [aErr, g.op("Mul", [two, auxCoef])]), denom]); // [B, d]
    const aDVals = g.op("Mul", [g.op("GatherElements", [g.op("Gemm", [gAux, P.W_dec], { transB: 1 }), aIdx!], { axis: 1 }), aActive]);
    decCodeT = g.op("Concat", [decCodeT, scatterT(aIdx!, aActs)], { axis: 1 }); // [S, 2B]
    decGrad = g.op("Concat", [gRec, gAux], { axis: 0 }); // [2B, d]
    allIdx = g.op("Concat", [idx!, aIdx!], { axis: 1 });
    allDVals = g.op("Concat", [dVals, aDVals], { axis: 1 });
  } else {
    g.op("Identity", [g.constF([0])], {}, { outputs: ["aux_loss_1"] });
    g.op("Squeeze", ["aux_loss_1"], {}, { outputs: ["aux_loss"] });
  }

  // A latent picked by both TopKs gets both terms: the scatter adds.
  const dPreT = scatterT(allIdx, allDVals, "add"); // [S, B]
  const grads: Record<SaeParamName, string> = {
    W_dec: g.op("MatMul", [decCodeT, decGrad]),
    W_encT: g.op("MatMul", [dPreT, xc]),
    b_enc: g.op("ReduceSum", [dPreT, g.constI64([1])], { keepdims: 0 }),
    b_dec: "",
  };
  const viaEncoder = g.op("Squeeze", [g.op("MatMul", [g.op("Unsqueeze", [grads.b_enc, ax0]), P.W_encT]), ax0]); // [d]
  grads.b_dec = g.op("Sub", [g.op("ReduceSum", [gRec, ax0], { keepdims: 0 }), viaEncoder]);

  declareStatsOutputs(g, S);
  const pieces = gradOutputPieces(shapes, pieceBytes);
  for (const p of SAE_PARAMS) {
    const mine = pieces.filter((o) => o.param === p);
    const names = mine.map((o) => o.name);
    if (mine.length === 1) g.op("Identity", [grads[p]], {}, { outputs: names });
    else g.op("Split", [grads[p], g.constI64(mine.map((o) => o.shape[0]!))], { axis: 0 }, { outputs: names });
    for (const o of mine) g.output(o.name, F, o.shape);
  }
  return { model: g.build({ opset: 17 }).model };
}

/**
 * The largest gradient output the dense graph returns in one piece. Why pieces at all: onnxruntime allocates each
 * graph output with malloc, and glibc serves a block over its mmap threshold (32 MiB at most) as fresh pages that
 * it unmaps on free, so a 168 MB output page-faults through all of its memory on every step. Measured on a
 * [20480, 2048] product (bench/README.md, "SAE step"): 777 ms as one output, 359 ms as ten 16.8 MB pieces.
 */
export const GRAD_OUTPUT_PIECE_BYTES = 16 * 1024 * 1024;

/** One graph output of the dense gradient graph: rows [rowStart, rowStart + shape[0]) of `param`'s gradient. */
export interface GradOutputPiece {
  name: string;
  param: SaeParamName;
  rowStart: number;
  shape: number[];
}

/**
 * The dense graph's gradient outputs: `grad_<p>` for a gradient that fits one piece, else `grad_<p>.<i>`, row
 * blocks in order whose float32 bytes stay within `pieceBytes` (Infinity: every gradient whole). The runner fetches
 * them into views of one array per parameter, so the caller sees whole gradients.
 */
export function gradOutputPieces(shapes: Pick<SaeStepShapes, "dIn" | "dSae">, pieceBytes = GRAD_OUTPUT_PIECE_BYTES): GradOutputPiece[] {
  const out: GradOutputPiece[] = [];
  const shapesOf = paramShapes(shapes);
  for (const param of SAE_PARAMS) {
    const shape = shapesOf[param];
    const rows = shape[0]!;
    const rowFloats = shape.slice(1).reduce((a, b) => a * b, 1);
    const rowsPerPiece = Math.max(1, Math.floor(pieceBytes / (4 * rowFloats)));
    if (rows <= rowsPerPiece) {
      out.push({ name: `grad_${param}`, param, rowStart: 0, shape });
      continue;
    }
    for (let start = 0, i = 0; start < rows; start += rowsPerPiece, i++) {
      out.push({ name: `grad_${param}.${i}`, param, rowStart: start, shape: [Math.min(rowsPerPiece, rows - start), ...shape.slice(1)] });
    }
  }
  return out;
}
