// Rotary position embedding frequencies, including the rope_scaling variants found in Llama configs.
import type { ModelConfig } from "./types.ts";

/** inv_freq[j] = theta^(-2j/headDim) for j < headDim/2, then scaled as `rope_scaling` says. */
export function computeInvFreq(cfg: Pick<ModelConfig, "headDim" | "ropeTheta" | "ropeScaling">): Float64Array {
  const half = cfg.headDim / 2;
  const inv = new Float64Array(half);
  for (let j = 0; j < half; j++) inv[j] = 1 / Math.pow(cfg.ropeTheta, (2 * j) / cfg.headDim);
  const s = cfg.ropeScaling;
  if (!s) return inv;
  if (s.type === "linear") return inv.map((f) => f / s.factor);
  // Llama 3: keep high frequencies, divide low frequencies by `factor`, blend smoothly between.
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / s.factor;
    const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}
