// `safesail supplement` (docs/supplement.md): the checks made before anything runs, the output masking used to
// compare runs, and one real build made twice on a fast subset: a fixture notebook that computes numbers from the
// toy model (logits, seeded sampling, a Plotly figure, a widget, a timing) and one that fails. The two builds must
// compute the same numbers; the index, the pages and the manifest must exist and link to each other.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkOutFolder, defaultNotebooks, formatSeconds, resolveNotebooks } from "../src/cli/supplement/build.ts";
import { discoverSeeds, type Manifest } from "../src/cli/supplement/manifest.ts";
import { compareOutputs, compareSupplements, normaliseText, notebookOutputsOf, numbersIn } from "../src/cli/supplement/outputs.ts";
import { runCli } from "./helpers/cli.ts";

const ROOT = resolve(import.meta.dirname, "..");
const tmp = mkdtempSync(join(tmpdir(), "safesail-supplement-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const code = (source: string) => ({ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source });
const md = (source: string) => ({ cell_type: "markdown", metadata: {}, source });
const notebook = (cells: unknown[]) => ({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: "safesail", display_name: "TypeScript (safesail)", language: "typescript" }, language_info: { name: "typescript" } },
  cells,
});

function writeFixtures(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const numbers = notebook([
    md("# Numbers from the toy model\n\nLogits, seeded sampling, a figure, a widget."),
    code(
      'import { loadDefaultModel } from "safesail/model";\n' +
        "const t0 = performance.now();\n" +
        "const model = await loadDefaultModel();\n" +
        'const ids = model.toTokens("How do I bake bread?");\n' +
        "const { logits } = await model.runWithCache([ids], []);\n" +
        "const V = model.config.vocabSize;\n" +
        "const last = Array.from(logits.data.subarray((ids.length - 1) * V, (ids.length - 1) * V + 6), (x) => Number(x.toFixed(5)));\n" +
        "last",
    ),
    code('const out = await model.generate({ prompt: "Tell me a story", chat: true, maxNewTokens: 10, temperature: 0.9, topP: 0.95, seed: 7 });\n({ text: out.text, ids: out.ids })'),
    code('console.log(`loaded and ran in ${((performance.now() - t0) / 1000).toFixed(2)} s`);\n({ seconds: Number(((performance.now() - t0) / 1000).toFixed(3)), tokens: ids.length })'),
    code('import { plot } from "safesail/kernel";\nplot({ data: [{ type: "bar", y: last }], layout: { title: { text: "last-position logits" } } });'),
    code('import { widgets } from "safesail/kernel";\nwidgets.IntSlider({ value: ids.length, min: 0, max: 64, description: "tokens" })'),
  ]);
  const failing = notebook([md("# A notebook that fails"), code("const a = 1;\na"), code('throw new Error("fixture failure");'), code("a + 1")]);
  // Named like the claims notebook: its cell tagged "results-table" becomes the supplement's results.md.
  const claims = notebook([
    md("# Claims"),
    { ...code('import { markdown } from "safesail/kernel";\nmarkdown(`| claim | holds? |\\n| --- | --- |\\n| fixture | ${2 + 3 > 4 ? "yes" : "no"} |\\n`)'), metadata: { tags: ["results-table"] } },
  ]);
  const files = [join(dir, "00-numbers.ipynb"), join(dir, "01-fails.ipynb"), join(dir, "07-reproduce-claims.ipynb")];
  writeFileSync(files[0]!, JSON.stringify(numbers, null, 1));
  writeFileSync(files[1]!, JSON.stringify(failing, null, 1));
  writeFileSync(files[2]!, JSON.stringify(claims, null, 1));
  return files;
}

