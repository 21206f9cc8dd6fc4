// Activation examples (src/interpret/examples.ts) and their store (src/interpret/example-store.ts) on the embedded
// toy model with two seeded random SAEs (layers 1 and 2, collected in one pass). Every number is checked against a
// separate, straightforward path: model.forward with the hooks cached and the plain-JS encodeTopK per document,
// the whole corpus in memory; quantile, histogram and decoder logits by Debian's /usr/bin/python3 (standard
// library: statistics.quantiles "inclusive" = numpy's default linear method; the model's safetensors read by hand).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../src/errors.ts";
import { CHECKPOINT_FILE, collectExamples, documentSide, type ExamplesOptions } from "../src/interpret/examples.ts";
import { EXAMPLES_FILE, EXAMPLES_TENSORS_FILE, openExampleStore, TOKENS_FILE, type ExampleStore } from "../src/interpret/example-store.ts";
import type { ActivationExample } from "../src/interpret/types.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import type { Progress } from "../src/progress.ts";
import { createSae, encodeTopK, type Sae } from "../src/sae/sae.ts";

const PY = "/usr/bin/python3";
const MODEL_DIR = resolve(import.meta.dirname, "../models/toy-safety-qwen2");
const root = mkdtempSync(join(tmpdir(), "safesail-examples-"));
const corpusFile = join(root, "corpus.jsonl");
const C = 32;
const sae1 = createSae({ dIn: 256, dSae: 256, k: 12, hookName: "blocks.1.hook_resid_post" }, { seed: 11 });
const sae2 = createSae({ dIn: 256, dSae: 512, k: 16, hookName: "blocks.2.hook_mlp_out" }, { seed: 12 });
// Latent 511 can never win: a feature that never fires.
sae2.params.b_enc[511] = -1e6;
const SAES: Sae[] = [sae2, sae1];
/** Small numbers so that every list has to be chosen from more candidates than it takes. */
const OPTS = { topExamples: 6, quantiles: 4, perQuantileTrain: 1, perQuantileTest: 2, nonActivating: 8, windowDocs: 8, checkpointEvery: 1000 } satisfies Partial<ExamplesOptions>;

let model: Model;
/** Per document: token ids, and per SAE the dense code [T, dSae] (reference path). */
const ref: { ids: number[]; codes: Map<Sae, Float32Array> }[] = [];
let features: string[] = [];
let dead: string;
let storeA: ExampleStore;
const dirA = join(root, "a");

/** The reference activations of feature `id` in document `d`. */
function refActs(id: string, d: number): Float32Array {
  const [layer, index] = id.split("_").map(Number) as [number, number];
  const sae = layer === 1 ? sae1 : sae2;
  const dSae = sae.config.dSae;
  const code = ref[d]!.codes.get(sae)!;
  return Float32Array.from({ length: ref[d]!.ids.length }, (_, t) => code[t * dSae + index]!);
}

const python = (script: string, input: unknown): any => JSON.parse(execFileSync(PY, ["-c", script], { input: JSON.stringify(input), encoding: "utf8", maxBuffer: 64 << 20 }));

