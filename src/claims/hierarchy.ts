// Claim 4, the layer hierarchy: on harmful requests, do the low layers carry word-level features, the middle layers
// concepts, and the top layer the refusal? Measured per SAE layer on every latent (not only the database's):
//
// - A layer's **top features** on harmful requests: each harmful request votes for its 5 (`perRequest`) strongest
//   latents on its own tokens (positions "query"; a latent's max-pooled activation divided by its largest over the
//   harmful and benign requests, so latents of different scales compare), among the latents that fire more on
//   harmful requests than on benign ones (mean pooled activation); the top `top` (20) by votes, then by summed
//   strength. Why votes and not the mean over all requests: a word-level feature fires on the few requests that hold
//   its word, so a ranking by the mean over all requests leaves it out by construction (that ranking, tried first on
//   the shipped set, found 20%, 5%, 0% and 0% token-specific features at layers 0-3); votes let a feature that is the
//   strongest on a few requests in.
// - **Token-specific**: the Shannon entropy (bits) of the tokens a feature peaks on, one token per harmful request it
//   fires on (the argmax position; the token's text lower-cased and trimmed), is at most `specificBits` (default 1, the
//   trajectory view's rule: one word, or two equally often).
// - **Concept-level**: not token-specific, and its precision for its best safety domain on the domain samples (pooled,
//   normalised by its own 0.999-quantile, firing above `firingThreshold`) is at least `minPrecision` (the filter's 0.6).
// - **Refusal**: the refusal-decision features given (e.g. `refusalFeatures(..., { positions: "header" })`) counted per
//   layer: where the features that carry the decision sit.
// Intervals: a percentile bootstrap over the harmful requests (each resample re-ranks the top features and recomputes
// their entropies); the domain precision does not depend on the requests and is computed once.
import type { ChatMessage } from "../model/tokenizer.ts";
import { ArgumentError } from "../errors.ts";
import { poolActivations, queryActivations } from "../metrics/features.ts";
import { featureScales, normaliseByScales } from "../metrics/normalise.ts";
import type { Model } from "../model/runtime.ts";
import type { Sae } from "../sae/sae.ts";
import { SAFETY_DOMAINS } from "../safety.ts";
import { positionsOf } from "../steer/languages.ts";
import { encodeDocuments, prepareTokens, saeLayers } from "../steer/token-features.ts";
import { entropyBits, TOKEN_SPECIFIC_BITS } from "../steer/trajectory.ts";
import { mulberry32 } from "../util/prng.ts";
import { checkInt, checkNumber } from "../util/validate.ts";
import { CLAIMS_BOOTSTRAP, CLAIMS_LEVEL, percentileInterval } from "./measure.ts";

export interface HierarchyOptions {
  /** Features per layer (default 20), and the strongest latents each request votes for (default 5). */
  top?: number;
  perRequest?: number;
  specificBits?: number;
  minPrecision?: number;
  /** Normalised firing threshold of the domain precision (default 0.5). */
  firingThreshold?: number;
  samples?: number;
  seed?: number;
}

export interface HierarchyFeature {
  feature: string;
  /** Normalised mean difference harmful - benign. */
  difference: number;
  /** Harmful requests whose strongest `perRequest` latents include it (what ranks the top features). */
  requests: number;
  /** Harmful requests it fires on, the tokens it peaks on most often, and their entropy. */
  fires: number;
  tokens: { token: string; count: number }[];
  entropy: number | null;
  /** Best safety domain by precision on the domain samples, and that precision (null when it never fires there). */
  domain: string | null;
  precision: number | null;
  kind: "token" | "concept" | "other";
}

export interface HierarchyLayer {
  layer: number;
  top: HierarchyFeature[];
  tokenShare: { estimate: number; low: number; high: number };
  conceptShare: { estimate: number; low: number; high: number };
  meanEntropy: { estimate: number | null; low: number | null; high: number | null };
  /** Refusal-decision features at this layer, and their share of all the refusal features given. */
  refusal: { features: number; share: number };
}

export interface LayerHierarchy {
  layers: HierarchyLayer[];
  options: Required<HierarchyOptions>;
  harmful: number;
  benign: number;
  samples: number;
  refusalFeatures: number;
}

interface Pooled {
  /** [queries, m] pooled max over query positions, and the argmax token's text per (query, latent) where it fires. */
  values: Float32Array;
  argmax: Int32Array;
  texts: string[][];
}

