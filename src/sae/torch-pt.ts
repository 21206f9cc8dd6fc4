// A reader for PyTorch `.pt` files (torch.save since 1.6) that never runs code from the file.
//
// Why this exists: the Safe-SAIL release ships its SAE checkpoints and safety-neuron indices as `.pt`
// files, and `torch.load` is a pickle interpreter that will call any Python function the file names. This
// reader understands just enough to get tensors out and refuses everything else:
//
//   * the container is a zip archive: `<archive>/data.pkl` (the pickled object graph), `<archive>/data/<key>`
//     (one raw storage per key), `<archive>/byteorder` ("little" or "big", absent in old files = little),
//     `<archive>/version`. The zip reader is our own (central directory, local headers, zip64, stored or
//     deflated members, CRC-32 checked) so a corrupt file fails with a FormatError naming file and member.
//   * the pickle is run by a small stack machine that knows only the opcodes torch.save emits (protocol 2,
//     plus the protocol 4/5 framing opcodes). Class and function references (GLOBAL / STACK_GLOBAL) are
//     looked up in a fixed allowlist: `collections.OrderedDict`, torch's tensor/parameter rebuild functions,
//     the storage types, `torch.Size`. Any other global — `os.system`, `builtins.eval`, a user class — stops
//     the read with an UnsafePickleError naming it, before anything could be called. Allowed "calls" are not
//     calls either: each one is a hand-written constructor of plain data here.
//   * persistent ids ("storage", storage type, key, location, numel) name the storages; tensors are
//     materialised after the pickle is read, one storage at a time, honouring storage offset, size and
//     stride (views, transposes, slices and expands come out as contiguous row-major copies).
//
// Byte order: a file written on a big-endian machine (`byteorder` = "big") is byte-swapped on read, so the
// values are right on this (little-endian) host. A big-endian host is refused.
//
// Limits guard against hostile files: pickle size, memo entries, nesting depth, stack size, zip member
// count, and the total number of tensor bytes materialised (stride-0 "expanded" tensors could otherwise
// turn a few bytes of storage into gigabytes). Every storage access is bounds-checked against the storage's
// declared element count and the member's actual size.
//
// Dtype names follow the safetensors spelling used across this project (F32, BF16, I64, BOOL, ...).
// F16/BF16 data stay as raw 16-bit patterns (Uint16Array), I64 as BigInt64Array, BOOL as Uint8Array of 0/1;
// `toFloat32` converts any of them.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { ArgumentError, FormatError, UnsupportedError, describeValue } from "../errors.ts";
import { bf16ToF32, f16ToF32 } from "../model/safetensors.ts";

// ---------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------

/** A pickle asked for a Python global outside the allowlist (the file would run code under torch.load). */
export class UnsafePickleError extends UnsupportedError {}

export type TorchDtype = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export type TorchTensorData = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** A dense tensor in row-major order. F16/BF16 hold bit patterns; I64 is a BigInt64Array; BOOL holds 0/1. */
export class TorchTensor {
  constructor(
    readonly dtype: TorchDtype,
    readonly shape: number[],
    readonly data: TorchTensorData,
  ) {}
}

/**
 * What `readTorchFile` returns: Python values as plain JS. dict and OrderedDict become objects with a null
 * prototype (so a key like "__proto__" stays an ordinary key), int keys become their decimal strings;
 * lists, tuples and torch.Size become arrays; int becomes number, or bigint beyond 2^53; bytes become
 * Uint8Array.
 */
export type TorchValue = null | boolean | number | bigint | string | Uint8Array | TorchTensor | TorchValue[] | TorchDict;
export interface TorchDict {
  [key: string]: TorchValue;
}

export interface TorchReadOptions {
  /** Largest data.pkl accepted, in bytes (default 64 MiB; a state_dict's pickle is a few KB per tensor). */
  maxPickleBytes?: number;
  /** Most memo entries (BINPUT / MEMOIZE) a pickle may create (default 1,000,000). */
  maxMemoEntries?: number;
  /** Deepest nesting of MARKs and of containers in the result (default 256). */
  maxDepth?: number;
  /** Most values on the pickle stack at once (default 10,000,000). */
  maxStackItems?: number;
  /** Most members in the zip archive (default 1,000,000). */
  maxZipEntries?: number;
  /** Most tensor bytes materialised in all (default: 4 x the file size + 64 MiB). */
  maxTensorBytes?: number;
  /** Check each member's CRC-32 as it is read (default true; members are always read whole). */
  verifyCrc?: boolean;
}

