// Number checks for library options: one wording for "positive integer", "non-negative integer", "a number in
// [0, 1]" and the like, each error an ArgumentError naming the field and showing the value (describeValue).
//
//   checkInt(perConcept, "perConcept", { min: 1, where: "generatePairs" })
//     -> ArgumentError: generatePairs: perConcept must be a positive integer, got 0
//   checkNumber(rate, "decorateRate", { min: 0, max: 1 })
//     -> ArgumentError: decorateRate must be a number in [0, 1], got 2
//
// The CLI's argument helpers (src/cli/args.ts) use the same wording for flags.
import { ArgumentError, describeValue } from "../errors.ts";

export interface RangeOptions {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
}

export interface NumberRangeOptions extends RangeOptions {
  /** The value must be greater than this (exclusive lower bound; instead of `min`). */
  gt?: number;
}

export interface CheckContext {
  /** Prefix naming the caller, e.g. "generatePairs" -> "generatePairs: perConcept must be ...". */
  where?: string;
  /** How the message names the value when that is not just the field, e.g. `option "hidden"`. */
  label?: string;
}

/** "a positive integer", "a non-negative integer", "an integer >= 2", "an integer in [1, 8]", ... */
export function integerRequirement(range: RangeOptions = {}): string {
  const { min, max } = range;
  if (min !== undefined && max !== undefined) return `an integer in [${min}, ${max}]`;
  if (max !== undefined) return `an integer <= ${max}`;
  if (min === 1) return "a positive integer";
  if (min === 0) return "a non-negative integer";
  if (min !== undefined) return `an integer >= ${min}`;
  return "an integer";
}

/** "a number", "a positive number", "a non-negative number", "a number in [0, 1]", "a number in (0, 1]", ... */
export function numberRequirement(range: NumberRangeOptions = {}): string {
  const { min, max, gt } = range;
  if (gt !== undefined && max !== undefined) return `a number in (${gt}, ${max}]`;
  if (min !== undefined && max !== undefined) return `a number in [${min}, ${max}]`;
  if (max !== undefined) return `a number <= ${max}`;
  if (gt === 0) return "a positive number";
  if (gt !== undefined) return `a number > ${gt}`;
  if (min === 0) return "a non-negative number";
  if (min !== undefined) return `a number >= ${min}`;
  return "a number";
}

/** Whether `value` is a safe integer within `range`. */
export function isIntInRange(value: unknown, range: RangeOptions = {}): value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) return false;
  return (range.min === undefined || value >= range.min) && (range.max === undefined || value <= range.max);
}

/** Whether `value` is a finite number within `range`. */
export function isNumberInRange(value: unknown, range: NumberRangeOptions = {}): value is number {
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  return (range.min === undefined || value >= range.min) && (range.gt === undefined || value > range.gt) && (range.max === undefined || value <= range.max);
}

function fail(value: unknown, field: string, requirement: string, ctx: CheckContext): never {
  const prefix = ctx.where ? `${ctx.where}: ` : "";
  throw new ArgumentError(`${prefix}${ctx.label ?? field} must be ${requirement}, got ${describeValue(value)}`, { field });
}

/** Returns `value` if it is a safe integer within the range, else throws an ArgumentError naming `field`. */
export function checkInt(value: unknown, field: string, opts: RangeOptions & CheckContext = {}): number {
  if (!isIntInRange(value, opts)) fail(value, field, integerRequirement(opts), opts);
  return value;
}

/** checkInt with `min: 1`. */
export function checkPositiveInt(value: unknown, field: string, ctx: CheckContext = {}): number {
  return checkInt(value, field, { ...ctx, min: 1 });
}

/** checkInt with `min: 0`. */
export function checkNonNegativeInt(value: unknown, field: string, ctx: CheckContext = {}): number {
  return checkInt(value, field, { ...ctx, min: 0 });
}

/** Returns `value` if it is a finite number within the range, else throws an ArgumentError naming `field`. */
export function checkNumber(value: unknown, field: string, opts: NumberRangeOptions & CheckContext = {}): number {
  if (!isNumberInRange(value, opts)) fail(value, field, numberRequirement(opts), opts);
  return value;
}

/** checkNumber within [0, 1]. */
export function checkFraction(value: unknown, field: string, ctx: CheckContext = {}): number {
  return checkNumber(value, field, { ...ctx, min: 0, max: 1 });
}
