// JSON exactly as Python's `json.dumps` writes it with its defaults (ensure_ascii, separators ", " and ": ", no
// indent, floats by `float.__repr__`, NaN / Infinity allowed), and a reader that keeps what that writer needs to give
// the same bytes back: integers stay integers (bigint), floats stay floats (number). The Safe-SAIL release's
// database files are written this way (src/db/safe-sail.ts).
import { FormatError } from "../errors.ts";

/** A JSON value as Python holds it: int (bigint) and float (number) kept apart. */
export type PyJson = null | boolean | bigint | number | string | PyJson[] | { [key: string]: PyJson };

/** Python's `repr(float)`: the shortest round-tripping digits, fixed notation for exponents -4..15, else scientific. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  // toExponential() with no argument gives the shortest digits that read back as x, as Python's repr does.
  const [mantissa, exp] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const e = Number(exp);
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  if (e < 0) return `${sign}0.${"0".repeat(-e - 1)}${digits}`;
  const int = digits.slice(0, e + 1).padEnd(e + 1, "0");
  const frac = digits.slice(e + 1);
  return `${sign}${int}.${frac || "0"}`;
}

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };

/**
 * A string as `json.dumps` writes it (ensure_ascii): every code unit outside printable ASCII (space to "~"; DEL
 * included) as \uXXXX in lowercase hex, the short escapes where JSON has them.
 */
export function pythonJsonString(s: string): string {
  return `"${s.replace(/[\u0000-\u001f"\\\u007f-\uffff]/g, (c) => {
    if (SHORT_ESCAPES[c]) return SHORT_ESCAPES[c]!;
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  })}"`;
}

/** `json.dumps(value)` with Python's defaults. */
export function pythonJsonDumps(value: PyJson): string {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return pythonFloatRepr(value);
  if (typeof value === "string") return pythonJsonString(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${pythonJsonString(k)}: ${pythonJsonDumps(v)}`).join(", ")}}`;
}

/**
 * Parses JSON (plus Python's NaN, Infinity, -Infinity) into PyJson: a number token without ".", "e" or "E" is an
 * int (bigint), any other a float. Errors name `source` and the byte offset.
 */
export function parsePythonJson(text: string, source = "<json>"): PyJson {
  let i = 0;
  const fail = (what: string): never => {
    throw new FormatError(`${source}: invalid JSON at offset ${i}: ${what}`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  };
  const value = (): PyJson => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: { [key: string]: PyJson } = Object.create(null);
      ws();
      if (text[i] === "}") return i++, obj;
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key string");
        const key = string();
        ws();
        if (text[i++] !== ":") fail('expected ":"');
        if (Object.prototype.hasOwnProperty.call(obj, key)) fail(`duplicate key ${JSON.stringify(key)}`);
        obj[key] = value();
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return obj; }
        fail('expected "," or "}"');
      }
    }
    if (c === "[") {
      i++;
      const arr: PyJson[] = [];
      ws();
      if (text[i] === "]") return i++, arr;
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "]") { i++; return arr; }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["null", null], ["true", true], ["false", false], ["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity]] as const) {
      if (text.startsWith(word, i)) return (i += word.length), v;
    }
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail(`unexpected ${c === undefined ? "end of text" : JSON.stringify(c)}`);
    i += m[0].length;
    return m[1] === undefined && m[2] === undefined ? BigInt(m[0]) : Number(m[0]);
  };
  const string = (): string => {
    const start = i;
    i++;
    let out = "";
    let run = i;
    for (;;) {
      const c = text[i];
      if (c === undefined) { i = start; fail("unterminated string"); }
      if (c === '"') { out += text.slice(run, i); i++; return out; }
      if (c < " ") fail("control character in a string");
      if (c === "\\") {
        out += text.slice(run, i);
        const e = text[i + 1];
        const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e !== undefined && simple[e] !== undefined) { out += simple[e]; i += 2; }
        else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) { out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16)); i += 6; }
        else fail("bad escape");
        run = i;
        continue;
      }
      i++;
    }
  };
  const result = value();
  ws();
  if (i !== text.length) fail("text after the value");
  return result;
}
