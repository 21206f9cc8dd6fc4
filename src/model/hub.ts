// Hugging Face hub downloads into the standard hub cache, shared with Python's huggingface_hub:
//
//   {cache}/models--{org}--{name}/refs/{revision}          commit sha the revision pointed to
//   {cache}/models--{org}--{name}/blobs/{etag-or-sha256}   file contents
//   {cache}/models--{org}--{name}/snapshots/{commit}/{f}   relative symlink -> ../../blobs/{blob}
//
// cache: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
// endpoint: HF_ENDPOINT (default https://huggingface.co). token: HF_TOKEN, sent only to the endpoint's origin
// as `Authorization: Bearer ...`, never logged, never written, never put in an error message.
//
// Only what a safetensors decoder needs is fetched (config, generation config, tokenizer files,
// safetensors weights and their index). Each file streams to a temp file that is renamed into place when
// complete, so an interrupted download never leaves a broken blob or link. A revision already complete in
// the cache is reused without any network request.

import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ArgumentError, FormatError, NotFoundError, SafesailError, describeValue } from "../errors.ts";
import type { Progress } from "../progress.ts";
import { writeFileAtomic } from "../util/atomic.ts";

/** Errors from the hub that are neither "not found" nor bad input: auth, server and network failures. */
export class HubError extends SafesailError {
  readonly status?: number;
  constructor(message: string, opts: { file?: string; field?: string; status?: number; cause?: unknown } = {}) {
    super(message, opts);
    if (opts.status !== undefined) this.status = opts.status;
  }
}

export interface DownloadProgressEvent {
  repoId: string;
  file: string;
  /** Bytes of this file received so far. */
  downloaded: number;
  /** Size of this file when the server said so. */
  total: number | null;
  done: boolean;
}

export interface HubOptions {
  /** Branch, tag or commit sha. Default "main". */
  revision?: string;
  /** Never touch the network; fail unless the revision is complete in the cache. Also on with HF_HUB_OFFLINE=1. */
  offline?: boolean;
  /** Ask the hub for the revision's commit even when a complete snapshot is cached. */
  update?: boolean;
  /** Cache root; default from the environment (see file comment). */
  cacheDir?: string;
  /** Hub endpoint; default HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Environment to read HF_* variables from (default process.env). The token is only ever read from here. */
  env?: Record<string, string | undefined>;
  /** Per-file progress callback. */
  onProgress?: (e: DownloadProgressEvent) => void;
  /** Progress display (one task per file). */
  progress?: Progress;
  /** Abort when no byte arrives for this long. Default 60 s. */
  idleTimeoutMs?: number;
  /** Retries after a network failure or a 5xx answer, per request. Default 2. */
  retries?: number;
}

const DEFAULT_ENDPOINT = "https://huggingface.co";
const COMMIT_RE = /^[0-9a-f]{40}$/;
const HUB_ID_RE = /^(?:[A-Za-z0-9][A-Za-z0-9_.-]*\/)?[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The hub cache root from the environment. */
export function hubCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.HF_HUB_CACHE) return path.resolve(env.HF_HUB_CACHE);
  if (env.HUGGINGFACE_HUB_CACHE) return path.resolve(env.HUGGINGFACE_HUB_CACHE);
  if (env.HF_HOME) return path.resolve(env.HF_HOME, "hub");
  if (env.XDG_CACHE_HOME) return path.resolve(env.XDG_CACHE_HOME, "huggingface", "hub");
  return path.join(os.homedir(), ".cache", "huggingface", "hub");
}

