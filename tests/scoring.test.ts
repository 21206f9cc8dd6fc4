// Simulation scoring (src/interpret/scoring.ts): hand-built cases with known answers, then random cases checked
// against an independent implementation in Debian's /usr/bin/python3 (the standard library's
// statistics.correlation and statistics.quantiles, pairwise AUC, its own segment split and mulberry32).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  bootstrapInterval,
  detectionScore,
  expectedValueFromLogprobs,
  normaliseActivations,
  pearson,
  pearsonWithReason,
  segmentBounds,
  SLS_THRESHOLD,
  slsScore,
  slsTruth,
  tlsScore,
  tlsTruth,
  type DetectionItem,
  type SlsCase,
  type TlsCase,
} from "../src/interpret/scoring.ts";
import { mulberry32 } from "../src/util/prng.ts";

const PY = "/usr/bin/python3";
const tmp = mkdtempSync(join(tmpdir(), "safesail-scoring-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("pearson", () => {
  it("is 1 for a perfect prediction, -1 for an inverted one, and a hand value otherwise", () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 15);
    expect(pearson([1, 2, 3, 4], [8, 6, 4, 2])).toBeCloseTo(-1, 15);
    // x = [0,10,0,10], y = [0,1,9,10]: centred sums sxy = 10, sxx = 100, syy = 82.
    expect(pearson([0, 10, 0, 10], [0, 1, 9, 10])).toBeCloseTo(10 / Math.sqrt(8200), 14);
  });

  it("is null with the reason when a side is constant or there are too few points", () => {
    expect(pearsonWithReason([0, 3, 7], [5, 5, 5])).toEqual({ r: null, warning: "the simulator predicted the same value for every token" });
    expect(pearsonWithReason([2, 2, 2], [1, 5, 3]).warning).toMatch(/feature is constant on the test set/);
    expect(pearsonWithReason([0, 0], [4, 4], "segment").warning).toMatch(/constant on the test set and the simulator predicted the same value for every segment/);
    expect(pearsonWithReason([1], [1])).toEqual({ r: null, warning: "fewer than 2 tokens to correlate (1)" });
    // 0.1 + 0.2 style rounding must not turn a constant side into a tiny non-zero variance.
    expect(pearson([0.3, 0.3, 0.3], [1, 2, 3])).toBeNull();
  });

  it("refuses mismatched lengths and non-finite values, naming them", () => {
    expect(() => pearson([1, 2], [1, 2, 3])).toThrow(/2 truth values, 3 predictions/);
    expect(() => pearson([1, NaN], [1, 2])).toThrow(/truth\[1\] must be a finite number, got NaN/);
  });
});

describe("TLS", () => {
  it("discretises truth as floor(10 relu(a) / max), clipped to [0, 10]", () => {
    expect(tlsTruth([-1, 0, 0.5, 0.99, 1, 2, 0.09999], 1)).toEqual([0, 0, 5, 9, 10, 10, 0]);
    expect(tlsTruth([3, 7.5], 7.5)).toEqual([4, 10]);
    expect(tlsTruth([0, 0], 0)).toEqual([0, 0]);
    expect(() => tlsTruth([1], -1)).toThrow(/max must be a non-negative number, got -1/);
  });

  it("concatenates the sequences: two per-sequence r of 1 whose mean would be 1 give the pooled r", () => {
    // Each case alone is a perfect prediction (r = 1), so a mean of per-sequence r would say 1. Pooled, the
    // truths are [0,10,0,10] and the predictions [0,1,9,10]: r = 10 / sqrt(8200) ~ 0.11.
    const cases: TlsCase[] = [
      { acts: [0, 1], predicted: [0, 1] },
      { acts: [0, 1], predicted: [9, 10] },
    ];
    for (const c of cases) expect(tlsScore([c], 1).score).toBeCloseTo(1, 15);
    const pooled = tlsScore(cases, 1);
    expect(pooled.score).toBeCloseTo(10 / Math.sqrt(8200), 14);
    expect(pooled.tokens).toBe(4);
    expect(pooled.warning).toBeUndefined();
  });

  it("perfect, inverted and constant simulators", () => {
    const acts = [0, 0.2, 0.5, 1, 0, 0.8];
    const truth = tlsTruth(acts, 1);
    expect(tlsScore([{ acts, predicted: truth }], 1).score).toBeCloseTo(1, 15);
    expect(tlsScore([{ acts, predicted: truth.map((t) => 10 - t) }], 1).score).toBeCloseTo(-1, 15);
    const flat = tlsScore([{ acts, predicted: acts.map(() => 0) }], 1);
    expect(flat.score).toBeNull();
    expect(flat.warning).toBe("the simulator predicted the same value for every token");
    const dead = tlsScore([{ acts: [0, 0, 0], predicted: [0, 3, 1] }], 0);
    expect(dead.score).toBeNull();
    expect(dead.warning).toMatch(/feature is constant/);
    expect(tlsScore([], 1)).toEqual({ score: null, warning: "fewer than 2 tokens to correlate (0)", tokens: 0 });
  });

  it("names the case of a length mismatch or a prediction outside 0..10", () => {
    expect(() => tlsScore([{ acts: [1, 2], predicted: [1, 2] }, { acts: [1, 2, 3], predicted: [1, 2] }], 3)).toThrow(/case 1: 2 predictions for 3 tokens/);
    expect(() => tlsScore([{ acts: [1, 2], predicted: [1, 11] }], 3)).toThrow(/case 0: predicted\[1\] must be a number in \[0, 10\], got 11/);
  });
});

