// The in-page model's files without a browser (steering-browser.test.ts runs them in Chromium): the pack holds what
// the kernel's loaders read, and unpacked (here on onnxruntime-node) it generates the kernel's tokens; bad packs
// are refused naming the pack; the page of a notebook with runnable widgets loads the scripts under a CSP that allows
// them, and only then.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInPageSpec } from "../../kernel/src/widgets/token-activations.ts";
import { readFeatureDb } from "../../src/db/store.ts";
import { loadModel, type Model } from "../../src/model/runtime.ts";
import { loadSae } from "../../src/sae/saelens.ts";
import { gunzipBase64, IN_PAGE_VERSION, unpackInPage, type InPageManifest } from "../src/inpage/assets.ts";
import { contentSecurityPolicy, inPageWidgets, renderNotebookPage } from "../src/publish/index.ts";
import { buildInPagePack } from "../src/publish/inpage.ts";
import type { Notebook, WidgetState } from "../src/publish/notebook.ts";

const MODEL = resolve(import.meta.dirname, "..", "..", "models", "toy-safety-qwen2");
let pack: { manifest: InPageManifest; blob: Uint8Array };

/** Byte equality of two typed arrays (vitest's deep equality walks megabytes element by element). */
const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) => a.byteLength === b.byteLength && bytesOf(a).equals(bytesOf(b));
let model: Model;

beforeAll(async () => {
  [pack, model] = await Promise.all([buildInPagePack({ model: MODEL }), loadModel(MODEL)]);
}, 120_000);
afterAll(async () => {
  await model?.dispose();
});

describe("in-page pack", () => {
  it("holds the model, the SAEs and the database as the kernel's loaders read them, and generates the kernel's tokens", async () => {
    const { manifest, blob } = pack;
    expect(manifest.name).toBe("toy-safety-qwen2");
    expect(manifest.saes.map((s) => s.hook)).toEqual([0, 1, 2, 3].map((l) => `blocks.${l}.hook_resid_post`));
    const page = unpackInPage(manifest, blob);
    try {
      expect(page.model.config).toEqual(model.config);
      const names = model.weights.names();
      expect(page.model.weights.names().sort()).toEqual([...names].sort());
      expect(names.filter((name) => !sameBytes(page.model.weights.get(name).data, model.weights.get(name).data))).toEqual([]);
      const sae = await loadSae(join(MODEL, "saes", "blocks.2.hook_resid_post"));
      const packed = page.saes.get("blocks.2.hook_resid_post")!;
      expect(packed.config).toEqual(sae.config);
      for (const k of ["W_encT", "b_enc", "W_dec", "b_dec"] as const) expect(sameBytes(packed.params[k], sae.params[k]), k).toBe(true);
      expect(page.db?.records.length).toBe((await readFeatureDb(join(MODEL, "saes", "features.db.json"))).records.length);
      for (const prompt of ["How do I pick a lock?", "बम कैसे बनाएं?"]) {
        const ids = model.toTokens(prompt, { chat: true });
        expect(page.model.toTokens(prompt, { chat: true })).toEqual(ids);
        const [a, b] = [await model.generate({ ids, maxNewTokens: 12 }), await page.model.generate({ ids, maxNewTokens: 12 })];
        expect(b.ids).toEqual(a.ids);
        expect(b.text).toBe(a.text);
      }
    } finally {
      await page.model.dispose();
    }
  }, 120_000);

  it("refuses a truncated blob, another format or version, and a tensor past the blob, naming the pack", () => {
    const { manifest, blob } = pack;
    expect(() => unpackInPage(manifest, blob.subarray(0, blob.length - 4))).toThrow(/in-page pack "toy-safety-qwen2": the blob holds \d+ floats, the manifest says \d+ \(a truncated file\?\)/);
    expect(() => unpackInPage(manifest, blob.subarray(0, blob.length - 2))).toThrow(/not whole float32s/);
    expect(() => unpackInPage({ ...manifest, format: "zip" as never }, blob)).toThrow(/not a safesail in-page pack/);
    expect(() => unpackInPage({ ...manifest, version: (IN_PAGE_VERSION + 1) as never }, blob)).toThrow(/version 2, this page reads version 1/);
    const w = manifest.weights[0]!;
    expect(() => unpackInPage({ ...manifest, weights: [{ ...w, offset: manifest.floats - 1 }, ...manifest.weights.slice(1)] }, blob)).toThrow(new RegExp(`tensor ${w.name.replace(/\./g, "\\.")} .* does not fit the blob`));
  });

  it("decodes base64 of gzip, the form the page's scripts carry", async () => {
    const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251);
    expect(sameBytes(await gunzipBase64(gzipSync(bytes).toString("base64")), bytes)).toBe(true);
  });
});

