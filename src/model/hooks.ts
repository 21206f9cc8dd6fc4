// Hook names: THE one definition. Every stage (runtime, activation store, SAE configs, metrics, notebooks, CLI)
// builds and reads hook names through this module, so `blocks.3.hook_mlp_out` is spelled in one place.
//
// The names are TransformerLens's: for block i the points of the forward walk are, in order,
//   blocks.{i}.hook_resid_pre   the residual stream entering the block
//   blocks.{i}.hook_attn_out    the attention branch's output
//   blocks.{i}.hook_resid_mid   resid_pre + attn_out
//   blocks.{i}.hook_mlp_out     the MLP branch's output
//   blocks.{i}.hook_resid_post  resid_mid + mlp_out
// A "site" is the kind of point without its `hook_` prefix (`mlp_out`): what the activation store's
// manifest and `--site` flags name.
import { ArgumentError, describeValue } from "../errors.ts";

/** Hook sites of a block, in forward order. */
export const SITES = ["resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post"] as const;
export type Site = (typeof SITES)[number];

/** Hook kinds as they appear in a name (`hook_mlp_out`), in forward order. */
export const HOOK_KINDS = ["hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"] as const;
export type HookKind = (typeof HOOK_KINDS)[number];

/** Where a hook point sits in the forward walk: block `layer`, point `site`. */
export interface HookPoint {
  layer: number;
  site: Site;
}

export const isSite = (value: unknown): value is Site => typeof value === "string" && (SITES as readonly string[]).includes(value);

/** `"mlp_out"` or `"hook_mlp_out"` -> `"mlp_out"`; anything else is an ArgumentError naming `arg`. */
export function toSite(value: unknown, arg = "site"): Site {
  const s = typeof value === "string" && value.startsWith("hook_") ? value.slice(5) : value;
  if (!isSite(s)) throw new ArgumentError(`${arg}: must be one of ${SITES.join(", ")}, got ${describeValue(value)}`, { field: arg });
  return s;
}

/** `hookName(2, "mlp_out")` or `hookName({ layer: 2, site: "mlp_out" })` -> `"blocks.2.hook_mlp_out"`. */
export function hookName(layer: number, site: Site | HookKind): string;
export function hookName(point: HookPoint): string;
export function hookName(a: number | HookPoint, b?: Site | HookKind): string {
  const { layer, site } = typeof a === "number" ? { layer: a, site: toSite(b) } : a;
  if (!Number.isSafeInteger(layer) || layer < 0) throw new ArgumentError(`hookName: layer must be an integer >= 0, got ${describeValue(layer)}`, { field: "layer" });
  return `blocks.${layer}.hook_${site}`;
}

const HOOK_NAME = /^blocks\.(\d+)\.hook_([a-z_]+)$/;
const EXPECTED = `blocks.{layer}.{${HOOK_KINDS.join("|")}}`;

export interface ParseHookOptions {
  /** The model's layer count: a layer at or past it is refused. */
  numLayers?: number;
  /** Names the argument or field in the error message (default "hook"). */
  arg?: string;
}

/** The hook point a name denotes, or null when it is not one (no throw). */
export function tryParseHookName(name: unknown, numLayers?: number): HookPoint | null {
  if (typeof name !== "string") return null;
  const m = HOOK_NAME.exec(name);
  if (!m || !isSite(m[2])) return null;
  const layer = Number(m[1]);
  if (!Number.isSafeInteger(layer) || (numLayers !== undefined && layer >= numLayers)) return null;
  return { layer, site: m[2] };
}

/**
 * Parses `blocks.{i}.hook_{site}`. A bad name is an ArgumentError that says what was expected and, for a
 * near miss, what is wrong (unknown site, layer out of range).
 */
export function parseHookName(name: unknown, opts: ParseHookOptions = {}): HookPoint {
  const arg = opts.arg ?? "hook";
  const p = tryParseHookName(name, opts.numLayers);
  if (p) return p;
  const range = opts.numLayers !== undefined ? `blocks.{0..${opts.numLayers - 1}}` : "blocks.{layer}";
  let why = "";
  const m = typeof name === "string" ? HOOK_NAME.exec(name) : null;
  if (m && !isSite(m[2])) why = ` (unknown site "${m[2]}")`;
  else if (m && opts.numLayers !== undefined) why = ` (the model has layers 0..${opts.numLayers - 1})`;
  throw new ArgumentError(`${arg}: not a hook point: ${describeValue(name)}${why}; expected ${range}.{${HOOK_KINDS.join("|")}}`, { field: arg });
}

/** The block index of a hook name (`blocks.3.hook_mlp_out` -> 3); a bad name throws. */
export const layerOf = (name: string, arg?: string): number => parseHookName(name, { arg }).layer;

/** The site of a hook name (`blocks.3.hook_mlp_out` -> "mlp_out"); a bad name throws. */
export const siteOf = (name: string, arg?: string): Site => parseHookName(name, { arg }).site;

/** Total order of hook points: `SITES.length` per block. */
export const pointIndex = (p: HookPoint): number => p.layer * SITES.length + SITES.indexOf(p.site);
export const pointAt = (index: number): HookPoint => ({ layer: Math.floor(index / SITES.length), site: SITES[index % SITES.length]! });

/** Every hook name of a model with `numLayers` blocks, in forward order. */
export const allHookNames = (numLayers: number): string[] => Array.from({ length: numLayers * SITES.length }, (_, i) => hookName(pointAt(i)));

/** The pattern hook names follow, for messages. */
export const HOOK_NAME_PATTERN = EXPECTED;
