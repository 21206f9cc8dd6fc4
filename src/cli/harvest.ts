// `safesail harvest`: activations of a corpus into a store, thin over src/activations/harvest.ts.
//
//   safesail harvest MODEL --corpus FILE --layers 0,2,4 --out DIR [--site mlp_out] [--max-tokens N] [--no-chat]
//                    [--batch-tokens N] [--chunk-tokens N] [--max-doc-tokens N] [--dtype F32|F16|BF16]
//                    [--format text|jsonl] [--lossy-utf8] [--overwrite] [--shard I/N] [--json]
//   safesail harvest merge [SHARD_DIR...] --out DIR [--overwrite] [--json]
//
// --shard I/N (or a Slurm array task's / Kubernetes Indexed Job's environment: src/util/shard.ts) harvests one
// contiguous range of the corpus into DIR/shard-IIII-of-NNNN/; `harvest merge` checks the N shard stores and joins
// them into DIR, the store an unsharded harvest writes (src/activations/merge.ts; docs/scale-out.md).
//
// Interrupted (Ctrl-C, a kill, a crash), the same command resumes after the last complete chunk. Ctrl-C
// stops after the current batch; a second Ctrl-C exits at once (still safe: every write is atomic).
// The whole corpus is checked (UTF-8, JSON, document shapes) before the model runs.
import { existsSync } from "node:fs";
import * as path from "node:path";
import { harvest } from "../activations/harvest.ts";
import { MANIFEST_FILE, STORE_DTYPES } from "../activations/format.ts";
import { findShardDirs, mergeActivationShards } from "../activations/merge.ts";
import { ArgumentError } from "../errors.ts";
import { SITES } from "../model/hooks.ts";
import { loadModel } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";
import { isRemotePath, joinS3Url, objectCacheDir, objectExists, parseS3Url } from "../storage/object-store.ts";
import { resolveShard, shardLabel, shardName } from "../util/shard.ts";
import { choiceArg, intArg, intList, parseCliArgs, requiredArg, requiredPositional } from "./args.ts";
import { stopOnSignals } from "./signals.ts";

const USAGE = "safesail harvest MODEL --corpus FILE --layers 0,2,4 --out DIR [options]";

const HELP = `usage: ${USAGE}

Runs MODEL over the corpus and stores the activations of every given layer at one hook site
(blocks.{L}.hook_{site}) in one pass: DIR/manifest.json plus chunk-NNNNN.safetensors files.

  --corpus FILE         one document per line, or JSONL (.jsonl/.ndjson/.json) with "text", "prompt",
                        "messages" (chat list, always templated) or "ids" per line
  --layers L,L,...      layer indices
  --out DIR             the store; an interrupted harvest in DIR is resumed by the same command. Or
                        s3://BUCKET/PREFIX: harvested into a local staging folder (the cache's copy of the URL),
                        then uploaded, the manifest last (docs/scale-out.md, "Object storage")
  --site S              resid_pre | attn_out | resid_mid | mlp_out | resid_post (default mlp_out)
  --no-chat             tokenise plain text / prompts as written (default: as a user turn of the chat
                        template followed by the assistant header; --chat says so explicitly)
  --max-tokens N        stop after N tokens (default: the whole corpus)
  --max-doc-tokens N    cut longer documents (default min(1024, max_position_embeddings))
  --batch-tokens N      most tokens per forward pass (default 2048)
  --chunk-tokens N      rows per chunk file (default 16384)
  --dtype F32|F16|BF16  storage of the activations (default F32)
  --format text|jsonl   corpus format (default from the file extension)
  --lossy-utf8          read bytes that are not UTF-8 as U+FFFD (default: refuse the corpus, naming the
                        line and byte offset)
  --overwrite           replace an existing store in DIR instead of resuming it; a resume is refused if a
                        corpus line already harvested changed (edits after that point are fine)
  --shard I/N           harvest only shard I (0-based) of N: a contiguous range of the corpus's lines, into
                        DIR/shard-IIII-of-NNNN/ (not with --max-tokens). Default from the environment: a Slurm
                        array task (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT), a Kubernetes Indexed Job
                        (JOB_COMPLETION_INDEX with SAFESAIL_SHARD_COUNT set to the Job's completions) or
                        SAFESAIL_SHARD=I/N; --shard none ignores the environment. Then: safesail harvest merge
  --json                print a JSON summary

The whole corpus is checked (UTF-8, JSON, document shapes) before the first forward pass. Every token is
stored, special ones (chat markers, BOS/EOS) flagged in the chunk's "special" tensor; readers can leave them out.

safesail harvest merge --help: joining shard stores into one (docs/scale-out.md).`;

