// Activation stores and feature databases on S3-compatible object storage (src/storage/object-store.ts), against a
// real S3 server on loopback (s3rver, tests/helpers/s3-server.ts) through the AWS SDK: a harvest uploaded and read
// back gives the same bytes; every chunk goes up before the manifest, the old manifest comes down first, and an
// upload cut off part-way leaves no manifest, which readers refuse; a second read fetches nothing; shards harvested
// to s3:// merge there; large files go up as multipart uploads; feature databases round-trip (library and CLI); bad
// URLs and missing objects are named.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { harvest } from "../src/activations/harvest.ts";
import { findShardDirs, mergeActivationShards } from "../src/activations/merge.ts";
import { openActivationStore, type ActivationStore } from "../src/activations/store.ts";
import { featureDbExists, importSafeSail, newFeatureDb, readFeatureDb, writeFeatureDb } from "../src/db/index.ts";
import { ArgumentError, ConfigError, NotFoundError } from "../src/errors.ts";
import { createRandomModel } from "../src/model/random.ts";
import { loadModel, type Model } from "../src/model/runtime.ts";
import {
  downloadFolder,
  isRemotePath,
  objectCacheDir,
  parseS3Url,
  readTextObject,
  s3ClientConfig,
  uploadFolder,
  writeTextObjectAtomic,
} from "../src/storage/object-store.ts";
import { BIN, runCli } from "./helpers/cli.ts";
import { S3_TEST_CREDENTIALS, startS3Server, type S3TestServer } from "./helpers/s3-server.ts";

const BUCKET = "safesail-test";
const root = mkdtempSync(join(tmpdir(), "safesail-objstore-"));
const cacheA = join(root, "cache-a"); // the harvesting machine's cache
const RELEASE = join(import.meta.dirname, "..", "data", "safe-sail", "safe-sail-en_db.json");
const ENV_KEYS = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "SAFESAIL_CACHE"] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

let s3: S3TestServer;
let model: Model;
const docs = ["the cat sat on the mat", "safety first", "hello world, hello again", "a b c d e f g", "night and day", "dogs bark at night", "one more document here", "x"];

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
/** name -> sha256 of every (non-hidden) file of a folder. */
const folderBytes = (dir: string) => Object.fromEntries(readdirSync(dir).filter((n) => !n.startsWith(".")).sort().map((n) => [n, sha(readFileSync(join(dir, n)))]));
/** GETs of objects (not listings: those are GET /bucket/) since request `from`. */
const objectGets = (from: number) => s3.requests.slice(from).filter((r) => r.method === "GET" && r.path.startsWith(`/${BUCKET}/`) && r.path.length > BUCKET.length + 2).map((r) => r.path);
/** Object writes since `from` (PutObject, UploadPart, CompleteMultipartUpload), by key path, in order. */
const objectWrites = (from: number) => s3.requests.slice(from).filter((r) => r.method === "PUT" || (r.method === "POST" && "uploadId" in r.query)).map((r) => r.path);

beforeAll(async () => {
  s3 = await startS3Server([BUCKET]);
  for (const k of ENV_KEYS) delete process.env[k];
  Object.assign(process.env, s3.env, { SAFESAIL_CACHE: cacheA });
  const modelDir = join(root, "tiny");
  await createRandomModel(modelDir, { architecture: "Qwen2ForCausalLM", hidden: 32, layers: 3, heads: 4, kvHeads: 2, intermediate: 64, vocab: 300, seed: 1 });
  model = await loadModel(modelDir);
});

afterAll(async () => {
  await model?.dispose();
  await s3?.close();
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  rmSync(root, { recursive: true, force: true });
});

