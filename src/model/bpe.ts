// A byte-level BPE tokenizer trained by the project (GPT-2 / Qwen2 style), written as Hugging Face
// `tokenizer.json` + `tokenizer_config.json` so that it loads through the same AutoTokenizer path as real models.
//
// Pipeline, as in Qwen2's tokenizer.json:
//   special tokens split out -> NFC normalizer -> Split(Qwen2 regex, Isolated) -> ByteLevel(use_regex false)
//   -> BPE merges by rank; decoder ByteLevel.
// Merges never cross pre-token boundaries, so training only needs the frequency of each distinct pre-token.
//
// Training: count pre-tokens, then merge the most frequent adjacent pair until the vocabulary is full. Pair
// counts are updated incrementally (only the words that contain the merged pair are touched, through a
// pair -> words index), and the best pair comes from a max-heap with lazy invalidation: an entry whose stored
// count is stale is re-pushed with the current count when it reaches the top. Ties go to the pair with the
// smaller (left id, right id), ids being bytes 0..255 then tokens in creation order, so the merges depend only
// on the pre-token counts: the same texts give the same merges, in any order.

import * as path from "node:path";
import { ArgumentError, describeValue } from "../errors.ts";
import { checkNumber } from "../util/validate.ts";
import { silentProgress, type Progress } from "../progress.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";
import { QWEN_CHAT_TEMPLATE, SPECIAL_TOKENS, bytesToUnicode } from "./byte-level.ts";

/** Qwen2's pre-tokenizer regex, exactly as in its tokenizer.json (Oniguruma syntax). */
export const QWEN2_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * The same regex in JavaScript syntax: `(?i:...)` spelled out with ASCII case classes (Node 20 has no inline
 * modifiers) and `\s` as `\p{White_Space}` (Oniguruma's meaning; JS `\s` also takes U+FEFF and misses U+0085).
 * transformers.js rewrites the Oniguruma source the same way.
 */
const PRETOKENIZE_JS =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\p{White_Space}\\p{L}\\p{N}]+[\\r\\n]*" +
  "|\\p{White_Space}*[\\r\\n]+|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+";

const BYTE_TO_CHAR = bytesToUnicode();
const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((c, b) => [c, b]));
const utf8 = new TextEncoder();

export interface BpeModel {
  /** Merges in rank order (rank = index), as pairs of byte-level token strings. */
  merges: [string, string][];
  /** Every token (bytes, merged tokens, special tokens) -> id. Special tokens take the last ids. */
  vocab: Map<string, number>;
  /** The special tokens, in id order (each one id, never split, never merged). */
  specialTokens: string[];
}

