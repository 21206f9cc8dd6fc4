// Bytes that are not UTF-8 in a command-line argument (issue 11): Node decodes process.argv as UTF-8 and silently
// puts U+FFFD in their place. parseCliArgs reads the raw bytes back (/proc/self/cmdline on Linux) and refuses the
// argument, naming the flag or positional argument, the byte offset and the byte. The arguments are made by bash's
// printf, since Node can only spawn a child with UTF-8 arguments.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { firstInvalidUtf8, invalidUtf8InArg } from "../src/cli/args.ts";
import { BIN } from "./helpers/cli.ts";

/** Runs `safesail` with arguments given as bash printf formats (so "\\xe9" is the byte 0xE9). */
function runRaw(formats: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `exec "$0" "$1" ${formats.map((_, i) => `"$(printf '%b' "\${${i + 2}}")"`).join(" ")}`;
  return new Promise((res) => {
    execFile("bash", ["-c", script, process.execPath, BIN, ...formats], (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const linux = existsSync("/proc/self/cmdline");

describe.runIf(linux)("non-UTF-8 arguments through the real binary (Linux: raw bytes from /proc/self/cmdline)", () => {
  const advice = "give UTF-8 text (convert it with e.g. iconv -t UTF-8)";
  it("names --prompt / --text, the byte offset and the byte, before the model is opened", async () => {
    const cases: [string[], string][] = [
      [["generate", "nowhere-model", "--prompt", "caf\\xe9 au lait"], `safesail generate: --prompt is not valid UTF-8: byte 0xe9 at byte offset 3 (Node would pass U+FFFD in its place); ${advice}`],
      [["logits", "nowhere-model", "--text", "\\xe2\\x82 euro"], `safesail logits: --text is not valid UTF-8: byte 0xe2 at byte offset 0 (Node would pass U+FFFD in its place); ${advice}`],
      [["logits", "nowhere-model", "--text=ok \\xff"], `safesail logits: --text is not valid UTF-8: byte 0xff at byte offset 3 (Node would pass U+FFFD in its place); ${advice}`],
      [["info", "mod\\xc3"], `safesail info: MODEL (positional argument 1) is not valid UTF-8: byte 0xc3 at byte offset 3 (Node would pass U+FFFD in its place); ${advice}`],
    ];
    for (const [args, expected] of cases) {
      const r = await runRaw(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr.trim(), args.join(" ")).toBe(expected);
    }
  }, 60_000);

  it("a U+FFFD typed as valid UTF-8 (EF BF BD) is text like any other", async () => {
    const r = await runRaw(["generate", "nowhere-model", "--prompt", "a \\xef\\xbf\\xbd b"]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("UTF-8");
    expect(r.stderr).toContain("nowhere-model");
  }, 30_000);
});

describe("UTF-8 checks", () => {
  it("firstInvalidUtf8 follows RFC 3629", () => {
    const at = (...b: number[]) => firstInvalidUtf8(Uint8Array.from(b));
    expect(at(0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80)).toBe(-1); // a é € 😀
    expect(at(0x61, 0xff)).toBe(1);
    expect(at(0x61, 0x62, 0xe9, 0x20)).toBe(2); // Latin-1 é
    expect(at(0xc0, 0xaf)).toBe(0); // overlong
    expect(at(0xe0, 0x80, 0xaf)).toBe(0); // overlong
    expect(at(0xed, 0xa0, 0x80)).toBe(0); // surrogate
    expect(at(0xf4, 0x90, 0x80, 0x80)).toBe(0); // > U+10FFFF
    expect(at(0x61, 0xe2, 0x82)).toBe(1); // truncated
    expect(at(0x80)).toBe(0); // lone continuation
  });

  it("invalidUtf8InArg: raw bytes decide; without them the U+FFFD's byte offset is reported", () => {
    const raw = [Buffer.from("node"), Buffer.from([0x61, 0x62, 0xff, 0x63])];
    expect(invalidUtf8InArg("ab\uFFFDc", raw)).toEqual({ offset: 2, byte: 0xff });
    expect(invalidUtf8InArg("ab\uFFFDc", [Buffer.from("ab\uFFFDc")])).toBeNull(); // typed as such
    expect(invalidUtf8InArg("ab\uFFFDc", [])).toBeNull(); // not from the command line
    expect(invalidUtf8InArg("é\uFFFD", null)).toEqual({ offset: 2, byte: null });
    expect(invalidUtf8InArg("plain", null)).toBeNull();
  });
});
