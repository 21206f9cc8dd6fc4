// The cross-layer trajectory of a query (and its answer): per SAE layer and token, the top safety features (the
// per-token table of ./token-features.ts, same rules), turned into a layered graph for the LayerTrajectory view.
//
//   const tr = await trajectory(model, saes, db, { messages: [{ role: "user", content: q }, { role: "assistant", content: a }] });
//   tr.nodes   // (layer, feature): total and max normalised activation, the tokens it is a top feature of
//   tr.links   // features of adjacent SAE layers that are top features of the same tokens
//   tr.summary // per layer: its strongest features and how token-specific they are
//
// Definitions (kept simple on purpose, so a reader can recompute every number from the table):
// - A node is a feature with at least one row in the table, i.e. among the top `top` candidates of some token at
//   its layer. `tokens` are those tokens; `total` / `max` are the sum / maximum of its normalised activation over
//   them (`totalActivation` / `maxActivation` the same over raw activations).
// - Adjacent layers are consecutive layers among the SAEs given (layers 0 and 2 are adjacent when no SAE reads 1).
// - A link joins node a (layer l) and node b (the next layer) when they share at least one token; its weight is the
//   co-firing strength  sum over shared tokens t of min(normalised_a(t), normalised_b(t)),  between 0 and the number
//   of shared tokens: a token where both fire fully adds 1, a token where either barely fires adds almost nothing.
// - Token specificity of a feature, from its database record: the Shannon entropy (bits) of the pieces marked as
//   firing (`<<piece>>(n)`, lower-cased and trimmed) in `activations.top_examples` (the record keeps its 5 strongest
//   windows), each marked occurrence counted once. 0 bits: one word every time (a word-level detector); higher:
//   many different words (a concept). A feature counts as token-specific at or below `specificEntropy` bits
//   (default 1: one word, or two words equally often). Null when the record holds no top examples; the figure is
//   computed on at most a handful of windows, so it is a coarse sign, not a measurement.
// - Per layer, `roles` splits the layer's total normalised activation by the role of the tokens (user, assistant,
//   template), so a chain that moves from the query's words to the answer shows.
import type { FeatureDb } from "../db/records.ts";
import type { Model } from "../model/runtime.ts";
import type { Sae } from "../sae/sae.ts";
import { checkNumber, checkInt } from "../util/validate.ts";
import {
  buildTable,
  checkTokenFeatureOptions,
  encodeDocuments,
  prepareTokens,
  recordsByLayer,
  saeLayers,
  type SaeLayerInfo,
  type TokenFeatureInput,
  type TokenFeatureOptions,
  type TokenFeatureTable,
  type TokenInfo,
} from "./token-features.ts";
import { ArgumentError } from "../errors.ts";

export interface TrajectoryOptions extends TokenFeatureOptions {
  /** Features per layer in the summary (default 5). */
  summaryTop?: number;
  /** Entropy in bits at or below which a feature counts as token-specific (default 1). */
  specificEntropy?: number;
}

export interface TrajectoryNode {
  /** The feature id `{layer}_{index}` (unique: one SAE per layer). */
  id: string;
  layer: number;
  index: number;
  /** Tokens where it is a top feature, ascending. */
  tokens: number[];
  total: number;
  max: number;
  totalActivation: number;
  maxActivation: number;
  explanation: string | null;
  score: number | null;
  tags: string[];
  /** Entropy (bits) of its firing pieces in the record's top examples, or null (see the header). */
  entropy: number | null;
}

export interface TrajectoryLink {
  /** Node ids: `source` at `sourceLayer`, `target` at the next SAE layer. */
  source: string;
  target: string;
  sourceLayer: number;
  targetLayer: number;
  /** Sum over shared tokens of min(normalised source, normalised target). */
  weight: number;
  /** The shared tokens, ascending. */
  tokens: number[];
}

export interface TrajectoryLayerTokens {
  layer: number;
  /** Tokens with at least one top feature at this layer, ascending; features by rank. */
  tokens: { token: number; features: { feature: string; activation: number; normalised: number }[] }[];
}