export interface TrainBpeOptions {
  /** Total vocabulary: 256 byte tokens + merged tokens + special tokens. */
  vocabSize: number;
  /** A pair is merged only when it occurs at least this often (default 2). Training stops early otherwise. */
  minFrequency?: number;
  /** Default `["<|endoftext|>", "<|im_start|>", "<|im_end|>"]`. They are cut out of the training text. */
  specialTokens?: readonly string[];
  progress?: Progress;
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenisation

/** Splits `text` into pieces: special tokens (`special: true`) and plain text in between. */
function splitSpecial(text: string, specialRe: RegExp | null): { text: string; special: boolean }[] {
  if (specialRe === null) return text.length > 0 ? [{ text, special: false }] : [];
  const out: { text: string; special: boolean }[] = [];
  let prev = 0;
  specialRe.lastIndex = 0;
  for (const m of text.matchAll(specialRe)) {
    const at = m.index ?? prev; // always set by matchAll
    if (at > prev) out.push({ text: text.slice(prev, at), special: false });
    out.push({ text: m[0], special: true });
    prev = at + m[0].length;
  }
  if (prev < text.length) out.push({ text: text.slice(prev), special: false });
  return out;
}

function specialRegex(specials: readonly string[]): RegExp | null {
  if (specials.length === 0) return null;
  // Longest first, so a special token that is a prefix of another never wins.
  const alts = [...specials].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(alts.join("|"), "g");
}

/**
 * Qwen2's pre-tokenisation of plain text (no special tokens): NFC, then the Split regex with "Isolated"
 * behaviour (matches and any gaps between them both kept). Returns the pieces as text, not yet byte-level.
 */
export function preTokenize(text: string): string[] {
  const normalized = text.normalize("NFC");
  const re = new RegExp(PRETOKENIZE_JS, "gu");
  const out: string[] = [];
  let prev = 0;
  for (const m of normalized.matchAll(re)) {
    const at = m.index ?? prev; // always set by matchAll
    if (at > prev) out.push(normalized.slice(prev, at));
    if (m[0].length > 0) out.push(m[0]);
    prev = at + m[0].length;
  }
  if (prev < normalized.length) out.push(normalized.slice(prev));
  return out;
}

/** The byte-level form of a piece: its UTF-8 bytes through GPT-2's byte -> printable character map. */
export function toByteLevel(piece: string): string {
  let s = "";
  for (const b of utf8.encode(piece)) s += BYTE_TO_CHAR[b]!;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Training

const PAIR_SHIFT = 0x100000; // pair key = left * 2^20 + right (ids < 2^20)

/** Max-heap of (count, pair key): larger count first, then smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = c;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes the top entry and returns it as [count, key]. */
  pop(): [number, number] | null {
    const n = this.keys.length;
    if (n === 0) return null;
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const lastC = this.counts.pop()!;
    const lastK = this.keys.pop()!;
    if (n > 1) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      const m = n - 1;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < m && this.above(l, best)) best = l;
        if (r < m && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

function checkSpecials(specials: readonly string[]): string[] {
  const list = [...specials];
  const seen = new Set<string>();
  for (const s of list) {
    if (typeof s !== "string" || s.length === 0) throw new ArgumentError(`trainBpe: special tokens must be non-empty strings, got ${describeValue(s)}`, { field: "specialTokens" });
    if (seen.has(s)) throw new ArgumentError(`trainBpe: special token ${describeValue(s)} is listed twice`, { field: "specialTokens" });
    seen.add(s);
  }
  return list;
}

/**
 * Trains a byte-level BPE on `texts`. The vocabulary is the 256 bytes (ids 0..255, id = byte value), then one
 * token per merge in creation order, then the special tokens. Training stops when the vocabulary reaches
 * `vocabSize` or no pair occurs `minFrequency` times (then the vocabulary is smaller than asked).
 */
export function trainBpe(texts: Iterable<string>, options: TrainBpeOptions): BpeModel {
  const specials = checkSpecials(options.specialTokens ?? SPECIAL_TOKENS);
  const vocabSize = options.vocabSize;
  if (typeof vocabSize !== "number" || !Number.isSafeInteger(vocabSize) || vocabSize < 256 + specials.length || vocabSize >= PAIR_SHIFT) {
    throw new ArgumentError(
      `trainBpe: option "vocabSize" must be an integer from ${256 + specials.length} (256 bytes + ${specials.length} special tokens) to ${PAIR_SHIFT - 1}, got ${describeValue(vocabSize)}`,
      { field: "vocabSize" },
    );
  }
  const minFrequency = checkNumber(options.minFrequency ?? 2, "minFrequency", { min: 0, where: "trainBpe", label: 'option "minFrequency"' });
  const progress = options.progress ?? silentProgress;

  // 1. Pre-token frequencies.
  const specialRe = specialRegex(specials);
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    if (typeof text !== "string") throw new ArgumentError(`trainBpe: every text must be a string, got ${describeValue(text)}`, { field: "texts" });
    for (const part of splitSpecial(text, specialRe)) {
      if (part.special) continue;
      for (const piece of preTokenize(part.text)) wordCounts.set(piece, (wordCounts.get(piece) ?? 0) + 1);
    }
  }

  // 2. Words as byte-id arrays, adjacent pair counts and the pair -> words index.
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [piece, count] of wordCounts) {
    words.push(Array.from(utf8.encode(piece)));
    freqs.push(count);
  }
  wordCounts.clear();
  const pairCounts = new Map<number, number>();
  const where = new Map<number, number[]>();
  for (let w = 0; w < words.length; w++) {
    const sym = words[w]!;
    const f = freqs[w]!;
    for (let i = 0; i + 1 < sym.length; i++) {
      const key = sym[i]! * PAIR_SHIFT + sym[i + 1]!;
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + f);
      const list = where.get(key);
      if (list === undefined) where.set(key, [w]);
      else if (list[list.length - 1] !== w) list.push(w);
    }
  }
  const heap = new PairHeap();
  for (const [key, count] of pairCounts) heap.push(count, key);

