// The activations stage in one import for notebooks and later stages:
//   import { harvest, openActivationStore } from "./src/activations/index.ts";
export { harvest, modelFingerprint, HARVEST_DEFAULTS, type HarvestOptions } from "./harvest.ts";
export { mergeActivationShards, checkActivationShards, findShardDirs, type MergeShardsOptions } from "./merge.ts";
export { openActivationStore, ActivationStore, LayerReader, type ActivationReader, type BatchOptions, type ReaderOptions, type StoreChunk } from "./store.ts";
export { openCorpus, type Corpus, type CorpusDoc, type CorpusInput, type CorpusEntry, type CorpusFileFormat } from "./corpus.ts";
export { SITES, type Site } from "../model/hooks.ts";
export { STORE_DTYPES, STORE_FORMAT, STORE_VERSION, hookFor, type StoreDtype, type StoreManifest, type StoreShard, type ChunkEntry } from "./format.ts";
export { tokenizeDocument, documentIds, documentActivations, textActivations, TEXT_DEFAULTS, type TokenizedDocument, type DocumentActivations, type TextActivationsOptions, type TokenizeOptions } from "./text.ts";
