// Synthetic activations with a known sparse structure: each row is a sum of a few of `features` random
// unit directions with positive weights, plus a little noise. An SAE should recover them.
import type { ActivationReader } from "../../src/activations/store.ts";
import { mulberry32, shuffleInPlace } from "../../src/util/prng.ts";

export function syntheticActivations(opts: { d: number; features: number; active: number; rows: number; seed?: number; noise?: number }): { data: Float32Array; directions: Float32Array } {
  const { d, features, active, rows } = opts;
  const rand = mulberry32(opts.seed ?? 1);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const directions = new Float32Array(features * d);
  for (let f = 0; f < features; f++) {
    let n = 0;
    for (let j = 0; j < d; j++) n += (directions[f * d + j] = gauss()) ** 2;
    for (let j = 0; j < d; j++) directions[f * d + j]! /= Math.sqrt(n);
  }
  const data = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    for (let a = 0; a < active; a++) {
      const f = Math.floor(rand() * features);
      const w = 1 + 2 * rand();
      for (let j = 0; j < d; j++) data[r * d + j]! += w * directions[f * d + j]!;
    }
    for (let j = 0; j < d; j++) data[r * d + j]! += (opts.noise ?? 0.01) * gauss() + 0.5; // an offset for b_dec to learn
  }
  return { data, directions };
}

/** An in-memory ActivationReader with a seeded shuffle per epoch (every row once per epoch); no provenance. */
export function memorySource(data: Float32Array, d: number): ActivationReader {
  const rows = data.length / d;
  return {
    dModel: d,
    tokens: rows,
    hookName: null,
    model: null,
    dataset: null,
    async *batches({ batchSize, seed = 0, shuffle = true, epochs = 1 }) {
      for (let e = 0; e < epochs; e++) {
        const order = Array.from({ length: rows }, (_, i) => i);
        if (shuffle) {
          shuffleInPlace(mulberry32((seed * 1000003 + e) >>> 0), order);
        }
        for (let s = 0; s < rows; s += batchSize) {
          const n = Math.min(batchSize, rows - s);
          const out = new Float32Array(n * d);
          for (let i = 0; i < n; i++) out.set(data.subarray(order[s + i]! * d, (order[s + i]! + 1) * d), i * d);
          yield out;
        }
      }
    },
  };
}
