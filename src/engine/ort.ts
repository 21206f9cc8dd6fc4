// onnxruntime-node sessions: execution provider choice and the session options every safesail graph uses.
import * as ort from "onnxruntime-node";
import { ConfigError, UnsupportedError } from "../errors.ts";
import { DataType, GraphBuilder, type ExternalBlob } from "./onnx-builder.ts";

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
export function defaultDevice(env: NodeJS.ProcessEnv = process.env): Device {
  const v = env.SAFESAIL_DEVICE;
  if (v === undefined || v === "" || v === "cpu") return "cpu";
  if (v === "cuda") return "cuda";
  throw new ConfigError(`SAFESAIL_DEVICE must be "cpu" or "cuda", got ${JSON.stringify(v)}`, { field: "SAFESAIL_DEVICE" });
}

/**
 * How to get the CUDA execution provider: onnxruntime-node's npm package leaves its CUDA binaries out (too large
 * for the registry) and downloads them at install time only when asked (docs/scale-out.md, "GPU").
 */
export const CUDA_INSTALL_HINT =
  "install onnxruntime-node's CUDA binaries with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` " +
  "(needs an NVIDIA driver, CUDA 12 and cuDNN 9 on the library path; see docs/scale-out.md), or unset SAFESAIL_DEVICE to run on the CPU";

function cudaError(err: unknown): UnsupportedError {
  return new UnsupportedError(`could not start onnxruntime with the CUDA execution provider (SAFESAIL_DEVICE=cuda): ${(err as Error).message}; ${CUDA_INSTALL_HINT}`, {
    field: "SAFESAIL_DEVICE",
    cause: err,
  });
}

let cudaCheck: Promise<void> | null = null;

/**
 * Fails early, with how to fix it, when `device` cannot run: a one-node session on the CUDA execution provider
 * (once per process). Loading calls it, so a missing provider is reported at load, not at the first forward.
 */
export function checkDevice(device: Device): Promise<void> {
  if (device === "cpu") return Promise.resolve();
  cudaCheck ??= (async () => {
    const g = new GraphBuilder("device_check");
    g.input("x", DataType.FLOAT, [1]);
    g.op("Identity", ["x"], {}, { outputs: ["y"] });
    g.output("y", DataType.FLOAT, [1]);
    const session = await createSession(g.build().model, [], { device });
    await session.release();
  })();
  return cudaCheck;
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
  // SAFESAIL_ORT_PROFILE=PREFIX: onnxruntime's own per-operator profile of every session, written as
  // PREFIX_<date>.json when the session is released (bench/README.md reads them with bench/ort-profile.ts).
  const profile = process.env.SAFESAIL_ORT_PROFILE;
  if (profile) {
    options.enableProfiling = true;
    options.profileFilePrefix = profile;
  }
  try {
    return await ort.InferenceSession.create(model, options);
  } catch (err) {
    if (device === "cuda") throw cudaError(err);
    throw err;
  }
}

export { ort };
