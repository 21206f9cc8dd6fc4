// The example store on disk: what `collectExamples` (./examples.ts) writes and every per-token view reads.
//
//   examples.json          the index: format "safesail-examples", version 1; the model (folder, fingerprint), each
//                          SAE (hook, sha256 of its parameters, and of its weights file when it came from one), the
//                          corpus (path, sha256, documents), the options, and per feature its statistics
//                          (frac_nonzero, max, normalisation, histogram, decoder logits, warnings) and its example
//                          lists as window numbers into the tensors. Written LAST: a folder without it holds no
//                          finished store (an interrupted collection keeps its state in checkpoint.safetensors).
//   examples.safetensors   the windows: `window_offsets` I32 [W+1] (window w is tokens offsets[w]..offsets[w+1]),
//                          `window_meta` I32 [W, 3] (corpus index of the document, position of the first token,
//                          index of the centre token or -1), `token_ids` I32 [N], `acts` F32 [N] (the feature's raw
//                          activation), `special` U8 [N] (1 for chat special tokens).
//   tokens.json            the decoded piece of every token id the windows use, so a reader needs no model.
//
// Every file is written atomically, and examples.json holds the sha256 of the other two, so a reader never mixes
// files of two runs. A bad or missing file is a FormatError / NotFoundError naming the file and the field.
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { FormatError, NotFoundError, describeValue } from "../errors.ts";
import { openSafetensors, readTensorBytes, writeSafetensors } from "../formats/safetensors.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import type { ActivationExample, FeatureExamples, Histogram, TokenLogit } from "./types.ts";
import { sha256Hex } from "../util/hash.ts";

export const EXAMPLES_FORMAT = "safesail-examples";
export const EXAMPLES_VERSION = 1;
export const EXAMPLES_FILE = "examples.json";
export const EXAMPLES_TENSORS_FILE = "examples.safetensors";
export const TOKENS_FILE = "tokens.json";
export const TOKENS_FORMAT = "safesail-example-tokens";
/** Names of the tensors in examples.safetensors. */
export const EXAMPLE_TENSORS = { offsets: "window_offsets", meta: "window_meta", tokenIds: "token_ids", acts: "acts", special: "special" } as const;

/** The options that decide a store's content (a resume with other values is refused, naming them). */
export interface ExamplesOptionsRecord {
  features: string[];
  tags: Record<string, string[]>;
  context: number;
  top_examples: number;
  quantiles: number;
  per_quantile_train: number;
  per_quantile_test: number;
  non_activating: number;
  normalisation_quantile: number;
  test_fraction: number;
  seed: number;
  histogram_bins: number;
  top_logits: number;
  chat: boolean;
  max_doc_tokens: number;
  max_docs: number | null;
  value_cap: number;
  sample_reservoir: number;
  corpus_format: string;
}

export interface ExampleSaeRecord {
  /** Folder the SAE was loaded from (loadSaes), else null. */
  path: string | null;
  /** sha256 of its sae_weights.safetensors when loaded from one, else null. */
  weights_sha256: string | null;
  /** sha256 over its configuration and parameters as used (what a resume compares). */
  params_sha256: string;
  hook: string;
  d_in: number;
  d_sae: number;
  k: number;
}

/** One equal-count slice of a split's sampled activating windows, sorted by centre activation. */
export interface ExampleSlice {
  /** Centre activations of the slice's first and last window (ascending), and how many windows it holds. */
  lo: number;
  hi: number;
  count: number;
}

