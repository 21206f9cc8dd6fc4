// `safesail explain` and `safesail score`: stage 2 from the command line, thin over src/interpret/ and src/db/.
//
//   safesail explain --examples DIR --out DB [--features 2_17,2_40] [--explainer llm|baseline] [--api-base URL]
//                    [--llm NAME] [--cache FILE] [--concurrency N] [--redo] [--json]
//   safesail score DB --examples DIR --method sls|tls|detection|all [--segments 8] [--threshold 0.2]
//                  [--simulator llm|baseline] [--api-base URL] [--llm NAME] [--cache FILE] [--concurrency N] [--json]
//
// The LLM path talks to any OpenAI-compatible endpoint: --api-base (else $OPENAI_BASE_URL), key from
// $OPENAI_API_KEY (or --api-key; the environment is safer: a flag shows in `ps`). Every answer is kept in a replay
// cache (--cache FILE, default DB + ".llm-cache.jsonl"), so a rerun with no server reproduces the same database;
// a cache miss with no server names the feature. The key is sent as a header only, never written anywhere.
//
// Without --llm the offline baselines run (named "baseline:..." in the database and in every output).
//
// The database is saved (atomically) as results arrive, so an interrupted run keeps what it got; a rerun skips
// features already explained by the same explainer (--redo explains them again) and retries failed ones.
//
// --shard I/N (or a Slurm array task's / Kubernetes Indexed Job's environment: src/util/shard.ts) processes features
// I, I+N, ... of the list and writes DB.shard-IIII-of-NNNN.json instead of DB (score: in place when DB is already a
// shard's); `safesail db merge --out DB` checks and joins the shards (src/db/shards.ts, docs/scale-out.md).
import { ArgumentError } from "../errors.ts";
import { featureDbExists, newFeatureDb, readFeatureDb, writeFeatureDb, type FeatureDb, type FeatureDbShard, type FeatureRecord } from "../db/index.ts";
import { examplesIdentity, featureListRecord, sameSplit } from "../db/shards.ts";
import { isRemotePath, objectCacheDir } from "../storage/object-store.ts";
import { pickShard, resolveShard, shardFilePath, shardLabel, type ResolvedShard } from "../util/shard.ts";
import { recordFromExamples, upsertRecords, withExplanation, withScores } from "../db/interpretation.ts";
import { openExampleStore, type ExampleStore } from "../interpret/example-store.ts";
import { baselineExplainer, llmExplainer, estimateTokens, type Explainer, type TokenCounter } from "../interpret/explainers.ts";
import { llmClient, type LlmClient } from "../interpret/llm.ts";
import { explainFeatures, scoreFeatures, summariseScores, SCORE_METHODS, type ScoreMethod } from "../interpret/score.ts";
import { SLS_SEGMENTS, SLS_THRESHOLD } from "../interpret/scoring.ts";
import { baselineSimulator, llmSimulator, type Simulator } from "../interpret/simulators.ts";
import { parseFeatureId } from "../safety.ts";
import { terminalProgress, silentProgress } from "../progress.ts";
import { choiceArg, floatArg, intArg, parseCliArgs, requiredArg, requiredPositional } from "./args.ts";

