// Harvest benchmark: `harvest` (the API `safesail harvest` runs) against a torch 1.13 forward that keeps the same
// hooks and writes them to disk (bench/harvest_torch.py), on the same pre-tokenised documents, each engine in its
// own process (so peak RSS is its own). Then every activation is compared between the two.
//
//   npx tsx bench/harvest.ts                          # Qwen2.5-3B shape, layers 0,8,17,26,35, 16 docs x 128 tokens
//   npx tsx bench/harvest.ts --model 0.5b --docs 32   # Qwen2.5-0.5B shape, layers 0,6,12,18,23
//   npx tsx bench/harvest.ts --prepack                # safesail with onnxruntime repacking the weights at load
//   npx tsx bench/harvest.ts --scaling                # RSS against corpus size: toy model, 10k / 100k / 1M tokens
//   npx tsx bench/harvest.ts --warmup 0               # time the first forward too (safesail pages its mapped weights in there)
//   npx tsx bench/harvest.ts --no-torch --docs 4      # safesail alone; under SAFESAIL_ORT_PROFILE=PREFIX it writes
//                                                     # onnxruntime's profile (read it with bench/ort-profile.ts)
//
// Tokens/s count the harvest loop only (model loading is bench/load.ts's). One document per forward pass on both
// sides (`batchTokens` = document length), so the matrix shapes are the same. Not a CI test; see bench/README.md.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { torchEnv } from "./torch-env.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PYTHON = "/usr/bin/python3";

interface EngineRun {
  tokens: number;
  seconds: number;
  tokS: number;
  peakRssMiB: number;
}

const vmHwmMiB = (): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? NaN) / 1024;

/** The child: load, harvest the corpus into `out`, print the run as JSON. */
async function child(model: string, corpus: string, layers: number[], out: string, docTokens: number, prepack: boolean, threads: number, warmupCorpus: string | undefined): Promise<void> {
  const { loadModel } = await import("../src/model/runtime.ts");
  const { harvest } = await import("../src/activations/harvest.ts");
  const m = await loadModel(model, { threads, prepack, offline: true });
  if (warmupCorpus) await harvest(m, warmupCorpus, { layers, out: `${out}-warmup`, batchTokens: docTokens, maxDocTokens: docTokens, overwrite: true });
  const t0 = performance.now();
  const store = await harvest(m, corpus, { layers, out, batchTokens: docTokens, maxDocTokens: docTokens, overwrite: true });
  const seconds = (performance.now() - t0) / 1000;
  await m.dispose(); // releases the sessions (and writes their profiles under SAFESAIL_ORT_PROFILE)
  const run: EngineRun = { tokens: store.tokens, seconds, tokS: store.tokens / seconds, peakRssMiB: vmHwmMiB() };
  process.stdout.write(JSON.stringify(run) + "\n");
}

function spawnJson<T>(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): T {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", env, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(" ")} failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as T;
}