describe("normalisation and SLS", () => {
  it("normalises as clip(relu(a) / normaliser, 0, 1)", () => {
    expect(normaliseActivations([-2, 0, 1, 2.5, 10], 5)).toEqual([0, 0, 0.2, 0.5, 1]);
    expect(() => normaliseActivations([1], 0)).toThrow(/normaliser must be a positive number, got 0/);
  });

  it("splits 17 tokens into 8 segments, the first 17 % 8 = 1 one longer; fewer tokens than segments give one each", () => {
    expect(segmentBounds(17, 8)).toEqual([[0, 3], [3, 5], [5, 7], [7, 9], [9, 11], [11, 13], [13, 15], [15, 17]]);
    expect(segmentBounds(16)).toEqual([[0, 2], [2, 4], [4, 6], [6, 8], [8, 10], [10, 12], [12, 14], [14, 16]]);
    expect(segmentBounds(22, 8).map(([s, e]) => e - s)).toEqual([3, 3, 3, 3, 3, 3, 2, 2]);
    expect(segmentBounds(3, 8)).toEqual([[0, 1], [1, 2], [2, 3]]);
    expect(segmentBounds(0, 8)).toEqual([]);
    expect(() => segmentBounds(5, 0)).toThrow(/n must be a positive integer, got 0/);
  });

  it("a segment is active only when its peak is strictly above the threshold", () => {
    expect(SLS_THRESHOLD).toBe(0.2);
    // One token per segment, normaliser 5: normalised [0.2, 0.202, 0, 1, 1, 0, 0.198, 0.3]; exactly 0.2 is not above.
    expect(slsTruth([1, 1.01, 0, 5, 100, -3, 0.99, 1.5], 5)).toEqual([false, true, false, true, true, false, false, true]);
    // 17 tokens: the peak of a 3-token first segment decides it, wherever it sits in the segment.
    const acts = new Array<number>(17).fill(0);
    acts[2] = 3; // segment 0 = tokens 0..2
    acts[3] = 0.5; // segment 1, below 0.2 * 5
    expect(slsTruth(acts, 5)).toEqual([true, false, false, false, false, false, false, false]);
    expect(slsTruth(acts, 5, 8, 0.05)).toEqual([true, true, false, false, false, false, false, false]);
  });

  it("scores the phi coefficient over all segments pooled", () => {
    const acts = [0, 3, 0, 0, 4, 0, 0, 0]; // truth [F, T, F, F, T, F, F, F] with normaliser 2
    const truth = slsTruth(acts, 2);
    expect(slsScore([{ acts, predicted: truth }], 2).score).toBeCloseTo(1, 15);
    expect(slsScore([{ acts, predicted: truth.map((t) => !t) }], 2).score).toBeCloseTo(-1, 15);
    // truth [1,1,0,0], predicted [1,0,0,0]: phi = (1*2 - 0*1) / sqrt(1*3*2*2) = 1/sqrt(3).
    const four = slsScore([{ acts: [9, 9, 0, 0], predicted: [true, false, false, false] }], 1, 4);
    expect(four.score).toBeCloseTo(1 / Math.sqrt(3), 14);
    expect(four.segments).toBe(4);
    const none = slsScore([{ acts, predicted: truth.map(() => false) }], 2);
    expect(none).toEqual({ score: null, warning: "the simulator predicted the same value for every segment", segments: 8 });
    expect(() => slsScore([{ acts, predicted: truth }, { acts: new Array(17).fill(0), predicted: [true] }], 2)).toThrow(/case 1: 1 predictions for 8 segments/);
  });
});

