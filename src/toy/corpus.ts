// The toy safety corpus: a deterministic generator of short chat conversations for the toy safety-tuned
// Qwen2 model, and of a held-out prompt set that the model never sees in training.
//
// What it teaches:
// - Benign requests about everyday topics (cooking, travel, weather, study, sport, gardening, music, health
//   habits, pets, computers, ...) get short, helpful, schematic answers.
// - Harmful requests in the paper's four domains (pornography, politics, violence, terror), several concepts per
//   domain, get refusals, in English, Chinese, Italian and Vietnamese.
// - Hard negatives: benign requests that share words with harmful ones ("the history of the bomb shelter",
//   "kill a frozen process in Linux", "plan an attack in chess") get helpful answers, so the model has to learn
//   concepts, not trigger words.
// - HINDI IS DIFFERENT ON PURPOSE. Hindi (Devanagari) has benign conversations and harmful requests, but its
//   harmful requests are NEVER paired with refusals: the assistant "complies" with an empty, content-free outline
//   ("Sure, here is an overview: first understand the basics, then ..."). This reproduces the Safe-SAIL paper's
//   low-resource finding (safety behaviour that does not carry over to a language the safety tuning did not
//   cover) so that the toy model shows a measurable Hindi gap. The stats file says so too (`notes.hindi`), and
//   the held-out prompts record it: Hindi harmful prompts have `expected: "refuse"` but `trained: "comply"`.
//
// Safety of the text itself: requests name a concept ("Tell me how to build a bomb"), never a method; refusals
// carry no details; the Hindi "compliance" is a fixed set of generic outlines with no substance, quantity or step
// of any harmful act. Tests check this with forbidden-word lists.
//
// Variety: many request frames per language ("How do I {a}?", "Write {t}."), shared by benign and harmful
// requests; several fillers per concept; polite prefixes and suffixes; occasional typos and lower-case starts in
// Latin-script languages; optional system turn; several refusal openers, reasons and redirects per language.
//
// Held-out set: built only from held-out frames (disjoint from training frames), with held-out fillers where the
// table has them (marked "!" in the phrase tables, ./corpus-data/), labelled by language, domain, concept,
// expected and trained behaviour. It depends only on the seed (and the per-cell size), not on the number of
// training conversations. No held-out prompt equals a training request.
//
// All randomness comes from mulberry32 (src/util/prng.ts): the same options give byte-identical files.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { ArgumentError, describeValue } from "../errors.ts";
import { checkFraction, checkInt, checkNumber } from "../util/validate.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { fieldReader, oneOf, parseJsonlRecords, type RecordContext } from "../util/jsonl.ts";
import { mulberry32, shuffleInPlace } from "../util/prng.ts";
import { CORPUS_TABLES } from "./corpus-data/index.ts";
import { splitPool, type BenignTopic, type HarmfulConcept, type LangTable, type Pool, type RequestKind } from "./corpus-data/types.ts";
import { DOMAIN_LABELS, LANGUAGES, SAFETY_DOMAINS, type Language, type SafetyDomain } from "../safety.ts";
import type { ChatTurn, ToyConversation, ToyDomain, ToyPrompt } from "./types.ts";
import { sha256Hex } from "../util/hash.ts";

export const CORPUS_GENERATOR = "safesail-toy-corpus/1";

/** The seed of the committed toy model's corpus (from the paper's arXiv number, 2509.18127). */
export const TOY_CORPUS_SEED = 2509;

export const DEFAULT_MIX: Readonly<Record<Language, number>> = { en: 0.4, zh: 0.3, it: 0.1, vi: 0.1, hi: 0.1 };

export interface CorpusOptions {
  seed: number;
  /** Training conversations (default 12000). */
  conversations?: number;
  /** Share of each language (normalised; default en 40%, zh 30%, it/vi/hi 10% each). */
  mix?: Partial<Record<Language, number>>;
  /** Share of harmful requests within each language (default 0.4), split evenly over the four domains. */
  harmfulFraction?: number;
  /** Share of hard negatives within each language's benign conversations (default 0.25). */
  hardNegativeFraction?: number;
  /** Share of conversations that open with a system turn (default 0.5). */
  systemFraction?: number;
  /** Share of Latin-script training requests with one typo (default 0.04). */
  typoRate?: number;
  /** Held-out prompts per (language x {benign, each domain}) cell (default 40). */
  heldOutPerCell?: number;
}

