// Merging shard stores (`safesail harvest --shard I/N`, then `safesail harvest merge`): N stores, each holding a
// contiguous range of the corpus's documents, become the one store an unsharded harvest writes.
//
//   const store = await mergeActivationShards(await findShardDirs("work/acts"), { out: "work/acts" });
//
// Checks first, before anything is written: every folder is a shard store (its manifest has `shard`) and complete;
// the set is one split (one N, each index once: no gap, no overlap, src/util/shard.ts checkShardSet) whose document
// ranges tile the corpus (0..corpus_lines, each shard starting where the one before ended); and every shard has the
// same model (fingerprint), site, layers, dtype, corpus (sha256) and harvest options. Errors name the shard folder
// and the field.
//
// Then it streams: one shard chunk at a time is read (each tensor checked against its sha256), its rows copied into
// the merged chunk being filled, and full chunks written (temp file + rename); the manifest goes last, so a folder
// without it holds no merged store and a rerun starts over. Memory: one shard chunk plus one merged chunk.
//
// Why copy instead of a merged manifest that references the shards' chunk files: the store format has every chunk
// but the last hold exactly `chunk_tokens` rows, named chunk-NNNNN in the store's own folder, and every reader (the
// shuffling reader's buffers, examples, metrics) relies on that; a shard's last chunk is short, so references would
// need a format change that every reader follows, and the merged store would break when shard folders are moved or
// deleted. Copying costs one sequential pass over bytes the harvest already wrote (seconds per GB, against the
// hours of forward passes), and gives a plain store that is checkably the unsharded one: the rows are bit for bit
// what each document's own forward pass gives (./harvest.ts), so the merged chunks and manifest are byte-identical
// to an unsharded harvest's with the same model, corpus and settings. The manifest's per-chunk `window` (where an
// interrupted harvest would re-read from) is recomputed with the harvest's windowing rule, and `lines` from the
// line hashes the shards recorded, so even those fields match.
import { readdir, rm } from "node:fs/promises";
import * as path from "node:path";
import { ArgumentError, FormatError } from "../errors.ts";
import type { SafetensorsDtype, TensorData } from "../formats/safetensors.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { downloadFolder, isRemotePath, joinS3Url, listSubfolders, objectCacheDir, objectExists, parseS3Url, uploadFolder } from "../storage/object-store.ts";
import { fieldDiffs } from "../util/resume.ts";
import { checkShardSet, parseShardName, shardLabel } from "../util/shard.ts";
import { LINE_HASH_CHARS, MANIFEST_FILE, STORE_FORMAT, TOKEN_TENSORS, chunkFileName, formatManifest, readManifest, withTotals, type ChunkEntry, type StoreManifest, type StreamCursor } from "./format.ts";
import { writeChunkFile } from "./harvest.ts";
import { ActivationStore } from "./store.ts";

export interface MergeShardsOptions {
  /** The merged store's folder. It may be the folder holding the shard folders (`harvest --out`). */
  out: string;
  /** Replace a store already in `out` (its manifest and chunks; shard folders in it are kept). Default: refuse. */
  overwrite?: boolean;
  /** Check every tensor read against its sha256 (default true). */
  verify?: boolean;
  progress?: Progress;
  signal?: AbortSignal;
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
const isChunkFile = (n: string) => /^chunk-\d{5,}\.safetensors$/.test(n);
const isOurTemp = (n: string) => /^\.(chunk-\d{5,}\.safetensors|manifest\.json)\.tmp-/.test(n);

/** The shard stores (`shard-IIII-of-NNNN` folders with a manifest) inside `dir` (a folder or an `s3://` URL), in name order. */
export async function findShardDirs(dir: string): Promise<string[]> {
  if (isRemotePath(dir)) {
    const url = parseS3Url(dir, "out").url;
    const names = (await listSubfolders(url)).filter((n) => /^shard-\d+-of-\d+$/.test(n));
    if (names.length === 0) throw new ArgumentError(`${url}: holds no shard folders (shard-IIII-of-NNNN/, uploaded by safesail harvest --shard I/N --out ${url})`, { field: "out", file: url });
    return names.sort().map((n) => joinS3Url(url, n));
  }
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && /^shard-\d+-of-\d+$/.test(e.name)).map((e) => e.name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new ArgumentError(`${dir}: no such folder (the --out of the shards' harvests)`, { field: "out", file: dir });
    throw err;
  }
  if (names.length === 0) throw new ArgumentError(`${dir}: holds no shard folders (shard-IIII-of-NNNN/, written by safesail harvest --shard I/N --out ${dir})`, { field: "out", file: dir });
  return names.sort().map((n) => path.join(path.resolve(dir), n));
}

