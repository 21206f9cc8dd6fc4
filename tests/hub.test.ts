import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { createRandomModel } from "../src/model/random.ts";
import { cachedSnapshot, downloadModel, hubCacheDir, isHubId, repoFolderName, resolveModel } from "../src/model/hub.ts";
import { openWeights, validateWeights } from "../src/model/weights.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { loadTokenizer } from "../src/model/tokenizer.ts";
import { NotFoundError, SafesailError } from "../src/errors.ts";

interface FakeRepo {
  sha: string;
  files: Map<string, Buffer>;
  /** Requires `Authorization: Bearer <token>`. */
  token?: string;
}

interface Req {
  url: string;
  auth: string | undefined;
  server: "hub" | "cdn";
}

const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let root: string;
let hub: http.Server;
let cdn: http.Server;
let hubUrl: string;
let cdnUrl: string;
const repos = new Map<string, FakeRepo>();
const requests: Req[] = [];
/** Files (repo-relative) whose body the server cuts in half, then drops the connection. */
const cut = new Set<string>();
/** sha256 -> bytes served by the "CDN" (another origin, like the real hub's LFS storage). */
const cdnBlobs = new Map<string, Buffer>();

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function sendBody(res: http.ServerResponse, body: Buffer, cutIt: boolean): void {
  res.setHeader("content-length", body.length);
  if (cutIt) {
    res.flushHeaders();
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
    return;
  }
  res.end(body);
}

async function makeRepo(id: string, opts: { sharded?: boolean; token?: string; seed?: number } = {}): Promise<FakeRepo> {
  const dir = path.join(root, "src", id.replace("/", "_"));
  const m = await createRandomModel(dir, { hidden: 16, layers: 2, heads: 2, intermediate: 24, sharded: opts.sharded, seed: opts.seed ?? 1 });
  const files = new Map<string, Buffer>();
  for (const f of m.files) files.set(f, fs.readFileSync(path.join(dir, f)));
  files.set("README.md", Buffer.from("# tiny\n"));
  files.set("pytorch_model.bin", Buffer.from("not wanted"));
  files.set("onnx/model.onnx", Buffer.from("not wanted"));
  files.set("flax_model.msgpack", Buffer.from("not wanted"));
  const repo: FakeRepo = { sha: sha1(Buffer.from(`${id}:${opts.seed ?? 1}`)), files, token: opts.token };
  repos.set(id, repo);
  return repo;
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "safesail-hub-"));
  cdn = http.createServer((req, res) => {
    requests.push({ url: req.url!, auth: req.headers.authorization, server: "cdn" });
    const m = /^\/blobs\/([0-9a-f]{64})(?:\?.*)?$/.exec(req.url!);
    const body = m ? cdnBlobs.get(m[1]!) : undefined;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.setHeader("etag", `"cdn-${m![1]!.slice(0, 8)}"`);
    sendBody(res, body, cut.has(`cdn:${m![1]}`));
  });
  hub = http.createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    requests.push({ url: req.url!, auth: req.headers.authorization, server: "hub" });
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repoId = api?.[1] ?? resolve?.[1];
    const repo = repoId ? repos.get(repoId) : undefined;
    if (!repo) {
      res.writeHead(404, { "x-error-code": "RepoNotFound", "content-type": "application/json" }).end('{"error":"Repository not found"}');
      return;
    }
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"Invalid credentials"}');
      return;
    }
    if (api) {
      const rev = decodeURIComponent(api[2]!);
      if (rev !== "main" && rev !== repo.sha) {
        res.writeHead(404, { "x-error-code": "RevisionNotFound" }).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: repoId, sha: repo.sha, siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })) }));
      return;
    }
    const rev = resolve![2]!;
    const file = decodeURIComponent(resolve![3]!);
    const body = repo.files.get(file);
    if (!body || (rev !== repo.sha && rev !== "main")) {
      res.writeHead(404, { "x-error-code": "EntryNotFound" }).end();
      return;
    }
    res.setHeader("x-repo-commit", repo.sha);
    if (file.endsWith(".safetensors")) {
      // LFS-style: redirect to another origin, with the sha256 as X-Linked-Etag.
      const h = sha256(body);
      cdnBlobs.set(h, body);
      res.writeHead(302, { location: `${cdnUrl}/blobs/${h}?X-Amz-Signature=secret`, "x-linked-etag": `"${h}"`, "x-linked-size": String(body.length), etag: `"${h}"` });
      res.end();
      if (cut.has(file)) cut.add(`cdn:${h}`);
      return;
    }
    if (file === "tokenizer_config.json") {
      // a same-origin relative redirect (as for renamed repos)
      if (!url.searchParams.has("moved")) {
        res.writeHead(307, { location: `${url.pathname}?moved=1` }).end();
        return;
      }
    }
    res.setHeader("etag", `"${sha1(body)}"`);
    sendBody(res, body, cut.has(file));
  });
  hubUrl = await listen(hub);
  cdnUrl = await listen(cdn);
});

