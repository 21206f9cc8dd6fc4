// `safesail toy saes`: the SAE set shipped with the embedded toy model, and its scored feature database, rebuilt
// by one command from the committed data with a seed (issue 14, "Shipped features for the embedded default").
//
//   safesail toy saes [--out models/toy-safety-qwen2/saes] [--work .cache/toy-saes] [--seed 0] [--steps 6000]
//                     [--conversations N] [--held-out N] [--samples FILE] [--model DIR]
//
// The steps, each resumable or skipped when its result is already there with the same settings:
//   1. harvest: the toy model's training conversations (`safesail toy corpus`, the seed and options its
//      training_log.json records), all of them or the first --conversations N, resid_post at every layer, one pass
//      (work/acts-*; harvest resumes an interrupted run and returns a finished one);
//   2. train one TopK SAE per layer at the configuration notebook 02 recorded (src/toy/saes.ts TOY_SAES_CONFIG),
//      with one onnxruntime thread (bit-reproducible on a machine), checkpoints in work/sae-L*-HASH (resumed);
//      a layer whose shipped SAE already has the same settings and weights is kept as it is;
//   3. store each SAE in SAELens layout as F16 (out/blocks.L.hook_resid_post/), and measure what that costs: the
//      largest absolute weight error and the held-out FVU with F32 and with F16 weights;
//   4. evaluate each stored SAE on the model's held-out conversations (FVU, L0, dead and dense latents on all of
//      them; CE and KL with the reconstruction spliced in, evalSae, on 100 of them);
//   5. filter each layer's latents on the English domain samples (precision 0.6, recall 0.2, automatic threshold,
//      as notebook 03) into safety features with domain tags;
//   6. activation examples of every kept feature of every layer in one pass over the English domain samples and
//      the held-out conversations (work/examples-HASH, resumable), explanations and scores by the OFFLINE BASELINES
//      (named baseline:... in every record), into out/features.db.json;
//   7. out/manifest.json (settings, curves, figures, wall times), out/README.md and out/fvu-curves.svg.
// A rerun with nothing changed (every layer kept, the database built from them with the same settings) does nothing.
// Paths written into the shipped files are relative (to the database's or manifest's folder), never absolute.
import { existsSync, promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { harvest } from "../activations/harvest.ts";
import { forEachDocumentBlock } from "../activations/blocks.ts";
import { readDomainCorpus, type DomainSample } from "../data/domain-corpus.ts";
import { newFeatureDb, writeFeatureDb } from "../db/store.ts";
import { recordFromExamples, withExplanation, withScores } from "../db/interpretation.ts";
import type { FeatureRecord } from "../db/records.ts";
import { ArgumentError, SafesailError } from "../errors.ts";
import { writeSafetensors } from "../formats/safetensors.ts";
import { BASELINE_EXPLAINER, BASELINE_SIMULATOR, baselineExplainer } from "../interpret/explainers.ts";
import { collectExamples, loadSaes } from "../interpret/examples.ts";
import { explainFeatures, scoreFeatures, summariseScores } from "../interpret/score.ts";
import { SLS_SEGMENTS } from "../interpret/scoring.ts";
import { baselineSimulator } from "../interpret/simulators.ts";
import { filterSafetyFeatures } from "../metrics/filter.ts";
import { hookName } from "../model/hooks.ts";
import { loadModel, type Model } from "../model/runtime.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { evalSae } from "../sae/eval.ts";
import { ReconstructionStats } from "../sae/stats.ts";
import { transpose, type Sae } from "../sae/sae.ts";
import { loadSae, SAELENS_CFG, SAELENS_WEIGHTS } from "../sae/saelens.ts";
import { trainSae } from "../sae/train.ts";
import { TOY_MODEL_DIR } from "../toy/build.ts";
import { toyTrainingCorpus } from "../toy/corpus.ts";
import { heldOutConversations } from "../toy/heldout.ts";
import {
  HELDOUT_CHECK_DOCUMENTS,
  PLATEAU_RULE,
  TOY_SAES_CONFIG,
  TOY_SAES_DB,
  TOY_SAES_DIR,
  TOY_SAES_DTYPE,
  TOY_SAES_FIGURE,
  TOY_SAES_FILTER,
  TOY_SAES_FORMAT,
  TOY_SAES_MANIFEST,
  TOY_SAES_README,
  TOY_SAES_TRAINING,
  TOY_SAES_VERSION,
  TOY_SAES_WORK,
  curvePoints,
  evenlySpaced,
  plateauCheck,
  readToySaesManifest,
  toySaeFolder,
  type ToySaeEntry,
  type ToySaesManifest,
} from "../toy/saes.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";
import { stableJson } from "../util/resume.ts";
import { significant } from "../util/significant.ts";
import { sha256File, sha256Hex } from "../util/hash.ts";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

/** Held-out conversations (spread over the file) the CE / KL figures use: evalSae's plain-JS encoder is slow. */
export const CE_DOCUMENTS = 100;

/** The build was interrupted (Ctrl-C); what is done is kept, and the same command resumes. */
export class ToySaesStopped extends SafesailError {}

export interface BuildToySaesOptions {
  /** The set's folder (default models/toy-safety-qwen2/saes). */
  out?: string;
  /** Work folder: activations, checkpoints, example store (default .cache/toy-saes). */
  work?: string;
  /** The toy model folder (default the embedded one). */
  model?: string;
  /** Seed of SAE initialisation and data order, the filter's split, the example samples and the detection shuffle. */
  seed?: number;
  /** Training steps per SAE. */
  steps?: number;
  /** Train on the first N training conversations only (default all). */
  conversations?: number;
  /** Build these layers only (default every layer; the shipped set has them all). For experiments, e.g. a longer run of one layer. */
  layers?: readonly number[];
  /** Evaluate and collect examples on N held-out conversations spread evenly over the file (default all). */
  heldOut?: number;
  /** The domain-labelled samples (default data/domain-corpus.jsonl). */
  domainCorpus?: string;
  progress?: Progress;
  /** One line per step (what was done or kept). */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** A path as written into the shipped files: relative to `from`, with forward slashes. */
const relativePath = (from: string, to: string) => path.relative(from, to).split(path.sep).join("/");

/** What `model_name` a shipped cfg.json carries: the folder relative to the repository when inside it, else its name. */
function modelLabel(dir: string): string {
  const rel = path.relative(REPO_ROOT, dir);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel.split(path.sep).join("/") : path.basename(dir);
}

/** Writes `sae` in SAELens layout with F16 weights; cfg.json from `cfg` (the trainer's) with the given fields set. */
async function writeStoredSae(dir: string, sae: Sae, cfg: Record<string, unknown>): Promise<void> {
  const { dIn, dSae } = sae.config;
  await fsp.mkdir(dir, { recursive: true });
  await writeSafetensors(path.join(dir, SAELENS_WEIGHTS), {
    W_enc: { dtype: TOY_SAES_DTYPE, shape: [dIn, dSae], data: transpose(sae.params.W_encT, dSae, dIn) },
    W_dec: { dtype: TOY_SAES_DTYPE, shape: [dSae, dIn], data: sae.params.W_dec },
    b_enc: { dtype: TOY_SAES_DTYPE, shape: [dSae], data: sae.params.b_enc },
    b_dec: { dtype: TOY_SAES_DTYPE, shape: [dIn], data: sae.params.b_dec },
  });
  await writeJsonAtomic(path.join(dir, SAELENS_CFG), cfg);
}

function maxAbsDiff(a: Sae, b: Sae): number {
  let m = 0;
  for (const n of ["W_encT", "b_enc", "W_dec", "b_dec"] as const) {
    const x = a.params[n];
    const y = b.params[n];
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  }
  return m;
}

/** Builds (or completes) the set; returns its manifest. See the file comment for the steps. */
export async function buildToySaes(opts: BuildToySaesOptions = {}): Promise<ToySaesManifest> {
  const t0 = performance.now();
  const out = path.resolve(opts.out ?? path.join(REPO_ROOT, TOY_SAES_DIR));
  const work = path.resolve(opts.work ?? path.join(REPO_ROOT, TOY_SAES_WORK));
  const modelDir = path.resolve(opts.model ?? path.join(REPO_ROOT, TOY_MODEL_DIR));
  const domainFile = path.resolve(opts.domainCorpus ?? path.join(REPO_ROOT, "data/domain-corpus.jsonl"));
  const seed = opts.seed ?? TOY_SAES_TRAINING.seed;
  const steps = opts.steps ?? TOY_SAES_TRAINING.steps;
  for (const [name, v, min] of [["seed", seed, 0], ["steps", steps, 1], ["conversations", opts.conversations, 1], ["heldOut", opts.heldOut, 1]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) throw new ArgumentError(`toy saes: ${name} must be an integer >= ${min}, got ${v}`, { field: name });
  }
  const progress = opts.progress ?? silentProgress;
  const log = opts.log ?? (() => {});
  const wall: Record<string, number> = {};
  const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await f();
    } finally {
      wall[what] = significant((wall[what] ?? 0) + (performance.now() - t) / 1000, 4);
    }
  };
  const { site, k, expansion } = TOY_SAES_CONFIG;
  const layers = opts.layers ?? TOY_SAES_CONFIG.layers;
  if (layers.length === 0 || layers.some((l) => !TOY_SAES_CONFIG.layers.includes(l)) || new Set(layers).size !== layers.length) {
    throw new ArgumentError(`toy saes: layers must be distinct layers of the model (${TOY_SAES_CONFIG.layers.join(", ")}), got ${layers.join(", ")}`, { field: "layers" });
  }
  const { batchSize, lr, decayFraction, threads, checkpointEvery } = TOY_SAES_TRAINING;

  const previous = existsSync(path.join(out, TOY_SAES_MANIFEST)) ? await readToySaesManifest(path.join(out, TOY_SAES_MANIFEST)).catch(() => null) : null;
  const model = await loadModel(modelDir);
  try {
    // 1. The training corpus and its activations.
    const corpus = await toyTrainingCorpus(modelDir);
    const conversations = opts.conversations === undefined ? corpus.conversations : corpus.conversations.slice(0, opts.conversations);
    const docs = conversations.map((messages) => ({ messages }));
    const store = await timed("harvest", () =>
      harvest(model, docs, { layers: [...TOY_SAES_CONFIG.layers], site, out: path.join(work, `acts-${docs.length}`), progress, signal: opts.signal }),
    );
    log(`harvest: ${store.tokens} tokens of ${docs.length} training conversations, ${store.hooks.length} layers (${store.dir})`);

    const heldAll = await heldOutConversations({ dir: modelDir });
    const held = evenlySpaced(opts.heldOut ?? heldAll.length, heldAll.length).map((i) => heldAll[i]!);
    const heldDocs = held.map((c) => ({ messages: c.messages }));
    const checkDocs = evenlySpaced(HELDOUT_CHECK_DOCUMENTS, heldAll.length).map((i) => ({ messages: heldAll[i]!.messages }));
    const samples: DomainSample[] = (await readDomainCorpus(domainFile)).filter((s) => TOY_SAES_FILTER.languages.includes(s.lang));
    if (samples.length === 0) throw new ArgumentError(`toy saes: ${domainFile} has no ${TOY_SAES_FILTER.languages.join("/")} samples for the filter`, { file: domainFile, field: "lang" });

    // 2-3. One SAE per layer: trained (or kept), stored as F16.
    const entries: ToySaeEntry[] = [];
    const trained = new Map<number, { f32: Sae; cfg: Record<string, unknown> }>();
    for (const layer of layers) {
      const hook = hookName(layer, site);
      const folderName = toySaeFolder(layer, site);
      const folder = path.join(out, folderName);
      const settings = {
        hook,
        k,
        expansion,
        steps,
        batch_size: batchSize,
        lr,
        decay_fraction: decayFraction,
        threads,
        seed,
        init: "median",
        dtype: TOY_SAES_DTYPE,
        model_fingerprint: store.manifest.model.fingerprint,
        corpus: { generator_seed: corpus.seed, conversations: docs.length, sha256: store.manifest.corpus.sha256, tokens: store.tokens },
      };
      const old = previous?.saes.find((e) => e.layer === layer);
      const weightsFile = path.join(folder, SAELENS_WEIGHTS);
      if (old && stableJson(old.settings) === stableJson(settings) && existsSync(weightsFile) && (await sha256File(weightsFile)) === old.weights_sha256 && old.heldout.conversations === held.length) {
        log(`layer ${layer}: ${folderName} already built with these settings, kept`);
        entries.push(old);
        continue;
      }
      const runDir = path.join(work, `sae-L${layer}-${sha256Hex(stableJson(settings)).slice(0, 12)}`);
      const run = await timed(`train L${layer}`, () =>
        trainSae(store.reader(layer), {
          k,
          expansion,
          steps,
          batchSize,
          lr,
          decayFraction,
          seed,
          threads,
          init: "median",
          out: runDir,
          checkpointEvery,
          progress,
          signal: opts.signal,
        }),
      );
      // trainSae times only its own part of a resumed run: the parts are added up here.
      const timingFile = path.join(runDir, "toy-saes-timing.json");
      const timing = existsSync(timingFile) ? (JSON.parse(await fsp.readFile(timingFile, "utf8")) as { seconds: number; runs: number }) : { seconds: 0, runs: 0 };
      if (run.steps > run.resumedFrom) await writeJsonAtomic(timingFile, { seconds: timing.seconds + run.seconds, runs: timing.runs + 1 });
      const trainSeconds = run.steps > run.resumedFrom ? timing.seconds + run.seconds : timing.seconds;
      if (run.stopReason !== "done") throw new ToySaesStopped(`toy saes: stopped during the training of layer ${layer} at step ${run.steps} of ${steps}; run the same command again to resume from its checkpoint`);
      const trainerCfg = JSON.parse(await fsp.readFile(path.join(runDir, SAELENS_CFG), "utf8")) as Record<string, unknown>;
      const training = (trainerCfg.training ?? {}) as Record<string, unknown>;
      const cfg = {
        ...trainerCfg,
        dtype: "float16",
        model_name: modelLabel(modelDir),
        metadata: { ...(trainerCfg.metadata as Record<string, unknown>), model_name: modelLabel(modelDir) },
        dataset_path: null,
        training: { ...training, dataset: `safesail toy corpus (seed ${corpus.seed}), ${docs.length} training conversations, ${store.tokens} tokens`, threads },
        safesail_toy_saes: settings,
      };
      await writeStoredSae(folder, run.sae, cfg);
      const fvu = run.history.map((h) => h.fvu);
      trained.set(layer, { f32: run.sae, cfg });
      entries.push({
        layer,
        hook,
        folder: folderName,
        dSae: run.sae.config.dSae,
        k,
        weights_sha256: await sha256File(weightsFile),
        settings,
        training: {
          steps: run.steps,
          tokens: run.tokens,
          epochs: significant(run.epochs, 4),
          // All parts of the run together (an interrupted and resumed one too), on this machine.
          seconds: significant(trainSeconds, 4),
          curve: curvePoints(fvu).map((p) => ({ step: p.step, fvu: significant(p.fvu, 5) })),
          plateau: ((c) => ({ ...c, improvement: significant(c.improvement, 4), annealImprovement: significant(c.annealImprovement, 4), at: c.at.map((a) => ({ step: a.step, fvu: significant(a.fvu, 5) })) }))(plateauCheck(fvu)),
          final_dead_fraction: significant(run.deadFraction, 4),
          warnings: run.warnings,
        },
        // Filled in below.
        storage: { dtype: TOY_SAES_DTYPE, max_abs_error: NaN, fvu_f32: NaN, fvu_stored: NaN },
        heldout: { conversations: 0, documents: 0, tokens: 0, fvu: NaN, l0: NaN, dead_fraction: NaN, dense_fraction: NaN, ce: null },
        heldout_check: { documents: 0, tokens: 0, fvu: NaN },
        filter: { samples: 0, threshold: NaN, kept: 0, kept_per_domain: {}, caveats: [] },
      });
      log(`layer ${layer}: trained ${run.steps} steps in ${trainSeconds.toFixed(0)} s, final batch FVU ${fvu.at(-1)!.toFixed(4)}${run.warnings.length ? `; ${run.warnings.join("; ")}` : ""}`);
    }

    // 3-4. What F16 storage costs, and the held-out evaluation of the stored SAEs.
    const stored = new Map<number, Sae>();
    for (const e of entries) stored.set(e.layer, await loadSae(path.join(out, e.folder)));
    const fresh = entries.filter((e) => trained.has(e.layer));
    if (fresh.length) {
      await timed("evaluate", async () => {
        const stats = new Map(fresh.map((e) => [e.hook, { f32: new ReconstructionStats(trained.get(e.layer)!.f32), stored: new ReconstructionStats(stored.get(e.layer)!), check: new ReconstructionStats(stored.get(e.layer)!) }]));
        const hooks = fresh.map((e) => e.hook);
        await forEachDocumentBlock(model, heldDocs, hooks, async (h, x, n) => {
          await stats.get(h)!.f32.add(x, n);
          await stats.get(h)!.stored.add(x, n);
        }, progress, "held-out FVU, F32 and F16 weights");
        await forEachDocumentBlock(model, checkDocs, hooks, (h, x, n) => stats.get(h)!.check.add(x, n), progress, "held-out FVU check");
        const ceDocs = evenlySpaced(Math.min(CE_DOCUMENTS, heldDocs.length), heldDocs.length).map((i) => heldDocs[i]!);
        for (const e of fresh) {
          const s = stats.get(e.hook)!;
          e.storage = { dtype: TOY_SAES_DTYPE, max_abs_error: maxAbsDiff(trained.get(e.layer)!.f32, stored.get(e.layer)!), fvu_f32: significant(s.f32.fvu()), fvu_stored: significant(s.stored.fvu()) };
          e.heldout_check = { documents: checkDocs.length, tokens: s.check.count, fvu: significant(s.check.fvu()) };
          // CE and KL with the reconstruction spliced in: evalSae (plain-JS encoder) on a spread subset.
          const r = await evalSae(stored.get(e.layer)!, model, ceDocs, { positions: "answer", progress });
          e.heldout = {
            conversations: held.length,
            documents: heldDocs.length,
            tokens: s.stored.count,
            fvu: significant(s.stored.fvu()),
            l0: significant(s.stored.l0()),
            dead_fraction: significant(s.stored.deadFraction()),
            dense_fraction: significant(s.stored.denseFraction()),
            ce: { documents: r.documents, fvu: significant(r.fvu), ce_loss_clean: significant(r.ce_loss_clean), ce_loss_sae: significant(r.ce_loss_sae), ce_loss_zero_ablation: significant(r.ce_loss_zero_ablation), ce_loss_recovered: significant(r.ce_loss_recovered), kl_sae: significant(r.kl_sae), positions: r.positions, warnings: r.warnings },
          };
          log(`layer ${e.layer}: held-out FVU ${e.heldout.fvu.toFixed(4)} (F32 weights ${e.storage.fvu_f32.toFixed(4)}; largest F16 weight error ${e.storage.max_abs_error.toExponential(2)}), dead ${(100 * e.heldout.dead_fraction).toFixed(1)}%, CE recovered ${r.ce_loss_recovered.toFixed(3)} (${r.documents} conversations)`);
        }
      });
    }

    // Nothing changed since the last build: the database is the one these SAEs and settings give. The manifest (and
    // its wall times, those of the build that did the work) stays as it is.
    const dbFile = path.join(out, TOY_SAES_DB);
    const dbKey = sha256Hex(
      stableJson({
        weights: entries.map((e) => e.weights_sha256),
        seed,
        samples: sha256Hex(stableJson(samples.map((x) => [x.domain, x.lang, x.text]))),
        held: held.length,
        filter: TOY_SAES_FILTER,
        explainer: BASELINE_EXPLAINER,
        simulator: BASELINE_SIMULATOR,
        segments: SLS_SEGMENTS,
      }),
    );
    if (fresh.length === 0 && previous && previous.database.key === dbKey && existsSync(dbFile) && (await sha256File(dbFile)) === previous.database.sha256) {
      log(`database: ${TOY_SAES_DB} already built from these SAEs with these settings, kept; nothing to do`);
      // README and figure are views of the manifest: rewritten only when this version draws them differently.
      for (const [file, text] of [[TOY_SAES_README, toySaesReadme(previous)], [TOY_SAES_FIGURE, fvuCurvesSvg(previous)]] as const) {
        const at = path.join(out, file);
        if (!existsSync(at) || (await fsp.readFile(at, "utf8")) !== text) await writeFileAtomic(at, text);
      }
      return previous;
    }

    // 5. The filter, per layer.
    const tags: Record<string, string[]> = {};
    await timed("filter", async () => {
      for (const e of entries) {
        const f = await filterSafetyFeatures(model, stored.get(e.layer)!, samples, { minPrecision: TOY_SAES_FILTER.minPrecision, minRecall: TOY_SAES_FILTER.minRecall, threshold: TOY_SAES_FILTER.threshold, seed, progress });
        e.filter = { samples: f.samples, threshold: f.threshold.value, kept: f.kept.length, kept_per_domain: f.keptPerDomain, caveats: f.caveats };
        for (const t of f.kept) tags[t.name] = [...t.tag_list];
        log(`layer ${e.layer}: filter kept ${f.kept.length} features at threshold ${f.threshold.value} (${Object.entries(f.keptPerDomain).map(([d, n]) => `${d} ${n}`).join(", ")})${f.caveats.length ? `; ${f.caveats.join(" ")}` : ""}`);
      }
    });

    // 6. Examples, explanations, scores, database.
    const ids = Object.keys(tags);
    const records: FeatureRecord[] = [];
    let summary: ReturnType<typeof summariseScores> | null = null;
    let examplesDir: string | null = null;
    const count = (t: string) => model.toTokens(t, { chat: false }).length;
    const explainer = baselineExplainer({ count });
    const simulator = baselineSimulator({ count });
    const examplesCorpus = [...samples.map((s) => s.text), ...heldDocs];
    if (ids.length > 0) {
      const saes = await loadSaes(out);
      const saeKey = sha256Hex(stableJson({ ids, tags, seed, weights: entries.map((e) => e.weights_sha256), held: held.length, samples: samples.length }));
      examplesDir = path.join(work, `examples-${saeKey.slice(0, 12)}`);
      const examples = await timed("examples", () =>
        collectExamples(model, saes.filter((s) => entries.some((e) => e.hook === s.config.hookName)), examplesCorpus, examplesDir!, {
          features: ids,
          tags,
          seed,
          progress,
          signal: opts.signal,
          corpusPath: `${samples.length} English domain samples (${relativePath(REPO_ROOT, domainFile)}) + ${heldDocs.length} held-out conversations of ${modelLabel(modelDir)}`,
        }),
      );
      const explained = await timed("explain", () => explainFeatures(examples, explainer, { progress, signal: opts.signal }));
      const explanations = new Map(explained.explanations.map((x) => [x.id, x.explanation]));
      const scores = await timed("score", () => scoreFeatures(examples, explanations, simulator, { segments: SLS_SEGMENTS, seed, progress, signal: opts.signal }));
      summary = summariseScores(scores, { seed });
      const storeRel = relativePath(out, examplesDir);
      for (const id of examples.ids()) {
        const fe = examples.feature(id);
        const entry = entries.find((e) => e.layer === fe.layer)!;
        let rec = recordFromExamples(fe, { store: storeRel, sae: entry.folder, saeSha256: entry.weights_sha256 });
        const ex = explained.explanations.find((x) => x.id === id) ?? explained.failures.find((x) => x.id === id);
        if (ex) rec = withExplanation(rec, "explanation" in ex ? ex : { stage: "explain", message: ex.message });
        const sc = scores.find((x) => x.id === id);
        if (sc) rec = withScores(rec, sc);
        records.push(rec);
      }
      log(`database: ${records.length} features explained by ${explainer.name} and scored by ${simulator.name} (offline baselines, not an LLM)`);
    } else {
      log("database: no layer kept a feature, so the database is empty");
    }
    const description =
      `Safety features of the toy model's shipped SAEs (${TOY_SAES_CONFIG.site}, k ${k}, expansion ${expansion}, layers ${layers.join(", ")}), ` +
      `explained and scored by the offline baselines ${explainer.name} / ${simulator.name} (not an LLM). Built by: safesail toy saes. ` +
      `Paths in source.sae and activations.store are relative to this file's folder; the example store is not shipped (rebuild it with the command).`;
    await writeFeatureDb(dbFile, newFeatureDb(records, description));

    // 7. Manifest, README, figure.
    wall.total = significant((performance.now() - t0) / 1000, 4);
    const command = [
      "safesail toy saes",
      `--seed ${seed}`,
      `--steps ${steps}`,
      ...(opts.conversations !== undefined ? [`--conversations ${opts.conversations}`] : []),
      ...(opts.layers !== undefined ? [`--layers ${layers.join(",")}`] : []),
      ...(opts.heldOut !== undefined ? [`--held-out ${opts.heldOut}`] : []),
      ...(opts.domainCorpus !== undefined ? [`--samples ${relativePath(REPO_ROOT, domainFile)}`] : []),
    ].join(" ");
    const manifest: ToySaesManifest = {
      format: TOY_SAES_FORMAT,
      version: TOY_SAES_VERSION,
      description: "TopK SAEs on every layer of the embedded toy model, and the scored database of their safety features.",
      command,
      seed,
      model: { folder: relativePath(out, modelDir), fingerprint: store.manifest.model.fingerprint },
      configuration: { site, k, expansion, chosen_by: TOY_SAES_CONFIG.chosenBy },
      corpus: {
        training: `the toy model's training conversations: generateCorpus seed ${corpus.seed} (src/toy/corpus.ts, the options of its training_log.json), ${opts.conversations === undefined ? "all" : `the first ${docs.length}`} of ${corpus.conversations.length}, chat template`,
        conversations: docs.length,
        tokens: store.tokens,
        sha256: store.manifest.corpus.sha256,
        heldout: `${held.length} of the ${heldAll.length} held-out conversations (heldout.jsonl prompts + the model's answers in eval.json)${held.length < heldAll.length ? ", evenly spaced over the file" : ""}`,
        heldout_check: `${checkDocs.length} held-out conversations evenly spaced over the file (indices floor(i * ${heldAll.length} / ${checkDocs.length}))`,
        filter: `${samples.length} ${TOY_SAES_FILTER.languages.join("/")} samples of ${relativePath(REPO_ROOT, domainFile)}`,
        examples: `the ${samples.length} filter samples + the ${heldDocs.length} held-out conversations`,
      },
      training: { steps, batch_size: batchSize, lr, decay_fraction: decayFraction, warmup: "1% of the steps", threads, seed, init: "geometric median", aux_k: "trainSae defaults", plateau_rule: PLATEAU_RULE.text },
      saes: entries,
      database: {
        file: TOY_SAES_DB,
        features: records.length,
        // What the database was built from (a rebuild with the same key keeps it) and its bytes.
        key: dbKey,
        sha256: await sha256File(dbFile),
        explainer: explainer.name,
        simulator: simulator.name,
        note: "offline baselines, not an LLM: their scores measure a keyword summary (docs/interpret.md)",
        filter: { min_precision: TOY_SAES_FILTER.minPrecision, min_recall: TOY_SAES_FILTER.minRecall, threshold: TOY_SAES_FILTER.threshold, seed },
        examples_store: examplesDir ? relativePath(out, examplesDir) : null,
        ...(summary
          ? {
              summary: {
                tls_mean: summary.tls.mean,
                tls_ci95: summary.tls.ci95,
                sls_mean: summary.sls.mean,
                sls_ci95: summary.sls.ci95,
                detection_f1_mean: summary.detection.f1_mean,
                detection_auc_mean: summary.detection.auc_mean,
                sls_tls_pearson: summary.sls_tls_pearson,
                warnings: summary.warnings,
              },
            }
          : {}),
      },
      wall_seconds: wall,
      machine: `${os.cpus().length} CPU cores (${os.cpus()[0]?.model ?? "unknown"}), shared with other jobs while built; node ${process.version}`,
    };
    await writeJsonAtomic(path.join(out, TOY_SAES_MANIFEST), manifest);
    await writeFileAtomic(path.join(out, TOY_SAES_README), toySaesReadme(manifest));
    await writeFileAtomic(path.join(out, TOY_SAES_FIGURE), fvuCurvesSvg(manifest));
    log(`wrote ${out} in ${wall.total.toFixed(0)} s`);
    return manifest;
  } finally {
    await model.dispose();
  }
}

