// The StarMap widgets (TokenActivations, StarMap, LayerTrajectory) in a real browser: the shared lab and Chromium of
// global-setup.ts run one notebook (fixtures/starmap-notebook.ts, plain data, no model) and the test drives the
// views as a user would: type a prompt and watch the answer stream in, click a token for its feature table and
// filter it, search and select on the map (box drag and "select matches"), hover and click the trajectory. What the
// kernel ends up with is read back by running a cell. Then the same notebook, executed headless by `safesail
// notebooks run` and published, is opened from file:// with every other request blocked: the views render from
// the saved state alone. Hostile explanations, a hostile cluster label and hostile token text must show as text
// and run nothing. Screenshots go to test-output/screenshots/starmap-*.png.
import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEmbedJs, publishNotebooks } from "../src/publish/index.ts";
import { connectBrowser, isolatedContext, screenshot } from "./browser.ts";
import {
  ANSWER,
  CENTRES,
  CLUSTER_RADIUS,
  demoMap,
  demoTokens,
  demoTrajectory,
  FEATURES,
  FIRST_PROMPT,
  HOSTILE_IMG,
  HOSTILE_LABEL,
  LEXICON,
  lexiconKey,
  READ_CELL,
  starmapCells,
} from "./fixtures/starmap-notebook.ts";
import { labInfo, notebookJson, openNotebook, runAllCells, waitForIdle, writeNotebook } from "./lab.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const NOTEBOOK = "starmap-widgets.ipynb";
const FIRST_CLICK = demoTokens(FIRST_PROMPT).findIndex((t) => lexiconKey(t.text) === "bomb");
const SECOND_PROMPT = "Is a weapon OK to make?";
const MAP = demoMap();

let browser: Browser;
let context: BrowserContext;
let page: Page;
const dialogs: string[] = [];
const pageErrors: string[] = [];
const offsite: string[] = [];

const view = (name: string): Locator => page.locator(`.safesail-widget[data-safesail-view="${name}"]`);
const pwned = (p: Page) => p.evaluate(() => (window as unknown as { __pwned?: number }).__pwned);

/** Runs the read-back cell and returns what the kernel holds (its one line of JSON). */
async function kernelState(): Promise<Record<string, unknown>> {
  await page.evaluate(async (index) => {
    const app = (window as unknown as { jupyterapp: { shell: { currentWidget: { content: { activeCellIndex: number } } }; commands: { execute(id: string): Promise<unknown> } } }).jupyterapp;
    app.shell.currentWidget.content.activeCellIndex = index;
    await app.commands.execute("notebook:run-cell");
  }, READ_CELL);
  await waitForIdle(page);
  const text = await page.locator(".jp-Cell").nth(READ_CELL).locator(".jp-OutputArea-output").last().textContent();
  return JSON.parse((text ?? "").trim().split("\n").at(-1)!);
}

/** The features the demo table lists for a token, in the view's order (layer, then normalised activation). */
function expectedRows(token: string): { id: string; normalised: number }[] {
  return (LEXICON[lexiconKey(token)] ?? [])
    .map(([id, normalised]) => ({ id, normalised, layer: Number(id.split("_")[0]) }))
    .sort((a, b) => a.layer - b.layer || b.normalised - a.normalised);
}

beforeAll(async () => {
  browser = await connectBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const origin = new URL(labInfo().url).origin;
  await context.route("**/*", (route) => {
    const u = route.request().url();
    if (u.startsWith(origin) || u.startsWith("data:") || u.startsWith("blob:")) return route.continue();
    offsite.push(u);
    return route.abort("blockedbyclient");
  });
  writeNotebook(NOTEBOOK, notebookJson(starmapCells({ firstClick: FIRST_CLICK })));
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && /widget|safesail|plotly|webgl/i.test(m.text())) pageErrors.push(m.text());
  });
  page.on("dialog", (d) => {
    if (d.type() === "beforeunload") return void d.accept();
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
});

