// The activation store and `safesail harvest`: stored rows are exactly the runtime's hook values per
// document, chunking and resuming never change a byte, the shuffling reader yields every row once per
// epoch, and damage to a chunk is reported by file name.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openCorpus, type CorpusDoc } from "../src/activations/corpus.ts";
import { documentIds, TEXT_DEFAULTS } from "../src/activations/text.ts";
import { harvest, type HarvestOptions } from "../src/activations/harvest.ts";
import { openActivationStore, type ActivationReader, type ActivationStore } from "../src/activations/store.ts";
import { ArgumentError, FormatError } from "../src/errors.ts";
import { createRandomModel } from "../src/model/random.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import { openSafetensors, bf16ToF32, f32ToBf16 } from "../src/formats/safetensors.ts";
import { mulberry32 } from "../src/util/prng.ts";
import { BIN, runCli } from "./helpers/cli.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-acts-"));
const D = 32;
let modelDir: string;
let otherModelDir: string;
let model: Model;
let outCount = 0;
const freshOut = () => join(root, `store-${outCount++}`);

const WORDS = ["the", "cat", "sat", "on", "a", "mat", "while", "dogs", "bark", "at", "night", "über", "naïve", "東京", "safety", "model", "tokens", "hello", "world", "!", "?"];

/** Deterministic documents of 1..`maxWords` words, many sharing a length (so same-length batching is exercised). */
function makeDocs(n: number, seed: number, maxWords = 12): string[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const k = 1 + Math.floor(rand() * maxWords);
    return Array.from({ length: k }, () => WORDS[Math.floor(rand() * WORDS.length)]!).join(" ");
  });
}

const run = runCli;

/** Every file of a folder, name -> sha256 of its bytes (deep-comparing megabytes of Buffers is slow). */
function folderBytes(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((n) => [n, createHash("sha256").update(readFileSync(join(dir, n))).digest("hex")]));
}

function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Per document (by doc id): its token ids and, per layer, its rows, rebuilt from the chunks. */
async function documentsOf(store: ActivationStore): Promise<Map<number, { ids: number[]; positions: number[]; special: number[]; rows: Map<number, number[]> }>> {
  const docs = new Map<number, { ids: number[]; positions: number[]; special: number[]; rows: Map<number, number[]> }>();
  for (let i = 0; i < store.chunkCount; i++) {
    const c = await store.readChunk(i);
    for (let r = 0; r < c.tokens; r++) {
      const d = c.docIds[r]!;
      let doc = docs.get(d);
      if (!doc) docs.set(d, (doc = { ids: [], positions: [], special: [], rows: new Map(store.layers.map((l) => [l, []])) }));
      doc.ids.push(c.tokenIds[r]!);
      doc.positions.push(c.positions[r]!);
      doc.special.push(c.special[r]!);
      for (const l of store.layers) doc.rows.get(l)!.push(...c.activations.get(l)!.subarray(r * D, (r + 1) * D));
    }
  }
  return docs;
}

/** The store equals `model.runWithCache([doc], hooks)` per document, bit for bit, at every stored layer. */
async function expectExact(store: ActivationStore, expectedIds: Map<number, number[]>): Promise<void> {
  const docs = await documentsOf(store);
  expect([...docs.keys()]).toEqual([...expectedIds.keys()]);
  for (const [d, doc] of docs) {
    expect(doc.ids).toEqual(expectedIds.get(d));
    expect(doc.positions).toEqual(doc.ids.map((_, i) => i));
    const { cache } = await model.runWithCache([doc.ids], [...store.hooks]);
    store.layers.forEach((l, i) => {
      const want = cache[store.hooks[i]!]!.data;
      expect(bytesOf(Float32Array.from(doc.rows.get(l)!)).equals(bytesOf(want)), `doc ${d} layer ${l}`).toBe(true);
    });
  }
}