afterAll(async () => {
  await new Promise((r) => hub.close(r));
  await new Promise((r) => cdn.close(r));
  fs.rmSync(root, { recursive: true, force: true });
});

afterEach(() => {
  requests.length = 0;
  cut.clear();
});

let cacheCounter = 0;
function freshEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { HF_HUB_CACHE: path.join(root, `cache-${cacheCounter++}`), HF_ENDPOINT: hubUrl, ...extra };
}

describe("hub cache paths", () => {
  it("follows HF_HUB_CACHE, HF_HOME and the default", () => {
    expect(hubCacheDir({ HF_HUB_CACHE: "/a/b" })).toBe(path.resolve("/a/b"));
    expect(hubCacheDir({ HF_HOME: "/h" })).toBe(path.resolve("/h/hub"));
    expect(hubCacheDir({})).toBe(path.join(os.homedir(), ".cache", "huggingface", "hub"));
    expect(repoFolderName("Qwen/Qwen2.5-0.5B-Instruct")).toBe("models--Qwen--Qwen2.5-0.5B-Instruct");
    expect(isHubId("Qwen/Qwen2.5-0.5B-Instruct")).toBe(true);
    expect(isHubId("Qwen/Qwen2.5-0.5B-Instruct@main")).toBe(true);
    expect(isHubId("./models/x")).toBe(false);
    expect(isHubId("/abs/path")).toBe(false);
    expect(isHubId("a/b/c")).toBe(false);
  });
});

