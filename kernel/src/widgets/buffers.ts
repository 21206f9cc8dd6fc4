// Binary buffers in widget state (ipywidgets message protocol 2.x): typed arrays and ArrayBuffers anywhere in a
// state object travel as separate message buffers, and `buffer_paths` says where each one goes back.
//
// removeBuffers(state) returns a copy in which every binary value is taken out: an object key is deleted, an array
// entry becomes null (so array lengths stay put), and its path (keys and indices from the top of the state) is
// listed next to the bytes. putBuffers(state, paths, buffers) is the inverse, in place. Only the containers on a
// buffer's path are copied; the caller's state is never modified.

export type BufferPath = Array<string | number>;

export interface SplitState {
  state: Record<string, unknown>;
  bufferPaths: BufferPath[];
  buffers: Uint8Array[];
}

export class BufferPathError extends Error {
  override name = "BufferPathError";
}

export function isBinary(value: unknown): value is ArrayBufferView | ArrayBuffer {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

/** The bytes of a typed array, DataView or ArrayBuffer, as a Uint8Array over the same memory (no copy). */
export function asBytes(value: ArrayBufferView | ArrayBuffer): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function removeBuffers(state: Record<string, unknown>): SplitState {
  const bufferPaths: BufferPath[] = [];
  const buffers: Uint8Array[] = [];
  const walk = (value: unknown, path: BufferPath): unknown => {
    if (Array.isArray(value)) {
      let out: unknown[] | null = null;
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        if (isBinary(v)) {
          out ??= value.slice();
          out[i] = null;
          bufferPaths.push([...path, i]);
          buffers.push(asBytes(v));
        } else if (v !== null && typeof v === "object") {
          const nv = walk(v, [...path, i]);
          if (nv !== v) {
            out ??= value.slice();
            out[i] = nv;
          }
        }
      }
      return out ?? value;
    }
    if (isPlainObject(value)) {
      let out: Record<string, unknown> | null = null;
      for (const key of Object.keys(value)) {
        const v = value[key];
        if (isBinary(v)) {
          out ??= { ...value };
          delete out[key];
          bufferPaths.push([...path, key]);
          buffers.push(asBytes(v));
        } else if (v !== null && typeof v === "object") {
          const nv = walk(v, [...path, key]);
          if (nv !== v) {
            out ??= { ...value };
            out[key] = nv;
          }
        }
      }
      return out ?? value;
    }
    return value;
  };
  return { state: walk(state, []) as Record<string, unknown>, bufferPaths, buffers };
}

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

function checkStep(step: unknown, where: string): string | number {
  if (typeof step === "number" && Number.isInteger(step) && step >= 0) return step;
  if (typeof step === "string" && !FORBIDDEN_KEYS.has(step)) return step;
  throw new BufferPathError(`${where}: invalid path element ${JSON.stringify(step)}`);
}

/**
 * Puts `buffers[i]` at `paths[i]` inside `state` (in place). Paths come from the other side of the wire, so they
 * are checked: each must be a non-empty list of keys / indices leading through existing objects and arrays, and
 * there must be a buffer for every path. Throws BufferPathError otherwise (state is then left partly filled).
 */
export function putBuffers(state: Record<string, unknown>, paths: unknown, buffers: readonly Uint8Array[]): void {
  if (paths === undefined || paths === null) paths = [];
  if (!Array.isArray(paths)) throw new BufferPathError("buffer_paths is not a list");
  if (paths.length > buffers.length) {
    throw new BufferPathError(`buffer_paths lists ${paths.length} buffers, the message carries ${buffers.length}`);
  }
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i];
    const where = `buffer_paths[${i}]`;
    if (!Array.isArray(path) || path.length === 0) throw new BufferPathError(`${where} is not a non-empty list`);
    let obj: unknown = state;
    for (let j = 0; j < path.length - 1; j++) {
      const step = checkStep(path[j], where);
      const next: unknown = obj !== null && typeof obj === "object" && Object.hasOwn(obj, step)
        ? (obj as Record<string | number, unknown>)[step]
        : undefined;
      if (next === null || typeof next !== "object") {
        throw new BufferPathError(`${where}: ${JSON.stringify(path.slice(0, j + 1))} is not an object or list in the state`);
      }
      obj = next;
    }
    const last = checkStep(path[path.length - 1], where);
    if (Array.isArray(obj)) {
      if (typeof last !== "number") throw new BufferPathError(`${where}: list index ${JSON.stringify(last)} is not a number`);
    }
    (obj as Record<string | number, unknown>)[last] = buffers[i];
  }
}

type TypedArrayCtor =
  | Int8ArrayConstructor | Uint8ArrayConstructor | Uint8ClampedArrayConstructor | Int16ArrayConstructor
  | Uint16ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor | Float32ArrayConstructor
  | Float64ArrayConstructor | BigInt64ArrayConstructor | BigUint64ArrayConstructor;

const TYPED_CTORS: TypedArrayCtor[] = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array,
  Float64Array, BigInt64Array, BigUint64Array,
];

/**
 * Bytes received for a field whose current value is a typed array become the same kind of typed array (copied, so
 * the element alignment is right); otherwise they stay a Uint8Array. A byte length that does not fit the element
 * size is an error.
 */
export function bytesLike(bytes: Uint8Array, like: unknown, where = "buffer"): unknown {
  if (!ArrayBuffer.isView(like) || like instanceof Uint8Array) return bytes;
  if (like instanceof DataView) return new DataView(bytes.slice().buffer);
  const ctor = TYPED_CTORS.find((c) => like instanceof c);
  if (!ctor) return bytes;
  if (bytes.byteLength % ctor.BYTES_PER_ELEMENT !== 0) {
    throw new BufferPathError(`${where}: ${bytes.byteLength} bytes is not a whole number of ${ctor.name} elements`);
  }
  const copy = bytes.slice();
  return new ctor(copy.buffer, 0, copy.byteLength / ctor.BYTES_PER_ELEMENT);
}

/** Structural equality for widget state values: typed arrays compare by bytes, objects by own keys. */
export function stateEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (isBinary(a) || isBinary(b)) {
    if (!isBinary(a) || !isBinary(b)) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    const x = asBytes(a);
    const y = asBytes(b);
    if (x.byteLength !== y.byteLength) return false;
    for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!stateEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    for (const k of ka) if (!Object.hasOwn(b, k) || !stateEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}
