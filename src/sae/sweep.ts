// SAE sweeps: one TopK SAE per (layer, k) of one activation store, each in its own folder, shardable so a Slurm
// array or a Kubernetes Indexed Job trains them side by side (docs/scale-out.md).
//
//   OUT/blocks.1.hook_mlp_out-k8/     cfg.json + sae_weights.safetensors (SAELens) + checkpoint/, as train-sae writes
//   OUT/shard-0001-of-0004.json       written by a shard when all its configurations are trained: the plan (store
//                                     identity, layers, ks, training settings) and the configurations it trained
//   OUT/sweep.json                    the index: written by an unsharded sweep at its end, or by `indexSaeSweep`
//                                     (`safesail train-sae merge --out OUT`) once every shard has finished
//
// Shard I of N trains configurations I, I+N, I+2N, ... of the layer-major list (round robin: SAEs of one layer
// cost about the same, so every shard gets a mix). The index step checks that the shard files form one split (one
// N, each index once), share one plan (the same store, by the sha256 of its manifest, and the same settings), and
// that every configuration's folder holds a finished SAE of the store's model with the plan's settings; errors
// name the file and the field. Every configuration resumes like train-sae: rerunning a shard skips finished SAEs
// (their checkpoints are at the end) and continues a stopped one.
import { existsSync, promises as fsp } from "node:fs";
import * as path from "node:path";
import type { ActivationStore } from "../activations/store.ts";
import { ArgumentError, FormatError } from "../errors.ts";
import { hookName } from "../model/hooks.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import { sha256File, sha256Hex } from "../util/hash.ts";
import { fieldDiffs, stableJson } from "../util/resume.ts";
import { checkShardSet, parseShardName, pickShard, shardLabel, shardName, type Shard } from "../util/shard.ts";
import { SAELENS_CFG, SAELENS_WEIGHTS } from "./saelens.ts";
import { trainSae, type TrainSaeResult } from "./train.ts";

export const SWEEP_INDEX = "sweep.json";
export const SWEEP_FORMAT = "safesail-sae-sweep";
export const SWEEP_SHARD_FORMAT = "safesail-sae-sweep-shard";
export const SWEEP_VERSION = 1;

/** Training settings every SAE of a sweep shares (null: train-sae's default). */
export interface SweepSettings {
  expansion: number | null;
  steps: number | null;
  tokens: number | null;
  batch_size: number | null;
  lr: number | null;
  seed: number | null;
  aux_coef: number | null;
  drop_special: boolean;
}

/** What every shard of a sweep must agree on. */
export interface SweepPlan {
  /** The activation store: where it was (informative), and what it is (sha256 of its manifest's stable JSON). */
  store: { path: string; manifest_sha256: string; model_fingerprint: string; site: string; tokens: number };
  layers: number[];
  ks: number[];
  settings: SweepSettings;
  /** Every configuration's folder name, layer-major. */
  configs: string[];
}

export interface SweepConfig {
  layer: number;
  k: number;
  hook: string;
  /** Folder name under the sweep folder: `{hook}-k{k}`. */
  name: string;
}

export interface SweepIndexEntry extends SweepConfig {
  d_sae: number;
  steps: number;
  tokens: number;
  dead_fraction: number | null;
  weights_sha256: string;
}

export interface SweepIndex {
  format: typeof SWEEP_FORMAT;
  version: typeof SWEEP_VERSION;
  store: SweepPlan["store"];
  layers: number[];
  ks: number[];
  settings: SweepSettings;
  /** Shards it was trained in (1: unsharded). */
  shards: number;
  saes: SweepIndexEntry[];
}

