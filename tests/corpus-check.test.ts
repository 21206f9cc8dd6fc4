// Issue 11, late failures that lose work: the whole corpus is checked (UTF-8, JSON, document shapes) before the
// first forward pass; a resumed harvest accepts edits after the point it reached and refuses edits before it,
// naming the line; version-1 stores still read and resume; bytes that are not UTF-8 are named (file, line, byte
// offset) unless the corpus opts into U+FFFD.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstInvalidUtf8, openCorpus } from "../src/activations/corpus.ts";
import { harvest, type HarvestOptions } from "../src/activations/harvest.ts";
import { openActivationStore } from "../src/activations/store.ts";
import { textActivations } from "../src/activations/text.ts";
import { ArgumentError, FormatError } from "../src/errors.ts";
import { createRandomModel } from "../src/model/random.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import { mulberry32 } from "../src/util/prng.ts";
import { runCli } from "./helpers/cli.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-corpus-check-"));
let modelDir: string;
let model: Model;
let n = 0;
const fresh = () => join(root, `store-${n++}`);
const WORDS = ["the", "cat", "sat", "on", "a", "mat", "safety", "model", "hello", "world"];

function lines(count: number, seed: number): string[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(rand() * 10) }, () => WORDS[Math.floor(rand() * WORDS.length)]!).join(" "));
}
const jsonl = (ls: string[]) => ls.map((t) => JSON.stringify({ text: t })).join("\n") + "\n";

function folderBytes(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, createHash("sha256").update(readFileSync(join(dir, f))).digest("hex")]));
}

/** Harvests `corpus` into a new folder, stopping after chunk `stopAfter`; returns the folder and the manifest left. */
async function interrupted(corpus: string, opts: Partial<HarvestOptions>, stopAfter: number) {
  const out = fresh();
  const ctl = new AbortController();
  const err = await harvest(model, corpus, { layers: [1], ...opts, out, signal: ctl.signal, onChunk: (_c, i) => (i === stopAfter ? ctl.abort() : undefined) }).catch((e: Error) => e);
  expect((err as Error).name).toBe("AbortError");
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  expect(manifest.complete).toBe(false);
  return { out, manifest };
}

