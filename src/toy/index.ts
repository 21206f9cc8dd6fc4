// `safesail/toy`: the embedded default model's data for notebooks (its held-out prompts and recorded answers, and
// the SAE set shipped with it).
export { heldOutConversations, type HeldOutConversation, type HeldOutOptions } from "./heldout.ts";
export { readHeldOut } from "./card.ts";
export { detectRefusal } from "../refusal.ts";
export type { ToyPrompt, ToyDomain } from "./types.ts";
export { DEFAULT_TOY_SAES_DIR, DEFAULT_TOY_SAES_DB, TOY_SAES_MANIFEST, readToySaesManifest, type ToySaesManifest } from "./saes.ts";