export interface SaeSweepOptions {
  layers: readonly number[];
  ks: readonly number[];
  /** The sweep folder. */
  out: string;
  expansion?: number;
  steps?: number;
  tokens?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  auxCoef?: number;
  dropSpecial?: boolean;
  /** Train only this shard's configurations and write its shard file (no index: `indexSaeSweep` after all shards). */
  shard?: Shard;
  overwrite?: boolean;
  allowIncomplete?: boolean;
  /** Progress of each SAE's training. */
  progress?: Progress;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface SaeSweepResult {
  /** This run's configurations (the shard's, or all) and their results; stops at the first one stopped early. */
  runs: { config: SweepConfig; result: TrainSaeResult }[];
  stopReason: "done" | "abort";
  /** The shard file written (sharded), or the index (unsharded), once every configuration of the run is done. */
  shardFile: string | null;
  index: SweepIndex | null;
}

/** The configurations of a sweep, layer-major: (l0, k0), (l0, k1), ..., (l1, k0), ... */
export function sweepConfigs(layers: readonly number[], ks: readonly number[], site: string): SweepConfig[] {
  const out: SweepConfig[] = [];
  for (const layer of layers) for (const k of ks) {
    const hook = hookName(layer, site as never);
    out.push({ layer, k, hook, name: `${hook}-k${k}` });
  }
  return out;
}

function uniqueList(values: readonly number[], field: string): number[] {
  if (!Array.isArray(values) || values.length === 0) throw new ArgumentError(`${field}: give at least one value`, { field });
  const seen = new Set<number>();
  for (const v of values) {
    if (seen.has(v)) throw new ArgumentError(`${field}: ${v} is listed twice`, { field });
    seen.add(v);
  }
  return [...values];
}

/** The plan of a sweep over `store` (what the shards compare). */
export function sweepPlan(store: ActivationStore, opts: Pick<SaeSweepOptions, "layers" | "ks" | "expansion" | "steps" | "tokens" | "batchSize" | "lr" | "seed" | "auxCoef" | "dropSpecial">): SweepPlan {
  const layers = uniqueList(opts.layers, "layers");
  const ks = uniqueList(opts.ks, "ks");
  for (const l of layers) if (!store.layers.includes(l)) throw new ArgumentError(`layers: ${l} is not in the store ${store.dir} (layers ${store.layers.join(", ")})`, { field: "layers" });
  const m = store.manifest;
  return {
    store: { path: store.dir, manifest_sha256: sha256Hex(stableJson(m)), model_fingerprint: m.model.fingerprint, site: m.site, tokens: m.tokens },
    layers,
    ks,
    settings: {
      expansion: opts.expansion ?? null,
      steps: opts.steps ?? null,
      tokens: opts.tokens ?? null,
      batch_size: opts.batchSize ?? null,
      lr: opts.lr ?? null,
      seed: opts.seed ?? null,
      aux_coef: opts.auxCoef ?? null,
      drop_special: opts.dropSpecial ?? false,
    },
    configs: sweepConfigs(layers, ks, m.site).map((c) => c.name),
  };
}

/** Trains a sweep, or one shard of it (see the file comment). */
export async function trainSaeSweep(store: ActivationStore, opts: SaeSweepOptions): Promise<SaeSweepResult> {
  const plan = sweepPlan(store, opts);
  const out = path.resolve(opts.out);
  const all = sweepConfigs(plan.layers, plan.ks, plan.store.site);
  const mine = pickShard(all, opts.shard);
  const log = opts.log ?? (() => {});
  const where = opts.shard ? `shard ${shardLabel(opts.shard)}: ` : "";
  log(`${where}${mine.length} of ${all.length} configurations: ${mine.map((c) => c.name).join(", ") || "none"}`);
  const runs: SaeSweepResult["runs"] = [];
  for (const [i, config] of mine.entries()) {
    opts.signal?.throwIfAborted();
    log(`${where}[${i + 1}/${mine.length}] ${config.name}`);
    const result = await trainSae(store.reader(config.layer, { dropSpecial: opts.dropSpecial }), {
      k: config.k,
      expansion: opts.expansion,
      steps: opts.steps,
      tokens: opts.tokens,
      batchSize: opts.batchSize,
      lr: opts.lr,
      seed: opts.seed,
      auxCoef: opts.auxCoef,
      out: path.join(out, config.name),
      overwrite: opts.overwrite,
      allowIncomplete: opts.allowIncomplete,
      progress: opts.progress ?? silentProgress,
      signal: opts.signal,
    });
    runs.push({ config, result });
    if (result.stopReason !== "done") return { runs, stopReason: "abort", shardFile: null, index: null };
  }
  if (opts.shard) {
    const file = path.join(out, `${shardName(opts.shard)}.json`);
    await writeJsonAtomic(file, { format: SWEEP_SHARD_FORMAT, version: SWEEP_VERSION, shard: { index: opts.shard.index, count: opts.shard.count }, plan, trained: mine.map((c) => c.name) });
    return { runs, stopReason: "done", shardFile: file, index: null };
  }
  const index = await writeSweepIndex(out, plan, 1);
  return { runs, stopReason: "done", shardFile: null, index };
}

interface ShardFile {
  file: string;
  label: string;
  shard: Shard;
  plan: SweepPlan;
  trained: string[];
}

async function readShardFile(file: string): Promise<ShardFile> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await fsp.readFile(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new FormatError(`${file}: cannot read the sweep shard file (${(err as Error).message})`, { file, cause: err });
  }
  const shard = json?.shard as Shard | undefined;
  if (json?.format !== SWEEP_SHARD_FORMAT || !shard || !Number.isSafeInteger(shard.index) || !Number.isSafeInteger(shard.count) || !json.plan || !Array.isArray(json.trained)) {
    throw new FormatError(`${file}: not a sweep shard file (format "${SWEEP_SHARD_FORMAT}" with shard, plan and trained)`, { file });
  }
  const named = parseShardName(path.basename(file));
  if (!named || named.index !== shard.index || named.count !== shard.count) throw new FormatError(`${file}: its "shard" (${shardLabel(shard)}) does not match its name`, { file, field: "shard" });
  return { file, label: file, shard: { index: shard.index, count: shard.count }, plan: json.plan as SweepPlan, trained: json.trained as string[] };
}

