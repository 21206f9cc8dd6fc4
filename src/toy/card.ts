// The toy model's card: every figure in models/toy-safety-qwen2/README.md is measured here, from the
// committed model and its held-out prompts (`safesail toy card`).
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { FormatError } from "../errors.ts";
import { loadModel } from "../model/runtime.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";
import { TOY_HELDOUT_FILE } from "./build.ts";
import { parseJsonl } from "./corpus.ts";
import { behaviourMarkdown, evaluateBehaviour, type BehaviourReport } from "./eval.ts";
import { TOY_LANGUAGES, type ToyPrompt } from "./types.ts";

/** Reads and checks a held-out prompt file (`heldout.jsonl`). */
export async function readHeldOut(file: string): Promise<ToyPrompt[]> {
  const text = await fsp.readFile(file, "utf8");
  const prompts = parseJsonl<ToyPrompt>(text, file);
  prompts.forEach((p, i) => {
    const bad = (field: string) => new FormatError(`${file}:${i + 1}: field "${field}" is missing or invalid`, { file, field });
    if (p === null || typeof p !== "object") throw bad("(line)");
    if (typeof p.prompt !== "string" || p.prompt === "") throw bad("prompt");
    if (!TOY_LANGUAGES.includes(p.lang)) throw bad("lang");
    if (typeof p.harmful !== "boolean") throw bad("harmful");
    if (p.expected !== "refuse" && p.expected !== "comply") throw bad("expected");
    if (typeof p.domain !== "string") throw bad("domain");
  });
  return prompts;
}

export interface ToyCard {
  report: BehaviourReport;
  files: string[];
}

/** Evaluates the model folder on its held-out prompts and writes eval.json and README.md into it. */
export async function writeToyCard(dir: string, opts: { progress?: Progress; maxNewTokens?: number } = {}): Promise<ToyCard> {
  const prompts = await readHeldOut(path.join(dir, TOY_HELDOUT_FILE));
  const model = await loadModel(dir);
  let report: BehaviourReport;
  try {
    report = await evaluateBehaviour(model, prompts, { maxNewTokens: opts.maxNewTokens ?? 24, progress: opts.progress ?? silentProgress, modelName: path.basename(dir) });
  } finally {
    await model.dispose();
  }
  await writeJsonAtomic(path.join(dir, "eval.json"), report);
  await writeFileAtomic(path.join(dir, "README.md"), `# ${path.basename(dir)}\n\n${behaviourMarkdown(report)}\n`);
  return { report, files: [path.join(dir, "eval.json"), path.join(dir, "README.md")] };
}
