// Stage 2 of Safe-SAIL in one import for notebooks and scripts: activation examples and their store, the
// OpenAI-compatible client with its replay cache, explainers and simulators (LLM and offline baselines), and the
// TLS / SLS / detection scores.
export * from "./types.ts";
export * from "./example-store.ts";
export * from "./llm.ts";
export * from "./replay-cache.ts";
export * from "./prompts.ts";
export * from "./explainers.ts";
export * from "./simulators.ts";
export * from "./scoring.ts";
export * from "./score.ts";
export * from "./examples.ts";