export interface LayerSummary {
  layer: number;
  hook: string;
  /** The layer's nodes by total (descending), at most `summaryTop`. */
  top: { feature: string; total: number; max: number; tokens: number; tags: string[]; explanation: string | null; entropy: number | null }[];
  /** Nodes at this layer, and their summed total. */
  nodes: number;
  total: number;
  /** Token specificity over the `top` features that have an entropy. */
  specificity: { measured: number; meanEntropy: number | null; tokenSpecific: number; share: number | null; threshold: number };
  /** The layer's total split by tag (a feature with two tags counts for both), and by token role. */
  domains: Record<string, number>;
  roles: Record<string, number>;
}

export interface Trajectory {
  kind: "safesail-trajectory";
  version: 1;
  model: string;
  layers: SaeLayerInfo[];
  tokens: TokenInfo[];
  answerStart: number | null;
  options: TokenFeatureTable["options"] & { summaryTop: number; specificEntropy: number };
  perLayer: TrajectoryLayerTokens[];
  nodes: TrajectoryNode[];
  links: TrajectoryLink[];
  summary: LayerSummary[];
  warnings: string[];
}

/** Entropy (bits) at or below which a feature counts as token-specific: one word, or two words equally often. */
export const TOKEN_SPECIFIC_BITS = 1;

const MARKED = /<<([\s\S]*?)>>\((\d+)\)/g;

/** The firing pieces of marked windows (`<<piece>>(n)`), lower-cased and trimmed (a blank piece is kept as it is), with counts. */
export function firingPieces(examples: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const ex of examples) {
    for (const m of ex.matchAll(MARKED)) {
      const trimmed = m[1]!.trim().toLowerCase();
      const key = trimmed === "" ? m[1]! : trimmed;
      out.set(key, (out.get(key) ?? 0) + 1);
    }
  }
  return out;
}

/** Shannon entropy in bits of a count distribution; null when it is empty. */
export function entropyBits(counts: Iterable<number>): number | null {
  const cs = [...counts].filter((c) => c > 0);
  const n = cs.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  let h = 0;
  for (const c of cs) h -= (c / n) * Math.log2(c / n);
  return h === 0 ? 0 : h; // no -0
}

