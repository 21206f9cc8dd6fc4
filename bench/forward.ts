// Forward-pass benchmark: safesail's onnxruntime runtime against a plain PyTorch reference
// (bench/forward_torch.py) on the same shapes, the same weights and the same prompt, in one run.
//
//   npx tsx bench/forward.ts [--quick] [--threads N] [--only qwen|toy|model] [--model DIR]... [--system-blas] [--json FILE]
//
// For each model it measures
//   prefill  64 / median time of one full forward of a 64-token prompt (last-position logits only),
//   decode   greedy steps per second with the KV cache after a 64-token prefill (prefill excluded),
// and checks that both engines agree on the prompt's last-position logits.
//
// Models: a random model with Qwen2.5-0.5B shapes (BF16 storage, cached under
// .cache/bench/qwen25-0.5b-random/), and models/toy-safety-qwen2 when it exists.
// The two engines never run at the same time: torch runs in a child process first, then safesail.
// Not a CI test; see bench/README.md.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import vm from "node:vm";
import { createRandomModel, QWEN25_05B_SHAPES } from "../src/model/random.ts";
import { loadModel, type KvCache, type Model } from "../src/model/runtime.ts";
import { torchEnv } from "./torch-env.ts";
import type { WeightPrecision } from "../src/model/graph.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PYTHON = "/usr/bin/python3"; // Debian's python has torch + numpy; the pyenv one on PATH does not.
const TORCH_SCRIPT = join(ROOT, "bench", "forward_torch.py");
/** Prompt length of the prefill measurement (`--prompt-len`; default 64). */
let PROMPT_LEN = 64;
/** safesail's weight precision (`--precision`); at int8 the logit difference is reported, not held to 1e-4. */
let PRECISION: WeightPrecision = "fp32";

interface Plan {
  warmup: number;
  prefillRuns: number;
  decodeSteps: number;
  decodeRuns: number;
}

interface Bench {
  label: string;
  dir: string;
  /** Creates the model folder when it is missing. */
  ensure?: () => Promise<void>;
}

interface EngineResult {
  threads: number;
  loadS: number;
  prefillS: number[];
  prefillTokS: number;
  decodeS: number[];
  decodeTokS: number | null;
  greedyIds: number[];
  logits: Float32Array;
  rssMiB: number | null;
}

interface TorchJson {
  torch_version: string;
  threads: number;
  interop_threads: number;
  openblas_coretype: string | null;
  omp_wait_policy: string | null;
  blas: { libraries: string[]; openblas: { config: string; core: string; threads: number } | null };
  load_s: number;
  prefill_s: number[];
  prefill_tok_s: number;
  decode_s: number[];
  decode_tok_s: number | null;
  greedy_ids: number[];
  vocab: number;
  logits_argmax: number;
  max_rss_mib: number;
}

const USAGE = `usage: npx tsx bench/forward.ts [options]

  --quick          fewer repetitions (2 prefill runs, 16 decode steps, 1 decode run)
  --threads N      threads for both engines (default: all cores)
  --only WHICH     qwen | toy: that built-in model only; model: only the --model folders
  --model DIR      also benchmark this Hugging Face folder (repeatable)
  --system-blas    run torch on the system libblas.so.3 even when it is the slow reference BLAS
  --prompt-len N   prompt length of the prefill measurement (default 64)
  --no-decode      prefill only
  --precision P    safesail's weights: fp32 (default) or int8 (the logit error against torch fp32 is reported)
  --prepack        let onnxruntime repack the mapped weights at session start (LoadOptions.prepack)
  --json FILE      also write the results as JSON
`;

/** Relative logit difference above which the run is reported as a mismatch (exit code 1). */
const MAX_RELATIVE_DIFF = 1e-4;

// A full collection between models, so freeing one model's weights never lands inside the next one's timings.
v8.setFlagsFromString("--expose-gc");
const collectGarbage = vm.runInNewContext("gc") as () => void;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const argmax = (v: Float32Array): number => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
};

