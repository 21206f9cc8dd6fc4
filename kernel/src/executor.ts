// Runs TypeScript cells. tslab's converter (used as a library) type-checks a cell against the declarations of
// earlier cells and turns it into CommonJS that reads earlier cells' values from a shared `exports` object; this
// executor owns that object, the cell's `require`, running the code and interrupting it.
//
// - Synchronous code runs inside `vm.runInThisContext(..., { breakOnSigint: true })`: SIGINT stops a blocking
//   loop with an exception instead of killing the process.
// - A cell with top-level await becomes an async function; its promise is raced against an interrupt promise
//   that `interrupt()` (the kernel's SIGINT handler) rejects, so SIGINT also stops a cell that awaits forever.
//   (Code that blocks synchronously *after* an await, in a promise continuation, cannot be stopped that way.)
// - The value of the last expression statement is returned for `execute_result`.
import { createRequire } from "node:module";
import { dirname, extname, join, resolve } from "node:path";
import vm from "node:vm";
import { patchTslabSys, type CompilerHostPatch } from "./compiler-host.ts";
import { log } from "./log.ts";
import { expandShorthandProperties } from "./shorthand.ts";
import { packagePathMap, PackageModules, REPO_ROOT } from "./modules.ts";
import { tslabModule } from "./tslab.ts";

type TslabTs = typeof import("@tslab/typescript-for-tslab");
type ConverterModule = typeof import("tslab/dist/converter.js");
type Converter = import("tslab/dist/converter.js").Converter;
type Diagnostic = import("tslab/dist/converter.js").Diagnostic;
type MetadataModule = typeof import("tslab/dist/metadata.js");

const req = createRequire(import.meta.url);
const converterPath = req.resolve("tslab/dist/converter.js");
const tslabReq = createRequire(converterPath);

export interface ExecOk {
  status: "ok";
  /** False when the cell ends without an expression statement, or its value is undefined. */
  hasValue: boolean;
  value?: unknown;
}
export interface ExecError {
  status: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}
export type ExecResult = ExecOk | ExecError;

export interface CompletionResult {
  matches: string[];
  cursorStart: number;
  cursorEnd: number;
}

export type IsCompleteResult = { status: "complete" } | { status: "incomplete"; indent: string } | { status: "invalid" };

export class InterruptedError extends Error {
  constructor() {
    super("execution interrupted (SIGINT)");
    this.name = "KeyboardInterrupt";
  }
}

/** Jupyter cursor positions count Unicode code points; JavaScript strings index UTF-16 code units. */
export function codePointsToUtf16(s: string, cp: number): number {
  let i = 0;
  for (let n = 0; n < cp && i < s.length; n++) i += s.codePointAt(i)! > 0xffff ? 2 : 1;
  return i;
}
export function utf16ToCodePoints(s: string, index: number): number {
  let n = 0;
  for (let i = 0; i < index && i < s.length; n++) i += s.codePointAt(i)! > 0xffff ? 2 : 1;
  return n;
}

const CELL_SLOT = "safesail.kernel.cell";

function errorResult(err: unknown): ExecError {
  if (err instanceof Error) {
    const name = err.name || err.constructor?.name || "Error";
    const stack = typeof err.stack === "string" ? err.stack : `${name}: ${err.message}`;
    // Keep the cell's frames; drop the kernel's own (everything from the vm call into the kernel sources).
    const lines = stack.split("\n");
    const kept: string[] = [];
    for (const line of lines) {
      if (/^\s+at /.test(line) && (line.includes(`${REPO_ROOT}/kernel/src/`) || line.includes("node:vm") || line.includes("node:internal"))) continue;
      kept.push(line);
    }
    return { status: "error", ename: name, evalue: err.message, traceback: kept };
  }
  let text: string;
  try {
    text = typeof err === "string" ? err : JSON.stringify(err) ?? String(err);
  } catch {
    text = String(err);
  }
  return { status: "error", ename: "Uncaught", evalue: text, traceback: [`Uncaught ${text}`] };
}

