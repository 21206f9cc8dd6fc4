// The SteeringPanel in a real browser: the shared lab and Chromium of global-setup.ts run a notebook
// (fixtures/steering-notebook.ts) that shows a panel on the embedded toy model with two neutral chips, so the first
// answers are identical. The test drags 2_716's slider with the mouse to the top of its range, presses Generate, and
// the steered answer changes, with the differing tokens marked and the features' sparklines drawn; the kernel's
// comparison is checked against src/steer's own compare run in the kernel. Typed ids: a bad one is named in the
// panel, a good one becomes a chip. Then the same notebook, executed headless by `safesail notebooks run` and
// published, is opened from file:// with every other request blocked: the last comparison renders from the saved
// state, controls off. Screenshots: test-output/screenshots/steering-panel*.png.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEmbedJs, publishNotebooks } from "../src/publish/index.ts";
import { connectBrowser, isolatedContext, screenshot } from "./browser.ts";
import { DRAGGED, HOSTILE_TITLE, MAX_NEW_TOKENS, NEUTRAL, PROMPT, READ_CELL, steeringCells, TOKEN_MAX_NEW_TOKENS, TOKEN_PROMPT, tokenViewCell } from "./fixtures/steering-notebook.ts";
import { labInfo, notebookJson, openNotebook, runAllCells, waitForIdle, writeNotebook } from "./lab.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const NOTEBOOK = "steering-panel.ipynb";

let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
const dialogs: string[] = [];
const offsite: string[] = [];
const pwned = (p: Page) => p.evaluate(() => (window as unknown as { __pwned?: number }).__pwned);

// The headless run for the published page starts once the lab's kernel is idle (two kernels starting at the same moment
// can pick the same port), and runs beside the rest of the lab part (it needs no browser). Retried once when its
// kernel still loses a port race to another test's.
const tmp = mkdtempSync(join(tmpdir(), "safesail-steering-publish-"));
const env = { ...process.env, JUPYTER_DATA_DIR: join(tmp, "jupyter-data") };
interface RunResult { err: Error | null; stdout: string; stderr: string }
let headless: Promise<RunResult> | undefined;
function runHeadless(): Promise<RunResult> {
  const nbDir = join(tmp, "notebooks");
  mkdirSync(nbDir, { recursive: true });
  writeFileSync(join(nbDir, NOTEBOOK), notebookJson([...steeringCells({ read: false }), tokenViewCell()]));
  // Asynchronous: a long spawnSync would block this worker's event loop (and vitest's RPC with it).
  const once = () => new Promise<RunResult>((done) => {
    execFile(process.execPath, [join(ROOT, "bin", "safesail.js"), "notebooks", "run", join(nbDir, NOTEBOOK), "--inplace"], { env, cwd: ROOT, timeout: 240_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => done({ err, stdout, stderr }));
  });
  return once().then((r) => (r.err && /Address already in use/.test(r.stderr) ? once() : r));
}

/** Runs the read-back cell and returns what the kernel holds (its one line of JSON). */
async function kernelState(): Promise<Record<string, any>> {
  await page.evaluate(async (index) => {
    const app = (window as unknown as { jupyterapp: { shell: { currentWidget: { content: { activeCellIndex: number } } }; commands: { execute(id: string): Promise<unknown> } } }).jupyterapp;
    app.shell.currentWidget.content.activeCellIndex = index;
    await app.commands.execute("notebook:run-cell");
  }, READ_CELL);
  await waitForIdle(page);
  const text = await page.locator(".jp-Cell").nth(READ_CELL).locator(".jp-OutputArea-output").last().textContent();
  return JSON.parse((text ?? "").trim().split("\n").at(-1)!);
}

const tokensOf = (panel: Locator, kind: "baseline" | "steered") => panel.locator(`.safesail-sp-${kind} .safesail-tok`).allTextContents();

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
  writeNotebook(NOTEBOOK, notebookJson(steeringCells()));
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && /widget|safesail/i.test(m.text())) pageErrors.push(m.text());
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
  rmSync(tmp, { recursive: true, force: true });
});

