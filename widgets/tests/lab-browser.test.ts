// The lab in a real browser: Debian's Chromium (playwright-core) against the lab that global-setup.ts started
// (JupyterLab 4.5.10 from npm, Debian's jupyter-server, the safesail kernel, the safesail-widgets extension).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBrowser, screenshot } from "./browser.ts";
import { labInfo, notebookJson, openNotebook, runAllCells, waitForIdle, writeNotebook } from "./lab.ts";

const HOSTILE = '<img src=x onerror="window.__pwned=1">';

let browser: Browser;
let context: BrowserContext;
const dialogs: string[] = [];
/** Uncaught errors in pages, and console errors from widget code (views must render without throwing). */
const pageErrors: string[] = [];
const offsite: string[] = [];

async function newPage(): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && /widget|safesail|plotly/i.test(m.text())) pageErrors.push(m.text());
  });
  page.on("dialog", (d) => {
    // "Leave the page?" on reload with unsaved changes is the lab's own prompt; anything else came from content.
    if (d.type() === "beforeunload") return void d.accept();
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  return page;
}

beforeAll(async () => {
  browser = await connectBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // The lab makes no request outside its own server.
  const { url } = labInfo();
  const origin = new URL(url).origin;
  await context.route("**/*", (route) => {
    const u = route.request().url();
    if (u.startsWith(origin) || u.startsWith("data:") || u.startsWith("blob:")) return route.continue();
    offsite.push(u);
    return route.abort("blockedbyclient");
  });
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
});

/** Trace y values Plotly holds for the MetricPlot in `page` (what is drawn, read back from the plot). */
async function drawnY(page: Page): Promise<number[][]> {
  return page.evaluate(() => {
    const plot = document.querySelector('.safesail-widget[data-safesail-view="MetricPlot"] .safesail-plot') as unknown as { data?: { y: ArrayLike<number> }[] };
    return (plot.data ?? []).map((t) => Array.from(t.y));
  });
}

describe("the lab", () => {
  it("starts with the safesail kernel and the extension, and makes no off-site request", async () => {
    writeNotebook("empty.ipynb", notebookJson(["1 + 1"]));
    const page = await newPage();
    await openNotebook(page, "empty.ipynb");
    await runAllCells(page);
    await expect.poll(() => page.locator(".jp-OutputArea-output").first().textContent()).toContain("2");
    const kernelName = await page.locator(".jp-KernelName, .jp-Toolbar-kernelName").first().textContent();
    expect(kernelName).toContain("TypeScript (safesail)");
    const extensions = await page.evaluate(() => JSON.parse(document.getElementById("jupyter-config-data")!.textContent!).federated_extensions.map((e: { name: string }) => e.name));
    expect(extensions).toContain("safesail-widgets");
    await screenshot(page, "lab-start");
    expect(offsite).toEqual([]);
    await page.close();
  });

  it("draws Plotly outputs from their JSON, also in an untrusted notebook and after a reload", async () => {
    // An output as the kernel writes it (figure JSON + HTML fallback), in a notebook with no signature: JupyterLab
    // opens it "Not Trusted", which blanked the HTML fallback before this renderer.
    const figure = { data: [{ x: [1, 2, 3], y: [3, 1, 2], type: "scatter", name: HOSTILE }], layout: { title: { text: HOSTILE } } };
    const output = {
      output_type: "display_data",
      metadata: {},
      data: {
        "application/vnd.plotly.v1+json": figure,
        "text/html": `<div>fallback<script>window.__pwned = 2</script></div>`,
        "text/plain": "Plotly figure",
      },
    };
    writeNotebook("untrusted-plot.ipynb", notebookJson(["// a figure made earlier"], { outputs: [[output]] }));
    const page = await newPage();
    await openNotebook(page, "untrusted-plot.ipynb", { waitKernel: false });
    const figureSel = '.safesail-widget[data-safesail-view="PlotlyFigure"] .main-svg';
    await page.waitForSelector(figureSel, { timeout: 30_000 });
    // The hostile trace name and title are drawn as text.
    await expect.poll(() => page.locator(".safesail-plotly .gtitle").first().textContent()).toBe(HOSTILE);
    await screenshot(page, "lab-untrusted-plot");
    await page.reload();
    await page.waitForSelector("body[data-safesail-lab=ready]", { state: "attached", timeout: 60_000 });
    await page.waitForSelector(figureSel, { timeout: 30_000 });
    const y = await page.evaluate(() => Array.from((document.querySelector(".safesail-plotly") as unknown as { data: { y: number[] }[] }).data[0]!.y));
    expect(y).toEqual([3, 1, 2]);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await screenshot(page, "lab-plot-after-reload");
    await page.close();
  });

  it("runs a notebook: a kernel-made figure and widgets render; hostile token strings show as text and run nothing", async () => {
    writeNotebook(
      "hostile.ipynb",
      notebookJson([
        `import { widgets, plot } from "safesail/kernel";\nconst token = ${JSON.stringify(HOSTILE)};\nwidgets.VBox([widgets.Label(token), widgets.IntSlider({ value: 4, max: 9, description: "k" })])`,
        `plot({ data: [{ x: [0, 1], y: [1, 0], type: "bar", name: token, text: [token, "ok"] }], layout: { title: { text: token } } })`,
      ]),
    );
    const page = await newPage();
    await openNotebook(page, "hostile.ipynb");
    // Shift-Enter twice: the shortcuts plugin binds JupyterLab's default keys.
    await page.locator(".jp-Cell").first().click();
    await page.keyboard.press("Escape");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.press("Shift+Enter");
    await waitForIdle(page);
    await page.waitForSelector(".widget-label", { timeout: 30_000 });
    expect(await page.locator(".widget-label").first().textContent()).toBe(HOSTILE);
    expect(await page.locator(".widget-slider").count()).toBe(1);
    await page.waitForSelector(".safesail-plotly .main-svg", { timeout: 30_000 });
    await expect.poll(() => page.locator(".safesail-plotly .gtitle").first().textContent()).toBe(HOSTILE);
    expect(await page.locator(".jp-OutputArea img[src='x']").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    await screenshot(page, "lab-hostile-token");
    await page.close();
  });

  it("shows the widgets of a notebook executed headless (saved widget state) without running it", async () => {
    const path = writeNotebook(
      "headless.ipynb",
      notebookJson([
        `import { widgets } from "safesail/kernel";\nconst s = widgets.IntSlider({ value: 3, max: 9, description: "saved" });\nwidgets.HBox([s, widgets.Label("kept")])`,
        `s.value = 7;`,
      ]),
    );
    const cli = join(import.meta.dirname, "..", "..", "bin", "safesail.js");
    const run = spawnSync(process.execPath, [cli, "notebooks", "run", path], { encoding: "utf8", timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const nb = JSON.parse(readFileSync(path, "utf8"));
    expect(Object.keys(nb.metadata.widgets["application/vnd.jupyter.widget-state+json"].state).length).toBeGreaterThan(0);
    const page = await newPage();
    await openNotebook(page, "headless.ipynb");
    // Nothing re-run: the slider comes from the notebook's saved state, at the value the second cell set.
    await page.waitForSelector(".widget-slider .widget-readout", { timeout: 30_000 });
    await expect.poll(() => page.locator(".widget-slider .widget-readout").first().textContent()).toBe("7");
    expect(await page.locator(".widget-label").allTextContents()).toEqual(expect.arrayContaining(["saved", "kept"]));
    await screenshot(page, "lab-headless-state");
    await page.close();
  });

  it("MetricPlot: moving the layer control makes the kernel recompute and the plot shows its traces", async () => {
    // compute() stands in for the metrics (a deterministic function of the controls): the test knows what the
    // kernel must send for each choice, and reads back what Plotly drew.
    writeNotebook(
      "metric-plot.ipynb",
      notebookJson([
        [
          `import { metricPlot } from "safesail/kernel";`,
          `const ts = [0, 0.25, 0.5, 0.75];`,
          `let calls = 0;`,
          `const mp = metricPlot({`,
          `  title: ${JSON.stringify("L0,t " + HOSTILE)},`,
          `  layers: [0, 1, 2, 3], sites: ["mlp_out", "resid_post"], ks: [8, 16],`,
          `  layer: 1, site: "mlp_out", k: 8,`,
          `  compute: async ({ layer, site, k }) => {`,
          `    calls += 1;`,
          `    await new Promise((r) => setTimeout(r, 50));`,
          `    const y = Float32Array.from(ts, (t) => layer * 10 + (site === "mlp_out" ? 1 : 2) + k / 100 - t);`,
          `    return { traces: [{ name: ${JSON.stringify(HOSTILE)}, x: Float32Array.from(ts), y, mode: "lines+markers" }], layout: { xaxis: { title: { text: "t" } } } };`,
          `  },`,
          `});`,
          `mp`,
        ].join("\n"),
      ]),
    );
    const page = await newPage();
    await openNotebook(page, "metric-plot.ipynb");
    await runAllCells(page);
    const root = page.locator('.safesail-widget[data-safesail-view="MetricPlot"]');
    await root.waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => Number(document.querySelector('[data-safesail-view="MetricPlot"]')?.getAttribute("data-revision") ?? "-1") >= 1, undefined, { timeout: 30_000 });
    const expected = (layer: number, site: string, k: number) => [0, 0.25, 0.5, 0.75].map((t) => Math.fround(layer * 10 + (site === "mlp_out" ? 1 : 2) + k / 100 - t));
    expect((await drawnY(page))[0]).toEqual(expected(1, "mlp_out", 8));
    expect(await root.locator(".safesail-title").textContent()).toBe("L0,t " + HOSTILE);
    await screenshot(page, "lab-metric-plot-before");

    const before = Number(await root.getAttribute("data-revision"));
    await root.locator("select.safesail-control-layer").selectOption("3");
    await page.waitForFunction((rev) => Number(document.querySelector('[data-safesail-view="MetricPlot"]')?.getAttribute("data-revision")) > rev, before, { timeout: 30_000 });
    await expect.poll(async () => (await drawnY(page))[0]).toEqual(expected(3, "mlp_out", 8));
    await root.locator("select.safesail-control-site").selectOption("resid_post");
    await expect.poll(async () => (await drawnY(page))[0], { timeout: 30_000 }).toEqual(expected(3, "resid_post", 8));
    expect(await root.getAttribute("data-status")).toBe("ready");
    expect(pageErrors).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await screenshot(page, "lab-metric-plot-after");
    await page.close();
  });
});
