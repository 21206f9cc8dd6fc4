// Render times of the StarMap views in Chromium (Debian's, via playwright-core), from saved widget state on a page
// made by `safesail publish`: no lab and no kernel in the measurement, only the views' own work.
//
//   npx tsx bench/starmap-render.ts [--n 10] [--synthetic] [--tokens 512] [--layers 4]
//
// 1. TokenActivations, `--tokens` tokens x `--layers` SAE layers x 5 features (the target: 512 x 4 under
//    100 ms): the first render (data-render-ms: DOM built, colours applied, layout forced), and a token click until
//    its feature table is laid out, and until the next frame is painted.
// 2. StarMap with the 4,700 features of the released Safe-SAIL English database (its map built here by src/map,
//    seed 0), or `--synthetic` points: the first Plotly draw (data-render-ms), WebGL (scattergl) on a page without
//    a Content-Security-Policy, and SVG on the published page as written (its policy forbids what regl needs).
// 3. Page load until every view is drawn (data-safesail-rendered), both pages.
// Plus the kernel side: the time to turn the map into widget state and the size of the comm_open message.
// The widget state is made in-process (the widgets on the fake kernel of kernel/tests/widgets-fake.ts), written
// into a notebook as `safesail notebooks run` writes it, and published. Medians with the 10th-90th percentile range
// over `--n` page loads. Not a CI test.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { chromium, type Page } from "playwright-core";
import { attachWidgets, starMap, tokenActivations, type FeatureMapInput, type TokenView } from "../kernel/src/widgets/index.ts";
import { setKernel } from "../kernel/src/widgets/kernel.ts";
import { FakeKernel } from "../kernel/tests/widgets-fake.ts";
import { buildMap, readMapSource } from "../src/map/index.ts";
import { loadEmbedJs, publishNotebooks } from "../widgets/src/publish/index.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../widgets/tests/chromium.ts";

const { values } = parseArgs({
  options: { n: { type: "string", default: "10" }, synthetic: { type: "boolean", default: false }, tokens: { type: "string", default: "512" }, layers: { type: "string", default: "4" } },
});
const N = Number(values.n);
const TOKENS = Number(values.tokens);
const LAYERS = Array.from({ length: Number(values.layers) }, (_, i) => i);

function summary(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  return `median ${q(0.5).toFixed(1)} ms (p10-p90 ${q(0.1).toFixed(1)}-${q(0.9).toFixed(1)}, n=${s.length})`;
}

/** A synthetic token view: every 64th token a special one, 5 features per token and layer over 300 per layer. */
function tokenView(n: number, layers: number[]): TokenView {
  const domains = ["violence", "terror", "politics", "pornography", ""];
  const tokens = Array.from({ length: n }, (_, i) => ({ text: i % 64 === 0 ? "<|im_start|>" : ` w${i}`, special: i % 64 === 0 }));
  const rows: TokenView["rows"][number][] = [];
  for (let i = 0; i < n; i++) {
    if (tokens[i]!.special) continue;
    for (const l of layers) {
      for (let j = 0; j < 5; j++) {
        const idx = (i * 7 + j * 13 + l) % 300;
        const d = domains[idx % 5]!;
        rows.push({ token: i, layer: l, feature: `${l}_${idx}`, normalised: ((i * 31 + j * 17 + l * 7) % 100) / 100, activation: 1, explanation: `synthetic feature ${l}_${idx} about ${d || "nothing in particular"}`, score: (idx % 10) / 10, tags: d ? [d] : [] });
      }
    }
  }
  return { tokens, answerStart: Math.floor(n / 2), layers, rows };
}

function syntheticMap(n: number): FeatureMapInput {
  const tags = ["violence", "terror", "politics", "pornography"];
  return {
    points: Array.from({ length: n }, (_, i) => ({ id: `${i % 24}_${i}`, x: Math.cos(i * 0.37) * (i % 97), y: Math.sin(i * 0.37) * (i % 89), cluster: i % 40, tags: i % 5 ? [tags[i % 4]!] : [], explanation: `synthetic explanation ${i} of a feature that fires on words about ${tags[i % 4]}`, score: i % 3 ? (i % 100) / 100 : null })),
    clusters: Array.from({ length: 40 }, (_, c) => ({ label: `cluster ${c}` })),
  };
}

/** The saved widget state of the widgets opened on `k`, as the kernel's notebook runner writes it. */
function savedState(k: FakeKernel): Record<string, unknown> {
  const state: Record<string, unknown> = {};
  for (const s of k.sent.filter((x) => x.kind === "open")) {
    const st = s.data.state as Record<string, unknown>;
    state[s.commId] = {
      model_name: st._model_name,
      model_module: st._model_module,
      model_module_version: st._model_module_version,
      state: st,
      buffers: (s.data.buffer_paths as unknown[]).map((path, i) => ({ path, encoding: "base64", data: Buffer.from(s.buffers[i]!).toString("base64") })),
    };
  }
  return { version_major: 2, version_minor: 0, state };
}

