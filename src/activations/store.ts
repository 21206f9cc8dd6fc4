// Reading an activation store (format: ./format.ts).
//
// Later stages see a store through `ActivationReader`, a deliberately small interface (d_model, a row
// count, and batches of rows), so the SAE trainer never learns about chunks, manifests or files and can be
// fed from memory in tests. The store's own reader streams one layer's chunks with bounded memory:
//
//   shuffle: each epoch shuffles the chunk order, then loads a few chunks at a time (`bufferTokens` rows),
//   shuffles the rows inside that buffer and cuts batches; the rows left over (fewer than a batch) move on
//   into the next buffer. So every row comes exactly once per epoch, only the last batch of an epoch may be
//   short, and the order is a pure function of (seed, epoch). Rows of one document sit in the same chunk,
//   so mixing is only as good as the buffer is large; small chunks with a large buffer mix best.
//
// Every tensor read is checked against the sha256 the manifest holds for it (`verify`, on by default),
// so a flipped bit or a truncated chunk is a FormatError naming the chunk file, never silent garbage.

import { createHash } from "node:crypto";
import * as path from "node:path";
import { ArgumentError, FormatError, describeValue } from "../errors.ts";
import { bytesToF32, openSafetensors, readTensorBytes } from "../formats/safetensors.ts";
import { mulberry32, shuffleInPlace } from "../util/prng.ts";
import { sha256File } from "../util/hash.ts";
import { downloadFolder, isRemotePath } from "../storage/object-store.ts";
import type { Progress } from "../progress.ts";
import { MANIFEST_FILE, TOKEN_TENSORS, readManifest, type ChunkEntry, type StoreDtype, type StoreManifest } from "./format.ts";
import { hookName, type Site } from "../model/hooks.ts";

/** Where rows of activations come from: travels with the data so an SAE trained on them can record it. */
export interface ActivationProvenance {
  /** The hook the rows were read at (`blocks.2.hook_mlp_out`); null when unknown (synthetic data). */
  readonly hookName: string | null;
  /** The model they come from: its folder or hub id, and the fingerprint of its weights and tokenizer. */
  readonly model: { readonly name: string; readonly fingerprint: string | null } | null;
  /** The store (folder) or data set they were read from, when there is one. */
  readonly dataset: string | null;
  /**
   * Whether the harvest that wrote them finished (absent for sources that are not stores): trainSae refuses an
   * unfinished one unless `allowIncomplete`, naming what is missing.
   */
  readonly completeness?: StoreCompleteness | null;
}

/** How far a store's harvest got: documents harvested of the corpus's, chunks and tokens written. */
export interface StoreCompleteness {
  readonly complete: boolean;
  readonly documents: number;
  readonly corpusDocuments: number;
  readonly chunks: number;
  readonly tokens: number;
}

/**
 * What the SAE trainer (and anything else that consumes rows) needs from a source of activations: rows, and where
 * they come from. The store's `LayerReader` is one; tests feed one from memory.
 */
export interface ActivationReader extends ActivationProvenance {
  /** Width of each row. */
  readonly dModel: number;
  /** Rows one epoch yields. */
  readonly tokens: number;
  /** Row-major blocks of `[rows, dModel]`; `batchSize` rows each except possibly the last of an epoch. */
  batches(opts: BatchOptions): AsyncIterable<Float32Array>;
}

export interface BatchOptions {
  /** Rows per batch. */
  batchSize: number;
  /** Default true. */
  shuffle?: boolean;
  /** Seed of the shuffle (integer). Default 0. */
  seed?: number;
  /** Passes over the data; Infinity for an endless stream. Default 1. */
  epochs?: number;
  /** Skip the short last batch of each epoch. Default false. */
  dropLast?: boolean;
  /** Rows held for shuffling (rounded to whole chunks, at least one). Default 131072. */
  bufferTokens?: number;
}

export interface ReaderOptions {
  /** Leave out rows of special tokens (chat markers, BOS/EOS). Default false: every token. */
  dropSpecial?: boolean;
  /** Check each tensor read against the manifest's sha256. Default true. */
  verify?: boolean;
}

/** One chunk: per-token information plus the activations of the requested layers. */
export interface StoreChunk {
  index: number;
  file: string;
  tokens: number;
  tokenIds: Int32Array;
  /** Corpus index (line - 1, or array index) of each token's document. */
  docIds: Int32Array;
  /** Position of each token inside its document. */
  positions: Int32Array;
  /** 1 for special tokens. */
  special: Uint8Array;
  /** Layer -> `[tokens, dModel]` row-major. */
  activations: Map<number, Float32Array>;
}

