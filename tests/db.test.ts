// The feature database (src/db/) and `safesail db`, on the Safe-SAIL release's real database file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  exportNeuronpedia,
  exportSafeSail,
  featureRecord,
  importSafeSail,
  neuronpediaFeature,
  newFeatureDb,
  parseFeatureDb,
  parseNeuronpediaJsonl,
  queryFeatures,
  recordFromNeuronpedia,
  selectFeatures,
} from "../src/db/index.ts";
import { runCli } from "./helpers/cli.ts";

const RELEASE = join(import.meta.dirname, "..", "data", "safe-sail", "safe-sail-en_db.json");
const text = readFileSync(RELEASE, "utf8");
const tmp = mkdtempSync(join(tmpdir(), "safesail-db-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("Safe-SAIL import and export", () => {
  it("imports the release in its order and exports the same bytes", () => {
    const records = importSafeSail(text, RELEASE);
    expect(records).toHaveLength(4700);
    expect(records[0]).toMatchObject({ id: "35_10067", layer: 35, index: 10067, tag_list: [] });
    expect(new Set(records.map((r) => r.layer))).toEqual(new Set([0, 8, 17, 26, 35]));
    expect(records.filter((r) => r.explanation === null)).toHaveLength(13);
    expect(exportSafeSail(records)).toBe(text);
  });

  it("names the feature and the field of a bad record", () => {
    expect(() => importSafeSail('{"8_1": {"explanation": "x", "correlation_score": 0.5, "tag_list": "politics"}}', "f.json")).toThrow(/f\.json: "8_1"\.tag_list: expected a list of strings/);
    expect(() => importSafeSail('{"layer8": {"explanation": "x", "correlation_score": 0.5, "tag_list": []}}', "f.json")).toThrow(/f\.json: "layer8": .*not a feature id/);
    expect(() => importSafeSail('{"8_1": {"explanation": "x", "correlation_score": "high", "tag_list": []}}', "f.json")).toThrow(/correlation_score: expected a number or null/);
    expect(() => importSafeSail('{"8_1": {"explanation": "x", "correlation_score": 0.5, "tag_list": [], "extra": 1}}', "f.json")).toThrow(/unknown field "extra"/);
  });
});

describe("queries", () => {
  const records = importSafeSail(text, RELEASE);
  it("by domain, layer, score and text, counted independently", () => {
    const count = (pred: (v: { explanation: string | null; correlation_score: number; tag_list: string[] }, layer: number) => boolean) =>
      Object.entries(JSON.parse(text) as Record<string, { explanation: string | null; correlation_score: number; tag_list: string[] }>).filter(([id, v]) => pred(v, Number(id.split("_")[0]))).length;
    expect(queryFeatures(records, { domain: "politics" }).numRows()).toBe(count((v) => v.tag_list.includes("politics")));
    expect(queryFeatures(records, { domain: "terror", layer: 17 }).numRows()).toBe(count((v, l) => v.tag_list.includes("terror") && l === 17));
    expect(selectFeatures(records, { minScore: 0.6 })).toHaveLength(count((v) => v.correlation_score >= 0.6));
    expect(selectFeatures(records, { search: "VIOLENT" })).toHaveLength(count((v) => (v.explanation ?? "").toLowerCase().includes("violent")));
    const table = queryFeatures(records, { domain: "pornography", minScore: 0.5 });
    expect(table.columnNames()).toEqual(["id", "layer", "index", "correlation_score", "tags", "explanation"]);
  });
});

describe("the database file", () => {
  it("refuses a file of another format, version or a bad field, naming it", () => {
    const ok = JSON.stringify(newFeatureDb(importSafeSail(text, RELEASE).slice(0, 2)));
    expect(parseFeatureDb(ok, "db.json").records).toHaveLength(2);
    expect(() => parseFeatureDb(text, "db.json")).toThrow(/db\.json: format: expected "safesail-feature-db".*safesail db import/);
    expect(() => parseFeatureDb(ok.replace('"version":1', '"version":9'), "db.json")).toThrow(/db\.json: version: this safesail reads version 1, got 9/);
    const bad = JSON.parse(ok);
    bad.records[1].correlation_score = "0.4";
    expect(() => parseFeatureDb(JSON.stringify(bad), "db.json")).toThrow(/db\.json: records\[1\]\.correlation_score: expected a number or null/);
    bad.records[1].correlation_score = 0.4;
    bad.records[1].layer = 3;
    expect(() => parseFeatureDb(JSON.stringify(bad), "db.json")).toThrow(/records\[1\]\.layer: expected 35 \(from the id\)/);
  });
});

