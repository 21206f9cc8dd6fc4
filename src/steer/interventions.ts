// Steering: set, scale or push SAE features while the model runs, and compare with the unsteered model.
//
//   const s = steer(model, saes, [{ feature: "3_120", method: "clamp", value: 8 }, { feature: "2_77", method: "add", value: -4 }]);
//   const answer = await s.generate({ prompt: "How do I ...?", chat: true });
//   const both = await s.compare({ prompt: "How do I ...?", chat: true, seed: 1 });   // baseline and steered, one seed
//
// The methods, for latent i of the SAE at layer L, with decoder row d_i (W_dec[i]) and unit direction u_i = d_i/|d_i|,
// applied at every position of the value x the SAE reads (every prompt position and every generated step):
// - clamp v:      x + (v - f_i(x)) d_i, where f_i is the latent's TopK activation (0 when it is not among the k).
//                 Only latent i of the reconstruction changes; the SAE's error term x - x̂ is kept, so everything
//                 the SAE does not explain passes through untouched (SAELens/Neuronpedia "clamp"). One encode per
//                 step at that layer.
// - scale s:      x + (s - 1) f_i(x) d_i (s = 0 ablates the latent). One encode per step.
// - add a:        x + a d_i. In the graph (the runtime's additive hook): no split, no encode, no extra cost.
// - orthogonal v: x - (x·u_i) u_i + v u_i: the component along the direction is replaced by v, the orthogonal rest
//                 kept (directional ablation when v = 0). No encode.
// - cap c:        x - max(0, x·u_i - c) u_i: the projection onto the direction is limited to c, and values below c
//                 are left alone (activation capping). No encode.
// Several interventions at one layer: clamp and scale read their latents from the value as the layer produced it
// (one encode serves them all) and their changes are summed; adds follow; orthogonal and cap then apply in the
// order given, each to the result so far. Layers compose through the model: a lower layer's edit reaches the
// higher layers' hooks before their edits apply.
import { ArgumentError, describeValue } from "../errors.ts";
import type { F32Tensor } from "../model/types.ts";
import type { GenerateOptions, GenerateOutput, HookEdit, HookFn, Model } from "../model/runtime.ts";
import { encodeTopK, type Sae } from "../sae/sae.ts";
import { featureId, parseFeatureId } from "../safety.ts";
import { encodeDocuments, saeLayers, codeValue, type SaeLayer } from "./token-features.ts";

export type SteeringMethod = "clamp" | "scale" | "add" | "orthogonal" | "cap";
export const STEERING_METHODS: readonly SteeringMethod[] = ["clamp", "scale", "add", "orthogonal", "cap"];

/** One feature and what to do to it: plain data (the CLI's `--set 3_120=clamp:8`, the server's extension field). */
export interface Intervention {
  /** `{layer}_{index}`, e.g. "3_120". */
  feature: string;
  method: SteeringMethod;
  /** The clamp value, scale factor, add coefficient, orthogonal component or cap. */
  value: number;
}

/** Methods that read the latent, so cost one SAE encode per step at their layer. */
export const ENCODING_METHODS: readonly SteeringMethod[] = ["clamp", "scale"];

/** `"3_120=clamp:8"` -> `{ feature: "3_120", method: "clamp", value: 8 }`; errors name `arg`. */
export function parseIntervention(spec: string, arg = "--set"): Intervention {
  const m = typeof spec === "string" ? /^\s*([^=\s]+)\s*=\s*([a-z]+)\s*:\s*(\S+)\s*$/.exec(spec) : null;
  if (!m) throw new ArgumentError(`${arg}: expected FEATURE=METHOD:VALUE, e.g. 3_120=clamp:8 (methods: ${STEERING_METHODS.join(", ")}), got ${describeValue(spec)}`, { field: arg });
  return checkIntervention({ feature: m[1], method: m[2], value: Number(m[3]) }, arg, m[3]);
}

/** Checks one intervention's shape (not yet against SAEs); returns a clean copy. */
export function checkIntervention(value: unknown, where: string, rawValue?: string): Intervention {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ArgumentError(`${where}: expected an intervention { feature, method, value }, got ${describeValue(value)}`, { field: where });
  const o = value as Record<string, unknown>;
  parseFeatureId(o.feature, `${where}.feature`);
  if (!(STEERING_METHODS as readonly unknown[]).includes(o.method)) {
    throw new ArgumentError(`${where}.method: expected one of ${STEERING_METHODS.join(", ")}, got ${describeValue(o.method)}`, { field: `${where}.method` });
  }
  if (typeof o.value !== "number" || !Number.isFinite(o.value)) {
    throw new ArgumentError(`${where}.value: expected a finite number, got ${rawValue !== undefined ? describeValue(rawValue) : describeValue(o.value)}`, { field: `${where}.value` });
  }
  return { feature: o.feature as string, method: o.method as SteeringMethod, value: o.value };
}

