import { describe, expect, it, beforeAll, afterAll } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  bf16BitsToF32,
  f16BitsToF32,
  f16ToF32,
  bf16ToF32,
  f32ToBf16,
  f32ToBf16Bits,
  f32ToF16,
  f32ToF16Bits,
  openSafetensors,
  readTensorBytes,
  readTensorF32,
  writeSafetensors,
} from "../src/formats/safetensors.ts";
import { FormatError, UnsupportedError } from "../src/errors.ts";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "safesail-st-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** float32 bit pattern of x, via DataView (independent of the module under test). */
function f32Bits(x: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, x, true);
  return dv.getUint32(0, true);
}
function fromF32Bits(b: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, b >>> 0, true);
  return dv.getFloat32(0, true);
}
/** Reference bf16 rounding: pick the nearer of the two bf16 neighbours, ties to even mantissa. */
function refBf16(x: number): number {
  const bits = f32Bits(x);
  if (Number.isNaN(x)) return -1;
  const lo = bits >>> 16;
  if ((bits & 0xffff) === 0) return lo;
  const hi = (lo + 1) & 0xffff;
  const vx = Math.fround(x);
  const vlo = fromF32Bits(lo << 16);
  // the step past the largest finite bf16 is 2^128 in magnitude (rounds to Infinity)
  const vhi = (hi & 0x7fff) === 0x7f80 ? Math.sign(vx) * 2 ** 128 : fromF32Bits(hi << 16);
  const dlo = Math.abs(vx - vlo);
  const dhi = Math.abs(vx - vhi);
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return lo % 2 === 0 ? lo : hi;
}

function edgeValues(): number[] {
  return [
    0, -0, 1, -1, 0.5, -2, 3.140625, 65504, -65504, 65520, 1e-8, 5.960464477539063e-8, 6.103515625e-5, 1e-3, 1e5, 3.4e38, -3.4e38,
    1.401298464324817e-45, Infinity, -Infinity, NaN, 0.1, 1 / 3, 1.00390625, 1.005859375, 2.9802322387695312e-8,
  ];
}

describe("half precision conversions", () => {
  it("decodes known f16 bit patterns", () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0001)).toBe(5.960464477539063e-8);
    expect(f16BitsToF32(0x03ff)).toBe(6.097555160522461e-5);
    expect(f16BitsToF32(0x0400)).toBe(6.103515625e-5);
    expect(f16BitsToF32(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(f16BitsToF32(0x7e00))).toBe(true);
    expect(Number.isNaN(f16BitsToF32(0x7c01))).toBe(true);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
  });

  it("encodes known f16 bit patterns", () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519)).toBe(0x7bff); // rounds down below the halfway point
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // halfway to 2^16 rounds to even = Infinity
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e6)).toBe(0xfc00);
    expect(f32ToF16Bits(5.960464477539063e-8)).toBe(0x0001);
    expect(f32ToF16Bits(2.9802322387695312e-8)).toBe(0x0000); // exactly half the smallest subnormal: ties to even (0)
    expect(f32ToF16Bits(3.0e-8)).toBe(0x0001);
    expect(f32ToF16Bits(1e-9)).toBe(0x0000);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    const nan = f32ToF16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
  });

  it("round-trips every finite f16 bit pattern", () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) continue;
      expect(f32ToF16Bits(v)).toBe(h);
    }
  });

  it("rounds float32 to the nearest f16 (ties to even)", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rand() - 0.5) * 2 ** Math.floor(rand() * 40 - 26));
      const h = f32ToF16Bits(x);
      const v = f16BitsToF32(h);
      if (!Number.isFinite(v)) continue;
      // neighbours in f16 (same sign, magnitude bits +-1)
      const mag = h & 0x7fff;
      const sign = h & 0x8000;
      const err = Math.abs(x - v);
      for (const n of [mag - 1, mag + 1]) {
        if (n < 0 || n >= 0x7c00) continue;
        const vn = f16BitsToF32(sign | n);
        const en = Math.abs(x - vn);
        expect(err).toBeLessThanOrEqual(en);
        if (err === en) expect(mag % 2).toBe(0);
      }
    }
  });

  it("bf16 matches an independent DataView rounding", () => {
    let seed = 99;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const xs = [...edgeValues()];
    for (let i = 0; i < 20000; i++) xs.push((rand() - 0.5) * 2 ** Math.floor(rand() * 60 - 30));
    // exact ties
    xs.push(fromF32Bits(0x3f808000), fromF32Bits(0x3f818000), fromF32Bits(0xbf808000));
    const packed = f32ToBf16(xs);
    xs.forEach((x, i) => {
      const got = f32ToBf16Bits(x);
      expect(packed[i]).toBe(got);
      if (Number.isNaN(x)) {
        expect(Number.isNaN(bf16BitsToF32(got))).toBe(true);
      } else {
        expect(got, `x=${x}`).toBe(refBf16(x));
      }
    });
    expect(f32ToBf16Bits(fromF32Bits(0x3f808000))).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16Bits(fromF32Bits(0x3f818000))).toBe(0x3f82); // tie, odd rounds up
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0xc000)).toBe(-2);
    expect(bf16BitsToF32(0x7f80)).toBe(Infinity);
  });

  it("array forms agree with the scalar forms", () => {
    const bits = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00]);
    expect(Array.from(f16ToF32(bits))).toEqual([1, -2, 65504, 5.960464477539063e-8, Infinity]);
    expect(Array.from(bf16ToF32(new Uint16Array([0x3f80, 0xc000])))).toEqual([1, -2]);
    expect(Array.from(f32ToF16([1, -2, 65504]))).toEqual([0x3c00, 0xc000, 0x7bff]);
  });
});

