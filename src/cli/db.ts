// `safesail db import|export|query|merge`: the feature database (src/db/) from the command line.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { ArgumentError } from "../errors.ts";
import { exportNeuronpedia, exportSafeSail, findDbShardFiles, importSafeSail, mergeFeatureDbShards, NEURONPEDIA_DEFAULT_MODEL_ID, newFeatureDb, queryFeatures, readFeatureDb, writeFeatureDb } from "../db/index.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { isRemotePath, objectExists, parseS3Url, writeTextObjectAtomic } from "../storage/object-store.ts";
import { choiceArg, floatArg, intArg, parseCliArgs, requiredArg, requiredPositional } from "./args.ts";

const USAGE = `usage: safesail db <subcommand>

  import FILE --out DB [--overwrite]            a Safe-SAIL release database (JSON dict) into a safesail database
  export DB --format safe-sail --out FILE [--overwrite]
                                                the Safe-SAIL dict format, byte for byte as the release writes it
  export DB --format neuronpedia --out FILE [--model-id ID] [--sae-set NAME] [--overwrite]
                                                Neuronpedia-style JSONL, one feature per line; source "{layer}-{NAME}"
                                                (default model ${NEURONPEDIA_DEFAULT_MODEL_ID}, set safesail-{hook site} or safesail-mlp_out)
  query DB [--domain D] [--layer L] [--min-score S] [--search TEXT] [--limit N] [--json]
                                                features by domain, layer, score (correlation_score) and text
  merge [SHARD_DB...] --out DB [--json]          the shard databases of explain/score --shard I/N (default: the
                                                DB.shard-IIII-of-NNNN.json files next to DB) into DB (created, or
                                                updated in place as the unsharded commands do). Checked first, errors
                                                naming file and field: one split (one N, each shard once: no gap, no
                                                overlap), the same example store (model, SAEs) and feature list, the
                                                same explainer / simulator and scoring settings, every shard's run
                                                complete, a record for each of its features and no other
                                                (docs/scale-out.md)

DB (and export's --out FILE) may be an object on S3-compatible storage, s3://BUCKET/KEY, written with one PutObject
(docs/scale-out.md, "Object storage"); so may merge's shards and --out (the shards listed next to an s3:// --out).`;

const IMPORT = "safesail db import FILE --out DB [--overwrite]";
const EXPORT = "safesail db export DB --format safe-sail|neuronpedia --out FILE [--model-id ID] [--sae-set NAME] [--overwrite]";
const QUERY = "safesail db query DB [--domain D] [--layer L] [--min-score S] [--search TEXT] [--limit N] [--json]";
const MERGE = "safesail db merge [SHARD_DB...] --out DB [--json]";

async function refuseExisting(file: string, overwrite: boolean | undefined): Promise<void> {
  if (isRemotePath(file)) parseS3Url(file, "--out");
  if (!overwrite && (isRemotePath(file) ? await objectExists(file) : existsSync(file))) throw new ArgumentError(`--out: ${file} exists; pass --overwrite to replace it`, { field: "out", file });
}

/** An export file: a path (temp file + rename) or an s3:// object (one PutObject). */
async function writeOut(file: string, text: string): Promise<void> {
  if (isRemotePath(file)) await writeTextObjectAtomic(file, text);
  else await writeFileAtomic(file, text);
}

