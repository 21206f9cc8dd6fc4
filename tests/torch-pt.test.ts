// The safe .pt reader against torch's own numbers (tests/fixtures/torch/expected.json, written by
// make_fixtures.py with torch 1.13), the real Safe-SAIL index files, the Safe-SAIL checkpoint layout, and
// hostile or corrupt inputs. Crafted pickles and zips are built here from bytes, independently of the reader.

import { describe, expect, it, beforeAll, afterAll } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import {
  TorchTensor,
  UnsafePickleError,
  flattenTensors,
  isTorchTensor,
  readTorchBytes,
  readTorchFile,
  readTorchTensorDict,
  toFloat32,
  type TorchValue,
} from "../src/formats/torch-pt.ts";
import { readSafeSailCheckpoint, readSafeSailIndices, safeSailSae, safeSailSaeFromTensors } from "../src/sae/safe-sail-checkpoint.ts";
import { decodeTopK, encodeTopK } from "../src/sae/sae.ts";
import { loadSae } from "../src/sae/saelens.ts";
import { ArgumentError, FormatError, UnsupportedError } from "../src/errors.ts";

const FIX = fileURLToPath(new URL("./fixtures/torch/", import.meta.url));
const INDICES = fileURLToPath(new URL("../data/safe-sail-indices/", import.meta.url));
const fx = (name: string): string => path.join(FIX, name);

interface ExpectedTensor {
  dtype: string;
  shape: number[];
  values: (number | string)[];
  bits?: number[];
}
interface ExpectedSae {
  index: number;
  d_in: number;
  d_sae: number;
  W_enc: number[];
  W_dec: number[];
  b_enc: number[];
  b_dec: number[];
  b_pre: number[];
  biases_tied: boolean;
  threshold?: number[];
}
interface ExpectedIndices {
  dtype: string;
  shape: number[];
  length: number;
  first: number[];
  last: number[];
  sum: number;
  min: number;
  max: number;
  unique: number;
  sorted: boolean;
}
const expected = JSON.parse(fs.readFileSync(fx("expected.json"), "utf8")) as {
  tensors: Record<string, unknown>;
  tensors_layout: Record<string, { stride: number[]; storage_offset: number; contiguous: boolean }>;
  small: Record<string, unknown>;
  safe_sail_ckpt: ExpectedSae;
  safe_sail_ckpt_n2: ExpectedSae;
  indices: Record<string, ExpectedIndices>;
};

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "safesail-pt-"));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// Comparison with the JSON torch wrote
// ---------------------------------------------------------------------------------------------------------

function jsonFloat(v: number | string): number {
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  if (v === "NaN") return NaN;
  return v as number;
}

function expectTensor(actual: TorchValue | undefined, exp: ExpectedTensor, name: string): void {
  expect(actual, name).toBeInstanceOf(TorchTensor);
  const t = actual as TorchTensor;
  expect(t.dtype, name).toBe(exp.dtype);
  expect(t.shape, name).toEqual(exp.shape);
  expect(t.data.length, name).toBe(exp.shape.reduce((a, b) => a * b, 1));
  switch (t.dtype) {
    case "F32":
    case "F16":
    case "BF16":
      // float32 widened to double is exact, so toEqual (which tells -0 from 0) is an exact comparison.
      expect(Array.from(toFloat32(t)), name).toEqual(exp.values.map(jsonFloat));
      break;
    case "F64":
      expect(Array.from(t.data as Float64Array), name).toEqual(exp.values.map(jsonFloat));
      break;
    case "I64":
      expect(Array.from(t.data as BigInt64Array, String), name).toEqual(exp.values);
      break;
    default:
      expect(Array.from(t.data as Uint8Array), name).toEqual(exp.values);
  }
  if (exp.bits !== undefined) expect(Array.from(t.data as Uint16Array), `${name} bits`).toEqual(exp.bits);
}

/** Compares any value torch.load returned, as encoded by make_fixtures.py ($tensor, $bigint). */
function expectValue(actual: TorchValue | undefined, exp: unknown, name: string): void {
  if (exp !== null && typeof exp === "object" && !Array.isArray(exp)) {
    const o = exp as Record<string, unknown>;
    if ("$tensor" in o) return expectTensor(actual, o.$tensor as ExpectedTensor, name);
    if ("$bigint" in o) return void expect(actual, name).toBe(BigInt(o.$bigint as string));
    expect(actual !== null && typeof actual === "object" && !Array.isArray(actual) && !isTorchTensor(actual), `${name} is a dict`).toBe(true);
    const dict = actual as Record<string, TorchValue>;
    expect(Object.keys(dict).sort(), `${name} keys`).toEqual(Object.keys(o).sort());
    for (const k of Object.keys(o)) expectValue(dict[k], o[k], `${name}.${k}`);
    return;
  }
  if (Array.isArray(exp)) {
    expect(Array.isArray(actual), `${name} is a list`).toBe(true);
    const arr = actual as TorchValue[];
    expect(arr.length, name).toBe(exp.length);
    exp.forEach((e, i) => expectValue(arr[i], e, `${name}[${i}]`));
    return;
  }
  expect(actual, name).toEqual(exp);
}

