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
      for (let run = 0; run < 3; run++) await model.runWithCache([Array.from({ length: 64 }, (_, i) => 10 + i + run)], [], { logits: "last" });
      await model.dispose();
    } finally {
      delete process.env.SAFESAIL_ORT_PROFILE;
    }
    const files = readdirSync(dir).filter((f) => f.startsWith("toy_") && f.endsWith(".json")).map((f) => join(dir, f));
    expect(files.length).toBeGreaterThan(0);
    const events = files.flatMap((f) => JSON.parse(readFileSync(f, "utf8")) as { cat: string; name: string }[]);
    expect(events.filter((e) => e.cat === "Session" && e.name === "model_run").length).toBeGreaterThanOrEqual(2);
    const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run").length;
    const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "bench", "ort-profile.ts"), ...files, "--skip-runs", "1", "--top", "1000"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const head = new RegExp(`^${files.length} profile\\(s\\), (\\d+) run\\(s\\) counted, (\\d+) ms of kernel time`).exec(r.stdout);
    expect(head, r.stdout).not.toBeNull();
    // Each session's first run is left out; the model's sessions ran three times each.
    expect(Number(head![1])).toBe(runs - runs / 3);
    // The per-operator times add up to the total (each rounded to a millisecond), and the matrix products are there.
    const section = r.stdout.slice(r.stdout.indexOf("by operator type:"), r.stdout.indexOf("by node:"));
    const rows = [...section.matchAll(/^\s+(\d+) ms\s+[\d.]+%\s+(\S+)$/gm)].map((m) => ({ ms: Number(m[1]), op: m[2]! }));
    expect(Math.abs(rows.reduce((a, x) => a + x.ms, 0) - Number(head![2]))).toBeLessThanOrEqual(rows.length);
    expect(rows.map((x) => x.op)).toEqual(expect.arrayContaining([expect.stringMatching(/^(MatMul|Gemm|FusedMatMul|MatMulNBits)$/)]));
  });
});
