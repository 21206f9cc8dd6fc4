// Harvest: run a model over a corpus and write the activations of several layers at one site, in one pass,
// into an activation store (format: ./format.ts).
//
//   const store = await harvest(model, "data/corpus.jsonl", { layers: [1, 2, 3], site: "mlp_out", out: "work/acts" });
//   const reader = store.reader(2);   // -> the SAE trainer
//
// Three properties drive the design:
//
// * Exactness. The stored rows are bit for bit what `model.runWithCache([doc], hooks)` gives for each
//   document alone. Left-padded batches would be faster but are not exact (attention then reduces over a
//   longer, partly masked row, which rounds differently), so documents are batched only with documents of
//   the same length, unpadded. To find such partners without holding the corpus, documents are read in
//   windows (at most `window_docs` documents or `window_tokens` tokens), grouped by length inside the
//   window, and the results written back in corpus order.
//
// * Bounded memory. The corpus is streamed; memory holds one window's activations plus one chunk being
//   filled, whatever the corpus size.
//
// * Restartability. Chunks are written atomically and the manifest after each one. A restart with the same
//   arguments checks that model and options are the same (else it refuses, naming what differs) and that the
//   corpus lines already harvested are unchanged (per-line hashes in the manifest: an edit after the point
//   reached is allowed, one before it is refused naming the first changed line), re-reads the corpus from the
//   window the last chunk ended in (recorded in the chunk entry), re-runs that window exactly as before, and
//   drops the rows already stored. The remaining chunks and the final manifest are then byte-identical to
//   those of an uninterrupted run over the corpus as it is now.
//
// * Shards. `shard: {index, count}` harvests one contiguous range of the corpus's lines into
//   `out/shard-IIII-of-NNNN/` (a store whose manifest records the range); ./merge.ts joins the N shard stores into
//   the store an unsharded harvest writes, byte for byte (docs/scale-out.md).
//
// * Fail early. The whole corpus is checked (UTF-8, JSON, document shapes: ./corpus.ts) before the first
//   forward pass, so a bad line near the end costs seconds, not the hours before it.

import { open, readdir, readFile, rm, stat } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { ArgumentError, FormatError, describeValue } from "../errors.ts";
import type { Model } from "../model/runtime.ts";
import { hookName, SITES, type Site } from "../model/hooks.ts";
import { specialTokenTest } from "../model/special-tokens.ts";
import { buildHeader, encodeTensor, openSafetensors, type SafetensorsDtype, type TensorData } from "../formats/safetensors.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { withAtomicFile, writeFileAtomic } from "../util/atomic.ts";
import { settingsDiff } from "../util/resume.ts";
import { isRemotePath, joinS3Url, objectCacheDir, parseS3Url, readTextObjectIfExists, uploadFolder } from "../storage/object-store.ts";
import { shardName, shardRange, type Shard } from "../util/shard.ts";
import { openCorpus, type Corpus, type CorpusEntry, type CorpusFileFormat, type CorpusInput } from "./corpus.ts";
import { documentActivations, tokenizeDocument, TEXT_DEFAULTS } from "./text.ts";
import {
  MANIFEST_FILE,
  STORE_DTYPES,
  STORE_FORMAT,
  STORE_VERSION,
  LINE_HASH_CHARS,
  TOKEN_TENSORS,
  chunkFileName,
  formatManifest,
  readManifest,
  withTotals,
  type ChunkEntry,
  type HarvestOptionsRecord,
  type StoreDtype,
  type StoreManifest,
  type StreamCursor,
} from "./format.ts";
import { ActivationStore } from "./store.ts";