// ---------------------------------------------------------------------------------------------------------
// Crafting zips and pickles from bytes
// ---------------------------------------------------------------------------------------------------------

/** A stored (uncompressed) zip archive, written by hand from the format description. */
function makeZip(members: [string, Uint8Array][]): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of members) {
    const nameBuf = Buffer.from(name, "utf8");
    const crc = zlib.crc32(data) >>> 0;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(nameBuf.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(nameBuf.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, nameBuf, Buffer.from(data));
    centrals.push(ch, nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.length, 8);
  eocd.writeUInt16LE(members.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, cd, eocd]));
}

type Ops = (number | number[] | Uint8Array)[];
const op = {
  proto: [0x80, 2],
  stop: [0x2e],
  mark: [0x28],
  tuple: [0x74],
  tuple1: [0x85],
  emptyTuple: [0x29],
  emptyList: [0x5d],
  emptyDict: [0x7d],
  append: [0x61],
  setitem: [0x73],
  reduce: [0x52],
  build: [0x62],
  binpersid: [0x51],
  newfalse: [0x89],
  none: [0x4e],
  pop: [0x30],
  int1: (n: number) => [0x4b, n],
  binput: (i: number) => [0x71, i],
  longBinput: (i: number) => [0x72, i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24],
  binget: (i: number) => [0x68, i],
  str: (s: string) => {
    const b = Buffer.from(s, "utf8");
    return [0x58, b.length & 0xff, (b.length >>> 8) & 0xff, 0, 0, ...b];
  },
  global: (module: string, name: string) => [0x63, ...Buffer.from(`${module}\n${name}\n`, "latin1")],
};
function pickle(...parts: Ops): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else out.push(...p);
  }
  return new Uint8Array(out);
}
/** A one-storage archive around `pkl`; storage "0" holds `storage` bytes. */
function torchZip(pkl: Uint8Array, storage: Uint8Array = new Uint8Array(16)): Uint8Array {
  return makeZip([
    ["archive/data.pkl", pkl],
    ["archive/data/0", storage],
    ["archive/version", new TextEncoder().encode("3\n")],
  ]);
}
/** _rebuild_tensor_v2(storage 0 of `numel` float32, offset, size, stride, False, OrderedDict()). */
function tensorOps(numel: number, offset: number, size: number[], stride: number[]): Ops {
  return [
    op.global("torch._utils", "_rebuild_tensor_v2"),
    op.mark,
    op.mark, op.str("storage"), op.global("torch", "FloatStorage"), op.str("0"), op.str("cpu"), op.int1(numel), op.tuple, op.binpersid,
    op.int1(offset),
    op.mark, ...size.map(op.int1), op.tuple,
    op.mark, ...stride.map(op.int1), op.tuple,
    op.newfalse,
    op.global("collections", "OrderedDict"), op.emptyTuple, op.reduce,
    op.tuple,
    op.reduce,
  ];
}
function writeTmp(name: string, bytes: Uint8Array): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, bytes);
  return file;
}
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error, none was thrown");
}

// ---------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------

