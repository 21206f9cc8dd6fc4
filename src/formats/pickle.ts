// A pickle machine that never executes code from the pickle.
//
// It is a small stack machine that knows only the opcodes torch.save emits (protocol 2, plus the
// protocol 4/5 framing opcodes); anything else is an UnsupportedError naming the opcode and its byte.
// Class and function references (GLOBAL / STACK_GLOBAL) go through the caller's allowlist
// (`PickleContext.allowGlobal`): any other global — `os.system`, `builtins.eval`, a user class — stops the
// read with an UnsafePickleError naming it, before anything could be called. Allowed "calls" (REDUCE /
// NEWOBJ) are not calls either: the caller's `call` builds plain data for them. BUILD state is dropped,
// never applied through __setstate__. Persistent ids go to the caller's `persistentLoad`.
//
// Limits guard against hostile pickles: memo entries, MARK nesting, stack size, and the size of LONG1/LONG4
// integers. Every length is checked against the bytes that are left.

import { FormatError, UnsupportedError } from "../errors.ts";

/** A pickle asked for a Python global outside the allowlist (the file would run code under torch.load). */
export class UnsafePickleError extends UnsupportedError {}

/** A Python global the allowlist admitted; it is only ever a tag for the caller's constructors. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

export type DictKey = string | number | bigint | boolean | null;

/** dict / OrderedDict under construction (a Map keeps insertion order and non-string keys). */
export class PyDict {
  readonly map = new Map<DictKey, PyValue>();
}


/** A value the caller's hooks put on the stack (a storage, a tensor under construction); `kind` names it in messages. */
export abstract class PyObject {
  abstract readonly kind: string;
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyDict | PyGlobal | PyObject;

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

export interface PickleLimits {
  /** Most memo entries (BINPUT / MEMOIZE). */
  maxMemoEntries: number;
  /** Deepest nesting of MARKs. */
  maxDepth: number;
  /** Most values on the stack at once. */
  maxStackItems: number;
}

/** What the machine asks its caller: the allowlist, the constructors, persistent ids. */
export interface PickleContext {
  /** Prefix for messages (e.g. "<file>: <archive>/data.pkl"). */
  where: string;
  file: string;
  limits: PickleLimits;
  /** Whether GLOBAL / STACK_GLOBAL may name `module.name`. */
  allowGlobal(module: string, name: string): boolean;
  /** What the allowlist admits, in words, for the UnsafePickleError message. */
  allowedGlobals: string;
  /** REDUCE / NEWOBJ of an allowed global: builds plain data, or calls `err`. */
  call(fn: PyGlobal, args: PyValue[], err: (m: string) => never): PyValue;
  /** Whether BUILD may give `target` a state (which is then dropped). */
  acceptsState(target: PyValue): boolean;
  /** BINPERSID: the value a persistent id names; `at` is the opcode's byte. */
  persistentLoad(pid: PyValue, at: number): PyValue;
}

/** Largest LONG1/LONG4 accepted, in bytes (Python ints in a torch pickle are sizes, strides and offsets). */
const MAX_LONG_BYTES = 1024;

/** Runs `bytes` to STOP and returns the one value left. Never executes code; see the header. */
export function runPickle(bytes: Uint8Array, ctx: PickleContext): PyValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
    if (!ctx.allowGlobal(module, name)) {
      throw new UnsafePickleError(
        `${ctx.where}: refuses global ${module}.${name} at byte ${opAt}: only ${ctx.allowedGlobals} are allowed (the file would run code under torch.load)`,
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
        push(ctx.call(fn as PyGlobal, args as PyValue[], err));
        break;
      }
      case 0x62: {
        // BUILD: object state. Only dicts (OrderedDict's `_metadata` attribute) and tensors get one from
        // torch.save; the state is dropped, never applied through __setstate__.
        const state = pop();
        const target = top();
        if (!ctx.acceptsState(target)) err(`state for ${pyKind(target)} is not supported`);
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

export function pyKind(v: PyValue): string {
  if (v === null) return "None";
  if (Array.isArray(v)) return Object.isFrozen(v) ? "a tuple" : "a list";
  if (v instanceof PyDict) return "a dict";
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof PyObject) return v.kind;
  if (v instanceof Uint8Array) return "bytes";
  return `a ${typeof v}`;
}

export function dictKey(k: PyValue, err: (m: string) => never): DictKey {
  if (k === null || typeof k === "string" || typeof k === "number" || typeof k === "bigint" || typeof k === "boolean") return k;
  return err(`dict key of type ${pyKind(k)} is not supported`);
}

/** Little-endian two's complement, as LONG1/LONG4 store Python ints. */
export function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
