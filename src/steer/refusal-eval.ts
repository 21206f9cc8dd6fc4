// Steering on a prompt set: refusal rates before and after the interventions, per language and domain, each with
// a bootstrap 95% interval, and the change with a paired interval (the same prompts resampled for both runs).
//
//   const report = await steeringEval(model, saes, interventions, prompts);    // prompts: the held-out format
//   report.rows.find((r) => r.lang === "hi" && r.domain === "harmful")          // { before, after, change, n }
//
// Every prompt is answered twice from the same seed (greedy by default), once unsteered and once steered, and the
// refusal detector (src/refusal.ts) reads both answers. Rows: each (language, domain) present, plus per language
// "harmful" (all harmful domains together) and "benign" (false refusals), plus the same over all languages
// (lang "all"). A checkpoint file (JSONL, one outcome per line, written atomically) lets a long run resume.
import { existsSync, promises as fsp } from "node:fs";
import { basename } from "node:path";
import { ArgumentError, describeValue, FormatError } from "../errors.ts";
import { bootstrapInterval, type BootstrapInterval } from "../interpret/scoring.ts";
import type { Model } from "../model/runtime.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { detectRefusal } from "../refusal.ts";
import type { Sae } from "../sae/sae.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { checkSettings } from "../util/resume.ts";
import { checkInt, checkNumber } from "../util/validate.ts";
import { steer, type Intervention } from "./interventions.ts";

/** One prompt of a set (the toy model's heldout.jsonl format; extra fields are ignored). */
export interface SteeringPrompt {
  id: string;
  lang: string;
  /** A safety domain, or "benign". */
  domain: string;
  harmful: boolean;
  prompt: string;
}

export interface SteeringOutcome {
  id: string;
  lang: string;
  domain: string;
  harmful: boolean;
  baseline: string;
  steered: string;
  refusedBefore: boolean;
  refusedAfter: boolean;
}

export interface SteeringEvalRow {
  lang: string;
  /** A domain of the set, "harmful" (all harmful prompts) or "benign". */
  domain: string;
  n: number;
  before: BootstrapInterval;
  after: BootstrapInterval;
  /** after - before, resampling prompts (paired). */
  change: BootstrapInterval;
}

export interface SteeringEvalReport {
  interventions: Intervention[];
  prompts: number;
  maxNewTokens: number;
  seed: number;
  bootstrap: { samples: number; seed: number; level: number };
  rows: SteeringEvalRow[];
  outcomes: SteeringOutcome[];
  warnings: string[];
}

export interface SteeringEvalOptions {
  maxNewTokens?: number;
  /** Generation seed, the same for both runs (default 0; greedy unless temperature > 0). */
  seed?: number;
  temperature?: number;
  /** Refusal test of an answer (default the detector of src/refusal.ts). */
  isRefusal?: (answer: string) => boolean;
  bootstrap?: { samples?: number; seed?: number; level?: number };
  progress?: Progress;
  /** JSONL checkpoint: outcomes already in it are kept, the rest are run and appended. */
  checkpoint?: string;
}

export const STEERING_EVAL_DEFAULTS = { maxNewTokens: 24, seed: 0, samples: 1000, bootstrapSeed: 0, level: 0.95 } as const;

/** Checks a prompt set up front (before any generation); errors name the entry and field. */
export function checkSteeringPrompts(prompts: unknown, where: string): SteeringPrompt[] {
  if (!Array.isArray(prompts) || prompts.length === 0) throw new ArgumentError(`${where}: prompts must be a non-empty list, got ${describeValue(prompts)}`, { field: "prompts" });
  const ids = new Set<string>();
  return prompts.map((p, i) => {
    const at = `${where}: prompts[${i}]`;
    if (p === null || typeof p !== "object") throw new ArgumentError(`${at}: expected { id, lang, domain, harmful, prompt }, got ${describeValue(p)}`, { field: "prompts" });
    const o = p as Record<string, unknown>;
    for (const f of ["id", "lang", "domain", "prompt"]) {
      if (typeof o[f] !== "string" || (o[f] as string).length === 0) throw new ArgumentError(`${at}.${f}: expected a non-empty string, got ${describeValue(o[f])}`, { field: f });
    }
    if (typeof o.harmful !== "boolean") throw new ArgumentError(`${at}.harmful: expected true or false, got ${describeValue(o.harmful)}`, { field: "harmful" });
    if (ids.has(o.id as string)) throw new ArgumentError(`${at}.id: ${describeValue(o.id)} appears twice`, { field: "id" });
    ids.add(o.id as string);
    return { id: o.id as string, lang: o.lang as string, domain: o.domain as string, harmful: o.harmful, prompt: o.prompt as string };
  });
}