describe("StarMap widgets in the lab", () => {
  it("runs the notebook: the three views render the kernel's state", async () => {
    await openNotebook(page, NOTEBOOK);
    await runAllCells(page, 180_000);
    const ta = view("TokenActivations").first();
    await ta.waitFor({ timeout: 30_000 });
    await expect.poll(() => ta.getAttribute("data-revision"), { timeout: 30_000 }).toBe("1");
    const tokens = demoTokens(FIRST_PROMPT);
    expect(await ta.locator(".safesail-tok").allTextContents()).toEqual(tokens.map((t) => t.text));
    // The table of the token the notebook clicked (ta.token = 7): " bomb?" and its three features.
    expect(await ta.locator(".safesail-ta-features .safesail-ta-id").allTextContents()).toEqual(expectedRows(tokens[FIRST_CLICK]!.text).map((r) => r.id));
    await view("StarMap").scrollIntoViewIfNeeded();
    await expect.poll(() => view("StarMap").getAttribute("data-revision"), { timeout: 30_000 }).toBe("1");
    await view("LayerTrajectory").scrollIntoViewIfNeeded();
    await expect.poll(() => view("LayerTrajectory").getAttribute("data-nodes"), { timeout: 30_000 }).toBe(String(demoTrajectory().nodes.length));
    expect(pageErrors).toEqual([]);
  });

  it("TokenActivations: type a prompt, the answer streams, the tokens show; click one and its feature table appears", async () => {
    const ta = view("TokenActivations").first();
    await ta.scrollIntoViewIfNeeded();
    // Typed key by key: the notebook's command-mode shortcuts (a, b, d d, ...) must not fire from the prompt box.
    const cellCount = await page.locator(".jp-Cell").count();
    await ta.locator("textarea.safesail-ta-prompt").fill("");
    await ta.locator("textarea.safesail-ta-prompt").pressSequentially(SECOND_PROMPT);
    expect(await ta.locator("textarea.safesail-ta-prompt").inputValue()).toBe(SECOND_PROMPT);
    expect(await page.locator(".jp-Cell").count()).toBe(cellCount);
    await ta.locator("button.safesail-ta-generate").click();
    // The answer grows in the stream area while the kernel generates (one word per 150 ms).
    const stream = ta.locator(".safesail-ta-stream");
    const seen: string[] = [];
    await expect.poll(async () => {
      const text = (await stream.isVisible()) ? ((await stream.textContent()) ?? "") : "";
      if (text && seen.at(-1) !== text) seen.push(text);
      return ta.getAttribute("data-revision");
    }, { timeout: 30_000, interval: 40 }).toBe("2");
    expect(seen.length, `stream snapshots: ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(2);
    for (const s of seen) expect(ANSWER.startsWith(s)).toBe(true);
    expect(seen.some((s) => s.length < ANSWER.length)).toBe(true);
    expect(await stream.isVisible()).toBe(false);

    const tokens = demoTokens(SECOND_PROMPT);
    const spans = ta.locator(".safesail-tok");
    expect(await spans.allTextContents()).toEqual(tokens.map((t) => t.text));
    expect(await ta.locator(".safesail-ta-answer .safesail-tok").allTextContents()).toEqual(tokens.slice(tokens.findIndex((t) => t.text === "assistant") + 2).map((t) => t.text));
    // Special tokens are greyed and never coloured, even the first one, which the refusal track gives 0.9.
    const special = tokens.flatMap((t, i) => (t.special ? [i] : []));
    expect(await ta.locator(".safesail-tok-special").count()).toBe(special.length);
    // The colouring feature is the strongest overall (summed normalised activation over the rows): 3_11.
    const sums = new Map<string, number>();
    for (const t of tokens) if (!t.special) for (const [id, v] of LEXICON[lexiconKey(t.text)] ?? []) sums.set(id, (sums.get(id) ?? 0) + v);
    const strongest = [...sums].sort((a, b) => b[1] - a[1])[0]![0];
    expect(await ta.locator("select.safesail-ta-feature").inputValue()).toBe(strongest);
    const backgrounds = await spans.evaluateAll((els) => els.map((e) => (e as HTMLElement).style.background));
    special.forEach((i) => expect(backgrounds[i], `special token ${i}`).toBe(""));
    const cant = tokens.findIndex((t) => lexiconKey(t.text) === "can't");
    expect(backgrounds[cant]).toMatch(/rgba\(/);
    expect(backgrounds[tokens.findIndex((t) => t.text === "user")]).toBe("");

    // Click " weapon": its two features, in layer order, with explanation, score and domain as text.
    const weapon = tokens.findIndex((t) => lexiconKey(t.text) === "weapon");
    await spans.nth(weapon).click();
    const table = ta.locator("table.safesail-ta-features");
    await table.waitFor();
    const rows = expectedRows(tokens[weapon]!.text);
    expect(await table.locator(".safesail-ta-id").allTextContents()).toEqual(rows.map((r) => r.id));
    const cells = await table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    expect(cells).toEqual(rows.map((r) => {
      const f = FEATURES[r.id]!;
      return [r.id, r.id.split("_")[0], ` ${r.normalised.toFixed(2)}`, f.explanation, f.score === null ? "–" : f.score.toFixed(2), f.tags.join(", ") || "untagged"];
    }));
    // The hostile explanation (2_4) is text in its cell: no <script> element, nothing ran.
    expect(await table.locator(".safesail-ta-expl").nth(1).textContent()).toBe(FEATURES["2_4"]!.explanation);
    expect(await ta.locator("script, img").count()).toBe(0);
    await screenshot(page, "starmap-token-table");

    // Filters: layer 2 keeps 2_4; a minimum score above its 0.88 leaves none; back to all.
    await ta.locator("select.safesail-ta-filter-layer").selectOption("2");
    expect(await table.locator(".safesail-ta-id").allTextContents()).toEqual(["2_4"]);
    await ta.locator("input.safesail-ta-filter-score").fill("0.9");
    await expect.poll(() => ta.locator(".safesail-ta-hint").first().textContent()).toBe("no feature passes the filters (2 hidden)");
    await ta.locator("input.safesail-ta-filter-score").fill("");
    await ta.locator("select.safesail-ta-filter-layer").selectOption("-1");
    await ta.locator("select.safesail-ta-filter-domain").selectOption("terror");
    expect(await ta.locator("table.safesail-ta-features .safesail-ta-id").allTextContents()).toEqual(["1_7"]);
    await ta.locator("select.safesail-ta-filter-domain").selectOption("");

    // Click " make": the <img onerror> explanation shows as those characters.
    await spans.nth(tokens.findIndex((t) => lexiconKey(t.text) === "make")).click();
    await expect.poll(() => ta.locator(".safesail-ta-expl").first().textContent()).toBe(HOSTILE_IMG);
    await spans.nth(weapon).click();
    const kernel = await kernelState();
    expect(kernel).toMatchObject({ token: weapon, prompt: SECOND_PROMPT, revision: 2, answer: ANSWER });
    expect(await pwned(page)).toBeUndefined();
    await ta.scrollIntoViewIfNeeded();
    await screenshot(page, "starmap-tokens");
  });

  it("StarMap: search highlights matches, box and 'select matches' selections arrive in the kernel; hostile text is text", async () => {
    const sm = view("StarMap");
    await sm.scrollIntoViewIfNeeded();
    expect(await sm.getAttribute("data-renderer")).toBe("webgl");
    expect(await sm.getAttribute("data-points")).toBe(String(MAP.points.length));
    // The notebook's search ("campaign") is on screen; type another, in another case.
    expect(await sm.locator("input.safesail-sm-search").inputValue()).toBe("campaign");
    expect(await sm.getAttribute("data-matches")).toBe(String(MAP.points.filter((p) => p.explanation.includes("campaign")).length));
    const typed = "CALENDAR TIMES, EXAMPLE 4";
    await sm.locator("input.safesail-sm-search").fill("");
    await sm.locator("input.safesail-sm-search").pressSequentially(typed);
    const calendar = MAP.points.filter((p) => p.explanation.toLowerCase().includes(typed.toLowerCase()) || p.id.toLowerCase().includes(typed.toLowerCase())).map((p) => p.id);
    expect(calendar).toHaveLength(11); // example 4 and 40..49
    await expect.poll(() => sm.getAttribute("data-matches")).toBe(String(calendar.length));
    expect(await sm.locator(".safesail-sm-matches").textContent()).toBe(`${calendar.length} matches`);
    await sm.locator("button.safesail-sm-select-matches").click();
    await expect.poll(() => sm.getAttribute("data-selected")).toBe(String(calendar.length));
    let kernel = await kernelState();
    expect(kernel.search).toBe(typed);
    expect(kernel.selection).toEqual(calendar);

    // Cluster labels at their centres, as text (the hostile one too).
    const labels = await sm.locator(".annotation-text").allTextContents();
    expect(labels).toEqual(MAP.clusters.map((c) => c.label));
    expect(labels).toContain(HOSTILE_LABEL);

    // Hover a hostile point: its explanation is in the hover label as text. (Before the box drag: inside a drawn
    // selection box Plotly shows the box's move handle instead of hover labels.)
    const hostile = MAP.points.find((p) => p.explanation === HOSTILE_IMG)!;
    await sm.scrollIntoViewIfNeeded();
    const at = await sm.evaluate((root, [x, y]) => {
      const gd = root.querySelector(".js-plotly-plot") as unknown as { _fullLayout: { xaxis: { range: number[] }; yaxis: { range: number[] } } } & HTMLElement;
      const area = gd.querySelector(".nsewdrag")!.getBoundingClientRect();
      const { xaxis, yaxis } = gd._fullLayout;
      return {
        x: area.left + ((x - xaxis.range[0]!) / (xaxis.range[1]! - xaxis.range[0]!)) * area.width,
        y: area.top + ((yaxis.range[1]! - y) / (yaxis.range[1]! - yaxis.range[0]!)) * area.height,
      };
    }, [hostile.x, hostile.y] as const);
    await page.mouse.move(at.x, at.y);
    await expect.poll(async () => (await sm.locator(".hoverlayer .hovertext").allTextContents()).join("\n"), { timeout: 10_000 }).toContain(HOSTILE_IMG);
    expect(await sm.locator(".hoverlayer .hovertext").first().textContent()).toContain(hostile.id);
    expect(await page.locator(".jp-OutputArea img[src='x']").count()).toBe(0);
    expect(await pwned(page)).toBeUndefined();
    await screenshot(page, "starmap-map-hover");

    // A box drag around cluster 0 (its disk and the two hostile points just outside it) selects exactly its ids.
    await sm.locator("input.safesail-sm-search").fill("");
    await expect.poll(() => sm.getAttribute("data-matches")).toBe("0");
    const box = await sm.evaluate((root, [cx, cy, half]) => {
      const gd = root.querySelector(".js-plotly-plot") as unknown as { _fullLayout: { xaxis: { range: number[] }; yaxis: { range: number[] } } } & HTMLElement;
      const area = gd.querySelector(".nsewdrag")!.getBoundingClientRect();
      const { xaxis, yaxis } = gd._fullLayout;
      const px = (x: number) => area.left + ((x - xaxis.range[0]!) / (xaxis.range[1]! - xaxis.range[0]!)) * area.width;
      const py = (y: number) => area.top + ((yaxis.range[1]! - y) / (yaxis.range[1]! - yaxis.range[0]!)) * area.height;
      return { x0: px(cx - half), y0: py(cy + half), x1: px(cx + half), y1: py(cy - half) };
    }, [CENTRES[0][0], CENTRES[0][1], 3] as const);
    await page.mouse.move(box.x0, box.y0);
    await page.mouse.down();
    await page.mouse.move(box.x1, box.y1, { steps: 12 });
    await page.mouse.up();
    const inBox = MAP.points.filter((p) => Math.abs(p.x - CENTRES[0][0]) < 3 && Math.abs(p.y - CENTRES[0][1]) < 3).map((p) => p.id);
    expect(inBox).toHaveLength(102);
    expect(CLUSTER_RADIUS).toBeLessThan(3);
    await expect.poll(() => sm.getAttribute("data-selected"), { timeout: 10_000 }).toBe(String(inBox.length));
    kernel = await kernelState();
    expect([...(kernel.selection as string[])].sort()).toEqual([...inBox].sort());
    // Running the cell scrolled the notebook to it; back to the map.
    await sm.scrollIntoViewIfNeeded();
    await screenshot(page, "starmap-map-selected");
  });

  it("LayerTrajectory: layers as columns, nodes and links; hover shows the explanation and tokens, a click reaches the kernel", async () => {
    const lt = view("LayerTrajectory");
    await lt.scrollIntoViewIfNeeded();
    const tr = demoTrajectory();
    expect(await lt.locator(".safesail-lt-layer").allTextContents()).toEqual(tr.layers.map((l) => `layer ${l}`));
    expect(await lt.locator(".safesail-lt-node").count()).toBe(tr.nodes.length);
    expect(await lt.locator(".safesail-lt-link").count()).toBe(tr.links.length);
    // Node areas follow the totals: 3_11 (2.0) is the largest circle, 0_2 (0.4) the smallest.
    const radii = Object.fromEntries(await lt.locator(".safesail-lt-node").evaluateAll((gs) => gs.map((g) => [(g as SVGGElement).dataset.node, Number(g.querySelector("circle")!.getAttribute("r"))])));
    const byTotal = [...tr.nodes].sort((a, b) => a.total - b.total).map((n) => n.id);
    expect(Object.entries(radii).sort((a, b) => (a[1] as number) - (b[1] as number)).map(([id]) => id)).toEqual(byTotal);
    // Link widths follow the weights.
    const widths = await lt.locator(".safesail-lt-link").evaluateAll((ps) => ps.map((p) => Number(p.getAttribute("stroke-width"))));
    expect(widths[0]).toBeGreaterThan(widths[1]!);
    expect(widths[1]).toBeGreaterThan(widths[2]!);
    // The notebook selected 2_4: its detail shows the hostile explanation as text and the tokens it fires on.
    const detail = lt.locator(".safesail-lt-detail");
    const node24 = tr.nodes.find((n) => n.id === "2_4")!;
    expect(await detail.locator(".safesail-lt-detail-expl").textContent()).toBe(FEATURES["2_4"]!.explanation);
    expect(await detail.locator(".safesail-lt-chip").allTextContents()).toEqual(node24.tokens.map((t) => tr.tokens[t]!.text));
    expect(await lt.locator(".safesail-tok-fires").count()).toBe(node24.tokens.length);
    // Hover 3_11, then click it.
    await lt.locator('.safesail-lt-node[data-node="3_11"] circle').hover();
    await expect.poll(() => detail.locator(".safesail-lt-detail-expl").textContent()).toBe(FEATURES["3_11"]!.explanation);
    expect(await lt.locator(".safesail-lt-link-focus").count()).toBe(tr.links.filter((l) => l.source === "3_11" || l.target === "3_11").length);
    await lt.locator('.safesail-lt-node[data-node="3_11"] circle').click();
    const kernel = await kernelState();
    expect(kernel.selected).toBe("3_11");
    expect(await lt.locator("script, img").count()).toBe(0);
    await lt.scrollIntoViewIfNeeded();
    await screenshot(page, "starmap-trajectory");
  });

  it("512 tokens × 4 layers: the token view's render time is recorded", async () => {
    const big = view("TokenActivations").nth(1);
    await big.scrollIntoViewIfNeeded();
    expect(await big.getAttribute("data-tokens")).toBe("512");
    const ms = Number(await big.getAttribute("data-render-ms"));
    // Recorded, not held to a tight bound here (bench/starmap-render.ts measures it); only a sanity ceiling.
    console.log(`TokenActivations 512 tokens × 4 layers: first render ${ms} ms in the lab`);
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(2000);
    // A click on a token renders its 4 × 5 rows.
    await big.locator(".safesail-tok").nth(100).click();
    expect(await big.locator("table.safesail-ta-features tbody tr").count()).toBe(20);
    expect(pageErrors).toEqual([]);
    expect(dialogs).toEqual([]);
    expect(offsite).toEqual([]);
    expect(await pwned(page)).toBeUndefined();
  });
});

/** Opens a published page (file://) and waits until its embed script has drawn every view; none may fail. */
async function openPublished(context: BrowserContext, pageUrl: string, timeout: number) {
  const p = await context.newPage();
  const errors: string[] = [];
  p.on("pageerror", (e) => errors.push(e.message));
  await p.goto(pageUrl, { waitUntil: "load" });
  await p.waitForFunction(() => document.documentElement.hasAttribute("data-safesail-rendered"), undefined, { timeout });
  const result = await p.evaluate(() => (window as unknown as { safesailEmbed: { ready: Promise<{ rendered: number; failed: number; errors: string[] }> } }).safesailEmbed.ready);
  expect(result.failed, result.errors.join("\n")).toBe(0);
  return { p, errors, result };
}

describe("StarMap widgets on a published page", () => {
  const tmp = mkdtempSync(join(tmpdir(), "safesail-starmap-publish-"));
  const env = { ...process.env, JUPYTER_DATA_DIR: join(tmp, "jupyter-data") };

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("the notebook executed headless renders its three views offline from the saved state; hostile text stays text", async () => {
    const nbDir = join(tmp, "notebooks");
    mkdirSync(nbDir, { recursive: true });
    writeFileSync(join(nbDir, NOTEBOOK), notebookJson(starmapCells({ firstClick: FIRST_CLICK })));
    const run = spawnSync(process.execPath, [join(ROOT, "bin", "safesail.js"), "notebooks", "run", join(nbDir, NOTEBOOK), "--inplace"], { env, cwd: ROOT, encoding: "utf8", timeout: 180_000 });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const site = await publishNotebooks([join(nbDir, NOTEBOOK)], { out: join(tmp, "site"), embedJs: await loadEmbedJs(), title: "StarMap widgets", trust: { env } });
    const pageUrl = pathToFileURL(site.pages[0]!.path).href;
    const o = await isolatedContext(browser, (u) => u === pageUrl);
    try {
      const { p, errors, result } = await openPublished(o.context, pageUrl, 60_000);
      expect(result.rendered).toBe(4);
      const v = (name: string) => p.locator(`.safesail-widget[data-safesail-view="${name}"]`);
      // TokenActivations: the generated view and the notebook's click, with its table; Generate is off (no kernel).
      const ta = v("TokenActivations").first();
      expect(await ta.locator(".safesail-tok").allTextContents()).toEqual(demoTokens(FIRST_PROMPT).map((t) => t.text));
      expect(await ta.locator(".safesail-ta-id").allTextContents()).toEqual(expectedRows(demoTokens(FIRST_PROMPT)[FIRST_CLICK]!.text).map((r) => r.id));
      expect(await ta.locator("button.safesail-ta-generate").isDisabled()).toBe(true);
      // A click still works in the page (no kernel to tell): " make" shows the hostile explanation as text.
      await ta.locator(".safesail-tok").nth(demoTokens(FIRST_PROMPT).findIndex((t) => lexiconKey(t.text) === "make")).click();
      await expect.poll(() => ta.locator(".safesail-ta-expl").first().textContent()).toBe(HOSTILE_IMG);
      // StarMap: every point, the saved search's matches, the labels as text.
      const sm = v("StarMap");
      await expect.poll(() => sm.getAttribute("data-points"), { timeout: 30_000 }).toBe(String(MAP.points.length));
      expect(await sm.getAttribute("data-matches")).toBe(String(MAP.points.filter((pt) => pt.explanation.includes("campaign")).length));
      expect(await sm.locator(".annotation-text").allTextContents()).toEqual(MAP.clusters.map((c) => c.label));
      // LayerTrajectory: nodes, links and the saved selection's detail.
      const lt = v("LayerTrajectory");
      expect(await lt.locator(".safesail-lt-node").count()).toBe(demoTrajectory().nodes.length);
      expect(await lt.locator(".safesail-lt-detail-expl").textContent()).toBe(FEATURES["2_4"]!.explanation);
      expect(await v("TokenActivations").nth(1).getAttribute("data-tokens")).toBe("512");
      console.log(`published page: StarMap drawn with ${await sm.getAttribute("data-renderer")} in ${await sm.getAttribute("data-render-ms")} ms; 512×4 token view ${await v("TokenActivations").nth(1).getAttribute("data-render-ms")} ms`);
      expect(o.blocked).toEqual([]);
      expect(errors).toEqual([]);
      expect(await pwned(p)).toBeUndefined();
      expect(await p.locator("main img[src='x'], .safesail-widget script").count()).toBe(0);
      await screenshot(p, "starmap-published");
    } finally {
      await o.context.close();
    }
  }, 300_000);

  it("notebooks/05-starmap.ipynb, executed headless and published, draws all six of its views offline from the saved state", async () => {
    const out = join(tmp, "executed");
    // Asynchronous: a minute-long spawnSync would block this worker's event loop and time out vitest's own RPC.
    const run = await new Promise<{ code: number; out: string }>((res) => {
      execFile(process.execPath, [join(ROOT, "bin", "safesail.js"), "notebooks", "run", join(ROOT, "notebooks", "05-starmap.ipynb"), "--out", out], { env, cwd: ROOT, timeout: 400_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        res({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: `${stdout}\n${stderr}` });
      });
    });
    expect(run.code, run.out).toBe(0);
    const executed = join(out, "05-starmap.ipynb");
    // What the kernel made, from the widgets' text/plain summaries in the executed notebook.
    const summaries = (JSON.parse(readFileSync(executed, "utf8")) as { cells: { outputs?: { data?: Record<string, string | string[]> }[] }[] }).cells
      .flatMap((c) => c.outputs ?? [])
      .filter((o) => o.data?.["application/vnd.jupyter.widget-view+json"])
      .map((o) => [o.data!["text/plain"]].flat().join(""));
    const count = (name: string) => summaries.filter((t) => t.startsWith(`${name}(`)).length;
    expect([count("TokenActivations"), count("StarMap"), count("LayerTrajectory")]).toEqual([3, 2, 1]);
    const numbers = (name: string, field: string) => summaries.filter((t) => t.startsWith(`${name}(`)).map((t) => new RegExp(`${field}=(\\d+)`).exec(t)![1]!);
    const site = await publishNotebooks([executed], { out: join(tmp, "site-05"), embedJs: await loadEmbedJs(), title: "StarMap", trust: { env } });
    const pageUrl = pathToFileURL(site.pages[0]!.path).href;
    const o = await isolatedContext(browser, (u) => u === pageUrl);
    try {
      const { p, errors, result } = await openPublished(o.context, pageUrl, 90_000);
      const v = (name: string) => p.locator(`.safesail-widget[data-safesail-view="${name}"]`);
      expect(await v("TokenActivations").count()).toBe(3);
      for (let i = 0; i < 3; i++) {
        const ta = v("TokenActivations").nth(i);
        expect(await ta.getAttribute("data-tokens")).toBe(numbers("TokenActivations", "tokens")[i]);
        expect(await ta.locator(".safesail-tok").count()).toBe(Number(numbers("TokenActivations", "tokens")[i]));
      }
      const maps = v("StarMap");
      expect(await maps.count()).toBe(2);
      for (let i = 0; i < 2; i++) await expect.poll(() => maps.nth(i).getAttribute("data-points"), { timeout: 60_000 }).toBe(numbers("StarMap", "points")[i]);
      const lt = v("LayerTrajectory");
      expect(await lt.locator(".safesail-lt-node").count()).toBeGreaterThan(0);
      // The cross-language figure is a Plotly figure (mime renderer), drawn too.
      expect(await p.locator(".js-plotly-plot").count()).toBeGreaterThanOrEqual(3);
      expect(o.blocked).toEqual([]);
      expect(errors).toEqual([]);
      await screenshot(p, "starmap-notebook-05-published");
    } finally {
      await o.context.close();
    }
  }, 600_000);
});
