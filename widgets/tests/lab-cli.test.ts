// `safesail lab install` and `safesail lab` through the real CLI: files where JupyterLab looks for prebuilt
// extensions, and a server on loopback that answers with the extension listed.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const CLI = join(import.meta.dirname, "..", "..", "bin", "safesail.js");
const tmp = mkdtempSync(join(tmpdir(), "safesail-lab-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("safesail lab install", () => {
  it("installs the prebuilt extension under PREFIX/share/jupyter/labextensions/safesail-widgets", () => {
    const r = spawnSync(process.execPath, [CLI, "lab", "install", "--prefix", join(tmp, "p")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const dir = join(tmp, "p", "share", "jupyter", "labextensions", "safesail-widgets");
    expect(r.stdout).toContain(dir);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg.name).toBe("safesail-widgets");
    expect(pkg.jupyterlab._build.extension).toBe("./extension");
    expect(pkg.jupyterlab._build.mimeExtension).toBe("./mimeExtension");
    expect(existsSync(join(dir, pkg.jupyterlab._build.load))).toBe(true);
    // Installing again replaces the folder (no leftovers beside it).
    const again = spawnSync(process.execPath, [CLI, "lab", "install", "--prefix", join(tmp, "p")], { encoding: "utf8" });
    expect(again.status, again.stderr).toBe(0);
    expect(spawnSync("ls", ["-A", join(tmp, "p", "share", "jupyter", "labextensions")], { encoding: "utf8" }).stdout.trim()).toBe("safesail-widgets");
  });

  it("refuses two destinations at once, naming the flags", () => {
    const r = spawnSync(process.execPath, [CLI, "lab", "install", "--user", "--prefix", tmp], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--user, --prefix DIR, --sys-prefix/);
  });
});

describe("safesail lab", () => {
  it("serves the lab on loopback, prints the URL with its token, and lists safesail-widgets", async () => {
    const child = spawn(process.execPath, [CLI, "lab", "--port", "0", "--dir", tmp], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      child.stdout.setEncoding("utf8");
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed:\n${out}`)), 120_000);
        child.stdout.on("data", (s: string) => {
          out += s;
          const m = /(http:\/\/127\.0\.0\.1:\d+\/lab\?token=[0-9a-f]+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.on("exit", (code) => reject(new Error(`safesail lab exited ${code}:\n${out}`)));
      });
      const page = await fetch(url);
      expect(page.status).toBe(200);
      const html = await page.text();
      const config = JSON.parse(/<script id="jupyter-config-data" type="application\/json">([\s\S]*?)<\/script>/.exec(html)![1]!);
      expect(config.federated_extensions.map((e: { name: string }) => e.name)).toContain("safesail-widgets");
      const specs = await (await fetch(url.replace("/lab?", "/api/kernelspecs?"))).json();
      expect(Object.keys(specs.kernelspecs)).toContain("safesail");
      // Without the token the API refuses.
      expect((await fetch(url.replace(/\/lab\?token=.*/, "/api/kernelspecs"))).status).toBe(403);
    } finally {
      child.kill("SIGINT");
      await new Promise((r) => child.once("exit", r));
    }
  });
});
