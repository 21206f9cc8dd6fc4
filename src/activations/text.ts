// Text -> hook activations: the one path. Harvesting a corpus into a store, pooling query features for the
// metrics, and evaluating an SAE all turn documents into token ids and run the model through here.
//
// What a document turns into (`tokenizeDocument`, through the model's one tokeniser `Model.toTokens`):
//   "plain text" / {text} / {prompt}   with `chat` (THE DEFAULT, `TEXT_DEFAULTS.chat`): one user turn of the
//                                      chat template followed by the assistant header, the way a chat model sees
//                                      a request; with `chat: false`, the text as written (the tokenizer's usual
//                                      special tokens included), for pretraining-style corpora or base models.
//   {messages: [{role, content}...]}   always the chat template; the assistant header is appended unless the
//                                      conversation already ends with an assistant turn. When it ends with one,
//                                      that turn's tokens are the document's *answer* (`answerStart`).
//   {ids: [...]}                       token ids as given (no tokenizer needed).
// When a record holds several of these, the first of messages, ids, text, prompt wins; other fields are ignored.
//
// Why chat is the default: Safe-SAIL studies a chat model's safety features on user queries, and the embedded
// default is a chat model trained only on templated conversations; text outside the template is not what it
// was trained on.
//
// The forward (`documentActivations`) batches documents of equal length together, never padding (left-padded
// batches were measured to differ by ~1e-7 from single runs), so every document's rows are bit-identical to
// running it alone.
import { parseHookName } from "../model/hooks.ts";
import { ArgumentError, FormatError, describeValue } from "../errors.ts";
import type { HookEdit, Model } from "../model/runtime.ts";
import type { ChatMessage } from "../model/tokenizer.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { checkDocumentShape, openCorpus, type CorpusDoc, type CorpusEntry, type CorpusInput, type OpenCorpusOptions } from "./corpus.ts";

/** The defaults of the text -> activations path, one place for every stage. */
export const TEXT_DEFAULTS = {
  /** Plain text is a user query in the chat template. */
  chat: true,
  /** Most tokens per forward pass. */
  batchTokens: 2048,
} as const;

export interface TokenizeOptions {
  /** Wrap plain text as a user turn of the chat template (default `TEXT_DEFAULTS.chat`). */
  chat?: boolean;
}

export interface TokenizedDocument {
  ids: number[];
  /** Index of the first token of the closing assistant turn (a `messages` document that ends with one), else null. */
  answerStart: number | null;
}

/** Where an entry came from, for messages: `file:line`, `corpus[i]`, or the caller's label. */
const whereOf = (entry: CorpusEntry | CorpusDoc, fallback: string): { doc: CorpusDoc; where: string } =>
  isEntry(entry) ? { doc: entry.doc, where: entry.where } : { doc: entry, where: fallback };

function isEntry(x: CorpusEntry | CorpusDoc): x is CorpusEntry {
  return typeof x === "object" && x !== null && "doc" in x && "where" in x && "index" in x;
}

/**
 * Token ids of one document (see the header for the rules). A malformed document is a FormatError naming where it
 * came from (`file:line`).
 */
export function tokenizeDocument(model: Model, entry: CorpusEntry | CorpusDoc, opts: TokenizeOptions & { where?: string } = {}): TokenizedDocument {
  const { doc, where } = whereOf(entry, opts.where ?? "document");
  const chat = opts.chat ?? TEXT_DEFAULTS.chat;
  const fail = (msg: string): never => {
    throw new FormatError(`${where}: ${msg}`, { field: where });
  };
  const guard = <T>(f: () => T): T => {
    try {
      return f();
    } catch (err) {
      if (err instanceof ArgumentError) fail(err.message);
      throw err;
    }
  };
  // The shape rules (one place, also run over the whole corpus before a harvest starts: ./corpus.ts).
  checkDocumentShape(doc, where, { vocabSize: model.config.vocabSize, noTokenizer: model.tokenizer ? undefined : model.dir });
  if (typeof doc === "string") return { ids: guard(() => model.toTokens(doc, { chat })), answerStart: null };
  if (doc.messages !== undefined) {
    const messages = doc.messages;
    const ids = guard(() => model.toTokens({ messages }));
    let answerStart: number | null = null;
    if (messages[messages.length - 1]!.role === "assistant") {
      // The answer starts after the prompt as the model sees it before answering: the template of the earlier
      // turns plus the assistant header. Chat templates render that as a prefix of the whole conversation.
      const prompt = messages.length > 1 ? guard(() => model.toTokens({ messages: messages.slice(0, -1) })) : [];
      const isPrefix = prompt.length <= ids.length && prompt.every((id, i) => ids[i] === id);
      if (!isPrefix) fail(`the chat template does not render the prompt as a prefix of the conversation, so the answer tokens cannot be located`);
      answerStart = prompt.length;
    }
    return { ids, answerStart };
  }
  if (doc.ids !== undefined) return { ids: doc.ids, answerStart: null };
  const text = (doc.text ?? doc.prompt)!;
  return { ids: guard(() => model.toTokens(text, { chat })), answerStart: null };
}

