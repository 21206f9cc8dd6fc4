// `import ... from "safesail/<name>"` in notebook cells.
//
// The problem: tslab type-checks cells with its own TypeScript 5.0 (`@tslab/typescript-for-tslab`, fixed
// compiler options, moduleResolution node10, no path mapping) and runs them as CommonJS through `require`. The
// project's sources are ESM TypeScript with `.ts` import specifiers, which node10 resolution cannot find as
// "safesail/..." and plain `require` cannot load at all.
//
// The choice, in three parts, with one source of truth (the root package.json "exports" map, which points
// subpaths at .ts files and also lets tsx/Node scripts `import "safesail/model"` by self-reference):
//  1. Types: on first use, the project's own TypeScript (5.9) emits declaration files for the exported modules
//     into node_modules/.cache/safesail-kernel/decl-<hash>/pkg/ (hash of the sources' paths, sizes and mtimes,
//     so edits regenerate them; `noCheck`, about a second), plus one `<subpath>.d.ts` per export re-exporting
//     the emitted declarations.
//  2. Resolution for tslab's compiler: its `ts.sys` file-system calls are wrapped (compiler-host.ts) so that
//     `<cwd>/node_modules/safesail/...` (where node10 resolution looks from any notebook folder) maps to that
//     generated package. Only paths under that one prefix are rewritten.
//  3. Run time: before a cell runs, its `safesail/*` imports are loaded with a real ESM `import()` (through
//     tsx's loader, which bin/safesail.js registers), and the cell's `require` returns those module namespaces.
//     So a cell gets the very same module instances the kernel itself uses (one `getKernel()` state, one model
//     cache), top-level await in those modules works, and no .ts file is ever compiled to CommonJS.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { log } from "./log.ts";

type TslabTs = typeof import("@tslab/typescript-for-tslab");

/** The repository root (this file is kernel/src/modules.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PACKAGE_NAME = "safesail";

const require = createRequire(import.meta.url);

/** `safesail/<subpath>` -> absolute .ts path, from the root package.json "exports". */
export function exportsMap(root = REPO_ROOT): Map<string, string> {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports?: Record<string, unknown> };
  const out = new Map<string, string>();
  for (const [key, target] of Object.entries(pkg.exports ?? {})) {
    const file = typeof target === "string" ? target : (target as { import?: unknown; default?: unknown })?.import ?? (target as { default?: unknown })?.default;
    if (typeof file !== "string" || !/\.(m?ts|tsx)$/.test(file)) continue;
    const spec = key === "." ? PACKAGE_NAME : `${PACKAGE_NAME}/${key.replace(/^\.\//, "")}`;
    out.set(spec, resolve(root, file));
  }
  return out;
}

export function isPackageSpecifier(spec: string): boolean {
  return spec === PACKAGE_NAME || spec.startsWith(`${PACKAGE_NAME}/`);
}

function walkTs(dir: string, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names.sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walkTs(p, out);
    else if (/\.(m?ts|tsx)$/.test(name) && !name.endsWith(".d.ts")) out.push(p);
  }
}

/** Generates (or reuses) the declaration package; returns its folder. Synchronous (called from tslab's resolver). */
export function ensureDeclarations(root = REPO_ROOT): string {
  const exp = exportsMap(root);
  const ts = require("typescript") as typeof import("typescript");
  const files: string[] = [];
  for (const d of ["src", "kernel/src"]) walkTs(join(root, d), files);
  const h = createHash("sha256");
  h.update(`ts ${ts.version}\n${JSON.stringify([...exp])}\n`);
  for (const f of files) {
    const st = statSync(f);
    h.update(`${relative(root, f)} ${st.size} ${st.mtimeMs}\n`);
  }
  const hash = h.digest("hex").slice(0, 16);
  const cacheRoot = join(root, "node_modules", ".cache", "safesail-kernel");
  const dir = join(cacheRoot, `decl-${hash}`);
  if (existsSync(join(dir, "pkg", "package.json"))) return dir;

  const started = Date.now();
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  const options: import("typescript").CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    resolveJsonModule: true,
    allowImportingTsExtensions: true,
    declaration: true,
    emitDeclarationOnly: true,
    noCheck: true,
    types: ["node"],
    lib: ["lib.es2022.d.ts"],
    rootDir: root,
    // Emitted inside the package folder itself, so every type a cell infers is nameable as
    // "safesail/src/..." (a folder beside it would make TypeScript call such types "not portable", TS2742).
    outDir: join(tmp, "pkg"),
  };
  const program = ts.createProgram([...exp.values()], options);
  const emitted = program.emit();
  if (emitted.emitSkipped) {
    const msg = ts.formatDiagnostics(emitted.diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => "\n" });
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`safesail module declarations could not be generated:\n${msg}`);
  }
  const pkgDir = join(tmp, "pkg");
  for (const [spec, file] of exp) {
    const sub = spec === PACKAGE_NAME ? "index" : spec.slice(PACKAGE_NAME.length + 1);
    const declFile = join(tmp, "pkg", relative(root, file)).replace(/\.(m?ts|tsx)$/, ".d.ts");
    const entry = join(pkgDir, `${sub}.d.ts`);
    mkdirSync(dirname(entry), { recursive: true });
    let rel = relative(dirname(entry), declFile).split(sep).join("/").replace(/\.d\.ts$/, ".js");
    if (!rel.startsWith(".")) rel = `./${rel}`;
    let text = `export * from ${JSON.stringify(rel)};\n`;
    if (existsSync(declFile) && /\bexport default\b|export \{[^}]*\bdefault\b/.test(readFileSync(declFile, "utf8"))) {
      text += `export { default } from ${JSON.stringify(rel)};\n`;
    }
    writeFileSync(entry, text);
  }
  writeFileSync(join(pkgDir, "package.json"), JSON.stringify({ name: PACKAGE_NAME, private: true, types: "index.d.ts" }) + "\n");
  try {
    renameSync(tmp, dir);
  } catch {
    // Another kernel made the same folder first: use theirs.
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`generated declarations for ${[...exp.keys()].join(", ")} in ${Date.now() - started} ms (${dir})`);
  pruneOld(cacheRoot, dir);
  return dir;
}