describe("safetensors round trip", () => {
  it("writes and reads F32, F16, BF16 and raw tensors", async () => {
    const vals = new Float32Array(edgeValues());
    const file = path.join(dir, "rt.safetensors");
    const i64 = new BigInt64Array([1n, -2n, 3n]);
    await writeSafetensors(
      file,
      {
        a32: { dtype: "F32", shape: [vals.length], data: vals },
        a16: { dtype: "F16", shape: [vals.length], data: vals },
        abf: { dtype: "BF16", shape: [2, vals.length / 2], data: vals },
        ids: { dtype: "I64", shape: [3], data: i64 },
        raw: { dtype: "U8", shape: [2, 2], data: new Uint8Array([1, 2, 3, 4]) },
        empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
      },
      { format: "pt", note: "hello" },
    );
    const bytes = fs.readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const st = openSafetensors(file);
    expect(st.metadata).toEqual({ format: "pt", note: "hello" });
    expect([...st.tensors.keys()]).toEqual(["a32", "a16", "abf", "ids", "raw", "empty"]);
    const a32 = readTensorF32(st.tensors.get("a32")!);
    expect(a32.shape).toEqual([vals.length]);
    vals.forEach((v, i) => expect(Object.is(a32.data[i], v) || (Number.isNaN(v) && Number.isNaN(a32.data[i]!))).toBe(true));
    const a16 = readTensorF32(st.tensors.get("a16")!);
    vals.forEach((v, i) => {
      const want = f16BitsToF32(f32ToF16Bits(v));
      if (Number.isNaN(want)) expect(Number.isNaN(a16.data[i]!)).toBe(true);
      else expect(a16.data[i]).toBe(want);
    });
    const abf = readTensorF32(st.tensors.get("abf")!);
    expect(abf.shape).toEqual([2, vals.length / 2]);
    vals.forEach((v, i) => {
      if (Number.isNaN(v)) return expect(Number.isNaN(abf.data[i]!)).toBe(true);
      const want = refBf16(v);
      expect(f32Bits(abf.data[i]!) >>> 16).toBe(want);
      expect(f32Bits(abf.data[i]!) & 0xffff).toBe(0);
    });
    const ids = readTensorBytes(st.tensors.get("ids")!);
    expect(Array.from(new BigInt64Array(ids.buffer))).toEqual([1n, -2n, 3n]);
    expect(Array.from(readTensorBytes(st.tensors.get("raw")!))).toEqual([1, 2, 3, 4]);
    expect(readTensorF32(st.tensors.get("empty")!).data.length).toBe(0);
    const ref = st.tensors.get("a16")!;
    expect(path.isAbsolute(ref.file)).toBe(true);
    expect(ref.offset).toBe(8 + n + vals.length * 4);
    expect(ref.byteLength).toBe(vals.length * 2);
    expect(() => readTensorF32(st.tensors.get("ids")!)).toThrow(UnsupportedError);
    expect(() => readTensorF32(st.tensors.get("ids")!)).toThrow(/tensor "ids": dtype I64/);
  });
});

