// Training throughput of the toy trainer on this machine (not a test):
//
//   npx tsx src/toy/train-bench.ts [--layers 4] [--batch 16] [--seq 128] [--vocab 4096] [--hidden 256]
//                                  [--workers auto|N] [--micro 2] [--steps 10] [--loss answer|full]
//
// Synthetic chat-like data (sequences of 40-120 tokens, packed into seqLen rows; with --loss answer
// the last 45% of each sequence is counted, like an assistant answer). Prints the steady-state
// tokens/s (median step after two warm-up steps) and how many tokens 50 minutes would train.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { ModelConfig } from "../model/types.ts";
import { mulberry32 } from "../util/prng.ts";
import { countParams, trainToyModel, type StepInfo } from "./train.ts";

const { values } = parseArgs({
  options: {
    layers: { type: "string", default: "4" },
    batch: { type: "string", default: "16" },
    seq: { type: "string", default: "128" },
    vocab: { type: "string", default: "4096" },
    hidden: { type: "string", default: "256" },
    intermediate: { type: "string", default: "688" },
    heads: { type: "string", default: "8" },
    "kv-heads": { type: "string", default: "2" },
    workers: { type: "string", default: "auto" },
    micro: { type: "string", default: "2" },
    steps: { type: "string", default: "10" },
    loss: { type: "string", default: "answer" },
  },
});
const num = (k: keyof typeof values): number => Number(values[k]);
const hidden = num("hidden");
const heads = num("heads");
const config: ModelConfig = {
  architecture: "Qwen2ForCausalLM",
  modelType: "qwen2",
  vocabSize: num("vocab"),
  hiddenSize: hidden,
  intermediateSize: num("intermediate"),
  numLayers: num("layers"),
  numHeads: heads,
  numKvHeads: num("kv-heads"),
  headDim: hidden / heads,
  rmsNormEps: 1e-6,
  ropeTheta: 1_000_000,
  ropeScaling: null,
  maxPositionEmbeddings: 2048,
  tieWordEmbeddings: true,
  attentionBias: true,
  oProjBias: false,
  mlpBias: false,
  bosTokenId: null,
  eosTokenIds: [2],
};
const rand = mulberry32(1);
const sequences: number[][] = [];
for (let i = 0; i < 4000; i++) {
  const len = 40 + Math.floor(rand() * 81);
  sequences.push(Array.from({ length: len }, () => 3 + Math.floor(rand() * (config.vocabSize - 3))));
}
const lossMask = values.loss === "full" ? null : sequences.map((s) => s.map((_, j) => (j >= s.length * 0.55 ? 1 : 0)));
const outDir = mkdtempSync(path.join(tmpdir(), "safesail-train-bench-"));
const infos: StepInfo[] = [];
try {
  const r = await trainToyModel({
    config,
    sequences,
    lossMask,
    seed: 0,
    batchSize: num("batch"),
    seqLen: num("seq"),
    steps: num("steps"),
    outDir,
    checkpointEvery: 0,
    finalCheckpoint: false,
    save: false,
    workers: values.workers === "auto" ? "auto" : num("workers"),
    microBatches: num("micro"),
    onStep: (s) => infos.push(s),
  });
  const steady = infos.slice(2).map((s) => s.tokens / (s.stepMs / 1000)).sort((a, b) => a - b);
  const median = steady[Math.floor(steady.length / 2)] ?? r.tokensPerSecond;
  const stepMs = infos.slice(2).map((s) => s.stepMs).sort((a, b) => a - b)[Math.floor((infos.length - 2) / 2)] ?? NaN;
  const counted = infos.reduce((a, s) => a + s.tokens, 0);
  console.log(
    JSON.stringify(
      {
        backend: r.backend,
        workers: r.workers,
        params: countParams(config),
        config: { hidden, layers: config.numLayers, heads, kvHeads: config.numKvHeads, intermediate: config.intermediateSize, vocab: config.vocabSize },
        batch: num("batch"),
        seqLen: num("seq"),
        loss: values.loss,
        medianStepMs: Math.round(stepMs),
        tokensPerStep: Math.round(counted / infos.length),
        tokensPerSecond: Math.round(median),
        tokensIn50Minutes: Math.round(median * 3000),
        firstStepMs: Math.round(infos[0]?.stepMs ?? NaN),
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
