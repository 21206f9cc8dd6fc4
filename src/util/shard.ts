// Shards: one job cut into N independent parts that a scheduler runs side by side (a Slurm job array, a Kubernetes
// Indexed Job, N terminals), one definition for every command that can be sharded (harvest, train-sae sweeps,
// explain/score, the claims grid). docs/scale-out.md describes the whole workflow.
//
//   --shard I/N              this process does part I (0-based) of N; `--shard none` ignores the environment.
//   SAFESAIL_SHARD=I/N       the same, from the environment (any scheduler).
//   SLURM_ARRAY_TASK_ID      Slurm job arrays: the part is (ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP, of
//   SLURM_ARRAY_TASK_COUNT   SLURM_ARRAY_TASK_COUNT, so `--array=1-8` and `--array=0-14:2` work as well as `0-7`; an
//                            array that is not an evenly stepped range (`--array=1,4,9`) is refused.
//   JOB_COMPLETION_INDEX     Kubernetes Indexed Jobs (0..completions-1). Kubernetes sets no variable with the
//   SAFESAIL_SHARD_COUNT     completion count, so the manifest sets SAFESAIL_SHARD_COUNT to the Job's `completions`.
// The flag wins over the environment; among variables SAFESAIL_SHARD, then Slurm, then Kubernetes.
//
// Each command decides how its items are split: `shardRange` (contiguous: harvest keeps corpus order, so a merged
// store is the unsharded one) or `inShard` / `pickShard` (round robin: sweep configurations, features, which
// balances work of uneven cost). Outputs carry `shardName(shard)` ("shard-0003-of-0008") so shards never write the
// same file, and the merge steps check the set with `checkShardSet` (one shard per index, no gap, no overlap).
import { ArgumentError, describeValue } from "../errors.ts";

/** Part `index` (0-based) of `count`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

export const SHARD_ENV = "SAFESAIL_SHARD";
export const SHARD_COUNT_ENV = "SAFESAIL_SHARD_COUNT";
const SLURM_ID = "SLURM_ARRAY_TASK_ID";
const SLURM_COUNT = "SLURM_ARRAY_TASK_COUNT";
const SLURM_MIN = "SLURM_ARRAY_TASK_MIN";
const SLURM_MAX = "SLURM_ARRAY_TASK_MAX";
const SLURM_STEP = "SLURM_ARRAY_TASK_STEP";
const K8S_INDEX = "JOB_COMPLETION_INDEX";

/** A shard and where it came from ("--shard", "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT", ...), for log lines. */
export interface ResolvedShard extends Shard {
  readonly source: string;
}

const shardError = (what: string, field: string) => new ArgumentError(what, { field });

/**
 * "I/N" with 0 <= I < N. `source` names where the text came from in the error: `--shard` (default) or an
 * environment variable. Errors: `--shard must be I/N with 0 <= I < N (e.g. 3/8), got "8/8"`.
 */
export function parseShard(text: string, source = "--shard"): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index >= count) {
    const why = m && count >= 1 && index >= count ? ` (I counts from 0: the last of ${count} shards is ${count - 1}/${count})` : m && count < 1 ? " (N must be at least 1)" : "";
    throw shardError(`${source} must be I/N with 0 <= I < N (e.g. 3/8), got ${describeValue(text)}${why}`, source.replace(/^--/, ""));
  }
  return { index, count };
}

/** A non-negative integer environment variable, or an error naming it. */
function envInt(env: NodeJS.ProcessEnv, name: string, min = 0): number {
  const text = env[name] ?? "";
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw shardError(`environment variable ${name} must be an integer >= ${min}, got ${describeValue(env[name])}`, name);
  return n;
}

const isSet = (env: NodeJS.ProcessEnv, name: string) => env[name] !== undefined && env[name] !== "";

