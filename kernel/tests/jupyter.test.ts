// The kernel as Jupyter sees it: `safesail kernel install` into a temporary --prefix, jupyter_client's kernelspec
// listing, then the Python suites in kernel/tests/python run with Debian's /usr/bin/python3 (jupyter_client,
// jupyter_kernel_test, pyzmq): the conformance suite and the front-end client suite. Each is one vitest test that
// asserts 0 failures / 0 errors (and, for conformance, 0 skipped) from `python3 -m unittest -v`, so one runner
// reports everything; the counts are printed.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PY = "/usr/bin/python3";
const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin", "safesail.js");
const PYDIR = join(import.meta.dirname, "python");
const hasJupyter = existsSync(PY);

let prefix = "";
let env: NodeJS.ProcessEnv = {};
let kernelLog = "";

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd ?? ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export interface UnittestSummary {
  ran: number;
  failures: number;
  errors: number;
  skipped: number;
  ok: boolean;
  output: string;
}

/** Parses the tail of `python -m unittest -v` ("Ran N tests", "OK (skipped=1)" / "FAILED (failures=1, errors=2)"). */
export function parseUnittest(output: string): UnittestSummary {
  const ran = Number(/^Ran (\d+) tests? in /m.exec(output)?.[1] ?? NaN);
  const status = [...output.matchAll(/^(OK|FAILED)(?: \(([^)]*)\))?\s*$/gm)].pop();
  const counts: Record<string, number> = {};
  for (const part of (status?.[2] ?? "").split(",")) {
    const m = /(\w+)=(\d+)/.exec(part);
    if (m) counts[m[1]!] = Number(m[2]);
  }
  return { ran, failures: counts.failures ?? 0, errors: counts.errors ?? 0, skipped: counts.skipped ?? 0, ok: status?.[1] === "OK", output };
}

function unittest(module: string): Promise<UnittestSummary> {
  return new Promise((res) => {
    const child = spawn(PY, ["-m", "unittest", "-v", module], { cwd: PYDIR, env });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", () => res(parseUnittest(out)));
  });
}

function report(name: string, r: UnittestSummary): void {
  const measured = r.output.split("\n").filter((l) => /^\s+(flood|SIGINT|interrupt_request|comm round trip|blocking cell)/.test(l));
  console.log(`${name}: ran ${r.ran}, failures ${r.failures}, errors ${r.errors}, skipped ${r.skipped}${measured.length ? `\n${measured.join("\n")}` : ""}`);
  if (!r.ok || r.failures || r.errors) {
    console.log(r.output);
    if (existsSync(kernelLog)) console.log(`kernel log (tail):\n${readFileSync(kernelLog, "utf8").split("\n").slice(-60).join("\n")}`);
  }
}

describe.skipIf(!hasJupyter)("Jupyter kernel (jupyter_client, jupyter_kernel_test)", () => {
  beforeAll(async () => {
    prefix = mkdtempSync(join(tmpdir(), "safesail-kernelspec-"));
    kernelLog = join(prefix, "kernel.log");
    for (const extra of [[], ["--name", "safesail-msg", "--interrupt-mode", "message", "--display-name", "TypeScript (safesail, message interrupts)"]]) {
      const r = await run(process.execPath, [BIN, "kernel", "install", "--prefix", prefix, ...extra]);
      expect(r.code, r.stderr).toBe(0);
    }
    env = {
      ...process.env,
      JUPYTER_PATH: join(prefix, "share", "jupyter"),
      JUPYTER_RUNTIME_DIR: join(prefix, "runtime"),
      JUPYTER_DATA_DIR: join(prefix, "data"),
      JUPYTER_CONFIG_DIR: join(prefix, "config"),
      JUPYTER_PLATFORM_DIRS: "1",
      PYTHONDONTWRITEBYTECODE: "1",
      SAFESAIL_KERNEL_LOG: kernelLog,
    };
  });
  afterAll(() => {
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  it("the installed kernelspecs are what jupyter_client lists", async () => {
    const script = [
      "import json, jupyter_client.kernelspec as k",
      "m = k.KernelSpecManager()",
      "print(json.dumps({n: dict(dir=d, spec=m.get_kernel_spec(n).to_dict()) for n, d in m.find_kernel_specs().items()}))",
    ].join("\n");
    const r = await run(PY, ["-c", script], { env });
    expect(r.code, r.stderr).toBe(0);
    const specs = JSON.parse(r.stdout) as Record<string, { dir: string; spec: Record<string, unknown> }>;
    expect(specs.safesail?.dir).toBe(join(prefix, "share", "jupyter", "kernels", "safesail"));
    expect(specs.safesail?.spec).toMatchObject({
      display_name: "TypeScript (safesail)",
      language: "typescript",
      interrupt_mode: "signal",
      argv: [process.execPath, BIN, "kernel", "run", "{connection_file}"],
    });
    expect(specs["safesail-msg"]?.spec).toMatchObject({ interrupt_mode: "message", display_name: "TypeScript (safesail, message interrupts)" });
    expect(existsSync(join(prefix, "share", "jupyter", "kernels", "safesail", "logo-svg.svg"))).toBe(true);
  });

  it("jupyter_kernel_test: every test passes, none skipped", async () => {
    const r = await unittest("test_conformance");
    report("jupyter_kernel_test", r);
    expect(r.ran).toBeGreaterThanOrEqual(12);
    expect(r.failures + r.errors).toBe(0);
    expect(r.skipped).toBe(0);
    expect(r.ok).toBe(true);
  }, 240_000);

  it("jupyter_client: comms with buffers, interrupts, bad signatures, 10,000 malformed comm messages, shutdown", async () => {
    const r = await unittest("test_client");
    report("jupyter_client suite", r);
    expect(r.ran).toBeGreaterThanOrEqual(15);
    expect(r.failures + r.errors).toBe(0);
    expect(r.ok).toBe(true);
  }, 300_000);
});
