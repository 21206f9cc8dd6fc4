// Reconstruction and sparsity of one SAE accumulated over many rows, fed in blocks: what a held-out evaluation of
// every token needs (evalSae's plain-JS encoder is too slow for that; this one encodes on onnxruntime).
import { encodeTopKOrt } from "./encode-ort.ts";
import { decodeTopK, type Sae } from "./sae.ts";

/**
 * Reconstruction and sparsity of one SAE over many documents, fed in blocks of rows: Σ||x̂ - x||², Σx per dimension
 * and Σ||x||² (FVU around the mean of all rows, as evalSae defines it), active latents per token, and which latents
 * fired. Encoding runs on onnxruntime (encodeTopKOrt): the plain-JS encoder is too slow for every held-out token of
 * four SAEs twice over.
 */
export class ReconstructionStats {
  private sqErr = 0;
  private sumSq = 0;
  private tokens = 0;
  private active = 0;
  private readonly sum: Float64Array;
  private readonly fired: Float64Array;
  constructor(private readonly sae: Sae) {
    this.sum = new Float64Array(sae.config.dIn);
    this.fired = new Float64Array(sae.config.dSae);
  }
  async add(x: Float32Array, n: number): Promise<void> {
    const d = this.sae.config.dIn;
    const code = await encodeTopKOrt(this.sae, x, n);
    const recon = decodeTopK(this.sae, code, n);
    for (let i = 0; i < n * d; i++) {
      this.sqErr += (recon[i]! - x[i]!) ** 2;
      this.sum[i % d]! += x[i]!;
      this.sumSq += x[i]! * x[i]!;
    }
    // A latent is listed at most once per token (TopK indices are distinct).
    for (let i = 0; i < n * code.k; i++) {
      if (code.values[i]! > 0) {
        this.active++;
        this.fired[code.indices[i]!]!++;
      }
    }
    this.tokens += n;
  }
  get count(): number {
    return this.tokens;
  }
  fvu(): number {
    let meanSq = 0;
    for (let j = 0; j < this.sum.length; j++) meanSq += (this.sum[j]! / this.tokens) ** 2;
    return this.sqErr / (this.sumSq - this.tokens * meanSq);
  }
  l0(): number {
    return this.active / this.tokens;
  }
  deadFraction(): number {
    return this.fired.reduce((a, f) => a + (f === 0 ? 1 : 0), 0) / this.fired.length;
  }
  denseFraction(share = 0.1): number {
    return this.fired.reduce((a, f) => a + (f / this.tokens > share ? 1 : 0), 0) / this.fired.length;
  }
}
