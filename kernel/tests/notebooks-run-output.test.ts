// Issue 11, `safesail notebooks run` and the kernel's log: a failed notebook is written to --out with what ran and
// its error output (and the FAIL line names that file); a notebook that cannot be read prints "(nothing written)"
// instead of a path with nothing behind it; the interrupt jupyter_client sends every kernel it shuts down is not
// logged as "SIGINT: no cell running"; a progress display finished with "done ..." says done once.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeResult } from "../../src/cli/notebooks.ts";
import { progressBundle } from "../src/progress.ts";
import { exec, ROOT } from "./widgets-helpers.ts";

const BIN = join(ROOT, "bin/safesail.js");
const tmp = mkdtempSync(join(tmpdir(), "safesail-nb-output-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const notebook = (cells: string[]) =>
  JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "safesail", display_name: "TypeScript (safesail)", language: "typescript" } },
    cells: cells.map((source, i) => ({ id: `c${i}`, cell_type: "code", source, metadata: {}, outputs: [], execution_count: null })),
  });

describe("safesail notebooks run: what is written, what is printed", () => {
  it("a failing notebook lands in --out with its error; an unreadable one is not claimed written; no SIGINT log", async () => {
    const prefix = join(tmp, "prefix");
    const install = await exec(process.execPath, [BIN, "kernel", "install", "--prefix", prefix]);
    expect(install.code, install.stderr).toBe(0);
    const dir = join(tmp, "in");
    mkdirSync(dir);
    writeFileSync(join(dir, "bad.ipynb"), notebook(["const x = 6 * 7;\nx", 'throw new TypeError("broken on purpose")', '"never"']));
    writeFileSync(join(dir, "garbage.ipynb"), "not json");
    const out = join(tmp, "out");
    const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter") };
    delete env.SAFESAIL_KERNEL_LOG;
    delete env.SAFESAIL_KERNEL_QUIET;
    const r = await exec(process.execPath, [BIN, "notebooks", "run", join(dir, "bad.ipynb"), join(dir, "garbage.ipynb"), "--out", out], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL ${join(dir, "bad.ipynb")}: cell 1: TypeError: broken on purpose -> ${join(out, "bad.ipynb")}\n`);
    expect(r.stdout).toMatch(new RegExp(`^FAIL ${join(dir, "garbage.ipynb").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: NotJSONError: .* \\(nothing written\\)$`, "m"));
    expect(existsSync(join(out, "garbage.ipynb"))).toBe(false);
    const nb = JSON.parse(readFileSync(join(out, "bad.ipynb"), "utf8")) as { cells: { outputs: Record<string, unknown>[]; execution_count: number | null }[] };
    expect(JSON.stringify(nb.cells[0]!.outputs)).toContain("42");
    expect(nb.cells[1]!.outputs).toEqual([expect.objectContaining({ output_type: "error", ename: "TypeError", evalue: "broken on purpose" })]);
    expect(nb.cells[2]!.execution_count).toBeNull();
    // The kernel logs to stderr here (no SAFESAIL_KERNEL_LOG): it started and shut down, and said nothing of SIGINT.
    expect(r.stderr).toContain("shutting down");
    expect(r.stderr).not.toContain("SIGINT");
  }, 120_000);

  it("describeResult prints the output path only when the file was written", () => {
    const base = { path: "a.ipynb", out: "out/a.ipynb", ok: false, seconds: 0, cells: 0, error: { cell: null, ename: "NotJSONError", evalue: "x" } };
    expect(describeResult({ ...base, written: false })).toBe("FAIL a.ipynb: NotJSONError: x (nothing written)");
    expect(describeResult({ ...base, written: true })).toBe("FAIL a.ipynb: NotJSONError: x -> out/a.ipynb");
  });
});

describe("progress: done once", () => {
  const view = { label: "train", total: 40, done: 40, elapsedMs: 5000, finished: true };
  it("a finish detail that starts with done is not preceded by another done", () => {
    const plain = progressBundle({ ...view, detail: "done at step 40/40 | loss 1.234" })["text/plain"] as string;
    expect(plain).not.toMatch(/done.*done/);
    expect(plain).toMatch(/ · 00:05 done at step 40\/40 \| loss 1\.234$/);
    expect(progressBundle({ ...view, detail: "ok" })["text/plain"]).toMatch(/ · done ok$/);
    expect(progressBundle({ ...view, detail: "" })["text/plain"]).toMatch(/ · done$/);
  });
});
