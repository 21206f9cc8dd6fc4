// Writes a model's in-page pack next to published pages (the format is widgets/src/inpage/assets.ts): the model's
// weights, tokenizer, SAEs and feature database as read by the same loaders the kernel uses (loadModel, loadSae,
// readFeatureDb), the onnxruntime-web binary, and the in-page runtime bundle (built when missing or stale).
//
//   const inPage = await writeInPage(outDir, { model: "models/toy-safety-qwen2" });
//   inPage.scripts    // ["inpage/ort-wasm.js", "inpage/model-toy-safety-qwen2.js", "inpage/runtime.js"], in load order
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { readFeatureDb } from "../../../src/db/store.ts";
import { NotFoundError } from "../../../src/errors.ts";
import { loadModel } from "../../../src/model/runtime.ts";
import { readTokenizerFiles } from "../../../src/model/tokenizer.ts";
import { loadSae, SAELENS_CFG } from "../../../src/sae/saelens.ts";
import { writeFileAtomic } from "../../../src/util/atomic.ts";
import { IN_PAGE_FORMAT, IN_PAGE_VERSION, type InPageManifest, type PackedSae, type PackedTensor } from "../inpage/assets.ts";

export const IN_PAGE_DIR = "inpage";
const BUILD_SCRIPT = fileURLToPath(new URL("../../scripts/build-inpage.mjs", import.meta.url));

export interface InPageSource {
  /** The model folder (its name, the folder's last component, is what widgets' `in_page.model` names). */
  model: string;
  /** A folder of SAE folders (each with cfg.json); default `<model>/saes`. */
  saes?: string;
  /** The feature database; default `<saes>/features.db.json` when it exists; null for none. */
  db?: string | null;
}

export interface InPageFiles {
  /** The model's name. */
  name: string;
  /** The SAE hooks the pack holds. */
  saes: string[];
  /** Paths relative to the output folder, in the order a page loads them. */
  scripts: string[];
  /** Bytes written, per file. */
  bytes: Record<string, number>;
}

/** The pack of a model: manifest plus float32 blob. */
export async function buildInPagePack(src: InPageSource): Promise<{ manifest: InPageManifest; blob: Uint8Array }> {
  const model = await loadModel(src.model);
  const saesDir = src.saes ?? join(src.model, "saes");
  if (!existsSync(saesDir)) throw new NotFoundError(`${saesDir}: no SAE folder for the in-page pack (give --in-page-saes DIR)`, { file: saesDir });
  const saeDirs = readdirSync(saesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(saesDir, d.name, SAELENS_CFG)))
    .map((d) => join(saesDir, d.name))
    .sort();
  if (saeDirs.length === 0) throw new NotFoundError(`${saesDir}: holds no SAE folder (a folder with ${SAELENS_CFG})`, { file: saesDir });
  const dbFile = src.db === undefined ? (existsSync(join(saesDir, "features.db.json")) ? join(saesDir, "features.db.json") : null) : src.db;

  const parts: Float32Array[] = [];
  let floats = 0;
  const put = (name: string, shape: number[], data: Float32Array): PackedTensor => {
    const t = { name, shape: [...shape], offset: floats, length: data.length };
    parts.push(data);
    floats += data.length;
    return t;
  };
  const weights = model.weights.names().sort().map((name) => {
    const t = model.weights.get(name);
    return put(name, t.shape, t.data);
  });
  const saes: PackedSae[] = [];
  for (const dir of saeDirs) {
    const sae = await loadSae(dir);
    const hook = sae.config.hookName ?? basename(dir);
    const { dIn, dSae } = sae.config;
    const p = sae.params;
    saes.push({
      hook,
      config: sae.config,
      tensors: {
        W_encT: put(`${hook}.W_encT`, [dSae, dIn], p.W_encT),
        b_enc: put(`${hook}.b_enc`, [dSae], p.b_enc),
        W_dec: put(`${hook}.W_dec`, [dSae, dIn], p.W_dec),
        b_dec: put(`${hook}.b_dec`, [dIn], p.b_dec),
      },
    });
  }
  const { tokenizerJson, tokenizerConfig, generationConfig } = readTokenizerFiles(src.model);
  const db = dbFile === null ? null : await readFeatureDb(dbFile);
  await model.dispose();
  const blob = new Uint8Array(floats * 4);
  const out = new Float32Array(blob.buffer);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  const manifest: InPageManifest = {
    format: IN_PAGE_FORMAT, version: IN_PAGE_VERSION, name: model.name, config: model.config,
    tokenizer: { tokenizerJson, tokenizerConfig, generationConfig }, weights, saes, db, floats,
  };
  return { manifest, blob };
}

/** JSON that is safe inside a script (no `</script>`, no `<!--`). */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

const gz = promisify(gzip);
const base64Gzip = async (bytes: Uint8Array) => (await gz(bytes, { level: 9 })).toString("base64");

/** The in-page runtime bundle's text, built first when missing or stale. */
export async function loadInPageJs(log: (message: string) => void = () => {}): Promise<{ js: string; wasm: string }> {
  const m = (await import(pathToFileURL(BUILD_SCRIPT).href)) as { INPAGE_JS: string; ORT_WASM: string; isStale(): string | null; buildInPage(): Promise<{ bytes: number; seconds: number }> };
  const why = m.isStale();
  if (why) {
    log(`building the in-page runtime (${why}) ...`);
    const r = await m.buildInPage();
    log(`built ${m.INPAGE_JS}: ${(r.bytes / 1e6).toFixed(2)} MB in ${r.seconds.toFixed(1)} s`);
  }
  return { js: await readFile(m.INPAGE_JS, "utf8"), wasm: m.ORT_WASM };
}

/** Writes `<out>/inpage/`: the onnxruntime-web binary, the model's pack and the runtime (each atomically). */
export async function writeInPage(out: string, src: InPageSource, log: (message: string) => void = () => {}): Promise<InPageFiles> {
  const { manifest, blob } = await buildInPagePack(src);
  const { js, wasm } = await loadInPageJs(log);
  const files: [string, string][] = [
    [`${IN_PAGE_DIR}/ort-wasm.js`, `window.safesailOrtWasm = ${JSON.stringify(await base64Gzip(await readFile(wasm)))};\n`],
    [
      `${IN_PAGE_DIR}/model-${manifest.name}.js`,
      `(window.safesailInPagePacks = window.safesailInPagePacks || {})[${scriptJson(manifest.name)}] = { manifest: ${scriptJson(manifest)}, blob: ${JSON.stringify(await base64Gzip(blob))} };\n`,
    ],
    [`${IN_PAGE_DIR}/runtime.js`, js],
  ];
  const bytes: Record<string, number> = {};
  for (const [rel, text] of files) {
    await writeFileAtomic(join(out, rel), text);
    bytes[rel] = Buffer.byteLength(text);
  }
  return { name: manifest.name, saes: manifest.saes.map((s) => s.hook), scripts: files.map(([rel]) => rel), bytes };
}