/** `org/name` -> `models--org--name`. */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split("/").join("--")}`;
}

/** True for strings shaped like a hub model id (`name` or `org/name`, optionally `@revision`). */
export function isHubId(s: string): boolean {
  const at = s.indexOf("@");
  const id = at >= 0 ? s.slice(0, at) : s;
  return HUB_ID_RE.test(id) && !id.includes("..") && !id.includes("--") && (at < 0 || at < s.length - 1);
}

/** Files worth fetching from a repo's top level (weights are chosen later, from the index when there is one). */
export function isWantedFile(name: string): boolean {
  if (name.includes("/")) return false;
  if (/^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|added_tokens|chat_template|preprocessor_config)\.json$/.test(name)) return true;
  if (name === "vocab.json" || name === "merges.txt" || name === "tokenizer.model" || name === "chat_template.jinja") return true;
  if (name === "model.safetensors.index.json") return true;
  return name.endsWith(".safetensors");
}

function settings(opts: HubOptions) {
  const env = opts.env ?? process.env;
  const endpoint = (opts.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
  const offline = opts.offline ?? /^(1|true|yes|on)$/i.test(env.HF_HUB_OFFLINE ?? "");
  const token = env.HF_TOKEN || undefined;
  return { env, endpoint, offline, token, cacheDir: opts.cacheDir ? path.resolve(opts.cacheDir) : hubCacheDir(env) };
}

function checkRepoId(repoId: string): void {
  if (!isHubId(repoId) || repoId.includes("@")) {
    throw new ArgumentError(`"${repoId}" is not a hub model id (expected "org/name")`, { field: "repoId" });
  }
}

function checkRevision(revision: string): void {
  if (revision.length === 0 || revision.includes("..") || revision.startsWith("/") || /[\\\0]/.test(revision)) {
    throw new ArgumentError(`revision ${describeValue(revision)} is not a valid branch, tag or commit`, { field: "revision" });
  }
}

/** Path of the snapshot folder of `commit`. */
function snapshotDir(repoDir: string, commit: string): string {
  return path.join(repoDir, "snapshots", commit);
}

/** The commit a cached revision points to (or the revision itself when it is a commit), or null. */
function cachedCommit(repoDir: string, revision: string): string | null {
  if (COMMIT_RE.test(revision)) return fs.existsSync(snapshotDir(repoDir, revision)) ? revision : null;
  try {
    const sha = fs.readFileSync(path.join(repoDir, "refs", revision), "utf8").trim();
    return COMMIT_RE.test(sha) ? sha : null;
  } catch {
    return null;
  }
}

/** A snapshot has config.json and complete weights (all shards named by the index, or model.safetensors). */
export function isSnapshotComplete(dir: string): boolean {
  const has = (f: string) => {
    try {
      return fs.statSync(path.join(dir, f)).isFile(); // follows the symlink: a dangling link is not complete
    } catch {
      return false;
    }
  };
  if (!has("config.json")) return false;
  if (has("model.safetensors.index.json")) {
    try {
      const idx = JSON.parse(fs.readFileSync(path.join(dir, "model.safetensors.index.json"), "utf8"));
      const shards = new Set(Object.values((idx?.weight_map ?? {}) as Record<string, string>));
      return shards.size > 0 && [...shards].every((s) => typeof s === "string" && has(s));
    } catch {
      return false;
    }
  }
  return has("model.safetensors");
}

/** The cached snapshot folder for `repoId@revision` when it is complete, else null. No network. */
export function cachedSnapshot(repoId: string, opts: HubOptions = {}): string | null {
  checkRepoId(repoId);
  const revision = opts.revision ?? "main";
  const { cacheDir } = settings(opts);
  const repoDir = path.join(cacheDir, repoFolderName(repoId));
  const commit = cachedCommit(repoDir, revision);
  if (!commit) return null;
  const dir = snapshotDir(repoDir, commit);
  return isSnapshotComplete(dir) ? dir : null;
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface HttpCtx {
  endpointOrigin: string;
  token: string | undefined;
  idleTimeoutMs: number;
  retries: number;
  repoId: string;
}

/** Safe URL for messages: no query string (signed CDN URLs carry credentials there). */
function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return url;
  }
}

function headersFor(url: string, ctx: HttpCtx): Record<string, string> {
  const h: Record<string, string> = { "user-agent": "safesail/0.1 (+hub client)" };
  // The token goes to the hub endpoint only, never to a CDN host a redirect points at.
  if (ctx.token && new URL(url).origin === ctx.endpointOrigin) h.authorization = `Bearer ${ctx.token}`;
  return h;
}

function statusError(status: number, url: string, res: Response | null, ctx: HttpCtx, what: string): Error {
  const code = res?.headers.get("x-error-code") ?? "";
  const msg = res?.headers.get("x-error-message") ?? "";
  const shown = displayUrl(url);
  const tokenHint = ctx.token
    ? "HF_TOKEN is set but was refused: check that it is valid and has access to this repository"
    : "if the repository is private or gated, set HF_TOKEN to an access token";
  if (code === "RevisionNotFound") return new NotFoundError(`${ctx.repoId}: revision not found (${status} from ${shown})`, { file: shown, field: "revision" });
  if (code === "RepoNotFound" || (status === 404 && what === "repo")) {
    return new NotFoundError(`${ctx.repoId}: repository not found on the hub (${status} from ${shown})${status === 401 || !ctx.token ? `; ${tokenHint}` : ""}`, {
      file: shown,
      field: ctx.repoId,
    });
  }
  if (code === "EntryNotFound" || status === 404) return new NotFoundError(`${ctx.repoId}: ${what} not found (404 from ${shown})`, { file: shown });
  if (code === "GatedRepo") {
    return new HubError(`${ctx.repoId}: gated repository (${status} from ${shown}): accept its terms on the hub and set HF_TOKEN${msg ? ` (${msg})` : ""}`, {
      file: shown,
      status,
    });
  }
  if (status === 401 || status === 403) return new HubError(`${ctx.repoId}: access denied (${status} from ${shown}); ${tokenHint}`, { file: shown, status });
  return new HubError(`${ctx.repoId}: ${what}: HTTP ${status} from ${shown}${msg ? ` (${msg})` : ""}`, { file: shown, status });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Idle-timeout abort: `touch()` on every chunk; aborts when nothing arrives for `ms`. */
function idleAbort(ms: number): { signal: AbortSignal; touch(): void; stop(): void } {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const touch = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => ac.abort(new Error(`no data for ${ms} ms`)), ms);
    timer.unref?.();
  };
  touch();
  return { signal: ac.signal, touch, stop: () => timer && clearTimeout(timer) };
}

interface Followed {
  res: Response;
  url: string;
  /** Hub headers seen on the way (a redirect carries the LFS etag and size). */
  etag: string | null;
  linkedSize: number | null;
  repoCommit: string | null;
  idle: ReturnType<typeof idleAbort>;
}

function cleanEtag(v: string | null): string | null {
  if (!v) return null;
  const s = v.replace(/^W\//, "").replace(/^"|"$/g, "");
  return s.length > 0 ? s : null;
}

/** GET with manual redirects (so the token never leaves the endpoint's origin), retries on network errors and 5xx. */
async function get(url: string, ctx: HttpCtx, what: string): Promise<Followed> {
  let lastErr: unknown;
  for (let attempt = 0; attempt <= ctx.retries; attempt++) {
    if (attempt > 0) await sleep(200 * 2 ** (attempt - 1));
    const idle = idleAbort(ctx.idleTimeoutMs);
    let current = url;
    try {
      const got = await getOnce(url, ctx, what, idle);
      if (got.retryable) {
        lastErr = got.error;
        idle.stop();
        continue;
      }
      return got.followed;
    } catch (err) {
      idle.stop();
      if (err instanceof SafesailError) throw err;
      current = (err as { url?: string }).url ?? current;
      lastErr = new HubError(`${ctx.repoId}: ${what}: request to ${displayUrl(current)} failed: ${(err as Error).message}`, {
        file: displayUrl(current),
        cause: err,
      });
    }
  }
  throw lastErr;
}

type GetOnce = { retryable: false; followed: Followed } | { retryable: true; error: Error };

async function getOnce(url: string, ctx: HttpCtx, what: string, idle: ReturnType<typeof idleAbort>): Promise<GetOnce> {
  let current = url;
  let etag: string | null = null;
  let linkedSize: number | null = null;
  let repoCommit: string | null = null;
  for (let hop = 0; hop < 10; hop++) {
    let res: Response;
    try {
      res = await fetch(current, { headers: headersFor(current, ctx), redirect: "manual", signal: idle.signal });
    } catch (err) {
      // carry the URL that failed for the message
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), { url: current });
    }
    idle.touch();
    const fromHub = new URL(current).origin === ctx.endpointOrigin;
    const isRedirect = res.status >= 300 && res.status < 400 && res.headers.get("location") !== null;
    if (fromHub) {
      // An LFS file answers with a redirect carrying X-Linked-Etag (its sha256) and X-Linked-Size.
      etag ??= cleanEtag(res.headers.get("x-linked-etag")) ?? (isRedirect || res.ok ? cleanEtag(res.headers.get("etag")) : null);
      const ls = res.headers.get("x-linked-size");
      if (linkedSize === null && ls !== null && /^\d+$/.test(ls)) linkedSize = Number(ls);
      repoCommit ??= res.headers.get("x-repo-commit");
    }
    if (isRedirect) {
      await res.body?.cancel().catch(() => undefined);
      current = new URL(res.headers.get("location")!, current).toString();
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      const error = statusError(res.status, current, res, ctx, what);
      if (res.status >= 500) return { retryable: true, error };
      throw error;
    }
    return { retryable: false, followed: { res, url: current, etag, linkedSize, repoCommit, idle } };
  }
  throw new HubError(`${ctx.repoId}: ${what}: too many redirects from ${displayUrl(url)}`, { file: displayUrl(url) });
}

// ---------------------------------------------------------------------------------------------
// Download

interface RepoInfo {
  sha: string;
  files: string[];
}

function encodePath(p: string): string {
  return p.split("/").map(encodeURIComponent).join("/");
}

async function fetchRepoInfo(endpoint: string, repoId: string, revision: string, ctx: HttpCtx): Promise<RepoInfo> {
  const url = `${endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}`;
  const { res, idle } = await get(url, ctx, "repo");
  let json: unknown;
  try {
    json = await res.json();
  } catch (err) {
    throw new FormatError(`${displayUrl(url)}: answer is not valid JSON: ${(err as Error).message}`, { file: displayUrl(url), cause: err });
  } finally {
    idle.stop();
  }
  const obj = json as { sha?: unknown; siblings?: unknown };
  if (typeof obj?.sha !== "string" || !COMMIT_RE.test(obj.sha)) {
    throw new FormatError(`${displayUrl(url)}: answer has no commit "sha" (got ${describeValue(obj?.sha)})`, { file: displayUrl(url), field: "sha" });
  }
  if (!Array.isArray(obj.siblings)) {
    throw new FormatError(`${displayUrl(url)}: answer has no "siblings" list`, { file: displayUrl(url), field: "siblings" });
  }
  const files = (obj.siblings as { rfilename?: unknown }[]).map((s) => s?.rfilename).filter((f): f is string => typeof f === "string");
  return { sha: obj.sha, files };
}

function checkRepoPath(file: string, repoId: string): void {
  if (file.length === 0 || path.isAbsolute(file) || file.includes("\\") || file.split("/").some((p) => p === ".." || p === "." || p === "")) {
    throw new FormatError(`${repoId}: refusing unsafe file name ${describeValue(file)} from the hub`, { field: file });
  }
}

/** Points `link` at `blob` with a relative symlink (a copy where symlinks are not allowed). */
async function linkBlob(blob: string, link: string): Promise<void> {
  await fsp.mkdir(path.dirname(link), { recursive: true });
  const rel = path.relative(path.dirname(link), blob);
  const tmp = `${link}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await fsp.symlink(rel, tmp);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "EACCES" && code !== "ENOTSUP") throw err;
    await fsp.copyFile(blob, tmp);
  }
  await fsp.rename(tmp, link);
}

