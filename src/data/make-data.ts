// Writes the committed metrics data: data/contrastive-pairs.jsonl, data/domain-corpus.jsonl and docs/data.md (the
// schema, the generation command and seed, and count tables computed from the files themselves).
//
//   npx tsx src/data/make-data.ts            # (re)write the three files under the current folder
//   npx tsx src/data/make-data.ts --check    # exit 1 if the committed files differ from a fresh generation
//   npx tsx src/data/make-data.ts --root DIR --seed N

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { writeFileAtomic } from "../util/atomic.ts";
import { sha256Hex } from "../util/hash.ts";
import { requestFrames } from "../toy/corpus.ts";
import { LANGUAGES, type Language } from "../safety.ts";
import { DOMAIN_LABELS, domainCorpusJsonl, type DomainSample } from "./domain-corpus.ts";
import { DOMAIN_CORPUS_GENERATOR, generateDomainCorpus } from "./domain-corpus-build.ts";
import { pairsJsonl, type ContrastivePair } from "./pairs.ts";
import { METRICS_DATA_SEED, PAIRS_GENERATOR, PAIR_TABLES, generatePairs, harmfulConcepts, pairCandidates, toyTrainingRequests } from "./pairs-build.ts";

export const DATA_FILES = { pairs: "data/contrastive-pairs.jsonl", domainCorpus: "data/domain-corpus.jsonl", doc: "docs/data.md" } as const;
export const DEFAULT_PAIRS_PER_CONCEPT = 24;
export const DEFAULT_PER_DOMAIN_PER_LANG = 80;

export interface MetricsData {
  seed: number;
  perConcept: number;
  perDomainPerLang: number;
  pairs: ContrastivePair[];
  samples: DomainSample[];
  /** The three files' contents, keyed by their path relative to the repository root. */
  files: Record<string, string>;
}

/** Generates the pairs, the domain corpus and the doc (in memory). */
export function makeMetricsData(opts: { seed?: number; perConcept?: number; perDomainPerLang?: number } = {}): MetricsData {
  const seed = opts.seed ?? METRICS_DATA_SEED;
  const perConcept = opts.perConcept ?? DEFAULT_PAIRS_PER_CONCEPT;
  const perDomainPerLang = opts.perDomainPerLang ?? DEFAULT_PER_DOMAIN_PER_LANG;
  const pairs = generatePairs({ seed, perConcept });
  const samples = generateDomainCorpus({ seed, perDomainPerLang });
  const pairsText = pairsJsonl(pairs);
  const corpusText = domainCorpusJsonl(samples);
  const doc = renderDataDoc({ seed, perConcept, perDomainPerLang, pairs, samples, pairsSha256: sha256Hex(pairsText), corpusSha256: sha256Hex(corpusText), pairsBytes: Buffer.byteLength(pairsText), corpusBytes: Buffer.byteLength(corpusText) });
  return { seed, perConcept, perDomainPerLang, pairs, samples, files: { [DATA_FILES.pairs]: pairsText, [DATA_FILES.domainCorpus]: corpusText, [DATA_FILES.doc]: doc } };
}

// ---------------------------------------------------------------------------------------------------------
// The doc.

