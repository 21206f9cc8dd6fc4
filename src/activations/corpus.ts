// Corpora for harvesting: a file streamed line by line (plain text, one document per line, or JSONL), or
// an in-memory array of documents from a notebook cell.
//
// Files are never read whole: a first streaming pass computes the sha256 (which a restarted harvest
// checks against the store) and counts documents (the progress total); the harvest then streams the
// lines again, skipping without parsing what a restart has already stored.
//
// A document's index is its line number minus one (blank lines count but hold no document) or its array
// index. That index is what the store records per token (`doc_ids`), so a token leads back to its line.
//
// What a document turns into (`documentIds`):
//   "plain text" / {text} / {prompt}   the tokenizer's encoding of the text (with its usual special tokens);
//                                      with `chat`, the text becomes one user turn of the chat template
//                                      followed by the assistant header, as the model sees a prompt.
//   {messages: [{role, content}...]}   always the chat template; the assistant header is appended unless the
//                                      conversation already ends with an assistant turn.
//   {ids: [...]}                       token ids as given (no tokenizer needed).
// When a JSONL record holds several of these, the first of messages, ids, text, prompt wins; other fields
// (ids, labels, ...) are ignored.

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { ArgumentError, FormatError, NotFoundError, describeValue } from "../errors.ts";
import type { Model } from "../model/runtime.ts";
import type { ChatMessage } from "../model/tokenizer.ts";

export type CorpusDoc = string | { text?: string; prompt?: string; messages?: ChatMessage[]; ids?: number[] };
/** A corpus file path, or the documents themselves. */
export type CorpusInput = string | readonly CorpusDoc[];
export type CorpusFileFormat = "text" | "jsonl";

export interface CorpusEntry {
  /** Line number - 1, or array index. */
  index: number;
  doc: CorpusDoc;
  /** `file:line` or `corpus[i]`, for error messages. */
  where: string;
}

export interface Corpus {
  path: string | null;
  format: CorpusFileFormat | "array";
  sha256: string;
  /** Number of documents (non-blank lines, or array length). */
  documents: number;
  /** Documents with index >= `from`, in order; earlier lines are skipped without being parsed. */
  entries(from?: number): AsyncIterable<CorpusEntry>;
}

export interface OpenCorpusOptions {
  /** Default: "jsonl" for `.jsonl`, `.ndjson` and `.json` files, else "text". */
  format?: CorpusFileFormat;
}

const JSONL_EXTENSIONS = [".jsonl", ".ndjson", ".json"];
/** Blank lines hold no document (the same test as the counting pass: spaces, tabs, CR only). */
const BLANK = /^[ \t\r]*$/;

export async function openCorpus(input: CorpusInput, opts: OpenCorpusOptions = {}): Promise<Corpus> {
  if (typeof input === "string") return openCorpusFile(input, opts);
  if (!Array.isArray(input)) throw new ArgumentError(`corpus: must be a file path or an array of documents, got ${describeValue(input)}`, { field: "corpus" });
  const docs = input as readonly CorpusDoc[];
  const h = createHash("sha256");
  for (const d of docs) h.update(JSON.stringify(d) + "\n");
  return {
    path: null,
    format: "array",
    sha256: h.digest("hex"),
    documents: docs.length,
    async *entries(from = 0) {
      for (let i = from; i < docs.length; i++) yield { index: i, doc: docs[i]!, where: `corpus[${i}]` };
    },
  };
}