/** Element size in bytes of each dtype. */
export const TORCH_DTYPE_SIZES: Readonly<Record<TorchDtype, number>> = Object.freeze({
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

export function isTorchTensor(value: unknown): value is TorchTensor {
  return value instanceof TorchTensor;
}

/** Any tensor's values as float32 (I64 through Number, so beyond 2^24 not exact). F32 data is returned as is, not copied. */
export function toFloat32(t: TorchTensor): Float32Array {
  switch (t.dtype) {
    case "F32":
      return t.data as Float32Array;
    case "F16":
      return f16ToF32(t.data as Uint16Array);
    case "BF16":
      return bf16ToF32(t.data as Uint16Array);
    case "I64": {
      const src = t.data as BigInt64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
      return out;
    }
    default:
      return Float32Array.from(t.data as Exclude<TorchTensorData, BigInt64Array>);
  }
}

/** Reads a torch.save file. Never executes anything from the file; see the header for what is refused. */
export function readTorchFile(file: string, options: TorchReadOptions = {}): TorchValue {
  const abs = path.resolve(file);
  let fd: number;
  try {
    fd = fs.openSync(abs, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new FormatError(`${file}: file not found`, { file: abs, cause: err });
    throw new FormatError(`${file}: cannot open: ${(err as Error).message}`, { file: abs, cause: err });
  }
  try {
    const size = fs.fstatSync(fd).size;
    return readTorchSource(fileSource(fd, size, file, abs), options);
  } finally {
    fs.closeSync(fd);
  }
}

/** Same as readTorchFile for bytes already in memory; `label` names them in errors. */
export function readTorchBytes(bytes: Uint8Array, label = "<bytes>", options: TorchReadOptions = {}): TorchValue {
  return readTorchSource(bufferSource(bytes, label), options);
}

/**
 * Reads a torch.save file holding a (possibly nested) dict of tensors, as a state_dict does, and returns
 * the tensors under their dotted paths ("encoder.weight", "linear.bias"; list items by index). Leaves that
 * are not tensors (a step count, a config string) are skipped. A file holding anything but a dict at the
 * top is a FormatError.
 */
export function readTorchTensorDict(file: string, options: TorchReadOptions = {}): Record<string, TorchTensor> {
  return flattenTensors(readTorchFile(file, options), file);
}

/** The flattening of readTorchTensorDict, for a value already read. */
export function flattenTensors(value: TorchValue, label: string): Record<string, TorchTensor> {
  if (!isDict(value)) {
    throw new FormatError(`${label}: expected a dict of tensors (a state_dict) at the top, found ${kindOf(value)}`, { file: label });
  }
  const out: Record<string, TorchTensor> = Object.create(null) as Record<string, TorchTensor>;
  const walk = (v: TorchValue, prefix: string): void => {
    if (v instanceof TorchTensor) {
      if (prefix in out) throw new FormatError(`${label}: two tensors flatten to the same key "${prefix}"`, { file: label, field: prefix });
      out[prefix] = v;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, prefix === "" ? String(i) : `${prefix}.${i}`));
    } else if (isDict(v)) {
      for (const k of Object.keys(v)) walk(v[k]!, prefix === "" ? k : `${prefix}.${k}`);
    }
  };
  walk(value, "");
  return out;
}

function isDict(v: TorchValue): v is TorchDict {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof TorchTensor) && !(v instanceof Uint8Array);
}

function kindOf(v: TorchValue): string {
  if (v === null) return "None";
  if (v instanceof TorchTensor) return `a tensor ${v.dtype}[${v.shape.join(", ")}]`;
  if (Array.isArray(v)) return "a list";
  if (v instanceof Uint8Array) return "bytes";
  if (typeof v === "object") return "a dict";
  return `a ${typeof v} (${describeValue(typeof v === "bigint" ? String(v) : v)})`;
}

// ---------------------------------------------------------------------------------------------------------
// Byte sources
// ---------------------------------------------------------------------------------------------------------

interface ByteSource {
  size: number;
  /** Label for messages (the path as the caller gave it). */
  label: string;
  /** Absolute path, when a file. */
  file?: string;
  /** Exactly `length` bytes from `position`, in a fresh, 8-byte aligned array. */
  read(position: number, length: number): Uint8Array;
}

function fileSource(fd: number, size: number, label: string, abs: string): ByteSource {
  return {
    size,
    label,
    file: abs,
    read(position, length) {
      if (position < 0 || length < 0 || position + length > size) {
        throw new FormatError(`${label}: read of ${length} bytes at ${position} runs past the file end (${size} bytes)`, { file: abs });
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
        if (n <= 0) throw new FormatError(`${label}: file ended while reading ${length} bytes at ${position}`, { file: abs });
        done += n;
      }
      return out;
    },
  };
}

