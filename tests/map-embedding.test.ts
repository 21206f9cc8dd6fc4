// The map's model embedding (--embedding MODEL): a @huggingface/transformers feature-extraction pipeline, offline.
// No network here, so the test makes its own tiny BERT-style model: a WordPiece tokenizer.json and an ONNX graph
// (token embedding -> MatMul -> Tanh as last_hidden_state) built with src/engine/onnx-builder.ts. The vectors are
// checked against the same arithmetic done by hand (mean over the attention mask, unit length); the model is then
// served by a loopback hub (a real HTTP server on 127.0.0.1, as tests/hub.test.ts does) and used by id, through
// buildMap and through the real `safesail map` with HF_ENDPOINT.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { featureRecord, newFeatureDb, writeFeatureDb, type FeatureRecord } from "../src/db/index.ts";
import { DataType, GraphBuilder } from "../src/engine/onnx-builder.ts";
import { FormatError, NotFoundError } from "../src/errors.ts";
import { buildMap, embedExplanations, readMap } from "../src/map/index.ts";
import { mulberry32 } from "../src/util/prng.ts";
import { runCli } from "./helpers/cli.ts";

const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"];
const VIOLENCE = ["weapons", "guns", "attack", "shooting", "knives", "assault"];
const DATES = ["calendar", "dates", "month", "weekday", "deadline", "schedule"];
const FILLER = ["terms", "about", "and"];
const VOCAB = [...SPECIALS, ...VIOLENCE, ...DATES, ...FILLER, "##s"];
const H = 8;

/** Embedding rows: each topic's words around its own direction, the rest small; a fixed mixing matrix W. */
function weights(): { e: number[][]; w: number[][] } {
  const rng = mulberry32(14);
  const noise = () => (rng() - 0.5) * 0.3;
  const e = VOCAB.map((tok) => {
    const row = Array.from({ length: H }, noise);
    if (VIOLENCE.includes(tok)) row[0]! += 2;
    if (DATES.includes(tok)) row[1]! += 2;
    return row;
  });
  const w = Array.from({ length: H }, (_, i) => Array.from({ length: H }, (_, j) => (i === j ? 1 : 0) + noise()));
  return { e, w };
}

/** A tiny feature-extraction model folder (config, WordPiece tokenizer, ONNX graph). */
function writeTinyModel(dir: string): void {
  const { e, w } = weights();
  const g = new GraphBuilder("tiny-embedder");
  const ids = g.input("input_ids", DataType.INT64, ["batch", "seq"]);
  g.input("attention_mask", DataType.INT64, ["batch", "seq"]);
  const x = g.op("Gather", [g.constF(e.flat(), [VOCAB.length, H]), ids], { axis: 0 });
  g.op("Tanh", [g.op("MatMul", [x, g.constF(w.flat(), [H, H])])], {}, { outputs: ["last_hidden_state"] });
  g.output("last_hidden_state", DataType.FLOAT, ["batch", "seq", H]);
  fs.mkdirSync(path.join(dir, "onnx"), { recursive: true });
  fs.writeFileSync(path.join(dir, "onnx", "model.onnx"), g.build().model);
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "bert", architectures: ["BertModel"], hidden_size: H, vocab_size: VOCAB.length }));
  const special = (content: string) => ({ id: VOCAB.indexOf(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const cls = { SpecialToken: { id: "[CLS]", type_id: 0 } };
  const sep = { SpecialToken: { id: "[SEP]", type_id: 0 } };
  fs.writeFileSync(
    path.join(dir, "tokenizer.json"),
    JSON.stringify({
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: SPECIALS.map(special),
      normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: "BertPreTokenizer" },
      post_processor: {
        type: "TemplateProcessing",
        single: [cls, { Sequence: { id: "A", type_id: 0 } }, sep],
        pair: [cls, { Sequence: { id: "A", type_id: 0 } }, sep, { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } }],
        special_tokens: { "[CLS]": { id: "[CLS]", ids: [2], tokens: ["[CLS]"] }, "[SEP]": { id: "[SEP]", ids: [3], tokens: ["[SEP]"] } },
      },
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
      model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])) },
    }),
  );
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ tokenizer_class: "BertTokenizer", model_max_length: 128, do_lower_case: true, pad_token: "[PAD]", unk_token: "[UNK]", cls_token: "[CLS]", sep_token: "[SEP]" }));
}

