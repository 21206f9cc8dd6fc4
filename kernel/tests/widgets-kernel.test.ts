// The widget protocol and the progress display through the real kernel: kernel/tests/py/widgets_client.py plays
// JupyterLab's widget manager over jupyter_client (Debian's /usr/bin/python3) against the kernelspec installed
// into a temp prefix with `safesail kernel install --prefix`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, ROOT } from "./widgets-helpers.ts";

const PY = "/usr/bin/python3";

let prefix: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  prefix = mkdtempSync(join(tmpdir(), "safesail-widgets-kernel-"));
  const r = await exec(process.execPath, [join(ROOT, "bin/safesail.js"), "kernel", "install", "--prefix", prefix]);
  expect(r.code, r.stderr).toBe(0);
  env = { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter") };
});

afterAll(() => {
  if (prefix) rmSync(prefix, { recursive: true, force: true });
});

async function scenario(name: string): Promise<Record<string, unknown>> {
  const r = await exec(PY, [join(ROOT, "kernel/tests/py/widgets_client.py"), name], env);
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let parsed: { ok?: boolean; error?: string; seen?: Record<string, unknown> } = {};
  try {
    parsed = JSON.parse(last) as typeof parsed;
  } catch {
    // fall through: the assertion below shows stdout and stderr
  }
  expect(parsed.ok, `${parsed.error ?? ""}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(true);
  expect(r.code).toBe(0);
  return parsed.seen ?? {};
}

describe("widgets through the kernel (jupyter_client as the browser)", () => {
  it("slider callback, echo_update, request_state, binary buffers, button clicks, control comm, Output.capture", async () => {
    const seen = await scenario("widgets");
    expect((seen.slider as { model_id: string }).model_id).toMatch(/^[0-9a-f]{32}$/);
    expect((seen.output_order as string[])[1]).toBe("inside");
  });

  it("a cell's Progress loop: one display_data, then update_display_data with the same display id", async () => {
    const seen = await scenario("progress");
    const kinds = seen.messages as string[];
    expect(kinds[0]).toBe("display_data");
    expect(kinds.slice(1).every((k) => k === "update_display_data")).toBe(true);
    expect(seen.display_id).toMatch(/^safesail-progress-/);
  });
});
