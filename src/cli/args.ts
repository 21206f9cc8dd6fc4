// Argument parsing for every `safesail` command: one wrapper around node:util parseArgs, and one reader per kind
// of flag value. Every error is an ArgumentError whose message names the flag and quotes the bad value, e.g.
//   --steps must be a positive integer, got "2.5"
//   --ids must be comma-separated non-negative integers, got "1,x" (bad item "x")
//   unknown option --step (did you mean --steps?)
// The number wording is src/util/validate.ts's, shared with the library's option checks.
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