/** @deprecated since 0.2: use `tokenizeDocument(model, entry, { chat }).ids`. Kept one release. */
export function documentIds(model: Model, entry: CorpusEntry, opts: { chat: boolean }): number[] {
  return tokenizeDocument(model, entry, opts).ids;
}

export interface DocumentActivationsOptions {
  /** Most tokens per forward pass (default `TEXT_DEFAULTS.batchTokens`); a longer document still runs alone. */
  batchTokens?: number;
  /** Documents for which this returns true are not run (their rows come back empty), e.g. rows already stored. */
  skip?: (index: number) => boolean;
  signal?: AbortSignal;
  /** Hook edits applied during the forward passes (steering); the hooks' values are read after the edits. */
  edits?: Record<string, HookEdit>;
}

/**
 * Runs the model over tokenised documents and returns, per document and per hook, its `[tokens, d_model]` rows.
 * Documents of equal length share a forward pass (at most `batchTokens` tokens), in order of first appearance.
 */
export async function documentActivations(model: Model, docs: readonly { ids: readonly number[] }[], hooks: readonly string[], opts: DocumentActivationsOptions = {}): Promise<Float32Array[][]> {
  const D = model.config.hiddenSize;
  for (const h of hooks) parseHookName(h, { numLayers: model.config.numLayers, arg: "hooks" }); // [tokens, d_model] hooks only
  const batchTokens = opts.batchTokens ?? TEXT_DEFAULTS.batchTokens;
  const out: Float32Array[][] = docs.map(() => []);
  const byLength = new Map<number, number[]>();
  docs.forEach((d, i) => {
    if (d.ids.length === 0 || opts.skip?.(i)) return;
    let g = byLength.get(d.ids.length);
    if (!g) byLength.set(d.ids.length, (g = []));
    g.push(i);
  });
  for (const [T, group] of byLength) {
    const per = Math.max(1, Math.floor(batchTokens / T));
    for (let g = 0; g < group.length; g += per) {
      opts.signal?.throwIfAborted();
      const batch = group.slice(g, g + per);
      const { cache } = await model.forward(batch.map((i) => [...docs[i]!.ids]), { cache: [...hooks], logits: "none", ...(opts.edits ? { hooks: opts.edits } : {}) });
      batch.forEach((i, b) => {
        out[i] = hooks.map((h) => cache[h]!.data.subarray(b * T * D, (b + 1) * T * D));
      });
    }
  }
  return out;
}

export interface TextActivationsOptions extends TokenizeOptions, OpenCorpusOptions {
  batchTokens?: number;
  /** Documents per group of forward passes (bounds memory: one group's rows are held at a time). Default 64. */
  windowDocs?: number;
  progress?: Progress;
  label?: string;
  signal?: AbortSignal;
}

export interface DocumentActivations extends TokenizedDocument {
  /** Corpus index (line - 1, or array index). */
  index: number;
  where: string;
  /** Per hook (in the order asked), `[ids.length, d_model]`. */
  acts: Float32Array[];
}

/**
 * The text -> activations path for notebooks and stages that consume documents one by one: tokenises each document
 * of a corpus (a file path or an array of documents, as `harvest` takes) and yields its hook activations, in corpus
 * order. Documents that give no tokens are skipped.
 */
export async function* textActivations(model: Model, corpus: CorpusInput, hooks: readonly string[], opts: TextActivationsOptions = {}): AsyncGenerator<DocumentActivations> {
  for (const h of hooks) if (!model.hookNames().includes(h)) throw new ArgumentError(`hooks: the model has no hook ${describeValue(h)}`, { field: "hooks" });
  for (const h of hooks) parseHookName(h, { numLayers: model.config.numLayers, arg: "hooks" }); // [tokens, d_model] hooks only: attention hooks refused by name
  const c = await openCorpus(corpus, { format: opts.format, invalidUtf8: opts.invalidUtf8, rules: { vocabSize: model.config.vocabSize, noTokenizer: model.tokenizer ? undefined : model.dir } });
  const windowDocs = opts.windowDocs ?? 64;
  const progress = opts.progress ?? silentProgress;
  progress.start(opts.label ?? "activations", c.documents);
  let done = 0;
  let window: (TokenizedDocument & { index: number; where: string })[] = [];
  const flush = async function* (): AsyncGenerator<DocumentActivations> {
    const acts = await documentActivations(model, window, hooks, { batchTokens: opts.batchTokens, signal: opts.signal });
    for (let i = 0; i < window.length; i++) yield { ...window[i]!, acts: acts[i]! };
    done += window.length;
    progress.update(done);
    window = [];
  };
  for await (const entry of c.entries()) {
    const t = tokenizeDocument(model, entry, { chat: opts.chat });
    if (t.ids.length === 0) continue;
    window.push({ ...t, index: entry.index, where: entry.where });
    if (window.length >= windowDocs) yield* flush();
  }
  if (window.length > 0) yield* flush();
  progress.finish();
}
