// Helpers for tests against the shared lab (global-setup.ts): write a notebook into its root, open it, run cells.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { inject } from "vitest";

export interface LabInfo {
  url: string;
  token: string;
  root: string;
  startMs: number;
}

export function labInfo(): LabInfo {
  const url = inject("labUrl");
  if (!url) throw new Error("no shared lab: widgets/tests/global-setup.ts did not start one");
  return { url, token: inject("labToken"), root: inject("labRoot"), startMs: inject("labStartMs") };
}

/** A notebook for the safesail kernel, one code cell per source string. */
export function notebookJson(cells: string[], extra: { outputs?: unknown[][]; metadata?: Record<string, unknown> } = {}): string {
  return JSON.stringify({
    cells: cells.map((source, i) => ({
      cell_type: "code",
      execution_count: null,
      id: `cell-${i}`,
      metadata: {},
      outputs: extra.outputs?.[i] ?? [],
      source,
    })),
    metadata: {
      kernelspec: { display_name: "TypeScript (safesail)", language: "typescript", name: "safesail" },
      language_info: { name: "typescript" },
      ...extra.metadata,
    },
    nbformat: 4,
    nbformat_minor: 5,
  }, null, 1);
}

export function writeNotebook(name: string, json: string): string {
  const path = join(labInfo().root, name);
  writeFileSync(path, json);
  return path;
}

/** Opens a notebook in the lab and waits for the shell and the notebook's kernel to be ready. */
export async function openNotebook(page: Page, name: string, opts: { waitKernel?: boolean } = {}): Promise<void> {
  const { url, token } = labInfo();
  // A workspace of its own (reset), so notebooks other tests opened are not restored beside it.
  const workspace = name.replace(/[^A-Za-z0-9]/g, "-");
  await page.goto(`${url}/workspaces/${workspace}/tree/${encodeURIComponent(name)}?reset&token=${token}`);
  await page.waitForSelector("body[data-safesail-lab=ready]", { state: "attached", timeout: 60_000 });
  await page.waitForSelector(".jp-NotebookPanel .jp-Notebook", { timeout: 30_000 });
  if (opts.waitKernel ?? true) {
    await page.waitForFunction(
      () => {
        const w = window as unknown as { jupyterapp: { shell: { currentWidget: { sessionContext?: { session?: { kernel?: { status: string } } } } | null } } };
        return w.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === "idle";
      },
      undefined,
      { timeout: 60_000 },
    );
  }
}

/** Runs every cell through the lab's own command and waits until the kernel is idle with no cell pending. */
export async function runAllCells(page: Page, timeoutMs = 120_000): Promise<void> {
  await page.evaluate(() => (window as unknown as { jupyterapp: { commands: { execute(id: string): Promise<unknown> } } }).jupyterapp.commands.execute("notebook:run-all-cells"));
  await waitForIdle(page, timeoutMs);
}

/** Waits until no cell shows the "[*]" running prompt and the kernel is idle. */
export async function waitForIdle(page: Page, timeoutMs = 120_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const prompts = [...document.querySelectorAll(".jp-InputArea-prompt")].map((e) => e.textContent ?? "");
      const w = window as unknown as { jupyterapp: { shell: { currentWidget: { sessionContext?: { session?: { kernel?: { status: string } } } } | null } } };
      const status = w.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status;
      return status === "idle" && !prompts.some((p) => p.includes("*"));
    },
    undefined,
    { timeout: timeoutMs, polling: 250 },
  );
}
