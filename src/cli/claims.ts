// `safesail claims`: the paper's claims measured on the embedded toy model (issue 16).
//
//   safesail claims grid [--jobs N | --shard I/N | --harvest-only] [--work DIR] [--out FILE]
//       the SAE grid the claims notebook reads (src/claims/grid.ts): harvest, then every (site, layer, k) SAE trained and
//       measured, resumable; --jobs N runs N shard processes of one onnxruntime thread each, then assembles the file.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { ArgumentError, SafesailError } from "../errors.ts";
import { terminalProgress } from "../progress.ts";
import { promises as fsp } from "node:fs";
import { buildClaimsGrid, claimsGridIsCurrent, ClaimsGridStopped, CLAIMS_GRID_FILE, CLAIMS_WORK, gridConfigs } from "../claims/grid.ts";
import { CLAIMS_NOTEBOOK, RESULTS_CELL_TAG, RESULTS_FILE, resultsFromNotebook } from "../claims/results.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { resolveShard } from "../util/shard.ts";
import { intArg, parseCliArgs } from "./args.ts";
import { describeResult, runNotebooks } from "./notebooks.ts";
import { stopOnSignals } from "./signals.ts";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

const USAGE = {
  build: "safesail claims build [--retrain] [--jobs N] [--out FILE] [--timeout S]",
  results: "safesail claims results EXECUTED.ipynb [--out FILE]",
  grid: "safesail claims grid [--jobs N | --shard I/N | --harvest-only | --assemble-only [--partial]] [--work DIR] [--out FILE] [--model DIR]",
};

const HELP = {
  build: `usage: ${USAGE.build}

Rebuilds the claims from the committed data, with the seeds in the code: the SAE grid, then ${CLAIMS_NOTEBOOK}
executed headless (into ${CLAIMS_WORK}/notebook/), then ${RESULTS_FILE} from its results cell. Running it twice gives
the same table. The committed ${CLAIMS_GRID_FILE} is used as it is when it is complete and its grid settings, model
fingerprint and data hashes match the present ones; otherwise (or with --retrain) the grid is built by safesail
claims grid (about 2.8 h on 2 cores; resumed from ${CLAIMS_WORK}/).

  --retrain     build the grid even when the committed file matches (it was trained by an earlier version of the code)
  --jobs N      shard processes for the grid (default 2)
  --out FILE    where the results go (default ${RESULTS_FILE})
  --timeout S   seconds per notebook cell (default 1800)`,
  results: `usage: ${USAGE.results}

Writes the results table of an executed claims notebook (its cell tagged "${RESULTS_CELL_TAG}") to FILE (default
${RESULTS_FILE}).`,
  grid: `usage: ${USAGE.grid}

The configuration grid of the claims notebook: one TopK SAE per site (mlp_out, resid_post, attn_out) x layer (0-3) x k
(4 ... 128) of the embedded toy model at expansion 10, trained on its 12,000 training conversations (src/claims/grid.ts
CLAIMS_GRID), plus the convergence check (three of them trained twice as long). Each is measured on held-out text
(FVU, dead latents, CE recovered), the English contrastive pairs (L0,t, I_CDF, probes per concept) and the English
domain samples (the filter's counts per threshold, with bootstrap resamples). Everything resumes: a stopped run, or a
configuration already measured with the same settings, is not redone.

  --jobs N         run N shard processes (one onnxruntime thread each; default 1: this process), then write the file
  --shard I/N      only configurations I, I+N, I+2N, ... (default from the environment: SLURM_ARRAY_TASK_ID/
                   SLURM_ARRAY_TASK_COUNT, or a Kubernetes Indexed Job's JOB_COMPLETION_INDEX with SAFESAIL_SHARD_COUNT;
                   --shard none ignores it; docs/scale-out.md); the file is not written: run without --shard to assemble
  --harvest-only   harvest the three sites and stop (before starting shards that share the work folder)
  --assemble-only  train nothing: write the file from the configurations already measured (after shards ran)
  --partial        with --assemble-only: write what there is, the rest listed in "missing" (a look at a run in
                   progress; the notebook warns, and such a file is not for committing)
  --work DIR       work folder: activations (~11 GB), SAEs, entries (default ${CLAIMS_WORK})
  --out FILE       the assembled grid (default ${CLAIMS_GRID_FILE}, committed)
  --model DIR      the model (default the embedded toy model)`,
};