export const DEFAULT_BUFFER_TOKENS = 131072;

export interface OpenStoreOptions {
  /** Progress of the download when `dir` is an `s3://` URL. */
  progress?: Progress;
}

/**
 * Opens the store in `dir`: a folder, or an `s3://BUCKET/PREFIX` URL (src/storage/object-store.ts), which is first
 * copied into the local cache (only files changed since the last copy are fetched; a store whose upload did not
 * finish, so has no manifest, is refused naming the URL). The store then reads the local copy.
 */
export async function openActivationStore(dir: string, opts: OpenStoreOptions = {}): Promise<ActivationStore> {
  if (isRemotePath(dir)) {
    const copy = await downloadFolder(dir, undefined, { manifest: MANIFEST_FILE, progress: opts.progress });
    return new ActivationStore(copy.dir, await readManifest(copy.dir), copy.url);
  }
  const abs = path.resolve(dir);
  return new ActivationStore(abs, await readManifest(abs));
}

export class ActivationStore {
  readonly layers: readonly number[];
  readonly site: Site;
  readonly hooks: readonly string[];
  readonly dModel: number;
  readonly dtype: StoreDtype;
  /** Rows per layer. */
  readonly tokens: number;
  /** False when the harvest was interrupted (what is there is readable; rerun the harvest to finish it). */
  readonly complete: boolean;

  /** Where the store was opened from: its folder, or the `s3://` URL whose local copy `dir` is. */
  readonly source: string;

  constructor(
    readonly dir: string,
    readonly manifest: StoreManifest,
    source?: string,
  ) {
    this.source = source ?? dir;
    this.layers = manifest.layers;
    this.site = manifest.site;
    this.hooks = manifest.hooks;
    this.dModel = manifest.d_model;
    this.dtype = manifest.dtype;
    this.tokens = manifest.tokens;
    this.complete = manifest.complete;
  }

  get chunkCount(): number {
    return this.manifest.chunks.length;
  }

  /** A reader over one layer's rows. */
  reader(layer: number, opts: ReaderOptions = {}): LayerReader {
    this.checkLayer(layer);
    return new LayerReader(this, layer, opts);
  }

