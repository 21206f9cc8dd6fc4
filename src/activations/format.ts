// The activation store on disk: one folder, `manifest.json` plus chunk files.
//
// Harvesting a real corpus takes hours and the files feed every later stage (SAE training, examples,
// metrics), so the format is built to survive being killed, to be checked when read, and to say what it
// holds without opening the chunks:
//
//   manifest.json           what was harvested (model fingerprint, site, layers, dtype, corpus sha256,
//                           options) and the list of complete chunks with their sizes and sha256s.
//                           Rewritten atomically after every chunk; holds no timestamps, so the same
//                           harvest gives the same bytes whether or not it was interrupted.
//   chunk-00000.safetensors one tensor per layer, `blocks.{L}.hook_{site}` [tokens, d_model] (F32, F16 or
//                           BF16), plus per-token `token_ids` I32, `doc_ids` I32 (the corpus line / array
//                           index the token came from), `positions` I32 (position inside that document,
//                           the model's position id) and `special` U8 (1 for special tokens such as
//                           `<|im_start|>`; everything is recorded, readers filter).
//
// Every chunk holds exactly `chunk_tokens` rows except the last, and a document may continue from one
// chunk into the next: chunk boundaries depend only on the token stream, never on batching or restarts.
// Each chunk entry records where the stream stands after it (`end`: the document and in-document offset
// of the next token) and which document the batching window in progress started at (`window`), which is
// all a restarted harvest needs to reproduce the remaining chunks byte for byte.
//
// Version 2 adds, per chunk, the corpus lines it consumed (`lines`: from the previous chunk's `to` up to and
// including the line of `end.doc`) with a short hash of each line. A restarted harvest checks those lines only:
// an edit after the point the harvest reached is allowed (what is stored does not depend on it), an edit before
// it is refused naming the first changed line. Version-1 stores (whole-corpus sha256 only) are still read, and
// resumed when the corpus is unchanged (their chunk entries then gain `lines`).

import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { FormatError, describeValue } from "../errors.ts";
import { hookName, isSite, SITES, type Site } from "../model/hooks.ts";

export const STORE_FORMAT = "safesail-activations";
export const STORE_VERSION = 2;
/** Versions this reader understands (1: no per-chunk `lines`). */
export const STORE_VERSIONS_READ = [1, 2] as const;
export const MANIFEST_FILE = "manifest.json";
/** Characters per line in `ChunkEntry.lines.hashes` (base64 of the first 6 bytes of the line's sha256). */
export const LINE_HASH_CHARS = 8;

/** Storage dtypes of the activation tensors (token tensors are always I32 / U8). */
export const STORE_DTYPES = ["F32", "F16", "BF16"] as const;
export type StoreDtype = (typeof STORE_DTYPES)[number];

export const TOKEN_TENSORS = { tokenIds: "token_ids", docIds: "doc_ids", positions: "positions", special: "special" } as const;

/** @deprecated since 0.2: use `hookName(layer, site)` from `safesail/model`. Kept one release. */
export const hookFor = (layer: number, site: Site): string => hookName(layer, site);

export function chunkFileName(index: number): string {
  return `chunk-${String(index).padStart(5, "0")}.safetensors`;
}

/** A place in the token stream: document `doc` (corpus index), token `offset` inside it. */
export interface StreamCursor {
  doc: number;
  offset: number;
}

export interface ChunkEntry {
  file: string;
  tokens: number;
  /** Rows flagged special. */
  special: number;
  /** Documents whose first token is in this chunk. */
  documents: number;
  /** Of those, documents cut at `max_doc_tokens`. */
  truncated_documents: number;
  bytes: number;
  /** sha256 of the whole file. */
  sha256: string;
  /** sha256 of each tensor's data bytes, so reading one layer can be checked without reading the others. */
  tensors: Record<string, string>;
  /** First token of the chunk. */
  start: StreamCursor;
  /** Next token after the chunk. */
  end: StreamCursor;
  /** First document of the batching window the chunk ended in (where a restart re-reads from). */
  window: number;
  /**
   * Version 2: the corpus lines (0-based, `from` inclusive, `to` exclusive) this chunk consumed, i.e. from the
   * previous chunk's `to` through line `end.doc`, and their hashes (LINE_HASH_CHARS base64 characters per line).
   */
  lines?: ChunkLines;
  /**
   * Shard stores only (`StoreManifest.shard`): the corpus indices of the documents starting in this chunk that were
   * cut at `max_doc_tokens`, so a merge can count `truncated_documents` per merged chunk. Merged and unsharded stores
   * do not have it.
   */
  truncated_ids?: number[];
}

export interface ChunkLines {
  from: number;
  to: number;
  hashes: string;
}

/** Everything that decides the bytes of a store; a restart must match it exactly. */
export interface HarvestOptionsRecord {
  chat: boolean;
  /** Corpus format as read: "text" (one document per line), "jsonl" or "array" (in-memory documents). */
  corpus_format: "text" | "jsonl" | "array";
  max_tokens: number | null;
  max_doc_tokens: number;
  chunk_tokens: number;
  batch_tokens: number;
  window_docs: number;
  window_tokens: number;
}

