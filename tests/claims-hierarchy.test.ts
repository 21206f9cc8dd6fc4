// The layer hierarchy (claim 4) on the embedded toy model and its shipped SAEs: its classes follow its rules, and a top
// feature's votes and peak tokens match a recomputation with the plain-JS encoder on the model's own activations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layerHierarchy, type LayerHierarchy } from "../src/claims/hierarchy.ts";
import { readDomainCorpus } from "../src/data/domain-corpus.ts";
import { loadSaes } from "../src/interpret/examples.ts";
import { loadDefaultModel } from "../src/model/default.ts";
import type { Model } from "../src/model/runtime.ts";
import { encodeTopK, type Sae } from "../src/sae/sae.ts";
import { positionsOf } from "../src/steer/languages.ts";
import { prepareTokens } from "../src/steer/token-features.ts";
import { entropyBits } from "../src/steer/trajectory.ts";
import { heldOutConversations } from "../src/toy/heldout.ts";
import { DEFAULT_TOY_SAES_DIR } from "../src/toy/saes.ts";

let model: Model;
let saes: Sae[];
let h: LayerHierarchy;
const harmful: { role: "user"; content: string }[][] = [];
const benign: { role: "user"; content: string }[][] = [];

beforeAll(async () => {
  model = await loadDefaultModel();
  saes = (await loadSaes(DEFAULT_TOY_SAES_DIR)).filter((_, i) => i === 0 || i === 3);
  const en = (await heldOutConversations()).filter((c) => c.lang === "en");
  for (const c of en.filter((x) => x.harmful).slice(0, 16)) harmful.push([{ role: "user", content: c.messages[0]!.content }]);
  for (const c of en.filter((x) => !x.harmful).slice(0, 8)) benign.push([{ role: "user", content: c.messages[0]!.content }]);
  const samples = (await readDomainCorpus("data/domain-corpus.jsonl")).filter((s) => s.lang === "en").filter((_, i) => i % 4 === 0);
  h = await layerHierarchy(model, saes, { harmful, benign }, samples, ["0_1", "3_2", "3_3"], { top: 6, samples: 30 });
}, 300_000);
afterAll(() => model?.dispose());

describe("layerHierarchy", () => {
  it("classes every top feature by its own rules and counts shares and refusal features", () => {
    expect(h.layers.map((l) => l.layer)).toEqual([0, 3]);
    for (const l of h.layers) {
      expect(l.top.length).toBeLessThanOrEqual(6);
      for (const f of l.top) {
        const tokenSpecific = f.entropy !== null && f.entropy <= 1;
        expect(f.kind).toBe(tokenSpecific ? "token" : f.precision !== null && f.precision >= 0.6 ? "concept" : "other");
        expect(f.difference).toBeGreaterThan(0);
      }
      expect(l.tokenShare.estimate).toBeCloseTo(l.top.filter((f) => f.kind === "token").length / l.top.length, 12);
      expect(l.tokenShare.low).toBeLessThanOrEqual(l.tokenShare.high);
    }
    expect(h.layers.map((l) => l.refusal.features)).toEqual([1, 2]);
    expect(h.refusalFeatures).toBe(3);
  });

  it("agrees with a recomputation of the votes and peak tokens from the model's activations", async () => {
    const layer = h.layers[0]!;
    const sae = saes[0]!;
    const hook = sae.config.hookName!;
    const m = sae.config.dSae;
    // Pooled max over the request's own tokens, with the argmax token, by the plain-JS encoder.
    const pool = async (reqs: typeof harmful) => {
      const out: { v: Float64Array; at: string[] }[] = [];
      for (const messages of reqs) {
        const p = prepareTokens(model, { messages }, { chat: true }, "test");
        const r = await model.runWithCache([p.ids], [hook]);
        const D = model.config.hiddenSize;
        const code = encodeTopK(sae, r.cache[hook]!.data.slice(0, p.ids.length * D), p.ids.length);
        const v = new Float64Array(m);
        const at: string[] = new Array(m).fill("");
        for (const t of positionsOf(p, "query")) {
          for (let j = t * code.k; j < (t + 1) * code.k; j++) {
            if (code.values[j]! > v[code.indices[j]!]!) {
              v[code.indices[j]!] = code.values[j]!;
              at[code.indices[j]!] = (p.tokens[t]!.display || p.tokens[t]!.text).trim().toLowerCase();
            }
          }
        }
        out.push({ v, at });
      }
      return out;
    };
    const H = await pool(harmful);
    const B = await pool(benign);
    const scales = Array.from({ length: m }, (_, j) => Math.max(...[...H, ...B].map((x) => x.v[j]!)));
    const mean = (xs: { v: Float64Array }[], j: number) => xs.reduce((a, x) => a + x.v[j]!, 0) / xs.length;
    const eligible = Array.from({ length: m }, (_, j) => scales[j]! > 0 && mean(H, j) - mean(B, j) > 0);
    const votes = new Array<number>(m).fill(0);
    for (const x of H) {
      const strongest = Array.from({ length: m }, (_, j) => j).filter((j) => eligible[j] && x.v[j]! > 0).sort((a, b) => x.v[b]! / scales[b]! - x.v[a]! / scales[a]! || a - b).slice(0, 5);
      for (const j of strongest) votes[j]!++;
    }
    for (const g of layer.top) expect(g.requests, g.feature).toBe(votes[Number(g.feature.split("_")[1])]);
    expect(Math.min(...layer.top.map((g) => g.requests))).toBeGreaterThanOrEqual([...votes].sort((a, b) => b - a)[layer.top.length - 1]!);
    const f = layer.top[0]!;
    const i = Number(f.feature.split("_")[1]);
    const scale = scales[i]!;
    const diff = H.reduce((a, x) => a + x.v[i]!, 0) / H.length - B.reduce((a, x) => a + x.v[i]!, 0) / B.length;
    expect(f.difference).toBeCloseTo(diff / scale, 3);
    const peaks = new Map<string, number>();
    for (const x of H) if (x.v[i]! > 0) peaks.set(x.at[i]!, (peaks.get(x.at[i]!) ?? 0) + 1);
    expect(f.fires).toBe([...peaks.values()].reduce((a, b) => a + b, 0));
    expect(f.entropy!).toBeCloseTo(entropyBits(peaks.values())!, 10);
    expect(f.tokens[0]!.count).toBe(Math.max(...peaks.values()));
  });

  it("refuses too few requests by name", async () => {
    await expect(layerHierarchy(model, saes, { harmful: harmful.slice(0, 1), benign }, [{ text: "x", domain: "terror" }], [])).rejects.toThrow(/at least 2 harmful and 1 benign request \(got 1 and 8\)/);
  });
});
