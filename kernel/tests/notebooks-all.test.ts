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
  const r = await exec(process.execPath, [BIN, "notebooks", "run", ...notebooks.map((f) => join(ROOT, "notebooks", f)), "--out", join(tmp, "out"), "--timeout", "300"], {
    ...process.env,
    JUPYTER_PATH: join(prefix, "share", "jupyter"),
  }, 900_000);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toContain(`notebooks: ${notebooks.length} passed, 0 failed`);
  // The committed results table is what the claims notebook computes now, digit for digit (`safesail claims
  // build` writes it from the same cell): a change that moves a figure must rebuild docs/results.md too.
  const claims = join(tmp, "out", CLAIMS_NOTEBOOK.split("/").at(-1)!);
  expect(existsSync(claims), `${claims} was not written`).toBe(true);
  const table = resultsFromNotebook(JSON.parse(readFileSync(claims, "utf8")), claims);
  expect(table).toBe(readFileSync(join(ROOT, RESULTS_FILE), "utf8"));
}, 960_000);
