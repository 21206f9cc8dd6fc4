// src/util/validate.ts: the library's number checks, their exact wording, and the library functions that use them;
// the toy JSONL readers on util/jsonl.ts (file:line and the field in every error).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateDomainCorpus } from "../src/data/domain-corpus-build.ts";
import { generatePairs } from "../src/data/pairs-build.ts";
import { ArgumentError, FormatError } from "../src/errors.ts";
import { contrastiveFromMatrices } from "../src/metrics/contrastive.ts";
import { randomModelConfig } from "../src/model/random.ts";
import { readHeldOut } from "../src/toy/card.ts";
import { generateCorpus, readCorpus, writeCorpus } from "../src/toy/corpus.ts";
import { checkFraction, checkInt, checkNonNegativeInt, checkNumber, checkPositiveInt, integerRequirement, numberRequirement } from "../src/util/validate.ts";

function caught(f: () => unknown): ArgumentError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ArgumentError);
    return err as ArgumentError;
  }
  throw new Error("expected an ArgumentError");
}

describe("checkInt / checkNumber", () => {
  it("return the value when it passes", () => {
    expect(checkInt(3, "n", { min: 1 })).toBe(3);
    expect(checkInt(-7, "n")).toBe(-7);
    expect(checkPositiveInt(1, "n")).toBe(1);
    expect(checkNonNegativeInt(0, "n")).toBe(0);
    expect(checkNumber(0.5, "x", { gt: 0, max: 1 })).toBe(0.5);
    expect(checkFraction(1, "x")).toBe(1);
    expect(checkNumber(-1e9, "x")).toBe(-1e9);
  });

  it("name the field and show the value, with the caller when given", () => {
    const e = caught(() => checkInt(0, "perConcept", { min: 1, where: "generatePairs" }));
    expect(e.message).toBe("generatePairs: perConcept must be a positive integer, got 0");
    expect(e.field).toBe("perConcept");
    expect(caught(() => checkInt(2.5, "steps", { min: 0 })).message).toBe("steps must be a non-negative integer, got 2.5");
    expect(caught(() => checkInt("4", "k", { min: 1 })).message).toBe('k must be a positive integer, got "4"');
    expect(caught(() => checkInt(NaN, "k")).message).toBe("k must be an integer, got NaN");
    expect(caught(() => checkInt(2 ** 53, "k")).message).toBe(`k must be an integer, got ${2 ** 53}`);
    expect(caught(() => checkInt(9, "layer", { min: 0, max: 3 })).message).toBe("layer must be an integer in [0, 3], got 9");
    expect(caught(() => checkInt(1, "n", { min: 2 })).message).toBe("n must be an integer >= 2, got 1");
    expect(caught(() => checkInt(undefined, "n", { min: 1 })).message).toBe("n must be a positive integer, got undefined");
    expect(caught(() => checkNumber(Infinity, "lr")).message).toBe("lr must be a number, got Infinity");
    expect(caught(() => checkNumber(0, "lr", { gt: 0 })).message).toBe("lr must be a positive number, got 0");
    expect(caught(() => checkNumber(-1, "w", { min: 0 })).message).toBe("w must be a non-negative number, got -1");
    expect(caught(() => checkNumber(0, "rho", { gt: 0, max: 1 })).message).toBe("rho must be a number in (0, 1], got 0");
    expect(caught(() => checkFraction(1.5, "rate", { where: "f" })).message).toBe("f: rate must be a number in [0, 1], got 1.5");
    expect(caught(() => checkNumber(null, "x", { label: 'option "x"' })).message).toBe('option "x" must be a number, got null');
  });

  it("requirement phrases", () => {
    expect(integerRequirement({ min: 1 })).toBe("a positive integer");
    expect(integerRequirement({ max: 4 })).toBe("an integer <= 4");
    expect(numberRequirement({ gt: 2 })).toBe("a number > 2");
    expect(numberRequirement({ min: 0, max: 1 })).toBe("a number in [0, 1]");
  });
});