function writeRaw(name: string, header: string | Buffer, data: Buffer = Buffer.alloc(0), declaredLen?: bigint): string {
  const h = typeof header === "string" ? Buffer.from(header) : header;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declaredLen ?? BigInt(h.length));
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([len, h, data]));
  return file;
}

function expectFormatError(file: string, pattern: RegExp): void {
  let caught: unknown;
  try {
    openSafetensors(file);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FormatError);
  const err = caught as FormatError;
  expect(err.message).toContain(path.basename(file));
  expect(err.message).toMatch(pattern);
  expect(err.file).toBe(path.resolve(file));
}

describe("corrupt safetensors", () => {
  it("rejects a file shorter than the length prefix", () => {
    const file = path.join(dir, "short.safetensors");
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    expectFormatError(file, /too short/);
  });

  it("rejects a header length beyond the file", () => {
    expectFormatError(writeRaw("long.safetensors", "{}", Buffer.alloc(0), 1000n), /header length 1000 beyond file end/);
    expectFormatError(writeRaw("huge.safetensors", "{}", Buffer.alloc(0), 2n ** 63n), /header length \d+ beyond file end/);
  });

  it("rejects invalid JSON", () => {
    expectFormatError(writeRaw("badjson.safetensors", '{"a": {"dtype": "F32",'), /not valid JSON/);
    expectFormatError(writeRaw("array.safetensors", "[1,2]"), /must be a JSON object/);
  });

  it("rejects a truncated data section", async () => {
    const file = path.join(dir, "trunc.safetensors");
    await writeSafetensors(file, { "model.norm.weight": { dtype: "F32", shape: [16], data: new Float32Array(16) } });
    const full = fs.readFileSync(file);
    fs.writeFileSync(file, full.subarray(0, full.length - 10));
    expectFormatError(file, /tensor "model\.norm\.weight": data range \d+\.\.\d+ beyond file end \d+/);
  });

  it("rejects overlapping offsets", () => {
    const header = JSON.stringify({
      a: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
      b: { dtype: "F32", shape: [4], data_offsets: [8, 24] },
    });
    expectFormatError(writeRaw("overlap.safetensors", header, Buffer.alloc(24)), /"a".*"b".*overlap/);
  });

  it("rejects a size that does not match dtype and shape", () => {
    const header = JSON.stringify({ w: { dtype: "F16", shape: [3], data_offsets: [0, 8] } });
    expectFormatError(writeRaw("size.safetensors", header, Buffer.alloc(8)), /tensor "w": .*8 bytes .*F16.*needs 6/);
  });

  it("rejects an unknown dtype and malformed entries", () => {
    expectFormatError(
      writeRaw("dtype.safetensors", JSON.stringify({ w: { dtype: "Q4_K", shape: [2], data_offsets: [0, 2] } }), Buffer.alloc(2)),
      /tensor "w": unknown dtype "Q4_K"/,
    );
    expectFormatError(
      writeRaw("shape.safetensors", JSON.stringify({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }), Buffer.alloc(4)),
      /tensor "w": "shape"/,
    );
    expectFormatError(
      writeRaw("offs.safetensors", JSON.stringify({ w: { dtype: "F32", shape: [1], data_offsets: [4] } }), Buffer.alloc(4)),
      /tensor "w": "data_offsets"/,
    );
    expectFormatError(
      writeRaw("meta.safetensors", JSON.stringify({ __metadata__: { a: 1 } })),
      /__metadata__\.a/,
    );
  });

  it("reports a missing file", () => {
    expectFormatError(path.join(dir, "nope.safetensors"), /not found/);
  });
});