const EXPLAIN_USAGE = "safesail explain --examples DIR --out DB [options]";
const EXPLAIN_HELP = `usage: ${EXPLAIN_USAGE}

Explains each feature of an example store (safesail examples) and writes the explanations into a feature
database (created, or updated in place).

  --examples DIR          the example store
  --out DB                the feature database (JSON); saved as results arrive
  --features 2_17,2_40    only these features (default: every feature of the store)
  --explainer llm|baseline
                          llm: an OpenAI-compatible endpoint (needs --llm); baseline: the offline summary of
                          top-activating tokens (not an LLM; default unless --llm is given)
  --llm NAME              the model name sent to the endpoint (e.g. qwen2.5-72b-instruct, gpt-4o-mini)
  --api-base URL          endpoint base, e.g. http://localhost:8000/v1 (vLLM), http://localhost:11434/v1
                          (Ollama), https://api.openai.com/v1, https://dashscope.aliyuncs.com/compatible-mode/v1
                          (default $OPENAI_BASE_URL; the key comes from $OPENAI_API_KEY)
  --api-key KEY           overrides $OPENAI_API_KEY (prefer the environment: flags show in process lists)
  --cache FILE            replay cache (JSONL; default DB.llm-cache.jsonl); answers are replayed from it
  --offline               never call a server: every answer must be in the cache
  --concurrency N         requests in flight (default 4)
  --timeout S             seconds per HTTP attempt (default 120)
  --max-retries N         retries on 429, 5xx, timeouts and dropped connections, with backoff and Retry-After
                          (default 5)
  --redo                  explain again features the same explainer already explained
  --shard I/N             explain only features I, I+N, I+2N, ... of the list (0-based), into
                          DB.shard-IIII-of-NNNN.json (DB named by --out, shard name before the extension), with its
                          own replay cache by default. Default from the environment: a Slurm array task
                          (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT), a Kubernetes Indexed Job (JOB_COMPLETION_INDEX
                          with SAFESAIL_SHARD_COUNT = the Job's completions) or SAFESAIL_SHARD=I/N; --shard none ignores
                          it. Join the shards with safesail db merge --out DB (docs/scale-out.md)
  --json                  print a JSON summary`;

const SCORE_USAGE = "safesail score DB --examples DIR --method sls|tls|detection|all [options]";
const SCORE_HELP = `usage: ${SCORE_USAGE}

Scores the explanations in DB by simulation on the example store's test windows (documents the explainer never
saw, activating and non-activating) and writes the scores into DB.

  --method M              tls (token level: 0-10 per token, Pearson r over all tokens), sls (segment level, the
                          paper's: active/inactive per segment, Pearson r over segments), detection (F1, AUC of
                          picking activating windows), or all
  --segments N            SLS segments per window (default ${SLS_SEGMENTS})
  --threshold T           SLS: a segment is active when its normalised max exceeds T (default ${SLS_THRESHOLD}; our
                          choice, the paper's rule is not public)
  --features 2_17,...     only these features (default: every feature of DB with an explanation)
  --simulator llm|baseline
                          llm needs --llm; baseline: predicts from the explanation's words (not an LLM; default
                          unless --llm is given)
  --llm, --api-base, --api-key, --cache, --offline, --concurrency, --timeout, --max-retries: as for safesail explain
  --shard I/N             score only features I, I+N, ... of DB's features in the store (in the store's order), into
                          DB.shard-IIII-of-NNNN.json (kept up to date if an explain shard wrote it); a DB that is
                          itself a shard's database is scored in place. Default from the environment, as for
                          safesail explain; --shard none ignores it. Join the shards with safesail db merge --out DB
  --json                  print {"features", "tls", "sls", "sls_tls_pearson", "cost": {"tls_tokens", "sls_tokens",
                          "ratio"}, ...}`;

const LLM_OPTIONS = {
  llm: { type: "string" },
  "api-base": { type: "string" },
  "api-key": { type: "string" },
  cache: { type: "string" },
  offline: { type: "boolean" },
  concurrency: { type: "string" },
  timeout: { type: "string" },
  "max-retries": { type: "string" },
  features: { type: "string" },
  shard: { type: "string" },
  json: { type: "boolean" },
} as const;

type LlmFlags = { llm?: string; "api-base"?: string; "api-key"?: string; cache?: string; offline?: boolean; concurrency?: string; timeout?: string; "max-retries"?: string };

function featureList(arg: string | undefined): string[] | undefined {
  if (arg === undefined) return undefined;
  const ids = arg.split(",").map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new ArgumentError("--features: expected ids like 2_17,2_40", { field: "features" });
  for (const id of ids) parseFeatureId(id, "--features");
  return ids;
}