function linkOk(link: string): boolean {
  try {
    return fs.statSync(link).isFile();
  } catch {
    return false;
  }
}

const SAFE_BLOB = /^[A-Za-z0-9._-]{1,128}$/;

async function downloadFile(
  endpoint: string,
  repoId: string,
  commit: string,
  file: string,
  repoDir: string,
  ctx: HttpCtx,
  opts: HubOptions,
): Promise<void> {
  const link = path.join(snapshotDir(repoDir, commit), ...file.split("/"));
  if (linkOk(link)) return; // complete from an earlier run
  const url = `${endpoint}/${repoId}/resolve/${commit}/${encodePath(file)}`;
  const blobsDir = path.join(repoDir, "blobs");
  await fsp.mkdir(blobsDir, { recursive: true });
  const { res, etag, linkedSize, repoCommit, idle, url: finalUrl } = await get(url, ctx, `file "${file}"`);
  try {
    if (repoCommit && COMMIT_RE.test(repoCommit) && repoCommit !== commit) {
      throw new FormatError(`${repoId}: file "${file}" came from commit ${repoCommit}, expected ${commit}`, { file: displayUrl(url), field: file });
    }
    const blobName = etag && SAFE_BLOB.test(etag) ? etag : null;
    if (blobName && linkOk(path.join(blobsDir, blobName))) {
      await res.body?.cancel().catch(() => undefined);
      await linkBlob(path.join(blobsDir, blobName), link);
      return;
    }
    const lenHeader = res.headers.get("content-length");
    const total = linkedSize ?? (lenHeader !== null && /^\d+$/.test(lenHeader) ? Number(lenHeader) : null);
    const tmp = path.join(blobsDir, `.${randomBytes(8).toString("hex")}.incomplete`);
    const hash = createHash("sha256");
    let downloaded = 0;
    const report = (done: boolean) => {
      opts.onProgress?.({ repoId, file, downloaded, total, done });
      if (done) opts.progress?.finish();
      else opts.progress?.update(downloaded);
    };
    opts.progress?.start(`${repoId} ${file}`, total ?? 0);
    const handle = await fsp.open(tmp, "w");
    try {
      if (!res.body) throw new Error("empty response body");
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        idle.touch();
        hash.update(value);
        let off = 0;
        while (off < value.byteLength) off += (await handle.write(value, off, value.byteLength - off)).bytesWritten;
        downloaded += value.byteLength;
        report(false);
      }
      if (total !== null && downloaded !== total) {
        throw new Error(`received ${downloaded} of ${total} bytes`);
      }
      await handle.sync();
      await handle.close();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true });
      if (err instanceof SafesailError) throw err;
      throw new HubError(`${repoId}: download of "${file}" from ${displayUrl(finalUrl)} failed: ${(err as Error).message}`, {
        file: displayUrl(finalUrl),
        field: file,
        cause: err,
      });
    }
    const sha256 = hash.digest("hex");
    if (blobName && /^[0-9a-f]{64}$/.test(blobName) && blobName !== sha256) {
      await fsp.rm(tmp, { force: true });
      throw new FormatError(`${repoId}: "${file}" from ${displayUrl(url)} has sha256 ${sha256}, expected ${blobName}`, { file: displayUrl(url), field: file });
    }
    const blob = path.join(blobsDir, blobName ?? sha256);
    await fsp.rename(tmp, blob);
    await linkBlob(blob, link);
    report(true);
  } finally {
    idle.stop();
  }
}