const MERGE_USAGE = "safesail harvest merge [SHARD_DIR...] --out DIR [--overwrite] [--json]";

const MERGE_HELP = `usage: ${MERGE_USAGE}

Joins the shard stores of a sharded harvest (safesail harvest --shard I/N --out DIR, one per shard, in
DIR/shard-IIII-of-NNNN/) into one store in DIR: the store an unsharded harvest of the same corpus with the same
settings writes, byte for byte. Without SHARD_DIRs, the shard folders inside --out are merged; a SHARD_DIR that
holds shard folders stands for them.

Checked before anything is written, each error naming the shard folder and the field: every shard is complete;
one shard per index 0..N-1 (no gap, no overlap) and their document ranges tile the corpus; the same model
(fingerprint), site, layers, dtype, corpus (sha256) and harvest settings. Every tensor read is checked against
its sha256. Streams one chunk at a time; chunks are written atomically and the manifest last.

DIR and SHARD_DIRs may be s3://BUCKET/PREFIX URLs (the shards of harvest --shard I/N --out s3://...): shards are
read through the local cache (one whose upload did not finish is refused), and an s3:// DIR is merged locally and
then uploaded, the manifest last (docs/scale-out.md, "Object storage").

  --out DIR      the merged store (default: the one SHARD_DIR given, when it holds the shard folders);
                 shard folders inside it are kept (delete them once the merge is checked)
  --overwrite    replace a store already in DIR
  --json         print a JSON summary`;