/** The LLM client of the flags, or null when the baseline is asked for (or no --llm given and none asked). */
function clientFromFlags(values: LlmFlags, kind: "llm" | "baseline" | undefined, dbFile: string, flag: string): LlmClient | null {
  const want = kind ?? (values.llm ? "llm" : "baseline");
  if (want === "baseline") {
    if (values.llm) throw new ArgumentError(`--llm ${values.llm} was given with ${flag} baseline; drop one of them`, { field: "llm" });
    return null;
  }
  if (!values.llm) throw new ArgumentError(`${flag} llm needs --llm NAME (the model name the endpoint serves)`, { field: "llm" });
  const timeout = floatArg(values, "timeout", { gt: 0 });
  return llmClient({
    model: values.llm,
    baseUrl: values["api-base"],
    apiKey: values["api-key"],
    // A database on object storage keeps its replay cache in the local cache (it is appended to line by line).
    cache: values.cache ?? `${isRemotePath(dbFile) ? objectCacheDir(dbFile) : dbFile}.llm-cache.jsonl`,
    concurrency: intArg(values, "concurrency", { min: 1 }) ?? 4,
    ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
    maxRetries: intArg(values, "max-retries", { min: 0 }) ?? 5,
    offline: values.offline ?? false,
  });
}

/** Token counts for the baselines' cost: the store's model tokenizer when it loads, else about 4 characters a token. */
async function tokenCounter(store: ExampleStore): Promise<{ count: TokenCounter; how: string }> {
  const model = store.manifest.model.path;
  if (model) {
    try {
      const { loadModel } = await import("../model/runtime.ts");
      const m = await loadModel(model);
      if (m.tokenizer) return { count: (t) => m.toTokens(t, { chat: false }).length, how: `the tokenizer of ${model}` };
    } catch {
      // The model folder moved: fall back to the estimate, and say so.
    }
  }
  return { count: estimateTokens, how: "estimated at 4 characters per token" };
}

/**
 * The shard record of a shard's database (records.ts FeatureDbShard) for `ids` of `list`; `existing` is what `file`
 * holds now: a database of another split or another shard there is an error naming the file.
 */
function shardRecord(shard: ResolvedShard, store: ExampleStore, list: readonly string[], ids: readonly string[], existing: FeatureDb, file: string): FeatureDbShard {
  const rec: FeatureDbShard = { index: shard.index, count: shard.count, examples: examplesIdentity(store), features: featureListRecord(list), ids: [...ids] };
  if (existing.shard) {
    const diffs = existing.shard.index === shard.index ? sameSplit(existing.shard, rec) : [`index: ${existing.shard.index} vs ${shard.index}`];
    if (diffs.length) throw new ArgumentError(`${file}: holds shard ${shardLabel(existing.shard)} of another split (${diffs.join("; ")}); remove it, or write to another DB`, { field: "shard", file });
  } else if (existing.records.length > 0) {
    throw new ArgumentError(`${file}: exists and is not a shard's database; remove it, or write to another DB`, { field: "shard", file });
  }
  return rec;
}

/** Saves the database at most every `ms` and at the end, one write at a time. */
function debouncedSave(file: string, get: () => FeatureDb, ms = 2000) {
  let last = 0;
  let pending: Promise<void> = Promise.resolve();
  return {
    maybe() {
      if (Date.now() - last < ms) return pending;
      last = Date.now();
      pending = pending.then(() => writeFeatureDb(file, get()));
      return pending;
    },
    async final() {
      await pending;
      await writeFeatureDb(file, get());
    },
  };
}

