// `import * as tslab from "tslab"` in cells: tslab's public API (tslab 1.0.22, `dist/public.d.ts`) on the
// safesail kernel's display.
//
// tslab's own module cannot be used as it is: its `display` writes through a callback that only tslab's own kernel
// sets (`jupyter.lastWriteDisplayData`), so in this kernel every call threw "Not ready". The cell's `require("tslab")`
// returns this module instead (executor.ts); cells type-check against tslab's own declarations (modules.ts maps
// `<cwd>/node_modules/tslab` to the kernel's tslab package, so notebooks outside the repository see them too).
//
// Semantics are tslab's (dist/public.js):
// - `display.<kind>(x)` sends `display_data` whose bundle holds that one mime type (no text/plain added), metadata
//   `{}`: javascript -> text/javascript, html -> text/html, markdown -> text/markdown, latex -> text/latex,
//   svg -> image/svg+xml, png / jpeg / gif -> image/*, pdf -> application/pdf, text -> text/plain.
// - png, jpeg, gif, pdf take bytes (`Uint8Array`), sent base64-encoded; `raw(contentType, data)` sends any mime
//   type, a Uint8Array base64-encoded, anything else (a string, or JSON for application/json) as it is.
// - `newDisplay()` makes a display with its own id: its first call is `display_data` with `transient.display_id`,
//   later calls are `update_display_data` of that id (the output is replaced in place).
// - `versions`: `{ tslab, typescript, node }`, the tslab and TypeScript that check cells, and Node.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { KernelApi, MimeBundle } from "./types.ts";

const KERNEL_KEY = Symbol.for("safesail.kernel.api");

function kernel(): KernelApi {
  const k = (globalThis as { [KERNEL_KEY]?: KernelApi })[KERNEL_KEY];
  if (!k) throw new Error("tslab.display: no running kernel (the safesail kernel provides tslab's display API to cells)");
  return k;
}

/** tslab's `Display` interface (dist/public.d.ts). */
export interface TslabDisplay {
  javascript(s: string): void;
  html(s: string): void;
  markdown(s: string): void;
  latex(s: string): void;
  svg(s: string): void;
  png(b: Uint8Array): void;
  jpeg(b: Uint8Array): void;
  gif(b: Uint8Array): void;
  pdf(b: Uint8Array): void;
  text(s: string): void;
  raw(contentType: string, b: string | Uint8Array): void;
}

class DisplayImpl implements TslabDisplay {
  private shown = false;
  constructor(private readonly id?: string) {}
  javascript(s: string): void {
    this.raw("text/javascript", s);
  }
  html(s: string): void {
    this.raw("text/html", s);
  }
  markdown(s: string): void {
    this.raw("text/markdown", s);
  }
  latex(s: string): void {
    this.raw("text/latex", s);
  }
  svg(s: string): void {
    this.raw("image/svg+xml", s);
  }
  png(b: Uint8Array): void {
    this.raw("image/png", b);
  }
  jpeg(b: Uint8Array): void {
    this.raw("image/jpeg", b);
  }
  gif(b: Uint8Array): void {
    this.raw("image/gif", b);
  }
  pdf(b: Uint8Array): void {
    this.raw("application/pdf", b);
  }
  text(s: string): void {
    this.raw("text/plain", s);
  }
  raw(contentType: string, b: string | Uint8Array): void {
    if (typeof contentType !== "string" || contentType === "") throw new TypeError("tslab display.raw: contentType must be a mime type string");
    const display = kernel().display;
    const data: MimeBundle = { [contentType]: b instanceof Uint8Array ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64") : b };
    if (this.id === undefined) {
      display.display(data);
    } else if (!this.shown) {
      display.display(data, { displayId: this.id });
      this.shown = true;
    } else {
      display.updateDisplay(this.id, data);
    }
  }
}

const req = createRequire(import.meta.url);

function packageVersion(name: string, from: NodeJS.Require = req): string {
  try {
    return (JSON.parse(readFileSync(from.resolve(`${name}/package.json`), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

let moduleObject: object | null = null;

/** What a cell's `require("tslab")` returns (one object per process). */
export function tslabModule(): object {
  if (moduleObject) return moduleObject;
  const tslabReq = createRequire(req.resolve("tslab/package.json"));
  const versions = Object.freeze({ tslab: packageVersion("tslab"), typescript: packageVersion("@tslab/typescript-for-tslab", tslabReq), node: process.version });
  const m = {
    versions,
    display: new DisplayImpl() as TslabDisplay,
    /** A display that shows one output and overwrites it on each later call. */
    newDisplay: (): TslabDisplay => new DisplayImpl(randomBytes(8).toString("hex")),
  };
  Object.defineProperty(m, "__esModule", { value: true });
  moduleObject = Object.freeze(m);
  return moduleObject;
}