/** The trajectory of an already built table (what `trajectory` returns, from a table you have). */
export function trajectoryFromTable(table: TokenFeatureTable, db: FeatureDb, opts: { summaryTop?: number; specificEntropy?: number } = {}): Trajectory {
  const summaryTop = checkInt(opts.summaryTop ?? 5, "summaryTop", { min: 1, where: "trajectory" });
  const specificEntropy = checkNumber(opts.specificEntropy ?? TOKEN_SPECIFIC_BITS, "specificEntropy", { min: 0, where: "trajectory" });
  const records = new Map(db.records.map((r) => [r.id, r]));
  const layerOrder = table.layers.map((l) => l.layer);

  // Nodes.
  const nodes = new Map<string, TrajectoryNode>();
  for (const r of table.rows) {
    let n = nodes.get(r.feature);
    if (!n) {
      const ex = records.get(r.feature)?.activations?.top_examples;
      nodes.set(r.feature, (n = { id: r.feature, layer: r.layer, index: r.index, tokens: [], total: 0, max: 0, totalActivation: 0, maxActivation: 0, explanation: r.explanation, score: r.score, tags: [...r.tags], entropy: Array.isArray(ex) ? entropyBits(firingPieces(ex).values()) : null }));
    }
    n.tokens.push(r.token);
    n.total += r.normalised;
    n.max = Math.max(n.max, r.normalised);
    n.totalActivation += r.activation;
    n.maxActivation = Math.max(n.maxActivation, r.activation);
  }

  // Per layer and token (the table's rows are per token, per layer, by rank).
  const perLayer: TrajectoryLayerTokens[] = layerOrder.map((layer) => ({ layer, tokens: [] }));
  const byToken = new Map<number, Map<number, { feature: string; normalised: number }[]>>();
  for (const r of table.rows) {
    const pl = perLayer[layerOrder.indexOf(r.layer)]!;
    let last = pl.tokens[pl.tokens.length - 1];
    if (!last || last.token !== r.token) pl.tokens.push((last = { token: r.token, features: [] }));
    last.features.push({ feature: r.feature, activation: r.activation, normalised: r.normalised });
    let m = byToken.get(r.token);
    if (!m) byToken.set(r.token, (m = new Map()));
    let list = m.get(r.layer);
    if (!list) m.set(r.layer, (list = []));
    list.push({ feature: r.feature, normalised: r.normalised });
  }

  // Links between adjacent SAE layers, accumulated token by token.
  const links = new Map<string, TrajectoryLink>();
  for (const [token, m] of [...byToken].sort((a, b) => a[0] - b[0])) {
    for (let i = 0; i + 1 < layerOrder.length; i++) {
      const lo = m.get(layerOrder[i]!);
      const hi = m.get(layerOrder[i + 1]!);
      if (!lo || !hi) continue;
      for (const a of lo) {
        for (const b of hi) {
          const key = `${a.feature}>${b.feature}`;
          let l = links.get(key);
          if (!l) links.set(key, (l = { source: a.feature, target: b.feature, sourceLayer: layerOrder[i]!, targetLayer: layerOrder[i + 1]!, weight: 0, tokens: [] }));
          l.weight += Math.min(a.normalised, b.normalised);
          l.tokens.push(token);
        }
      }
    }
  }

  // Per-layer summary.
  const nodeList = [...nodes.values()].sort((a, b) => a.layer - b.layer || b.total - a.total || a.index - b.index);
  const summary: LayerSummary[] = table.layers.map((l) => {
    const mine = nodeList.filter((n) => n.layer === l.layer);
    const top = mine.slice(0, summaryTop);
    const measured = top.filter((n) => n.entropy !== null);
    const tokenSpecific = measured.filter((n) => n.entropy! <= specificEntropy).length;
    const domains: Record<string, number> = {};
    for (const n of mine) for (const t of n.tags) domains[t] = (domains[t] ?? 0) + n.total;
    const roles: Record<string, number> = {};
    for (const r of table.rows) if (r.layer === l.layer) roles[table.tokens[r.token]!.role] = (roles[table.tokens[r.token]!.role] ?? 0) + r.normalised;
    return {
      layer: l.layer,
      hook: l.hook,
      top: top.map((n) => ({ feature: n.id, total: n.total, max: n.max, tokens: n.tokens.length, tags: n.tags, explanation: n.explanation, entropy: n.entropy })),
      nodes: mine.length,
      total: mine.reduce((s, n) => s + n.total, 0),
      specificity: {
        measured: measured.length,
        meanEntropy: measured.length ? measured.reduce((s, n) => s + n.entropy!, 0) / measured.length : null,
        tokenSpecific,
        share: measured.length ? tokenSpecific / measured.length : null,
        threshold: specificEntropy,
      },
      domains,
      roles,
    };
  });

  const warnings = [...table.warnings];
  const unmeasured = summary.reduce((n, s) => n + s.top.length - s.specificity.measured, 0);
  if (unmeasured > 0) warnings.push(`${unmeasured} summary feature(s) have no top examples in the database (activations.top_examples), so their token specificity is unknown (null)`);
  return {
    kind: "safesail-trajectory",
    version: 1,
    model: table.model,
    layers: table.layers,
    tokens: table.tokens,
    answerStart: table.answerStart,
    options: { ...table.options, summaryTop, specificEntropy },
    perLayer,
    nodes: nodeList,
    links: [...links.values()].sort((a, b) => a.sourceLayer - b.sourceLayer || b.weight - a.weight || a.source.localeCompare(b.source) || a.target.localeCompare(b.target)),
    summary,
    warnings,
  };
}

/**
 * The cross-layer trajectory of a text or conversation: the per-token table (one forward, every SAE), then nodes,
 * links and the per-layer summary as the header defines them.
 */
export async function trajectory(model: Model, saes: readonly Sae[], db: FeatureDb, input: TokenFeatureInput, opts: TrajectoryOptions = {}): Promise<Trajectory> {
  const where = "trajectory";
  const options = checkTokenFeatureOptions(opts, where);
  const layers = saeLayers(model, saes, where);
  recordsByLayer(db, layers, where);
  const prepared = prepareTokens(model, input, opts, where);
  if (prepared.ids.length === 0) throw new ArgumentError(`${where}: the input has no tokens`, { field: "input" });
  const [codes] = await encodeDocuments(model, layers, [prepared], options.encoder);
  return trajectoryFromTable(buildTable(model, layers, db, prepared, codes!, options, where), db, opts);
}
