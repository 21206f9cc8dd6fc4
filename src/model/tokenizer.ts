// A small, offline wrapper over transformers.js' AutoTokenizer for a Hugging Face model folder
// (tokenizer.json + tokenizer_config.json). Nothing here touches the network.

import * as fs from "node:fs";
import * as path from "node:path";
import { FormatError, NotFoundError, describeValue } from "../errors.ts";
import { wrapTokenizer, type RawTokenizer } from "./tokenizer-json.ts";

export interface ChatMessage {
  role: string;
  content: string;
}

export interface EncodeOptions {
  /** Add the tokenizer's special tokens (BOS/EOS as configured). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens such as `<|im_end|>`. Default false. */
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  /** End with the assistant turn header so the model continues as the assistant. Default false. */
  addGenerationPrompt?: boolean;
}

export interface Tokenizer {
  /** Absolute path of the model folder. */
  readonly dir: string;
  /** Number of ids the tokenizer can produce (vocabulary plus added tokens). */
  readonly size: number;
  /** Ids that end generation: the tokenizer's eos token plus `generation_config.json` `eos_token_id`. */
  readonly eosTokenIds: number[];
  readonly bosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly hasChatTemplate: boolean;
  encode(text: string, opts?: EncodeOptions): number[];
  /** Ids the tokenizer does not know (e.g. embedding padding rows) decode to nothing. */
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** Renders the chat template to text (tokenize it with `encode(text, { addSpecialTokens: false })`). */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
  /**
   * Id of a special token, by content (`"<|im_end|>"`) or by role (`"eos"`, `"eos_token"`, `"pad"`, `"bos"`, `"unk"`).
   * Throws NotFoundError when the tokenizer has no such token.
   */
  specialTokenId(name: string): number;
  /** Id of any token string, or null. */
  tokenToId(token: string): number | null;
  /** Token string of an id, or null. */
  idToToken(id: number): string | null;
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new NotFoundError(`${file}: cannot read: ${(err as Error).message}`, { file, cause: err });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON: ${(err as Error).message}`, { file, cause: err });
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new FormatError(`${file}: must hold a JSON object, got ${describeValue(v)}`, { file });
  return v as Record<string, unknown>;
}


/**
 * The model folder has no `tokenizer.json`: the one case in which a model still loads without a tokenizer (it runs
 * on token ids; loadModel catches exactly this class). A tokenizer file that is present but unreadable, not JSON or
 * not a tokenizer is a FormatError naming the file, and loading the model fails with it.
 */
export class MissingTokenizerError extends NotFoundError {}

/**
 * The JSON of a model folder's tokenizer: tokenizer.json, tokenizer_config.json (with `chat_template` filled in from
 * chat_template.jinja or chat_template.json when it has none, as newer Hugging Face layouts store it) and
 * generation_config.json ({} when absent). Errors as loadTokenizer's.
 */
export function readTokenizerFiles(modelDir: string): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown>; generationConfig: Record<string, unknown>; chatTemplate: string | null } {
  const dir = path.resolve(modelDir);
  const tokenizerFile = path.join(dir, "tokenizer.json");
  const configFile = path.join(dir, "tokenizer_config.json");
  if (!fs.existsSync(dir)) throw new NotFoundError(`${modelDir}: model folder not found (cannot load the tokenizer)`, { file: dir });
  if (!fs.existsSync(tokenizerFile)) {
    throw new MissingTokenizerError(`${modelDir}: no tokenizer.json in the model folder (only fast tokenizer files are supported)`, { file: tokenizerFile });
  }
  const tokenizerJson = readJson(tokenizerFile);
  const tokenizerConfig = fs.existsSync(configFile) ? readJson(configFile) : {};
  let chatTemplate: string | null = typeof tokenizerConfig.chat_template === "string" ? tokenizerConfig.chat_template : null;
  if (tokenizerConfig.chat_template === undefined || tokenizerConfig.chat_template === null) {
    const jinja = path.join(dir, "chat_template.jinja");
    const json = path.join(dir, "chat_template.json");
    if (fs.existsSync(jinja)) chatTemplate = fs.readFileSync(jinja, "utf8");
    else if (fs.existsSync(json)) {
      const t = readJson(json).chat_template;
      if (typeof t === "string") chatTemplate = t;
    }
    if (chatTemplate !== null) tokenizerConfig.chat_template = chatTemplate;
  }
  const genFile = path.join(dir, "generation_config.json");
  const generationConfig = fs.existsSync(genFile) ? readJson(genFile) : {};
  return { tokenizerJson, tokenizerConfig, generationConfig, chatTemplate };
}

/**
 * Loads the tokenizer of a model folder offline. Throws MissingTokenizerError naming the folder when
 * `tokenizer.json` is missing, FormatError naming the file when `tokenizer.json`, `tokenizer_config.json`,
 * `generation_config.json` or `chat_template.json` is not valid JSON or does not build a tokenizer.
 */
export async function loadTokenizer(modelDir: string): Promise<Tokenizer> {
  const dir = path.resolve(modelDir);
  const tokenizerFile = path.join(dir, "tokenizer.json");
  const { tokenizerJson, chatTemplate, generationConfig } = readTokenizerFiles(modelDir);

  // Real models and ours load through the same AutoTokenizer path, offline: no hub, local files only.
  const { AutoTokenizer, env } = await import("@huggingface/transformers");
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(dir);
  let raw: RawTokenizer;
  try {
    raw = (await AutoTokenizer.from_pretrained(path.basename(dir), { local_files_only: true })) as unknown as RawTokenizer;
  } catch (err) {
    throw new FormatError(`${tokenizerFile}: cannot build the tokenizer: ${(err as Error).message}`, { file: tokenizerFile, cause: err });
  }
  if (!raw.chat_template && chatTemplate !== null) raw.chat_template = chatTemplate;
  return wrapTokenizer(raw, dir, tokenizerJson, generationConfig);
}

