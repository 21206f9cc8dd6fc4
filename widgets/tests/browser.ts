// One Chromium for every browser test: Debian's /usr/bin/chromium driven by playwright-core (never a downloaded
// browser). The vitest global setup (global-setup.ts) launches it as a server once; each test file connects.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { inject } from "vitest";

export { CHROMIUM, CHROMIUM_ARGS } from "./chromium.ts";

/** Where browser tests save their screenshots (README: "Screenshots"). */
export const SCREENSHOT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test-output", "screenshots");

/** Connects to the shared browser the global setup started. */
export async function connectBrowser(): Promise<Browser> {
  const ws = inject("chromiumWsEndpoint");
  if (!ws) throw new Error("no shared browser: widgets/tests/global-setup.ts did not run (vitest globalSetup)");
  return chromium.connect(ws);
}

/** Saves a full-page screenshot as SCREENSHOT_DIR/<name>.png and returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A fresh context whose every request outside `allow` is blocked and recorded. */
export async function isolatedContext(
  browser: Browser,
  allow: (url: string) => boolean,
): Promise<{ context: BrowserContext; blocked: string[]; requests: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const blocked: string[] = [];
  const requests: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    requests.push(url);
    if (allow(url)) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
  return { context, blocked, requests };
}
