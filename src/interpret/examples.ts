// Activation examples: for chosen SAE features, one pass of the model over a corpus gathers what an explainer and
// its scorers need, into an example store (format: ./example-store.ts).
//
//   const saes = await loadSaes("work/saes");
//   const store = await collectExamples(model, saes, "data/corpus.jsonl", "work/examples", { features: ["2_17", "3_40"] });
//   store.feature("2_17").train.top        // the top-activating windows, as ActivationExample
//
// Per feature it records:
//   * frac_nonzero and the maximum over every token of every document (exact counts);
//   * the normalisation: a high quantile (default 0.999) of the NON-ZERO activations, the Safe-SAIL demo's scale;
//     quantiles are numpy's default (linear interpolation, metrics/normalise.ts quantileSorted);
//   * a histogram of the non-zero activations: `histogramBins` equal-width bins over [0, max], each [lo, hi) but the
//     last [lo, max] (numpy.histogram's bins with range (0, max));
//   * the decoder's logits W_dec[f] · W_U (W_U = lm_head, or the tied embedding), the `topLogits` largest and
//     smallest, as SAE dashboards show them (no final-norm weight folded in);
//   * example windows of `context` tokens (default 32) centred on an activating token (`floor(context/2)` tokens
//     before it), clipped to the document and shifted to stay `context` long when the document allows.
//
// Train and test are DISJOINT BY DOCUMENT: a seeded hash of the corpus index puts each document on one side
// (`testFraction` of them on the test side), so no window of one side can overlap one of the other.
//   train.top        the `topExamples` windows with the largest centre activation, at most one per stretch of a
//                    document (within a document, windows are taken greedily by activation and never overlap);
//   train.quantiles  per quantile slice, `perQuantileTrain` windows;
//   test.activating  per quantile slice, `perQuantileTest` windows;
//   test.nonActivating  `nonActivating` windows where the feature is 0 on every token, uniformly among the
//                    non-overlapping `context`-long tiles of the test documents (a document shorter than `context`
//                    is one tile; the tail of a longer one after its last whole tile is not a candidate).
// Quantile slices: each side keeps a uniform sample (`sampleReservoir` windows) of its activating tokens' windows;
// at the end the sample is sorted by centre activation and cut into `quantiles` equal-count slices, and each slice
// is drawn from in a seeded random order, skipping windows that overlap one already chosen on the same side (the
// train side's top windows included), so no two examples of a side repeat the same text.
//
// Bounded memory: per feature a heap of the top windows, the two samples of activating windows and one of
// non-activating windows (each a fixed number of windows), exact counts and maximum, and the non-zero values for
// the quantile and the histogram: ALL of them up to `valueCap` (1,000,000 by default; statistics exact), beyond that
// a uniform sample of `valueCap` of them (statistics estimated; the store says so, `values.exact`, and warns).
//
// Every sample is a "bottom-k by hash" sample: an item is kept when a seeded hash of (feature, document, position)
// is among the k smallest seen. That is a uniform sample without replacement which does not depend on the order
// or the batching of the documents, so a resumed run ends with exactly the state of an uninterrupted one.
//
// Resumable: the whole state is checkpointed atomically (checkpoint.safetensors) every `checkpointEvery` documents
// and when aborted; the same call resumes from it after the last document it holds (the corpus is re-read from that
// line without being parsed before it). Different model, SAEs, corpus or options are refused, naming each field
// that differs. A finished store is returned as it is unless `overwrite`.
//
// The text -> activations path is the one of activations/text.ts (openCorpus, tokenizeDocument,
// documentActivations: the pieces textActivations is made of, used directly so a resume can start at a line and
// skip the forward passes of documents already done). Documents longer than `maxDocTokens` are cut, as harvests do.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import * as path from "node:path";
import { ArgumentError, FormatError, NotFoundError, describeValue } from "../errors.ts";
import { openCorpus, type CorpusFileFormat, type CorpusInput } from "../activations/corpus.ts";
import { modelFingerprint } from "../activations/harvest.ts";
import { documentActivations, tokenizeDocument, TEXT_DEFAULTS } from "../activations/text.ts";
import { DTYPE_SIZES, openSafetensors, readTensorBytes, readTensorF32, writeSafetensors, type TensorToWrite } from "../formats/safetensors.ts";
import { quantileSorted } from "../metrics/normalise.ts";
import { parseHookName } from "../model/hooks.ts";
import type { Model } from "../model/runtime.ts";
import { specialTokenTest } from "../model/special-tokens.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { encodeTopKOrt } from "../sae/encode-ort.ts";
import type { Sae } from "../sae/sae.ts";
import { loadSae, SAELENS_CFG, SAELENS_WEIGHTS } from "../sae/saelens.ts";
import { parseFeatureId } from "../safety.ts";
import { deriveSeed } from "../util/prng.ts";
import { settingsDiff } from "../util/resume.ts";
import { checkInt, checkNumber } from "../util/validate.ts";
import {
  EXAMPLES_FILE,
  EXAMPLES_FORMAT,
  EXAMPLES_TENSORS_FILE,
  EXAMPLES_VERSION,
  TOKENS_FILE,
  openExampleStore,
  writeExampleStore,
  type ExampleSaeRecord,
  type ExampleSlice,
  type ExampleStore,
  type ExamplesManifest,
  type ExamplesOptionsRecord,
  type FeatureRecordJson,
  type StoredWindow,
} from "./example-store.ts";
import type { Histogram, TokenLogit } from "./types.ts";
import { sha256File } from "../util/hash.ts";

export const EXAMPLES_DEFAULTS = {
  context: 32,
  topExamples: 20,
  quantiles: 10,
  perQuantileTrain: 1,
  perQuantileTest: 2,
  nonActivating: 20,
  normalisationQuantile: 0.999,
  testFraction: 0.5,
  seed: 0,
  histogramBins: 20,
  topLogits: 10,
  chat: TEXT_DEFAULTS.chat,
  batchTokens: TEXT_DEFAULTS.batchTokens,
  windowDocs: 64,
  checkpointEvery: 1000,
  /** Documents are cut at min(this, max_position_embeddings) tokens, as harvests cut them. */
  maxDocTokens: 1024,
  /** Non-zero values kept exactly per feature; beyond, a uniform sample of this many. */
  valueCap: 1_000_000,
  /** Windows per side in the uniform sample of activating windows the quantile slices are cut from. */
  sampleReservoir: 1000,
} as const;