function diagnosticsResult(diags: readonly Diagnostic[], ename = "TSError"): ExecError {
  const lines = diags.map((d) => `${d.fileName ? `${d.fileName} ` : ""}${d.start.line + 1}:${d.start.character + 1} - ${d.messageText}`);
  return { status: "error", ename, evalue: diags.map((d) => d.messageText).join("\n"), traceback: lines };
}

/** Runs `fn` with console output of the converter itself sent to the kernel log instead of the cell. */
function quietly<T>(fn: () => T): T {
  const saved = { log: console.log, warn: console.warn, error: console.error };
  const sink = () => {};
  console.log = console.warn = console.error = sink;
  try {
    return fn();
  } finally {
    Object.assign(console, saved);
  }
}


export class Executor {
  readonly cwd: string;
  private readonly ts: TslabTs;
  private readonly tslab: ConverterModule;
  private readonly metadata: MetadataModule;
  private converter: Converter | null = null;
  private readonly host: CompilerHostPatch;
  private prevDecl = "";
  private readonly store: Record<string, unknown> = {};
  /** What compiled cells see as `exports`: definitions are stored as plain (rewritable) values. */
  private readonly exportsProxy: Record<string, unknown>;
  private readonly packages = new PackageModules();
  private readonly sideOutputs = new Map<string, string>();
  private readonly sideModules = new Map<string, { exports: unknown }>();
  private readonly baseRequire: NodeJS.Require;
  private readonly repoRequire: NodeJS.Require;
  private running = false;
  private interruptRequested = false;
  private rejectInterrupt: ((err: Error) => void) | null = null;
  private cellCounter = 0;

  /** Cells resolve relative imports and packages from the process's working folder (the notebook's). */
  constructor() {
    this.cwd = process.cwd();
    this.ts = tslabReq("@tslab/typescript-for-tslab") as TslabTs;
    this.tslab = req(converterPath) as ConverterModule;
    this.metadata = tslabReq("./metadata.js") as MetadataModule;
    this.host = patchTslabSys(this.ts, packagePathMap(this.cwd));
    const store = this.store;
    this.exportsProxy = new Proxy(store, {
      defineProperty(_t, prop, attrs) {
        if (prop === "__esModule") return true;
        store[prop as string] = attrs.get ? attrs.get() : attrs.value;
        return true;
      },
    });
    this.baseRequire = createRequire(join(this.cwd, "__cell__.js"));
    this.repoRequire = createRequire(join(REPO_ROOT, "__cell__.js"));
  }

  /** Creates the TypeScript converter (a few hundred ms) if not done yet. */
  warm(): void {
    this.conv();
  }

  private conv(): Converter {
    this.converter ??= quietly(() => this.tslab.createConverter());
    // Local modules edited since the last cell are recompiled (see compiler-host.ts).
    try {
      this.host.pollChanges();
    } catch (err) {
      log(`checking local modules for changes failed: ${(err as Error).message}`);
    }
    return this.converter;
  }

  get busy(): boolean {
    return this.running;
  }

  /** Cell-scope values (what earlier cells declared). */
  get locals(): Readonly<Record<string, unknown>> {
    return this.store;
  }

  /** Stops the running cell (SIGINT handler). No effect when nothing runs. */
  interrupt(): boolean {
    if (!this.running) return false;
    this.interruptRequested = true;
    this.rejectInterrupt?.(new InterruptedError());
    return true;
  }

