// Sharded explain/score (docs/scale-out.md): the features of one example store are split round robin
// (src/util/shard.ts pickShard), each shard writes its own database next to the target one
// ("db.json" -> "db.shard-0003-of-0008.json", holding a `shard` record: records.ts FeatureDbShard), and
// `mergeFeatureDbShards` (`safesail db merge --out db.json`) puts them together.
//
// The merge checks, naming the file and the field: every file is a shard database; one split (one N, each index
// once: no gap, no overlap); the same example store (its index's sha256: the same model and SAEs), the same feature
// list (length and sha256), and the same explainer / simulator and scoring settings for every stage run; every
// stage reached its end; the shards' ids put back in list order give the list (so none is missing or duplicated);
// and each shard holds a record for each of its ids and no other. The records are then upserted into the target
// database in list order (created when absent), as the unsharded explain/score commands update it in place.
import { existsSync, promises as fsp } from "node:fs";
import * as path from "node:path";
import { ArgumentError } from "../errors.ts";
import { isRemotePath, listFolderObjects } from "../storage/object-store.ts";
import type { ExampleStore } from "../interpret/example-store.ts";
import { sha256Hex } from "../util/hash.ts";
import { fieldDiffs, stableJson } from "../util/resume.ts";
import { checkShardSet, shardFilePattern, shardLabel } from "../util/shard.ts";
import { upsertRecords } from "./interpretation.ts";
import type { FeatureDb, FeatureDbShard, FeatureRecord } from "./records.ts";
import { featureDbExists, newFeatureDb, readFeatureDb, writeFeatureDb } from "./store.ts";

/** What identifies an example store across machines (the path is informative only). */
export function examplesIdentity(store: ExampleStore): FeatureDbShard["examples"] {
  const m = store.manifest;
  return { path: store.dir, sha256: sha256Hex(stableJson(m)), model_fingerprint: m.model.fingerprint, saes: m.saes.map((s) => `${s.hook}@${s.weights_sha256 ?? s.params_sha256}`) };
}

/** The `features` record of a list being split. */
export function featureListRecord(ids: readonly string[]): FeatureDbShard["features"] {
  return { count: ids.length, sha256: sha256Hex(ids.join("\n")) };
}

/**
 * Whether two shard records come from the same split (same N, store and list); the fields that differ, as
 * "field: A vs B", else []. The stage records are not compared (a score run may follow an explain run).
 */
export function sameSplit(a: FeatureDbShard, b: FeatureDbShard): string[] {
  const pick = (s: FeatureDbShard) => ({ count: s.count, examples: { ...s.examples, path: null }, features: s.features });
  return fieldDiffs(pick(a), pick(b)).map((d) => `${d.field}: ${d.a} vs ${d.b}`);
}

/** The shard databases next to `target` ("db.json" -> "db.shard-*-of-*.json"), in name order. */
export async function findDbShardFiles(target: string): Promise<string[]> {
  const remote = isRemotePath(target);
  // An s3:// URL's folder is everything before its last "/" (path.dirname would fold "s3://" to "s3:/").
  const dir = remote ? target.slice(0, target.lastIndexOf("/")) : path.dirname(path.resolve(target));
  const base = remote ? target.slice(target.lastIndexOf("/") + 1) : path.basename(target);
  const pattern = shardFilePattern(base);
  const listed = remote ? await listFolderObjects(dir) : existsSync(dir) ? await fsp.readdir(dir) : [];
  const names = listed.filter((n) => pattern.test(n)).sort();
  if (names.length === 0) throw new ArgumentError(`no shard databases next to ${target} (${base.replace(/(\.[^.]*)?$/, ".shard-IIII-of-NNNN$1")}, written by explain/score --shard I/N); name them`, { field: "shards", file: target });
  return names.map((n) => (remote ? `${dir}/${n}` : path.join(dir, n)));
}

/** A local path made absolute; an s3:// URL as it is. */
const absolute = (f: string) => (isRemotePath(f) ? f : path.resolve(f));

export interface MergeDbResult {
  db: FeatureDb;
  /** Shards merged, records put in, and how many of those carry failures (a rerun of their shard retries them). */
  shards: number;
  records: number;
  failed: number;
  /** Whether the target existed (its other records are kept). */
  updated: boolean;
}