export interface HarvestOptions {
  /** Layer indices (any order; stored sorted, duplicates dropped). */
  layers: number[];
  /** Hook site; default "mlp_out" (the Safe-SAIL site). */
  site?: Site;
  /**
   * Store folder. An existing incomplete store with the same settings is resumed. An `s3://BUCKET/PREFIX` URL:
   * harvested into a local staging folder (the cache's copy of the URL), then uploaded, manifest last.
   */
  out: string;
  /** Stop after this many tokens (the last document is cut to fit). Default: the whole corpus. */
  maxTokens?: number;
  /** Documents longer than this are cut. Default min(1024, the model's max_position_embeddings). */
  maxDocTokens?: number;
  /** Rows per chunk file. Default 16384. */
  chunkTokens?: number;
  /** Most tokens per forward pass (documents of one length batched together). Default 2048. */
  batchTokens?: number;
  /** Storage of the activation tensors. Default "F32". */
  dtype?: StoreDtype;
  /** Wrap plain-text documents in the chat template as a user turn (default `TEXT_DEFAULTS.chat`, true: see ./text.ts). */
  chat?: boolean;
  /** Corpus file format; default from the extension (.jsonl/.ndjson/.json -> jsonl, else text). */
  format?: CorpusFileFormat;
  /**
   * Corpus bytes that are not UTF-8: "error" (default) refuses the corpus before harvesting, naming file, line and
   * byte offset; "replace" reads them as U+FFFD (CLI --lossy-utf8).
   */
  invalidUtf8?: "error" | "replace";
  /** Replace an existing store in `out` instead of resuming it. */
  overwrite?: boolean;
  progress?: Progress;
  /** Aborting stops after the current batch; complete chunks stay, and a later call resumes. */
  signal?: AbortSignal;
  /** Called after each chunk is durably written (and the manifest updated). */
  onChunk?: (entry: ChunkEntry, index: number) => void | Promise<void>;
  /**
   * Harvest one shard of the corpus only (src/util/shard.ts): the documents of its contiguous range of corpus lines,
   * into `out/shard-IIII-of-NNNN/` (the store's manifest records the shard). `mergeActivationShards` (./merge.ts)
   * joins the N shard stores into the store an unsharded harvest gives. Not with `maxTokens` (a limit on the whole
   * corpus's token stream, which no shard sees).
   */
  shard?: Shard;
}

export const HARVEST_DEFAULTS = { site: "mlp_out" as Site, chunkTokens: 16384, batchTokens: TEXT_DEFAULTS.batchTokens, dtype: "F32" as StoreDtype, maxDocTokens: 1024, windowDocs: 64 };

interface WindowDoc {
  index: number;
  ids: number[];
  truncated: boolean;
  /** Per hook: `[ids.length, D]` rows, filled by the forward pass. */
  rows: Float32Array[];
}