describe("supplement helpers", () => {
  it("masks durations, rates, timing keys, timestamps and temp paths, and nothing else", () => {
    expect(normaliseText("took 12.3 s (41 ms), 8.5 tok/s")).toBe("took <t> (<t>), <rate>");
    expect(normaliseText("100% · 1000/1000 · 87.0/s · 00:11 · done")).toBe("100% · 1000/1000 · <rate> · <t> · done");
    expect(normaliseText("{ seconds: 61.1, fvu: 0.1234, renderMs: 41 }")).toBe("{ seconds: <t>, fvu: 0.1234, renderMs: <t> }");
    expect(normaliseText('"wall_s": 3.5, "k": 32')).toBe('"wall_s": <t>, "k": 32');
    expect(normaliseText("at 2025-01-02T03:04:05.678Z in /tmp/abc-123/x.json")).toBe("at <time> in <tmp>");
    // Numbers that are not timings stay: scales, layers, counts, words that start with s.
    expect(normaliseText("s = 0.3: refused 4/10, 4 layers, 2 sentences, k 64")).toBe("s = 0.3: refused 4/10, 4 layers, 2 sentences, k 64");
    expect(numbersIn("FVU 0.25 at k 32 in 3.1 s")).toEqual(["0.25", "32"]);
  });

  it("writes run times as seconds, then minutes", () => {
    expect([formatSeconds(5.84), formatSeconds(59.96), formatSeconds(119.7), formatSeconds(371)]).toEqual(["5.8 s", "1 min 00 s", "2 min 00 s", "6 min 11 s"]);
  });

  it("finds the seeds a notebook passes", () => {
    expect(discoverSeeds([{ cell_type: "code", source: ["trainSae(r, { k, seed: 0 });\n", "buildMap(x, { seed: 3 }); const seed = 0;"] }, { cell_type: "markdown", source: "seed: 9" }])).toEqual([0, 3]);
  });

  it("picks every numbered notebook in order, less the 99 appendix, and resolves names and numbers", () => {
    const all = defaultNotebooks().map((f) => f.split("/").pop()!);
    expect(all.length).toBeGreaterThanOrEqual(6);
    expect(all).toEqual([...all].sort());
    expect(all.every((f) => /^\d\d-/.test(f) && !f.startsWith("99-"))).toBe(true);
    expect(resolveNotebooks(["00", "04-safe-sail-release", "99-kernel-widgets.ipynb"]).map((f) => f.split("/").pop())).toEqual(["00-model-runtime.ipynb", "04-safe-sail-release.ipynb", "99-kernel-widgets.ipynb"]);
    expect(() => resolveNotebooks(["no-such"])).toThrow(/no notebook "no-such"/);
  });

  it("replaces only an earlier supplement, and only with --overwrite", () => {
    const dir = join(tmp, "other");
    mkdirSync(dir, { recursive: true });
    checkOutFolder(join(tmp, "absent"), false);
    checkOutFolder(dir, false); // empty
    writeFileSync(join(dir, "notes.txt"), "mine");
    expect(() => checkOutFolder(dir, false)).toThrow(/exists \(use --overwrite/);
    expect(() => checkOutFolder(dir, true)).toThrow(/not a supplement folder/);
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ kind: "safesail-supplement" }));
    checkOutFolder(dir, true);
  });

  it("reports a changed number as a difference", () => {
    const diffs = compareOutputs("x.ipynb", [{ where: "cell 1, output 0 (text/plain)", text: "a\nfvu 0.25" }], [{ where: "cell 1, output 0 (text/plain)", text: "a\nfvu 0.26" }]);
    expect(diffs).toEqual([{ notebook: "x.ipynb", where: "cell 1, output 0 (text/plain)", a: "fvu 0.25", b: "fvu 0.26" }]);
  });

  it("checks its arguments before running anything", async () => {
    const missing = await runCli(["supplement", "--notebooks", "no-such-notebook", "--out", join(tmp, "never")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no notebook "no-such-notebook"/);
    // `safesail demo` replaces an earlier supplement, never another folder.
    const taken = join(tmp, "taken");
    mkdirSync(taken, { recursive: true });
    writeFileSync(join(taken, "keep.txt"), "x");
    const notOurs = await runCli(["demo", "--notebooks", "00", "--out", taken]);
    expect(notOurs.code).toBe(1);
    expect(notOurs.stderr).toMatch(/not a supplement folder/);
    expect(readFileSync(join(taken, "keep.txt"), "utf8")).toBe("x");
    expect(existsSync(join(tmp, "never"))).toBe(false);
  }, 60_000);
});

