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
  if (looksLikeAttnHookName(name) && tryParseAnyHookName(name) !== null) why = ` (an attention hook point, whose values are not [tokens, d_model]; this needs a residual-stream one)`;
  else if (m && !isSite(m[2])) why = ` (unknown site "${m[2]}")`;
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

// ---------------------------------------------------------------------------------------------------------
// Attention hook points: `blocks.{i}.attn.hook_{q|k|v|rot_q|rot_k|attn_scores|pattern|z}`, as TransformerLens
// names them. They sit inside the attention branch, between hook_resid_pre and hook_attn_out, in this order:
//   hook_q            [batch, seq, n_heads, d_head]     queries before rotary
//   hook_k, hook_v    [batch, seq, n_kv_heads, d_head]  keys before rotary, values (grouped-query attention:
//                                                        one per KV head, not repeated per query head, as
//                                                        TransformerLens's GroupedQueryAttention hooks them)
//   hook_rot_q        [batch, seq, n_heads, d_head]     queries after rotary
//   hook_rot_k        [batch, seq, n_kv_heads, d_head]  keys after rotary (the new tokens of a step)
//   hook_attn_scores  [batch, n_heads, query_pos, key_pos]  q.k / sqrt(d_head), pre-softmax; a masked key (future
//                                                        or padding) holds -1e30, not TransformerLens's -inf, so
//                                                        a padding query's row stays finite (its pattern is uniform)
//   hook_pattern      [batch, n_heads, query_pos, key_pos]  softmax of the scores (0 at masked keys)
//   hook_z            [batch, seq, n_heads, d_head]     pattern-weighted values, before o_proj
// With a KV cache (generate), query_pos covers the new tokens of a step and key_pos every key so far; hook_k,
// hook_v and hook_rot_k hold the new tokens' keys and values only.
// Query head h reads KV head floor(h / (n_heads / n_kv_heads)). Their values are not [tokens, d_model]: stages
// that need a residual-stream width (harvest, SAEs, additive steering) take only `parseHookName` names.

/** Attention hook sites of a block, in forward order. */
export const ATTN_SITES = ["q", "k", "v", "rot_q", "rot_k", "attn_scores", "pattern", "z"] as const;
export type AttnSite = (typeof ATTN_SITES)[number];

/** A hook point inside block `layer`'s attention. */
export interface AttnHookPoint {
  layer: number;
  attn: AttnSite;
}

/** Any hook point: a residual-stream one (`{ layer, site }`) or an attention one (`{ layer, attn }`). */
export type AnyHookPoint = HookPoint | AttnHookPoint;

export const isAttnPoint = (p: AnyHookPoint): p is AttnHookPoint => "attn" in p;
export const isAttnSite = (value: unknown): value is AttnSite => typeof value === "string" && (ATTN_SITES as readonly string[]).includes(value);

/** `attnHookName(1, "pattern")` -> `"blocks.1.attn.hook_pattern"`. */
export function attnHookName(layer: number, site: AttnSite): string {
  if (!Number.isSafeInteger(layer) || layer < 0) throw new ArgumentError(`attnHookName: layer must be an integer >= 0, got ${describeValue(layer)}`, { field: "layer" });
  if (!isAttnSite(site)) throw new ArgumentError(`attnHookName: site must be one of ${ATTN_SITES.join(", ")}, got ${describeValue(site)}`, { field: "site" });
  return `blocks.${layer}.attn.hook_${site}`;
}

/** The name of any hook point. */
export const anyHookName = (p: AnyHookPoint): string => (isAttnPoint(p) ? attnHookName(p.layer, p.attn) : hookName(p));

const ATTN_HOOK_NAME = /^blocks\.(\d+)\.attn\.hook_([a-z_]+)$/;
const ATTN_EXPECTED = `blocks.{layer}.attn.{${ATTN_SITES.map((s) => `hook_${s}`).join("|")}}`;

/** Whether `name` has the shape of an attention hook name (`blocks.{i}.attn.hook_...`), valid or not. */
export const looksLikeAttnHookName = (name: unknown): boolean => typeof name === "string" && ATTN_HOOK_NAME.test(name);

/** The point of a residual-stream or attention hook name, or null (no throw). */
export function tryParseAnyHookName(name: unknown, numLayers?: number): AnyHookPoint | null {
  if (typeof name !== "string") return null;
  const m = ATTN_HOOK_NAME.exec(name);
  if (!m) return tryParseHookName(name, numLayers);
  const layer = Number(m[1]);
  if (!isAttnSite(m[2]) || !Number.isSafeInteger(layer) || (numLayers !== undefined && layer >= numLayers)) return null;
  return { layer, attn: m[2] };
}

/**
 * Parses any hook name: `blocks.{i}.hook_{site}` or `blocks.{i}.attn.hook_{site}`. A bad name is an ArgumentError
 * that lists both patterns and, for a near miss, says what is wrong (`blocks.1.attn.hook_foo`: unknown attention site).
 */
export function parseAnyHookName(name: unknown, opts: ParseHookOptions = {}): AnyHookPoint {
  const p = tryParseAnyHookName(name, opts.numLayers);
  if (p) return p;
  const arg = opts.arg ?? "hook";
  const m = typeof name === "string" ? ATTN_HOOK_NAME.exec(name) : null;
  if (!m) {
    try {
      parseHookName(name, opts);
    } catch (e) {
      if (e instanceof ArgumentError) throw new ArgumentError(`${e.message}, or ${ATTN_EXPECTED}`, { field: arg });
      throw e;
    }
  }
  const range = opts.numLayers !== undefined ? `blocks.{0..${opts.numLayers - 1}}` : "blocks.{layer}";
  const why = m && !isAttnSite(m[2]) ? ` (unknown attention site "${m[2]}")` : opts.numLayers !== undefined ? ` (the model has layers 0..${opts.numLayers - 1})` : "";
  throw new ArgumentError(`${arg}: not a hook point: ${describeValue(name)}${why}; expected ${range}.attn.{${ATTN_SITES.map((s) => `hook_${s}`).join("|")}}`, { field: arg });
}

/** Position of any hook point in the forward walk (per block: resid_pre, the attention points, attn_out, ...). */
export const WALK_PER_BLOCK = SITES.length + ATTN_SITES.length;
export function walkIndex(p: AnyHookPoint): number {
  const base = p.layer * WALK_PER_BLOCK;
  if (isAttnPoint(p)) return base + 1 + ATTN_SITES.indexOf(p.attn);
  const s = SITES.indexOf(p.site);
  return base + (s === 0 ? 0 : s + ATTN_SITES.length);
}

/** Every attention hook name of a model, in forward order. */
export const allAttnHookNames = (numLayers: number): string[] =>
  Array.from({ length: numLayers }, (_, l) => ATTN_SITES.map((s) => attnHookName(l, s))).flat();

/** Every hook name, residual-stream and attention, in forward order. */
export function allHookNamesWithAttention(numLayers: number): string[] {
  const points: AnyHookPoint[] = [];
  for (let l = 0; l < numLayers; l++) {
    for (const site of SITES) points.push({ layer: l, site });
    for (const attn of ATTN_SITES) points.push({ layer: l, attn });
  }
  return points.sort((a, b) => walkIndex(a) - walkIndex(b)).map(anyHookName);
}
