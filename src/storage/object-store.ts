// Object storage: activation stores (folders) and feature databases (single JSON files) at `s3://BUCKET/PREFIX`
// on S3 or any S3-compatible server (MinIO, Ceph, R2, s3rver), through the standard AWS SDK for JavaScript.
//
// The client is the SDK's, configured from the standard AWS environment:
//   endpoint     AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (unset: AWS itself). With an endpoint, requests use
//                path-style addressing (http://host/bucket/key), which MinIO and most S3-compatible servers need.
//   region       AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.
//   credentials  the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, SSO,
//                web identity, container and instance roles). This module never reads, logs or writes them.
//
// Writes are atomic for readers:
//   a folder (uploadFolder): the remote manifest is deleted first, then every other file is uploaded (multipart,
//   8 MiB parts), their sizes checked against a listing, and the manifest uploaded LAST. A reader that sees the
//   manifest sees every file it lists; an upload that fails part-way leaves no manifest, and readers refuse it.
//   a file (writeTextObjectAtomic): one PutObject, which S3 applies whole or not at all.
//
// A folder is flat, as a store is: its files, not its subfolders (a sharded harvest's shard stores are subfolders,
// each a folder of its own).
//
// Reads go through a local copy (downloadFolder): `<cache root>/s3/<endpoint>/<bucket>/<prefix>/` (cache root:
// src/util/cache-root.ts), with an index of each object's ETag and size under `<cache root>/s3-index/`. A file
// whose ETag and size are unchanged is not downloaded again; local writes are temp file + rename, the manifest
// last, so the local copy is also never a manifest without its files.
//
// The SDK is imported on first use only: a command that never names an s3:// path does not load it.
import { createHash } from "node:crypto";
import { createReadStream, promises as fsp } from "node:fs";
import * as path from "node:path";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { ArgumentError, ConfigError, FormatError, NotFoundError, SafesailError, describeValue } from "../errors.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { withAtomicFile, writeJsonAtomic } from "../util/atomic.ts";
import { safesailCacheRoot } from "../util/cache-root.ts";

export const S3_SCHEME = "s3://";
/** Default part size of multipart uploads (S3's minimum is 5 MiB). */
export const DEFAULT_PART_SIZE = 8 * 2 ** 20;
const MIN_PART_SIZE = 5 * 2 ** 20;
/** S3 allows at most this many parts in one multipart upload. */
const MAX_PARTS = 10_000;
export const DEFAULT_MANIFEST = "manifest.json";
/** Version of the local cache index (`<cache root>/s3-index/*.json`). */
const CACHE_INDEX_VERSION = 1;

/** A parsed `s3://bucket/key` URL; `key` has no leading or trailing slash ("" for the bucket's root). */
export interface S3Location {
  bucket: string;
  key: string;
  /** The normalised URL: `s3://bucket/key`. */
  url: string;
}

/** Whether `p` names object storage (`s3://...`) rather than a local or shared file system path. */
export function isRemotePath(p: unknown): p is string {
  return typeof p === "string" && p.slice(0, S3_SCHEME.length).toLowerCase() === S3_SCHEME;
}

/**
 * Parses `s3://BUCKET[/PREFIX]`. `argument` (an option or flag name) leads every error message, e.g.
 * `out: "s3://my_bucket/acts": bucket name "my_bucket" is not valid (...)`.
 */