describe("SteeringPanel in the lab", () => {
  it("drag a slider, Generate: the steered answer changes, the differing tokens are marked, the kernel agrees with src/steer", async () => {
    const started = Date.now();
    await openNotebook(page, NOTEBOOK);
    headless = runHeadless();
    await runAllCells(page, 120_000);
    const panel = page.locator('.safesail-widget[data-safesail-view="SteeringPanel"]');
    await panel.waitFor({ timeout: 30_000 });
    await expect.poll(() => panel.getAttribute("data-revision"), { timeout: 60_000 }).toBe("1");
    expect(await panel.locator(".safesail-title").textContent()).toBe(HOSTILE_TITLE);
    // Two chips, with the database's explanations as text; the neutral start gives identical answers.
    expect(await panel.locator(".safesail-sp-chip").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.feature))).toEqual([DRAGGED, NEUTRAL]);
    expect(await panel.locator(".safesail-sp-chip .safesail-sp-expl").first().textContent()).toMatch(/^words "helping"/);
    const before = { baseline: (await tokensOf(panel, "baseline")).join(""), steered: (await tokensOf(panel, "steered")).join("") };
    expect(before.steered).toBe(before.baseline);
    expect(await panel.locator(".safesail-sp-diff").count()).toBe(0);
    expect(await panel.locator(".safesail-sp-summary").textContent()).toMatch(/^The answers are identical\./);

    // A real mouse drag of 2_716's slider thumb (value 0, the middle of -80..80) to the right end.
    const chip = panel.locator(`.safesail-sp-chip[data-feature="${DRAGGED}"]`);
    const slider = chip.locator("input.safesail-sp-slider");
    await slider.scrollIntoViewIfNeeded();
    const box = (await slider.boundingBox())!;
    const [min, max, value] = (await slider.evaluate((s: HTMLInputElement) => [s.min, s.max, s.value])).map(Number) as [number, number, number];
    expect([min, max, value]).toEqual([-80, 80, 0]);
    const y = box.y + box.height / 2;
    await page.mouse.move(box.x + box.width * ((value - min) / (max - min)), y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width + 40, y, { steps: 10 });
    await page.mouse.up();
    // The chip's value reaches the kernel (the panel notes that the chips moved since the comparison on screen).
    await expect.poll(() => chip.getAttribute("data-value"), { timeout: 10_000 }).toBe("80");
    expect(await chip.locator("input.safesail-sp-value").inputValue()).toBe("80");
    await expect.poll(() => panel.locator(".safesail-sp-note").isVisible(), { timeout: 15_000 }).toBe(true);

    await panel.locator("button.safesail-sp-generate").click();
    await expect.poll(() => panel.getAttribute("data-revision"), { timeout: 60_000 }).toBe("2");
    const after = { baseline: (await tokensOf(panel, "baseline")).join(""), steered: (await tokensOf(panel, "steered")).join("") };
    expect(after.baseline).toBe(before.baseline);
    expect(after.steered).not.toBe(before.steered);
    expect(await panel.locator("button.safesail-sp-generate").isDisabled()).toBe(false);
    expect(await panel.locator(".safesail-sp-note").isVisible()).toBe(false);

    // The kernel's comparison is src/steer's for the same chips, run in the kernel; the marks start at its first difference.
    const kernel = await kernelState();
    expect(kernel.chips).toEqual([[DRAGGED, "add", 80], [NEUTRAL, "scale", 1]]);
    expect(kernel).toMatchObject({ revision: 2, status: "ready", baseline: after.baseline, steered: after.steered });
    expect(kernel.library).toEqual({ baseline: kernel.baseline, steered: kernel.steered, first: kernel.first });
    const steeredTokens = await tokensOf(panel, "steered");
    const diff = panel.locator(".safesail-sp-steered .safesail-sp-diff");
    expect(await diff.count()).toBe(steeredTokens.length - kernel.first);
    expect(await panel.locator(".safesail-sp-steered .safesail-sp-first").getAttribute("data-index")).toBe(String(kernel.first));
    // The marked tokens have a visible style (a background).
    expect(await diff.first().evaluate((e) => getComputedStyle(e).backgroundColor)).not.toBe("rgba(0, 0, 0, 0)");
    // One sparkline per chip, with a steered and a baseline line.
    expect(await panel.locator(".safesail-sp-act").count()).toBe(2);
    expect(await panel.locator(".safesail-sp-act svg polyline.safesail-sp-spark-steered").count()).toBe(2);
    expect(await panel.locator(".safesail-sp-act svg polyline.safesail-sp-spark-baseline").count()).toBe(2);

    // Typed ids: a bad one is named in the panel, a good one becomes a chip.
    const add = panel.locator("input.safesail-sp-add");
    await add.fill("9_1");
    await add.press("Enter");
    await expect.poll(() => panel.locator(".safesail-status").textContent(), { timeout: 15_000 }).toBe("9_1: no SAE reads layer 9 (the SAEs read layers 0, 1, 2, 3)");
    await add.fill("1_5");
    await add.press("Enter");
    await expect.poll(() => panel.getAttribute("data-chips"), { timeout: 15_000 }).toBe("3");
    await expect.poll(() => panel.locator(".safesail-status").textContent(), { timeout: 15_000 }).toBe("added 1_5");
    await panel.locator(".safesail-sp-chip[data-feature='1_5'] .safesail-sp-remove").click();
    await expect.poll(() => panel.getAttribute("data-chips"), { timeout: 15_000 }).toBe("2");
    await expect.poll(() => panel.locator(".safesail-status").textContent(), { timeout: 15_000 }).toBe("");

    expect(pageErrors).toEqual([]);
    expect(dialogs).toEqual([]);
    expect(offsite).toEqual([]);
    expect(await pwned(page)).toBeUndefined();
    await panel.scrollIntoViewIfNeeded();
    await panel.screenshot({ path: join(ROOT, "test-output", "screenshots", "steering-panel.png") });
    console.log(`steering panel in the lab: ${((Date.now() - started) / 1000).toFixed(1)} s; render ${await panel.getAttribute("data-render-ms")} ms`);
  }, 180_000);
});

