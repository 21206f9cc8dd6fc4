// Seeded pseudo-random numbers: the same seed gives the same stream on every machine, so random models,
// sampling and corpora are reproducible.

/** mulberry32: a small, fast 32-bit generator. Returns uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over a string's UTF-16 code units, mixed with the seed: one independent PRNG seed per purpose. */
export function deriveSeed(seed: number, ...parts: string[]): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (const ch of parts.join("\u0000")) {
    for (let i = 0; i < ch.length; i++) {
      h ^= ch.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h >>> 0;
}

/**
 * Fisher-Yates from the end, in place: the one seeded shuffle (random source first, then the array; plain arrays
 * and typed arrays alike). Returns `xs`.
 */
export function shuffleInPlace<A extends { length: number; [i: number]: unknown }>(rng: () => number, xs: A): A {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = xs[i];
    xs[i] = xs[j];
    xs[j] = t;
  }
  return xs;
}