export function parseS3Url(url: string, argument = "path"): S3Location {
  const fail = (why: string): never => {
    throw new ArgumentError(`${argument}: ${describeValue(url)}: ${why}`, { field: argument });
  };
  if (typeof url !== "string" || !isRemotePath(url)) fail(`not an s3:// URL (expected s3://BUCKET/PREFIX)`);
  const rest = url.slice(S3_SCHEME.length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  let key = slash < 0 ? "" : rest.slice(slash + 1);
  if (bucket === "") fail("no bucket name (expected s3://BUCKET/PREFIX)");
  // S3's rules for new buckets (MinIO applies the same).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes("..") || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    fail(`bucket name ${JSON.stringify(bucket)} is not valid (3-63 characters: lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)`);
  }
  while (key.endsWith("/")) key = key.slice(0, -1);
  if (key !== "") {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f\\]/.test(key)) fail("the key holds a control character or a backslash");
    const segments = key.split("/");
    const bad = segments.find((s) => s === "" || s === "." || s === "..");
    if (bad !== undefined) fail(bad === "" ? "empty path segment (//)" : `path segment ${JSON.stringify(bad)} is not allowed`);
    if (Buffer.byteLength(key) > 1024) fail("the key is longer than S3's 1024 bytes");
  }
  return { bucket, key, url: `${S3_SCHEME}${bucket}${key ? `/${key}` : ""}` };
}

/** `s3://b/p` + `a`, `b.json` -> `s3://b/p/a/b.json`. */
export function joinS3Url(url: string, ...names: string[]): string {
  const loc = parseS3Url(url);
  const key = [loc.key, ...names].filter((s) => s !== "").join("/");
  return parseS3Url(`${S3_SCHEME}${loc.bucket}/${key}`).url;
}

// ---------------------------------------------------------------------------------------------
// The client

export interface ObjectStoreOptions {
  /** A client to use instead of the one built from the environment (tests, custom middleware). */
  client?: S3Client;
  /** Environment for the endpoint, region and cache root; default `process.env`. Credentials always come from the SDK's chain. */
  env?: NodeJS.ProcessEnv;
  progress?: Progress;
  signal?: AbortSignal;
}

/** The endpoint URL the environment sets (AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL), or null for AWS itself. */
export function s3Endpoint(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const name of ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] as const) {
    const v = env[name]?.trim();
    if (!v) continue;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new ConfigError(`${name}: ${describeValue(redactUrl(v))} is not a URL (expected e.g. http://127.0.0.1:9000)`, { field: name });
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new ConfigError(`${name}: ${describeValue(redactUrl(v))} must be an http:// or https:// URL`, { field: name });
    return v;
  }
  return null;
}

/** The SDK client configuration from the environment (no credentials: the SDK's default chain finds them). */
export function s3ClientConfig(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = s3Endpoint(env);
  const region = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || "us-east-1";
  return { region, ...(endpoint ? { endpoint, forcePathStyle: true } : {}) };
}

const clients = new Map<string, Promise<S3Client>>();

/** The shared client for the environment's endpoint and region (built once per pair). */
export function objectStoreClient(env: NodeJS.ProcessEnv = process.env): Promise<S3Client> {
  const config = s3ClientConfig(env);
  const id = JSON.stringify([config.endpoint ?? null, config.region]);
  let client = clients.get(id);
  if (!client) {
    // The SDK warns on Node < 22 about its own future releases; safesail pins its version, so the warning asks
    // nothing of its users. A user who set the variable keeps their value.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    client = import("@aws-sdk/client-s3").then((sdk) => new sdk.S3Client(config));
    clients.set(id, client);
  }
  return client;
}

const clientOf = (opts: ObjectStoreOptions) => (opts.client ? Promise.resolve(opts.client) : objectStoreClient(opts.env));

/** `http://user:secret@host/` -> `http://host/`: an endpoint is named in messages, credentials never are. */
function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    url.username = "";
    url.password = "";
    return url.toString();
  } catch {
    return u.replace(/\/\/[^/@]*@/, "//");
  }
}

