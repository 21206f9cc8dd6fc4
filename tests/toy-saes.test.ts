// The SAE set shipped with the toy model (models/toy-safety-qwen2/saes/, built by `safesail toy saes`) and its
// feature database: every layer loads with loadSae, its F16 weights are finite and decode as Debian's
// /usr/bin/python3 decodes them (standard library), its FVU on held-out conversations, computed here with the plain-JS
// encodeTopK/decodeTopK on the model's own hook activations, is the manifest's; the database's records point at
// shipped SAEs by relative paths and carry safety tags and the baselines' names. Then the command itself: argument
// errors, and a tiny rebuild (20 steps on 60 conversations) into a temporary folder, run twice (the second keeps
// every layer). CI never retrains the shipped set.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tokenizeDocument } from "../src/activations/text.ts";
import { readDomainCorpus } from "../src/data/domain-corpus.ts";
import { readFeatureDb } from "../src/db/store.ts";
import { openSafetensors } from "../src/formats/safetensors.ts";
import { BASELINE_EXPLAINER, BASELINE_SIMULATOR } from "../src/interpret/explainers.ts";
import { filterSafetyFeatures } from "../src/metrics/filter.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import { decodeTopK, encodeTopK, type Sae } from "../src/sae/sae.ts";
import { loadSae } from "../src/sae/saelens.ts";
import { SAFETY_DOMAINS } from "../src/safety.ts";
import { heldOutConversations } from "../src/toy/heldout.ts";
import { HELDOUT_CHECK_DOCUMENTS, TOY_SAES_CONFIG, TOY_SAES_DB, TOY_SAES_FILTER, TOY_SAES_MANIFEST, evenlySpaced, plateauCheck, readToySaesManifest, smoothed, type ToySaesManifest } from "../src/toy/saes.ts";
import { runCli } from "./helpers/cli.ts";

const ROOT = resolve(import.meta.dirname, "..");
const MODEL = join(ROOT, "models/toy-safety-qwen2");
const SAES = join(MODEL, "saes");
const PY = "/usr/bin/python3";
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

let model: Model;
let manifest: ToySaesManifest;
const saes = new Map<number, Sae>();

/** FVU as evalSae defines it (Σ||x̂ - x||² / Σ||x - mean||² over all rows), in float64, from the plain-JS codec. */
function fvuOf(sae: Sae, blocks: { x: Float32Array; n: number }[]): number {
  const d = sae.config.dIn;
  let err = 0;
  let sumSq = 0;
  let tokens = 0;
  const sum = new Float64Array(d);
  for (const { x, n } of blocks) {
    const recon = decodeTopK(sae, encodeTopK(sae, x, n), n);
    for (let i = 0; i < n * d; i++) {
      err += (recon[i]! - x[i]!) ** 2;
      sum[i % d]! += x[i]!;
      sumSq += x[i]! * x[i]!;
    }
    tokens += n;
  }
  let meanSq = 0;
  for (let j = 0; j < d; j++) meanSq += (sum[j]! / tokens) ** 2;
  return err / (sumSq - tokens * meanSq);
}

// Reads the F16 safetensors with the standard library, encodes the given rows (TopK-ReLU after subtracting b_dec) and
// decodes them; prints the codes, the reconstructions and the sums of every tensor.
const PYTHON_CODEC = String.raw`
import json, struct, sys
path, rows_file, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
def tensor(name):
    t = header[name]
    assert t["dtype"] == "F16", t["dtype"]
    a, b = t["data_offsets"]
    data = raw[8 + n + a: 8 + n + b]
    return list(struct.unpack("<%de" % (len(data) // 2), data)), t["shape"]
W_enc, (d_in, d_sae) = tensor("W_enc")
W_dec, _ = tensor("W_dec")
b_enc, _ = tensor("b_enc")
b_dec, _ = tensor("b_dec")
W_encT = [W_enc[s::d_sae] for s in range(d_sae)]
rows = json.load(open(rows_file))
out = {"sums": {"W_enc": sum(W_enc), "W_dec": sum(W_dec), "b_enc": sum(b_enc), "b_dec": sum(b_dec)}, "codes": [], "recon": []}
for x in rows:
    xc = [x[j] - b_dec[j] for j in range(d_in)]
    pre = [b_enc[s] + sum(map(float.__mul__, W_encT[s], xc)) for s in range(d_sae)]
    top = sorted(range(d_sae), key=lambda s: -pre[s])[:k]
    code = [(s, max(pre[s], 0.0)) for s in top]
    recon = list(b_dec)
    for s, a in code:
        if a > 0:
            row = W_dec[s * d_in:(s + 1) * d_in]
            for j in range(d_in):
                recon[j] += a * row[j]
    out["codes"].append(code)
    out["recon"].append(recon)
print(json.dumps(out))
`;

