// Safetensors reader and writer, written from the format description:
//   [u64 little-endian N][N bytes of UTF-8 JSON header][raw little-endian tensor data]
// The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the
// first byte after the header) and may carry a `__metadata__` object of string -> string.
//
// Reading never loads the whole file: `openSafetensors` reads the header only, and `readTensor*` read
// exactly the byte range of one tensor. Reads are synchronous so `WeightSource.get` can stay synchronous.

import * as fs from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { ArgumentError, FormatError, UnsupportedError, describeValue } from "../errors.ts";
import { withAtomicFile } from "../util/atomic.ts";

/** The float dtypes model weights are stored in. */
export type StorageDtype = "F32" | "F16" | "BF16";

/** One tensor as stored on disk, before any conversion. */
export interface TensorRef {
  name: string;
  dtype: StorageDtype | string;
  shape: number[];
  /** Absolute path of the file holding the bytes. */
  file: string;
  /** Byte offset of the first element inside `file`. */
  offset: number;
  byteLength: number;
}

/** A dense float32 tensor in row-major order. */
export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

/** Bytes per element of every dtype named by the safetensors format. */
export const DTYPE_SIZES: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
});

export type SafetensorsDtype =
  | "BOOL"
  | "U8"
  | "I8"
  | "F8_E5M2"
  | "F8_E4M3"
  | "I16"
  | "U16"
  | "F16"
  | "BF16"
  | "I32"
  | "U32"
  | "F32"
  | "F64"
  | "I64"
  | "U64";

/** Dtypes `readTensorF32` converts. */
export const FLOAT_DTYPES: readonly string[] = ["F32", "F16", "BF16"];

/** The spec caps the header at 100 MB; anything larger is treated as corrupt. */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = os.endianness() === "LE";
/** Reads are done in pieces of this size so a huge tensor is never requested in one syscall. */
const READ_CHUNK = 64 * 1024 * 1024;

/** Parsed header of one safetensors file. */
export interface SafetensorsFile {
  /** Absolute path. */
  file: string;
  fileSize: number;
  /** Length N of the JSON header in bytes. */
  headerLength: number;
  /** Absolute offset of the data section (8 + N). */
  dataStart: number;
  metadata: Record<string, string> | null;
  /** Tensors in header order. */
  tensors: Map<string, TensorRef>;
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Reads and validates the header of a safetensors file (no tensor data is read).
 * Throws FormatError naming the file (and tensor) for anything malformed.
 */
export function openSafetensors(file: string): SafetensorsFile {
  const abs = path.resolve(file);
  const label = file;
  let fd: number;
  try {
    fd = fs.openSync(abs, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new FormatError(`${label}: file not found`, { file: abs, cause: err });
    throw new FormatError(`${label}: cannot open: ${(err as Error).message}`, { file: abs, cause: err });
  }
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) {
      throw new FormatError(`${label}: file is ${fileSize} bytes, too short to hold the 8-byte header length`, { file: abs });
    }
    const lenBuf = Buffer.alloc(8);
    readExactly(fd, lenBuf, 0, 8, 0, label, abs);
    const n64 = lenBuf.readBigUInt64LE(0);
    if (n64 > BigInt(fileSize - 8)) {
      throw new FormatError(`${label}: header length ${n64} beyond file end (file is ${fileSize} bytes, at most ${fileSize - 8} available)`, {
        file: abs,
        field: "header",
      });
    }
    const headerLength = Number(n64);
    if (headerLength > MAX_HEADER_BYTES) {
      throw new FormatError(`${label}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`, { file: abs, field: "header" });
    }
    if (headerLength < 2) {
      throw new FormatError(`${label}: header length ${headerLength} too small for a JSON object`, { file: abs, field: "header" });
    }
    const headerBuf = Buffer.alloc(headerLength);
    readExactly(fd, headerBuf, 0, headerLength, 8, label, abs);
    const dataStart = 8 + headerLength;
    return parseHeader(headerBuf, { label, abs, fileSize, headerLength, dataStart });
  } finally {
    fs.closeSync(fd);
  }
}

interface HeaderCtx {
  label: string;
  abs: string;
  fileSize: number;
  headerLength: number;
  dataStart: number;
}