  private cellRequire(fromDir: string, base: NodeJS.Require): NodeJS.Require {
    const self = this;
    const fn = function require(id: string): unknown {
      const pkg = self.packages.require(id);
      if (pkg) return pkg;
      // tslab's display API, on this kernel's display (tslab.ts).
      if (id === "tslab") return tslabModule();
      const side = self.requireSideOutput(fromDir, id);
      if (side !== undefined) return side;
      try {
        return base(id);
      } catch (err) {
        // Packages of the safesail repository also resolve for notebooks kept outside it.
        if ((err as { code?: string }).code === "MODULE_NOT_FOUND" && !id.startsWith(".") && !id.startsWith("/")) {
          try {
            return self.repoRequire(id);
          } catch {
            // report the original error
          }
        }
        throw err;
      }
    } as NodeJS.Require;
    fn.resolve = base.resolve;
    fn.cache = base.cache;
    fn.main = base.main;
    fn.extensions = base.extensions;
    return fn;
  }

  /** Local .ts files a cell imports are compiled by the converter ("side outputs") and loaded here. */
  private requireSideOutput(fromDir: string, id: string): unknown {
    if (!id.startsWith(".") && !id.startsWith("/")) return undefined;
    let file = resolve(fromDir, id);
    if (extname(file) === "") file += ".js";
    else if (/\.tsx?$/.test(file)) file = file.replace(/\.tsx?$/, ".js");
    const cached = this.sideModules.get(file);
    if (cached) return cached.exports;
    const code = this.sideOutputs.get(file);
    if (code === undefined) return undefined;
    const mod = { exports: {} as unknown };
    this.sideModules.set(file, mod);
    const wrapper = vm.runInThisContext(`(function (exports, require, module, __filename, __dirname) {${code}\n})`, { filename: file }) as (...a: unknown[]) => void;
    wrapper(mod.exports, this.cellRequire(dirname(file), createRequire(file)), mod, file, dirname(file));
    return mod.exports;
  }

  private importSpecifiers(src: string): string[] {
    try {
      return this.ts.preProcessFile(src, true, true).importedFiles.map((f) => f.fileName);
    } catch {
      return [];
    }
  }

  /** Type-checks, compiles and runs one cell. Never throws. */
  async execute(src: string, filename = `<cell ${this.cellCounter + 1}>`): Promise<ExecResult> {
    this.running = true;
    this.interruptRequested = false;
    const interrupted = new Promise<never>((_, reject) => {
      this.rejectInterrupt = reject;
    });
    interrupted.catch(() => {});
    try {
      this.cellCounter++;
      return await this.executeInner(src, filename, interrupted);
    } catch (err) {
      return errorResult(err);
    } finally {
      this.running = false;
      this.rejectInterrupt = null;
    }
  }