describe("detection", () => {
  it("F1, precision, recall and accuracy of a known confusion table; AUC of yes/no with ties", () => {
    // Activating: yes, yes, no; non-activating: yes, no, no -> tp 2, fn 1, fp 1, tn 2.
    const items: DetectionItem[] = [
      { activating: true, predicted: true },
      { activating: true, predicted: true },
      { activating: true, predicted: false },
      { activating: false, predicted: true },
      { activating: false, predicted: false },
      { activating: false, predicted: false },
    ];
    const s = detectionScore(items);
    expect(s.precision).toBeCloseTo(2 / 3, 15);
    expect(s.recall).toBeCloseTo(2 / 3, 15);
    expect(s.f1).toBeCloseTo(2 / 3, 15);
    expect(s.accuracy).toBeCloseTo(4 / 6, 15);
    // Scores 1,1,0 vs 1,0,0: of 9 pairs, 4 wins and 4 ties (each 1/2) -> 6/9.
    expect(s.auc).toBeCloseTo(6 / 9, 15);
    expect(s.warning).toBeUndefined();
  });

  it("ranks by probability when given, ties counting 1/2", () => {
    // Positives 0.9, 0.5, 0.5 vs negatives 0.5, 0.1: 0.9 wins 2; each 0.5 ties once and wins once -> (2 + 1.5 + 1.5) / 6.
    const s = detectionScore([
      { activating: true, predicted: true, probability: 0.9 },
      { activating: true, predicted: false, probability: 0.5 },
      { activating: false, predicted: false, probability: 0.5 },
      { activating: true, predicted: false, probability: 0.5 },
      { activating: false, predicted: false, probability: 0.1 },
    ]);
    expect(s.auc).toBeCloseTo(5 / 6, 15);
    expect(s.f1).toBeCloseTo(2 / 4, 15); // tp 1, fn 2, fp 0
    expect(s.precision).toBe(1);
  });

  it("degenerate sets give null with a warning, never a silent number", () => {
    const onlyPositives = detectionScore([
      { activating: true, predicted: true },
      { activating: true, predicted: false },
    ]);
    expect(onlyPositives.auc).toBeNull();
    expect(onlyPositives.recall).toBe(0.5);
    expect(onlyPositives.warning).toMatch(/no non-activating examples: AUC is undefined/);
    const neverYes = detectionScore([
      { activating: true, predicted: false },
      { activating: false, predicted: false },
    ]);
    expect(neverYes.precision).toBeNull();
    expect(neverYes.f1).toBe(0);
    expect(neverYes.auc).toBe(0.5);
    expect(neverYes.warning).toMatch(/never said yes/);
    expect(detectionScore([])).toEqual({ f1: null, precision: null, recall: null, accuracy: null, auc: null, warning: "no examples to score" });
    expect(() => detectionScore([{ activating: true, predicted: true, probability: 0.3 }, { activating: false, predicted: false }])).toThrow(/items\[1\] has no probability/);
    expect(() => detectionScore([{ activating: true, predicted: true, probability: 1.5 }])).toThrow(/items\[0\]\.probability must be a number in \[0, 1\]/);
  });
});