async function measure(page: Page, url: string): Promise<Record<string, number>> {
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.documentElement.hasAttribute("data-safesail-rendered"), undefined, { timeout: 120_000 });
  await page.waitForFunction(() => document.querySelector('[data-safesail-view="StarMap"]')?.hasAttribute("data-render-ms"), undefined, { timeout: 120_000 });
  return page.evaluate(async () => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    const loaded = performance.now() - nav.startTime;
    const ta = document.querySelector('[data-safesail-view="TokenActivations"]') as HTMLElement;
    const sm = document.querySelector('[data-safesail-view="StarMap"]') as HTMLElement;
    const span = ta.querySelectorAll(".safesail-tok")[101] as HTMLElement;
    const t0 = performance.now();
    span.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    void ta.offsetHeight;
    const clickSync = performance.now() - t0;
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const clickFrame = performance.now() - t0;
    return {
      tokenRender: Number(ta.dataset.renderMs),
      clickSync,
      clickFrame,
      rows: ta.querySelectorAll("table.safesail-ta-features tbody tr").length,
      mapRender: Number(sm.dataset.renderMs),
      webgl: sm.dataset.renderer === "webgl" ? 1 : 0,
      points: Number(sm.dataset.points),
      loaded,
    };
  });
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "bench-starmap-"));
  try {
    let map: FeatureMapInput;
    if (values.synthetic) map = syntheticMap(4700);
    else {
      const db = resolve(import.meta.dirname, "../data/safe-sail/safe-sail-en_db.json");
      const t = performance.now();
      const { records } = await readMapSource(db);
      map = await buildMap(records, { seed: 0 });
      console.log(`map of ${db}: ${map.points.length} points, built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    const k = new FakeKernel();
    attachWidgets(k);
    const view = tokenView(TOKENS, LAYERS);
    const ta = tokenActivations({ analyse: () => view, initial: view, title: `${TOKENS} tokens × ${LAYERS.length} layers` });
    let t = performance.now();
    const sm = starMap({ map, title: "StarMap" });
    const stateMs = performance.now() - t;
    const open = k.sent.find((s) => s.kind === "open" && s.commId === sm.modelId)!;
    const jsonBytes = JSON.stringify(open.data).length;
    const bufferBytes = open.buffers.reduce((a, b) => a + b.byteLength, 0);
    console.log(`kernel: StarMap state for ${map.points.length} points in ${stateMs.toFixed(1)} ms; comm_open ${(jsonBytes / 1e6).toFixed(2)} MB JSON + ${(bufferBytes / 1e6).toFixed(2)} MB in ${open.buffers.length} buffers`);
    console.log(`kernel: TokenActivations ${TOKENS} tokens, ${ta.rows.token.length} rows, ${ta.features.length} features`);
    const view_ = (w: { modelId: string; repr(n?: number): string }) => ({
      output_type: "display_data", metadata: {},
      data: { "application/vnd.jupyter.widget-view+json": { model_id: w.modelId, version_major: 2, version_minor: 0 }, "text/plain": w.repr(110) },
    });
    const nb = {
      cells: [ta, sm].map((w, i) => ({ cell_type: "code", execution_count: i + 1, id: `c${i}`, metadata: {}, outputs: [view_(w)], source: "" })),
      metadata: { kernelspec: { display_name: "TypeScript (safesail)", language: "typescript", name: "safesail" }, widgets: { "application/vnd.jupyter.widget-state+json": savedState(k) } },
      nbformat: 4, nbformat_minor: 5,
    };
    setKernel(undefined);
    const nbPath = join(tmp, "starmap-bench.ipynb");
    writeFileSync(nbPath, JSON.stringify(nb));
    const site = await publishNotebooks([nbPath], { out: join(tmp, "site"), embedJs: await loadEmbedJs(), title: "bench", trust: { env: { ...process.env, JUPYTER_DATA_DIR: join(tmp, "jupyter") } } });
    const published = site.pages[0]!.path;
    // The same page without its Content-Security-Policy, so scattergl can compile (what the lab does).
    const open_ = join(tmp, "site", "no-csp.html");
    writeFileSync(open_, readFileSync(published, "utf8").replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, ""));

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      for (const [name, file] of [["no CSP (WebGL)", open_], ["published (SVG)", published]] as const) {
        const runs: Record<string, number>[] = [];
        for (let i = 0; i < N + 1; i++) {
          const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
          const r = await measure(page, pathToFileURL(file).href);
          await page.close();
          if (i > 0) runs.push(r); // the first load warms the disk cache and the browser
        }
        const col = (k: string) => runs.map((r) => r[k]!);
        console.log(`\n${name}: StarMap ${runs[0]!.points} points drawn with ${runs[0]!.webgl ? "WebGL (scattergl)" : "SVG (scatter)"}`);
        console.log(`  TokenActivations ${TOKENS} x ${LAYERS.length} first render (build + layout): ${summary(col("tokenRender"))}`);
        console.log(`  token click -> table (${runs[0]!.rows} rows) laid out: ${summary(col("clickSync"))}; to the next frame: ${summary(col("clickFrame"))}`);
        console.log(`  StarMap first draw (Plotly.react): ${summary(col("mapRender"))}`);
        console.log(`  page load -> every view drawn: ${summary(col("loaded"))}`);
      }
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
