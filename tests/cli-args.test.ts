// src/cli/args.ts: the one argument parser of the `safesail` commands. Exact error texts for bad values, unknown
// flags and bad lists, in-process and through the real binary (tests/helpers/cli.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { choiceArg, choiceList, floatArg, fractionArg, intArg, intList, numberList, parseCliArgs, requireArgs, requiredArg, requiredPositional } from "../src/cli/args.ts";
import { ArgumentError } from "../src/errors.ts";
import { runCli } from "./helpers/cli.ts";

const OPTIONS = {
  steps: { type: "string" },
  seed: { type: "string" },
  lr: { type: "string" },
  ids: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const parse = (args: string[], extra: { maxPositionals?: number; usage?: string } = {}) => parseCliArgs({ args, options: OPTIONS, ...extra });

function message(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ArgumentError);
    return (err as Error).message;
  }
  throw new Error("expected an ArgumentError");
}

describe("parseCliArgs", () => {
  it("parses like parseArgs, and reads a negative number as a string option's value", () => {
    const { values, positionals } = parse(["--steps", "5", "--json", "--seed", "-3", "--lr=-.5", "M"], { maxPositionals: 1 });
    expect(values).toEqual({ steps: "5", json: true, seed: "-3", lr: "-.5" });
    expect(positionals).toEqual(["M"]);
    expect(parse([]).positionals).toEqual([]);
    expect(parse(["--", "--steps", "-1"], { maxPositionals: 2 }).positionals).toEqual(["--steps", "-1"]);
  });

  it("turns parseArgs errors into ArgumentErrors naming the flag", () => {
    expect(message(() => parse(["--step", "3"]))).toBe("unknown option --step (did you mean --steps?)");
    expect(message(() => parse(["--frobnicate"]))).toBe("unknown option --frobnicate (options: --steps, --seed, --lr, --ids, --json, --help)");
    expect(message(() => parse(["-x"]))).toBe("unknown option -x (options: --steps, --seed, --lr, --ids, --json, --help)");
    expect(message(() => parseCliArgs({ args: ["--x"], options: {} }))).toBe("unknown option --x (this command takes no options)");
    expect(message(() => parse(["--steps"]))).toBe("--steps needs a value");
    expect(message(() => parse(["--steps", "--json"]))).toBe('--steps needs a value, got the option "--json" (write --steps=VALUE for a value that starts with "-")');
    expect(message(() => parse(["--json=yes"]))).toBe('--json is a switch and takes no value, got "--json=yes"');
    expect(message(() => parse(["extra"]))).toBe('unexpected argument "extra" (this command takes no positional arguments)');
    expect(message(() => parse(["a", "b"], { maxPositionals: 1, usage: "safesail x MODEL" }))).toBe('unexpected argument "b" (this command takes at most 1 positional argument: safesail x MODEL)');
    const e = (() => {
      try {
        parse(["--step", "3"]);
      } catch (err) {
        return err as ArgumentError;
      }
    })();
    expect(e?.field).toBe("step");
  });
});