export interface FeatureRecordJson {
  id: string;
  layer: number;
  index: number;
  hook: string;
  tags: string[];
  tokens: number;
  nonzero: number;
  frac_nonzero: number;
  max_activation: number;
  normalisation: { quantile: number; value: number };
  histogram: Histogram;
  logits: { top: TokenLogit[]; bottom: TokenLogit[] };
  /**
   * The non-zero activations the quantile and histogram were computed on: all of them (`exact`) while there are at
   * most `options.value_cap`, else a uniform sample of `kept` of them (estimates).
   */
  values: { kept: number; exact: boolean };
  /** The quantile slices of each split's sampled activating windows (`train.quantiles[q]` comes from slice q). */
  slices: { train: ExampleSlice[]; test: ExampleSlice[] };
  /** Window numbers into examples.safetensors. */
  examples: {
    train_top: number[];
    train_quantiles: number[][];
    test_activating: number[];
    /** The slice each test_activating window was drawn from. */
    test_activating_slices: number[];
    test_non_activating: number[];
  };
  /** What a reader should know: the feature never fired, fewer examples than asked, estimated statistics. */
  warnings: string[];
}

export interface ExamplesManifest {
  format: typeof EXAMPLES_FORMAT;
  version: typeof EXAMPLES_VERSION;
  complete: boolean;
  model: { path: string; architecture: string; fingerprint: string; vocab_size: number };
  saes: ExampleSaeRecord[];
  corpus: { path: string | null; sha256: string; documents: number };
  options: ExamplesOptionsRecord;
  /** Documents (with at least one token) and tokens the features were evaluated on, and how they were split. */
  documents: number;
  tokens: number;
  train_documents: number;
  test_documents: number;
  /** True when `max_docs` ended the pass before the corpus did. */
  stopped_at_max_docs: boolean;
  tensors: { file: string; bytes: number; sha256: string; windows: number; tokens: number };
  tokens_file: { file: string; sha256: string };
  features: FeatureRecordJson[];
  /** Store-level warnings (each feature's own are in its record). */
  warnings: string[];
}

