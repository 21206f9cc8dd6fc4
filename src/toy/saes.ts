// The SAE set shipped with the embedded toy model (models/toy-safety-qwen2/saes/): its fixed settings, the rule
// that says a training curve has plateaued, and its manifest (what was built, how, and the figures measured).
//
// This file holds only what the layering lets toy/ hold (plain data and arithmetic); the build itself (harvest,
// training, evaluation, filter, examples, explanations, scores) needs activations/, sae/, metrics/, interpret/
// and db/, which sit above toy/, so it lives in src/cli/toy-saes.ts (`safesail toy saes`).
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { FormatError, NotFoundError } from "../errors.ts";
import { DEFAULT_MODEL_DIR } from "../model/default.ts";
import { hookName, type Site } from "../model/hooks.ts";

/** Where the set lives in the repository, and its files. */
export const TOY_SAES_DIR = "models/toy-safety-qwen2/saes";
export const TOY_SAES_MANIFEST = "manifest.json";
export const TOY_SAES_DB = "features.db.json";
export const TOY_SAES_README = "README.md";
export const TOY_SAES_FIGURE = "fvu-curves.svg";
/** Absolute paths of the shipped set and its database, whatever the working folder (notebooks run from notebooks/). */
export const DEFAULT_TOY_SAES_DIR = join(DEFAULT_MODEL_DIR, "saes");
export const DEFAULT_TOY_SAES_DB = join(DEFAULT_TOY_SAES_DIR, TOY_SAES_DB);
/** Work folder (activations, checkpoints, example store); .cache/ is gitignored. */
export const TOY_SAES_WORK = ".cache/toy-saes";
export const TOY_SAES_FORMAT = "safesail-toy-saes";
export const TOY_SAES_VERSION = 1;

/**
 * The configuration of every SAE of the set: the one notebook 02 chose in the runs recorded in its text (highest
 * I_CDF: resid_post, k 64, expansion 10, at layer 1), applied to every layer of the toy model. It is taken as
 * recorded, not re-derived when the set is built (re-deriving means notebook 02's whole sweep).
 */
export const TOY_SAES_CONFIG = {
  site: "resid_post" as Site,
  k: 64,
  expansion: 10,
  layers: [0, 1, 2, 3] as readonly number[],
  chosenBy:
    "notebook 02 (02-choose-configuration.ipynb), which picks the configuration with the highest I_CDF: in the runs recorded in its text, resid_post, k 64, expansion 10 (its sweep covers layers 1 and 2; the choice fell on layer 1). Applied here at every layer, taken as recorded, not re-derived at build time",
} as const;

/** Training settings (steps: the default of `safesail toy saes`; how far from a plateau that is, measured: docs/toy-saes.md). */
export const TOY_SAES_TRAINING = {
  steps: 8000,
  batchSize: 1024,
  lr: 2e-3,
  decayFraction: 0.2,
  /** One onnxruntime thread: training is then bit-reproducible on a machine (several threads sum in varying order). */
  threads: 1,
  seed: 0,
  /** Checkpoint every this many steps into the work folder (a rerun resumes). */
  checkpointEvery: 500,
} as const;

/** The precision-recall filter as notebook 03 runs it: English domain samples, defaults, automatic threshold. */
export const TOY_SAES_FILTER = { minPrecision: 0.6, minRecall: 0.2, threshold: "auto" as const, languages: ["en"] as readonly string[] };

/** Weights are stored as F16 (SAELens reads it; safesail's loadSae converts to F32). */
export const TOY_SAES_DTYPE = "F16" as const;

/** The SAELens folder name of the SAE at `layer` (its hook name, as SAELens releases name their folders). */
export const toySaeFolder = (layer: number, site: Site = TOY_SAES_CONFIG.site): string => hookName(layer, site);

// ---------------------------------------------------------------------------------------------------------------
// The training curve and the plateau rule

/** Smoothing window of the training curve: the mean batch FVU over this share of the steps (at least 1 step). */
export const CURVE_SMOOTHING = 0.02;

