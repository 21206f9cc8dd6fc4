// Argument parsing for every `safesail` command: one wrapper around node:util parseArgs, and one reader per kind
// of flag value. Every error is an ArgumentError whose message names the flag and quotes the bad value, e.g.
//   --steps must be a positive integer, got "2.5"
//   --ids must be comma-separated non-negative integers, got "1,x" (bad item "x")
//   unknown option --step (did you mean --steps?)
// The number wording is src/util/validate.ts's, shared with the library's option checks.
import { readFileSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ArgumentError, describeValue } from "../errors.ts";
import { integerRequirement, isIntInRange, isNumberInRange, numberRequirement, type NumberRangeOptions, type RangeOptions } from "../util/validate.ts";

export interface CliArgsConfig extends ParseArgsConfig {
  args: string[];
  /** Most positional arguments accepted (implies allowPositionals); more is an error naming the first extra one. */
  maxPositionals?: number;
  /** The synopsis, e.g. "safesail info MODEL": shown after errors about positional arguments, and by --help. */
  usage?: string;
  /** What `--help` / `-h` prints (default `usage: ` + usage). */
  help?: string;
}

/**
 * `--help` or `-h` was given: not an error. parseCliArgs throws it before anything else is checked (so
 * `safesail info --help` needs no MODEL), and the CLI entry point (main.ts) prints `text` on stdout and exits 0.
 */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super("help requested");
    this.name = "HelpRequested";
  }
}

/**
 * Whether `args` ask for help: `--help` or `-h` as an argument of its own, before any `--`, and not the value of
 * a string option (`--prompt -h` is a prompt).
 */
export function wantsHelp(args: readonly string[], options: ParseArgsConfig["options"] = {}): boolean {
  const opts = (options ?? {}) as Record<string, Option>;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") return false;
    if (a === "--help" || a === "-h") return true;
    const long = a.startsWith("--") && !a.includes("=") ? a.slice(2) : undefined;
    const short = !long && /^-[A-Za-z]$/.test(a) ? Object.keys(opts).find((k) => opts[k]!.short === a[1]) : undefined;
    const name = long ?? short;
    if (name !== undefined && opts[name]?.type === "string") i++; // skip its value
  }
  return false;
}

type Option = NonNullable<ParseArgsConfig["options"]>[string];

/** parseArgs's result, positionals always a string[] (parseArgs types them [] unless allowPositionals is true). */
export type CliArgs<T extends CliArgsConfig> = Omit<ReturnType<typeof parseArgs<T>>, "positionals"> & { positionals: string[] };

/**
 * parseArgs (strict) whose errors are ArgumentErrors naming the flag: an unknown option (with the closest known
 * one), a flag without its value, a value given to a switch, an unexpected positional argument. `--help` / `-h`
 * anywhere (every command) throws HelpRequested with `help` (or the usage line) before anything else. A negative number
 * after a string option is taken as its value (`--seed -1`), as a user means it, instead of being refused as
 * ambiguous.
 */
export function parseCliArgs<T extends CliArgsConfig>(config: T): CliArgs<T> {
  const { maxPositionals, usage, help, ...rest } = config;
  const options = (config.options ?? {}) as Record<string, Option>;
  if (wantsHelp(config.args, options)) throw new HelpRequested(help ?? (usage ? `usage: ${usage}` : `options: ${Object.keys(options).map((k) => `--${k}`).join(", ") || "none"}`));
  checkUtf8Args(config.args, options, usage);
  const args = joinNegativeValues(config.args, options);
  let parsed: CliArgs<T>;
  try {
    parsed = parseArgs({ ...rest, args, strict: true, allowPositionals: config.allowPositionals ?? maxPositionals !== undefined } as T) as CliArgs<T>;
  } catch (err) {
    throw argumentErrorFrom(err, args, options, usage);
  }
  const positionals = parsed.positionals ?? [];
  parsed.positionals = positionals;
  if (maxPositionals !== undefined && positionals.length > maxPositionals) {
    const extra = positionals[maxPositionals]!;
    const takes = maxPositionals === 0 ? "no positional arguments" : `at most ${maxPositionals} positional argument${maxPositionals === 1 ? "" : "s"}`;
    throw new ArgumentError(`unexpected argument ${describeValue(extra)} (this command takes ${takes}${usage ? `: ${usage}` : ""})`);
  }
  return parsed;
}

