// Published page sizes (`safesail publish`), against nbconvert's HTML export as a reference. Not a CI test; the
// figures go to docs/publish.md.
//
//   npx tsx bench/publish.ts [--executed FILE.ipynb] [--json FILE]
//
// 1. Builds the embed bundle (widgets/dist/embed.js) and prints its size and its largest parts.
// 2. Executes notebooks/99-kernel-widgets.ipynb with the real kernel (`safesail notebooks run`, about 10-20 s;
//    --executed FILE skips this and publishes FILE instead) and publishes it: page size, raw and gzipped.
// 3. Publishes the test fixture (widgets/src/publish/fixture.ts: two Plotly outputs that each carry plotly.js in
//    their HTML fallback, widgets, images): page size and how many copies of plotly.js the page holds.
// 4. Exports both notebooks with Debian's `/usr/bin/python3 -m nbconvert --to html` (when installed): size, copies
//    of plotly.js, and how many scripts the export loads from outside the file (<script src>, <link href>, the
//    widget renderer it injects from unpkg.com), which is why it shows no widgets offline.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { fixtureNotebook } from "../widgets/src/publish/fixture.ts";
import { publishNotebooks } from "../widgets/src/publish/index.ts";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const BIN = join(ROOT, "bin", "safesail.js");
const PYTHON = "/usr/bin/python3";
const PLOTLY_MARKER = "No DOM element with id"; // a string literal that occurs once in plotly.js

const { values } = parseArgs({ options: { executed: { type: "string" }, json: { type: "string" } } });

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
const tmp = mkdtempSync(join(tmpdir(), "safesail-bench-publish-"));
const env = { ...process.env, JUPYTER_DATA_DIR: join(tmp, "jupyter-data") };
const results: Record<string, unknown> = {};

try {
  // 1. The bundle.
  const build = (await import(pathToFileURL(join(ROOT, "widgets", "scripts", "build-embed.mjs")).href)) as {
    buildEmbed(): Promise<{ bytes: number; seconds: number; packages: { name: string; bytes: number }[] }>;
  };
  const bundle = await build.buildEmbed();
  const bundleText = readFileSync(join(ROOT, "widgets", "dist", "embed.js"));
  console.log(`embed bundle: ${mb(bundle.bytes)} (gzip ${mb(gzipSync(bundleText).length)}), built in ${bundle.seconds.toFixed(1)} s`);
  for (const p of bundle.packages.slice(0, 8)) console.log(`  ${(p.bytes / 1e3).toFixed(0).padStart(6)} kB  ${p.name}`);
  results.bundle = { bytes: bundle.bytes, gzip: gzipSync(bundleText).length, packages: bundle.packages.slice(0, 15) };

  // 2. Notebook 99, executed by the kernel.
  const nbDir = join(tmp, "notebooks");
  mkdirSync(nbDir, { recursive: true });
  let executed = values.executed ? resolve(values.executed) : join(nbDir, "99-kernel-widgets.ipynb");
  if (!values.executed) {
    const t0 = performance.now();
    const run = spawnSync(process.execPath, [BIN, "notebooks", "run", join(ROOT, "notebooks", "99-kernel-widgets.ipynb"), "--out", nbDir], { env, cwd: ROOT, encoding: "utf8" });
    if (run.status !== 0) throw new Error(`notebooks run failed:\n${run.stdout}\n${run.stderr}`);
    console.log(`executed notebooks/99-kernel-widgets.ipynb in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  writeFileSync(join(nbDir, "fixture.ipynb"), JSON.stringify(fixtureNotebook(), null, 1));
  const fixture = join(nbDir, "fixture.ipynb");

  const rows: string[][] = [["notebook", "notebook file", "safesail publish", "gzip", "plotly.js copies", "nbconvert --to html", "its plotly.js copies", "its outside loads"]];
  for (const nb of [executed, fixture]) {
    const t0 = performance.now();
    const r = await publishNotebooks([nb], { out: join(tmp, "site", basename(nb, ".ipynb")), trust: { env } });
    const seconds = (performance.now() - t0) / 1000;
    const page = readFileSync(r.pages[0]!.path);
    const text = page.toString("utf8");
    const copies = text.split(PLOTLY_MARKER).length - 1;
    let nbconvert: { bytes: number; network: number; plotlyCopies: number } | null = null;
    if (existsSync(PYTHON)) {
      const out = join(tmp, "nbconvert");
      const c = spawnSync(PYTHON, ["-m", "nbconvert", "--to", "html", "--output-dir", out, nb], { env, encoding: "utf8" });
      const file = join(out, `${basename(nb, ".ipynb")}.html`);
      if (c.status === 0 && existsSync(file)) {
        const html = readFileSync(file, "utf8");
        // <script src> / <link href> (Debian's nbconvert points require.js and MathJax at file:///usr/share/javascript,
        // upstream at CDNs) and the widget renderer it injects from unpkg.com.
        const network = (html.match(/<script[^>]*\ssrc=|<link[^>]*\shref=|widgetRendererSrc\s*=\s*'https?:/gi) ?? []).length;
        nbconvert = { bytes: Buffer.byteLength(html), network, plotlyCopies: html.split(PLOTLY_MARKER).length - 1 };
      } else {
        console.log(`nbconvert failed on ${basename(nb)}: ${c.stderr.trim().split("\n").pop()}`);
      }
    }
    const nbBytes = readFileSync(nb).length;
    rows.push([
      basename(nb),
      mb(nbBytes),
      `${mb(page.length)} (${seconds.toFixed(1)} s)`,
      mb(gzipSync(page).length),
      String(copies),
      nbconvert ? `${mb(nbconvert.bytes)} (x${(page.length / nbconvert.bytes).toFixed(1)})` : "n/a",
      nbconvert ? String(nbconvert.plotlyCopies) : "n/a",
      nbconvert ? String(nbconvert.network) : "n/a",
    ]);
    results[basename(nb)] = { notebook: nbBytes, page: page.length, gzip: gzipSync(page).length, seconds, plotlyCopies: copies, trusted: r.pages[0]!.trusted, nbconvert };
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log("");
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
  console.log("\n(x N: the published page is N times the nbconvert export; outside loads: the export's <script src>, <link href> and\n its widget renderer from unpkg.com, none of which a reader offline has)");
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2) + "\n");
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