describe("safesail supplement, built twice on a fast subset", () => {
  it("runs, publishes, marks a failure, and gives the same numbers twice", async () => {
    const files = writeFixtures(join(tmp, "nb"));
    // The kernelspec installed once (as notebooks-all does), signatures in a private Jupyter data dir.
    const prefix = join(tmp, "prefix");
    const install = await runCli(["kernel", "install", "--prefix", prefix]);
    expect(install.code, install.stderr).toBe(0);
    const env = { JUPYTER_PATH: join(prefix, "share", "jupyter"), JUPYTER_DATA_DIR: join(tmp, "jupyter-data") };
    const outs = [join(tmp, "a", "supplement"), join(tmp, "b", "supplement")];
    const [a, b] = outs as [string, string];
    // First build: three notebooks; one fails, the run goes on, exit 1.
    const first = await runCli(["supplement", "--notebooks", files.join(","), "--out", outs[0]!, "--title", "Fixture supplement"], env);
    expect(first.code, first.stdout + first.stderr).toBe(1);
    expect(first.stdout).toMatch(/\[1\/3\] 00-numbers\.ipynb\s+passed/);
    expect(first.stdout).toMatch(/\[2\/3\] 01-fails\.ipynb\s+FAILED\s+[\d.]+ s\s+cell 2: Error: fixture failure/);
    // The claims table, from this run's claims notebook; it is not the committed docs/results.md, and says so.
    expect(readFileSync(join(outs[0]!, "results.md"), "utf8")).toBe("| claim | holds? |\n| --- | --- |\n| fixture | yes |\n");
    expect(first.stdout + first.stderr).toContain("results.md differs from the committed docs/results.md");
    expect(first.stdout).toContain(`open:     file://${join(outs[0]!, "index.html")}`);
    // Second build: the notebook with numbers again (a kernel start saved); it passes, exit 0.
    const second = await runCli(["supplement", "--notebooks", files[0]!, "--out", outs[1]!, "--title", "Fixture supplement"], env);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toMatch(/the notebook passed/);

    for (const out of outs) {
      const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as Manifest;
      expect(manifest.kind).toBe("safesail-supplement");
      expect(manifest.ok).toBe(out === b);
      expect(manifest.environment.node).toBe(process.version);
      expect(manifest.environment.packages["onnxruntime-node"]).toMatch(/^\d+\.\d+/);
      expect(manifest.environment.python.packages.nbclient).toMatch(/^\d/);
      expect(manifest.seeds.policy).toMatch(/Fixed seeds/);
      const model = manifest.inputs.find((t) => t.folder === "models/toy-safety-qwen2")!;
      expect(model.files.map((f) => f.path)).toContain("models/toy-safety-qwen2/model.safetensors");
      expect(model.files.some((f) => f.path.startsWith("models/toy-safety-qwen2/saes/"))).toBe(true);
      expect(manifest.inputs.find((t) => t.folder === "data")!.files.length).toBeGreaterThan(0);
      const [numbers, fails] = manifest.notebooks;
      if (out === a) expect(manifest.results).toEqual({ file: "results.md", notebook: "notebooks/07-reproduce-claims.ipynb", matches_committed: false });
      else expect(manifest.results).toBeNull();
      expect(numbers).toMatchObject({ ok: true, title: "Numbers from the toy model", seeds: [7], executed: "notebooks/00-numbers.ipynb", page: "00-numbers.html" });
      expect(numbers!.widgets).toBeGreaterThanOrEqual(1);
      expect(numbers!.seconds).toBeGreaterThan(0);
      if (out === a) expect(fails).toMatchObject({ ok: false, error: { cell: 2, ename: "Error", evalue: "fixture failure" }, page: "01-fails.html" });
      else expect(fails).toBeUndefined();

      // The index links the pages, the executed notebooks and the manifest; each page links back.
      const index = readFileSync(join(out, "index.html"), "utf8");
      expect(index).toContain("<h1>Fixture supplement</h1>");
      expect(index).toContain('href="manifest.json"');
      for (const e of manifest.notebooks) {
        expect(index).toContain(`href="${e.page}"`);
        expect(index).toContain(`href="${e.executed}"`);
        expect(index).toContain(e.title);
        expect(existsSync(join(out, e.page!))).toBe(true);
        expect(existsSync(join(out, e.executed!))).toBe(true);
        expect(readFileSync(join(out, e.page!), "utf8")).toContain('href="index.html"');
      }
      if (out === a) expect(index).toMatch(/ss-bad[^]*A notebook that fails[^]*failed[^]*cell 2: Error: fixture failure/);
      else expect(index).toContain("The notebook ran without an error.");
      if (out === a) expect(index).toMatch(/<a href="results\.md">results\.md<\/a>: the paper's claims[^]*differs from the repository's docs\/results\.md/);
      else expect(index).not.toContain("results.md");
      // The page carries the live widget and the figure (embed bundle and saved state), nothing fetched.
      const page = readFileSync(join(out, "00-numbers.html"), "utf8");
      expect(page).toContain('id="safesail-page"');
      expect(page).not.toMatch(/<script[^>]+src=/);
      expect(existsSync(join(out, "logs", "kernel.log"))).toBe(true);
    }

    // Same numbers: every output and the widget state, timings masked.
    const c = compareSupplements(a, b);
    expect(c.compared).toEqual(["00-numbers.ipynb"]);
    expect(c.onlyIn).toEqual({ a: ["01-fails.ipynb", "07-reproduce-claims.ipynb"], b: [] });
    expect(c.differences).toEqual([]);
    const records = notebookOutputsOf(join(a, "notebooks", "00-numbers.ipynb"));
    const all = records.map((r) => r.text).join("\n");
    expect(numbersIn(all).length).toBeGreaterThan(20); // the logits, the sampled ids, the figure's data
    expect(all).toContain("seconds: <t>");
    expect(records.some((r) => r.where.startsWith("widget W0 (IntSliderModel)"))).toBe(true);
    // The same check from the command line: the extra notebook in A is reported, so it exits 1.
    const cli = await runCli(["supplement", "compare", a, b]);
    expect(cli.code, cli.stdout).toBe(1);
    expect(cli.stdout).toContain("only in");
    expect(cli.stdout).toMatch(/^different: 0 of \d+ outputs differ across 1 notebooks compared/m);
  }, 240_000);
});