/** Merges shard databases into `out` (see the file comment); writes it atomically and returns it. */
export async function mergeFeatureDbShards(files: readonly string[], opts: { out: string }): Promise<MergeDbResult> {
  const out = absolute(opts.out);
  if (files.length === 0) throw new ArgumentError("no shard databases given", { field: "shards" });
  const parts: { file: string; label: string; shard: FeatureDbShard; db: FeatureDb }[] = [];
  for (const f of files) {
    const file = absolute(f);
    if (file === out) throw new ArgumentError(`${file} is both a shard and --out; write the merge to the database the shards were named after`, { field: "out", file });
    const db = await readFeatureDb(file);
    if (!db.shard) throw new ArgumentError(`${file}: not a shard database (no "shard" record; explain/score --shard I/N write them)`, { field: "shard", file });
    parts.push({ file, label: file, shard: db.shard, db });
  }
  const ordered = checkShardSet(parts);
  const first = ordered[0]!;
  const stageSettings = (s: FeatureDbShard) => ({
    explain: s.explain ? { explainer: s.explain.explainer } : null,
    score: s.score ? { simulator: s.score.simulator, methods: s.score.methods, segments: s.score.segments, threshold: s.score.threshold, seed: s.score.seed } : null,
  });
  for (const p of ordered) {
    const split = p === first ? [] : sameSplit(first.shard, p.shard);
    if (split.length) throw new ArgumentError(`${p.file}: from another split than ${first.file} (${split.join("; ")}): the shards must cover one list of features of one example store`, { field: `shard.${split[0]!.split(":")[0]}`, file: p.file });
    const diffs = p === first ? [] : fieldDiffs(stageSettings(first.shard), stageSettings(p.shard));
    if (diffs.length) {
      throw new ArgumentError(`${p.file}: ${diffs.map((d) => `${d.field} is ${d.b}, but ${d.a} in ${first.file}`).join("; ")}: every shard must be explained and scored with the same explainer, simulator and settings`, { field: `shard.${diffs[0]!.field}`, file: p.file });
    }
    for (const stage of ["explain", "score"] as const) {
      if (p.shard[stage] && !p.shard[stage]!.complete) {
        throw new ArgumentError(`${p.file}: shard ${shardLabel(p.shard)} is incomplete: its ${stage} run stopped before the end (shard.${stage}.complete is false); rerun it`, { field: `shard.${stage}.complete`, file: p.file });
      }
    }
  }
  // The ids back in list order: position i is shard i % N's (i / N)-th id.
  const count = first.shard.features.count;
  const N = first.shard.count;
  const list: string[] = [];
  for (const p of ordered) {
    const want = Math.max(0, Math.ceil((count - p.shard.index) / N));
    if (p.shard.ids.length !== want) throw new ArgumentError(`${p.file}: shard ${shardLabel(p.shard)} lists ${p.shard.ids.length} features, but its share of the ${count} is ${want}`, { field: "shard.ids", file: p.file });
  }
  for (let i = 0; i < count; i++) list.push(ordered[i % N]!.shard.ids[Math.floor(i / N)]!);
  if (sha256Hex(list.join("\n")) !== first.shard.features.sha256 || new Set(list).size !== list.length) {
    throw new ArgumentError(`the shards' feature ids (${ordered.map((p) => p.file).join(", ")}) put back in order are not the list that was split (features.sha256 ${first.shard.features.sha256}): a shard file was edited or comes from another run`, { field: "shard.ids" });
  }
  const byShard = ordered.map((p) => {
    const mine = new Set(p.shard.ids);
    const byId = new Map(p.db.records.map((r) => [r.id, r]));
    for (const r of p.db.records) {
      if (!mine.has(r.id)) throw new ArgumentError(`overlap: ${p.file} holds a record for ${r.id}, which is not one of its shard's features (shard ${shardLabel(p.shard)})`, { field: "records", file: p.file });
    }
    for (const id of p.shard.ids) if (!byId.has(id)) throw new ArgumentError(`missing: ${p.file} holds no record for ${id}, one of its shard's features; rerun the shard`, { field: "records", file: p.file });
    return byId;
  });
  const records: FeatureRecord[] = list.map((id, i) => byShard[i % N]!.get(id)!);
  const failed = records.filter((r) => r.failures?.length).length;
  const updated = await featureDbExists(out);
  let target = updated ? await readFeatureDb(out) : newFeatureDb([], first.db.description);
  if (target.shard) throw new ArgumentError(`${out}: is itself a shard database; merge into the database the shards were named after`, { field: "out", file: out });
  target = upsertRecords(target, records);
  await writeFeatureDb(out, target);
  return { db: target, shards: N, records: records.length, failed, updated };
}
