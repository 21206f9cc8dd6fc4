// The float32 weight cache: a model's weights converted once (BF16 / F16 / F32 safetensors -> float32, fused
// projections stacked) into one file laid out exactly as the graph's initializers, which onnxruntime then maps
// from disk instead of receiving bytes from JavaScript.
//
// Why: a load used to read every tensor into JavaScript, convert it, concatenate the fused ones, hand the bytes to
// onnxruntime (which copied them) and let it repack them. Each pass wrote fresh memory, and on this VM a fresh
// page costs ~3 µs (bench/README.md, "Load"): the 0.5B model took 40 s and 2.8x its float32 size in RSS. A mapped
// file costs nothing until a page is read, lives in the page cache, and is shared by every session of the model
// (hook splits included) and by every process that loads it.
//
// Layout: `<root>/<key>/weights.f32` (each initializer at a 64 KiB-aligned offset) and `index.json` (name -> offset,
// length, shape), written into a temporary folder that is renamed into place, so a folder that exists is complete.
// The key is a sha256 over the format version, the graph's initializer list (graphWeights) and the sha256 of every
// source file: changed weights give a new key. Hashing a 6 GB file takes seconds, so each file's hash is kept next
// to its size, mtime and inode (`hashes/`), and only recomputed when one of those changes (git's index does the
// same). A new cache replaces older ones made from the same files.
import * as fs from "node:fs";
import * as path from "node:path";
import { FormatError } from "../errors.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { f16ToF32, findNonFinite } from "../formats/safetensors.ts";
import { safesailCacheRoot } from "../util/cache-root.ts";
import { sha256File, sha256Hex } from "../util/hash.ts";
import { graphWeights, Q8_BLOCK, quantizedNames, type StoredTensor, type StoredWeights, type WeightPrecision } from "./graph.ts";
import type { ModelConfig, TensorRef } from "./types.ts";
import type { SafetensorsWeights } from "./weights.ts";

/** Bump when the file layout or the conversion changes: every older cache is then ignored. */
export const WEIGHT_CACHE_VERSION = 1;
export const WEIGHT_FILE = "weights.f32";
export const WEIGHT_INDEX = "index.json";
/** Offsets are multiples of this: onnxruntime maps a tensor in place when its offset is page-aligned (64 KiB covers every OS). */
const ALIGN = 64 * 1024;
/** Keep this much disk free after writing a cache. */
const DISK_MARGIN = 1 << 30;

export interface WeightCacheIndex {
  version: number;
  key: string;
  precision: WeightPrecision;
  /** Source files (absolute, real paths) and their sha256. */
  sources: { file: string; sha256: string }[];
  bytes: number;
  tensors: Record<string, StoredTensor>;
}

export interface WeightCacheOptions {
  /** Cache root (default weightCacheRoot()). */
  root?: string;
  progress?: Progress;
  /** Notes about what the cache did (built, replaced, skipped); default: nothing. */
  log?: (message: string) => void;
  /** "int8": the projection matrices and the head as 8-bit blocks (a cache of its own, next to the fp32 one). */
  precision?: WeightPrecision;
  /** Free bytes on the cache's disk (tests inject a small number); default statfs. */
  freeBytes?: (dir: string) => number;
}

/** The result: the stored weights, or why there are none (the caller then loads in memory). */
export type WeightCacheResult = { stored: StoredWeights; index: WeightCacheIndex; built: boolean } | { stored: null; reason: string };

/** SAFESAIL_CACHE/weights, else XDG_CACHE_HOME/safesail/weights, else ~/.cache/safesail/weights. */
export function weightCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(safesailCacheRoot(env), "weights");
}

/** Whether SAFESAIL_WEIGHT_CACHE turns the cache off ("0", "off", "false", "no"). */
export function weightCacheDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.SAFESAIL_WEIGHT_CACHE ?? "").trim().toLowerCase();
  return v === "0" || v === "off" || v === "false" || v === "no";
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** sha256 of a file, reusing the one recorded for the same size, mtime and inode. */
async function fileHash(root: string, file: string): Promise<string> {
  const real = fs.realpathSync(file);
  const st = fs.statSync(real);
  const memo = path.join(root, "hashes", `${sha256Hex(real).slice(0, 32)}.json`);
  try {
    const m = JSON.parse(fs.readFileSync(memo, "utf8")) as { file: string; size: number; mtimeMs: number; ino: number; sha256: string };
    if (m.file === real && m.size === st.size && m.mtimeMs === st.mtimeMs && m.ino === st.ino && /^[0-9a-f]{64}$/.test(m.sha256)) return m.sha256;
  } catch {
    // No memo (or an unreadable one): hash the file.
  }
  const sha256 = await sha256File(real);
  writeJsonAtomicSync(memo, { file: real, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256 });
  return sha256;
}