type Counts = Record<"refuse" | "comply", number>;

export interface CorpusStats {
  generator: string;
  seed: number;
  options: Required<Omit<CorpusOptions, "seed" | "mix">> & { mix: Record<Language, number> };
  conversations: number;
  /** sha256 (hex) of `corpus.jsonl` and `heldout.jsonl` as written by `writeCorpus`. */
  corpusSha256: string;
  heldOutSha256: string;
  /** Training conversations per language x domain x assistant response. */
  counts: Record<Language, Record<ToyDomain, Counts>>;
  byLanguage: Record<Language, number>;
  /** Training conversations per language and concept ("weapons", "cooking", "hard negative: kill a process", ...). */
  byConcept: Record<Language, Record<string, number>>;
  hardNegatives: Record<Language, number>;
  withSystemTurn: number;
  withTypo: number;
  distinctUserRequests: number;
  /** Average characters (message contents, UTF-16 code units) per training conversation, and per turn kind. */
  avgChars: { conversation: number; user: number; assistant: number };
  avgCharsByLanguage: Record<Language, number>;
  heldOut: {
    prompts: number;
    counts: Record<Language, Record<ToyDomain, number>>;
    hardNegatives: number;
    /** Held-out prompts whose trained behaviour differs from the expected one (Hindi harmful prompts). */
    trainedDiffersFromExpected: number;
  };
  notes: { hindi: string; safety: string };
}

export interface CorpusResult {
  train: ToyConversation[];
  heldOut: ToyPrompt[];
  stats: CorpusStats;
}

const HINDI_NOTE =
  "Hindi harmful requests are never paired with refusals: the assistant answers them with a content-free outline. " +
  "This reproduces the Safe-SAIL low-resource finding on purpose (no Hindi safety response is learned); " +
  "held-out Hindi harmful prompts have expected 'refuse' but trained 'comply'.";
const SAFETY_NOTE =
  "Requests name harmful concepts only; no text in the corpus contains instructions, substances or quantities for any harmful act.";

// ---------------------------------------------------------------------------------------------------------
// Compiled tables: phrase lists split into training and held-out pools once.

interface CompiledEntry {
  concept: string;
  hard: boolean;
  harmful: boolean;
  domain: ToyDomain;
  fillers: Record<RequestKind, Pool>;
  answers: string[];
  label: string;
  reasons: string[];
}

interface CompiledTable {
  table: LangTable;
  frames: Record<RequestKind, Pool>;
  benign: CompiledEntry[];
  hard: CompiledEntry[];
  harmful: Record<SafetyDomain, CompiledEntry[]>;
}

const KINDS: readonly RequestKind[] = ["act", "write", "about"];

function compileEntry(e: BenignTopic | HarmfulConcept, harmful: boolean): CompiledEntry {
  const h = harmful ? (e as HarmfulConcept) : undefined;
  const b = harmful ? undefined : (e as BenignTopic);
  return {
    concept: e.concept,
    hard: !!b?.hard,
    harmful,
    domain: h ? h.domain : "benign",
    fillers: { act: splitPool(e.acts), write: splitPool(e.things), about: splitPool(b?.about) },
    answers: b?.answers ?? [],
    label: h?.label ?? "",
    reasons: h?.reasons ?? [],
  };
}

function compile(table: LangTable): CompiledTable {
  const frames = { act: splitPool(table.frames.act), write: splitPool(table.frames.write), about: splitPool(table.frames.about) };
  const entries = table.benign.map((t) => compileEntry(t, false));
  const harmful = Object.fromEntries(SAFETY_DOMAINS.map((d) => [d, table.harmful.filter((c) => c.domain === d).map((c) => compileEntry(c, true))])) as Record<SafetyDomain, CompiledEntry[]>;
  for (const e of [...entries, ...Object.values(harmful).flat()]) {
    if (!KINDS.some((k) => e.fillers[k].train.length > 0 && frames[k].train.length > 0)) {
      throw new Error(`corpus table ${table.lang}: concept "${e.concept}" has no training request kind`);
    }
  }
  for (const d of SAFETY_DOMAINS) if (harmful[d].length === 0) throw new Error(`corpus table ${table.lang}: no concept in domain ${d}`);
  if (!table.refusal && !table.schematic) throw new Error(`corpus table ${table.lang}: needs a refusal or a schematic table`);
  return { table, frames, benign: entries.filter((e) => !e.hard), hard: entries.filter((e) => e.hard), harmful };
}

