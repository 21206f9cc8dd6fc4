// The feature database (src/db/) and `safesail db`, on the Safe-SAIL release's real database file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exportSafeSail, importSafeSail, newFeatureDb, parseFeatureDb, queryFeatures, selectFeatures } from "../src/db/index.ts";
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