/** The test's own tokenizer for these texts: words and punctuation; a known word, word + "##s", or [UNK]. */
function handIds(text: string): number[] {
  const ids = [VOCAB.indexOf("[CLS]")];
  for (const piece of text.toLowerCase().match(/[a-z]+|[^\sa-z]/g) ?? []) {
    if (VOCAB.includes(piece)) ids.push(VOCAB.indexOf(piece));
    else if (piece.endsWith("s") && VOCAB.includes(piece.slice(0, -1))) ids.push(VOCAB.indexOf(piece.slice(0, -1)), VOCAB.indexOf("##s"));
    else ids.push(VOCAB.indexOf("[UNK]"));
  }
  ids.push(VOCAB.indexOf("[SEP]"));
  return ids;
}

/** tanh(E[id] W) averaged over the tokens, then unit length: what mean pooling + normalize must give. */
function handEmbedding(text: string): number[] {
  const { e, w } = weights();
  const ids = handIds(text);
  const mean = new Array<number>(H).fill(0);
  for (const id of ids) {
    for (let j = 0; j < H; j++) {
      let s = 0;
      for (let i = 0; i < H; i++) s += Math.fround(e[id]![i]!) * Math.fround(w[i]![j]!);
      mean[j]! += Math.tanh(s) / ids.length;
    }
  }
  const norm = Math.hypot(...mean);
  return mean.map((v) => v / norm);
}

function topicRecords(perTopic: number): FeatureRecord[] {
  const rng = mulberry32(3);
  const pick = (pool: string[]) => pool[Math.floor(rng() * pool.length)]!;
  const out: FeatureRecord[] = [];
  for (let i = 0; i < perTopic; i++) {
    out.push(featureRecord(`2_${i}`, { explanation: `Terms about ${pick(VIOLENCE)} and ${pick(VIOLENCE)}${i % 3 === 0 ? ", attacks!" : ""}`, correlation_score: 0.3, tag_list: ["violence"] }));
    out.push(featureRecord(`4_${i}`, { explanation: `Terms about ${pick(DATES)}${i % 2 ? ` and ${pick(DATES)} (zebra)` : ""}`, correlation_score: null, tag_list: [] }));
  }
  return out;
}

let root: string;
let modelDir: string;
let hub: http.Server;
let hubUrl: string;
const REPO = "safesail-test/tiny-embedder";
const SHA = createHash("sha1").update("tiny-embedder").digest("hex");
const served = new Map<string, Map<string, Buffer>>();
const requests: string[] = [];

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "safesail-map-embedding-"));
  modelDir = path.join(root, "tiny-embedder");
  writeTinyModel(modelDir);
  const files = new Map<string, Buffer>();
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"]) files.set(f, fs.readFileSync(path.join(modelDir, f)));
  files.set("README.md", Buffer.from("# tiny embedder\n"));
  served.set(REPO, files);
  // A repository without the ONNX graph (a PyTorch-only model).
  served.set("safesail-test/no-onnx", new Map([...files].filter(([f]) => f !== "onnx/model.onnx")));
  hub = http.createServer((req, res) => {
    requests.push(req.url!);
    const url = new URL(req.url!, "http://x");
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repo = served.get((api?.[1] ?? resolve?.[1])!);
    if (!repo) return void res.writeHead(404, { "x-error-code": "RepoNotFound" }).end();
    if (api) return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ sha: SHA, siblings: [...repo.keys()].map((rfilename) => ({ rfilename })) }));
    const body = resolve ? repo.get(decodeURIComponent(resolve[3]!)) : undefined;
    if (!body) return void res.writeHead(404, { "x-error-code": "EntryNotFound" }).end();
    res.writeHead(200, { "x-repo-commit": SHA, etag: `"${createHash("sha1").update(body).digest("hex")}"`, "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => hub.listen(0, "127.0.0.1", () => r()));
  hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => hub.close(r));
  fs.rmSync(root, { recursive: true, force: true });
});

