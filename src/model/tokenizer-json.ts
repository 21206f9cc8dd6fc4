// A Tokenizer from the JSON of a Hugging Face tokenizer (tokenizer.json, tokenizer_config.json,
// generation_config.json), with no file access: the published pages tokenise with it (widgets/src/inpage).
// `wrapTokenizer` is also how Node's loadTokenizer (tokenizer.ts, over transformers.js' AutoTokenizer) builds its
// Tokenizer, so both share every rule above the raw tokenizer. The raw tokenizer here is @huggingface/tokenizers
// (the library under transformers.js' tokenizers) with the chat template rendered by @huggingface/jinja, as
// transformers.js' PreTrainedTokenizer does; tests/tokenizer-json.test.ts checks both give the same ids and text.
import { Template } from "@huggingface/jinja";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { ArgumentError, FormatError, NotFoundError } from "../errors.ts";
import type { ChatMessage, Tokenizer } from "./tokenizer.ts";

/** The transformers.js tokenizer surface we use (kept narrow so its types do not leak). */
export interface RawTokenizer {
  encode(text: string, opts: { add_special_tokens: boolean }): number[];
  decode(ids: number[], opts: { skip_special_tokens: boolean }): string;
  apply_chat_template(messages: ChatMessage[], opts: Record<string, unknown>): unknown;
  convert_tokens_to_ids(token: string): number | undefined | null;
  get_vocab(): Map<string, number> | Record<string, number>;
  eos_token_id?: number | null;
  bos_token_id?: number | null;
  pad_token_id?: number | null;
  unk_token_id?: number | null;
  eos_token?: string | null;
  bos_token?: string | null;
  pad_token?: string | null;
  unk_token?: string | null;
  chat_template: unknown;
}

const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** The special-token attributes a chat template sees (transformers.js passes the same ones). */
const TEMPLATE_TOKENS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;

/** A token named in tokenizer_config.json: a string or an AddedToken object. */
function configToken(config: Record<string, unknown>, key: string): string | null {
  const item = config[key];
  if (typeof item === "string" && item !== "") return item;
  if (item && typeof item === "object" && typeof (item as { content?: unknown }).content === "string") return (item as { content: string }).content;
  return null;
}

export interface TokenizerJson {
  /** What errors and `Tokenizer.dir` name (a published page: the model's name). */
  dir: string;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
}

/** Builds the Tokenizer of `loadTokenizer` from the JSON objects of the tokenizer files. */
export function tokenizerFromJson(files: TokenizerJson): Tokenizer {
  const { dir, tokenizerJson, tokenizerConfig } = files;
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(tokenizerJson, tokenizerConfig);
  } catch (err) {
    throw new FormatError(`${dir}: cannot build the tokenizer: ${(err as Error).message}`, { file: dir, cause: err });
  }
  const id = (key: string, fallback?: string): number | null => {
    const token = configToken(tokenizerConfig, key) ?? (fallback ? configToken(tokenizerConfig, fallback) : null);
    const v = token === null ? undefined : hf.token_to_id(token);
    return isId(v) ? v : null;
  };
  const chatTemplate = typeof tokenizerConfig.chat_template === "string" ? tokenizerConfig.chat_template : null;
  let compiled: Template | null = null;
  const raw: RawTokenizer = {
    encode: (text, opts) => hf.encode(text, { add_special_tokens: opts.add_special_tokens }).ids,
    decode: (ids, opts) => hf.decode(ids, { skip_special_tokens: opts.skip_special_tokens }),
    apply_chat_template(messages, opts) {
      if (chatTemplate === null) throw new Error("no chat template");
      compiled ??= new Template(chatTemplate);
      const specials: Record<string, string> = {};
      for (const key of TEMPLATE_TOKENS) {
        const t = configToken(tokenizerConfig, key);
        if (t !== null) specials[key] = t;
      }
      return compiled.render({ messages, add_generation_prompt: opts.add_generation_prompt === true, tools: null, documents: null, ...specials });
    },
    convert_tokens_to_ids: (token) => hf.token_to_id(token),
    get_vocab: () => hf.get_vocab() as Map<string, number> | Record<string, number>,
    eos_token_id: id("eos_token"),
    bos_token_id: id("bos_token"),
    pad_token_id: id("pad_token", "eos_token"),
    unk_token_id: id("unk_token"),
    chat_template: chatTemplate,
  };
  return wrapTokenizer(raw, dir, tokenizerJson, files.generationConfig ?? {});
}

