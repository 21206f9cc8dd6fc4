// Corpora for harvesting: a file streamed line by line (plain text, one document per line, or JSONL), or
// an in-memory array of documents from a notebook cell.
//
// Files are never read whole. A first streaming pass (before any forward pass) computes the file's sha256,
// counts the documents (the progress total), hashes every line (the store keeps these, so a restarted harvest
// can tell an edit after the point it reached from one before it) and CHECKS THE WHOLE CORPUS: UTF-8, JSON
// syntax and the document shape rules of `tokenizeDocument` (`checkDocumentShape`), so a malformed line at 91%
// fails at once instead of hours in. The harvest then streams the lines again, skipping without parsing what a
// restart has already stored.
//
// Lines end at "\n" (a "\r" before it is dropped); both passes split the bytes the same way, so line numbers
// agree. A line that is not valid UTF-8 is a FormatError naming the file, the line and the byte offset, unless
// the caller opts into replacement (`invalidUtf8: "replace"`, CLI `--lossy-utf8`: such bytes read as U+FFFD).
//
// A document's index is its line number minus one (blank lines count but hold no document) or its array
// index. That index is what the store records per token (`doc_ids`), so a token leads back to its line.
//
// What a document turns into (token ids) is defined in ./text.ts, the one text -> activations path.

import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import * as path from "node:path";
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

/** Bytes of a line's hash (the first bytes of its sha256): 6 bytes, LINE_HASH_CHARS (8) base64 characters. */
const LINE_HASH_BYTES = 6;

export interface Corpus {
  path: string | null;
  format: CorpusFileFormat | "array";
  sha256: string;
  /** Number of documents (non-blank lines, or array length). */
  documents: number;
  /** Number of lines, blank ones included (array length for arrays). */
  lines: number;
  /**
   * Hashes of lines `from..to-1` (the first LINE_HASH_BYTES of each line's sha256, without its "\n"; for an array,
   * of `JSON.stringify(doc)`), base64, LINE_HASH_CHARS characters per line.
   */
  lineHashes(from: number, to: number): string;
  /** Documents with index >= `from`, in order; earlier lines are skipped without being parsed. */
  entries(from?: number): AsyncIterable<CorpusEntry>;
}

/** What only the model knows about documents: checked in the first pass too when given. */
export interface DocumentRules {
  /** Token ids must be below this. */
  vocabSize?: number;
  /** Set when the model has no tokenizer: documents that need one are refused, naming this folder. */
  noTokenizer?: string;
}

export interface OpenCorpusOptions {
  /** Default: "jsonl" for `.jsonl`, `.ndjson` and `.json` files, else "text". */
  format?: CorpusFileFormat;
  /**
   * Bytes that are not UTF-8: "error" (default) is a FormatError naming file, line and byte offset; "replace"
   * reads them as U+FFFD (CLI `--lossy-utf8`).
   */
  invalidUtf8?: "error" | "replace";
  /** Model-specific document rules checked in the first pass (see checkDocumentShape). */
  rules?: DocumentRules;
}

const JSONL_EXTENSIONS = [".jsonl", ".ndjson", ".json"];
/** Blank lines hold no document (spaces, tabs, CR only). */
const isBlank = (b: Uint8Array): boolean => {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
};

/**
 * The shape rules of a document (./text.ts `tokenizeDocument`, minus tokenisation): a string, or an object whose
 * first of `messages`, `ids`, `text`, `prompt` is well formed. Throws a FormatError starting with `where`.
 */