async function poolOnRequests(model: Model, layer: ReturnType<typeof saeLayers>[number], requests: readonly ChatMessage[][]): Promise<Pooled> {
  const where = "layerHierarchy";
  const prepared = requests.map((messages) => prepareTokens(model, { messages: [...messages] }, { chat: true }, where));
  const codes = await encodeDocuments(model, [layer], prepared);
  const m = layer.sae.config.dSae;
  const Q = requests.length;
  const values = new Float32Array(Q * m);
  const argmax = new Int32Array(Q * m).fill(-1);
  const texts = prepared.map((p) => p.tokens.map((t) => (t.display || t.text).trim().toLowerCase()));
  prepared.forEach((p, q) => {
    const code = codes[q]![0]!;
    const k = code.k;
    for (const t of positionsOf(p, "query")) {
      for (let j = t * k; j < (t + 1) * k; j++) {
        const i = code.indices[j]!;
        const v = code.values[j]!;
        if (v > values[q * m + i]!) {
          values[q * m + i] = v;
          argmax[q * m + i] = t;
        }
      }
    }
  });
  return { values, argmax, texts };
}

export async function layerHierarchy(
  model: Model,
  saes: readonly Sae[],
  requests: { harmful: readonly ChatMessage[][]; benign: readonly ChatMessage[][] },
  domainSamples: readonly { text: string; domain: string }[],
  refusalIds: readonly string[],
  opts: HierarchyOptions = {},
): Promise<LayerHierarchy> {
  const where = "layerHierarchy";
  const options: Required<HierarchyOptions> = {
    top: checkInt(opts.top ?? 20, "top", { min: 1, where }),
    perRequest: checkInt(opts.perRequest ?? 5, "perRequest", { min: 1, where }),
    specificBits: checkNumber(opts.specificBits ?? TOKEN_SPECIFIC_BITS, "specificBits", { min: 0, where }),
    minPrecision: checkNumber(opts.minPrecision ?? 0.6, "minPrecision", { min: 0, max: 1, where }),
    firingThreshold: checkNumber(opts.firingThreshold ?? 0.5, "firingThreshold", { min: 0, where }),
    samples: checkInt(opts.samples ?? CLAIMS_BOOTSTRAP, "samples", { min: 1, where }),
    seed: checkInt(opts.seed ?? 0, "seed", { min: 0, where }),
  };
  if (requests.harmful.length < 2 || requests.benign.length < 1) throw new ArgumentError(`${where}: give at least 2 harmful and 1 benign request (got ${requests.harmful.length} and ${requests.benign.length})`, { field: "requests" });
  if (domainSamples.length === 0) throw new ArgumentError(`${where}: no domain samples`, { field: "domainSamples" });
  const layers = saeLayers(model, saes, where);
  const out: HierarchyLayer[] = [];
  for (const layer of layers) {
    const m = layer.sae.config.dSae;
    const H = requests.harmful.length;
    const Bn = requests.benign.length;
    const harm = await poolOnRequests(model, layer, requests.harmful);
    const ben = await poolOnRequests(model, layer, requests.benign);
    const scale = new Float64Array(m);
    for (let i = 0; i < H * m; i++) scale[i % m] = Math.max(scale[i % m]!, harm.values[i]!);
    for (let i = 0; i < Bn * m; i++) scale[i % m] = Math.max(scale[i % m]!, ben.values[i]!);
    const benignMean = new Float64Array(m);
    for (let q = 0; q < Bn; q++) for (let i = 0; i < m; i++) benignMean[i]! += ben.values[q * m + i]! / Bn;
    // Domain precision of every latent, once.
    const acts = await queryActivations(model, domainSamples.map((s) => s.text), layer.hook, { label: `domain samples ${layer.hook}` });
    const pooled = await poolActivations(acts, layer.sae);
    const N = domainSamples.length;
    const scaled = normaliseByScales(pooled.values, N, m, featureScales(pooled.values, N, m));
    const bestDomain: (string | null)[] = new Array(m).fill(null);
    const precision: (number | null)[] = new Array(m).fill(null);
    for (let i = 0; i < m; i++) {
      let fires = 0;
      const hits = new Map<string, number>();
      for (let s = 0; s < N; s++) {
        if (scaled[s * m + i]! > options.firingThreshold) {
          fires++;
          hits.set(domainSamples[s]!.domain, (hits.get(domainSamples[s]!.domain) ?? 0) + 1);
        }
      }
      if (fires === 0) continue;
      let best: string | null = null;
      for (const d of SAFETY_DOMAINS) if ((hits.get(d) ?? 0) > (best === null ? 0 : hits.get(best) ?? 0)) best = d;
      bestDomain[i] = best;
      precision[i] = best === null ? 0 : hits.get(best)! / fires;
    }
    // The measurement on a list of harmful request indices (the requests as given, or a resample).
    const measure = (idx: readonly number[]) => {
      const n = idx.length;
      const diff = new Float64Array(m);
      for (const q of idx) for (let i = 0; i < m; i++) diff[i]! += harm.values[q * m + i]! / n;
      const d = new Float64Array(m);
      for (let i = 0; i < m; i++) d[i] = scale[i]! > 0 ? (diff[i]! - benignMean[i]!) / scale[i]! : 0;
      // Each request votes for its `perRequest` strongest latents (normalised by the latent's own maximum) among those
      // that fire more on harmful than on benign requests.
      const votes = new Float64Array(m);
      const strength = new Float64Array(m);
      const best: { i: number; v: number }[] = [];
      for (const q of idx) {
        best.length = 0;
        for (let i = 0; i < m; i++) {
          if (!(d[i]! > 0)) continue;
          const v = harm.values[q * m + i]! / scale[i]!;
          if (v <= 0) continue;
          if (best.length < options.perRequest) best.push({ i, v });
          else if (v > best[best.length - 1]!.v) best[best.length - 1] = { i, v };
          else continue;
          best.sort((a, b) => b.v - a.v || a.i - b.i);
        }
        for (const b of best) {
          votes[b.i]! += 1;
          strength[b.i]! += b.v;
        }
      }
      const ranked: { i: number; d: number; votes: number }[] = [];
      for (let i = 0; i < m; i++) if (votes[i]! > 0) ranked.push({ i, d: d[i]!, votes: votes[i]! });
      ranked.sort((a, b) => b.votes - a.votes || strength[b.i]! - strength[a.i]! || a.i - b.i);
      return ranked.slice(0, options.top).map(({ i, d, votes }) => {
        const counts = new Map<string, number>();
        let fires = 0;
        for (const q of idx) {
          const t = harm.argmax[q * m + i]!;
          if (t < 0) continue;
          fires++;
          const text = harm.texts[q]![t]!;
          counts.set(text, (counts.get(text) ?? 0) + 1);
        }
        const entropy = entropyBits(counts.values());
        const tokenSpecific = entropy !== null && entropy <= options.specificBits;
        const kind: HierarchyFeature["kind"] = tokenSpecific ? "token" : precision[i] !== null && precision[i]! >= options.minPrecision ? "concept" : "other";
        return { i, d, votes, fires, counts, entropy, kind };
      });
    };
    const share = (fs: ReturnType<typeof measure>, kind: HierarchyFeature["kind"]) => (fs.length ? fs.filter((f) => f.kind === kind).length / fs.length : 0);
    const meanEntropy = (fs: ReturnType<typeof measure>) => {
      const es = fs.map((f) => f.entropy).filter((e): e is number => e !== null);
      return es.length ? es.reduce((a, b) => a + b, 0) / es.length : null;
    };
    const all = Array.from({ length: H }, (_, q) => q);
    const given = measure(all);
    const rng = mulberry32(options.seed + layer.layer);
    const tokenShares: number[] = [];
    const conceptShares: number[] = [];
    const entropies: number[] = [];
    for (let b = 0; b < options.samples; b++) {
      const idx = Array.from({ length: H }, () => Math.floor(rng() * H));
      const fs = measure(idx);
      tokenShares.push(share(fs, "token"));
      conceptShares.push(share(fs, "concept"));
      const e = meanEntropy(fs);
      if (e !== null) entropies.push(e);
    }
    const refusalHere = refusalIds.filter((id) => Number(id.split("_")[0]) === layer.layer).length;
    const e0 = meanEntropy(given);
    out.push({
      layer: layer.layer,
      top: given.map((f) => ({
        feature: `${layer.layer}_${f.i}`,
        difference: f.d,
        requests: f.votes,
        fires: f.fires,
        tokens: [...f.counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3).map(([token, count]) => ({ token, count })),
        entropy: f.entropy,
        domain: bestDomain[f.i]!,
        precision: precision[f.i]!,
        kind: f.kind,
      })),
      tokenShare: { estimate: share(given, "token"), ...percentileInterval(tokenShares, CLAIMS_LEVEL) },
      conceptShare: { estimate: share(given, "concept"), ...percentileInterval(conceptShares, CLAIMS_LEVEL) },
      meanEntropy: entropies.length ? { estimate: e0, ...percentileInterval(entropies, CLAIMS_LEVEL) } : { estimate: e0, low: null, high: null },
      refusal: { features: refusalHere, share: refusalIds.length ? refusalHere / refusalIds.length : 0 },
    });
  }
  return { layers: out, options, harmful: requests.harmful.length, benign: requests.benign.length, samples: domainSamples.length, refusalFeatures: refusalIds.length };
}
