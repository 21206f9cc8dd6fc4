// `--help` / `-h` on every command (issue 11): implemented once in parseCliArgs (src/cli/args.ts), printed by main.ts
// on stdout with exit 0, before any required argument is checked. Through the real binary (tests/helpers/cli.ts).
import { describe, expect, it } from "vitest";
import { HelpRequested, parseCliArgs, wantsHelp } from "../src/cli/args.ts";
import { runCli } from "./helpers/cli.ts";

// Each command, and a flag its help must mention (a real usage text, not just a synopsis).
const COMMANDS: [args: string[], synopsis: string, mentions: string[]][] = [
  [["info"], "usage: safesail info MODEL", ["hub id"]],
  [["logits"], "usage: safesail logits MODEL", ["--ids", "--text", "--hook", "--top", "--json"]],
  [["generate"], "usage: safesail generate MODEL", ["--prompt", "--chat", "--max-new-tokens", "--temperature", "--top-p", "--seed", "--json"]],
  [["harvest"], "usage: safesail harvest MODEL", ["--corpus", "--layers", "--out", "--site", "--max-tokens", "--shard", "JOB_COMPLETION_INDEX", "safesail harvest merge"]],
  [["harvest", "merge"], "usage: safesail harvest merge", ["--out", "--overwrite", "no gap, no overlap", "byte for byte"]],
  [["train-sae"], "usage: safesail train-sae", ["--acts", "--layer", "--k", "--out", "--expansion", "--steps", "--batch", "--lr", "--fresh", "--shard", "train-sae merge"]],
  [["train-sae", "merge"], "usage: safesail train-sae merge", ["--out", "sweep.json", "no gap, no overlap"]],
  [["eval-sae"], "usage: safesail eval-sae SAE_DIR", ["--model", "--corpus", "--positions", "--max-docs", "--json"]],
  [["metrics"], "usage: safesail metrics", ["--sae", "--model", "--pairs", "--thresholds", "--languages", "--raw", "--json"]],
  [["filter"], "usage: safesail filter", ["--sae", "--model", "--corpus", "--min-precision", "--min-recall", "--threshold", "--json"]],
  [["notebooks"], "usage: safesail notebooks run NOTEBOOK...", ["--timeout", "--kernel", "--inplace", "--out"]],
  [["notebooks", "run"], "usage: safesail notebooks run NOTEBOOK...", ["--timeout", "--out"]],
  [["kernel"], "usage: safesail kernel", ["install", "run CONNECTION_FILE"]],
  [["kernel", "run"], "usage: safesail kernel run CONNECTION_FILE", ["kernelspec"]],
  [["kernel", "install"], "usage: safesail kernel install", ["--user", "--prefix", "--sys-prefix", "--name", "--interrupt-mode"]],
  [["toy"], "usage:\n  safesail toy corpus", ["safesail toy train", "safesail toy eval", "safesail toy card", "safesail toy saes"]],
  [["toy", "corpus"], "usage: safesail toy corpus", ["--out", "--seed", "--conversations"]],
  [["toy", "train"], "usage: safesail toy train", ["--minutes", "--epochs", "--steps", "--workers", "--fresh"]],
  [["toy", "eval"], "usage: safesail toy eval", ["--limit", "--json"]],
  [["toy", "card"], "usage: safesail toy card", ["README.md", "--reuse-eval"]],
  [["toy", "saes"], "usage: safesail toy saes", ["--out", "--work", "--seed", "--steps", "--conversations", "--layers", "--held-out", "--model"]],
  [["demo"], "usage: safesail demo", ["--quick", "--out", "--notebooks", "supplement", "steering"]],
  [["steer"], "usage: safesail steer MODEL", ["--saes", "--set", "clamp", "scale", "add", "orthogonal", "cap", "--prompt", "--prompts", "--checkpoint", "--json"]],
  [["serve"], "usage: safesail serve MODEL", ["--saes", "--port", "--host", "--api-key", "--queue"]],
  [["supplement"], "usage: safesail supplement", ["--out", "--notebooks", "--overwrite", "--title", "--timeout", "compare DIR_A DIR_B"]],
  [["convert"], "usage: safesail convert IN.pt", ["--to", "--out"]],
  [["lab"], "usage: safesail lab", ["--port", "--ip", "--dir", "--token", "lab install", "--prefix"]],
  [["lab", "install"], "usage: safesail lab", ["--user", "--prefix", "--sys-prefix", "labextensions"]],
  [["publish"], "usage: safesail publish", ["--out", "--overwrite", "--title", "--in-page", "--in-page-saes"]],
  [["db"], "usage: safesail db", ["import FILE --out DB", "export DB --format safe-sail", "query DB", "--domain", "--min-score", "merge [SHARD_DB...] --out DB"]],
  [["db", "query"], "usage: safesail db", ["--search", "--json"]],
  [["map"], "usage: safesail map", ["--db", "--out", "--embedding", "--seed", "--dims", "--clusters", "--overwrite", "--json", "Safe-SAIL release file"]],
  [["explain"], "usage: safesail explain", ["--examples", "--out", "--features", "--explainer", "--llm", "--api-base", "--cache", "--concurrency", "--shard", "db merge", "--json"]],
  [["score"], "usage: safesail score", ["--examples", "--method", "--segments", "--llm", "--api-base", "--cache", "--shard", "--json"]],
  [["claims"], "usage:\n  safesail claims build", ["safesail claims grid", "safesail claims results", "docs/claims.md"]],
  [["claims", "build"], "usage: safesail claims build", ["--retrain", "--jobs", "--out", "--timeout", "docs/results.md"]],
  [["claims", "grid"], "usage: safesail claims grid", ["--jobs", "--shard", "--harvest-only", "--assemble-only", "--partial", "--work", "--out", "--model", "SLURM_ARRAY_TASK_ID"]],
  [["claims", "results"], "usage: safesail claims results", ["--out", "results-table"]],
  [["examples"], "usage: safesail examples", ["--sae", "--model", "--corpus", "--out", "--features", "--db", "--filter", "--context", "--quantiles", "--seed", "--no-chat", "--max-docs", "--overwrite", "--json"]],
];