/** One revision of a repository on the hub: its commit, files, and a fetcher into the cache. */
interface HubSession {
  repoDir: string;
  info: RepoInfo;
  revision: string;
  fetchFile(file: string): Promise<void>;
  /** Records `revision` -> commit, last: a ref in the cache means its snapshot was complete when written. */
  finish(): Promise<string>;
}

async function openHubSession(repoId: string, opts: HubOptions, what: string | null, cached: () => string | null): Promise<HubSession | string> {
  checkRepoId(repoId);
  const revision = opts.revision ?? "main";
  checkRevision(revision);
  const s = settings(opts);
  const repoDir = path.join(s.cacheDir, repoFolderName(repoId));
  if (!opts.update || s.offline) {
    const hit = cached();
    if (hit) return hit;
  }
  if (s.offline) {
    throw new NotFoundError(`${repoId}@${revision}: ${what ? `${what} ` : ""}not complete in the hub cache ${repoDir} and offline mode is on (offline option or HF_HUB_OFFLINE)`, { file: repoDir, field: repoId });
  }
  let endpointOrigin: string;
  try {
    endpointOrigin = new URL(s.endpoint).origin;
  } catch {
    throw new ArgumentError(`HF_ENDPOINT ${describeValue(s.endpoint)} is not a URL`, { field: "HF_ENDPOINT" });
  }
  const ctx: HttpCtx = { endpointOrigin, token: s.token, idleTimeoutMs: opts.idleTimeoutMs ?? 60_000, retries: opts.retries ?? 2, repoId };
  const info = await fetchRepoInfo(s.endpoint, repoId, revision, ctx);
  return {
    repoDir,
    info,
    revision,
    // A transfer cut short (network error, short body) is tried again; files already complete are skipped.
    async fetchFile(f: string) {
      checkRepoPath(f, repoId);
      for (let attempt = 0; ; attempt++) {
        try {
          return await downloadFile(s.endpoint, repoId, info.sha, f, repoDir, ctx, opts);
        } catch (err) {
          const transient = err instanceof HubError && err.status === undefined;
          if (!transient || attempt >= ctx.retries) throw err;
          await sleep(200 * 2 ** attempt);
        }
      }
    },
    async finish() {
      if (revision !== info.sha) await writeFileAtomic(path.join(repoDir, "refs", ...revision.split("/")), info.sha);
      return snapshotDir(repoDir, info.sha);
    },
  };
}

