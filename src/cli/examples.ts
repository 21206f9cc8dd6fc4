// `safesail examples`: activation examples of chosen features into an example store, thin over
// src/interpret/examples.ts.
//
//   safesail examples --sae DIR --model MODEL --corpus FILE --out DIR (--features 2_17,2_40 | --db FILE | --filter FILE)
//                     [--context 32] [--quantiles 10] [--seed S] [--no-chat] [--max-docs N] [--overwrite] [--json]
//
// Interrupted (Ctrl-C), the state is checkpointed and the same command resumes; a finished store is printed again
// without being recomputed unless --overwrite.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { readFeatureDb } from "../db/store.ts";
import { ArgumentError, FormatError, NotFoundError, describeValue } from "../errors.ts";
import { collectExamples, EXAMPLES_DEFAULTS, loadSaes } from "../interpret/examples.ts";
import type { ExampleStore } from "../interpret/example-store.ts";
import { loadModel } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";
import { parseFeatureId } from "../safety.ts";
import { intArg, parseCliArgs, requiredArg } from "./args.ts";
import { stopOnSignals } from "./signals.ts";

const USAGE = "safesail examples --sae DIR --model MODEL --corpus FILE --out DIR (--features IDS | --db FILE | --filter FILE) [options]";

const HELP = `usage: ${USAGE}

One pass of MODEL over the corpus collects, for each chosen SAE feature, its top-activating contexts, samples
from its activation quantiles, non-activating contexts, an activation histogram, frac_nonzero, its normalisation
(the ${EXAMPLES_DEFAULTS.normalisationQuantile} quantile of its non-zero activations) and the top/bottom logits of its decoder direction, into
an example store: DIR/examples.json, examples.safetensors and tokens.json. Train examples (for the explainer)
and test examples (for scoring, non-activating ones included) come from disjoint documents.

  --sae DIR             one SAELens folder (cfg.json + sae_weights.safetensors), or a folder of them (one SAE per
                        layer); a feature {layer}_{index} uses the SAE at its layer
  --model MODEL         model folder or hub id
  --corpus FILE         one document per line, or JSONL (.jsonl/.ndjson/.json) with "text", "prompt", "messages"
                        or "ids" per line
  --out DIR             the example store; an interrupted run in DIR is resumed by the same command
The features, exactly one of:
  --features IDS        comma-separated feature ids, e.g. 2_17,2_40
  --db FILE             every feature of a feature database (safesail db), its tag_list as tags
  --filter FILE         the kept features of \`safesail filter --json\` output, with their domain tags
Options:
  --context N           tokens per example window, centred on the activating token (default ${EXAMPLES_DEFAULTS.context})
  --quantiles N         equal-count activation slices sampled for train and test examples (default ${EXAMPLES_DEFAULTS.quantiles})
  --seed S              seed of the train/test split and of every sample (default ${EXAMPLES_DEFAULTS.seed})
  --no-chat             tokenise plain text as written (default: as a user turn of the chat template)
  --max-docs N          stop after N documents (default: the whole corpus)
  --overwrite           replace an existing store or interrupted run in DIR
  --json                print the summary as one JSON object

The summary lists per feature frac_nonzero and the numbers of train and test examples, and warns about features
that never fired or have fewer examples than asked for.`;