/** The settings two shards of one merge must share (model path and corpus path may differ: other mounts). */
function identity(m: StoreManifest): Record<string, unknown> {
  return {
    format: m.format,
    version: m.version,
    model: { fingerprint: m.model.fingerprint, architecture: m.model.architecture, num_layers: m.model.num_layers, vocab_size: m.model.vocab_size },
    site: m.site,
    layers: m.layers,
    dtype: m.dtype,
    d_model: m.d_model,
    corpus: { sha256: m.corpus.sha256, documents: m.corpus.documents, lines: m.shard?.corpus_lines },
    options: m.options,
  };
}

interface ShardPart {
  dir: string;
  label: string;
  manifest: StoreManifest;
  shard: NonNullable<StoreManifest["shard"]>;
}

/** Checks the shard folders (see the file comment) and returns them in shard order. */
export async function checkActivationShards(dirs: readonly string[]): Promise<ShardPart[]> {
  if (dirs.length === 0) throw new ArgumentError("no shard folders given", { field: "shards" });
  const parts: ShardPart[] = [];
  for (const d of dirs) {
    const dir = path.resolve(d);
    let manifest: StoreManifest;
    try {
      manifest = await readManifest(dir);
    } catch (err) {
      if (err instanceof FormatError && /not found/.test(err.message)) {
        const hint = parseShardName(path.basename(dir)) ? `shard ${shardLabel(parseShardName(path.basename(dir))!)} has not started or was cleared; run it` : "is it a shard folder?";
        throw new ArgumentError(`${dir}: no ${MANIFEST_FILE} (${hint})`, { field: "shards", file: dir, cause: err });
      }
      throw err;
    }
    if (!manifest.shard) throw new ArgumentError(`${dir}: not a shard store (its ${MANIFEST_FILE} has no "shard" field; harvest with --shard I/N)`, { field: "shard", file: dir });
    parts.push({ dir, label: dir, manifest, shard: manifest.shard });
  }
  const ordered = checkShardSet(parts);
  const first = ordered[0]!;
  for (const p of ordered.slice(1)) {
    const diffs = fieldDiffs(identity(first.manifest), identity(p.manifest));
    if (diffs.length > 0) {
      throw new ArgumentError(
        `${p.dir}: ${diffs.map((d) => `${d.field} is ${d.b}, but ${d.a} in ${first.dir}`).join("; ")}: the shards of one store must share model, site, layers, dtype, corpus and harvest settings`,
        { field: diffs[0]!.field, file: p.dir },
      );
    }
  }
  let expectFrom = 0;
  for (const p of ordered) {
    const { from, to } = p.shard.documents;
    if (!p.manifest.complete) {
      const last = p.manifest.chunks[p.manifest.chunks.length - 1];
      const reached = last?.lines?.to ?? from;
      throw new ArgumentError(
        `${p.dir}: shard ${shardLabel(p.shard)} is incomplete (manifest complete: false; ${p.manifest.chunks.length} chunks, documents ${from}..${reached - 1} of its ${from}..${to - 1} harvested); rerun its harvest command to finish it`,
        { field: "complete", file: p.dir },
      );
    }
    if (from > expectFrom) throw new ArgumentError(`gap: documents ${expectFrom}..${from - 1} are in no shard (${p.dir} starts at ${from}${p === first ? "" : ", the shard before ends at " + expectFrom})`, { field: "shard.documents", file: p.dir });
    if (from < expectFrom) throw new ArgumentError(`overlap: documents ${from}..${expectFrom - 1} are in ${p.dir} and in the shard before it`, { field: "shard.documents", file: p.dir });
    const lastTo = p.manifest.chunks[p.manifest.chunks.length - 1]?.lines?.to ?? from;
    if (lastTo + p.shard.tail_lines.length / LINE_HASH_CHARS !== to) {
      throw new FormatError(`${path.join(p.dir, MANIFEST_FILE)}: "shard.tail_lines" covers ${p.shard.tail_lines.length / LINE_HASH_CHARS} lines, but the chunks end at line ${lastTo} and the range at ${to}`, { field: "shard.tail_lines", file: p.dir });
    }
    expectFrom = to;
  }
  const lines = first.shard.corpus_lines;
  if (expectFrom !== lines) throw new ArgumentError(`gap: documents ${expectFrom}..${lines - 1} of the corpus's ${lines} lines are in no shard (the last shard, ${ordered[ordered.length - 1]!.dir}, ends at ${expectFrom})`, { field: "shard.documents" });
  return ordered;
}