  // 3. Merge loop.
  const tokens: string[] = BYTE_TO_CHAR.slice();
  const tokenIds = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const merges: [string, string][] = [];
  const target = vocabSize - specials.length;
  const stamp = new Int32Array(words.length).fill(-1);
  progress.start("BPE merges", target - 256);
  let step = 0;
  while (tokens.length < target) {
    const top = heap.pop();
    if (top === null) break;
    const [stored, key] = top;
    const count = pairCounts.get(key) ?? 0;
    if (count !== stored) {
      if (count > 0) heap.push(count, key);
      continue;
    }
    if (count < minFrequency) break;
    const a = Math.floor(key / PAIR_SHIFT);
    const b = key - a * PAIR_SHIFT;
    const left = tokens[a]!;
    const right = tokens[b]!;
    const merged = left + right;
    let id = tokenIds.get(merged);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(merged);
      tokenIds.set(merged, id);
    }
    merges.push([left, right]);

    const list = where.get(key) ?? [];
    where.delete(key);
    const created = new Set<number>(); // pairs that contain the new token
    for (const w of list) {
      if (stamp[w] === step) continue;
      stamp[w] = step;
      const sym = words[w]!;
      const n = sym.length;
      let found = false;
      for (let i = 0; i + 1 < n; i++) {
        if (sym[i] === a && sym[i + 1] === b) {
          found = true;
          break;
        }
      }
      if (!found) continue; // a stale index entry: an earlier merge took the pair apart
      const f = freqs[w]!;
      // Old pairs out, new pairs in (unchanged ones cancel out). Words are short pre-tokens, so this is cheap.
      for (let i = 0; i + 1 < n; i++) {
        const k = sym[i]! * PAIR_SHIFT + sym[i + 1]!;
        pairCounts.set(k, pairCounts.get(k)! - f);
      }
      const out: number[] = [];
      for (let i = 0; i < n; ) {
        if (i + 1 < n && sym[i] === a && sym[i + 1] === b) {
          out.push(id);
          i += 2;
        } else {
          out.push(sym[i]!);
          i += 1;
        }
      }
      words[w] = out;
      for (let i = 0; i + 1 < out.length; i++) {
        const x = out[i]!;
        const y = out[i + 1]!;
        const k = x * PAIR_SHIFT + y;
        pairCounts.set(k, (pairCounts.get(k) ?? 0) + f);
        if (x === id || y === id) {
          created.add(k);
          const l = where.get(k);
          if (l === undefined) where.set(k, [w]);
          else if (l[l.length - 1] !== w) l.push(w);
        }
      }
    }
    pairCounts.delete(key);
    for (const k of created) {
      const c = pairCounts.get(k) ?? 0;
      if (c > 0) heap.push(c, k);
    }
    step++;
    if ((step & 63) === 0) progress.update(tokens.length - 256);
  }
  progress.update(tokens.length - 256);
  progress.finish(`${merges.length} merges, vocabulary ${tokens.length + specials.length}`);

  const vocab = new Map<string, number>(tokens.map((t, i) => [t, i]));
  for (const s of specials) {
    if (vocab.has(s)) throw new ArgumentError(`trainBpe: special token ${describeValue(s)} is also a learned token`, { field: "specialTokens" });
    vocab.set(s, vocab.size);
  }
  return { merges, vocab, specialTokens: specials };
}

// ---------------------------------------------------------------------------------------------
// Encoding and decoding (the project's own, used to check the Hugging Face files)

interface Encoder {
  ranks: Map<string, number>;
  specialRe: RegExp | null;
  specialSet: Set<string>;
  cache: Map<string, number[]>;
  byId: string[];
}

const encoders = new WeakMap<BpeModel, Encoder>();

function encoderFor(model: BpeModel): Encoder {
  let enc = encoders.get(model);
  if (enc === undefined) {
    const byId: string[] = [];
    for (const [t, id] of model.vocab) byId[id] = t;
    enc = {
      ranks: new Map(model.merges.map(([a, b], i) => [`${a} ${b}`, i])),
      specialRe: specialRegex(model.specialTokens),
      specialSet: new Set(model.specialTokens),
      cache: new Map(),
      byId,
    };
    encoders.set(model, enc);
  }
  return enc;
}

