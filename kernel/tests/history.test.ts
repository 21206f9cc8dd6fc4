// history_request semantics: glob search (whole input, case-sensitive, `*` `?` `[...]`), n, unique, tail,
// range with session numbers, and the optional JSON-lines persistence.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { globToRegExp, History } from "../src/history.ts";

const dir = mkdtempSync(join(tmpdir(), "safesail-history-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("glob patterns", () => {
  const cases: [string, string, boolean][] = [
    ["*", "", true],
    ["*", "anything\nmultiline", true],
    ["6 ? 7", "6 * 7", true],
    ["6 ? 7", "6 ** 7", false],
    ["6*", "6 * 7", true],
    ["*7", "6 * 7", true],
    ["6", "6 * 7", false], // whole input, not a substring
    ["*print*", "console.print(x)", true],
    ["Print*", "print(1)", false], // case-sensitive
    ["[abc]x", "bx", true],
    ["[abc]x", "dx", false],
    ["[^abc]x", "dx", true],
    ["[!abc]x", "ax", false],
    ["a.b", "a.b", true],
    ["a.b", "axb", false], // regex metacharacters are literal
    ["(x)+", "(x)+", true],
    ["[unclosed", "[unclosed", true],
    ["$^{}|\\", "$^{}|\\", true],
  ];
  for (const [pattern, text, want] of cases) {
    it(`${JSON.stringify(pattern)} vs ${JSON.stringify(text)} -> ${want}`, () => {
      expect(globToRegExp(pattern).test(text)).toBe(want);
    });
  }
});

describe("History", () => {
  function filled(): History {
    const h = new History();
    ["a = 1", "6 * 7", "print(a)", "6 * 7", "b = 2", "6 * 7"].forEach((code, i) => h.add(i + 1, code));
    h.setOutput(2, "42");
    return h;
  }

  it("tail returns the last n, oldest first, with outputs on request", () => {
    const h = filled();
    expect(h.tail(2)).toEqual([[1, 5, "b = 2"], [1, 6, "6 * 7"]]);
    expect(h.tail(0)).toEqual([]);
    expect(h.tail(100)).toHaveLength(6);
    expect(h.tail(5, true)[0]).toEqual([1, 2, ["6 * 7", "42"]]);
    expect(h.tail(1, true)[0]).toEqual([1, 6, ["6 * 7", null]]);
  });

  it("range: start <= line < stop; session 0 and negatives are relative", () => {
    const h = filled();
    expect(h.range(1, 2, 3)).toEqual([[1, 2, "6 * 7"]]);
    expect(h.range(0, 5)).toEqual([[1, 5, "b = 2"], [1, 6, "6 * 7"]]);
    expect(h.range(0, 1, 3).map((e) => e[1])).toEqual([1, 2]);
    expect(h.range(-1, 0)).toEqual([]); // no earlier session
    expect(h.range(7, 0)).toEqual([]);
  });

  it("search: glob, n keeps the latest n, unique keeps one per input", () => {
    const h = filled();
    expect(h.search("6 ? 7").map((e) => e[1])).toEqual([2, 4, 6]);
    expect(h.search("6 ? 7", 2).map((e) => e[1])).toEqual([4, 6]);
    expect(h.search("6 ? 7", undefined, true)).toEqual([[1, 6, "6 * 7"]]);
    expect(h.search("*=*", undefined, true).map((e) => e[2])).toEqual(["a = 1", "b = 2"]);
    expect(h.search().length).toBe(6);
    expect(h.search("nothing*")).toEqual([]);
    expect(h.search("6 ? 7", 1, false, true)).toEqual([[1, 6, ["6 * 7", null]]]);
  });

  it("persists to a JSON-lines file; each start is a new session", () => {
    const file = join(dir, "sub", "history.jsonl");
    const a = new History({ file });
    expect(a.session).toBe(1);
    a.add(1, "let x = 1");
    a.add(2, "x + 1");
    a.setOutput(2, "2");
    appendFileSync(file, "{torn line\n");
    const b = new History({ file });
    expect(b.session).toBe(2);
    b.add(1, "x");
    expect(b.range(1, 1)).toEqual([[1, 1, "let x = 1"], [1, 2, "x + 1"]]);
    expect(b.range(-1, 2, undefined, true)).toEqual([[1, 2, ["x + 1", "2"]]]);
    expect(b.range(0, 1)).toEqual([[2, 1, "x"]]);
    expect(b.tail(3).map((e) => e[0])).toEqual([1, 1, 2]);
    expect(readFileSync(file, "utf8").split("\n").filter(Boolean).length).toBe(5);
  });

  it("an unreadable file starts an empty history", () => {
    const file = join(dir, "garbage.jsonl");
    writeFileSync(file, "\u0000\u0001 not json\n[1,2]\n{\"s\":\"x\"}\n");
    const h = new History({ file });
    expect(h.session).toBe(1);
    expect(h.all()).toEqual([]);
  });
});
