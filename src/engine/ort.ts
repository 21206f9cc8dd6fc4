// onnxruntime-node sessions: execution provider choice and the session options every safesail graph uses.
import * as ort from "onnxruntime-node";
import type { ExternalBlob } from "./onnx-builder.ts";

export type Device = "cpu" | "cuda";

export interface SessionConfig {
  device?: Device;
  /** Intra-op threads; default: ORT's choice (one per physical core). */
  threads?: number;
  /**
   * Let idle worker threads spin. Fast for a single graph; with several sessions taking turns, spinning
   * threads of the idle sessions steal cores from the busy one (measured 3-5x slower), so segmented
   * runs turn it off.
   */
  spinning?: boolean;
  /**
   * Folder of the graph's stored weights (GraphBuilder.storedWeight locations are relative to it). onnxruntime
   * maps those files instead of copying them, so every session of a model shares one copy of the weights, in the
   * page cache.
   */
  externalFolder?: string;
  /**
   * Let onnxruntime repack the weights of matrix products into its kernels' layout at session start (default
   * true). Repacking copies every weight matrix into fresh memory; with mapped weights it is turned off, which is
   * what keeps a load at mapping cost (bench/README.md, "Load").
   */
  prepack?: boolean;
}

/** The device asked for by SAFESAIL_DEVICE (cpu | cuda), else cpu. */
export function defaultDevice(): Device {
  const v = process.env.SAFESAIL_DEVICE;
  if (v === undefined || v === "" || v === "cpu") return "cpu";
  if (v === "cuda") return "cuda";
  throw new Error(`SAFESAIL_DEVICE must be "cpu" or "cuda", got ${JSON.stringify(v)}`);
}

export async function createSession(model: Uint8Array, blobs: ExternalBlob[], config: SessionConfig = {}): Promise<ort.InferenceSession> {
  const device = config.device ?? defaultDevice();
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: device === "cuda" ? ["cuda", "cpu"] : ["cpu"],
    graphOptimizationLevel: "all",
    // Warnings only restate choices made on purpose (overridable steering inputs); errors still surface.
    logSeverityLevel: 3,
    externalData: blobs.map((b) => ({ path: b.path, data: b.data })),
    extra: {
      session: {
        intra_op: { allow_spinning: config.spinning === false ? "0" : "1" },
        ...(config.prepack === false ? { disable_prepacking: "1" } : {}),
        ...(config.externalFolder ? { model_external_initializers_file_folder_path: config.externalFolder } : {}),
      },
    },
  };
  if (config.threads) options.intraOpNumThreads = config.threads;
  try {
    return await ort.InferenceSession.create(model, options);
  } catch (err) {
    if (device === "cuda") {
      throw new Error(`could not start onnxruntime with the CUDA execution provider (SAFESAIL_DEVICE=cuda): ${(err as Error).message}`);
    }
    throw err;
  }
}

export { ort };