/** The SDK's error as a safesail error naming the URL (and the endpoint, when not AWS). */
function s3Error(err: unknown, url: string, action: string, env?: NodeJS.ProcessEnv): Error {
  if (err instanceof SafesailError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? "Error";
  if (name === "AbortError") return err as Error;
  let endpoint: string | null = null;
  try {
    endpoint = s3Endpoint(env);
  } catch {
    endpoint = null;
  }
  const where = endpoint ? ` (endpoint ${redactUrl(endpoint)})` : "";
  const status = e?.$metadata?.httpStatusCode;
  if (name === "NoSuchBucket") return new NotFoundError(`${url}: no bucket ${JSON.stringify(parseS3Url(url).bucket)}${where}`, { file: url, field: "bucket", cause: err });
  if (name === "NoSuchKey" || name === "NotFound" || status === 404) return new NotFoundError(`${url}: not found${where}`, { file: url, cause: err });
  if (name === "CredentialsProviderError" || (status === undefined && /credential/i.test(String(e?.message ?? "")))) {
    return new ConfigError(`${url}: ${action}: no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where a role provides them)`, { file: url, cause: err });
  }
  if (["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"].includes(name) || status === 403) {
    return new ConfigError(`${url}: ${action}: access denied (${name})${where}; check the credentials the AWS SDK found and the bucket's permissions`, { file: url, cause: err });
  }
  const code = (err as { code?: string })?.code;
  return new SafesailError(`${url}: ${action} failed${where}: ${name}${code && code !== name ? ` ${code}` : ""}${status ? ` (HTTP ${status})` : ""}: ${e?.message ?? String(err)}`, { file: url, cause: err });
}

/** A missing object (a missing bucket is an error of its own: `field` "bucket"). */
const isMissingObject = (err: unknown) => err instanceof NotFoundError && err.field !== "bucket";

// ---------------------------------------------------------------------------------------------
// Single objects (feature databases)

function objectLocation(url: string, argument: string): S3Location {
  const loc = parseS3Url(url, argument);
  if (loc.key === "") throw new ArgumentError(`${argument}: ${describeValue(url)}: names a bucket, not an object (expected s3://BUCKET/KEY)`, { field: argument });
  return loc;
}

/** The object's text (UTF-8); NotFoundError naming the URL when there is none. */
export async function readTextObject(url: string, opts: ObjectStoreOptions = {}): Promise<string> {
  const loc = objectLocation(url, "url");
  const client = await clientOf(opts);
  const { GetObjectCommand } = await import("@aws-sdk/client-s3");
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: opts.signal });
    if (!r.Body) throw new FormatError(`${loc.url}: the server returned no body`, { file: loc.url });
    return await r.Body.transformToString("utf-8");
  } catch (err) {
    throw s3Error(err, loc.url, "read", opts.env);
  }
}

/** The object's text, or null when it does not exist. */
export async function readTextObjectIfExists(url: string, opts: ObjectStoreOptions = {}): Promise<string | null> {
  try {
    return await readTextObject(url, opts);
  } catch (err) {
    if (isMissingObject(err)) return null;
    throw err;
  }
}

/** Whether the object exists (HeadObject). */
export async function objectExists(url: string, opts: ObjectStoreOptions = {}): Promise<boolean> {
  const loc = objectLocation(url, "url");
  const client = await clientOf(opts);
  const { HeadObjectCommand } = await import("@aws-sdk/client-s3");
  try {
    await client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: opts.signal });
    return true;
  } catch (err) {
    const e = s3Error(err, loc.url, "check", opts.env);
    if (isMissingObject(e)) return false;
    throw e;
  }
}

/** Writes `text` as the object at `url` with one PutObject: readers see the old object or the new one, whole. */
export async function writeTextObjectAtomic(url: string, text: string, opts: ObjectStoreOptions & { contentType?: string } = {}): Promise<void> {
  const loc = objectLocation(url, "url");
  const client = await clientOf(opts);
  const { PutObjectCommand } = await import("@aws-sdk/client-s3");
  const body = Buffer.from(text, "utf8");
  const contentType = opts.contentType ?? (loc.key.endsWith(".json") ? "application/json" : "text/plain; charset=utf-8");
  try {
    await client.send(new PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: body, ContentLength: body.length, ContentType: contentType }), { abortSignal: opts.signal });
  } catch (err) {
    throw s3Error(err, loc.url, "write", opts.env);
  }
}

