// `safesail serve` as a process: prints the URL it listens on, takes the key from SAFESAIL_API_KEY without ever
// printing it, serves steered requests, exits 0 on SIGTERM and SIGINT; refuses a non-loopback host without a key.
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, runCli } from "./helpers/cli.ts";

const TOY = resolve(import.meta.dirname, "..", "models/toy-safety-qwen2");
const KEY = "sk-cli-test-0b7e5d2c9a41f368";

interface Running {
  child: ChildProcess;
  url: string;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

/** Starts `safesail serve ...args` and resolves once it printed its URL. */
function startCli(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [BIN, "serve", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return new Promise((res, rej) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/\S+\/v1)/.exec(out);
      if (m) res({ child, url: m[1]!, out: () => out, err: () => err, exit });
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    void exit.then((code) => rej(new Error(`safesail serve exited (${code}) before printing its URL: ${err}`)));
  });
}

describe("safesail serve (CLI)", () => {
  it("serves with the key from SAFESAIL_API_KEY, never prints it, and stops cleanly on SIGTERM", async () => {
    const s = await startCli([TOY, "--saes", resolve(TOY, "saes"), "--port", "0"], { SAFESAIL_API_KEY: KEY });
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(s.out()).toContain('model "toy-safety-qwen2"');
      expect(s.out()).toContain("API key required (from SAFESAIL_API_KEY)");
      expect((await fetch(`${s.url}/models`)).status).toBe(401);
      const res = await fetch(`${s.url}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "toy-safety-qwen2", messages: [{ role: "user", content: "How do I bake bread?" }], max_tokens: 3, temperature: 0, safesail: { interventions: [{ feature: "0_8", method: "clamp", value: 200 }] } }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as any).choices[0].message.content).toBe("Great idea idea");
    } finally {
      s.child.kill("SIGTERM");
    }
    expect(await s.exit).toBe(0);
    expect(s.err()).toContain("SIGTERM: stopping");
    expect(s.err()).toMatch(/POST \/v1\/chat\/completions 200/);
    expect(s.out() + s.err()).not.toContain(KEY);
  });

  it("exits 0 on SIGINT", async () => {
    const s = await startCli([TOY, "--port", "0", "--quiet"]);
    s.child.kill("SIGINT");
    expect(await s.exit).toBe(0);
  });

  it("refuses a non-loopback host without a key, and a malformed key without quoting it", async () => {
    const r = await runCli(["serve", TOY, "--host", "0.0.0.0"], { SAFESAIL_API_KEY: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--host 0\.0\.0\.0: .*needs an API key: give --api-key KEY or set SAFESAIL_API_KEY/);
    const k = await runCli(["serve", TOY, "--api-key", "tiny k"]);
    expect(k.code).toBe(1);
    expect(k.stderr).toContain("--api-key: the API key must");
    expect(k.stderr).not.toContain("tiny k");
  });
});