export async function harvest(model: Model, corpusInput: CorpusInput, opts: HarvestOptions): Promise<ActivationStore> {
  if (isRemotePath(opts.out)) return harvestToObjectStore(model, corpusInput, opts);
  const cfg = model.config;
  const D = cfg.hiddenSize;
  const site = opts.site ?? HARVEST_DEFAULTS.site;
  if (!SITES.includes(site)) throw new ArgumentError(`site: unknown site ${describeValue(site)}; expected one of ${SITES.join(", ")}`, { field: "site" });
  const layers = checkLayers(opts.layers, cfg.numLayers);
  const hooks = layers.map((l) => hookName(l, site));
  if (typeof opts.out !== "string" || opts.out === "") throw new ArgumentError(`out: a folder path is required`, { field: "out" });
  const shard = opts.shard;
  if (shard !== undefined && !(Number.isSafeInteger(shard.count) && shard.count >= 1 && Number.isSafeInteger(shard.index) && shard.index >= 0 && shard.index < shard.count)) {
    throw new ArgumentError(`shard: must be {index, count} with 0 <= index < count, got ${describeValue(shard)}`, { field: "shard" });
  }
  if (shard && opts.maxTokens !== undefined) {
    throw new ArgumentError(`maxTokens (--max-tokens) cannot be combined with shard (--shard): the limit is on the whole corpus's token stream, which no shard sees; cut the corpus file instead`, { field: "maxTokens" });
  }
  const out = shard ? path.join(path.resolve(opts.out), shardName(shard)) : path.resolve(opts.out);
  const dtype = opts.dtype ?? HARVEST_DEFAULTS.dtype;
  if (!STORE_DTYPES.includes(dtype)) throw new ArgumentError(`dtype: must be one of ${STORE_DTYPES.join(", ")}, got ${describeValue(dtype)}`, { field: "dtype" });
  const chunkTokens = positiveInt(opts.chunkTokens, "chunkTokens", HARVEST_DEFAULTS.chunkTokens);
  const batchTokens = positiveInt(opts.batchTokens, "batchTokens", HARVEST_DEFAULTS.batchTokens);
  const maxDocTokens = positiveInt(opts.maxDocTokens, "maxDocTokens", Math.min(HARVEST_DEFAULTS.maxDocTokens, cfg.maxPositionEmbeddings));
  const maxTokens = opts.maxTokens === undefined ? null : positiveInt(opts.maxTokens, "maxTokens", 0);
  const chat = opts.chat ?? TEXT_DEFAULTS.chat;
  const progress = opts.progress ?? silentProgress;
  const signal = opts.signal;

  // Reads and checks the whole corpus before anything is written or run (./corpus.ts).
  const corpus = await openCorpus(corpusInput, { format: opts.format, invalidUtf8: opts.invalidUtf8, rules: { vocabSize: cfg.vocabSize, noTokenizer: model.tokenizer ? undefined : model.dir } });
  if (corpus.documents === 0) throw new ArgumentError(`corpus: ${corpus.path ?? "the document list"} holds no documents`, { field: "corpus" });
  // A shard's documents: a contiguous range of corpus indices (lines), so the merged store keeps corpus order.
  const range = shard ? shardRange(corpus.lines, shard) : { from: 0, to: corpus.lines };

  const options: HarvestOptionsRecord = {
    chat,
    corpus_format: corpus.format,
    max_tokens: maxTokens,
    max_doc_tokens: maxDocTokens,
    chunk_tokens: chunkTokens,
    batch_tokens: batchTokens,
    window_docs: HARVEST_DEFAULTS.windowDocs,
    window_tokens: 4 * batchTokens,
  };
  const fresh: StoreManifest = {
    format: STORE_FORMAT,
    version: STORE_VERSION,
    complete: false,
    model: { path: model.dir, architecture: cfg.architecture, fingerprint: await modelFingerprint(model), num_layers: cfg.numLayers, vocab_size: cfg.vocabSize },
    site,
    layers,
    hooks,
    d_model: D,
    dtype,
    corpus: { path: corpus.path, sha256: corpus.sha256, documents: corpus.documents },
    options,
    tokens: 0,
    special_tokens: 0,
    documents: 0,
    truncated_documents: 0,
    limit_reached: false,
    ...(shard ? { shard: { index: shard.index, count: shard.count, corpus_lines: corpus.lines, documents: range, tail_lines: "" } } : {}),
    chunks: [],
  };

  const resumed = await prepareOut(out, fresh, corpus, opts.overwrite ?? false);
  if (resumed?.complete) return new ActivationStore(out, resumed);
  let manifest = resumed ?? fresh;
  if (!resumed) await writeFileAtomic(path.join(out, MANIFEST_FILE), formatManifest(manifest));

  // Where the stream stands: everything before `cursor` is stored; re-reading starts at `windowStart`.
  const last = manifest.chunks[manifest.chunks.length - 1];
  const cursor: StreamCursor = last ? { ...last.end } : { doc: range.from, offset: 0 };
  const windowStart = last ? last.window : range.from;

  // Special tokens are flagged per row rather than dropped, so the store keeps the exact token stream and readers choose.
  const isSpecial = specialTokenTest(model);
  const writer = new ChunkWriter(out, manifest, corpus, hooks, D, dtype, chunkTokens, range.from, shard !== undefined, opts.onChunk, signal);
  const useTokens = maxTokens !== null;
  // (A shard's total counts its lines, blank ones too: the corpus's first pass does not say which lines are blank.)
  progress.start(`harvest ${hooks.length > 1 ? `${hooks.length} layers` : hooks[0]}${shard ? ` (${shardName(shard)})` : ""}`, useTokens ? maxTokens : shard ? range.to - range.from : corpus.documents);
  const report = () => progress.update(useTokens ? writer.totalTokens : writer.totalDocuments, `${writer.totalTokens} tokens, ${writer.totalDocuments} documents`);
  report();

  const entries = corpus.entries(windowStart)[Symbol.asyncIterator]();
  const nextEntry = async (): Promise<CorpusEntry | null> => {
    const r = await entries.next();
    return r.done || r.value.index >= range.to ? null : r.value;
  };
  // Tokens in the stream before the current window; for the first window of a restart it follows from the
  // stored total minus what that window contributes before the cursor.
  let streamBefore: number | null = last ? null : 0;
  let limitReached = false;
  let corpusDone = false;

  try {
    while (!corpusDone && !limitReached) {
      signal?.throwIfAborted();
      // 1. Read and tokenize one window.
      const docs: WindowDoc[] = [];
      let windowTokens = 0;
      while (docs.length < options.window_docs && windowTokens < options.window_tokens) {
        const entry = await nextEntry();
        if (!entry) {
          corpusDone = true;
          break;
        }
        let ids = tokenizeDocument(model, entry, { chat }).ids;
        if (ids.length === 0) continue;
        const truncated = ids.length > maxDocTokens;
        if (truncated) ids = ids.slice(0, maxDocTokens);
        docs.push({ index: entry.index, ids, truncated, rows: [] });
        windowTokens += ids.length;
      }
      if (docs.length === 0) break;
      if (streamBefore === null) {
        let before = cursor.offset;
        for (const d of docs) if (d.index < cursor.doc) before += d.ids.length;
        streamBefore = writer.totalTokens - before;
      }

      // 2. The max-tokens cut: the document that crosses the limit is shortened, later ones dropped.
      if (maxTokens !== null && streamBefore + windowTokens >= maxTokens) {
        let room = maxTokens - streamBefore;
        let keep = 0;
        let cut = false;
        while (keep < docs.length && room > 0) {
          const d = docs[keep]!;
          if (d.ids.length > room) {
            d.ids = d.ids.slice(0, room);
            cut = true;
          }
          room -= d.ids.length;
          keep++;
        }
        if (keep < docs.length) cut = true;
        docs.length = keep;
        // Exactly at the limit at the end of a window: the limit counts as reached only if more follows.
        if (!cut && !corpusDone) cut = (await nextEntry()) !== null;
        limitReached = cut;
        corpusDone = true; // nothing more is read either way
      }
      streamBefore += docs.reduce((s, d) => s + d.ids.length, 0);

      // 3. Forward passes: same-length documents together, at most batchTokens tokens per pass; batches
      //    whose rows are all stored already (a restart's first window) are skipped.
      const done = (d: WindowDoc) => d.index < cursor.doc || (d.index === cursor.doc && d.ids.length <= cursor.offset);
      const acts = await documentActivations(model, docs, hooks, { batchTokens, skip: (i) => done(docs[i]!), signal });
      docs.forEach((d, i) => {
        d.rows = acts[i]!;
      });

      // 4. Rows back in corpus order, into chunks.
      for (const d of docs) {
        if (done(d)) continue;
        const from = d.index === cursor.doc ? cursor.offset : 0;
        await writer.push(d, from, isSpecial, docs[0]!.index);
        d.rows = [];
        report();
      }
    }
    await writer.finish(limitReached, range.to);
  } finally {
    await entries.return?.();
  }
  manifest = writer.manifest;
  // A shard may hold no tokens (its lines are blank, or more shards than documents); the merge accounts for it.
  if (manifest.tokens === 0 && !shard) {
    await rm(path.join(out, MANIFEST_FILE), { force: true });
    throw new ArgumentError(`corpus: ${corpus.path ?? "the document list"} gives no tokens`, { field: "corpus" });
  }
  progress.finish(`${manifest.tokens} tokens, ${manifest.documents} documents, ${manifest.chunks.length} chunks`);
  return new ActivationStore(out, manifest);
}