describe("transformers.js feature-extraction embedding", () => {
  it("a local model folder: mean over the attention mask, unit length, as computed by hand; padding changes nothing", async () => {
    const records = topicRecords(5);
    const emb = await embedExplanations(records, { embedding: modelDir, batchSize: 3 });
    expect(emb.dims).toBe(H);
    expect(emb.ids).toEqual(records.map((r) => r.id));
    expect(emb.description).toMatchObject({ kind: "transformers", model: modelDir, dims: H, pooling: "mean", normalize: true });
    records.forEach((r, i) => {
      const want = handEmbedding(r.explanation!);
      const got = Array.from(emb.vectors.subarray(i * H, (i + 1) * H));
      got.forEach((v, j) => expect(v, `${r.id}[${j}] (${r.explanation})`).toBeCloseTo(want[j]!, 5));
    });
    // One text per batch (no padding) gives the same vectors as batches of 3 padded to their longest text.
    const single = await embedExplanations(records, { embedding: modelDir, batchSize: 1 });
    single.vectors.forEach((v, i) => expect(v).toBeCloseTo(emb.vectors[i]!, 6));
  });

  it("a hub id through the loopback hub: the four files fetched into the cache, then offline with no request", async () => {
    const cacheDir = path.join(root, "cache-lib");
    const records = topicRecords(10);
    requests.length = 0;
    const map = await buildMap(records, { embedding: REPO, hub: { endpoint: hubUrl, cacheDir }, seed: 2, clusters: 2 });
    expect(requests.filter((u) => u.includes("/resolve/")).map((u) => decodeURIComponent(u.split("/resolve/")[1]!.slice(41))).sort()).toEqual(["config.json", "onnx/model.onnx", "tokenizer.json", "tokenizer_config.json"]);
    expect(map.embedding).toMatchObject({ kind: "transformers", model: REPO, dims: H });
    // The model tells the topics apart: two pure clusters, every violence feature's neighbours are violence features.
    for (const c of map.clusters) expect(new Set(map.points.filter((p) => p.cluster === c.id).map((p) => p.id[0])).size).toBe(1);
    expect(map.quality!.embedding.agreement).toBeCloseTo(0.9, 15); // 10 nearest of 9 topic-mates
    requests.length = 0;
    const offline = await embedExplanations(records, { embedding: REPO, hub: { endpoint: hubUrl, cacheDir, offline: true } });
    expect(requests).toEqual([]);
    const local = await embedExplanations(records, { embedding: modelDir });
    expect(offline.vectors).toEqual(local.vectors);
  });

  it("safesail map --embedding ORG/NAME with HF_ENDPOINT and HF_HUB_CACHE", async () => {
    const db = path.join(root, "db.json");
    await writeFeatureDb(db, newFeatureDb(topicRecords(8)));
    const out = path.join(root, "map.json");
    const env = { HF_ENDPOINT: hubUrl, HF_HUB_CACHE: path.join(root, "cache-cli") };
    const r = await runCli(["map", "--db", db, "--out", out, "--embedding", REPO, "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.embedding).toMatchObject({ kind: "transformers", model: REPO, dims: H, pooling: "mean" });
    const map = await readMap(out);
    expect(map.points).toHaveLength(16);
    expect(map.quality!.map.agreement!).toBeGreaterThan(map.quality!.map.shuffled!.high);
    expect(fs.existsSync(path.join(root, "cache-cli", "models--safesail-test--tiny-embedder", "snapshots", SHA, "onnx", "model.onnx"))).toBe(true);
    // Same command, same bytes.
    const again = path.join(root, "map2.json");
    expect((await runCli(["map", "--db", db, "--out", again, "--embedding", REPO], env)).code).toBe(0);
    expect(fs.readFileSync(again, "utf8")).toBe(fs.readFileSync(out, "utf8"));
  }, 60_000);

  it("names what is missing or broken", async () => {
    const records = topicRecords(3);
    const partial = path.join(root, "partial");
    fs.mkdirSync(partial);
    fs.copyFileSync(path.join(modelDir, "config.json"), path.join(partial, "config.json"));
    await expect(embedExplanations(records, { embedding: partial })).rejects.toThrow(NotFoundError);
    await expect(embedExplanations(records, { embedding: partial })).rejects.toThrow(`embedding: ${partial}: no tokenizer.json, tokenizer_config.json, onnx/model.onnx in the folder`);
    await expect(embedExplanations(records, { embedding: "safesail-test/no-onnx", hub: { endpoint: hubUrl, cacheDir: path.join(root, "cache-x") } })).rejects.toThrow(/safesail-test\/no-onnx@main: the repository has no "onnx\/model\.onnx"/);
    const broken = path.join(root, "broken");
    fs.cpSync(modelDir, broken, { recursive: true });
    fs.writeFileSync(path.join(broken, "onnx", "model.onnx"), "not an onnx graph");
    await expect(embedExplanations(records, { embedding: broken })).rejects.toThrow(FormatError);
    await expect(embedExplanations(records, { embedding: broken })).rejects.toThrow(new RegExp(`^embedding: ${broken.replace(/[/.]/g, "\\$&")}: cannot load a feature-extraction model from`));
  });
});