function bufferSource(bytes: Uint8Array, label: string): ByteSource {
  return {
    size: bytes.length,
    label,
    read(position, length) {
      if (position < 0 || length < 0 || position + length > bytes.length) {
        throw new FormatError(`${label}: read of ${length} bytes at ${position} runs past the end (${bytes.length} bytes)`, { file: label });
      }
      return bytes.slice(position, position + length);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Zip archive
// ---------------------------------------------------------------------------------------------------------

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

interface ZipArchive {
  src: ByteSource;
  entries: Map<string, ZipEntry>;
  /** Where member data may end: the start of the central directory. */
  dataEnd: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

function zipError(src: ByteSource, message: string, entry?: string): FormatError {
  const where = entry === undefined ? src.label : `${src.label}: member "${entry}"`;
  return new FormatError(`${where}: ${message}`, { file: src.file ?? src.label, ...(entry === undefined ? {} : { field: entry }) });
}

function u64(dv: DataView, at: number, src: ByteSource, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw zipError(src, `${what} ${v} is too large`);
  return Number(v);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function openZip(src: ByteSource, maxEntries: number): ZipArchive {
  if (src.size < 22) throw zipError(src, `${src.size} bytes is too short for a zip archive (torch.save writes zip files since torch 1.6)`);
  const head = src.read(0, Math.min(src.size, 8));
  if (head[0] === 0x80 && head[1]! <= 5) {
    throw new UnsupportedError(`${src.label}: this is the legacy (pre-1.6) torch.save format, a bare pickle stream; only the zip format is supported (re-save it with a current torch)`, { file: src.file ?? src.label });
  }
  // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
  const tailLen = Math.min(src.size, 22 + U16_MAX);
  const tailStart = src.size - tailLen;
  const tail = src.read(tailStart, tailLen);
  const tv = view(tail);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && i + 22 + tv.getUint16(i + 20, true) <= tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    const isLocal = head.length >= 4 && view(head).getUint32(0, true) === SIG_LOCAL;
    throw zipError(src, isLocal ? "no end-of-central-directory record: the zip archive is truncated" : "not a zip archive (no end-of-central-directory record)");
  }
  const eocdPos = tailStart + eocd;
  const diskNo = tv.getUint16(eocd + 4, true);
  const cdDisk = tv.getUint16(eocd + 6, true);
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  let cdLimit = eocdPos;
  if (diskNo !== 0 || cdDisk !== 0) throw new UnsupportedError(`${src.label}: multi-disk zip archives are not supported`, { file: src.file ?? src.label });

  const locAt = eocd - 20;
  if (locAt >= 0 && tv.getUint32(locAt, true) === SIG_EOCD64_LOCATOR) {
    const z64Pos = u64(tv, locAt + 8, src, "zip64 end record offset");
    if (z64Pos + 56 > eocdPos - 20) throw zipError(src, `zip64 end record at ${z64Pos} lies outside the archive`);
    const z = view(src.read(z64Pos, 56));
    if (z.getUint32(0, true) !== SIG_EOCD64) throw zipError(src, `zip64 end record at ${z64Pos} has a bad signature`);
    count = u64(z, 32, src, "zip64 entry count");
    cdSize = u64(z, 40, src, "zip64 central directory size");
    cdOffset = u64(z, 48, src, "zip64 central directory offset");
    cdLimit = z64Pos;
  } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    throw zipError(src, "end record points to zip64 values but the zip64 end record is missing (truncated archive?)");
  }
  if (count > maxEntries) throw zipError(src, `${count} members exceed the limit of ${maxEntries}`);
  if (cdOffset + cdSize > cdLimit) {
    throw zipError(src, `central directory ${cdOffset}..${cdOffset + cdSize} runs past its end record at ${cdLimit} (truncated or corrupt archive)`);
  }
  if (count * 46 > cdSize) throw zipError(src, `central directory of ${cdSize} bytes cannot hold ${count} members`);

  const cd = src.read(cdOffset, cdSize);
  const cv = view(cd);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || cv.getUint32(p, true) !== SIG_CENTRAL) {
      throw zipError(src, `central directory entry ${i} at offset ${cdOffset + p} is corrupt (bad signature or truncated)`);
    }
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    const crc32 = cv.getUint32(p + 16, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let size = cv.getUint32(p + 24, true);
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    let localHeaderOffset = cv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdSize) throw zipError(src, `central directory entry ${i} runs past the directory's end`);
    let name: string;
    try {
      name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    } catch (err) {
      throw zipError(src, `central directory entry ${i} has a name that is not UTF-8`);
    }
    // zip64 extra field: the 64-bit values of exactly those fields whose 32-bit slot is 0xFFFFFFFF, in order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (e + 4 + len > extraEnd) throw zipError(src, `extra field runs past its entry`, name);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + len) throw zipError(src, `zip64 extra field too short for the ${what}`, name);
          const v = u64(cv, q, src, `zip64 ${what}`);
          q += 8;
          return v;
        };
        if (size === U32_MAX) size = take("size");
        if (compressedSize === U32_MAX) compressedSize = take("compressed size");
        if (localHeaderOffset === U32_MAX) localHeaderOffset = take("local header offset");
      }
      e += 4 + len;
    }
    if (size === U32_MAX || compressedSize === U32_MAX || localHeaderOffset === U32_MAX) {
      throw zipError(src, "sizes marked zip64 but no zip64 extra field holds them", name);
    }
    if (entries.has(name)) throw zipError(src, "appears twice in the central directory", name);
    entries.set(name, { name, method, flags, crc32, compressedSize, size, localHeaderOffset });
    p = end;
  }
  return { src, entries, dataEnd: cdOffset };
}

let crcTable: Uint32Array | undefined;
function crc32(bytes: Uint8Array): number {
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  if (typeof native === "function") return native(bytes) >>> 0;
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A member's uncompressed bytes (fresh, aligned), CRC-checked when `verifyCrc`. */
function readEntry(zip: ZipArchive, entry: ZipEntry, verifyCrc: boolean): Uint8Array {
  const { src } = zip;
  const fail = (msg: string): never => {
    throw zipError(src, msg, entry.name);
  };
  if (entry.flags & 0x1) throw new UnsupportedError(`${src.label}: member "${entry.name}" is encrypted`, { file: src.file ?? src.label, field: entry.name });
  if (entry.localHeaderOffset + 30 > zip.dataEnd) fail(`local header at ${entry.localHeaderOffset} lies past the member data area (corrupt offset)`);
  const lh = view(src.read(entry.localHeaderOffset, 30));
  if (lh.getUint32(0, true) !== SIG_LOCAL) fail(`local header at ${entry.localHeaderOffset} has a bad signature`);
  const nameLen = lh.getUint16(26, true);
  const extraLen = lh.getUint16(28, true);
  const dataStart = entry.localHeaderOffset + 30 + nameLen + extraLen;
  if (dataStart + entry.compressedSize > zip.dataEnd) {
    fail(`data ${dataStart}..${dataStart + entry.compressedSize} runs past the member area ending at ${zip.dataEnd} (truncated or corrupt)`);
  }
  const localName = new TextDecoder("utf-8").decode(src.read(entry.localHeaderOffset + 30, nameLen));
  if (localName !== entry.name) fail(`local header names "${localName}" instead`);
  let data: Uint8Array;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) fail(`stored member has compressed size ${entry.compressedSize} but size ${entry.size}`);
    data = src.read(dataStart, entry.size);
  } else if (entry.method === 8) {
    const packed = src.read(dataStart, entry.compressedSize);
    let out: Buffer;
    try {
      out = zlib.inflateRawSync(packed, { maxOutputLength: Math.max(1, entry.size) });
    } catch (err) {
      throw new FormatError(`${src.label}: member "${entry.name}": deflate data is corrupt: ${(err as Error).message}`, {
        file: src.file ?? src.label,
        field: entry.name,
        cause: err,
      });
    }
    if (out.length !== entry.size) fail(`inflates to ${out.length} bytes, the directory says ${entry.size}`);
    data = new Uint8Array(out.length);
    data.set(out);
  } else {
    throw new UnsupportedError(`${src.label}: member "${entry.name}" uses compression method ${entry.method} (only stored and deflate are supported)`, {
      file: src.file ?? src.label,
      field: entry.name,
    });
  }
  if (verifyCrc) {
    const actual = crc32(data);
    if (actual !== entry.crc32) fail(`CRC-32 mismatch (stored ${hex(entry.crc32)}, computed ${hex(actual)}): the data is corrupt`);
  }
  return data;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

