// A reader for PyTorch `.pt` files (torch.save since 1.6) that never runs code from the file.
//
// Why this exists: the Safe-SAIL release ships its SAE checkpoints and safety-neuron indices as `.pt`
// files, and `torch.load` is a pickle interpreter that will call any Python function the file names. This
// reader understands just enough to get tensors out and refuses everything else. It is torch's layout on
// top of two format readers of its own:
//
//   * the container is a zip archive (./zip.ts): `<archive>/data.pkl` (the pickled object graph),
//     `<archive>/data/<key>` (one raw storage per key), `<archive>/byteorder` ("little" or "big", absent in
//     old files = little), `<archive>/version`. A corrupt file fails with a FormatError naming file and member.
//   * the pickle is run by the allowlisted machine of ./pickle.ts. The allowlist here admits
//     `collections.OrderedDict`, torch's tensor/parameter rebuild functions, the storage types and
//     `torch.Size`; any other global stops the read with an UnsafePickleError naming it. The allowed
//     "calls" are hand-written constructors of plain data below.
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
import { ArgumentError, FormatError, UnsupportedError, describeValue } from "../errors.ts";
import { PyDict, PyGlobal, PyObject, dictKey, pyKind, runPickle, type PickleContext, type PickleLimits, type PyValue } from "./pickle.ts";
import { bf16ToF32, f16ToF32 } from "./safetensors.ts";
import { bufferSource, fileSource, openZip, readZipEntry, type ByteSource, type ZipArchive } from "./zip.ts";

export { UnsafePickleError } from "./pickle.ts";

// ---------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------

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
// Torch objects in the pickle, and the allowlist
// ---------------------------------------------------------------------------------------------------------

/** A storage named by a persistent id. */
class StorageRef extends PyObject {
  readonly kind = "a storage";
  readonly tensors: PendingTensor[] = [];
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    readonly numel: number,
    readonly typeName: string,
  ) {
    super();
  }
}

/** A tensor as the pickle describes it; its data is read once the whole pickle has been run. */
class PendingTensor extends PyObject {
  readonly kind = "a tensor";
  result?: TorchTensor;
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {
    super();
  }
}

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

/** How the UnsafePickleError message words the allowlist. */
const ALLOWED_GLOBALS = "torch tensor rebuild functions, storage types, torch.Size and collections.OrderedDict";

interface Limits extends PickleLimits {
  maxPickleBytes: number;
  maxTensorBytes: number;
}

interface TorchPickleContext extends PickleContext {
  limits: Limits;
  /** Bytes of tensor data promised so far (checked against maxTensorBytes). */
  tensorBytes: number;
}

function isIndex(v: PyValue): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function callGlobal(fn: PyGlobal, args: PyValue[], ctx: TorchPickleContext, err: (m: string) => never): PyValue {
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

function rebuildTensor(args: PyValue[], ctx: TorchPickleContext, err: (m: string) => never): PendingTensor {
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

/** The zip under a torch.save file; a legacy (pre-1.6) bare pickle stream is refused by name. */
function openTorchZip(src: ByteSource, maxEntries: number): ZipArchive {
  const head = src.read(0, Math.min(src.size, 2));
  if (head[0] === 0x80 && head.length === 2 && head[1]! <= 5) {
    throw new UnsupportedError(`${src.label}: this is the legacy (pre-1.6) torch.save format, a bare pickle stream; only the zip format is supported (re-save it with a current torch)`, { file: src.file ?? src.label });
  }
  return openZip(src, maxEntries);
}

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

  const zip = openTorchZip(src, maxZipEntries);
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
    const bo = new TextDecoder("latin1").decode(readZipEntry(zip, boEntry, verifyCrc)).trim();
    if (bo === "big") bigEndian = true;
    else if (bo !== "little") throw new FormatError(`${src.label}: ${archive}/byteorder says ${describeValue(bo)}, expected "little" or "big"`, { file: fileForErrors });
  }

  const storages = new Map<string, StorageRef>();
  const where = `${src.label}: ${pklName}`;
  const ctx: TorchPickleContext = {
    where,
    file: fileForErrors,
    limits,
    tensorBytes: 0,
    allowGlobal: globalAllowed,
    allowedGlobals: ALLOWED_GLOBALS,
    call: (fn, args, err) => callGlobal(fn, args, ctx, err),
    acceptsState: (target) => target instanceof PyDict || target instanceof PendingTensor,
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

  const root = runPickle(readZipEntry(zip, pklEntry, verifyCrc), ctx);

  // Materialise storage by storage so at most one raw storage is held at a time.
  for (const storage of storages.values()) {
    if (storage.tensors.length === 0) continue;
    const entryName = `${archive}/data/${storage.key}`;
    const raw = readZipEntry(zip, zip.entries.get(entryName)!, verifyCrc);
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
    if (v instanceof PyObject) return fail(`the result holds ${v.kind}, which has no plain value`, UnsupportedError);
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