export interface ExamplesOptions {
  /** Feature ids `{layer}_{index}`; each picks the SAE whose hook is at that layer. */
  features: readonly string[];
  /** Domain tags per feature id (from a filter result or a feature database). */
  tags?: Record<string, string[]>;
  context?: number;
  topExamples?: number;
  quantiles?: number;
  perQuantileTrain?: number;
  perQuantileTest?: number;
  nonActivating?: number;
  normalisationQuantile?: number;
  testFraction?: number;
  seed?: number;
  histogramBins?: number;
  topLogits?: number;
  /** Plain text as a user turn of the chat template (default `TEXT_DEFAULTS.chat`). */
  chat?: boolean;
  batchTokens?: number;
  /** Documents read (and run) together; also the granularity of checkpoints and progress. */
  windowDocs?: number;
  /** Stop after this many documents (with tokens). Default: the whole corpus. */
  maxDocs?: number;
  checkpointEvery?: number;
  /** Replace an existing store or checkpoint in `out` instead of returning or resuming it. */
  overwrite?: boolean;
  progress?: Progress;
  /** Aborting stops after the current group of documents, checkpoints, and rejects; the same call resumes. */
  signal?: AbortSignal;
  /** The path recorded for an in-memory corpus (a file corpus records its own). */
  corpusPath?: string;
  /** See EXAMPLES_DEFAULTS. */
  maxDocTokens?: number;
  valueCap?: number;
  sampleReservoir?: number;
  /** Corpus file format (default from the extension) and handling of bytes that are not UTF-8, as harvest's. */
  format?: CorpusFileFormat;
  invalidUtf8?: "error" | "replace";
}

export const CHECKPOINT_FILE = "checkpoint.safetensors";
const CHECKPOINT_FORMAT = "safesail-examples-checkpoint";

// ---------------------------------------------------------------------------------------------------------------
// SAEs

/** Where an SAE came from, when loadSaes read it (the store records it). */
const saeSources = new WeakMap<Sae, { path: string; weightsSha256: string | null }>();

/**
 * The SAEs in DIR: one SAELens folder (DIR/cfg.json), or a folder of SAELens folders (each subfolder with a
 * cfg.json, in name order). A Safe-SAIL `.pt` file or a hub id is read as one SAE (loadSae).
 */
export async function loadSaes(dir: string): Promise<Sae[]> {
  const track = async (folder: string): Promise<Sae> => {
    const sae = await loadSae(folder);
    const weights = path.join(folder, SAELENS_WEIGHTS);
    saeSources.set(sae, { path: path.resolve(folder), weightsSha256: existsSync(weights) ? await sha256File(weights) : null });
    return sae;
  };
  if (!existsSync(dir)) return [await loadSae(dir)]; // a hub id, or a NotFoundError naming the path
  const st = await stat(dir);
  if (!st.isDirectory()) return [await loadSae(dir)];
  if (existsSync(path.join(dir, SAELENS_CFG))) return [await track(dir)];
  const subs = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, SAELENS_CFG))).map((e) => e.name).sort();
  if (subs.length === 0) throw new NotFoundError(`${dir}: holds neither ${SAELENS_CFG} (one SAELens folder) nor subfolders with one (a folder of SAEs)`, { file: path.resolve(dir), field: "sae" });
  const out: Sae[] = [];
  for (const s of subs) out.push(await track(path.join(dir, s)));
  return out;
}

/** sha256 over what decides an SAE's codes: its shape, k, hook and parameters. */
function saeParamsSha256(sae: Sae): string {
  const h = createHash("sha256").update(JSON.stringify({ dIn: sae.config.dIn, dSae: sae.config.dSae, k: sae.config.k, hook: sae.config.hookName }));
  for (const a of [sae.params.W_encT, sae.params.b_enc, sae.params.W_dec, sae.params.b_dec]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest("hex");
}

interface FeatureSpec {
  id: string;
  layer: number;
  index: number;
  hook: string;
  /** Position in the list of features asked for. */
  ordinal: number;
}

/** The SAEs the features need: one per layer, with the features it serves. */
interface SaeUse {
  sae: Sae;
  hook: string;
  /** Index of `hook` in the hooks cached per forward pass. */
  hookIndex: number;
  features: FeatureSpec[];
  /** Latent -> slot in `features`, or -1. */
  slotOf: Int32Array;
}

function resolveFeatures(model: Model, saes: readonly Sae[], ids: readonly string[]): { specs: FeatureSpec[]; uses: SaeUse[] } {
  if (!Array.isArray(saes) || saes.length === 0) throw new ArgumentError(`saes: give at least one SAE`, { field: "saes" });
  const { numLayers, hiddenSize } = model.config;
  const byLayer = new Map<number, { sae: Sae; hook: string; at: number }[]>();
  saes.forEach((sae, at) => {
    const hook = sae.config.hookName;
    const name = saeSources.get(sae)?.path ?? `saes[${at}]`;
    if (hook === null) throw new ArgumentError(`saes: ${name} records no hook (cfg.json hook_name), so its layer is unknown`, { field: "saes" });
    const point = parseHookName(hook, { numLayers, arg: `saes: ${name}: hook` });
    if (sae.config.dIn !== hiddenSize) throw new ArgumentError(`saes: ${name} reads ${sae.config.dIn}-wide activations, the model's ${hook} is ${hiddenSize} wide`, { field: "saes" });
    const list = byLayer.get(point.layer) ?? [];
    list.push({ sae, hook, at });
    byLayer.set(point.layer, list);
  });
  if (!Array.isArray(ids) || ids.length === 0) throw new ArgumentError(`features: give at least one feature id ({layer}_{index}, e.g. "2_17")`, { field: "features" });
  const seen = new Set<string>();
  const uses = new Map<Sae, SaeUse>();
  const specs = ids.map((id, ordinal) => {
    const { layer, index } = parseFeatureId(id, "features");
    if (seen.has(id)) throw new ArgumentError(`features: ${id} is listed twice`, { field: "features" });
    seen.add(id);
    const cands = byLayer.get(layer) ?? [];
    const all = [...byLayer.values()].flat().map((c) => c.hook).join(", ");
    if (cands.length === 0) throw new ArgumentError(`features: ${id}: no SAE reads layer ${layer} (the SAEs read ${all})`, { field: "features" });
    if (cands.length > 1) throw new ArgumentError(`features: ${id}: ${cands.length} SAEs read layer ${layer} (${cands.map((c) => c.hook).join(", ")}); give one SAE per layer`, { field: "features" });
    const { sae, hook } = cands[0]!;
    if (index >= sae.config.dSae) throw new ArgumentError(`features: ${id}: index ${index} is out of range for the SAE at ${hook} (${sae.config.dSae} latents, 0..${sae.config.dSae - 1})`, { field: "features" });
    const spec: FeatureSpec = { id, layer, index, hook, ordinal };
    let use = uses.get(sae);
    if (!use) uses.set(sae, (use = { sae, hook, hookIndex: 0, features: [], slotOf: new Int32Array(sae.config.dSae).fill(-1) }));
    use.slotOf[index] = use.features.length;
    use.features.push(spec);
    return spec;
  });
  const list = [...uses.values()].sort((a, b) => parseHookName(a.hook).layer - parseHookName(b.hook).layer);
  list.forEach((u, i) => (u.hookIndex = i));
  return { specs, uses: list };
}

// ---------------------------------------------------------------------------------------------------------------
// Seeded hashing and bounded samples

/** Avalanche of a 32-bit integer (murmur3's finaliser). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in [0, 1) with 53 random bits from (base seed, a, b): the sampling key of an item. */
function uniformKey(base: number, a: number, b: number): number {
  const h1 = mix32((base ^ mix32(a + 0x9e3779b9)) + Math.imul(b ^ 0x7f4a7c15, 0x27d4eb2f));
  const h2 = mix32(h1 ^ mix32(b + 0x165667b1) ^ Math.imul(a, 0x85ebca77));
  return (h1 * 2 ** 21 + (h2 >>> 11)) / 2 ** 53;
}

/** A window of one feature's activations. */
interface WindowItem {
  doc: number;
  /** The token it was chosen for (the centre's position in the document, or the start for non-activating tiles). */
  pos: number;
  start: number;
  /** Index of the centre token in the window; -1 for non-activating tiles. */
  centre: number;
  /** The centre's activation (0 for non-activating tiles). */
  act: number;
  /** Sampling key (uniformKey); 0 for top windows. */
  key: number;
  ids: Int32Array;
  acts: Float32Array;
}

const EMPTY_I32 = new Int32Array(0);
const EMPTY_F32 = new Float32Array(0);

/** Larger centre activation first; ties: earlier document, earlier position. */
const byActivation = (a: WindowItem, b: WindowItem): boolean => a.act > b.act || (a.act === b.act && (a.doc < b.doc || (a.doc === b.doc && a.pos < b.pos)));
/** Smaller key first (bottom-k sampling); ties: earlier document, earlier position. */
const byKey = (a: WindowItem, b: WindowItem): boolean => a.key < b.key || (a.key === b.key && (a.doc < b.doc || (a.doc === b.doc && a.pos < b.pos)));

/** The `k` best items under `better`, as a heap whose root is the worst kept. */
class BestK<T> {
  items: T[] = [];
  constructor(
    readonly k: number,
    private readonly better: (a: T, b: T) => boolean,
  ) {}

  /** Whether `x` would be kept now. */
  admits(x: T): boolean {
    return this.k > 0 && (this.items.length < this.k || this.better(x, this.items[0]!));
  }

  /** Adds `x` (only after `admits(x)`), dropping the worst when full. */
  push(x: T): void {
    const h = this.items;
    if (h.length < this.k) {
      h.push(x);
      let i = h.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.better(h[p]!, h[i]!)) break;
        [h[p], h[i]] = [h[i]!, h[p]!];
        i = p;
      }
      return;
    }
    h[0] = x;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < h.length && this.better(h[worst]!, h[l]!)) worst = l;
      if (r < h.length && this.better(h[worst]!, h[r]!)) worst = r;
      if (worst === i) break;
      [h[worst], h[i]] = [h[i]!, h[worst]!];
      i = worst;
    }
  }
}

