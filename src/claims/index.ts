// `safesail/claims`: the paper's claims measured on the embedded toy model (notebook 07, docs/results.md): the SAE grid
// and its committed file, the figures computed from it and from the feature database, the layer hierarchy, and the
// results table with its verdict rules.
export * from "./grid.ts";
export * from "./measure.ts";
export * from "./hierarchy.ts";
export * from "./results.ts";