// ---------------------------------------------------------------------------------------------------------
// Pickle machine
// ---------------------------------------------------------------------------------------------------------

/** A Python global the allowlist admitted; it is only ever a tag for the constructors below. */
class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

type DictKey = string | number | bigint | boolean | null;

/** dict / OrderedDict under construction (a Map keeps insertion order and non-string keys). */
class PyDict {
  readonly map = new Map<DictKey, PyValue>();
}

/** A storage named by a persistent id. */
class StorageRef {
  readonly tensors: PendingTensor[] = [];
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    readonly numel: number,
    readonly typeName: string,
  ) {}
}

/** A tensor as the pickle describes it; its data is read once the whole pickle has been run. */
class PendingTensor {
  result?: TorchTensor;
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyDict | PyGlobal | StorageRef | PendingTensor;

const STORAGE_TYPES: Readonly<Record<string, TorchDtype>> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
  UntypedStorage: "U8",
};
/** Harmless storage types whose dtype this reader does not decode: admitted as globals, refused on use. */
const UNSUPPORTED_STORAGE_TYPES = new Set([
  "ComplexFloatStorage",
  "ComplexDoubleStorage",
  "QUInt8Storage",
  "QInt8Storage",
  "QInt32Storage",
  "QUInt4x2Storage",
  "QUInt2x4Storage",
]);
/** Globals that may be called (REDUCE / NEWOBJ); each is implemented below as plain data construction. */
const CALLABLE_GLOBALS = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  "torch._tensor._rebuild_from_type_v2",
  "torch.Size",
]);
/** Globals that may only appear as arguments (the tensor type given to _rebuild_from_type_v2). */
const TYPE_GLOBALS = new Set(["torch.Tensor", "torch.nn.parameter.Parameter"]);

function globalAllowed(module: string, name: string): boolean {
  const q = `${module}.${name}`;
  if (CALLABLE_GLOBALS.has(q) || TYPE_GLOBALS.has(q)) return true;
  return (module === "torch" || module === "torch.storage") && (name in STORAGE_TYPES || UNSUPPORTED_STORAGE_TYPES.has(name));
}

const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT", 0x4a: "BININT",
  0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE", 0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE",
  0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND",
  0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT", 0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET",
  0x69: "INST", 0x6a: "LONG_BINGET", 0x6c: "LIST", 0x5d: "EMPTY_LIST", 0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT",
  0x72: "LONG_BINPUT", 0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
  0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2",
  0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4", 0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x8e: "BINBYTES8", 0x8f: "EMPTY_SET",
  0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
  0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
};

interface Limits {
  maxPickleBytes: number;
  maxMemoEntries: number;
  maxDepth: number;
  maxStackItems: number;
  maxTensorBytes: number;
}

interface PickleContext {
  /** Prefix for messages: "<file>: <archive>/data.pkl". */
  where: string;
  file: string;
  limits: Limits;
  /** Resolves a persistent id to its storage (validated there). */
  persistentLoad(pid: PyValue, at: number): StorageRef;
  /** Bytes of tensor data promised so far (checked against maxTensorBytes). */
  tensorBytes: number;
}

/** Largest LONG1/LONG4 accepted, in bytes (Python ints in a torch pickle are sizes, strides and offsets). */
const MAX_LONG_BYTES = 1024;

