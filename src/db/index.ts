// safesail/db: the feature database (records, file store, Safe-SAIL import/export, Neuronpedia-style export, queries).
export * from "./records.ts";
export * from "./safe-sail.ts";
export * from "./store.ts";
export * from "./query.ts";
export * from "./neuronpedia.ts";
export * from "./interpretation.ts";
export * from "./shards.ts";
