// `safesail map` through the real binary (tests/helpers/cli.ts): on a slice of the Safe-SAIL release file (the full
// release runs in bench/map.ts) and on a database made with newFeatureDb; the quality figures recomputed from
// MAP.json by /usr/bin/python3; same seed, same bytes; errors naming the flag or file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportSafeSail, featureRecord, newFeatureDb, readSafeSailFile, writeFeatureDb, type FeatureRecord } from "../src/db/index.ts";
import { readMap, type FeatureMap } from "../src/map/index.ts";
import { runCli } from "./helpers/cli.ts";

const RELEASE = resolve(import.meta.dirname, "../data/safe-sail/safe-sail-en_db.json");
const tmp = mkdtempSync(join(tmpdir(), "safesail-map-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let slice: FeatureRecord[];
const sliceFile = join(tmp, "release-slice.json");

beforeAll(async () => {
  // Every 8th feature of the release (in its order): its mix of tagged, untagged, masked and null explanations.
  slice = (await readSafeSailFile(RELEASE)).filter((_, i) => i % 8 === 0);
  writeFileSync(sliceFile, exportSafeSail(slice));
});

// The measure written again from docs/map.md in plain Python: k nearest by Euclidean distance (ties to the lower
// index), share sharing a tag, mean over tagged points; chance = mean over tagged of (others sharing) / (n - 1).
const AGREEMENT_PY = String.raw`
import json, math, sys
m = json.load(open(sys.argv[1])); k = int(sys.argv[2])
pts = m["points"]; n = len(pts)
tot = 0.0; scored = 0; chance = 0.0
for i, p in enumerate(pts):
    if not p["tags"]: continue
    d = sorted((math.hypot(p["x"] - q["x"], p["y"] - q["y"]), j) for j, q in enumerate(pts) if j != i)
    nn = [j for _, j in d[:k]]
    tot += sum(1 for j in nn if set(pts[j]["tags"]) & set(p["tags"])) / k
    chance += sum(1 for j, q in enumerate(pts) if j != i and set(q["tags"]) & set(p["tags"])) / (n - 1)
    scored += 1
print(json.dumps({"agreement": tot / scored, "chance": chance / scored, "scored": scored, "points": n}))
`;

describe("safesail map on the Safe-SAIL release format", () => {
  it("maps a slice of the release: placed + unplaced = all, masked listed, quality as Python computes it from the file", async () => {
    const out = join(tmp, "a.json");
    const r = await runCli(["map", "--db", sliceFile, "--out", out, "--seed", "3", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    const map = await readMap(out);
    const masked = slice.filter((x) => x.explanation === "***").length;
    const nulls = slice.filter((x) => x.explanation === null).length;
    expect(masked).toBeGreaterThan(100);
    expect(summary.placed).toBe(map.points.length);
    expect(summary.placed + summary.unplaced).toBe(slice.length);
    expect(summary.unplacedByReason.masked).toBe(masked);
    expect(summary.unplacedByReason.null ?? 0).toBe(nulls);
    expect(map.source).toEqual({ file: sliceFile, format: "safe-sail", features: slice.length });
    expect(map.seed).toBe(3);
    expect(map.unplaced.filter((u) => u.reason === "masked").every((u) => slice.find((x) => x.id === u.id)!.explanation === "***")).toBe(true);
    // Every placed point carries its record's tags, explanation and score.
    const byId = new Map(slice.map((x) => [x.id, x]));
    for (const p of map.points) {
      const rec = byId.get(p.id)!;
      expect(p.tags).toEqual(rec.tag_list);
      expect(p.explanation).toBe(rec.explanation);
      expect(p.score).toBe(rec.correlation_score);
    }
    expect(summary.quality).toEqual(map.quality);
    const py = JSON.parse(execFileSync("/usr/bin/python3", ["-c", AGREEMENT_PY, out, "10"], { encoding: "utf8" }));
    expect(py.points).toBe(map.quality!.map.points);
    expect(py.scored).toBe(map.quality!.map.scored);
    expect(map.quality!.map.agreement!).toBeCloseTo(py.agreement, 12);
    expect(map.quality!.map.chance!).toBeCloseTo(py.chance, 12);
    // The map keeps neighbourhoods: well above its shuffled baseline.
    expect(map.quality!.map.agreement!).toBeGreaterThan(map.quality!.map.shuffled!.high);
    expect(map.quality!.embedding.agreement!).toBeGreaterThan(map.quality!.embedding.shuffled!.high);
    // Progress of the slow steps on stderr (not a terminal: plain lines).
    expect(r.stderr).toMatch(/^neighbours: /m);
    expect(r.stderr).toMatch(/^umap: /m);
    expect(Object.keys(summary.timings_ms).sort()).toEqual(["clusters", "embed", "knn", "quality", "umap"]);
  }, 120_000);

  it("same seed, same bytes; --out is not replaced without --overwrite", async () => {
    const a = join(tmp, "s1.json");
    const b = join(tmp, "s2.json");
    expect((await runCli(["map", "--db", sliceFile, "--out", a, "--seed", "11"])).code).toBe(0);
    expect((await runCli(["map", "--db", sliceFile, "--out", b, "--seed", "11"])).code).toBe(0);
    expect(readFileSync(a, "utf8")).toBe(readFileSync(b, "utf8"));
    const again = await runCli(["map", "--db", sliceFile, "--out", a, "--seed", "12"]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`safesail map: --out: ${a} exists; pass --overwrite to replace it`);
    expect((await runCli(["map", "--db", sliceFile, "--out", a, "--seed", "12", "--overwrite"])).code).toBe(0);
    expect(readFileSync(a, "utf8")).not.toBe(readFileSync(b, "utf8"));
  }, 120_000);
});

describe("safesail map on a safesail feature database", () => {
  it("maps 30 features in three topics and prints the figures", async () => {
    const topics: [string, string[], string[]][] = [
      ["violence", ["weapons", "firearms", "shooting", "stabbing", "assault", "bloodshed"], ["violence"]],
      ["pornography", ["sexual", "explicit", "nudity", "erotic", "intercourse", "adult"], ["pornography"]],
      ["dates", ["calendar", "month", "weekday", "anniversary", "deadline", "schedule"], []],
    ];
    const records = topics.flatMap(([, words, tags], t) =>
      Array.from({ length: 10 }, (_, i) =>
        featureRecord(`${t}_${i}`, { explanation: `Tokens naming ${words[i % 6]}, ${words[(i + 1) % 6]} or ${words[(i + 3) % 6]}.`, correlation_score: 0.1 * (i % 5), tag_list: tags }),
      ),
    );
    const db = join(tmp, "db.json");
    await writeFeatureDb(db, newFeatureDb(records, "three topics"));
    const out = join(tmp, "db-map.json");
    const r = await runCli(["map", "--db", db, "--out", out, "--clusters", "3"]);
    expect(r.code, r.stderr).toBe(0);
    const map: FeatureMap = JSON.parse(readFileSync(out, "utf8"));
    expect(map.source).toEqual({ file: db, format: "safesail-feature-db", features: 30 });
    expect(map.points).toHaveLength(30);
    expect(map.unplaced).toEqual([]);
    expect(map.clusters.map((c) => c.size)).toEqual([10, 10, 10]);
    for (const c of map.clusters) expect(new Set(map.points.filter((p) => p.cluster === c.id).map((p) => p.id.split("_")[0])).size).toBe(1);
    // 10 nearest of 9 topic-mates: at best 9 of 10 share the tag, and the map achieves it.
    expect(map.quality!.map.agreement).toBeCloseTo(0.9, 15);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe(`${out}: 30 of 30 features placed (safesail-feature-db), 3 clusters, seed 0`);
    expect(lines[1]).toMatch(/^embedding: TF-IDF .* it measures shared words, not meaning$/);
    expect(lines[2]).toBe("neighbour agreement (10 nearest, 20 tagged features of 30):");
    expect(lines[3]).toMatch(/^ {2}map 0\.900 \(shuffled 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\], 100 shuffles; chance 0\.310\)$/); // 9/29
    expect(lines[5]).toBe("clusters:");
    expect(lines.slice(6, 9).map((l) => l.slice(0, 10))).toEqual(["   0    10", "   1    10", "   2    10"]);
    expect(r.stdout).not.toMatch(/warning/);
  }, 60_000);
});

describe("safesail map errors", () => {
  it("names the flag, the file or the count", async () => {
    const cases: [string[], string | RegExp][] = [
      [["map", "--out", join(tmp, "x.json")], "safesail map: --db DB is required"],
      [["map", "--db", join(tmp, "none.json"), "--out", join(tmp, "x.json")], `safesail map: --db: ${join(tmp, "none.json")}: file not found`],
      [["map", "--db", sliceFile, "--out", join(tmp, "x.json"), "--embedding", "org/model", "--dims", "8"], "safesail map: --dims applies to --embedding tfidf only (a model's vectors keep their size)"],
      [["map", "--db", sliceFile, "--out", join(tmp, "x.json"), "--seed", "x"], 'safesail map: --seed must be a non-negative integer, got "x"'],
      [["map", "--db", sliceFile, "--out", join(tmp, "x.json"), "--embedding", "./no/such/folder"], /^safesail map: embedding: \.\/no\/such\/folder: no such folder, and not a hub id/],
    ];
    const list = join(tmp, "list.json");
    writeFileSync(list, "[1, 2]");
    cases.push([["map", "--db", list, "--out", join(tmp, "x.json")], `safesail map: ${list}: expected a safesail feature database or a Safe-SAIL database ({"<layer>_<index>": {...}}), got a list`]);
    const few = join(tmp, "few.json");
    await writeFeatureDb(few, newFeatureDb([featureRecord("1_1", { explanation: "guns", correlation_score: null, tag_list: [] }), featureRecord("1_2", { explanation: "***", correlation_score: null, tag_list: ["politics"] })]));
    cases.push([["map", "--db", few, "--out", join(tmp, "x.json")], "safesail map: buildMap: 0 of 2 features can be placed (a map needs at least 5 with an explanation); not placed: 1 masked, 1 no-terms"]);
    const badDb = join(tmp, "bad-db.json");
    writeFileSync(badDb, JSON.stringify({ format: "safesail-feature-db", version: 1, records: [{ id: "1_1", layer: 1, index: 1, explanation: 3, correlation_score: null, tag_list: [] }] }));
    cases.push([["map", "--db", badDb, "--out", join(tmp, "x.json")], `safesail map: ${badDb}: records[0].explanation: expected a string or null, got 3`]);
    for (const [args, want] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(" ")).toBe(1);
      // The last line: progress lines of the steps that ran may come first.
      const last = r.stderr.trim().split("\n").pop()!;
      if (typeof want === "string") expect(last).toBe(want);
      else expect(last).toMatch(want);
      expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack
    }
  }, 120_000);
});
