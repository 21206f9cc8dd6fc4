// Stage 1b of Safe-SAIL in one import for notebooks: contrastive pairs and the domain corpus, the metrics
// (L0,t, I_CDF, probes), the precision-recall filter and the configuration sweep.
export * from "./contrastive.ts";
export * from "./probes.ts";
export * from "./features.ts";
export * from "./evaluate.ts";
export * from "./filter.ts";
export * from "./sweep.ts";
export * from "./normalise.ts";
export * from "./figures.ts";
// The data the metrics read (formats in src/data/; the builders of the committed files are data/*-build.ts).
export { readPairs, writePairs, pairsByConcept, type ContrastivePair } from "../data/pairs.ts";
export { readDomainCorpus, writeDomainCorpus, type DomainSample } from "../data/domain-corpus.ts";
/** @deprecated since 0.2: import the builders from `safesail/data`. Kept one release. */
export { generatePairs, generateDomainCorpus } from "../data/index.ts";