/** Removes declaration folders of older sources, leaving recent ones a concurrent kernel may still read. */
function pruneOld(cacheRoot: string, keep: string): void {
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const name of readdirSync(cacheRoot)) {
    const p = join(cacheRoot, name);
    if (p === keep || !name.startsWith("decl-")) continue;
    try {
      if (statSync(p).mtimeMs < dayAgo) rmSync(p, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
}

/**
 * Path mapping for tslab's compiler: `<cwd>/node_modules/safesail/...` -> the generated declaration package
 * (generated lazily, the first time the compiler looks there). Other paths pass through unchanged.
 */
export function packagePathMap(cwd: string, root = REPO_ROOT): (p: string) => string {
  const virtual = join(cwd, "node_modules", PACKAGE_NAME);
  // A notebook folder outside the repository with no node_modules of its own type-checks against the
  // repository's packages (the cell's require falls back to them too).
  const cwdModules = join(cwd, "node_modules");
  const rel = relative(root, cwd);
  const outside = rel.startsWith("..") || rel.startsWith(sep) || /^[A-Za-z]:/.test(rel);
  const fallback = outside && !existsSync(cwdModules) ? join(root, "node_modules") : null;
  // `import * as tslab from "tslab"` type-checks against the tslab package the kernel runs on (whose API the
  // cell's require("tslab") provides, tslab.ts), wherever the notebook is.
  const tslabVirtual = join(cwdModules, "tslab");
  let tslabDir: string | null = null;
  try {
    tslabDir = dirname(require.resolve("tslab/package.json"));
  } catch {
    tslabDir = null;
  }
  let pkgDir: string | null = null;
  let failed = false;
  return (p: string): string => {
    if (typeof p !== "string") return p;
    if (tslabDir && (p === tslabVirtual || p.startsWith(tslabVirtual + "/"))) return tslabDir + p.slice(tslabVirtual.length);
    if (p !== virtual && !p.startsWith(virtual + "/")) {
      return fallback && (p === cwdModules || p.startsWith(cwdModules + "/")) ? fallback + p.slice(cwdModules.length) : p;
    }
    if (!pkgDir && !failed) {
      try {
        pkgDir = join(ensureDeclarations(root), "pkg");
      } catch (err) {
        failed = true;
        log((err as Error).message);
      }
    }
    return pkgDir ? pkgDir + p.slice(virtual.length) : p;
  };
}

/** Runtime side: ESM namespaces of `safesail/*` modules a cell imports, handed out by the cell's `require`. */
export class PackageModules {
  private readonly loaded = new Map<string, object>();
  private map: Map<string, string> | null = null;

  constructor(private readonly root = REPO_ROOT) {}

  private exports(): Map<string, string> {
    this.map ??= exportsMap(this.root);
    return this.map;
  }

  /** Loads every `safesail/*` specifier of `specifiers` not loaded yet. Unknown subpaths are left to fail at require. */
  async preload(specifiers: Iterable<string>): Promise<void> {
    for (const spec of specifiers) {
      if (!isPackageSpecifier(spec) || this.loaded.has(spec)) continue;
      const file = this.exports().get(spec);
      if (!file) continue;
      const ns = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      this.loaded.set(spec, interop(ns));
    }
  }

  /** The module for `require(spec)`, or undefined when `spec` is not a package specifier. Throws for unknown subpaths. */
  require(spec: string): object | undefined {
    if (!isPackageSpecifier(spec)) return undefined;
    const m = this.loaded.get(spec);
    if (m) return m;
    const known = [...this.exports().keys()].join(", ");
    if (!this.exports().has(spec)) throw new Error(`Cannot find module '${spec}': the safesail package exports ${known}`);
    throw new Error(`module '${spec}' was not preloaded (import it with a static import or import() in the cell)`);
  }

  specifiers(): string[] {
    return [...this.exports().keys()];
  }
}

/** A CommonJS view of an ES module namespace: live getters plus `__esModule` so TS's interop helpers pass it through. */
function interop(ns: Record<string, unknown>): object {
  const o: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(ns)) Object.defineProperty(o, key, { enumerable: true, get: () => ns[key] });
  Object.defineProperty(o, "__esModule", { value: true });
  return Object.freeze(o);
}
