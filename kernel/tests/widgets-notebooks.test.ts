// `safesail notebooks run`: the example notebook passes and its outputs are written; a failing cell makes the
// command exit 1 naming the cell; in-place runs replace the file atomically.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findKernelSpecs } from "../../src/cli/notebooks.ts";
import { exec, ROOT } from "./widgets-helpers.ts";

const BIN = join(ROOT, "bin/safesail.js");
const EXAMPLE = join(ROOT, "notebooks/99-kernel-widgets.ipynb");

interface Cell { cell_type: string; source: string | string[]; outputs?: Array<Record<string, unknown>>; execution_count?: number | null }
interface Notebook { cells: Cell[]; metadata: Record<string, unknown> }

let tmp: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "safesail-notebooks-"));
  const prefix = join(tmp, "prefix");
  const r = await exec(process.execPath, [BIN, "kernel", "install", "--prefix", prefix]);
  expect(r.code, r.stderr).toBe(0);
  env = { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter") };
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function notebook(cells: string[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "safesail", display_name: "TypeScript (safesail)", language: "typescript" } },
    cells: cells.map((source, i) => ({ id: `c${i}`, cell_type: "code", source, metadata: {}, outputs: [], execution_count: null })),
  });
}

const read = (p: string) => JSON.parse(readFileSync(p, "utf8")) as Notebook;

describe("safesail notebooks run", () => {
  it("runs notebooks/99-kernel-widgets.ipynb into --out with its outputs", async () => {
    const out = join(tmp, "out");
    const r = await exec(process.execPath, [BIN, "notebooks", "run", EXAMPLE, "--out", out, "--timeout", "120"], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS .*99-kernel-widgets\.ipynb/m);
    expect(r.stdout).toContain("notebooks: 1 passed, 0 failed");
    const nb = read(join(out, "99-kernel-widgets.ipynb"));
    const code = nb.cells.filter((c) => c.cell_type === "code");
    expect(code.every((c) => typeof c.execution_count === "number")).toBe(true);
    const text = (o: Record<string, unknown>) => (Array.isArray(o.text) ? o.text.join("") : String(o.text ?? ""));
    const data = (o: Record<string, unknown>) => (o.data ?? {}) as Record<string, unknown>;
    const plain = (o: Record<string, unknown>) => { const t = data(o)["text/plain"]; return Array.isArray(t) ? t.join("") : String(t); };
    // hello
    expect(code[0]!.outputs!.map(text).join("")).toContain("hello from the safesail kernel");
    expect(plain(code[0]!.outputs!.find((o) => o.output_type === "execute_result")!)).toBe("42");
    // the widget view, and the widget state nbclient stores for static rendering
    const view = data(code[1]!.outputs![0]!)["application/vnd.jupyter.widget-view+json"] as { model_id: string; version_major: number };
    expect(view.version_major).toBe(2);
    const state = (nb.metadata.widgets as Record<string, { state: Record<string, { model_name: string }> }>)["application/vnd.jupyter.widget-state+json"]!.state;
    expect(state[view.model_id]!.model_name).toBe("VBoxModel");
    // the callback ran
    expect(plain(code[2]!.outputs![0]!)).toBe("'k² = 49'");
    // the progress display, updated in place to its final state
    const prog = code[3]!.outputs!.filter((o) => o.output_type === "display_data");
    expect(prog).toHaveLength(1);
    expect(plain(prog[0]!)).toMatch(/^counting \[#+\] 100% · 20\/20 .*done/);
    // the input notebook is untouched
    expect(read(EXAMPLE).cells.every((c) => (c.outputs ?? []).length === 0)).toBe(true);
  });

  it("exits 1 naming the first failing cell, and still writes what ran", async () => {
    const dir = join(tmp, "fail");
    const out = join(tmp, "fail-out");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeFileSync(join(dir, "ok.ipynb"), notebook(['console.log("fine")']));
    writeFileSync(join(dir, "bad.ipynb"), notebook(['console.log("first")', 'throw new RangeError("boom <x>")', 'console.log("never")']));
    const r = await exec(process.execPath, [BIN, "notebooks", "run", join(dir, "ok.ipynb"), join(dir, "bad.ipynb"), "--out", out], env);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^PASS .*ok\.ipynb/m);
    expect(r.stdout).toMatch(/^FAIL .*bad\.ipynb: cell 1: RangeError: boom <x>/m);
    expect(r.stdout).toContain("notebooks: 1 passed, 1 failed");
    const nb = read(join(out, "bad.ipynb"));
    expect(nb.cells[1]!.outputs!.some((o) => o.output_type === "error" && o.ename === "RangeError")).toBe(true);
    expect(nb.cells[2]!.execution_count).toBeNull();
    expect(readdirSync(out).sort()).toEqual(["bad.ipynb", "ok.ipynb"]); // no temp files left
  });

  it("writes back in place by default, keeping the file mode", async () => {
    const p = join(tmp, "inplace.ipynb");
    writeFileSync(p, notebook(["1 + 2"]));
    chmodSync(p, 0o640);
    const r = await exec(process.execPath, [BIN, "notebooks", "run", p], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const nb = read(p);
    expect(nb.cells[0]!.outputs![0]!.output_type).toBe("execute_result");
    expect(statSync(p).mode & 0o777).toBe(0o640);
    expect(readdirSync(tmp).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("installs the kernelspec for the run when Jupyter does not find it", async () => {
    const p = join(tmp, "auto.ipynb");
    writeFileSync(p, notebook(['"auto"']));
    const bare: NodeJS.ProcessEnv = { ...process.env, JUPYTER_DATA_DIR: join(tmp, "empty-data-dir") };
    delete bare.JUPYTER_PATH;
    const r = await exec(process.execPath, [BIN, "notebooks", "run", p], bare);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.stringify(read(p).cells[0]!.outputs![0]!.data)).toContain("'auto'");
    if (!("safesail" in (await findKernelSpecs(bare)))) expect(r.stderr).toContain("using a temporary install");
  });

  it("rejects bad arguments", async () => {
    const a = await exec(process.execPath, [BIN, "notebooks", "run", EXAMPLE, "--inplace", "--out", tmp], env);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain("--inplace or --out");
    const b = await exec(process.execPath, [BIN, "notebooks", "run", join(tmp, "missing.ipynb")], env);
    expect(b.stderr).toContain("no such notebook");
    const c = await exec(process.execPath, [BIN, "notebooks", "run", EXAMPLE, "--kernel", "no-such-kernel"], env);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/no-such-kernel: no such Jupyter kernelspec/);
    expect(existsSync(EXAMPLE)).toBe(true);
  });
});
