// What steering costs per generated token (issue 15: "additive ones stay in-graph (no extra cost); clamping costs
// one encode per step at that layer; measure it"). Decode steps with the key/value cache, unsteered as the
// reference in the same run, then with each kind of intervention:
//   add        in-graph (the runtime's additive hook): no graph split, no encode
//   orthogonal a hook function: the graph is split at the hook, the value crosses into JS and back, no encode
//   clamp      the same split plus one TopK encode of the new token at that layer
//   clamp x4   clamp at every layer (four splits, four encodes)
//
//   npx tsx bench/steer.ts [--model DIR] [--steps 64] [--runs 5] [--expansion 10] [--k 64]
//
// On the toy model (default) the shipped SAEs are used; with --model (e.g. the random 0.5B-shaped model that
// bench/forward.ts writes) seeded random TopK SAEs of the model's width are made (the cost does not depend on
// training). Prints median ms per token over `runs` after one warm-up, and each mode's ratio to the unsteered run.
// Not a CI test; figures go to bench/README.md and docs/steering.md.
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadSaes } from "../src/interpret/examples.ts";
import { loadModel, type HookEdit, type KvCache, type Model } from "../src/model/runtime.ts";
import { createSae, type Sae } from "../src/sae/sae.ts";
import { steer, type Intervention } from "../src/steer/index.ts";

const ROOT = resolve(import.meta.dirname, "..");
const { values } = parseArgs({ options: { model: { type: "string" }, steps: { type: "string", default: "64" }, runs: { type: "string", default: "5" }, expansion: { type: "string", default: "10" }, k: { type: "string", default: "64" } } });
const steps = Number(values.steps);
const runs = Number(values.runs);
const modelDir = values.model ?? join(ROOT, "models/toy-safety-qwen2");
const model = await loadModel(modelDir);
const L = model.config.numLayers;
const layers = [0, Math.floor(L / 3), Math.floor((2 * L) / 3), L - 1].filter((v, i, a) => a.indexOf(v) === i);
let saes: Sae[];
if (values.model) {
  saes = layers.map((l) => createSae({ dIn: model.config.hiddenSize, expansion: Number(values.expansion), k: Number(values.k), hookName: `blocks.${l}.hook_resid_post` }, { seed: 7 + l }));
} else saes = await loadSaes(join(ROOT, "models/toy-safety-qwen2/saes"));
const mid = layers[Math.floor(layers.length / 2)]!;
const f = (l: number) => `${l}_17`;

const modes: [string, Intervention[]][] = [
  ["unsteered", []],
  ["add", [{ feature: f(mid), method: "add", value: 4 }]],
  ["orthogonal", [{ feature: f(mid), method: "orthogonal", value: 0 }]],
  ["clamp", [{ feature: f(mid), method: "clamp", value: 4 }]],
  [`clamp x${layers.length}`, layers.map((l) => ({ feature: f(l), method: "clamp" as const, value: 4 }))],
];

const prompt = model.tokenizer ? model.toTokens("Tell me about the history of the bicycle.", { chat: model.tokenizer.hasChatTemplate }) : [1, 2, 3, 4, 5, 6, 7, 8];

/** ms per decode step: prefill the prompt, then `steps` single-token steps (greedy, stop tokens ignored). */
async function decode(m: Model, hooks: Record<string, HookEdit>): Promise<number> {
  let r = await m.forward([prompt], { returnPast: true, logits: "last", hooks });
  let past: KvCache = r.past!;
  const argmax = (l: Float32Array) => l.reduce((b, v, i) => (v > l[b]! ? i : b), 0);
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    r = await m.forward([[argmax(r.logits.data)]], { past, returnPast: true, logits: "last", hooks, step: s });
    past = r.past!;
  }
  return (performance.now() - t0) / steps;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`model ${modelDir}: hidden ${model.config.hiddenSize}, ${L} layers; SAEs ${values.model ? `random, expansion ${values.expansion}, k ${values.k}` : "shipped (expansion 10, k 64)"} at layers ${layers.join(", ")}; ${steps} decode steps, median of ${runs}`);
let reference = 0;
for (const [name, ivs] of modes) {
  const hooks = ivs.length ? steer(model, saes, ivs).hooks : {};
  await decode(model, hooks);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) times.push(await decode(model, hooks));
  const ms = median(times);
  if (name === "unsteered") reference = ms;
  console.log(`${name.padEnd(12)} ${ms.toFixed(2).padStart(8)} ms/token  ${(1000 / ms).toFixed(1).padStart(7)} tok/s  x${(ms / reference).toFixed(2)} of unsteered`);
}
await model.dispose();