export function checkDocumentShape(doc: unknown, where: string, rules: DocumentRules = {}): void {
  const fail = (msg: string): never => {
    throw new FormatError(`${where}: ${msg}`, { field: where });
  };
  const needTokenizer = () => {
    if (rules.noTokenizer !== undefined) fail(`text documents need a tokenizer, and the model folder ${rules.noTokenizer} has none (give {"ids": [...]} instead)`);
  };
  if (typeof doc === "string") return needTokenizer();
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) fail(`a document must be a string or an object with text, prompt, messages or ids; got ${describeValue(doc)}`);
  const d = doc as Record<string, unknown>;
  if (d.messages !== undefined) {
    const ms = d.messages;
    if (!Array.isArray(ms) || ms.length === 0 || !ms.every((m) => m && typeof m.role === "string" && typeof m.content === "string")) {
      fail(`"messages" must be a non-empty list of {role, content} strings, got ${describeValue(ms)}`);
    }
    return needTokenizer();
  }
  if (d.ids !== undefined) {
    const ids = d.ids;
    if (!Array.isArray(ids)) fail(`"ids" must be a list of token ids, got ${describeValue(ids)}`);
    const V = rules.vocabSize ?? Infinity;
    (ids as unknown[]).forEach((v, i) => {
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= V) fail(`"ids"[${i}] = ${describeValue(v)} is not a token id in [0, ${V === Infinity ? "vocab_size" : V})`);
    });
    return;
  }
  for (const key of ["text", "prompt"] as const) {
    const v = d[key];
    if (v === undefined) continue;
    if (typeof v !== "string") fail(`"${key}" must be a string, got ${describeValue(v)}`);
    return needTokenizer();
  }
  fail(`no "text", "prompt", "messages" or "ids" field (keys: ${Object.keys(d).join(", ") || "none"})`);
}

/** Offset of the first byte of the first invalid UTF-8 sequence in `b`, or -1 when it is all valid. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number, lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= n) return i; // truncated sequence
    const second = b[i + 1]!;
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const x = b[i + k]!;
      if (x < 0x80 || x > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

const hex2 = (x: number) => `0x${x.toString(16).padStart(2, "0")}`;

/** Growable store of per-line hashes. */
class LineHashes {
  private buf = new Uint8Array(LINE_HASH_BYTES * 1024);
  count = 0;
  push(bytes: Uint8Array): void {
    if ((this.count + 1) * LINE_HASH_BYTES > this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf.set(createHash("sha256").update(bytes).digest().subarray(0, LINE_HASH_BYTES), this.count * LINE_HASH_BYTES);
    this.count++;
  }
  slice(from: number, to: number): string {
    if (!(Number.isSafeInteger(from) && Number.isSafeInteger(to) && 0 <= from && from <= to && to <= this.count)) {
      throw new ArgumentError(`lineHashes: ${from}..${to} is not a range of the corpus's ${this.count} lines`, { field: "lines" });
    }
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + from * LINE_HASH_BYTES, (to - from) * LINE_HASH_BYTES).toString("base64");
  }
}

export async function openCorpus(input: CorpusInput, opts: OpenCorpusOptions = {}): Promise<Corpus> {
  if (typeof input === "string") return openCorpusFile(input, opts);
  if (!Array.isArray(input)) throw new ArgumentError(`corpus: must be a file path or an array of documents, got ${describeValue(input)}`, { field: "corpus" });
  const docs = input as readonly CorpusDoc[];
  const h = createHash("sha256");
  const hashes = new LineHashes();
  const bad: string[] = [];
  let firstError: FormatError | null = null;
  docs.forEach((d, i) => {
    const json = JSON.stringify(d) ?? "undefined";
    h.update(json + "\n");
    hashes.push(Buffer.from(json, "utf8"));
    try {
      checkDocumentShape(d, `corpus[${i}]`, opts.rules);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      firstError ??= err;
      bad.push(`corpus[${i}]`);
    }
  });
  if (firstError) throw withMore(firstError, bad);
  return {
    path: null,
    format: "array",
    sha256: h.digest("hex"),
    documents: docs.length,
    lines: docs.length,
    lineHashes: (from, to) => hashes.slice(from, to),
    async *entries(from = 0) {
      for (let i = from; i < docs.length; i++) yield { index: i, doc: docs[i]!, where: `corpus[${i}]` };
    },
  };
}

/** The first-pass error, saying how many more places fail the same checks. */
function withMore(err: FormatError, bad: string[]): FormatError {
  if (bad.length <= 1) return err;
  const more = bad.length - 1;
  return new FormatError(`${err.message} (the whole corpus was checked before harvesting: ${more} more bad line${more === 1 ? "" : "s"}, next ${bad[1]})`, { file: err.file, field: err.field, cause: err.cause });
}

