// `safesail/toy`: the embedded default model's data for notebooks (its held-out prompts and recorded answers).
export { heldOutConversations, type HeldOutConversation, type HeldOutOptions } from "./heldout.ts";
export { readHeldOut } from "./card.ts";
export { detectRefusal } from "./refusal.ts";
export type { ToyPrompt, ToyDomain } from "./types.ts";
