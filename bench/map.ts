// The feature map on the released Safe-SAIL English database: time of each step, and the map-quality figures (10
// nearest neighbours sharing a domain tag, on the map and in the embedding, against 100 shuffles). Not a test; run
// by hand and write the figures in bench/README.md and docs/map.md.
//
//   npx tsx bench/map.ts                          # seeds 0,1,2 at 64 dimensions (~40 s on 2 cores)
//   npx tsx bench/map.ts --seeds 0 --dims 32,64,100
//   npx tsx bench/map.ts --seeds 0 --epochs 200   # fewer UMAP epochs than umap-js's rule (400 at this size)
//   npx tsx bench/map.ts --db DB --embedding MODEL
import { resolve } from "node:path";
import { buildMap, readMapSource, type NeighbourAgreement } from "../src/map/index.ts";

function listFlag(name: string, fallback: number[]): number[] {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = (process.argv[i + 1] ?? "").split(",").map(Number);
  if (!v.length || v.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`${name}: expected comma-separated non-negative integers, got ${process.argv[i + 1]}`);
  return v;
}

function stringFlag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1]!;
}

const f3 = (v: number | null | undefined) => (v === null || v === undefined ? "  -  " : v.toFixed(3));

function figure(a: NeighbourAgreement): string {
  const s = a.shuffled;
  return `${f3(a.agreement)}  shuffled ${f3(s?.mean)} [${f3(s?.low)}, ${f3(s?.high)}]  chance ${f3(a.chance)}`;
}

async function main(): Promise<void> {
  const db = stringFlag("--db", resolve(import.meta.dirname, "../data/safe-sail/safe-sail-en_db.json"));
  const embedding = stringFlag("--embedding", "tfidf");
  const seeds = listFlag("--seeds", [0, 1, 2]);
  const dimsList = embedding === "tfidf" ? listFlag("--dims", [64]) : [0];
  const [epochs] = listFlag("--epochs", [0]);
  let t = performance.now();
  const { records, format } = await readMapSource(db);
  console.log(`node ${process.version}; ${db} (${format}): ${records.length} features, read in ${((performance.now() - t) / 1000).toFixed(2)} s`);
  for (const dims of dimsList) {
    for (const seed of seeds) {
      const steps: [string, number][] = [];
      t = performance.now();
      const map = await buildMap(records, { seed, embedding, ...(dims ? { dims } : {}), ...(epochs ? { nEpochs: epochs } : {}), onStep: (s, ms) => steps.push([s, ms]) });
      const total = (performance.now() - t) / 1000;
      const q = map.quality!;
      console.log(`\nembedding ${embedding}${dims ? ` dims ${dims}` : ""}, seed ${seed}: ${map.points.length} placed, ${map.unplaced.length} unplaced, ${map.clusters.length} clusters; UMAP nNeighbors ${map.layout.nNeighbors}, ${map.layout.nEpochs} epochs`);
      console.log(`  time  ${steps.map(([s, ms]) => `${s} ${(ms / 1000).toFixed(2)} s`).join(", ")}; total ${total.toFixed(1)} s; RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
      console.log(`  agreement@${q.map.k} over ${q.map.scored} tagged of ${q.map.points} placed`);
      console.log(`    map        ${figure(q.map)}`);
      console.log(`    embedding  ${figure(q.embedding)}`);
      for (const d of q.map.byDomain) {
        const e = q.embedding.byDomain.find((x) => x.domain === d.domain)!;
        console.log(`    ${d.domain.padEnd(11)} n=${String(d.features).padStart(4)}  map ${f3(d.agreement)}  embedding ${f3(e.agreement)}  chance ${f3(d.chance)}`);
      }
      if ("explainedVariance" in map.embedding) console.log(`  SVD keeps ${(map.embedding.explainedVariance * 100).toFixed(1)}% of the TF-IDF matrix's squared norm (${map.embedding.terms} terms)`);
      for (const w of map.warnings) console.log(`  warning: ${w}`);
    }
  }
}

await main();