// ---- invalid UTF-8 in arguments ------------------------------------------------------------------------------
//
// Node decodes process.argv as UTF-8 and puts U+FFFD (the replacement character) in place of bytes that are not
// valid UTF-8, with no error: a Latin-1 `--prompt` would reach the model with U+FFFD in it. The decoded string
// alone cannot tell such a byte from a U+FFFD the user really typed (bytes EF BF BD), so on Linux the raw bytes
// are read back from /proc/self/cmdline: an argument whose decoded text contains U+FFFD is looked up there, and
// refused when its bytes are invalid, naming the flag (or positional argument), the byte offset within the value
// and the byte. Without /proc (macOS, Windows) the U+FFFD itself is refused, at the byte offset it would have in
// the raw argument (exact: everything before the first bad byte is valid UTF-8, which decodes and re-encodes to
// the same bytes). Windows passes arguments as UTF-16, so there is nothing to lose there but lone surrogates.

/** Offset of the first byte that makes `bytes` invalid UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // > U+10FFFF
    } else return i;
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined) return i; // truncated sequence
      if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return i; // the sequence starting at i is bad
    }
    i += n + 1;
  }
  return -1;
}

let rawArgvCache: Buffer[] | null | undefined;

/** This process's arguments as raw bytes (/proc/self/cmdline), or null where that file does not exist. */
function rawArgv(): Buffer[] | null {
  if (rawArgvCache !== undefined) return rawArgvCache;
  try {
    const raw = readFileSync("/proc/self/cmdline");
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] === 0) {
        parts.push(raw.subarray(start, i));
        start = i + 1;
      }
    }
    rawArgvCache = parts;
  } catch {
    rawArgvCache = null;
  }
  return rawArgvCache;
}

/**
 * Where a decoded argument came from invalid UTF-8: the byte offset of the first bad byte and the byte (null when
 * the raw bytes cannot be read back and only the U+FFFD is known); null for a valid argument.
 */
export function invalidUtf8InArg(arg: string, raw: readonly Uint8Array[] | null = rawArgv()): { offset: number; byte: number | null } | null {
  const at = arg.indexOf("\uFFFD");
  if (at < 0) return null;
  if (raw === null) return { offset: Buffer.byteLength(arg.slice(0, at), "utf8"), byte: null };
  for (const bytes of raw) {
    if (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8") !== arg) continue;
    const bad = firstInvalidUtf8(bytes);
    if (bad >= 0) return { offset: bad, byte: bytes[bad]! };
  }
  // A U+FFFD typed as such, or an argument not from this process's command line (an in-process call): the text is
  // what it says.
  return null;
}

/** Refuses an argument that was not valid UTF-8 on the command line, naming the flag or the positional argument. */
function checkUtf8Args(args: readonly string[], options: Record<string, Option>, usage: string | undefined): void {
  let positional = 0;
  let valueOf: string | undefined; // the string option whose value args[i] is
  let flags = true; // false after "--"
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const owner = valueOf;
    valueOf = undefined;
    const isFlag = flags && owner === undefined && a.startsWith("-") && a !== "-";
    if (flags && owner === undefined && a === "--") {
      flags = false;
      continue;
    }
    if (isFlag) {
      const long = a.startsWith("--") && !a.includes("=") ? a.slice(2) : undefined;
      const short = !long && /^-[A-Za-z]$/.test(a) ? Object.keys(options).find((k) => options[k]!.short === a[1]) : undefined;
      const name = long ?? short;
      if (name !== undefined && options[name]?.type === "string") valueOf = name;
    } else if (owner === undefined) positional++;
    const bad = invalidUtf8InArg(a);
    if (!bad) continue;
    let what: string;
    let offset = bad.offset;
    const eq = isFlag && a.startsWith("--") ? a.indexOf("=") : -1;
    if (owner !== undefined) what = `--${owner}`;
    else if (eq > 0 && Buffer.byteLength(a.slice(0, eq + 1)) <= offset) {
      what = a.slice(0, eq);
      offset -= Buffer.byteLength(a.slice(0, eq + 1));
    } else if (isFlag) what = "an option name";
    else {
      const names = positionalNames(usage);
      const last = names[names.length - 1];
      const name = names[positional - 1] ?? (last?.endsWith("...") ? last : undefined);
      what = name ? `${name.replace(/\.\.\.$/, "")} (positional argument ${positional})` : `positional argument ${positional}`;
    }
    const field = what.startsWith("--") ? what.slice(2) : undefined;
    const advice = "give UTF-8 text (convert it with e.g. iconv -t UTF-8)";
    throw new ArgumentError(
      bad.byte === null
        ? `${what} holds U+FFFD at byte offset ${offset}: its bytes there were not valid UTF-8 (Node decodes them to U+FFFD); ${advice}`
        : `${what} is not valid UTF-8: byte 0x${bad.byte.toString(16).padStart(2, "0")} at byte offset ${offset} (Node would pass U+FFFD in its place); ${advice}`,
      field === undefined ? {} : { field },
    );
  }
}

