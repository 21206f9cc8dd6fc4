// `safesail notebooks run [FILES...] [--timeout S] [--kernel NAME] [--inplace | --out DIR] [--no-sign]`: executes
// notebooks headless with nbclient (kernel/py/run_notebooks.py under Debian's /usr/bin/python3), writes the executed
// notebooks back (temp file + rename) with the widget state of the models still open at the end in
// metadata.widgets, signs them (trusted) in the Jupyter data dir unless --no-sign, prints PASS / FAIL per notebook
// with the first error, exits 1 on any failure.
//
// The kernel is looked up as Jupyter does (JUPYTER_PATH, the user and system folders). When the safesail kernel
// is not installed anywhere, it is installed for this run only, into a temp prefix, with `safesail kernel install
// --prefix` and found through JUPYTER_PATH.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ArgumentError, NotFoundError, SafesailError } from "../errors.ts";
import { floatArg, parseCliArgs } from "./args.ts";

export const SYSTEM_PYTHON = "/usr/bin/python3";
const RUNNER = fileURLToPath(new URL("../../kernel/py/run_notebooks.py", import.meta.url));
const SAFESAIL_BIN = fileURLToPath(new URL("../../bin/safesail.js", import.meta.url));

const USAGE = `usage: safesail notebooks run NOTEBOOK... [--timeout S] [--kernel NAME] [--inplace | --out DIR] [--no-sign]

  --timeout S   seconds each cell may run (default 600)
  --kernel NAME kernelspec to run them with (default safesail)
  --inplace     write the executed notebooks back over the inputs (the default)
  --out DIR     write them to DIR instead
  --no-sign     do not sign the written notebooks (they open untrusted)

Each notebook runs in a fresh kernel until its end or its first failing cell; the executed notebook (outputs,
the error included) is written either way. The state of the widgets still open at the end goes into
metadata.widgets ("application/vnd.jupyter.widget-state+json", binary buffers base64), so widget views render from
the saved file. Written notebooks are signed as Jupyter signs notebooks it executed (nbformat's NotebookNotary:
the secret and signature database of the Jupyter data dir, $JUPYTER_DATA_DIR or ~/.local/share/jupyter), so
JupyterLab opens them trusted. Prints PASS or FAIL per notebook; exit 1 when any failed.`;

export interface NotebookResult {
  path: string;
  out: string;
  /** Whether the executed notebook was written to `out` (false: the input was not a readable notebook, or the write failed). */
  written?: boolean;
  ok: boolean;
  seconds: number;
  cells: number;
  error: { cell: number | null; ename: string; evalue: string } | null;
  /** Widget models written to metadata.widgets (0: none were open at the end, and the key is absent). */
  widgets?: number;
  /** Whether the written notebook was signed in the Jupyter data dir's signature database. */
  signed?: boolean;
  /** Why signing failed (the run itself does not fail for it). */
  sign_error?: string | null;
}

interface Proc {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, onLine?: (line: string) => void, stderr: "pipe" | "inherit" = "pipe"): Promise<Proc> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", stderr] });
    let out = "";
    let err = "";
    let pending = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      out += chunk;
      if (!onLine) return;
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => (err += chunk));
    child.on("error", (e) => rej(new SafesailError(`${cmd}: ${e.message}`, { cause: e })));
    child.on("close", (code, signal) => res({ code: code ?? (signal ? 128 : 1), stdout: out, stderr: err }));
  });
}

/** Kernelspec names Jupyter finds with this environment. */
export async function findKernelSpecs(env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  const code = "import json\nfrom jupyter_client.kernelspec import KernelSpecManager\nprint(json.dumps(KernelSpecManager().find_kernel_specs()))";
  const r = await run(SYSTEM_PYTHON, ["-c", code], env);
  if (r.code !== 0) throw new SafesailError(`${SYSTEM_PYTHON}: cannot list Jupyter kernelspecs (is python3-jupyter-client installed?)\n${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Record<string, string>;
}

/**
 * An environment in which Jupyter finds `kernel`: the current one if it does already, else (for "safesail") one
 * with a temp-prefix install on JUPYTER_PATH. `cleanup` removes the temp prefix.
 */
export async function kernelEnvironment(kernel: string): Promise<{ env: NodeJS.ProcessEnv; cleanup: () => void; installed: string | null }> {
  const env = { ...process.env };
  const specs = await findKernelSpecs(env);
  if (kernel in specs) return { env, cleanup: () => {}, installed: null };
  if (kernel !== "safesail") {
    throw new NotFoundError(`--kernel ${kernel}: no such Jupyter kernelspec (found: ${Object.keys(specs).sort().join(", ") || "none"})`);
  }
  const prefix = mkdtempSync(join(tmpdir(), "safesail-kernelspec-"));
  const cleanup = () => rmSync(prefix, { recursive: true, force: true });
  const r = await run(process.execPath, [SAFESAIL_BIN, "kernel", "install", "--prefix", prefix], env);
  const dataDir = join(prefix, "share", "jupyter");
  if (r.code !== 0 || !existsSync(join(dataDir, "kernels", kernel))) {
    cleanup();
    throw new SafesailError(`the safesail kernel is not installed and \`safesail kernel install --prefix\` failed:\n${(r.stderr || r.stdout).trim()}`);
  }
  env.JUPYTER_PATH = env.JUPYTER_PATH ? `${dataDir}${delimiter}${env.JUPYTER_PATH}` : dataDir;
  return { env, cleanup, installed: dataDir };
}

