// `safesail supplement`: the reproducible supplement (every numbered notebook executed headless on the toy model,
// published offline with an index and a run manifest), and `safesail supplement compare A B` (did two builds
// compute the same numbers?). Thin over src/cli/supplement/ (docs/supplement.md).
import { isAbsolute, relative } from "node:path";
import { ArgumentError } from "../errors.ts";
import { parseCliArgs } from "./args.ts";
import { buildSupplement, DEFAULT_SUPPLEMENT_DIR, formatSeconds, type SupplementOptions } from "./supplement/build.ts";
import { compareSupplements } from "./supplement/outputs.ts";
import type { NotebookEntry } from "./supplement/manifest.ts";

const USAGE = `usage: safesail supplement [--out DIR] [--notebooks LIST] [--overwrite] [--title TEXT] [--timeout S]
       safesail supplement compare DIR_A DIR_B [--json]

Executes the notebooks headless, in order, on the embedded toy model with fixed seeds (a fresh kernel each),
and publishes them as self-contained offline pages: DIR/index.html (one entry per notebook: its first heading,
run time, passed or failed; the manifest), DIR/NN-name.html per notebook (widgets live from their saved state,
Plotly figures drawn in the page), DIR/notebooks/*.ipynb (the executed notebooks) and DIR/manifest.json (node,
safesail, npm, onnxruntime, python and Jupyter versions, the seeds, sha256 of the model, SAE and data files,
per-notebook wall time and result, the git commit). Prints the file:// URL of the index to open.

  --out DIR         output folder (default ${DEFAULT_SUPPLEMENT_DIR})
  --notebooks LIST  comma-separated notebooks, run in this order: paths, or names in notebooks/ ("00,05-starmap");
                    default: every notebooks/NN-*.ipynb except the 99 appendix
  --overwrite       replace an earlier supplement in DIR (a folder that is not one is never replaced)
  --title TEXT      title of the index page
  --timeout S       seconds each cell may run (default 600)

Everything is checked before a notebook runs; the supplement is built next to DIR and moved into place at the
end, so an interrupted build leaves the previous one. A failing notebook does not stop the run: its page shows
the error, the index marks it failed, and the exit code is 1.

compare DIR_A DIR_B: whether two supplements computed the same: every output of every code cell and the saved
widget state, with timings, timestamps, temporary paths and widget ids masked; exit 1 on any difference.`;

/** `p` relative to the current directory when it is inside it, else as given. */
function shortPath(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") && !isAbsolute(r) ? r : p;
}

/** Prints a supplement build on the terminal and returns the exit code (shared with `safesail demo`). */
export async function runSupplement(opts: Omit<SupplementOptions, "events">): Promise<number> {
  const out = process.stdout;
  const err = process.stderr;
  const tty = Boolean(err.isTTY);
  let ticker: NodeJS.Timeout | undefined;
  let width = 0;
  const clearLine = () => {
    if (tty && width > 0) err.write(`\r${" ".repeat(width)}\r`);
    width = 0;
  };
  const stopTicker = () => {
    if (ticker) clearInterval(ticker);
    ticker = undefined;
    clearLine();
  };
  const name = (f: string) => f.split("/").pop()!;
  let pad = 0;
  try {
    const r = await buildSupplement({
      ...opts,
      events: {
        log: (m) => {
          clearLine();
          err.write(`${m}\n`);
        },
        onStart: ({ notebooks, out: dir }) => {
          pad = Math.max(...notebooks.map((f) => name(f).length));
          out.write(`supplement: ${notebooks.length} notebook${notebooks.length === 1 ? "" : "s"} on the toy model -> ${shortPath(dir)}\n`);
        },
        onNotebookStart: (i, n, file) => {
          if (!tty) return;
          const started = Date.now();
          const draw = () => {
            const line = `  [${i + 1}/${n}] ${name(file).padEnd(pad)}  running ${formatSeconds((Date.now() - started) / 1000)}`;
            err.write(`\r${line.padEnd(width)}`);
            width = Math.max(width, line.length);
          };
          stopTicker();
          draw();
          ticker = setInterval(draw, 1000);
        },
        onNotebookDone: (i, n, e: NotebookEntry) => {
          stopTicker();
          const what = e.ok ? "passed" : "FAILED";
          const why = e.error ? `  ${e.error.cell !== null ? `cell ${e.error.cell}: ` : ""}${e.error.ename}${e.error.evalue ? `: ${e.error.evalue.split("\n")[0]}` : ""}` : "";
          out.write(`  [${i + 1}/${n}] ${name(e.file).padEnd(pad)}  ${what} ${formatSeconds(e.seconds).padStart(10)}${why}\n`);
        },
        onPublished: ({ pages, bytes }) => out.write(`published ${pages} page${pages === 1 ? "" : "s"} (${(bytes / 1e6).toFixed(1)} MB), index and manifest\n`),
      },
    });
    const failed = r.manifest.notebooks.filter((e) => !e.ok);
    const total = formatSeconds(r.manifest.timings.total_s);
    const n = r.manifest.notebooks.length;
    if (failed.length === 0) out.write(`supplement: ${n === 1 ? "the notebook" : `all ${n} notebooks`} passed in ${total}\n`);
    else out.write(`supplement: ${failed.length} of ${n} failed (${failed.map((e) => name(e.file)).join(", ")}) in ${total}\n`);
    out.write(`manifest: ${r.manifestPath}\nopen:     ${r.indexUrl}\n`);
    return r.ok ? 0 : 1;
  } finally {
    stopTicker();
  }
}

