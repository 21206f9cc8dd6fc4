// Published pages in a real browser (the shared Chromium of widgets/tests/global-setup.ts), opened from file://
// with every request other than the page itself blocked and counted. The fixture notebook (widgets/src/publish/
// fixture.ts) untrusted and signed, notebooks/99-kernel-widgets.ipynb executed by the kernel, and the index:
// widgets render from their saved state, Plotly figures draw, hostile HTML never runs, nothing is fetched, and
// without JavaScript the text fallbacks show. A screenshot of each page goes to test-output/screenshots/.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureNotebook } from "../src/publish/fixture.ts";
import { loadEmbedJs, publishNotebooks, type PublishResult } from "../src/publish/index.ts";
import { connectBrowser, isolatedContext, screenshot } from "./browser.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "safesail.js");
const tmp = mkdtempSync(join(tmpdir(), "safesail-publish-browser-"));
const env = { ...process.env, JUPYTER_DATA_DIR: join(tmp, "jupyter-data") };

/** Flags the fixture's hostile payloads would set if any of them ran. */
const FLAGS = ["__ssMarkdown", "__ssMarkdownScript", "__ssStream", "__ssPlain", "__ssHtml", "__ssHtmlImg", "__ssWidget", "__ssOutput", "__ssSource", "__ssMdOut", "__ssPlot"];


let browser: Browser;
let site: PublishResult;
const url = (name: string) => pathToFileURL(join(tmp, "site", name)).href;

interface Opened {
  page: Page;
  context: BrowserContext;
  blocked: string[];
  requests: string[];
  dialogs: string[];
  errors: string[];
}

/** Opens a published page with only its own file:// URL allowed; every other request is blocked and recorded. */
async function open(name: string, { javaScript = true } = {}): Promise<Opened> {
  const pageUrl = url(name);
  let context: BrowserContext;
  let blocked: string[];
  let requests: string[];
  if (javaScript) {
    ({ context, blocked, requests } = await isolatedContext(browser, (u) => u === pageUrl));
  } else {
    // isolatedContext with JavaScript off (it takes no context options).
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled: false });
    blocked = [];
    requests = [];
    await context.route("**/*", (route) => {
      const u = route.request().url();
      requests.push(u);
      if (u === pageUrl) return route.continue();
      blocked.push(u);
      return route.abort("blockedbyclient");
    });
  }
  // Content-Security-Policy violations the page reports (the CSP blocks a fetch before any request is made, so
  // they are the other half of "nothing left the page").
  if (javaScript) {
    await context.addInitScript(() => {
      const w = window as unknown as { __cspViolations: string[] };
      w.__cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => w.__cspViolations.push(`${e.effectiveDirective} ${e.blockedURI}`));
    });
  }
  const page = await context.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(pageUrl, { waitUntil: "load" });
  if (javaScript) await page.waitForFunction(() => document.documentElement.hasAttribute("data-safesail-rendered"), undefined, { timeout: 60_000 });
  return { page, context, blocked, requests, dialogs, errors };
}

interface RenderResult {
  rendered: number;
  failed: number;
  errors: string[];
}

/** What the embed bundle reports once every figure and widget view is drawn (embed/index.ts). */
function ready(page: Page): Promise<RenderResult> {
  return page.evaluate(() => (window as unknown as { safesailEmbed: { ready: Promise<RenderResult> } }).safesailEmbed.ready);
}

function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
}

async function flags(page: Page): Promise<Record<string, unknown>> {
  return page.evaluate((names) => Object.fromEntries(names.map((n) => [n, (window as unknown as Record<string, unknown>)[n]]).filter(([, v]) => v !== undefined)), FLAGS);
}