/**
 * Merges complete shard stores into one store at `opts.out` (see the file comment); returns it. Shards and `out`
 * may be `s3://` URLs (src/storage/object-store.ts): remote shards are read through the local cache (a shard whose
 * upload did not finish is refused, naming it); a remote `out` is merged into its local cache copy, then uploaded,
 * manifest last (a store already there is refused unless `overwrite`).
 */
export async function mergeActivationShards(dirs: readonly string[], opts: MergeShardsOptions): Promise<ActivationStore> {
  if (typeof opts.out !== "string" || opts.out === "") throw new ArgumentError("out: a folder path is required", { field: "out" });
  if (isRemotePath(opts.out) || dirs.some((d) => isRemotePath(d))) return mergeRemote(dirs, opts);
  const out = path.resolve(opts.out);
  const parts = await checkActivationShards(dirs);
  if (parts.some((p) => p.dir === out)) throw new ArgumentError(`out: ${out} is one of the shard folders; merge into another folder (e.g. the one holding them)`, { field: "out", file: out });
  const m0 = parts[0]!.manifest;
  const total = parts.reduce((a, p) => a + p.manifest.tokens, 0);
  if (total === 0) throw new ArgumentError(`the ${parts.length} shards hold no tokens (the corpus gives none)`, { field: "shards" });
  await prepareMergeOut(out, opts.overwrite ?? false);

  const verify = opts.verify ?? true;
  const progress = opts.progress ?? silentProgress;
  const writer = new MergedChunkWriter(out, m0);
  progress.start(`merge ${parts.length} shards`, total);
  for (const p of parts) {
    const store = new ActivationStore(p.dir, p.manifest);
    for (let i = 0; i < p.manifest.chunks.length; i++) {
      opts.signal?.throwIfAborted();
      const entry = p.manifest.chunks[i]!;
      writer.addLines(entry.lines!.from, entry.lines!.hashes, p.dir);
      const tokens = store.loadTokens(i, verify);
      const layers = m0.layers.map((l) => store.loadLayerBytes(i, l, verify));
      await writer.push(tokens, layers, entry.tokens, new Set(entry.truncated_ids ?? []));
      progress.update(writer.rowsPushed, `${p.dir.split(path.sep).pop()} chunk ${i + 1}/${p.manifest.chunks.length}`);
    }
    const lastTo = p.manifest.chunks[p.manifest.chunks.length - 1]?.lines?.to ?? p.shard.documents.from;
    writer.addLines(lastTo, p.shard.tail_lines, p.dir);
  }
  const manifest = await writer.finish();
  progress.finish(`${manifest.tokens} tokens, ${manifest.documents} documents, ${manifest.chunks.length} chunks`);
  return new ActivationStore(out, manifest);
}

async function mergeRemote(dirs: readonly string[], opts: MergeShardsOptions): Promise<ActivationStore> {
  const url = isRemotePath(opts.out) ? parseS3Url(opts.out, "out").url : null;
  if (url && !opts.overwrite && (await objectExists(joinS3Url(url, MANIFEST_FILE), { signal: opts.signal }))) {
    throw new ArgumentError(`out: ${url} already holds an activation store (${MANIFEST_FILE}); use --overwrite (overwrite: true) to replace it with the merge, or another --out`, { field: "out", file: url });
  }
  const local: string[] = [];
  for (const d of dirs) {
    if (!isRemotePath(d)) local.push(d);
    else local.push((await downloadFolder(parseS3Url(d, "shards").url, undefined, { manifest: MANIFEST_FILE, progress: opts.progress, signal: opts.signal })).dir);
  }
  if (!url) return mergeActivationShards(local, opts);
  // The cache's copy of `out` is scratch space: whatever an earlier read left there is replaced.
  const store = await mergeActivationShards(local, { ...opts, out: objectCacheDir(url), overwrite: true });
  await uploadFolder(store.dir, url, { manifest: MANIFEST_FILE, progress: opts.progress, signal: opts.signal });
  return new ActivationStore(store.dir, store.manifest, url);
}