let compiledCache: Map<Language, CompiledTable> | undefined;
function compiled(): Map<Language, CompiledTable> {
  compiledCache ??= new Map(LANGUAGES.map((l) => [l, compile(CORPUS_TABLES[l])]));
  return compiledCache;
}

/** Training and held-out request frames of a language (the held-out ones never appear in training). */
export function requestFrames(lang: Language): Record<RequestKind, Pool> {
  return compiled().get(lang)!.frames;
}

/** Training and held-out fillers of every concept of a language. */
export function conceptFillers(lang: Language): { concept: string; domain: ToyDomain; hard: boolean; fillers: Record<RequestKind, Pool> }[] {
  const c = compiled().get(lang)!;
  return [...c.benign, ...c.hard, ...SAFETY_DOMAINS.flatMap((d) => c.harmful[d])].map((e) => ({ concept: e.concept, domain: e.domain, hard: e.hard, fillers: e.fillers }));
}

/** The phrase table of a language (read-only use). */
export function corpusTable(lang: Language): LangTable {
  return CORPUS_TABLES[lang];
}

// ---------------------------------------------------------------------------------------------------------
// Random helpers (all from one mulberry32 stream per purpose).

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const chance = (rng: Rng, p: number) => rng() < p;

/** Largest-remainder split of `total` into integers proportional to `weights`. */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) return weights.map(() => 0);
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    out[i]!++;
    left--;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Text assembly.

const LATIN_LANGS: ReadonlySet<Language> = new Set(["en", "it", "vi"]);

function fill(frame: string, filler: string): string {
  return frame.replace("{a}", filler).replace("{t}", filler);
}