beforeAll(async () => {
  const nbDir = join(tmp, "notebooks");
  mkdirSync(nbDir, { recursive: true });
  writeFileSync(join(nbDir, "fixture.ipynb"), JSON.stringify(fixtureNotebook(), null, 1));
  writeFileSync(join(nbDir, "signed.ipynb"), JSON.stringify(fixtureNotebook("Signed fixture"), null, 1));
  const sign = "import sys, nbformat\nfrom nbformat.sign import NotebookNotary\nNotebookNotary().sign(nbformat.read(sys.argv[1], as_version=nbformat.NO_CONVERT))";
  const signed = spawnSync("/usr/bin/python3", ["-c", sign, join(nbDir, "signed.ipynb")], { env, encoding: "utf8" });
  if (signed.status !== 0) throw new Error(`signing failed: ${signed.stderr}`);
  const run = spawnSync(process.execPath, [BIN, "notebooks", "run", join(ROOT, "notebooks", "99-kernel-widgets.ipynb"), "--out", nbDir], { env, cwd: ROOT, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`notebooks run failed:\n${run.stdout}\n${run.stderr}`);
  const embedJs = await loadEmbedJs();
  site = await publishNotebooks(["fixture.ipynb", "signed.ipynb", "99-kernel-widgets.ipynb"].map((f) => join(nbDir, f)), {
    out: join(tmp, "site"),
    embedJs,
    title: "Publish test supplement",
    trust: { env },
  });
  browser = await connectBrowser();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("published pages in Chromium, offline", () => {
  it("publishes the three notebooks with the expected trust", () => {
    expect(site.pages.map((p) => [p.title, p.trusted])).toEqual([
      ["Fixture: every output & input", false],
      ["Signed fixture", true],
      ["00 · The safesail kernel and widgets", true],
    ]);
  });

  it("the untrusted fixture: widgets and figures render from the page alone, no request, no hostile code runs", async () => {
    const o = await open("fixture.html");
    try {
      expect(o.blocked).toEqual([]);
      expect(o.requests).toEqual([url("fixture.html")]);
      const r = await ready(o.page);
      expect(r.failed, r.errors.join("\n")).toBe(0);
      expect(r.rendered).toBe(8); // 2 figures + slider, HBox, HTML, Output, MetricPlot, and the refused module's message

      // IntSlider with its saved value.
      const slider = o.page.locator(".widget-slider").first();
      await expect.poll(() => slider.count()).toBe(1);
      expect(await o.page.locator(".widget-slider .widget-readout").first().textContent()).toBe("7");
      // HBox with its two children: the label and the button (its Font Awesome icon from the inlined font).
      const hbox = o.page.locator(".widget-hbox");
      expect(await hbox.locator(":scope > *").count()).toBe(2);
      expect(await hbox.locator(".widget-label").textContent()).toBe("k² = 49");
      expect(await hbox.locator("button").innerText()).toContain("run");
      expect(await hbox.locator("button i.fa-check").count()).toBe(1);
      // Both Plotly figures drew (one Plotly on the page).
      expect(await o.page.locator(".ss-plotly .js-plotly-plot").count()).toBe(2);
      expect(await o.page.locator(".ss-plotly .js-plotly-plot svg.main-svg").count()).toBeGreaterThanOrEqual(2);
      expect(await o.page.locator(".ss-plotly .js-plotly-plot .gtitle").first().textContent()).toBe("first figure");
      // The HTML widget: its text shows, its <img onerror> did nothing.
      expect(await o.page.locator(".widget-html .ss-fixture-html").textContent()).toBe("safe widget text");
      expect(await o.page.locator(".widget-html img").count()).toBe(0);
      // The Output widget: captured stream and (sanitised, untrusted) HTML.
      expect(await o.page.locator(".widget-output").innerText()).toContain("printed inside the Output widget");
      expect(await o.page.locator(".widget-output .ss-fixture-output").textContent()).toBe("captured output");
      expect(await o.page.locator(".widget-output strong").textContent()).toBe("markdown in the Output widget");
      // The safesail MetricPlot view (module safesail-widgets) from saved state with binary buffers, drawn with
      // the page's one Plotly.
      const metric = o.page.locator('.safesail-widget[data-safesail-view="MetricPlot"]');
      await expect.poll(() => metric.getAttribute("data-revision")).toBe("3");
      expect(await metric.locator(".safesail-title").textContent()).toBe("L0,t by threshold");
      expect(await metric.locator(".js-plotly-plot svg.main-svg").count()).toBeGreaterThanOrEqual(1);
      expect(await metric.locator(".js-plotly-plot .ytitle").textContent()).toBe("L0,t"); // from plot_layout
      expect(await metric.locator("select.safesail-control-k").inputValue()).toBe("32");
      // A module the page does not bundle: a visible message in place of the widget, nothing loaded.
      const refused = o.page.locator(".safesail-widget-error");
      expect(await refused.innerText()).toContain("evil-widgets@1.0.0: not bundled in this page");
      // Fallbacks gave way to the live views; the unsaved widget keeps its text.
      expect(await o.page.locator(".ss-widget .ss-fallback, .ss-plotly .ss-fallback").count()).toBe(0);
      expect(await o.page.locator("text=Gone()").count()).toBe(1);
      // Nothing hostile ran.
      expect(await flags(o.page)).toEqual({});
      expect(o.dialogs).toEqual([]);
      expect(o.errors).toEqual([]);
      // Not even an attempt: sanitised HTML keeps data: images only, and nothing evaluates code from strings.
      await o.page.locator(".ss-plotly .js-plotly-plot").first().hover();
      expect(await cspViolations(o.page)).toEqual([]);
      await screenshot(o.page, "publish-fixture-untrusted");
    } finally {
      await o.context.close();
    }
  });

  it("the signed fixture: its own HTML output runs (trusted, as in Jupyter); widget HTML is still sanitised", async () => {
    const o = await open("signed.html");
    try {
      expect(o.blocked).toEqual([]);
      expect((await ready(o.page)).failed).toBe(0);
      // The trusted text/html output's script and handler ran, and so did the Output widget's captured HTML (its
      // outputs are as trusted as the notebook); the HTML widget's did not, and no dialog opened.
      expect(await flags(o.page)).toEqual({ __ssHtml: 1, __ssHtmlImg: 1, __ssOutput: 1 });
      expect(o.dialogs).toEqual([]);
      // Their <img src=x> is what the CSP stopped (twice: the output and the Output widget; Chromium reports a
      // file: URL by its scheme only), and nothing else.
      expect(await cspViolations(o.page)).toEqual(["img-src file", "img-src file"]);
      expect(await o.page.locator(".widget-html .ss-fixture-html").textContent()).toBe("safe widget text");
      expect(await o.page.locator(".ss-plotly .js-plotly-plot").count()).toBe(2);
      await screenshot(o.page, "publish-fixture-trusted");
    } finally {
      await o.context.close();
    }
  });

  it("notebook 99 executed by the kernel: the slider shows its saved value 7 and the label k² = 49", async () => {
    const o = await open("99-kernel-widgets.html");
    try {
      expect(o.blocked).toEqual([]);
      expect(await ready(o.page)).toMatchObject({ failed: 0, rendered: 1 });
      expect(await o.page.locator(".widget-vbox .widget-slider .widget-readout").textContent()).toBe("7");
      expect(await o.page.locator(".widget-vbox .widget-label", { hasText: "k²" }).textContent()).toBe("k² = 49");
      expect(await o.page.locator(".ss-stdout").first().textContent()).toBe("hello from the safesail kernel\n");
      expect(o.dialogs).toEqual([]);
      expect(o.errors).toEqual([]);
      expect(await cspViolations(o.page)).toEqual([]);
      await screenshot(o.page, "publish-99-kernel-widgets");
    } finally {
      await o.context.close();
    }
  });

  it("the index links every page by its title", async () => {
    const o = await open("index.html", { javaScript: false });
    try {
      expect(o.blocked).toEqual([]);
      expect(await o.page.locator("h1").textContent()).toBe("Publish test supplement");
      expect(await o.page.locator("li a").allTextContents()).toEqual(["Fixture: every output & input", "Signed fixture", "00 · The safesail kernel and widgets"]);
      expect(await o.page.locator("li a").first().getAttribute("href")).toBe("fixture.html");
      await screenshot(o.page, "publish-index");
    } finally {
      await o.context.close();
    }
  });

  it("without JavaScript the page reads as text: Markdown, code, outputs and the widget / figure fallbacks", async () => {
    const o = await open("fixture.html", { javaScript: false });
    try {
      expect(o.blocked).toEqual([]);
      const text = await o.page.locator("main").innerText();
      expect(text).toContain("Some Markdown with a GFM table");
      expect(text).toContain('const s = "</script><script>window.__ssSource=1</script>";');
      expect(text).toContain("hello <b>not bold</b>");
      expect(text).toContain("IntSlider(value=7, description='k')");
      expect(text).toContain("[widget: HTMLModel]");
      expect(text).toContain('<Plotly figure "first <b>figure</b>": 1 trace (scatter)>');
      expect(await o.page.locator("table").count()).toBe(1);
      expect(await o.page.locator(".js-plotly-plot, .widget-slider").count()).toBe(0);
      await screenshot(o.page, "publish-fixture-nojs");
    } finally {
      await o.context.close();
    }
  });
});