  private async executeInner(src: string, filename: string, interrupted: Promise<never>): Promise<ExecResult> {
    const meta = this.metadata.getCodeMetadata(src);
    if (meta.mode === "browser") {
      return { status: "error", ename: "UnsupportedError", evalue: "//%browser cells are not supported by the safesail kernel", traceback: [] };
    }
    if (meta.module) {
      // tslab's `//%module: name` cells define an importable in-memory module ("./name").
      const diags = quietly(() => this.conv().addModule(meta.module!, src, meta));
      return diags.length ? diagnosticsResult(diags) : { status: "ok", hasValue: false };
    }
    const converted = quietly(() => this.conv().convert(this.prevDecl, expandShorthandProperties(src)));
    for (const out of converted.sideOutputs ?? []) {
      this.sideModules.delete(out.path);
      this.sideOutputs.set(out.path, out.data);
    }
    if (converted.diagnostics.length > 0) return diagnosticsResult(converted.diagnostics);
    if (!converted.output) {
      this.prevDecl = converted.declOutput ?? "";
      return { status: "ok", hasValue: false };
    }
    await Promise.race([this.packages.preload(this.importSpecifiers(src)), interrupted]);
    // One event-loop turn lets a SIGINT that came in while the cell was type-checked reach the handler.
    await new Promise((r) => setImmediate(r));
    if (this.interruptRequested) throw new InterruptedError();

    const slot = globalThis as unknown as Record<symbol, unknown>;
    slot[Symbol.for(CELL_SLOT)] = { exports: this.exportsProxy, require: this.cellRequire(this.cwd, this.baseRequire) };
    const head = converted.hasToplevelAwait ? "(async function (exports, require) {" : "(function (exports, require) {";
    const code = `${head}${converted.output}\n}).call(this, globalThis[Symbol.for(${JSON.stringify(CELL_SLOT)})].exports, globalThis[Symbol.for(${JSON.stringify(CELL_SLOT)})].require)`;
    // Later cells see this cell's declarations even when it throws part-way (as in IPython).
    this.prevDecl = converted.declOutput ?? "";
    let ret: unknown;
    try {
      ret = vm.runInThisContext(code, { filename, breakOnSigint: true, displayErrors: false });
    } catch (err) {
      if ((err as { code?: string }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") throw new InterruptedError();
      throw err;
    }
    if (converted.hasToplevelAwait) await Promise.race([ret, interrupted]);
    if (!converted.lastExpressionVar) return { status: "ok", hasValue: false };
    const value = this.store[converted.lastExpressionVar];
    delete this.store[converted.lastExpressionVar];
    return value === undefined ? { status: "ok", hasValue: false } : { status: "ok", hasValue: true, value };
  }

  complete(src: string, cursorPos: number): CompletionResult {
    const pos = codePointsToUtf16(src, cursorPos);
    try {
      const info = quietly(() => this.conv().complete(this.prevDecl, src, pos));
      return { matches: info.candidates, cursorStart: utf16ToCodePoints(src, info.start), cursorEnd: utf16ToCodePoints(src, info.end) };
    } catch {
      return { matches: [], cursorStart: cursorPos, cursorEnd: cursorPos };
    }
  }

  /** Quick info (type and docs) at the cursor, as text; null when there is nothing there. */
  inspect(src: string, cursorPos: number): string | null {
    const pos = codePointsToUtf16(src, cursorPos);
    for (const p of pos > 0 ? [pos, pos - 1] : [pos]) {
      let info: ReturnType<Converter["inspect"]> | undefined;
      try {
        info = quietly(() => this.conv().inspect(this.prevDecl, src, p));
      } catch {
        info = undefined;
      }
      if (!info) continue;
      const head = (info.displayParts ?? []).map((d) => d.text).join("");
      const docs = (info.documentation ?? []).map((d) => d.text).join("");
      const tags = (info.tags ?? []).map((t) => `@${t.name}${t.text ? ` ${t.text.map((x) => x.text).join("")}` : ""}`);
      const text = [head, docs, tags.join("\n")].filter((s) => s.trim() !== "").join("\n\n");
      if (text) return text;
    }
    return null;
  }

  isComplete(src: string): IsCompleteResult {
    if (src.trim() === "") return { status: "complete" };
    const r = this.tslab.isCompleteCode(src);
    if (!r.completed) return { status: "incomplete", indent: r.indent ?? "" };
    const sf = this.ts.createSourceFile("cell.ts", src, this.ts.ScriptTarget.Latest, false, this.ts.ScriptKind.TS);
    const diags = (sf as unknown as { parseDiagnostics?: { code: number }[] }).parseDiagnostics ?? [];
    if (diags.length === 0) return { status: "complete" };
    // An open template literal goes on over lines (TS 1160 "Unterminated template literal").
    if (diags.some((d) => d.code === 1160)) return { status: "incomplete", indent: "" };
    return { status: "invalid" };
  }

  /** Evaluates a JavaScript expression with the cells' variables in scope (user_expressions). */
  evaluateExpression(expr: string): unknown {
    const fn = vm.runInThisContext(`(function (__scope) { with (__scope) { return (${expr}\n); } })`, { filename: "<user expression>" }) as (s: unknown) => unknown;
    return fn(this.store);
  }

  close(): void {
    this.converter?.close();
    this.converter = null;
  }
}

export { errorResult };