/** The shard the environment asks for (see the file comment), or undefined when none is set. */
export function shardFromEnv(env: NodeJS.ProcessEnv = process.env): ResolvedShard | undefined {
  if (isSet(env, SHARD_ENV)) return { ...parseShard(env[SHARD_ENV]!, `environment variable ${SHARD_ENV}`), source: SHARD_ENV };
  if (isSet(env, SLURM_ID)) {
    if (!isSet(env, SLURM_COUNT)) {
      throw shardError(`${SLURM_ID} is set (${env[SLURM_ID]}) but ${SLURM_COUNT} is not: a Slurm array task needs both to know its shard (Slurm 17.11 or later sets it); give --shard I/N instead, or --shard none to run unsharded`, SLURM_COUNT);
    }
    const id = envInt(env, SLURM_ID);
    const count = envInt(env, SLURM_COUNT, 1);
    const min = isSet(env, SLURM_MIN) ? envInt(env, SLURM_MIN) : 0;
    const step = isSet(env, SLURM_STEP) ? envInt(env, SLURM_STEP, 1) : 1;
    const max = isSet(env, SLURM_MAX) ? envInt(env, SLURM_MAX) : min + (count - 1) * step;
    const index = (id - min) / step;
    const vars = `${SLURM_ID}=${id}, ${SLURM_MIN}=${min}, ${SLURM_MAX}=${max}, ${SLURM_STEP}=${step}, ${SLURM_COUNT}=${count}`;
    if (max - min !== (count - 1) * step || !Number.isInteger(index) || index < 0 || index >= count) {
      throw shardError(`the Slurm array is not an evenly stepped range (${vars}), so its tasks cannot be numbered 0..N-1: submit it as --array=0-${count - 1} (a %limit is fine), or give --shard I/N`, SLURM_ID);
    }
    return { index, count, source: min === 0 && step === 1 ? `${SLURM_ID}/${SLURM_COUNT}` : `${SLURM_ID}/${SLURM_COUNT} (${vars})` };
  }
  if (isSet(env, K8S_INDEX)) {
    if (!isSet(env, SHARD_COUNT_ENV)) {
      throw shardError(`${K8S_INDEX} is set (a Kubernetes Indexed Job) but ${SHARD_COUNT_ENV} is not: Kubernetes does not tell a pod the completion count, so set ${SHARD_COUNT_ENV} to the Job's spec.completions in the manifest (examples/kubernetes/), or give --shard I/N`, SHARD_COUNT_ENV);
    }
    const index = envInt(env, K8S_INDEX);
    const count = envInt(env, SHARD_COUNT_ENV, 1);
    if (index >= count) throw shardError(`${K8S_INDEX}=${index} is not below ${SHARD_COUNT_ENV}=${count}: set ${SHARD_COUNT_ENV} to the Job's spec.completions`, K8S_INDEX);
    return { index, count, source: `${K8S_INDEX}/${SHARD_COUNT_ENV}` };
  }
  return undefined;
}

/**
 * The shard of a command: `--shard I/N` when given (`none`: no shard, whatever the environment says), else the
 * environment's, else undefined (the whole job).
 */
