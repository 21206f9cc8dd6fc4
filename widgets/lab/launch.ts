// Building, installing and starting the safesail lab, for `safesail lab`, `safesail lab install`, the browser tests
// and the bench. The lab is the JupyterLab front end that build.mjs assembles from npm @jupyterlab/* packages,
// served by Debian's jupyter-server + jupyterlab-server (serve.py under /usr/bin/python3), with the safesail kernel
// and the safesail-widgets extension installed into a prefix of its own.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, promises as fsp } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { installKernelspec, userDataDir } from "../../kernel/src/install.ts";

export const LAB_DIR = fileURLToPath(new URL(".", import.meta.url));
export const WIDGETS_DIR = join(LAB_DIR, "..");
export const REPO_ROOT = join(WIDGETS_DIR, "..");
export const EXTENSION_NAME = "safesail-widgets";
export const EXTENSION_BUILD = join(WIDGETS_DIR, "labextension");
/** Where `safesail lab` installs its kernelspec and extension (JUPYTER_PATH points here). */
export const LAB_PREFIX = join(REPO_ROOT, ".cache", "lab");
const PYTHON = "/usr/bin/python3";

/** Debian packages the lab server needs (beyond what the kernel tests already install). */
export const LAB_SYSTEM_PACKAGES = ["python3-jupyter-server", "python3-jupyterlab-server"];

function missingPackages(packages: string[]): string[] {
  return packages.filter((p) => {
    const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", p], { encoding: "utf8" });
    return !(r.status === 0 && r.stdout.includes("install ok installed"));
  });
}

/** Installs the lab's Debian packages when missing (as root), else says which ones to install. */
export function ensureLabSystemDeps(log: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): void {
  const missing = missingPackages(LAB_SYSTEM_PACKAGES);
  if (!missing.length) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`safesail lab needs the Debian packages ${missing.join(", ")}: install them with apt-get install ${missing.join(" ")}`);
  }
  log(`safesail lab: installing ${missing.join(", ")} (apt)`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "inherit"], env });
  const install = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: ["ignore", "ignore", "inherit"], env });
  const still = missingPackages(missing);
  if (update.status !== 0 || install.status !== 0 || still.length) {
    throw new Error(`safesail lab: could not install ${still.join(", ") || missing.join(", ")} with apt-get (exit ${install.status ?? update.status})`);
  }
}

/** Builds the lab front end and the extension when their inputs changed (build.mjs keeps stamps). */
export function buildLab(opts: { force?: boolean; extensionOnly?: boolean } = {}): void {
  const argv = [join(LAB_DIR, "build.mjs")];
  if (opts.force) argv.push("--force");
  if (opts.extensionOnly) argv.push("--extension-only");
  const r = spawnSync(process.execPath, argv, { cwd: REPO_ROOT, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`building the lab failed (node widgets/lab/build.mjs, exit ${r.status})`);
}

export interface ExtensionInstallOptions {
  user?: boolean;
  prefix?: string;
  sysPrefix?: boolean;
}

/** Jupyter's labextensions folder for the chosen destination (the same rules as `safesail kernel install`). */
export function labextensionsDir(opts: ExtensionInstallOptions): string {
  const chosen = [opts.user, opts.prefix !== undefined, opts.sysPrefix].filter(Boolean).length;
  if (chosen > 1) throw new Error("choose one of --user, --prefix DIR, --sys-prefix");
  if (opts.prefix !== undefined) return join(resolve(opts.prefix), "share", "jupyter", "labextensions");
  if (opts.sysPrefix) return "/usr/local/share/jupyter/labextensions";
  return join(userDataDir(), "labextensions");
}

/**
 * Copies the built extension into <labextensions>/safesail-widgets, as `jupyter labextension install` would for a
 * prebuilt extension. The copy is made beside the destination and renamed into place.
 */
export async function installLabExtension(opts: ExtensionInstallOptions = {}): Promise<string> {
  if (!existsSync(join(EXTENSION_BUILD, "package.json"))) {
    throw new Error(`${EXTENSION_BUILD} is not built: run node widgets/lab/build.mjs (or safesail lab install, which builds it)`);
  }
  const parent = labextensionsDir(opts);
  const dest = join(parent, EXTENSION_NAME);
  await fsp.mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const tmp = join(parent, `.${EXTENSION_NAME}.tmp-${tag}`);
  const old = join(parent, `.${EXTENSION_NAME}.old-${tag}`);
  await fsp.cp(EXTENSION_BUILD, tmp, { recursive: true, filter: (src) => !src.endsWith(".stamp") });
  try {
    if (existsSync(dest)) await fsp.rename(dest, old);
    await fsp.rename(tmp, dest);
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.rm(old, { recursive: true, force: true });
  }
  return dest;
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? ok(addr.port) : fail(new Error("no port"))));
    });
  });
}