// ---------------------------------------------------------------------------------------------
// Folders (activation stores)

interface RemoteObject {
  /** Path relative to the folder, with `/` separators. */
  rel: string;
  size: number;
  etag: string;
}

/**
 * The folder's files (paginated ListObjectsV2 with delimiter "/": objects directly under the prefix, not those of
 * its subfolders) and the names of its subfolders. A store is one flat folder; shard stores are subfolders of it.
 */
async function listFolder(client: S3Client, loc: S3Location, opts: ObjectStoreOptions): Promise<{ files: RemoteObject[]; folders: string[] }> {
  const { ListObjectsV2Command } = await import("@aws-sdk/client-s3");
  const prefix = loc.key === "" ? "" : `${loc.key}/`;
  const files: RemoteObject[] = [];
  const folders: string[] = [];
  let token: string | undefined;
  do {
    let r;
    try {
      r = await client.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: prefix, Delimiter: "/", ContinuationToken: token }), { abortSignal: opts.signal });
    } catch (err) {
      throw s3Error(err, loc.url, "list", opts.env);
    }
    for (const o of r.Contents ?? []) {
      if (!o.Key || !o.Key.startsWith(prefix) || o.Key.endsWith("/")) continue;
      const rel = o.Key.slice(prefix.length);
      checkRelativeKey(rel, loc.url);
      files.push({ rel, size: o.Size ?? 0, etag: normalizeEtag(o.ETag) });
    }
    for (const p of r.CommonPrefixes ?? []) {
      const name = p.Prefix?.slice(prefix.length).replace(/\/$/, "");
      if (name && p.Prefix!.startsWith(prefix) && name !== "." && name !== "..") folders.push(name);
    }
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return { files, folders: folders.sort() };
}

/** The names of the subfolders of an `s3://` folder (e.g. the `shard-IIII-of-NNNN` stores of a sharded harvest). */
export async function listSubfolders(url: string, opts: ObjectStoreOptions = {}): Promise<string[]> {
  const loc = parseS3Url(url, "url");
  return (await listFolder(await clientOf(opts), loc, opts)).folders;
}

/** The names of the objects directly inside an `s3://` folder (not those of its subfolders), sorted. */
export async function listFolderObjects(url: string, opts: ObjectStoreOptions = {}): Promise<string[]> {
  const loc = parseS3Url(url, "url");
  return (await listFolder(await clientOf(opts), loc, opts)).files.map((f) => f.rel).sort();
}

/** A listed key must stay inside the local copy's folder. */
function checkRelativeKey(rel: string, url: string): void {
  const segments = rel.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..") || rel.includes("\\") || rel.includes("\0")) {
    throw new FormatError(`${url}: object ${JSON.stringify(rel)} has a key that cannot be copied to a local folder (empty, "." or ".." segments)`, { file: url, field: rel });
  }
}