const fmt = (x: number | null | undefined, d = 3) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "n/a");

/** The set's README, from its manifest (every figure is the manifest's). */
export function toySaesReadme(m: ToySaesManifest): string {
  const L: string[] = [];
  const db = m.database as Record<string, unknown> & { summary?: Record<string, number | null | [number, number] | null | string[]> };
  L.push("# SAEs of toy-safety-qwen2", "");
  L.push(
    `TopK sparse autoencoders on the residual stream after every layer of the embedded toy model (this folder's parent), in`,
    `SAELens layout, and the feature database of their safety features (\`${m.database.file}\`). Built by one command from the`,
    "committed data (work files in .cache/toy-saes; an interrupted build resumes, and a layer already built with the same settings is kept):",
    "",
    "```sh",
    `node bin/safesail.js ${m.command.replace(/^safesail /, "")}`,
    "```",
    "",
    `Configuration: ${m.configuration.site}, k ${m.configuration.k}, expansion ${m.configuration.expansion} (${m.saes[0]?.dSae ?? "?"} latents). Chosen by ${m.configuration.chosen_by}.`,
    "",
    `Training corpus: ${String(m.corpus.training)}; ${m.corpus.tokens} tokens. Each SAE: ${String(m.training.steps)} steps of ${String(m.training.batch_size)} rows, learning rate ${String(m.training.lr)} (warmup 1%, linear decay over the last ${100 * Number(m.training.decay_fraction)}%), seed ${m.seed}, one onnxruntime thread (bit-reproducible on one machine; another CPU can differ in the last bits).`,
    "",
    `Weights are stored as ${m.saes[0]?.storage.dtype ?? "?"}; \`loadSae\` reads them as float32.`,
    "",
    "## Figures",
    "",
    "| layer | folder | training FVU at 60% / 80% / end (smoothed) | 60%→80% | training time | held-out FVU | with F32 weights | largest F16 error | held-out L0 | dead (held-out) | CE recovered | kept features |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const e of m.saes) {
    const p = e.training.plateau;
    L.push(
      `| ${e.layer} | \`${e.folder}\` | ${p.at.map((a) => fmt(a.fvu, 4)).join(" / ")} | ${(100 * p.improvement).toFixed(2)}% ${p.plateaued ? "(plateaued)" : "(**not plateaued**)"} | ${(e.training.seconds / 60).toFixed(1)} min | ${fmt(e.heldout.fvu, 4)} | ${fmt(e.storage.fvu_f32, 4)} | ${e.storage.max_abs_error.toExponential(1)} | ${fmt(e.heldout.l0, 1)} | ${(100 * e.heldout.dead_fraction).toFixed(1)}% | ${fmt(e.heldout.ce?.ce_loss_recovered, 3)} | ${e.filter.kept} |`,
    );
  }
  L.push("", `Plateau rule: ${m.training.plateau_rule as string}. Held-out: ${String(m.corpus.heldout)}; CE recovered (answer tokens, with the reconstruction spliced in) on ${m.saes[0]?.heldout.ce?.documents ?? "?"} of them, evenly spaced.`, "");
  L.push("Smoothed training FVU (batch FVU, mean over 2% of the steps):", "");
  const steps = m.saes[0]?.training.curve.map((c) => c.step) ?? [];
  const pick = steps.filter((_, i) => (i + 1) % Math.max(1, Math.floor(steps.length / 10)) === 0 || i === 0);
  L.push(`| step | ${m.saes.map((e) => `layer ${e.layer}`).join(" | ")} |`, `|---|${m.saes.map(() => "---").join("|")}|`);
  for (const s of pick) L.push(`| ${s} | ${m.saes.map((e) => fmt(e.training.curve.find((c) => c.step === s)?.fvu, 4)).join(" | ")} |`);
  L.push("", "![FVU curves](fvu-curves.svg)", "");
  L.push("## Safety features", "");
  L.push(`The precision-recall filter (precision >= ${String((db.filter as Record<string, unknown>).min_precision)}, recall >= ${String((db.filter as Record<string, unknown>).min_recall)}, threshold chosen automatically on a calibration half) on ${String(m.corpus.filter)}:`, "");
  L.push("| layer | threshold | kept | per domain |", "|---|---|---|---|");
  for (const e of m.saes) L.push(`| ${e.layer} | ${fmt(e.filter.threshold, 1)} | ${e.filter.kept} | ${Object.entries(e.filter.kept_per_domain).map(([d, n]) => `${d} ${n}`).join(", ") || "none"} |`);
  L.push("");
  for (const e of m.saes) for (const c of e.filter.caveats) L.push(`- layer ${e.layer}: ${c}`);
  L.push(
    "",
    `\`${m.database.file}\`: ${m.database.features} records (safesail feature database: \`readFeatureDb\`, \`safesail db query\`), each with its domain tags, activation summary (normalised by its 0.999 quantile), explanation, scores, hook and SAE folder (\`source.sae\`, relative to this folder). Explained by \`${String(db.explainer)}\` and scored by \`${String(db.simulator)}\`: the **offline baselines, not an LLM**; their scores measure a keyword summary (docs/interpret.md). The activation examples came from ${String(m.corpus.examples)}; the example store itself is not shipped (the command rebuilds it under .cache/).`,
    "",
  );
  if (db.summary) {
    const s = db.summary as Record<string, number | null>;
    L.push(`Scores over the features: TLS mean r ${fmt(s.tls_mean)}, SLS mean r ${fmt(s.sls_mean)}, detection F1 ${fmt(s.detection_f1_mean)}, AUC ${fmt(s.detection_auc_mean)}.`, "");
  }
  L.push(
    "## Wall time",
    "",
    `Seconds measured by the run that wrote this manifest (${m.machine}): ${Object.entries(m.wall_seconds).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")}. ` +
      "Steps an earlier, interrupted run finished (harvest chunks, training steps before a checkpoint) are not in these figures; the training time per layer in the table above adds up every part of its run. A layer kept from an earlier build costs nothing here.",
    "",
  );
  return L.join("\n");
}

