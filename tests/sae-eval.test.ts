// evalSae on a real (random, tiny) model: an SAE that reconstructs exactly must score like the clean
// model, one that reconstructs nothing like zero ablation; the clean cross-entropy is recomputed from the
// plain-loop reference forward; sparsity counts are checked by hand.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandomModel } from "../src/model/random.ts";
import { referenceForward } from "../src/model/reference.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import { tokenizeDocument } from "../src/activations/text.ts";
import { ceRecoveredWarnings, evalSae } from "../src/sae/eval.ts";
import { createSae, type Sae } from "../src/sae/sae.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-sae-eval-"));
let model: Model;
const D = 32;
const HOOK = "blocks.1.hook_mlp_out";
const docs = [
  [5, 17, 99, 3, 250, 41, 7, 8, 120],
  [200, 13, 13, 77, 1, 290],
];

/** An SAE whose latents are ±e_i with k = D: TopK-ReLU keeps |x_i| on the right sign, so x̂ = x exactly. */
function exactSae(): Sae {
  const sae = createSae({ dIn: D, dSae: 2 * D, k: D, hookName: HOOK });
  sae.params.W_dec.fill(0);
  for (let i = 0; i < D; i++) {
    sae.params.W_dec[i * D + i] = 1;
    sae.params.W_dec[(D + i) * D + i] = -1;
  }
  sae.params.W_encT = sae.params.W_dec.slice();
  sae.params.b_enc.fill(0);
  sae.params.b_dec.fill(0);
  return sae;
}

