// Comm round-trip latency between a Jupyter client and the safesail kernel (target: median < 10 ms).
//
//   npx tsx bench/comm_latency.ts                 # 1000 round trips per case
//   npx tsx bench/comm_latency.ts --n 200 --json out.json
//
// bench/comm_latency.py (Debian's /usr/bin/python3, jupyter_client) is the client; the kernelspec is installed
// into a temp prefix from this checkout. Cases: a plain comm echo (the kernel handler answers with comm.send),
// the same with a 1 MiB binary buffer each way, a widget update answered by its echo_update, and, for reference,
// the comm echo on Debian's ipykernel (python3) when it is installed. Not a CI test.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { findKernelSpecs } from "../src/cli/notebooks.ts";

const ROOT = resolve(import.meta.dirname, "..");
const PY = "/usr/bin/python3";
const TARGET_MEDIAN_MS = 10;

interface Result {
  kernel: string;
  mode: string;
  n: number;
  payload_bytes: number;
  median_ms: number;
  p95_ms: number;
  p99_ms: number;
  mean_ms: number;
  min_ms: number;
  max_ms: number;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { cwd: ROOT, env, maxBuffer: 64 << 20, timeout: 900_000 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const { values } = parseArgs({ options: { n: { type: "string" }, json: { type: "string" }, "no-python": { type: "boolean" } } });
const n = Number(values.n ?? 1000);

const prefix = mkdtempSync(join(tmpdir(), "safesail-bench-kernelspec-"));
try {
  const inst = await run(process.execPath, [join(ROOT, "bin/safesail.js"), "kernel", "install", "--prefix", prefix], process.env);
  if (inst.code !== 0) throw new Error(`safesail kernel install failed:\n${inst.stderr}`);
  const env = { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter") };

  const cases: Array<{ name: string; args: string[] }> = [
    { name: "comm echo", args: ["--mode", "comm"] },
    { name: "comm echo, 1 MiB buffer each way", args: ["--mode", "comm", "--payload", String(1 << 20)] },
    { name: "widget update -> echo_update", args: ["--mode", "widget"] },
  ];
  if (!values["no-python"] && "python3" in (await findKernelSpecs(env))) {
    cases.push({ name: "comm echo on ipykernel (reference)", args: ["--mode", "comm", "--kernel", "python3"] });
  }

  const results: Array<Result & { case: string }> = [];
  for (const c of cases) {
    const r = await run(PY, [join(ROOT, "bench/comm_latency.py"), "--n", String(c.name.includes("1 MiB") ? Math.min(n, 200) : n), ...c.args], env);
    const line = r.stdout.trim().split("\n").pop() ?? "";
    if (r.code !== 0 || !line.startsWith("{")) throw new Error(`${c.name}: bench/comm_latency.py failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    const res = { case: c.name, ...(JSON.parse(line) as Result) };
    results.push(res);
    process.stdout.write(`${c.name.padEnd(40)} n=${String(res.n).padEnd(5)} median ${res.median_ms.toFixed(2)} ms   p95 ${res.p95_ms.toFixed(2)} ms   p99 ${res.p99_ms.toFixed(2)} ms   max ${res.max_ms.toFixed(2)} ms\n`);
  }
  const main = results[0]!;
  const ok = main.median_ms < TARGET_MEDIAN_MS;
  process.stdout.write(`\ntarget: comm echo median < ${TARGET_MEDIAN_MS} ms: ${ok ? "met" : "NOT met"} (${main.median_ms.toFixed(2)} ms)\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
  process.exitCode = ok ? 0 : 1;
} finally {
  rmSync(prefix, { recursive: true, force: true });
}