/** The smoothed training curves of every layer as a small SVG line chart (log-scaled FVU). */
export function fvuCurvesSvg(m: ToySaesManifest): string {
  const W = 640;
  const H = 360;
  const pad = { l: 60, r: 110, t: 30, b: 45 };
  const all = m.saes.flatMap((e) => e.training.curve);
  if (all.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><text x="20" y="30">no curve</text></svg>\n`;
  const maxStep = Math.max(...all.map((c) => c.step));
  const lo = Math.log10(Math.min(...all.map((c) => c.fvu)));
  const hi = Math.log10(Math.max(...all.map((c) => c.fvu)));
  const span = Math.max(hi - lo, 1e-6);
  const x = (s: number) => pad.l + ((W - pad.l - pad.r) * s) / maxStep;
  const y = (v: number) => pad.t + ((H - pad.t - pad.b) * (hi - Math.log10(v))) / span;
  const colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  const S: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`];
  S.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  S.push(`<text x="${W / 2 - 40}" y="18">Smoothed training FVU per layer (log scale)</text>`);
  S.push(`<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="black"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="black"/>`);
  for (let i = 0; i <= 4; i++) {
    const s = Math.round((maxStep * i) / 4);
    S.push(`<text x="${x(s) - 10}" y="${H - pad.b + 16}">${s}</text>`);
    const v = 10 ** (lo + (span * i) / 4);
    S.push(`<text x="4" y="${y(v) + 4}">${v.toPrecision(2)}</text><line x1="${pad.l - 4}" y1="${y(v)}" x2="${pad.l}" y2="${y(v)}" stroke="black"/>`);
  }
  S.push(`<text x="${W / 2 - 20}" y="${H - 8}">step</text>`);
  m.saes.forEach((e, i) => {
    const c = colours[i % colours.length]!;
    S.push(`<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${e.training.curve.map((p) => `${x(p.step).toFixed(1)},${y(p.fvu).toFixed(1)}`).join(" ")}"/>`);
    S.push(`<line x1="${W - pad.r + 10}" y1="${pad.t + 18 * i + 6}" x2="${W - pad.r + 30}" y2="${pad.t + 18 * i + 6}" stroke="${c}" stroke-width="2"/><text x="${W - pad.r + 35}" y="${pad.t + 18 * i + 10}">layer ${e.layer}</text>`);
  });
  const p80 = Math.round(maxStep * 0.8);
  S.push(`<line x1="${x(p80)}" y1="${pad.t}" x2="${x(p80)}" y2="${H - pad.b}" stroke="grey" stroke-dasharray="4 3"/><text x="${x(p80) + 3}" y="${pad.t + 10}" fill="grey">decay starts</text>`);
  S.push("</svg>", "");
  return S.join("\n");
}
