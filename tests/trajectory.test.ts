// trajectory (src/steer/trajectory.ts): nodes, links and the per-layer summary on a table built by hand (every weight
// worked out below), then on the toy model against the plain path (forward + encodeTopK per token): layer 1's SAE is
// layer 0's own (same parameters), so the same latent fires on the same tokens in adjacent layers. Token
// specificity's entropy is checked against Debian's /usr/bin/python3 (re, collections.Counter, math.log2).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { featureRecord, type FeatureActivationSummary, type FeatureRecord } from "../src/db/records.ts";
import { newFeatureDb } from "../src/db/store.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import { createSae, encodeTopK, type Sae } from "../src/sae/sae.ts";
import { entropyBits, firingPieces, trajectory, trajectoryFromTable, type TokenFeatureRow, type TokenFeatureTable } from "../src/steer/index.ts";

const PY = "/usr/bin/python3";
const MODEL_DIR = resolve(import.meta.dirname, "../models/toy-safety-qwen2");

const summary = (topExamples: string[]): FeatureActivationSummary => ({ store: "t", frac_nonzero: 0.1, max_activation: 10, normalisation_value: 10, histogram: { edges: [], counts: [] }, logits: { top: [], bottom: [] }, top_examples: topExamples });

describe("trajectoryFromTable on a hand-built table", () => {
  // Tokens 0-5, roles as a short conversation; layers 0, 1, 2.
  const roles = ["template", "user", "user", "user", "assistant", "assistant"];
  const row = (token: number, feature: string, normalised: number, tags: string[] = ["violence"]): TokenFeatureRow => {
    const [layer, index] = feature.split("_").map(Number) as [number, number];
    return { token, layer, feature, index, rank: 1, activation: 10 * normalised, normalised, explanation: `about ${feature}`, score: 0.5, tags };
  };
  const rows = [
    row(1, "0_6", 0.7),
    row(2, "1_8", 0.6),
    row(3, "0_5", 0.8),
    row(3, "1_7", 0.5),
    row(3, "2_9", 0.3, ["terror"]),
    row(4, "0_5", 0.4),
    row(4, "1_7", 0.9),
    row(5, "2_9", 1, ["terror"]),
  ].sort((a, b) => a.token - b.token || a.layer - b.layer);
  const table = (layers: number[]): TokenFeatureTable => ({
    kind: "safesail-token-features",
    version: 1,
    model: "hand",
    layers: layers.map((layer) => ({ layer, hook: `blocks.${layer}.hook_resid_post`, dSae: 16, k: 4 })),
    tokens: roles.map((role, index) => ({ index, id: index, text: `t${index}`, display: `t${index}`, special: false, role })),
    answerStart: 4,
    options: { top: 5, onlySafety: true, rankBy: "normalised", layers: null, domain: null, minScore: null, select: [], tracks: 10 },
    rows: rows.filter((r) => layers.includes(r.layer)),
    features: [],
    warnings: [],
  });
  const db = newFeatureDb([
    featureRecord("0_5", { explanation: "bomb", correlation_score: 0.5, tag_list: ["violence"], activations: summary(["a <<bomb>>(9) b", "<<bomb>>(3) c <<Bomb >>(2)"]) }),
    featureRecord("1_7", { explanation: "weapons", correlation_score: 0.5, tag_list: ["violence"], activations: summary(["<<gun>>(5) and <<knife>>(4)", "a <<bomb>>(8)", "<<rifle>>(2)"]) }),
  ]);

  it("links features of adjacent layers that share tokens, weighted by the sum of min(normalised)", () => {
    const tr = trajectoryFromTable(table([0, 1, 2]), db);
    // 0_5 and 1_7 share tokens 3 and 4: min(0.8, 0.5) + min(0.4, 0.9) = 0.9.
    // 1_7 and 2_9 share token 3: min(0.5, 0.3) = 0.3. 0_6 (token 1) and 1_8 (token 2) share nothing.
    // 0_5 and 2_9 share token 3 but layer 1 lies between them.
    expect(tr.links.map((l) => [l.source, l.target, l.sourceLayer, l.targetLayer, l.tokens])).toEqual([
      ["0_5", "1_7", 0, 1, [3, 4]],
      ["1_7", "2_9", 1, 2, [3]],
    ]);
    expect(tr.links[0]!.weight).toBeCloseTo(0.9, 12);
    expect(tr.links[1]!.weight).toBeCloseTo(0.3, 12);
    // With no SAE at layer 1, layers 0 and 2 are adjacent.
    const skip = trajectoryFromTable(table([0, 2]), db);
    expect(skip.links.map((l) => [l.source, l.target, l.tokens])).toEqual([["0_5", "2_9", [3]]]);
    expect(skip.links[0]!.weight).toBeCloseTo(0.3, 12);
  });

  it("makes one node per feature with its tokens, total and max", () => {
    const tr = trajectoryFromTable(table([0, 1, 2]), db);
    const n = Object.fromEntries(tr.nodes.map((x) => [x.id, x]));
    expect(tr.nodes.map((x) => x.id)).toEqual(["0_5", "0_6", "1_7", "1_8", "2_9"]);
    expect(n["0_5"]!.tokens).toEqual([3, 4]);
    expect(n["0_5"]!.total).toBeCloseTo(1.2, 12);
    expect(n["0_5"]!.max).toBe(0.8);
    expect(n["0_5"]!.totalActivation).toBeCloseTo(12, 12);
    expect(n["2_9"]!.tokens).toEqual([3, 5]);
    expect(n["2_9"]!.max).toBe(1);
    expect(tr.perLayer[1]).toEqual({ layer: 1, tokens: [{ token: 2, features: [{ feature: "1_8", activation: 6, normalised: 0.6 }] }, { token: 3, features: [{ feature: "1_7", activation: 5, normalised: 0.5 }] }, { token: 4, features: [{ feature: "1_7", activation: 9, normalised: 0.9 }] }] });
  });

  it("summarises each layer: top features, token specificity from the records' examples, domains and roles", () => {
    const tr = trajectoryFromTable(table([0, 1, 2]), db, { specificEntropy: 1 });
    const [s0, s1, s2] = tr.summary;
    expect(s0!.top.map((t) => t.feature)).toEqual(["0_5", "0_6"]);
    // 0_5 fires on "bomb" three times (case and spaces folded): 0 bits, token-specific. 0_6 has no record.
    expect(s0!.top[0]!.entropy).toBe(0);
    expect(s0!.top[1]!.entropy).toBeNull();
    expect(s0!.specificity).toEqual({ measured: 1, meanEntropy: 0, tokenSpecific: 1, share: 1, threshold: 1 });
    // 1_7: four different words once each = 2 bits, above the threshold.
    expect(s1!.top[0]!.entropy).toBeCloseTo(2, 12);
    expect(s1!.specificity.tokenSpecific).toBe(0);
    expect(s1!.specificity.share).toBe(0);
    expect(s2!.domains).toEqual({ terror: 1.3 });
    expect(s1!.roles.user).toBeCloseTo(1.1, 12);
    expect(s1!.roles.assistant).toBeCloseTo(0.9, 12);
    expect(tr.warnings.some((w) => /no top examples/.test(w))).toBe(true);
    expect(JSON.parse(JSON.stringify(tr))).toEqual(tr);
  });

  it("computes the firing-piece entropy as Python does", () => {
    const examples = [
      ["x <<bomb>>(9) y <<Bomb>>(3) <<gun>>(1)", "<<  knife >>(10) <<bomb>>(2)", "<< >>(4) plain << >>(1) <<गोली>>(5)"],
      ["nothing marked here"],
      ["<<a>>(1)<<b>>(1)<<c>>(1)<<a>>(2)"],
    ];
    const script = String.raw`
import json, math, re, sys
from collections import Counter
out = []
for exs in json.load(sys.stdin):
    c = Counter()
    for ex in exs:
        for m in re.finditer(r"<<(.*?)>>\((\d+)\)", ex, re.S):
            k = m.group(1).strip().lower()
            c[k if k else m.group(1)] += 1
    n = sum(c.values())
    out.append({"pieces": dict(c), "h": (-sum(v / n * math.log2(v / n) for v in c.values()) + 0.0) if n else None})
print(json.dumps(out))`;
    const py = JSON.parse(execFileSync(PY, ["-c", script], { input: JSON.stringify(examples), encoding: "utf8" })) as { pieces: Record<string, number>; h: number | null }[];
    examples.forEach((exs, i) => {
      expect(Object.fromEntries(firingPieces(exs))).toEqual(py[i]!.pieces);
      const h = entropyBits(firingPieces(exs).values());
      if (py[i]!.h === null) expect(h).toBeNull();
      else expect(h).toBeCloseTo(py[i]!.h!, 12);
    });
    expect(py[0]!.h).toBeGreaterThan(1);
  });
});

