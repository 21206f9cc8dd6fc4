// What a large graph output costs in onnxruntime-node: one product, [S, B]·[B, d] at the SAE step's paper shape by
// default, timed as an intermediate (summed inside the graph), as a fresh output, and into a preallocated output.
// The difference is the memory the output lands in, not the arithmetic (bench/README.md, "SAE step"): run it with
// and without MALLOC_MMAP_MAX_=0 to see glibc's mmap threshold at work.
//
//   npx tsx bench/gemm-outputs.ts [--shape M,K,N] [--threads 2]
import os from "node:os";
import { parseArgs } from "node:util";
import { ort } from "../src/engine/ort.ts";
import { DataType, GraphBuilder } from "../src/engine/onnx-builder.ts";

const { values } = parseArgs({ options: { shape: { type: "string", default: "20480,1024,2048" }, threads: { type: "string" } } });
const [M, K, N] = values.shape!.split(",").map(Number) as [number, number, number];
const threads = values.threads ? Number(values.threads) : os.availableParallelism();
console.log(`[${M}, ${K}]·[${K}, ${N}], ${threads} threads, output ${((M * N * 4) / 2 ** 20).toFixed(0)} MiB, MALLOC_MMAP_MAX_=${process.env.MALLOC_MMAP_MAX_ ?? "(default)"}`);
for (const mode of ["intermediate", "fresh output", "preallocated output"] as const) {
  const g = new GraphBuilder("mm");
  const a = g.input("a", DataType.FLOAT, [M, K]);
  const b = g.input("b", DataType.FLOAT, [K, N]);
  if (mode === "intermediate") {
    g.op("ReduceSum", [g.op("MatMul", [a, b])], { keepdims: 0 }, { outputs: ["c"] });
    g.output("c", DataType.FLOAT, []);
  } else {
    g.op("MatMul", [a, b], {}, { outputs: ["c"] });
    g.output("c", DataType.FLOAT, [M, N]);
  }
  const session = await ort.InferenceSession.create(g.build({ opset: 17 }).model, { executionProviders: ["cpu"], intraOpNumThreads: threads });
  const A = new Float32Array(M * K).fill(0.5);
  const B = new Float32Array(K * N).fill(0.25);
  const C = new Float32Array(M * N);
  const feeds = { a: new ort.Tensor("float32", A, [M, K]), b: new ort.Tensor("float32", B, [K, N]) };
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    await session.run(feeds, mode === "preallocated output" ? { c: new ort.Tensor("float32", C, [M, N]) } : ["c"]);
    times.push(performance.now() - t0);
  }
  const best = Math.min(...times.slice(1)); // the first run also allocates the session's own buffers
  console.log(`  ${mode.padEnd(20)} ${best.toFixed(0).padStart(5)} ms  ${((2 * M * K * N) / best / 1e6).toFixed(0)} GFLOPS`);
  await session.release();
}
