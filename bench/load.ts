// Model load benchmark: safesail's loadModel (plus the first forward, which builds the onnxruntime session)
// against torch's load of the same folder (bench/forward_torch.py: safetensors -> float32 tensors), each in its
// own process so peak RSS (VmHWM) is the load's own.
//
//   npx tsx bench/load.ts                    # Qwen2.5-0.5B and Qwen2.5-3B shapes (random BF16, written once)
//   npx tsx bench/load.ts --only 0.5b --runs 3
//   npx tsx bench/load.ts --model DIR        # another Hugging Face folder
//
// safesail is measured four ways:
//   cold      an empty weight cache: the float32 file is written first (once per model version)
//   warm      the cache exists: the weights are mapped (the default every later load takes)
//   prepack   warm, with onnxruntime repacking the matrix weights at session start (LoadOptions.prepack)
//   memory    SAFESAIL_WEIGHT_CACHE=0: the weights pass through JavaScript into onnxruntime (the old path)
// The page cache is left warm for both engines (the source files were just written or read); `fp32` is the size
// of the float32 weights the forward reads, the yardstick for RSS. Not a CI test; see bench/README.md.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { torchEnv } from "./torch-env.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PYTHON = "/usr/bin/python3";

interface ChildResult {
  loadS: number;
  openS: number;
  firstForwardS: number;
  peakRssMiB: number;
  cacheBuilt: boolean | null;
  fp32Bytes: number;
}

function vmHwmMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The child: one load, one 1-token forward, then a JSON line. */
async function child(dir: string, mode: string, cacheRoot: string, threads: number): Promise<void> {
  const { loadModel } = await import("../src/model/runtime.ts");
  const { graphWeights } = await import("../src/model/graph.ts");
  const logs: string[] = [];
  const t0 = performance.now();
  const model = await loadModel(dir, { threads, offline: true, weightCache: mode === "memory" ? false : cacheRoot, prepack: mode === "prepack" ? true : undefined, log: (m) => logs.push(m) });
  const t1 = performance.now();
  await model.forward([[100]], { logits: "last" });
  const t2 = performance.now();
  const shapes = graphWeights(model.config).flatMap((g) => g.parts.map((p) => model.weights.ref(p).shape));
  const fp32Bytes = shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1) * 4, 0);
  const out: ChildResult = {
    loadS: (t2 - t0) / 1000,
    openS: (t1 - t0) / 1000,
    firstForwardS: (t2 - t1) / 1000,
    peakRssMiB: vmHwmMiB(),
    cacheBuilt: mode === "memory" ? null : logs.some((m) => /wrote/.test(m)),
    fp32Bytes,
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

function runChild(dir: string, mode: string, cacheRoot: string, threads: number): ChildResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", mode, "--cache", cacheRoot, "--threads", String(threads), dir], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`safesail ${mode} load of ${dir} failed (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ChildResult;
}