/**
 * Non-zero activations of one feature: all of them while at most `cap`, then the `cap` with the smallest keys (a
 * uniform sample), kept as a max-heap on the key once full.
 */
class ValueSample {
  values: Float32Array;
  keys: Float64Array;
  n = 0;
  heap = false;

  constructor(
    readonly cap: number,
    initial = 256,
  ) {
    this.values = new Float32Array(Math.min(cap, initial));
    this.keys = new Float64Array(Math.min(cap, initial));
  }

  add(v: number, key: number): void {
    if (this.n < this.cap) {
      if (this.n === this.values.length) this.grow(Math.min(this.cap, this.values.length * 2));
      this.values[this.n] = v;
      this.keys[this.n] = key;
      this.n++;
      return;
    }
    if (!this.heap) {
      for (let i = (this.n >> 1) - 1; i >= 0; i--) this.siftDown(i);
      this.heap = true;
    }
    if (key >= this.keys[0]!) return;
    this.values[0] = v;
    this.keys[0] = key;
    this.siftDown(0);
  }

  grow(size: number): void {
    const v = new Float32Array(size);
    v.set(this.values.subarray(0, this.n));
    const k = new Float64Array(size);
    k.set(this.keys.subarray(0, this.n));
    this.values = v;
    this.keys = k;
  }

