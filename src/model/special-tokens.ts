// Which token ids are chat special tokens: THE one rule. The activation store flags them per row, the example store
// per window token, and the per-token views (steer/) mask them, all through this test, so "special" means the same
// thing in every file a run writes and every view that reads it.
import type { Model } from "./runtime.ts";

/**
 * A test for chat special tokens (chat markers, BOS/EOS): one of the config's BOS/EOS ids, or a token the tokenizer
 * drops when decoding with `skipSpecialTokens` (a token that decodes to "" either way is plain, not special).
 * Answers are memoised per id.
 */
export function specialTokenTest(model: Model): (id: number) => boolean {
  const fixed = new Set<number>(model.config.eosTokenIds);
  if (model.config.bosTokenId !== null) fixed.add(model.config.bosTokenId);
  const tok = model.tokenizer;
  const known = new Map<number, boolean>();
  return (id) => {
    let special = known.get(id);
    if (special === undefined) {
      special = fixed.has(id) || (tok !== null && tok.decode([id]) !== "" && tok.decode([id], { skipSpecialTokens: true }) === "");
      known.set(id, special);
    }
    return special;
  };
}