describe("trajectory on the toy model", () => {
  const HOOKS = [0, 1, 2].map((l) => `blocks.${l}.hook_resid_post`);
  const DSAE = 256;
  const K = 8;
  let model: Model;
  let saes: Sae[];
  let records: FeatureRecord[];
  const conversation = { messages: [{ role: "user", content: "How can I build a bomb to attack people?" }, { role: "assistant", content: "I can't help with that." }] };

  beforeAll(async () => {
    model = await loadModel(MODEL_DIR);
    const base = createSae({ dIn: 256, dSae: DSAE, k: K, hookName: HOOKS[0] }, { seed: 7 });
    // Layer 1 reads with layer 0's very parameters: the same latent, the same direction, one block later.
    const same: Sae = { config: { ...base.config, hookName: HOOKS[1]! }, params: base.params };
    saes = [base, same, createSae({ dIn: 256, dSae: DSAE, k: K, hookName: HOOKS[2] }, { seed: 9 })];
    records = [];
    for (let l = 0; l < 3; l++) for (let i = 0; i < DSAE; i += 2) records.push(featureRecord(`${l}_${i}`, { explanation: `f${l}_${i}`, correlation_score: 0.4, tag_list: [i % 4 === 0 ? "violence" : "terror"] }));
  }, 60_000);

  it("matches nodes and links computed from the plain path, and links the shared latent across layers 0 and 1", async () => {
    // top = k: every tagged latent that fires on a token is a row, so the expected graph is the co-firing itself.
    const tr = await trajectory(model, saes, newFeatureDb(records), conversation, { top: K });
    const ids = model.toTokens(conversation);
    const special = new Set((JSON.parse(readFileSync(resolve(MODEL_DIR, "tokenizer.json"), "utf8")).added_tokens as { id: number }[]).map((t) => t.id));
    const { cache } = await model.forward([ids], { cache: HOOKS, logits: "none" });
    // Reference: per layer, per token, the firing tagged latents with their raw values; normaliser = max over tokens.
    const fire: Map<number, number>[][] = saes.map((sae, l) => {
      const code = encodeTopK(sae, cache[HOOKS[l]!]!.data, ids.length);
      return ids.map((id, t) => {
        const m = new Map<number, number>();
        if (special.has(id)) return m;
        for (let j = 0; j < K; j++) if (code.values[t * K + j]! > 0 && code.indices[t * K + j]! % 2 === 0) m.set(code.indices[t * K + j]!, code.values[t * K + j]!);
        return m;
      });
    });
    const max = new Map<string, number>();
    fire.forEach((perToken, l) => perToken.forEach((m) => m.forEach((v, i) => max.set(`${l}_${i}`, Math.max(max.get(`${l}_${i}`) ?? 0, v)))));
    const norm = (l: number, i: number, t: number) => fire[l]![t]!.get(i)! / max.get(`${l}_${i}`)!;

    // Nodes.
    expect(new Set(tr.nodes.map((n) => n.id))).toEqual(new Set(max.keys()));
    for (const n of tr.nodes) {
      const tokens = ids.map((_, t) => t).filter((t) => fire[n.layer]![t]!.has(n.index));
      expect(n.tokens).toEqual(tokens);
      expect(n.total).toBeCloseTo(tokens.reduce((s, t) => s + norm(n.layer, n.index, t), 0), 4);
    }
    // Links: every co-firing pair of adjacent layers, with the documented weight; none between 0 and 2.
    const expected = new Map<string, { weight: number; tokens: number[] }>();
    for (const [a, b] of [[0, 1], [1, 2]] as const) {
      ids.forEach((_, t) => {
        for (const i of fire[a]![t]!.keys()) {
          for (const j of fire[b]![t]!.keys()) {
            const key = `${a}_${i}>${b}_${j}`;
            const e = expected.get(key) ?? { weight: 0, tokens: [] };
            e.weight += Math.min(norm(a, i, t), norm(b, j, t));
            e.tokens.push(t);
            expected.set(key, e);
          }
        }
      });
    }
    expect(tr.links.length).toBe(expected.size);
    for (const l of tr.links) {
      const e = expected.get(`${l.source}>${l.target}`)!;
      expect(l.tokens).toEqual(e.tokens);
      expect(l.weight).toBeCloseTo(e.weight, 4);
    }
    expect(tr.links.some((l) => l.sourceLayer === 0 && l.targetLayer === 2)).toBe(false);
    // The shared latent: some i fires at layer 0 and layer 1 on a common token, and its link is there.
    const shared = tr.links.filter((l) => l.source.split("_")[1] === l.target.split("_")[1] && l.sourceLayer === 0);
    expect(shared.length).toBeGreaterThan(0);
    // Features on disjoint tokens get no link.
    const n0 = tr.nodes.filter((n) => n.layer === 0);
    const n1 = tr.nodes.filter((n) => n.layer === 1);
    const disjoint = n0.flatMap((a) => n1.filter((b) => !a.tokens.some((t) => b.tokens.includes(t))).map((b) => `${a.id}>${b.id}`));
    expect(disjoint.length).toBeGreaterThan(0);
    expect(tr.links.some((l) => disjoint.includes(`${l.source}>${l.target}`))).toBe(false);
    // The summary's top features are the layer's nodes by total.
    for (const s of tr.summary) {
      const mine = tr.nodes.filter((n) => n.layer === s.layer).sort((a, b) => b.total - a.total);
      expect(s.top.map((t) => t.total)).toEqual(mine.slice(0, 5).map((n) => n.total));
      expect(s.specificity.measured).toBe(0);
    }
  });
});
