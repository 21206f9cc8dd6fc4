// Typed errors. Every message names the file, field or argument at fault so a user can act on it
// without reading a stack trace, e.g.
//   model.safetensors: tensor "model.norm.weight": data range 100..200 beyond file end 150

export interface SafesailErrorOptions {
  /** File (or URL) the error is about. */
  file?: string;
  /** Field, tensor or argument name the error is about. */
  field?: string;
  cause?: unknown;
}

/** Base of every error this toolkit throws on purpose. */
export class SafesailError extends Error {
  readonly file?: string;
  readonly field?: string;

  constructor(message: string, options: SafesailErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options.file !== undefined) this.file = options.file;
    if (options.field !== undefined) this.field = options.field;
  }
}

/** A file is malformed, truncated or corrupt. */
export class FormatError extends SafesailError {}

/** A configuration field is missing or has a bad value. */
export class ConfigError extends SafesailError {}

/** The input is well formed but uses something this toolkit does not support (architecture, dtype, ...). */
export class UnsupportedError extends SafesailError {}

/** A caller passed a bad argument. */
export class ArgumentError extends SafesailError {}

/** A file, tensor, repository or other named thing does not exist. */
export class NotFoundError extends SafesailError {}

/** A computation produced NaN or infinity (e.g. a forward pass: `file` is the model folder, `field` where it first appeared). */
export class NonFiniteError extends SafesailError {}

/** Short rendering of a value for error messages: strings quoted, long values cut. */
export function describeValue(value: unknown): string {
  let s: string;
  if (value === undefined) return "undefined";
  if (typeof value === "string") s = JSON.stringify(value);
  else if (typeof value === "number" || typeof value === "boolean" || value === null) s = String(value);
  else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = String(value);
    }
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