function writeJsonAtomicSync(target: string, value: unknown): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 1));
  fs.renameSync(tmp, target);
}

function readIndex(dir: string): WeightCacheIndex | null {
  try {
    const index = JSON.parse(fs.readFileSync(path.join(dir, WEIGHT_INDEX), "utf8")) as WeightCacheIndex;
    if (index.version !== WEIGHT_CACHE_VERSION) return null;
    // A truncated data file (disk full, a copy cut short) is not a cache.
    if (fs.statSync(path.join(dir, WEIGHT_FILE)).size !== index.bytes) return null;
    return index;
  } catch {
    return null;
  }
}

function storedFrom(dir: string, index: WeightCacheIndex): StoredWeights {
  return { folder: dir, precision: index.precision, lookup: (name) => index.tensors[name] };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes caches made from the same source files under another key, and temporary folders of dead processes. */
function prune(root: string, keep: string, precision: WeightPrecision, sources: string[], log: (m: string) => void): void {
  for (const entry of fs.readdirSync(root)) {
    const dir = path.join(root, entry);
    const tmp = /\.tmp-(\d+)-/.exec(entry);
    if (tmp) {
      if (!pidAlive(Number(tmp[1]))) fs.rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (entry === keep || entry === "hashes") continue;
    const index = readIndexLoose(dir);
    if (index && (index.precision ?? "fp32") === precision && index.sources.length === sources.length && index.sources.every((s, i) => s.file === sources[i])) {
      fs.rmSync(dir, { recursive: true, force: true });
      log(`weight cache: removed ${dir} (made from an earlier version of the same files)`);
    }
  }
}

function readIndexLoose(dir: string): { sources: { file: string }[]; precision?: string } | null {
  try {
    const index = JSON.parse(fs.readFileSync(path.join(dir, WEIGHT_INDEX), "utf8")) as { sources?: { file: string }[]; precision?: string };
    return Array.isArray(index.sources) ? { sources: index.sources, precision: index.precision } : null;
  } catch {
    return null;
  }
}

/** Elements converted per read: small buffers, reused, so a conversion adds ~24 MB to RSS, not a tensor's size. */
const CHUNK = 1 << 22;

/** Streams source tensors into the weight file, chunk by chunk, refusing NaN and infinities. */
class Converter {
  private readonly bytes = new Uint8Array(CHUNK * 4);
  private readonly floats = new Float32Array(CHUNK);
  private blocks = new Uint8Array(0);
  private scales = new Float32Array(0);

  /** Calls `use` with consecutive float32 pieces of `ref` (each a whole number of `rowLength` elements). */
  private read(ref: TensorRef, rowLength: number, use: (values: Float32Array, start: number) => void): void {
    const size = DTYPE_BYTES[ref.dtype];
    if (size === undefined) throw new FormatError(`${ref.file}: tensor "${ref.name}": dtype ${ref.dtype} is not a float dtype`, { file: ref.file, field: ref.name });
    const n = ref.byteLength / size;
    const step = Math.max(1, Math.floor(CHUNK / rowLength)) * rowLength;
    if (step > CHUNK) throw new FormatError(`${ref.file}: tensor "${ref.name}": rows of ${rowLength} values are too long to convert`, { file: ref.file, field: ref.name });
    let nonFinite = 0;
    let first: { index: number; kind: string } | undefined;
    const fd = fs.openSync(ref.file, "r");
    try {
      for (let start = 0; start < n; start += step) {
        const m = Math.min(step, n - start);
        const raw = this.bytes.subarray(0, m * size);
        let done = 0;
        while (done < raw.length) {
          const got = fs.readSync(fd, raw, done, raw.length - done, ref.offset + start * size + done);
          if (got === 0) throw new FormatError(`${ref.file}: tensor "${ref.name}": file ends before the tensor's last byte`, { file: ref.file, field: ref.name });
          done += got;
        }
        const f = this.floats.subarray(0, m);
        if (ref.dtype === "F32") f.set(new Float32Array(raw.buffer, 0, m));
        else if (ref.dtype === "BF16") {
          const src = new Uint16Array(raw.buffer, 0, m);
          const bits = new Uint32Array(f.buffer, 0, m);
          for (let i = 0; i < m; i++) bits[i] = src[i]! << 16;
        } else f.set(f16ToF32(new Uint16Array(raw.buffer, 0, m)));
        const bad = findNonFinite(f);
        if (bad) {
          nonFinite += bad.count;
          first ??= { index: start + bad.first, kind: bad.kind };
        }
        use(f, start);
      }
    } finally {
      fs.closeSync(fd);
    }
    // The same words as readTensorF32's check (the in-memory load): how many, and the first.
    if (first) {
      throw new FormatError(`${ref.file}: tensor "${ref.name}": ${nonFinite} non-finite value${nonFinite === 1 ? "" : "s"} (first ${first.kind} at index ${first.index})`, { file: ref.file, field: ref.name });
    }
  }

  /** Writes `ref` as float32 at byte `at` of `out`; returns the bytes written. */
  write(ref: TensorRef, out: number, at: number): number {
    let written = 0;
    this.read(ref, 1, (f, start) => {
      writeAll(out, new Uint8Array(f.buffer, 0, f.length * 4), at + start * 4);
      written += f.length * 4;
    });
    return written;
  }

  /**
   * Writes `ref` ([rows, K]) as 8-bit blocks at `at.blocks` and their scales at `at.scales` (quantizeRowsQ8);
   * returns the bytes written to each.
   */
  writeQ8(ref: TensorRef, out: number, at: { blocks: number; scales: number }): { blocks: number; scales: number } {
    const K = ref.shape[1]!;
    const kBlocks = Math.ceil(K / Q8_BLOCK);
    let rowsDone = 0;
    this.read(ref, K, (f) => {
      const rows = f.length / K;
      if (this.blocks.length < rows * kBlocks * Q8_BLOCK) this.blocks = new Uint8Array(rows * kBlocks * Q8_BLOCK);
      if (this.scales.length < rows * kBlocks) this.scales = new Float32Array(rows * kBlocks);
      const blocks = this.blocks.subarray(0, rows * kBlocks * Q8_BLOCK);
      const scales = this.scales.subarray(0, rows * kBlocks);
      quantizeRowsQ8(f, rows, K, blocks, scales);
      writeAll(out, blocks, at.blocks + rowsDone * kBlocks * Q8_BLOCK);
      writeAll(out, new Uint8Array(scales.buffer, 0, scales.length * 4), at.scales + rowsDone * kBlocks * 4);
      rowsDone += rows;
    });
    return { blocks: rowsDone * kBlocks * Q8_BLOCK, scales: rowsDone * kBlocks * 4 };
  }
}

function writeAll(fd: number, view: Uint8Array, at: number): void {
  let put = 0;
  while (put < view.length) put += fs.writeSync(fd, view, put, view.length - put, at + put);
}

/**
 * Blockwise symmetric 8-bit quantisation of `rows` rows of K values, the layout of onnxruntime's MatMulNBits with
 * bits 8 and no zero-point input (zero point 128): per row, blocks of Q8_BLOCK values (the last zero-padded), each
 * stored as uint8 q = round(v / scale) + 128 with scale = max |v| / 127 (0 for an all-zero block), so
 * v ≈ (q - 128) * scale within scale / 2.
 */
export function quantizeRowsQ8(values: Float32Array, rows: number, K: number, blocks: Uint8Array, scales: Float32Array): void {
  const kBlocks = Math.ceil(K / Q8_BLOCK);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < kBlocks; b++) {
      const from = r * K + b * Q8_BLOCK;
      const to = r * K + Math.min(K, (b + 1) * Q8_BLOCK);
      let amax = 0;
      for (let i = from; i < to; i++) amax = Math.max(amax, Math.abs(values[i]!));
      const scale = amax / 127;
      const inv = scale > 0 ? 1 / scale : 0;
      scales[r * kBlocks + b] = scale;
      const out = (r * kBlocks + b) * Q8_BLOCK;
      for (let i = from; i < to; i++) blocks[out + i - from] = Math.round(values[i]! * inv) + 128;
      for (let i = to - from; i < Q8_BLOCK; i++) blocks[out + i] = 128;
    }
  }
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, BF16: 2, F16: 2 };