/** Deterministic prompt ids (an LCG), away from the special tokens at the top of the vocabulary. */
function promptIds(n: number, vocab: number, seed = 1234): number[] {
  const hi = Math.max(1, Math.min(vocab, 100_000));
  const lo = hi > 1000 ? 100 : 0;
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo));
  });
}

function vocabOf(dir: string): number {
  return (JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { vocab_size: number }).vocab_size;
}

// ---------------------------------------------------------------------------------------------
// The BLAS under torch. Debian's torch calls whatever libblas.so.3 resolves to; with only libblas3
// installed that is the netlib reference BLAS (about 4 GFLOPS here, 20-50x slower than OpenBLAS),
// which would make torch a straw man. bench/setup.sh installs Debian's OpenBLAS (and torch, numpy).

interface TorchBlas {
  /** Directory to put first on LD_LIBRARY_PATH, or null to use the system's libblas.so.3. */
  libDir: string | null;
  note: string;
}

function findTorchBlas(systemOnly: boolean): TorchBlas {
  if (!systemOnly) {
    const r = spawnSync("bash", [join(ROOT, "bench", "setup.sh")], { stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) throw new Error("bench/setup.sh failed: torch needs python3-torch, python3-numpy and libopenblas0-pthread");
  }
  let systemBlas = "";
  try {
    systemBlas = realpathSync("/usr/lib/x86_64-linux-gnu/libblas.so.3");
  } catch {
    // no libblas.so.3 at all: torch will not start either, and says so
  }
  return { libDir: null, note: `system BLAS ${systemBlas || "(none)"}${systemOnly ? " (--system-blas)" : ""}` };
}

function runTorch(dir: string, ids: number[], plan: Plan, threads: number, blas: TorchBlas, tmp: string): EngineResult & { json: TorchJson } {
  const logitsFile = join(tmp, "torch-logits.f32");
  const idsFile = join(tmp, "ids.json");
  writeFileSync(idsFile, JSON.stringify(ids));
  const args = [
    TORCH_SCRIPT,
    "--model", dir,
    "--ids-file", idsFile,
    "--warmup", String(plan.warmup),
    "--prefill-runs", String(plan.prefillRuns),
    "--decode-steps", String(plan.decodeSteps),
    "--decode-runs", String(plan.decodeRuns),
    "--threads", String(threads),
    "--logits-out", logitsFile,
  ];
  const env = torchEnv(threads);
  if (blas.libDir) env.LD_LIBRARY_PATH = [blas.libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  const r = spawnSync(PYTHON, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`could not run ${PYTHON}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${PYTHON} bench/forward_torch.py exited with ${r.status ?? r.signal}`);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  const json = JSON.parse(line) as TorchJson;
  const buf = readFileSync(logitsFile);
  const logits = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return {
    json,
    threads: json.threads,
    loadS: json.load_s,
    prefillS: json.prefill_s,
    prefillTokS: json.prefill_tok_s,
    decodeS: json.decode_s,
    decodeTokS: json.decode_tok_s,
    greedyIds: json.greedy_ids,
    logits,
    rssMiB: json.max_rss_mib,
  };
}

async function runSafesail(dir: string, ids: number[], plan: Plan, threads: number, prepack: boolean, precision: WeightPrecision): Promise<EngineResult> {
  // The weights are mapped from the float32 weight cache; an untimed load builds it when missing (bench/load.ts
  // measures loading itself).
  await (await loadModel(dir, { threads, offline: true, precision })).dispose();
  const t0 = performance.now();
  const model: Model = await loadModel(dir, { threads, offline: true, prepack, precision });
  // The first forward builds the ONNX graph and the session: part of loading, not of the timings.
  await model.forward([ids.slice(0, 1)], { logits: "last" });
  const loadS = (performance.now() - t0) / 1000;
  try {
    for (let i = 0; i < plan.warmup; i++) await model.forward([ids], { logits: "last" });
    const prefillS: number[] = [];
    let logits = new Float32Array(0);
    for (let i = 0; i < Math.max(1, plan.prefillRuns); i++) {
      const t = performance.now();
      const r = await model.forward([ids], { logits: "last" });
      prefillS.push((performance.now() - t) / 1000);
      logits = r.logits.data.slice();
    }

    // Decode the way generate() does: the prompt once, then one token per forward with the cache.
    const decodeS: number[] = [];
    let greedyIds: number[] = [];
    if (plan.decodeSteps > 0) {
      for (let run = 0; run < plan.warmup + Math.max(1, plan.decodeRuns); run++) {
        const pre = await model.forward([ids], { returnPast: true, logits: "last" });
        let past: KvCache | undefined = pre.past;
        let next = argmax(pre.logits.data);
        const toks = [next];
        const t = performance.now();
        for (let s = 0; s < plan.decodeSteps; s++) {
          const r = await model.forward([[next]], { past, returnPast: true, logits: "last" });
          past = r.past;
          next = argmax(r.logits.data);
          toks.push(next);
        }
        const dt = (performance.now() - t) / 1000;
        if (run >= plan.warmup) decodeS.push(dt);
        greedyIds = toks;
      }
    }
    return {
      threads,
      loadS,
      prefillS,
      prefillTokS: ids.length / median(prefillS),
      decodeS,
      decodeTokS: decodeS.length ? plan.decodeSteps / median(decodeS) : null,
      greedyIds,
      logits,
      rssMiB: process.memoryUsage().rss / 2 ** 20,
    };
  } finally {
    await model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------

interface Row {
  label: string;
  safesail: EngineResult;
  torch: EngineResult & { json: TorchJson };
  maxAbsDiff: number;
  maxAbsLogit: number;
  argmaxAgree: boolean;
  greedyAgree: number;
}

function compare(label: string, safesail: EngineResult, torch: EngineResult & { json: TorchJson }): Row {
  if (safesail.logits.length !== torch.logits.length) {
    throw new Error(`${label}: logits lengths differ (safesail ${safesail.logits.length}, torch ${torch.logits.length})`);
  }
  let maxAbsDiff = 0;
  let maxAbsLogit = 0;
  for (let i = 0; i < torch.logits.length; i++) {
    const d = Math.abs(safesail.logits[i]! - torch.logits[i]!);
    if (!(d <= maxAbsDiff)) maxAbsDiff = d; // NaN propagates
    maxAbsLogit = Math.max(maxAbsLogit, Math.abs(torch.logits[i]!));
  }
  let greedyAgree = 0;
  while (greedyAgree < Math.min(safesail.greedyIds.length, torch.greedyIds.length) && safesail.greedyIds[greedyAgree] === torch.greedyIds[greedyAgree]) greedyAgree++;
  return { label, safesail, torch, maxAbsDiff, maxAbsLogit, argmaxAgree: argmax(safesail.logits) === argmax(torch.logits), greedyAgree };
}

const fmt = (v: number | null, digits = 2) => (v === null ? "-" : v.toFixed(digits));

function report(rows: Row[], plan: Plan, threads: number, blas: TorchBlas): void {
  const head = ["shape", "metric", "safesail tok/s", "torch tok/s", "ratio"];
  const lines: string[][] = [];
  for (const r of rows) {
    lines.push([r.label, `prefill ${PROMPT_LEN}`, fmt(r.safesail.prefillTokS, 1), fmt(r.torch.prefillTokS, 1), fmt(r.safesail.prefillTokS / r.torch.prefillTokS)]);
    if (r.safesail.decodeTokS !== null && r.torch.decodeTokS !== null) {
      lines.push([r.label, "decode", fmt(r.safesail.decodeTokS), fmt(r.torch.decodeTokS), fmt(r.safesail.decodeTokS / r.torch.decodeTokS)]);
    }
  }
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
  const row = (cells: string[]) => cells.map((s, c) => (c < 2 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join("   ");
  const out: string[] = [];
  out.push(row(head));
  for (const l of lines) out.push(row(l));
  out.push("");
  const t = rows[0]?.torch.json;
  out.push(`machine: ${os.cpus()[0]?.model ?? "?"}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, no GPU; node ${process.version}`);
  out.push(`threads: safesail onnxruntime-node intra-op ${threads}; torch ${t?.threads ?? "?"} (interop ${t?.interop_threads ?? "?"}, torch ${t?.torch_version ?? "?"})`);
  const ob = t?.blas.openblas;
  out.push(
    ob
      ? `torch BLAS: ${ob.config.split(" ")[0]} ${ob.config.split(" ")[1]}, core ${ob.core}, ${ob.threads} threads (OPENBLAS_CORETYPE=${t?.openblas_coretype ?? "unset"}, OMP_WAIT_POLICY=${t?.omp_wait_policy ?? "unset"}); ${blas.note}`
      : `torch BLAS: ${t?.blas.libraries.join(", ") || "?"} -- NOT OpenBLAS: torch's matmuls are slow and the ratio flatters safesail; ${blas.note}`,
  );
  out.push(`runs: ${plan.warmup} warm-up, prefill median of ${plan.prefillRuns}, decode ${plan.decodeSteps} greedy steps after a ${PROMPT_LEN}-token prefill, median of ${plan.decodeRuns}`);
  for (const r of rows) {
    out.push(
      `correctness ${r.label}: max |logit diff| ${r.maxAbsDiff.toExponential(2)} (max |logit| ${r.maxAbsLogit.toFixed(2)}, relative ${(r.maxAbsDiff / r.maxAbsLogit).toExponential(2)}), ` +
        `${PRECISION !== "fp32" ? `safesail at ${PRECISION}, reported not checked` : r.maxAbsDiff / r.maxAbsLogit <= MAX_RELATIVE_DIFF ? "ok" : "MISMATCH"}; argmax ${r.argmaxAgree ? "agrees" : "DIFFERS"}, greedy tokens agree ${r.greedyAgree}/${Math.min(r.safesail.greedyIds.length, r.torch.greedyIds.length)}`,
    );
    out.push(
      `load ${r.label}: safesail ${r.safesail.loadS.toFixed(1)} s (incl. session build, RSS ${fmt(r.safesail.rssMiB, 0)} MiB), torch ${r.torch.loadS.toFixed(1)} s (max RSS ${fmt(r.torch.rssMiB, 0)} MiB)`,
    );
  }
  process.stdout.write(out.join("\n") + "\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      threads: { type: "string" },
      "system-blas": { type: "boolean", default: false },
      prepack: { type: "boolean", default: false },
      precision: { type: "string", default: "fp32" },
      "prompt-len": { type: "string" },
      "no-decode": { type: "boolean", default: false },
      model: { type: "string", multiple: true, default: [] },
      json: { type: "string" },
      only: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const threads = values.threads ? Number(values.threads) : os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got ${values.threads}`);
  const precision = values.precision as WeightPrecision;
  if (precision !== "fp32" && precision !== "int8") throw new Error(`--precision must be fp32 or int8, got ${values.precision}`);
  PRECISION = precision;
  if (values["prompt-len"] !== undefined) {
    PROMPT_LEN = Number(values["prompt-len"]);
    if (!Number.isInteger(PROMPT_LEN) || PROMPT_LEN < 1) throw new Error(`--prompt-len must be a positive integer, got ${values["prompt-len"]}`);
  }
  const plan: Plan = values.quick ? { warmup: 1, prefillRuns: 2, decodeSteps: 16, decodeRuns: 1 } : { warmup: 1, prefillRuns: 5, decodeSteps: 32, decodeRuns: 3 };
  if (values["no-decode"]) plan.decodeSteps = 0;
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found (the torch reference needs Debian's python3 with torch and numpy)`);

  const qwenDir = join(ROOT, ".cache", "bench", "qwen25-0.5b-random");
  const toyDir = join(ROOT, "models", "toy-safety-qwen2");
  const benches: Bench[] = [
    {
      label: "qwen2.5-0.5b random",
      dir: qwenDir,
      ensure: async () => {
        if (existsSync(join(qwenDir, "config.json")) && existsSync(join(qwenDir, "model.safetensors"))) return;
        process.stderr.write(`creating the random Qwen2.5-0.5B-shaped model in ${qwenDir} (BF16, ~1 GB, once)\n`);
        const t = performance.now();
        await createRandomModel(qwenDir, { shapes: QWEN25_05B_SHAPES, dtype: "BF16", seed: 0 });
        process.stderr.write(`  done in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
      },
    },
  ];
  if (existsSync(join(toyDir, "config.json"))) benches.push({ label: "toy-safety-qwen2", dir: toyDir });
  if (values.only !== undefined && !["qwen", "toy", "model"].includes(values.only)) throw new Error(`--only must be qwen, toy or model, got ${values.only}`);
  const selected = benches.filter((b) => !values.only || (values.only === "toy" ? b.dir === toyDir : values.only === "qwen" ? b.dir === qwenDir : false));
  for (const m of values.model!) {
    const dir = resolve(m);
    if (!existsSync(join(dir, "config.json"))) throw new Error(`--model ${m}: no config.json there`);
    selected.push({ label: basename(dir), dir });
  }
  if (selected.length === 0) throw new Error(`--only ${values.only}: nothing to run (toy needs models/toy-safety-qwen2)`);

  const blas = findTorchBlas(values["system-blas"]!);
  const tmp = mkdtempSync(join(os.tmpdir(), "safesail-bench-"));
  const rows: Row[] = [];
  try {
    for (const b of selected) {
      await b.ensure?.();
      const ids = promptIds(PROMPT_LEN, vocabOf(b.dir));
      process.stderr.write(`${b.label}: torch ...\n`);
      const torch = runTorch(b.dir, ids, plan, threads, blas, tmp);
      process.stderr.write(`${b.label}: safesail ...\n`);
      collectGarbage();
      const safesail = await runSafesail(b.dir, ids, plan, threads, values.prepack!, precision);
      collectGarbage();
      rows.push(compare(b.label, safesail, torch));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  report(rows, plan, threads, blas);
  if (values.json) {
    const summary = {
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model ?? "?", cores: os.availableParallelism(), memGiB: os.totalmem() / 2 ** 30, node: process.version },
      plan,
      threads,
      torchBlas: blas.note,
      results: rows.map((r) => ({
        shape: r.label,
        safesail: { prefillTokS: r.safesail.prefillTokS, decodeTokS: r.safesail.decodeTokS, prefillS: r.safesail.prefillS, decodeS: r.safesail.decodeS, loadS: r.safesail.loadS },
        torch: { prefillTokS: r.torch.prefillTokS, decodeTokS: r.torch.decodeTokS, prefillS: r.torch.prefillS, decodeS: r.torch.decodeS, loadS: r.torch.loadS, blas: r.torch.json.blas },
        ratio: { prefill: r.safesail.prefillTokS / r.torch.prefillTokS, decode: r.safesail.decodeTokS && r.torch.decodeTokS ? r.safesail.decodeTokS / r.torch.decodeTokS : null },
        maxAbsLogitDiff: r.maxAbsDiff,
        relativeLogitDiff: r.maxAbsDiff / r.maxAbsLogit,
        argmaxAgree: r.argmaxAgree,
        greedyAgree: r.greedyAgree,
      })),
    };
    writeFileSync(values.json, JSON.stringify(summary, null, 2) + "\n");
  }
  const bad = PRECISION !== "fp32" ? [] : rows.filter((r) => !(r.maxAbsDiff / r.maxAbsLogit <= MAX_RELATIVE_DIFF));
  if (bad.length > 0) {
    process.stderr.write(`MISMATCH: safesail and torch logits differ by more than ${MAX_RELATIVE_DIFF} (relative) on ${bad.map((r) => r.label).join(", ")}\n`);
    process.exitCode = 1;
  }
}

await main();