/**
 * Downloads what a safetensors model needs from `repoId` into the hub cache and returns the snapshot folder.
 * Reuses a complete cached snapshot without any request (unless `update`).
 */
export async function downloadModel(repoId: string, opts: HubOptions = {}): Promise<string> {
  const session = await openHubSession(repoId, opts, null, () => cachedSnapshot(repoId, opts));
  if (typeof session === "string") return session;
  const { info, revision } = session;
  for (const f of info.files) if (isWantedFile(f)) checkRepoPath(f, repoId);
  const wanted = info.files.filter(isWantedFile);
  if (!wanted.includes("config.json")) {
    throw new NotFoundError(`${repoId}@${revision}: the repository has no config.json`, { field: "config.json" });
  }
  const small = wanted.filter((f) => !f.endsWith(".safetensors"));
  for (const f of small) await session.fetchFile(f);

  const snap = snapshotDir(session.repoDir, info.sha);
  let weights: string[];
  const indexFile = path.join(snap, "model.safetensors.index.json");
  if (small.includes("model.safetensors.index.json")) {
    let wm: unknown;
    try {
      wm = JSON.parse(await fsp.readFile(indexFile, "utf8"))?.weight_map;
    } catch (err) {
      throw new FormatError(`${repoId}: model.safetensors.index.json is not valid JSON: ${(err as Error).message}`, { file: indexFile, cause: err });
    }
    if (wm === null || typeof wm !== "object") throw new FormatError(`${repoId}: model.safetensors.index.json has no "weight_map"`, { file: indexFile, field: "weight_map" });
    weights = [...new Set(Object.values(wm as Record<string, unknown>))].map((v) => String(v));
    for (const w of weights) {
      checkRepoPath(w, repoId);
      if (!info.files.includes(w)) throw new NotFoundError(`${repoId}: shard "${w}" named by model.safetensors.index.json is not in the repository`, { field: w });
    }
  } else if (wanted.includes("model.safetensors")) {
    weights = ["model.safetensors"];
  } else {
    weights = wanted.filter((f) => f.endsWith(".safetensors"));
  }
  if (weights.length === 0) {
    throw new NotFoundError(`${repoId}@${revision}: the repository has no safetensors weights (only safetensors checkpoints are supported)`, {
      field: "model.safetensors",
    });
  }
  for (const f of weights) await session.fetchFile(f);
  return session.finish();
}

