// The model stage in one import for notebooks, the CLI and later stages (`safesail/model`): loading, the
// hookable runtime, and THE hook-name vocabulary.
export * from "./runtime.ts";
export * from "./hooks.ts";
export * from "./default.ts";
export * from "./special-tokens.ts";