/**
 * The model's float32 weight file, built on first use. Returns `{ stored: null, reason }` when the cache cannot
 * hold it (not enough disk, a read-only cache folder); the caller then loads the weights in memory.
 */
export async function openWeightCache(weights: SafetensorsWeights, cfg: ModelConfig, opts: WeightCacheOptions = {}): Promise<WeightCacheResult> {
  const root = opts.root ?? weightCacheRoot();
  const log = opts.log ?? (() => {});
  try {
    fs.mkdirSync(root, { recursive: true });
    fs.accessSync(root, fs.constants.W_OK);
  } catch (err) {
    return { stored: null, reason: `weight cache folder ${root} is not writable (${(err as Error).message})` };
  }
  const precision = opts.precision ?? "fp32";
  const plan = graphWeights(cfg, precision);
  const sources: { file: string; sha256: string }[] = [];
  for (const file of weights.files) sources.push({ file: fs.realpathSync(file), sha256: await fileHash(root, file) });
  const key = sha256Hex(JSON.stringify({ version: WEIGHT_CACHE_VERSION, precision, plan, sources: sources.map((s) => s.sha256) })).slice(0, 40);
  const dir = path.join(root, key);
  const existing = readIndex(dir);
  if (existing) return { stored: storedFrom(dir, existing), index: existing, built: false };

  // Lay out every initializer: its parts are stacked by rows, so they are consecutive in the file.
  const tensors: Record<string, StoredTensor> = {};
  let bytes = 0;
  for (const gw of plan) {
    const refs = gw.parts.map((p) => weights.ref(p));
    const rows = refs.reduce((n, r) => n + r.shape[0]!, 0);
    if (gw.format === "q8") {
      const K = refs[0]!.shape[1]!;
      const kBlocks = Math.ceil(K / Q8_BLOCK);
      const q = quantizedNames(gw.name);
      tensors[q.blocks] = { location: WEIGHT_FILE, offset: bytes, length: rows * kBlocks * Q8_BLOCK, shape: [rows, kBlocks, Q8_BLOCK], dtype: "U8", inFeatures: K };
      bytes = align(bytes + rows * kBlocks * Q8_BLOCK);
      tensors[q.scales] = { location: WEIGHT_FILE, offset: bytes, length: rows * kBlocks * 4, shape: [rows * kBlocks] };
      bytes = align(bytes + rows * kBlocks * 4);
      continue;
    }
    const length = refs.reduce((n, r) => n + r.shape.reduce((a, b) => a * b, 1) * 4, 0);
    const shape = refs[0]!.shape.length === 1 ? [rows] : [rows, ...refs[0]!.shape.slice(1)];
    tensors[gw.name] = { location: WEIGHT_FILE, offset: bytes, length, shape };
    bytes = align(bytes + length);
  }
  const free = (opts.freeBytes ?? diskFree)(root);
  if (free < bytes + DISK_MARGIN) {
    return { stored: null, reason: `weight cache: ${root} has ${(free / 2 ** 30).toFixed(1)} GiB free, the float32 weights need ${(bytes / 2 ** 30).toFixed(1)} GiB (plus 1 GiB to spare)` };
  }

  const tmp = path.join(root, `${key}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  fs.mkdirSync(tmp);
  const progress = opts.progress ?? silentProgress;
  try {
    const fd = fs.openSync(path.join(tmp, WEIGHT_FILE), "w");
    try {
      fs.ftruncateSync(fd, bytes);
      const conv = new Converter();
      progress.start(precision === "fp32" ? "float32 weight cache" : `${precision} weight cache`, plan.length);
      plan.forEach((gw, i) => {
        if (gw.format === "q8") {
          const q = quantizedNames(gw.name);
          const at = { blocks: tensors[q.blocks]!.offset, scales: tensors[q.scales]!.offset };
          for (const part of gw.parts) {
            const n = conv.writeQ8(weights.ref(part), fd, at);
            at.blocks += n.blocks;
            at.scales += n.scales;
          }
        } else {
          let at = tensors[gw.name]!.offset;
          for (const part of gw.parts) at += conv.write(weights.ref(part), fd, at);
        }
        progress.update(i + 1, gw.name);
      });
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const index: WeightCacheIndex = { version: WEIGHT_CACHE_VERSION, key, precision, sources, bytes, tensors };
    fs.writeFileSync(path.join(tmp, WEIGHT_INDEX), JSON.stringify(index));
    if (fs.existsSync(dir) && !readIndex(dir)) {
      // A broken cache under our key (a truncated data file): move it out of the way, then remove it.
      const stale = path.join(root, `${key}.tmp-${process.pid}-stale`);
      try {
        fs.renameSync(dir, stale);
        fs.rmSync(stale, { recursive: true, force: true });
      } catch {
        // Another process moved it first.
      }
    }
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // Another process finished the same cache first: use theirs.
      const theirs = readIndex(dir);
      if (!theirs) throw err;
      fs.rmSync(tmp, { recursive: true, force: true });
      progress.finish("built by another process");
      return { stored: storedFrom(dir, theirs), index: theirs, built: false };
    }
    progress.finish(`${(bytes / 2 ** 30).toFixed(2)} GiB`);
    log(`weight cache: wrote ${dir} (${(bytes / 2 ** 30).toFixed(2)} GiB)`);
    prune(root, key, precision, sources.map((s) => s.file), log);
    return { stored: storedFrom(dir, index), index, built: true };
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function diskFree(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}