/**
 * "Plateaued", decided before looking at the curves: the smoothed FVU at the end of the constant-rate phase (80% of
 * the steps; the rate then decays linearly to 0) is less than `maxImprovement` (relative) below the smoothed FVU at
 * 60%. The last 20% are reported but not judged: their drop comes from annealing the rate, which any run has however
 * long, not from the SAE still learning.
 */
export const PLATEAU_RULE = {
  from: 0.6,
  to: 0.8,
  maxImprovement: 0.02,
  text: "the smoothed training FVU (mean over 2% of the steps) improves by less than 2% (relative) from 60% to 80% of the steps, the end of the constant learning rate (the last 20% anneal the rate to 0 and are reported, not judged)",
} as const;

/** Trailing mean of `values` over `window` entries (fewer at the start). */
export function smoothed(values: readonly number[], window: number): number[] {
  const w = Math.max(1, Math.floor(window));
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    if (i >= w) sum -= values[i - w]!;
    out.push(sum / Math.min(i + 1, w));
  }
  return out;
}

export interface PlateauCheck {
  rule: string;
  /** Smoothed FVU at `from`, `to` and the last step, and the steps they are read at. */
  at: { step: number; fvu: number }[];
  /** (fvu(from) - fvu(to)) / fvu(from). */
  improvement: number;
  /** (fvu(to) - fvu(end)) / fvu(to): the annealing phase, reported only. */
  annealImprovement: number;
  plateaued: boolean;
}

/** The smoothed curve and PLATEAU_RULE's verdict for per-step FVU values (step i + 1 at index i). */
export function plateauCheck(fvu: readonly number[]): PlateauCheck {
  if (fvu.length === 0 || fvu.some((v) => !Number.isFinite(v))) throw new FormatError(`plateauCheck: the FVU curve must be a non-empty list of finite numbers`, { field: "fvu" });
  const s = smoothed(fvu, Math.max(1, Math.round(fvu.length * CURVE_SMOOTHING)));
  const stepAt = (f: number) => Math.max(1, Math.round(fvu.length * f));
  const read = (step: number) => ({ step, fvu: s[step - 1]! });
  const a = read(stepAt(PLATEAU_RULE.from));
  const b = read(stepAt(PLATEAU_RULE.to));
  const end = read(fvu.length);
  const improvement = (a.fvu - b.fvu) / a.fvu;
  return { rule: PLATEAU_RULE.text, at: [a, b, end], improvement, annealImprovement: (b.fvu - end.fvu) / b.fvu, plateaued: improvement < PLATEAU_RULE.maxImprovement };
}

/** The smoothed curve at `points` evenly spaced steps (and the last), for tables and figures. */
export function curvePoints(fvu: readonly number[], points = 40): { step: number; fvu: number }[] {
  if (fvu.length === 0) return [];
  const s = smoothed(fvu, Math.max(1, Math.round(fvu.length * CURVE_SMOOTHING)));
  const steps = new Set<number>();
  for (let i = 1; i <= points; i++) steps.add(Math.max(1, Math.round((fvu.length * i) / points)));
  return [...steps].sort((x, y) => x - y).map((step) => ({ step, fvu: s[step - 1]! }));
}

// ---------------------------------------------------------------------------------------------------------------
// The manifest