/** Clears what a merge writes in `out` (when allowed); shard folders and other folders are left alone. */
async function prepareMergeOut(out: string, overwrite: boolean): Promise<void> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(out, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return;
    if (code === "ENOTDIR") throw new ArgumentError(`out: ${out} is a file, not a folder`, { field: "out", file: out });
    throw err;
  }
  const names = entries.map((e) => e.name);
  if (names.includes(MANIFEST_FILE) && !overwrite) {
    throw new ArgumentError(`out: ${out} already holds an activation store (${MANIFEST_FILE}); use --overwrite (overwrite: true) to replace it with the merge, or another --out`, { field: "out", file: out });
  }
  const ours = (n: string) => n === MANIFEST_FILE || isChunkFile(n) || isOurTemp(n);
  const others = entries.filter((e) => !ours(e.name) && !(e.isDirectory() && /^shard-\d+-of-\d+$/.test(e.name))).map((e) => e.name);
  if (others.length > 0) {
    throw new ArgumentError(`out: ${out} holds other files (${others.slice(0, 3).join(", ")}${others.length > 3 ? ", ..." : ""}); merge into a new folder, or the one holding only the shard folders`, { field: "out", file: out });
  }
  // The manifest first: a folder never shows a manifest over chunks that are being replaced.
  if (names.includes(MANIFEST_FILE)) await rm(path.join(out, MANIFEST_FILE), { force: true });
  for (const n of names) if (ours(n)) await rm(path.join(out, n), { force: true });
}

/**
 * Fills merged chunks of `chunk_tokens` rows from shard chunks, and derives each chunk entry as the harvest's
 * ChunkWriter would have: counts, cursors, the window (the harvest's rule: a window takes documents while it holds
 * fewer than `window_docs` documents and `window_tokens` tokens) and the corpus lines consumed, with their hashes.
 */
class MergedChunkWriter {
  private readonly D: number;
  private readonly rowBytes: number;
  private readonly chunkTokens: number;
  private readonly acts: Uint8Array[];
  private readonly tokenIds: Int32Array;
  private readonly docIds: Int32Array;
  private readonly positions: Int32Array;
  private readonly special: Uint8Array;
  private n = 0;
  private start: StreamCursor = { doc: 0, offset: 0 };
  private end: StreamCursor = { doc: 0, offset: 0 };
  private documents = 0;
  private truncated = 0;
  private specialCount = 0;
  private chunks: ChunkEntry[] = [];
  /** Rows taken in so far (progress). */
  rowsPushed = 0;
  // The batching window of the harvest (first document, documents and tokens so far).
  private winStart = -1;
  private winDocs = 0;
  private winTokens = 0;
  private rowWindow = 0;
  // Line hashes not yet given to a chunk: lines pendingFrom.. of the corpus.
  private pendingFrom = 0;
  private pending = "";

  constructor(
    private readonly out: string,
    private readonly base: StoreManifest,
  ) {
    this.D = base.d_model;
    this.rowBytes = base.d_model * DTYPE_BYTES[base.dtype]!;
    this.chunkTokens = base.options.chunk_tokens;
    this.acts = base.layers.map(() => new Uint8Array(this.chunkTokens * this.rowBytes));
    this.tokenIds = new Int32Array(this.chunkTokens);
    this.docIds = new Int32Array(this.chunkTokens);
    this.positions = new Int32Array(this.chunkTokens);
    this.special = new Uint8Array(this.chunkTokens);
  }

  /** Appends the hashes of lines `from..` (they must follow the ones already given). */
  addLines(from: number, hashes: string, where: string): void {
    const next = this.pendingFrom + this.pending.length / LINE_HASH_CHARS;
    if (from !== next) throw new FormatError(`${where}: its chunks' "lines" start at line ${from}, expected ${next} (the manifest's line records are inconsistent)`, { field: "lines", file: where });
    this.pending += hashes;
  }

