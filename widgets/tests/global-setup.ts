// vitest global setup: one Chromium server and one lab shared by every browser test file (they connect by
// websocket / URL). Runs of unit tests alone (`vitest run tests/x.test.ts`) start neither.
import type { TestProject } from "vitest/node";
import { chromium, type BrowserServer } from "playwright-core";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CHROMIUM, CHROMIUM_ARGS } from "./chromium.ts";
import { startLab, type RunningLab } from "../lab/launch.ts";

declare module "vitest" {
  export interface ProvidedContext {
    chromiumWsEndpoint: string;
    labUrl: string;
    labToken: string;
    labRoot: string;
    labStartMs: number;
  }
}

let server: BrowserServer | undefined;
let lab: RunningLab | undefined;
let labRoot: string | undefined;

/** True when the run includes browser tests: no file filter, or a filter that names widgets/tests. */
function wantsBrowser(): boolean {
  const i = process.argv.indexOf("run");
  const filters = (i >= 0 ? process.argv.slice(i + 1) : process.argv.slice(2)).filter((a) => !a.startsWith("-") && !a.includes("="));
  return filters.length === 0 || filters.some((f) => f.includes("widgets/tests") || f.includes("browser") || f.includes("lab"));
}

export async function setup(project: TestProject): Promise<void> {
  if (!wantsBrowser()) return;
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set SAFESAIL_CHROMIUM`);
  }
  server = await chromium.launchServer({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  project.provide("chromiumWsEndpoint", server.wsEndpoint());
  labRoot = mkdtempSync(join(tmpdir(), "safesail-lab-tests-"));
  lab = await startLab({ root: labRoot });
  project.provide("labUrl", lab.url);
  project.provide("labToken", lab.token);
  project.provide("labRoot", labRoot);
  project.provide("labStartMs", lab.startMs);
}

export async function teardown(): Promise<void> {
  await lab?.close();
  await server?.close();
  if (labRoot) rmSync(labRoot, { recursive: true, force: true });
}
