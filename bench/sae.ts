// SAE training-step benchmark: safesail's onnxruntime TopK step (src/sae/step.ts) against a PyTorch
// reference of the same step on the same shapes and the same starting numbers (bench/sae_torch.py), and
// against the tfjs autodiff version (src/sae/tfjs-step.ts, gradients only, i.e. a lower bound on its step).
//
//   npx tsx bench/sae.ts [--shape qwen|toy|paper|D,S,K,B] [--steps 10] [--threads N] [--formulation dense|gather|both] [--whole-grads]
//                        [--no-tfjs] [--json FILE]
//
// Shapes: qwen = d 896, 8,960 latents, k 64, batch 1024 (Qwen2.5-0.5B's width, expansion 10);
// toy = d 256, 2,560 latents, k 32, batch 1024 (the toy model). Prints tokens/s per engine and the
// ratio safesail / torch (> 1: safesail faster). Torch runs first in a child process, then safesail.
// Not a CI test; figures go to bench/README.md.
import { torchEnv } from "./torch-env.ts";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createSae } from "../src/sae/sae.ts";
import { SaeStepRunner, zeroAdamState, type SaeStepFormulation } from "../src/sae/step.ts";
import { mulberry32 } from "../src/util/prng.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "qwen" },
    steps: { type: "string", default: "10" },
    threads: { type: "string" },
    "no-tfjs": { type: "boolean", default: false },
    formulation: { type: "string", default: "dense" },
    "no-torch-gather": { type: "boolean", default: false },
    "whole-grads": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
// paper: the Safe-SAIL SAEs on Qwen2.5-3B (d 2048, expansion 10, k 200).
const SHAPES: Record<string, [number, number, number, number]> = { qwen: [896, 8960, 64, 1024], toy: [256, 2560, 32, 1024], paper: [2048, 20480, 200, 1024] };
const [d, S, k, B] = SHAPES[values.shape!] ?? (values.shape!.split(",").map(Number) as [number, number, number, number]);
const steps = Number(values.steps);
const threads = values.threads ? Number(values.threads) : os.availableParallelism();

const sae = createSae({ dIn: d, dSae: S, k }, { seed: 1 });
const rand = mulberry32(2);
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const x = Float32Array.from({ length: B * d }, () => gauss());
for (let j = 0; j < d; j++) sae.params.b_dec[j] = 0.1 * gauss();