  private siftDown(i: number): void {
    const { keys, values, n } = this;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < n && keys[l]! > keys[top]!) top = l;
      if (r < n && keys[r]! > keys[top]!) top = r;
      if (top === i) return;
      [keys[i], keys[top]] = [keys[top]!, keys[i]!];
      [values[i], values[top]] = [values[top]!, values[i]!];
      i = top;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The collection state

interface FeatureState {
  spec: FeatureSpec;
  nonzero: number;
  max: number;
  values: ValueSample;
  top: BestK<WindowItem>;
  trainPool: BestK<WindowItem>;
  testPool: BestK<WindowItem>;
  zeroPool: BestK<WindowItem>;
  valueSeed: number;
  poolSeed: number;
  zeroSeed: number;
}

interface CollectState {
  /** The corpus line (index) to read next. */
  nextLine: number;
  documents: number;
  tokens: number;
  trainDocuments: number;
  testDocuments: number;
  features: FeatureState[];
}

interface Settings {
  context: number;
  topExamples: number;
  quantiles: number;
  perQuantileTrain: number;
  perQuantileTest: number;
  nonActivating: number;
  normalisationQuantile: number;
  testFraction: number;
  seed: number;
  histogramBins: number;
  topLogits: number;
  chat: boolean;
  maxDocTokens: number;
  maxDocs: number | null;
  valueCap: number;
  sampleReservoir: number;
  batchTokens: number;
  windowDocs: number;
  checkpointEvery: number;
}

function freshState(specs: FeatureSpec[], s: Settings): CollectState {
  return {
    nextLine: 0,
    documents: 0,
    tokens: 0,
    trainDocuments: 0,
    testDocuments: 0,
    features: specs.map((spec) => ({
      spec,
      nonzero: 0,
      max: 0,
      values: new ValueSample(s.valueCap),
      top: new BestK<WindowItem>(s.topExamples, byActivation),
      trainPool: new BestK<WindowItem>(s.perQuantileTrain > 0 ? s.sampleReservoir : 0, byKey),
      testPool: new BestK<WindowItem>(s.perQuantileTest > 0 ? s.sampleReservoir : 0, byKey),
      // Tiles never overlap, so a sample of exactly the number wanted needs no spare.
      zeroPool: new BestK<WindowItem>(s.nonActivating, byKey),
      valueSeed: deriveSeed(s.seed, "examples:value", spec.id),
      poolSeed: deriveSeed(s.seed, "examples:pool", spec.id),
      zeroSeed: deriveSeed(s.seed, "examples:zero", spec.id),
    })),
  };
}

/** Which side a document is on: a seeded hash of its corpus index. */
const isTestDocument = (splitSeed: number, doc: number, testFraction: number): boolean => uniformKey(splitSeed, doc, 0) < testFraction;

/** The side of the train/test split the document with corpus index `doc` is on, for `seed` and `testFraction`. */
export function documentSide(doc: number, seed: number = EXAMPLES_DEFAULTS.seed, testFraction: number = EXAMPLES_DEFAULTS.testFraction): "train" | "test" {
  return isTestDocument(deriveSeed(seed, "examples:split"), doc, testFraction) ? "test" : "train";
}

/** Folds one document's activations of one feature (`a`, one per token) into its state. */
function updateFeature(fs: FeatureState, a: Float32Array, ids: readonly number[], doc: number, isTest: boolean, C: number): void {
  const T = a.length;
  const len = Math.min(C, T);
  const half = Math.floor(C / 2);
  const startFor = (p: number) => Math.min(Math.max(0, p - half), T - len);
  const fill = (w: WindowItem) => {
    w.ids = Int32Array.from(ids.slice(w.start, w.start + len));
    w.acts = a.slice(w.start, w.start + len);
  };
  const active: number[] = [];
  for (let t = 0; t < T; t++) {
    const v = a[t]!;
    if (!(v > 0)) continue;
    active.push(t);
    fs.nonzero++;
    if (v > fs.max) fs.max = v;
    fs.values.add(v, uniformKey(fs.valueSeed, doc, t));
  }
  const pool = isTest ? fs.testPool : fs.trainPool;
  for (const p of active) {
    const start = startFor(p);
    const w: WindowItem = { doc, pos: p, start, centre: p - start, act: a[p]!, key: uniformKey(fs.poolSeed, doc, p), ids: EMPTY_I32, acts: EMPTY_F32 };
    if (!pool.admits(w)) continue;
    fill(w);
    pool.push(w);
  }
  if (!isTest && fs.top.k > 0 && active.length > 0) {
    // Greedy within the document: strongest token first, windows that overlap a chosen one skipped. Later tokens
    // are weaker, so once one is not admitted none after it would be.
    const order = active.slice().sort((x, y) => a[y]! - a[x]! || x - y);
    const chosen: number[] = [];
    for (const p of order) {
      const start = startFor(p);
      if (chosen.some((s) => s < start + len && start < s + len)) continue;
      const w: WindowItem = { doc, pos: p, start, centre: p - start, act: a[p]!, key: 0, ids: EMPTY_I32, acts: EMPTY_F32 };
      if (!fs.top.admits(w)) break;
      fill(w);
      fs.top.push(w);
      chosen.push(start);
      if (chosen.length >= fs.top.k) break;
    }
  }
  if (isTest && fs.zeroPool.k > 0) {
    for (let s = 0; s === 0 || s + C <= T; s += C) {
      let zero = true;
      for (let t = s; t < s + len; t++) if (a[t]! > 0) zero = false;
      if (!zero) continue;
      const w: WindowItem = { doc, pos: s, start: s, centre: -1, act: 0, key: uniformKey(fs.zeroSeed, doc, s), ids: EMPTY_I32, acts: EMPTY_F32 };
      if (!fs.zeroPool.admits(w)) continue;
      fill(w);
      fs.zeroPool.push(w);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints: one safetensors file, the small state as JSON in its metadata, the arrays as tensors.

interface Identity {
  model_fingerprint: string;
  /** hook -> sha256 of the SAE's parameters. */
  sae_params: Record<string, string>;
  corpus_sha256: string;
  options: ExamplesOptionsRecord;
}

interface CheckpointJson {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  identity: Identity;
  next_line: number;
  documents: number;
  tokens: number;
  train_documents: number;
  test_documents: number;
  features: { nonzero: number; max: number; values: number; heap: boolean; top: number; train_pool: number; test_pool: number; zero_pool: number }[];
}

const poolsOf = (f: FeatureState) => [f.top, f.trainPool, f.testPool, f.zeroPool];

async function writeCheckpoint(file: string, identity: Identity, st: CollectState): Promise<void> {
  const windows = st.features.flatMap((f) => poolsOf(f).flatMap((p) => p.items));
  const N = windows.reduce((s, w) => s + w.ids.length, 0);
  const meta = new Float64Array(windows.length * 6);
  const offsets = new Int32Array(windows.length + 1);
  const ids = new Int32Array(N);
  const acts = new Float32Array(N);
  let at = 0;
  windows.forEach((w, i) => {
    meta.set([w.doc, w.pos, w.start, w.centre, w.act, w.key], i * 6);
    offsets[i] = at;
    ids.set(w.ids, at);
    acts.set(w.acts, at);
    at += w.ids.length;
  });
  offsets[windows.length] = at;
  const tensors: Record<string, TensorToWrite> = {
    win_meta: { dtype: "F64", shape: [windows.length, 6], data: meta },
    win_offsets: { dtype: "I32", shape: [windows.length + 1], data: offsets },
    win_ids: { dtype: "I32", shape: [N], data: ids },
    win_acts: { dtype: "F32", shape: [N], data: acts },
  };
  st.features.forEach((f, i) => {
    tensors[`values.${i}`] = { dtype: "F32", shape: [f.values.n], data: f.values.values.subarray(0, f.values.n) };
    tensors[`value_keys.${i}`] = { dtype: "F64", shape: [f.values.n], data: f.values.keys.subarray(0, f.values.n) };
  });
  const json: CheckpointJson = {
    format: CHECKPOINT_FORMAT,
    version: 1,
    identity,
    next_line: st.nextLine,
    documents: st.documents,
    tokens: st.tokens,
    train_documents: st.trainDocuments,
    test_documents: st.testDocuments,
    features: st.features.map((f) => ({ nonzero: f.nonzero, max: f.max, values: f.values.n, heap: f.values.heap, top: f.top.items.length, train_pool: f.trainPool.items.length, test_pool: f.testPool.items.length, zero_pool: f.zeroPool.items.length })),
  };
  await writeSafetensors(file, tensors, { state: JSON.stringify(json) });
}

const ADVICE = "use a new --out (out), or --overwrite (overwrite: true) to start over";

/** Reads a checkpoint's state JSON; a file that cannot be read is a FormatError naming it. */
function readCheckpointJson(file: string): { json: CheckpointJson; st: ReturnType<typeof openSafetensors> } {
  try {
    const st = openSafetensors(file);
    const text = st.metadata?.state;
    if (text === undefined) throw new Error(`no "state" in its metadata`);
    const json = JSON.parse(text) as CheckpointJson;
    if (json?.format !== CHECKPOINT_FORMAT || json.version !== 1) throw new Error(`format: expected ${CHECKPOINT_FORMAT} version 1, got ${describeValue(json?.format)} version ${describeValue(json?.version)}`);
    return { json, st };
  } catch (err) {
    throw new FormatError(`${file}: the checkpoint cannot be read (${(err as Error).message}); ${ADVICE}`, { file, cause: err });
  }
}

function restoreState(file: string, json: CheckpointJson, st: ReturnType<typeof openSafetensors>, specs: FeatureSpec[], s: Settings): CollectState {
  const state = freshState(specs, s);
  const fail = (what: string): never => {
    throw new FormatError(`${file}: ${what}; ${ADVICE}`, { file });
  };
  const bytes = (name: string, dtype: string, n: number): Uint8Array => {
    const ref = st.tensors.get(name);
    if (!ref || ref.dtype !== dtype || ref.shape.reduce((a, b) => a * b, 1) !== n) fail(`tensor "${name}" is missing or not ${dtype} with ${n} values`);
    return readTensorBytes(ref!);
  };
  const f64 = (b: Uint8Array) => new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
  const i32 = (b: Uint8Array) => new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const f32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  if (!Array.isArray(json.features) || json.features.length !== specs.length) fail(`it holds ${json.features?.length} features, expected ${specs.length}`);
  const W = json.features.reduce((n, f) => n + f.top + f.train_pool + f.test_pool + f.zero_pool, 0);
  const offsets = i32(bytes("win_offsets", "I32", W + 1));
  const N = offsets[W]!;
  const meta = f64(bytes("win_meta", "F64", W * 6));
  const ids = i32(bytes("win_ids", "I32", N));
  const acts = f32(bytes("win_acts", "F32", N));
  let w = 0;
  json.features.forEach((saved, i) => {
    const f = state.features[i]!;
    f.nonzero = saved.nonzero;
    f.max = saved.max;
    const n = saved.values;
    f.values.grow(Math.max(n, Math.min(f.values.cap, 256)));
    f.values.values.set(f32(bytes(`values.${i}`, "F32", n)));
    f.values.keys.set(f64(bytes(`value_keys.${i}`, "F64", n)));
    f.values.n = n;
    f.values.heap = saved.heap;
    const counts = [saved.top, saved.train_pool, saved.test_pool, saved.zero_pool];
    poolsOf(f).forEach((pool, p) => {
      if (counts[p]! > pool.k) fail(`feature ${f.spec.id} holds ${counts[p]} windows in a sample of ${pool.k}`);
      for (let j = 0; j < counts[p]!; j++, w++) {
        const m = meta.subarray(w * 6, w * 6 + 6);
        const from = offsets[w]!;
        const to = offsets[w + 1]!;
        pool.items.push({ doc: m[0]!, pos: m[1]!, start: m[2]!, centre: m[3]!, act: m[4]!, key: m[5]!, ids: ids.slice(from, to), acts: acts.slice(from, to) });
      }
    });
  });
  state.nextLine = json.next_line;
  state.documents = json.documents;
  state.tokens = json.tokens;
  state.trainDocuments = json.train_documents;
  state.testDocuments = json.test_documents;
  return state;
}

const identityOfManifest = (m: ExamplesManifest): Identity => ({
  model_fingerprint: m.model.fingerprint,
  sae_params: Object.fromEntries(m.saes.map((s) => [s.hook, s.params_sha256])),
  corpus_sha256: m.corpus.sha256,
  options: m.options,
});

/** The files of an example store folder (ours), so `overwrite` removes nothing else. */
const isOurs = (n: string) =>
  n === EXAMPLES_FILE || n === EXAMPLES_TENSORS_FILE || n === TOKENS_FILE || n === CHECKPOINT_FILE || /^\.(examples\.json|examples\.safetensors|tokens\.json|checkpoint\.safetensors)\.tmp-/.test(n);

type Prepared = { kind: "done"; store: ExampleStore } | { kind: "resume"; json: CheckpointJson; st: ReturnType<typeof openSafetensors> } | { kind: "fresh" };

async function prepareOut(out: string, identity: Identity, overwrite: boolean): Promise<Prepared> {
  let names: string[];
  try {
    names = await readdir(out);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { kind: "fresh" };
    if (code === "ENOTDIR") throw new ArgumentError(`out: ${out} is a file, not a folder`, { field: "out", file: out });
    throw err;
  }
  const removeOurs = async (pred: (n: string) => boolean) => {
    for (const n of names) if (isOurs(n) && pred(n)) await rm(path.join(out, n), { force: true });
  };
  if (overwrite) {
    await removeOurs(() => true);
    return { kind: "fresh" };
  }
  await removeOurs((n) => n.startsWith(".")); // temp files of an interrupted write
  if (names.includes(EXAMPLES_FILE)) {
    let store: ExampleStore;
    try {
      store = await openExampleStore(out);
    } catch (err) {
      throw new ArgumentError(`out: ${out} holds an example store that cannot be read (${(err as Error).message}); ${ADVICE}`, { field: "out", file: out, cause: err });
    }
    const diffs = settingsDiff(identityOfManifest(store.manifest) as unknown as Record<string, unknown>, identity as unknown as Record<string, unknown>);
    if (diffs.length > 0) throw new ArgumentError(`out: ${out} holds examples collected with other settings (${diffs.join("; ")}); ${ADVICE}`, { field: "out", file: out });
    await removeOurs((n) => n === CHECKPOINT_FILE); // left if the run was killed between the index and its removal
    return { kind: "done", store };
  }
  if (names.includes(CHECKPOINT_FILE)) {
    const file = path.join(out, CHECKPOINT_FILE);
    const { json, st } = readCheckpointJson(file);
    const diffs = settingsDiff(json.identity as unknown as Record<string, unknown>, identity as unknown as Record<string, unknown>);
    if (diffs.length > 0) throw new ArgumentError(`${file}: cannot resume: the interrupted run has other settings (${diffs.join("; ")}); ${ADVICE}`, { field: diffs[0]!.slice(0, diffs[0]!.indexOf(":")), file });
    return { kind: "resume", json, st };
  }
  const others = names.filter((n) => !isOurs(n));
  if (others.length > 0) throw new ArgumentError(`out: ${out} is not empty and holds no example store (found ${others.slice(0, 3).join(", ")}${others.length > 3 ? ", ..." : ""}); choose a new or empty folder`, { field: "out", file: out });
  await removeOurs(() => true);
  return { kind: "fresh" };
}

// ---------------------------------------------------------------------------------------------------------------
// Options

function settingsOf(model: Model, o: ExamplesOptions): Settings {
  const D = EXAMPLES_DEFAULTS;
  const int = (v: number | undefined, name: keyof ExamplesOptions, fallback: number, min: number) => (v === undefined ? fallback : checkInt(v, name, { min, where: "collectExamples" }));
  const quantile = o.normalisationQuantile === undefined ? D.normalisationQuantile : checkNumber(o.normalisationQuantile, "normalisationQuantile", { gt: 0, max: 1, where: "collectExamples" });
  const testFraction = o.testFraction === undefined ? D.testFraction : checkNumber(o.testFraction, "testFraction", { gt: 0, max: 1, where: "collectExamples" });
  if (testFraction >= 1) throw new ArgumentError(`collectExamples: testFraction must be below 1 (train and test documents are both needed), got ${testFraction}`, { field: "testFraction" });
  if (o.chat !== undefined && typeof o.chat !== "boolean") throw new ArgumentError(`collectExamples: chat must be true or false, got ${describeValue(o.chat)}`, { field: "chat" });
  return {
    context: int(o.context, "context", D.context, 1),
    topExamples: int(o.topExamples, "topExamples", D.topExamples, 0),
    quantiles: int(o.quantiles, "quantiles", D.quantiles, 1),
    perQuantileTrain: int(o.perQuantileTrain, "perQuantileTrain", D.perQuantileTrain, 0),
    perQuantileTest: int(o.perQuantileTest, "perQuantileTest", D.perQuantileTest, 0),
    nonActivating: int(o.nonActivating, "nonActivating", D.nonActivating, 0),
    normalisationQuantile: quantile,
    testFraction,
    seed: int(o.seed, "seed", D.seed, 0),
    histogramBins: int(o.histogramBins, "histogramBins", D.histogramBins, 1),
    topLogits: Math.min(int(o.topLogits, "topLogits", D.topLogits, 0), model.config.vocabSize),
    chat: o.chat ?? D.chat,
    maxDocTokens: Math.min(int(o.maxDocTokens, "maxDocTokens", D.maxDocTokens, 1), model.config.maxPositionEmbeddings),
    maxDocs: o.maxDocs === undefined ? null : int(o.maxDocs, "maxDocs", 0, 1),
    valueCap: int(o.valueCap, "valueCap", D.valueCap, 1),
    sampleReservoir: int(o.sampleReservoir, "sampleReservoir", D.sampleReservoir, 1),
    batchTokens: int(o.batchTokens, "batchTokens", D.batchTokens, 1),
    windowDocs: int(o.windowDocs, "windowDocs", D.windowDocs, 1),
    checkpointEvery: int(o.checkpointEvery, "checkpointEvery", D.checkpointEvery, 1),
  };
}

function checkTags(tags: unknown, ids: readonly string[]): Record<string, string[]> {
  if (tags === undefined) return {};
  if (tags === null || typeof tags !== "object" || Array.isArray(tags)) throw new ArgumentError(`tags: expected an object of feature id -> list of tags, got ${describeValue(tags)}`, { field: "tags" });
  const out: Record<string, string[]> = {};
  for (const id of ids) {
    const t = (tags as Record<string, unknown>)[id];
    if (t === undefined) continue;
    if (!Array.isArray(t) || !t.every((x) => typeof x === "string")) throw new ArgumentError(`tags: ${id}: expected a list of strings, got ${describeValue(t)}`, { field: "tags" });
    out[id] = [...t];
  }
  for (const id of Object.keys(tags)) if (!ids.includes(id)) throw new ArgumentError(`tags: ${id} is not one of the features (${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", ..." : ""})`, { field: "tags" });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Collecting

/**
 * One pass of `model` over `corpus` for the features `opts.features` of `saes`, into the example store `out`
 * (see the file comment). Returns the finished store.
 */
export async function collectExamples(model: Model, saes: readonly Sae[], corpus: CorpusInput, out: string, opts: ExamplesOptions): Promise<ExampleStore> {
  if (opts === null || typeof opts !== "object") throw new ArgumentError(`collectExamples: options are required ({ features: [...] })`, { field: "features" });
  if (typeof out !== "string" || out === "") throw new ArgumentError(`out: a folder path is required`, { field: "out" });
  const outDir = path.resolve(out);
  const s = settingsOf(model, opts);
  const { specs, uses } = resolveFeatures(model, saes, opts.features);
  const tags = checkTags(opts.tags, specs.map((f) => f.id));
  const hooks = uses.map((u) => u.hook);
  const progress = opts.progress ?? silentProgress;
  const signal = opts.signal;

  const c = await openCorpus(corpus, { format: opts.format, invalidUtf8: opts.invalidUtf8, rules: { vocabSize: model.config.vocabSize, noTokenizer: model.tokenizer ? undefined : model.dir } });
  if (c.documents === 0) throw new ArgumentError(`corpus: ${c.path ?? "the document list"} holds no documents`, { field: "corpus" });

  const optionsRecord: ExamplesOptionsRecord = {
    features: specs.map((f) => f.id),
    tags,
    context: s.context,
    top_examples: s.topExamples,
    quantiles: s.quantiles,
    per_quantile_train: s.perQuantileTrain,
    per_quantile_test: s.perQuantileTest,
    non_activating: s.nonActivating,
    normalisation_quantile: s.normalisationQuantile,
    test_fraction: s.testFraction,
    seed: s.seed,
    histogram_bins: s.histogramBins,
    top_logits: s.topLogits,
    chat: s.chat,
    max_doc_tokens: s.maxDocTokens,
    max_docs: s.maxDocs,
    value_cap: s.valueCap,
    sample_reservoir: s.sampleReservoir,
    corpus_format: c.format,
  };
  const saeRecords: ExampleSaeRecord[] = uses.map((u) => ({
    path: saeSources.get(u.sae)?.path ?? null,
    weights_sha256: saeSources.get(u.sae)?.weightsSha256 ?? null,
    params_sha256: saeParamsSha256(u.sae),
    hook: u.hook,
    d_in: u.sae.config.dIn,
    d_sae: u.sae.config.dSae,
    k: u.sae.config.k,
  }));
  const fingerprint = await modelFingerprint(model);
  const identity: Identity = { model_fingerprint: fingerprint, sae_params: Object.fromEntries(saeRecords.map((r) => [r.hook, r.params_sha256])), corpus_sha256: c.sha256, options: optionsRecord };

  const prepared = await prepareOut(outDir, identity, opts.overwrite ?? false);
  if (prepared.kind === "done") return prepared.store;
  const checkpointFile = path.join(outDir, CHECKPOINT_FILE);
  const state = prepared.kind === "resume" ? restoreState(checkpointFile, prepared.json, prepared.st, specs, s) : freshState(specs, s);

  const splitSeed = deriveSeed(s.seed, "examples:split");
  const limit = s.maxDocs ?? Infinity;
  const total = Math.min(limit, c.documents);
  progress.start(`examples ${specs.length} feature${specs.length === 1 ? "" : "s"}`, total);
  progress.update(state.documents, `${state.tokens} tokens`);
  let checkpointed = state.documents;
  let stoppedAtMax = false;
  // False while a group of documents is being folded in: an error then leaves a state that is not whole.
  let whole = true;
  const entries = c.entries(state.nextLine)[Symbol.asyncIterator]();
  try {
    let corpusDone = false;
    while (!corpusDone && state.documents < limit) {
      signal?.throwIfAborted();
      const window: { index: number; ids: number[] }[] = [];
      let lastLine = state.nextLine - 1;
      while (window.length < s.windowDocs && state.documents + window.length < limit) {
        const r = await entries.next();
        if (r.done) {
          corpusDone = true;
          break;
        }
        lastLine = r.value.index;
        let ids = tokenizeDocument(model, r.value, { chat: s.chat }).ids;
        if (ids.length === 0) continue;
        if (ids.length > s.maxDocTokens) ids = ids.slice(0, s.maxDocTokens);
        window.push({ index: r.value.index, ids });
      }
      const rows = window.length > 0 ? await documentActivations(model, window, hooks, { batchTokens: s.batchTokens, signal }) : [];
      whole = false;
      for (let i = 0; i < window.length; i++) await foldDocument(state, uses, s, window[i]!, rows[i]!, isTestDocument(splitSeed, window[i]!.index, s.testFraction));
      state.nextLine = lastLine + 1;
      whole = true;
      progress.update(state.documents, `${state.tokens} tokens`);
      if (state.documents - checkpointed >= s.checkpointEvery) {
        await writeCheckpoint(checkpointFile, identity, state);
        checkpointed = state.documents;
      }
    }
    if (!corpusDone && state.documents >= limit) stoppedAtMax = !(await entries.next()).done;
  } catch (err) {
    // Stopped between two groups of documents: the state is whole, so it is kept for the next call.
    if (signal?.aborted && whole && state.documents > checkpointed) await writeCheckpoint(checkpointFile, identity, state);
    throw err;
  } finally {
    await entries.return?.();
  }
  if (state.documents === 0) throw new ArgumentError(`corpus: ${c.path ?? "the document list"} gives no tokens`, { field: "corpus" });

  const saeOf = new Map(uses.flatMap((u) => u.features.map((f) => [f.id, u.sae] as const)));
  const logits = decoderLogits(model, state.features.map((f) => ({ sae: saeOf.get(f.spec.id)!, index: f.spec.index })), s.topLogits);
  const isSpecial = specialTokenTest(model);
  const windows: StoredWindow[] = [];
  const add = (items: WindowItem[]): number[] =>
    items.map((w) => {
      windows.push({ doc: w.doc, start: w.start, centre: w.centre, ids: w.ids, acts: w.acts, special: Array.from(w.ids, (id) => (isSpecial(id) ? 1 : 0)) });
      return windows.length - 1;
    });
  const features: FeatureRecordJson[] = state.features.map((f, i) => {
    const fin = finishFeature(f, s, state);
    return {
      id: f.spec.id,
      layer: f.spec.layer,
      index: f.spec.index,
      hook: f.spec.hook,
      tags: tags[f.spec.id] ?? [],
      tokens: state.tokens,
      nonzero: f.nonzero,
      frac_nonzero: f.nonzero / state.tokens,
      max_activation: f.max,
      normalisation: { quantile: s.normalisationQuantile, value: fin.normalisation },
      histogram: fin.histogram,
      logits: logits[i]!,
      values: { kept: f.values.n, exact: f.values.n === f.nonzero },
      slices: { train: fin.trainSlices, test: fin.testSlices },
      examples: {
        train_top: add(fin.top),
        train_quantiles: fin.trainQuantiles.map(add),
        test_activating: add(fin.testActivating.map((x) => x.w)),
        test_activating_slices: fin.testActivating.map((x) => x.slice),
        test_non_activating: add(fin.nonActivating),
      },
      warnings: fin.warnings,
    };
  });
  const pieces = new Map<number, string>();
  const used = [...new Set(windows.flatMap((w) => Array.from(w.ids)))].sort((a, b) => a - b);
  const decoded = model.tokenizer ? model.toStrTokens(used) : used.map((id) => `<${id}>`);
  used.forEach((id, i) => pieces.set(id, decoded[i]!));
  const storeWarnings: string[] = [];
  if (state.trainDocuments === 0) storeWarnings.push(`no document fell on the train side (testFraction ${s.testFraction}, ${state.documents} documents): there are no train examples`);
  if (state.testDocuments === 0) storeWarnings.push(`no document fell on the test side (testFraction ${s.testFraction}, ${state.documents} documents): there are no test examples`);
  const manifest: Omit<ExamplesManifest, "tensors" | "tokens_file"> = {
    format: EXAMPLES_FORMAT,
    version: EXAMPLES_VERSION,
    complete: true,
    model: { path: model.dir, architecture: model.config.architecture, fingerprint, vocab_size: model.config.vocabSize },
    saes: saeRecords,
    corpus: { path: c.path ?? opts.corpusPath ?? null, sha256: c.sha256, documents: c.documents },
    options: optionsRecord,
    documents: state.documents,
    tokens: state.tokens,
    train_documents: state.trainDocuments,
    test_documents: state.testDocuments,
    stopped_at_max_docs: stoppedAtMax,
    features,
    warnings: storeWarnings,
  };
  await writeExampleStore(outDir, manifest, windows, pieces);
  await rm(checkpointFile, { force: true });
  progress.finish(`${state.documents} documents, ${state.tokens} tokens, ${specs.length} features`);
  return openExampleStore(outDir);
}

/** Encodes one document at every SAE the features need and folds each feature's activations into the state. */
async function foldDocument(state: CollectState, uses: SaeUse[], s: Settings, doc: { index: number; ids: number[] }, rows: Float32Array[], isTest: boolean): Promise<void> {
  const T = doc.ids.length;
  state.documents++;
  state.tokens += T;
  if (isTest) state.testDocuments++;
  else state.trainDocuments++;
  for (const u of uses) {
    // One document per encoder call, so a code never depends on which documents shared a batch.
    const code = await encodeTopKOrt(u.sae, rows[u.hookIndex]!, T);
    const k = code.k;
    const dense = u.features.map(() => new Float32Array(T));
    for (let t = 0; t < T; t++) {
      for (let m = 0; m < k; m++) {
        const slot = u.slotOf[code.indices[t * k + m]!]!;
        if (slot < 0) continue;
        const v = code.values[t * k + m]!;
        if (v > 0) dense[slot]![t] = v;
      }
    }
    u.features.forEach((spec, j) => updateFeature(state.features[spec.ordinal]!, dense[j]!, doc.ids, doc.index, isTest, s.context));
  }
}

interface FinishedFeature {
  normalisation: number;
  histogram: Histogram;
  top: WindowItem[];
  trainQuantiles: WindowItem[][];
  trainSlices: ExampleSlice[];
  testActivating: { w: WindowItem; slice: number }[];
  testSlices: ExampleSlice[];
  nonActivating: WindowItem[];
  warnings: string[];
}

/**
 * Equal-width bins over [0, max] of the (sorted) values, numpy.histogram's: edges i * (max / bins), the last one
 * max itself; a value v is in bin i when edges[i] <= v < edges[i + 1], the last bin also holding max.
 */
function histogramOf(sorted: Float64Array, max: number, bins: number): Histogram {
  if (sorted.length === 0 || !(max > 0)) return { edges: [], counts: [] };
  const step = max / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? max : i * step));
  const counts = new Array<number>(bins).fill(0);
  let bin = 0;
  for (const v of sorted) {
    while (bin < bins - 1 && v >= edges[bin + 1]!) bin++;
    counts[bin]!++;
  }
  return { edges, counts };
}

/** Sorts a side's sample by centre activation and cuts it into `Q` equal-count slices (the first ones short when there are fewer windows than slices). */
function slicesOf(items: readonly WindowItem[], Q: number): { slices: ExampleSlice[]; members: WindowItem[][] } {
  const sorted = items.slice().sort((a, b) => a.act - b.act || a.doc - b.doc || a.pos - b.pos);
  const n = sorted.length;
  const members: WindowItem[][] = [];
  const slices: ExampleSlice[] = [];
  for (let q = 0; q < Q; q++) {
    const m = sorted.slice(Math.floor((q * n) / Q), Math.floor(((q + 1) * n) / Q));
    members.push(m);
    slices.push(m.length > 0 ? { lo: m[0]!.act, hi: m[m.length - 1]!.act, count: m.length } : { lo: 0, hi: 0, count: 0 });
  }
  return { slices, members };
}

/** Windows already chosen on one side, per document, so that no two chosen windows overlap. */
class Taken {
  private readonly byDoc = new Map<number, [number, number][]>();
  overlaps(w: WindowItem): boolean {
    const end = w.start + w.ids.length;
    return (this.byDoc.get(w.doc) ?? []).some(([s, e]) => s < end && w.start < e);
  }
  add(w: WindowItem): void {
    const list = this.byDoc.get(w.doc) ?? [];
    list.push([w.start, w.start + w.ids.length]);
    this.byDoc.set(w.doc, list);
  }
}

/** From each slice, highest first, up to `per` windows in random (key) order, skipping overlaps. */
function drawFromSlices(members: WindowItem[][], per: number, taken: Taken): WindowItem[][] {
  const picks: WindowItem[][] = members.map(() => []);
  for (let q = members.length - 1; q >= 0; q--) {
    for (const w of members[q]!.slice().sort((a, b) => (byKey(a, b) ? -1 : 1))) {
      if (picks[q]!.length >= per) break;
      if (taken.overlaps(w)) continue;
      picks[q]!.push(w);
      taken.add(w);
    }
  }
  return picks;
}

function finishFeature(f: FeatureState, s: Settings, state: CollectState): FinishedFeature {
  const warnings: string[] = [];
  const sorted = Float64Array.from(f.values.values.subarray(0, f.values.n)).sort();
  const n = sorted.length;
  const normalisation = n > 0 ? quantileSorted(sorted, s.normalisationQuantile) : 0;
  if (f.nonzero === 0) warnings.push(`never fired on the ${state.tokens} tokens of ${state.documents} documents: no activating examples, and no normalisation (value 0)`);
  else if ((n - 1) * (1 - s.normalisationQuantile) < 1 && s.normalisationQuantile < 1) {
    warnings.push(`normalisation: the ${s.normalisationQuantile} quantile of only ${n} non-zero activations lies between the two largest (it is about the maximum); more documents give a steadier scale`);
  }
  if (f.values.n < f.nonzero) warnings.push(`normalisation and histogram are estimated from a uniform sample of ${f.values.n} of the ${f.nonzero} non-zero activations (valueCap)`);
  const top = f.top.items.slice().sort((a, b) => (byActivation(a, b) ? -1 : 1));
  const trainTaken = new Taken();
  for (const w of top) trainTaken.add(w);
  const train = slicesOf(f.trainPool.items, s.quantiles);
  const trainQuantiles = drawFromSlices(train.members, s.perQuantileTrain, trainTaken);
  const test = slicesOf(f.testPool.items, s.quantiles);
  const testPicks = drawFromSlices(test.members, s.perQuantileTest, new Taken());
  const testActivating = testPicks.flatMap((ws, slice) => ws.map((w) => ({ w, slice })));
  const nonActivating = f.zeroPool.items.slice().sort((a, b) => (byKey(a, b) ? -1 : 1));
  const short = (what: string, got: number, want: number) => {
    if (got < want) warnings.push(`${what}: ${got} of the ${want} windows asked for`);
  };
  if (f.nonzero > 0) {
    short("train.top", top.length, s.topExamples);
    short("train.quantiles", trainQuantiles.reduce((t, q) => t + q.length, 0), s.quantiles * s.perQuantileTrain);
    short("test.activating", testActivating.length, s.quantiles * s.perQuantileTest);
  }
  short("test.nonActivating", nonActivating.length, s.nonActivating);
  return {
    normalisation,
    histogram: histogramOf(sorted, f.max, s.histogramBins),
    top,
    trainQuantiles,
    trainSlices: train.slices,
    testActivating,
    testSlices: test.slices,
    nonActivating,
    warnings,
  };
}

/**
 * Per feature, the `topN` largest and smallest entries of W_dec[f] · W_U over the vocabulary (W_U = lm_head, or
 * the embedding when tied), read in blocks of rows so the whole unembedding is never held at once.
 */
function decoderLogits(model: Model, features: { sae: Sae; index: number }[], topN: number): { top: TokenLogit[]; bottom: TokenLogit[] }[] {
  if (topN === 0) return features.map(() => ({ top: [], bottom: [] }));
  const name = model.config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  const ref = model.weights.ref(name);
  const [V, D] = ref.shape as [number, number];
  const elem = DTYPE_SIZES[ref.dtype]!;
  type L = { id: number; value: number };
  const larger = (a: L, b: L) => a.value > b.value || (a.value === b.value && a.id < b.id);
  const smaller = (a: L, b: L) => a.value < b.value || (a.value === b.value && a.id < b.id);
  const tops = features.map(() => new BestK<L>(topN, larger));
  const bottoms = features.map(() => new BestK<L>(topN, smaller));
  const dirs = features.map((f) => f.sae.params.W_dec.subarray(f.index * D, (f.index + 1) * D));
  const BLOCK = 4096;
  for (let r0 = 0; r0 < V; r0 += BLOCK) {
    const rows = Math.min(BLOCK, V - r0);
    const block = readTensorF32({ ...ref, shape: [rows, D], offset: ref.offset + r0 * D * elem, byteLength: rows * D * elem }, { finite: true }).data;
    dirs.forEach((dir, fi) => {
      for (let r = 0; r < rows; r++) {
        let acc = 0;
        const o = r * D;
        for (let d = 0; d < D; d++) acc += dir[d]! * block[o + d]!;
        const l = { id: r0 + r, value: acc };
        if (tops[fi]!.admits(l)) tops[fi]!.push(l);
        if (bottoms[fi]!.admits(l)) bottoms[fi]!.push(l);
      }
    });
  }
  const piece = (id: number) => (model.tokenizer ? model.toStrTokens([id])[0]! : `<${id}>`);
  const out = (h: BestK<L>, better: (a: L, b: L) => boolean): TokenLogit[] =>
    h.items
      .slice()
      .sort((a, b) => (better(a, b) ? -1 : 1))
      .map((l) => ({ id: l.id, token: piece(l.id), value: l.value }));
  return features.map((_, i) => ({ top: out(tops[i]!, larger), bottom: out(bottoms[i]!, smaller) }));
}