/**
 * `out` an `s3://` URL (src/storage/object-store.ts): the harvest runs in the local cache's copy of that URL, a
 * staging folder where an interrupted harvest resumes as a local one does; the finished store is then uploaded,
 * manifest last, and reading it back on this machine downloads nothing. A store already at the URL is refused
 * unless `overwrite` (or unless the staging folder holds that very store: the harvest then only checks it).
 */
async function harvestToObjectStore(model: Model, corpusInput: CorpusInput, opts: HarvestOptions): Promise<ActivationStore> {
  const base = parseS3Url(opts.out, "out").url;
  const url = opts.shard ? joinS3Url(base, shardName(opts.shard)) : base;
  const staging = objectCacheDir(base);
  const local = opts.shard ? path.join(staging, shardName(opts.shard)) : staging;
  const manifestUrl = joinS3Url(url, MANIFEST_FILE);
  const remote = await readTextObjectIfExists(manifestUrl, { signal: opts.signal });
  const staged = () => readFile(path.join(local, MANIFEST_FILE), "utf8").catch(() => null);
  if (remote !== null && !opts.overwrite && remote !== (await staged())) {
    throw new ArgumentError(`out: ${url} already holds an activation store (${manifestUrl}); use a new --out (out) or --overwrite (overwrite: true) to replace it`, { field: "out", file: url });
  }
  let store: ActivationStore;
  try {
    store = await harvest(model, corpusInput, { ...opts, out: staging });
  } catch (err) {
    // Messages about the staging folder also name the URL it stands for.
    if (err instanceof ArgumentError && err.field === "out") throw new ArgumentError(`out: ${url} (staged in ${local}): ${err.message.replace(/^out: /, "")}`, { field: "out", file: url, cause: err });
    throw err;
  }
  if (opts.overwrite || remote !== (await staged())) {
    await uploadFolder(store.dir, url, { manifest: MANIFEST_FILE, progress: opts.progress, signal: opts.signal });
  }
  return new ActivationStore(store.dir, store.manifest, url);
}

