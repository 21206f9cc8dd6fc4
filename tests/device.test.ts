// SAFESAIL_DEVICE: "cuda" runs the graphs on onnxruntime's CUDA execution provider where it is installed. Where it
// is not (this machine and CI: the npm package leaves the CUDA binaries out), loading fails at once with how to
// install it; a bad value names the variable. On a machine with the provider the same load must succeed instead.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { ConfigError, UnsupportedError } from "../src/errors.ts";
import { CUDA_INSTALL_HINT, defaultDevice } from "../src/engine/ort.ts";
import { loadModel } from "../src/model/runtime.ts";

const ROOT = resolve(import.meta.dirname, "..");
const TOY = join(ROOT, "models", "toy-safety-qwen2");
const ortBin = join(dirname(createRequire(import.meta.url).resolve("onnxruntime-node")), "..", "bin", "napi-v6", process.platform, process.arch);
const cudaInstalled = existsSync(ortBin) && readdirSync(ortBin).some((f) => f.includes("providers_cuda"));

describe("SAFESAIL_DEVICE", () => {
  it("accepts cpu and cuda, and names the variable otherwise", () => {
    expect(defaultDevice({})).toBe("cpu");
    expect(defaultDevice({ SAFESAIL_DEVICE: "cpu" })).toBe("cpu");
    expect(defaultDevice({ SAFESAIL_DEVICE: "cuda" })).toBe("cuda");
    expect(() => defaultDevice({ SAFESAIL_DEVICE: "gpu" })).toThrow(ConfigError);
    expect(() => defaultDevice({ SAFESAIL_DEVICE: "gpu" })).toThrow(/SAFESAIL_DEVICE must be "cpu" or "cuda", got "gpu"/);
  });

  it.skipIf(cudaInstalled)("cuda without the provider: the load fails with how to install it", async () => {
    const err = await loadModel(TOY, { device: "cuda", weightCache: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/could not start onnxruntime with the CUDA execution provider/);
    expect((err as Error).message).toContain(CUDA_INSTALL_HINT);
  });

  it.runIf(cudaInstalled)("cuda with the provider installed: the toy model loads and runs", async () => {
    const model = await loadModel(TOY, { device: "cuda" });
    const out = await model.runWithCache([[1, 2, 3]], [], { logits: "last" });
    expect(out.logits.data.every(Number.isFinite)).toBe(true);
    await model.dispose();
  });

  it.skipIf(cudaInstalled)("the CLI reports it as one line and a non-zero exit, no stack trace", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "safesail.js"), "generate", TOY, "--prompt", "hi", "--max-new-tokens", "2"], {
      env: { ...process.env, SAFESAIL_DEVICE: "cuda" },
      encoding: "utf8",
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/CUDA execution provider/);
    expect(r.stderr).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