// ---- torch
const dir = mkdtempSync(join(os.tmpdir(), "safesail-bench-sae-"));
let torch: { threads: number; torch: string; dense: { first_loss: number; tokens_per_s: number; step_s: number }; gather?: { first_loss: number; tokens_per_s: number; step_s: number } } | null = null;
try {
  writeFileSync(join(dir, "shapes.json"), JSON.stringify({ d, S, k, B }));
  const raw = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  writeFileSync(join(dir, "x.f32"), raw(x));
  for (const n of ["W_encT", "b_enc", "W_dec", "b_dec"] as const) writeFileSync(join(dir, `${n}.f32`), raw(sae.params[n]));
  const r = spawnSync("/usr/bin/python3", [join(ROOT, "bench/sae_torch.py"), "--data", dir, "--steps", String(steps), "--threads", String(threads), "--variants", values["no-torch-gather"] ? "dense" : "dense,gather"], {
    env: torchEnv(threads),
    encoding: "utf8",
    maxBuffer: 16 << 20,
  });
  if (r.status !== 0) console.error(`torch reference failed (is Debian's python3-torch installed? bash bench/setup.sh):\n${r.stderr}`);
  else torch = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// ---- safesail (onnxruntime): the dense-code gradient graph with the in-place Adam (the default), and/or the gathered-rows
// graph with Adam inside onnxruntime (the formulation before issue 17), from the same starting numbers. --whole-grads
// adds the dense graph with its two [S, d] weight gradients as whole graph outputs instead of 16 MiB row blocks (the
// effect of glibc's mmap threshold: bench/README.md). The variants' timed steps take turns, so that a slow minute
// on a shared machine falls on all of them.
const formulations: SaeStepFormulation[] = values.formulation === "both" ? ["dense", "gather"] : [values.formulation as SaeStepFormulation];
if (!formulations.every((f) => f === "dense" || f === "gather")) throw new Error(`--formulation: expected dense, gather or both, got ${values.formulation}`);
const variants: { label: string; formulation: SaeStepFormulation; gradPieceBytes?: number }[] = formulations.map((formulation) => ({ label: formulation, formulation }));
if (values["whole-grads"]) variants.splice(1, 0, { label: "dense, whole gradients", formulation: "dense", gradPieceBytes: Infinity });
const median = (a: number[]) => [...a].sort((u, v) => u - v)[Math.floor(a.length / 2)]!;
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 6.25e-10 };
const live = [];
for (const v of variants) {
  const runner = new SaeStepRunner({ dIn: d, dSae: S, k }, 0, { threads, formulation: v.formulation, gradPieceBytes: v.gradPieceBytes });
  const p = { ...sae.params, W_encT: sae.params.W_encT.slice(), b_enc: sae.params.b_enc.slice(), W_dec: sae.params.W_dec.slice(), b_dec: sae.params.b_dec.slice() };
  const state = zeroAdamState(p);
  const first = await runner.trainStep(p, state, x, B, hyper, null, 0);
  await runner.trainStep(p, state, x, B, hyper, null, 0);
  live.push({ v, runner, p, state, first, times: [] as number[] });
}
for (let i = 0; i < steps; i++) {
  for (const r of live) {
    const t0 = performance.now();
    await r.runner.trainStep(r.p, r.state, x, B, hyper, null, 0);
    r.times.push((performance.now() - t0) / 1000);
  }
}
const ortRuns: { formulation: string; step_s: number; first_loss: number }[] = [];
for (const r of live) {
  await r.runner.dispose();
  ortRuns.push({ formulation: r.v.label, step_s: median(r.times), first_loss: r.first.mse });
}
const ortStep = ortRuns[0]!.step_s;
const first = { mse: ortRuns[0]!.first_loss };

// ---- tfjs autodiff (gradients only)
let tfjsStep: number | null = null;
if (!values["no-tfjs"]) {
  const { getTf } = await import("../src/engine/tfjs.ts");
  const { tfjsSaeGradients } = await import("../src/sae/tfjs-step.ts");
  const { tf, backend } = await getTf();
  tfjsSaeGradients(tf, sae.params, x, B, { k });
  const tt: number[] = [];
  for (let i = 0; i < Math.min(3, steps); i++) {
    const t0 = performance.now();
    tfjsSaeGradients(tf, sae.params, x, B, { k });
    tt.push((performance.now() - t0) / 1000);
  }
  tfjsStep = median(tt);
  console.error(`tfjs backend: ${backend}`);
}

// ---- the machine's fp32 peak, an FMA loop on every thread (bench/fma-peak.c), measured in this run
let peakGflops: number | null = null;
{
  const exe = join(os.tmpdir(), `safesail-fma-peak-${process.pid}`);
  const cc = spawnSync("gcc", ["-O2", "-mavx512f", "-mfma", "-pthread", join(ROOT, "bench", "fma-peak.c"), "-o", exe], { encoding: "utf8" });
  if (cc.status === 0) {
    const runs = [0, 1, 2].map(() => JSON.parse(spawnSync(exe, [String(threads)], { encoding: "utf8" }).stdout) as { gflops: number });
    peakGflops = Math.max(...runs.map((r) => r.gflops));
    rmSync(exe, { force: true });
  } else console.error(`no FMA peak (gcc with AVX-512 needed): ${cc.stderr.slice(0, 300)}`);
}
// FLOPs the step does: the dense encoder product 2·B·d·S, then per token and active latent the decoder gather, the
// latent's gradient, and the two weight-gradient rows (2·d each), i.e. 8·B·k·d. (Adam and top-k are memory work.)
const stepFlops = 2 * B * d * S + 8 * B * k * d;
// What the dense formulation executes: five [B, S] x [S, d]-sized GEMMs (encoder, decoder, dZ, and the two weight
// gradients), i.e. it trades the sparse products for dense ones that run at the GEMM rate.
const denseFlops = 5 * 2 * B * d * S;