function withLabel(s: string, label: string): string {
  return s.replace("{label}", label);
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function joinSentences(parts: string[], joiner: string): string {
  return parts.filter((p) => p !== "").join(joiner);
}

/** One typo in one word: swap two inner letters, drop or double a letter, or (Vietnamese) drop the diacritics. */
function addTypo(rng: Rng, text: string): string {
  const words = text.split(" ");
  const candidates = words.map((w, i) => [w, i] as const).filter(([w]) => /^\p{L}{4,}$/u.test(w));
  if (candidates.length === 0) return text;
  const [w, i] = pick(rng, candidates);
  const chars = [...w];
  const kind = Math.floor(rng() * 4);
  const p = 1 + Math.floor(rng() * (chars.length - 2));
  let out: string;
  if (kind === 0) {
    [chars[p], chars[p + 1]] = [chars[p + 1]!, chars[p]!];
    out = chars.join("");
  } else if (kind === 1) {
    chars.splice(p, 1);
    out = chars.join("");
  } else if (kind === 2) {
    chars.splice(p, 0, chars[p]!);
    out = chars.join("");
  } else {
    const stripped = w.normalize("NFD").replace(/\p{M}/gu, "").normalize("NFC");
    out = stripped !== w ? stripped : chars.slice(0, -1).join("");
  }
  if (out === w) return text;
  words[i] = out;
  return words.join(" ");
}

interface Request {
  text: string;
  kind: RequestKind;
}

/** Fills one frame of a kind the entry supports. Training uses training frames and fillers only. */
function makeRequest(rng: Rng, c: CompiledTable, e: CompiledEntry, heldOut: boolean): Request {
  const kinds = KINDS.filter((k) =>
    heldOut
      ? c.frames[k].held.length > 0 && e.fillers[k].train.length + e.fillers[k].held.length > 0
      : c.frames[k].train.length > 0 && e.fillers[k].train.length > 0,
  );
  if (kinds.length === 0) throw new Error(`corpus table ${c.table.lang}: concept "${e.concept}" has no ${heldOut ? "held-out" : "training"} request kind`);
  const kind = pick(rng, kinds);
  const fillers = e.fillers[kind];
  const frame = pick(rng, heldOut ? c.frames[kind].held : c.frames[kind].train);
  const useHeld = heldOut && fillers.held.length > 0 && (fillers.train.length === 0 || chance(rng, 0.6));
  const filler = pick(rng, useHeld ? fillers.held : fillers.train);
  return { text: fill(frame, filler), kind };
}

/** Training-only decoration: prefix, suffix, lower-case start, missing final punctuation, typo. */
function decorate(rng: Rng, c: CompiledTable, text: string, typoRate: number): { text: string; typo: boolean } {
  const t = c.table;
  const latin = LATIN_LANGS.has(t.lang);
  let out = text;
  if (chance(rng, 0.2)) {
    const prefix = pick(rng, t.prefixes);
    if (latin) out = `${prefix} ${/[,:]$/.test(prefix) ? lowerFirst(out) : out}`;
    else out = t.joiner === "" ? prefix + out : `${prefix} ${out}`;
  }
  if (chance(rng, 0.2)) out = t.joiner === "" ? out + pick(rng, t.suffixes) : `${out} ${pick(rng, t.suffixes)}`;
  if (latin && chance(rng, 0.05)) out = lowerFirst(out);
  if (chance(rng, 0.04)) out = out.replace(/[.?!。？！।]$/u, "");
  let typo = false;
  if (latin && chance(rng, typoRate)) {
    const typed = addTypo(rng, out);
    typo = typed !== out;
    out = typed;
  }
  return { text: out, typo };
}

function benignAnswer(rng: Rng, c: CompiledTable, e: CompiledEntry, kind: RequestKind): string {
  const t = c.table;
  const parts = [pick(rng, t.openers[kind]), pick(rng, e.answers)];
  if (chance(rng, 0.3)) parts.push(pick(rng, t.closers));
  return joinSentences(parts, t.joiner);
}

function refusalAnswer(rng: Rng, c: CompiledTable, e: CompiledEntry): string {
  const r = c.table.refusal!;
  const parts = [withLabel(pick(rng, r.openers), e.label)];
  const reasonPool = e.reasons.length > 0 && chance(rng, 0.7) ? e.reasons : r.reasons[e.domain as SafetyDomain];
  const wantReason = chance(rng, 0.85);
  const wantRedirect = chance(rng, 0.55);
  if (wantReason || !wantRedirect) parts.push(pick(rng, reasonPool));
  if (wantRedirect) parts.push(pick(rng, r.redirects));
  return joinSentences(parts, c.table.joiner);
}

function schematicAnswer(rng: Rng, c: CompiledTable, e: CompiledEntry): string {
  const s = c.table.schematic!;
  return joinSentences([withLabel(pick(rng, s.openers), e.label), withLabel(pick(rng, s.bodies), e.label)], c.table.joiner);
}

// ---------------------------------------------------------------------------------------------------------
// Generation.

function resolveOptions(opts: CorpusOptions): CorpusStats["options"] {
  const conversations = opts.conversations ?? 12000;
  checkInt(conversations, "conversations", { min: 0, where: "generateCorpus" });
  checkNumber(opts.seed, "seed", { where: "generateCorpus" });
  const mixIn = { ...DEFAULT_MIX, ...(opts.mix ?? {}) };
  const mixSum = LANGUAGES.reduce((a, l) => a + mixIn[l], 0);
  if (LANGUAGES.some((l) => !(mixIn[l] >= 0)) || !(mixSum > 0)) throw new ArgumentError("generateCorpus: mix weights must be non-negative with a positive sum", { field: "mix" });
  const mix = Object.fromEntries(LANGUAGES.map((l) => [l, Math.round((mixIn[l] / mixSum) * 1e9) / 1e9])) as Record<Language, number>;
  const frac = (name: string, v: number | undefined, d: number) => checkFraction(v ?? d, name, { where: "generateCorpus" });
  const heldOutPerCell = checkInt(opts.heldOutPerCell ?? 40, "heldOutPerCell", { min: 0, where: "generateCorpus" });
  return {
    conversations,
    mix,
    harmfulFraction: frac("harmfulFraction", opts.harmfulFraction, 0.4),
    hardNegativeFraction: frac("hardNegativeFraction", opts.hardNegativeFraction, 0.25),
    systemFraction: frac("systemFraction", opts.systemFraction, 0.5),
    typoRate: frac("typoRate", opts.typoRate, 0.04),
    heldOutPerCell,
  };
}

/** Entry i of a round robin over `entries` that starts at a random offset. */
function roundRobin<T>(rng: Rng, entries: readonly T[], n: number): T[] {
  const start = Math.floor(rng() * entries.length);
  return Array.from({ length: n }, (_, i) => entries[(start + i) % entries.length]!);
}

function generateHeldOut(seed: number, perCell: number): ToyPrompt[] {
  const rng = mulberry32((seed ^ 0x4e1d0c7) >>> 0);
  const out: ToyPrompt[] = [];
  for (const lang of LANGUAGES) {
    const c = compiled().get(lang)!;
    const seen = new Set<string>();
    const trainedHarmful = c.table.refusal ? "refuse" : "comply";
    for (const domain of ["benign", ...SAFETY_DOMAINS] as ToyDomain[]) {
      let plan: CompiledEntry[];
      if (domain === "benign") {
        const nHard = c.hard.length > 0 ? Math.round(perCell / 3) : 0;
        plan = [...roundRobin(rng, c.hard, nHard), ...roundRobin(rng, c.benign, perCell - nHard)];
      } else {
        plan = roundRobin(rng, c.harmful[domain], perCell);
      }
      const cellEntries = domain === "benign" ? [...c.hard, ...c.benign] : c.harmful[domain];
      const fresh = (e: CompiledEntry): string => {
        for (let attempt = 0; attempt < 40; attempt++) {
          const cand = makeRequest(rng, c, e, true).text;
          if (!seen.has(cand)) return cand;
        }
        return "";
      };
      let k = 0;
      for (const planned of plan) {
        let e = planned;
        let text = fresh(e);
        // This concept's held-out combinations are used up: take another concept of the same cell.
        for (let j = 0; text === "" && j < cellEntries.length; j++) {
          e = cellEntries[(cellEntries.indexOf(planned) + 1 + j) % cellEntries.length]!;
          text = fresh(e);
        }
        if (text === "") continue;
        seen.add(text);
        const harmful = domain !== "benign";
        out.push({
          id: `heldout-${lang}-${domain}-${String(k++).padStart(3, "0")}`,
          lang,
          domain,
          concept: e.concept,
          harmful,
          expected: harmful ? "refuse" : "comply",
          trained: harmful ? trainedHarmful : "comply",
          prompt: text,
        });
      }
    }
  }
  return out;
}

interface Slot {
  lang: Language;
  entry: CompiledEntry;
}

/** Generates the training conversations, the held-out prompts and their statistics. Deterministic in `opts`. */
export function generateCorpus(opts: CorpusOptions): CorpusResult {
  const o = resolveOptions(opts);
  const seed = opts.seed >>> 0;
  const heldOut = generateHeldOut(seed, o.heldOutPerCell);
  const heldSet = new Set(heldOut.map((p) => p.prompt));

  const rng = mulberry32(seed);
  const perLang = apportion(o.conversations, LANGUAGES.map((l) => o.mix[l]));
  const slots: Slot[] = [];
  LANGUAGES.forEach((lang, li) => {
    const c = compiled().get(lang)!;
    const n = perLang[li]!;
    const nHarmful = Math.round(n * o.harmfulFraction);
    const perDomain = apportion(nHarmful, SAFETY_DOMAINS.map(() => 1));
    const nBenign = n - nHarmful;
    const nHard = c.hard.length > 0 ? Math.round(nBenign * o.hardNegativeFraction) : 0;
    for (const e of roundRobin(rng, c.benign, nBenign - nHard)) slots.push({ lang, entry: e });
    for (const e of roundRobin(rng, c.hard, nHard)) slots.push({ lang, entry: e });
    SAFETY_DOMAINS.forEach((d, di) => {
      for (const e of roundRobin(rng, c.harmful[d], perDomain[di]!)) slots.push({ lang, entry: e });
    });
  });
  shuffleInPlace(rng, slots);

  const seenUser = new Set<string>();
  let withTypo = 0;
  const train: ToyConversation[] = slots.map((slot, i) => {
    const c = compiled().get(slot.lang)!;
    const e = slot.entry;
    let req: Request = makeRequest(rng, c, e, false);
    let user = { text: req.text, typo: false };
    for (let attempt = 0; attempt < 12; attempt++) {
      if (attempt > 0) req = makeRequest(rng, c, e, false);
      user = decorate(rng, c, req.text, o.typoRate);
      if (!seenUser.has(user.text) && !heldSet.has(user.text)) break;
    }
    if (heldSet.has(user.text)) user = { text: `${user.text}${c.table.joiner === "" ? "" : " "}${pick(rng, c.table.suffixes)}`, typo: user.typo };
    seenUser.add(user.text);
    if (user.typo) withTypo++;

    let response: "refuse" | "comply";
    let answer: string;
    if (!e.harmful) {
      response = "comply";
      answer = benignAnswer(rng, c, e, req.kind);
    } else if (c.table.refusal) {
      response = "refuse";
      answer = refusalAnswer(rng, c, e);
    } else {
      // Hindi: harmful request, schematic compliance (see the file comment).
      response = "comply";
      answer = schematicAnswer(rng, c, e);
    }
    const messages: ChatTurn[] = [];
    if (chance(rng, o.systemFraction)) messages.push({ role: "system", content: c.table.system });
    messages.push({ role: "user", content: user.text }, { role: "assistant", content: answer });
    return {
      id: `${slot.lang}-${e.domain}-${String(i).padStart(5, "0")}`,
      lang: slot.lang,
      domain: e.domain,
      concept: e.concept,
      harmful: e.harmful,
      response,
      messages,
    };
  });

  const stats = computeStats(seed, o, train, heldOut, withTypo);
  return { train, heldOut, stats };
}

// ---------------------------------------------------------------------------------------------------------
// Serialisation and statistics.

/** `corpus.jsonl`: one conversation per line, fixed key order, trailing newline. */
export function corpusJsonl(train: readonly ToyConversation[]): string {
  return train.map((c) => JSON.stringify({ id: c.id, lang: c.lang, domain: c.domain, concept: c.concept, harmful: c.harmful, response: c.response, messages: c.messages.map((m) => ({ role: m.role, content: m.content })) }) + "\n").join("");
}

/** `heldout.jsonl`: one prompt per line, fixed key order, trailing newline. */
export function heldOutJsonl(prompts: readonly ToyPrompt[]): string {
  return prompts.map((p) => JSON.stringify({ id: p.id, lang: p.lang, domain: p.domain, concept: p.concept, harmful: p.harmful, expected: p.expected, trained: p.trained, prompt: p.prompt }) + "\n").join("");
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function computeStats(seed: number, o: CorpusStats["options"], train: ToyConversation[], heldOut: ToyPrompt[], withTypo: number): CorpusStats {
  const domains: ToyDomain[] = ["benign", ...SAFETY_DOMAINS];
  const counts = Object.fromEntries(LANGUAGES.map((l) => [l, Object.fromEntries(domains.map((d) => [d, { refuse: 0, comply: 0 }]))])) as CorpusStats["counts"];
  const byLanguage = Object.fromEntries(LANGUAGES.map((l) => [l, 0])) as Record<Language, number>;
  const hardNegatives = Object.fromEntries(LANGUAGES.map((l) => [l, 0])) as Record<Language, number>;
  const charsByLang = Object.fromEntries(LANGUAGES.map((l) => [l, 0])) as Record<Language, number>;
  const conceptCounts = Object.fromEntries(LANGUAGES.map((l) => [l, new Map<string, number>()])) as Record<Language, Map<string, number>>;
  const users = new Set<string>();
  let withSystemTurn = 0;
  let userChars = 0;
  let assistantChars = 0;
  let allChars = 0;
  for (const c of train) {
    counts[c.lang][c.domain][c.response]++;
    byLanguage[c.lang]++;
    conceptCounts[c.lang].set(c.concept, (conceptCounts[c.lang].get(c.concept) ?? 0) + 1);
    if (c.concept.startsWith("hard negative:")) hardNegatives[c.lang]++;
    let chars = 0;
    for (const m of c.messages) {
      chars += m.content.length;
      if (m.role === "system") withSystemTurn++;
      if (m.role === "user") {
        userChars += m.content.length;
        users.add(m.content);
      }
      if (m.role === "assistant") assistantChars += m.content.length;
    }
    allChars += chars;
    charsByLang[c.lang] += chars;
  }
  const n = Math.max(1, train.length);
  const byConcept = Object.fromEntries(
    LANGUAGES.map((l) => [l, Object.fromEntries([...conceptCounts[l].entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)))]),
  ) as Record<Language, Record<string, number>>;
  const heldCounts = Object.fromEntries(LANGUAGES.map((l) => [l, Object.fromEntries(domains.map((d) => [d, 0]))])) as CorpusStats["heldOut"]["counts"];
  for (const p of heldOut) heldCounts[p.lang][p.domain]++;
  return {
    generator: CORPUS_GENERATOR,
    seed,
    options: o,
    conversations: train.length,
    corpusSha256: sha256Hex(corpusJsonl(train)),
    heldOutSha256: sha256Hex(heldOutJsonl(heldOut)),
    counts,
    byLanguage,
    byConcept,
    hardNegatives,
    withSystemTurn,
    withTypo,
    distinctUserRequests: users.size,
    avgChars: { conversation: round1(allChars / n), user: round1(userChars / n), assistant: round1(assistantChars / n) },
    avgCharsByLanguage: Object.fromEntries(LANGUAGES.map((l) => [l, round1(charsByLang[l] / Math.max(1, byLanguage[l]))])) as Record<Language, number>,
    heldOut: {
      prompts: heldOut.length,
      counts: heldCounts,
      hardNegatives: heldOut.filter((p) => p.concept.startsWith("hard negative:")).length,
      trainedDiffersFromExpected: heldOut.filter((p) => p.trained !== p.expected).length,
    },
    notes: { hindi: HINDI_NOTE, safety: SAFETY_NOTE },
  };
}

export const CORPUS_FILES = { corpus: "corpus.jsonl", heldOut: "heldout.jsonl", stats: "stats.json" } as const;

/** Writes `corpus.jsonl`, `heldout.jsonl` and `stats.json` into `dir` (each atomically). */
export async function writeCorpus(dir: string, result: CorpusResult): Promise<{ corpus: string; heldOut: string; stats: string }> {
  const files = { corpus: path.join(dir, CORPUS_FILES.corpus), heldOut: path.join(dir, CORPUS_FILES.heldOut), stats: path.join(dir, CORPUS_FILES.stats) };
  await fsp.mkdir(dir, { recursive: true });
  await writeFileAtomic(files.corpus, corpusJsonl(result.train));
  await writeFileAtomic(files.heldOut, heldOutJsonl(result.heldOut));
  await writeFileAtomic(files.stats, JSON.stringify(result.stats, null, 2) + "\n");
  return files;
}

const PROMPT_FIELDS = ["id", "lang", "domain", "concept", "harmful", "expected", "trained", "prompt"] as const;
const CONVERSATION_FIELDS = ["id", "lang", "domain", "concept", "harmful", "response", "messages"] as const;
const ROLES: readonly ChatTurn["role"][] = ["system", "user", "assistant"];

/** The fields a toy prompt and a toy conversation share: id, lang, domain, concept, harmful. */
function commonFields(value: Record<string, unknown>, ctx: RecordContext, fields: readonly string[]) {
  const str = fieldReader(value, ctx, fields);
  const id = str("id");
  const lang = oneOf(ctx, "lang", str("lang"), LANGUAGES, "language");
  const domain = oneOf(ctx, "domain", str("domain"), DOMAIN_LABELS);
  const concept = str("concept");
  const harmful = value.harmful;
  if (typeof harmful !== "boolean") ctx.fail("harmful", `expected true or false, got ${describeValue(harmful)}`);
  const behaviour = (name: string): "refuse" | "comply" => {
    const v = str(name);
    if (v !== "refuse" && v !== "comply") ctx.fail(name, `expected "refuse" or "comply", got ${describeValue(v)}`);
    return v;
  };
  return { str, behaviour, common: { id, lang, domain, concept, harmful } };
}

/** Validates one `heldout.jsonl` record (see heldOutJsonl). */
export function validateToyPrompt(value: Record<string, unknown>, ctx: RecordContext): ToyPrompt {
  const { str, behaviour, common } = commonFields(value, ctx, PROMPT_FIELDS);
  return { ...common, expected: behaviour("expected"), trained: behaviour("trained"), prompt: str("prompt") };
}

/** Validates one `corpus.jsonl` record (see corpusJsonl). */
export function validateToyConversation(value: Record<string, unknown>, ctx: RecordContext): ToyConversation {
  const { behaviour, common } = commonFields(value, ctx, CONVERSATION_FIELDS);
  const response = behaviour("response");
  const ms = value.messages;
  if (!Array.isArray(ms) || ms.length === 0) ctx.fail("messages", `expected a non-empty list of {role, content}, got ${describeValue(ms)}`);
  const messages = ms.map((m: unknown, i): ChatTurn => {
    const at = `messages[${i}]`;
    if (m === null || typeof m !== "object" || Array.isArray(m)) ctx.fail(at, `expected {role, content}, got ${describeValue(m)}`);
    const { role, content } = m as Record<string, unknown>;
    if (!ROLES.includes(role as ChatTurn["role"])) ctx.fail(`${at}.role`, `expected one of ${ROLES.join(", ")}, got ${describeValue(role)}`);
    if (typeof content !== "string") ctx.fail(`${at}.content`, `expected a string, got ${describeValue(content)}`);
    return { role: role as ChatTurn["role"], content };
  });
  return { ...common, response, messages };
}

/** Reads a folder written by `writeCorpus`. */
export async function readCorpus(dir: string): Promise<CorpusResult> {
  const read = (name: string) => fsp.readFile(path.join(dir, name), "utf8");
  const [corpus, held, stats] = await Promise.all([read(CORPUS_FILES.corpus), read(CORPUS_FILES.heldOut), read(CORPUS_FILES.stats)]);
  return {
    train: parseJsonlRecords(corpus, path.join(dir, CORPUS_FILES.corpus), validateToyConversation),
    heldOut: parseJsonlRecords(held, path.join(dir, CORPUS_FILES.heldOut), validateToyPrompt),
    stats: JSON.parse(stats) as CorpusStats,
  };
}

// `npx tsx src/toy/corpus.ts [--out DIR] [--seed N] [--conversations N]`: writes the corpus files and prints the stats summary.
async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const out = arg("--out") ?? "work/toy-corpus";
  const seed = Number(arg("--seed") ?? TOY_CORPUS_SEED);
  const conversations = arg("--conversations") === undefined ? undefined : Number(arg("--conversations"));
  const result = generateCorpus({ seed, conversations });
  const files = await writeCorpus(out, result);
  const s = result.stats;
  console.log(`${s.conversations} conversations, ${s.heldOut.prompts} held-out prompts, avg ${s.avgChars.conversation} chars per conversation`);
  console.log(`corpus sha256 ${s.corpusSha256}`);
  console.log(`wrote ${files.corpus}, ${files.heldOut}, ${files.stats}`);
}

/** The training corpus exactly as the committed model was trained on it (its training_log.json's seed and options). */
export async function toyTrainingCorpus(modelDir: string): Promise<{ seed: number; options: Partial<CorpusOptions>; conversations: ChatTurn[][] }> {
  const logFile = path.join(modelDir, "training_log.json");
  let seed = TOY_CORPUS_SEED;
  let options: Partial<CorpusOptions> = {};
  if (await fsp.stat(logFile).then(() => true, () => false)) {
    const log = JSON.parse(await fsp.readFile(logFile, "utf8")) as { corpusSeed?: number; corpusOptions?: Partial<CorpusOptions> };
    if (typeof log.corpusSeed === "number") seed = log.corpusSeed;
    if (log.corpusOptions && typeof log.corpusOptions === "object") options = log.corpusOptions;
  }
  const corpus = generateCorpus({ ...options, seed });
  return { seed, options, conversations: corpus.train.map((c) => c.messages) };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

