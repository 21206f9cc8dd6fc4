// The run manifest of a supplement (docs/supplement.md): what ran, on what, from which inputs. Versions of node,
// safesail and the npm packages that compute or draw something; python and the Jupyter packages that execute the
// notebooks; the git commit; sha256 of every input file the notebooks read (the toy model and its SAEs, data/,
// the notebooks' own folder); the seeds each notebook passes; per-notebook timings and results.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { cpus, release } from "node:os";
import { join, relative, sep } from "node:path";
import { SYSTEM_PYTHON } from "../notebooks.ts";

export const MANIFEST_KIND = "safesail-supplement";
export const MANIFEST_VERSION = 1;

/** How the notebooks are kept deterministic (the manifest's seeds.policy). */
export const SEED_POLICY =
  "Fixed seeds: every random choice in the notebooks takes an explicit seed (listed per notebook, as found in its code " +
  "cells) or the library default, which is 0 (SAE initialisation and batch order in trainSae, the activation readers' " +
  "shuffles, buildMap, steering sweeps). Generation is greedy unless a temperature is given, and sampling then takes a " +
  "seed too. The embedded toy model, its corpus and its shipped SAEs were built with fixed seeds (toy corpus seed 2509; " +
  "models/toy-safety-qwen2/README.md) and are inputs here, hashed below. Seeds fix the data, but not the order in which " +
  "onnxruntime's threads sum: SAE training without threads: 1 can differ in its last digits from run to run, and any " +
  "computation can on another CPU or thread count (docs/supplement.md lists which notebooks repeat exactly; " +
  "`safesail supplement compare` checks two builds).";

/** npm packages whose versions go into the manifest (those that compute, tokenise, execute or draw). */
export const KEY_PACKAGES = [
  "onnxruntime-node",
  "onnxruntime-common",
  "@huggingface/transformers",
  "@tensorflow/tfjs",
  "@tensorflow/tfjs-backend-wasm",
  "arquero",
  "umap-js",
  "plotly.js-dist-min",
  "marked",
  "sanitize-html",
  "@jupyter-widgets/base",
  "@jupyter-widgets/controls",
  "@jupyter-widgets/html-manager",
  "esbuild",
  "tsx",
  "typescript",
];

/** Python packages that execute and sign the notebooks. */
export const PYTHON_PACKAGES = ["nbclient", "nbformat", "jupyter_client", "jupyter_core", "pyzmq", "traitlets"];

/** Folders of inputs that the notebooks read, relative to the repository root. */
export const INPUT_FOLDERS = ["models/toy-safety-qwen2", "data"];

export interface FileHash {
  path: string;
  bytes: number;
  sha256: string;
}

export interface InputTree {
  /** The folder, relative to the repository root. */
  folder: string;
  files: FileHash[];
  /** sha256 over the sorted "sha256  path\n" lines (sha256sum's format): one number for the whole folder. */
  sha256: string;
}

export interface PythonInfo {
  executable: string;
  version: string | null;
  packages: Record<string, string | null>;
  error?: string;
}

export interface Environment {
  node: string;
  platform: string;
  arch: string;
  os_release: string;
  cpu: { model: string; count: number };
  safesail: string;
  packages: Record<string, string | null>;
  /** sha256 of package-lock.json: every npm version at once. */
  package_lock_sha256: string | null;
  onnxruntime: { version: string | null; execution_provider: string };
  python: PythonInfo;
}

export interface GitInfo {
  commit: string;
  /** Whether tracked files differ from the commit (untracked files are not counted). */
  dirty: boolean;
}

export interface NotebookEntry {
  /** The notebook as given, relative to the repository root when inside it. */
  file: string;
  source_sha256: string;
  title: string;
  ok: boolean;
  /** Wall time of its run, kernel start included. */
  seconds: number;
  cells: number;
  error: { cell: number | null; ename: string; evalue: string } | null;
  /** The executed notebook, relative to the supplement folder (null: nothing was written). */
  executed: string | null;
  /** Its page, relative to the supplement folder (null: not published). */
  page: string | null;
  publish_error?: string;
  widgets: number;
  /** Widgets of its page that run on the in-page model (Generate works with no kernel). */
  in_page?: number;
  signed: boolean;
  /** Seeds passed in its code cells (`seed: N`, `seed = N`), in order of first appearance. */
  seeds: number[];
}