  async push(tokens: { tokenIds: Int32Array; docIds: Int32Array; positions: Int32Array; special: Uint8Array }, layers: Uint8Array[], rows: number, truncatedIds: Set<number>): Promise<void> {
    const { window_docs: windowDocs, window_tokens: windowTokens } = this.base.options;
    let r = 0;
    while (r < rows) {
      const take = Math.min(rows - r, this.chunkTokens - this.n);
      for (let t = 0; t < take; t++) {
        const doc = tokens.docIds[r + t]!;
        const pos = tokens.positions[r + t]!;
        if (this.n + t === 0) this.start = { doc, offset: pos };
        if (pos === 0) {
          this.documents++;
          if (truncatedIds.has(doc)) this.truncated++;
          if (this.winStart < 0 || !(this.winDocs < windowDocs && this.winTokens < windowTokens)) {
            this.winStart = doc;
            this.winDocs = 0;
            this.winTokens = 0;
          }
          this.winDocs++;
        }
        this.winTokens++;
        this.rowWindow = this.winStart;
        if (tokens.special[r + t]) this.specialCount++;
        this.end = { doc, offset: pos + 1 };
      }
      for (let h = 0; h < layers.length; h++) this.acts[h]!.set(layers[h]!.subarray(r * this.rowBytes, (r + take) * this.rowBytes), this.n * this.rowBytes);
      this.tokenIds.set(tokens.tokenIds.subarray(r, r + take), this.n);
      this.docIds.set(tokens.docIds.subarray(r, r + take), this.n);
      this.positions.set(tokens.positions.subarray(r, r + take), this.n);
      this.special.set(tokens.special.subarray(r, r + take), this.n);
      this.n += take;
      r += take;
      this.rowsPushed += take;
      if (this.n === this.chunkTokens) await this.flush();
    }
  }

  async finish(): Promise<StoreManifest> {
    if (this.n > 0) await this.flush();
    const { shard: _shard, ...rest } = this.base;
    const manifest = withTotals({ ...rest, complete: true, limit_reached: false, chunks: this.chunks });
    await writeFileAtomic(path.join(this.out, MANIFEST_FILE), formatManifest(manifest));
    return manifest;
  }

  private async flush(): Promise<void> {
    const n = this.n;
    const index = this.chunks.length;
    const file = chunkFileName(index);
    const tensors: { name: string; dtype: SafetensorsDtype; shape: number[]; data: TensorData }[] = [
      ...this.base.hooks.map((name, h) => ({ name, dtype: this.base.dtype as SafetensorsDtype, shape: [n, this.D], data: this.acts[h]!.subarray(0, n * this.rowBytes) })),
      { name: TOKEN_TENSORS.tokenIds, dtype: "I32", shape: [n], data: this.tokenIds.subarray(0, n) },
      { name: TOKEN_TENSORS.docIds, dtype: "I32", shape: [n], data: this.docIds.subarray(0, n) },
      { name: TOKEN_TENSORS.positions, dtype: "I32", shape: [n], data: this.positions.subarray(0, n) },
      { name: TOKEN_TENSORS.special, dtype: "U8", shape: [n], data: this.special.subarray(0, n) },
    ];
    const written = await writeChunkFile(path.join(this.out, file), tensors, { format: STORE_FORMAT, chunk: String(index) });
    const from = this.chunks[index - 1]?.lines?.to ?? 0;
    const to = this.end.doc + 1;
    const have = this.pendingFrom + this.pending.length / LINE_HASH_CHARS;
    if (from !== this.pendingFrom || to > have) throw new FormatError(`merge: line hashes for lines ${from}..${to - 1} are missing (have ${this.pendingFrom}..${have - 1})`, { field: "lines" });
    const hashes = this.pending.slice(0, (to - from) * LINE_HASH_CHARS);
    this.pending = this.pending.slice((to - from) * LINE_HASH_CHARS);
    this.pendingFrom = to;
    this.chunks.push({
      file,
      tokens: n,
      special: this.specialCount,
      documents: this.documents,
      truncated_documents: this.truncated,
      bytes: written.bytes,
      sha256: written.sha256,
      tensors: written.tensors,
      start: this.start,
      end: { ...this.end },
      window: this.rowWindow,
      lines: { from, to, hashes },
    });
    this.n = 0;
    this.documents = 0;
    this.truncated = 0;
    this.specialCount = 0;
  }
}