/** One window as written: where it comes from and its per-token data. */
export interface StoredWindow {
  doc: number;
  start: number;
  centre: number;
  ids: ArrayLike<number>;
  acts: ArrayLike<number>;
  special: ArrayLike<number>;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

/**
 * Writes a finished store: tensors and tokens.json first, examples.json (with their sha256s) last, each atomically.
 * `manifest` comes without `tensors`/`tokens_file`, which are filled in here.
 */
export async function writeExampleStore(
  dir: string,
  manifest: Omit<ExamplesManifest, "tensors" | "tokens_file">,
  windows: readonly StoredWindow[],
  pieces: ReadonlyMap<number, string>,
): Promise<ExamplesManifest> {
  const W = windows.length;
  const N = windows.reduce((s, w) => s + w.ids.length, 0);
  const offsets = new Int32Array(W + 1);
  const meta = new Int32Array(W * 3);
  const ids = new Int32Array(N);
  const acts = new Float32Array(N);
  const special = new Uint8Array(N);
  let at = 0;
  windows.forEach((w, i) => {
    offsets[i] = at;
    meta.set([w.doc, w.start, w.centre], i * 3);
    for (let t = 0; t < w.ids.length; t++) {
      ids[at + t] = w.ids[t]!;
      acts[at + t] = w.acts[t]!;
      special[at + t] = w.special[t]! ? 1 : 0;
    }
    at += w.ids.length;
  });
  offsets[W] = at;
  const tensorsFile = path.join(dir, EXAMPLES_TENSORS_FILE);
  await writeSafetensors(
    tensorsFile,
    {
      [EXAMPLE_TENSORS.offsets]: { dtype: "I32", shape: [W + 1], data: offsets },
      [EXAMPLE_TENSORS.meta]: { dtype: "I32", shape: [W, 3], data: meta },
      [EXAMPLE_TENSORS.tokenIds]: { dtype: "I32", shape: [N], data: ids },
      [EXAMPLE_TENSORS.acts]: { dtype: "F32", shape: [N], data: acts },
      [EXAMPLE_TENSORS.special]: { dtype: "U8", shape: [N], data: special },
    },
    { format: EXAMPLES_FORMAT },
  );
  const tensorBytes = await readFile(tensorsFile);
  const sorted = [...pieces.keys()].sort((a, b) => a - b);
  const tokensText = JSON.stringify({ format: TOKENS_FORMAT, version: 1, pieces: Object.fromEntries(sorted.map((id) => [String(id), pieces.get(id)!])) }, null, 1) + "\n";
  await writeFileAtomic(path.join(dir, TOKENS_FILE), tokensText);
  const full: ExamplesManifest = {
    ...manifest,
    tensors: { file: EXAMPLES_TENSORS_FILE, bytes: tensorBytes.length, sha256: sha256Hex(tensorBytes), windows: W, tokens: N },
    tokens_file: { file: TOKENS_FILE, sha256: sha256Hex(tokensText) },
  };
  await writeFileAtomic(path.join(dir, EXAMPLES_FILE), JSON.stringify(full, null, 1) + "\n");
  return full;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading and checking

/** Field checks for a JSON file: each failure is a FormatError `FILE: a.b[3].c: expected ..., got ...`. */
class Checker {
  constructor(readonly file: string) {}

  fail(where: string, expected: string, got: unknown): never {
    throw new FormatError(`${this.file}: ${where}: expected ${expected}, got ${got === undefined ? "nothing" : describeValue(got)}`, { file: this.file, field: where });
  }
  obj(v: unknown, where: string): Record<string, unknown> {
    if (v === null || typeof v !== "object" || Array.isArray(v)) this.fail(where, "an object", v);
    return v as Record<string, unknown>;
  }
  arr(v: unknown, where: string): unknown[] {
    if (!Array.isArray(v)) this.fail(where, "a list", v);
    return v as unknown[];
  }
  num(v: unknown, where: string): number {
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(where, "a finite number", v);
    return v as number;
  }
  int(v: unknown, where: string, min = 0): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) this.fail(where, `an integer >= ${min}`, v);
    return v as number;
  }
  str(v: unknown, where: string): string {
    if (typeof v !== "string") this.fail(where, "a string", v);
    return v as string;
  }
  strOrNull(v: unknown, where: string): string | null {
    if (v !== null && typeof v !== "string") this.fail(where, "a string or null", v);
    return v as string | null;
  }
  bool(v: unknown, where: string): boolean {
    if (typeof v !== "boolean") this.fail(where, "true or false", v);
    return v as boolean;
  }
  nums(v: unknown, where: string): number[] {
    return this.arr(v, where).map((x, i) => this.num(x, `${where}[${i}]`));
  }
  ints(v: unknown, where: string, min = 0): number[] {
    return this.arr(v, where).map((x, i) => this.int(x, `${where}[${i}]`, min));
  }
  strs(v: unknown, where: string): string[] {
    return this.arr(v, where).map((x, i) => this.str(x, `${where}[${i}]`));
  }
}

function checkLogits(c: Checker, v: unknown, where: string): TokenLogit[] {
  return c.arr(v, where).map((x, i) => {
    const o = c.obj(x, `${where}[${i}]`);
    return { id: c.int(o.id, `${where}[${i}].id`), token: c.str(o.token, `${where}[${i}].token`), value: c.num(o.value, `${where}[${i}].value`) };
  });
}

function checkSlices(c: Checker, v: unknown, where: string): ExampleSlice[] {
  return c.arr(v, where).map((x, i) => {
    const o = c.obj(x, `${where}[${i}]`);
    return { lo: c.num(o.lo, `${where}[${i}].lo`), hi: c.num(o.hi, `${where}[${i}].hi`), count: c.int(o.count, `${where}[${i}].count`) };
  });
}