export interface Manifest {
  kind: typeof MANIFEST_KIND;
  version: typeof MANIFEST_VERSION;
  title: string;
  created: string;
  command: string;
  ok: boolean;
  git: GitInfo | null;
  environment: Environment;
  seeds: { policy: string };
  inputs: InputTree[];
  notebooks: NotebookEntry[];
  /**
   * The claims table (docs/claims.md), written from this run's executed claims notebook when it ran: `file` in the
   * supplement, `notebook` it came from, and whether it equals the repository's committed docs/results.md.
   */
  results?: { file: string; notebook: string; matches_committed: boolean } | null;
  timings: { prepare_s: number; notebooks_s: number; publish_s: number; total_s: number };
}

function sh(cmd: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { cwd, maxBuffer: 16 << 20, timeout: 60_000 }, (err, stdout, stderr) =>
      res({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

export function fileSha256(file: string): Promise<string> {
  return new Promise((res, rej) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", rej)
      .on("end", () => res(hash.digest("hex")));
  });
}

/** Every file under `dir` (dot-files and dot-folders skipped; subfolders only when `recursive`), sorted by path. */
function listFiles(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith(".")) continue;
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        if (recursive) walk(p);
      } else if (st.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * sha256 of every file of `folder` (relative to `root`; its subfolders too unless `recursive` is false), less those
 * `skip` names, and one digest over them all.
 */
export async function hashTree(root: string, folder: string, opts: { recursive?: boolean; skip?: (rel: string) => boolean } = {}): Promise<InputTree> {
  const files: FileHash[] = [];
  const abs = join(root, folder);
  const skip = opts.skip ?? (() => false);
  if (existsSync(abs)) {
    for (const f of listFiles(abs, opts.recursive ?? true)) {
      const rel = relative(root, f).split(sep).join("/");
      if (skip(rel)) continue;
      files.push({ path: rel, bytes: statSync(f).size, sha256: await fileSha256(f) });
    }
  }
  const sha256 = createHash("sha256").update(files.map((f) => `${f.sha256}  ${f.path}\n`).join("")).digest("hex");
  return { folder, files, sha256 };
}

/** The seeds a notebook's code cells pass: `seed: 0`, `seed = 3`, `seed: 0,` (in order of first appearance). */
export function discoverSeeds(cells: readonly { cell_type: string; source: string | string[] }[]): number[] {
  const seeds: number[] = [];
  for (const cell of cells) {
    if (cell.cell_type !== "code") continue;
    const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    for (const m of src.matchAll(/\bseed\s*[:=]\s*(-?\d+)\b/g)) {
      const n = Number(m[1]);
      if (!seeds.includes(n)) seeds.push(n);
    }
  }
  return seeds;
}

function packageVersion(root: string, name: string): string | null {
  for (const base of [join(root, "node_modules"), join(root, "widgets", "node_modules"), join(root, "kernel", "node_modules")]) {
    const file = join(base, name, "package.json");
    if (!existsSync(file)) continue;
    try {
      return String((JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version ?? null);
    } catch {
      return null;
    }
  }
  return null;
}

export async function pythonInfo(python = SYSTEM_PYTHON): Promise<PythonInfo> {
  const code = [
    "import json, platform",
    "from importlib import metadata",
    "out = {'version': platform.python_version(), 'packages': {}}",
    `for name in ${JSON.stringify(PYTHON_PACKAGES)}:`,
    "    try: out['packages'][name] = metadata.version(name)",
    "    except Exception: out['packages'][name] = None",
    "print(json.dumps(out))",
  ].join("\n");
  const r = await sh(python, ["-c", code], process.cwd());
  if (r.code !== 0) return { executable: python, version: null, packages: {}, error: (r.stderr || r.stdout).trim().slice(0, 500) };
  const parsed = JSON.parse(r.stdout) as { version: string; packages: Record<string, string | null> };
  return { executable: python, version: parsed.version, packages: parsed.packages };
}

export async function environmentInfo(root: string): Promise<Environment> {
  const packages: Record<string, string | null> = {};
  for (const name of KEY_PACKAGES) packages[name] = packageVersion(root, name);
  const lock = join(root, "package-lock.json");
  const safesail = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
  const cpu = cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    os_release: release(),
    cpu: { model: cpu[0]?.model.trim() ?? "unknown", count: cpu.length },
    safesail,
    packages,
    package_lock_sha256: existsSync(lock) ? await fileSha256(lock) : null,
    onnxruntime: { version: packages["onnxruntime-node"] ?? null, execution_provider: process.env.SAFESAIL_DEVICE ?? "cpu" },
    python: await pythonInfo(),
  };
}

export async function gitInfo(root: string): Promise<GitInfo | null> {
  const head = await sh("git", ["rev-parse", "HEAD"], root);
  if (head.code !== 0) return null;
  const status = await sh("git", ["status", "--porcelain", "--untracked-files=no"], root);
  return { commit: head.stdout.trim(), dirty: status.code === 0 ? status.stdout.trim() !== "" : true };
}
