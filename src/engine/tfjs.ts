// TensorFlow.js backend selection.
//
// Order tried: @tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node (native TensorFlow; used only when the
// user installed them — they are optional and their absence is not an error), then
// @tensorflow/tfjs-backend-wasm (shipped), then the pure-JS cpu backend. `SAFESAIL_TF_BACKEND`
// (node-gpu | node | wasm | cpu | auto) forces one; a forced backend that fails to start is an error.
//
// Performance note, measured on the wasm backend: matMul with a transpose flag, or with a batch
// dimension > 1, leaves the XNNPACK fast path for a naive kernel about 12x slower. Callers should
// keep weights pre-transposed to `[in, out]` and run plain 2-D matMuls on `[rows, in]` inputs.
import { createRequire } from "node:module";
import path from "node:path";
import type * as TfjsNamespace from "@tensorflow/tfjs";
import { ConfigError, UnsupportedError } from "../errors.ts";

/** The tfjs namespace. With tfjs-node this is the namespace that package re-exports. */
export type Tf = typeof TfjsNamespace;

// Imported on first use: tfjs takes about 0.65 s to import, which every `safesail` process (even `--help`)
// paid when this was a static import, although only the toy trainer and the tfjs forward use it.
let tfjsModule: Tf | undefined;
async function loadTfjs(): Promise<Tf> {
  tfjsModule ??= (await import("@tensorflow/tfjs")) as Tf;
  return tfjsModule;
}

/** Backends this module can start, in the order `auto` tries them. */
export const TF_BACKENDS = ["node-gpu", "node", "wasm", "cpu"] as const;
export type TfBackend = (typeof TF_BACKENDS)[number];

export const TF_BACKEND_ENV = "SAFESAIL_TF_BACKEND";

export interface TfHandle {
  tf: Tf;
  /** Which of {@link TF_BACKENDS} is running. */
  backend: TfBackend;
}

/** Imports a package that may not be installed; the specifier is a variable so bundlers and tsc leave it alone. */
async function importOptional(specifier: string): Promise<Record<string, unknown>> {
  return (await import(specifier)) as Record<string, unknown>;
}

/** Directory holding tfjs-backend-wasm's `.wasm` binaries (its package `dist/` folder), with a trailing separator. */
export function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  // The package's main entry is dist/tf-backend-wasm.node.js, next to the .wasm files.
  return path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm")) + path.sep;
}

async function startNative(pkg: "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node"): Promise<Tf> {
  const mod = await importOptional(pkg);
  // tfjs-node re-exports the whole tfjs API and registers the "tensorflow" backend on its own copy
  // of tfjs-core, which may differ from ours: use the namespace it exports.
  const ns = ((mod as { default?: unknown }).default ?? mod) as Tf;
  if (typeof ns.setBackend !== "function") throw new UnsupportedError(`${pkg} did not export the tfjs API`);
  if (!(await ns.setBackend("tensorflow"))) throw new UnsupportedError(`${pkg}: the "tensorflow" backend failed to start`);
  await ns.ready();
  return ns;
}

let wasmPathsSet = false;

async function startWasm(): Promise<Tf> {
  const wasm = (await import("@tensorflow/tfjs-backend-wasm")) as typeof import("@tensorflow/tfjs-backend-wasm");
  if (!wasmPathsSet) {
    // In Node the Emscripten loader would find the binaries next to its own script anyway; set the
    // prefix explicitly so bundled or relocated installs keep working. Must precede setBackend.
    wasm.setWasmPaths(wasmBinaryDir());
    wasmPathsSet = true;
  }
  const tfjs = await loadTfjs();
  if (!(await tfjs.setBackend("wasm"))) throw new UnsupportedError("@tensorflow/tfjs-backend-wasm: the wasm backend failed to start");
  await tfjs.ready();
  return tfjs;
}

async function startCpu(): Promise<Tf> {
  const tfjs = await loadTfjs();
  if (!(await tfjs.setBackend("cpu"))) throw new UnsupportedError("tfjs: the cpu backend failed to start");
  await tfjs.ready();
  return tfjs;
}

/** Starts one backend; throws when it is unavailable. */
export async function startBackend(backend: TfBackend): Promise<Tf> {
  switch (backend) {
    case "node-gpu":
      return startNative("@tensorflow/tfjs-node-gpu");
    case "node":
      return startNative("@tensorflow/tfjs-node");
    case "wasm":
      return startWasm();
    case "cpu":
      return startCpu();
  }
}

/** Reads `SAFESAIL_TF_BACKEND`; `null` means auto. */
export function requestedBackend(env: NodeJS.ProcessEnv = process.env): TfBackend | null {
  const raw = env[TF_BACKEND_ENV]?.trim().toLowerCase();
  if (raw === undefined || raw === "" || raw === "auto") return null;
  if ((TF_BACKENDS as readonly string[]).includes(raw)) return raw as TfBackend;
  throw new ConfigError(`${TF_BACKEND_ENV}=${JSON.stringify(env[TF_BACKEND_ENV])}: unknown tfjs backend; use one of auto, ${TF_BACKENDS.join(", ")}`, {
    field: TF_BACKEND_ENV,
  });
}

async function selectBackend(): Promise<TfHandle> {
  const forced = requestedBackend();
  if (forced !== null) {
    try {
      return { tf: await startBackend(forced), backend: forced };
    } catch (err) {
      throw new UnsupportedError(`${TF_BACKEND_ENV}=${forced}: that tfjs backend could not be started: ${(err as Error)?.message ?? String(err)}`, {
        field: TF_BACKEND_ENV,
        cause: err,
      });
    }
  }
  const failures: string[] = [];
  for (const backend of TF_BACKENDS) {
    try {
      return { tf: await startBackend(backend), backend };
    } catch (err) {
      failures.push(`${backend}: ${(err as Error)?.message ?? String(err)}`);
    }
  }
  throw new UnsupportedError(`no tfjs backend could be started (${failures.join("; ")})`);
}

let handle: Promise<TfHandle> | null = null;

/**
 * The tfjs namespace with the best available backend started (memoised; the first call decides).
 * A failed selection is not cached, so a later call may retry.
 */
export function getTf(): Promise<TfHandle> {
  if (handle === null) {
    handle = selectBackend();
    handle.catch(() => {
      handle = null;
    });
  }
  return handle;
}
