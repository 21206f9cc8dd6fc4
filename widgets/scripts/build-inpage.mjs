#!/usr/bin/env node
// Builds widgets/dist/inpage.js: the in-page runtime that `safesail publish --in-page MODEL` copies next to the pages
// as inpage/runtime.js (widgets/src/inpage/index.ts: the model runtime, the SAE code, the library's
// generateWithFeatures and steer, and the kernel's TokenActivations and SteeringPanel classes, on onnxruntime-web).
//
//   node widgets/scripts/build-inpage.mjs [--no-minify] [--quiet]
//
// One IIFE (a page opened from file:// cannot load modules). The seams:
//   - every import of src/engine/ort.ts (onnxruntime-node) resolves to src/engine/ort-web.ts (onnxruntime-web's
//     WebAssembly build with its JavaScript glue bundled in; the .wasm binary travels separately as inpage/ort-wasm.js);
//   - Node built-ins and @huggingface/transformers (Node's tokenizer loader, never called in a page: the page
//     tokenises with src/model/tokenizer-json.ts) become stubs that throw if called;
//   - `process` is a small object (no Node here: libraries that test for it take their browser path).
// Next to the bundle, dist/inpage.meta.json lists every input, so `isStale()` can tell when to rebuild.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { changedInput } from "./build-embed.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const WIDGETS_DIR = resolve(HERE, "..");
const ROOT_DIR = resolve(WIDGETS_DIR, "..");
export const INPAGE_ENTRY = join(WIDGETS_DIR, "src", "inpage", "index.ts");
export const INPAGE_JS = join(WIDGETS_DIR, "dist", "inpage.js");
const INPAGE_META = join(WIDGETS_DIR, "dist", "inpage.meta.json");
const ORT_NODE = join(ROOT_DIR, "src", "engine", "ort.ts");
const ORT_WEB = join(ROOT_DIR, "src", "engine", "ort-web.ts");
const SELF = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);

/** onnxruntime-web's WebAssembly binary (the CPU build the bundle's glue expects). */
export const ORT_WASM = require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm", { paths: [ROOT_DIR] });

const STUBBED = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`), "@huggingface/transformers", "onnxruntime-node"]);

function inPagePlugin() {
  return {
    name: "safesail-inpage",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (STUBBED.has(args.path) || STUBBED.has(args.path.split("/")[0])) return { path: args.path, namespace: "inpage-stub" };
        if (args.path.endsWith("/engine/ort.ts") && resolve(args.resolveDir, args.path) === ORT_NODE) return { path: ORT_WEB };
        return undefined;
      });
      build.onLoad({ filter: /.*/, namespace: "inpage-stub" }, (args) => ({
        contents:
          `const why = ${JSON.stringify(`${args.path} is not available in a published page`)};\n` +
          "module.exports = new Proxy({}, { get: (_, key) => (key === '__esModule' ? false : () => { throw new Error(why); }) });\n",
        loader: "js",
      }));
    },
  };
}

/** Builds dist/inpage.js (and its meta), written through temp files and renames. */
export async function buildInPage({ minify = true } = {}) {
  const t0 = performance.now();
  const esbuild = await import("esbuild");
  const r = await esbuild.build({
    entryPoints: [INPAGE_ENTRY],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    minify,
    legalComments: "none",
    write: false,
    absWorkingDir: ROOT_DIR,
    outfile: INPAGE_JS,
    metafile: true,
    logLevel: "silent",
    banner: { js: "var __safesailProcess = { env: {}, versions: {}, platform: 'browser' };" },
    define: { process: "__safesailProcess", global: "globalThis", "import.meta.url": "undefined" },
    plugins: [inPagePlugin()],
  });
  const js = r.outputFiles.find((f) => f.path === INPAGE_JS);
  if (!js) throw new Error("esbuild wrote no inpage.js");
  const inputs = [...new Set([...Object.keys(r.metafile.inputs).filter((p) => !p.includes(":")).map((p) => resolve(ROOT_DIR, p)), SELF])];
  mkdirSync(dirname(INPAGE_JS), { recursive: true });
  const tmp = `${INPAGE_JS}.tmp-${process.pid}`;
  const tmpMeta = `${INPAGE_META}.tmp-${process.pid}`;
  try {
    writeFileSync(tmpMeta, JSON.stringify({ inputs: inputs.map((p) => relative(ROOT_DIR, p)).sort() }, null, 1) + "\n");
    writeFileSync(tmp, js.text);
    renameSync(tmpMeta, INPAGE_META);
    renameSync(tmp, INPAGE_JS);
  } catch (err) {
    rmSync(tmp, { force: true });
    rmSync(tmpMeta, { force: true });
    throw err;
  }
  return { path: INPAGE_JS, bytes: Buffer.byteLength(js.text), seconds: (performance.now() - t0) / 1000 };
}

/** Why dist/inpage.js must be rebuilt, or null when every input is older than it. */
export function isStale() {
  if (!existsSync(INPAGE_JS)) return "dist/inpage.js is missing";
  let meta;
  try {
    meta = JSON.parse(readFileSync(INPAGE_META, "utf8"));
  } catch {
    return "dist/inpage.meta.json is missing or unreadable";
  }
  return changedInput(INPAGE_JS, meta.inputs);
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const flags = new Set(process.argv.slice(2));
  buildInPage({ minify: !flags.has("--no-minify") }).then(
    (r) => {
      if (!flags.has("--quiet")) process.stdout.write(`${relative(process.cwd(), r.path)}: ${(r.bytes / 1e6).toFixed(2)} MB in ${r.seconds.toFixed(1)} s\n`);
    },
    (err) => {
      process.stderr.write(`build-inpage: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