// glibc hands blocks over 32 MiB out as fresh mmap'd pages and returns them on free, so every step pays page faults on
// its large tensors (a few µs per 4 KiB page on this VM); MALLOC_MMAP_MAX_=0 keeps them in the heap. It changes both
// engines' figures (they inherit it), so the header says which setting ran.
const mallocEnv = ["MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_"].filter((n) => process.env[n] !== undefined).map((n) => `${n}=${process.env[n]}`).join(" ");
const result = {
  shape: { d, latents: S, k, batch: B },
  malloc_env: mallocEnv || null,
  threads,
  safesail: { step_s: ortStep, tokens_per_s: B / ortStep, first_loss: first.mse, formulation: ortRuns[0]!.formulation },
  formulations: ortRuns,
  torch: torch && { version: torch.torch, dense: torch.dense, gather: torch.gather },
  tfjs_grad_only: tfjsStep && { step_s: tfjsStep, tokens_per_s: B / tfjsStep },
  ratio_vs_torch_dense: torch ? torch.dense.step_s / ortStep : null,
  ratio_vs_torch_gather: torch?.gather ? torch.gather.step_s / ortStep : null,
  first_loss_rel_diff: torch ? Math.abs(first.mse - torch.dense.first_loss) / torch.dense.first_loss : null,
  step_gflop: stepFlops / 1e9,
  gflops: stepFlops / ortStep / 1e9,
  fma_peak_gflops: peakGflops,
  fraction_of_peak: peakGflops ? stepFlops / ortStep / 1e9 / peakGflops : null,
};
const f = (v: number) => v.toFixed(0).padStart(8);
console.log(`TopK SAE step, d ${d}, ${S} latents, k ${k}, batch ${B}, ${threads} threads, glibc malloc: ${mallocEnv || "default"}`);
for (const run of ortRuns) {
  const useful = stepFlops / run.step_s / 1e9;
  const isDense = run.formulation.startsWith("dense");
  const executed = isDense ? denseFlops / run.step_s / 1e9 : useful;
  const pct = (g: number) => (peakGflops ? ` (${((g / peakGflops) * 100).toFixed(0)}% of the FMA peak)` : "");
  console.log(`  safesail ${run.formulation.padEnd(6)} (onnxruntime) ${f(B / run.step_s)} tokens/s  (${(run.step_s * 1000).toFixed(0)} ms/step)  ${useful.toFixed(0)} GFLOPS of the sparse step's ${result.step_gflop.toFixed(1)} GFLOP${pct(useful)}` +
    (isDense ? `; ${executed.toFixed(0)} GFLOPS executed (${(denseFlops / 1e9).toFixed(0)} GFLOP of GEMMs)${pct(executed)}` : "") +
    (torch ? `; ${(torch.dense.step_s / run.step_s).toFixed(2)}x torch dense` : ""));
}
if (peakGflops) console.log(`  FMA peak (bench/fma-peak.c, ${threads} threads): ${peakGflops.toFixed(0)} GFLOPS`);
if (torch) {
  console.log(`  torch ${torch.torch} dense      ${f(torch.dense.tokens_per_s)} tokens/s  (${(torch.dense.step_s * 1000).toFixed(0)} ms/step)   ratio ${result.ratio_vs_torch_dense!.toFixed(2)}x`);
  if (torch.gather) console.log(`  torch gather decoder     ${f(torch.gather.tokens_per_s)} tokens/s  (${(torch.gather.step_s * 1000).toFixed(0)} ms/step)   ratio ${result.ratio_vs_torch_gather!.toFixed(2)}x`);
  console.log(`  first-step loss: safesail ${first.mse.toFixed(5)}, torch ${torch.dense.first_loss.toFixed(5)} (rel diff ${result.first_loss_rel_diff!.toExponential(1)})`);
}
if (tfjsStep) console.log(`  tfjs autodiff (grads)    ${f(B / tfjsStep)} tokens/s  (${(tfjsStep * 1000).toFixed(0)} ms for gradients alone)`);
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
if (torch && result.first_loss_rel_diff! > 1e-4) {
  console.error("first-step losses disagree");
  process.exitCode = 1;
}
