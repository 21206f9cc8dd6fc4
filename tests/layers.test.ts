// The layering of src/ (ARCHITECTURE.md): a folder imports only from folders below it, and only data/, claims/ (the
// paper's claims measured on the embedded default) and the CLI import the embedded default (toy/). Read from the sources' import statements, so a new upward import fails here.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "..", "src");

/** Ground floor first. A unit is a top-level folder of src/ or a top-level file (without .ts). */
const LAYERS = ["errors", "safety", "refusal", "util", "progress", "storage", "formats", "engine", "model", "toy", "data", "activations", "sae", "metrics", "interpret", "db", "map", "steer", "serve", "claims", "cli"];
/** Who may import toy/ (the embedded default is one model among others, not the library's vocabulary). */
const TOY_IMPORTERS = new Set(["toy", "data", "claims", "cli"]);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const unitOf = (file: string): string => relative(SRC, file).split("/")[0]!.replace(/\.ts$/, "");

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/g)) out.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*"(\.[^"]+)"\s*\)/g)) out.push(m[1]!);
  return out;
}

describe("src/ layering", () => {
  const edges: { from: string; to: string; file: string; spec: string }[] = [];
  for (const file of sources(SRC)) {
    for (const spec of imports(file)) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + "/")) continue;
      edges.push({ from: unitOf(file), to: unitOf(target), file: relative(SRC, file), spec });
    }
  }

  it("knows every unit of src/", () => {
    const units = new Set(sources(SRC).map(unitOf));
    expect([...units].filter((u) => !LAYERS.includes(u))).toEqual([]);
    expect(edges.length).toBeGreaterThan(100);
  });

  it("has no upward import between units (and so no cycle between them)", () => {
    const upward = edges.filter((e) => e.from !== e.to && LAYERS.indexOf(e.to) > LAYERS.indexOf(e.from)).map((e) => `${e.file} imports ${e.spec}`);
    expect(upward).toEqual([]);
  });

  it("lets only data/ and the CLI import toy/", () => {
    const bad = edges.filter((e) => e.to === "toy" && !TOY_IMPORTERS.has(e.from)).map((e) => `${e.file} imports ${e.spec}`);
    expect(bad).toEqual([]);
  });
});
