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
// What a document turns into (token ids) is defined in ./text.ts, the one text -> activations path.

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { ArgumentError, FormatError, NotFoundError, describeValue } from "../errors.ts";
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