async function openCorpusFile(file: string, opts: OpenCorpusOptions): Promise<Corpus> {
  const abs = path.resolve(file);
  try {
    if (!(await stat(abs)).isFile()) throw new ArgumentError(`corpus: ${file} is not a file`, { field: "corpus", file: abs });
  } catch (err) {
    if (err instanceof ArgumentError) throw err;
    throw new NotFoundError(`corpus: ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message}`, { field: "corpus", file: abs, cause: err });
  }
  const format = opts.format ?? (JSONL_EXTENSIONS.includes(path.extname(abs).toLowerCase()) ? "jsonl" : "text");
  if (format !== "text" && format !== "jsonl") throw new ArgumentError(`format: must be "text" or "jsonl", got ${describeValue(format)}`, { field: "format" });

  // One streaming pass: the file's sha256 and its number of non-blank lines.
  const h = createHash("sha256");
  let documents = 0;
  let lineHasText = false;
  for await (const piece of createReadStream(abs, { highWaterMark: 1 << 20 })) {
    const buf = piece as Buffer;
    h.update(buf);
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!;
      if (b === 0x0a) {
        if (lineHasText) documents++;
        lineHasText = false;
      } else if (b !== 0x20 && b !== 0x09 && b !== 0x0d) lineHasText = true;
    }
  }
  if (lineHasText) documents++;

  return {
    path: abs,
    format,
    sha256: h.digest("hex"),
    documents,
    async *entries(from = 0) {
      const rl = createInterface({ input: createReadStream(abs, { encoding: "utf8", highWaterMark: 1 << 20 }), crlfDelay: Infinity });
      let index = -1;
      try {
        for await (const line of rl) {
          index++;
          if (index < from || BLANK.test(line)) continue;
          const where = `${file}:${index + 1}`;
          if (format === "text") {
            yield { index, doc: line, where };
            continue;
          }
          let doc: unknown;
          try {
            doc = JSON.parse(line);
          } catch (err) {
            throw new FormatError(`${where}: not valid JSON: ${(err as Error).message}`, { file: abs, field: `line ${index + 1}`, cause: err });
          }
          yield { index, doc: doc as CorpusDoc, where };
        }
      } finally {
        rl.close();
      }
    },
  };
}

/** Token ids of one document (see the header for the rules). Throws FormatError naming `entry.where`. */
export function documentIds(model: Model, entry: CorpusEntry, opts: { chat: boolean }): number[] {
  const { doc, where } = entry;
  const fail = (msg: string): never => {
    throw new FormatError(`${where}: ${msg}`, { field: where });
  };
  const tokenizer = () => model.tokenizer ?? fail(`text documents need a tokenizer, and the model folder ${model.dir} has none (give {"ids": [...]} instead)`);
  const template = (messages: ChatMessage[], generationPrompt: boolean) => {
    const tok = tokenizer();
    if (!tok.hasChatTemplate) fail(`the chat template is needed here, and the tokenizer of ${model.dir} has none`);
    return tok.encode(tok.applyChatTemplate(messages, { addGenerationPrompt: generationPrompt }), { addSpecialTokens: false });
  };
  const plain = (text: string) => (opts.chat ? template([{ role: "user", content: text }], true) : tokenizer().encode(text));

  if (typeof doc === "string") return plain(doc);
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) fail(`a document must be a string or an object with text, prompt, messages or ids; got ${describeValue(doc)}`);
  if (doc.messages !== undefined) {
    const ms = doc.messages;
    if (!Array.isArray(ms) || ms.length === 0 || !ms.every((m) => m && typeof m.role === "string" && typeof m.content === "string")) {
      fail(`"messages" must be a non-empty list of {role, content} strings, got ${describeValue(ms)}`);
    }
    return template(ms, ms[ms.length - 1]!.role !== "assistant");
  }
  if (doc.ids !== undefined) {
    const ids = doc.ids;
    if (!Array.isArray(ids)) fail(`"ids" must be a list of token ids, got ${describeValue(ids)}`);
    const V = model.config.vocabSize;
    ids.forEach((v, i) => {
      if (!Number.isInteger(v) || v < 0 || v >= V) fail(`"ids"[${i}] = ${describeValue(v)} is not a token id in [0, ${V})`);
    });
    return ids;
  }
  for (const key of ["text", "prompt"] as const) {
    const v = doc[key];
    if (v === undefined) continue;
    if (typeof v !== "string") fail(`"${key}" must be a string, got ${describeValue(v)}`);
    return plain(v);
  }
  return fail(`no "text", "prompt", "messages" or "ids" field (keys: ${Object.keys(doc).join(", ") || "none"})`);
}