function runTorch(dir: string, threads: number): { loadS: number; peakRssMiB: number } {
  const env = torchEnv(threads);
  const r = spawnSync(PYTHON, [join(ROOT, "bench", "forward_torch.py"), "--model", dir, "--ids", "100", "--warmup", "0", "--prefill-runs", "1", "--decode-steps", "0", "--threads", String(threads)], {
    encoding: "utf8",
    env,
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`torch load of ${dir} failed (exit ${r.status}): ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split("\n").pop()!) as { load_s: number; max_rss_mib: number };
  return { loadS: j.load_s, peakRssMiB: j.max_rss_mib };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      child: { type: "string" },
      cache: { type: "string" },
      threads: { type: "string" },
      only: { type: "string" },
      model: { type: "string", multiple: true, default: [] },
      runs: { type: "string", default: "3" },
      modes: { type: "string", default: "cold,warm,prepack,memory" },
    },
  });
  const threads = values.threads ? Number(values.threads) : os.availableParallelism();
  if (values.child) return child(positionals[0]!, values.child, values.cache!, threads);

  const runs = Number(values.runs);
  const { createRandomModel, QWEN25_05B_SHAPES, QWEN25_3B_SHAPES } = await import("../src/model/random.ts");
  const models: { label: string; dir: string; ensure?: () => Promise<void> }[] = [];
  const preset = (label: string, name: string, shapes: typeof QWEN25_05B_SHAPES, sharded: boolean) => {
    const dir = join(ROOT, ".cache", "bench", name);
    models.push({
      label,
      dir,
      ensure: async () => {
        if (existsSync(join(dir, "config.json"))) return;
        process.stderr.write(`creating ${dir} (random BF16 weights, once)\n`);
        await createRandomModel(dir, { shapes, dtype: "BF16", seed: 0, sharded });
      },
    });
  };
  if (!values.only || values.only === "0.5b") preset("qwen2.5-0.5b random", "qwen25-0.5b-random", QWEN25_05B_SHAPES, false);
  if (!values.only || values.only === "3b") preset("qwen2.5-3b random", "qwen25-3b-random", QWEN25_3B_SHAPES, true);
  for (const m of values.model!) models.push({ label: m, dir: resolve(m) });
  const modes = values.modes!.split(",");

  const lines: string[] = [];
  for (const m of models) {
    await m.ensure?.();
    const cacheRoot = mkdtempSync(join(os.tmpdir(), "safesail-load-bench-"));
    try {
      const torch = Array.from({ length: runs }, () => runTorch(m.dir, threads));
      process.stderr.write(`${m.label}: torch ${torch.map((t) => t.loadS.toFixed(2)).join(" ")} s\n`);
      const results: Record<string, ChildResult[]> = {};
      const cache = join(cacheRoot, "x");
      let cacheReady = false;
      for (const mode of modes) {
        // cold: an empty cache; warm and prepack map the cache the cold run wrote (or an untimed run writes it).
        if (mode === "cold") rmSync(cache, { recursive: true, force: true });
        else if (mode !== "memory" && !cacheReady) runChild(m.dir, "warm", cache, threads);
        if (mode !== "memory") cacheReady = true;
        results[mode] = Array.from({ length: mode === "cold" ? 1 : runs }, () => {
          const r = runChild(m.dir, mode, cache, threads);
          process.stderr.write(`${m.label}: ${mode} ${r.loadS.toFixed(2)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB\n`);
          return r;
        });
      }
      const tLoad = median(torch.map((t) => t.loadS));
      const fp32MiB = Object.values(results)[0]![0]!.fp32Bytes / 2 ** 20;
      lines.push(`${m.label}: float32 weights ${fp32MiB.toFixed(0)} MiB; torch load ${tLoad.toFixed(2)} s (runs ${torch.map((t) => t.loadS.toFixed(2)).join(", ")}), peak RSS ${median(torch.map((t) => t.peakRssMiB)).toFixed(0)} MiB (${(median(torch.map((t) => t.peakRssMiB)) / fp32MiB).toFixed(2)}x)`);
      lines.push(`  ${"safesail".padEnd(10)} ${"load s".padStart(8)} ${"(open + 1st fwd)".padStart(18)} ${"x torch".padStart(8)} ${"peak RSS MiB".padStart(13)} ${"x fp32".padStart(7)}`);
      for (const mode of modes) {
        const rs = results[mode]!;
        const load = median(rs.map((r) => r.loadS));
        const rss = median(rs.map((r) => r.peakRssMiB));
        lines.push(`  ${mode.padEnd(10)} ${load.toFixed(2).padStart(8)} ${`${median(rs.map((r) => r.openS)).toFixed(2)} + ${median(rs.map((r) => r.firstForwardS)).toFixed(2)}`.padStart(18)} ${(load / tLoad).toFixed(2).padStart(8)} ${rss.toFixed(0).padStart(13)} ${(rss / fp32MiB).toFixed(2).padStart(7)}   runs ${rs.map((r) => r.loadS.toFixed(2)).join(", ")}`);
      }
    } finally {
      rmSync(cacheRoot, { recursive: true, force: true });
    }
  }
  process.stdout.write(`machine: ${os.cpus()[0]?.model ?? "?"}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${threads} threads; median of ${runs} runs (cold: 1)\n`);
  process.stdout.write(lines.join("\n") + "\n");
}

await main();
