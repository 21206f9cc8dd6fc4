// loadSae("org/repo", { path }) from a hub that speaks the Hugging Face API on loopback: SAELens folders and
// Safe-SAIL .pt files download into the hub cache layout, are reused offline, and a missing file is named.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../src/errors.ts";
import { createSae } from "../src/sae/sae.ts";
import { safeSailSae } from "../src/sae/safe-sail-checkpoint.ts";
import { loadSae, saveSae } from "../src/sae/saelens.ts";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "safesail-sae-hub-"));
const FIXTURE_PT = fileURLToPath(new URL("./fixtures/torch/safe_sail_ckpt.pt", import.meta.url));
const SHA = "a".repeat(40);
const files = new Map<string, Buffer>();
const requests: string[] = [];
let server: http.Server;
let endpoint: string;

beforeAll(async () => {
  const sae = createSae({ dIn: 8, dSae: 32, k: 4, hookName: "blocks.1.hook_mlp_out", modelName: "tiny" }, { seed: 3 });
  const dir = path.join(root, "src-sae");
  await saveSae(dir, sae);
  for (const f of ["cfg.json", "sae_weights.safetensors"]) files.set(`blocks.1.hook_mlp_out/${f}`, fs.readFileSync(path.join(dir, f)));
  files.set("checkpoints/ckpt_layer3.pt", fs.readFileSync(FIXTURE_PT));
  files.set("README.md", Buffer.from("# saes\n"));
  server = http.createServer((req, res) => {
    requests.push(req.url!);
    const url = new URL(req.url!, "http://x");
    if (/^\/api\/models\/org\/saes\/revision\/main$/.test(url.pathname)) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: "org/saes", sha: SHA, siblings: [...files.keys()].map((rfilename) => ({ rfilename })) }));
      return;
    }
    const m = /^\/org\/saes\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const body = m ? files.get(decodeURIComponent(m[2]!)) : undefined;
    if (!body) {
      res.writeHead(404, { "x-error-code": "EntryNotFound" }).end();
      return;
    }
    res.writeHead(200, { "x-repo-commit": SHA, etag: `"${createHash("sha256").update(body).digest("hex")}"`, "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  fs.rmSync(root, { recursive: true, force: true });
});

describe("loadSae from the hub", () => {
  const cacheDir = () => path.join(root, "cache");

  it("downloads a SAELens folder into the hub cache layout, then loads it offline with no request", async () => {
    const sae = await loadSae("org/saes", { path: "blocks.1.hook_mlp_out", endpoint, cacheDir: cacheDir() });
    expect(sae.config).toMatchObject({ dIn: 8, dSae: 32, k: 4, hookName: "blocks.1.hook_mlp_out" });
    const snap = path.join(cacheDir(), "models--org--saes", "snapshots", SHA, "blocks.1.hook_mlp_out");
    expect(fs.lstatSync(path.join(snap, "cfg.json")).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(path.join(cacheDir(), "models--org--saes", "refs", "main"), "utf8").trim()).toBe(SHA);
    const local = await loadSae(path.join(root, "src-sae"));
    expect(sae.params).toEqual(local.params);
    const before = requests.length;
    const again = await loadSae("org/saes", { path: "blocks.1.hook_mlp_out", endpoint, cacheDir: cacheDir(), offline: true });
    expect(again.params).toEqual(local.params);
    expect(requests.length).toBe(before);
  });

  it("loads a Safe-SAIL .pt from a repository path as a Sae", async () => {
    const sae = await loadSae("org/saes", { path: "checkpoints/ckpt_layer3.pt", k: 2, layer: 3, endpoint, cacheDir: cacheDir() });
    expect(sae.config).toMatchObject({ k: 2, hookName: "blocks.3.hook_mlp_out" });
    expect(sae.params).toEqual(safeSailSae(FIXTURE_PT, { k: 2, layer: 3 }).params);
  });

  it("names what the repository lacks, and says offline what is missing from the cache", async () => {
    const err = await loadSae("org/saes", { path: "blocks.9.hook_mlp_out", endpoint, cacheDir: cacheDir() }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toMatch(/^org\/saes: no such SAE folder here, and as a hub id: org\/saes@main: the repository has no "blocks\.9\.hook_mlp_out\/cfg\.json", "blocks\.9\.hook_mlp_out\/sae_weights\.safetensors"/);
    const off = await loadSae("org/saes", { path: "blocks.2.hook_mlp_out", endpoint, cacheDir: cacheDir(), offline: true }).catch((e: Error) => e);
    expect((off as Error).message).toMatch(/org\/saes@main: blocks\.2\.hook_mlp_out\/cfg\.json, blocks\.2\.hook_mlp_out\/sae_weights\.safetensors are not complete in the hub cache .* offline mode is on/);
  });
});