/** BPE of one byte-level piece: repeatedly merge every occurrence (left to right) of the lowest-rank pair. */
function bpePiece(enc: Encoder, model: BpeModel, piece: string): number[] {
  const cached = enc.cache.get(piece);
  if (cached !== undefined) return cached;
  let sym = Array.from(piece);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < sym.length; i++) {
      const r = enc.ranks.get(`${sym[i]} ${sym[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    const [a, b] = model.merges[bestRank]!;
    const out: string[] = [];
    for (let i = 0; i < sym.length; ) {
      if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
        out.push(a + b);
        i += 2;
      } else {
        out.push(sym[i]!);
        i += 1;
      }
    }
    sym = out;
  }
  const ids = sym.map((t) => {
    const id = model.vocab.get(t);
    if (id === undefined) throw new ArgumentError(`encodeBpe: token ${describeValue(t)} is not in the vocabulary (merges and vocab disagree)`, { field: "vocab" });
    return id;
  });
  if (enc.cache.size < 100_000) enc.cache.set(piece, ids);
  return ids;
}

export interface EncodeBpeOptions {
  /** Special token strings in the text become their single ids (default true, as Hugging Face tokenizers do). */
  allowSpecial?: boolean;
}

/** Token ids of `text`: special tokens split out, NFC, Qwen2 pre-tokenisation, byte-level, merges by rank. */
export function encodeBpe(model: BpeModel, text: string, opts: EncodeBpeOptions = {}): number[] {
  if (typeof text !== "string") throw new ArgumentError(`encodeBpe: text must be a string, got ${describeValue(text)}`, { field: "text" });
  const enc = encoderFor(model);
  const ids: number[] = [];
  for (const part of splitSpecial(text, opts.allowSpecial === false ? null : enc.specialRe)) {
    if (part.special) {
      ids.push(model.vocab.get(part.text)!);
      continue;
    }
    for (const piece of preTokenize(part.text)) ids.push(...bpePiece(enc, model, toByteLevel(piece)));
  }
  return ids;
}

/** Text of `ids` (the ByteLevel decoder: token strings -> bytes -> UTF-8, invalid sequences as U+FFFD). */
export function decodeBpe(model: BpeModel, ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
  const enc = encoderFor(model);
  const parts: string[] = [];
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length > 0) parts.push(Buffer.from(bytes).toString("utf8"));
    bytes = [];
  };
  for (const id of ids) {
    const t = enc.byId[id];
    if (t === undefined) throw new ArgumentError(`decodeBpe: unknown token id ${describeValue(id)}`, { field: "ids" });
    if (enc.specialSet.has(t)) {
      flush();
      if (!opts.skipSpecialTokens) parts.push(t);
      continue;
    }
    for (const ch of t) bytes.push(CHAR_TO_BYTE.get(ch)!);
  }
  flush();
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------
// Hugging Face files

export interface WriteTokenizerOptions {
  /** Default: Qwen's chat template (`QWEN_CHAT_TEMPLATE` in src/model/byte-level.ts). */
  chatTemplate?: string;
  /** Default "<|im_end|>". */
  eosToken?: string;
  /** Default "<|endoftext|>". */
  padToken?: string;
  /** Default 32768. */
  modelMaxLength?: number;
}

export interface TokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  specialTokensMap: Record<string, unknown>;
  /** Number of ids (vocabulary + special tokens). */
  size: number;
  specialIds: Record<string, number>;
}

/** The three Hugging Face tokenizer files of `model`, as objects. */
export function buildTokenizerFiles(model: BpeModel, opts: WriteTokenizerOptions = {}): TokenizerFiles {
  const eos = opts.eosToken ?? "<|im_end|>";
  const pad = opts.padToken ?? "<|endoftext|>";
  for (const [field, tok] of [["eosToken", eos], ["padToken", pad]] as const) {
    if (!model.specialTokens.includes(tok)) {
      throw new ArgumentError(`writeTokenizer: option "${field}" ${describeValue(tok)} is not one of the model's special tokens`, { field });
    }
  }
  const specialSet = new Set(model.specialTokens);
  const vocab: Record<string, number> = {};
  const specialIds: Record<string, number> = {};
  for (const [t, id] of model.vocab) {
    if (specialSet.has(t)) specialIds[t] = id;
    else vocab[t] = id;
  }
  const addedTokens = model.specialTokens.map((content) => ({
    id: specialIds[content]!,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: { type: "NFC" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [{ type: "Split", pattern: { Regex: QWEN2_SPLIT_REGEX }, behavior: "Isolated", invert: false }, byteLevel],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: model.merges.map(([a, b]) => [a, b]),
    },
  };
  const addedTokensDecoder = Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest]));
  const additional = model.specialTokens.filter((t) => t !== pad);
  const tokenizerConfig = {
    add_bos_token: false,
    add_eos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder,
    additional_special_tokens: additional,
    bos_token: null,
    chat_template: opts.chatTemplate ?? QWEN_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: eos,
    errors: "replace",
    model_max_length: opts.modelMaxLength ?? 32768,
    pad_token: pad,
    split_special_tokens: false,
    tokenizer_class: "Qwen2Tokenizer",
    unk_token: null,
  };
  const tokenEntry = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false });
  const specialTokensMap = {
    additional_special_tokens: additional,
    eos_token: tokenEntry(eos),
    pad_token: tokenEntry(pad),
  };
  return { tokenizerJson, tokenizerConfig, specialTokensMap, size: model.vocab.size, specialIds };
}

