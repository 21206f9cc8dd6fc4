// Candidates for steering: the SAE latents whose activation separates two groups of prompts, read where the model
// decides (the answer header), in raw activation units, so that the figures double as steering values.
//
//   const c = await contrastFeatures(model, saes, { refused: enHarmful, answered: enBenign, hindi: hiHarmful }, { positive: "refused", negative: "answered" });
//   c.features[0]   // { feature: "2_1746", layer: 2, index: 1746, means: { refused: 31.2, answered: 3.9, hindi: 0.2 }, difference: 27.3 }
//
// Every latent of every SAE is a candidate, not only the database's safety features: the decision to refuse need not
// be a feature the filter kept. Per prompt, a latent's value is its mean activation over the read positions
// ("header": the template tokens between the request and the answer, as compareLanguages reads them; "last": the
// last prompt token); per group, the mean over prompts. Ranked by mean(positive) - mean(negative), per layer or
// overall. Other groups ride along for comparison (e.g. the language the model fails in).
import { ArgumentError, describeValue } from "../errors.ts";
import type { Model } from "../model/runtime.ts";
import type { Sae } from "../sae/sae.ts";
import { featureId } from "../safety.ts";
import { checkInt } from "../util/validate.ts";
import { positionsOf } from "./languages.ts";
import { encodeDocuments, prepareTokens, saeLayers, type PreparedTokens } from "./token-features.ts";

export interface ContrastFeature {
  feature: string;
  layer: number;
  index: number;
  /** Mean activation per group. */
  means: Record<string, number>;
  /** means[positive] - means[negative]. */
  difference: number;
}

export interface ContrastOptions {
  positive: string;
  negative: string;
  /** Features kept per layer (default 10). */
  top?: number;
  /** "header" (default) or "last". */
  positions?: "header" | "last";
}

export interface ContrastFeatures {
  groups: Record<string, number>;
  positions: "header" | "last";
  /** Per layer ascending, the top features by difference (largest first). */
  features: ContrastFeature[];
}

/** Latents that fire more on the `positive` group's prompts than on the `negative` group's, where the model decides. */
export async function contrastFeatures(model: Model, saes: readonly Sae[], groups: Record<string, readonly string[]>, opts: ContrastOptions): Promise<ContrastFeatures> {
  const where = "contrastFeatures";
  const layers = saeLayers(model, saes, where);
  if (groups === null || typeof groups !== "object") throw new ArgumentError(`${where}: groups must be { name: [prompt, ...] }, got ${describeValue(groups)}`, { field: "groups" });
  for (const g of [opts?.positive, opts?.negative]) {
    if (typeof g !== "string" || !(g in groups)) throw new ArgumentError(`${where}: positive and negative must name groups (${Object.keys(groups).join(", ")}), got ${describeValue(g)}`, { field: "positive" });
  }
  if (opts.positive === opts.negative) throw new ArgumentError(`${where}: positive and negative name the same group`, { field: "negative" });
  const top = checkInt(opts.top ?? 10, "top", { min: 1, where });
  const rule = opts.positions ?? "header";
  if (rule !== "header" && rule !== "last") throw new ArgumentError(`${where}: positions must be "header" or "last", got ${describeValue(rule)}`, { field: "positions" });

  const names = Object.keys(groups);
  const docs: { group: string; prepared: PreparedTokens; read: number[] }[] = [];
  for (const name of names) {
    const list = groups[name];
    if (!Array.isArray(list) || list.length === 0) throw new ArgumentError(`${where}: groups.${name}: give at least one prompt`, { field: `groups.${name}` });
    list.forEach((text, i) => {
      if (typeof text !== "string") throw new ArgumentError(`${where}: groups.${name}[${i}]: expected a prompt string, got ${describeValue(text)}`, { field: `groups.${name}` });
      const prepared = prepareTokens(model, { messages: [{ role: "user", content: text }] }, {}, `${where}: groups.${name}[${i}]`);
      const read = rule === "last" ? [prepared.ids.length - 1] : positionsOf(prepared, "header");
      if (read.length === 0) throw new ArgumentError(`${where}: groups.${name}[${i}]: the chat template puts no header tokens before the answer; use positions: "last"`, { field: "positions" });
      docs.push({ group: name, prepared, read });
    });
  }
  const codes = await encodeDocuments(model, layers, docs.map((d) => d.prepared), "ort");
  const features: ContrastFeature[] = [];
  layers.forEach((l, li) => {
    const S = l.sae.config.dSae;
    const sums = new Map(names.map((n) => [n, new Float64Array(S)]));
    docs.forEach((d, di) => {
      const code = codes[di]![li]!;
      const acc = sums.get(d.group)!;
      for (const t of d.read) for (let j = t * code.k; j < (t + 1) * code.k; j++) if (code.values[j]! > 0) acc[code.indices[j]!]! += code.values[j]! / d.read.length;
    });
    const mean = (n: string, i: number) => sums.get(n)![i]! / groups[n]!.length;
    const ranked = Array.from({ length: S }, (_, i) => ({ i, d: mean(opts.positive, i) - mean(opts.negative, i) }))
      .filter((x) => x.d > 0)
      .sort((a, b) => b.d - a.d || a.i - b.i)
      .slice(0, top);
    for (const { i, d } of ranked) features.push({ feature: featureId(l.layer, i), layer: l.layer, index: i, means: Object.fromEntries(names.map((n) => [n, mean(n, i)])), difference: d });
  });
  return { groups: Object.fromEntries(names.map((n) => [n, groups[n]!.length])), positions: rule, features };
}
