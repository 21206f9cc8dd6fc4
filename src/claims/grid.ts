// The configuration grid behind the claims notebook (issue 16): one TopK SAE per (site, layer, k) of the embedded toy
// model, trained on its full training corpus, each measured the same way, into one committed file the notebook reads.
//
//   safesail claims grid --jobs 2          # everything: harvest, 75 SAEs on two processes, then data/claims/toy-grid.json
//   safesail claims grid --shard 0/2       # one share of the SAEs (a Slurm array task, a Kubernetes indexed job)
//
// Per configuration (an "entry", written atomically to WORK/entries/ as soon as it is measured, so a stopped run
// resumes at the next one; the training itself resumes from its checkpoint):
//   - training: steps, seconds, the smoothed training FVU curve, the plateau rule's verdict, dead latents;
//   - held-out: FVU, L0, dead and dense latents on every token of the model's 1,000 held-out conversations, and CE
//     loss recovered / KL with the reconstruction spliced in (answer tokens, 100 conversations; evalSae);
//   - contrastive: per concept (English pairs), L0,t and I_CDF over the threshold grid, the best k-sparse probe F1
//     and the 1-d probe F1;
//   - filter: on the English domain samples, normalised as the filter does, split into a calibration and an
//     evaluation half (the filter's own split): features kept per firing threshold of the filter's grid on each half,
//     per domain on the evaluation half, and on `bootstrap` stratified resamples of the evaluation half (the same
//     resamples for every SAE: a paired bootstrap).
// No choice is made here: the notebook picks the filter threshold on the calibration counts, then reads everything
// else at it. Entries with `steps` = 2 x the grid's are the convergence check (the same SAE trained twice as long).
import { existsSync, promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { forEachDocumentBlock } from "../activations/blocks.ts";
import { harvest, modelFingerprint } from "../activations/harvest.ts";
import type { ActivationStore } from "../activations/store.ts";
import { readPairs } from "../data/pairs.ts";
import { readDomainCorpus } from "../data/domain-corpus.ts";
import { DATA_FILES } from "../data/make-data.ts";
import { FormatError, NotFoundError, SafesailError } from "../errors.ts";
import { contrastiveReport, DEFAULT_THRESHOLDS, pairQueries } from "../metrics/evaluate.ts";
import { poolActivations, queryActivations, type QueryActivations } from "../metrics/features.ts";
import { bootstrapKeptCounts, FILTER_THRESHOLD_GRID, precisionRecallFilter, splitHalves } from "../metrics/filter.ts";
import { DEFAULT_QUANTILE, featureScales, normaliseByScales } from "../metrics/normalise.ts";
import { hookName, type Site } from "../model/hooks.ts";
import { DEFAULT_MODEL_DIR } from "../model/default.ts";
import { loadModel, type Model } from "../model/runtime.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { evalSae } from "../sae/eval.ts";
import { ReconstructionStats } from "../sae/stats.ts";
import { trainSae } from "../sae/train.ts";
import { SAFETY_DOMAINS } from "../safety.ts";
import { toyTrainingCorpus } from "../toy/corpus.ts";
import { heldOutConversations } from "../toy/heldout.ts";
import { curvePoints, evenlySpaced, plateauCheck } from "../toy/saes.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import { stableJson } from "../util/resume.ts";
import { significant } from "../util/significant.ts";
import { sha256Hex } from "../util/hash.ts";
import { pickShard, type Shard } from "../util/shard.ts";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

/** What a grid is: its configurations, and how each SAE is trained and measured. */
export interface ClaimsGridSettings {
  sites: readonly Site[];
  layers: readonly number[];
  ks: readonly number[];
  expansion: number;
  steps: number;
  batchSize: number;
  lr: number;
  decayFraction: number;
  threads: number;
  init: "median" | "mean" | "zero";
  checkpointEvery: number;
  seed: number;
  languages: readonly string[];
  filter: { minPrecision: number; minRecall: number; quantile: number; grid: readonly number[]; splitSeed: number };
  bootstrap: number;
  ceDocuments: number;
  convergence: { factor: number; configs: readonly { site: Site; layer: number; k: number }[] };
  /** Train on the first N training conversations only (a test; the grid uses all: null). */
  conversations: number | null;
  /** Held-out conversations for FVU and dead latents, evenly spaced (null: all 1,000). */
  heldOut: number | null;
}

/** The grid and how every SAE of it is trained and measured: fixed before any result was looked at. */
export const CLAIMS_GRID: ClaimsGridSettings = {
  sites: ["mlp_out", "resid_post", "attn_out"] as readonly Site[],
  layers: [0, 1, 2, 3] as readonly number[],
  ks: [4, 8, 16, 32, 64, 128] as readonly number[],
  expansion: 10,
  /** 1,000 steps of 1,024 tokens: 1.02M tokens, 1.15 passes over the 888,669 tokens of the training corpus. */
  steps: 1000,
  batchSize: 1024,
  lr: 2e-3,
  decayFraction: 0.2,
  /** One onnxruntime thread per process: a rebuild on the same machine repeats every digit. */
  threads: 1,
  init: "median",
  checkpointEvery: 250,
  seed: 0,
  /** Pairs and filter samples: English (the language the model refuses in, and the paper's database's). */
  languages: ["en"] as readonly string[],
  filter: { minPrecision: 0.6, minRecall: 0.2, quantile: DEFAULT_QUANTILE, grid: FILTER_THRESHOLD_GRID, splitSeed: 0 },
  /** Stratified bootstrap resamples of the filter's evaluation half. */
  bootstrap: 200,
  /** Held-out conversations for CE loss recovered (evalSae's plain-JS encoder is slow), evenly spaced. */
  ceDocuments: 100,
  /** The convergence check: these configurations are also trained with `factor` x the steps. */
  convergence: { factor: 2, configs: [{ site: "mlp_out", layer: 2, k: 32 }, { site: "resid_post", layer: 2, k: 32 }, { site: "attn_out", layer: 2, k: 32 }] },
  conversations: null,
  heldOut: null,
};

export const CLAIMS_GRID_FILE = "data/claims/toy-grid.json";
export const CLAIMS_WORK = ".cache/claims";
export const CLAIMS_GRID_FORMAT = "safesail-claims-grid";
export const CLAIMS_GRID_VERSION = 1;

export interface GridConfig {
  site: Site;
  layer: number;
  k: number;
  steps: number;
}

export interface GridConceptMetrics {
  domain: string;
  concept: string;
  pairs: number;
  /** L0,t and I_CDF at every t of `thresholds` (the file's). */
  l0t: number[];
  icdf: number[];
  kSparseF1: number | null;
  oneDF1: number | null;
}

export interface GridEntry extends GridConfig {
  hook: string;
  dSae: number;
  /** The settings the entry was made with (a rerun with other settings remakes it). */
  key: string;
  training: {
    tokens: number;
    epochs: number;
    seconds: number;
    curve: { step: number; fvu: number }[];
    plateau: { improvement: number; plateaued: boolean };
    final_fvu: number;
    final_dead_fraction: number;
    warnings: string[];
  };
  heldout: { documents: number; tokens: number; fvu: number; l0: number; dead_fraction: number; dense_fraction: number; ce: { documents: number; ce_loss_clean: number; ce_loss_sae: number; ce_loss_zero_ablation: number; ce_loss_recovered: number; kl_sae: number; warnings: string[] } };
  concepts: GridConceptMetrics[];
  filter: {
    /** Features kept at each t of the filter grid on the calibration half, on the evaluation half, and per domain there. */
    calibration: number[];
    evaluation: number[];
    evaluationPerDomain: Record<string, number[]>;
    /** [t][b]: kept on bootstrap resample b of the evaluation half. */
    replicates: number[][];
  };
  evaluateSeconds: number;
}

export interface ClaimsGridFile {
  format: typeof CLAIMS_GRID_FORMAT;
  version: typeof CLAIMS_GRID_VERSION;
  description: string;
  command: string;
  settings: Record<string, unknown>;
  model: { folder: string; fingerprint: string };
  corpus: { conversations: number; tokens: number; sha256: string; generator_seed: number };
  data: { pairs: string; pairs_sha256: string; samples: string; samples_sha256: string; calibration: number; evaluation: number; concepts: number };
  /** The L0,t / I_CDF grid of `concepts[].l0t` and the filter's firing-threshold grid. */
  thresholds: number[];
  filterThresholds: number[];
  entries: GridEntry[];
  /** Configurations not measured yet: empty in a complete file (only `--partial` writes others). */
  missing: string[];
  wall_seconds: { harvest: number; train: number; evaluate: number; processes: number };
  machine: string;
}

/** Every configuration of the grid, then the convergence check's; `shard` keeps its round-robin share (src/util/shard.ts). */
export function gridConfigs(shard?: Shard, g: ClaimsGridSettings = CLAIMS_GRID): GridConfig[] {
  const all: GridConfig[] = [];
  for (const site of g.sites) for (const layer of g.layers) for (const k of g.ks) all.push({ site, layer, k, steps: g.steps });
  for (const c of g.convergence.configs) all.push({ ...c, steps: g.steps * g.convergence.factor });
  return pickShard(all, shard);
}

export const configName = (c: GridConfig): string => `${c.site}-L${c.layer}-k${c.k}-s${c.steps}`;

export class ClaimsGridStopped extends SafesailError {}

export interface BuildClaimsGridOptions {
  model?: string;
  work?: string;
  /** Where the assembled file goes (default data/claims/toy-grid.json); not written by a shard run. */
  out?: string;
  pairs?: string;
  samples?: string;
  /** Only this share of the configurations; the file is then not assembled (run without a shard to assemble). */
  shard?: Shard;
  /** Harvest only (before starting shards elsewhere). */
  harvestOnly?: boolean;
  /** Train nothing: assemble the file from the entries already measured (by shards, say). */
  assembleOnly?: boolean;
  /** Assemble with the entries there are, listing the others in `missing` (a look at a run in progress; not for committing). */
  partial?: boolean;
  /** The grid (default CLAIMS_GRID; tests give a small one). */
  grid?: ClaimsGridSettings;
  /** Processes the shards ran on (recorded in the file's wall times; default 1). */
  processes?: number;
  progress?: Progress;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

const relative = (p: string) => {
  const r = path.relative(REPO_ROOT, p);
  return r && !r.startsWith("..") && !path.isAbsolute(r) ? r.split(path.sep).join("/") : p;
};

interface Inputs {
  g: ClaimsGridSettings;
  model: Model;
  stores: Map<Site, ActivationStore>;
  pairs: Awaited<ReturnType<typeof readPairs>>;
  samples: Awaited<ReturnType<typeof readDomainCorpus>>;
  heldDocs: { messages: { role: string; content: string }[] }[];
  ceDocs: { messages: { role: string; content: string }[] }[];
  corpus: { seed: number; conversations: number };
  dataKey: Record<string, unknown>;
  harvestSeconds: number;
}

/** Builds the grid (or one shard of it). Returns the assembled file, or null for a shard / harvest-only run. */
export async function buildClaimsGrid(opts: BuildClaimsGridOptions = {}): Promise<ClaimsGridFile | null> {
  const modelDir = path.resolve(opts.model ?? DEFAULT_MODEL_DIR);
  const work = path.resolve(opts.work ?? path.join(REPO_ROOT, CLAIMS_WORK));
  const out = path.resolve(opts.out ?? path.join(REPO_ROOT, CLAIMS_GRID_FILE));
  const pairsFile = path.resolve(opts.pairs ?? path.join(REPO_ROOT, DATA_FILES.pairs));
  const samplesFile = path.resolve(opts.samples ?? path.join(REPO_ROOT, DATA_FILES.domainCorpus));
  const progress = opts.progress ?? silentProgress;
  const log = opts.log ?? (() => {});
  for (const [f, what] of [[pairsFile, "pairs"], [samplesFile, "samples"], [path.join(modelDir, "config.json"), "model"]] as const) {
    if (!existsSync(f)) throw new NotFoundError(`claims grid: ${f}: no such file (${what})`, { file: f, field: what });
  }
  const g = opts.grid ?? CLAIMS_GRID;
  const model = await loadModel(modelDir);
  try {
    const inputs = await prepare(model, g, { modelDir, work, pairsFile, samplesFile, progress, log, signal: opts.signal });
    if (opts.harvestOnly) return null;
    const mine = opts.assembleOnly ? [] : gridConfigs(opts.shard, g);
    log(`${mine.length} configurations${opts.shard ? ` (shard ${opts.shard.index}/${opts.shard.count})` : ""}`);
    const hookCache = new Map<string, HookData>();
    for (const c of mine) {
      if (opts.signal?.aborted) throw new ClaimsGridStopped(`claims grid: stopped before ${configName(c)}`);
      await buildEntry(c, inputs, { work, progress, log, signal: opts.signal, hookCache });
    }
    if (opts.shard) return null;
    return await assembleClaimsGrid({ work, out, modelDir, pairsFile, samplesFile, inputs, log, processes: opts.processes ?? 1, partial: opts.partial ?? false });
  } finally {
    await model.dispose();
  }
}

async function prepare(model: Model, g: ClaimsGridSettings, o: { modelDir: string; work: string; pairsFile: string; samplesFile: string; progress: Progress; log: (l: string) => void; signal?: AbortSignal }): Promise<Inputs> {
  const pairs = (await readPairs(o.pairsFile)).filter((p) => p.lang !== undefined && g.languages.includes(p.lang));
  const samples = (await readDomainCorpus(o.samplesFile)).filter((s) => g.languages.includes(s.lang));
  if (pairs.length === 0) throw new FormatError(`${o.pairsFile}: no ${g.languages.join("/")} pairs`, { file: o.pairsFile, field: "lang" });
  if (samples.length === 0) throw new FormatError(`${o.samplesFile}: no ${g.languages.join("/")} samples`, { file: o.samplesFile, field: "lang" });
  const corpus = await toyTrainingCorpus(o.modelDir);
  const docs = (g.conversations === null ? corpus.conversations : corpus.conversations.slice(0, g.conversations)).map((messages) => ({ messages }));
  // The harvest's wall time is kept beside the stores, so that a rerun that finds them finished reports the time
  // they took (and writes the same file), not the moment it took to open them.
  const timingFile = path.join(o.work, "harvest-timing.json");
  const wasComplete = await Promise.all(g.sites.map(async (site) => {
    try {
      return (JSON.parse(await fsp.readFile(path.join(o.work, `acts-${site}`, "manifest.json"), "utf8")) as { complete?: boolean }).complete === true;
    } catch {
      return false;
    }
  }));
  const t0 = performance.now();
  const stores = new Map<Site, ActivationStore>();
  for (const site of g.sites) {
    const store = await harvest(model, docs, { layers: [...g.layers], site, out: path.join(o.work, `acts-${site}`), progress: o.progress, signal: o.signal });
    if (!store.manifest.complete) throw new ClaimsGridStopped(`claims grid: the harvest of ${site} stopped; run the same command again to resume it`);
    stores.set(site, store);
  }
  let harvestSeconds = (performance.now() - t0) / 1000;
  if (wasComplete.every(Boolean) && existsSync(timingFile)) harvestSeconds = (JSON.parse(await fsp.readFile(timingFile, "utf8")) as { seconds: number }).seconds;
  else await writeJsonAtomic(timingFile, { seconds: harvestSeconds });
  const first = stores.get(g.sites[0]!)!;
  o.log(`harvest: ${first.tokens} tokens of ${docs.length} training conversations, ${g.sites.length} sites x ${g.layers.length} layers`);
  const held = await heldOutConversations({ dir: o.modelDir });
  const heldDocs = evenlySpaced(g.heldOut ?? held.length, held.length).map((i) => ({ messages: held[i]!.messages }));
  const ceDocs = evenlySpaced(Math.min(g.ceDocuments, heldDocs.length), heldDocs.length).map((i) => heldDocs[i]!);
  const dataKey = {
    model_fingerprint: first.manifest.model.fingerprint,
    corpus_sha256: first.manifest.corpus.sha256,
    pairs_sha256: sha256Hex(await fsp.readFile(o.pairsFile)),
    samples_sha256: sha256Hex(await fsp.readFile(o.samplesFile)),
    heldout: heldDocs.length,
  };
  return { g, model, stores, pairs, samples, heldDocs, ceDocs, corpus: { seed: corpus.seed, conversations: docs.length }, dataKey, harvestSeconds };
}

/** The activations one hook's entries share: pairs, filter samples and held-out rows (kept while its entries run). */
interface HookData {
  pairActs: QueryActivations;
  sampleActs: QueryActivations;
  heldRows: { x: Float32Array; n: number }[];
}

async function hookData(hook: string, inputs: Inputs, cache: Map<string, HookData>, progress: Progress): Promise<HookData> {
  const hit = cache.get(hook);
  if (hit) return hit;
  cache.clear();
  const pairActs = await queryActivations(inputs.model, pairQueries(inputs.pairs), hook, { progress, label: `pairs ${hook}` });
  const sampleActs = await queryActivations(inputs.model, inputs.samples.map((s) => s.text), hook, { progress, label: `filter samples ${hook}` });
  const heldRows: HookData["heldRows"] = [];
  await forEachDocumentBlock(inputs.model, inputs.heldDocs, [hook], async (_h, x, n) => void heldRows.push({ x, n }), progress, `held-out ${hook}`);
  const data = { pairActs, sampleActs, heldRows };
  cache.set(hook, data);
  return data;
}

function trainingSettings(c: GridConfig, inputs: Inputs): Record<string, unknown> {
  const g = inputs.g;
  return { hook: hookName(c.layer, c.site), k: c.k, expansion: g.expansion, steps: c.steps, batch_size: g.batchSize, lr: g.lr, decay_fraction: g.decayFraction, threads: g.threads, init: g.init, seed: g.seed, model_fingerprint: inputs.dataKey.model_fingerprint, corpus_sha256: inputs.dataKey.corpus_sha256 };
}

function entryKey(c: GridConfig, inputs: Inputs): string {
  const g = inputs.g;
  return sha256Hex(stableJson({ training: trainingSettings(c, inputs), data: inputs.dataKey, languages: g.languages, filter: g.filter, bootstrap: g.bootstrap, ceDocuments: g.ceDocuments, thresholds: DEFAULT_THRESHOLDS })).slice(0, 16);
}

const entryFile = (work: string, c: GridConfig) => path.join(work, "entries", `${configName(c)}.json`);

async function readEntry(file: string): Promise<GridEntry | null> {
  try {
    return JSON.parse(await fsp.readFile(file, "utf8")) as GridEntry;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new FormatError(`${file}: not a grid entry (${(err as Error).message}); delete it to remake it`, { file });
  }
}

async function buildEntry(c: GridConfig, inputs: Inputs, o: { work: string; progress: Progress; log: (l: string) => void; signal?: AbortSignal; hookCache: Map<string, HookData> }): Promise<GridEntry> {
  const key = entryKey(c, inputs);
  const file = entryFile(o.work, c);
  const old = await readEntry(file);
  if (old && old.key === key) return old;
  const g = inputs.g;
  const hook = hookName(c.layer, c.site);
  const settings = trainingSettings(c, inputs);
  const runDir = path.join(o.work, "saes", `${configName(c)}-${sha256Hex(stableJson(settings)).slice(0, 12)}`);
  const run = await trainSae(inputs.stores.get(c.site)!.reader(c.layer), {
    k: c.k,
    expansion: g.expansion,
    steps: c.steps,
    batchSize: g.batchSize,
    lr: g.lr,
    decayFraction: g.decayFraction,
    seed: g.seed,
    threads: g.threads,
    init: g.init,
    out: runDir,
    checkpointEvery: g.checkpointEvery,
    progress: o.progress,
    signal: o.signal,
  });
  // trainSae times only its own part of a resumed run: the parts are added up beside the checkpoint,
  // a stopped part too (trainSae checkpoints the step it stopped at, so none of it is trained twice).
  const timingFile = path.join(runDir, "claims-timing.json");
  const timing = existsSync(timingFile) ? (JSON.parse(await fsp.readFile(timingFile, "utf8")) as { seconds: number }) : { seconds: 0 };
  if (run.steps > run.resumedFrom) {
    timing.seconds += run.seconds;
    await writeJsonAtomic(timingFile, timing);
  }
  if (run.stopReason !== "done") throw new ClaimsGridStopped(`claims grid: stopped while training ${configName(c)} at step ${run.steps} of ${c.steps}; the same command resumes from its checkpoint`);
  const t0 = performance.now();
  const data = await hookData(hook, inputs, o.hookCache, o.progress);
  const sae = run.sae;
  // Held-out reconstruction on every token, and CE / KL with the reconstruction spliced in.
  const stats = new ReconstructionStats(sae);
  for (const r of data.heldRows) await stats.add(r.x, r.n);
  const ce = await evalSae(sae, inputs.model, inputs.ceDocs, { positions: "answer", progress: o.progress });
  // Contrastive metrics per concept.
  const report = contrastiveReport(await poolActivations(data.pairActs, sae), inputs.pairs, { thresholds: DEFAULT_THRESHOLDS, quantile: g.filter.quantile, seed: g.seed });
  // The filter's counts on both halves at every threshold, and the bootstrap of the evaluation half.
  const pooled = await poolActivations(data.sampleActs, sae);
  const m = pooled.features;
  const n = inputs.samples.length;
  const scaled = normaliseByScales(pooled.values, n, m, featureScales(pooled.values, n, m, g.filter.quantile));
  const { calibration, evaluation } = splitHalves(inputs.samples, g.filter.splitSeed);
  const rows = (idx: number[]) => {
    const outRows = new Float32Array(idx.length * m);
    idx.forEach((r, i) => outRows.set(scaled.subarray(r * m, (r + 1) * m), i * m));
    return outRows;
  };
  const calValues = rows(calibration);
  const evalValues = rows(evaluation);
  const calLabels = calibration.map((i) => inputs.samples[i]!.domain);
  const evalLabels = evaluation.map((i) => inputs.samples[i]!.domain);
  const evalStrata = evaluation.map((i) => `${inputs.samples[i]!.lang}\u0000${inputs.samples[i]!.domain}`);
  const rule = { minPrecision: g.filter.minPrecision, minRecall: g.filter.minRecall };
  const filter: GridEntry["filter"] = { calibration: [], evaluation: [], evaluationPerDomain: Object.fromEntries(SAFETY_DOMAINS.map((d) => [d, [] as number[]])), replicates: [] };
  for (const t of g.filter.grid) {
    filter.calibration.push(precisionRecallFilter(calValues, calLabels, m, { ...rule, threshold: t }).kept.length);
    const ev = precisionRecallFilter(evalValues, evalLabels, m, { ...rule, threshold: t });
    filter.evaluation.push(ev.kept.length);
    for (const d of SAFETY_DOMAINS) filter.evaluationPerDomain[d]!.push(ev.keptPerDomain[d] ?? 0);
    filter.replicates.push(bootstrapKeptCounts(evalValues, evalLabels, m, { ...rule, threshold: t, replicates: g.bootstrap, seed: g.seed, strata: evalStrata }));
  }
  const fvu = run.history.map((h) => h.fvu);
  const plateau = plateauCheck(fvu);
  const entry: GridEntry = {
    ...c,
    hook,
    dSae: sae.config.dSae,
    key,
    training: {
      tokens: run.tokens,
      epochs: significant(run.epochs, 4),
      seconds: significant(timing.seconds, 4),
      curve: curvePoints(fvu, 20).map((p) => ({ step: p.step, fvu: significant(p.fvu, 5) })),
      plateau: { improvement: significant(plateau.improvement, 4), plateaued: plateau.plateaued },
      final_fvu: significant(fvu.slice(-10).reduce((a, b) => a + b, 0) / Math.min(10, fvu.length), 5),
      final_dead_fraction: significant(run.deadFraction, 4),
      warnings: run.warnings,
    },
    heldout: {
      documents: inputs.heldDocs.length,
      tokens: stats.count,
      fvu: significant(stats.fvu()),
      l0: significant(stats.l0()),
      dead_fraction: significant(stats.deadFraction()),
      dense_fraction: significant(stats.denseFraction()),
      ce: { documents: ce.documents, ce_loss_clean: significant(ce.ce_loss_clean), ce_loss_sae: significant(ce.ce_loss_sae), ce_loss_zero_ablation: significant(ce.ce_loss_zero_ablation), ce_loss_recovered: significant(ce.ce_loss_recovered), kl_sae: significant(ce.kl_sae), warnings: ce.warnings },
    },
    concepts: report.concepts.map((k) => ({
      domain: k.domain,
      concept: k.concept,
      pairs: k.pairs,
      l0t: k.byThreshold.map((b) => significant(b.l0)),
      icdf: k.byThreshold.map((b) => significant(b.icdf)),
      kSparseF1: k.kSparseF1 ? significant(Math.max(...k.kSparseF1)) : null,
      oneDF1: k.oneDF1 === null ? null : significant(k.oneDF1),
    })),
    filter,
    evaluateSeconds: significant((performance.now() - t0) / 1000, 4),
  };
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await writeJsonAtomic(file, entry, 0);
  o.log(`${configName(c)}: trained in ${timing.seconds.toFixed(0)} s; held-out FVU ${entry.heldout.fvu.toFixed(4)}, CE recovered ${entry.heldout.ce.ce_loss_recovered.toFixed(4)}, dead ${(100 * entry.heldout.dead_fraction).toFixed(1)}%; kept at t = 0.5: ${filter.evaluation[4]} (evaluated in ${entry.evaluateSeconds.toFixed(0)} s)`);
  return entry;
}

async function assembleClaimsGrid(o: { work: string; out: string; modelDir: string; pairsFile: string; samplesFile: string; inputs: Inputs; log: (l: string) => void; processes: number; partial: boolean }): Promise<ClaimsGridFile> {
  const entries: GridEntry[] = [];
  const missing: string[] = [];
  for (const c of gridConfigs(undefined, o.inputs.g)) {
    const e = await readEntry(entryFile(o.work, c));
    if (!e || e.key !== entryKey(c, o.inputs)) missing.push(configName(c));
    else entries.push(e);
  }
  if (missing.length && (!o.partial || entries.length === 0)) throw new ClaimsGridStopped(`claims grid: ${missing.length} configuration(s) not built yet (${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ", ..." : ""}); run the shards, or this command without --shard`);
  const split = splitHalves(o.inputs.samples, o.inputs.g.filter.splitSeed);
  const store = o.inputs.stores.get(o.inputs.g.sites[0]!)!;
  const file: ClaimsGridFile = {
    format: CLAIMS_GRID_FORMAT,
    version: CLAIMS_GRID_VERSION,
    description: "TopK SAEs of the embedded toy model over sites x layers x k, trained on its 12,000 training conversations and measured on held-out text, English contrastive pairs and English domain samples (src/claims/grid.ts). The claims notebook reads it.",
    command: "safesail claims grid --jobs 2",
    settings: JSON.parse(JSON.stringify(o.inputs.g)) as Record<string, unknown>,
    model: { folder: relative(o.modelDir), fingerprint: String(o.inputs.dataKey.model_fingerprint) },
    corpus: { conversations: o.inputs.corpus.conversations, tokens: store.tokens, sha256: String(o.inputs.dataKey.corpus_sha256), generator_seed: o.inputs.corpus.seed },
    data: {
      pairs: relative(o.pairsFile),
      pairs_sha256: String(o.inputs.dataKey.pairs_sha256),
      samples: relative(o.samplesFile),
      samples_sha256: String(o.inputs.dataKey.samples_sha256),
      calibration: split.calibration.length,
      evaluation: split.evaluation.length,
      concepts: new Set(o.inputs.pairs.map((p) => `${p.domain}/${p.concept}`)).size,
    },
    thresholds: [...DEFAULT_THRESHOLDS],
    filterThresholds: [...o.inputs.g.filter.grid],
    entries,
    missing,
    wall_seconds: {
      harvest: significant(o.inputs.harvestSeconds, 4),
      train: significant(entries.reduce((a, e) => a + e.training.seconds, 0), 4),
      evaluate: significant(entries.reduce((a, e) => a + e.evaluateSeconds, 0), 4),
      processes: o.processes,
    },
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
  };
  await fsp.mkdir(path.dirname(o.out), { recursive: true });
  await writeJsonAtomic(o.out, file, 0);
  o.log(`wrote ${o.out}: ${entries.length} entries${missing.length ? `; PARTIAL: ${missing.length} configuration(s) missing` : ""}`);
  return file;
}

/**
 * Whether a built grid file still answers for the present settings, model and data, so that `claims build` can use it
 * instead of retraining the grid (4.9 CPU-hours): complete (nothing in `missing`), the same grid settings, the same model
 * fingerprint and the same pairs and samples (sha256). Not compared: the code that trained it. `reason` says what
 * differs, for the log.
 */
export async function claimsGridIsCurrent(o: { file?: string; model?: string; pairs?: string; samples?: string; grid?: ClaimsGridSettings } = {}): Promise<{ current: boolean; reason: string }> {
  const file = path.resolve(o.file ?? path.join(REPO_ROOT, CLAIMS_GRID_FILE));
  if (!existsSync(file)) return { current: false, reason: `${relative(file)} does not exist` };
  let g: ClaimsGridFile;
  try {
    g = await readClaimsGrid(file);
  } catch (err) {
    return { current: false, reason: (err as Error).message };
  }
  if (g.missing.length > 0) return { current: false, reason: `${relative(file)} is partial (${g.missing.length} configuration(s) missing)` };
  if (stableJson(g.settings) !== stableJson(JSON.parse(JSON.stringify(o.grid ?? CLAIMS_GRID)))) return { current: false, reason: `${relative(file)}: settings differ from the grid in src/claims/grid.ts` };
  for (const [field, f] of [["pairs_sha256", o.pairs ?? path.join(REPO_ROOT, DATA_FILES.pairs)], ["samples_sha256", o.samples ?? path.join(REPO_ROOT, DATA_FILES.domainCorpus)]] as const) {
    if (!existsSync(f)) return { current: false, reason: `${f}: no such file` };
    if ((g.data as Record<string, unknown>)[field] !== sha256Hex(await fsp.readFile(f))) return { current: false, reason: `${relative(file)}: data.${field} differs from ${relative(path.resolve(f))}` };
  }
  const model = await loadModel(path.resolve(o.model ?? DEFAULT_MODEL_DIR));
  try {
    if (g.model.fingerprint !== (await modelFingerprint(model))) return { current: false, reason: `${relative(file)}: model.fingerprint differs from ${relative(model.dir)}` };
  } finally {
    await model.dispose();
  }
  return { current: true, reason: `${relative(file)} matches the grid settings, the model and the data` };
}

/** Reads the committed grid, checking what the notebook relies on. */
export async function readClaimsGrid(file = path.join(REPO_ROOT, CLAIMS_GRID_FILE)): Promise<ClaimsGridFile> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${file}: no claims grid (build it with: safesail claims grid --jobs 2)`, { file });
    throw err;
  }
  let g: ClaimsGridFile;
  try {
    g = JSON.parse(text) as ClaimsGridFile;
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON (${(err as Error).message})`, { file });
  }
  if (g.format !== CLAIMS_GRID_FORMAT) throw new FormatError(`${file}: format: expected ${JSON.stringify(CLAIMS_GRID_FORMAT)}, got ${JSON.stringify(g.format)}`, { file, field: "format" });
  if (g.version !== CLAIMS_GRID_VERSION) throw new FormatError(`${file}: version: expected ${CLAIMS_GRID_VERSION}, got ${JSON.stringify(g.version)}`, { file, field: "version" });
  if (!Array.isArray(g.missing)) throw new FormatError(`${file}: missing: expected a list (empty in a complete grid)`, { file, field: "missing" });
  if (!Array.isArray(g.entries) || g.entries.length === 0) throw new FormatError(`${file}: entries: expected a non-empty list`, { file, field: "entries" });
  g.entries.forEach((e, i) => {
    if (!Array.isArray(e.filter?.evaluation) || e.filter.evaluation.length !== g.filterThresholds.length) throw new FormatError(`${file}: entries[${i}].filter.evaluation: expected ${g.filterThresholds.length} counts`, { file, field: `entries[${i}].filter.evaluation` });
    if (!Array.isArray(e.concepts) || e.concepts.some((c) => c.l0t.length !== g.thresholds.length)) throw new FormatError(`${file}: entries[${i}].concepts: expected L0,t at ${g.thresholds.length} thresholds per concept`, { file, field: `entries[${i}].concepts` });
  });
  return g;
}
