// The feature map library (src/map/): TF-IDF against an independent implementation in /usr/bin/python3, the
// randomized SVD against exact properties and a power iteration, exact kNN against a sort, the neighbour-agreement
// measure on hand-worked cases and against a literal shuffle of coordinates, k-means and cluster words, buildMap
// (determinism, separated topics, tiny inputs, unplaced features) and MAP.json (round trip, field-naming errors).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { featureRecord, type FeatureRecord } from "../src/db/records.ts";
import { ArgumentError, FormatError, NotFoundError } from "../src/errors.ts";
import {
  agreementFromKnn,
  buildMap,
  checkMap,
  clusterLabel,
  clusterWords,
  csrOperator,
  defaultClusterCount,
  denseOperator,
  embedExplanations,
  exactKnn,
  kmeans,
  neighbourAgreement,
  parseMap,
  randomizedSvd,
  readMap,
  searchMap,
  serializeMap,
  STOP_WORDS,
  termCounts,
  tfidf,
  tokenize,
  vectorAgreement,
  writeMap,
  type DenseMatrix,
  type FeatureMap,
} from "../src/map/index.ts";
import { mulberry32, shuffleInPlace } from "../src/util/prng.ts";

const PY = "/usr/bin/python3";
const tmp = mkdtempSync(join(tmpdir(), "safesail-map-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function python(script: string, input: unknown): unknown {
  const file = join(tmp, `in-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(input));
  return JSON.parse(execFileSync(PY, ["-c", script, file], { encoding: "utf8", maxBuffer: 64 << 20 }));
}

// ---- TF-IDF ------------------------------------------------------------------------------------------------------

// The definition of src/map/text.ts written again from its comment, in plain Python: tokens are runs of characters
// whose Unicode category starts with L, M or N, after NFKC and lower-casing.
const TFIDF_PY = String.raw`
import json, math, sys, unicodedata
d = json.load(open(sys.argv[1]))
stop = set(d["stop"]); min_df = d["min_df"]
def tokens(text):
    text = unicodedata.normalize("NFKC", text).lower()
    out, cur = [], ""
    for ch in text + " ":
        if unicodedata.category(ch)[0] in "LMN":
            cur += ch
            continue
        if cur:
            t = cur; cur = ""
            if all(unicodedata.category(c)[0] == "N" for c in t): continue
            if len(t) == 1 and "a" <= t <= "z": continue
            if t in stop: continue
            out.append(t)
    return out
docs = []
for text in d["texts"]:
    ts = tokens(text)
    terms = ts + [ts[i] + " " + ts[i + 1] for i in range(len(ts) - 1)]
    counts = {}
    for t in terms: counts[t] = counts.get(t, 0) + 1
    docs.append(counts)
n = len(docs)
df = {}
for c in docs:
    for t in c: df[t] = df.get(t, 0) + 1
vocab = {t: v for t, v in df.items() if v >= min_df}
rows = []
for c in docs:
    w = {t: (1 + math.log(k)) * (math.log((1 + n) / (1 + vocab[t])) + 1) for t, k in c.items() if t in vocab}
    norm = math.sqrt(sum(v * v for v in w.values()))
    rows.append({t: v / norm for t, v in w.items()})
print(json.dumps({"df": vocab, "rows": rows, "tokens": [tokens(t) for t in d["texts"]]}))
`;

const CORPUS = [
  "Words related to violence, weapons and violent attacks (e.g. guns, knives).",
  "The neuron fires on weapons: guns, rifles, guns again, and knives in 2024.",
  "Sexual content and explicit descriptions of sexual acts.",
  "Explicit sexual content, with body parts; also café and naïve spellings: Café.",
  "Dates in YYYY-MM-DD format, the day of the month, and calendar years 1999.",
  "Calendar dates and month names (January, February); the DAY component of dates.",
  "Chinese characters for disease: 后遗症 焦虑症, and the character 症 alone.",
  "The neuron responds to 焦虑症 and other disease words such as anxiety.",
  "ﬁne ligatures and full-width ＡＢＣ letters are normalised by NFKC to fine and abc",
  "of the and to a", // nothing left after stop words
  "weapons",
];

describe("tokens and TF-IDF", () => {
  it("tokenises as documented (hand-worked)", () => {
    expect(tokenize("Words related to violence, e.g. guns (2024)!")).toEqual(["words", "related", "violence", "guns"]);
    expect(tokenize("后遗症 and 症")).toEqual(["后遗症", "症"]);
    expect(tokenize("ＡＢＣ ﬁne")).toEqual(["abc", "fine"]);
    expect([...termCounts("guns and guns, knives").entries()]).toEqual([["guns", 2], ["guns guns", 1], ["guns knives", 1], ["knives", 1]]);
    expect(STOP_WORDS.has("the") && !STOP_WORDS.has("weapons")).toBe(true);
  });

  it("matches an independent Python computation (terms, df, every weight)", () => {
    for (const minDf of [1, 2]) {
      const ours = tfidf(CORPUS, { minDf });
      const ref = python(TFIDF_PY, { texts: CORPUS, stop: [...STOP_WORDS], min_df: minDf }) as { df: Record<string, number>; rows: Record<string, number>[]; tokens: string[][] };
      expect(CORPUS.map(tokenize)).toEqual(ref.tokens);
      expect(new Set(ours.terms)).toEqual(new Set(Object.keys(ref.df)));
      ours.terms.forEach((t, j) => expect(ours.df[j], t).toBe(ref.df[t]));
      const m = ours.matrix;
      expect(m.rows).toBe(CORPUS.length);
      for (let r = 0; r < m.rows; r++) {
        const row: Record<string, number> = {};
        for (let p = m.indptr[r]!; p < m.indptr[r + 1]!; p++) row[ours.terms[m.indices[p]!]!] = m.values[p]!;
        expect(Object.keys(row).sort()).toEqual(Object.keys(ref.rows[r]!).sort());
        for (const [t, v] of Object.entries(ref.rows[r]!)) expect(row[t]!, `doc ${r} term ${t}`).toBeCloseTo(v, 12);
      }
    }
    // With minDf 2 the stop-word-only document and the terms of one document only are gone.
    const two = tfidf(CORPUS, { minDf: 2 });
    expect(two.matrix.indptr[10]! - two.matrix.indptr[9]!).toBe(0);
    expect(two.terms).not.toContain("rifles");
    expect(two.terms).toContain("sexual content");
  });

  it("refuses bad input, naming it", () => {
    expect(() => tfidf([])).toThrow(/tfidf: no documents/);
    expect(() => tfidf(["a"], { minDf: 0 })).toThrow(/minDf must be a positive integer/);
  });
});

// ---- SVD -----------------------------------------------------------------------------------------------------------

function gaussian(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

function dense(rows: number, cols: number, f: (i: number, j: number) => number): DenseMatrix {
  const data = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) data[j * rows + i] = f(i, j);
  return { rows, cols, data };
}
const at = (m: DenseMatrix, i: number, j: number) => m.data[j * m.rows + i]!;

function gram(m: DenseMatrix): number[][] {
  return Array.from({ length: m.cols }, (_, a) => Array.from({ length: m.cols }, (_, b) => {
    let s = 0;
    for (let i = 0; i < m.rows; i++) s += at(m, i, a) * at(m, i, b);
    return s;
  }));
}

/** Top singular values by power iteration on AᵀA with deflation (the test's own, independent of the library). */
function powerSingularValues(a: DenseMatrix, count: number): number[] {
  const ata = Array.from({ length: a.cols }, (_, p) => Array.from({ length: a.cols }, (_, q) => {
    let s = 0;
    for (let i = 0; i < a.rows; i++) s += at(a, i, p) * at(a, i, q);
    return s;
  }));
  const out: number[] = [];
  const rng = mulberry32(99);
  for (let c = 0; c < count; c++) {
    let v = Array.from({ length: a.cols }, () => rng() - 0.5);
    let lambda = 0;
    for (let it = 0; it < 5000; it++) {
      const w = ata.map((row) => row.reduce((s, x, q) => s + x * v[q]!, 0));
      const norm = Math.sqrt(w.reduce((s, x) => s + x * x, 0));
      v = w.map((x) => x / norm);
      if (Math.abs(norm - lambda) < 1e-15 * norm) break;
      lambda = norm;
    }
    out.push(Math.sqrt(lambda));
    for (let p = 0; p < a.cols; p++) for (let q = 0; q < a.cols; q++) ata[p]![q]! -= lambda * v[p]! * v[q]!;
  }
  return out;
}

describe("randomized truncated SVD", () => {
  it("reconstructs a rank-5 matrix exactly, with orthonormal singular vectors", () => {
    const rng = mulberry32(7);
    const p = dense(60, 5, () => gaussian(rng));
    const q = dense(40, 5, () => gaussian(rng));
    const a = dense(60, 40, (i, j) => [0, 1, 2, 3, 4].reduce((s, t) => s + at(p, i, t) * at(q, j, t), 0));
    const { u, s, v } = randomizedSvd(denseOperator(a), 5, { seed: 3 });
    for (const [name, m] of [["U", u], ["V", v]] as const) {
      const g = gram(m);
      g.forEach((row, x) => row.forEach((val, y) => expect(val, `${name}ᵀ${name}[${x}][${y}]`).toBeCloseTo(x === y ? 1 : 0, 10)));
    }
    for (let c = 1; c < 5; c++) expect(s[c]!).toBeLessThanOrEqual(s[c - 1]!);
    let worst = 0;
    for (let i = 0; i < 60; i++) {
      for (let j = 0; j < 40; j++) {
        let r = 0;
        for (let c = 0; c < 5; c++) r += at(u, i, c) * s[c]! * at(v, j, c);
        worst = Math.max(worst, Math.abs(r - at(a, i, j)));
      }
    }
    expect(worst).toBeLessThan(1e-9);
    // Asking for more components than the rank: the extra singular values are 0.
    const extra = randomizedSvd(denseOperator(a), 8, { seed: 3 });
    expect([...extra.s.slice(5)]).toEqual([0, 0, 0]);
  });

  it("finds the leading singular values a power iteration finds, on a TF-IDF matrix; CSR and dense agree", () => {
    const texts = Array.from({ length: 80 }, (_, i) => {
      const rng = mulberry32(i + 1);
      const pools = [["weapons", "guns", "attack", "violent", "knives"], ["sexual", "explicit", "body", "adult"], ["dates", "month", "calendar", "year", "day"]];
      const pool = pools[i % 3]!;
      return Array.from({ length: 6 }, () => pool[Math.floor(rng() * pool.length)]).join(" ") + (rng() < 0.3 ? " weapons dates" : "");
    });
    const x = tfidf(texts).matrix;
    const d = dense(x.rows, x.cols, () => 0);
    for (let r = 0; r < x.rows; r++) for (let p = x.indptr[r]!; p < x.indptr[r + 1]!; p++) d.data[x.indices[p]! * x.rows + r] = x.values[p]!;
    const sparse = randomizedSvd(csrOperator(x), 6, { seed: 11 });
    const full = randomizedSvd(denseOperator(d), 6, { seed: 11 });
    for (let c = 0; c < 6; c++) expect(sparse.s[c]!).toBeCloseTo(full.s[c]!, 12);
    const ref = powerSingularValues(d, 3);
    // The randomized method is approximate: with the defaults (4 power iterations, 10 extra columns) the leading
    // values agree to ~1e-8 here; with more power iterations it converges to the exact values.
    for (let c = 0; c < 3; c++) expect(Math.abs(sparse.s[c]! - ref[c]!) / ref[c]!, `s${c}`).toBeLessThan(1e-7);
    const sharp = randomizedSvd(csrOperator(x), 6, { seed: 11, powerIterations: 12 });
    for (let c = 0; c < 3; c++) expect(Math.abs(sharp.s[c]! - ref[c]!) / ref[c]!, `s${c} (12 iterations)`).toBeLessThan(1e-12);
    // Same seed, same numbers; the sign rule makes each U column's largest entry positive.
    expect(randomizedSvd(csrOperator(x), 6, { seed: 11 }).u.data).toEqual(sparse.u.data);
    for (let c = 0; c < 6; c++) {
      const col = Array.from({ length: x.rows }, (_, i) => at(sparse.u, i, c));
      const big = col.reduce((b, val, i) => (Math.abs(val) > Math.abs(col[b]!) ? i : b), 0);
      expect(col[big]!).toBeGreaterThan(0);
    }
  });

  it("refuses k beyond the matrix", () => {
    expect(() => randomizedSvd(denseOperator(dense(3, 2, () => 1)), 3)).toThrow(/randomizedSvd: k must be an integer in \[1, 2\], got 3/);
  });
});

// ---- kNN -----------------------------------------------------------------------------------------------------------

describe("exact k nearest neighbours", () => {
  it("matches a full sort (ties to the lower index) for both metrics", () => {
    const rng = mulberry32(5);
    const n = 70;
    // Integer grid coordinates: many equal distances, so the tie rule is exercised.
    const grid = Float64Array.from({ length: n * 2 }, () => Math.floor(rng() * 6));
    const unit = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) {
      const v = [gaussian(rng), gaussian(rng), gaussian(rng)];
      const norm = Math.hypot(...v);
      v.forEach((x, t) => (unit[i * 3 + t] = x / norm));
    }
    for (const [pts, dim, metric] of [[grid, 2, "euclidean"], [unit, 3, "cosine"]] as const) {
      const k = 7;
      const got = exactKnn(pts, n, dim, k, metric);
      for (let i = 0; i < n; i++) {
        const dist = (j: number) => {
          let s = 0;
          let dot = 0;
          for (let t = 0; t < dim; t++) {
            s += (pts[i * dim + t]! - pts[j * dim + t]!) ** 2;
            dot += pts[i * dim + t]! * pts[j * dim + t]!;
          }
          return metric === "euclidean" ? Math.sqrt(s) : Math.max(0, 1 - dot);
        };
        const want = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i).sort((a, b) => dist(a) - dist(b) || a - b).slice(0, k);
        expect([...got.indices.subarray(i * k, i * k + k)], `${metric} row ${i}`).toEqual(want);
      }
    }
  });

  it("refuses k >= n and a mis-sized point array", () => {
    expect(() => exactKnn(new Float64Array(6), 3, 2, 3, "euclidean")).toThrow(/k must be an integer in \[1, 2\]/);
    expect(() => exactKnn(new Float64Array(5), 3, 2, 1, "euclidean")).toThrow(/points has 5 numbers, expected n \* dim = 6/);
  });
});

// ---- neighbour agreement -------------------------------------------------------------------------------------------

/** The test's own agreement: mean over tagged points of the share of their k nearest (sorted, ties by index) sharing a tag. */
function naiveAgreement(coords: number[][], tags: string[][], k: number): number {
  let sum = 0;
  let scored = 0;
  coords.forEach((c, i) => {
    if (tags[i]!.length === 0) return;
    const d = (j: number) => Math.hypot(c[0]! - coords[j]![0]!, c[1]! - coords[j]![1]!);
    const nn = coords.map((_, j) => j).filter((j) => j !== i).sort((a, b) => d(a) - d(b) || a - b).slice(0, k);
    sum += nn.filter((j) => tags[j]!.some((t) => tags[i]!.includes(t))).length / k;
    scored++;
  });
  return sum / scored;
}

describe("neighbour agreement", () => {
  it("gives the hand-worked figure on a line (untagged neighbours count as not sharing, multi-tag shares any)", () => {
    // x = 0..5; tags a, a+b, none, b, b, a; k = 2 (ties to the lower index).
    // p0 {1,2}: 1/2; p1 {0,2}: 1/2; p3 {2,4}: 1/2; p4 {3,5}: 1/2; p5 {4,3}: 0  -> 2/5.
    // chance: other points sharing a tag / 5 = 2,4,2,2,2 / 5 -> 12/25.
    const tags = [["a"], ["a", "b"], [], ["b"], ["b"], ["a"]];
    const coords = Float64Array.from([0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0]);
    const r = vectorAgreement(coords, 2, tags, { k: 2, shuffles: 50, space: "map", metric: "euclidean" });
    expect(r.points).toBe(6);
    expect(r.scored).toBe(5);
    expect(r.agreement).toBeCloseTo(0.4, 15);
    expect(r.chance).toBeCloseTo(12 / 25, 15);
    // Per domain: a over p0, p1, p5 -> (1/2 + 1/2 + 0) / 3; b over p1, p3, p4 -> (0 + 1/2 + 1/2) / 3; chance 2/5.
    expect(r.byDomain.map((d) => [d.domain, d.features])).toEqual([["a", 3], ["b", 3]]);
    for (const d of r.byDomain) {
      expect(d.agreement).toBeCloseTo(1 / 3, 15);
      expect(d.chance).toBeCloseTo(2 / 5, 15);
    }
    expect(r.warnings).toEqual([]);
  });

  it("the shuffled baseline is a literal shuffle of the coordinates, centred on the exact chance, and below a clustered map", () => {
    const rng = mulberry32(21);
    const n = 90;
    const tags: string[][] = [];
    const coords: number[][] = [];
    for (let i = 0; i < n; i++) {
      const g = i % 3;
      tags.push(g === 0 ? ["violence"] : g === 1 ? ["pornography", ...(i % 5 === 0 ? ["violence"] : [])] : []);
      coords.push([g * 10 + gaussian(rng) * 2, gaussian(rng) * 2]);
    }
    const flat = Float64Array.from(coords.flat());
    const seed = 77;
    const shuffles = 40;
    const r = vectorAgreement(flat, 2, tags, { k: 10, shuffles, seed, space: "map", metric: "euclidean" });
    expect(r.agreement).toBeCloseTo(naiveAgreement(coords, tags, 10), 14);
    // Move the coordinates themselves with the same permutations: feature perm[p] goes to position p.
    const perm = Array.from({ length: n }, (_, i) => i);
    const prng = mulberry32(seed);
    const values: number[] = [];
    for (let s = 0; s < shuffles; s++) {
      shuffleInPlace(prng, perm);
      const moved: number[][] = new Array(n);
      perm.forEach((f, p) => (moved[f] = coords[p]!));
      values.push(naiveAgreement(moved, tags, 10));
    }
    expect(r.shuffled!.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / shuffles, 12);
    values.sort((a, b) => a - b);
    expect(r.shuffled!.low).toBeGreaterThanOrEqual(values[0]! - 1e-12);
    expect(r.shuffled!.high).toBeLessThanOrEqual(values[shuffles - 1]! + 1e-12);
    expect(r.agreement!).toBeGreaterThan(r.shuffled!.high);
    const many = vectorAgreement(flat, 2, tags, { k: 10, shuffles: 3000, seed: 1, space: "map", metric: "euclidean" });
    expect(Math.abs(many.shuffled!.mean - many.chance!)).toBeLessThan(0.01);
  });

  it("is undefined with a warning without tags or points; k shrinks on tiny inputs", () => {
    const none = vectorAgreement(Float64Array.from([0, 0, 1, 1, 2, 2]), 2, [[], [], []], { space: "map", metric: "euclidean" });
    expect(none.agreement).toBeNull();
    expect(none.warnings[0]).toMatch(/no placed feature has a domain tag/);
    const one = vectorAgreement(Float64Array.from([0, 0]), 2, [["a"]], { space: "map", metric: "euclidean" });
    expect(one.agreement).toBeNull();
    expect(one.warnings[0]).toMatch(/1 placed feature: neighbour agreement needs at least 2/);
    const small = vectorAgreement(Float64Array.from([0, 0, 1, 0, 5, 0]), 2, [["a"], ["a"], ["b"]], { k: 10, space: "map", metric: "euclidean" });
    expect(small.k).toBe(2);
    expect(small.agreement).toBeCloseTo(0.5 * (1 / 2 + 1 / 2 + 0) / 1.5, 15);
    expect(small.warnings[0]).toMatch(/only 3 placed features: 2 neighbours per feature instead of 10/);
    expect(() => agreementFromKnn(exactKnn(Float64Array.from([0, 1, 2]), 3, 1, 1, "euclidean"), [["a"]], { space: "map", metric: "euclidean" })).toThrow(/1 tag lists for 3 points/);
  });
});

// ---- clusters ------------------------------------------------------------------------------------------------------

describe("k-means and cluster words", () => {
  it("separates blobs, numbers clusters by size and is seeded", () => {
    const rng = mulberry32(3);
    const pts: number[] = [];
    const truth: number[] = [];
    [[0, 0, 30], [20, 0, 20], [0, 20, 10]].forEach(([cx, cy, size], b) => {
      for (let i = 0; i < size!; i++) {
        pts.push(cx! + gaussian(rng), cy! + gaussian(rng));
        truth.push(b);
      }
    });
    const km = kmeans(Float64Array.from(pts), 60, 2, 3, { seed: 1 });
    // Blob b's points all in one cluster, and cluster ids follow size: blob 0 (30) -> 0, blob 1 (20) -> 1, blob 2 -> 2.
    expect([...km.assignment]).toEqual(truth);
    expect([...kmeans(Float64Array.from(pts), 60, 2, 3, { seed: 1 }).assignment]).toEqual([...km.assignment]);
    expect(defaultClusterCount(3543)).toBe(30);
    expect(defaultClusterCount(30)).toBe(4);
    expect(defaultClusterCount(5)).toBe(2);
  });

  it("scores words as p_c ln(p_c / p_r) with the smoothed rest (hand-worked) and skips covered words", () => {
    // Cluster 0: {guns}, {guns, knives}; cluster 1: {dates}, {dates, guns}.
    // guns in 0: p_c = 1, p_r = (1 + 1) / (2 + 2) = 1/2 -> ln 2. knives: count 1 < 2, not a candidate.
    // dates in 1: p_c = 1, p_r = (0 + 1) / 4 -> ln 4.
    const w = clusterWords([["guns"], ["guns", "knives"], ["dates"], ["dates", "guns"]], [0, 0, 1, 1], 2);
    expect(w[0]!.words).toEqual(["guns"]);
    expect(w[0]!.scores[0]).toBeCloseTo(Math.log(2), 15);
    expect(w[1]!.words).toEqual(["dates"]);
    expect(w[1]!.scores[0]).toBeCloseTo(Math.log(4), 15);
    // "sexual content" scores ln 4 (absent from the rest); "sexual" and "content" (once in the rest) ln 2, and their
    // words are already in the chosen bigram.
    const covered = clusterWords([["sexual content", "sexual", "content"], ["sexual content", "sexual", "content"], ["dates", "sexual", "content"], ["dates"]], [0, 0, 1, 1], 2);
    expect(covered[0]!.words).toEqual(["sexual content"]);
    expect(covered[0]!.scores).toEqual([Math.log(4)]);
    expect(clusterLabel(["a", "b", "c", "d"])).toBe("a, b, c");
    expect(clusterLabel([])).toBe("(no distinctive words)");
  });
});

// ---- buildMap ------------------------------------------------------------------------------------------------------

const VIOLENCE = ["weapons", "firearms", "guns", "shooting", "violent", "attack", "killing", "knives", "bloodshed", "assault"];
const DATES = ["calendar", "dates", "month", "year", "weekday", "timestamps", "schedule", "deadline", "anniversary", "season"];

/** Two topics of explanations (violence tagged, dates untagged), words drawn from each topic's pool. */
function twoTopics(perTopic: number, seed = 1): FeatureRecord[] {
  const rng = mulberry32(seed);
  const pick = (pool: string[]) => Array.from({ length: 4 }, () => pool[Math.floor(rng() * pool.length)]).join(", ");
  const out: FeatureRecord[] = [];
  for (let i = 0; i < perTopic; i++) {
    // One template for both topics: only the topic words tell them apart.
    out.push(featureRecord(`3_${i}`, { explanation: `Terms about ${pick(VIOLENCE)} and ${pick(VIOLENCE)}.`, correlation_score: 0.5, tag_list: ["violence"] }));
    out.push(featureRecord(`5_${i}`, { explanation: `Terms about ${pick(DATES)} and ${pick(DATES)}.`, correlation_score: null, tag_list: [] }));
  }
  return out;
}

describe("buildMap", () => {
  it("puts two clearly separated topics in separate clusters labelled with their words; agreement beats the shuffles", async () => {
    const records = twoTopics(20);
    const map = await buildMap(records, { seed: 4, clusters: 2, shuffles: 50 });
    expect(map.points).toHaveLength(40);
    expect(map.clusters).toHaveLength(2);
    for (const c of map.clusters) {
      const members = map.points.filter((p) => p.cluster === c.id);
      const layers = new Set(members.map((p) => p.id.split("_")[0]));
      expect(layers.size, `cluster ${c.id} mixes topics`).toBe(1);
      const pool = layers.has("3") ? VIOLENCE : DATES;
      expect(c.words.slice(0, 3).every((w) => w.split(" ").every((part) => pool.includes(part))), `${c.label} from ${pool[0]}`).toBe(true);
      expect(c.size).toBe(20);
      expect(c.tags).toEqual(layers.has("3") ? { violence: 20 } : {});
    }
    expect(map.quality!.map.agreement).toBe(1);
    expect(map.quality!.embedding.agreement).toBe(1);
    expect(map.quality!.map.shuffled!.high).toBeLessThan(0.9);
    expect(map.quality!.map.chance).toBeCloseTo(19 / 39, 15);
    expect(map.layout).toMatchObject({ method: "umap-js", nNeighbors: 15, knn: "exact", metric: "cosine" });
    expect(map.embedding.kind).toBe("tfidf-svd");
    expect(map.embedding.text).toMatch(/shared words, not meaning/);
  });

  it("same seed, same bytes; another seed, another layout", async () => {
    const records = twoTopics(12, 9);
    const a = serializeMap(await buildMap(records, { seed: 5 }));
    const b = serializeMap(await buildMap(records, { seed: 5 }));
    expect(a).toBe(b);
    const c = await buildMap(records, { seed: 6 });
    expect(serializeMap(c)).not.toBe(a);
    expect(c.points.map((p) => p.id)).toEqual((JSON.parse(a) as FeatureMap).points.map((p) => p.id));
  });

  it("leaves masked and null explanations off the map, listed with the reason, and says so", async () => {
    const records = [
      ...twoTopics(6, 2),
      featureRecord("8_1", { explanation: "***", correlation_score: 0.4, tag_list: ["politics"] }),
      featureRecord("8_2", { explanation: null, correlation_score: null, tag_list: [] }),
      featureRecord("8_3", { explanation: "   ", correlation_score: null, tag_list: [] }),
      featureRecord("8_4", { explanation: "zebra quokka", correlation_score: null, tag_list: ["terror"] }),
    ];
    const map = await buildMap(records, { seed: 1 });
    expect(map.points.map((p) => p.id).sort()).toEqual(twoTopics(6, 2).map((r) => r.id).sort());
    expect(map.unplaced).toEqual([
      { id: "8_1", tags: ["politics"], reason: "masked" },
      { id: "8_2", tags: [], reason: "null" },
      { id: "8_3", tags: [], reason: "empty" },
      { id: "8_4", tags: ["terror"], reason: "no-terms" },
    ]);
    expect(map.warnings[0]).toBe('4 of 16 features are not on the map: 1 masked ("***"), 1 without explanation, 1 with an empty explanation, 1 without a word shared with another explanation (listed in "unplaced")');
    expect(map.source.features).toBe(16);
    // 12 placed: UMAP's neighbourhood shrinks to 11, warned; the quality measure keeps k = 10.
    expect(map.layout.nNeighbors).toBe(11);
    expect(map.warnings[1]).toMatch(/only 12 placed features: UMAP neighbourhood 11 instead of 15/);
    expect(map.quality!.map.k).toBe(10);
  });

  it("refuses fewer than 5 placeable features, naming the count and the reasons; refuses duplicates", async () => {
    const few = [...twoTopics(2, 3), featureRecord("9_9", { explanation: "***", correlation_score: null, tag_list: ["politics"] })];
    await expect(buildMap(few)).rejects.toThrow(ArgumentError);
    await expect(buildMap(few)).rejects.toThrow("buildMap: 4 of 5 features can be placed (a map needs at least 5 with an explanation); not placed: 1 masked");
    const five = twoTopics(3, 3).slice(0, 5);
    const m = await buildMap(five, { seed: 2 });
    expect(m.points).toHaveLength(5);
    expect(m.layout.nNeighbors).toBe(4);
    const dup = [...twoTopics(3), twoTopics(3)[0]!];
    await expect(buildMap(dup)).rejects.toThrow(/records\[6\]\.id: feature 3_0 appears twice/);
    await expect(buildMap(twoTopics(3), { embedding: "./no/such/model" })).rejects.toThrow(NotFoundError);
    await expect(buildMap(twoTopics(3), { embedding: "./no/such/model" })).rejects.toThrow(/embedding: \.\/no\/such\/model: no such folder, and not a hub id/);
    await expect(buildMap(twoTopics(3), { nNeighbors: 1 })).rejects.toThrow(/buildMap: nNeighbors must be an integer >= 2, got 1/);
  });

  it("embeds with unit-length rows; the TF-IDF SVD keeps at most the documents' count", async () => {
    const emb = await embedExplanations(twoTopics(5), { seed: 0, dims: 64 });
    expect(emb.dims).toBe(10);
    for (let i = 0; i < emb.ids.length; i++) expect(Math.hypot(...emb.vectors.subarray(i * emb.dims, (i + 1) * emb.dims))).toBeCloseTo(1, 12);
    expect(emb.description).toMatchObject({ kind: "tfidf-svd", dims: 10, minDf: 2, ngrams: [1, 2] });
  });
});

// ---- MAP.json ------------------------------------------------------------------------------------------------------

describe("MAP.json", () => {
  it("writes atomically, reads back equal, recomputes its quality from the file, and searches", async () => {
    const map = await buildMap(twoTopics(10, 4), { seed: 3, shuffles: 30 });
    const file = join(tmp, "map", "MAP.json");
    await writeMap(file, map);
    expect(readdirSync(join(tmp, "map"))).toEqual(["MAP.json"]); // no temp file left
    const back = await readMap(file);
    expect(back).toEqual(JSON.parse(JSON.stringify(map)));
    expect(readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith('  {"id"') && l.includes('"explanation"')).length).toBe(20); // a point per line
    const again = neighbourAgreement(back, { k: 10, shuffles: 30, seed: map.quality!.map.shuffled!.seed });
    expect(again).toEqual(map.quality!.map);
    const hits = searchMap(back, "WEAPONS");
    expect(hits.length).toBeGreaterThan(0);
    expect(hits).toEqual(back.points.filter((p) => p.explanation.toLowerCase().includes("weapons")).map((p) => p.id));
    expect(searchMap(back, "  ")).toEqual([]);
    expect(searchMap(back, "no such text anywhere")).toEqual([]);
  });

  it("names the file and field of a bad map", async () => {
    const map = await buildMap(twoTopics(4, 5), { seed: 0, shuffles: 10 });
    const text = serializeMap(map);
    const broken = (f: (m: Record<string, any>) => void) => {
      const m = JSON.parse(text);
      f(m);
      return JSON.stringify(m);
    };
    expect(() => parseMap("{", "M.json")).toThrow(/^M\.json: not JSON/);
    expect(() => parseMap(broken((m) => (m.format = "x")), "M.json")).toThrow('M.json: format: expected "safesail-feature-map", got "x"');
    expect(() => parseMap(broken((m) => (m.version = 2)), "M.json")).toThrow(/M\.json: version: expected 1/);
    expect(() => parseMap(broken((m) => (m.points[1].x = "a")), "M.json")).toThrow('M.json: points[1].x: expected a finite number, got "a"');
    expect(() => parseMap(broken((m) => (m.points[2].cluster = 99)), "M.json")).toThrow(/M\.json: points\[2\]\.cluster: expected a cluster index in \[0, 2\), got 99/);
    expect(() => parseMap(broken((m) => (m.points[0].id = "x")), "M.json")).toThrow(/M\.json: points\[0\]\.id: expected a feature id/);
    expect(() => parseMap(broken((m) => (m.points[3].id = m.points[0].id)), "M.json")).toThrow(/M\.json: points\[3\]\.id: expected an id not seen before/);
    expect(() => parseMap(broken((m) => (m.clusters[0].size += 1)), "M.json")).toThrow(/M\.json: clusters\[0\]\.size: expected \d+ \(the points in it\)/);
    expect(() => parseMap(broken((m) => (m.unplaced = [{ id: "1_1", tags: [], reason: "lost" }])), "M.json")).toThrow(/M\.json: unplaced\[0\]\.reason/);
    expect(() => parseMap(broken((m) => delete m.points), "M.json")).toThrow(FormatError);
    await expect(readMap(join(tmp, "none.json"))).rejects.toThrow(NotFoundError);
    expect(() => checkMap({ ...map, seed: 1.5 }, "writeMap")).toThrow(/writeMap: seed: expected an integer/);
    expect(existsSync(join(tmp, "bad.json"))).toBe(false);
    await expect(writeMap(join(tmp, "bad.json"), { ...map, points: [{ ...map.points[0]!, y: NaN }] } as FeatureMap)).rejects.toThrow(/writeMap: points\[0\]\.y: expected a finite number/);
    expect(existsSync(join(tmp, "bad.json"))).toBe(false);
  });
});