/** Pseudo-random ids (an LCG) away from the special tokens: `docs` documents of `len` tokens. */
function corpusIds(docs: number, len: number, vocab: number): number[][] {
  const hi = Math.min(vocab, 100_000);
  let s = 12345;
  return Array.from({ length: docs }, () =>
    Array.from({ length: len }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return 100 + (s % (hi - 100));
    }),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "boolean", default: false },
      model: { type: "string", default: "3b" },
      corpus: { type: "string" },
      layers: { type: "string" },
      out: { type: "string" },
      docs: { type: "string", default: "16" },
      "doc-tokens": { type: "string", default: "128" },
      prepack: { type: "boolean", default: false },
      threads: { type: "string" },
      scaling: { type: "boolean", default: false },
      "no-torch": { type: "boolean", default: false },
      warmup: { type: "string", default: "1" },
      "warmup-corpus": { type: "string" },
    },
  });
  const threads = values.threads ? Number(values.threads) : os.availableParallelism();
  const docTokens = Number(values["doc-tokens"]);
  if (values.child) {
    return child(values.model!, values.corpus!, values.layers!.split(",").map(Number), values.out!, docTokens, values.prepack!, threads, values["warmup-corpus"]);
  }
  const work = mkdtempSync(join(os.tmpdir(), "safesail-harvest-bench-"));
  const ours = (model: string, corpus: string, layers: number[], out: string, tokens = docTokens, warmupCorpus?: string) =>
    spawnJson<EngineRun>(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", "--model", model, "--corpus", corpus, "--layers", layers.join(","), "--out", out, "--doc-tokens", String(tokens), "--threads", String(threads), ...(values.prepack ? ["--prepack"] : []), ...(warmupCorpus ? ["--warmup-corpus", warmupCorpus] : [])]);
  try {
    if (values.scaling) {
      // Memory against corpus size: the toy model, one layer, 10k / 100k / 1M tokens of 256-token documents.
      const toy = join(ROOT, "models", "toy-safety-qwen2");
      const vocab = (JSON.parse(readFileSync(join(toy, "config.json"), "utf8")) as { vocab_size: number }).vocab_size;
      process.stdout.write(`harvest RSS against corpus size: toy model (hidden 256), layer 2, 256-token documents, ${threads} threads\n`);
      process.stdout.write(`${"tokens".padStart(9)} ${"tok/s".padStart(8)} ${"peak RSS MiB".padStart(13)} ${"store MiB".padStart(10)}\n`);
      for (const tokens of [10_000, 100_000, 1_000_000]) {
        const corpus = join(work, `toy-${tokens}.jsonl`);
        writeFileSync(corpus, corpusIds(Math.ceil(tokens / 256), 256, vocab).map((ids) => JSON.stringify({ ids })).join("\n") + "\n");
        const r = ours(toy, corpus, [2], join(work, `toy-store-${tokens}`), 256);
        process.stdout.write(`${String(r.tokens).padStart(9)} ${r.tokS.toFixed(0).padStart(8)} ${r.peakRssMiB.toFixed(0).padStart(13)} ${((r.tokens * 256 * 4) / 2 ** 20).toFixed(0).padStart(10)}\n`);
        rmSync(join(work, `toy-store-${tokens}`), { recursive: true, force: true });
      }
      return;
    }

    const { createRandomModel, QWEN25_05B_SHAPES, QWEN25_3B_SHAPES } = await import("../src/model/random.ts");
    const presets: Record<string, { dir: string; shapes: typeof QWEN25_05B_SHAPES; layers: number[]; sharded: boolean }> = {
      "3b": { dir: join(ROOT, ".cache", "bench", "qwen25-3b-random"), shapes: QWEN25_3B_SHAPES, layers: [0, 8, 17, 26, 35], sharded: true },
      "0.5b": { dir: join(ROOT, ".cache", "bench", "qwen25-0.5b-random"), shapes: QWEN25_05B_SHAPES, layers: [0, 6, 12, 18, 23], sharded: false },
    };
    const p = presets[values.model!];
    if (!p) throw new Error(`--model must be 3b or 0.5b, got ${values.model}`);
    if (!existsSync(join(p.dir, "config.json"))) await createRandomModel(p.dir, { shapes: p.shapes, dtype: "BF16", seed: 0, sharded: p.sharded });
    const layers = values.layers ? values.layers.split(",").map(Number) : p.layers;
    const cfg = JSON.parse(readFileSync(join(p.dir, "config.json"), "utf8")) as { vocab_size: number; hidden_size: number };
    // The warm-up documents come first in the id stream and are run, untimed, before the timed ones by both engines:
    // a long harvest's rate, not its first forward (where safesail pages in the mapped weights that torch reads at load).
    const warmup = Number(values.warmup);
    const all = corpusIds(warmup + Number(values.docs), docTokens, cfg.vocab_size);
    const docs = all.slice(warmup);
    const corpus = join(work, "ids.jsonl");
    writeFileSync(corpus, docs.map((ids) => JSON.stringify({ ids })).join("\n") + "\n");
    const warmupCorpus = warmup > 0 ? join(work, "warmup.jsonl") : undefined;
    if (warmupCorpus) writeFileSync(warmupCorpus, all.slice(0, warmup).map((ids) => JSON.stringify({ ids })).join("\n") + "\n");

    if (values["no-torch"]) {
      const s = ours(p.dir, corpus, layers, join(work, "store"), docTokens, warmupCorpus);
      process.stdout.write(`harvest ${values.model}, layers ${layers.join(",")}, ${docs.length} documents x ${docTokens} tokens: safesail ${s.tokS.toFixed(1)} tok/s (${s.seconds.toFixed(1)} s), peak RSS ${s.peakRssMiB.toFixed(0)} MiB\n`);
      return;
    }
    const torchOut = join(work, "torch.bin");
    process.stderr.write(`torch ...\n`);
    const env = torchEnv(threads);
    const t = spawnJson<{ tokens: number; seconds: number; tok_s: number; max_rss_mib: number; torch: string; blas: { openblas: { core: string } | null } }>(PYTHON, [join(ROOT, "bench", "harvest_torch.py"), "--model", p.dir, "--corpus", corpus, "--layers", layers.join(","), "--out", torchOut, "--threads", String(threads), ...(warmupCorpus ? ["--warmup-corpus", warmupCorpus] : [])], env);
    process.stderr.write(`safesail ...\n`);
    const storeDir = join(work, "store");
    const s = ours(p.dir, corpus, layers, storeDir, docTokens, warmupCorpus);

    // Every activation of both engines, compared: torch wrote [doc][layer][T, D].
    const { openActivationStore } = await import("../src/activations/store.ts");
    const store = await openActivationStore(storeDir);
    const raw = readFileSync(torchOut);
    const torchActs = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    const D = cfg.hidden_size;
    let maxDiff = 0;
    let maxAbs = 0;
    for (const [j, layer] of [...layers].sort((a, b) => a - b).entries()) {
      const mine = await store.readAll(layer);
      for (let d = 0; d < docs.length; d++) {
        const at = (d * layers.length + j) * docTokens * D;
        for (let i = 0; i < docTokens * D; i++) {
          const a = mine[d * docTokens * D + i]!;
          maxDiff = Math.max(maxDiff, Math.abs(a - torchActs[at + i]!));
          maxAbs = Math.max(maxAbs, Math.abs(a));
        }
      }
    }
    const label = values.model === "3b" ? "qwen2.5-3b random" : "qwen2.5-0.5b random";
    process.stdout.write(
      [
        `harvest ${label}, layers ${layers.join(",")} (mlp_out), ${docs.length} documents x ${docTokens} tokens, one per forward, float32 to disk, ${threads} threads, ${warmup} warm-up document(s) untimed`,
        `  safesail${values.prepack ? " (prepack)" : ""}  ${s.tokS.toFixed(1).padStart(8)} tok/s  (${s.seconds.toFixed(1)} s)  peak RSS ${s.peakRssMiB.toFixed(0)} MiB`,
        `  torch ${t.torch}  ${t.tok_s.toFixed(1).padStart(8)} tok/s  (${t.seconds.toFixed(1)} s)  peak RSS ${t.max_rss_mib.toFixed(0)} MiB  (OpenBLAS core ${t.blas.openblas?.core ?? "none: not OpenBLAS"})`,
        `  ratio ${(s.tokS / t.tok_s).toFixed(2)}x; activations: max |diff| ${maxDiff.toExponential(2)} (max |value| ${maxAbs.toFixed(2)}, relative ${(maxDiff / maxAbs).toExponential(2)})`,
      ].join("\n") + "\n",
    );
    if (!(maxDiff / maxAbs <= 1e-4)) {
      process.stderr.write("MISMATCH: the two engines' activations differ by more than 1e-4 relative\n");
      process.exitCode = 1;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