function positiveInt(v: number | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new ArgumentError(`${name}: must be a positive integer, got ${describeValue(v)}`, { field: name });
  return v;
}

function checkLayers(layers: unknown, numLayers: number): number[] {
  if (!Array.isArray(layers) || layers.length === 0) throw new ArgumentError(`layers: give at least one layer index (0..${numLayers - 1})`, { field: "layers" });
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= numLayers) {
      throw new ArgumentError(`layers: ${describeValue(l)} is not a layer of the model (it has ${numLayers} layers, 0..${numLayers - 1})`, { field: "layers" });
    }
  }
  return [...new Set(layers as number[])].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Model fingerprint

const FINGERPRINT_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "chat_template.json"];
const SAMPLE_BYTES = 1 << 20;

/**
 * A cheap identity of the model for the resume check: sha256 over config.json, the tokenizer files and, for
 * each weight file, its size, its safetensors header and the first and last MiB of its data. Headers alone
 * would not tell two random initialisations of one shape apart; the sampled data does, without reading
 * gigabytes. (A change that touches only the middle of a weight file goes unnoticed: the manifest records
 * a fingerprint, not a full hash.)
 */
export async function modelFingerprint(model: Model): Promise<string> {
  const h = createHash("sha256");
  for (const name of FINGERPRINT_FILES) {
    const file = path.join(model.dir, name);
    if (!existsSync(file)) continue;
    const fh = await open(file, "r");
    try {
      h.update(`${name}\0`).update(await fh.readFile()).update("\0");
    } finally {
      await fh.close();
    }
  }
  const files = [...new Set(model.weights.names().map((n) => model.weights.ref(n).file))].sort();
  for (const file of files) {
    const st = openSafetensors(file);
    const fh = await open(file, "r");
    try {
      const read = async (pos: number, len: number) => {
        const buf = Buffer.alloc(len);
        let got = 0;
        while (got < len) {
          const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return buf.subarray(0, got);
      };
      h.update(`${path.basename(file)}\0${st.fileSize}\0`);
      h.update(await read(0, st.dataStart));
      const dataLen = st.fileSize - st.dataStart;
      h.update(await read(st.dataStart, Math.min(SAMPLE_BYTES, dataLen)));
      if (dataLen > SAMPLE_BYTES) h.update(await read(st.fileSize - Math.min(SAMPLE_BYTES, dataLen - SAMPLE_BYTES), Math.min(SAMPLE_BYTES, dataLen - SAMPLE_BYTES)));
    } finally {
      await fh.close();
    }
  }
  return h.digest("hex");
}

// ---------------------------------------------------------------------------------------------
// The output folder

const isChunkFile = (n: string) => /^chunk-\d{5,}\.safetensors$/.test(n);
const isOurTemp = (n: string) => /^\.(chunk-\d{5,}\.safetensors|manifest\.json)\.tmp-/.test(n);

/** Returns the manifest to resume from, or null for a fresh start (after clearing what `overwrite` replaces). */
async function prepareOut(out: string, fresh: StoreManifest, corpus: Corpus, overwrite: boolean): Promise<StoreManifest | null> {
  let names: string[];
  try {
    names = await readdir(out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") throw new ArgumentError(`out: ${out} is a file, not a folder`, { field: "out", file: out });
    throw err;
  }
  const ours = (n: string) => n === MANIFEST_FILE || isChunkFile(n) || isOurTemp(n);
  const remove = async (pred: (n: string) => boolean) => {
    for (const n of names) if (pred(n)) await rm(path.join(out, n), { force: true });
  };
  const advice = `use a new --out (out) or --overwrite (overwrite: true) to replace it`;
  if (overwrite) {
    await remove(ours);
    return null;
  }
  if (!names.includes(MANIFEST_FILE)) {
    const others = names.filter((n) => !ours(n));
    if (others.length > 0) {
      throw new ArgumentError(`out: ${out} is not empty and holds no activation store (found ${others.slice(0, 3).join(", ")}${others.length > 3 ? ", ..." : ""}); choose a new or empty folder`, { field: "out", file: out });
    }
    await remove(ours);
    return null;
  }
  let existing: StoreManifest;
  try {
    existing = await readManifest(out);
  } catch (err) {
    throw new ArgumentError(`out: ${out} holds an unreadable store manifest (${(err as Error).message}); ${advice}`, { field: "out", file: out, cause: err });
  }
  const diffs = identityDiff(existing, fresh);
  if (diffs.length > 0) {
    throw new ArgumentError(`out: ${out} holds a harvest with different settings (${diffs.join("; ")}); ${advice}`, { field: "out", file: out });
  }
  existing = checkCorpus(out, existing, corpus, advice);
  for (const c of existing.chunks) {
    const file = path.join(out, c.file);
    const size = await stat(file).then((s) => s.size, () => -1);
    if (size !== c.bytes) {
      throw new FormatError(`${file}: ${size < 0 ? "missing" : `${size} bytes, the manifest says ${c.bytes}`}; the store cannot be resumed, ${advice}`, { file });
    }
  }
  // Leftovers of the interrupted run: temp files, and a chunk renamed into place just before the kill
  // whose manifest update never happened (it is written again, identically).
  const listed = new Set(existing.chunks.map((c) => c.file));
  await remove((n) => isOurTemp(n) || (isChunkFile(n) && !listed.has(n)));
  return existing;
}

/**
 * The settings that decide a store's bytes, compared field by field ("site: was mlp_out, now attn_out"). The
 * corpus is checked separately (checkCorpus): only the lines already harvested must be unchanged.
 */
function identityDiff(a: StoreManifest, b: StoreManifest): string[] {
  const pick = (m: StoreManifest): Record<string, unknown> => ({
    model: m.model.fingerprint,
    site: m.site,
    layers: m.layers,
    dtype: m.dtype,
    d_model: m.d_model,
    ...Object.fromEntries(Object.entries(m.options).map(([k, v]) => [k, v])),
    shard: m.shard ? { index: m.shard.index, count: m.shard.count, corpus_lines: m.shard.corpus_lines, documents: m.shard.documents } : null,
  });
  return settingsDiff(pick(a), pick(b));
}

/** Per chunk, the corpus lines it consumed (version 2): after the previous chunk's through `end.doc`. */
function chunkLines(corpus: Corpus, from: number, end: StreamCursor): NonNullable<ChunkEntry["lines"]> {
  const to = end.doc + 1;
  return { from, to, hashes: corpus.lineHashes(from, to) };
}

/**
 * The corpus against an existing store. Version 2: the lines its chunks consumed must be unchanged (an edit after
 * them is allowed and the store resumes on the corpus as it is now); the first changed line is named. A finished
 * store whose corpus changed after the harvested lines is refused unless max_tokens ended it (then nothing after
 * those lines was ever read). Version 1 (whole-corpus sha256 only): the corpus must be byte-identical; the store
 * is then upgraded to version 2. Returns the manifest to resume from.
 */
function checkCorpus(out: string, existing: StoreManifest, corpus: Corpus, advice: string): StoreManifest {
  const sameFile = existing.corpus.sha256 === corpus.sha256;
  const name = corpus.path ?? "the document list";
  const lineName = (i: number) => (corpus.path ? `${corpus.path}:${i + 1}` : `corpus[${i}]`);
  if (existing.version === 1) {
    if (!sameFile) {
      throw new ArgumentError(
        `out: ${out} holds a harvest of another corpus (corpus sha256: was ${existing.corpus.sha256}, now ${corpus.sha256}); it is a version-1 store, which records only the whole corpus's hash, so it cannot tell which lines changed; restore the corpus, or ${advice}`,
        { field: "corpus", file: out },
      );
    }
    if (existing.complete) return existing; // nothing more is written: the file stays as it is
    let from = 0;
    const chunks = existing.chunks.map((c) => {
      const lines = chunkLines(corpus, from, c.end);
      from = lines.to;
      return { ...c, lines };
    });
    return { ...existing, version: STORE_VERSION, chunks };
  }
  if (sameFile) return existing;
  const harvested = existing.chunks.length > 0 ? existing.chunks[existing.chunks.length - 1]!.lines!.to : 0;
  for (const c of existing.chunks) {
    const { from, to, hashes } = c.lines!;
    const now = corpus.lineHashes(Math.min(from, corpus.lines), Math.min(to, corpus.lines));
    if (now === hashes) continue;
    let i = from;
    while (i < to && i < corpus.lines && now.slice((i - from) * LINE_HASH_CHARS, (i - from + 1) * LINE_HASH_CHARS) === hashes.slice((i - from) * LINE_HASH_CHARS, (i - from + 1) * LINE_HASH_CHARS)) i++;
    const what = i >= corpus.lines ? `${name} now ends at line ${corpus.lines}, and line ${i + 1} was harvested` : `${lineName(i)} changed since it was harvested`;
    throw new ArgumentError(
      `corpus: ${what} (the store in ${out} holds lines 1..${harvested} of it${existing.complete ? "" : `; edits after line ${harvested} are allowed when resuming`}); restore the line, or ${advice}`,
      { field: "corpus", file: corpus.path ?? undefined },
    );
  }
  if (existing.complete && !existing.limit_reached) {
    throw new ArgumentError(
      `corpus: ${name} changed after line ${harvested} since the finished harvest in ${out} read it (corpus sha256: was ${existing.corpus.sha256}, now ${corpus.sha256}; the store does not hold those lines); ${advice}`,
      { field: "corpus", file: corpus.path ?? undefined },
    );
  }
  if (existing.complete) return existing; // max_tokens ended it: nothing after the harvested lines was read
  return { ...existing, corpus: { path: corpus.path, sha256: corpus.sha256, documents: corpus.documents } };
}

// ---------------------------------------------------------------------------------------------
// Chunk writing

class ChunkWriter {
  private readonly acts: Float32Array[];
  private readonly tokenIds: Int32Array;
  private readonly docIds: Int32Array;
  private readonly positions: Int32Array;
  private readonly special: Uint8Array;
  private n = 0;
  private start: StreamCursor = { doc: 0, offset: 0 };
  private end: StreamCursor = { doc: 0, offset: 0 };
  private window = 0;
  private documents = 0;
  private truncated = 0;
  private truncatedIds: number[] = [];
  private specialCount = 0;

  constructor(
    private readonly out: string,
    public manifest: StoreManifest,
    private readonly corpus: Corpus,
    private readonly hooks: string[],
    private readonly D: number,
    private readonly dtype: StoreDtype,
    private readonly chunkTokens: number,
    /** The first corpus line this store covers (a shard's range start; else 0). */
    private readonly firstLine: number,
    /** Record the truncated documents' ids per chunk (shard stores: the merge needs them). */
    private readonly recordTruncated: boolean,
    private readonly onChunk?: HarvestOptions["onChunk"],
    private readonly signal?: AbortSignal,
  ) {
    this.acts = hooks.map(() => new Float32Array(chunkTokens * D));
    this.tokenIds = new Int32Array(chunkTokens);
    this.docIds = new Int32Array(chunkTokens);
    this.positions = new Int32Array(chunkTokens);
    this.special = new Uint8Array(chunkTokens);
  }

  get totalTokens(): number {
    return this.manifest.tokens + this.n;
  }

  get totalDocuments(): number {
    return this.manifest.documents + this.documents;
  }

  /** Appends rows `from..` of a document, closing chunks as they fill. */
  async push(doc: WindowDoc, from: number, isSpecial: (id: number) => boolean, window: number): Promise<void> {
    const D = this.D;
    const len = doc.ids.length;
    let o = from;
    while (o < len) {
      if (this.n === 0) this.start = { doc: doc.index, offset: o };
      if (o === 0) {
        this.documents++;
        if (doc.truncated) {
          this.truncated++;
          if (this.recordTruncated) this.truncatedIds.push(doc.index);
        }
      }
      const take = Math.min(len - o, this.chunkTokens - this.n);
      for (let h = 0; h < this.hooks.length; h++) this.acts[h]!.set(doc.rows[h]!.subarray(o * D, (o + take) * D), this.n * D);
      for (let t = 0; t < take; t++) {
        const id = doc.ids[o + t]!;
        const sp = isSpecial(id);
        this.tokenIds[this.n + t] = id;
        this.docIds[this.n + t] = doc.index;
        this.positions[this.n + t] = o + t;
        this.special[this.n + t] = sp ? 1 : 0;
        if (sp) this.specialCount++;
      }
      this.n += take;
      o += take;
      this.end = { doc: doc.index, offset: o };
      this.window = window;
      if (this.n === this.chunkTokens) {
        await this.flush();
        // Stop right after a durable chunk; the rows of this window not yet flushed are redone on resume.
        this.signal?.throwIfAborted();
      }
    }
  }

  /** Writes the last chunk and the finished manifest; `rangeEnd` is the end of a shard's line range. */
  async finish(limitReached: boolean, rangeEnd: number): Promise<void> {
    if (this.n > 0) await this.flush();
    this.manifest = { ...this.manifest, complete: true, limit_reached: limitReached };
    const shard = this.manifest.shard;
    if (shard) {
      const from = this.manifest.chunks[this.manifest.chunks.length - 1]?.lines?.to ?? this.firstLine;
      this.manifest = { ...this.manifest, shard: { ...shard, tail_lines: this.corpus.lineHashes(from, rangeEnd) } };
    }
    if (this.manifest.tokens > 0 || shard) await writeFileAtomic(path.join(this.out, MANIFEST_FILE), formatManifest(this.manifest));
  }

  private async flush(): Promise<void> {
    const n = this.n;
    const index = this.manifest.chunks.length;
    const file = chunkFileName(index);
    const tensors: { name: string; dtype: SafetensorsDtype; shape: number[]; data: TensorData }[] = [
      ...this.hooks.map((name, h) => ({ name, dtype: this.dtype as SafetensorsDtype, shape: [n, this.D], data: this.acts[h]!.subarray(0, n * this.D) })),
      { name: TOKEN_TENSORS.tokenIds, dtype: "I32", shape: [n], data: this.tokenIds.subarray(0, n) },
      { name: TOKEN_TENSORS.docIds, dtype: "I32", shape: [n], data: this.docIds.subarray(0, n) },
      { name: TOKEN_TENSORS.positions, dtype: "I32", shape: [n], data: this.positions.subarray(0, n) },
      { name: TOKEN_TENSORS.special, dtype: "U8", shape: [n], data: this.special.subarray(0, n) },
    ];
    const written = await writeChunkFile(path.join(this.out, file), tensors, { format: STORE_FORMAT, chunk: String(index) });
    const entry: ChunkEntry = {
      file,
      tokens: n,
      special: this.specialCount,
      documents: this.documents,
      truncated_documents: this.truncated,
      bytes: written.bytes,
      sha256: written.sha256,
      tensors: written.tensors,
      start: this.start,
      end: this.end,
      window: this.window,
      lines: chunkLines(this.corpus, this.manifest.chunks[index - 1]?.lines?.to ?? this.firstLine, this.end),
      ...(this.recordTruncated ? { truncated_ids: this.truncatedIds } : {}),
    };
    this.manifest = withTotals({ ...this.manifest, chunks: [...this.manifest.chunks, entry] });
    await writeFileAtomic(path.join(this.out, MANIFEST_FILE), formatManifest(this.manifest));
    this.n = 0;
    this.documents = 0;
    this.truncated = 0;
    this.truncatedIds = [];
    this.specialCount = 0;
    await this.onChunk?.(entry, index);
  }
}

/** Writes a safetensors file atomically and returns its size, its sha256 and each tensor's sha256 (./merge.ts writes merged chunks with it). */
export async function writeChunkFile(
  file: string,
  tensors: { name: string; dtype: SafetensorsDtype; shape: number[]; data: TensorData }[],
  metadata: Record<string, string>,
): Promise<{ bytes: number; sha256: string; tensors: Record<string, string> }> {
  const { prefix } = buildHeader(tensors, metadata);
  const whole = createHash("sha256").update(prefix);
  const perTensor: Record<string, string> = {};
  let bytes = 0;
  await withAtomicFile(file, async (handle) => {
    const put = async (b: Uint8Array) => {
      let done = 0;
      while (done < b.byteLength) done += (await handle.write(b, done, b.byteLength - done)).bytesWritten;
      bytes += b.byteLength;
    };
    await put(prefix);
    for (const t of tensors) {
      const enc = encodeTensor(t.name, t.dtype, t.shape, t.data);
      whole.update(enc);
      perTensor[t.name] = createHash("sha256").update(enc).digest("hex");
      await put(enc);
    }
  });
  return { bytes, sha256: whole.digest("hex"), tensors: perTensor };
}