beforeAll(async () => {
  // 40 documents of four queries each (~80 tokens), so windows are clipped to 32 tokens and really centred.
  const texts = readFileSync(resolve(import.meta.dirname, "../data/domain-corpus.jsonl"), "utf8").trim().split("\n").slice(0, 160).map((l) => JSON.parse(l).text as string);
  const docs = Array.from({ length: 40 }, (_, i) => texts.slice(4 * i, 4 * i + 4).join(" "));
  writeFileSync(corpusFile, docs.map((text) => JSON.stringify({ text })).join("\n") + "\n");
  model = await loadModel(MODEL_DIR);
  for (const text of docs) {
    const ids = model.toTokens(text, { chat: true });
    const { cache } = await model.forward([ids], { cache: ["blocks.1.hook_resid_post", "blocks.2.hook_mlp_out"], logits: "none" });
    const codes = new Map<Sae, Float32Array>();
    for (const sae of SAES) {
      const code = encodeTopK(sae, cache[sae.config.hookName!]!.data, ids.length);
      const dense = new Float32Array(ids.length * sae.config.dSae);
      for (let t = 0; t < ids.length; t++) for (let m = 0; m < code.k; m++) dense[t * sae.config.dSae + code.indices[t * code.k + m]!] = code.values[t * code.k + m]!;
      codes.set(sae, dense);
    }
    ref.push({ ids, codes });
  }
  // Features that fire on 2-25% of the tokens: two of layer 2, one of layer 1; and the one of layer 2 that never fires.
  const tokens = ref.reduce((n, r) => n + r.ids.length, 0);
  const frac = (id: string) => ref.reduce((n, _, d) => n + refActs(id, d).filter((v) => v > 0).length, 0) / tokens;
  const pick = (layer: number, dSae: number, ok: (f: number) => boolean, n: number) => Array.from({ length: dSae }, (_, i) => `${layer}_${i}`).filter((id) => ok(frac(id))).slice(0, n);
  features = [...pick(2, 512, (f) => f > 0.02 && f < 0.25, 2), ...pick(1, 256, (f) => f > 0.02 && f < 0.25, 1)];
  dead = pick(2, 512, (f) => f === 0, 1)[0]!;
  expect(features).toHaveLength(3);
  expect(dead).toBeDefined();
  storeA = await collectExamples(model, SAES, corpusFile, dirA, { features: [...features, dead], tags: { [features[0]!]: ["violence"] }, ...OPTS });
}, 120_000);

