// `safesail examples` through the real binary (tests/helpers/cli.ts): features from --features, a filter result
// (the shape `safesail filter --json` prints) and a feature database; the --json summary against the store it
// wrote; warnings in the output; errors that name the flag, file and field.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { featureRecord } from "../src/db/records.ts";
import { newFeatureDb, writeFeatureDb } from "../src/db/store.ts";
import { openExampleStore } from "../src/interpret/example-store.ts";
import type { FilterResult } from "../src/metrics/filter.ts";
import { createSae } from "../src/sae/sae.ts";
import { saveSae } from "../src/sae/saelens.ts";
import { runCli } from "./helpers/cli.ts";

const MODEL = resolve(import.meta.dirname, "../models/toy-safety-qwen2");
const root = mkdtempSync(join(tmpdir(), "safesail-examples-cli-"));
const saes = join(root, "saes");
const corpus = join(root, "corpus.jsonl");
const common = (out: string) => ["examples", "--sae", saes, "--model", MODEL, "--corpus", corpus, "--out", join(root, out)];

beforeAll(async () => {
  const texts = readFileSync(resolve(import.meta.dirname, "../data/domain-corpus.jsonl"), "utf8").trim().split("\n").slice(0, 90).map((l) => JSON.parse(l).text as string);
  writeFileSync(corpus, Array.from({ length: 30 }, (_, i) => JSON.stringify({ text: texts.slice(3 * i, 3 * i + 3).join(" ") })).join("\n") + "\n");
  const l2 = createSae({ dIn: 256, dSae: 512, k: 16, hookName: "blocks.2.hook_mlp_out" }, { seed: 12 });
  l2.params.b_enc[511] = -1e6; // latent 511 never fires
  await saveSae(join(saes, "layer2"), l2);
  await saveSae(join(saes, "layer1"), createSae({ dIn: 256, dSae: 256, k: 12, hookName: "blocks.1.hook_resid_post" }, { seed: 11 }));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("safesail examples", () => {
  it("--features with --json: the summary is the store's, options reach it, and warnings are listed", async () => {
    const r = await runCli([...common("a"), "--features", "2_17,1_5,2_511", "--json", "--quantiles", "40", "--context", "16", "--seed", "3", "--max-docs", "20"]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    const store = await openExampleStore(join(root, "a"));
    const m = store.manifest;
    expect(s).toMatchObject({ out: join(root, "a"), documents: 20, tokens: m.tokens, train_documents: m.train_documents, test_documents: m.test_documents, stopped_at_max_docs: true });
    expect(m.train_documents + m.test_documents).toBe(20);
    expect(m.options).toMatchObject({ quantiles: 40, context: 16, seed: 3, max_docs: 20, chat: true, features: ["2_17", "1_5", "2_511"] });
    expect(m.saes.map((x) => [x.hook, x.path])).toEqual([
      ["blocks.1.hook_resid_post", join(saes, "layer1")],
      ["blocks.2.hook_mlp_out", join(saes, "layer2")],
    ]);
    expect(m.saes.every((x) => /^[0-9a-f]{64}$/.test(x.weights_sha256 ?? ""))).toBe(true);
    expect(s.features.map((f: { id: string }) => f.id)).toEqual(["2_17", "1_5", "2_511"]);
    for (const f of s.features) {
      const fe = store.feature(f.id);
      expect(f).toEqual({
        id: fe.id,
        hook: fe.hook,
        tags: [],
        frac_nonzero: fe.frac_nonzero,
        max_activation: fe.max_activation,
        normalisation: fe.normalisation,
        train: { top: fe.train.top.length, quantiles: fe.train.quantiles.flat().length },
        test: { activating: fe.test.activating.length, non_activating: fe.test.nonActivating.length },
        warnings: store.record(f.id).warnings,
      });
      for (const w of [...fe.train.top, ...fe.test.activating]) expect(w.ids.length).toBeLessThanOrEqual(16);
    }
    expect(s.warnings).toContainEqual(expect.stringMatching(/^2_511: never fired on the \d+ tokens of 20 documents/));
    // 40 slices x 2 windows cannot come from ~10 test documents: the shortfall is a warning, not silence.
    const active = s.features.find((f: { id: string }) => f.id === "2_17");
    expect(active.frac_nonzero).toBeGreaterThan(0);
    expect(active.test.activating).toBeLessThan(80);
    expect(s.warnings).toContain(`2_17: test.activating: ${active.test.activating} of the 80 windows asked for`);

    // The same command again: the finished store is printed, not recomputed; without --json, in words.
    const again = await runCli([...common("a"), "--features", "2_17,1_5,2_511", "--quantiles", "40", "--context", "16", "--seed", "3", "--max-docs", "20"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`${join(root, "a")}: 3 features over 20 documents (${m.train_documents} train, ${m.test_documents} test), ${m.tokens} tokens (stopped at --max-docs 20)`);
    expect(again.stdout).toMatch(new RegExp(`  2_17   frac_nonzero ${active.frac_nonzero.toFixed(4)}  max [\\d.]+  train \\d+ top \\+ \\d+ quantile  test ${active.test.activating} activating \\+ \\d+ non-activating`));
    expect(again.stdout).toMatch(/^warning: 2_511: never fired/m);
    expect(again.stdout).toContain(`warning: 2_17: test.activating: ${active.test.activating} of the 80 windows asked for`);
    // Other settings on a finished store are refused, naming them.
    const other = await runCli([...common("a"), "--features", "2_17,1_5,2_511", "--quantiles", "40", "--context", "16", "--seed", "4", "--max-docs", "20"]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("options.seed: was 3, now 4");
  }, 120_000);

  it("--filter takes the kept features and their tags from safesail filter --json output", async () => {
    const filter: Pick<FilterResult, "hookName" | "samples" | "features" | "kept" | "caveats"> = {
      hookName: "blocks.2.hook_mlp_out",
      samples: 100,
      features: 512,
      kept: [
        { name: "2_40", index: 40, tag_list: ["violence", "terror"], precision: { violence: 0.7, terror: 0.65 }, recall: { violence: 0.3, terror: 0.25 }, fires: 12 },
        { name: "2_3", index: 3, tag_list: ["politics"], precision: { politics: 0.9 }, recall: { politics: 0.4 }, fires: 7 },
      ],
      caveats: [],
    };
    const file = join(root, "filter.json");
    writeFileSync(file, JSON.stringify(filter));
    const r = await runCli([...common("b"), "--filter", file, "--max-docs", "12", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.features.map((f: { id: string; tags: string[] }) => [f.id, f.tags])).toEqual([
      ["2_40", ["violence", "terror"]],
      ["2_3", ["politics"]],
    ]);
    const store = await openExampleStore(join(root, "b"));
    expect(store.feature("2_40").tags).toEqual(["violence", "terror"]);
    expect(store.manifest.options.tags).toEqual({ "2_40": ["violence", "terror"], "2_3": ["politics"] });

    writeFileSync(file, JSON.stringify({ ...filter, kept: [{ ...filter.kept[0], tag_list: "violence" }] }));
    const bad = await runCli([...common("b2"), "--filter", file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${file}: kept[0].tag_list: expected a list of strings, got "violence"`);
    writeFileSync(file, JSON.stringify({ ...filter, kept: [] }));
    const none = await runCli([...common("b2"), "--filter", file]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`--filter: ${file} kept no features, so there is nothing to collect`);
  }, 120_000);

  it("--db takes every feature of a feature database and its tag_list", async () => {
    const file = join(root, "features.db.json");
    await writeFeatureDb(file, newFeatureDb([featureRecord("1_7", { explanation: "x", correlation_score: 0.5, tag_list: ["pornography"] }), featureRecord("2_9", { explanation: null, correlation_score: null, tag_list: [] })]));
    const r = await runCli([...common("c"), "--db", file, "--max-docs", "12", "--no-chat", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const store = await openExampleStore(join(root, "c"));
    expect(store.ids()).toEqual(["1_7", "2_9"]);
    expect(store.feature("1_7").tags).toEqual(["pornography"]);
    expect(store.manifest.options.chat).toBe(false);
    // Without the chat template the documents are the text alone: no window holds a chat marker.
    expect(store.features().flatMap((f) => [...f.train.top, ...f.test.nonActivating]).some((w) => w.tokens.includes("<|im_start|>"))).toBe(false);
  }, 120_000);

  it("errors name the flag, the file and the field", async () => {
    const none = await runCli(common("d"));
    expect(none.code).toBe(1);
    expect(none.stderr.trim()).toBe("safesail examples: the features are required: give one of --features 2_17,2_40, --db FILE or --filter FILE");
    const two = await runCli([...common("d"), "--features", "2_1", "--db", "x.json"]);
    expect(two.stderr.trim()).toBe("safesail examples: --features, --db and --filter are alternatives; give one, got --features and --db");
    const badId = await runCli([...common("d"), "--features", "2_1,two"]);
    expect(badId.stderr.trim()).toBe(`safesail examples: --features: not a feature id: "two"; expected {layer}_{index}, e.g. "3_120"`);
    const layer = await runCli([...common("d"), "--features", "3_1"]);
    expect(layer.code).toBe(1);
    expect(layer.stderr).toContain("features: 3_1: no SAE reads layer 3 (the SAEs read blocks.1.hook_resid_post, blocks.2.hook_mlp_out)");
    const missing = join(root, "nowhere.jsonl");
    const corpusMissing = await runCli(["examples", "--sae", saes, "--model", MODEL, "--corpus", missing, "--out", join(root, "d"), "--features", "2_1"]);
    expect(corpusMissing.stderr.trim()).toBe(`safesail examples: --corpus: ${missing}: file not found`);
    const noSae = await runCli(["examples", "--sae", root, "--model", MODEL, "--corpus", corpus, "--out", join(root, "d"), "--features", "2_1"]);
    expect(noSae.stderr).toContain(`${root}: holds neither cfg.json (one SAELens folder) nor subfolders with one`);
    const ctx = await runCli([...common("d"), "--features", "2_1", "--context", "0"]);
    expect(ctx.stderr.trim()).toBe('safesail examples: --context must be a positive integer, got "0"');
  }, 120_000);
});