export function resolveShard(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedShard | undefined {
  if (flag !== undefined) {
    if (flag.trim().toLowerCase() === "none") return undefined;
    return { ...parseShard(flag), source: "--shard" };
  }
  return shardFromEnv(env);
}

/** "I/N". */
export const shardLabel = (s: Shard): string => `${s.index}/${s.count}`;

/** The name of a shard's output: "shard-0003-of-0008" (at least 4 digits, more when N needs them; sorts in order). */
export function shardName(s: Shard): string {
  const width = Math.max(4, String(s.count - 1).length);
  return `shard-${String(s.index).padStart(width, "0")}-of-${String(s.count).padStart(width, "0")}`;
}

const SHARD_NAME = /shard-(\d+)-of-(\d+)/;

/** The shard a name holds ("shard-0003-of-0008", "db.shard-0003-of-0008.json"), or undefined. */
export function parseShardName(name: string): Shard | undefined {
  const m = SHARD_NAME.exec(name);
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return count >= 1 && index < count ? { index, count } : undefined;
}

/** Whether item `i` of a round-robin split belongs to the shard (i % N === I). */
export const inShard = (i: number, s: Shard): boolean => i % s.count === s.index;

/** The shard's items of a round-robin split: items I, I+N, I+2N, ... */
export function pickShard<T>(items: readonly T[], s: Shard | undefined): T[] {
  return s ? items.filter((_, i) => inShard(i, s)) : [...items];
}

/**
 * The shard's part of `0..total-1` when split into contiguous ranges of near-equal size: `[from, to)`, with
 * from = floor(total * I / N). A shard may be empty when N > total.
 */
export function shardRange(total: number, s: Shard): { from: number; to: number } {
  return { from: Math.floor((total * s.index) / s.count), to: Math.floor((total * (s.index + 1)) / s.count) };
}

/**
 * Checks a set of shard outputs before a merge: all of one count N, each index 0..N-1 exactly once. `label` names
 * each part in errors (its folder or file). Throws an ArgumentError naming the parts at fault:
 *   overlap: a/shard-0001-of-0004 and b/shard-0001-of-0004 are both shard 1/4
 *   gap: shard 2/4 is missing (expected shard-0002-of-0004; have 0, 1, 3)
 */
export function checkShardSet<T extends { shard: Shard; label: string }>(parts: readonly T[]): T[] {
  if (parts.length === 0) throw new ArgumentError("no shards to merge", { field: "shards" });
  const first = parts[0]!;
  const count = first.shard.count;
  for (const p of parts) {
    if (p.shard.count !== count) {
      throw new ArgumentError(`${p.label} is shard ${shardLabel(p.shard)} but ${first.label} is shard ${shardLabel(first.shard)}: every shard of one merge must come from the same split (one N); name the shards of one split`, { field: "shard.count" });
    }
  }
  const byIndex = new Map<number, T>();
  for (const p of parts) {
    const other = byIndex.get(p.shard.index);
    if (other) throw new ArgumentError(`overlap: ${other.label} and ${p.label} are both shard ${shardLabel(p.shard)}; give each shard once`, { field: "shard.index" });
    byIndex.set(p.shard.index, p);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    const have = [...byIndex.keys()].sort((a, b) => a - b);
    const shown = missing.slice(0, 8).map((i) => shardLabel({ index: i, count })).join(", ") + (missing.length > 8 ? `, ... (${missing.length} in all)` : "");
    throw new ArgumentError(
      `gap: shard${missing.length > 1 ? "s" : ""} ${shown} ${missing.length > 1 ? "are" : "is"} missing (expected ${shardName({ index: missing[0]!, count })}${missing.length > 1 ? ", ..." : ""}; have ${have.length ? have.join(", ") : "none"} of 0..${count - 1}); run the missing shard${missing.length > 1 ? "s" : ""} first`,
      { field: "shards" },
    );
  }
  return Array.from({ length: count }, (_, i) => byIndex.get(i)!);
}

/**
 * A shard's output file next to `file`: the shard name goes before the extension, "db.json" ->
 * "db.shard-0003-of-0008.json" ("db" -> "db.shard-0003-of-0008"). `shardFilePattern(file)` matches those names.
 */
export function shardFilePath(file: string, s: Shard): string {
  const { dir, name, ext } = splitExt(file);
  return `${dir}${name}.${shardName(s)}${ext}`;
}

/** Matches the base names `shardFilePath(file, ...)` gives, for any shard. */
export function shardFilePattern(file: string): RegExp {
  const { name, ext } = splitExt(file);
  const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${esc(name)}\\.shard-\\d+-of-\\d+${esc(ext)}$`);
}

function splitExt(file: string): { dir: string; name: string; ext: string } {
  const slash = Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\"));
  const dir = file.slice(0, slash + 1);
  const base = file.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? { dir, name: base.slice(0, dot), ext: base.slice(dot) } : { dir, name: base, ext: "" };
}
