// The model run over documents in blocks, handing each hook's rows to a callback: a harvest that keeps nothing, for
// evaluations that read every token once (held-out FVU of several SAEs in one pass).
import type { Model } from "../model/runtime.ts";
import type { Progress } from "../progress.ts";
import type { CorpusDoc } from "./corpus.ts";
import { tokenizeDocument } from "./text.ts";

/** Runs the model over `docs` once, reading `hooks`, and hands each hook's rows to `use` in blocks of documents. */
export async function forEachDocumentBlock(model: Model, docs: readonly CorpusDoc[], hooks: readonly string[], use: (hook: string, x: Float32Array, n: number) => Promise<void>, progress: Progress, label: string): Promise<void> {
  const D = model.config.hiddenSize;
  const BLOCK = 64;
  progress.start(label, docs.length);
  for (let start = 0; start < docs.length; start += BLOCK) {
    const rows = new Map(hooks.map((h) => [h, [] as Float32Array[]]));
    let n = 0;
    for (const doc of docs.slice(start, start + BLOCK)) {
      const ids = tokenizeDocument(model, doc).ids;
      const r = await model.runWithCache([ids], [...hooks]);
      for (const h of hooks) rows.get(h)!.push(r.cache[h]!.data.slice(0, ids.length * D));
      n += ids.length;
    }
    for (const h of hooks) {
      const x = new Float32Array(n * D);
      let at = 0;
      for (const part of rows.get(h)!) {
        x.set(part, at);
        at += part.length;
      }
      await use(h, x, n);
    }
    progress.update(Math.min(docs.length, start + BLOCK));
  }
  progress.finish();
}