describe("readTorchFile against torch's numbers", () => {
  const value = () => readTorchFile(fx("tensors.pt")) as Record<string, TorchValue>;

  it("reads every value of tensors.pt as torch.load does (all dtypes, views, scalar, empty, Parameter, OrderedDict, plain values)", () => {
    expectValue(value(), expected.tensors, "tensors");
  });

  it("covers the layouts it claims to: views with offset, transposed and zero strides", () => {
    const layout = expected.tensors_layout;
    expect(layout.transposed).toEqual({ stride: [1, 5], storage_offset: 0, contiguous: false });
    expect(layout.slice).toEqual({ stride: [5, 1], storage_offset: 7, contiguous: false });
    expect(layout.column).toEqual({ stride: [5], storage_offset: 3, contiguous: false });
    expect(layout.expanded!.stride).toEqual([0, 1]);
    // And the views agree with their base, computed here.
    const v = value();
    const base = (v.base as TorchTensor).data as Float32Array;
    const tr = (v.transposed as TorchTensor).data as Float32Array;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 5; j++) expect(tr[j * 3 + i]).toBe(base[i * 5 + j]);
    expect(Array.from((v.column as TorchTensor).data as Float32Array)).toEqual([base[3], base[8], base[13]]);
  });

  it("gives every tensor its own buffer, even views of one storage", () => {
    const v = value();
    const base = v.base as TorchTensor;
    const tr = v.transposed as TorchTensor;
    expect(base.data.buffer).not.toBe(tr.data.buffer);
    expect(base.data.buffer).not.toBe((v.slice as TorchTensor).data.buffer);
  });

  it("returns dicts with a null prototype and ints beyond 2^53 as bigint", () => {
    const v = value();
    expect(Object.getPrototypeOf(v)).toBe(null);
    const meta = v.meta as Record<string, TorchValue>;
    expect(meta.big).toBe(2n ** 70n);
    expect(meta.neg_big).toBe(-(2n ** 63n));
    expect(meta.size).toEqual([2, 3]);
  });

  it("reads the same from bytes in memory", () => {
    const bytes = new Uint8Array(fs.readFileSync(fx("tensors.pt")));
    expectValue(readTorchBytes(bytes, "tensors.pt"), expected.tensors, "tensors");
  });

  it("flattens nested dicts into state_dict keys and skips non-tensor leaves", () => {
    const flat = readTorchTensorDict(fx("tensors.pt"));
    const tensorKeys = Object.keys(expected.tensors).filter((k) => k !== "linear" && k !== "meta");
    expect(Object.keys(flat).sort()).toEqual([...tensorKeys, "linear.bias", "linear.weight"].sort());
    expectValue(flat["linear.weight"], (expected.tensors.linear as Record<string, unknown>).weight, "linear.weight");
    expect(() => flattenTensors(flat["f32"]!, "x.pt")).toThrow(/x\.pt: expected a dict of tensors/);
  });

  it("converts any dtype with toFloat32", () => {
    const v = value();
    expect(Array.from(toFloat32(v.i64 as TorchTensor))).toEqual([0, -1, 2 ** 53, -(2 ** 63), 2 ** 63, 42]);
    expect(Array.from(toFloat32(v.bool as TorchTensor))).toEqual([1, 0, 1, 1]);
    expect(Array.from(toFloat32(v.i8 as TorchTensor))).toEqual([-128, 127, 0, -1]);
  });

  it.each([
    ["small_bigendian.pt", "byteorder big: storages byte-swapped on read"],
    ["small_deflated.pt", "deflate-compressed members"],
    ["small_zip64.pt", "zip64 extra fields and end record"],
    ["small.pt", "the plain torch.save original"],
  ])("reads %s (%s)", (name) => {
    expectValue(readTorchFile(fx(name)), expected.small, name);
  });
});

describe("the real Safe-SAIL index files", () => {
  const files = Object.keys(expected.indices);

  it("are both present", () => {
    expect(files.sort()).toEqual(["indices_layer0.pt", "indices_layer8.pt"]);
  });

  it.each(files)("%s reads as torch reports it", (name) => {
    const exp = expected.indices[name]!;
    const t = readTorchFile(path.join(INDICES, name)) as TorchTensor;
    expect(t).toBeInstanceOf(TorchTensor);
    expect(t.dtype).toBe("I64");
    expect(exp.dtype).toBe("I64");
    expect(t.shape).toEqual([exp.length]);

    const idx = readSafeSailIndices(path.join(INDICES, name), { dSae: 20480 });
    expect(idx.length).toBe(exp.length);
    expect(idx.slice(0, 10)).toEqual(exp.first);
    expect(idx.slice(-5)).toEqual(exp.last);
    expect(idx.reduce((a, b) => a + b, 0)).toBe(exp.sum);
    expect(Math.min(...idx)).toBe(exp.min);
    expect(Math.max(...idx)).toBe(exp.max);
    expect(new Set(idx).size).toBe(exp.unique);
    // As released: not sorted, with repeats (each position pairs with one activation quantile).
    expect(exp.sorted).toBe(false);
    expect(exp.unique).toBeLessThan(exp.length);
  });

  it("refuses indices outside d_sae, naming the file", () => {
    const err = thrown(() => readSafeSailIndices(path.join(INDICES, "indices_layer0.pt"), { dSae: 100 }));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toMatch(/indices_layer0\.pt: index \d+ is \d+, not below d_sae = 100/);
  });

  it("refuses a file that is not a 1-D integer tensor", () => {
    expect(() => readSafeSailIndices(fx("tensors.pt"))).toThrow(/tensors\.pt: expected a 1-D integer tensor/);
  });
});