/**
 * Downloads the named files (repository paths, e.g. `blocks.8.hook_resid_pre/cfg.json`) of `repoId` into the hub
 * cache and returns the snapshot folder. Used for SAE repositories (SAELens layout, one folder per SAE). Files
 * already in a cached snapshot of the revision are reused without any request (unless `update`).
 */
export async function downloadRepoFiles(repoId: string, files: readonly string[], opts: HubOptions = {}): Promise<string> {
  if (files.length === 0) throw new ArgumentError("downloadRepoFiles: no files named", { field: "files" });
  for (const f of files) checkRepoPath(f, repoId);
  const cached = (): string | null => {
    const repoDir = path.join(settings(opts).cacheDir, repoFolderName(repoId));
    const commit = cachedCommit(repoDir, opts.revision ?? "main");
    if (!commit) return null;
    const dir = snapshotDir(repoDir, commit);
    return files.every((f) => linkOk(path.join(dir, ...f.split("/")))) ? dir : null;
  };
  const session = await openHubSession(repoId, opts, `${files.join(", ")} are`, cached);
  if (typeof session === "string") return session;
  const missing = files.filter((f) => !session.info.files.includes(f));
  if (missing.length > 0) {
    const near = session.info.files.filter((f) => missing.some((m) => f.split("/")[0] === m.split("/")[0] || f.endsWith(m.split("/").pop()!))).slice(0, 8);
    throw new NotFoundError(`${repoId}@${session.revision}: the repository has no ${missing.map((m) => `"${m}"`).join(", ")}${near.length ? ` (it has ${near.join(", ")})` : ""}`, { field: missing[0]! });
  }
  for (const f of files) await session.fetchFile(f);
  return session.finish();
}