/** The lines of a file as byte slices, split at "\n" (a trailing "\r" is kept; callers drop it), with offsets. */
async function* byteLines(file: string, onPiece?: (piece: Buffer) => void): AsyncGenerator<{ bytes: Buffer; offset: number }> {
  let carry: Buffer | null = null;
  let carryOffset = 0;
  let pos = 0;
  for await (const piece of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const buf = piece as Buffer;
    onPiece?.(buf);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      const part = buf.subarray(start, nl);
      if (carry) {
        yield { bytes: Buffer.concat([carry, part]), offset: carryOffset };
        carry = null;
      } else yield { bytes: part, offset: pos + start };
      start = nl + 1;
    }
    if (start < buf.length) {
      const rest = buf.subarray(start);
      if (carry) carry = Buffer.concat([carry, rest]);
      else {
        carry = Buffer.from(rest); // the stream may reuse its buffer
        carryOffset = pos + start;
      }
    }
    pos += buf.length;
  }
  if (carry) yield { bytes: carry, offset: carryOffset };
}

const stripCr = (b: Buffer): Buffer => (b.length > 0 && b[b.length - 1] === 0x0d ? b.subarray(0, b.length - 1) : b);

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
  const invalidUtf8 = opts.invalidUtf8 ?? "error";
  if (invalidUtf8 !== "error" && invalidUtf8 !== "replace") throw new ArgumentError(`invalidUtf8: must be "error" or "replace", got ${describeValue(invalidUtf8)}`, { field: "invalidUtf8" });

  // The first pass: sha256, documents, line hashes, and every line checked (UTF-8, JSON, document shape).
  const h = createHash("sha256");
  const hashes = new LineHashes();
  let documents = 0;
  let firstError: FormatError | null = null;
  const bad: string[] = [];
  const report = (err: FormatError, where: string) => {
    firstError ??= err;
    bad.push(where);
  };
  let index = -1;
  for await (const { bytes: raw, offset } of byteLines(abs, (p) => h.update(p))) {
    index++;
    const bytes = stripCr(raw);
    hashes.push(bytes);
    if (isBlank(bytes)) continue;
    documents++;
    const where = `${file}:${index + 1}`;
    if (invalidUtf8 === "error" && !isUtf8(bytes)) {
      const at = firstInvalidUtf8(bytes);
      report(
        new FormatError(`${where}: not valid UTF-8: byte ${hex2(bytes[at]!)} at byte offset ${offset + at} of the file (byte ${at + 1} of the line); fix the file, or read such bytes as U+FFFD (--lossy-utf8 of harvest and eval-sae; invalidUtf8: "replace")`, { file: abs, field: `line ${index + 1}` }),
        where,
      );
      continue;
    }
    if (format === "text") {
      if (opts.rules?.noTokenizer !== undefined) {
        try {
          checkDocumentShape("", where, opts.rules);
        } catch (err) {
          report(err as FormatError, where);
        }
      }
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString("utf8"));
    } catch (err) {
      report(new FormatError(`${where}: not valid JSON: ${(err as Error).message}`, { file: abs, field: `line ${index + 1}`, cause: err }), where);
      continue;
    }
    try {
      checkDocumentShape(doc, where, opts.rules);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      report(err, where);
    }
  }
  if (firstError) throw withMore(firstError, bad);
  const lines = index + 1;

  return {
    path: abs,
    format,
    sha256: h.digest("hex"),
    documents,
    lines,
    lineHashes: (from, to) => hashes.slice(from, to),
    async *entries(from = 0) {
      let index = -1;
      for await (const { bytes: raw } of byteLines(abs)) {
        index++;
        if (index < from) continue;
        const bytes = stripCr(raw);
        if (isBlank(bytes)) continue;
        const where = `${file}:${index + 1}`;
        const line = bytes.toString("utf8"); // invalid bytes -> U+FFFD (refused in the first pass unless "replace")
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
    },
  };
}
