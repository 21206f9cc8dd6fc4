// The embedded default model: the toy safety-tuned Qwen2 that ships in the repository (models/toy-safety-qwen2),
// so that every notebook, the demo and the tests run on a fresh clone with no download.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { NotFoundError } from "../errors.ts";
import { loadModel, type LoadOptions, type Model } from "./runtime.ts";

/** Absolute path of the embedded default model folder. */
export const DEFAULT_MODEL_DIR = resolve(import.meta.dirname, "..", "..", "models", "toy-safety-qwen2");

/** Loads the embedded default model (whatever the working folder: notebooks run from notebooks/). */
export async function loadDefaultModel(opts: LoadOptions = {}): Promise<Model> {
  if (!existsSync(join(DEFAULT_MODEL_DIR, "config.json"))) {
    throw new NotFoundError(`${DEFAULT_MODEL_DIR}: the embedded default model is missing (rebuild it with \`safesail toy train\`, or pass a model folder to loadModel)`, { file: DEFAULT_MODEL_DIR });
  }
  return loadModel(DEFAULT_MODEL_DIR, opts);
}