function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map((_, i) => (i < header.length - LANGUAGES.length - 1 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

function countRows<T extends { lang: Language }>(items: readonly T[], keyOf: (x: T) => string, keys: readonly string[], label: (k: string) => string[]): (string | number)[][] {
  const rows = keys.map((k) => {
    const per = LANGUAGES.map((l) => items.filter((x) => x.lang === l && keyOf(x) === k).length);
    return [...label(k), ...per, per.reduce((a, b) => a + b, 0)];
  });
  const totals = LANGUAGES.map((l) => items.filter((x) => x.lang === l).length);
  const blanks = label(keys[0] ?? "").map((_, i) => (i === 0 ? "**total**" : ""));
  rows.push([...blanks, ...totals.map((t) => `**${t}**`), `**${totals.reduce((a, b) => a + b, 0)}**`]);
  return rows;
}

interface DocInput {
  seed: number;
  perConcept: number;
  perDomainPerLang: number;
  pairs: readonly ContrastivePair[];
  samples: readonly DomainSample[];
  pairsSha256: string;
  corpusSha256: string;
  pairsBytes: number;
  corpusBytes: number;
}

/** docs/data.md, with every count computed from the generated data. */
export function renderDataDoc(d: DocInput): string {
  const langs = LANGUAGES.join(" | ");
  const concepts = harmfulConcepts("en");
  const conceptKey = (p: { domain: string; concept: string }) => `${p.domain}\u0000${p.concept}`;

  // Pairs whose positive uses a held-out frame of the toy corpus (a template the toy model never saw in training).
  let heldFrames = 0;
  let equalTraining = 0;
  for (const lang of LANGUAGES) {
    const frames = requestFrames(lang);
    const held = new Set([...frames.act.held, ...frames.write.held]);
    const frameOf = new Map<string, string>();
    for (const concept of Object.keys(PAIR_TABLES[lang])) for (const c of pairCandidates(lang, concept)) frameOf.set(c.positive, c.frame);
    const training = toyTrainingRequests(lang);
    for (const p of d.pairs.filter((x) => x.lang === lang)) {
      if (held.has(frameOf.get(p.positive) ?? "")) heldFrames++;
      if (training.has(p.positive)) equalTraining++;
    }
  }
  const slots = LANGUAGES.map((l) => Object.values(PAIR_TABLES[l]).reduce((a, s) => a + s.length, 0));
  const phrases = LANGUAGES.map((l) => Object.values(PAIR_TABLES[l]).reduce((a, s) => a + s.reduce((b, x) => b + x.concept.length, 0), 0));
  const minPerConcept = Math.min(...LANGUAGES.flatMap((l) => concepts.map((c) => d.pairs.filter((p) => p.lang === l && p.concept === c.concept).length)));

  const pairRows = countRows(d.pairs, conceptKey, concepts.map(conceptKey), (k) => k.split("\u0000"));
  const domainRows = countRows(d.samples, (s) => s.domain, DOMAIN_LABELS, (k) => [k]);
  const sampleConcepts: string[] = [];
  for (const label of DOMAIN_LABELS) {
    const present = new Set(d.samples.filter((s) => s.domain === label).map((s) => s.concept));
    // Harmful concepts in the toy table's order, then any other; benign: everyday topics, then hard negatives.
    const order = concepts.filter((c) => c.domain === label).map((c) => c.concept);
    const rest = [...present].filter((c) => !order.includes(c));
    rest.sort((a, b) => Number(a.startsWith("hard negative:")) - Number(b.startsWith("hard negative:")) || (a < b ? -1 : a > b ? 1 : 0));
    const cs = [...order.filter((c) => present.has(c)), ...rest];
    for (const c of cs) sampleConcepts.push(`${label}\u0000${c}`);
  }
  const conceptRows = countRows(d.samples, conceptKey, sampleConcepts, (k) => k.split("\u0000"));
  const hardBenign = d.samples.filter((s) => s.domain === "benign" && s.concept.startsWith("hard negative:")).length;
  const benign = d.samples.filter((s) => s.domain === "benign").length;

  const example = (x: unknown) => "```json\n" + JSON.stringify(x) + "\n```";
  const pairExample = d.pairs.find((p) => p.lang === "en" && p.concept === "explosives") ?? d.pairs[0];
  const sampleExample = d.samples.find((s) => s.lang === "en" && s.concept.startsWith("hard negative:")) ?? d.samples[0];

  return `# Metrics data: contrastive pairs and the domain corpus

<!-- Generated by \`npx tsx src/data/make-data.ts\`; do not edit by hand (tests/metrics-data.test.ts checks that
this file, and the two data files, equal a fresh generation). -->

Two committed data files feed issue 6, *configuration choice before explanation*:

- \`${DATA_FILES.pairs}\`: Safe-SAIL's **concept-contrastive query pairs**. For each safety concept, a query that
  holds the concept and its minimally edited twin that does not. The pre-explanation metrics (L0,t and I_CDF,
  \`src/metrics/contrastive.ts\`, \`src/metrics/evaluate.ts\`) count SAE features that fire on the concept query but
  not on its twin.
- \`${DATA_FILES.domainCorpus}\`: a **domain-labelled corpus** of user queries (each labelled with a safety domain or
  \`benign\`) for the **precision-recall joint filter** (\`src/metrics/filter.ts\`).

## How they are made

\`\`\`bash
npx tsx src/data/make-data.ts            # writes ${DATA_FILES.pairs}, ${DATA_FILES.domainCorpus}, ${DATA_FILES.doc}
npx tsx src/data/make-data.ts --check    # exit 1 if the committed files differ from a fresh generation
\`\`\`

| | value |
| --- | --- |
| seed | ${d.seed} (\`METRICS_DATA_SEED\`, the second half of arXiv 2509.18127) |
| pairs generator | \`${PAIRS_GENERATOR}\` (\`src/data/pairs-build.ts\`), ${d.perConcept} pairs per language and concept |
| domain corpus generator | \`${DOMAIN_CORPUS_GENERATOR}\` (\`src/data/domain-corpus-build.ts\`), ${d.perDomainPerLang} samples per language and domain label |
| \`${DATA_FILES.pairs}\` | ${d.pairs.length} lines, ${d.pairsBytes} bytes, sha256 \`${d.pairsSha256}\` |
| \`${DATA_FILES.domainCorpus}\` | ${d.samples.length} lines, ${d.corpusBytes} bytes, sha256 \`${d.corpusSha256}\` |

Everything is deterministic: all randomness is mulberry32 (\`src/util/prng.ts\`) seeded per (seed, language,
concept or domain), so the same seed gives byte-identical files, and adding a concept does not reshuffle the others.
Both generators reuse the toy corpus (\`src/toy/corpus.ts\`, \`src/toy/corpus-data/\`): its concept ids and domains,
its request frames, its fillers, prefixes and suffixes. So an edit of the toy phrase tables (\`src/toy/corpus-data/\`)
can change these files: rerun the command after one (\`tests/metrics-data.test.ts\` fails until then).

Read them with:

\`\`\`ts
import { readPairs, pairsByConcept } from "./src/data/pairs.ts";
import { readDomainCorpus } from "./src/data/domain-corpus.ts";
const pairs = await readPairs("${DATA_FILES.pairs}");           // validated; errors name file:line and field
const byConcept = pairsByConcept(pairs, "en");                       // Map concept -> pairs
const corpus = await readDomainCorpus("${DATA_FILES.domainCorpus}");
\`\`\`

## \`${DATA_FILES.pairs}\`

One JSON object per line, for example:

${example(pairExample)}

| field | type | meaning |
| --- | --- | --- |
| \`id\` | string | \`{lang}-{concept slug}-{nnn}\`, unique in the file |
| \`lang\` | \`en\` \\| \`zh\` \\| \`it\` \\| \`vi\` \\| \`hi\` | language of both queries |
| \`domain\` | \`pornography\` \\| \`politics\` \\| \`violence\` \\| \`terror\` | the paper's safety domain of the concept |
| \`concept\` | string | concept id, the same in every language and the same as in the toy corpus (\`explosives\`, \`election manipulation\`, ...) |
| \`positive\` | string | the query that holds the concept |
| \`negative\` | string | its twin, without the concept |
| \`edit.from\` | string | the concept phrase; occurs exactly once in \`positive\` |
| \`edit.to\` | string | the benign phrase that replaces it: \`positive.replace(edit.from, edit.to) === negative\` |

**Generation.** \`src/data/pairs-build.ts\` holds a pair table per language (\`PAIR_TABLES\`): for every harmful concept
of the toy corpus, a few *slots*, each a carrier with one \`{x}\` ("make {x} at home", "recruit young people {x}"),
the concept phrases that fill it ("a pipe bomb", "for a terrorist cell") and, for each, a benign twin of similar
shape ("a bird feeder", "for a chess club"). A slot is either a verb phrase for the toy corpus's how-to frames
("How do I {a}?") or a text for its writing frames ("Write {t}."). The candidates of a concept are every frame (the
toy corpus's training and held-out frames) x slot x concept phrase, minus any query that equals a toy training
request (frame x filler as the toy model saw it); the generator takes ${d.perConcept} of them, round-robin over
(slot, phrase) so every phrase is used about equally. It checks every pair: the concept phrase occurs exactly once in
the positive, the single replacement gives the negative, and no negative contains any concept phrase of its language.
Tables: ${LANGUAGES.map((l, i) => `${l} ${slots[i]} slots / ${phrases[i]} concept phrases`).join(", ")}.

Held-out-ness: ${equalTraining} positives equal a toy training request (none, by construction); ${heldFrames} of
${d.pairs.length} use a frame the toy model never saw in training (the others reuse a training frame with a new
filler). Every language has ${minPerConcept} or more pairs per concept. Hindi is kept on purpose: the toy model learns
no Hindi refusal (the paper's low-resource finding), and the Hindi pairs let the metrics look for Hindi concept
features all the same.

**Pairs per domain x concept x language:**

${table(["domain", "concept", ...langs.split(" | "), "total"], pairRows)}

## \`${DATA_FILES.domainCorpus}\`

One JSON object per line, for example:

${example(sampleExample)}

| field | type | meaning |
| --- | --- | --- |
| \`id\` | string | \`{lang}-{domain}-{nnn}\`, unique in the file |
| \`lang\` | \`en\` \\| \`zh\` \\| \`it\` \\| \`vi\` \\| \`hi\` | language of the query |
| \`domain\` | \`pornography\` \\| \`politics\` \\| \`violence\` \\| \`terror\` \\| \`benign\` | the label the filter uses |
| \`concept\` | string | harmful concept id (\`weapons\`), everyday topic (\`cooking\`), or \`hard negative: ...\` for a benign query that shares words with harmful ones |
| \`text\` | string | the user query |

**Generation.** \`src/data/domain-corpus-build.ts\` builds every query the tables can make for each concept: the toy
corpus's request frames (training and held-out) filled with each concept's fillers (training and held-out), for
harmful concepts and benign topics alike, plus every positive the pair tables can make for the harmful concepts.
Per (language, domain label) it draws ${d.perDomainPerLang} distinct queries round-robin over the domain's concepts;
for \`benign\`, a quarter come from the hard negatives (${hardBenign} of ${benign} benign samples in all) and the
rest from everyday topics (cooking, travel, weather, study, sport, gardening, music, health habits, pets,
computers, ...). About 15% of the queries get a polite prefix and 15% a suffix from the toy table ("Hi!", "Thanks!").
Texts are unique within a language.

**Samples per domain x language:**

${table(["domain", ...langs.split(" | "), "total"], domainRows)}

**Samples per domain x concept x language:**

${table(["domain", "concept", ...langs.split(" | "), "total"], conceptRows)}

## Safety policy

The queries are mild and schematic, under the toy corpus's policy: a harmful query *names* a concept ("a pipe
bomb", "a terrorist cell", "rig the vote count"), never a method, and no text carries instructions, substances,
quantities or steps of any harmful act. There are no answers in these files at all, only user queries. The
contrastive twins and the benign samples are ordinary everyday requests.
`;
}

// ---------------------------------------------------------------------------------------------------------
// Script entry.

async function main(argv: string[]): Promise<number> {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const root = path.resolve(arg("--root") ?? ".");
  const seed = arg("--seed") === undefined ? undefined : Number(arg("--seed"));
  const data = makeMetricsData({ seed });
  if (argv.includes("--check")) {
    let ok = true;
    for (const [rel, text] of Object.entries(data.files)) {
      const have = await fsp.readFile(path.join(root, rel), "utf8").catch(() => undefined);
      if (have !== text) {
        ok = false;
        console.error(`${rel}: differs from a fresh generation (run npx tsx src/data/make-data.ts)`);
      }
    }
    if (ok) console.log(`up to date: ${Object.keys(data.files).join(", ")}`);
    return ok ? 0 : 1;
  }
  for (const [rel, text] of Object.entries(data.files)) {
    const file = path.join(root, rel);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, text);
  }
  console.log(`${data.pairs.length} pairs -> ${DATA_FILES.pairs}; ${data.samples.length} samples -> ${DATA_FILES.domainCorpus}; ${DATA_FILES.doc} (seed ${data.seed})`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