export async function explainCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    maxPositionals: 0,
    usage: EXPLAIN_USAGE,
    help: EXPLAIN_HELP,
    options: { ...LLM_OPTIONS, examples: { type: "string" }, out: { type: "string" }, explainer: { type: "string" }, redo: { type: "boolean" } },
  });
  const examplesDir = requiredArg(values, "examples", { metavar: "DIR" });
  const target = requiredArg(values, "out", { metavar: "DB" });
  const kind = choiceArg(values, "explainer", ["llm", "baseline"] as const);
  const shard = resolveShard(values.shard);
  const store = await openExampleStore(examplesDir);
  const list = featureList(values.features) ?? store.ids();
  const known = new Set(store.ids());
  for (const id of list) if (!known.has(id)) throw new ArgumentError(`--features: ${id} is not in the example store ${examplesDir} (it has ${store.ids().length} features)`, { field: "features" });
  const ids = pickShard(list, shard);
  const dbFile = shard ? shardFilePath(target, shard) : target;
  if (shard) process.stderr.write(`safesail explain: shard ${shardLabel(shard)}${shard.source === "--shard" ? "" : ` (from ${shard.source})`}: ${ids.length} of ${list.length} features -> ${dbFile}\n`);
  const client = clientFromFlags(values, kind, dbFile, "--explainer");
  const counter = client ? null : await tokenCounter(store);
  const explainer: Explainer = client ? llmExplainer(client) : baselineExplainer({ count: counter!.count });

  let db = (await featureDbExists(dbFile)) ? await readFeatureDb(dbFile) : newFeatureDb([], `explanations of ${examplesDir}`);
  if (shard) {
    const rec = shardRecord(shard, store, list, ids, db, dbFile);
    db = { ...db, shard: { ...rec, ...(db.shard?.score ? { score: db.shard.score } : {}), explain: { explainer: explainer.name, complete: false } } };
  }
  const byId = new Map(db.records.map((r) => [r.id, r]));
  const base = async (id: string): Promise<FeatureRecord> => {
    const fe = store.feature(id);
    const sae = store.manifest.saes.find((s) => s.hook === fe.hook);
    return byId.get(id) ?? recordFromExamples(fe, { store: examplesDir, sae: sae?.path ?? undefined, saeSha256: sae?.weights_sha256 ?? sae?.params_sha256 });
  };
  const todo = ids.filter((id) => values.redo || !(byId.get(id)?.explanation && byId.get(id)?.explainer === explainer.name && !byId.get(id)?.failures?.some((f) => f.stage === "explain")));
  const skipped = ids.length - todo.length;
  const save = debouncedSave(dbFile, () => db);
  const progress = values.json ? silentProgress : terminalProgress();
  const result = await explainFeatures(store, explainer, {
    features: todo,
    concurrency: intArg(values, "concurrency", { min: 1 }) ?? 4,
    progress,
    async onResult(r) {
      const rec = withExplanation(await base(r.id), "explanation" in r ? r : { stage: "explain", message: r.message });
      byId.set(r.id, rec);
      db = upsertRecords(db, [rec]);
      await save.maybe();
    },
  });
  // Features of the store never explained before still get their record (activation summary, tags).
  for (const id of ids) if (!byId.has(id)) db = upsertRecords(db, [await base(id)]);
  if (db.shard?.explain) db = { ...db, shard: { ...db.shard, explain: { ...db.shard.explain, complete: true } } };
  await save.final();
  const usage = result.explanations.reduce((a, e) => ({ prompt_tokens: a.prompt_tokens + e.usage.prompt_tokens, completion_tokens: a.completion_tokens + e.usage.completion_tokens }), { prompt_tokens: 0, completion_tokens: 0 });
  const cached = result.explanations.filter((e) => e.cached).length;
  const explainerNote = explainer.kind === "baseline" ? `${explainer.name} (offline baseline, not an LLM; tokens ${counter!.how})` : explainer.name;
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ db: dbFile, ...(shard ? { shard: shardLabel(shard) } : {}), explainer: explainer.name, explainer_kind: explainer.kind, features: ids.length, explained: result.explanations.length, skipped, cached, failures: result.failures, usage })}\n`,
    );
  } else {
    process.stdout.write(`${dbFile}: ${result.explanations.length} features explained by ${explainerNote}` + (skipped ? `, ${skipped} already explained (--redo to redo)` : "") + (cached ? `, ${cached} from the replay cache` : "") + "\n");
    process.stdout.write(`tokens: ${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion\n`);
    for (const f of result.failures) process.stdout.write(`failed: ${f.id}: ${f.message}\n`);
  }
  if (result.failures.length) {
    process.stderr.write(`${result.failures.length} of ${todo.length} features failed; their records carry the error, and the same command retries them\n`);
    return 1;
  }
  return 0;
}

export async function scoreCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 1,
    usage: SCORE_USAGE,
    help: SCORE_HELP,
    options: { ...LLM_OPTIONS, examples: { type: "string" }, method: { type: "string" }, segments: { type: "string" }, threshold: { type: "string" }, simulator: { type: "string" }, seed: { type: "string" } },
  });
  const dbFile = requiredPositional(positionals, 0, "DB", SCORE_USAGE);
  const examplesDir = requiredArg(values, "examples", { metavar: "DIR" });
  const method = choiceArg(values, "method", [...SCORE_METHODS, "all"] as const, { required: true });
  const methods: ScoreMethod[] = method === "all" ? [...SCORE_METHODS] : [method];
  const segments = intArg(values, "segments", { min: 1 }) ?? SLS_SEGMENTS;
  const threshold = floatArg(values, "threshold", { gt: 0, max: 1 }) ?? SLS_THRESHOLD;
  const seed = intArg(values, "seed", { min: 0 }) ?? 0;
  const kind = choiceArg(values, "simulator", ["llm", "baseline"] as const);
  const shard = resolveShard(values.shard);
  if (!(await featureDbExists(dbFile))) throw new ArgumentError(`DB: ${dbFile}: no such feature database (safesail explain --out ${dbFile} makes one)`, { field: "DB", file: dbFile });
  let db = await readFeatureDb(dbFile);
  const store = await openExampleStore(examplesDir);
  const inStore = new Set(store.ids());
  const requested = featureList(values.features);
  const byId = new Map(db.records.map((r) => [r.id, r]));
  if (requested) for (const id of requested) if (!byId.has(id)) throw new ArgumentError(`--features: ${id} is not in ${dbFile}`, { field: "features" });
  let candidates = requested ?? db.records.filter((r) => inStore.has(r.id)).map((r) => r.id);
  for (const id of candidates) if (!inStore.has(id)) throw new ArgumentError(`--features: ${id} is not in the example store ${examplesDir}`, { field: "features" });
  // Sharded: a shard's database is scored in place (as that shard); another database's features (in the store's
  // order) are split, and this shard's records go to DB.shard-IIII-of-NNNN.json.
  let outFile = dbFile;
  if (db.shard) {
    if (shard && (shard.index !== db.shard.index || shard.count !== db.shard.count)) {
      throw new ArgumentError(`DB: ${dbFile} is shard ${shardLabel(db.shard)}'s database, but this is shard ${shardLabel(shard)} (from ${shard.source}); score that shard's file, or give --shard ${shardLabel(db.shard)}`, { field: "shard", file: dbFile });
    }
    const mine = new Set(db.shard.ids);
    candidates = candidates.filter((id) => mine.has(id));
  } else if (shard) {
    const list = requested ?? store.ids().filter((id) => byId.has(id));
    candidates = pickShard(list, shard);
    outFile = shardFilePath(dbFile, shard);
    let out = (await featureDbExists(outFile)) ? await readFeatureDb(outFile) : newFeatureDb([], db.description);
    const rec = shardRecord(shard, store, list, candidates, out, outFile);
    out = { ...out, shard: { ...rec, ...(out.shard?.explain ? { explain: out.shard.explain } : {}) } };
    db = upsertRecords(out, candidates.map((id) => byId.get(id)!));
    byId.clear();
    for (const r of db.records) byId.set(r.id, r);
    process.stderr.write(`safesail score: shard ${shardLabel(shard)}${shard.source === "--shard" ? "" : ` (from ${shard.source})`}: ${candidates.length} of ${list.length} features -> ${outFile}\n`);
  }
  const explanations = new Map<string, string>();
  const unexplained: string[] = [];
  for (const id of candidates) {
    const e = byId.get(id)?.explanation;
    if (typeof e === "string" && e !== "***") explanations.set(id, e);
    else unexplained.push(id);
  }
  if (explanations.size === 0) throw new ArgumentError(`${dbFile}: none of its ${candidates.length} features of ${examplesDir} has an explanation to score (run safesail explain first)`, { field: "DB", file: dbFile });
  const client = clientFromFlags(values, kind, outFile, "--simulator");
  const counter = client ? null : await tokenCounter(store);
  const simulator: Simulator = client ? llmSimulator(client) : baselineSimulator({ count: counter!.count });
  const stage = (complete: boolean) => ({ simulator: simulator.name, methods, segments, threshold, seed, complete });
  if (db.shard) db = { ...db, shard: { ...db.shard, score: stage(false) } };
  const save = debouncedSave(outFile, () => db);
  const results = await scoreFeatures(store, explanations, simulator, {
    features: [...explanations.keys()],
    methods,
    segments,
    threshold,
    seed,
    concurrency: intArg(values, "concurrency", { min: 1 }) ?? 4,
    progress: values.json ? silentProgress : terminalProgress(),
    async onResult(s) {
      const rec = withScores(byId.get(s.id)!, s);
      byId.set(s.id, rec);
      db = upsertRecords(db, [rec]);
      await save.maybe();
    },
  });
  if (db.shard) db = { ...db, shard: { ...db.shard, score: stage(true) } };
  await save.final();
  const summary = summariseScores(results, { seed });
  if (unexplained.length) summary.warnings.push(`${unexplained.length} features have no explanation and were not scored: ${unexplained.slice(0, 10).join(", ")}${unexplained.length > 10 ? ", ..." : ""}`);
  const simulatorNote = simulator.kind === "baseline" ? `${simulator.name} (offline baseline, not an LLM; tokens ${counter!.how})` : simulator.name;
  const explainers = [...new Set(results.map((r) => byId.get(r.id)?.explainer ?? "unknown"))];
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ db: outFile, ...(db.shard ? { shard: shardLabel(db.shard) } : {}), methods, simulator_kind: simulator.kind, explainers, tokens_counted: counter?.how ?? "API usage", ...summary })}\n`);
  } else {
    const fmt = (x: number | null, d = 3) => (x === null ? "undefined" : x.toFixed(d));
    const ci = (c: [number, number] | null) => (c ? ` [95% CI ${fmt(c[0])}, ${fmt(c[1])}]` : "");
    process.stdout.write(`${outFile}: ${summary.features} features scored by ${simulatorNote} (explanations by ${explainers.join(", ")})\n`);
    if (methods.includes("tls")) process.stdout.write(`TLS: mean r ${fmt(summary.tls.mean)}${ci(summary.tls.ci95)} over ${summary.tls.n} features, ${summary.cost.tls_tokens} tokens\n`);
    if (methods.includes("sls")) process.stdout.write(`SLS (n=${segments}, threshold ${threshold}): mean r ${fmt(summary.sls.mean)}${ci(summary.sls.ci95)} over ${summary.sls.n} features, ${summary.cost.sls_tokens} tokens\n`);
    if (methods.includes("tls") && methods.includes("sls")) {
      process.stdout.write(`SLS vs TLS: Pearson r ${fmt(summary.sls_tls_pearson)}${ci(summary.sls_tls_pearson_ci95)} across features; cost ratio SLS/TLS ${fmt(summary.cost.ratio)} (the paper: about 0.45, r about 0.8)\n`);
    }
    if (methods.includes("detection")) process.stdout.write(`detection: mean F1 ${fmt(summary.detection.f1_mean)}, mean AUC ${fmt(summary.detection.auc_mean)} over ${summary.detection.n} features\n`);
    for (const w of summary.warnings) process.stdout.write(`warning: ${w}\n`);
    for (const f of summary.failures) process.stdout.write(`failed: ${f.id} (${f.stage}): ${f.message}\n`);
  }
  return summary.failures.length ? 1 : 0;
}
