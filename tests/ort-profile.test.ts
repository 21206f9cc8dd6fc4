// SAFESAIL_ORT_PROFILE=PREFIX makes every onnxruntime session write its per-operator profile when it is released,
// and bench/ort-profile.ts sums such files by operator and node (how bench/README.md's profiles are made).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadModel } from "../src/model/runtime.ts";

const ROOT = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "safesail-ort-profile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("SAFESAIL_ORT_PROFILE", () => {
  it("writes onnxruntime's profile of a model's sessions, which bench/ort-profile.ts sums by operator", async () => {
    process.env.SAFESAIL_ORT_PROFILE = join(dir, "toy");
    try {
      const model = await loadModel(join(ROOT, "models", "toy-safety-qwen2"));
      await model.runWithCache([[1, 2, 3, 4]], [], { logits: "last" });
      await model.runWithCache([[5, 6, 7, 8]], [], { logits: "last" });
      await model.dispose();
    } finally {
      delete process.env.SAFESAIL_ORT_PROFILE;
    }
    const files = readdirSync(dir).filter((f) => f.startsWith("toy_") && f.endsWith(".json")).map((f) => join(dir, f));
    expect(files.length).toBeGreaterThan(0);
    const events = files.flatMap((f) => JSON.parse(readFileSync(f, "utf8")) as { cat: string; name: string }[]);
    expect(events.filter((e) => e.cat === "Session" && e.name === "model_run").length).toBeGreaterThanOrEqual(2);
    const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "bench", "ort-profile.ts"), ...files, "--skip-runs", "1"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${files.length} profile\\(s\\), \\d+ run\\(s\\) counted`));
    // The toy model's forward is mostly its matrix products.
    expect(r.stdout).toMatch(/by operator type:\n\s+\d+ ms\s+[\d.]+%\s+(MatMul|Gemm|FusedMatMul)/);
  });
});