export interface StartLabOptions {
  /** Folder the lab opens (its file browser root). Default: notebooks/. */
  root?: string;
  /** Default: a free port. */
  port?: number;
  /** Default 127.0.0.1 (loopback only). */
  ip?: string;
  /** Default: 24 random bytes, hex. */
  token?: string;
  /** Prefix with share/jupyter/{kernels,labextensions}. Default: LAB_PREFIX, (re)installed first. */
  prefix?: string;
  /** Skip the build and install steps (the caller did them). */
  prepared?: boolean;
  /** Extra environment for the server (and the kernels it starts). */
  env?: NodeJS.ProcessEnv;
  /** Server log lines (stderr). Default: dropped. */
  onLog?: (line: string) => void;
  /** Give up waiting for the server after this long. Default 60 s. */
  timeoutMs?: number;
}

export interface RunningLab {
  url: string;
  /** The lab page with its token: what a browser opens. */
  urlWithToken: string;
  token: string;
  port: number;
  root: string;
  process: ChildProcess;
  /** Milliseconds from spawning the server to its first answer. */
  startMs: number;
  close(): Promise<void>;
}

/** Builds (when needed), installs the kernel and extension into the lab prefix, and starts the server. */
export async function startLab(opts: StartLabOptions = {}): Promise<RunningLab> {
  const prefix = resolve(opts.prefix ?? LAB_PREFIX);
  if (!opts.prepared) {
    ensureLabSystemDeps();
    buildLab();
    await installKernelspec({ prefix });
    await installLabExtension({ prefix });
  }
  const root = resolve(opts.root ?? join(REPO_ROOT, "notebooks"));
  const port = opts.port ?? (await freePort());
  const ip = opts.ip ?? "127.0.0.1";
  const token = opts.token ?? randomBytes(24).toString("hex");
  const jupyterPath = [join(prefix, "share", "jupyter"), process.env.JUPYTER_PATH].filter(Boolean).join(":");
  const argv = [
    join(LAB_DIR, "serve.py"),
    `--ServerApp.ip=${ip}`,
    `--ServerApp.port=${port}`,
    "--ServerApp.port_retries=0",
    `--ServerApp.root_dir=${root}`,
    "--ServerApp.open_browser=False",
    // The kernel list must come from JUPYTER_PATH (safesail) only: Debian's python3 kernel may be missing.
    "--KernelSpecManager.ensure_native_kernel=False",
  ];
  if (process.getuid?.() === 0) argv.push("--ServerApp.allow_root=True");
  const started = Date.now();
  const child = spawn(PYTHON, argv, {
    cwd: root,
    env: { ...process.env, ...opts.env, JUPYTER_PATH: jupyterPath, JUPYTER_TOKEN: token, SAFESAIL_LAB_STATE: join(prefix, "state") },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let exited: string | undefined;
  let tail = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-4000);
    if (opts.onLog) for (const line of chunk.split("\n")) if (line) opts.onLog(line);
  });
  child.on("exit", (code, signal) => {
    exited = `exit ${code ?? signal}`;
  });
  const url = `http://${ip === "0.0.0.0" ? "127.0.0.1" : ip}:${port}/lab`;
  const deadline = started + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new Error(`the lab server stopped (${exited}) before answering:\n${tail}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/status?token=${token}`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`the lab server did not answer on port ${port} within ${opts.timeoutMs ?? 60_000} ms:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const startMs = Date.now() - started;
  return {
    url,
    urlWithToken: `${url}?token=${token}`,
    token,
    port,
    root,
    process: child,
    startMs,
    close: async () => {
      if (exited) return;
      const done = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}