function runPickle(bytes: Uint8Array, ctx: PickleContext): PyValue {
  const dv = view(bytes);
  const utf8 = new TextDecoder("utf-8");
  const n = bytes.length;
  let pos = 0;
  let op = 0;
  let opAt = 0;
  let stack: PyValue[] = [];
  const marks: PyValue[][] = [];
  const memo = new Map<number, PyValue>();

  const err = (message: string, Kind: typeof FormatError | typeof UnsupportedError = FormatError): never => {
    const opName = OPCODE_NAMES[op] ?? `0x${op.toString(16)}`;
    throw new Kind(`${ctx.where}: byte ${opAt} (${opName}): ${message}`, { file: ctx.file });
  };
  const need = (k: number): void => {
    if (pos + k > n) err(`pickle ends after ${n} bytes, ${k} more needed (truncated)`);
  };
  const pop = (): PyValue => {
    if (stack.length === 0) err("stack underflow");
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0) err("stack underflow");
    return stack[stack.length - 1]!;
  };
  const push = (v: PyValue): void => {
    if (stack.length >= ctx.limits.maxStackItems) err(`more than ${ctx.limits.maxStackItems} values on the stack`);
    stack.push(v);
  };
  const popMark = (): PyValue[] => {
    if (marks.length === 0) err("no MARK to pop to");
    const items = stack;
    stack = marks.pop()!;
    return items;
  };
  const memoPut = (index: number): void => {
    if (!memo.has(index) && memo.size >= ctx.limits.maxMemoEntries) err(`more than ${ctx.limits.maxMemoEntries} memo entries`);
    memo.set(index, top());
  };
  const memoGet = (index: number): void => {
    if (!memo.has(index)) err(`memo entry ${index} was never stored`);
    push(memo.get(index)!);
  };
  const readStr = (len: number): string => {
    need(len);
    const s = utf8.decode(bytes.subarray(pos, pos + len));
    pos += len;
    return s;
  };
  const readBytes = (len: number): Uint8Array => {
    need(len);
    const b = bytes.slice(pos, pos + len);
    pos += len;
    return b;
  };
  const readU64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) err(`length ${v} beyond the pickle's ${n} bytes`);
    return Number(v);
  };
  const readLine = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 1024) err("unterminated or overlong text line");
    const s = new TextDecoder("latin1").decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const lookupGlobal = (module: string, name: string): PyGlobal => {
    if (!globalAllowed(module, name)) {
      throw new UnsafePickleError(
        `${ctx.where}: refuses global ${module}.${name} at byte ${opAt}: only torch tensor rebuild functions, storage types, torch.Size and collections.OrderedDict are allowed (the file would run code under torch.load)`,
        { file: ctx.file, field: `${module}.${name}` },
      );
    }
    return new PyGlobal(module, name);
  };
  const addToList = (list: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(list)) err(`appending to ${pyKind(list)}, not a list`);
    if (Object.isFrozen(list)) err("appending to a tuple");
    for (const it of items) (list as PyValue[]).push(it);
  };
  const setItems = (dict: PyValue, items: PyValue[]): void => {
    if (!(dict instanceof PyDict)) err(`setting items on ${pyKind(dict)}, not a dict`);
    if (items.length % 2 !== 0) err("odd number of values for key/value pairs");
    for (let i = 0; i < items.length; i += 2) (dict as PyDict).map.set(dictKey(items[i]!, err), items[i + 1]!);
  };
  const tuple = (items: PyValue[]): PyValue[] => Object.freeze(items) as PyValue[];

  while (true) {
    if (pos >= n) err("pickle ends without STOP (truncated)");
    opAt = pos;
    op = bytes[pos++]!;
    switch (op) {
      case 0x80: {
        // PROTO
        need(1);
        const v = bytes[pos++]!;
        if (v > 5) err(`pickle protocol ${v} is newer than 5`, UnsupportedError);
        break;
      }
      case 0x95: // FRAME: a length prefix for buffering; the contents follow inline
        readU64();
        break;
      case 0x2e: // STOP
        if (marks.length !== 0) err("STOP inside an open MARK");
        if (stack.length !== 1) err(`STOP with ${stack.length} values on the stack, expected 1`);
        return stack[0]!;
      case 0x28: // MARK
        if (marks.length >= ctx.limits.maxDepth) err(`MARKs nested deeper than ${ctx.limits.maxDepth}`);
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        need(4);
        push(dv.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        need(1);
        push(bytes[pos++]!);
        break;
      case 0x4d: // BININT2
        need(2);
        push(dv.getUint16(pos, true));
        pos += 2;
        break;
      case 0x8a: // LONG1
      case 0x8b: {
        // LONG4
        let len: number;
        if (op === 0x8a) {
          need(1);
          len = bytes[pos++]!;
        } else {
          need(4);
          len = dv.getInt32(pos, true);
          pos += 4;
          if (len < 0) err("negative length");
        }
        if (len > MAX_LONG_BYTES) err(`integer of ${len} bytes exceeds the ${MAX_LONG_BYTES}-byte limit`);
        push(decodeLong(readBytes(len)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: {
        // BINUNICODE
        need(4);
        const len = dv.getUint32(pos, true);
        pos += 4;
        push(readStr(len));
        break;
      }
      case 0x8c: {
        // SHORT_BINUNICODE
        need(1);
        const len = bytes[pos++]!;
        push(readStr(len));
        break;
      }
      case 0x8d: // BINUNICODE8
        push(readStr(readU64()));
        break;
      case 0x43: {
        // SHORT_BINBYTES
        need(1);
        const len = bytes[pos++]!;
        push(readBytes(len));
        break;
      }
      case 0x42: {
        // BINBYTES
        need(4);
        const len = dv.getUint32(pos, true);
        pos += 4;
        push(readBytes(len));
        break;
      }
      case 0x8e: // BINBYTES8
        push(readBytes(readU64()));
        break;
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const d = new PyDict();
        setItems(d, items);
        push(d);
        break;
      }
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x29: // EMPTY_TUPLE
        push(tuple([]));
        break;
      case 0x74: // TUPLE
        push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push(tuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(tuple([a, b, c]));
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        addToList(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        addToList(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        need(1);
        memoPut(bytes[pos++]!);
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memoPut(dv.getUint32(pos, true));
        pos += 4;
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x68: // BINGET
        need(1);
        memoGet(bytes[pos++]!);
        break;
      case 0x6a: // LONG_BINGET
        need(4);
        memoGet(dv.getUint32(pos, true));
        pos += 4;
        break;
      case 0x63: {
        // GLOBAL
        const module = readLine();
        const name = readLine();
        push(lookupGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") err("module and name must be strings");
        push(lookupGlobal(module as string, name as string));
        break;
      }
      case 0x52: // REDUCE
      case 0x81: {
        // NEWOBJ (cls, args): for the allowed globals the same as calling them
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal)) err(`calls ${pyKind(fn)}, not an allowed global`);
        if (!Array.isArray(args)) err(`arguments must be a tuple, got ${pyKind(args)}`);
        push(callGlobal(fn as PyGlobal, args as PyValue[], ctx, err));
        break;
      }
      case 0x62: {
        // BUILD: object state. Only dicts (OrderedDict's `_metadata` attribute) and tensors get one from
        // torch.save; the state is dropped, never applied through __setstate__.
        const state = pop();
        const target = top();
        if (!(target instanceof PyDict || target instanceof PendingTensor)) err(`state for ${pyKind(target)} is not supported`);
        void state;
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        push(ctx.persistentLoad(pid, opAt));
        break;
      }
      default:
        err(`opcode not supported (torch.save does not emit it)`, UnsupportedError);
    }
  }
}

function pyKind(v: PyValue): string {
  if (v === null) return "None";
  if (Array.isArray(v)) return Object.isFrozen(v) ? "a tuple" : "a list";
  if (v instanceof PyDict) return "a dict";
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof StorageRef) return "a storage";
  if (v instanceof PendingTensor) return "a tensor";
  if (v instanceof Uint8Array) return "bytes";
  return `a ${typeof v}`;
}

function dictKey(k: PyValue, err: (m: string) => never): DictKey {
  if (k === null || typeof k === "string" || typeof k === "number" || typeof k === "bigint" || typeof k === "boolean") return k;
  return err(`dict key of type ${pyKind(k)} is not supported`);
}

/** Little-endian two's complement, as LONG1/LONG4 store Python ints. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function isIndex(v: PyValue): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function callGlobal(fn: PyGlobal, args: PyValue[], ctx: PickleContext, err: (m: string) => never): PyValue {
  const q = fn.qualified;
  const arity = (min: number, max = min): void => {
    if (args.length < min || args.length > max) err(`${q} takes ${min === max ? min : `${min}..${max}`} arguments, got ${args.length}`);
  };
  switch (q) {
    case "collections.OrderedDict": {
      arity(0, 1);
      const d = new PyDict();
      if (args.length === 1) {
        const pairs = args[0]!;
        if (!Array.isArray(pairs)) err(`${q}: expected a list of pairs`);
        for (const p of pairs as PyValue[]) {
          if (!Array.isArray(p) || p.length !== 2) err(`${q}: expected a list of pairs`);
          d.map.set(dictKey((p as PyValue[])[0]!, err), (p as PyValue[])[1]!);
        }
      }
      return d;
    }
    case "torch.Size": {
      arity(1);
      const dims = args[0]!;
      if (!Array.isArray(dims) || !dims.every(isIndex)) err(`${q}: expected a tuple of non-negative ints`);
      return Object.freeze([...(dims as number[])]) as PyValue[];
    }
    case "torch._utils._rebuild_tensor_v2":
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      arity(6, 7);
      return rebuildTensor(args, ctx, err);
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state": {
      // (data, requires_grad, backward_hooks[, state]): a Parameter is its data here.
      arity(q.endsWith("with_state") ? 4 : 3);
      if (!(args[0] instanceof PendingTensor)) err(`${q}: first argument must be a tensor, got ${pyKind(args[0]!)}`);
      return args[0]!;
    }
    case "torch._tensor._rebuild_from_type_v2": {
      // (func, new_type, args, state): how tensors with Python attributes are saved.
      arity(4);
      const [inner, type, innerArgs] = args as [PyValue, PyValue, PyValue];
      if (!(type instanceof PyGlobal) || !TYPE_GLOBALS.has(type.qualified)) err(`${q}: tensor type ${pyKind(type)} is not supported`);
      if (!(inner instanceof PyGlobal) || inner.qualified === q || !CALLABLE_GLOBALS.has(inner.qualified)) err(`${q}: rebuild function ${pyKind(inner)} is not supported`);
      if (!Array.isArray(innerArgs)) err(`${q}: arguments must be a tuple`);
      return callGlobal(inner as PyGlobal, innerArgs as PyValue[], ctx, err);
    }
    default:
      // Storage types and tensor types are admitted as names only.
      return err(`${q} cannot be called`);
  }
}

function rebuildTensor(args: PyValue[], ctx: PickleContext, err: (m: string) => never): PendingTensor {
  const [storage, offset, size, stride] = args as [PyValue, PyValue, PyValue, PyValue];
  if (!(storage instanceof StorageRef)) return err(`_rebuild_tensor_v2: first argument must be a storage, got ${pyKind(storage)}`);
  if (!isIndex(offset)) return err(`_rebuild_tensor_v2: storage offset ${describeValue(typeof offset === "bigint" ? String(offset) : offset)} is not a non-negative int`);
  if (!Array.isArray(size) || !size.every(isIndex)) return err("_rebuild_tensor_v2: size must be a tuple of non-negative ints");
  if (!Array.isArray(stride) || !stride.every(isIndex)) return err("_rebuild_tensor_v2: stride must be a tuple of non-negative ints");
  if (size.length !== stride.length) return err(`_rebuild_tensor_v2: size has ${size.length} dims but stride ${stride.length}`);
  const shape = size as number[];
  const strides = stride as number[];
  let numel = 1;
  for (const d of shape) numel *= d;
  if (!Number.isSafeInteger(numel)) return err(`_rebuild_tensor_v2: shape [${shape.join(", ")}] has too many elements`);
  const where = `tensor on storage "${storage.key}" (${storage.numel} ${storage.dtype} elements)`;
  if (numel > 0) {
    let last = offset;
    for (let i = 0; i < shape.length; i++) last += (shape[i]! - 1) * strides[i]!;
    if (!Number.isSafeInteger(last) || last >= storage.numel) {
      return err(`${where}: offset ${offset}, shape [${shape.join(", ")}], stride [${strides.join(", ")}] reach element ${last}, beyond the storage`);
    }
  }
  const bytes = numel * TORCH_DTYPE_SIZES[storage.dtype];
  ctx.tensorBytes += bytes;
  if (ctx.tensorBytes > ctx.limits.maxTensorBytes) {
    return err(`${where}: materialising ${bytes} more bytes would exceed the limit of ${ctx.limits.maxTensorBytes} tensor bytes (maxTensorBytes)`);
  }
  const t = new PendingTensor(storage, offset, [...shape], [...strides]);
  storage.tensors.push(t);
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// Tensor materialisation
// ---------------------------------------------------------------------------------------------------------

function typedView(dtype: TorchDtype, buf: ArrayBuffer, byteOffset: number, length: number): TorchTensorData {
  switch (dtype) {
    case "F32":
      return new Float32Array(buf, byteOffset, length);
    case "F64":
      return new Float64Array(buf, byteOffset, length);
    case "F16":
    case "BF16":
      return new Uint16Array(buf, byteOffset, length);
    case "I64":
      return new BigInt64Array(buf, byteOffset, length);
    case "I32":
      return new Int32Array(buf, byteOffset, length);
    case "I16":
      return new Int16Array(buf, byteOffset, length);
    case "I8":
      return new Int8Array(buf, byteOffset, length);
    case "U8":
    case "BOOL":
      return new Uint8Array(buf, byteOffset, length);
  }
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** Copies a strided view out of `src` into a fresh row-major array. */
function gather(dtype: TorchDtype, src: TorchTensorData, t: PendingTensor): TorchTensorData {
  const { shape, stride, offset } = t;
  let numel = 1;
  for (const d of shape) numel *= d;
  const out = typedView(dtype, new ArrayBuffer(numel * TORCH_DTYPE_SIZES[dtype]), 0, numel);
  if (numel === 0) return out;
  // Contiguous (dims of size 1 may carry any stride): one slice.
  let expect = 1;
  let contiguous = true;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
    expect *= shape[i]!;
  }
  if (contiguous) {
    (out as Float32Array).set((src as Float32Array).subarray(offset, offset + numel));
    return out;
  }
  const nd = shape.length;
  const innerSize = shape[nd - 1]!;
  const innerStride = stride[nd - 1]!;
  const idx = new Array<number>(nd - 1).fill(0);
  const o = out as Float32Array;
  const s = src as Float32Array;
  let base = offset;
  for (let w = 0; w < numel; w += innerSize) {
    for (let j = 0, p = base; j < innerSize; j++, p += innerStride) o[w + j] = s[p]!;
    // Odometer over the outer dims.
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]!++;
      base += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      base -= stride[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The whole read
// ---------------------------------------------------------------------------------------------------------

const HOST_LITTLE_ENDIAN = os.endianness() === "LE";

function readTorchSource(src: ByteSource, options: TorchReadOptions): TorchValue {
  if (!HOST_LITTLE_ENDIAN) throw new UnsupportedError(`${src.label}: reading .pt files needs a little-endian host`);
  const limits: Limits = {
    maxPickleBytes: positive(options.maxPickleBytes, 64 * 1024 * 1024, "maxPickleBytes"),
    maxMemoEntries: positive(options.maxMemoEntries, 1_000_000, "maxMemoEntries"),
    maxDepth: positive(options.maxDepth, 256, "maxDepth"),
    maxStackItems: positive(options.maxStackItems, 10_000_000, "maxStackItems"),
    maxTensorBytes: positive(options.maxTensorBytes, 4 * src.size + 64 * 1024 * 1024, "maxTensorBytes"),
  };
  const maxZipEntries = positive(options.maxZipEntries, 1_000_000, "maxZipEntries");
  const verifyCrc = options.verifyCrc ?? true;
  const fileForErrors = src.file ?? src.label;

  const zip = openZip(src, maxZipEntries);
  const pklNames = [...zip.entries.keys()].filter((name) => name.endsWith("/data.pkl") && name.indexOf("/") === name.length - "/data.pkl".length);
  if (pklNames.length === 0) {
    const names = [...zip.entries.keys()];
    throw new FormatError(
      `${src.label}: no <archive>/data.pkl member: not a torch.save file (members: ${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""})`,
      { file: fileForErrors },
    );
  }
  if (pklNames.length > 1) throw new FormatError(`${src.label}: several data.pkl members (${pklNames.join(", ")})`, { file: fileForErrors });
  const pklName = pklNames[0]!;
  const archive = pklName.slice(0, -"/data.pkl".length);
  const pklEntry = zip.entries.get(pklName)!;
  if (pklEntry.size > limits.maxPickleBytes) {
    throw new FormatError(`${src.label}: ${pklName} is ${pklEntry.size} bytes, over the limit of ${limits.maxPickleBytes} (maxPickleBytes)`, {
      file: fileForErrors,
      field: pklName,
    });
  }

  let bigEndian = false;
  const boEntry = zip.entries.get(`${archive}/byteorder`);
  if (boEntry !== undefined) {
    if (boEntry.size > 16) throw new FormatError(`${src.label}: ${archive}/byteorder is ${boEntry.size} bytes`, { file: fileForErrors });
    const bo = new TextDecoder("latin1").decode(readEntry(zip, boEntry, verifyCrc)).trim();
    if (bo === "big") bigEndian = true;
    else if (bo !== "little") throw new FormatError(`${src.label}: ${archive}/byteorder says ${describeValue(bo)}, expected "little" or "big"`, { file: fileForErrors });
  }

  const storages = new Map<string, StorageRef>();
  const where = `${src.label}: ${pklName}`;
  const ctx: PickleContext = {
    where,
    file: fileForErrors,
    limits,
    tensorBytes: 0,
    persistentLoad(pid, at) {
      const fail = (m: string): never => {
        throw new FormatError(`${where}: byte ${at} (BINPERSID): ${m}`, { file: fileForErrors });
      };
      if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== "storage") {
        return fail(`persistent id must be ("storage", type, key, location, numel), got ${pyKind(pid)}${Array.isArray(pid) ? ` of ${pid.length}` : ""}`);
      }
      const [, type, key, location, numel] = pid as [PyValue, PyValue, PyValue, PyValue, PyValue];
      if (!(type instanceof PyGlobal) || !(type.name in STORAGE_TYPES || UNSUPPORTED_STORAGE_TYPES.has(type.name)) || CALLABLE_GLOBALS.has(type.qualified)) {
        return fail(`storage type must be a torch storage class, got ${pyKind(type)}`);
      }
      if (typeof key !== "string") return fail(`storage key must be a string, got ${pyKind(key)}`);
      if (typeof location !== "string") return fail(`storage location must be a string, got ${pyKind(location)}`);
      if (!isIndex(numel)) return fail(`storage "${key}": element count must be a non-negative int`);
      const dtype = STORAGE_TYPES[type.name];
      if (dtype === undefined) {
        throw new UnsupportedError(`${where}: storage "${key}" has type ${type.qualified}, whose dtype this reader does not support`, { file: fileForErrors, field: key });
      }
      const known = storages.get(key);
      if (known !== undefined) {
        if (known.dtype !== dtype || known.numel !== numel) fail(`storage "${key}" is declared twice with different types or sizes`);
        return known;
      }
      const entryName = `${archive}/data/${key}`;
      const entry = zip.entries.get(entryName);
      if (entry === undefined) return fail(`storage "${key}" has no member ${entryName} in the archive`);
      const needBytes = numel * TORCH_DTYPE_SIZES[dtype];
      if (entry.size < needBytes) {
        throw new FormatError(
          `${src.label}: storage member "${entryName}" holds ${entry.size} bytes but the pickle declares ${numel} ${dtype} elements (${needBytes} bytes): truncated storage`,
          { file: fileForErrors, field: entryName },
        );
      }
      const ref = new StorageRef(key, dtype, numel, type.qualified);
      storages.set(key, ref);
      return ref;
    },
  };

  const root = runPickle(readEntry(zip, pklEntry, verifyCrc), ctx);

  // Materialise storage by storage so at most one raw storage is held at a time.
  for (const storage of storages.values()) {
    if (storage.tensors.length === 0) continue;
    const entryName = `${archive}/data/${storage.key}`;
    const raw = readEntry(zip, zip.entries.get(entryName)!, verifyCrc);
    const elem = TORCH_DTYPE_SIZES[storage.dtype];
    const bytes = raw.subarray(0, storage.numel * elem);
    if (bigEndian && elem > 1) swapBytes(bytes, elem);
    const src = typedView(storage.dtype, raw.buffer as ArrayBuffer, raw.byteOffset, storage.numel);
    const only = storage.tensors.length === 1 ? storage.tensors[0]! : undefined;
    for (const t of storage.tensors) {
      const whole = t === only && t.offset === 0 && isRowMajor(t.shape, t.stride) && t.shape.reduce((a, b) => a * b, 1) === storage.numel;
      // A tensor that is its storage's only user and covers it exactly takes the buffer without a copy.
      t.result = new TorchTensor(storage.dtype, t.shape, whole ? src : gather(storage.dtype, src, t));
    }
  }
  return toPlain(root, where, fileForErrors, limits.maxDepth);
}

function isRowMajor(shape: number[], stride: number[]): boolean {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) return false;
    expect *= shape[i]!;
  }
  return true;
}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !(v > 0)) throw new ArgumentError(`option ${name} must be a positive number, got ${describeValue(v)}`, { field: name });
  return v;
}