describe("expectedValueFromLogprobs", () => {
  it("weights the candidates that are 0..10, renormalised", () => {
    const ev = expectedValueFromLogprobs([
      { token: "3", logprob: Math.log(0.5) },
      { token: " 7", logprob: Math.log(0.25) },
      { token: "a", logprob: Math.log(0.2) },
      { token: "11", logprob: Math.log(0.05) },
    ]);
    expect(ev).toBeCloseTo((0.5 * 3 + 0.25 * 7) / 0.75, 14);
    expect(expectedValueFromLogprobs([{ token: "10", logprob: -3 }, { token: "0", logprob: -3 }])).toBeCloseTo(5, 14);
    expect(expectedValueFromLogprobs([{ token: "yes", logprob: -0.1 }])).toBeNull();
    expect(expectedValueFromLogprobs([])).toBeNull();
    expect(() => expectedValueFromLogprobs([{ token: "1", logprob: NaN }])).toThrow(/top\[0\]\.logprob/);
  });
});

describe("bootstrapInterval", () => {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  it("is reproducible from its seed and collapses on constant values", () => {
    const xs = [1, 5, 2, 8, 3, 9, 4];
    expect(bootstrapInterval(xs, mean, { seed: 3 })).toEqual(bootstrapInterval(xs, mean, { seed: 3 }));
    expect(bootstrapInterval(xs, mean, { seed: 3 }).low).not.toBe(bootstrapInterval(xs, mean, { seed: 4 }).low);
    const flat = bootstrapInterval([2, 2, 2], mean, { samples: 50 });
    expect([flat.low, flat.high, flat.estimate]).toEqual([2, 2, 2]);
  });

  it("drops and counts resamples where the statistic is undefined", () => {
    const pairs = [{ x: 0, y: 0 }, { x: 1, y: 2 }];
    const r = (s: { x: number; y: number }[]) => pearson(s.map((p) => p.x), s.map((p) => p.y));
    const b = bootstrapInterval(pairs, r, { samples: 200, seed: 1 });
    expect(b.dropped).toBeGreaterThan(0); // a resample of the same pair twice is constant
    expect(b.samples + b.dropped).toBe(200);
    expect(b.warning).toMatch(/resamples had no defined statistic/);
    expect(bootstrapInterval([], mean).warning).toBe("no values to resample");
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Random cases against an independent Python implementation.

const PYTHON_CHECK = String.raw`
import json, math, statistics, sys

d = json.load(open(sys.argv[1]))

def corr(x, y):
    return statistics.correlation([float(v) for v in x], [float(v) for v in y])

out = {"pearson": [corr(p["x"], p["y"]) for p in d["pearson"]]}

# TLS: truth per token, all cases concatenated, one correlation.
t, p = [], []
for c in d["tls"]["cases"]:
    for a, q in zip(c["acts"], c["predicted"]):
        t.append(min(10, max(0, math.floor(10 * max(a, 0.0) / d["tls"]["max"]))))
        p.append(q)
out["tls"] = corr(t, p)

# SLS: own segment split (the first L % k segments one longer), peak of the normalised activations > threshold.
s = d["sls"]
t, p = [], []
for c in s["cases"]:
    L = len(c["acts"]); k = min(s["n"], L)
    sizes = [L // k + (1 if i < L % k else 0) for i in range(k)]
    start = 0
    for size, q in zip(sizes, c["predicted"]):
        seg = c["acts"][start:start + size]; start += size
        peak = max(min(1.0, max(a, 0.0) / s["normaliser"]) for a in seg)
        t.append(1 if peak > s["threshold"] else 0)
        p.append(1 if q else 0)
    assert start == L and len(sizes) == len(c["predicted"])
out["sls"] = corr(t, p)

# AUC: every (activating, non-activating) pair, a win counting 1 and a tie 1/2.
items = d["auc"]
pos = [i["probability"] for i in items if i["activating"]]
neg = [i["probability"] for i in items if not i["activating"]]
out["auc"] = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg) / (len(pos) * len(neg))

# Bootstrap of the mean: mulberry32 written out in 32-bit unsigned arithmetic, percentiles by linear interpolation.
def mulberry32(seed):
    state = [seed & 0xFFFFFFFF]
    M = 0xFFFFFFFF
    def rng():
        state[0] = (state[0] + 0x6D2B79F5) & M
        t = state[0]
        t = ((t ^ (t >> 15)) * (t | 1)) & M
        t ^= (t + ((t ^ (t >> 7)) * (t | 61))) & M
        return ((t ^ (t >> 14)) & M) / 4294967296
    return rng
b = d["boot"]; xs = b["values"]; n = len(xs); rng = mulberry32(b["seed"])
means = []
for _ in range(b["samples"]):
    sample = [xs[math.floor(rng() * n)] for _ in range(n)]
    means.append(sum(sample) / n)
cuts = statistics.quantiles(sorted(means), n=40, method="inclusive")
out["boot"] = [cuts[0], cuts[-1]]
print(json.dumps(out))
`;

describe("against an independent implementation (/usr/bin/python3)", () => {
  it("Pearson, pooled TLS and SLS, AUC with ties and the bootstrap interval agree to 1e-9 on random cases", () => {
    const rand = mulberry32(2509);
    const activation = () => (rand() < 0.55 ? 0 : rand() < 0.1 ? -rand() : -Math.log(1 - rand()) * 2);
    const pearsonCases = Array.from({ length: 20 }, (_, k) => {
      const n = 2 + Math.floor(rand() * 60);
      const x = Array.from({ length: n }, () => (rand() - 0.5) * 10 ** (k % 4));
      const y = x.map((v) => (k % 3 === 0 ? Math.round(rand() * 10) : v * (rand() - 0.3) + rand()));
      if (k === 0) x[1] = x[0]! + 1; // never constant
      return { x, y };
    });
    const max = 6.5;
    const tlsCases: TlsCase[] = Array.from({ length: 12 }, () => {
      const acts = Array.from({ length: 1 + Math.floor(rand() * 40) }, activation);
      const truth = tlsTruth(acts, max);
      return { acts, predicted: truth.map((t) => (rand() < 0.6 ? t : rand() < 0.5 ? Math.floor(rand() * 11) : rand() * 10)) };
    });
    const normaliser = 3.2;
    const slsCases: SlsCase[] = Array.from({ length: 15 }, () => {
      const acts = Array.from({ length: 1 + Math.floor(rand() * 50) }, activation);
      const truth = slsTruth(acts, normaliser);
      return { acts, predicted: truth.map((t) => (rand() < 0.7 ? t : !t)) };
    });
    // Probabilities on a coarse grid so that ties between activating and non-activating items really occur.
    const aucItems = Array.from({ length: 80 }, () => ({ activating: rand() < 0.4, predicted: rand() < 0.5, probability: Math.round(rand() * 10) / 10 }));
    const boot = { values: Array.from({ length: 37 }, () => rand() * 4 - 1), seed: 99, samples: 400 };

    const file = join(tmp, "cases.json");
    writeFileSync(file, JSON.stringify({
      pearson: pearsonCases,
      tls: { cases: tlsCases, max },
      sls: { cases: slsCases, normaliser, n: 8, threshold: SLS_THRESHOLD },
      auc: aucItems,
      boot,
    }));
    const py = JSON.parse(execFileSync(PY, ["-c", PYTHON_CHECK, file], { encoding: "utf8" })) as { pearson: number[]; tls: number; sls: number; auc: number; boot: [number, number] };

    pearsonCases.forEach((c, i) => expect(Math.abs(pearson(c.x, c.y)! - py.pearson[i]!), `pearson case ${i}`).toBeLessThan(1e-9));
    const tls = tlsScore(tlsCases, max);
    expect(tls.tokens).toBe(tlsCases.reduce((n, c) => n + c.acts.length, 0));
    expect(Math.abs(tls.score! - py.tls)).toBeLessThan(1e-9);
    expect(Math.abs(slsScore(slsCases, normaliser).score! - py.sls)).toBeLessThan(1e-9);
    const det = detectionScore(aucItems);
    expect(Math.abs(det.auc! - py.auc)).toBeLessThan(1e-9);
    const b = bootstrapInterval(boot.values, mean, { seed: boot.seed, samples: boot.samples });
    expect(Math.abs(b.low! - py.boot[0])).toBeLessThan(1e-9);
    expect(Math.abs(b.high! - py.boot[1])).toBeLessThan(1e-9);
    // The random cases are not degenerate by accident: scores strictly inside (-1, 1).
    for (const v of [tls.score!, py.sls, py.auc]) expect(Math.abs(v)).toBeLessThan(1);
  });
});

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
