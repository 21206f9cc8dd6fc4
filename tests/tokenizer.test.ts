import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AutoTokenizer, env } from "@huggingface/transformers";
import { createRandomModel } from "../src/model/random.ts";
import { loadTokenizer } from "../src/model/tokenizer.ts";
import { NotFoundError } from "../src/errors.ts";

let root: string;
let dir: string;
beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "safesail-tok-"));
  dir = (await createRandomModel(path.join(root, "tiny"), { hidden: 16, layers: 1, heads: 2, intermediate: 24 })).dir;
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe("tokenizer files", () => {
  it("load with transformers.js AutoTokenizer offline", async () => {
    const saved = { allowRemoteModels: env.allowRemoteModels, localModelPath: env.localModelPath };
    try {
      env.allowRemoteModels = false;
      env.localModelPath = root;
      const tok = await AutoTokenizer.from_pretrained("tiny");
      const ids = tok.encode("the cat", { add_special_tokens: false });
      expect(tok.decode(ids)).toBe("the cat");
      const chat = tok.apply_chat_template([{ role: "user", content: "Hi" }], { tokenize: false, add_generation_prompt: true });
      expect(chat).toBe("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
      // an absolute folder path works too
      const tok2 = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
      expect(tok2.encode("the cat", { add_special_tokens: false })).toEqual(ids);
    } finally {
      env.allowRemoteModels = saved.allowRemoteModels;
      env.localModelPath = saved.localModelPath;
    }
  });
});

describe("loadTokenizer", () => {
  it("encodes, decodes and applies the chat template", async () => {
    const tok = await loadTokenizer(dir);
    const text = "Hello the world! ünïcode 🙂 and\nnew lines";
    const ids = tok.encode(text);
    expect(ids.length).toBeLessThan(Buffer.byteLength(text)); // merges fire
    expect(tok.decode(ids)).toBe(text);
    expect(tok.encode(" the")).toEqual([tok.tokenToId("Ġthe")]);
    const imEnd = tok.specialTokenId("<|im_end|>");
    const imStart = tok.specialTokenId("<|im_start|>");
    const eot = tok.specialTokenId("<|endoftext|>");
    expect(tok.specialTokenId("eos")).toBe(imEnd);
    expect(tok.specialTokenId("eos_token")).toBe(imEnd);
    expect(tok.specialTokenId("pad")).toBe(eot);
    expect(tok.padTokenId).toBe(eot);
    expect(tok.eosTokenIds.sort()).toEqual([eot, imEnd].sort());
    expect(tok.size).toBe(imEnd + 1);
    expect(() => tok.specialTokenId("<|nope|>")).toThrow(NotFoundError);

    const prompt = tok.applyChatTemplate(
      [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ],
      { addGenerationPrompt: true },
    );
    expect(prompt).toBe("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    expect(tok.applyChatTemplate([{ role: "user", content: "x" }])).toBe("<|im_start|>user\nx<|im_end|>\n");
    const pids = tok.encode(prompt, { addSpecialTokens: false });
    expect(pids[0]).toBe(imStart);
    expect(pids.filter((i) => i === imEnd).length).toBe(2);
    expect(tok.decode(pids)).toBe(prompt);
    expect(tok.decode(pids, { skipSpecialTokens: true })).toBe("system\nBe brief.\nuser\nHi\nassistant\n");
    expect(tok.idToToken(imEnd)).toBe("<|im_end|>");
    // ids in the padded part of the embedding (>= tokenizer size) decode to nothing
    expect(tok.decode([tok.size, 116, tok.size + 10, 257])).toBe("the");
    expect(() => tok.decode([-1])).toThrow(/non-negative integers/);
  });

  it("names the folder when tokenizer.json is missing", async () => {
    const bare = path.join(root, "bare");
    await createRandomModel(bare, { hidden: 16, layers: 1, heads: 2, intermediate: 24, tokenizer: false });
    await expect(loadTokenizer(bare)).rejects.toThrow(NotFoundError);
    await expect(loadTokenizer(bare)).rejects.toThrow(`${bare}: no tokenizer.json`);
    await expect(loadTokenizer(path.join(root, "does-not-exist"))).rejects.toThrow(/does-not-exist: model folder not found/);
  });

  it("picks up chat_template.jinja when tokenizer_config.json has none", async () => {
    const d = path.join(root, "jinja");
    await createRandomModel(d, { hidden: 16, layers: 1, heads: 2, intermediate: 24 });
    const cfgFile = path.join(d, "tokenizer_config.json");
    const cfg = JSON.parse(fs.readFileSync(cfgFile, "utf8"));
    delete cfg.chat_template;
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    fs.writeFileSync(path.join(d, "chat_template.jinja"), "{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}");
    const tok = await loadTokenizer(d);
    expect(tok.applyChatTemplate([{ role: "user", content: "a" }])).toBe("[user]a");
  });
});