describe("the shipped SAE set and database", () => {
  beforeAll(async () => {
    model = await loadModel(MODEL);
    manifest = await readToySaesManifest(join(SAES, TOY_SAES_MANIFEST));
    for (const e of manifest.saes) saes.set(e.layer, await loadSae(join(SAES, e.folder)));
  }, 60_000);
  afterAll(async () => {
    await model?.dispose();
  });

  describe("the SAEs", () => {
    it("has one SAE per layer of the toy model, at the recorded configuration, loadable with loadSae", () => {
      expect(manifest.saes.map((e) => e.layer)).toEqual([...Array(model.config.numLayers).keys()]);
      expect(manifest.configuration).toMatchObject({ site: TOY_SAES_CONFIG.site, k: TOY_SAES_CONFIG.k, expansion: TOY_SAES_CONFIG.expansion });
      for (const e of manifest.saes) {
        const sae = saes.get(e.layer)!;
        const hook = `blocks.${e.layer}.hook_resid_post`;
        expect(e.folder).toBe(hook);
        expect(sae.config).toMatchObject({ hookName: hook, k: 64, dIn: model.config.hiddenSize, dSae: 10 * model.config.hiddenSize });
        expect(e.dSae).toBe(sae.config.dSae);
        // Stored F16, as the manifest says; the file is the one the manifest hashed.
        const st = openSafetensors(join(SAES, e.folder, "sae_weights.safetensors"));
        expect([...st.tensors.values()].map((t) => t.dtype)).toEqual(["F16", "F16", "F16", "F16"]);
        expect(e.storage.dtype).toBe("F16");
        expect(sha256(join(SAES, e.folder, "sae_weights.safetensors"))).toBe(e.weights_sha256);
        for (const [name, a] of Object.entries(sae.params)) if (typeof a !== "number") expect(a.every(Number.isFinite), `${e.folder} ${name}`).toBe(true);
        // No absolute path of the machine that built it.
        const cfg = JSON.parse(readFileSync(join(SAES, e.folder, "cfg.json"), "utf8"));
        expect(isAbsolute(cfg.model_name)).toBe(false);
        expect(JSON.stringify(cfg)).not.toContain(ROOT);
      }
      expect(readFileSync(join(SAES, TOY_SAES_MANIFEST), "utf8")).not.toContain(ROOT);
    });

    it("records its training curves and the plateau rule's verdict on them, recomputed here, and its README says the verdict", () => {
      const readme = readFileSync(join(SAES, "README.md"), "utf8");
      for (const e of manifest.saes) {
        expect(e.training.steps).toBe(manifest.training.steps);
        // The recorded points are the smoothed curve: the FVU falls from the first point to the last.
        const c = e.training.curve;
        expect(c.at(-1)!.fvu).toBeLessThan(c[0]!.fvu);
        const at = new Map(c.map((p) => [p.step, p.fvu]));
        for (const p of e.training.plateau.at) if (at.has(p.step)) expect(at.get(p.step)).toBeCloseTo(p.fvu, 4);
        const [a, b] = e.training.plateau.at;
        // (the recorded points are rounded to 4 decimals, the improvement is not)
        expect(Math.abs(e.training.plateau.improvement - (a!.fvu - b!.fvu) / a!.fvu)).toBeLessThan(2e-3);
        expect(e.training.plateau.plateaued).toBe(e.training.plateau.improvement < 0.02);
        // Not plateaued by the rule (docs/toy-saes.md measures why, and what a longer run buys): said, not hidden.
        if (!e.training.plateau.plateaued) expect(readme).toMatch(new RegExp(`\\| ${e.layer} \\| \`${e.folder}\`[^\\n]*\\*\\*not plateaued\\*\\*`));
      }
    });

    it("reconstructs held-out conversations as the manifest records (plain-JS codec on the model's hook activations)", async () => {
      const all = await heldOutConversations({ dir: MODEL });
      const docs = evenlySpaced(HELDOUT_CHECK_DOCUMENTS, all.length).map((i) => ({ messages: all[i]!.messages }));
      const hooks = manifest.saes.map((e) => e.hook);
      const blocks = new Map(hooks.map((h) => [h, [] as { x: Float32Array; n: number }[]]));
      for (const doc of docs) {
        const ids = tokenizeDocument(model, doc).ids;
        const r = await model.runWithCache([ids], hooks);
        for (const h of hooks) blocks.get(h)!.push({ x: r.cache[h]!.data, n: ids.length });
      }
      for (const e of manifest.saes) {
        const fvu = fvuOf(saes.get(e.layer)!, blocks.get(e.hook)!);
        expect(e.heldout_check.documents).toBe(docs.length);
        expect(e.heldout_check.tokens).toBe(blocks.get(e.hook)!.reduce((a, b) => a + b.n, 0));
        // The build encoded on onnxruntime; rounding differs from the JS loop, not the figure.
        expect(Math.abs(fvu - e.heldout_check.fvu) / e.heldout_check.fvu, `layer ${e.layer}: ${fvu} vs ${e.heldout_check.fvu}`).toBeLessThan(2e-3);
        // A sane SAE: most of the variance explained, and these 25 conversations are like the whole held-out set.
        expect(fvu).toBeGreaterThan(0);
        expect(fvu).toBeLessThan(0.25);
        expect(Math.abs(fvu - e.heldout.fvu) / e.heldout.fvu).toBeLessThan(0.35);
        // F16 storage changed the held-out FVU by less than 0.001.
        expect(Math.abs(e.storage.fvu_stored - e.storage.fvu_f32)).toBeLessThan(1e-3);
        expect(e.storage.fvu_stored).toBeCloseTo(e.heldout.fvu, 6);
      }
    }, 120_000);

    it("decodes its F16 weights and encodes tokens as an independent standard-library implementation does", async () => {
      const dir = mkdtempSync(join(tmpdir(), "safesail-toy-saes-py-"));
      try {
        const all = await heldOutConversations({ dir: MODEL });
        const ids = tokenizeDocument(model, { messages: all[7]!.messages }).ids;
        const hooks = manifest.saes.map((e) => e.hook);
        const r = await model.runWithCache([ids], hooks);
        const D = model.config.hiddenSize;
        const take = [1, 5, ids.length - 2]; // a prompt token, another, an answer token
        for (const e of manifest.saes) {
          const sae = saes.get(e.layer)!;
          const x = r.cache[e.hook]!.data;
          const rows = take.map((t) => Array.from(x.subarray(t * D, (t + 1) * D)));
          const rowsFile = join(dir, `rows-${e.layer}.json`);
          writeFileSync(rowsFile, JSON.stringify(rows));
          const py = JSON.parse(execFileSync(PY, ["-c", PYTHON_CODEC, join(SAES, e.folder, "sae_weights.safetensors"), rowsFile, String(sae.config.k)], { encoding: "utf8", maxBuffer: 64 << 20 })) as {
            sums: Record<string, number>;
            codes: [number, number][][];
            recon: number[][];
          };
          const sumOf = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
          expect(sumOf(sae.params.W_encT)).toBeCloseTo(py.sums.W_enc!, 2);
          expect(sumOf(sae.params.W_dec)).toBeCloseTo(py.sums.W_dec!, 2);
          expect(sumOf(sae.params.b_enc)).toBeCloseTo(py.sums.b_enc!, 3);
          expect(sumOf(sae.params.b_dec)).toBeCloseTo(py.sums.b_dec!, 3);
          const flat = new Float32Array(rows.flat());
          const code = encodeTopK(sae, flat, rows.length);
          const recon = decodeTopK(sae, code, rows.length);
          rows.forEach((_, t) => {
            const mine = new Map<number, number>();
            for (let j = 0; j < code.k; j++) mine.set(code.indices[t * code.k + j]!, code.values[t * code.k + j]!);
            const theirs = py.codes[t]!;
            // The same active latents with the same values (a tie at the k-th place may swap one latent).
            let same = 0;
            for (const [s, a] of theirs) {
              if (mine.has(s)) {
                same++;
                expect(Math.abs(mine.get(s)! - a)).toBeLessThan(1e-3 * Math.max(1, Math.abs(a)));
              }
            }
            expect(same, `layer ${e.layer} token ${take[t]}`).toBeGreaterThanOrEqual(code.k - 1);
            let maxErr = 0;
            for (let j = 0; j < D; j++) maxErr = Math.max(maxErr, Math.abs(recon[t * D + j]! - py.recon[t]![j]!));
            expect(maxErr).toBeLessThan(1e-2);
          });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);
  });

  it("is in the model card: `toy card --reuse-eval` rewrites the card from the recorded evaluation, leaving eval.json as it is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "safesail-toy-card-"));
    try {
      const copy = join(dir, "toy");
      mkdirSync(join(copy, "saes"), { recursive: true });
      for (const f of ["config.json", "training_log.json", "heldout.jsonl", "eval.json", "tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(MODEL, f), join(copy, f));
      symlinkSync(join(MODEL, "model.safetensors"), join(copy, "model.safetensors"));
      copyFileSync(join(SAES, TOY_SAES_MANIFEST), join(copy, "saes", TOY_SAES_MANIFEST));
      const r = await runCli(["toy", "card", copy, "--reuse-eval"]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(copy, "eval.json"), "utf8")).toBe(readFileSync(join(MODEL, "eval.json"), "utf8"));
      // The committed card is what this command writes for the committed set.
      expect(readFileSync(join(copy, "README.md"), "utf8")).toBe(readFileSync(join(MODEL, "README.md"), "utf8").replaceAll("toy-safety-qwen2", "toy"));
      expect(readFileSync(join(MODEL, "README.md"), "utf8")).toContain(`## Sparse autoencoders`);
      rmSync(join(copy, "eval.json"));
      const missing = await runCli(["toy", "card", copy, "--reuse-eval"]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`${join(copy, "eval.json")}: no recorded evaluation to reuse`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("the feature database", () => {
    it("holds the kept features of the shipped SAEs, tagged, explained and scored by the named baselines, with relative paths", async () => {
      const db = await readFeatureDb(join(SAES, TOY_SAES_DB));
      expect(db.records.length).toBe(manifest.database.features);
      expect(db.records.length).toBe(manifest.saes.reduce((a, e) => a + e.filter.kept, 0));
      expect(db.records.length).toBeGreaterThan(0);
      const byLayer = new Map(manifest.saes.map((e) => [e.layer, e]));
      for (const r of db.records) {
        const e = byLayer.get(r.layer);
        expect(e, r.id).toBeDefined();
        expect(r.id).toBe(`${r.layer}_${r.index}`);
        expect(r.index).toBeLessThan(saes.get(r.layer)!.config.dSae);
        expect(r.tag_list.length, r.id).toBeGreaterThan(0);
        for (const t of r.tag_list) expect(SAFETY_DOMAINS as readonly string[]).toContain(t);
        expect(r.explainer).toBe(BASELINE_EXPLAINER);
        expect(r.simulator).toBe(BASELINE_SIMULATOR);
        expect(typeof r.explanation).toBe("string");
        expect(r.source?.hook).toBe(e!.hook);
        expect(r.source?.sae_sha256).toBe(e!.weights_sha256);
        const sae = r.source!.sae!;
        expect(isAbsolute(sae), sae).toBe(false);
        expect(existsSync(join(SAES, sae, "cfg.json")), sae).toBe(true);
        expect(resolve(SAES, sae)).toBe(resolve(SAES, e!.folder));
        expect(isAbsolute(r.activations!.store)).toBe(false);
        expect(r.activations!.normalisation_value).toBeGreaterThan(0);
        expect(r.normalisation_quantile).toBe(0.999);
        // A missing score says why.
        if (r.correlation_score === null) expect(r.scoring?.sls?.warning, r.id).toBeTruthy();
      }
      for (const e of manifest.saes) expect(db.records.filter((r) => r.layer === e.layer).length).toBe(e.filter.kept);
      expect(readFileSync(join(SAES, TOY_SAES_DB), "utf8")).not.toContain(ROOT);
    });

    it("tags what the filter keeps on the shipped SAE (layer 1, rerun here)", async () => {
      const db = await readFeatureDb(join(SAES, TOY_SAES_DB));
      const samples = (await readDomainCorpus(join(ROOT, "data/domain-corpus.jsonl"))).filter((s) => TOY_SAES_FILTER.languages.includes(s.lang));
      const f = await filterSafetyFeatures(model, saes.get(1)!, samples, { minPrecision: TOY_SAES_FILTER.minPrecision, minRecall: TOY_SAES_FILTER.minRecall, seed: manifest.seed });
      expect(f.threshold.value).toBe(manifest.saes[1]!.filter.threshold);
      const shipped = new Map(db.records.filter((r) => r.layer === 1).map((r) => [r.id, r.tag_list]));
      const kept = new Map(f.kept.map((k) => [k.name, k.tag_list]));
      // Another CPU may round a borderline feature across a threshold; on the building machine the sets are equal.
      const both = [...kept.keys()].filter((id) => shipped.has(id));
      expect(both.length / Math.max(kept.size, shipped.size)).toBeGreaterThan(0.9);
      for (const id of both) expect(shipped.get(id), id).toEqual(kept.get(id));
    }, 120_000);
  });
});

describe("the plateau rule", () => {
  it("is judged on the smoothed curve from 60% to 80% of the steps", () => {
    expect(smoothed([4, 2, 6, 0], 2)).toEqual([4, 3, 4, 3]);
    // Flat between 60% and 80%, falling in the anneal: plateaued.
    const flat = Array.from({ length: 100 }, (_, i) => (i < 50 ? 1 - i / 100 : i < 80 ? 0.5 : 0.5 - (i - 79) / 100));
    expect(plateauCheck(flat).plateaued).toBe(true);
    expect(plateauCheck(flat).annealImprovement).toBeGreaterThan(0.2);
    // Still falling by 1% of the start per step in that window: not.
    const falling = Array.from({ length: 100 }, (_, i) => 1 - i / 120);
    expect(plateauCheck(falling).plateaued).toBe(false);
    expect(() => plateauCheck([1, Number.NaN])).toThrow(/finite/);
  });
});

describe("safesail toy saes", () => {
  const work = mkdtempSync(join(tmpdir(), "safesail-toy-saes-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("refuses bad arguments before doing anything, naming the flag", async () => {
    for (const [args, flag] of [
      [["--steps", "0"], "--steps"],
      [["--seed", "-1"], "--seed"],
      [["--conversations", "many"], "--conversations"],
      [["--held-out", "1.5"], "--held-out"],
      [["--layers", "7"], "--layers"],
      [["--layers", "1,x"], "--layers"],
      [["--model", join(work, "nowhere")], "--model"],
      [["--samples", join(work, "nowhere.jsonl")], "--samples"],
      [["--bogus"], "--bogus"],
    ] as [string[], string][]) {
      const r = await runCli(["toy", "saes", "--out", join(work, "never"), "--work", join(work, "never-work"), ...args]);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toContain(flag);
      expect(existsSync(join(work, "never"))).toBe(false);
      expect(existsSync(join(work, "never-work"))).toBe(false);
    }
  }, 120_000);

  it("rebuilds a (tiny) set by one command, and a second run keeps everything", async () => {
    // The domain corpus with one more Chinese sample, which the filter must leave out (it reads the English ones).
    const lines = readFileSync(join(ROOT, "data/domain-corpus.jsonl"), "utf8").trim().split("\n");
    const samples = join(work, "samples.jsonl");
    writeFileSync(samples, [...lines.filter((l) => l.includes('"lang":"en"')), lines.find((l) => l.includes('"lang":"zh"'))!].join("\n") + "\n");
    const out = join(work, "saes");
    const args = ["toy", "saes", "--out", out, "--work", join(work, "w"), "--steps", "20", "--conversations", "60", "--held-out", "8", "--seed", "3", "--samples", samples];
    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    const m = await readToySaesManifest(join(out, TOY_SAES_MANIFEST));
    expect(m.command).toMatch(/^safesail toy saes --seed 3 --steps 20 --conversations 60 --held-out 8 --samples \S+samples\.jsonl$/);
    expect(m.corpus.filter).toMatch(/^400 en samples/);
    expect(m.seed).toBe(3);
    expect(m.corpus.conversations).toBe(60);
    expect(m.saes.map((e) => e.folder)).toEqual([0, 1, 2, 3].map((l) => `blocks.${l}.hook_resid_post`));
    const hashes = m.saes.map((e) => sha256(join(out, e.folder, "sae_weights.safetensors")));
    for (const e of m.saes) {
      const sae = await loadSae(join(out, e.folder));
      expect(sae.config).toMatchObject({ k: 64, dSae: 2560, hookName: e.hook });
      expect(e.training.steps).toBe(20);
      expect(e.heldout.conversations).toBe(8);
      // 20 steps do not plateau, and the manifest and the output say so.
      expect(e.training.plateau.plateaued).toBe(false);
      expect(Math.abs(e.storage.fvu_stored - e.storage.fvu_f32)).toBeLessThan(1e-3);
    }
    expect(first.stdout).toMatch(/has not plateaued/);
    const db = await readFeatureDb(join(out, TOY_SAES_DB));
    expect(db.records.length).toBe(m.database.features);
    for (const r of db.records) expect(existsSync(join(out, r.source!.sae!, "cfg.json"))).toBe(true);
    expect(existsSync(join(out, "README.md")) && existsSync(join(out, "fvu-curves.svg"))).toBe(true);

    const files = [TOY_SAES_MANIFEST, TOY_SAES_DB, "README.md", ...m.saes.map((e) => join(e.folder, "sae_weights.safetensors"))].map((f) => join(out, f));
    const before = files.map((f) => [sha256(f), statSync(f).mtimeMs]);
    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    for (const l of [0, 1, 2, 3]) expect(second.stdout).toContain(`layer ${l}: blocks.${l}.hook_resid_post already built with these settings, kept`);
    expect(second.stdout).toContain("already built from these SAEs with these settings, kept; nothing to do");
    expect(files.map((f) => [sha256(f), statSync(f).mtimeMs])).toEqual(before);
    expect(m.saes.map((e) => e.weights_sha256)).toEqual(hashes);

    // --layers builds a subset (an experiment, e.g. a longer run of one layer): the same settings give the same SAE.
    const partOut = join(work, "part");
    const part = await runCli([...args.map((a) => (a === out ? partOut : a)), "--layers", "2"]);
    expect(part.code, part.stderr).toBe(0);
    const pm = await readToySaesManifest(join(partOut, TOY_SAES_MANIFEST));
    expect(pm.saes.map((e) => e.layer)).toEqual([2]);
    expect(pm.command).toContain("--layers 2");
    expect(sha256(join(partOut, pm.saes[0]!.folder, "sae_weights.safetensors"))).toBe(hashes[2]);
    expect((await readFeatureDb(join(partOut, TOY_SAES_DB))).records.every((r) => r.layer === 2)).toBe(true);
  }, 300_000);
});