  /** Every row of one layer in store order (`[rows, dModel]`); for stores that fit in memory. */
  async readAll(layer: number, opts: ReaderOptions = {}): Promise<Float32Array> {
    this.checkLayer(layer);
    const drop = opts.dropSpecial ?? false;
    const rows = drop ? this.tokens - this.manifest.special_tokens : this.tokens;
    const out = new Float32Array(rows * this.dModel);
    let at = 0;
    for (let i = 0; i < this.chunkCount; i++) {
      const part = this.loadRows(i, layer, drop, opts.verify ?? true);
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  /** One chunk's token information and activations (all layers unless `layers` is given). */
  async readChunk(index: number, opts: { layers?: number[]; verify?: boolean } = {}): Promise<StoreChunk> {
    const entry = this.entry(index);
    const layers = opts.layers ?? [...this.layers];
    layers.forEach((l) => this.checkLayer(l));
    const verify = opts.verify ?? true;
    const { tokenIds, docIds, positions, special } = this.loadTokens(index, verify);
    const activations = new Map<number, Float32Array>();
    for (const l of layers) activations.set(l, this.loadLayer(index, l, verify));
    return { index, file: path.join(this.dir, entry.file), tokens: entry.tokens, tokenIds, docIds, positions, special, activations };
  }

  /** Checks the whole-file sha256 of every chunk; throws FormatError naming the first bad one. */
  async verify(): Promise<void> {
    for (const c of this.manifest.chunks) {
      const file = path.join(this.dir, c.file);
      let actual: string;
      try {
        actual = await sha256File(file);
      } catch (err) {
        throw new FormatError(`${file}: chunk listed in ${path.join(this.dir, "manifest.json")} cannot be read: ${(err as Error).message}`, { file, cause: err });
      }
      if (actual !== c.sha256) throw new FormatError(`${file}: sha256 ${actual} does not match the manifest's ${c.sha256}; the chunk is corrupt (harvest again with --overwrite)`, { file });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Internals shared with LayerReader

  private checkLayer(layer: number): void {
    if (!this.layers.includes(layer)) {
      throw new ArgumentError(`layer: ${describeValue(layer)} is not in the store ${this.dir} (layers ${this.layers.join(", ")})`, { field: "layer" });
    }
  }

  private entry(index: number): ChunkEntry {
    const c = this.manifest.chunks[index];
    if (!Number.isInteger(index) || !c) throw new ArgumentError(`chunk: ${describeValue(index)} is not a chunk index in 0..${this.chunkCount - 1}`, { field: "chunk" });
    return c;
  }

  /** Reads one named tensor's bytes, checking name, dtype, shape and (optionally) sha256. */
  private tensorBytes(index: number, name: string, dtype: string, shape: number[], verify: boolean): Uint8Array {
    const entry = this.entry(index);
    const file = path.join(this.dir, entry.file);
    let bytes: Uint8Array;
    try {
      const st = openSafetensors(file);
      const ref = st.tensors.get(name);
      if (!ref) throw new FormatError(`${file}: no tensor "${name}"`, { file, field: name });
      if (ref.dtype !== dtype || ref.shape.length !== shape.length || ref.shape.some((d, i) => d !== shape[i])) {
        throw new FormatError(`${file}: tensor "${name}" is ${ref.dtype} [${ref.shape.join(", ")}], the manifest says ${dtype} [${shape.join(", ")}]`, { file, field: name });
      }
      bytes = readTensorBytes(ref);
    } catch (err) {
      if (err instanceof FormatError && err.message.startsWith(file)) throw err;
      throw new FormatError(`${file}: chunk ${index} of ${this.dir} cannot be read: ${(err as Error).message}`, { file, field: name, cause: err });
    }
    if (verify) {
      const actual = createHash("sha256").update(bytes).digest("hex");
      if (actual !== entry.tensors[name]) {
        throw new FormatError(`${file}: tensor "${name}" does not match its sha256 in the manifest; the chunk is corrupt (harvest again with --overwrite)`, { file, field: name });
      }
    }
    return bytes;
  }

  /** `[tokens, dModel]` of one layer in one chunk, as float32. */
  loadLayer(index: number, layer: number, verify: boolean): Float32Array {
    return bytesToF32(this.loadLayerBytes(index, layer, verify), this.dtype);
  }

  /** One layer's tensor of one chunk as stored (`dtype` bytes, little-endian): what a merge of shard stores copies. */
  loadLayerBytes(index: number, layer: number, verify: boolean): Uint8Array {
    const n = this.entry(index).tokens;
    return this.tensorBytes(index, hookName(layer, this.site), this.dtype, [n, this.dModel], verify);
  }

  loadTokens(index: number, verify: boolean): Pick<StoreChunk, "tokenIds" | "docIds" | "positions" | "special"> {
    const n = this.entry(index).tokens;
    const i32 = (name: string) => toI32(this.tensorBytes(index, name, "I32", [n], verify));
    return {
      tokenIds: i32(TOKEN_TENSORS.tokenIds),
      docIds: i32(TOKEN_TENSORS.docIds),
      positions: i32(TOKEN_TENSORS.positions),
      special: this.tensorBytes(index, TOKEN_TENSORS.special, "U8", [n], verify),
    };
  }

  /** One layer's rows of one chunk, special rows left out when `dropSpecial`. */
  loadRows(index: number, layer: number, dropSpecial: boolean, verify: boolean): Float32Array {
    const rows = this.loadLayer(index, layer, verify);
    const entry = this.entry(index);
    if (!dropSpecial || entry.special === 0) return rows;
    const special = this.tensorBytes(index, TOKEN_TENSORS.special, "U8", [entry.tokens], verify);
    const D = this.dModel;
    const out = new Float32Array((entry.tokens - entry.special) * D);
    let at = 0;
    for (let r = 0; r < entry.tokens; r++) {
      if (special[r]) continue;
      out.set(rows.subarray(r * D, (r + 1) * D), at);
      at += D;
    }
    if (at !== out.length) throw new FormatError(`${path.join(this.dir, entry.file)}: ${entry.tokens - at / D} special tokens, the manifest says ${entry.special}`, { field: "special" });
    return out;
  }
}

function toI32(bytes: Uint8Array): Int32Array {
  const out = new Int32Array(bytes.byteLength / 4);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getInt32(i * 4, true);
  return out;
}

/** The store's reader for one layer (see the header for how shuffling works). */
export class LayerReader implements ActivationReader {
  readonly dModel: number;
  readonly tokens: number;
  readonly hookName: string;
  readonly model: { readonly name: string; readonly fingerprint: string };
  readonly dataset: string;
  readonly completeness: StoreCompleteness;
  /** @deprecated since 0.2: `hookName`. */
  get hook(): string {
    return this.hookName;
  }

  constructor(
    readonly store: ActivationStore,
    readonly layer: number,
    private readonly opts: ReaderOptions,
  ) {
    this.dModel = store.dModel;
    this.hookName = hookName(layer, store.site);
    this.model = { name: store.manifest.model.path, fingerprint: store.manifest.model.fingerprint };
    this.dataset = store.source;
    const m = store.manifest;
    this.completeness = { complete: m.complete, documents: m.documents, corpusDocuments: m.corpus.documents, chunks: m.chunks.length, tokens: m.tokens };
    this.tokens = opts.dropSpecial ? store.tokens - store.manifest.special_tokens : store.tokens;
  }

  async *batches(opts: BatchOptions): AsyncGenerator<Float32Array> {
    const batchSize = opts.batchSize;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ArgumentError(`batchSize: must be a positive integer, got ${describeValue(batchSize)}`, { field: "batchSize" });
    const epochs = opts.epochs ?? 1;
    if (!(epochs === Infinity || (Number.isSafeInteger(epochs) && epochs >= 1))) throw new ArgumentError(`epochs: must be a positive integer or Infinity, got ${describeValue(epochs)}`, { field: "epochs" });
    const seed = opts.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new ArgumentError(`seed: must be an integer, got ${describeValue(seed)}`, { field: "seed" });
    const bufferTokens = opts.bufferTokens ?? DEFAULT_BUFFER_TOKENS;
    if (!(bufferTokens > 0)) throw new ArgumentError(`bufferTokens: must be positive, got ${describeValue(bufferTokens)}`, { field: "bufferTokens" });
    const shuffle = opts.shuffle ?? true;
    const drop = this.opts.dropSpecial ?? false;
    const verify = this.opts.verify ?? true;
    const D = this.dModel;
    const chunkTokens = this.store.manifest.options.chunk_tokens;
    const perBuffer = Math.max(1, Math.floor(bufferTokens / chunkTokens));
    const nChunks = this.store.chunkCount;

    for (let epoch = 0; epoch < epochs; epoch++) {
      const rand = mulberry32(epochSeed(seed, epoch));
      const order = Array.from({ length: nChunks }, (_, i) => i);
      if (shuffle) shuffleInPlace(rand, order);
      let carry: Float32Array = new Float32Array(0);
      for (let g = 0; g < nChunks; g += perBuffer) {
        const parts = [carry, ...order.slice(g, g + perBuffer).map((i) => this.store.loadRows(i, this.layer, drop, verify))];
        const buf = concat(parts);
        const n = buf.length / D;
        const rowOrder = new Uint32Array(n);
        for (let i = 0; i < n; i++) rowOrder[i] = i;
        if (shuffle) shuffleInPlace(rand, rowOrder);
        const full = Math.floor(n / batchSize);
        for (let b = 0; b < full; b++) yield gather(buf, rowOrder, b * batchSize, batchSize, D);
        carry = gather(buf, rowOrder, full * batchSize, n - full * batchSize, D);
      }
      if (carry.length > 0 && !(opts.dropLast ?? false)) yield carry;
    }
  }
}

function epochSeed(seed: number, epoch: number): number {
  // Distinct, well-spread 32-bit seeds per (seed, epoch).
  let h = (seed ^ 0x5bd1e995) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) ^ Math.imul(epoch + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 13), 0x297a2d39);
  return (h ^ (h >>> 16)) >>> 0;
}

function concat(parts: Float32Array[]): Float32Array {
  const nonEmpty = parts.filter((p) => p.length > 0);
  if (nonEmpty.length === 1) return nonEmpty[0]!;
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function gather(buf: Float32Array, order: Uint32Array, from: number, count: number, D: number): Float32Array {
  const out = new Float32Array(count * D);
  for (let i = 0; i < count; i++) {
    const r = order[from + i]!;
    out.set(buf.subarray(r * D, (r + 1) * D), i * D);
  }
  return out;
}