beforeAll(async () => {
  modelDir = join(root, "tiny");
  await createRandomModel(modelDir, { architecture: "Qwen2ForCausalLM", hidden: 16, layers: 2, heads: 2, kvHeads: 1, intermediate: 32, vocab: 300, seed: 3 });
  model = await loadModel(modelDir);
});
afterAll(async () => {
  await model?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe("the corpus is checked whole before the first forward pass", () => {
  it("refuses a malformed line at 91% before anything runs or is written, naming file and line", async () => {
    const file = join(root, "late-bad.jsonl");
    const ls = lines(100, 1).map((t) => JSON.stringify({ text: t }));
    ls[90] = '{"text": "unterminated';
    writeFileSync(file, ls.join("\n") + "\n");
    const out = fresh();
    let forwards = 0;
    const counting = new Proxy(model, { get: (t, p, r) => (p === "forward" ? (...a: unknown[]) => (forwards++, (t.forward as (...x: unknown[]) => unknown)(...a)) : Reflect.get(t, p, r)) });
    const err = await harvest(counting, file, { layers: [0], out }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(/late-bad\.jsonl:91: not valid JSON/);
    expect(forwards).toBe(0);
    expect(existsSync(out)).toBe(false);

    // The shape rules of tokenizeDocument (minus tokenisation), and how many more lines fail.
    ls[90] = JSON.stringify({ txt: "no field" });
    ls[94] = JSON.stringify({ ids: [1, 2, 300] });
    ls[97] = JSON.stringify({ messages: [] });
    writeFileSync(file, ls.join("\n") + "\n");
    const shape = await harvest(model, file, { layers: [0], out }).catch((e: Error) => e);
    expect((shape as Error).message).toBe(
      `${file}:91: no "text", "prompt", "messages" or "ids" field (keys: txt) (the whole corpus was checked before harvesting: 2 more bad lines, next ${file}:95)`,
    );
    ls[90] = JSON.stringify({ text: "fine" });
    ls[97] = JSON.stringify({ text: "fine" });
    writeFileSync(file, ls.join("\n") + "\n");
    await expect(harvest(model, file, { layers: [0], out })).rejects.toThrow(`${file}:95: "ids"[2] = 300 is not a token id in [0, 300)`);
    expect(existsSync(out)).toBe(false);
    // In-memory documents get the same check.
    await expect(harvest(model, ["ok", { text: 3 } as never], { layers: [0], out })).rejects.toThrow('corpus[1]: "text" must be a string, got 3');
  });
});

describe("resuming a harvest on an edited corpus", () => {
  const opts = { layers: [1], chunkTokens: 40, batchTokens: 40 } satisfies Partial<HarvestOptions>;

  it("allows an edit after the point reached: the result equals a fresh harvest of the edited corpus", async () => {
    const ls = lines(120, 2);
    const file = join(root, "edit-after.jsonl");
    writeFileSync(file, jsonl(ls));
    const { out, manifest } = await interrupted(file, opts, 2);
    expect(manifest.version).toBe(2);
    const reached: number = manifest.chunks.at(-1).lines.to; // lines 1..reached are stored (in part)
    expect(reached).toBeLessThan(100);
    // The case: the line at 91% is fixed after the harvest stopped (here: changed), another appended.
    ls[108] = "an edited line after the cursor";
    writeFileSync(file, jsonl([...ls, "and one more document"]));
    const resumed = await harvest(model, file, { ...opts, out });
    expect(resumed.complete).toBe(true);
    const whole = await harvest(model, file, { ...opts, out: fresh() });
    expect(folderBytes(out)).toEqual(folderBytes(whole.dir));
    expect(resumed.manifest.corpus.sha256).toBe(whole.manifest.corpus.sha256);
  });

  it("refuses an edit before the point reached, naming the first changed line", async () => {
    const ls = lines(120, 3);
    const file = join(root, "edit-before.jsonl");
    writeFileSync(file, jsonl(ls));
    const { out, manifest } = await interrupted(file, opts, 3);
    const reached: number = manifest.chunks.at(-1).lines.to;
    expect(reached).toBeGreaterThan(3);
    const edited = [...ls];
    edited[reached - 2] = "changed before the cursor";
    edited[reached + 3] = "changed after it (allowed)";
    writeFileSync(file, jsonl(edited));
    const err = await harvest(model, file, { ...opts, out }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as ArgumentError).field).toBe("corpus");
    expect((err as Error).message).toBe(
      `corpus: ${file}:${reached - 1} changed since it was harvested (the store in ${out} holds lines 1..${reached} of it; edits after line ${reached} are allowed when resuming); restore the line, or use a new --out (out) or --overwrite (overwrite: true) to replace it`,
    );
    // A deleted line shifts the rest: the first shifted line is named.
    writeFileSync(file, jsonl([...ls.slice(0, 2), ...ls.slice(3)]));
    await expect(harvest(model, file, { ...opts, out })).rejects.toThrow(`${file}:3 changed since it was harvested`);
    // Restored, it resumes.
    writeFileSync(file, jsonl(ls));
    expect((await harvest(model, file, { ...opts, out })).complete).toBe(true);
  });

  it("a finished store: an unchanged prefix under max_tokens is kept; a corpus grown after a full harvest is refused", async () => {
    const ls = lines(60, 4);
    const file = join(root, "finished.jsonl");
    writeFileSync(file, jsonl(ls));
    const limited = await harvest(model, file, { ...opts, maxTokens: 120, out: fresh() });
    expect(limited.manifest.limit_reached).toBe(true);
    const full = await harvest(model, file, { ...opts, out: fresh() });
    writeFileSync(file, jsonl([...ls.slice(0, 59), "the last line, edited"]));
    let chunks = 0;
    const again = await harvest(model, file, { ...opts, maxTokens: 120, out: limited.dir, onChunk: () => void chunks++ });
    expect(chunks).toBe(0);
    expect(again.tokens).toBe(120);
    const err = await harvest(model, file, { ...opts, out: full.dir }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(new RegExp(`^corpus: ${file.replace(/[.]/g, "\\.")}:60 changed since it was harvested \\(the store in .* holds lines 1\\.\\.60 of it\\); restore the line`));
    writeFileSync(file, jsonl([...ls, "appended"]));
    await expect(harvest(model, file, { ...opts, out: full.dir })).rejects.toThrow(/changed after line 60 since the finished harvest .* read it \(corpus sha256: was [0-9a-f]{64}, now [0-9a-f]{64}; the store does not hold those lines\)/);
  });

  it("reads version-1 stores, resumes them on an unchanged corpus (upgraded to version 2), refuses them on a changed one", async () => {
    const ls = lines(80, 5);
    const file = join(root, "v1.jsonl");
    writeFileSync(file, jsonl(ls));
    const whole = await harvest(model, file, { ...opts, out: fresh() });
    const toV1 = (dir: string) => {
      const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
      m.version = 1;
      for (const c of m.chunks) delete c.lines;
      writeFileSync(join(dir, "manifest.json"), JSON.stringify(m, null, 2));
    };
    const done = await harvest(model, file, { ...opts, out: fresh() });
    toV1(done.dir);
    const v1 = await openActivationStore(done.dir);
    expect(v1.manifest.version).toBe(1);
    expect(await v1.readAll(1)).toEqual(await whole.readAll(1));

    const { out } = await interrupted(file, opts, 2);
    toV1(out);
    writeFileSync(file, jsonl([...ls, "appended"]));
    await expect(harvest(model, file, { ...opts, out })).rejects.toThrow(/holds a harvest of another corpus \(corpus sha256: was [0-9a-f]{64}, now [0-9a-f]{64}\); it is a version-1 store, which records only the whole corpus's hash/);
    writeFileSync(file, jsonl(ls));
    await harvest(model, file, { ...opts, out });
    expect(folderBytes(out)).toEqual(folderBytes(whole.dir));
  });
});

describe("bytes that are not UTF-8", () => {
  it("finds the first invalid byte (stray continuation, overlong, surrogate, truncated, > U+10FFFF)", () => {
    const b = (...x: number[]) => Uint8Array.from(x);
    expect(firstInvalidUtf8(Buffer.from("héllo 東京 🙂"))).toBe(-1);
    expect(firstInvalidUtf8(b(0x61, 0x80))).toBe(1);
    expect(firstInvalidUtf8(b(0x61, 0xc0, 0xaf))).toBe(1);
    expect(firstInvalidUtf8(b(0xe0, 0x80, 0xaf))).toBe(0);
    expect(firstInvalidUtf8(b(0x41, 0xed, 0xa0, 0x80))).toBe(1);
    expect(firstInvalidUtf8(b(0x41, 0x42, 0xe6, 0x9d))).toBe(2);
    expect(firstInvalidUtf8(b(0xf4, 0x90, 0x80, 0x80))).toBe(0);
    expect(firstInvalidUtf8(b(0xff))).toBe(0);
  });

  it("names file, line and byte offset; `invalidUtf8: \"replace\"` reads them as U+FFFD", async () => {
    const file = join(root, "latin1.txt");
    // Line 3 is Latin-1 "café" (0xe9), at byte 6 + 6 + 3 = 15 of the file.
    writeFileSync(file, Buffer.concat([Buffer.from("hello\nworld\ncaf"), Buffer.from([0xe9]), Buffer.from(" au lait\nfine\n")]));
    const err = await openCorpus(file).catch((e: Error) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toBe(
      `${file}:3: not valid UTF-8: byte 0xe9 at byte offset 15 of the file (byte 4 of the line); fix the file, or read such bytes as U+FFFD (--lossy-utf8 of harvest and eval-sae; invalidUtf8: "replace")`,
    );
    await expect(harvest(model, file, { layers: [0], out: fresh() })).rejects.toThrow(/latin1\.txt:3: not valid UTF-8: byte 0xe9 at byte offset 15/);
    const lossy = await openCorpus(file, { invalidUtf8: "replace" });
    const docs = [];
    for await (const e of lossy.entries()) docs.push(e.doc);
    expect(docs).toEqual(["hello", "world", "caf\uFFFD au lait", "fine"]);
    const store = await harvest(model, file, { layers: [0], out: fresh(), invalidUtf8: "replace" });
    expect(store.manifest.documents).toBe(4);
    // The text -> activations path for the other stages takes the same option.
    const drain = async (it: AsyncIterable<{ index: number }>) => {
      const seen: number[] = [];
      for await (const d of it) seen.push(d.index);
      return seen;
    };
    await expect(drain(textActivations(model, file, ["blocks.0.hook_mlp_out"]))).rejects.toThrow(`${file}:3: not valid UTF-8`);
    expect(await drain(textActivations(model, file, ["blocks.0.hook_mlp_out"], { invalidUtf8: "replace" }))).toEqual([0, 1, 2, 3]);
    // JSONL too, and a CRLF file splits as LF.
    const j = join(root, "bad-utf8.jsonl");
    writeFileSync(j, Buffer.concat([Buffer.from('{"text": "ok"}\r\n{"text": "x'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\r\n')]));
    await expect(openCorpus(j)).rejects.toThrow(`${j}:2: not valid UTF-8: byte 0xc3 at byte offset 27 of the file (byte 12 of the line)`);
    await expect(openCorpus(j, { invalidUtf8: "bogus" as never })).rejects.toThrow('invalidUtf8: must be "error" or "replace", got "bogus"');
  });

  it("safesail harvest refuses such a corpus, and --lossy-utf8 accepts it", async () => {
    const file = join(root, "cli-latin1.txt");
    writeFileSync(file, Buffer.concat([Buffer.from("hello\ncaf"), Buffer.from([0xe9]), Buffer.from("\n")]));
    const out = fresh();
    const r = await runCli(["harvest", modelDir, "--corpus", file, "--layers", "0", "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:2: not valid UTF-8: byte 0xe9 at byte offset 9 of the file (byte 4 of the line); fix the file, or read such bytes as U+FFFD (--lossy-utf8 of harvest and eval-sae`);
    expect(existsSync(out)).toBe(false);
    const ok = await runCli(["harvest", modelDir, "--corpus", file, "--layers", "0", "--out", out, "--lossy-utf8", "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).documents).toBe(2);
  }, 60_000);
});