/** An intervention checked against the SAEs: its layer's SAE and hook, and the latent's decoder row. */
export interface ResolvedIntervention extends Intervention {
  layer: number;
  index: number;
  hook: string;
  sae: Sae;
  /** W_dec[index], as stored. */
  decoder: Float32Array;
  /** The decoder row scaled to unit length. */
  unit: Float32Array;
}

/** Checks a list of interventions against the SAEs (one per layer); errors name the list entry and what is wrong. */
export function resolveInterventions(layers: readonly SaeLayer[], interventions: unknown, where: string): ResolvedIntervention[] {
  if (!Array.isArray(interventions)) throw new ArgumentError(`${where}: interventions must be a list, got ${describeValue(interventions)}`, { field: "interventions" });
  const seen = new Set<string>();
  return interventions.map((raw, n) => {
    const at = `${where}: interventions[${n}]`;
    const iv = checkIntervention(raw, at);
    const { layer, index } = parseFeatureId(iv.feature, `${at}.feature`);
    const l = layers.find((s) => s.layer === layer);
    if (!l) throw new ArgumentError(`${at}.feature: ${iv.feature}: no SAE reads layer ${layer} (the SAEs read layers ${layers.map((s) => s.layer).join(", ")})`, { field: `${at}.feature` });
    const { dSae, dIn } = l.sae.params;
    if (index >= dSae) throw new ArgumentError(`${at}.feature: ${iv.feature}: the SAE at layer ${layer} has ${dSae} latents (0..${dSae - 1})`, { field: `${at}.feature` });
    const id = featureId(layer, index);
    if (seen.has(id)) throw new ArgumentError(`${at}.feature: ${id} is steered twice; give one intervention per feature`, { field: `${at}.feature` });
    seen.add(id);
    const decoder = l.sae.params.W_dec.slice(index * dIn, (index + 1) * dIn);
    let norm = 0;
    for (const v of decoder) norm += v * v;
    norm = Math.sqrt(norm);
    if (!(norm > 0)) throw new ArgumentError(`${at}.feature: ${id} has an all-zero decoder row; it has no direction to steer along`, { field: `${at}.feature` });
    return { ...iv, feature: id, layer, index, hook: l.hook, sae: l.sae, decoder, unit: decoder.map((v) => v / norm) };
  });
}

/**
 * The runtime hook edits that carry out the interventions: per hook, an in-graph `{ add }` when the layer has only
 * adds, else one function doing the layer's work in the documented order.
 */
export function steeringHooks(list: readonly ResolvedIntervention[]): Record<string, HookEdit> {
  const byHook = new Map<string, ResolvedIntervention[]>();
  for (const iv of list) {
    const g = byHook.get(iv.hook);
    if (g) g.push(iv);
    else byHook.set(iv.hook, [iv]);
  }
  const hooks: Record<string, HookEdit> = {};
  for (const [hook, group] of byHook) {
    const D = group[0]!.decoder.length;
    const add = new Float32Array(D);
    let adds = 0;
    for (const iv of group) {
      if (iv.method !== "add") continue;
      adds++;
      for (let j = 0; j < D; j++) add[j]! += iv.value * iv.decoder[j]!;
    }
    if (adds === group.length) {
      hooks[hook] = { add };
      continue;
    }
    hooks[hook] = layerFunction(group, adds > 0 ? add : null);
  }
  return hooks;
}

function layerFunction(group: readonly ResolvedIntervention[], add: Float32Array | null): HookFn {
  const latent = group.filter((iv) => iv.method === "clamp" || iv.method === "scale");
  const directional = group.filter((iv) => iv.method === "orthogonal" || iv.method === "cap");
  const sae = group[0]!.sae;
  return (value: F32Tensor) => {
    const x = value.data;
    const D = group[0]!.decoder.length;
    const n = x.length / D;
    if (latent.length > 0) {
      const code = encodeTopK(sae, x, n);
      for (let t = 0; t < n; t++) {
        for (const iv of latent) {
          const f = codeValue(code, t, iv.index);
          const target = iv.method === "clamp" ? iv.value : iv.value * f;
          const delta = target - f;
          if (delta === 0) continue;
          for (let j = 0; j < D; j++) x[t * D + j]! += delta * iv.decoder[j]!;
        }
      }
    }
    if (add) for (let t = 0; t < n; t++) for (let j = 0; j < D; j++) x[t * D + j]! += add[j]!;
    for (const iv of directional) {
      const u = iv.unit;
      for (let t = 0; t < n; t++) {
        let p = 0;
        for (let j = 0; j < D; j++) p += x[t * D + j]! * u[j]!;
        const shift = iv.method === "orthogonal" ? iv.value - p : Math.min(0, iv.value - p);
        if (shift === 0) continue;
        for (let j = 0; j < D; j++) x[t * D + j]! += shift * u[j]!;
      }
    }
  };
}