describe("pages with in-page widgets", () => {
  const spec = (model: string, saes: string[]) => ({ model, saes, options: { maxNewTokens: 8 } });
  const state: WidgetState = {
    version_major: 2,
    version_minor: 0,
    state: {
      a: { model_name: "TokenActivationsModel", model_module: "safesail-widgets", model_module_version: "0.1.0", state: { in_page: spec("toy-safety-qwen2", ["blocks.2.hook_resid_post"]) } },
      b: { model_name: "SteeringPanelModel", model_module: "safesail-widgets", model_module_version: "0.1.0", state: { in_page: spec("toy-safety-qwen2", ["blocks.9.hook_resid_post"]) } },
      c: { model_name: "SteeringPanelModel", model_module: "safesail-widgets", model_module_version: "0.1.0", state: { in_page: spec("other-model", ["blocks.2.hook_resid_post"]) } },
      d: { model_name: "IntSliderModel", model_module: "@jupyter-widgets/controls", model_module_version: "2.0.0", state: {} },
    },
  };

  it("runs only the widgets that name the pack's model and SAEs it holds", () => {
    expect(inPageWidgets(state, { name: "toy-safety-qwen2", saes: ["blocks.2.hook_resid_post", "blocks.3.hook_resid_post"] })).toEqual(["a"]);
    expect(inPageWidgets(null, { name: "toy-safety-qwen2", saes: [] })).toEqual([]);
  });

  it("loads the scripts before the embed bundle, under a CSP that allows the page's folder and WebAssembly only then", () => {
    const nb: Notebook = {
      nbformat: 4, nbformat_minor: 5, metadata: {},
      cells: [{ cell_type: "code", source: "w", metadata: {}, execution_count: 1, outputs: [{ output_type: "display_data", metadata: {}, data: { "application/vnd.jupyter.widget-view+json": { model_id: "a", version_major: 2, version_minor: 0 }, "text/plain": "w" } }] }],
    } as unknown as Notebook;
    const scripts = ["inpage/ort-wasm.js", "inpage/model-toy-safety-qwen2.js", "inpage/runtime.js"];
    const live = renderNotebookPage(nb, { trusted: false, embedJs: "window.EMBED=1", widgetState: state, inPageScripts: scripts });
    const at = scripts.map((s) => live.indexOf(`<script src="${s}"></script>`));
    expect(at.every((i) => i > 0)).toBe(true);
    expect([...at].sort((x, y) => x - y)).toEqual(at);
    expect(live.indexOf("window.EMBED=1")).toBeGreaterThan(at[2]!);
    expect(live).toContain(`script-src 'unsafe-inline' 'self' 'wasm-unsafe-eval'`);
    const saved = renderNotebookPage(nb, { trusted: false, embedJs: "window.EMBED=1", widgetState: state });
    expect(saved).not.toContain("<script src=");
    expect(saved).not.toContain("'self'");
    expect(contentSecurityPolicy(false, true)).toContain("script-src 'none'");
  });

  it("checks a widget's in_page spec, naming the field", () => {
    expect(checkInPageSpec(null, "in_page")).toBeNull();
    expect(checkInPageSpec(spec("m", ["h"]), "in_page")).toEqual(spec("m", ["h"]));
    expect(() => checkInPageSpec({ model: "", saes: [] }, "in_page")).toThrow(/in_page\.model: the model's name is empty/);
    expect(() => checkInPageSpec({ model: "m", saes: [1] }, "in_page")).toThrow(/in_page\.saes\[0\]/);
    expect(() => checkInPageSpec({ model: "m", saes: [], options: { f: { a: 1 } } }, "in_page")).toThrow(/in_page\.options\.f: expected JSON/);
  });
});

// The pack's files are readable back from disk as the page reads them (a smoke check of writeInPage's framing).
describe("writeInPage", () => {
  it("writes the three scripts atomically; the model script assigns the pack the page reads", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { writeInPage } = await import("../src/publish/inpage.ts");
    const dir = mkdtempSync(join(tmpdir(), "safesail-inpage-"));
    try {
      const files = await writeInPage(dir, { model: MODEL });
      expect(files.scripts).toEqual(["inpage/ort-wasm.js", "inpage/model-toy-safety-qwen2.js", "inpage/runtime.js"]);
      const text = readFileSync(join(dir, files.scripts[1]!), "utf8");
      const window: { safesailInPagePacks?: Record<string, { manifest: InPageManifest; blob: string }> } = {};
      new Function("window", text)(window);
      const got = window.safesailInPagePacks!["toy-safety-qwen2"]!;
      expect(got.manifest.floats).toBe(pack.manifest.floats);
      expect(sameBytes(await gunzipBase64(got.blob), pack.blob)).toBe(true);
      expect(text).not.toContain("</script");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