async function expectedIdsOf(docs: readonly CorpusDoc[], chat: boolean = TEXT_DEFAULTS.chat): Promise<Map<number, number[]>> {
  const corpus = await openCorpus(docs);
  const out = new Map<number, number[]>();
  for await (const e of corpus.entries()) {
    const ids = documentIds(model, e, { chat });
    if (ids.length > 0) out.set(e.index, ids);
  }
  return out;
}

beforeAll(async () => {
  modelDir = join(root, "tiny");
  otherModelDir = join(root, "tiny-other");
  await createRandomModel(modelDir, { architecture: "Qwen2ForCausalLM", hidden: D, layers: 3, heads: 4, kvHeads: 2, intermediate: 64, vocab: 300, seed: 1 });
  await createRandomModel(otherModelDir, { architecture: "Qwen2ForCausalLM", hidden: D, layers: 3, heads: 4, kvHeads: 2, intermediate: 64, vocab: 300, seed: 2 });
  model = await loadModel(modelDir);
});
afterAll(async () => {
  await model?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe("harvest", () => {
  it("stores every layer in one pass, bit-identical to runWithCache per document", async () => {
    const docs: CorpusDoc[] = [...makeDocs(40, 1), { ids: [5, 6, 7] }, { prompt: "hello world" }, { text: "the cat" }];
    // A small batch budget splits same-length groups; batching must not change a bit.
    for (const batchTokens of [2048, 20]) {
      const store = await harvest(model, docs, { layers: [2, 0, 1, 2], site: "resid_post", out: freshOut(), chunkTokens: 50, batchTokens });
      expect(store.layers).toEqual([0, 1, 2]);
      expect(store.hooks).toEqual(["blocks.0.hook_resid_post", "blocks.1.hook_resid_post", "blocks.2.hook_resid_post"]);
      expect(store.complete).toBe(true);
      const expected = await expectedIdsOf(docs);
      expect(store.tokens).toBe([...expected.values()].reduce((s, ids) => s + ids.length, 0));
      expect(store.manifest.documents).toBe(docs.length);
      await expectExact(store, expected);
    }
  });

  it("writes chunks of exactly chunk_tokens rows (documents continue across chunks) with consistent headers", async () => {
    const docs = makeDocs(25, 2);
    const store = await harvest(model, docs, { layers: [1], out: freshOut(), chunkTokens: 7 });
    const m = store.manifest;
    expect(m.chunks.length).toBe(Math.ceil(m.tokens / 7));
    m.chunks.forEach((c, i) => {
      expect(c.tokens).toBe(i < m.chunks.length - 1 ? 7 : m.tokens - 7 * (m.chunks.length - 1));
      // Each chunk starts where the previous one ended (or at the next document when that one was finished).
      const prev = m.chunks[i - 1];
      if (prev && c.start.offset > 0) expect(c.start).toEqual(prev.end);
      if (prev && c.start.offset === 0) expect(c.start.doc).toBeGreaterThanOrEqual(prev.end.doc);
      const st = openSafetensors(join(store.dir, c.file));
      expect(statSync(join(store.dir, c.file)).size).toBe(c.bytes);
      expect([...st.tensors.keys()]).toEqual(["blocks.1.hook_mlp_out", "token_ids", "doc_ids", "positions", "special"]);
      expect(st.tensors.get("blocks.1.hook_mlp_out")).toMatchObject({ dtype: "F32", shape: [c.tokens, D] });
      expect(st.tensors.get("token_ids")).toMatchObject({ dtype: "I32", shape: [c.tokens] });
      expect(st.tensors.get("special")).toMatchObject({ dtype: "U8", shape: [c.tokens] });
    });
    expect(m.chunks.some((c) => c.start.offset > 0)).toBe(true); // some document really is split
    await expectExact(store, await expectedIdsOf(docs));
    // readAll is the chunks' rows in order.
    const all = await store.readAll(1);
    const parts = await Promise.all(m.chunks.map((_, i) => store.readChunk(i).then((c) => c.activations.get(1)!)));
    expect(bytesOf(all).equals(Buffer.concat(parts.map(bytesOf)))).toBe(true);
  });

  it("reads text and JSONL files: line indices as doc ids, chat templates, special-token flags", async () => {
    const textFile = join(root, "corpus.txt");
    writeFileSync(textFile, "hello world\n\n  \nthe cat sat on the mat\r\nlast line without newline");
    const store = await harvest(model, textFile, { layers: [0], out: freshOut(), chunkTokens: 16, chat: false });
    const docs = await documentsOf(store);
    expect([...docs.keys()]).toEqual([0, 3, 4]);
    expect(docs.get(3)!.ids).toEqual(model.encode("the cat sat on the mat"));
    expect(store.manifest.corpus).toMatchObject({ path: textFile, documents: 3 });
    expect(store.manifest.options.corpus_format).toBe("text");

    const jsonl = join(root, "corpus.jsonl");
    const lines = [
      { text: "plain text" },
      { prompt: "a prompt", label: 1 },
      { messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] },
      { messages: [{ role: "system", content: "be brief" }, { role: "user", content: "why?" }] },
      { ids: [3, 4, 5] },
    ];
    writeFileSync(jsonl, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
    const tok = model.tokenizer!;
    const tmpl = (ms: { role: string; content: string }[], gen: boolean) => tok.encode(tok.applyChatTemplate(ms, { addGenerationPrompt: gen }), { addSpecialTokens: false });
    for (const chat of [false, true]) {
      const s = await harvest(model, jsonl, { layers: [0, 2], out: freshOut(), chunkTokens: 8, chat });
      const got = await documentsOf(s);
      const plain = (t: string) => (chat ? tmpl([{ role: "user", content: t }], true) : tok.encode(t));
      const expected = new Map<number, number[]>([
        [0, plain("plain text")],
        [1, plain("a prompt")],
        [2, tmpl(lines[2]!.messages!, false)], // ends with the assistant: no generation prompt
        [3, tmpl(lines[3]!.messages!, true)],
        [4, [3, 4, 5]],
      ]);
      for (const [d, ids] of expected) expect(got.get(d)!.ids, `doc ${d} chat ${chat}`).toEqual(ids);
      await expectExact(s, expected);
      // Chat markers are flagged special; plain text tokens are not.
      const imStart = tok.specialTokenId("<|im_start|>");
      for (const doc of got.values()) doc.ids.forEach((id, i) => expect(doc.special[i]).toBe(id === imStart || id === tok.specialTokenId("<|im_end|>") ? 1 : 0));
      expect(s.manifest.special_tokens).toBe([...got.values()].reduce((n, doc) => n + doc.special.filter(Boolean).length, 0));
    }
    // The same documents from a file and as an array give the same rows (only the corpus record differs).
    const fromArray = await harvest(model, lines as CorpusDoc[], { layers: [0], out: freshOut(), chunkTokens: 8 });
    const fromFile = await harvest(model, jsonl, { layers: [0], out: freshOut(), chunkTokens: 8 });
    expect(bytesOf(await fromArray.readAll(0)).equals(bytesOf(await fromFile.readAll(0)))).toBe(true);
  });

  it("respects maxTokens exactly and cuts long documents at maxDocTokens", async () => {
    const docs = makeDocs(30, 3);
    const full = await expectedIdsOf(docs);
    const total = [...full.values()].reduce((s, ids) => s + ids.length, 0);
    for (const maxTokens of [1, 37, 100, total, total + 5]) {
      const s = await harvest(model, docs, { layers: [1], out: freshOut(), chunkTokens: 16, maxTokens });
      expect(s.tokens).toBe(Math.min(maxTokens, total));
      expect(s.manifest.limit_reached).toBe(maxTokens < total);
      // What is stored is a prefix of the full token stream, each document's rows still exact.
      const got = await documentsOf(s);
      const expected = new Map<number, number[]>();
      let room = maxTokens;
      for (const [d, ids] of full) {
        if (room <= 0) break;
        expected.set(d, ids.slice(0, room));
        room -= ids.length;
      }
      expect([...got.keys()]).toEqual([...expected.keys()]);
      await expectExact(s, expected);
    }
    const cut = await harvest(model, docs, { layers: [0], out: freshOut(), maxDocTokens: 5 });
    const long = [...full.values()].filter((ids) => ids.length > 5).length;
    expect(long).toBeGreaterThan(0);
    expect(cut.manifest.truncated_documents).toBe(long);
    expect(cut.tokens).toBe([...full.values()].reduce((s, ids) => s + Math.min(5, ids.length), 0));
    await expectExact(cut, new Map([...full].map(([d, ids]) => [d, ids.slice(0, 5)])));
  });

  it("stores BF16 when asked (the float32 rows rounded to bfloat16)", async () => {
    const docs = makeDocs(6, 4);
    const f32 = await harvest(model, docs, { layers: [2], out: freshOut() });
    const bf16 = await harvest(model, docs, { layers: [2], out: freshOut(), dtype: "BF16" });
    expect(bf16.dtype).toBe("BF16");
    expect(openSafetensors(join(bf16.dir, "chunk-00000.safetensors")).tensors.get("blocks.2.hook_mlp_out")!.dtype).toBe("BF16");
    expect(await bf16.readAll(2)).toEqual(bf16ToF32(f32ToBf16(await f32.readAll(2))));
  });

  it("resumes after an abort: chunks and manifest byte-identical to an uninterrupted run", async () => {
    const docs = makeDocs(60, 5);
    const opts = { layers: [0, 2], chunkTokens: 23, batchTokens: 30 } satisfies Partial<HarvestOptions>;
    const whole = freshOut();
    await harvest(model, docs, { ...opts, out: whole });

    for (const stopAfter of [0, 1, 4]) {
      const out = freshOut();
      const ctl = new AbortController();
      const err = await harvest(model, docs, { ...opts, out, signal: ctl.signal, onChunk: (_c, i) => (i === stopAfter ? ctl.abort() : undefined) }).catch((e: Error) => e);
      expect((err as Error).name).toBe("AbortError");
      const partial = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
      expect(partial.complete).toBe(false);
      expect(partial.chunks).toHaveLength(stopAfter + 1);
      // What a kill between a chunk's rename and the manifest update leaves behind, plus a stale temp file.
      writeFileSync(join(out, `chunk-${String(stopAfter + 1).padStart(5, "0")}.safetensors`), "half-written garbage");
      writeFileSync(join(out, `.chunk-${String(stopAfter + 2).padStart(5, "0")}.safetensors.tmp-1-abcdef`), "temp");
      const chunksBefore = partial.chunks.map((c: { file: string }) => readFileSync(join(out, c.file)));
      let resumedChunks = 0;
      const store = await harvest(model, docs, { ...opts, out, onChunk: () => void resumedChunks++ });
      expect(resumedChunks).toBe(store.chunkCount - (stopAfter + 1)); // the stored chunks were not redone
      partial.chunks.forEach((c: { file: string }, i: number) => expect(readFileSync(join(out, c.file)).equals(chunksBefore[i])).toBe(true));
      expect(folderBytes(out)).toEqual(folderBytes(whole));
    }
  });

  it("resumes a maxTokens harvest identically, and a finished store is returned without recomputing", async () => {
    const docs = makeDocs(50, 6);
    const opts = { layers: [1], chunkTokens: 11, maxTokens: 150 } satisfies Partial<HarvestOptions>;
    const whole = freshOut();
    await harvest(model, docs, { ...opts, out: whole });
    const out = freshOut();
    const ctl = new AbortController();
    await expect(harvest(model, docs, { ...opts, out, signal: ctl.signal, onChunk: (_c, i) => (i === 5 ? ctl.abort() : undefined) })).rejects.toThrow();
    await harvest(model, docs, { ...opts, out });
    expect(folderBytes(out)).toEqual(folderBytes(whole));
    const mtime = statSync(join(out, "chunk-00000.safetensors")).mtimeMs;
    let chunks = 0;
    const again = await harvest(model, docs, { ...opts, out, onChunk: () => void chunks++ });
    expect(chunks).toBe(0);
    expect(again.tokens).toBe(150);
    expect(statSync(join(out, "chunk-00000.safetensors")).mtimeMs).toBe(mtime);
  });

  it("refuses to resume with other settings, naming what differs, unless overwrite", async () => {
    const docs = makeDocs(20, 7);
    const out = freshOut();
    const ctl = new AbortController();
    const base = { layers: [0, 1], chunkTokens: 10 } satisfies Partial<HarvestOptions>;
    await harvest(model, docs, { ...base, out, signal: ctl.signal, onChunk: () => ctl.abort() }).catch(() => undefined);
    const cases: [string, () => Promise<unknown>][] = [
      ["site", () => harvest(model, docs, { ...base, out, site: "attn_out" })],
      ["layers", () => harvest(model, docs, { ...base, out, layers: [0] })],
      ["chunk_tokens", () => harvest(model, docs, { ...base, out, chunkTokens: 12 })],
      ["dtype", () => harvest(model, docs, { ...base, out, dtype: "BF16" })],
      ["chat", () => harvest(model, docs, { ...base, out, chat: false })],
      ["max_tokens", () => harvest(model, docs, { ...base, out, maxTokens: 50 })],
      // An edit before the point reached (an appended document is after it: allowed, tests/corpus-check.test.ts).
      ["corpus[0] changed since it was harvested", () => harvest(model, ["changed", ...docs.slice(1)], { ...base, out })],
    ];
    for (const [field, attempt] of cases) {
      const err = await attempt().catch((e: Error) => e);
      expect(err, field).toBeInstanceOf(ArgumentError);
      expect((err as Error).message).toContain(field);
      expect((err as Error).message).toContain("--overwrite");
    }
    const other = await loadModel(otherModelDir);
    try {
      const err = await harvest(other, docs, { ...base, out }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/model: was/);
      const replaced = await harvest(other, docs, { ...base, out, overwrite: true });
      expect(replaced.complete).toBe(true);
      expect(replaced.manifest.model.path).toBe(other.dir);
    } finally {
      await other.dispose();
    }
  });

  it("validates its arguments with ArgumentError naming the argument", async () => {
    const docs = ["a b c"];
    const cases: [string, () => Promise<unknown>][] = [
      ["layers", () => harvest(model, docs, { layers: [3], out: freshOut() })],
      ["layers", () => harvest(model, docs, { layers: [-1], out: freshOut() })],
      ["layers", () => harvest(model, docs, { layers: [], out: freshOut() })],
      ["site", () => harvest(model, docs, { layers: [0], out: freshOut(), site: "mlp" as never })],
      ["dtype", () => harvest(model, docs, { layers: [0], out: freshOut(), dtype: "F64" as never })],
      ["chunkTokens", () => harvest(model, docs, { layers: [0], out: freshOut(), chunkTokens: 0 })],
      ["maxTokens", () => harvest(model, docs, { layers: [0], out: freshOut(), maxTokens: 1.5 })],
      ["corpus", () => harvest(model, [], { layers: [0], out: freshOut() })],
      ["corpus", () => harvest(model, [{ ids: [] }], { layers: [0], out: freshOut() })],
    ];
    const blank = join(root, "blank.txt");
    writeFileSync(blank, "\n  \n\n");
    cases.push(["corpus", () => harvest(model, blank, { layers: [0], out: freshOut() })]);
    const busy = freshOut();
    mkdirSync(busy);
    writeFileSync(join(busy, "notes.txt"), "mine");
    cases.push(["out", () => harvest(model, docs, { layers: [0], out: busy })]);
    for (const [field, attempt] of cases) {
      const err = await attempt().catch((e: Error) => e);
      expect(err, field).toBeInstanceOf(ArgumentError);
      expect((err as ArgumentError).field, (err as Error).message).toBe(field);
      expect((err as Error).message).toContain(field);
    }
    expect(readFileSync(join(busy, "notes.txt"), "utf8")).toBe("mine");
    // A malformed JSONL line is a FormatError naming file and line.
    const bad = join(root, "bad.jsonl");
    writeFileSync(bad, '{"text": "ok"}\n{"txt": "no field"}\n');
    await expect(harvest(model, bad, { layers: [0], out: freshOut() })).rejects.toThrow(/bad\.jsonl:2: no "text", "prompt", "messages" or "ids" field/);
    writeFileSync(bad, '{"text": "ok"}\n{not json\n');
    await expect(harvest(model, bad, { layers: [0], out: freshOut() })).rejects.toThrow(/bad\.jsonl:2: not valid JSON/);
  });
});

describe("activation store reader", () => {
  let store: ActivationStore;
  let allRows: Float32Array;

  const rowKeys = (data: Float32Array) => Array.from({ length: data.length / D }, (_, i) => bytesOf(data.subarray(i * D, (i + 1) * D)).toString("base64"));
  const collect = async (reader: ActivationReader, opts: Parameters<ActivationReader["batches"]>[0]) => {
    const batches: Float32Array[] = [];
    for await (const b of reader.batches(opts)) batches.push(b);
    return batches;
  };

  beforeAll(async () => {
    store = await harvest(model, makeDocs(80, 8), { layers: [0, 1], out: freshOut(), chunkTokens: 40 });
    allRows = await store.readAll(1);
    // Rows repeat only where documents share a prefix, so multiset equality below is a real check.
    expect(new Set(rowKeys(allRows)).size).toBeGreaterThan(store.tokens * 0.8);
  });

  it("yields every row exactly once per epoch, shuffled, deterministic per seed", async () => {
    expect(store.chunkCount).toBeGreaterThan(5);
    const reader = (await openActivationStore(store.dir)).reader(1);
    expect(reader.tokens).toBe(store.tokens);
    expect(reader.dModel).toBe(D);
    const want = rowKeys(allRows).sort();
    for (const bufferTokens of [1, 100, 10_000]) {
      const batches = await collect(reader, { batchSize: 64, seed: 7, bufferTokens, epochs: 2 });
      const rows = batches.map(rowKeys);
      // All batches full except the last one of each epoch.
      const perEpoch = Math.ceil(store.tokens / 64);
      expect(batches).toHaveLength(2 * perEpoch);
      batches.forEach((b, i) => expect(b.length).toBe((i + 1) % perEpoch === 0 ? (store.tokens % 64 || 64) * D : 64 * D));
      const e1 = rows.slice(0, perEpoch).flat();
      const e2 = rows.slice(perEpoch).flat();
      expect([...e1].sort()).toEqual(want);
      expect([...e2].sort()).toEqual(want);
      expect(e1).not.toEqual(e2); // epochs are shuffled differently
      expect(e1).not.toEqual(rowKeys(allRows)); // and not store order
      const again = (await collect(reader, { batchSize: 64, seed: 7, bufferTokens, epochs: 2 })).map(rowKeys).flat();
      expect(again).toEqual(rows.flat());
      const otherSeed = (await collect(reader, { batchSize: 64, seed: 8, bufferTokens })).map(rowKeys).flat();
      expect(otherSeed).not.toEqual(e1);
    }
    // Unshuffled: store order.
    const ordered = await collect(reader, { batchSize: 50, shuffle: false });
    expect(ordered.flatMap(rowKeys)).toEqual(rowKeys(allRows));
    const dropLast = await collect(reader, { batchSize: 50, dropLast: true });
    expect(dropLast).toHaveLength(Math.floor(store.tokens / 50));
    await expect(collect(reader, { batchSize: 0 })).rejects.toThrow(/batchSize/);
  });

  it("leaves out special-token rows when asked", async () => {
    const s = await harvest(model, makeDocs(20, 9), { layers: [0], out: freshOut(), chunkTokens: 30, chat: true });
    expect(s.manifest.special_tokens).toBe(3 * 20); // <|im_start|> user, <|im_end|>, <|im_start|> assistant
    const r = s.reader(0, { dropSpecial: true });
    expect(r.tokens).toBe(s.tokens - 60);
    const rows = (await collect(r, { batchSize: 16, seed: 1 })).flatMap(rowKeys).sort();
    const all = await s.readAll(0);
    const keep: string[] = [];
    for (let i = 0; i < s.chunkCount; i++) {
      const c = await s.readChunk(i, { layers: [0] });
      rowKeys(c.activations.get(0)!).forEach((k, j) => (c.special[j] ? undefined : keep.push(k)));
    }
    expect(rows).toEqual(keep.sort());
    expect((await s.readAll(0, { dropSpecial: true })).length).toBe((s.tokens - 60) * D);
    expect(all.length).toBe(s.tokens * D);
  });

  it("reports a corrupt, truncated or missing chunk by file name", async () => {
    const s = await harvest(model, makeDocs(30, 10), { layers: [0, 2], out: freshOut(), chunkTokens: 25 });
    const file = join(s.dir, "chunk-00001.safetensors");
    const original = readFileSync(file);
    const ref = openSafetensors(file).tensors.get("blocks.2.hook_mlp_out")!;
    const flipped = Buffer.from(original);
    flipped[ref.offset + 5] = flipped[ref.offset + 5]! ^ 0x10;
    writeFileSync(file, flipped);
    const opened = await openActivationStore(s.dir);
    const drain = async (r: ActivationReader) => {
      for await (const _ of r.batches({ batchSize: 8 })) void _;
    };
    await expect(drain(opened.reader(2))).rejects.toThrow(FormatError);
    await expect(drain(opened.reader(2))).rejects.toThrow(/chunk-00001\.safetensors: tensor "blocks\.2\.hook_mlp_out" does not match its sha256/);
    await drain(opened.reader(0)); // the other layer's bytes are intact
    await drain(opened.reader(2, { verify: false })); // unchecked reads go through
    await expect(opened.verify()).rejects.toThrow(/chunk-00001\.safetensors: sha256/);
    await expect(opened.readChunk(1)).rejects.toThrow(/chunk-00001\.safetensors/);

    writeFileSync(file, original.subarray(0, original.length - 10));
    await expect(opened.readAll(0)).rejects.toThrow(/chunk-00001\.safetensors/);
    rmSync(file);
    await expect(opened.readAll(0)).rejects.toThrow(/chunk-00001\.safetensors.*(not found|cannot be read)/);
    // Resuming over a damaged store is refused too.
    const m = JSON.parse(readFileSync(join(s.dir, "manifest.json"), "utf8"));
    writeFileSync(join(s.dir, "manifest.json"), JSON.stringify({ ...m, complete: false }));
    await expect(harvest(model, makeDocs(30, 10), { layers: [0, 2], out: s.dir, chunkTokens: 25 })).rejects.toThrow(/chunk-00001\.safetensors: missing/);
    writeFileSync(file, original);
    expect(existsSync(file)).toBe(true);
    await openActivationStore(s.dir).then((st) => st.verify());
  });

  it("rejects a manifest that is not a store's", async () => {
    const dir = freshOut();
    await harvest(model, ["a b"], { layers: [0], out: dir });
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ ...m, version: 99 }));
    await expect(openActivationStore(dir)).rejects.toThrow(/manifest\.json: "version" 99 is not supported/);
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ ...m, tokens: 5 }));
    await expect(openActivationStore(dir)).rejects.toThrow(/"tokens" is 5 but the chunks add up to/);
    await expect(openActivationStore(join(root, "nowhere"))).rejects.toThrow(/not an activation store/);
  });
});