export async function supplementCommand(args: string[]): Promise<number> {
  if (args[0] === "compare") return compareCommand(args.slice(1));
  const { values } = parseCliArgs({
    args,
    maxPositionals: 0,
    usage: "safesail supplement [--out DIR] [--notebooks LIST] [--overwrite] [--title TEXT] [--timeout S]",
    help: USAGE,
    options: {
      out: { type: "string" },
      notebooks: { type: "string" },
      overwrite: { type: "boolean" },
      title: { type: "string" },
      timeout: { type: "string" },
    },
  });
  return runSupplement({
    out: values.out ?? DEFAULT_SUPPLEMENT_DIR,
    ...(values.notebooks !== undefined ? { notebooks: notebookList(values.notebooks) } : {}),
    overwrite: values.overwrite === true,
    ...(values.title !== undefined ? { title: values.title } : {}),
    ...(values.timeout !== undefined ? { timeout: positiveSeconds(values.timeout) } : {}),
    command: ["safesail", "supplement", ...args].join(" "),
  });
}

/** `--notebooks a,b,c` as a list (empty items refused). */
export function notebookList(value: string): string[] {
  const items = value.split(",").map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === "")) throw new ArgumentError(`--notebooks must be a comma-separated list of notebooks, got "${value}"`);
  return items;
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new ArgumentError(`--timeout must be a positive number of seconds, got "${value}"`);
  return n;
}

async function compareCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 2,
    usage: "safesail supplement compare DIR_A DIR_B [--json]",
    help: USAGE,
    options: { json: { type: "boolean" } },
  });
  if (positionals.length !== 2) throw new ArgumentError("compare needs two supplement folders: safesail supplement compare DIR_A DIR_B");
  const c = compareSupplements(positionals[0]!, positionals[1]!);
  const same = c.differences.length === 0 && c.onlyIn.a.length === 0 && c.onlyIn.b.length === 0;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ same, ...c }, null, 2)}\n`);
    return same ? 0 : 1;
  }
  for (const d of c.differences.slice(0, 50)) {
    process.stdout.write(`${d.notebook}: ${d.where}\n  A: ${d.a ?? "(missing)"}\n  B: ${d.b ?? "(missing)"}\n`);
  }
  if (c.differences.length > 50) process.stdout.write(`... ${c.differences.length - 50} more\n`);
  for (const n of c.onlyIn.a) process.stdout.write(`only in ${positionals[0]}: ${n}\n`);
  for (const n of c.onlyIn.b) process.stdout.write(`only in ${positionals[1]}: ${n}\n`);
  process.stdout.write(
    same
      ? `same: ${c.compared.length} notebooks, ${c.records} outputs and widget states identical (timings masked)\n`
      : `different: ${c.differences.length} of ${c.records} outputs differ across ${c.compared.length} notebooks compared\n`,
  );
  return same ? 0 : 1;
}