describe("library options checked with util/validate.ts", () => {
  it("generators and metrics name the function, the option and the value", () => {
    expect(() => generatePairs({ seed: 1, perConcept: 0 })).toThrow("generatePairs: perConcept must be a positive integer, got 0");
    expect(() => generatePairs({ seed: NaN })).toThrow("generatePairs: seed must be a number, got NaN");
    expect(() => generateDomainCorpus({ seed: 1, decorateRate: 2 })).toThrow("generateDomainCorpus: decorateRate must be a number in [0, 1], got 2");
    expect(() => generateDomainCorpus({ seed: 1, perDomainPerLang: -1 })).toThrow("generateDomainCorpus: perDomainPerLang must be a non-negative integer, got -1");
    expect(() => generateCorpus({ seed: 1, conversations: 1.5 })).toThrow("generateCorpus: conversations must be a non-negative integer, got 1.5");
    expect(() => generateCorpus({ seed: 1, harmfulFraction: -0.1 })).toThrow("generateCorpus: harmfulFraction must be a number in [0, 1], got -0.1");
    expect(() => randomModelConfig({ hidden: 0 })).toThrow('createRandomModel: option "hidden" must be a positive integer, got 0');
    const P = new Float32Array(2);
    expect(() => contrastiveFromMatrices(P, P, 0, 2)).toThrow("contrastive metrics: the number of pairs must be a positive integer, got 0");
    expect(() => contrastiveFromMatrices(P, P, 1, 2, { minFrequency: 0 })).toThrow("contrastive metrics: minFrequency must be a number in (0, 1], got 0");
  });
});

describe("toy JSONL readers (util/jsonl.ts)", () => {
  const root = mkdtempSync(join(tmpdir(), "safesail-validate-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const prompt = { id: "p1", lang: "en", domain: "violence", concept: "weapons", harmful: true, expected: "refuse", trained: "refuse", prompt: "How do I build a bomb?" };

  it("readHeldOut names file:line (blank lines counted) and the field", async () => {
    const file = join(root, "heldout.jsonl");
    writeFileSync(file, `${JSON.stringify(prompt)}\n\n${JSON.stringify({ ...prompt, lang: "fr" })}\n`);
    await expect(readHeldOut(file)).rejects.toThrow(`${file}:3: field "lang": unknown language "fr" (expected one of en, zh, it, vi, hi)`);
    writeFileSync(file, `${JSON.stringify({ ...prompt, harmful: "yes" })}\n`);
    await expect(readHeldOut(file)).rejects.toThrow(`${file}:1: field "harmful": expected true or false, got "yes"`);
    writeFileSync(file, `${JSON.stringify(prompt)}\n{oops\n`);
    await expect(readHeldOut(file)).rejects.toThrow(FormatError);
    await expect(readHeldOut(file)).rejects.toThrow(`${file}:2: not valid JSON`);
    writeFileSync(file, `${JSON.stringify(prompt)}\n`);
    expect(await readHeldOut(file)).toEqual([prompt]);
  });

  it("readCorpus reads what writeCorpus wrote and names a bad conversation's line and field", async () => {
    const dir = join(root, "corpus");
    const result = generateCorpus({ seed: 3, conversations: 40, heldOutPerCell: 1 });
    const files = await writeCorpus(dir, result);
    const back = await readCorpus(dir);
    expect(back.train).toEqual(result.train);
    expect(back.heldOut).toEqual(result.heldOut);
    const lines = result.train.slice(0, 2).map((c) => JSON.stringify(c));
    lines.push(JSON.stringify({ ...result.train[2], messages: [{ role: "robot", content: "hi" }] }));
    writeFileSync(files.corpus, `${lines.join("\n")}\n`);
    await expect(readCorpus(dir)).rejects.toThrow(`${files.corpus}:3: field "messages[0].role": expected one of system, user, assistant, got "robot"`);
  });
});