/**
 * The index step of a sharded sweep (`safesail train-sae merge --out DIR`): checks the shard files in `dir` and every
 * configuration's SAE (see the file comment) and writes `dir/sweep.json`. Returns the index.
 */
export async function indexSaeSweep(dir: string): Promise<SweepIndex> {
  const out = path.resolve(dir);
  let names: string[];
  try {
    names = await fsp.readdir(out);
  } catch (err) {
    throw new ArgumentError(`${out}: cannot read the sweep folder (${(err as Error).message})`, { field: "out", file: out, cause: err });
  }
  const files = names.filter((n) => /^shard-\d+-of-\d+\.json$/.test(n)).sort();
  if (files.length === 0) {
    throw new ArgumentError(`${out}: holds no sweep shard files (shard-IIII-of-NNNN.json, written by each train-sae --shard I/N when it finishes); ${existsSync(path.join(out, SWEEP_INDEX)) ? `${SWEEP_INDEX} is there already (an unsharded sweep writes it itself)` : "no shard has finished yet"}`, { field: "out", file: out });
  }
  const shards = checkShardSet(await Promise.all(files.map((f) => readShardFile(path.join(out, f)))));
  const first = shards[0]!;
  const comparable = (p: SweepPlan) => ({ ...p, store: { ...p.store, path: null } });
  for (const s of shards.slice(1)) {
    const diffs = fieldDiffs(comparable(first.plan), comparable(s.plan));
    if (diffs.length) {
      throw new ArgumentError(`${s.file}: ${diffs.map((d) => `plan.${d.field} is ${d.b}, but ${d.a} in ${first.file}`).join("; ")}: the shards of one sweep must use the same store and settings`, { field: `plan.${diffs[0]!.field}`, file: s.file });
    }
  }
  for (const s of shards) {
    const expected = pickShard(first.plan.configs, s.shard);
    if (stableJson(expected) !== stableJson(s.trained)) {
      throw new ArgumentError(`${s.file}: shard ${shardLabel(s.shard)} lists ${JSON.stringify(s.trained)} as trained, expected ${JSON.stringify(expected)} (configurations i with i % ${s.shard.count} = ${s.shard.index})`, { field: "trained", file: s.file });
    }
  }
  return writeSweepIndex(out, first.plan, first.shard.count);
}