export async function dbCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "import") {
    const { values, positionals } = parseCliArgs({ args: rest, maxPositionals: 1, usage: IMPORT, help: USAGE, options: { out: { type: "string" }, overwrite: { type: "boolean" } } });
    const file = requiredPositional(positionals, 0, "FILE", IMPORT);
    const out = requiredArg(values, "out", { metavar: "DB" });
    await refuseExisting(out, values.overwrite);
    if (!existsSync(file)) throw new ArgumentError(`FILE: ${file}: file not found`, { field: "FILE", file });
    const records = importSafeSail(await readFile(file, "utf8"), file);
    await writeFeatureDb(out, newFeatureDb(records, `imported from ${file}`));
    const tagged = records.filter((r) => r.tag_list.length > 0).length;
    process.stdout.write(`${out}: ${records.length} features (${tagged} tagged with a domain)\n`);
    return 0;
  }
  if (sub === "export") {
    const { values, positionals } = parseCliArgs({
      args: rest,
      maxPositionals: 1,
      usage: EXPORT,
      help: USAGE,
      options: { out: { type: "string" }, format: { type: "string" }, overwrite: { type: "boolean" }, "model-id": { type: "string" }, "sae-set": { type: "string" } },
    });
    const dbFile = requiredPositional(positionals, 0, "DB", EXPORT);
    const format = choiceArg(values, "format", ["safe-sail", "neuronpedia"] as const, { required: true });
    const out = requiredArg(values, "out", { metavar: "FILE" });
    for (const flag of ["model-id", "sae-set"] as const) {
      if (format !== "neuronpedia" && values[flag] !== undefined) throw new ArgumentError(`--${flag} applies to --format neuronpedia only`, { field: flag });
    }
    await refuseExisting(out, values.overwrite);
    const db = await readFeatureDb(dbFile);
    if (format === "safe-sail") {
      await writeOut(out, exportSafeSail(db.records));
      process.stdout.write(`${out}: ${db.records.length} features (${format})\n`);
    } else {
      const modelId = values["model-id"] ?? NEURONPEDIA_DEFAULT_MODEL_ID;
      let text: string;
      try {
        text = exportNeuronpedia(db, { modelId, saeSet: values["sae-set"] });
      } catch (err) {
        // The library names its option (modelId, saeSet); the user typed a flag.
        if (err instanceof ArgumentError) throw new ArgumentError(err.message.replace("exportNeuronpedia: modelId", "--model-id").replace("exportNeuronpedia: saeSet", "--sae-set"), { field: err.field });
        throw err;
      }
      await writeOut(out, text);
      const unexplained = db.records.filter((r) => r.explanation === null || r.explanation === "***").length;
      process.stdout.write(`${out}: ${db.records.length} features (${format}, model ${modelId}; ${unexplained} without an explanation: null or masked)\n`);
    }
    return 0;
  }
  if (sub === "query") {
    const { values, positionals } = parseCliArgs({
      args: rest,
      maxPositionals: 1,
      usage: QUERY,
      help: USAGE,
      options: { domain: { type: "string" }, layer: { type: "string" }, "min-score": { type: "string" }, search: { type: "string" }, limit: { type: "string" }, json: { type: "boolean" } },
    });
    const dbFile = requiredPositional(positionals, 0, "DB", QUERY);
    const db = await readFeatureDb(dbFile);
    const table = queryFeatures(db.records, {
      domain: values.domain,
      layer: intArg(values, "layer", { min: 0 }),
      minScore: floatArg(values, "min-score"),
      search: values.search,
    });
    const limit = intArg(values, "limit", { min: 1 });
    const rows = table.objects({ limit }) as Record<string, unknown>[];
    if (values.json) process.stdout.write(`${JSON.stringify({ matches: table.numRows(), features: rows })}\n`);
    else {
      process.stdout.write(`${table.numRows()} features\n`);
      for (const r of rows) process.stdout.write(`${r.id}\t${r.correlation_score ?? ""}\t${r.tags}\t${String(r.explanation ?? "").replace(/\s+/g, " ").slice(0, 120)}\n`);
    }
    return 0;
  }
  if (sub === "merge") {
    const { values, positionals } = parseCliArgs({ args: rest, allowPositionals: true, usage: MERGE, help: USAGE, options: { out: { type: "string" }, json: { type: "boolean" } } });
    const out = requiredArg(values, "out", { metavar: "DB", hint: "the database the shards were named after" });
    const files = positionals.length ? positionals : await findDbShardFiles(out);
    const r = await mergeFeatureDbShards(files, { out });
    if (values.json) process.stdout.write(`${JSON.stringify({ db: out, shards: r.shards, records: r.records, failed: r.failed, updated: r.updated, total: r.db.records.length })}\n`);
    else process.stdout.write(`${out}: ${r.records} features from ${r.shards} shards ${r.updated ? "updated" : "written"} (${r.db.records.length} records in all${r.failed ? `; ${r.failed} carry failures: rerun their shards to retry` : ""})\n`);
    return 0;
  }
  if (sub === undefined || sub === "--help" || sub === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return sub ? 0 : 2;
  }
  throw new ArgumentError(`db: unknown subcommand ${JSON.stringify(sub)}\n\n${USAGE}`);
}
