// `safesail kernel install`: writes the `safesail` kernelspec (kernel.json + logo) from the template in
// jupyter-config/kernelspec/, with absolute paths to this node binary and bin/safesail.js.
//
// Destinations follow Jupyter's data directories:
//   --user (default)  $JUPYTER_DATA_DIR/kernels, else ${XDG_DATA_HOME:-~/.local/share}/jupyter/kernels
//   --prefix DIR      DIR/share/jupyter/kernels
//   --sys-prefix      /usr/local/share/jupyter/kernels (Debian's Jupyter searches it; needs root)
// The folder is built next to its destination and renamed into place, so a reader sees the old spec or the
// new one, never a half-written one.
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fsyncDir } from "../../src/util/atomic.ts";
import { REPO_ROOT } from "./modules.ts";

export interface InstallOptions {
  user?: boolean;
  prefix?: string;
  sysPrefix?: boolean;
  /** Kernelspec folder name (default "safesail"). */
  name?: string;
  displayName?: string;
  /** "signal" (default): Jupyter interrupts with SIGINT; "message": with interrupt_request on control. */
  interruptMode?: "signal" | "message";
  /** Extra environment for the kernel process. */
  env?: Record<string, string>;
}

export const TEMPLATE_DIR = join(REPO_ROOT, "jupyter-config", "kernelspec");

export function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return resolve(process.env.JUPYTER_DATA_DIR);
  const xdg = process.env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(xdg, "jupyter");
}

export function kernelsDir(opts: InstallOptions): string {
  const chosen = [opts.user, opts.prefix !== undefined, opts.sysPrefix].filter(Boolean).length;
  if (chosen > 1) throw new Error("choose one of --user, --prefix DIR, --sys-prefix");
  if (opts.prefix !== undefined) return join(resolve(opts.prefix), "share", "jupyter", "kernels");
  if (opts.sysPrefix) return "/usr/local/share/jupyter/kernels";
  return join(userDataDir(), "kernels");
}

/** The kernel.json this install writes. */
export async function renderKernelJson(opts: InstallOptions = {}): Promise<Record<string, unknown>> {
  const template = await fsp.readFile(join(TEMPLATE_DIR, "kernel.json"), "utf8");
  const values: Record<string, string> = {
    node: process.execPath,
    safesail_bin: join(REPO_ROOT, "bin", "safesail.js"),
    repo: REPO_ROOT,
  };
  // Substitute inside parsed strings (no JSON escaping pitfalls); {connection_file} is Jupyter's.
  const fill = (v: unknown): unknown => {
    if (typeof v === "string") return v.replace(/\{(node|safesail_bin|repo)\}/g, (_, k: string) => values[k]!);
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  const spec = fill(JSON.parse(template)) as Record<string, unknown>;
  if (opts.displayName) spec.display_name = opts.displayName;
  if (opts.interruptMode) spec.interrupt_mode = opts.interruptMode;
  if (opts.env) spec.env = { ...(spec.env as Record<string, string>), ...opts.env };
  return spec;
}

/** Installs the kernelspec; returns its folder. */
export async function installKernelspec(opts: InstallOptions = {}): Promise<string> {
  const name = opts.name ?? "safesail";
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`kernel name ${JSON.stringify(name)}: use letters, digits, ".", "_" or "-"`);
  const parent = kernelsDir(opts);
  const dest = join(parent, name.toLowerCase());
  await fsp.mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const tmp = join(parent, `.${name}.tmp-${tag}`);
  await fsp.mkdir(tmp);
  try {
    const spec = await renderKernelJson(opts);
    await fsp.writeFile(join(tmp, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
    for (const f of await fsp.readdir(TEMPLATE_DIR)) {
      if (f !== "kernel.json") await fsp.copyFile(join(TEMPLATE_DIR, f), join(tmp, f));
    }
    for (const f of await fsp.readdir(tmp)) {
      const h = await fsp.open(join(tmp, f), "r");
      await h.sync().finally(() => h.close());
    }
    await fsyncDir(tmp);
    const old = join(parent, `.${name}.old-${tag}`);
    let moved = false;
    try {
      await fsp.rename(dest, old);
      moved = true;
    } catch (err) {
      if ((err as { code?: string }).code !== "ENOENT") throw err;
    }
    await fsp.rename(tmp, dest);
    if (moved) await fsp.rm(old, { recursive: true, force: true });
    await fsyncDir(parent);
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  return dest;
}
