// The SteeringPanel's part of the kernel/front-end contract (protocol.ts has the others; this one sits beside it
// while other work edits protocol.ts, and protocol.ts may re-export it). No DOM and no Node imports: the kernel
// (kernel/src/widgets/steering-panel.ts) and the browser bundles (widgets/src/views/steering-panel.ts) both load it.
import type { InPageSpec } from "./protocol.ts";

/** The steering methods of src/steer (`STEERING_METHODS`), in the method menu's order. */
export const STEERING_PANEL_METHODS = ["clamp", "scale", "add", "orthogonal", "cap"] as const;
export type SteeringPanelMethod = (typeof STEERING_PANEL_METHODS)[number];

/** One chosen feature: what to do to it, the slider's range, and what the database says about it. */
export interface SteeringChip {
  /** `{layer}_{index}`. */
  feature: string;
  layer: number;
  method: SteeringPanelMethod;
  value: number;
  /** The slider's range and step (the number box takes any value; the kernel widens the range to hold it). */
  min: number;
  max: number;
  step: number;
  /**
   * The feature's typical strong activation (the database's normalisation value, else its maximum; 10 when the
   * database has neither): the ranges and default values of the methods are multiples of it.
   */
  scale: number;
  /** "" when the database has no explanation. */
  explanation: string;
  score: number | null;
  tags: string[];
}

/** One answer of the comparison on screen. */
export interface SteeringPanelAnswer {
  text: string;
  /** Per answer token, the characters it shows (pieces concatenate to `text`; "" for half a character). */
  tokens: string[];
  /** "stop" or "length" ("" when not known). */
  finish_reason: string;
}

/** The last comparison: baseline and steered answers from one seed, with the steered features' activations. */
export interface SteeringPanelComparison {
  prompt: string;
  seed: number;
  /** The interventions it was computed with, in chip order (the chips may have moved since). */
  interventions: { feature: string; method: SteeringPanelMethod; value: number }[];
  baseline: SteeringPanelAnswer;
  steered: SteeringPanelAnswer;
  /** Index of the first answer token where the two differ; -1 when they are identical. */
  first_difference: number;
  /**
   * The features' activations (the SAE's units) on each answer, row-major: row i is `interventions[i].feature`,
   * one column per token of that answer (`baseline.tokens.length` / `steered.tokens.length` columns).
   */
  baseline_activations: Float32Array;
  steered_activations: Float32Array;
}

export type SteeringPanelStatus = "ready" | "generating" | "error";

/**
 * SteeringPanel: chips of features with a slider, a number box and a method menu each; a prompt box and a Generate
 * button; the baseline and steered answers side by side with the differing tokens marked, and the steered features'
 * activations on both answers. The front end writes `chips` (slider, number, method, remove), `prompt`,
 * `max_new_tokens` and `seed`, and sends custom messages: `{ event: "generate" }` (STEERING_GENERATE_EVENT) and
 * `{ event: "add", features: "2_716, 1_5" }` (STEERING_ADD_EVENT, typed ids). The kernel answers a generate with
 * `status` "generating", then `comparison`, `status` "ready" and `revision` + 1 in one update (or "error" and
 * `message`). A chip the kernel changes (a method switch resets the range and value, a value outside the range
 * widens it) goes back as an update.
 */
export interface SteeringPanelState {
  title: string;
  chips: SteeringChip[];
  prompt: string;
  max_new_tokens: number;
  seed: number;
  status: SteeringPanelStatus;
  /** The error, or a note about the last action ("" when none). */
  message: string;
  /** Incremented by the kernel each time it sends a new comparison. */
  revision: number;
  /** null until the first comparison. */
  comparison: SteeringPanelComparison | null;
  /** What a published page needs to answer Generate itself (protocol.ts InPageSpec; null: only a kernel can). */
  in_page: InPageSpec | null;
}

export const STEERING_GENERATE_EVENT = "generate";
export const STEERING_ADD_EVENT = "add";
export const STEERING_PANEL_MODEL = "SteeringPanelModel";
export const STEERING_PANEL_VIEW = "SteeringPanelView";