/** Checks every configuration's SAE folder against the plan and writes the index (atomically). */
async function writeSweepIndex(out: string, plan: SweepPlan, shards: number): Promise<SweepIndex> {
  const saes: SweepIndexEntry[] = [];
  for (const config of sweepConfigs(plan.layers, plan.ks, plan.store.site)) {
    const dir = path.join(out, config.name);
    const cfgFile = path.join(dir, SAELENS_CFG);
    const weights = path.join(dir, SAELENS_WEIGHTS);
    if (!existsSync(cfgFile) || !existsSync(weights)) {
      throw new ArgumentError(`missing: ${dir} holds no trained SAE (${SAELENS_CFG} + ${SAELENS_WEIGHTS}); the shard that trains ${config.name} has not finished it`, { field: config.name, file: dir });
    }
    let cfg: Record<string, unknown>;
    try {
      cfg = JSON.parse(await fsp.readFile(cfgFile, "utf8")) as Record<string, unknown>;
    } catch (err) {
      throw new FormatError(`${cfgFile}: not valid JSON (${(err as Error).message})`, { file: cfgFile, cause: err });
    }
    const training = (cfg.training ?? {}) as Record<string, unknown>;
    const bad = (field: string, got: unknown, want: unknown) => new ArgumentError(`${cfgFile}: ${field} is ${JSON.stringify(got)}, the sweep's is ${JSON.stringify(want)}; retrain it (train-sae --overwrite with the sweep's settings)`, { field, file: cfgFile });
    if (cfg.hook_name !== config.hook) throw bad("hook_name", cfg.hook_name, config.hook);
    if (cfg.k !== config.k) throw bad("k", cfg.k, config.k);
    if (cfg.model_fingerprint !== plan.store.model_fingerprint) throw bad("model_fingerprint", cfg.model_fingerprint, plan.store.model_fingerprint);
    const s = plan.settings;
    if (s.expansion !== null && cfg.d_sae !== s.expansion * (cfg.d_in as number)) throw bad("d_sae", cfg.d_sae, s.expansion * (cfg.d_in as number));
    for (const [field, want] of [["batch_size", s.batch_size], ["lr", s.lr], ["seed", s.seed], ["aux_coef", s.aux_coef]] as const) {
      if (want !== null && training[field] !== want) throw bad(`training.${field}`, training[field], want);
    }
    if (s.steps !== null && training.total_steps !== s.steps) throw bad("training.total_steps", training.total_steps, s.steps);
    if (typeof training.steps !== "number" || training.steps !== training.total_steps) {
      throw new ArgumentError(`${cfgFile}: unfinished: trained ${JSON.stringify(training.steps)} of ${JSON.stringify(training.total_steps)} steps; rerun its shard to finish it`, { field: "training.steps", file: cfgFile });
    }
    saes.push({
      ...config,
      d_sae: cfg.d_sae as number,
      steps: training.steps,
      tokens: training.tokens as number,
      dead_fraction: typeof training.dead_fraction === "number" ? training.dead_fraction : null,
      weights_sha256: await sha256File(weights),
    });
  }
  const index: SweepIndex = { format: SWEEP_FORMAT, version: SWEEP_VERSION, store: plan.store, layers: plan.layers, ks: plan.ks, settings: plan.settings, shards, saes };
  await writeJsonAtomic(path.join(out, SWEEP_INDEX), index);
  return index;
}
