// vitest global setup: one Chromium server shared by every browser test file (they connect by websocket).
import type { TestProject } from "vitest/node";
import { chromium, type BrowserServer } from "playwright-core";
import { existsSync } from "node:fs";
import { CHROMIUM, CHROMIUM_ARGS } from "./browser.ts";

declare module "vitest" {
  export interface ProvidedContext {
    chromiumWsEndpoint: string;
  }
}

let server: BrowserServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set SAFESAIL_CHROMIUM`);
  }
  server = await chromium.launchServer({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  project.provide("chromiumWsEndpoint", server.wsEndpoint());
}

export async function teardown(): Promise<void> {
  await server?.close();
}
