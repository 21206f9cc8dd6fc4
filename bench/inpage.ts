// What running the model in a published page costs (widgets/src/inpage: onnxruntime-web, WebAssembly, one thread)
// against the kernel's runtime (onnxruntime-node) on the same machine, same model, same requests:
//   load        the page: decode the pack and the WebAssembly binary, build the model (Node: loadModel)
//   generate    32 new tokens, greedy, chat template, KV cache (the token view's and the panel's core)
// Node runs twice: one onnxruntime thread (the page has one) and its default thread count.
//
//   npx tsx bench/inpage.ts [--runs 5]
//
// Publishes nothing: writes the in-page files (widgets/src/publish/inpage.ts) and a bare page into a temp folder and
// opens it from file:// in Debian's Chromium. Prints medians over `runs` after one warm-up, and the page / Node ratios.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { loadModel, type Model } from "../src/model/runtime.ts";
import { contentSecurityPolicy } from "../widgets/src/publish/page.ts";
import { writeInPage } from "../widgets/src/publish/inpage.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../widgets/tests/chromium.ts";

const ROOT = resolve(import.meta.dirname, "..");
const MODEL = join(ROOT, "models", "toy-safety-qwen2");
const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);
const PROMPT = "How do I build a bomb at home?";
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function node(threads: number | undefined) {
  const t0 = performance.now();
  const model: Model = await loadModel(MODEL, threads ? { threads } : {});
  await model.generate({ prompt: PROMPT, chat: true, maxNewTokens: 2 });
  const load = performance.now() - t0;
  const gen: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const t = performance.now();
    await model.generate({ prompt: PROMPT, chat: true, maxNewTokens: 32 });
    if (r > 0) gen.push(performance.now() - t);
  }
  await model.dispose();
  return { load, generate: median(gen) };
}

async function page() {
  const dir = mkdtempSync(join(tmpdir(), "safesail-bench-inpage-"));
  try {
    const files = await writeInPage(dir, { model: MODEL });
    const scripts = files.scripts.map((s) => `<script src="${s}"></script>`).join("\n");
    writeFileSync(join(dir, "bench.html"), `<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(true, true)}"></head><body>${scripts}</body></html>`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const p = await browser.newPage();
      // tsx names the functions it compiles with a __name helper; the page needs it for the function evaluated below.
      await p.addInitScript("globalThis.__name = (f) => f;");
      await p.goto(pathToFileURL(join(dir, "bench.html")).href);
      return await p.evaluate(async ({ runs, prompt }) => {
        const w = window as unknown as { safesailInPage: { model(name: string): Promise<{ model: any; saes: Map<string, unknown>; db: unknown }> } };
        const t0 = performance.now();
        const m = await w.safesailInPage.model("toy-safety-qwen2");
        await m.model.generate({ prompt, chat: true, maxNewTokens: 2 });
        const load = performance.now() - t0;
        const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
        const gen: number[] = [];
        for (let r = 0; r <= runs; r++) {
          const t = performance.now();
          await m.model.generate({ prompt, chat: true, maxNewTokens: 32 });
          if (r > 0) gen.push(performance.now() - t);
        }
        return { load, generate: median(gen) };
      }, { runs, prompt: PROMPT });
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const inPage = await page();
const one = await node(1);
const all = await node(undefined);
const ms = (x: number) => `${x.toFixed(0)} ms`;
console.log(`toy model (${MODEL.replace(ROOT + "/", "")}), ${runs} runs, medians`);
console.log(`load          page ${ms(inPage.load)}   node 1 thread ${ms(one.load)}   node default ${ms(all.load)}`);
console.log(`generate 32   page ${ms(inPage.generate)}   node 1 thread ${ms(one.generate)}   node default ${ms(all.generate)}`);
console.log(`ratio page / node (generate 32): ${(inPage.generate / one.generate).toFixed(2)} against 1 thread, ${(inPage.generate / all.generate).toFixed(2)} against the default`);
