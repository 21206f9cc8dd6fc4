// onnxruntime-web sessions: the browser twin of ort.ts (same exports). The in-page bundle of a published page
// (widgets/scripts/build-inpage.mjs) resolves every import of `engine/ort.ts` to this module, so the runtime,
// the graph builder and the SAE code run unchanged on the WebAssembly CPU backend.
//
// A published page may be opened from file://, where nothing can be fetched and no worker can start: the page
// hands the WebAssembly binary over as bytes (`setWasmBinary`) before the first session, and sessions run on one
// thread (several need cross-origin isolation, which a static page does not have).
import * as ort from "onnxruntime-web/wasm";
import type { ExternalBlob } from "./onnx-builder.ts";
// The types are Node's (a type-only import: nothing of onnxruntime-node reaches the bundle). `threads` and
// `spinning` are ignored here: the page runs one WebAssembly thread.
import type { Device, SessionConfig } from "./ort.ts";

export type { Device, SessionConfig };

export function defaultDevice(): Device {
  return "cpu";
}

/** The onnxruntime-web WebAssembly binary (ort-wasm-simd-threaded.wasm), given before the first session. */
export function setWasmBinary(bytes: Uint8Array): void {
  ort.env.wasm.wasmBinary = bytes;
}

let configured = false;

function configure(): void {
  if (configured) return;
  configured = true;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = "error";
}

export async function createSession(model: Uint8Array, blobs: ExternalBlob[], config: SessionConfig = {}): Promise<ort.InferenceSession> {
  if (config.device === "cuda") throw new Error("a published page runs the model on the CPU (WebAssembly); there is no CUDA here");
  configure();
  return ort.InferenceSession.create(model, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
    externalData: blobs.map((b) => ({ path: b.path, data: b.data })),
  });
}

export { ort };