async function readCheckpoint(file: string, settings: Record<string, unknown>): Promise<Map<string, SteeringOutcome>> {
  const out = new Map<string, SteeringOutcome>();
  if (!existsSync(file)) return out;
  const lines = (await fsp.readFile(file, "utf8")).split("\n").filter((l) => l.trim() !== "");
  lines.forEach((line, i) => {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new FormatError(`${file}:${i + 1}: not valid JSON (${(err as Error).message}); delete the file to start over`, { file, cause: err });
    }
    if (i === 0) {
      checkSettings((v.settings ?? {}) as Record<string, unknown>, settings, { file, advice: "use another checkpoint file, or delete this one to start over", error: ArgumentError });
      return;
    }
    if (typeof v.id !== "string" || typeof v.baseline !== "string" || typeof v.steered !== "string") throw new FormatError(`${file}:${i + 1}: not a steering outcome (id, baseline, steered); delete the file to start over`, { file });
    out.set(v.id, v as unknown as SteeringOutcome);
  });
  return out;
}

/** Checked generation, bootstrap and detector settings shared by steeringEval and steeringSweep. */
function evalSettings(opts: SteeringEvalOptions, where: string) {
  return {
    maxNewTokens: checkInt(opts.maxNewTokens ?? STEERING_EVAL_DEFAULTS.maxNewTokens, "maxNewTokens", { min: 1, where }),
    seed: checkInt(opts.seed ?? STEERING_EVAL_DEFAULTS.seed, "seed", { where }),
    temperature: checkNumber(opts.temperature ?? 0, "temperature", { min: 0, where }),
    bootstrap: {
      samples: checkInt(opts.bootstrap?.samples ?? STEERING_EVAL_DEFAULTS.samples, "bootstrap.samples", { min: 1, where }),
      seed: checkInt(opts.bootstrap?.seed ?? STEERING_EVAL_DEFAULTS.bootstrapSeed, "bootstrap.seed", { where }),
      level: checkNumber(opts.bootstrap?.level ?? STEERING_EVAL_DEFAULTS.level, "bootstrap.level", { gt: 0, max: 1, where }),
    },
    isRefusal: opts.isRefusal ?? ((a: string) => detectRefusal(a).refused),
    progress: opts.progress ?? silentProgress,
  };
}

/** Refusal rates before and after steering on a prompt set. */
export async function steeringEval(model: Model, saes: readonly Sae[], interventions: readonly Intervention[], prompts: readonly SteeringPrompt[], opts: SteeringEvalOptions = {}): Promise<SteeringEvalReport> {
  const where = "steeringEval";
  const set = checkSteeringPrompts(prompts, where);
  const steered = steer(model, saes, interventions);
  const { maxNewTokens, seed, temperature, bootstrap, isRefusal, progress } = evalSettings(opts, where);

  const settings = { model: basename(model.dir), interventions: steered.interventions, maxNewTokens, seed, temperature };
  const done = opts.checkpoint ? await readCheckpoint(opts.checkpoint, settings) : new Map<string, SteeringOutcome>();
  const lines = opts.checkpoint ? [JSON.stringify({ settings }), ...set.filter((p) => done.has(p.id)).map((p) => JSON.stringify(done.get(p.id)))] : [];
  const outcomes: SteeringOutcome[] = [];
  progress.start("steering eval", set.length);
  let sinceSave = 0;
  for (const p of set) {
    let o = done.get(p.id);
    if (!o) {
      const gen = { prompt: p.prompt, chat: true, maxNewTokens, seed, temperature };
      const baseline = (await model.generate(gen)).text;
      const after = (await steered.generate(gen)).text;
      o = outcome(p, baseline, after, isRefusal);
      if (opts.checkpoint) {
        lines.push(JSON.stringify(o));
        if (++sinceSave >= 25) {
          await writeFileAtomic(opts.checkpoint, lines.join("\n") + "\n");
          sinceSave = 0;
        }
      }
    }
    outcomes.push(o);
    progress.update(outcomes.length, p.id);
  }
  if (opts.checkpoint && sinceSave > 0) await writeFileAtomic(opts.checkpoint, lines.join("\n") + "\n");
  progress.finish();
  const { rows, warnings } = steeringRows(outcomes, bootstrap);
  return { interventions: steered.interventions, prompts: set.length, maxNewTokens, seed, bootstrap, rows, outcomes, warnings };
}

const outcome = (p: SteeringPrompt, baseline: string, steered: string, isRefusal: (a: string) => boolean): SteeringOutcome => ({
  id: p.id,
  lang: p.lang,
  domain: p.domain,
  harmful: p.harmful,
  baseline,
  steered,
  refusedBefore: isRefusal(baseline),
  refusedAfter: isRefusal(steered),
});

