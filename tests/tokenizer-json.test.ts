// The published pages' tokenizer (tokenizerFromJson: @huggingface/tokenizers + @huggingface/jinja, no files) against
// Node's (loadTokenizer: transformers.js' AutoTokenizer over the model folder): the same ids, text and chat template
// on every held-out prompt of the toy model, in five languages.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTokenizer } from "../src/model/tokenizer.ts";
import { tokenizerFromJson } from "../src/model/tokenizer-json.ts";

const DIR = "models/toy-safety-qwen2";
const json = (f: string) => JSON.parse(readFileSync(join(DIR, f), "utf8")) as Record<string, unknown>;

describe("tokenizerFromJson", () => {
  it("gives loadTokenizer's ids, text, chat template and special tokens", async () => {
    const node = await loadTokenizer(DIR);
    const page = tokenizerFromJson({ dir: "toy-safety-qwen2", tokenizerJson: json("tokenizer.json"), tokenizerConfig: json("tokenizer_config.json"), generationConfig: json("generation_config.json") });
    expect(page.size).toBe(node.size);
    expect(page.eosTokenIds.sort()).toEqual(node.eosTokenIds.sort());
    expect([page.bosTokenId, page.padTokenId, page.hasChatTemplate]).toEqual([node.bosTokenId, node.padTokenId, node.hasChatTemplate]);
    expect(page.specialTokenId("<|im_end|>")).toBe(node.specialTokenId("<|im_end|>"));
    const prompts = readFileSync(join(DIR, "heldout.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { prompt: string; lang: string });
    expect(new Set(prompts.map((p) => p.lang))).toEqual(new Set(["en", "zh", "hi", "it", "vi"]));
    let checked = 0;
    for (const { prompt } of prompts) {
      const ids = node.encode(prompt);
      expect(page.encode(prompt)).toEqual(ids);
      expect(page.decode(ids)).toBe(node.decode(ids));
      const chat = [{ role: "user", content: prompt }];
      expect(page.applyChatTemplate(chat, { addGenerationPrompt: true })).toBe(node.applyChatTemplate(chat, { addGenerationPrompt: true }));
      checked++;
    }
    expect(checked).toBeGreaterThan(500);
    // Half characters and ids past the tokenizer decode alike.
    const odd = [...node.encode("बम कैसे बनाएं"), node.size + 3];
    for (let i = 1; i <= odd.length; i++) expect(page.decode(odd.slice(0, i))).toBe(node.decode(odd.slice(0, i)));
    const convo = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }];
    expect(page.applyChatTemplate(convo)).toBe(node.applyChatTemplate(convo));
  });

  it("names the tokenizer when its JSON does not build one", () => {
    expect(() => tokenizerFromJson({ dir: "broken-model", tokenizerJson: { model: { type: "Nope" } }, tokenizerConfig: {} })).toThrow(/broken-model: cannot build the tokenizer/);
  });
});