describe("hub download", () => {
  it("downloads into the HF cache layout, then reuses it with zero requests", async () => {
    const repo = await makeRepo("org/tiny");
    const env = freshEnv();
    const events: string[] = [];
    const dir = await resolveModel("org/tiny", { env, onProgress: (e) => e.done && events.push(e.file) });
    const repoDir = path.join(env.HF_HUB_CACHE!, "models--org--tiny");
    expect(dir).toBe(path.join(repoDir, "snapshots", repo.sha));
    expect(fs.readFileSync(path.join(repoDir, "refs", "main"), "utf8")).toBe(repo.sha);
    const names = fs.readdirSync(dir).sort();
    expect(names).toEqual(["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]);
    expect(events.sort()).toEqual(names);
    // unwanted files were never asked for
    expect(requests.some((r) => /\.bin|\.onnx|\.msgpack|README/.test(r.url))).toBe(false);
    // relative symlinks into blobs/, blob named by the LFS sha256 for the weights and by the ETag otherwise
    const weights = fs.readlinkSync(path.join(dir, "model.safetensors"));
    const st = repo.files.get("model.safetensors")!;
    expect(weights).toBe(path.join("..", "..", "blobs", sha256(st)));
    expect(fs.readlinkSync(path.join(dir, "config.json"))).toBe(path.join("..", "..", "blobs", sha1(repo.files.get("config.json")!)));
    for (const f of names) expect(fs.readFileSync(path.join(dir, f)).equals(repo.files.get(f)!)).toBe(true);
    expect(fs.readdirSync(path.join(repoDir, "blobs")).filter((f) => f.includes("incomplete"))).toEqual([]);

    // the folder is a usable model
    const cfg = parseModelConfig(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")), "config.json");
    validateWeights(openWeights(dir, cfg), cfg, dir);
    expect((await loadTokenizer(dir)).encode("the")).toEqual([116, 257]);

    requests.length = 0;
    expect(await resolveModel("org/tiny", { env })).toBe(dir);
    expect(await resolveModel("org/tiny", { env: { ...env, HF_ENDPOINT: "http://127.0.0.1:1" }, offline: true })).toBe(dir);
    expect(cachedSnapshot("org/tiny", { env })).toBe(dir);
    expect(requests.length).toBe(0);

    // by commit, and with update it asks the hub again but downloads nothing new
    expect(await resolveModel(`org/tiny@${repo.sha}`, { env })).toBe(dir);
    expect(requests.length).toBe(0);
    await downloadModel("org/tiny", { env, update: true });
    expect(requests.map((r) => r.url)).toEqual([`/api/models/org/tiny/revision/main`]);
  });

  it("loads a sharded repo", async () => {
    await makeRepo("org/sharded", { sharded: true, seed: 2 });
    const env = freshEnv();
    const started: string[] = [];
    let finished = 0;
    const progress = { start: (label: string) => started.push(label), update() {}, finish: () => void finished++ };
    const dir = await resolveModel("org/sharded", { env, progress });
    expect(started).toContain("org/sharded model-00002-of-00002.safetensors");
    expect(finished).toBe(started.length);
    expect(fs.existsSync(path.join(dir, "model-00001-of-00002.safetensors"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "model-00002-of-00002.safetensors"))).toBe(true);
    const cfg = parseModelConfig(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")), "config.json");
    const ws = openWeights(dir, cfg);
    expect(ws.files.length).toBe(2);
    validateWeights(ws, cfg, dir);
  });

  it("sends HF_TOKEN to the hub only, and explains a 401", async () => {
    await makeRepo("org/private", { token: "hf_secret123" });
    const env = freshEnv({ HF_TOKEN: "hf_secret123" });
    await resolveModel("org/private", { env });
    const hubReqs = requests.filter((r) => r.server === "hub");
    expect(hubReqs.length).toBeGreaterThan(0);
    for (const r of hubReqs) expect(r.auth).toBe("Bearer hf_secret123");
    const cdnReqs = requests.filter((r) => r.server === "cdn");
    expect(cdnReqs.length).toBe(1);
    expect(cdnReqs[0]!.auth).toBeUndefined();
    // never written to the cache
    const all = fs.readdirSync(env.HF_HUB_CACHE!, { recursive: true, withFileTypes: true });
    for (const e of all) {
      if (e.isFile()) expect(fs.readFileSync(path.join(e.parentPath, e.name), "utf8")).not.toContain("hf_secret123");
    }

    const noToken = freshEnv();
    const err = await resolveModel("org/private", { env: noToken }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(SafesailError);
    expect((err as Error).message).toMatch(/org\/private: access denied \(401 from http:\/\/127\.0\.0\.1:\d+\/api\/models\/org\/private\/revision\/main\)/);
    expect((err as Error).message).toContain("HF_TOKEN");
    const wrong = await resolveModel("org/private", { env: freshEnv({ HF_TOKEN: "hf_wrong" }) }).catch((e: Error) => e);
    expect((wrong as Error).message).toMatch(/HF_TOKEN is set but was refused/);
    expect((wrong as Error).message).not.toContain("hf_wrong");
  });

  it("gives NotFoundError naming the repo on 404", async () => {
    const err = await resolveModel("org/missing", { env: freshEnv() }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toMatch(/^org\/missing: repository not found on the hub \(404 from http:\/\/127\.0\.0\.1:\d+\/api\/models\/org\/missing\/revision\/main\)/);
    await makeRepo("org/revs");
    const rev = await resolveModel("org/revs@nope", { env: freshEnv() }).catch((e: Error) => e);
    expect(rev).toBeInstanceOf(NotFoundError);
    expect((rev as Error).message).toMatch(/org\/revs: revision not found/);
    const off = await resolveModel("org/revs", { env: freshEnv(), offline: true }).catch((e: Error) => e);
    expect(off).toBeInstanceOf(NotFoundError);
    expect((off as Error).message).toMatch(/org\/revs@main: not complete in the hub cache .* offline/);
    const local = await resolveModel("./no/such/folder", { env: freshEnv() }).catch((e: Error) => e);
    expect(local).toBeInstanceOf(NotFoundError);
    expect((local as Error).message).toMatch(/no\/such\/folder: model folder not found/);
  });

  it("leaves no broken file after an interrupted download, and resumes", async () => {
    const repo = await makeRepo("org/flaky", { seed: 5 });
    const env = freshEnv();
    cut.add("model.safetensors");
    const err = await resolveModel("org/flaky", { env, retries: 1 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(SafesailError);
    expect((err as Error).message).toMatch(/org\/flaky: download of "model\.safetensors" from http:\/\/127\.0\.0\.1:\d+\/blobs\/[0-9a-f]+ failed/);
    expect((err as Error).message).not.toContain("X-Amz-Signature");
    expect(requests.filter((r) => r.server === "cdn").length).toBe(2); // tried twice
    const repoDir = path.join(env.HF_HUB_CACHE!, "models--org--flaky");
    const snap = path.join(repoDir, "snapshots", repo.sha);
    expect(fs.existsSync(path.join(repoDir, "refs", "main"))).toBe(false);
    expect(fs.existsSync(path.join(snap, "model.safetensors"))).toBe(false);
    expect(fs.readdirSync(path.join(repoDir, "blobs")).filter((b) => b.startsWith(".") || b === sha256(repo.files.get("model.safetensors")!))).toEqual([]);
    expect(cachedSnapshot("org/flaky", { env })).toBeNull();
    // the small files are complete already: a second run fetches only the weights
    cut.clear();
    requests.length = 0;
    const dir = await resolveModel("org/flaky", { env });
    expect(dir).toBe(snap);
    const fileReqs = requests.filter((r) => r.url.includes("/resolve/") || r.server === "cdn").map((r) => r.url.replace(/\?.*/, ""));
    expect(fileReqs).toEqual([`/org/flaky/resolve/${repo.sha}/model.safetensors`, `/blobs/${sha256(repo.files.get("model.safetensors")!)}`]);
    expect(fs.readFileSync(path.join(dir, "model.safetensors")).equals(repo.files.get("model.safetensors")!)).toBe(true);
  });

  it("retries a cut small file transparently", async () => {
    const repo = await makeRepo("org/flaky2", { seed: 6 });
    const env = freshEnv();
    cut.add("config.json");
    const orig = repo.files.get("config.json")!;
    // runs after the serving handler: the first request is cut, later ones are not
    const listener = (req: http.IncomingMessage) => {
      if (req.url!.endsWith("/config.json")) cut.delete("config.json");
    };
    hub.on("request", listener);
    try {
      const dir = await resolveModel("org/flaky2", { env });
      expect(fs.readFileSync(path.join(dir, "config.json")).equals(orig)).toBe(true);
      expect(requests.filter((r) => r.url.endsWith("/config.json")).length).toBe(2);
    } finally {
      hub.off("request", listener);
    }
  });

  it("returns a local folder unchanged", async () => {
    const dir = path.join(root, "src", "org_tiny");
    expect(await resolveModel(dir, { env: freshEnv() })).toBe(dir);
    expect(requests.length).toBe(0);
  });
});