/**
 * Names of the positional arguments in a usage line: `safesail eval-sae SAE_DIR --model MODEL` -> ["SAE_DIR"],
 * `safesail notebooks run NOTEBOOK...` -> ["NOTEBOOK..."] (a trailing "..." repeats).
 */
function positionalNames(usage: string | undefined): string[] {
  if (!usage) return [];
  const words = usage.split(/\s+/);
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!.replace(/^[[(]+/, "").replace(/[\])|]+$/, "");
    const prev = i > 0 ? words[i - 1]!.replace(/^[[(]+/, "") : "";
    if (/^[A-Z][A-Z0-9_]*(\.\.\.)?$/.test(w) && !prev.startsWith("-")) out.push(w);
  }
  return out;
}

/** `--name -3` -> `--name=-3` for string options, so a negative number is read as the value. */
function joinNegativeValues(args: string[], options: Record<string, Option>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    const long = a.startsWith("--") && !a.includes("=") ? a.slice(2) : undefined;
    const short = !long && /^-[A-Za-z]$/.test(a) ? Object.keys(options).find((k) => options[k]!.short === a[1]) : undefined;
    const name = long ?? short;
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-(\d|\.\d|Infinity\b)/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function argumentErrorFrom(err: unknown, args: string[], options: Record<string, Option>, usage: string | undefined): unknown {
  const code = (err as { code?: string }).code;
  if (typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS")) return err;
  const message = (err as Error).message;
  // Node quotes the flag: "Unknown option '--foo'", "Option '--steps <value>' argument missing",
  // "Option '-h, --help' does not take an argument"; the long name is the last one inside the quotes.
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  const flags = quoted.match(/--?[A-Za-z0-9][\w-]*/g) ?? [];
  const flag = flags[flags.length - 1];
  const field = flag?.replace(/^-+/, "");
  const opts = field === undefined ? {} : { field, cause: err };
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) {
    const known = Object.keys(options).map((k) => `--${k}`);
    const near = closest(flag.replace(/=.*$/, ""), known);
    const hint = near ? `did you mean ${near}?` : known.length ? `options: ${known.join(", ")}` : "this command takes no options";
    return new ArgumentError(`unknown option ${flag} (${hint})`, opts);
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag) {
    if (/argument missing/.test(message)) return new ArgumentError(`${flag} needs a value`, opts);
    if (/does not take an argument/.test(message)) {
      const given = args.find((a) => a.startsWith(`${flag}=`)) ?? flag;
      return new ArgumentError(`${flag} is a switch and takes no value, got ${describeValue(given)}`, opts);
    }
    if (/ambiguous/.test(message)) {
      const i = args.indexOf(flag);
      const next = i >= 0 ? args[i + 1] : undefined;
      return new ArgumentError(`${flag} needs a value, got the option ${describeValue(next ?? "")} (write ${flag}=VALUE for a value that starts with "-")`, opts);
    }
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    return new ArgumentError(`unexpected argument ${describeValue(quoted)} (this command takes no positional arguments${usage ? `: ${usage}` : ""})`, { cause: err });
  }
  return new ArgumentError(message, { ...(field === undefined ? {} : { field }), cause: err });
}

/** The known flag within edit distance 2 of `flag` (a typo), if any. */
function closest(flag: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(flag, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

// ---- flag values --------------------------------------------------------------------------------------------

/** Parsed flag values (parseCliArgs's `values`). */
export type ArgValues = Readonly<Record<string, unknown>>;
type Flag<V> = keyof V & string;

/** `required: true`, or a hint shown in parentheses: `--pairs is required (safesail metrics --pairs FILE ...)`. */
type Required = { required: true | string };
type Given<T> = { default: T } | Required;

interface ValueOptions<T> {
  default?: T;
  required?: true | string;
}

function raw(values: ArgValues, name: string, required: true | string | undefined): string | undefined {
  const v = values[name];
  if (v === undefined) {
    if (required !== undefined) throw missing(name, required === true ? undefined : required);
    return undefined;
  }
  if (typeof v !== "string") throw new ArgumentError(`--${name} takes a value, got ${describeValue(v)}`, { field: name });
  return v;
}

function missing(name: string, hint: string | undefined, metavar?: string): ArgumentError {
  return new ArgumentError(`--${name}${metavar ? ` ${metavar}` : ""} is required${hint ? ` (${hint})` : ""}`, { field: name });
}

function bad(name: string, requirement: string, text: string, item?: string): ArgumentError {
  return new ArgumentError(`--${name} must be ${requirement}, got ${describeValue(text)}${item === undefined ? "" : ` (bad item ${describeValue(item)})`}`, { field: name });
}

/** A number from flag text: decimal or exponent notation; blank text is not 0. */
function toNumber(text: string): number {
  return text.trim() === "" ? NaN : Number(text);
}

/**
 * A string flag that must be given: `--corpus FILE is required (one document per line, or JSONL)`. An empty value
 * counts as missing unless `allowEmpty` (an empty prompt is a prompt; an empty path is a mistake).
 */
export function requiredArg<V extends ArgValues>(values: V, name: Flag<V>, opts: { metavar?: string; hint?: string; allowEmpty?: boolean } = {}): string {
  const v = values[name];
  if (v === undefined || (v === "" && !opts.allowEmpty)) throw missing(name, opts.hint, opts.metavar);
  return raw(values, name, undefined)!;
}

/** The first of `names` that is missing fails: `--k is required (usage)`. */
export function requireArgs<V extends ArgValues>(values: V, names: readonly Flag<V>[], usage?: string): void {
  for (const n of names) if (values[n] === undefined) throw missing(n, usage);
}

export type IntArgOptions = RangeOptions & ValueOptions<number>;

/** An integer flag within the range: `--steps must be a positive integer, got "2.5"`. */
export function intArg<V extends ArgValues>(values: V, name: Flag<V>, opts: IntArgOptions & Given<number>): number;
export function intArg<V extends ArgValues>(values: V, name: Flag<V>, opts?: IntArgOptions): number | undefined;
export function intArg<V extends ArgValues>(values: V, name: Flag<V>, opts: IntArgOptions = {}): number | undefined {
  const text = raw(values, name, opts.required);
  if (text === undefined) return opts.default;
  const n = toNumber(text);
  if (!isIntInRange(n, opts)) throw bad(name, integerRequirement(opts), text);
  return n;
}

export type FloatArgOptions = NumberRangeOptions & ValueOptions<number>;

/** A finite number flag within the range: `--lr must be a positive number, got "fast"`. */
export function floatArg<V extends ArgValues>(values: V, name: Flag<V>, opts: FloatArgOptions & Given<number>): number;
export function floatArg<V extends ArgValues>(values: V, name: Flag<V>, opts?: FloatArgOptions): number | undefined;
export function floatArg<V extends ArgValues>(values: V, name: Flag<V>, opts: FloatArgOptions = {}): number | undefined {
  const text = raw(values, name, opts.required);
  if (text === undefined) return opts.default;
  const n = toNumber(text);
  if (!isNumberInRange(n, opts)) throw bad(name, numberRequirement(opts), text);
  return n;
}

/** A number in [0, 1]: `--min-recall must be a number in [0, 1], got "2"`. */
export function fractionArg<V extends ArgValues>(values: V, name: Flag<V>, opts: ValueOptions<number> & Given<number>): number;
export function fractionArg<V extends ArgValues>(values: V, name: Flag<V>, opts?: ValueOptions<number>): number | undefined;
export function fractionArg<V extends ArgValues>(values: V, name: Flag<V>, opts: ValueOptions<number> = {}): number | undefined {
  return floatArg(values, name, { ...opts, min: 0, max: 1 });
}

/** One of `choices`: `--site must be one of resid_pre, attn_out, ..., got "mlp"`. `normalize` maps the text first. */
export function choiceArg<V extends ArgValues, C extends string>(values: V, name: Flag<V>, choices: readonly C[], opts: ValueOptions<C> & Given<C> & { normalize?: (s: string) => string }): C;
export function choiceArg<V extends ArgValues, C extends string>(values: V, name: Flag<V>, choices: readonly C[], opts?: ValueOptions<C> & { normalize?: (s: string) => string }): C | undefined;
export function choiceArg<V extends ArgValues, C extends string>(values: V, name: Flag<V>, choices: readonly C[], opts: ValueOptions<C> & { normalize?: (s: string) => string } = {}): C | undefined {
  const text = raw(values, name, opts.required);
  if (text === undefined) return opts.default;
  const v = opts.normalize ? opts.normalize(text) : text;
  if (!(choices as readonly string[]).includes(v)) throw bad(name, `one of ${choices.join(", ")}`, text);
  return v as C;
}

function items(name: string, text: string, requirement: string): string[] {
  const parts = text.split(",").map((s) => s.trim());
  const empty = parts.findIndex((p) => p === "");
  if (empty >= 0) throw bad(name, requirement, text, "");
  return parts;
}

function listOf<T>(values: ArgValues, name: string, opts: ValueOptions<T[]>, requirement: string, item: (s: string) => T | undefined): T[] | undefined {
  const text = raw(values, name, opts.required);
  if (text === undefined) return opts.default;
  const out: T[] = [];
  for (const s of items(name, text, requirement)) {
    const v = item(s);
    if (v === undefined) throw bad(name, requirement, text, s);
    out.push(v);
  }
  return out;
}

const listRequirement = (single: string) => `comma-separated ${single.replace(/^an? /, "").replace(/(integer|number)/, "$1s")}`;

/** Comma-separated integers within the range: `--layers must be comma-separated non-negative integers, got "0,x" (bad item "x")`. */
export function intList<V extends ArgValues>(values: V, name: Flag<V>, opts: RangeOptions & ValueOptions<number[]> & Given<number[]>): number[];
export function intList<V extends ArgValues>(values: V, name: Flag<V>, opts?: RangeOptions & ValueOptions<number[]>): number[] | undefined;
export function intList<V extends ArgValues>(values: V, name: Flag<V>, opts: RangeOptions & ValueOptions<number[]> = {}): number[] | undefined {
  return listOf(values, name, opts, listRequirement(integerRequirement(opts)), (s) => {
    const n = toNumber(s);
    return isIntInRange(n, opts) ? n : undefined;
  });
}

/** Comma-separated finite numbers within the range: `--thresholds must be comma-separated numbers, got "0,x" (bad item "x")`. */
export function numberList<V extends ArgValues>(values: V, name: Flag<V>, opts: NumberRangeOptions & ValueOptions<number[]> & Given<number[]>): number[];
export function numberList<V extends ArgValues>(values: V, name: Flag<V>, opts?: NumberRangeOptions & ValueOptions<number[]>): number[] | undefined;
export function numberList<V extends ArgValues>(values: V, name: Flag<V>, opts: NumberRangeOptions & ValueOptions<number[]> = {}): number[] | undefined {
  return listOf(values, name, opts, listRequirement(numberRequirement(opts)), (s) => {
    const n = toNumber(s);
    return isNumberInRange(n, opts) ? n : undefined;
  });
}

/** Comma-separated values, each one of `choices`: `--languages must be comma-separated values from en, zh, ..., got "en,xx" (bad item "xx")`. */
export function choiceList<V extends ArgValues, C extends string>(values: V, name: Flag<V>, choices: readonly C[], opts: ValueOptions<C[]> = {}): C[] | undefined {
  return listOf(values, name, opts, `comma-separated values from ${choices.join(", ")}`, (s) => ((choices as readonly string[]).includes(s) ? (s as C) : undefined));
}

/** The positional argument at `index`: `MODEL argument missing: safesail info MODEL`. */
export function requiredPositional(positionals: readonly string[], index: number, name: string, usage: string): string {
  const v = positionals[index];
  if (v === undefined || v === "") throw new ArgumentError(`${name} argument missing: ${usage}`, { field: name });
  return v;
}