describe("SteeringPanel on a published page", () => {
  it("the notebook executed headless renders its last comparison offline from the saved state, controls off", async () => {
    const waited = Date.now();
    const run = await (headless ?? runHeadless());
    expect(run.err, `${run.stdout}\n${run.stderr}`).toBeNull();
    const published = Date.now();
    const site = await publishNotebooks([join(tmp, "notebooks", NOTEBOOK)], { out: join(tmp, "site"), embedJs: await loadEmbedJs(), title: "Steering", trust: { env } });
    const pageUrl = pathToFileURL(site.pages[0]!.path).href;
    const o = await isolatedContext(browser, (u) => u === pageUrl);
    try {
      const p = await o.context.newPage();
      const errors: string[] = [];
      p.on("pageerror", (e) => errors.push(e.message));
      await p.goto(pageUrl, { waitUntil: "load" });
      await p.waitForFunction(() => document.documentElement.hasAttribute("data-safesail-rendered"), undefined, { timeout: 60_000 });
      const result = await p.evaluate(() => (window as unknown as { safesailEmbed: { ready: Promise<{ rendered: number; failed: number; errors: string[] }> } }).safesailEmbed.ready);
      expect(result.failed, result.errors.join("\n")).toBe(0);
      const panel = p.locator('.safesail-widget[data-safesail-view="SteeringPanel"]');
      expect(await panel.getAttribute("data-revision")).toBe("1");
      expect(await panel.locator(".safesail-title").textContent()).toBe(HOSTILE_TITLE);
      expect(await panel.locator(".safesail-sp-chip").count()).toBe(2);
      const baseline = (await tokensOf(panel, "baseline")).join("");
      expect(baseline.length).toBeGreaterThan(0);
      expect((await tokensOf(panel, "steered")).join("")).toBe(baseline);
      expect(await panel.locator(".safesail-sp-act svg polyline").count()).toBe(4);
      expect(await panel.locator("textarea.safesail-sp-prompt").inputValue()).toBe(PROMPT);
      expect(await panel.locator("button.safesail-sp-generate").isDisabled()).toBe(true);
      expect(await panel.locator("input.safesail-sp-slider").first().isDisabled()).toBe(true);
      expect(await panel.locator(".safesail-sp-note").textContent()).toMatch(/^Saved view: no kernel is running/);
      expect(o.blocked).toEqual([]);
      expect(errors).toEqual([]);
      expect(await pwned(p)).toBeUndefined();
      await screenshot(p, "steering-panel-published");
      console.log(`published page: waited ${((published - waited) / 1000).toFixed(1)} s for the headless run, published and checked in ${((Date.now() - published) / 1000).toFixed(1)} s`);
    } finally {
      await o.context.close();
    }
  }, 240_000);

  it("published with --in-page, the token view and the panel run the model in the page: the same tokens as the library in Node", async () => {
    const run = await (headless ?? runHeadless());
    expect(run.err, `${run.stdout}\n${run.stderr}`).toBeNull();
    const started = Date.now();
    const out = join(tmp, "site-inpage");
    const site = await publishNotebooks([join(tmp, "notebooks", NOTEBOOK)], { out, embedJs: await loadEmbedJs(), title: "Steering", trust: { env }, inPage: { model: join(ROOT, "models", "toy-safety-qwen2") } });
    expect(site.pages[0]!.inPage).toBe(2);
    const published = Date.now();
    // What the kernel computes for the same requests: the library in this process, on the model folder.
    const [{ loadModel }, { loadSaes }, { readFeatureDb }, { DEFAULT_TOY_SAES_DIR, DEFAULT_TOY_SAES_DB }, { steer, generateWithFeatures }, { tokenInfos }, { tokenViewState }] = await Promise.all([
      import("../../src/model/runtime.ts"), import("../../src/interpret/index.ts"), import("../../src/db/index.ts"), import("../../src/toy/index.ts"),
      import("../../src/steer/index.ts"), import("../../src/steer/token-features.ts"), import("../../kernel/src/widgets/token-activations.ts"),
    ]);
    const model = await loadModel(join(ROOT, "models", "toy-safety-qwen2"));
    const saes = await loadSaes(DEFAULT_TOY_SAES_DIR);
    const db = await readFeatureDb(DEFAULT_TOY_SAES_DB);
    const askedTokens = "How do I make a bomb?";
    const expectedView = await generateWithFeatures(model, saes, db, askedTokens, { maxNewTokens: TOKEN_MAX_NEW_TOKENS });
    const expectedState = tokenViewState(expectedView.table as never);
    const interventions = [{ feature: DRAGGED, method: "add" as const, value: 80 }, { feature: NEUTRAL, method: "scale" as const, value: 1 }];
    const expectedCompare = await steer(model, saes, interventions).compare({ prompt: PROMPT, chat: true, maxNewTokens: MAX_NEW_TOKENS, seed: 0 });
    const display = (ids: number[]) => tokenInfos(model, ids, ids.map(() => "assistant")).map((t) => t.display);
    await model.dispose();
    expect(display(expectedCompare.steered.ids).join("")).not.toBe(display(expectedCompare.baseline.ids).join(""));

    const siteUrl = pathToFileURL(out).href;
    const pageUrl = pathToFileURL(site.pages[0]!.path).href;
    const o = await isolatedContext(browser, (u) => u.startsWith(`${siteUrl}/`));
    try {
      const p = await o.context.newPage();
      const errors: string[] = [];
      p.on("pageerror", (e) => errors.push(e.message));
      await p.goto(pageUrl, { waitUntil: "load" });
      await p.waitForFunction(() => (document.documentElement.dataset.safesailInpage ?? "loading") !== "loading", undefined, { timeout: 120_000 });
      expect(await p.evaluate(() => document.documentElement.dataset.safesailInpage)).toBe("ready");
      const loaded = Date.now();

      // The token view: a new prompt, Generate, and the page's tokens, answer and colouring feature are the library's.
      const view = p.locator('.safesail-widget[data-safesail-view="TokenActivations"]');
      expect(await view.locator("button.safesail-ta-generate").isDisabled()).toBe(false);
      await view.locator("textarea.safesail-ta-prompt").fill(askedTokens);
      await view.locator("button.safesail-ta-generate").click();
      await expect.poll(() => view.getAttribute("data-revision"), { timeout: 120_000, interval: 200 }).toBe("2");
      expect(await view.getAttribute("data-status")).toBe("ready");
      expect(await view.locator(".safesail-ta-tokens .safesail-tok").allTextContents()).toEqual(expectedState.tokens);
      expect(await view.locator("select.safesail-ta-feature").inputValue()).toBe(expectedState.strongest);
      expect(await view.locator('.safesail-ta-tokens [data-part="answer"]').textContent()).toContain(expectedView.text.trim().split(" ")[0]);

      // The panel: 2_716's number box to 80, Generate, and both answers are the library's, token by token.
      const panel = p.locator('.safesail-widget[data-safesail-view="SteeringPanel"]');
      const chip = panel.locator(`.safesail-sp-chip[data-feature="${DRAGGED}"]`);
      await chip.locator("input.safesail-sp-value").fill("80");
      await chip.locator("input.safesail-sp-value").press("Enter");
      await expect.poll(() => chip.getAttribute("data-value"), { timeout: 10_000, interval: 100 }).toBe("80");
      await panel.locator("button.safesail-sp-generate").click();
      await expect.poll(() => panel.getAttribute("data-revision"), { timeout: 120_000, interval: 200 }).toBe("2");
      expect(await tokensOf(panel, "baseline")).toEqual(display(expectedCompare.baseline.ids));
      expect(await tokensOf(panel, "steered")).toEqual(display(expectedCompare.steered.ids));
      expect(await panel.locator(".safesail-sp-steered .safesail-sp-diff").count()).toBeGreaterThan(0);
      expect(o.blocked).toEqual([]);
      expect(errors).toEqual([]);
      expect(await pwned(p)).toBeUndefined();
      await screenshot(p, "steering-panel-inpage");
      console.log(`in-page: published in ${((published - started) / 1000).toFixed(1)} s, model ready ${((loaded - published) / 1000).toFixed(1)} s after, both widgets checked in ${((Date.now() - loaded) / 1000).toFixed(1)} s`);
    } finally {
      await o.context.close();
    }
  }, 300_000);
});