async function harvestMergeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    allowPositionals: true,
    usage: MERGE_USAGE,
    help: MERGE_HELP,
    options: { out: { type: "string" }, overwrite: { type: "boolean" }, json: { type: "boolean" } },
  });
  let out = values.out;
  if (out === undefined) {
    if (positionals.length === 1 && !existsSync(path.join(positionals[0]!, MANIFEST_FILE))) out = positionals[0]!;
    else out = requiredArg(values, "out", { metavar: "DIR", hint: "the merged store folder" });
  }
  if (out === "") throw new ArgumentError("--out DIR is required (the merged store folder)", { field: "out" });
  // A folder with a manifest is a shard store; another folder stands for the shard folders inside it. Either may
  // be an s3:// URL.
  const hasManifest = async (p: string) => (isRemotePath(p) ? objectExists(joinS3Url(parseS3Url(p, "SHARD_DIR").url, MANIFEST_FILE)) : existsSync(path.join(p, MANIFEST_FILE)));
  if (isRemotePath(out)) parseS3Url(out, "--out");
  const dirs: string[] = [];
  for (const p of positionals.length ? positionals : [out]) {
    if (p !== out && (await hasManifest(p))) dirs.push(p);
    else dirs.push(...(await findShardDirs(p)));
  }
  const stop = stopOnSignals("safesail harvest merge: stopping; run the same command again to start the merge over");
  try {
    const store = await mergeActivationShards(dirs, { out, overwrite: values.overwrite ?? false, progress: values.json ? undefined : terminalProgress(), signal: stop.signal });
    const m = store.manifest;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ out: store.source, shards: dirs.length, hooks: m.hooks, d_model: m.d_model, dtype: m.dtype, tokens: m.tokens, documents: m.documents, chunks: m.chunks.length })}\n`);
    } else {
      process.stdout.write(`${store.source}: ${dirs.length} shards merged: ${m.tokens} tokens from ${m.documents} documents, ${m.hooks.join(", ")}, ${m.chunks.length} chunk${m.chunks.length === 1 ? "" : "s"}\n`);
    }
    return 0;
  } catch (err) {
    if (stop.signal.aborted && (err as Error).name === "AbortError") {
      process.stderr.write(`safesail harvest merge: interrupted; ${out} holds no merged store (no manifest); run the same command again\n`);
      return 130;
    }
    throw err;
  } finally {
    stop.release();
  }
}

export async function harvestCommand(args: string[]): Promise<number> {
  if (args[0] === "merge") return harvestMergeCommand(args.slice(1));
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 1,
    usage: USAGE,
    help: HELP,
    options: {
      corpus: { type: "string" },
      layers: { type: "string" },
      site: { type: "string" },
      out: { type: "string" },
      "max-tokens": { type: "string" },
      "max-doc-tokens": { type: "string" },
      "batch-tokens": { type: "string" },
      "chunk-tokens": { type: "string" },
      dtype: { type: "string" },
      format: { type: "string" },
      "lossy-utf8": { type: "boolean" },
      chat: { type: "boolean" },
      "no-chat": { type: "boolean" },
      overwrite: { type: "boolean" },
      shard: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  // Everything that can be checked without the model is checked before loading it.
  const modelPath = requiredPositional(positionals, 0, "MODEL", USAGE);
  const corpus = requiredArg(values, "corpus", { metavar: "FILE", hint: "one document per line, or JSONL" });
  const out = requiredArg(values, "out", { metavar: "DIR", hint: "the activation store folder" });
  const layers = intList(values, "layers", { min: 0, required: "comma-separated layer indices, e.g. --layers 0,2,4" });
  const site = choiceArg(values, "site", SITES, { default: "mlp_out" });
  const dtype = choiceArg(values, "dtype", STORE_DTYPES, { default: "F32", normalize: (s) => s.toUpperCase() });
  const format = choiceArg(values, "format", ["text", "jsonl"] as const);
  const limits = {
    maxTokens: intArg(values, "max-tokens", { min: 1 }),
    maxDocTokens: intArg(values, "max-doc-tokens", { min: 1 }),
    batchTokens: intArg(values, "batch-tokens", { min: 1 }),
    chunkTokens: intArg(values, "chunk-tokens", { min: 1 }),
  };
  const shard = resolveShard(values.shard);
  if (shard && limits.maxTokens !== undefined) {
    throw new ArgumentError(`--max-tokens cannot be combined with a shard (${shardLabel(shard)}, from ${shard.source}): the limit is on the whole corpus's token stream; cut the corpus file instead${shard.source === "--shard" ? "" : ", or give --shard none to run unsharded"}`, { field: "max-tokens" });
  }
  const remote = isRemotePath(out);
  if (remote) parseS3Url(out, "--out"); // a bad URL fails before the model loads
  if (shard && shard.source !== "--shard") process.stderr.write(`safesail harvest: shard ${shardLabel(shard)} (from ${shard.source}) -> ${remote ? joinS3Url(out, shardName(shard)) : path.join(out, shardName(shard))}\n`);

  const model = await loadModel(modelPath, { progress: terminalProgress() });
  const stop = stopOnSignals("safesail harvest: stopping after the current batch");
  try {
    const store = await harvest(model, corpus, {
      layers,
      site,
      out,
      dtype,
      format,
      invalidUtf8: values["lossy-utf8"] ? "replace" : "error",
      chat: !values["no-chat"],
      overwrite: values.overwrite ?? false,
      ...limits,
      ...(shard ? { shard: { index: shard.index, count: shard.count } } : {}),
      progress: terminalProgress(),
      signal: stop.signal,
    });
    const m = store.manifest;
    if (values.json) {
      const summary = { out: store.source, ...(m.shard ? { shard: shardLabel(m.shard), documents_range: [m.shard.documents.from, m.shard.documents.to] } : {}), hooks: m.hooks, d_model: m.d_model, dtype: m.dtype, tokens: m.tokens, special_tokens: m.special_tokens, documents: m.documents, truncated_documents: m.truncated_documents, chunks: m.chunks.length, limit_reached: m.limit_reached };
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
      process.stdout.write(
        `${store.source}: ${m.tokens} tokens from ${m.documents} documents (${m.truncated_documents} cut at ${m.options.max_doc_tokens} tokens${m.limit_reached ? `; stopped at --max-tokens ${m.options.max_tokens}` : ""}), ` +
          `${m.hooks.join(", ")} as ${m.dtype} [tokens, ${m.d_model}], ${m.chunks.length} chunk${m.chunks.length === 1 ? "" : "s"}` +
          (m.shard ? `; shard ${shardLabel(m.shard)} (documents ${m.shard.documents.from}..${m.shard.documents.to - 1}): merge the ${m.shard.count} shards with safesail harvest merge --out ${out}` : "") +
          "\n",
      );
    }
    return 0;
  } catch (err) {
    if (stop.signal.aborted && (err as Error).name === "AbortError") {
      const kept = remote ? `${objectCacheDir(out)} (the staging folder of ${out}: the store is uploaded, manifest last, once the harvest finishes)` : out;
      process.stderr.write(`safesail harvest: interrupted; complete chunks are kept in ${kept}; run the same command again to resume\n`);
      return 130;
    }
    throw err;
  } finally {
    stop.release();
    await model.dispose();
  }
}
