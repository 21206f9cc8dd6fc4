// Every committed notebook runs headless on the safesail kernel without an error: the notebooks are the
// project's walkthrough and a paper's supplement, so a broken one is a broken deliverable.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { CLAIMS_NOTEBOOK, RESULTS_FILE, resultsFromNotebook } from "../../src/claims/results.ts";
import { exec, ROOT } from "./widgets-helpers.ts";

const BIN = join(ROOT, "bin/safesail.js");
const tmp = mkdtempSync(join(tmpdir(), "safesail-all-notebooks-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it("every notebook in notebooks/ passes `safesail notebooks run`", async () => {
  const prefix = join(tmp, "prefix");
  const install = await exec(process.execPath, [BIN, "kernel", "install", "--prefix", prefix]);
  expect(install.code, install.stderr).toBe(0);
  const notebooks = readdirSync(join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();
  expect(notebooks.length).toBeGreaterThanOrEqual(2);
  // Two runs side by side, one kernel each (a kernel keeps about one core busy; the machine has two), the
  // notebooks dealt alternately from the longest-first order of a full run, so the two take about as long.
  const TYPICAL_SECONDS: Record<string, number> = { "02": 101, "06": 91, "07": 76, "03": 34, "05": 34, "01": 28 };
  const order = [...notebooks].sort((a, b) => (TYPICAL_SECONDS[b.slice(0, 2)] ?? 10) - (TYPICAL_SECONDS[a.slice(0, 2)] ?? 10));
  const groups: string[][] = [[], []];
  const load = [0, 0];
  for (const f of order) {
    const g = load[0]! <= load[1]! ? 0 : 1;
    groups[g]!.push(f);
    load[g]! += TYPICAL_SECONDS[f.slice(0, 2)] ?? 10;
  }
  const runs = await Promise.all(groups.map((group) => exec(process.execPath, [BIN, "notebooks", "run", ...group.map((f) => join(ROOT, "notebooks", f)), "--out", join(tmp, "out"), "--timeout", "300"], {
    ...process.env,
    JUPYTER_PATH: join(prefix, "share", "jupyter"),
  }, 900_000)));
  for (const [i, r] of runs.entries()) {
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`notebooks: ${groups[i]!.length} passed, 0 failed`);
  }
  expect(groups.flat().sort()).toEqual(notebooks);
  // The committed results table is what the claims notebook computes now, digit for digit (`safesail claims
  // build` writes it from the same cell): a change that moves a figure must rebuild docs/results.md too.
  const claims = join(tmp, "out", CLAIMS_NOTEBOOK.split("/").at(-1)!);
  expect(existsSync(claims), `${claims} was not written`).toBe(true);
  const table = resultsFromNotebook(JSON.parse(readFileSync(claims, "utf8")), claims);
  expect(table).toBe(readFileSync(join(ROOT, RESULTS_FILE), "utf8"));
}, 960_000);