describe("the Safe-SAIL SAE checkpoint layout", () => {
  const f32 = (xs: number[]) => xs.map((x) => Math.fround(x));

  it("converts the release layout (n = 1, tied biases, decoder [n, d_in, d_sae]) exactly", () => {
    const exp = expected.safe_sail_ckpt;
    const sae = readSafeSailCheckpoint(fx("safe_sail_ckpt.pt"));
    expect([sae.d_in, sae.d_sae, sae.n, sae.index]).toEqual([exp.d_in, exp.d_sae, 1, 0]);
    expect(sae.decoderLayout).toBe("d_in,d_sae");
    expect(sae.biasesTied).toBe(true);
    expect(exp.biases_tied).toBe(true);
    expect(sae.dtype).toBe("F32");
    expect(Array.from(sae.W_enc)).toEqual(exp.W_enc);
    expect(Array.from(sae.W_dec)).toEqual(exp.W_dec);
    expect(Array.from(sae.b_enc)).toEqual(exp.b_enc);
    expect(Array.from(sae.b_dec)).toEqual(exp.b_dec);
    expect(Array.from(sae.b_pre)).toEqual(exp.b_pre);
    expect(sae.threshold).toBeUndefined();
  });

  it("picks one of n stacked SAEs, reads bf16, the [n, d_sae, d_in] decoder, untied biases and JumpReLU thresholds", () => {
    const exp = expected.safe_sail_ckpt_n2;
    const sae = readSafeSailCheckpoint(fx("safe_sail_ckpt_n2.pt"), { index: 1 });
    expect([sae.d_in, sae.d_sae, sae.n, sae.index]).toEqual([8, 16, 2, 1]);
    expect(sae.dtype).toBe("BF16");
    expect(sae.decoderLayout).toBe("d_sae,d_in");
    expect(sae.biasesTied).toBe(false);
    expect(Array.from(sae.W_enc)).toEqual(exp.W_enc);
    expect(Array.from(sae.W_dec)).toEqual(exp.W_dec);
    expect(Array.from(sae.b_dec)).toEqual(exp.b_dec);
    expect(Array.from(sae.b_pre)).toEqual(exp.b_pre);
    expect(Array.from(sae.threshold!)).toEqual(f32(exp.threshold!));
    // Folded bias: float64 sums in a different order, rounded to float32: equal to within an ulp.
    sae.b_enc.forEach((v, i) => expect(Math.abs(v - exp.b_enc[i]!)).toBeLessThanOrEqual(Math.abs(exp.b_enc[i]!) * 2 ** -22 + 1e-30));
  });

  it("gives the same pre-activations as Safe-SAIL's encoder for untied biases", () => {
    const sae = readSafeSailCheckpoint(fx("safe_sail_ckpt_n2.pt"), { index: 1 });
    const t = readTorchTensorDict(fx("safe_sail_ckpt_n2.pt"));
    const enc = toFloat32(t["encoder.weight"]!).subarray(16 * 8, 2 * 16 * 8); // [d_sae, d_in]
    const bias = toFloat32(t["encoder.bias"]!).subarray(16, 32);
    const x = Array.from({ length: 8 }, (_, i) => Math.sin(i + 1));
    for (let o = 0; o < 16; o++) {
      let safeSail = bias[o]!;
      let saeLens = sae.b_enc[o]!;
      for (let f = 0; f < 8; f++) {
        safeSail += (x[f]! - sae.b_pre[f]!) * enc[o * 8 + f]!;
        saeLens += (x[f]! - sae.b_dec[f]!) * sae.W_enc[f * 16 + o]!;
      }
      expect(saeLens).toBeCloseTo(safeSail, 5);
    }
  });

  it("reads as a Sae (TopK-ReLU) that encodes and decodes as Safe-SAIL's own formula does", async () => {
    const sae = safeSailSae(fx("safe_sail_ckpt.pt"), { k: 3, layer: 5 });
    expect(sae.config).toEqual({ dIn: 8, dSae: 16, k: 3, hookName: "blocks.5.hook_mlp_out", modelName: null });
    expect((await loadSae(fx("safe_sail_ckpt.pt"), { k: 3, layer: 5 })).params).toEqual(sae.params);
    // Independent: the raw torch tensors, Safe-SAIL's formula: (x - b_pre) . enc^T + bias, keep the top 3, ReLU,
    // then decoder [d_in, d_sae] times the code plus the post-decoder bias.
    const t = readTorchTensorDict(fx("safe_sail_ckpt.pt"));
    const enc = toFloat32(t["encoder.weight"]!); // [1, 16, 8]
    const bias = toFloat32(t["encoder.bias"]!);
    const pre = toFloat32(t["pre_encoder_bias._bias_reference"]!);
    const dec = toFloat32(t["decoder.weight"]!); // [1, 8, 16]
    const post = toFloat32(t["post_decoder_bias._bias_reference"]!);
    const x = Float32Array.from({ length: 8 }, (_, i) => Math.cos(3 * i + 1));
    const acts = Array.from({ length: 16 }, (_, o) => bias[o]! + x.reduce((a, xf, f) => a + (xf - pre[f]!) * enc[o * 8 + f]!, 0));
    const top = [...acts.keys()].sort((a, b) => acts[b]! - acts[a]!).slice(0, 3);
    const code = acts.map((v, o) => (top.includes(o) ? Math.max(0, v) : 0));
    const recon = Array.from({ length: 8 }, (_, f) => post[f]! + code.reduce((a, c, o) => a + c * dec[f * 16 + o]!, 0));
    const got = encodeTopK(sae, x, 1);
    const want = top.filter((o) => code[o]! > 0);
    expect([...got.indices].slice(0, want.length).sort()).toEqual(want.sort());
    for (let j = 0; j < 3; j++) if (got.values[j]! > 0) expect(got.values[j]!).toBeCloseTo(code[got.indices[j]!]!, 5);
    Array.from(decodeTopK(sae, got, 1)).forEach((v, f) => expect(v).toBeCloseTo(recon[f]!, 5));
    // The paper's k = 200 is the default, capped at d_sae; a JumpReLU checkpoint is refused by name.
    expect(safeSailSae(fx("safe_sail_ckpt.pt")).config.k).toBe(16);
    expect(() => safeSailSae(fx("safe_sail_ckpt.pt"), { k: 17 })).toThrow(/^k: must be an integer in \[1, 16\]/);
    expect(() => safeSailSae(fx("safe_sail_ckpt_n2.pt"), { index: 1, k: 4 })).toThrow(/a JumpReLU checkpoint \(it has "encoder\.theta"\)/);
  });

  it("refuses an index beyond n", () => {
    const err = thrown(() => readSafeSailCheckpoint(fx("safe_sail_ckpt_n2.pt"), { index: 2 }));
    expect(err).toBeInstanceOf(ArgumentError);
    expect(err.message).toMatch(/index 2 out of range: the checkpoint stacks 2/);
  });

  it("finds the keys under a prefix", () => {
    const t = readTorchTensorDict(fx("safe_sail_ckpt.pt"));
    const nested: Record<string, TorchTensor> = {};
    for (const [k, v] of Object.entries(t)) nested[`state_dict.${k}`] = v;
    const sae = safeSailSaeFromTensors(nested, "nested.pt");
    expect(Array.from(sae.W_enc)).toEqual(expected.safe_sail_ckpt.W_enc);
  });

  it("names a missing key", () => {
    const t = readTorchTensorDict(fx("safe_sail_ckpt.pt"));
    delete t["encoder.bias"];
    const err = thrown(() => safeSailSaeFromTensors(t, "ckpt.pt"));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toMatch(/^ckpt\.pt: missing tensor "encoder\.bias"/);
    expect(() => safeSailSaeFromTensors({}, "empty.pt")).toThrow(/empty\.pt: no "encoder\.weight" tensor/);
  });

  it("names a wrongly shaped tensor", () => {
    const t = readTorchTensorDict(fx("safe_sail_ckpt.pt"));
    const w = t["encoder.weight"]!;
    t["encoder.weight"] = new TorchTensor(w.dtype, [1, 8, 16], w.data);
    expect(() => safeSailSaeFromTensors(t, "ckpt.pt")).toThrow(/ckpt\.pt: "encoder\.weight": shape \[1, 8, 16\]: last dimension should be d_in = 8.*looks transposed/);
    const t2 = readTorchTensorDict(fx("safe_sail_ckpt.pt"));
    const d = t2["decoder.weight"]!;
    t2["decoder.weight"] = new TorchTensor(d.dtype, [1, 4, 32], d.data);
    expect(() => safeSailSaeFromTensors(t2, "ckpt.pt")).toThrow(/"decoder\.weight": shape \[1, 4, 32\]: expected \[1, 8, 16\] or \[1, 16, 8\]/);
    const t3 = readTorchTensorDict(fx("safe_sail_ckpt.pt"));
    t3["encoder.bias"] = new TorchTensor("F32", [2, 16], new Float32Array(32));
    expect(() => safeSailSaeFromTensors(t3, "ckpt.pt")).toThrow(/"encoder\.bias": shape \[2, 16\]: expected \[1, 16\] or \[16\]/);
  });

  it("lets decoderLayout decide when d_in == d_sae", () => {
    // d_in = d_sae = 2; decoder.weight [[1, 2], [3, 4]].
    const mk = (shape: number[], xs: number[]) => new TorchTensor("F32", shape, new Float32Array(xs));
    const t = {
      "pre_encoder_bias._bias_reference": mk([1, 2], [0, 0]),
      "encoder.weight": mk([1, 2, 2], [1, 0, 0, 1]),
      "encoder.bias": mk([1, 2], [0, 0]),
      "decoder.weight": mk([1, 2, 2], [1, 2, 3, 4]),
      "post_decoder_bias._bias_reference": mk([1, 2], [0, 0]),
    };
    expect(Array.from(safeSailSaeFromTensors(t, "sq.pt").W_dec)).toEqual([1, 3, 2, 4]);
    expect(Array.from(safeSailSaeFromTensors(t, "sq.pt", { decoderLayout: "d_sae,d_in" }).W_dec)).toEqual([1, 2, 3, 4]);
    expect(() => readSafeSailCheckpoint(fx("safe_sail_ckpt.pt"), { decoderLayout: "d_sae,d_in" })).toThrow(/contradicts the shape/);
  });
});