function checkFeature(c: Checker, v: unknown, where: string, windows: number): FeatureRecordJson {
  const o = c.obj(v, where);
  const at = (f: string) => `${where}.${f}`;
  const win = (x: unknown, w: string): number[] => {
    const list = c.ints(x, w);
    list.forEach((n, i) => {
      if (n >= windows) c.fail(`${w}[${i}]`, `a window number below ${windows} (tensors.windows)`, n);
    });
    return list;
  };
  const norm = c.obj(o.normalisation, at("normalisation"));
  const hist = c.obj(o.histogram, at("histogram"));
  const histogram = { edges: c.nums(hist.edges, at("histogram.edges")), counts: c.ints(hist.counts, at("histogram.counts")) };
  if (histogram.edges.length !== (histogram.counts.length === 0 ? 0 : histogram.counts.length + 1)) {
    c.fail(at("histogram.edges"), `${histogram.counts.length + 1} edges for ${histogram.counts.length} counts`, histogram.edges.length);
  }
  const logits = c.obj(o.logits, at("logits"));
  const values = c.obj(o.values, at("values"));
  const slices = c.obj(o.slices, at("slices"));
  const ex = c.obj(o.examples, at("examples"));
  const ew = (f: string) => `${where}.examples.${f}`;
  const testActivating = win(ex.test_activating, ew("test_activating"));
  const testSlices = c.ints(ex.test_activating_slices, ew("test_activating_slices"));
  if (testSlices.length !== testActivating.length) c.fail(ew("test_activating_slices"), `${testActivating.length} slice numbers (one per test_activating window)`, testSlices.length);
  return {
    id: c.str(o.id, at("id")),
    layer: c.int(o.layer, at("layer")),
    index: c.int(o.index, at("index")),
    hook: c.str(o.hook, at("hook")),
    tags: c.strs(o.tags, at("tags")),
    tokens: c.int(o.tokens, at("tokens")),
    nonzero: c.int(o.nonzero, at("nonzero")),
    frac_nonzero: c.num(o.frac_nonzero, at("frac_nonzero")),
    max_activation: c.num(o.max_activation, at("max_activation")),
    normalisation: { quantile: c.num(norm.quantile, at("normalisation.quantile")), value: c.num(norm.value, at("normalisation.value")) },
    histogram,
    logits: { top: checkLogits(c, logits.top, at("logits.top")), bottom: checkLogits(c, logits.bottom, at("logits.bottom")) },
    values: { kept: c.int(values.kept, at("values.kept")), exact: c.bool(values.exact, at("values.exact")) },
    slices: { train: checkSlices(c, slices.train, at("slices.train")), test: checkSlices(c, slices.test, at("slices.test")) },
    examples: {
      train_top: win(ex.train_top, ew("train_top")),
      train_quantiles: c.arr(ex.train_quantiles, ew("train_quantiles")).map((q, i) => win(q, `${ew("train_quantiles")}[${i}]`)),
      test_activating: testActivating,
      test_activating_slices: testSlices,
      test_non_activating: win(ex.test_non_activating, ew("test_non_activating")),
    },
    warnings: c.strs(o.warnings, at("warnings")),
  };
}

function checkOptions(c: Checker, v: unknown): ExamplesOptionsRecord {
  const o = c.obj(v, "options");
  const at = (f: string) => `options.${f}`;
  const tagsObj = c.obj(o.tags, at("tags"));
  const maxDocs = o.max_docs === null ? null : c.int(o.max_docs, at("max_docs"), 1);
  return {
    features: c.strs(o.features, at("features")),
    tags: Object.fromEntries(Object.entries(tagsObj).map(([k, t]) => [k, c.strs(t, `options.tags.${k}`)])),
    context: c.int(o.context, at("context"), 1),
    top_examples: c.int(o.top_examples, at("top_examples")),
    quantiles: c.int(o.quantiles, at("quantiles"), 1),
    per_quantile_train: c.int(o.per_quantile_train, at("per_quantile_train")),
    per_quantile_test: c.int(o.per_quantile_test, at("per_quantile_test")),
    non_activating: c.int(o.non_activating, at("non_activating")),
    normalisation_quantile: c.num(o.normalisation_quantile, at("normalisation_quantile")),
    test_fraction: c.num(o.test_fraction, at("test_fraction")),
    seed: c.int(o.seed, at("seed")),
    histogram_bins: c.int(o.histogram_bins, at("histogram_bins"), 1),
    top_logits: c.int(o.top_logits, at("top_logits")),
    chat: c.bool(o.chat, at("chat")),
    max_doc_tokens: c.int(o.max_doc_tokens, at("max_doc_tokens"), 1),
    max_docs: maxDocs,
    value_cap: c.int(o.value_cap, at("value_cap"), 1),
    sample_reservoir: c.int(o.sample_reservoir, at("sample_reservoir"), 1),
    corpus_format: c.str(o.corpus_format, at("corpus_format")),
  };
}

