// Stage 1b of Safe-SAIL in one import for notebooks: contrastive pairs and the domain corpus, the metrics
// (L0,t, I_CDF, probes), the precision-recall filter and the configuration sweep.
export * from "./contrastive.ts";
export * from "./probes.ts";
export * from "./features.ts";
export * from "./evaluate.ts";
export * from "./filter.ts";
export * from "./sweep.ts";
export { readPairs, writePairs, generatePairs, pairsByConcept, type ContrastivePair } from "./pairs.ts";
export { readDomainCorpus, writeDomainCorpus, generateDomainCorpus, type DomainSample } from "./domain-corpus.ts";