const normalizeEtag = (etag: string | undefined) => (etag ?? "").replace(/^W\//, "").replace(/^"|"$/g, "");

/** The local copy of an `s3://` folder: `<cache root>/s3/<endpoint>/<bucket>/<prefix>`. */
export function objectCacheDir(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const loc = parseS3Url(url);
  const endpoint = s3Endpoint(env);
  let host = "aws";
  if (endpoint) {
    const u = new URL(endpoint);
    host = `${u.hostname}${u.port ? `_${u.port}` : ""}${u.pathname !== "/" ? u.pathname : ""}`.replace(/[^A-Za-z0-9.-]+/g, "_");
  }
  return path.join(safesailCacheRoot(env), "s3", host, loc.bucket, ...(loc.key ? loc.key.split("/") : []));
}

interface CacheIndex {
  version: number;
  url: string;
  dir: string;
  /** rel path -> the object it was copied from. */
  files: Record<string, { etag: string; size: number }>;
}

function cacheIndexFile(localDir: string, env: NodeJS.ProcessEnv): string {
  const id = createHash("sha256").update(path.resolve(localDir)).digest("hex").slice(0, 32);
  return path.join(safesailCacheRoot(env), "s3-index", `${id}.json`);
}

async function readCacheIndex(localDir: string, url: string, env: NodeJS.ProcessEnv): Promise<CacheIndex> {
  const empty: CacheIndex = { version: CACHE_INDEX_VERSION, url, dir: path.resolve(localDir), files: {} };
  try {
    const idx = JSON.parse(await fsp.readFile(cacheIndexFile(localDir, env), "utf8")) as CacheIndex;
    if (idx.version !== CACHE_INDEX_VERSION || idx.url !== url || idx.dir !== empty.dir || typeof idx.files !== "object" || idx.files === null) return empty;
    return idx;
  } catch {
    return empty; // no index, or an unreadable one: everything is downloaded again
  }
}

async function writeCacheIndex(idx: CacheIndex, env: NodeJS.ProcessEnv): Promise<void> {
  await writeJsonAtomic(cacheIndexFile(idx.dir, env), idx);
}

const localSize = (file: string) => fsp.stat(file).then((s) => (s.isFile() ? s.size : -1), () => -1);

/** The files directly in `dir` (not in its subfolders), sorted; hidden ones (names starting with ".": temp files) left out. */
async function localFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith(".")) continue;
    if ((await fsp.stat(path.join(dir, e.name))).isFile()) out.push(e.name);
  }
  return out.sort();
}

export interface UploadFolderOptions extends ObjectStoreOptions {
  /** The file uploaded last (relative to the folder); default "manifest.json". It must exist. */
  manifest?: string;
  /** Bytes per part of a multipart upload; default 8 MiB (at least 5 MiB, S3's minimum). */
  partSize?: number;
  /** Parts of one file in flight at once; default 4. */
  queueSize?: number;
}

export interface UploadFolderResult {
  url: string;
  /** Files uploaded (relative paths), the manifest last. */
  files: string[];
  bytes: number;
}

/**
 * Uploads the files of `localDir` (not its subfolders; hidden files left out) under `url`, atomically for readers: the remote manifest
 * is deleted first, the other files are uploaded (lib-storage's multipart Upload: files larger than a part go up in
 * `partSize` parts), their sizes are checked against a listing, and the manifest goes up last. A folder that is
 * the cache's copy of `url` (a harvest staged there) is recorded in the cache, so reading it back downloads nothing.
 */