/** Parses and checks examples.json's text; every error names `file` and the field. */
export function parseExamplesManifest(text: string, file: string): ExamplesManifest {
  const c = new Checker(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON (${(err as Error).message})`, { file, cause: err });
  }
  const o = c.obj(json, "the top level");
  if (o.format !== EXAMPLES_FORMAT) c.fail("format", JSON.stringify(EXAMPLES_FORMAT), o.format);
  if (o.version !== EXAMPLES_VERSION) c.fail("version", `${EXAMPLES_VERSION} (the version this safesail reads)`, o.version);
  const model = c.obj(o.model, "model");
  const corpus = c.obj(o.corpus, "corpus");
  const tensors = c.obj(o.tensors, "tensors");
  const tokensFile = c.obj(o.tokens_file, "tokens_file");
  const windows = c.int(tensors.windows, "tensors.windows");
  const features = c.arr(o.features, "features").map((f, i) => checkFeature(c, f, `features[${i}]`, windows));
  const seen = new Set<string>();
  features.forEach((f, i) => {
    if (seen.has(f.id)) c.fail(`features[${i}].id`, "an id not listed before", f.id);
    seen.add(f.id);
  });
  return {
    format: EXAMPLES_FORMAT,
    version: EXAMPLES_VERSION,
    complete: c.bool(o.complete, "complete"),
    model: { path: c.str(model.path, "model.path"), architecture: c.str(model.architecture, "model.architecture"), fingerprint: c.str(model.fingerprint, "model.fingerprint"), vocab_size: c.int(model.vocab_size, "model.vocab_size", 1) },
    saes: c.arr(o.saes, "saes").map((s, i) => {
      const r = c.obj(s, `saes[${i}]`);
      const at = (f: string) => `saes[${i}].${f}`;
      return {
        path: c.strOrNull(r.path, at("path")),
        weights_sha256: c.strOrNull(r.weights_sha256, at("weights_sha256")),
        params_sha256: c.str(r.params_sha256, at("params_sha256")),
        hook: c.str(r.hook, at("hook")),
        d_in: c.int(r.d_in, at("d_in"), 1),
        d_sae: c.int(r.d_sae, at("d_sae"), 1),
        k: c.int(r.k, at("k"), 1),
      };
    }),
    corpus: { path: c.strOrNull(corpus.path, "corpus.path"), sha256: c.str(corpus.sha256, "corpus.sha256"), documents: c.int(corpus.documents, "corpus.documents") },
    options: checkOptions(c, o.options),
    documents: c.int(o.documents, "documents"),
    tokens: c.int(o.tokens, "tokens"),
    train_documents: c.int(o.train_documents, "train_documents"),
    test_documents: c.int(o.test_documents, "test_documents"),
    stopped_at_max_docs: c.bool(o.stopped_at_max_docs, "stopped_at_max_docs"),
    tensors: { file: c.str(tensors.file, "tensors.file"), bytes: c.int(tensors.bytes, "tensors.bytes"), sha256: c.str(tensors.sha256, "tensors.sha256"), windows, tokens: c.int(tensors.tokens, "tensors.tokens") },
    tokens_file: { file: c.str(tokensFile.file, "tokens_file.file"), sha256: c.str(tokensFile.sha256, "tokens_file.sha256") },
    features,
    warnings: c.strs(o.warnings, "warnings"),
  };
}

/** A file of the store; a missing one is a NotFoundError naming it. */
async function readStoreFile(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${file}: not found (${what})`, { file, cause: err });
    throw new FormatError(`${file}: cannot be read (${(err as Error).message})`, { file, cause: err });
  }
}

interface WindowTensors {
  offsets: Int32Array;
  meta: Int32Array;
  ids: Int32Array;
  acts: Float32Array;
  special: Uint8Array;
}

