// `safesail/data`: the committed data sets' formats (contrastive pairs, domain corpus) and their builders.
export * from "./pairs.ts";
export * from "./domain-corpus.ts";
export { generatePairs, PAIRS_GENERATOR, METRICS_DATA_SEED, PAIR_TABLES, type PairOptions } from "./pairs-build.ts";
export { generateDomainCorpus, DOMAIN_CORPUS_GENERATOR, type DomainCorpusOptions } from "./domain-corpus-build.ts";