afterAll(async () => {
  await model?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe("statistics against the reference path", () => {
  it("counts tokens, frac_nonzero and max exactly as the per-document forward + encodeTopK does", () => {
    const tokens = ref.reduce((n, r) => n + r.ids.length, 0);
    expect(storeA.manifest.tokens).toBe(tokens);
    expect(storeA.manifest.documents).toBe(40);
    for (const id of features) {
      const vals = ref.flatMap((_, d) => Array.from(refActs(id, d)).filter((v) => v > 0));
      const fe = storeA.feature(id);
      expect(fe.tokens).toBe(tokens);
      expect(fe.frac_nonzero).toBe(vals.length / tokens);
      expect(fe.max_activation).toBeCloseTo(Math.max(...vals), 4);
      expect(Math.abs(fe.max_activation / Math.max(...vals) - 1)).toBeLessThan(1e-5);
    }
    expect(storeA.feature(features[0]!).tags).toEqual(["violence"]);
    expect(storeA.feature(features[1]!).tags).toEqual([]);
  });

  it("normalisation is the 0.999 quantile (linear interpolation) of the non-zero activations, histogram 20 equal bins over [0, max]", () => {
    const input = features.map((id) => ({ id, values: ref.flatMap((_, d) => Array.from(refActs(id, d)).filter((v) => v > 0)) }));
    const out = python(
      `
import json, sys, statistics, bisect
res = {}
for f in json.load(sys.stdin):
    v = sorted(f["values"])
    q = statistics.quantiles(v, n=1000, method="inclusive")[998]
    mx = v[-1]
    edges = [i * (mx / 20) for i in range(20)] + [mx]
    counts = [0] * 20
    for x in v:
        counts[min(19, bisect.bisect_right(edges, x) - 1)] += 1
    res[f["id"]] = {"q": q, "edges": edges, "counts": counts}
print(json.dumps(res))
`,
      input,
    );
    for (const id of features) {
      const fe = storeA.feature(id);
      expect(fe.normalisation.quantile).toBe(0.999);
      expect(Math.abs(fe.normalisation.value / out[id].q - 1)).toBeLessThan(1e-5);
      expect(fe.histogram.counts).toEqual(out[id].counts);
      fe.histogram.edges.forEach((e, i) => expect(Math.abs(e - out[id].edges[i])).toBeLessThan(1e-4));
      expect(fe.histogram.counts.reduce((a, b) => a + b, 0)).toBe(Math.round(fe.frac_nonzero * fe.tokens));
    }
  });

  it("decoder logits are the top and bottom of W_dec[f] · W_U over the vocabulary (tied embedding, read by hand)", () => {
    const input = {
      model: join(MODEL_DIR, "model.safetensors"),
      dirs: features.map((id) => {
        const [layer, index] = id.split("_").map(Number) as [number, number];
        const sae = layer === 1 ? sae1 : sae2;
        return Array.from(sae.params.W_dec.subarray(index * 256, (index + 1) * 256));
      }),
    };
    const out = python(
      `
import json, sys, struct, array
inp = json.load(sys.stdin)
with open(inp["model"], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
    e = h["model.embed_tokens.weight"]
    assert e["dtype"] == "F32"
    f.seek(8 + n + e["data_offsets"][0])
    E = array.array("f")
    E.frombytes(f.read(e["data_offsets"][1] - e["data_offsets"][0]))
V, D = e["shape"]
res = []
for d in inp["dirs"]:
    logits = [sum(E[v * D + j] * d[j] for j in range(D)) for v in range(V)]
    order = sorted(range(V), key=lambda v: (-logits[v], v))
    res.append({"top": [[v, logits[v]] for v in order[:10]], "bottom": [[v, logits[v]] for v in reversed(order[-10:])]})
print(json.dumps(res))
`,
      input,
    );
    features.forEach((id, i) => {
      const fe = storeA.feature(id);
      expect(fe.logits.top.map((l) => l.id)).toEqual(out[i].top.map((x: number[]) => x[0]));
      expect(fe.logits.bottom.map((l) => l.id)).toEqual(out[i].bottom.map((x: number[]) => x[0]));
      fe.logits.top.forEach((l, j) => expect(l.value).toBeCloseTo(out[i].top[j][1], 10));
      fe.logits.bottom.forEach((l, j) => expect(l.value).toBeCloseTo(out[i].bottom[j][1], 10));
      expect(fe.logits.top[0]!.token).toBe(model.toStrTokens([fe.logits.top[0]!.id])[0]);
    });
  }, 60_000);

  it("a feature that never fires has no activating examples and says so", () => {
    const fe = storeA.feature(dead);
    expect(fe.frac_nonzero).toBe(0);
    expect(fe.max_activation).toBe(0);
    expect(fe.normalisation.value).toBe(0);
    expect(fe.histogram).toEqual({ edges: [], counts: [] });
    expect(fe.train.top).toEqual([]);
    expect(fe.test.activating).toEqual([]);
    // Every test tile is then non-activating.
    expect(fe.test.nonActivating).toHaveLength(8);
    expect(storeA.record(dead).warnings.join("\n")).toMatch(/never fired on the \d+ tokens of 40 documents/);
  });
});

/** Where the window centred on position p of a document of T tokens starts. */
const expectedStart = (p: number, T: number) => Math.min(Math.max(0, p - C / 2), T - Math.min(C, T));

describe("windows and the train/test split", () => {
  const all = (fe: ReturnType<ExampleStore["feature"]>) => [...fe.train.top, ...fe.train.quantiles.flat(), ...fe.test.activating, ...fe.test.nonActivating];

  it("every window is the document's tokens and the reference activations, 32 long (or the whole document) and centred", () => {
    const specialIds = new Set<number>(
      Object.entries(JSON.parse(readFileSync(join(MODEL_DIR, "tokenizer_config.json"), "utf8")).added_tokens_decoder as Record<string, { special: boolean }>)
        .filter(([, t]) => t.special)
        .map(([id]) => Number(id)),
    );
    let checked = 0;
    for (const id of [...features, dead]) {
      for (const w of all(storeA.feature(id))) {
        const doc = ref[w.doc]!;
        const T = doc.ids.length;
        expect(w.ids).toHaveLength(Math.min(C, T));
        expect(w.ids).toEqual(doc.ids.slice(w.start, w.start + w.ids.length));
        expect(w.tokens).toEqual(model.toStrTokens(w.ids));
        const acts = refActs(id, w.doc);
        w.acts.forEach((a, t) => expect(Math.abs(a - acts[w.start + t]!)).toBeLessThan(1e-4));
        expect(w.special).toEqual(w.ids.map((i) => specialIds.has(i)));
        if (w.centre >= 0) {
          expect(w.acts[w.centre]).toBeGreaterThan(0);
          expect(w.start).toBe(expectedStart(w.start + w.centre, T));
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(60);
    // Some window really is centred inside a longer document, and the chat markers are flagged.
    const ws = features.flatMap((id) => all(storeA.feature(id)));
    expect(ws.some((w) => w.centre === C / 2 && ref[w.doc]!.ids.length > C)).toBe(true);
    expect(ws.some((w) => w.special!.some(Boolean))).toBe(true);
  });

  it("train and test come from disjoint documents (by the seeded split), and windows of one side never overlap", () => {
    const sides = ref.map((_, d) => documentSide(d, 0, 0.5));
    expect(storeA.manifest.train_documents).toBe(sides.filter((s) => s === "train").length);
    expect(storeA.manifest.test_documents).toBe(sides.filter((s) => s === "test").length);
    expect(storeA.manifest.train_documents).toBeGreaterThan(10);
    expect(storeA.manifest.test_documents).toBeGreaterThan(10);
    for (const id of features) {
      const fe = storeA.feature(id);
      const train = [...fe.train.top, ...fe.train.quantiles.flat()];
      const test = [...fe.test.activating, ...fe.test.nonActivating];
      for (const w of train) expect(sides[w.doc]).toBe("train");
      for (const w of test) expect(sides[w.doc]).toBe("test");
      const noOverlap = (ws: ActivationExample[]) => {
        for (let i = 0; i < ws.length; i++)
          for (let j = i + 1; j < ws.length; j++) {
            const [a, b] = [ws[i]!, ws[j]!];
            expect(a.doc === b.doc && a.start < b.start + b.ids.length && b.start < a.start + a.ids.length, `${id}: windows ${i} and ${j} overlap`).toBe(false);
          }
      };
      noOverlap(train);
      noOverlap(fe.test.activating);
      noOverlap(fe.test.nonActivating);
    }
  });

  it("the top windows are the strongest tokens of the train documents, one window per stretch of a document", () => {
    for (const id of features) {
      const cands: { doc: number; pos: number; act: number; start: number }[] = [];
      ref.forEach((r, d) => {
        if (documentSide(d) !== "train") return;
        const a = refActs(id, d);
        const T = r.ids.length;
        const chosen: number[] = [];
        const order = [...a.keys()].filter((t) => a[t]! > 0).sort((x, y) => a[y]! - a[x]! || x - y);
        for (const p of order) {
          const start = expectedStart(p, T);
          if (chosen.some((s) => Math.abs(s - start) < Math.min(C, T))) continue;
          chosen.push(start);
          cands.push({ doc: d, pos: p, act: a[p]!, start });
        }
      });
      cands.sort((x, y) => y.act - x.act || x.doc - y.doc || x.pos - y.pos);
      const want = cands.slice(0, OPTS.topExamples);
      const got = storeA.feature(id).train.top;
      expect(got.map((w) => [w.doc, w.start, w.start + w.centre])).toEqual(want.map((c) => [c.doc, c.start, c.pos]));
      got.forEach((w, i) => expect(Math.abs(w.acts[w.centre]! - want[i]!.act)).toBeLessThan(1e-4));
      expect(got[0]!.ids).toEqual(ref[want[0]!.doc]!.ids.slice(want[0]!.start, want[0]!.start + C));
    }
  });

  it("quantile samples come from their equal-count slice of the side's activating tokens", () => {
    for (const id of features) {
      const fe = storeA.feature(id);
      const rec = storeA.record(id);
      for (const side of ["train", "test"] as const) {
        const acts: { doc: number; pos: number; act: number }[] = [];
        ref.forEach((_, d) => {
          if (documentSide(d) !== side) return;
          refActs(id, d).forEach((act, pos) => act > 0 && acts.push({ doc: d, pos, act }));
        });
        expect(acts.length).toBeLessThan(1000); // the sample then holds every activating token: slices are exact
        acts.sort((x, y) => x.act - y.act || x.doc - y.doc || x.pos - y.pos);
        const n = acts.length;
        const members = [0, 1, 2, 3].map((q) => acts.slice(Math.floor((q * n) / 4), Math.floor(((q + 1) * n) / 4)));
        const slices = rec.slices[side];
        expect(slices.map((s) => s.count)).toEqual(members.map((m) => m.length));
        slices.forEach((s, q) => {
          expect(Math.abs(s.lo - members[q]![0]!.act)).toBeLessThan(1e-4);
          expect(Math.abs(s.hi - members[q]![members[q]!.length - 1]!.act)).toBeLessThan(1e-4);
        });
        const drawn = side === "train" ? fe.train.quantiles.flatMap((ws, q) => ws.map((w) => ({ w, q }))) : fe.test.activating.map((w, i) => ({ w, q: rec.examples.test_activating_slices[i]! }));
        expect(drawn.length).toBeGreaterThan(side === "train" ? 1 : 4);
        for (const { w, q } of drawn) {
          expect(members[q]!.some((m) => m.doc === w.doc && m.pos === w.start + w.centre), `${id} ${side}: window of doc ${w.doc} is not in slice ${q}`).toBe(true);
        }
      }
      expect(fe.train.quantiles).toHaveLength(4);
      for (const q of fe.train.quantiles) expect(q.length).toBeLessThanOrEqual(1);
    }
  });

  it("non-activating test windows are zero on every token, drawn from the non-overlapping tiles of the test documents", () => {
    for (const id of [...features, dead]) {
      const tiles: string[] = [];
      ref.forEach((r, d) => {
        if (documentSide(d) !== "test") return;
        const a = refActs(id, d);
        const T = r.ids.length;
        for (let s = 0; s === 0 || s + C <= T; s += C) if (a.subarray(s, s + Math.min(C, T)).every((v) => v === 0)) tiles.push(`${d}:${s}`);
      });
      const got = storeA.feature(id).test.nonActivating;
      expect(got).toHaveLength(Math.min(OPTS.nonActivating, tiles.length));
      expect(got.length).toBeGreaterThan(0);
      for (const w of got) {
        expect(w.centre).toBe(-1);
        expect(w.acts.every((a) => a === 0)).toBe(true);
        expect(tiles).toContain(`${w.doc}:${w.start}`);
      }
    }
  });
});

describe("resuming", () => {
  /** Aborts once `after` documents are done. */
  function abortingProgress(after: number): { progress: Progress; signal: AbortSignal } {
    const ctl = new AbortController();
    return { signal: ctl.signal, progress: { start() {}, update: (done) => void (done >= after && ctl.abort()), finish() {} } };
  }
  const files = [EXAMPLES_FILE, EXAMPLES_TENSORS_FILE, TOKENS_FILE];

  it("an aborted run resumes to a store byte-identical to an uninterrupted one", async () => {
    const dir = join(root, "b");
    const opts = { features: [...features, dead], tags: { [features[0]!]: ["violence"] }, ...OPTS, checkpointEvery: 8 };
    const stop = abortingProgress(20);
    await expect(collectExamples(model, SAES, corpusFile, dir, { ...opts, ...stop })).rejects.toMatchObject({ name: "AbortError" });
    expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(true);
    expect(existsSync(join(dir, EXAMPLES_FILE))).toBe(false);
    // Aborted again at once (the checkpoint is kept), then to the end.
    const again = abortingProgress(0);
    await expect(collectExamples(model, SAES, corpusFile, dir, { ...opts, ...again })).rejects.toMatchObject({ name: "AbortError" });
    let seenFrom = -1;
    const store = await collectExamples(model, SAES, corpusFile, dir, { ...opts, progress: { start() {}, update: (d) => void (seenFrom < 0 && (seenFrom = d)), finish() {} } });
    expect(seenFrom).toBe(24); // resumed after the documents already done
    expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(false);
    for (const f of files) expect(readFileSync(join(dir, f)).equals(readFileSync(join(dirA, f))), f).toBe(true);
    expect(store.feature(features[0]!)).toEqual(storeA.feature(features[0]!));
  });

  it("refuses to resume with other settings or another corpus, naming what differs", async () => {
    const dir = join(root, "c");
    const opts = { features, ...OPTS };
    await expect(collectExamples(model, SAES, corpusFile, dir, { ...opts, ...abortingProgress(8) })).rejects.toMatchObject({ name: "AbortError" });
    await expect(collectExamples(model, SAES, corpusFile, dir, { ...opts, context: 16 })).rejects.toThrow(/checkpoint\.safetensors: cannot resume: .*options\.context: was 32, now 16/);
    const other = join(root, "other.jsonl");
    writeFileSync(other, readFileSync(corpusFile, "utf8").replace("How", "Why"));
    await expect(collectExamples(model, SAES, other, dir, opts)).rejects.toThrow(/corpus_sha256: was "[0-9a-f]{64}", now "[0-9a-f]{64}"/);
    const sae2b = createSae({ dIn: 256, dSae: 512, k: 16, hookName: "blocks.2.hook_mlp_out" }, { seed: 13 });
    await expect(collectExamples(model, [sae2b, sae1], corpusFile, dir, opts)).rejects.toThrow(/sae_params\.blocks\.2\.hook_mlp_out: was/);
  });

  it("a finished store is returned as it is, refused with other settings, and recomputed with overwrite", async () => {
    const dir = join(root, "d");
    const opts = { features: [features[0]!], ...OPTS, maxDocs: 10 };
    const first = await collectExamples(model, SAES, corpusFile, dir, opts);
    expect(first.manifest.documents).toBe(10);
    expect(first.manifest.stopped_at_max_docs).toBe(true);
    const mtime = statSync(join(dir, EXAMPLES_FILE)).mtimeMs;
    let started = false;
    await collectExamples(model, SAES, corpusFile, dir, { ...opts, progress: { start: () => void (started = true), update() {}, finish() {} } });
    expect(started).toBe(false);
    expect(statSync(join(dir, EXAMPLES_FILE)).mtimeMs).toBe(mtime);
    await expect(collectExamples(model, SAES, corpusFile, dir, { ...opts, features: [features[1]!] })).rejects.toThrow(/holds examples collected with other settings \(options\.features: was .*--overwrite/);
    const redone = await collectExamples(model, SAES, corpusFile, dir, { ...opts, features: [features[1]!], overwrite: true });
    expect(redone.ids()).toEqual([features[1]]);
  });
});

describe("bounded memory: samples beyond the caps", () => {
  // 12-window samples and 15 kept values force every sample to evict, so order, batching and restarts all matter.
  const capped = () => ({ features, ...OPTS, valueCap: 15, sampleReservoir: 12 });

  it("keeps a sample of the values beyond valueCap, says the statistics are estimated, and cuts slices from the window sample", async () => {
    const dir = join(root, "cap-a");
    const store = await collectExamples(model, SAES, corpusFile, dir, capped());
    for (const id of features) {
      const rec = store.record(id);
      const vals = ref.flatMap((_, d) => Array.from(refActs(id, d)).filter((v) => v > 0));
      expect(rec.nonzero).toBe(vals.length);
      expect(rec.values).toEqual({ kept: 15, exact: false });
      expect(rec.warnings).toContain(`normalisation and histogram are estimated from a uniform sample of 15 of the ${vals.length} non-zero activations (valueCap)`);
      expect(rec.histogram.counts.reduce((a, b) => a + b, 0)).toBe(15);
      // Exact whatever the cap: the count and the maximum.
      expect(rec.frac_nonzero).toBe(vals.length / store.manifest.tokens);
      expect(Math.abs(rec.max_activation / Math.max(...vals) - 1)).toBeLessThan(1e-5);
      expect(rec.normalisation.value).toBeGreaterThanOrEqual(Math.min(...vals) - 1e-4);
      expect(rec.normalisation.value).toBeLessThanOrEqual(Math.max(...vals) + 1e-4);
      for (const side of ["train", "test"] as const) expect(rec.slices[side].reduce((n, sl) => n + sl.count, 0)).toBe(12);
      // The top windows are not a sample: the same as without caps.
      expect(store.feature(id).train.top).toEqual(storeA.feature(id).train.top);
    }
  });

  it("does not depend on how documents are grouped and batched, nor on a restart", async () => {
    const a = join(root, "cap-a");
    const b = join(root, "cap-b");
    const ctl = new AbortController();
    const progress: Progress = { start() {}, update: (d) => void (d >= 9 && ctl.abort()), finish() {} };
    await expect(collectExamples(model, SAES, corpusFile, b, { ...capped(), windowDocs: 3, batchTokens: 100, signal: ctl.signal, progress })).rejects.toMatchObject({ name: "AbortError" });
    await collectExamples(model, SAES, corpusFile, b, { ...capped(), windowDocs: 5, batchTokens: 4096 });
    for (const f of [EXAMPLES_FILE, EXAMPLES_TENSORS_FILE, TOKENS_FILE]) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
  });
});

describe("bad input", () => {
  it("names the feature whose layer has no SAE, whose index is out of range, or whose layer has two SAEs", async () => {
    const dir = join(root, "e");
    await expect(collectExamples(model, SAES, corpusFile, dir, { features: ["3_5"] })).rejects.toThrow(/features: 3_5: no SAE reads layer 3 \(the SAEs read blocks\.2\.hook_mlp_out, blocks\.1\.hook_resid_post\)/);
    await expect(collectExamples(model, SAES, corpusFile, dir, { features: ["2_600"] })).rejects.toThrow(/features: 2_600: index 600 is out of range .*512 latents/);
    const other = createSae({ dIn: 256, dSae: 64, k: 4, hookName: "blocks.2.hook_resid_post" }, { seed: 1 });
    await expect(collectExamples(model, [...SAES, other], corpusFile, dir, { features: ["2_1"] })).rejects.toThrow(/features: 2_1: 2 SAEs read layer 2/);
    await expect(collectExamples(model, SAES, corpusFile, dir, { features: ["2_1", "2_1"] })).rejects.toThrow(/features: 2_1 is listed twice/);
    await expect(collectExamples(model, SAES, corpusFile, dir, { features: ["x"] })).rejects.toThrow(/features: not a feature id: "x"/);
    expect(existsSync(dir)).toBe(false);
  });

  it("a missing corpus is a NotFoundError naming it", async () => {
    const missing = join(root, "nowhere.jsonl");
    const err = await collectExamples(model, SAES, missing, join(root, "f"), { features: [features[0]!] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain(missing);
  });

  it("a corrupt or incomplete store is an error naming the file and the field", async () => {
    const dir = join(root, "g");
    cpSync(dirA, dir, { recursive: true });
    const file = join(dir, EXAMPLES_FILE);
    const good = readFileSync(file, "utf8");
    const edit = (f: (m: any) => void) => {
      const m = JSON.parse(good);
      f(m);
      writeFileSync(file, JSON.stringify(m));
    };
    edit((m) => (m.features[1].histogram.counts = "x"));
    await expect(openExampleStore(dir)).rejects.toThrow(`${file}: features[1].histogram.counts: expected a list, got "x"`);
    edit((m) => (m.features[0].examples.train_top[0] = 10 ** 6));
    await expect(openExampleStore(dir)).rejects.toThrow(`${file}: features[0].examples.train_top[0]: expected a window number below`);
    edit((m) => delete m.options.context);
    await expect(openExampleStore(dir)).rejects.toThrow(`${file}: options.context: expected an integer >= 1, got nothing`);
    edit((m) => (m.format = "other"));
    await expect(openExampleStore(dir)).rejects.toThrow(`${file}: format: expected "safesail-examples", got "other"`);
    writeFileSync(file, good.slice(0, 100));
    await expect(openExampleStore(dir)).rejects.toThrow(`${file}: not valid JSON`);
    // A resume over such a folder is refused, not silently restarted.
    await expect(collectExamples(model, SAES, corpusFile, dir, { features: [features[0]!] })).rejects.toThrow(/holds an example store that cannot be read .*--overwrite/);
    writeFileSync(file, good);
    const tensors = join(dir, EXAMPLES_TENSORS_FILE);
    const bytes = readFileSync(tensors);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(tensors, bytes);
    await expect(openExampleStore(dir)).rejects.toThrow(`${tensors}: ${bytes.length} bytes whose sha256 does not match tensors.sha256`);
    rmSync(tensors);
    await expect(openExampleStore(dir)).rejects.toThrow(`${tensors}: not found`);
    await expect(openExampleStore(join(root, "nothing"))).rejects.toThrow(/examples\.json: not found/);
    expect(() => storeA.feature("9_9")).toThrow(/feature "9_9" is not in the example store/);
  });

  it("a corrupt checkpoint is an error naming it", async () => {
    const dir = join(root, "h");
    mkdirSync(dir);
    writeFileSync(join(dir, CHECKPOINT_FILE), "garbage");
    await expect(collectExamples(model, SAES, corpusFile, dir, { features, ...OPTS })).rejects.toThrow(`${join(dir, CHECKPOINT_FILE)}: the checkpoint cannot be read`);
  });
});