beforeAll(async () => {
  const dir = join(root, "m");
  await createRandomModel(dir, { architecture: "Qwen2ForCausalLM", hidden: D, layers: 3, heads: 4, kvHeads: 2, intermediate: 64, vocab: 300, seed: 3 });
  model = await loadModel(dir);
});
afterAll(async () => {
  await model?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe("evalSae", () => {
  it("scores an exact reconstruction like the clean model (FVU 0, CE recovered 1, KL 0)", async () => {
    const r = await evalSae(exactSae(), model, docs);
    expect(r.fvu).toBeLessThan(1e-10);
    expect(r.explained_variance).toBeCloseTo(1, 8);
    expect(r.ce_loss_sae).toBeCloseTo(r.ce_loss_clean, 5);
    expect(r.kl_sae).toBeLessThan(1e-6);
    expect(r.ce_loss_recovered).toBeCloseTo(1, 4);
    expect(r.tokens).toBe(15);
    expect(r.predictions).toBe(13);
    // Exactly D latents are positive per token (one of ±e_i per dimension, x_i never exactly 0).
    expect(r.l0).toBe(D);
  });

  it("scores a reconstruction of zeros like zero ablation (CE recovered 0)", async () => {
    const sae = exactSae();
    sae.params.W_dec.fill(0);
    const r = await evalSae(sae, model, docs);
    expect(r.ce_loss_sae).toBeCloseTo(r.ce_loss_zero_ablation, 5);
    expect(r.ce_loss_recovered).toBeCloseTo(0, 4);
    expect(r.fvu).toBeGreaterThan(1);
    expect(r.ce_loss_zero_ablation).not.toBeCloseTo(r.ce_loss_clean, 2);
  });

  it("computes the clean cross-entropy as the plain-loop reference forward does", async () => {
    const r = await evalSae(exactSae(), model, docs);
    let ce = 0;
    let n = 0;
    for (const doc of docs) {
      const ref = referenceForward(model.config, model.weights, [doc]);
      const V = model.config.vocabSize;
      for (let t = 0; t < doc.length - 1; t++) {
        const row = Array.from(ref.logits.data.subarray(t * V, (t + 1) * V));
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
        ce += lse - row[doc[t + 1]!]!;
        n++;
      }
    }
    expect(r.ce_loss_clean).toBeCloseTo(ce / n, 4);
  });

  it("counts dead and dense latents", async () => {
    // k = 1 over 2D latents: per token only the largest |x_i| fires; most latents never fire.
    const sae = exactSae();
    sae.config.k = 1;
    const r = await evalSae(sae, model, docs, { denseThreshold: 0.5 });
    expect(r.l0).toBe(1);
    expect(r.dead_fraction).toBeGreaterThan(0.5);
    expect(r.dense_fraction).toBeLessThanOrEqual(1 / (2 * D));
  });

  it("names a bad hook or width", async () => {
    await expect(evalSae(exactSae(), model, docs, { hookName: "blocks.9.hook_mlp_out" })).rejects.toThrow(/no hook "blocks.9.hook_mlp_out"/);
    const wide = createSae({ dIn: 16, k: 2, hookName: HOOK });
    await expect(evalSae(wide, model, docs)).rejects.toThrow(/reads 16 values per token but blocks.1.hook_mlp_out has 32/);
  });

  it("takes the corpus harvest takes, and with positions: answer averages CE over the answer tokens only", async () => {
    const convs = [
      { messages: [{ role: "user", content: "how are you" }, { role: "assistant", content: "fine thanks" }] },
      { messages: [{ role: "system", content: "be brief" }, { role: "user", content: "why" }, { role: "assistant", content: "because it is" }] },
      { messages: [{ role: "user", content: "no answer here" }] },
    ];
    const file = join(root, "conv.jsonl");
    writeFileSync(file, convs.map((c) => JSON.stringify(c)).join("\n") + "\n");
    // The answer starts where the prompt (earlier turns + assistant header) ends.
    const t0 = tokenizeDocument(model, convs[0]!);
    const prompt0 = model.toTokens({ messages: convs[0]!.messages.slice(0, 1) });
    expect(t0.answerStart).toBe(prompt0.length);
    expect(t0.ids.slice(0, prompt0.length)).toEqual(prompt0);
    expect(model.decode(t0.ids.slice(t0.answerStart!))).toContain("fine thanks");
    expect(tokenizeDocument(model, convs[2]!).answerStart).toBeNull();

    const all = await evalSae(exactSae(), model, file);
    const fromArray = await evalSae(exactSae(), model, convs);
    expect(fromArray).toEqual(all);
    expect(all.documents).toBe(3);
    const answer = await evalSae(exactSae(), model, file, { positions: "answer" });
    expect(answer.positions).toBe("answer");
    expect(answer.documents).toBe(2); // the conversation without an answer has nothing to score

    // Independent: the plain-loop reference forward, CE over targets at or after answerStart.
    let ce = 0;
    let n = 0;
    const V = model.config.vocabSize;
    for (const c of convs.slice(0, 2)) {
      const { ids, answerStart } = tokenizeDocument(model, c);
      const ref = referenceForward(model.config, model.weights, [ids]);
      for (let t = answerStart! - 1; t < ids.length - 1; t++) {
        const row = Array.from(ref.logits.data.subarray(t * V, (t + 1) * V));
        const max = Math.max(...row);
        ce += max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) - row[ids[t + 1]!]!;
        n++;
      }
    }
    expect(answer.predictions).toBe(n);
    expect(answer.ce_loss_clean).toBeCloseTo(ce / n, 4);
    expect(answer.predictions).toBeLessThan(all.predictions);
    await expect(evalSae(exactSae(), model, [convs[2]!], { positions: "answer" })).rejects.toThrow(/evalSae: no document with an answer/);
    await expect(evalSae(exactSae(), model, file, { positions: "prompt" as "answer" })).rejects.toThrow(/positions must be "all" or "answer", got "prompt"/);
  });

  it("refuses a corpus with bytes that are not UTF-8, naming file:line, unless invalidUtf8: replace", async () => {
    const file = join(root, "latin1.txt");
    writeFileSync(file, Buffer.concat([Buffer.from("hello there\ncaf"), Buffer.from([0xe9]), Buffer.from(" au lait\n")]));
    await expect(evalSae(exactSae(), model, file, { chat: false })).rejects.toThrow(`${file}:2: not valid UTF-8: byte 0xe9 at byte offset 15 of the file`);
    const r = await evalSae(exactSae(), model, file, { chat: false, invalidUtf8: "replace" });
    expect(r.documents).toBe(2);
  });
});

describe("ceRecoveredWarnings", () => {
  it("warns when zero-ablation does not raise the loss, or raises it by under 1% of the clean loss", () => {
    expect(ceRecoveredWarnings("blocks.1.hook_mlp_out", 1.5227, 1.3411)[0]).toMatch(/meaningless here: zero-ablating blocks\.1\.hook_mlp_out does not raise the loss \(clean 1\.5227, zeroed 1\.3411 nats\)$/);
    expect(ceRecoveredWarnings("blocks.1.hook_attn_out", 1.5227, 1.5269)[0]).toMatch(/unreliable here: .* raises the loss by 0\.0042 nats, under 1% of the clean 1\.5227/);
    expect(ceRecoveredWarnings("blocks.0.hook_attn_out", 1.5227, 3.5539)).toEqual([]);
    expect(ceRecoveredWarnings("h", 2, 2.02)).toEqual([]); // exactly 1%: enough
    expect(ceRecoveredWarnings("h", 2, NaN)[0]).toMatch(/meaningless/);
    expect(ceRecoveredWarnings("h", 2, 1, "all")[0]).toMatch(/try positions: "answer"$/);
  });
});
