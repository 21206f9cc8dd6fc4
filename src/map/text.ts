// Words of explanations, and the TF-IDF matrix the default map embedding starts from.
//
// Tokens: the text is NFKC-normalised and lower-cased; a token is a maximal run of Unicode letters, combining marks
// and digits (so "after-effects" is two tokens and a run of Chinese characters is one). Dropped: tokens made of
// digits only, single ASCII letters ("e.g." -> "e", "g"), and the English function words of STOP_WORDS. Terms are
// the remaining tokens and the bigrams of neighbouring remaining tokens ("sexual content"), formed after stop words
// are gone, as scikit-learn does.
//
// TF-IDF, exactly: a term is kept when at least `minDf` documents contain it (default 2: a term of one document
// says nothing about which documents are alike). Weight = (1 + ln count) * idf, idf = ln((1 + n) / (1 + df)) + 1
// (scikit-learn's sublinear_tf, smooth_idf), then each document's row is scaled to unit length (l2).
//
// It measures shared words, not meaning: "firearms" and "guns" are as far apart as "guns" and "dates".
import { ArgumentError } from "../errors.ts";
import { checkPositiveInt } from "../util/validate.ts";

/** English function words; explanation boilerplate ("neuron", "activation") is left to the idf weighting. */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    "a about above after again against all also am an and any are as at be because been before being below between both but by can " +
    "could did do does doing down during each either etc few for from further had has have having he her here hers herself him " +
    "himself his how however i if in into is it its itself just may me might more most much must my myself no nor not of off on " +
    "once only or other our ours ourselves out over own per same she should so some such than that the their theirs them " +
    "themselves then there these they this those though through thus to too under until up upon us very via was we were what " +
    "when where whether which while who whom whose why will with within without would yet you your yours yourself yourselves"
  ).split(" "),
);

const TOKEN_RE = /[\p{L}\p{M}\p{N}]+/gu;
const DIGITS_RE = /^\p{N}+$/u;

/** The kept tokens of a text, in order (see the file comment for the rule). */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const m of text.normalize("NFKC").toLowerCase().matchAll(TOKEN_RE)) {
    const t = m[0];
    if (DIGITS_RE.test(t)) continue;
    if (t.length === 1 && t >= "a" && t <= "z") continue;
    if (STOP_WORDS.has(t)) continue;
    out.push(t);
  }
  return out;
}

/** Terms of a text with their counts: tokens and bigrams of neighbouring tokens (joined by one space). */
export function termCounts(text: string): Map<string, number> {
  const tokens = tokenize(text);
  const counts = new Map<string, number>();
  const add = (t: string) => counts.set(t, (counts.get(t) ?? 0) + 1);
  for (let i = 0; i < tokens.length; i++) {
    add(tokens[i]!);
    if (i + 1 < tokens.length) add(`${tokens[i]} ${tokens[i + 1]}`);
  }
  return counts;
}

/** A sparse matrix in compressed rows: row r's entries are indices/values[indptr[r] .. indptr[r+1]). */
export interface CsrMatrix {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

export interface TfIdf {
  /** One row per document, unit length (all zero when none of its terms is kept). */
  matrix: CsrMatrix;
  /** Column j's term (sorted by code unit). */
  terms: string[];
  /** Documents containing each term. */
  df: Int32Array;
  /** idf of each term. */
  idf: Float64Array;
  /** Per document: its kept terms (distinct), for labelling clusters. */
  docTerms: string[][];
  minDf: number;
}

export interface TfIdfOptions {
  /** Keep terms found in at least this many documents (default 2). */
  minDf?: number;
}

/** The TF-IDF matrix of `texts` (file comment: tokens, terms, weighting). */
export function tfidf(texts: readonly string[], opts: TfIdfOptions = {}): TfIdf {
  const minDf = checkPositiveInt(opts.minDf ?? 2, "minDf", { where: "tfidf" });
  if (texts.length === 0) throw new ArgumentError("tfidf: no documents", { field: "texts" });
  const counts = texts.map((t, i) => {
    if (typeof t !== "string") throw new ArgumentError(`tfidf: texts[${i}] must be a string`, { field: "texts" });
    return termCounts(t);
  });
  const dfAll = new Map<string, number>();
  for (const c of counts) for (const t of c.keys()) dfAll.set(t, (dfAll.get(t) ?? 0) + 1);
  const terms = [...dfAll.entries()].filter(([, df]) => df >= minDf).map(([t]) => t).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const column = new Map(terms.map((t, j) => [t, j]));
  const n = texts.length;
  const df = Int32Array.from(terms, (t) => dfAll.get(t)!);
  const idf = Float64Array.from(df, (d) => Math.log((1 + n) / (1 + d)) + 1);
  const indptr = new Int32Array(n + 1);
  const idx: number[] = [];
  const vals: number[] = [];
  const docTerms: string[][] = [];
  counts.forEach((c, r) => {
    const row: [number, number][] = [];
    for (const [t, count] of c) {
      const j = column.get(t);
      if (j !== undefined) row.push([j, (1 + Math.log(count)) * idf[j]!]);
    }
    row.sort((a, b) => a[0] - b[0]);
    const norm = Math.sqrt(row.reduce((s, [, v]) => s + v * v, 0));
    for (const [j, v] of row) {
      idx.push(j);
      vals.push(v / norm);
    }
    indptr[r + 1] = idx.length;
    docTerms.push(row.map(([j]) => terms[j]!));
  });
  return { matrix: { rows: n, cols: terms.length, indptr, indices: Int32Array.from(idx), values: Float64Array.from(vals) }, terms, df, idf, docTerms, minDf };
}