function parseHeader(headerBuf: Buffer, ctx: HeaderCtx): SafetensorsFile {
  const { label, abs, fileSize, headerLength, dataStart } = ctx;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBuf);
  } catch (err) {
    throw new FormatError(`${label}: header is not valid UTF-8`, { file: abs, field: "header", cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${label}: header is not valid JSON: ${(err as Error).message}`, { file: abs, field: "header", cause: err });
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new FormatError(`${label}: header must be a JSON object, got ${describeValue(json)}`, { file: abs, field: "header" });
  }
  const entries = json as Record<string, unknown>;
  let metadata: Record<string, string> | null = null;
  const tensors = new Map<string, TensorRef>();
  const ranges: { name: string; begin: number; end: number }[] = [];
  const dataSize = fileSize - dataStart;

  for (const [name, raw] of Object.entries(entries)) {
    if (name === "__metadata__") {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        throw new FormatError(`${label}: "__metadata__" must be an object of strings, got ${describeValue(raw)}`, { file: abs, field: "__metadata__" });
      }
      metadata = {};
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") {
          throw new FormatError(`${label}: "__metadata__.${k}" must be a string, got ${describeValue(v)}`, { file: abs, field: `__metadata__.${k}` });
        }
        metadata[k] = v;
      }
      continue;
    }
    const where = `${label}: tensor "${name}"`;
    const fail = (msg: string): never => {
      throw new FormatError(`${where}: ${msg}`, { file: abs, field: name });
    };
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail(`entry must be an object, got ${describeValue(raw)}`);
    const entry = raw as Record<string, unknown>;
    const dtype = entry.dtype;
    if (typeof dtype !== "string") fail(`"dtype" must be a string, got ${describeValue(dtype)}`);
    const elemSize = DTYPE_SIZES[dtype as string];
    if (elemSize === undefined) fail(`unknown dtype ${describeValue(dtype)} (known: ${Object.keys(DTYPE_SIZES).join(", ")})`);
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) fail(`"shape" must be an array of non-negative integers, got ${describeValue(shape)}`);
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
      fail(`"data_offsets" must be [begin, end] with non-negative integers, got ${describeValue(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataSize) {
      fail(`data range ${dataStart + begin}..${dataStart + end} beyond file end ${fileSize}`);
    }
    const numel = numelOf(shape as number[]);
    const expected = numel * elemSize!;
    if (end - begin !== expected) {
      fail(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but dtype ${dtype} with shape [${(shape as number[]).join(", ")}] needs ${expected}`);
    }
    tensors.set(name, {
      name,
      dtype: dtype as string,
      shape: [...(shape as number[])],
      file: abs,
      offset: dataStart + begin,
      byteLength: end - begin,
    });
    ranges.push({ name, begin, end });
  }

  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let last: { name: string; begin: number; end: number } | null = null;
  for (const cur of ranges) {
    if (cur.end === cur.begin) continue; // empty tensors occupy no bytes
    if (last && cur.begin < last.end) {
      throw new FormatError(
        `${label}: tensors "${last.name}" (data_offsets ${last.begin}..${last.end}) and "${cur.name}" (data_offsets ${cur.begin}..${cur.end}) overlap`,
        { file: abs, field: cur.name },
      );
    }
    if (!last || cur.end > last.end) last = cur;
  }
  return { file: abs, fileSize, headerLength, dataStart, metadata, tensors };
}

function readExactly(fd: number, buf: Uint8Array, bufOffset: number, length: number, position: number, label: string, abs: string): void {
  let done = 0;
  while (done < length) {
    const want = Math.min(length - done, READ_CHUNK);
    const got = fs.readSync(fd, buf, bufOffset + done, want, position + done);
    if (got === 0) {
      throw new FormatError(`${label}: unexpected end of file at byte ${position + done} (wanted ${length} bytes from ${position})`, { file: abs });
    }
    done += got;
  }
}

/** Reads the raw bytes of one tensor (exactly its byte range; the rest of the file is not touched). */
export function readTensorBytes(ref: TensorRef): Uint8Array {
  // Allocate a fresh ArrayBuffer so typed views over the result are always aligned.
  const out = new Uint8Array(new ArrayBuffer(ref.byteLength));
  if (ref.byteLength === 0) return out;
  let fd: number;
  try {
    fd = fs.openSync(ref.file, "r");
  } catch (err) {
    throw new FormatError(`${ref.file}: tensor "${ref.name}": cannot open: ${(err as Error).message}`, { file: ref.file, field: ref.name, cause: err });
  }
  try {
    readExactly(fd, out, 0, ref.byteLength, ref.offset, `${ref.file}: tensor "${ref.name}"`, ref.file);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

export interface ReadF32Options {
  /**
   * Refuse NaN and ±Infinity: a FormatError naming the file and tensor, how many values are not finite, and the
   * first one, e.g. `model.safetensors: tensor "model.layers.1.mlp.down_proj.weight": 3 non-finite values (first
   * NaN at index 17)`. Model weights are read this way (src/model/weights.ts): a NaN weight otherwise runs
   * silently and turns every logit into NaN. The check is one pass over the converted values' bit patterns.
   */
  finite?: boolean;
}

/** Reads one tensor and converts F32/F16/BF16 storage to float32. Other dtypes throw UnsupportedError. */
export function readTensorF32(ref: TensorRef, opts: ReadF32Options = {}): F32Tensor {
  if (!FLOAT_DTYPES.includes(ref.dtype)) {
    throw new UnsupportedError(
      `${ref.file}: tensor "${ref.name}": dtype ${ref.dtype} cannot be read as float32 (supported: ${FLOAT_DTYPES.join(", ")})`,
      { file: ref.file, field: ref.name },
    );
  }
  const bytes = readTensorBytes(ref);
  const data = bytesToF32(bytes, ref.dtype);
  if (opts.finite) {
    const bad = findNonFinite(data);
    if (bad) {
      const values = `${bad.count} non-finite value${bad.count === 1 ? "" : "s"}`;
      throw new FormatError(`${ref.file}: tensor "${ref.name}": ${values} (first ${bad.kind} at index ${bad.first})`, { file: ref.file, field: ref.name });
    }
  }
  return { shape: [...ref.shape], data };
}

/** NaN and ±Infinity values in `data`: how many, the flat index of the first, and what it is; null when all are finite. */
export function findNonFinite(data: Float32Array): { count: number; first: number; kind: "NaN" | "+Inf" | "-Inf" } | null {
  // On the bit patterns: exponent all ones is NaN (mantissa != 0) or ±Infinity. No float compare per element.
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  let count = 0;
  let first = -1;
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i]! & 0x7f800000) === 0x7f800000) {
      if (count++ === 0) first = i;
    }
  }
  if (count === 0) return null;
  const b = bits[first]!;
  const kind = (b & 0x007fffff) !== 0 ? "NaN" : b & 0x80000000 ? "-Inf" : "+Inf";
  return { count, first, kind };
}

/** Converts little-endian stored bytes of a float dtype to float32. */
export function bytesToF32(bytes: Uint8Array, dtype: string): Float32Array {
  switch (dtype) {
    case "F32": {
      if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const out = new Float32Array(bytes.byteLength / 4);
      for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    }
    case "F16":
      return f16ToF32(readU16(bytes));
    case "BF16":
      return bf16ToF32(readU16(bytes));
    default:
      throw new UnsupportedError(`dtype ${dtype} cannot be converted to float32`, { field: "dtype" });
  }
}

function readU16(bytes: Uint8Array): Uint16Array {
  if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint16Array(bytes.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(i * 2, true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Half-precision conversions

/** IEEE 754 binary16 bit pattern -> number. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal: frac * 2^-14 * 2^-10
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bit pattern -> number (the upper half of a float32). */
export function bf16BitsToF32(b: number): number {
  scratchU32[0] = (b & 0xffff) << 16;
  return scratchF32[0]!;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

let f16Table: Float32Array | null = null;
function getF16Table(): Float32Array {
  if (!f16Table) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f16BitsToF32(h);
    f16Table = t;
  }
  return f16Table;
}

/** binary16 bit patterns -> float32 values. */
export function f16ToF32(src: Uint16Array): Float32Array {
  const table = getF16Table();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return out;
}

/** bfloat16 bit patterns -> float32 values. */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) outBits[i] = src[i]! << 16;
  return out;
}

/** float32 -> bfloat16 bit pattern, round to nearest even; NaN stays a (quiet) NaN. */
export function f32ToBf16Bits(x: number): number {
  scratchF32[0] = x;
  const bits = scratchU32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) {
    return ((bits >>> 16) | 0x0040) & 0xffff;
  }
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** float32 -> binary16 bit pattern, round to nearest even; overflow -> ±Infinity; NaN -> quiet NaN. */
export function f32ToF16Bits(x: number): number {
  scratchF32[0] = x;
  const bits = scratchU32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 : sign | 0x7c00;
  const e = exp - 127 + 15; // rebiased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero). Value = mant24 * 2^(exp-150); half subnormal unit is 2^-24.
    if (e < -10) return sign; // below half of the smallest subnormal -> signed zero
    mant |= 0x800000; // implicit leading one
    const shift = 14 - e; // 24-bit significand -> 10-bit subnormal field
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const up = rem > halfway || (rem === halfway && (half & 1) === 1) ? 1 : 0;
    return sign | (half + up); // may carry into the exponent field, which is still correct
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  const up = rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1) ? 1 : 0;
  return sign | (half + up); // carry may round up to Infinity (0x7c00), which is correct
}

/** float32 values -> bfloat16 bit patterns. */
export function f32ToBf16(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i]!;
    const bits = u[0]!;
    if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) out[i] = ((bits >>> 16) | 0x0040) & 0xffff;
    else out[i] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** float32 values -> binary16 bit patterns. */
export function f32ToF16(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writer

export type TensorData = Float32Array | Uint8Array | Uint16Array | Int8Array | Int16Array | Int32Array | Uint32Array | Float64Array | BigInt64Array | BigUint64Array;

/** One tensor to write. A Float32Array is converted to `dtype` when that is F32, F16 or BF16; any other data is written as raw bytes. */
export interface TensorToWrite {
  dtype: SafetensorsDtype | StorageLike;
  shape: number[];
  data: TensorData;
}
type StorageLike = "F32" | "F16" | "BF16";

/** A tensor announced up front for the streaming writer; its data is asked for when its turn comes. */
export interface TensorSpec {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

/** Encodes `data` as the little-endian bytes of `dtype`, checking the element count against `shape`. */
export function encodeTensor(name: string, dtype: string, shape: readonly number[], data: TensorData): Uint8Array {
  const elemSize = DTYPE_SIZES[dtype];
  if (elemSize === undefined) throw new ArgumentError(`tensor "${name}": unknown dtype "${dtype}"`, { field: name });
  const numel = numelOf(shape);
  if (data instanceof Float32Array && FLOAT_DTYPES.includes(dtype)) {
    if (data.length !== numel) {
      throw new ArgumentError(`tensor "${name}": data has ${data.length} elements but shape [${shape.join(", ")}] needs ${numel}`, { field: name });
    }
    let out: Uint8Array;
    if (dtype === "F32") {
      out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (!LITTLE_ENDIAN) out = swapBytes(out, 4);
    } else {
      const u16 = dtype === "F16" ? f32ToF16(data) : f32ToBf16(data);
      out = new Uint8Array(u16.buffer, u16.byteOffset, u16.byteLength);
      if (!LITTLE_ENDIAN) out = swapBytes(out, 2);
    }
    return out;
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength !== numel * elemSize) {
    throw new ArgumentError(
      `tensor "${name}": data has ${bytes.byteLength} bytes but dtype ${dtype} with shape [${shape.join(", ")}] needs ${numel * elemSize}`,
      { field: name },
    );
  }
  return bytes;
}

function swapBytes(src: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += width) for (let j = 0; j < width; j++) out[i + j] = src[i + width - 1 - j]!;
  return out;
}

/** Builds the 8-byte length prefix plus the space-padded JSON header for `specs` laid out in order. */
export function buildHeader(specs: readonly TensorSpec[], metadata?: Record<string, string> | null): { prefix: Uint8Array; offsets: [number, number][] } {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new ArgumentError(`metadata "${k}" must be a string, got ${describeValue(v)}`, { field: `metadata.${k}` });
    }
    header.__metadata__ = metadata;
  }
  const offsets: [number, number][] = [];
  const seen = new Set<string>();
  let pos = 0;
  for (const spec of specs) {
    if (spec.name === "__metadata__") throw new ArgumentError(`tensor name "__metadata__" is reserved`, { field: spec.name });
    if (seen.has(spec.name)) throw new ArgumentError(`tensor "${spec.name}" given twice`, { field: spec.name });
    seen.add(spec.name);
    const elemSize = DTYPE_SIZES[spec.dtype];
    if (elemSize === undefined) throw new ArgumentError(`tensor "${spec.name}": unknown dtype "${spec.dtype}"`, { field: spec.name });
    if (!Array.isArray(spec.shape) || !spec.shape.every(isNonNegInt)) {
      throw new ArgumentError(`tensor "${spec.name}": shape must be non-negative integers, got ${describeValue(spec.shape)}`, { field: spec.name });
    }
    const size = numelOf(spec.shape) * elemSize;
    offsets.push([pos, pos + size]);
    header[spec.name] = { dtype: spec.dtype, shape: spec.shape, data_offsets: [pos, pos + size] };
    pos += size;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  if (padded > json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const prefix = new Uint8Array(8 + json.length);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(json.length), true);
  prefix.set(json, 8);
  return { prefix, offsets };
}

/** What a streaming producer may return for one tensor: all of its data, or its data in row-major chunks. */
export type TensorChunks = TensorData | Iterable<TensorData> | AsyncIterable<TensorData>;

function isTensorData(x: unknown): x is TensorData {
  return ArrayBuffer.isView(x);
}

/**
 * Writes a safetensors file tensor by tensor: the header first, then each tensor's bytes as `produce`
 * returns them (in `specs` order), into a temp file that is renamed over `file` at the end. Only one
 * tensor (or one chunk of one, when `produce` yields chunks) is held in memory at a time, so multi-GB
 * files can be written.
 */
export async function writeSafetensorsStreaming(
  file: string,
  specs: readonly TensorSpec[],
  produce: (spec: TensorSpec, index: number) => TensorChunks | Promise<TensorChunks>,
  metadata?: Record<string, string> | null,
): Promise<void> {
  const { prefix, offsets } = buildHeader(specs, metadata);
  await withAtomicFile(file, async (handle) => {
    await writeAll(handle, prefix);
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i]!;
      const expected = offsets[i]![1] - offsets[i]![0];
      const produced = await produce(spec, i);
      if (isTensorData(produced)) {
        await writeAll(handle, encodeTensor(spec.name, spec.dtype, spec.shape, produced));
        continue;
      }
      const elemSize = DTYPE_SIZES[spec.dtype]!;
      let written = 0;
      for await (const chunk of produced as AsyncIterable<TensorData>) {
        const n = chunk instanceof Float32Array && FLOAT_DTYPES.includes(spec.dtype) ? chunk.length : chunk.byteLength / elemSize;
        if (!Number.isInteger(n)) throw new ArgumentError(`tensor "${spec.name}": chunk of ${chunk.byteLength} bytes is not whole ${spec.dtype} elements`, { field: spec.name });
        const bytes = encodeTensor(spec.name, spec.dtype, [n], chunk);
        written += bytes.byteLength;
        if (written > expected) break;
        await writeAll(handle, bytes);
      }
      if (written !== expected) {
        throw new ArgumentError(`tensor "${spec.name}": chunks hold ${written} bytes but dtype ${spec.dtype} with shape [${spec.shape.join(", ")}] needs ${expected}`, {
          field: spec.name,
        });
      }
    }
  });
}

async function writeAll(handle: fs.promises.FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const len = Math.min(bytes.byteLength - done, READ_CHUNK);
    const { bytesWritten } = await handle.write(bytes, done, len);
    done += bytesWritten;
  }
}

/** Writes `tensors` (in key order) to `file` atomically, header padded with spaces to 8-byte alignment. */
export async function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string> | null): Promise<void> {
  const specs: TensorSpec[] = Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype as SafetensorsDtype, shape: t.shape }));
  await writeSafetensorsStreaming(file, specs, (spec) => tensors[spec.name]!.data, metadata);
}