export interface StoreManifest {
  format: typeof STORE_FORMAT;
  version: number;
  /** False while harvesting (or after an interruption); true once the corpus or max_tokens is exhausted. */
  complete: boolean;
  model: {
    path: string;
    architecture: string;
    /** sha256 over config.json, the tokenizer files, and each weight file's header plus sampled data. */
    fingerprint: string;
    num_layers: number;
    vocab_size: number;
  };
  site: Site;
  layers: number[];
  hooks: string[];
  d_model: number;
  dtype: StoreDtype;
  corpus: { path: string | null; sha256: string; documents: number };
  options: HarvestOptionsRecord;
  /** Totals over the chunks. */
  tokens: number;
  special_tokens: number;
  documents: number;
  truncated_documents: number;
  /** True when max_tokens stopped the harvest before the corpus ended. */
  limit_reached: boolean;
  /** Present in a shard's store only (`harvest --shard I/N`): which part of the corpus it holds. */
  shard?: StoreShard;
  chunks: ChunkEntry[];
}

/**
 * A shard store's part of the corpus (`safesail harvest --shard I/N`, docs/scale-out.md). The shard harvests the
 * documents with corpus index (line - 1) in `[documents.from, documents.to)`, a contiguous range (src/util/shard.ts
 * shardRange over the corpus's `lines`), so the shards' stores, merged in shard order (./merge.ts), hold the token
 * stream of an unsharded harvest. Its first chunk's `lines.from` is `documents.from`.
 */
export interface StoreShard {
  index: number;
  count: number;
  /** Lines of the whole corpus, blank ones included (what the ranges split). */
  corpus_lines: number;
  documents: { from: number; to: number };
  /**
   * Hashes (LINE_HASH_CHARS per line) of the range's lines after the last chunk's `lines.to` (blank lines and
   * documents that give no tokens), written when the shard completes; a merge needs them to give merged chunks the
   * `lines` an unsharded harvest records.
   */
  tail_lines: string;
}

/** Recomputes the totals from the chunk list (they are stored for readers, derived for writers). */
export function withTotals(m: StoreManifest): StoreManifest {
  let tokens = 0, special = 0, documents = 0, truncated = 0;
  for (const c of m.chunks) {
    tokens += c.tokens;
    special += c.special;
    documents += c.documents;
    truncated += c.truncated_documents;
  }
  return { ...m, tokens, special_tokens: special, documents, truncated_documents: truncated };
}

/**
 * The manifest as written: indented JSON, but one line per chunk entry. It is rewritten after every chunk,
 * so its size times the chunk count is what a harvest spends on it; compact entries keep that small (and
 * the file easy to scan).
 */
export function formatManifest(m: StoreManifest): string {
  const PLACEHOLDER = "\u0000chunks\u0000";
  const head = JSON.stringify({ ...m, chunks: PLACEHOLDER }, null, 2);
  const chunks = m.chunks.length === 0 ? "[]" : `[\n${m.chunks.map((c) => `    ${JSON.stringify(c)}`).join(",\n")}\n  ]`;
  return `${head.replace(JSON.stringify(PLACEHOLDER), chunks)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Reading and checking a manifest

const isInt = (v: unknown, min = 0): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= min;
const isHex64 = (v: unknown): v is string => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);

/** Reads `dir/manifest.json` and checks every field a reader relies on; FormatError names the field. */
export async function readManifest(dir: string): Promise<StoreManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new FormatError(`${file}: not found; ${dir} is not an activation store (harvest one first)`, { file, cause: err });
    throw new FormatError(`${file}: cannot read: ${(err as Error).message}`, { file, cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON: ${(err as Error).message}`, { file, cause: err });
  }
  return checkManifest(json, file);
}