async function gridCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    usage: USAGE.grid,
    help: HELP.grid,
    options: {
      jobs: { type: "string" },
      shard: { type: "string" },
      "harvest-only": { type: "boolean" },
      "assemble-only": { type: "boolean" },
      partial: { type: "boolean" },
      work: { type: "string" },
      out: { type: "string" },
      model: { type: "string" },
    },
  });
  const jobs = intArg(values, "jobs", { min: 1, default: 1 });
  // --jobs starts its own shards: the environment's shard (a Slurm array task, say) is not read then.
  const shard = jobs > 1 && values.shard === undefined ? undefined : resolveShard(values.shard);
  if (jobs > 1 && shard) throw new ArgumentError("--jobs and --shard do not go together: --jobs starts its own shards", { field: "jobs" });
  const log = (line: string) => process.stdout.write(`${shard ? `[${shard.index}/${shard.count}] ` : ""}${line}\n`);
  const stop = stopOnSignals("safesail claims grid: stopping at the next checkpoint");
  const common = { work: values.work, out: values.out, model: values.model, log, signal: stop.signal };
  try {
    if (jobs > 1) {
      // Harvest once here and assemble if every configuration is measured already (a rebuild); else N shard
      // processes (they find the finished stores), then assemble here.
      try {
        await buildClaimsGrid({ ...common, assembleOnly: true, processes: jobs, progress: terminalProgress() });
        return 0;
      } catch (err) {
        if (!(err instanceof ClaimsGridStopped) || stop.signal.aborted) throw err;
        log(err.message.replace(/; run the shards.*$/, ""));
      }
      log(`training ${gridConfigs().length} configurations on ${jobs} processes`);
      const bin = path.resolve(import.meta.dirname, "../../bin/safesail.js");
      const extra = [...(values.work ? ["--work", values.work] : []), ...(values.model ? ["--model", values.model] : [])];
      const codes = await Promise.all(
        Array.from({ length: jobs }, (_, i) =>
          new Promise<number>((resolve) => {
            // Own process groups, so a terminal's Ctrl-C reaches the shards once, through here: a second
            // signal there would make them exit at once instead of at their next checkpoint.
            const child = spawn(process.execPath, [bin, "claims", "grid", "--shard", `${i}/${jobs}`, ...extra], { stdio: ["ignore", "inherit", "inherit"], detached: true });
            const forward = () => child.kill("SIGTERM");
            stop.signal.addEventListener("abort", forward);
            process.once("exit", forward); // a second Ctrl-C here exits 130: the shards then exit too
            child.on("exit", (code) => {
              process.off("exit", forward);
              resolve(code ?? 1);
            });
          }),
        ),
      );
      if (codes.some((c) => c !== 0)) {
        process.stderr.write(`claims grid: shard exit codes ${codes.join(", ")}; what is done is kept, and the same command resumes\n`);
        return codes.includes(3) ? 3 : 1;
      }
      await buildClaimsGrid({ ...common, processes: jobs, progress: terminalProgress() });
      return 0;
    }
    await buildClaimsGrid({ ...common, shard, harvestOnly: values["harvest-only"], assembleOnly: values["assemble-only"], partial: values.partial, progress: terminalProgress() });
    return 0;
  } catch (err) {
    if (err instanceof ClaimsGridStopped || stop.signal.aborted) {
      process.stderr.write(`${err instanceof ClaimsGridStopped ? err.message : "claims grid: stopped"}; what is done is kept, and the same command resumes\n`);
      return 3;
    }
    throw err;
  } finally {
    stop.release();
  }
}

async function writeResults(executed: string, out: string): Promise<void> {
  let nb: unknown;
  try {
    nb = JSON.parse(await fsp.readFile(executed, "utf8"));
  } catch (err) {
    throw new ArgumentError(`${executed}: cannot read the executed notebook (${(err as Error).message})`, { file: executed });
  }
  await writeFileAtomic(out, resultsFromNotebook(nb, executed));
  process.stdout.write(`wrote ${path.relative(process.cwd(), out) || out} from ${executed}\n`);
}

async function resultsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({ args, usage: USAGE.results, help: HELP.results, maxPositionals: 1, options: { out: { type: "string" } } });
  if (positionals.length !== 1) throw new ArgumentError(`expected the executed notebook\nusage: ${USAGE.results}`, { field: "notebook" });
  await writeResults(positionals[0]!, path.resolve(values.out ?? path.join(REPO_ROOT, RESULTS_FILE)));
  return 0;
}

async function buildCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({ args, usage: USAGE.build, help: HELP.build, options: { retrain: { type: "boolean" }, jobs: { type: "string" }, out: { type: "string" }, timeout: { type: "string" } } });
  const jobs = intArg(values, "jobs", { min: 1, default: 2 });
  const timeout = intArg(values, "timeout", { min: 1, default: 1800 });
  const out = path.resolve(values.out ?? path.join(REPO_ROOT, RESULTS_FILE));
  const grid = values.retrain ? { current: false, reason: "--retrain" } : await claimsGridIsCurrent();
  if (grid.current) {
    process.stdout.write(`claims build: ${grid.reason}: not retrained (--retrain to build it again)\n`);
  } else {
    process.stdout.write(`claims build: building the grid (${grid.reason})\n`);
    const code = await gridCommand(["--jobs", String(jobs)]);
    if (code !== 0) return code;
  }
  const outDir = path.join(REPO_ROOT, CLAIMS_WORK, "notebook");
  await fsp.mkdir(outDir, { recursive: true });
  const [r] = await runNotebooks([path.join(REPO_ROOT, CLAIMS_NOTEBOOK)], { outDir, timeout });
  if (!r) throw new SafesailError(`claims build: ${CLAIMS_NOTEBOOK} gave no result`);
  process.stdout.write(`${describeResult(r)}\n`);
  if (!r.ok) return 1;
  await writeResults(r.out, out);
  return 0;
}

const GROUP_USAGE = `usage:
  ${USAGE.build}
  ${USAGE.grid}
  ${USAGE.results}

The paper's claims measured on the embedded toy model (docs/claims.md): \`build\` rebuilds everything (the SAE grid,
notebook 07, docs/results.md); \`grid\` trains and measures the SAEs; \`results\` writes the table of an executed
notebook. safesail claims SUBCOMMAND --help for each one's options.`;

export async function claimsCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "grid") return gridCommand(rest);
  if (sub === "build") return buildCommand(rest);
  if (sub === "results") return resultsCommand(rest);
  if (sub === "--help" || sub === "-h" || sub === "help") {
    process.stdout.write(`${GROUP_USAGE}\n`);
    return 0;
  }
  throw new ArgumentError(`expected a subcommand (build, grid, results), got ${sub === undefined ? "nothing" : JSON.stringify(sub)}\nusage: ${USAGE.build}\n       ${USAGE.grid}\n       ${USAGE.results}`, { field: "subcommand" });
}
