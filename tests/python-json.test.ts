// Python-compatible JSON (src/formats/python-json.ts) checked against Debian's /usr/bin/python3 itself (repr and
// json.dumps are the reference), and the byte-exact round trip of the Safe-SAIL release's database file.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parsePythonJson, pythonFloatRepr, pythonJsonDumps, type PyJson } from "../src/formats/python-json.ts";
import { mulberry32 } from "../src/util/prng.ts";

const PY = "/usr/bin/python3";
const RELEASE = join(import.meta.dirname, "..", "data", "safe-sail", "safe-sail-en_db.json");

describe("pythonFloatRepr", () => {
  it("equals Python's repr(float) on edge cases and 3000 random floats of every magnitude", () => {
    const rand = mulberry32(7);
    const xs: number[] = [0.1, 0.3176083388420132, 1, 10, 1e15, 1e16, 1.5e16, 123456789012345680, 1e-4, 1e-5, 0.00012, 1.2e-5, 5e-324,
      1.7976931348623157e308, 2 ** 53, 2 ** 53 + 2, -2.5, 1 / 3, 2 / 3, 100, 1e21, 1e22, 9.999999999999999e15, 0.5, 1e-7, 123.456];
    for (let i = 0; i < 3000; i++) {
      const mag = Math.floor(rand() * 80) - 40;
      xs.push((rand() < 0.5 ? -1 : 1) * rand() * 10 ** mag);
    }
    const python = execFileSync(PY, ["-c", "import json,sys; print(json.dumps([repr(float(x)) for x in json.load(sys.stdin)]))"], { input: JSON.stringify(xs), encoding: "utf8" });
    expect(xs.map(pythonFloatRepr)).toEqual(JSON.parse(python));
    expect([NaN, Infinity, -Infinity, -0].map(pythonFloatRepr)).toEqual(["NaN", "Infinity", "-Infinity", "-0.0"]);
  });
});

describe("pythonJsonDumps / parsePythonJson", () => {
  it("writes what Python's json.dumps writes: ensure_ascii escapes, separators, ints vs floats, NaN", () => {
    const text = '{"a": [1, 2.0, -0.0, 12345678901234567890, NaN, Infinity, -Infinity, true, false, null], "中文 \\u0001": "tab\\t nl\\n del\\u007f quote\\" back\\\\ slash/ 😀 \\ud800 ***", "": {}, "e": []}';
    const value = parsePythonJson(text, "t");
    const ours = pythonJsonDumps(value);
    const python = execFileSync(PY, ["-c", "import json,sys; sys.stdout.write(json.dumps(json.loads(sys.stdin.read())))"], { input: text, encoding: "utf8" });
    expect(ours).toBe(python);
    const a = (value as { a: PyJson[] }).a;
    expect(a[0]).toBe(1n); // an int stays an int
    expect(a[1]).toBe(2); // a float stays a float (written 2.0)
    expect(a[3]).toBe(12345678901234567890n); // beyond 2^53 without loss
  });

  it("names the source and the offset of bad JSON", () => {
    expect(() => parsePythonJson('{"a": [1, 2,]}', "db.json")).toThrow(/db\.json: invalid JSON at offset 12/);
    expect(() => parsePythonJson('{"a": 1, "a": 2}', "db.json")).toThrow(/duplicate key "a"/);
    expect(() => parsePythonJson('{"a": "open', "db.json")).toThrow(/unterminated string/);
    expect(() => parsePythonJson("[1] 2", "db.json")).toThrow(/text after the value/);
  });

  it("the Safe-SAIL release's English database reads and writes back byte for byte", () => {
    const text = readFileSync(RELEASE, "utf8");
    const db = parsePythonJson(text, RELEASE) as Record<string, { explanation: string | null; correlation_score: number; tag_list: string[] }>;
    const entries = Object.entries(db);
    expect(entries).toHaveLength(4700);
    expect(entries.filter(([, v]) => v.tag_list.length > 0)).toHaveLength(1758);
    expect(entries.filter(([, v]) => v.explanation === "***").length).toBeGreaterThan(0); // masked entries survive
    expect(entries.some(([, v]) => /[\u4e00-\u9fff]/.test(v.explanation ?? ""))).toBe(true); // Chinese text too
    expect(pythonJsonDumps(db)).toBe(text);
  });
});