describe("safesail db (CLI)", () => {
  it("import, export byte for byte, query; refuses to overwrite", async () => {
    const db = join(tmp, "en.db.json");
    const imp = await runCli(["db", "import", RELEASE, "--out", db]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stdout).toContain("4700 features (1758 tagged with a domain)");
    const out = join(tmp, "roundtrip.json");
    const exp = await runCli(["db", "export", db, "--format", "safe-sail", "--out", out]);
    expect(exp.code, exp.stderr).toBe(0);
    expect(readFileSync(out)).toEqual(readFileSync(RELEASE));
    const again = await runCli(["db", "export", db, "--format", "safe-sail", "--out", out]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("pass --overwrite");
    const q = await runCli(["db", "query", db, "--domain", "violence", "--layer", "8", "--limit", "3", "--json"]);
    expect(q.code, q.stderr).toBe(0);
    const res = JSON.parse(q.stdout);
    expect(res.matches).toBe(selectFeatures(importSafeSail(text), { domain: "violence", layer: 8 }).length);
    expect(res.features).toHaveLength(3);
    expect(res.features.every((f: { tags: string; layer: number }) => f.tags.includes("violence") && f.layer === 8)).toBe(true);
    const badFormat = await runCli(["db", "export", db, "--format", "csv", "--out", join(tmp, "x")]);
    expect(badFormat.code).not.toBe(0);
    expect(badFormat.stderr).toContain("--format");
    writeFileSync(join(tmp, "broken.json"), "{");
    const broken = await runCli(["db", "query", join(tmp, "broken.json")]);
    expect(broken.stderr).toContain("broken.json: not JSON");
  });
});

describe("Neuronpedia-style export", () => {
  const release = JSON.parse(text) as Record<string, { explanation: string | null; correlation_score: number; tag_list: string[] }>;

  it("exports the release through the CLI: one valid JSON line per feature, known, masked and null records, round trip", async () => {
    const db = join(tmp, "np.db.json");
    expect((await runCli(["db", "import", RELEASE, "--out", db])).code).toBe(0);
    const out = join(tmp, "np.jsonl");
    const exp = await runCli(["db", "export", db, "--format", "neuronpedia", "--out", out]);
    expect(exp.code, exp.stderr).toBe(0);
    const masked = Object.values(release).filter((v) => v.explanation === "***").length;
    const nulls = Object.values(release).filter((v) => v.explanation === null).length;
    expect(exp.stdout).toContain(`4700 features (neuronpedia, model qwen2.5-3b-it; ${masked + nulls} without an explanation`);

    const jsonl = readFileSync(out, "utf8");
    expect(jsonl.endsWith("\n")).toBe(true);
    const lines = jsonl.slice(0, -1).split("\n");
    expect(lines).toHaveLength(4700);
    const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>); // each line is JSON on its own
    expect(objects.map((o) => o.safesail_id)).toEqual(Object.keys(release));

    // The release's first record, field by field.
    expect(objects[0]).toEqual({
      modelId: "qwen2.5-3b-it",
      layer: "35-safesail-mlp_out",
      index: "10067",
      hookName: null,
      explanations: [{ description: release["35_10067"]!.explanation, explanationModelName: null, typeName: "safesail-sls" }],
      scores: [{ explanationScoreTypeName: "sls", explanationScoreModelName: null, value: release["35_10067"]!.correlation_score }],
      tags: [],
      safesail_id: "35_10067",
      safesail_masked: false,
    });
    expect(release["35_10067"]!.explanation).toMatch(/^Punctuation marks/);
    // A masked explanation ("***") and a missing one (null): no explanation, the score and tags kept.
    const byId = new Map(objects.map((o) => [o.safesail_id, o]));
    expect(release["35_10080"]!.explanation).toBe("***");
    expect(byId.get("35_10080")).toMatchObject({ explanations: [], safesail_masked: true, tags: ["politics"], scores: [{ explanationScoreTypeName: "sls", value: release["35_10080"]!.correlation_score }] });
    expect(release["35_2536"]!.explanation).toBeNull();
    expect(byId.get("35_2536")).toMatchObject({ explanations: [], safesail_masked: false, scores: [{ value: release["35_2536"]!.correlation_score }] });
    expect(objects.filter((o) => (o.explanations as unknown[]).length === 0)).toHaveLength(masked + nulls);
    expect(objects.filter((o) => o.safesail_masked === true)).toHaveLength(masked);
    expect(new Set(objects.map((o) => o.layer))).toEqual(new Set(["0", "8", "17", "26", "35"].map((l) => `${l}-safesail-mlp_out`)));

    // Round trip: the lines read back give the imported records, and so the release's bytes again.
    const back = parseNeuronpediaJsonl(jsonl, out).map((f) => recordFromNeuronpedia(f));
    expect(back).toEqual(importSafeSail(text, RELEASE));
    expect(exportSafeSail(back)).toBe(text);
  });

  it("takes --model-id and --sae-set, and names a bad or misplaced flag", async () => {
    const db = join(tmp, "np2.db.json");
    writeFileSync(db, JSON.stringify(newFeatureDb(importSafeSail(text, RELEASE).slice(0, 3))));
    const out = join(tmp, "np2.jsonl");
    const ok = await runCli(["db", "export", db, "--format", "neuronpedia", "--model-id", "qwen2.5-3b", "--sae-set", "res-16k", "--out", out]);
    expect(ok.code, ok.stderr).toBe(0);
    const first = JSON.parse(readFileSync(out, "utf8").split("\n")[0]!);
    expect([first.modelId, first.layer, first.index]).toEqual(["qwen2.5-3b", "35-res-16k", "10067"]);
    const bad = await runCli(["db", "export", db, "--format", "neuronpedia", "--model-id", "my model", "--out", join(tmp, "np3.jsonl")]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--model-id must be letters, digits.*"my model"/);
    const misplaced = await runCli(["db", "export", db, "--format", "safe-sail", "--sae-set", "x", "--out", join(tmp, "np4.json")]);
    expect(misplaced.code).not.toBe(0);
    expect(misplaced.stderr).toContain("--sae-set applies to --format neuronpedia only");
  });

  it("carries TLS, detection, explainer, simulator and hook, and reads them back", () => {
    const rec = featureRecord("2_17", {
      explanation: "Descriptions of weapons",
      correlation_score: 0.61,
      tls_score: 0.42,
      detection: { f1: 0.8, auc: 0.9 },
      tag_list: ["violence"],
      explainer: "qwen2.5-72b",
      simulator: "qwen2.5-7b",
      source: { hook: "blocks.2.hook_resid_post" },
    });
    const line = neuronpediaFeature(rec);
    expect(line.layer).toBe("2-safesail-resid_post"); // the set follows the record's hook
    expect(line.hookName).toBe("blocks.2.hook_resid_post");
    expect(line.explanations).toEqual([{ description: "Descriptions of weapons", explanationModelName: "qwen2.5-72b", typeName: "safesail-sls" }]);
    expect(line.scores.map((s) => [s.explanationScoreTypeName, s.value, s.explanationScoreModelName])).toEqual([
      ["sls", 0.61, "qwen2.5-7b"],
      ["tls", 0.42, "qwen2.5-7b"],
      ["detection-f1", 0.8, "qwen2.5-7b"],
      ["detection-auc", 0.9, "qwen2.5-7b"],
    ]);
    const jsonl = exportNeuronpedia(newFeatureDb([rec]), { modelId: "toy" });
    expect(recordFromNeuronpedia(parseNeuronpediaJsonl(jsonl, "x.jsonl")[0]!)).toEqual(rec);
    expect(neuronpediaFeature(rec, { saeSet: "mine" }).layer).toBe("2-mine");
    // An undefined AUC (no non-activating windows) is left out of the scores and comes back as null.
    const noAuc = { ...rec, detection: { f1: 0.5, auc: null } };
    expect(neuronpediaFeature(noAuc).scores.map((s) => s.explanationScoreTypeName)).toEqual(["sls", "tls", "detection-f1"]);
    expect(recordFromNeuronpedia(parseNeuronpediaJsonl(exportNeuronpedia(newFeatureDb([noAuc])), "x.jsonl")[0]!)).toEqual(noAuc);
  });

  it("names source:line and the field of a bad line", () => {
    const good = exportNeuronpedia(newFeatureDb(importSafeSail(text, RELEASE).slice(0, 2)));
    const [l1, l2] = good.trim().split("\n") as [string, string];
    const edit = (line: string, f: (o: Record<string, unknown>) => void) => {
      const o = JSON.parse(line);
      f(o);
      return JSON.stringify(o);
    };
    expect(parseNeuronpediaJsonl(good, "np.jsonl")).toHaveLength(2);
    expect(() => parseNeuronpediaJsonl(`${l1}\n${edit(l2, (o) => (o.index = 10080))}\n`, "np.jsonl")).toThrow(/np\.jsonl:2: index: expected a string of digits, got 10080/);
    expect(() => parseNeuronpediaJsonl(`${l1}\n${edit(l2, (o) => (o.layer = "35"))}`, "np.jsonl")).toThrow(/np\.jsonl:2: layer: expected a source id/);
    expect(() => parseNeuronpediaJsonl(`${edit(l1, (o) => (o.scores = [{ explanationScoreTypeName: "sls", explanationScoreModelName: null, value: "0.3" }]))}`, "np.jsonl")).toThrow(/np\.jsonl:1: scores\[0\]\.value: expected a finite number/);
    expect(() => parseNeuronpediaJsonl(`${edit(l1, (o) => (o.safesail_masked = true))}`, "np.jsonl")).toThrow(/np\.jsonl:1: explanations: expected an empty list \(safesail_masked is true\)/);
    expect(() => parseNeuronpediaJsonl(`${edit(l1, (o) => (o.extra = 1))}`, "np.jsonl")).toThrow(/np\.jsonl:1: unknown field "extra"/);
    expect(() => parseNeuronpediaJsonl(`${l1}\n${l1}\n`, "np.jsonl")).toThrow(/np\.jsonl:2: feature qwen2\.5-3b-it\/35-safesail-mlp_out\/10067 already on line 1/);
    expect(() => parseNeuronpediaJsonl(`${l1}\n\n${l2}\n`, "np.jsonl")).toThrow(/np\.jsonl:2: empty line/);
    expect(() => parseNeuronpediaJsonl(`${l1}\n{oops\n`, "np.jsonl")).toThrow(/np\.jsonl:2: not JSON/);
    expect(() => neuronpediaFeature(importSafeSail(text, RELEASE)[0]!, { saeSet: "a/b" })).toThrow(/saeSet must be letters/);
  });
});