/**
 * The Tokenizer over a transformers.js-style tokenizer (`raw`), with the tokenizer.json and generation_config.json
 * objects it was built from: one definition of ids, eos, special tokens and the chat template for Node (loadTokenizer)
 * and the published pages (tokenizerFromJson).
 */
export function wrapTokenizer(raw: RawTokenizer, dir: string, tokenizerJson: Record<string, unknown>, generationConfig: Record<string, unknown>): Tokenizer {
  const vocab = raw.get_vocab();
  const entries: [string, number][] = vocab instanceof Map ? [...vocab.entries()] : Object.entries(vocab);
  const byId = new Map<number, string>();
  for (const [tok, id] of entries) byId.set(id, tok);
  const added = Array.isArray(tokenizerJson.added_tokens) ? (tokenizerJson.added_tokens as { id?: unknown; content?: unknown }[]) : [];
  for (const t of added) if (isId(t.id) && typeof t.content === "string") byId.set(t.id, t.content);
  const size = Math.max(-1, ...byId.keys()) + 1;

  const tokenToId = (token: string): number | null => {
    const id = raw.convert_tokens_to_ids(token);
    return isId(id) ? id : null;
  };
  const eos = new Set<number>();
  if (isId(raw.eos_token_id)) eos.add(raw.eos_token_id);
  const e = generationConfig.eos_token_id;
  for (const id of Array.isArray(e) ? e : [e]) if (isId(id) && id < size) eos.add(id);
  const roles: Record<string, () => number | null | undefined> = {
    eos: () => raw.eos_token_id,
    bos: () => raw.bos_token_id,
    pad: () => raw.pad_token_id,
    unk: () => raw.unk_token_id,
  };
  return {
    dir,
    size,
    eosTokenIds: [...eos],
    bosTokenId: isId(raw.bos_token_id) ? raw.bos_token_id : null,
    padTokenId: isId(raw.pad_token_id) ? raw.pad_token_id : null,
    hasChatTemplate: raw.chat_template !== null && raw.chat_template !== undefined,
    encode(text, opts = {}) {
      if (typeof text !== "string") throw new ArgumentError(`encode: text must be a string`, { field: "text" });
      return raw.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true });
    },
    decode(ids, opts = {}) {
      for (const id of ids) {
        if (!isId(id)) throw new ArgumentError(`decode: token ids must be non-negative integers, got ${id}`, { field: "ids" });
      }
      // Ids past the tokenizer (the embedding matrix is usually padded beyond it) decode to nothing,
      // as in Hugging Face's fast tokenizers.
      const known = ids.filter((id) => byId.has(id));
      // transformers.js rejects an empty list; nothing decodes to the empty string.
      if (known.length === 0) return "";
      return raw.decode(known, { skip_special_tokens: opts.skipSpecialTokens ?? false });
    },
    applyChatTemplate(messages, opts = {}) {
      if (raw.chat_template === null || raw.chat_template === undefined) {
        throw new NotFoundError(`${dir}: the tokenizer has no chat_template (tokenizer_config.json, chat_template.jinja)`, { file: dir, field: "chat_template" });
      }
      const out = raw.apply_chat_template(
        messages.map((m) => ({ ...m })),
        { tokenize: false, add_generation_prompt: opts.addGenerationPrompt ?? false },
      );
      if (typeof out !== "string") throw new FormatError(`${dir}: chat template did not render to a string`, { file: dir, field: "chat_template" });
      return out;
    },
    specialTokenId(name) {
      const role = roles[name.replace(/_token$/, "")];
      const id = role ? role() : tokenToId(name);
      if (!isId(id)) throw new NotFoundError(`${dir}: the tokenizer has no token "${name}"`, { file: dir, field: name });
      return id;
    },
    tokenToId,
    idToToken: (id) => byId.get(id) ?? null,
  };
}
