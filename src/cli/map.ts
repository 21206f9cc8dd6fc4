// `safesail map`: a feature database as a 2-D map of its explanations (src/map/), written as MAP.json.
import { existsSync } from "node:fs";
import { ArgumentError } from "../errors.ts";
import { buildMap, readMapSource, writeMap, type NeighbourAgreement } from "../map/index.ts";
import { terminalProgress } from "../progress.ts";
import { intArg, parseCliArgs, requiredArg } from "./args.ts";

const SYNOPSIS = "safesail map --db DB --out MAP.json [--embedding tfidf|MODEL] [--seed S] [--dims N] [--clusters K] [--overwrite] [--json]";

const USAGE = `usage: ${SYNOPSIS}

Every feature with an explanation becomes a point of a 2-D map in which nearby points have alike explanations:
the explanations are embedded, laid out by UMAP (umap-js, seeded), clustered (k-means on the map) and the clusters
labelled with their most distinctive words. The map's quality is measured: the share of each tagged feature's 10
nearest neighbours that share a domain tag with it, against shuffled coordinates (docs/map.md).

  --db DB             a safesail feature database (safesail db import, explain) or a Safe-SAIL release file
                      (e.g. data/safe-sail/safe-sail-en_db.json); the format is detected from the file
  --out MAP.json      the map: points {id, x, y, cluster, tags, explanation, score}, clusters {id, label, words,
                      size}, unplaced features with the reason, the quality figures (written atomically)
  --embedding E       tfidf (default, offline): TF-IDF of words and word pairs + randomized SVD; it measures
                      shared words, not meaning. MODEL: a transformers.js feature-extraction model, a local folder
                      or a hub id (org/name[@revision], fetched through HF_ENDPOINT into the hub cache), with
                      config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx; mean pooling
  --seed S            seeds the SVD, UMAP, k-means and the shuffles (default 0); same seed, same file
  --dims N            TF-IDF: SVD components (default 64)
  --clusters K        number of clusters (default round(sqrt(placed / 2)) in [2, 30])
  --overwrite         replace an existing --out file
  --json              a JSON summary on stdout instead of text

Features without an explanation (null, or "***" where the release masks it: all its politics features) have no
text to place them by: they are left off the map and listed under "unplaced" with the reason. A map needs at least
5 placed features.`;

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? "undefined" : v.toFixed(3));

function agreementLine(name: string, a: NeighbourAgreement): string {
  if (a.agreement === null) return `${name}: undefined (${a.warnings.join("; ")})`;
  const s = a.shuffled!;
  return `${name} ${fmt(a.agreement)} (shuffled ${fmt(s.mean)} [${fmt(s.low)}, ${fmt(s.high)}], ${s.shuffles} shuffles; chance ${fmt(a.chance)})`;
}

export async function mapCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    maxPositionals: 0,
    usage: SYNOPSIS,
    help: USAGE,
    options: {
      db: { type: "string" },
      out: { type: "string" },
      embedding: { type: "string" },
      seed: { type: "string" },
      dims: { type: "string" },
      clusters: { type: "string" },
      overwrite: { type: "boolean" },
      json: { type: "boolean" },
    },
  });
  const db = requiredArg(values, "db", { metavar: "DB" });
  const out = requiredArg(values, "out", { metavar: "MAP.json" });
  const seed = intArg(values, "seed", { min: 0, default: 0 });
  const dims = intArg(values, "dims", { min: 1 });
  const clusters = intArg(values, "clusters", { min: 2 });
  const embedding = values.embedding ?? "tfidf";
  if (embedding !== "tfidf" && dims !== undefined) throw new ArgumentError("--dims applies to --embedding tfidf only (a model's vectors keep their size)", { field: "dims" });
  if (existsSync(out) && !values.overwrite) throw new ArgumentError(`--out: ${out} exists; pass --overwrite to replace it`, { field: "out", file: out });
  if (!existsSync(db)) throw new ArgumentError(`--db: ${db}: file not found`, { field: "db", file: db });
  const { records, format } = await readMapSource(db);
  const progress = terminalProgress();
  const timings: Record<string, number> = {};
  const map = await buildMap(records, {
    embedding,
    seed,
    dims,
    clusters,
    progress,
    source: { file: db, format },
    onStep: (step, ms) => (timings[step] = Math.round(ms)),
  });
  await writeMap(out, map);
  const q = map.quality!;
  if (values.json) {
    const summary = {
      out,
      source: map.source,
      placed: map.points.length,
      unplaced: map.unplaced.length,
      unplacedByReason: map.unplaced.reduce<Record<string, number>>((acc, u) => ((acc[u.reason] = (acc[u.reason] ?? 0) + 1), acc), {}),
      clusters: map.clusters.map((c) => ({ id: c.id, label: c.label, size: c.size })),
      embedding: map.embedding,
      layout: map.layout,
      quality: q,
      warnings: map.warnings,
      timings_ms: timings,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return 0;
  }
  const lines = [
    `${out}: ${map.points.length} of ${records.length} features placed (${format}), ${map.clusters.length} clusters, seed ${seed}`,
    `embedding: ${map.embedding.text}`,
    `neighbour agreement (${q.map.k} nearest, ${q.map.scored} tagged features of ${q.map.points}):`,
    `  ${agreementLine("map", q.map)}`,
    `  ${agreementLine("embedding", q.embedding)}`,
    "clusters:",
    ...map.clusters.map((c) => `  ${String(c.id).padStart(2)} ${String(c.size).padStart(5)}  ${c.label}`),
    ...map.warnings.map((w) => `warning: ${w}`),
    ...[...q.map.warnings, ...q.embedding.warnings].map((w) => `warning: ${w}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