export interface RunOptions {
  kernel?: string;
  /** Seconds per cell. */
  timeout?: number;
  /** Folder for the executed notebooks; default: in place. */
  outDir?: string;
  /** Sign the written notebooks (default true); false is `--no-sign`. */
  sign?: boolean;
  onResult?: (r: NotebookResult) => void;
  /** Called when the kernelspec had to be installed for this run (with the JUPYTER_PATH folder). */
  onKernelInstalled?: (dataDir: string) => void;
}

export async function runNotebooks(files: string[], opts: RunOptions = {}): Promise<NotebookResult[]> {
  const kernel = opts.kernel ?? "safesail";
  const { env, cleanup, installed } = await kernelEnvironment(kernel);
  if (installed) opts.onKernelInstalled?.(installed);
  try {
    const args = [RUNNER, "--kernel", kernel, "--timeout", String(opts.timeout ?? 600)];
    if (opts.outDir) args.push("--out", opts.outDir);
    if (opts.sign === false) args.push("--no-sign");
    args.push("--", ...files);
    const results: NotebookResult[] = [];
    const r = await run(SYSTEM_PYTHON, args, env, (line) => {
      if (!line.trim()) return;
      let parsed: NotebookResult;
      try {
        parsed = JSON.parse(line) as NotebookResult;
      } catch {
        process.stderr.write(`${line}\n`);
        return;
      }
      results.push(parsed);
      opts.onResult?.(parsed);
    }, "inherit");
    if (r.code !== 0 && results.length < files.length) {
      throw new SafesailError(`${RUNNER} exited with code ${r.code} after ${results.length} of ${files.length} notebooks`);
    }
    return results;
  } finally {
    cleanup();
  }
}

export function describeResult(r: NotebookResult): string {
  // The executed notebook (a failed one too, with its error output) is written; the path is shown only when it was.
  let where = r.written === false ? " (nothing written)" : r.out !== r.path ? ` -> ${r.out}` : "";
  if (r.sign_error) where += ` (not signed: ${r.sign_error})`;
  if (r.ok) return `PASS ${r.path} (${r.cells} cells, ${r.seconds.toFixed(1)} s)${where}`;
  const e = r.error;
  const cell = e?.cell !== null && e?.cell !== undefined ? `cell ${e.cell}: ` : "";
  const msg = e ? `${cell}${e.ename}${e.evalue ? `: ${e.evalue}` : ""}` : "failed";
  return `FAIL ${r.path}: ${msg}${where}`;
}

export async function notebooksCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "--help" || sub === "-h" || sub === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (sub !== "run") throw new ArgumentError(`unknown subcommand ${sub === undefined ? "(none)" : `"${sub}"`}\n\n${USAGE}`);
  const { values, positionals } = parseCliArgs({
    args: rest,
    allowPositionals: true,
    usage: "safesail notebooks run NOTEBOOK... [--timeout S] [--kernel NAME] [--inplace | --out DIR] [--no-sign]",
    help: USAGE,
    options: {
      timeout: { type: "string" },
      kernel: { type: "string" },
      inplace: { type: "boolean" },
      out: { type: "string" },
      "no-sign": { type: "boolean" },
    },
  });
  if (positionals.length === 0) throw new ArgumentError(`no notebooks given\n\n${USAGE}`);
  if (values.inplace && values.out !== undefined) throw new ArgumentError("give --inplace or --out DIR, not both");
  const timeout = floatArg(values, "timeout", { gt: 0, default: 600 });
  for (const f of positionals) if (!existsSync(f)) throw new NotFoundError(`${f}: no such notebook`);
  const outDir = values.out !== undefined ? resolve(values.out) : undefined;
  if (outDir) {
    const seen = new Set<string>();
    for (const f of positionals) {
      if (seen.has(basename(f))) throw new ArgumentError(`--out: two notebooks are named ${basename(f)}`);
      seen.add(basename(f));
    }
  }
  let failed = 0;
  const results = await runNotebooks(positionals, {
    kernel: values.kernel ?? "safesail",
    timeout,
    ...(outDir ? { outDir } : {}),
    sign: !values["no-sign"],
    onKernelInstalled: (dir) => process.stderr.write(`notebooks: the safesail kernel is not installed; using a temporary install (${dir})\n`),
    onResult: (r) => {
      if (!r.ok) failed++;
      process.stdout.write(`${describeResult(r)}\n`);
    },
  });
  process.stdout.write(`notebooks: ${results.length - failed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}