describe("s3:// URLs and the client's configuration", () => {
  it("parses s3://BUCKET/PREFIX and names the argument and the URL in every refusal", () => {
    expect(isRemotePath("s3://bkt/x")).toBe(true);
    expect(isRemotePath("S3://bkt/x")).toBe(true);
    expect(isRemotePath("/data/acts")).toBe(false);
    expect(isRemotePath("s3:/bkt")).toBe(false);
    expect(parseS3Url("s3://my-bucket/acts/run1/")).toEqual({ bucket: "my-bucket", key: "acts/run1", url: "s3://my-bucket/acts/run1" });
    expect(parseS3Url("s3://my.bucket")).toEqual({ bucket: "my.bucket", key: "", url: "s3://my.bucket" });
    const bad: [string, RegExp][] = [
      ["s3://", /^out: "s3:\/\/": no bucket name/],
      ["s3:///acts", /^out: "s3:\/\/\/acts": no bucket name/],
      ["s3://My_Bucket/acts", /^out: "s3:\/\/My_Bucket\/acts": bucket name "My_Bucket" is not valid/],
      ["s3://ab/acts", /bucket name "ab" is not valid/],
      ["s3://bkt/a//b", /^out: "s3:\/\/bkt\/a\/\/b": empty path segment/],
      ["s3://bkt/a/../b", /path segment "\.\." is not allowed/],
      ["work/acts", /^out: "work\/acts": not an s3:\/\/ URL/],
    ];
    for (const [url, re] of bad) {
      let err: unknown;
      try {
        parseS3Url(url, "out");
      } catch (e) {
        err = e;
      }
      expect(err, url).toBeInstanceOf(ArgumentError);
      expect((err as ArgumentError).message, url).toMatch(re);
      expect((err as ArgumentError).field).toBe("out");
    }
  });

  it("takes the endpoint, region and path-style addressing from the standard AWS variables, never credentials", () => {
    expect(s3ClientConfig({})).toEqual({ region: "us-east-1" });
    expect(s3ClientConfig({ AWS_DEFAULT_REGION: "eu-north-1" })).toEqual({ region: "eu-north-1" });
    expect(s3ClientConfig({ AWS_ENDPOINT_URL: "http://127.0.0.1:9000", AWS_REGION: "eu-west-1", AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" })).toEqual({
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
    });
    expect(s3ClientConfig({ AWS_ENDPOINT_URL: "http://a:1", AWS_ENDPOINT_URL_S3: "http://b:2" }).endpoint).toBe("http://b:2");
    expect(() => s3ClientConfig({ AWS_ENDPOINT_URL: "minio:9000" })).toThrow(ConfigError);
    expect(() => s3ClientConfig({ AWS_ENDPOINT_URL: "minio:9000" })).toThrow(/AWS_ENDPOINT_URL: .* must be an http:\/\/ or https:\/\/ URL/);
    // Credentials written into an endpoint URL are not repeated in the message.
    let message = "";
    try {
      s3ClientConfig({ AWS_ENDPOINT_URL_S3: "ftp://user:hunter2@host:21" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^AWS_ENDPOINT_URL_S3: /);
    expect(message).not.toContain("hunter2");
    expect(objectCacheDir("s3://bkt/a/b", { SAFESAIL_CACHE: "/c", AWS_ENDPOINT_URL: "http://127.0.0.1:9000" })).toBe("/c/s3/127.0.0.1_9000/bkt/a/b");
    expect(objectCacheDir("s3://bkt/a/b/", { XDG_CACHE_HOME: "/x" })).toBe("/x/safesail/s3/aws/bkt/a/b");
  });
});

describe("activation stores on object storage", () => {
  const url = `s3://${BUCKET}/acts/run1`;
  let local: ActivationStore;

  it("harvest --out s3://: every chunk is uploaded before the manifest, signed with SigV4; read back on another machine it is the local harvest, byte for byte", async () => {
    const mark = s3.requests.length;
    const store = await harvest(model, docs, { layers: [0, 2], out: url, chunkTokens: 40 });
    expect(store.source).toBe(url);
    expect(store.dir).toBe(objectCacheDir(url));
    expect(store.complete).toBe(true);
    expect(store.chunkCount).toBeGreaterThanOrEqual(3);
    const reqs = s3.requests.slice(mark);
    expect(reqs.length).toBeGreaterThan(0);
    expect(reqs.every((r) => r.sigv4)).toBe(true);
    const writes = objectWrites(mark);
    const prefix = `/${BUCKET}/acts/run1/`;
    expect(writes.at(-1)).toBe(`${prefix}manifest.json`);
    expect(writes.filter((p) => p.endsWith("/manifest.json"))).toHaveLength(1);
    expect(new Set(writes.slice(0, -1))).toEqual(new Set(store.manifest.chunks.map((c) => `${prefix}${c.file}`)));
    // The old manifest is deleted before the first file goes up.
    const firstDelete = reqs.findIndex((r) => r.method === "DELETE" && r.path === `${prefix}manifest.json`);
    const firstWrite = reqs.findIndex((r) => r.method === "PUT");
    expect(firstDelete).toBeGreaterThanOrEqual(0);
    expect(firstDelete).toBeLessThan(firstWrite);

    local = await harvest(model, docs, { layers: [0, 2], out: join(root, "local-acts"), chunkTokens: 40 });
    // Another machine: an empty cache.
    process.env.SAFESAIL_CACHE = join(root, "cache-b");
    try {
      let from = s3.requests.length;
      const back = await openActivationStore(url);
      expect(back.source).toBe(url);
      expect(back.dir).toBe(objectCacheDir(url));
      expect(back.dir.startsWith(join(root, "cache-b"))).toBe(true);
      expect(back.reader(2).dataset).toBe(url);
      expect(folderBytes(back.dir)).toEqual(folderBytes(local.dir));
      for (const l of [0, 2]) expect(bytesOf(await back.readAll(l)).equals(bytesOf(await local.readAll(l))), `layer ${l}`).toBe(true);
      expect(objectGets(from).sort()).toEqual([...local.manifest.chunks.map((c) => `${prefix}${c.file}`), `${prefix}manifest.json`].sort());

      // A second read: one listing, no object fetched.
      from = s3.requests.length;
      const again = await openActivationStore(url);
      expect(again.tokens).toBe(local.tokens);
      expect(objectGets(from)).toEqual([]);
      expect(s3.requests.slice(from).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /${BUCKET}/`]);

      // A file changed on the server: only it is fetched.
      await writeTextObjectAtomic(`${url}/notes.txt`, "harvested in a test\n");
      from = s3.requests.length;
      await openActivationStore(url);
      expect(objectGets(from)).toEqual([`${prefix}notes.txt`]);
    } finally {
      process.env.SAFESAIL_CACHE = cacheA;
    }
    // The harvesting machine's staging folder is its cache: reading there fetches nothing either.
    const from = s3.requests.length;
    const mine = await openActivationStore(url);
    expect(objectGets(from)).toEqual([`/${BUCKET}/acts/run1/notes.txt`]);
    expect(mine.dir).toBe(store.dir);
  });

  it("an existing remote store is checked, not replaced: the same harvest uploads nothing, another machine's is refused without overwrite", async () => {
    let mark = s3.requests.length;
    const same = await harvest(model, docs, { layers: [0, 2], out: url, chunkTokens: 40 });
    expect(same.complete).toBe(true);
    expect(objectWrites(mark)).toEqual([]);
    // Without the staging copy (another machine), the store at the URL is refused before any forward pass.
    rmSync(objectCacheDir(url), { recursive: true, force: true });
    mark = s3.requests.length;
    await expect(harvest(model, docs, { layers: [0, 2], out: url, chunkTokens: 40 })).rejects.toThrow(
      new RegExp(`^out: s3://${BUCKET}/acts/run1 already holds an activation store \\(s3://${BUCKET}/acts/run1/manifest.json\\); use a new --out`),
    );
    expect(objectWrites(mark)).toEqual([]);
  });

  it("an upload cut off part-way leaves no manifest (the old one was taken down first), and readers refuse it naming the URL", async () => {
    const url2 = `s3://${BUCKET}/acts/run2`;
    await uploadFolder(local.dir, url2);
    expect((await openActivationStore(url2)).tokens).toBe(local.tokens);
    const mark = s3.requests.length;
    s3.fail = (r) => r.method === "PUT" && r.path.endsWith("/run2/chunk-00001.safetensors");
    try {
      await expect(uploadFolder(local.dir, url2)).rejects.toThrow(new RegExp(`^s3://${BUCKET}/acts/run2/chunk-00001.safetensors: upload .*chunk-00001.safetensors failed`));
    } finally {
      s3.fail = null;
    }
    const writes = objectWrites(mark);
    expect(writes).toContain(`/${BUCKET}/acts/run2/chunk-00000.safetensors`);
    expect(writes.some((p) => p.endsWith("/manifest.json"))).toBe(false);
    // Even with a complete copy in the local cache, the server's state decides.
    const err = await openActivationStore(url2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toMatch(new RegExp(`^s3://${BUCKET}/acts/run2: no manifest.json: the upload did not finish`));
    await expect(downloadFolder(`s3://${BUCKET}/acts/never-uploaded`)).rejects.toThrow(/acts\/never-uploaded: no manifest.json: the upload did not finish \(nothing there\)/);
    // Uploading again completes it.
    await uploadFolder(local.dir, url2);
    expect((await openActivationStore(url2)).tokens).toBe(local.tokens);
  });

  it("a sharded harvest to s3:// merges there into the unsharded store, byte for byte", async () => {
    const url3 = `s3://${BUCKET}/acts/sharded`;
    for (const index of [0, 1]) await harvest(model, docs, { layers: [0, 2], out: url3, chunkTokens: 40, shard: { index, count: 2 } });
    const shards = await findShardDirs(url3);
    expect(shards).toEqual([`${url3}/shard-0000-of-0002`, `${url3}/shard-0001-of-0002`]);
    const mark = s3.requests.length;
    const merged = await mergeActivationShards(shards, { out: url3 });
    expect(merged.source).toBe(url3);
    // The shards were staged here, so nothing is fetched; only the merged store's own files go up, manifest last.
    expect(objectGets(mark)).toEqual([]);
    const writes = objectWrites(mark);
    expect(writes.at(-1)).toBe(`/${BUCKET}/acts/sharded/manifest.json`);
    expect(writes.every((p) => !p.includes("/shard-"))).toBe(true);
    process.env.SAFESAIL_CACHE = join(root, "cache-c");
    try {
      const back = await openActivationStore(url3);
      expect(folderBytes(back.dir)).toEqual(folderBytes(local.dir));
    } finally {
      process.env.SAFESAIL_CACHE = cacheA;
    }
    await expect(mergeActivationShards(shards, { out: url3 })).rejects.toThrow(/^out: s3:\/\/safesail-test\/acts\/sharded already holds an activation store/);
  });

  it("files larger than a part go up as multipart uploads and come back whole", async () => {
    const dir = join(root, "big");
    mkdirSync(dir, { recursive: true });
    const big = randomBytes(11 * 2 ** 20 + 123);
    writeFileSync(join(dir, "big.bin"), big);
    writeFileSync(join(dir, "manifest.json"), '{"files": ["big.bin"]}\n');
    writeFileSync(join(dir, ".hidden.tmp-1"), "not uploaded");
    await expect(uploadFolder(dir, `s3://${BUCKET}/big`, { partSize: 2 ** 20 })).rejects.toThrow(/partSize: must be an integer of at least 5242880 bytes/);
    const mark = s3.requests.length;
    const r = await uploadFolder(dir, `s3://${BUCKET}/big`, { partSize: 5 * 2 ** 20 });
    expect(r.files).toEqual(["big.bin", "manifest.json"]);
    const reqs = s3.requests.slice(mark).filter((q) => q.path === `/${BUCKET}/big/big.bin`);
    expect(reqs.filter((q) => q.method === "POST" && "uploads" in q.query)).toHaveLength(1);
    expect(reqs.filter((q) => q.method === "PUT" && "partNumber" in q.query).map((q) => q.query.partNumber).sort()).toEqual(["1", "2", "3"]);
    expect(reqs.filter((q) => q.method === "POST" && "uploadId" in q.query)).toHaveLength(1);
    expect(objectWrites(mark).at(-1)).toBe(`/${BUCKET}/big/manifest.json`);
    const copy = await downloadFolder(`s3://${BUCKET}/big`, join(root, "big-copy"));
    expect(copy.downloaded.sort()).toEqual(["big.bin", "manifest.json"]);
    expect(readFileSync(join(copy.dir, "big.bin")).equals(big)).toBe(true);
    expect(readdirSync(copy.dir).sort()).toEqual(["big.bin", "manifest.json"]);
    await expect(uploadFolder(join(root, "local-acts-missing"), `s3://${BUCKET}/x`)).rejects.toThrow(NotFoundError);
  });
});

describe("feature databases on object storage", () => {
  const records = importSafeSail(readFileSync(RELEASE, "utf8"), RELEASE).slice(0, 25);

  it("round-trips through s3:// with the bytes a local write gives; missing objects and buckets are named", async () => {
    const url = `s3://${BUCKET}/dbs/features.json`;
    const db = newFeatureDb(records, "a test database");
    expect(await featureDbExists(url)).toBe(false);
    await expect(readFeatureDb(url)).rejects.toThrow(new RegExp(`^s3://${BUCKET}/dbs/features.json: no such feature database`));
    await writeFeatureDb(url, db);
    expect(await featureDbExists(url)).toBe(true);
    expect(await readFeatureDb(url)).toEqual(db);
    await writeFeatureDb(join(root, "features.json"), db);
    expect(await readTextObject(url)).toBe(readFileSync(join(root, "features.json"), "utf8"));
    await expect(readFeatureDb("s3://no-such-bucket-here/f.json")).rejects.toThrow(/^s3:\/\/no-such-bucket-here\/f.json: no bucket "no-such-bucket-here"/);
    await expect(readFeatureDb(`s3://${BUCKET}`)).rejects.toThrow(/names a bucket, not an object/);
    // Credentials the server does not know: the URL and the endpoint are named, the secret is not.
    const stranger = new S3Client({ ...s3ClientConfig(), credentials: { accessKeyId: "NOBODY", secretAccessKey: "not-the-secret-42" } });
    const err = await readTextObject(url, { client: stranger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`${url}: read: access denied (InvalidAccessKeyId) (endpoint ${s3.endpoint}/); check the credentials the AWS SDK found and the bucket's permissions`);
    stranger.destroy();
  });

  it("safesail db import / export with s3:// paths (the export byte for byte the release)", async () => {
    const env = { ...s3.env, SAFESAIL_CACHE: join(root, "cache-cli") };
    const dbUrl = `s3://${BUCKET}/cli/features.json`;
    const exportUrl = `s3://${BUCKET}/cli/export.json`;
    let r = await runCli(["db", "import", RELEASE, "--out", dbUrl], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${dbUrl}: 4700 features`));
    r = await runCli(["db", "import", RELEASE, "--out", dbUrl], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`--out: ${dbUrl} exists; pass --overwrite to replace it`);
    r = await runCli(["db", "export", dbUrl, "--format", "safe-sail", "--out", exportUrl], env);
    expect(r.code).toBe(0);
    expect(await readTextObject(exportUrl)).toBe(readFileSync(RELEASE, "utf8"));
    r = await runCli(["train-sae", "--acts", `s3://${BUCKET}//acts`, "--layer", "0", "--k", "4", "--out", join(root, "sae")], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`--acts: "s3://${BUCKET}//acts": empty path segment`);
    // The credentials never appear in anything the commands print.
    expect(r.stdout + r.stderr).not.toContain(S3_TEST_CREDENTIALS.AWS_SECRET_ACCESS_KEY);
  });

  it("safesail serve --db s3://: return_features explains with the database read from object storage", async () => {
    const toy = join(import.meta.dirname, "..", "models", "toy-safety-qwen2");
    // The toy SAEs' database with one explanation marked, so the answer shows which copy the server read.
    const db = await readFeatureDb(join(toy, "saes", "features.db.json"));
    const marked = "read from s3 <b>&</b>";
    db.records = db.records.map((rec) => (rec.id === "0_8" ? { ...rec, explanation: marked } : rec));
    const url = `s3://${BUCKET}/serve/features.db.json`;
    await writeFeatureDb(url, db);
    const env = { ...process.env, ...s3.env, SAFESAIL_CACHE: join(root, "cache-serve") };
    const missing = await runCli(["serve", toy, "--saes", join(toy, "saes"), "--db", `s3://${BUCKET}/serve/none.json`, "--port", "0"], env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`--db: s3://${BUCKET}/serve/none.json: not found`);
    const child = spawn(process.execPath, [BIN, "serve", toy, "--saes", join(toy, "saes"), "--db", url, "--port", "0"], { env, stdio: ["ignore", "pipe", "pipe"] });
    const exit = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    let out = "";
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    try {
      const base = await new Promise<string>((res, rej) => {
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /on (http:\/\/\S+\/v1)/.exec(out);
          if (m) res(m[1]!);
        });
        void exit.then((code) => rej(new Error(`serve exited (${code}): ${err}`)));
      });
      const res = await fetch(`${base}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "toy-safety-qwen2", messages: [{ role: "user", content: "How do I bake bread?" }], max_tokens: 3, temperature: 0, safesail: { interventions: [{ feature: "0_8", method: "clamp", value: 200 }], return_features: true, top_features: 3 } }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { safesail: { features: { features: { feature: string; explanation: string }[] }[] } };
      const top = body.safesail.features.map((f) => f.features[0]!);
      expect(top.length).toBe(3);
      for (const f of top) expect(f).toMatchObject({ feature: "0_8", explanation: marked });
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exit).toBe(0);
    expect(out + err).not.toContain(S3_TEST_CREDENTIALS.AWS_SECRET_ACCESS_KEY);
  });
});