export async function uploadFolder(localDir: string, url: string, opts: UploadFolderOptions = {}): Promise<UploadFolderResult> {
  const loc = parseS3Url(url, "url");
  const env = opts.env ?? process.env;
  const manifest = opts.manifest ?? DEFAULT_MANIFEST;
  const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE) throw new ArgumentError(`partSize: must be an integer of at least ${MIN_PART_SIZE} bytes (5 MiB, S3's minimum), got ${describeValue(partSize)}`, { field: "partSize" });
  const dir = path.resolve(localDir);
  let files: string[];
  try {
    files = await localFiles(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${dir}: no such folder to upload to ${loc.url}`, { file: dir, cause: err });
    throw err;
  }
  if (!files.includes(manifest)) throw new NotFoundError(`${path.join(dir, manifest)}: not found; ${dir} is not a finished folder to upload to ${loc.url} (its manifest goes last)`, { file: path.join(dir, manifest) });
  const order = [...files.filter((f) => f !== manifest), manifest];
  const sizes = new Map<string, number>();
  for (const f of order) sizes.set(f, await localSize(path.join(dir, f)));
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);

  const client = await clientOf(opts);
  const sdk = await import("@aws-sdk/client-s3");
  const { Upload } = await import("@aws-sdk/lib-storage");
  const keyOf = (rel: string) => (loc.key ? `${loc.key}/${rel}` : rel);
  const progress = opts.progress ?? silentProgress;
  // A reader must never pair the old manifest with new files.
  try {
    await client.send(new sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: keyOf(manifest) }), { abortSignal: opts.signal });
  } catch (err) {
    const e = s3Error(err, `${loc.url}/${manifest}`, "delete the old manifest", env);
    if (!isMissingObject(e)) throw e;
  }

  progress.start(`upload ${loc.url}`, total);
  let done = 0;
  const put = async (rel: string) => {
    const file = path.join(dir, rel);
    const size = sizes.get(rel)!;
    // Parts grow past partSize only for files over 10,000 parts (80 GB at 8 MiB).
    const upload = new Upload({
      client,
      params: { Bucket: loc.bucket, Key: keyOf(rel), Body: createReadStream(file), ContentLength: size, ...(rel.endsWith(".json") ? { ContentType: "application/json" } : {}) },
      partSize: Math.max(partSize, Math.ceil(size / MAX_PARTS)),
      queueSize: opts.queueSize ?? 4,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    upload.on("httpUploadProgress", (p) => progress.update(done + Math.min(size, p.loaded ?? 0), rel));
    try {
      opts.signal?.throwIfAborted();
      await upload.done();
    } catch (err) {
      throw s3Error(err, `${loc.url}/${rel}`, `upload ${file}`, env);
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
    }
    done += size;
    progress.update(done, rel);
  };
  for (const rel of order.slice(0, -1)) await put(rel);
  // Before the manifest: every file is there at its full size.
  const listed = new Map((await listFolder(client, loc, opts)).files.map((o) => [o.rel, o]));
  for (const rel of order.slice(0, -1)) {
    const o = listed.get(rel);
    if (!o || o.size !== sizes.get(rel)) {
      throw new FormatError(`${loc.url}/${rel}: ${o ? `${o.size} bytes on the server, ${sizes.get(rel)} here` : "missing on the server after its upload"}; the manifest was not uploaded`, { file: `${loc.url}/${rel}` });
    }
  }
  await put(manifest);
  progress.finish(`${order.length} files`);

  // A folder staged in the cache's own copy of `url` is that copy: record what the server holds now.
  if (path.resolve(objectCacheDir(loc.url, env)) === dir) {
    let manifestEtag = "";
    try {
      const h = await client.send(new sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: keyOf(manifest) }), { abortSignal: opts.signal });
      manifestEtag = normalizeEtag(h.ETag);
    } catch {
      manifestEtag = ""; // the next read downloads the manifest again
    }
    const idx: CacheIndex = { version: CACHE_INDEX_VERSION, url: loc.url, dir, files: {} };
    for (const rel of order.slice(0, -1)) idx.files[rel] = { etag: listed.get(rel)!.etag, size: sizes.get(rel)! };
    if (manifestEtag) idx.files[manifest] = { etag: manifestEtag, size: sizes.get(manifest)! };
    await writeCacheIndex(idx, env);
  }
  return { url: loc.url, files: order, bytes: total };
}

export interface DownloadFolderOptions extends ObjectStoreOptions {
  /** The file that marks a finished upload; default "manifest.json". A folder without it is refused. */
  manifest?: string;
}

export interface DownloadFolderResult {
  /** The local copy. */
  dir: string;
  url: string;
  /** Files fetched from the server this time. */
  downloaded: string[];
  /** Files already in the local copy (same ETag and size). */
  reused: string[];
  /** Bytes fetched this time. */
  bytes: number;
}

/**
 * Makes `localDir` (default: the cache's copy, `objectCacheDir(url)`) a copy of the `s3://` folder's files (its
 * subfolders are folders of their own, e.g. shard stores, and are not copied): only files
 * whose ETag or size changed since the last copy are fetched (each to a temp file renamed into place, the manifest
 * last), and files no longer on the server are removed from it. Refuses a folder without its manifest:
 * NotFoundError `s3://...: no manifest.json: the upload did not finish`.
 */
export async function downloadFolder(url: string, localDir?: string, opts: DownloadFolderOptions = {}): Promise<DownloadFolderResult> {
  const loc = parseS3Url(url, "url");
  const env = opts.env ?? process.env;
  const manifest = opts.manifest ?? DEFAULT_MANIFEST;
  const dir = path.resolve(localDir ?? objectCacheDir(loc.url, env));
  const client = await clientOf(opts);
  const listing = (await listFolder(client, loc, opts)).files;
  const remoteManifest = listing.find((o) => o.rel === manifest);
  if (!remoteManifest) {
    const what = listing.length > 0 ? `${listing.length} other object${listing.length === 1 ? "" : "s"} there` : "nothing there";
    throw new NotFoundError(`${loc.url}: no ${manifest}: the upload did not finish (${what}); upload it again, or check the URL`, { file: loc.url });
  }
  const order = [...listing.filter((o) => o.rel !== manifest), remoteManifest];
  const idx = await readCacheIndex(dir, loc.url, env);
  const { GetObjectCommand } = await import("@aws-sdk/client-s3");
  const progress = opts.progress ?? silentProgress;
  const result: DownloadFolderResult = { dir, url: loc.url, downloaded: [], reused: [], bytes: 0 };

  // Local files the server no longer has (a store replaced by a smaller one).
  const remote = new Set(listing.map((o) => o.rel));
  for (const rel of Object.keys(idx.files)) {
    if (remote.has(rel)) continue;
    await fsp.rm(path.join(dir, ...rel.split("/")), { force: true });
    delete idx.files[rel];
  }
  const stale: RemoteObject[] = [];
  for (const o of order) {
    const known = idx.files[o.rel];
    if (known && known.etag === o.etag && o.etag !== "" && known.size === o.size && (await localSize(path.join(dir, ...o.rel.split("/")))) === o.size) result.reused.push(o.rel);
    else stale.push(o);
  }
  if (stale.length > 0) {
    // The manifest is rewritten last: until then the local copy is the old one, or no store.
    if (stale.includes(remoteManifest)) {
      await fsp.rm(path.join(dir, manifest), { force: true });
      delete idx.files[manifest];
    }
    const total = stale.reduce((a, o) => a + o.size, 0);
    progress.start(`download ${loc.url}`, total);
    try {
      for (const o of stale) {
        const file = path.join(dir, ...o.rel.split("/"));
        const objectUrl = `${loc.url}/${o.rel}`;
        await withAtomicFile(file, async (handle) => {
          let written = 0;
          try {
            const r = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key ? `${loc.key}/${o.rel}` : o.rel, ...(o.etag ? { IfMatch: `"${o.etag}"` } : {}) }), { abortSignal: opts.signal });
            if (!r.Body) throw new FormatError(`${objectUrl}: the server returned no body`, { file: objectUrl });
            for await (const chunk of r.Body as AsyncIterable<Uint8Array>) {
              await handle.write(chunk);
              written += chunk.byteLength;
              progress.update(result.bytes + written, o.rel);
            }
          } catch (err) {
            const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
            if (status === 412) throw new SafesailError(`${objectUrl}: changed on the server while it was being copied (ETag no longer ${o.etag}); read ${loc.url} again`, { file: objectUrl, cause: err });
            throw s3Error(err, objectUrl, "download", env);
          }
          if (written !== o.size) throw new FormatError(`${objectUrl}: ${written} bytes received, the listing says ${o.size}`, { file: objectUrl });
        });
        idx.files[o.rel] = { etag: o.etag, size: o.size };
        result.downloaded.push(o.rel);
        result.bytes += o.size;
      }
    } finally {
      await writeCacheIndex(idx, env);
    }
    progress.finish(`${result.downloaded.length} files`);
  } else {
    await writeCacheIndex(idx, env);
  }
  return result;
}