describe("hostile pickles", () => {
  it("refuses GLOBAL os.system, naming the global and the file", () => {
    const err = thrown(() => readTorchFile(fx("hostile_os_system.pt")));
    expect(err).toBeInstanceOf(UnsafePickleError);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toContain("hostile_os_system.pt: archive/data.pkl: refuses global os.system");
  });

  it("refuses STACK_GLOBAL builtins.eval", () => {
    const err = thrown(() => readTorchFile(fx("hostile_eval.pt")));
    expect(err).toBeInstanceOf(UnsafePickleError);
    expect(err.message).toContain("hostile_eval.pt: archive/data.pkl: refuses global builtins.eval");
  });

  it.each([
    ["torch", "load"],
    ["torch.serialization", "load"],
    ["__builtin__", "getattr"],
    ["torch._utils", "_rebuild_tensor_v2x"],
    ["builtins", "__import__"],
  ])("refuses %s.%s", (module, name) => {
    const pkl = pickle(op.proto, op.global(module, name), op.emptyTuple, op.reduce, op.stop);
    const err = thrown(() => readTorchBytes(torchZip(pkl), "crafted.pt"));
    expect(err).toBeInstanceOf(UnsafePickleError);
    expect(err.message).toContain(`crafted.pt: archive/data.pkl: refuses global ${module}.${name} at byte 2`);
  });

  it("does not let an allowed type be called", () => {
    const pkl = pickle(op.proto, op.global("torch", "FloatStorage"), op.emptyTuple, op.reduce, op.stop);
    expect(() => readTorchBytes(torchZip(pkl), "crafted.pt")).toThrow(/crafted\.pt: archive\/data\.pkl: byte \d+ \(REDUCE\): torch\.FloatStorage cannot be called/);
  });

  it("refuses opcodes torch.save never writes", () => {
    const inst = pickle(op.proto, op.mark, [0x69, ...Buffer.from("os\nsystem\n")], op.stop); // INST
    const err = thrown(() => readTorchBytes(torchZip(inst), "inst.pt"));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/inst\.pt: archive\/data\.pkl: byte 3 \(INST\): opcode not supported/);
  });

  it("refuses BUILD on anything but a dict or tensor", () => {
    const pkl = pickle(op.proto, op.emptyList, op.emptyDict, op.build, op.stop);
    expect(() => readTorchBytes(torchZip(pkl), "b.pt")).toThrow(/\(BUILD\): state for a list is not supported/);
  });

  it("keeps a \"__proto__\" key an ordinary key", () => {
    const pkl = pickle(op.proto, op.emptyDict, op.str("__proto__"), op.emptyDict, op.setitem, op.stop);
    const v = readTorchBytes(torchZip(pkl), "p.pt") as Record<string, TorchValue>;
    expect(Object.getPrototypeOf(v)).toBe(null);
    expect(Object.keys(v)).toEqual(["__proto__"]);
  });

  it("refuses a tensor reaching past its storage", () => {
    // Storage of 4 floats, tensor of 10.
    const pkl = pickle(op.proto, ...tensorOps(4, 0, [10], [1]), op.stop);
    const err = thrown(() => readTorchBytes(torchZip(pkl), "oob.pt"));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toMatch(/oob\.pt: archive\/data\.pkl: byte \d+ \(REDUCE\): tensor on storage "0" \(4 F32 elements\): offset 0, shape \[10\], stride \[1\] reach element 9, beyond the storage/);
    // Offset past the end, and strides reaching past it.
    expect(() => readTorchBytes(torchZip(pickle(op.proto, ...tensorOps(4, 4, [1], [1]), op.stop)), "oob.pt")).toThrow(/reach element 4/);
    expect(() => readTorchBytes(torchZip(pickle(op.proto, ...tensorOps(4, 0, [2, 2], [3, 1]), op.stop)), "oob.pt")).toThrow(/reach element 4/);
    // In bounds it reads.
    const ok = readTorchBytes(torchZip(pickle(op.proto, ...tensorOps(4, 1, [3], [1]), op.stop), new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer)), "ok.pt");
    expect(Array.from((ok as TorchTensor).data as Float32Array)).toEqual([2, 3, 4]);
  });

  it("refuses a storage member shorter than its declared size", () => {
    const pkl = pickle(op.proto, ...tensorOps(8, 0, [8], [1]), op.stop);
    expect(() => readTorchBytes(torchZip(pkl, new Uint8Array(16)), "short.pt")).toThrow(/short\.pt: storage member "archive\/data\/0" holds 16 bytes but the pickle declares 8 F32 elements \(32 bytes\)/);
    const err = thrown(() => readTorchFile(fx("small_short_storage.pt")));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toContain("small_short_storage.pt: storage member \"small/data/0\" holds 12 bytes");
  });

  it("refuses a persistent id naming a missing storage", () => {
    const pkl = pickle(op.proto, ...tensorOps(4, 0, [4], [1]), op.stop);
    const zip = makeZip([["archive/data.pkl", pkl]]);
    expect(() => readTorchBytes(zip, "nostore.pt")).toThrow(/nostore\.pt: archive\/data\.pkl: byte \d+ \(BINPERSID\): storage "0" has no member archive\/data\/0/);
  });

  it("limits memo entries, MARK nesting and container nesting", () => {
    const puts: number[][] = [];
    for (let i = 0; i < 20; i++) puts.push(op.longBinput(i));
    const memo = pickle(op.proto, op.none, ...puts, op.stop);
    expect(() => readTorchBytes(torchZip(memo), "memo.pt", { maxMemoEntries: 10 })).toThrow(/memo\.pt: .*more than 10 memo entries/);
    expect(readTorchBytes(torchZip(memo), "memo.pt")).toBe(null);

    const marks = pickle(op.proto, ...Array.from({ length: 300 }, () => op.mark), op.stop);
    expect(() => readTorchBytes(torchZip(marks), "marks.pt")).toThrow(/marks\.pt: .*MARKs nested deeper than 256/);

    // [[[[...]]]] 20 deep via EMPTY_LIST ... APPEND.
    const lists = pickle(op.proto, ...Array.from({ length: 20 }, () => op.emptyList), ...Array.from({ length: 19 }, () => op.append), op.stop);
    expect(() => readTorchBytes(torchZip(lists), "deep.pt", { maxDepth: 10 })).toThrow(/deep\.pt: .*containers nested deeper than 10/);
    expect(Array.isArray(readTorchBytes(torchZip(lists), "deep.pt"))).toBe(true);
  });

  it("refuses cycles and keeps shared sub-objects shared (no exponential blow-up)", () => {
    const cycle = pickle(op.proto, op.emptyList, op.binput(0), op.binget(0), op.append, op.stop);
    expect(() => readTorchBytes(torchZip(cycle), "cycle.pt")).toThrow(/cycle\.pt: .*cycle/);

    // L0 = []; L(i+1) = [L(i), L(i)], 60 levels: 2^60 leaves if copied.
    const parts: Ops = [op.proto, op.emptyList, op.binput(0), op.pop];
    for (let i = 1; i <= 60; i++) parts.push(op.emptyList, op.binget(i - 1), op.append, op.binget(i - 1), op.append, op.binput(i), op.pop);
    parts.push(op.binget(60), op.stop);
    const v = readTorchBytes(torchZip(pickle(...parts)), "laughs.pt") as TorchValue[];
    expect(v.length).toBe(2);
    expect(v[0]).toBe(v[1]);
  });

  it("limits pickle size and materialised tensor bytes", () => {
    expect(() => readTorchFile(fx("tensors.pt"), { maxPickleBytes: 100 })).toThrow(/tensors\.pt: tensors\/data\.pkl is \d+ bytes, over the limit of 100 \(maxPickleBytes\)/);
    expect(() => readTorchFile(fx("tensors.pt"), { maxTensorBytes: 64 })).toThrow(/tensors\.pt: tensors\/data\.pkl: .*exceed the limit of 64 tensor bytes \(maxTensorBytes\)/);
    expect(() => readTorchFile(fx("tensors.pt"), { maxDepth: 0 })).toThrow(ArgumentError);
  });

  it("refuses a truncated pickle", () => {
    const pkl = pickle(op.proto, op.emptyDict, op.str("a"));
    expect(() => readTorchBytes(torchZip(pkl), "t.pt")).toThrow(/t\.pt: archive\/data\.pkl: .*pickle ends without STOP/);
    const cut = pickle(op.proto, [0x58, 100, 0, 0, 0, 0x61]);
    expect(() => readTorchBytes(torchZip(cut), "t.pt")).toThrow(/\(BINUNICODE\): pickle ends after \d+ bytes, 100 more needed/);
  });
});

