// The cell executor in-process (no sockets): is_complete, completion and inspection positions, results,
// errors, state between cells, interrupts, rich display, the `name?` help form.
import { describe, expect, it } from "vitest";
import { MIMEBUNDLE, richRepr } from "../src/display.ts";
import { codePointsToUtf16, Executor, utf16ToCodePoints } from "../src/executor.ts";
import { helpTarget } from "../src/kernel.ts";

const ex = new Executor();

describe("is_complete", () => {
  const cases: [string, string][] = [
    ["", "complete"],
    ["1 + 1", "complete"],
    ["const a = 3;", "complete"],
    ["function f(x: number) {\n  return x;\n}", "complete"],
    ["class A {\n  x = 1;\n}", "complete"],
    ["function f() {", "incomplete"],
    ["const xs = [1, 2,", "incomplete"],
    ["foo(", "incomplete"],
    ["if (x) {\n  y();", "incomplete"],
    ["`a template\nover lines", "incomplete"],
    ["/* open comment", "incomplete"],
    ["const = 1;", "invalid"],
    ["let 3x = 2;", "invalid"],
    ["}", "invalid"],
    ["1 +* 2", "invalid"],
  ];
  for (const [code, status] of cases) {
    it(`${JSON.stringify(code)} is ${status}`, () => {
      expect(ex.isComplete(code).status).toBe(status);
    });
  }
  it("suggests an indent inside a block", () => {
    expect(ex.isComplete("function f() {")).toEqual({ status: "incomplete", indent: "  " });
  });
});

describe("cursor positions", () => {
  it("convert between code points and UTF-16", () => {
    const s = "a🙂b";
    expect(codePointsToUtf16(s, 2)).toBe(3);
    expect(utf16ToCodePoints(s, 3)).toBe(2);
    expect(codePointsToUtf16(s, 10)).toBe(s.length);
  });

  it("complete after an emoji reports code-point offsets", () => {
    const code = "const s = '🙂'; Math.ma";
    const r = ex.complete(code, [...code].length);
    expect(r.matches).toEqual(["max"]);
    expect(r.cursorEnd).toBe([...code].length);
    expect(r.cursorStart).toBe([...code].length - 2);
  });
});

describe("executing cells", () => {
  it("resolves shorthand properties that name variables of earlier cells", async () => {
    const { expandShorthandProperties } = await import("../src/shorthand.ts");
    expect(expandShorthandProperties("f({ a, b: 2, c })")).toBe("f({ a: a, b: 2, c: c })");
    expect(expandShorthandProperties("({ a = 1 } = o)")).toBe("({ a = 1 } = o)");
    expect(await ex.execute("const shortA = 5; const shortB = 'x';")).toEqual({ status: "ok", hasValue: false });
    expect(await ex.execute("const o = { shortA, shortB, n: 1 }; o")).toEqual({ status: "ok", hasValue: true, value: { shortA: 5, shortB: "x", n: 1 } });
    expect(await ex.execute("const { shortA: renamed } = { shortA }; renamed")).toMatchObject({ value: 5 });
  });

  it("returns the last expression and keeps state between cells", async () => {
    expect(await ex.execute("let counter = 40; counter + 1")).toEqual({ status: "ok", hasValue: true, value: 41 });
    expect(await ex.execute("counter += 2; counter")).toMatchObject({ value: 42 });
    expect(await ex.execute("const nothing = 1;")).toEqual({ status: "ok", hasValue: false });
    expect(await ex.execute("undefined")).toEqual({ status: "ok", hasValue: false });
    expect(await ex.execute("null")).toEqual({ status: "ok", hasValue: true, value: null });
  });

  it("reports type errors and thrown errors with ename, evalue and traceback", async () => {
    const te = await ex.execute("const n: number = 'x';");
    expect(te).toMatchObject({ status: "error", ename: "TSError" });
    if (te.status === "error") expect(te.traceback[0]).toMatch(/^1:7 - Type 'string' is not assignable/);
    const re = await ex.execute("class MyError extends Error { name = 'MyError' }\nthrow new MyError('bad thing')");
    expect(re).toMatchObject({ status: "error", ename: "MyError", evalue: "bad thing" });
    if (re.status === "error") expect(re.traceback.join("\n")).not.toContain("kernel/src/");
    expect(await ex.execute("throw 42")).toMatchObject({ status: "error", ename: "Uncaught", evalue: "42" });
    expect(await ex.execute("await Promise.reject(new RangeError('r'))")).toMatchObject({ ename: "RangeError", evalue: "r" });
  });

  it("a later cell sees declarations of a cell that threw part-way", async () => {
    await ex.execute("const early = 5; throw new Error('after early')");
    expect(await ex.execute("early * 2")).toMatchObject({ value: 10 });
  });

  it("interrupt() stops an awaiting cell and the executor goes on", async () => {
    const running = ex.execute("await new Promise(() => {})");
    await new Promise((r) => setTimeout(r, 50));
    expect(ex.busy).toBe(true);
    expect(ex.interrupt()).toBe(true);
    expect(await running).toMatchObject({ status: "error", ename: "KeyboardInterrupt" });
    expect(ex.interrupt()).toBe(false);
    expect(await ex.execute("'next'")).toMatchObject({ value: "next" });
  });

  it("inspects names, with docs", () => {
    const text = ex.inspect("Math.max", 8);
    expect(text).toContain("Math.max(...values: number[]): number");
    expect(text).toContain("Returns the larger");
    expect(ex.inspect("   ", 1)).toBeNull();
  });

  it("user expressions see the cells' variables", async () => {
    await ex.execute("const base = 20;");
    expect(ex.evaluateExpression("base + 1")).toBe(21);
    expect(() => ex.evaluateExpression("nope(")).toThrow();
  });
});

describe("rich results", () => {
  it("uses a mime bundle method when there is one, with a text/plain fallback", () => {
    expect(richRepr({ [MIMEBUNDLE]: () => ({ "text/html": "<b>x</b>" }) }).data).toMatchObject({ "text/html": "<b>x</b>", "text/plain": expect.any(String) });
    expect(richRepr({ _repr_mimebundle_: () => [{ "text/markdown": "*m*" }, { "text/markdown": { isolated: true } }] })).toMatchObject({
      data: { "text/markdown": "*m*" },
      metadata: { "text/markdown": { isolated: true } },
    });
    expect(richRepr({ _repr_mimebundle_: () => ({ data: { "image/png": "AAA" }, metadata: { w: 1 } }) })).toMatchObject({ data: { "image/png": "AAA" }, metadata: { w: 1 } });
    expect(richRepr([1, "a"]).data).toEqual({ "text/plain": "[ 1, 'a' ]" });
    const throwing = new Proxy({}, { get: () => { throw new Error("no"); } });
    expect(richRepr(throwing).data["text/plain"]).toBeTypeOf("string");
  });

  it("`name?` asks for help", () => {
    expect(helpTarget("Math.max?")).toBe("Math.max");
    expect(helpTarget("  console . log ??  ")).toBe("console.log");
    expect(helpTarget("a ? b : c")).toBeNull();
    expect(helpTarget("x?.y")).toBeNull();
  });
});