describe("--help and -h through the real safesail binary", () => {
  it("every command prints its usage on stdout and exits 0, without its required arguments", async () => {
    // One process per command, the flags alternating (both spellings are the same parser path, checked on
    // every command by the wantsHelp tests below); three at a time: each is mostly the binary's start-up.
    const runs = COMMANDS.map(([args, synopsis, mentions], i) => ({ args, synopsis, mentions, flag: i % 2 === 0 ? "--help" : "-h" }));
    const results: Awaited<ReturnType<typeof runCli>>[] = new Array(runs.length);
    let next = 0;
    await Promise.all([0, 1, 2].map(async () => {
      while (next < runs.length) {
        const i = next++;
        results[i] = await runCli([...runs[i]!.args, runs[i]!.flag]);
      }
    }));
    for (const [i, { args, synopsis, mentions, flag }] of runs.entries()) {
      {
        const r = results[i]!;
        const what = [...args, flag].join(" ");
        expect(r.code, `${what}: ${r.stderr}`).toBe(0);
        expect(r.stderr, what).toBe("");
        expect(r.stdout.startsWith(synopsis), `${what}:\n${r.stdout}`).toBe(true);
        expect(r.stdout.trim().split("\n").length, what).toBeGreaterThan(2);
        for (const m of mentions) expect(r.stdout, `${what} mentions ${m}`).toContain(m);
      }
    }
  }, 400_000);

  it("--help wins over other arguments, bad or not; safesail help COMMAND is the same", async () => {
    const a = await runCli(["generate", "--max-new-tokens", "-1", "--help"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^usage: safesail generate MODEL/);
    const b = await runCli(["help", "train-sae"]);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^usage: safesail train-sae/);
    // After "--" it is an argument, not a flag.
    const c = await runCli(["info", "--", "--help"]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/^safesail info: --help: /);
  }, 60_000);

  it("exact errors for bad numbers are unchanged (--max-tokens -1, --max-new-tokens -1)", async () => {
    const h = await runCli(["harvest", "nowhere-model", "--corpus", "c.txt", "--out", "o", "--layers", "0", "--max-tokens", "-1"]);
    expect(h.code).toBe(1);
    expect(h.stderr.trim()).toBe('safesail harvest: --max-tokens must be a positive integer, got "-1"');
    expect(h.stderr).not.toContain("ERR_PARSE_ARGS");
    const g = await runCli(["generate", "nowhere-model", "--prompt", "x", "--max-new-tokens", "-1"]);
    expect(g.code).toBe(1);
    expect(g.stderr.trim()).toBe('safesail generate: --max-new-tokens must be a positive integer, got "-1"');
  }, 60_000);
});

describe("wantsHelp / HelpRequested", () => {
  const options = { prompt: { type: "string" }, json: { type: "boolean" }, p: { type: "string", short: "p" } } as const;
  it("finds --help and -h as flags, not as an option's value or after --", () => {
    expect(wantsHelp(["--help"], options)).toBe(true);
    expect(wantsHelp(["M", "--json", "-h"], options)).toBe(true);
    expect(wantsHelp(["--prompt", "--help"], options)).toBe(false);
    expect(wantsHelp(["-p", "-h"], options)).toBe(false);
    expect(wantsHelp(["--prompt=x", "-h"], options)).toBe(true);
    expect(wantsHelp(["--", "--help"], options)).toBe(false);
    expect(wantsHelp(["--helpme"], options)).toBe(false);
  });

  it("parseCliArgs throws HelpRequested with the help text, else the usage line", () => {
    const text = (cfg: Parameters<typeof parseCliArgs>[0]) => {
      try {
        parseCliArgs(cfg);
      } catch (err) {
        expect(err).toBeInstanceOf(HelpRequested);
        return (err as HelpRequested).text;
      }
      throw new Error("expected HelpRequested");
    };
    expect(text({ args: ["-h"], options, usage: "safesail x MODEL", help: "usage: safesail x MODEL\n\nmore" })).toBe("usage: safesail x MODEL\n\nmore");
    expect(text({ args: ["--help", "--bogus"], options, usage: "safesail x MODEL" })).toBe("usage: safesail x MODEL");
  });
});