function readWindowTensors(file: string, m: ExamplesManifest): WindowTensors {
  const st = openSafetensors(file);
  const W = m.tensors.windows;
  const N = m.tensors.tokens;
  const get = (name: string, dtype: string, shape: number[]): Uint8Array => {
    const ref = st.tensors.get(name);
    if (!ref) throw new FormatError(`${file}: tensor "${name}" is missing`, { file, field: name });
    if (ref.dtype !== dtype || ref.shape.join(",") !== shape.join(",")) {
      throw new FormatError(`${file}: tensor "${name}" is ${ref.dtype} [${ref.shape.join(", ")}], examples.json says ${dtype} [${shape.join(", ")}]`, { file, field: name });
    }
    return readTensorBytes(ref);
  };
  // readTensorBytes returns a fresh, aligned buffer, so the typed views below are safe.
  const i32 = (b: Uint8Array) => new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const t: WindowTensors = {
    offsets: i32(get(EXAMPLE_TENSORS.offsets, "I32", [W + 1])),
    meta: i32(get(EXAMPLE_TENSORS.meta, "I32", [W, 3])),
    ids: i32(get(EXAMPLE_TENSORS.tokenIds, "I32", [N])),
    acts: ((b) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4))(get(EXAMPLE_TENSORS.acts, "F32", [N])),
    special: get(EXAMPLE_TENSORS.special, "U8", [N]),
  };
  for (let w = 0; w < W; w++) {
    if (!(t.offsets[w]! <= t.offsets[w + 1]! && t.offsets[w + 1]! <= N && t.offsets[0] === 0)) {
      throw new FormatError(`${file}: tensor "${EXAMPLE_TENSORS.offsets}": entry ${w + 1} (${t.offsets[w + 1]}) is not a window end in ${t.offsets[w]}..${N}`, { file, field: EXAMPLE_TENSORS.offsets });
    }
  }
  if (t.offsets[W] !== N) throw new FormatError(`${file}: tensor "${EXAMPLE_TENSORS.offsets}": the last entry is ${t.offsets[W]}, expected ${N} (tensors.tokens)`, { file, field: EXAMPLE_TENSORS.offsets });
  return t;
}