/**
 * JSON text of tokenizer.json: pretty-printed like `JSON.stringify(v, null, 2)`, but the vocabulary in id order
 * with one entry per line (a plain object would put integer-like keys such as "7" first) and one merge per line.
 */
function tokenizerJsonText(json: Record<string, unknown>): string {
  const model = json.model as { vocab: Record<string, number>; merges: [string, string][] };
  const VOCAB = "\u0000VOCAB\u0000";
  const MERGES = "\u0000MERGES\u0000";
  const shell = { ...json, model: { ...model, vocab: VOCAB, merges: MERGES } };
  const entries = Object.entries(model.vocab).sort((x, y) => x[1] - y[1]);
  const vocabText = entries.length === 0 ? "{}" : `{\n${entries.map(([t, id]) => `      ${JSON.stringify(t)}: ${id}`).join(",\n")}\n    }`;
  const mergesText = model.merges.length === 0 ? "[]" : `[\n${model.merges.map((m) => `      ${JSON.stringify(m)}`).join(",\n")}\n    ]`;
  return JSON.stringify(shell, null, 2).replace(JSON.stringify(VOCAB), () => vocabText).replace(JSON.stringify(MERGES), () => mergesText) + "\n";
}

/**
 * Writes `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json` into `dir` (created if needed),
 * each atomically. Returns the file names written, the number of ids and the special token ids.
 */
export async function writeTokenizer(
  dir: string,
  model: BpeModel,
  opts: WriteTokenizerOptions = {},
): Promise<{ files: string[]; size: number; specialIds: Record<string, number> }> {
  const files = buildTokenizerFiles(model, opts);
  await writeFileAtomic(path.join(dir, "tokenizer.json"), tokenizerJsonText(files.tokenizerJson));
  await writeJsonAtomic(path.join(dir, "tokenizer_config.json"), files.tokenizerConfig);
  await writeJsonAtomic(path.join(dir, "special_tokens_map.json"), files.specialTokensMap);
  return { files: ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"], size: files.size, specialIds: files.specialIds };
}

/** The BpeModel of a parsed tokenizer.json written by `writeTokenizer` (or any byte-level BPE tokenizer.json). */
export function bpeModelFromTokenizerJson(json: Record<string, unknown>): BpeModel {
  const m = json.model as { type?: unknown; vocab?: unknown; merges?: unknown } | undefined;
  if (!m || m.type !== "BPE" || typeof m.vocab !== "object" || m.vocab === null || !Array.isArray(m.merges)) {
    throw new ArgumentError(`bpeModelFromTokenizerJson: not a BPE tokenizer.json (model.type, model.vocab, model.merges)`, { field: "model" });
  }
  const merges = (m.merges as unknown[]).map((x): [string, string] => {
    const pair = typeof x === "string" ? x.split(" ") : x;
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
      throw new ArgumentError(`bpeModelFromTokenizerJson: bad merge ${describeValue(x)}`, { field: "model.merges" });
    }
    return [pair[0], pair[1]];
  });
  const vocab = new Map<string, number>(Object.entries(m.vocab as Record<string, number>).sort((x, y) => x[1] - y[1]));
  const specialTokens: string[] = [];
  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as { id: number; content: string; special?: boolean }[]) : [];
  for (const t of [...added].sort((x, y) => x.id - y.id)) {
    vocab.set(t.content, t.id);
    if (t.special !== false) specialTokens.push(t.content);
  }
  return { merges, vocab, specialTokens };
}
