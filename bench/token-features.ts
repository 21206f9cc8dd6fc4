// Kernel-side cost of the per-token read-out (src/steer/token-features.ts): tokenFeatures on a 512-token text with
// 4 SAE layers (the TokenActivations view's render target, issue 14), split into its parts, and the size of the
// JSON the kernel sends to the widget.
//
//   npx tsx bench/token-features.ts [--tokens 512] [--runs 5] [--k 32] [--tagged 64|all-third] [--encoder ort|js]
//
// SAEs: the shipped ones under models/toy-safety-qwen2/saes/ when that folder holds four, else seeded random
// TopK SAEs (expansion 10, k 32) at blocks.{0..3}.hook_resid_post; the cost does not depend on training. Database:
// `--tagged 64` tags 64 latents per layer (a database of a few hundred safety features, like a filtered one);
// `all-third` tags every third latent (a worst case: many candidate rows per token). Prints the median of `runs`
// after one warm-up. Not a CI test; figures go to docs/starmap-api.md.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { featureRecord, type FeatureRecord } from "../src/db/records.ts";
import { newFeatureDb } from "../src/db/store.ts";
import { loadSaes } from "../src/interpret/examples.ts";
import { loadModel } from "../src/model/runtime.ts";
import { createSae, type Sae } from "../src/sae/sae.ts";
import { buildTable, checkTokenFeatureOptions, encodeDocuments, prepareTokens, saeLayers, tokenFeatures } from "../src/steer/token-features.ts";

const ROOT = resolve(import.meta.dirname, "..");
const { values } = parseArgs({ options: { tokens: { type: "string", default: "512" }, runs: { type: "string", default: "5" }, k: { type: "string", default: "32" }, tagged: { type: "string", default: "64" }, encoder: { type: "string", default: "ort" } } });
const target = Number(values.tokens);
const runs = Number(values.runs);
const encoder = values.encoder as "ort" | "js";

const model = await loadModel(join(ROOT, "models/toy-safety-qwen2"));
const shipped = join(ROOT, "models/toy-safety-qwen2/saes");
let saes: Sae[];
let saeSource: string;
const loaded = existsSync(shipped) ? await loadSaes(shipped).catch(() => []) : [];
if (loaded.length === 4) {
  saes = loaded;
  saeSource = `shipped (${shipped})`;
} else {
  saes = [0, 1, 2, 3].map((l) => createSae({ dIn: 256, expansion: 10, k: Number(values.k), hookName: `blocks.${l}.hook_resid_post` }, { seed: 100 + l }));
  saeSource = `random (expansion 10, k ${values.k})`;
}
const records: FeatureRecord[] = [];
for (const sae of saes) {
  const layer = Number(/blocks\.(\d+)\./.exec(sae.config.hookName!)![1]);
  const step = values.tagged === "all-third" ? 3 : Math.floor(sae.config.dSae / Number(values.tagged));
  for (let i = 0; i < sae.config.dSae; i += step) {
    records.push(featureRecord(`${layer}_${i}`, { explanation: `feature ${layer}_${i}: a short explanation of what it detects`, correlation_score: (i % 10) / 10, tag_list: [["violence"], ["terror"], ["politics"], ["pornography"]][i % 4]!, activations: { store: "bench", frac_nonzero: 0.01, max_activation: 4, normalisation_value: 3, histogram: { edges: [], counts: [] }, logits: { top: [], bottom: [] }, top_examples: [] } }));
  }
}
const db = newFeatureDb(records);

// A text of exactly `target` tokens in the chat template (held-out prompts of several languages, cut to length).
const prompts = (await import("node:fs")).readFileSync(join(ROOT, "models/toy-safety-qwen2/heldout.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).prompt as string);
let text = "";
for (let i = 0; model.toTokens(text, { chat: true }).length < target; i++) text += (text ? " " : "") + prompts[i % prompts.length];
while (model.toTokens(text, { chat: true }).length > target) text = text.slice(0, -1);
const T = model.toTokens(text, { chat: true }).length;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = async <R>(f: () => Promise<R> | R): Promise<[number, R]> => {
  const t0 = performance.now();
  const r = await f();
  return [performance.now() - t0, r];
};

await tokenFeatures(model, saes, db, text, { encoder }); // warm-up: onnxruntime sessions
const parts: Record<string, number[]> = { tokenize: [], "forward+encode": [], table: [], total: [], json: [] };
let size = 0;
let rows = 0;
for (let r = 0; r < runs; r++) {
  const options = checkTokenFeatureOptions({ encoder }, "bench");
  const layers = saeLayers(model, saes, "bench");
  const [tTok, prepared] = await time(() => prepareTokens(model, text, {}, "bench"));
  const [tEnc, codes] = await time(() => encodeDocuments(model, layers, [prepared], encoder));
  const [tTab, table] = await time(() => buildTable(model, layers, db, prepared, codes[0]!, options, "bench"));
  const [tAll] = await time(() => tokenFeatures(model, saes, db, text, { encoder }));
  const [tJson, json] = await time(() => JSON.stringify(table));
  parts.tokenize!.push(tTok);
  parts["forward+encode"]!.push(tEnc);
  parts.table!.push(tTab);
  parts.total!.push(tAll);
  parts.json!.push(tJson);
  size = json.length;
  rows = table.rows.length;
}
console.log(`tokenFeatures: ${T} tokens x ${saes.length} layers; SAEs ${saeSource}; ${records.length} database records (--tagged ${values.tagged}); encoder ${encoder}; median of ${runs}`);
for (const [k, v] of Object.entries(parts)) console.log(`  ${k.padEnd(15)} ${median(v).toFixed(1)} ms`);
console.log(`  rows ${rows}, JSON ${(size / 1024).toFixed(0)} KiB`);
await model.dispose();