/** Feature ids and tags from `safesail filter --json` output (FilterResult: kept[].name, kept[].tag_list). */
async function featuresFromFilter(file: string): Promise<{ ids: string[]; tags: Record<string, string[]> }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`--filter: ${file}: file not found`, { file, field: "filter" });
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON (${(err as Error).message}); --filter takes the output of safesail filter --json`, { file, field: "filter" });
  }
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new FormatError(`${file}: ${field}: expected ${expected}, got ${got === undefined ? "nothing" : describeValue(got)} (--filter takes the output of safesail filter --json)`, { file, field });
  };
  if (json === null || typeof json !== "object" || Array.isArray(json)) fail("the top level", "an object", json);
  const kept = (json as Record<string, unknown>).kept;
  if (!Array.isArray(kept)) fail("kept", "a list of kept features", kept);
  const ids: string[] = [];
  const tags: Record<string, string[]> = {};
  (kept as unknown[]).forEach((k, i) => {
    if (k === null || typeof k !== "object" || Array.isArray(k)) fail(`kept[${i}]`, "an object", k);
    const { name, tag_list } = k as Record<string, unknown>;
    if (typeof name !== "string" || !/^\d+_\d+$/.test(name)) fail(`kept[${i}].name`, "a feature id {layer}_{index}", name);
    if (!Array.isArray(tag_list) || !tag_list.every((t) => typeof t === "string")) fail(`kept[${i}].tag_list`, "a list of strings", tag_list);
    ids.push(name as string);
    tags[name as string] = [...(tag_list as string[])];
  });
  if (ids.length === 0) throw new ArgumentError(`--filter: ${file} kept no features, so there is nothing to collect`, { field: "filter", file });
  return { ids, tags };
}

async function chosenFeatures(values: { features?: string; db?: string; filter?: string }): Promise<{ ids: string[]; tags: Record<string, string[]> }> {
  const given = (["features", "db", "filter"] as const).filter((f) => values[f] !== undefined);
  if (given.length === 0) throw new ArgumentError(`the features are required: give one of --features 2_17,2_40, --db FILE or --filter FILE`, { field: "features" });
  if (given.length > 1) throw new ArgumentError(`--features, --db and --filter are alternatives; give one, got ${given.map((f) => `--${f}`).join(" and ")}`, { field: given[1]! });
  if (values.features !== undefined) {
    const ids = values.features.split(",").map((s) => s.trim());
    for (const id of ids) parseFeatureId(id, "--features");
    return { ids, tags: {} };
  }
  if (values.db !== undefined) {
    const db = await readFeatureDb(values.db);
    if (db.records.length === 0) throw new ArgumentError(`--db: ${values.db} holds no features`, { field: "db", file: values.db });
    return { ids: db.records.map((r) => r.id), tags: Object.fromEntries(db.records.map((r) => [r.id, [...r.tag_list]])) };
  }
  return featuresFromFilter(values.filter!);
}

/** The summary as printed with --json. */
export function examplesSummary(store: ExampleStore): Record<string, unknown> {
  const m = store.manifest;
  return {
    out: store.dir,
    documents: m.documents,
    tokens: m.tokens,
    train_documents: m.train_documents,
    test_documents: m.test_documents,
    stopped_at_max_docs: m.stopped_at_max_docs,
    features: m.features.map((f) => ({
      id: f.id,
      hook: f.hook,
      tags: f.tags,
      frac_nonzero: f.frac_nonzero,
      max_activation: f.max_activation,
      normalisation: f.normalisation,
      train: { top: f.examples.train_top.length, quantiles: f.examples.train_quantiles.reduce((n, q) => n + q.length, 0) },
      test: { activating: f.examples.test_activating.length, non_activating: f.examples.test_non_activating.length },
      warnings: f.warnings,
    })),
    warnings: store.warnings(),
  };
}

export async function examplesCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    maxPositionals: 0,
    usage: USAGE,
    help: HELP,
    options: {
      sae: { type: "string" },
      model: { type: "string" },
      corpus: { type: "string" },
      out: { type: "string" },
      features: { type: "string" },
      db: { type: "string" },
      filter: { type: "string" },
      context: { type: "string" },
      quantiles: { type: "string" },
      seed: { type: "string" },
      "no-chat": { type: "boolean" },
      "max-docs": { type: "string" },
      overwrite: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  // Everything that can be checked without the model is checked before loading it.
  const saeDir = requiredArg(values, "sae", { metavar: "DIR", hint: "a SAELens folder, or a folder of them" });
  const modelPath = requiredArg(values, "model", { metavar: "MODEL" });
  const corpus = requiredArg(values, "corpus", { metavar: "FILE", hint: "one document per line, or JSONL" });
  const out = requiredArg(values, "out", { metavar: "DIR", hint: "the example store folder" });
  const context = intArg(values, "context", { min: 1 });
  const quantiles = intArg(values, "quantiles", { min: 1 });
  const seed = intArg(values, "seed", { min: 0 });
  const maxDocs = intArg(values, "max-docs", { min: 1 });
  if (!existsSync(corpus)) throw new NotFoundError(`--corpus: ${corpus}: file not found`, { file: corpus, field: "corpus" });
  const { ids, tags } = await chosenFeatures(values);
  const saes = await loadSaes(saeDir);

  const model = await loadModel(modelPath, { progress: terminalProgress() });
  const stop = stopOnSignals("safesail examples: stopping after the current documents");
  try {
    const store = await collectExamples(model, saes, corpus, out, {
      features: ids,
      tags,
      context,
      quantiles,
      seed,
      maxDocs,
      chat: !values["no-chat"],
      overwrite: values.overwrite ?? false,
      progress: terminalProgress(),
      signal: stop.signal,
    });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(examplesSummary(store))}\n`);
      return 0;
    }
    const m = store.manifest;
    const L = [
      `${store.dir}: ${m.features.length} feature${m.features.length === 1 ? "" : "s"} over ${m.documents} documents (${m.train_documents} train, ${m.test_documents} test), ${m.tokens} tokens${m.stopped_at_max_docs ? ` (stopped at --max-docs ${m.options.max_docs})` : ""}`,
    ];
    const W = Math.max(...m.features.map((f) => f.id.length), 2);
    for (const f of m.features) {
      const q = f.examples.train_quantiles.reduce((n, x) => n + x.length, 0);
      L.push(
        `  ${f.id.padEnd(W)}  frac_nonzero ${f.frac_nonzero.toFixed(4)}  max ${f.max_activation.toPrecision(4)}  train ${f.examples.train_top.length} top + ${q} quantile  test ${f.examples.test_activating.length} activating + ${f.examples.test_non_activating.length} non-activating${f.tags.length ? `  [${f.tags.join(", ")}]` : ""}`,
      );
    }
    for (const w of store.warnings()) L.push(`warning: ${w}`);
    process.stdout.write(`${L.join("\n")}\n`);
    return 0;
  } catch (err) {
    if (stop.signal.aborted && (err as Error).name === "AbortError") {
      process.stderr.write(`safesail examples: interrupted; the state is checkpointed in ${out}; run the same command again to resume\n`);
      return 130;
    }
    throw err;
  } finally {
    stop.release();
    await model.dispose();
  }
}