/** Pickle values -> TorchValue. Shared sub-objects stay shared (and are converted once); cycles are refused. */
function toPlain(root: PyValue, where: string, file: string, maxDepth: number): TorchValue {
  const done = new Map<object, TorchValue>();
  const active = new Set<object>();
  const fail = (m: string, Kind: typeof FormatError | typeof UnsupportedError = FormatError): never => {
    throw new Kind(`${where}: ${m}`, { file });
  };
  const conv = (v: PyValue, depth: number): TorchValue => {
    if (v === null || typeof v !== "object") return v;
    if (v instanceof Uint8Array) return v;
    if (v instanceof PendingTensor) return v.result!;
    if (v instanceof PyGlobal) return fail(`the result holds a bare reference to ${v.qualified}, which has no plain value`, UnsupportedError);
    if (v instanceof StorageRef) return fail(`the result holds a bare storage ("${v.key}") outside any tensor`, UnsupportedError);
    const seen = done.get(v);
    if (seen !== undefined) return seen;
    if (active.has(v)) return fail("the object graph contains a cycle");
    if (depth > maxDepth) return fail(`containers nested deeper than ${maxDepth}`);
    active.add(v);
    let out: TorchValue;
    if (Array.isArray(v)) {
      out = v.map((item) => conv(item, depth + 1));
    } else {
      const obj = Object.create(null) as TorchDict;
      for (const [k, item] of v.map) {
        let key: string;
        if (typeof k === "string") key = k;
        else if (typeof k === "number" || typeof k === "bigint") key = String(k);
        else return fail(`dict key ${String(k)} is neither a string nor an int`, UnsupportedError);
        if (Object.prototype.hasOwnProperty.call(obj, key)) return fail(`dict has two keys that read "${key}" as strings`);
        obj[key] = conv(item, depth + 1);
      }
      out = obj;
    }
    active.delete(v);
    done.set(v, out);
    return out;
  };
  return conv(root, 0);
}