describe("corrupt archives", () => {
  const small = () => new Uint8Array(fs.readFileSync(fx("small.pt")));

  it("names the file when the zip is truncated", () => {
    const bytes = small();
    for (const keep of [bytes.length - 10, Math.floor(bytes.length / 2), 100]) {
      const file = writeTmp(`cut-${keep}.pt`, bytes.subarray(0, keep));
      const err = thrown(() => readTorchFile(file));
      expect(err).toBeInstanceOf(FormatError);
      expect(err.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: .*truncated`));
      expect((err as FormatError).file).toBe(file);
    }
  });

  it("detects corrupt member data by CRC, naming the member", () => {
    const bytes = small();
    const buf = Buffer.from(bytes);
    // Flip the first byte of storage small/data/0 (found through its local header).
    const name = Buffer.from("small/data/0");
    let lh = -1;
    for (let p = buf.indexOf("PK\x03\x04"); p >= 0; p = buf.indexOf("PK\x03\x04", p + 1)) {
      if (buf.subarray(p + 30, p + 30 + name.length).equals(name)) lh = p;
    }
    expect(lh).toBeGreaterThan(0);
    const dataAt = lh + 30 + buf.readUInt16LE(lh + 26) + buf.readUInt16LE(lh + 28);
    buf[dataAt] = buf[dataAt]! ^ 0xff;
    const file = writeTmp("crc.pt", buf);
    const err = thrown(() => readTorchFile(file));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toMatch(/crc\.pt: member "small\/data\/0": CRC-32 mismatch/);
    expect(readTorchFile(file, { verifyCrc: false })).toBeTruthy();
  });

  it("detects a bad local header, naming the member", () => {
    const buf = Buffer.from(small());
    buf.writeUInt32LE(0xdeadbeef, 0); // the first member is data.pkl
    const err = thrown(() => readTorchBytes(buf, "lh.pt"));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toMatch(/lh\.pt: member "small\/data\.pkl": local header at 0 has a bad signature/);
  });

  it("refuses what is not a zip archive", () => {
    expect(() => readTorchBytes(new Uint8Array(100).fill(7), "junk.pt")).toThrow(/junk\.pt: not a zip archive/);
    expect(() => readTorchBytes(new Uint8Array(3), "tiny.pt")).toThrow(/tiny\.pt: 3 bytes is too short/);
    const noPkl = makeZip([["archive/weights.bin", new Uint8Array(4)]]);
    expect(() => readTorchBytes(noPkl, "nopkl.pt")).toThrow(/nopkl\.pt: no <archive>\/data\.pkl member: not a torch\.save file \(members: archive\/weights\.bin\)/);
    expect(() => readTorchFile(path.join(tmp, "absent.pt"))).toThrow(/absent\.pt: file not found/);
  });

  it("explains the legacy (pre-1.6) format", () => {
    const legacy = new Uint8Array(64);
    legacy.set([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
    const err = thrown(() => readTorchBytes(legacy, "old.pt"));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/old\.pt: this is the legacy \(pre-1\.6\) torch\.save format/);
  });

  it("refuses a bad byteorder", () => {
    const pkl = pickle(op.proto, op.none, op.stop);
    const zip = makeZip([["a/data.pkl", pkl], ["a/byteorder", new TextEncoder().encode("middle")]]);
    expect(() => readTorchBytes(zip, "bo.pt")).toThrow(/bo\.pt: a\/byteorder says "middle"/);
  });
});
