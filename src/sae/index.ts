// Stage 1a's SAE side in one import for notebooks: the TopK SAE, its training, evaluation and formats.
export * from "./sae.ts";
export { trainSae, type TrainSaeOptions, type TrainSaeResult, type SaeStepRecord, type ActivationSource } from "./train.ts";
export { evalSae, ceRecoveredWarnings, CE_ABLATION_MIN_RISE, type SaeEvalReport, type EvalSaeOptions, type EvalPositions } from "./eval.ts";
export { loadSae, saveSae } from "./saelens.ts";
export { trainSaeSweep, indexSaeSweep, sweepConfigs, sweepPlan, SWEEP_INDEX, type SaeSweepOptions, type SaeSweepResult, type SweepIndex, type SweepPlan, type SweepConfig } from "./sweep.ts";
export { encodeTopKOrt } from "./encode-ort.ts";
export { readSafeSailCheckpoint, readSafeSailIndices, safeSailSae, SAFE_SAIL_K, type SafeSailSaeOptions } from "./safe-sail-checkpoint.ts";
export type { LoadSaeOptions } from "./saelens.ts";
export { readTorchFile, readTorchTensorDict, toFloat32 } from "../formats/torch-pt.ts";
