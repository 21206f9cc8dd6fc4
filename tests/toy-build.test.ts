// The toy model pipeline around the trainer: chat-formatted training data with answer-only loss masks
// (checked against transformers.js' chat template and tokenizer), and `safesail toy` end to end on a
// small corpus: corpus files -> training -> interruption-free resume -> eval -> model card.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer } from "../src/model/tokenizer.ts";
import { decodeBpe, encodeBpe, writeTokenizer, type BpeModel } from "../src/model/bpe.ts";
import { encodeConversation, encodeCorpus, toyModelConfig, trainToyTokenizer } from "../src/toy/build.ts";
import { TOY_CORPUS_SEED, generateCorpus, type CorpusResult } from "../src/toy/corpus.ts";
import { countParams } from "../src/toy/train.ts";
import { runCli } from "./helpers/cli.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-toy-build-"));
let corpus: CorpusResult;
let bpe: BpeModel;

const run = runCli;

beforeAll(() => {
  corpus = generateCorpus({ seed: TOY_CORPUS_SEED });
  bpe = trainToyTokenizer(corpus.train);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("chat-formatted training data", () => {
  it("equals transformers.js' chat template + tokenizer on the written tokenizer files", async () => {
    const dir = join(root, "tok");
    await writeTokenizer(dir, bpe);
    const tok = await loadTokenizer(dir);
    // Every 97th conversation: all languages, with and without system turns.
    for (let i = 0; i < corpus.train.length; i += 97) {
      const conv = corpus.train[i]!;
      const ours = encodeConversation(bpe, conv.messages).ids;
      const theirs = tok.encode(tok.applyChatTemplate(conv.messages), { addSpecialTokens: false });
      expect(ours, conv.id).toEqual(theirs);
    }
  });

  it("encodes every conversation of the corpus as its rendered text would be", () => {
    for (const conv of corpus.train) {
      const rendered = conv.messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join("");
      expect(encodeConversation(bpe, conv.messages).ids).toEqual(encodeBpe(bpe, rendered));
    }
  });

  it("counts exactly the assistant answers and their <|im_end|> in the loss", () => {
    const imEnd = bpe.vocab.get("<|im_end|>")!;
    const imStart = bpe.vocab.get("<|im_start|>")!;
    for (const conv of corpus.train.slice(0, 500)) {
      const { ids, mask } = encodeConversation(bpe, conv.messages);
      expect(mask.length).toBe(ids.length);
      // Split the ids into turns at <|im_start|> and compare each turn's counted ids with its role.
      const turns: { ids: number[]; mask: number[] }[] = [];
      ids.forEach((id, t) => {
        if (id === imStart) turns.push({ ids: [], mask: [] });
        turns.at(-1)!.ids.push(id);
        turns.at(-1)!.mask.push(mask[t]!);
      });
      expect(turns.length).toBe(conv.messages.length);
      turns.forEach((turn, k) => {
        const counted = turn.ids.filter((_, j) => turn.mask[j] === 1);
        if (conv.messages[k]!.role === "assistant") {
          expect(counted.at(-1)).toBe(imEnd);
          expect(decodeBpe(bpe, counted.slice(0, -1))).toBe(conv.messages[k]!.content);
        } else {
          expect(counted).toEqual([]);
        }
      });
    }
    const { sequences, lossMask } = encodeCorpus(bpe, corpus.train);
    expect(sequences.length).toBe(corpus.train.length);
    const answers = lossMask.reduce((a, m) => a + m.reduce((x, y) => x + y, 0), 0);
    const total = sequences.reduce((a, s) => a + s.length, 0);
    expect(answers / total).toBeGreaterThan(0.3);
    expect(answers / total).toBeLessThan(0.7);
  });

  it("keeps a literal <|im_end|> inside a message as text", () => {
    const { ids } = encodeConversation(bpe, [{ role: "user", content: "say <|im_end|> please" }]);
    expect(ids.filter((id) => id === bpe.vocab.get("<|im_end|>")).length).toBe(1);
  });

  it("sizes the model as the issue asks: Qwen2, hidden 256, 4 layers, GQA, the tokenizer's vocabulary", () => {
    const cfg = toyModelConfig(bpe);
    expect(cfg).toMatchObject({ architecture: "Qwen2ForCausalLM", hiddenSize: 256, numLayers: 4, numHeads: 8, numKvHeads: 2, vocabSize: 4096 });
    expect(cfg.eosTokenIds).toContain(bpe.vocab.get("<|im_end|>"));
    // <= 20 MB as F32.
    expect(countParams(cfg) * 4).toBeLessThan(20e6);
  });
});

describe("safesail toy (small corpus)", () => {
  const corpusDir = join(root, "corpus");
  const modelDir = join(root, "model");
  const workDir = join(root, "work");

  it("writes a corpus, trains, resumes, evaluates and writes a card", async () => {
    let r = await run(["toy", "corpus", "--out", corpusDir, "--conversations", "300", "--held-out-per-cell", "1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("300 conversations, 25 held-out prompts");

    r = await run(["toy", "train", "--corpus", corpusDir, "--out", modelDir, "--work", workDir, "--steps", "3"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/done: step 3\/3/);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "heldout.jsonl", "training_log.json"]) {
      expect(existsSync(join(modelDir, f)), f).toBe(true);
    }
    const weights = readFileSync(join(modelDir, "model.safetensors"));
    // Run again: the checkpoint at step 3 is found, nothing is retrained, the export is the same.
    r = await run(["toy", "train", "--corpus", corpusDir, "--out", modelDir, "--work", workDir, "--steps", "3"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/done: step 3\/3/);
    expect(readFileSync(join(modelDir, "model.safetensors")).equals(weights)).toBe(true);
    const log = JSON.parse(readFileSync(join(modelDir, "training_log.json"), "utf8"));
    expect(log).toMatchObject({ step: 3, totalSteps: 3, conversations: 300, stopReason: "done" });
    // A small corpus runs out of pairs seen twice before 4,096 ids; the model is sized to the tokenizer.
    expect(log.vocabSize).toBeLessThanOrEqual(4096);
    expect(JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8")).vocab_size).toBe(log.vocabSize);

    const report = join(root, "eval.json");
    r = await run(["toy", "eval", modelDir, "--limit", "5", "--max-new-tokens", "4", "--json", report]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(report, "utf8")).outcomes).toHaveLength(5);
    expect(r.stdout).toContain("Refusal rate on held-out harmful prompts");

    r = await run(["toy", "card", modelDir]);
    expect(r.code, r.stderr).toBe(0);
    const card = readFileSync(join(modelDir, "README.md"), "utf8");
    expect(card).toContain("## Targets");
    expect(card).toContain("| 3 / 3 |");
    expect(JSON.parse(readFileSync(join(modelDir, "eval.json"), "utf8")).prompts).toBe(25);
  }, 240_000);

  it("names the bad argument", async () => {
    const r = await run(["toy", "train", "--steps", "zero", "--out", join(root, "x")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--steps must be a positive integer");
    const u = await run(["toy", "nonsense"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("safesail toy train");
  });
});