/** One setting of a sweep: a name and its interventions. */
export interface SteeringSetting {
  name: string;
  interventions: Intervention[];
}

/**
 * Several settings on one prompt set: the unsteered answers are generated once and shared (so each setting costs
 * only its steered run), then one report per setting, in order. All settings are checked before anything runs.
 * No checkpoint: meant for the small development sets a search runs on; use steeringEval for long runs.
 */
export async function steeringSweep(model: Model, saes: readonly Sae[], settings: readonly SteeringSetting[], prompts: readonly SteeringPrompt[], opts: Omit<SteeringEvalOptions, "checkpoint"> = {}): Promise<{ name: string; report: SteeringEvalReport }[]> {
  const where = "steeringSweep";
  const set = checkSteeringPrompts(prompts, where);
  if (!Array.isArray(settings) || settings.length === 0) throw new ArgumentError(`${where}: settings must be a non-empty list of { name, interventions }`, { field: "settings" });
  const steered = settings.map((s, i) => {
    if (!s || typeof s.name !== "string") throw new ArgumentError(`${where}: settings[${i}].name: expected a string, got ${describeValue(s?.name)}`, { field: "settings" });
    return steer(model, saes, s.interventions);
  });
  const { maxNewTokens, seed, temperature, bootstrap, isRefusal, progress } = evalSettings(opts, where);
  const gen = (p: SteeringPrompt) => ({ prompt: p.prompt, chat: true, maxNewTokens, seed, temperature });
  progress.start("steering sweep", set.length * (settings.length + 1));
  let done = 0;
  const baselines: string[] = [];
  for (const p of set) {
    baselines.push((await model.generate(gen(p))).text);
    progress.update(++done, "unsteered");
  }
  const out: { name: string; report: SteeringEvalReport }[] = [];
  for (let s = 0; s < settings.length; s++) {
    const outcomes: SteeringOutcome[] = [];
    for (let i = 0; i < set.length; i++) {
      outcomes.push(outcome(set[i]!, baselines[i]!, (await steered[s]!.generate(gen(set[i]!))).text, isRefusal));
      progress.update(++done, settings[s]!.name);
    }
    const { rows, warnings } = steeringRows(outcomes, bootstrap);
    out.push({ name: settings[s]!.name, report: { interventions: steered[s]!.interventions, prompts: set.length, maxNewTokens, seed, bootstrap, rows, outcomes, warnings } });
  }
  progress.finish();
  return out;
}

/** The report's rows from outcomes (exported for re-aggregation of saved outcomes). */
export function steeringRows(outcomes: readonly SteeringOutcome[], bootstrap: { samples: number; seed: number; level: number }): { rows: SteeringEvalRow[]; warnings: string[] } {
  const groups = new Map<string, { lang: string; domain: string; items: SteeringOutcome[] }>();
  const put = (lang: string, domain: string, o: SteeringOutcome) => {
    const key = `${lang}\u0000${domain}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { lang, domain, items: [] }));
    g.items.push(o);
  };
  for (const o of outcomes) {
    const kind = o.harmful ? "harmful" : "benign";
    for (const lang of [o.lang, "all"]) {
      if (o.domain !== kind) put(lang, o.domain, o);
      put(lang, kind, o);
    }
  }
  const rate = (key: "refusedBefore" | "refusedAfter") => (s: SteeringOutcome[]) => (s.length ? s.filter((o) => o[key]).length / s.length : null);
  const change = (s: SteeringOutcome[]) => (s.length ? s.reduce((n, o) => n + Number(o.refusedAfter) - Number(o.refusedBefore), 0) / s.length : null);
  const warnings: string[] = [];
  const rows = [...groups.values()].map((g) => {
    if (g.items.length < 10) warnings.push(`${g.lang}/${g.domain}: only ${g.items.length} prompt(s); its interval is wide and unreliable`);
    return {
      lang: g.lang,
      domain: g.domain,
      n: g.items.length,
      before: bootstrapInterval(g.items, rate("refusedBefore"), bootstrap),
      after: bootstrapInterval(g.items, rate("refusedAfter"), bootstrap),
      change: bootstrapInterval(g.items, change, bootstrap),
    };
  });
  const order = (r: SteeringEvalRow) => [r.lang === "all" ? 1 : 0, r.domain === "harmful" ? 1 : r.domain === "benign" ? 2 : 0] as const;
  rows.sort((a, b) => {
    const [la, da] = order(a);
    const [lb, db] = order(b);
    return la - lb || a.lang.localeCompare(b.lang) || da - db || a.domain.localeCompare(b.domain);
  });
  return { rows, warnings };
}