export interface ResolveOptions extends HubOptions {}

/**
 * A local model folder as is (resolved to an absolute path), or a hub id (`org/name`, optionally
 * `org/name@revision`) downloaded to / reused from the hub cache.
 */
export async function resolveModel(idOrPath: string, opts: ResolveOptions = {}): Promise<string> {
  if (typeof idOrPath !== "string" || idOrPath.length === 0) {
    throw new ArgumentError(`model must be a folder path or a hub id, got ${describeValue(idOrPath)}`, { field: "model" });
  }
  const expanded = idOrPath.startsWith("~/") ? path.join(os.homedir(), idOrPath.slice(2)) : idOrPath;
  if (fs.existsSync(expanded)) {
    const abs = path.resolve(expanded);
    if (!fs.statSync(abs).isDirectory()) throw new ArgumentError(`${idOrPath}: not a folder (give the model folder, not a file)`, { file: abs });
    return abs;
  }
  const looksLikePath = /^(\.{1,2}[\\/]|[\\/]|~|[A-Za-z]:[\\/])/.test(idOrPath) || idOrPath.includes("\\");
  if (looksLikePath || !isHubId(idOrPath)) {
    throw new NotFoundError(`${idOrPath}: model folder not found (and not a hub id like "Qwen/Qwen2.5-0.5B-Instruct")`, { file: idOrPath });
  }
  const at = idOrPath.indexOf("@");
  const repoId = at >= 0 ? idOrPath.slice(0, at) : idOrPath;
  const revision = at >= 0 ? idOrPath.slice(at + 1) : opts.revision;
  return downloadModel(repoId, { ...opts, revision });
}