describe("safesail harvest (CLI)", () => {
  it("harvests a JSONL corpus end to end, the same store as the API", async () => {
    const corpus = join(root, "cli.jsonl");
    writeFileSync(corpus, makeDocs(30, 11).map((t, i) => JSON.stringify(i % 3 === 0 ? { prompt: t } : { text: t })).join("\n") + "\n");
    const out = freshOut();
    const r = await run(["harvest", modelDir, "--corpus", corpus, "--layers", "2,0", "--site", "attn_out", "--out", out, "--chunk-tokens", "32", "--chat", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ out, hooks: ["blocks.0.hook_attn_out", "blocks.2.hook_attn_out"], d_model: D, dtype: "F32", documents: 30 });
    const api = await harvest(model, corpus, { layers: [0, 2], site: "attn_out", out: freshOut(), chunkTokens: 32, chat: true });
    expect(summary.tokens).toBe(api.tokens);
    expect(folderBytes(out)).toEqual(folderBytes(api.dir));
    const text = await run(["harvest", modelDir, "--corpus", corpus, "--layers", "0,2", "--site", "attn_out", "--out", out, "--chunk-tokens", "32", "--chat"]);
    expect(text.code, text.stderr).toBe(0); // already complete: nothing to do
    expect(text.stdout).toMatch(/tokens from 30 documents/);
    const help = await run(["harvest", "--help"]);
    expect(help.stdout).toMatch(/--corpus FILE/);
  });

  it("names the bad argument", async () => {
    const corpus = join(root, "cli.txt");
    writeFileSync(corpus, "hello\nworld\n");
    const cases: [string[], RegExp][] = [
      [["--layers", "0,9"], /layers: 9 is not a layer of the model/],
      [["--layers", "0,x"], /--layers must be comma-separated/],
      [["--layers", "0", "--site", "mlp"], /--site must be one of/],
      [["--layers", "0", "--max-tokens", "0"], /--max-tokens must be a positive integer/],
      [["--layers", "0", "--dtype", "int8"], /--dtype must be one of/],
    ];
    for (const [extra, re] of cases) {
      const r = await run(["harvest", modelDir, "--corpus", corpus, "--out", freshOut(), ...extra]);
      expect(r.code, extra.join(" ")).toBe(1);
      expect(r.stderr).toMatch(re);
    }
    const noCorpus = await run(["harvest", modelDir, "--layers", "0", "--out", freshOut()]);
    expect(noCorpus.stderr).toMatch(/--corpus FILE is required/);
    const missing = await run(["harvest", modelDir, "--corpus", join(root, "nope.txt"), "--layers", "0", "--out", freshOut()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/corpus: .*nope\.txt: file not found/);
  });

  it("resumes after the process is killed mid-way, byte-identical to an uninterrupted run", async () => {
    const corpus = join(root, "kill.txt");
    writeFileSync(corpus, makeDocs(600, 12, 20).join("\n") + "\n");
    const args = (out: string) => ["harvest", modelDir, "--corpus", corpus, "--layers", "0,1,2", "--out", out, "--chunk-tokens", "512", "--batch-tokens", "64"];
    const whole = freshOut();
    const full = await run(args(whole));
    expect(full.code, full.stderr).toBe(0);
    const totalChunks = JSON.parse(readFileSync(join(whole, "manifest.json"), "utf8")).chunks.length;

    const out = freshOut();
    const child = spawn(process.execPath, [BIN, ...args(out)], { stdio: "ignore" });
    const exited = new Promise((res) => child.on("exit", res));
    const chunksNow = () => {
      try {
        return JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).chunks.length as number;
      } catch {
        return 0;
      }
    };
    while (chunksNow() < 2 && child.exitCode === null) await new Promise((res) => setTimeout(res, 5));
    child.kill("SIGKILL");
    await exited;
    const partial = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(partial.complete, "the child finished before it could be killed; make the corpus larger").toBe(false);
    expect(partial.chunks.length).toBeLessThan(totalChunks);
    const resumed = await run(args(out));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(folderBytes(out)).toEqual(folderBytes(whole));
  });
});
