// The toy safety model end to end: corpus -> tokenizer -> chat-formatted training data -> training ->
// Hugging Face folder with its held-out prompts. `safesail toy build` and the model card script
// drive these functions; each stage is usable alone.
//
//   const corpus = generateCorpus({ seed: TOY_CORPUS_SEED });
//   const bpe = trainToyTokenizer(corpus.train);
//   const data = encodeCorpus(bpe, corpus.train);       // ids + loss masks (assistant answers only)
//   await trainToyModel({ config: toyModelConfig(bpe), ...data, ...TOY_TRAINING, outDir, save: { dir } });

import * as path from "node:path";
import { ArgumentError } from "../errors.ts";
import type { ModelConfig } from "../model/types.ts";
import type { Progress } from "../progress.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { encodeBpe, trainBpe, writeTokenizer, type BpeModel } from "../model/bpe.ts";
import { heldOutJsonl } from "./corpus.ts";
import type { ChatTurn, ToyConversation, ToyPrompt } from "./types.ts";

/** Where the committed model lives, relative to the repository root. */
export const TOY_MODEL_DIR = "models/toy-safety-qwen2";
/** The held-out prompt set written beside the model (never trained on). */
export const TOY_HELDOUT_FILE = "heldout.jsonl";
export const TOY_VOCAB_SIZE = 4096;

/**
 * The training recipe of the committed model. 5 epochs of the 12,000 conversations take about 45
 * minutes on 2 cores (about 1,400 tokens/s with 2 workers); the time budget is a safety net that
 * still exports a usable model if the machine is slower.
 */
export const TOY_TRAINING = {
  seed: 2509,
  batchSize: 16,
  seqLen: 192,
  epochs: 5,
  lr: 3e-3,
  checkpointEvery: 25,
  timeBudgetMinutes: 55,
} as const;

/** Qwen2 sizes of the toy model: hidden 256, 4 layers, 8 query heads over 2 KV heads (GQA), tied embeddings. */
export function toyModelConfig(bpe: BpeModel): ModelConfig {
  const imEnd = bpe.vocab.get("<|im_end|>");
  const eot = bpe.vocab.get("<|endoftext|>");
  if (imEnd === undefined) throw new ArgumentError('toyModelConfig: the tokenizer has no "<|im_end|>" token', { field: "bpe" });
  return {
    architecture: "Qwen2ForCausalLM",
    modelType: "qwen2",
    vocabSize: bpe.vocab.size,
    hiddenSize: 256,
    intermediateSize: 688,
    numLayers: 4,
    numHeads: 8,
    numKvHeads: 2,
    headDim: 32,
    rmsNormEps: 1e-6,
    ropeTheta: 1_000_000,
    ropeScaling: null,
    maxPositionEmbeddings: 1024,
    tieWordEmbeddings: true,
    attentionBias: true,
    oProjBias: false,
    mlpBias: false,
    bosTokenId: null,
    eosTokenIds: eot === undefined ? [imEnd] : [imEnd, eot],
  };
}

/** All text of the corpus the tokenizer learns from (message contents; the chat markup is special tokens). */
export function* corpusTexts(train: readonly ToyConversation[]): Generator<string> {
  for (const c of train) for (const m of c.messages) yield m.content;
}

/** A byte-level BPE of `vocabSize` ids (special tokens included) learned from the corpus. */
export function trainToyTokenizer(train: readonly ToyConversation[], opts: { vocabSize?: number; progress?: Progress } = {}): BpeModel {
  return trainBpe(corpusTexts(train), { vocabSize: opts.vocabSize ?? TOY_VOCAB_SIZE, progress: opts.progress });
}

export interface EncodedConversation {
  ids: number[];
  /** 1 where the token is predicted in training: every assistant content token and its `<|im_end|>`. */
  mask: number[];
}

/**
 * Token ids of a conversation exactly as the chat template renders it
 * (`<|im_start|>role\ncontent<|im_end|>\n` per turn), with the training mask.
 *
 * The pieces are encoded separately: the role header, the content, the closing `<|im_end|>` and the
 * newline. The pre-tokeniser never merges across "\n" + letter or a special token, so this equals
 * encoding the whole rendered string (checked in tests), while it tells which ids are the answer.
 */
export function encodeConversation(bpe: BpeModel, messages: readonly ChatTurn[]): EncodedConversation {
  const ids: number[] = [];
  const mask: number[] = [];
  const push = (text: string, counted: 0 | 1) => {
    for (const id of encodeBpe(bpe, text)) {
      ids.push(id);
      mask.push(counted);
    }
  };
  for (const m of messages) {
    push(`<|im_start|>${m.role}\n`, 0);
    const answer = m.role === "assistant" ? 1 : 0;
    // allowSpecial false for content: a literal "<|im_end|>" inside a message stays text.
    for (const id of encodeBpe(bpe, m.content, { allowSpecial: false })) {
      ids.push(id);
      mask.push(answer);
    }
    push("<|im_end|>", answer);
    push("\n", 0);
  }
  return { ids, mask };
}

/** Training sequences and loss masks of the whole corpus. */
export function encodeCorpus(bpe: BpeModel, train: readonly ToyConversation[]): { sequences: number[][]; lossMask: number[][] } {
  const sequences: number[][] = [];
  const lossMask: number[][] = [];
  for (const c of train) {
    const e = encodeConversation(bpe, c.messages);
    sequences.push(e.ids);
    lossMask.push(e.mask);
  }
  return { sequences, lossMask };
}

/** Writes the tokenizer files and the held-out prompts into the model folder. */
export async function writeToyModelExtras(dir: string, bpe: BpeModel, heldOut: readonly ToyPrompt[]): Promise<string[]> {
  const tok = await writeTokenizer(dir, bpe);
  await writeFileAtomic(path.join(dir, TOY_HELDOUT_FILE), heldOutJsonl(heldOut));
  return [...tok.files, TOY_HELDOUT_FILE];
}