/** One SAE of the set. Paths are relative to the manifest's folder. */
export interface ToySaeEntry {
  layer: number;
  hook: string;
  /** The SAELens folder, relative to the manifest's folder. */
  folder: string;
  dSae: number;
  k: number;
  weights_sha256: string;
  /** The settings the SAE was trained with; a rebuild with the same ones keeps it. */
  settings: Record<string, unknown>;
  training: {
    steps: number;
    tokens: number;
    epochs: number;
    seconds: number;
    /** Smoothed training FVU (batch FVU, mean over CURVE_SMOOTHING of the steps) at evenly spaced steps. */
    curve: { step: number; fvu: number }[];
    plateau: PlateauCheck;
    final_dead_fraction: number;
    warnings: string[];
  };
  storage: { dtype: string; max_abs_error: number; fvu_f32: number; fvu_stored: number };
  /** The stored SAE on the held-out conversations: FVU, L0, dead and dense latents over all their tokens. */
  heldout: {
    conversations: number;
    documents: number;
    tokens: number;
    fvu: number;
    l0: number;
    dead_fraction: number;
    dense_fraction: number;
    /** evalSae on a spread subset: CE / KL with the reconstruction spliced in, answer tokens. */
    ce: { documents: number; fvu: number; ce_loss_clean: number; ce_loss_sae: number; ce_loss_zero_ablation: number; ce_loss_recovered: number; kl_sae: number; positions: string; warnings: string[] } | null;
  };
  /** The same FVU on the first `documents` held-out conversations only: a quick check for tests. */
  heldout_check: { documents: number; tokens: number; fvu: number };
  filter: { samples: number; threshold: number; kept: number; kept_per_domain: Record<string, number>; caveats: string[] };
}

export interface ToySaesManifest {
  format: typeof TOY_SAES_FORMAT;
  version: typeof TOY_SAES_VERSION;
  description: string;
  command: string;
  seed: number;
  model: { folder: string; fingerprint: string | null };
  configuration: { site: string; k: number; expansion: number; chosen_by: string };
  corpus: Record<string, unknown>;
  training: Record<string, unknown>;
  saes: ToySaeEntry[];
  database: Record<string, unknown> & { file: string; features: number; key?: string; sha256?: string };
  wall_seconds: Record<string, number>;
  machine: string;
}

/** Reads a set's manifest, checking what tools rely on (the layers, their folders and figures). */
export async function readToySaesManifest(file: string): Promise<ToySaesManifest> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${file}: no such manifest (build the set with: safesail toy saes)`, { file });
    throw err;
  }
  return parseToySaesManifest(text, file);
}

export function parseToySaesManifest(text: string, file: string): ToySaesManifest {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON (${(err as Error).message})`, { file });
  }
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new FormatError(`${file}: ${field}: expected ${expected}, got ${JSON.stringify(got) ?? "nothing"}`, { file, field });
  };
  if (m === null || typeof m !== "object" || Array.isArray(m)) fail("the top level", "an object", m);
  if (m.format !== TOY_SAES_FORMAT) fail("format", JSON.stringify(TOY_SAES_FORMAT), m.format);
  if (m.version !== TOY_SAES_VERSION) fail("version", String(TOY_SAES_VERSION), m.version);
  if (!Array.isArray(m.saes)) fail("saes", "a list", m.saes);
  (m.saes as unknown[]).forEach((s, i) => {
    const e = s as Record<string, unknown>;
    if (e === null || typeof e !== "object") fail(`saes[${i}]`, "an object", s);
    if (!Number.isSafeInteger(e.layer)) fail(`saes[${i}].layer`, "an integer", e.layer);
    for (const f of ["hook", "folder", "weights_sha256"]) if (typeof e[f] !== "string") fail(`saes[${i}].${f}`, "a string", e[f]);
    if (/^([/\\]|[A-Za-z]:)/.test(e.folder as string) || (e.folder as string).split(/[/\\]/).includes("..")) fail(`saes[${i}].folder`, "a path inside the manifest's folder", e.folder);
    const h = e.heldout as Record<string, unknown> | undefined;
    if (!h || typeof h.fvu !== "number") fail(`saes[${i}].heldout.fvu`, "a number", h?.fvu);
  });
  const db = m.database as Record<string, unknown> | undefined;
  if (!db || typeof db.file !== "string") fail("database.file", "a string", db?.file);
  return m as unknown as ToySaesManifest;
}

/** Indices of `n` documents spread evenly over `total` (floor(i · total / n)); all of them when n >= total. */
export function evenlySpaced(n: number, total: number): number[] {
  if (n >= total) return Array.from({ length: total }, (_, i) => i);
  return Array.from({ length: n }, (_, i) => Math.floor((i * total) / n));
}

/** Held-out conversations the manifest's quick FVU check (`heldout_check`) covers. */
export const HELDOUT_CHECK_DOCUMENTS = 25;