function parseTokens(text: string, file: string, sha: string): Map<number, string> {
  if (sha256Hex(text) !== sha) throw new FormatError(`${file}: sha256 does not match tokens_file.sha256 in ${EXAMPLES_FILE} (the files come from different runs, or one was edited)`, { file, field: "sha256" });
  const c = new Checker(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON (${(err as Error).message})`, { file, cause: err });
  }
  const o = c.obj(json, "the top level");
  if (o.format !== TOKENS_FORMAT) c.fail("format", JSON.stringify(TOKENS_FORMAT), o.format);
  const pieces = c.obj(o.pieces, "pieces");
  const out = new Map<number, string>();
  for (const [k, v] of Object.entries(pieces)) {
    if (!/^(0|[1-9]\d*)$/.test(k)) c.fail(`pieces.${k}`, "token ids as keys", k);
    out.set(Number(k), c.str(v, `pieces.${k}`));
  }
  return out;
}

/** Opens a finished example store (see the file comment), checking the index, the tensors and the token pieces. */
export async function openExampleStore(dir: string): Promise<ExampleStore> {
  const abs = path.resolve(dir);
  const manifestFile = path.join(abs, EXAMPLES_FILE);
  const text = (await readStoreFile(manifestFile, `an example store folder holds ${EXAMPLES_FILE}, ${EXAMPLES_TENSORS_FILE} and ${TOKENS_FILE}; safesail examples writes them`)).toString("utf8");
  const manifest = parseExamplesManifest(text, manifestFile);
  const tensorsFile = path.join(abs, manifest.tensors.file);
  const bytes = await readStoreFile(tensorsFile, `listed in ${manifestFile}`);
  if (bytes.length !== manifest.tensors.bytes || sha256Hex(bytes) !== manifest.tensors.sha256) {
    throw new FormatError(`${tensorsFile}: ${bytes.length} bytes whose sha256 does not match tensors.sha256 in ${manifestFile} (the files come from different runs, or one is corrupt)`, { file: tensorsFile, field: "sha256" });
  }
  const tensors = readWindowTensors(tensorsFile, manifest);
  const tokensFile = path.join(abs, manifest.tokens_file.file);
  const pieces = parseTokens((await readStoreFile(tokensFile, `listed in ${manifestFile}`)).toString("utf8"), tokensFile, manifest.tokens_file.sha256);
  return new ExampleStore(abs, manifest, tensors, pieces);
}

/** A finished example store: the index in `manifest`, each feature's examples through `feature(id)`. */
export class ExampleStore {
  private readonly byId: Map<string, FeatureRecordJson>;

  constructor(
    readonly dir: string,
    readonly manifest: ExamplesManifest,
    private readonly tensors: WindowTensors,
    private readonly pieces: ReadonlyMap<number, string>,
  ) {
    this.byId = new Map(manifest.features.map((f) => [f.id, f]));
  }

  /** Feature ids in the order they were asked for. */
  ids(): string[] {
    return this.manifest.features.map((f) => f.id);
  }

  /** The record of one feature as examples.json holds it (statistics, slices, warnings). */
  record(id: string): FeatureRecordJson {
    const r = this.byId.get(id);
    if (!r) throw new NotFoundError(`feature ${describeValue(id)} is not in the example store ${this.dir} (it holds ${this.ids().slice(0, 10).join(", ")}${this.manifest.features.length > 10 ? ", ..." : ""})`, { file: path.join(this.dir, EXAMPLES_FILE), field: "features" });
    return r;
  }

  /** One window as an ActivationExample (token pieces from tokens.json). */
  window(w: number): ActivationExample {
    const t = this.tensors;
    const from = t.offsets[w]!;
    const to = t.offsets[w + 1]!;
    const ids = Array.from(t.ids.subarray(from, to));
    const tokens = ids.map((id) => {
      const piece = this.pieces.get(id);
      if (piece === undefined) {
        const file = path.join(this.dir, this.manifest.tokens_file.file);
        throw new FormatError(`${file}: pieces: no piece for token id ${id} (used by window ${w})`, { file, field: `pieces.${id}` });
      }
      return piece;
    });
    return {
      ids,
      tokens,
      acts: Array.from(t.acts.subarray(from, to)),
      doc: t.meta[w * 3]!,
      start: t.meta[w * 3 + 1]!,
      centre: t.meta[w * 3 + 2]!,
      special: Array.from(t.special.subarray(from, to), (s) => s === 1),
    };
  }

  /** Everything the store holds about one feature. */
  feature(id: string): FeatureExamples {
    const r = this.record(id);
    const ex = (list: number[]) => list.map((w) => this.window(w));
    return {
      id: r.id,
      layer: r.layer,
      index: r.index,
      hook: r.hook,
      tags: [...r.tags],
      tokens: r.tokens,
      frac_nonzero: r.frac_nonzero,
      max_activation: r.max_activation,
      normalisation: { ...r.normalisation },
      histogram: { edges: [...r.histogram.edges], counts: [...r.histogram.counts] },
      logits: { top: r.logits.top.map((l) => ({ ...l })), bottom: r.logits.bottom.map((l) => ({ ...l })) },
      train: { top: ex(r.examples.train_top), quantiles: r.examples.train_quantiles.map(ex) },
      test: { activating: ex(r.examples.test_activating), nonActivating: ex(r.examples.test_non_activating) },
    };
  }

  /** Every feature, in the order of `ids()`. */
  features(): FeatureExamples[] {
    return this.ids().map((id) => this.feature(id));
  }

  /** Store-level and per-feature warnings, each per-feature one prefixed with its feature id. */
  warnings(): string[] {
    return [...this.manifest.warnings, ...this.manifest.features.flatMap((f) => f.warnings.map((w) => `${f.id}: ${w}`))];
  }
}