export function checkManifest(json: unknown, file: string): StoreManifest {
  const fail = (field: string, msg: string): never => {
    throw new FormatError(`${file}: "${field}" ${msg}`, { file, field });
  };
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new FormatError(`${file}: must be a JSON object`, { file });
  const m = json as Record<string, unknown>;
  if (m.format !== STORE_FORMAT) fail("format", `must be "${STORE_FORMAT}", got ${describeValue(m.format)}`);
  if (!(STORE_VERSIONS_READ as readonly unknown[]).includes(m.version)) fail("version", `${describeValue(m.version)} is not supported (this reader knows versions ${STORE_VERSIONS_READ.join(", ")})`);
  if (typeof m.complete !== "boolean") fail("complete", `must be a boolean, got ${describeValue(m.complete)}`);
  if (!isSite(m.site)) fail("site", `must be one of ${SITES.join(", ")}, got ${describeValue(m.site)}`);
  if (!STORE_DTYPES.includes(m.dtype as StoreDtype)) fail("dtype", `must be one of ${STORE_DTYPES.join(", ")}, got ${describeValue(m.dtype)}`);
  if (!isInt(m.d_model, 1)) fail("d_model", `must be a positive integer, got ${describeValue(m.d_model)}`);
  if (!Array.isArray(m.layers) || m.layers.length === 0 || !m.layers.every((l) => isInt(l))) {
    fail("layers", `must be a non-empty array of layer indices, got ${describeValue(m.layers)}`);
  }
  const layers = m.layers as number[];
  const hooks = layers.map((l) => hookName(l, m.site as Site));
  if (!Array.isArray(m.hooks) || m.hooks.length !== hooks.length || m.hooks.some((h, i) => h !== hooks[i])) {
    fail("hooks", `must be ${JSON.stringify(hooks)} (from site and layers), got ${describeValue(m.hooks)}`);
  }
  const model = m.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== "object" || !isHex64(model.fingerprint)) fail("model.fingerprint", "must be a sha256 hex string");
  const corpus = m.corpus as Record<string, unknown> | undefined;
  if (!corpus || typeof corpus !== "object" || !isHex64(corpus.sha256)) fail("corpus.sha256", "must be a sha256 hex string");
  const opts = m.options as Record<string, unknown> | undefined;
  if (!opts || typeof opts !== "object" || !isInt(opts.chunk_tokens, 1)) fail("options.chunk_tokens", "must be a positive integer");
  if (!Array.isArray(m.chunks)) fail("chunks", `must be an array, got ${describeValue(m.chunks)}`);
  const chunks = m.chunks as unknown[];
  const chunkTokens = opts!.chunk_tokens as number;
  const shard = m.shard as Record<string, unknown> | undefined;
  if (shard !== undefined) {
    const docs = shard?.documents as Record<string, unknown> | undefined;
    const ok =
      shard !== null && typeof shard === "object" && isInt(shard.count, 1) && isInt(shard.index) && (shard.index as number) < (shard.count as number) && isInt(shard.corpus_lines) &&
      !!docs && typeof docs === "object" && isInt(docs.from) && isInt(docs.to) && (docs.from as number) <= (docs.to as number) && (docs.to as number) <= (shard.corpus_lines as number) && typeof shard.tail_lines === "string";
    if (!ok) fail("shard", `must be {index, count, corpus_lines, documents: {from, to}, tail_lines} with 0 <= index < count and from <= to <= corpus_lines, got ${describeValue(shard)}`);
  }
  let linesTo = shard ? ((shard.documents as { from: number }).from) : 0;
  chunks.forEach((raw, i) => {
    const at = `chunks[${i}]`;
    if (raw === null || typeof raw !== "object") fail(at, "must be an object");
    const c = raw as Record<string, unknown>;
    if (c.file !== chunkFileName(i)) fail(`${at}.file`, `must be "${chunkFileName(i)}", got ${describeValue(c.file)}`);
    if (!isInt(c.tokens, 1) || (c.tokens as number) > chunkTokens) fail(`${at}.tokens`, `must be an integer in 1..${chunkTokens}, got ${describeValue(c.tokens)}`);
    if (i < chunks.length - 1 && c.tokens !== chunkTokens) fail(`${at}.tokens`, `must be ${chunkTokens} (only the last chunk may be shorter), got ${c.tokens}`);
    for (const k of ["special", "documents", "truncated_documents", "bytes", "window"]) if (!isInt(c[k])) fail(`${at}.${k}`, `must be a non-negative integer, got ${describeValue(c[k])}`);
    if (!isHex64(c.sha256)) fail(`${at}.sha256`, "must be a sha256 hex string");
    const tensors = c.tensors as Record<string, unknown> | undefined;
    if (!tensors || typeof tensors !== "object") fail(`${at}.tensors`, "must map tensor names to sha256s");
    for (const name of [...hooks, ...Object.values(TOKEN_TENSORS)]) if (!isHex64(tensors![name])) fail(`${at}.tensors.${name}`, "must be a sha256 hex string");
    for (const k of ["start", "end"]) {
      const cur = c[k] as Record<string, unknown> | undefined;
      if (!cur || !isInt(cur.doc) || !isInt(cur.offset)) fail(`${at}.${k}`, `must be {doc, offset} with non-negative integers, got ${describeValue(cur)}`);
    }
    if (m.version === 1) return;
    const lines = c.lines as Record<string, unknown> | undefined;
    const to = (c.end as StreamCursor).doc + 1;
    if (!lines || typeof lines !== "object" || lines.from !== linesTo || lines.to !== to) fail(`${at}.lines`, `must be {from: ${linesTo}, to: ${to}, hashes} (the lines after the previous chunk's through end.doc), got ${describeValue(lines)}`);
    const hashes = lines!.hashes;
    if (typeof hashes !== "string" || hashes.length !== (to - linesTo) * LINE_HASH_CHARS || !/^[A-Za-z0-9+/]*$/.test(hashes)) fail(`${at}.lines.hashes`, `must be ${LINE_HASH_CHARS} base64 characters per line (${(to - linesTo) * LINE_HASH_CHARS} in all)`);
    linesTo = to;
  });
  const manifest = json as StoreManifest;
  const totals = withTotals(manifest);
  for (const k of ["tokens", "special_tokens", "documents", "truncated_documents"] as const) {
    if (manifest[k] !== totals[k]) fail(k, `is ${describeValue(manifest[k])} but the chunks add up to ${totals[k]}`);
  }
  return manifest;
}