/** Generation options of a steered model: the runtime's, less `hooks` (the steering supplies them). */
export type SteerGenerateOptions = Omit<GenerateOptions, "hooks">;

/** One answer of a comparison. */
export interface SteeringAnswer {
  text: string;
  ids: number[];
  /** One decoded piece per generated id (the model's `toStrTokens`). */
  tokens: string[];
  finishReason: "stop" | "length";
}

/** A steered feature's activation on each answer token, as its SAE reads it (after the edits, in the steered run). */
export interface SteeredFeatureTrack {
  feature: string;
  method: SteeringMethod;
  value: number;
  /** Per token of the baseline answer. */
  baseline: number[];
  /** Per token of the steered answer, read from the edited activations. */
  steered: number[];
}

export interface SteeringComparison {
  interventions: Intervention[];
  seed: number;
  promptIds: number[];
  baseline: SteeringAnswer;
  steered: SteeringAnswer;
  /** Index of the first answer token where the two differ (null when identical). */
  firstDifference: number | null;
  features: SteeredFeatureTrack[];
}

/** A model with interventions attached: `generate` runs steered, `compare` runs both from one seed. */
export class SteeredModel {
  readonly interventions: Intervention[];
  /** The runtime hook edits (for `model.forward` / `runWithHooks` calls of your own). */
  readonly hooks: Record<string, HookEdit>;
  private readonly resolved: ResolvedIntervention[];
  private readonly layers: SaeLayer[];

  constructor(
    readonly model: Model,
    saes: readonly Sae[],
    interventions: readonly Intervention[],
  ) {
    this.layers = saeLayers(model, saes, "steer");
    this.resolved = resolveInterventions(this.layers, interventions, "steer");
    this.interventions = this.resolved.map(({ feature, method, value }) => ({ feature, method, value }));
    this.hooks = steeringHooks(this.resolved);
  }

  /** Steered generation (every step, prompt included, goes through the interventions). */
  generate(opts: SteerGenerateOptions): Promise<GenerateOutput> {
    if (opts && "hooks" in opts) throw new ArgumentError("steer(...).generate: do not pass hooks; the interventions supply them", { field: "hooks" });
    return this.model.generate({ ...opts, hooks: this.hooks });
  }

  /**
   * Baseline and steered answers from the same seed, the first token where they part, and each steered feature's
   * activation on both answers.
   */
  async compare(opts: SteerGenerateOptions): Promise<SteeringComparison> {
    const seed = opts.seed ?? 0;
    const base = await this.model.generate({ ...opts, seed });
    const steered = await this.generate({ ...opts, seed });
    const answer = (g: GenerateOutput): SteeringAnswer => ({ text: g.text, ids: g.ids, tokens: this.model.tokenizer ? this.model.toStrTokens(g.ids) : g.ids.map(String), finishReason: g.finishReason });
    let first: number | null = null;
    for (let i = 0; i < Math.max(base.ids.length, steered.ids.length); i++) {
      if (base.ids[i] !== steered.ids[i]) {
        first = i;
        break;
      }
    }
    return {
      interventions: this.interventions,
      seed,
      promptIds: base.promptIds,
      baseline: answer(base),
      steered: answer(steered),
      firstDifference: first,
      features: await this.featureTracks(base.promptIds, base.ids, steered.ids),
    };
  }

  /** The steered features on the baseline answer (unsteered run) and on the steered answer (steered run). */
  async featureTracks(promptIds: readonly number[], baselineIds: readonly number[], steeredIds: readonly number[]): Promise<SteeredFeatureTrack[]> {
    const used = this.layers.filter((l) => this.resolved.some((iv) => iv.layer === l.layer));
    const P = promptIds.length;
    const read = async (ids: readonly number[], edits?: Record<string, HookEdit>): Promise<Map<string, number[]>> => {
      const out = new Map<string, number[]>(this.resolved.map((iv) => [iv.feature, []]));
      if (ids.length === 0) return out;
      const [codes] = await encodeDocuments(this.model, used, [{ ids: [...promptIds, ...ids] }], "js", edits);
      this.resolved.forEach((iv) => {
        const code = codes![used.findIndex((l) => l.layer === iv.layer)]!;
        const row = out.get(iv.feature)!;
        for (let t = P; t < P + ids.length; t++) row.push(codeValue(code, t, iv.index));
      });
      return out;
    };
    const b = await read(baselineIds);
    const s = await read(steeredIds, this.hooks);
    return this.resolved.map((iv) => ({ feature: iv.feature, method: iv.method, value: iv.value, baseline: b.get(iv.feature)!, steered: s.get(iv.feature)! }));
  }
}

/** `steer(model, saes, interventions).generate(...)`: the model with SAE-feature interventions attached. */
export function steer(model: Model, saes: readonly Sae[], interventions: readonly Intervention[]): SteeredModel {
  return new SteeredModel(model, saes, interventions);
}