describe("flag value readers", () => {
  const v = (o: Record<string, string>) => o;

  it("intArg: range, default, required, exact messages", () => {
    expect(intArg(v({ steps: "40" }), "steps", { min: 1 })).toBe(40);
    expect(intArg(v({}), "steps", { min: 1 })).toBeUndefined();
    expect(intArg(v({}), "steps", { min: 1, default: 7 })).toBe(7);
    expect(intArg(v({ seed: "-2" }), "seed")).toBe(-2);
    expect(message(() => intArg(v({ steps: "-1" }), "steps", { min: 1 }))).toBe('--steps must be a positive integer, got "-1"');
    expect(message(() => intArg(v({ steps: "2.5" }), "steps", { min: 1 }))).toBe('--steps must be a positive integer, got "2.5"');
    expect(message(() => intArg(v({ steps: "" }), "steps", { min: 0 }))).toBe('--steps must be a non-negative integer, got ""');
    expect(message(() => intArg(v({ layer: "4" }), "layer", { min: 0, max: 3 }))).toBe('--layer must be an integer in [0, 3], got "4"');
    expect(message(() => intArg(v({}), "k", { min: 1, required: "safesail train-sae --k K" }))).toBe("--k is required (safesail train-sae --k K)");
  });

  it("floatArg / fractionArg", () => {
    expect(floatArg(v({ lr: "1e-3" }), "lr", { gt: 0 })).toBe(0.001);
    expect(message(() => floatArg(v({ lr: "0" }), "lr", { gt: 0 }))).toBe('--lr must be a positive number, got "0"');
    expect(message(() => floatArg(v({ lr: "fast" }), "lr"))).toBe('--lr must be a number, got "fast"');
    expect(message(() => floatArg(v({ "top-p": "0" }), "top-p", { gt: 0, max: 1 }))).toBe('--top-p must be a number in (0, 1], got "0"');
    expect(fractionArg(v({ "min-recall": "0.2" }), "min-recall")).toBe(0.2);
    expect(message(() => fractionArg(v({ "min-recall": "2" }), "min-recall"))).toBe('--min-recall must be a number in [0, 1], got "2"');
  });

  it("lists name the bad item", () => {
    expect(intList(v({ layers: "0, 2,4" }), "layers", { min: 0 })).toEqual([0, 2, 4]);
    expect(message(() => intList(v({ ids: "1,x" }), "ids", { min: 0 }))).toBe('--ids must be comma-separated non-negative integers, got "1,x" (bad item "x")');
    expect(message(() => intList(v({ layers: "0,,1" }), "layers", { min: 0 }))).toBe('--layers must be comma-separated non-negative integers, got "0,,1" (bad item "")');
    expect(message(() => intList(v({ layers: "0,-1" }), "layers", { min: 0 }))).toBe('--layers must be comma-separated non-negative integers, got "0,-1" (bad item "-1")');
    expect(message(() => intList(v({}), "layers", { min: 0, required: "e.g. --layers 0,2" }))).toBe("--layers is required (e.g. --layers 0,2)");
    expect(numberList(v({ thresholds: "0,0.5,-1" }), "thresholds")).toEqual([0, 0.5, -1]);
    expect(message(() => numberList(v({ thresholds: "0,x" }), "thresholds"))).toBe('--thresholds must be comma-separated numbers, got "0,x" (bad item "x")');
    expect(message(() => numberList(v({ t: "0,2" }), "t", { min: 0, max: 1 }))).toBe('--t must be comma-separated numbers in [0, 1], got "0,2" (bad item "2")');
    expect(choiceList(v({ languages: "en,zh" }), "languages", ["en", "zh", "hi"])).toEqual(["en", "zh"]);
    expect(message(() => choiceList(v({ languages: "en,fr" }), "languages", ["en", "zh"]))).toBe('--languages must be comma-separated values from en, zh, got "en,fr" (bad item "fr")');
  });

  it("choices, required strings and positionals", () => {
    expect(choiceArg(v({ dtype: "bf16" }), "dtype", ["F32", "BF16"], { normalize: (s) => s.toUpperCase() })).toBe("BF16");
    expect(choiceArg(v({}), "site", ["mlp_out", "attn_out"], { default: "mlp_out" })).toBe("mlp_out");
    expect(message(() => choiceArg(v({ site: "mlp" }), "site", ["mlp_out", "attn_out"]))).toBe('--site must be one of mlp_out, attn_out, got "mlp"');
    expect(requiredArg(v({ out: "d" }), "out")).toBe("d");
    expect(message(() => requiredArg(v({}), "corpus", { metavar: "FILE", hint: "one document per line" }))).toBe("--corpus FILE is required (one document per line)");
    expect(message(() => requiredArg(v({ out: "" }), "out"))).toBe("--out is required");
    expect(requiredArg(v({ prompt: "" }), "prompt", { allowEmpty: true })).toBe("");
    expect(message(() => requireArgs(v({ acts: "a" }), ["acts", "k"], "usage here"))).toBe("--k is required (usage here)");
    expect(requiredPositional(["m"], 0, "MODEL", "safesail info MODEL")).toBe("m");
    expect(message(() => requiredPositional([], 0, "MODEL", "safesail info MODEL"))).toBe("MODEL argument missing: safesail info MODEL");
  });
});

describe("through the real safesail binary", () => {
  const root = mkdtempSync(join(tmpdir(), "safesail-cli-args-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  // Every case fails in argument checking, before any model, store or corpus is opened.
  const cases: [string[], string][] = [
    [["toy", "train", "--steps", "-1"], 'safesail toy: --steps must be a positive integer, got "-1"'],
    [["toy", "train", "--steps", "2.5"], 'safesail toy: --steps must be a positive integer, got "2.5"'],
    [["harvest", "nowhere-model", "--corpus", "c.txt", "--out", "o", "--layers", "0", "--max-tokens", "-1"], 'safesail harvest: --max-tokens must be a positive integer, got "-1"'],
    [["harvest", "nowhere-model", "--corpus", "c.txt", "--out", "o", "--layers", "0,x"], 'safesail harvest: --layers must be comma-separated non-negative integers, got "0,x" (bad item "x")'],
    [["train-sae", "--acts", "a", "--layer", "1", "--k", "4", "--out", "o", "--stpes", "5"], "safesail train-sae: unknown option --stpes (did you mean --steps?)"],
    [["train-sae", "--acts", "a", "--layer", "1", "--k", "4", "--out", "o", "--lr"], "safesail train-sae: --lr needs a value"],
    [["info", "a", "b"], 'safesail info: unexpected argument "b" (this command takes at most 1 positional argument: safesail info MODEL)'],
  ];

  it("prints the exact message, exit code 1, no stack trace", async () => {
    for (const [args, expected] of cases) {
      const r = await runCli([...args.map((a) => (a === "o" ? join(root, "out") : a))]);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr.trim(), args.join(" ")).toBe(expected);
    }
  }, 60_000);
});
