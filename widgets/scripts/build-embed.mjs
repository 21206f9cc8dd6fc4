#!/usr/bin/env node
// Builds widgets/dist/embed.js: the offline embed bundle that `safesail publish` inlines once into each page
// (widgets/src/embed/index.ts: the ipywidgets 8 HTML manager, the standard controls, the Output widget, the
// safesail views, Plotly, the sanitiser, and every stylesheet they need as injected <style> text).
//
//   node widgets/scripts/build-embed.mjs [--typecheck] [--if-stale] [--no-minify] [--quiet] [--analyze]
//   npm run build:embed -w widgets            (the same, with --typecheck)
//
// One IIFE, minified, no code splitting, nothing loaded at run time:
//   - CSS imports become JS that appends a <style> (a nested esbuild CSS build inlines @imports, and fonts and
//     images as data: URIs; Font Awesome's @font-face rules keep only their woff2 source). The build fails if
//     any url() other than data: is left in the CSS.
//   - ipywidgets 7 (@jupyter-widgets/base7, controls7), which HTMLManager requires for old notebooks, is replaced
//     by an empty module: the page's loader (src/embed/manager.ts) refuses ipywidgets 7 state with a message.
//   - `safesail-embed/views` resolves to widgets/src/views/index.ts when it exists, else src/embed/no-views.ts
//     (the same fallback as tsconfig.embed.json's "paths").
// Next to the bundle, dist/embed.meta.json records every input file (from esbuild's metafile) and the views
// choice, so `isStale()` can tell when a source (or an installed package) changed since.
//
// Also a module: `buildEmbed(opts)`, `isStale()`, `EMBED_JS`, used by `safesail publish`
// (widgets/src/publish/embed.ts) to rebuild a missing or stale bundle before publishing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const WIDGETS_DIR = resolve(HERE, "..");
export const ROOT_DIR = resolve(WIDGETS_DIR, "..");
export const EMBED_ENTRY = join(WIDGETS_DIR, "src", "embed", "index.ts");
export const EMBED_JS = join(WIDGETS_DIR, "dist", "embed.js");
export const EMBED_META = join(WIDGETS_DIR, "dist", "embed.meta.json");
export const VIEWS_ENTRY = join(WIDGETS_DIR, "src", "views", "index.ts");
const NO_VIEWS = join(WIDGETS_DIR, "src", "embed", "no-views.ts");
const INJECT_STYLE = join(WIDGETS_DIR, "src", "embed", "inject-style.ts");
const TSCONFIG = join(WIDGETS_DIR, "tsconfig.embed.json");
const SELF = fileURLToPath(import.meta.url);

const require = createRequire(import.meta.url);

const ASSET_LOADERS = {
  ".woff2": "dataurl",
  ".woff": "dataurl",
  ".ttf": "dataurl",
  ".eot": "dataurl",
  ".otf": "dataurl",
  ".svg": "dataurl",
  ".png": "dataurl",
  ".gif": "dataurl",
  ".jpg": "dataurl",
  ".jpeg": "dataurl",
  ".webp": "dataurl",
  ".cur": "dataurl",
};

/** In each @font-face block that has a woff2 source, keep only that source (every browser that runs the page reads woff2). */
export function woff2Only(css) {
  return css.replace(/@font-face\s*\{[^}]*\}/g, (block) => {
    const woff2 = /url\(\s*(['"]?)([^'")]+\.woff2(?:[?#][^'")]*)?)\1\s*\)/i.exec(block);
    if (!woff2) return block;
    // Declarations split at ";" (the sources here are file paths, not data: URIs, so none holds a ";").
    const decls = block.slice(block.indexOf("{") + 1, -1).split(";").filter((d) => d.trim() && !/^\s*src\s*:/i.test(d));
    return `@font-face{${[...decls, `src:url(${JSON.stringify(woff2[2])}) format("woff2")`].join(";")}}`;
  });
}

/** Nested build: one stylesheet with its @imports inlined and its assets as data: URIs. */
async function bundleCss(esbuild, path, minify) {
  const woff2Plugin = {
    name: "woff2-only",
    setup(build) {
      build.onLoad({ filter: /\.css$/ }, (args) => ({ contents: woff2Only(readFileSync(args.path, "utf8")), loader: "css", resolveDir: dirname(args.path) }));
    },
  };
  const r = await esbuild.build({
    entryPoints: [path],
    bundle: true,
    write: false,
    minify,
    loader: ASSET_LOADERS,
    plugins: [woff2Plugin],
    logLevel: "silent",
    absWorkingDir: ROOT_DIR,
    outdir: "/", // required with write: false and asset loaders; nothing is written
    metafile: true,
  });
  const css = r.outputFiles.filter((f) => f.path.endsWith(".css")).map((f) => f.text).join("\n");
  // Every url() must be inline now: no stylesheet of a published page may fetch.
  for (const m of css.matchAll(/url\(\s*(['"]?)([^'")]*)\1\s*\)/gi)) {
    if (!/^data:/i.test(m[2])) throw new Error(`${relative(ROOT_DIR, path)}: url(${m[2]}) is not inlined (only data: URLs may stay in the embed CSS)`);
  }
  return { css, inputs: Object.keys(r.metafile.inputs).map((i) => resolve(ROOT_DIR, i)) };
}

/** The esbuild plugin that resolves the seams and turns CSS into injected <style> text. */
function embedPlugin(esbuild, minify, cssInputs, viewsChoice) {
  return {
    name: "safesail-embed",
    setup(build) {
      build.onResolve({ filter: /^safesail-embed\/views$/ }, () => ({ path: viewsChoice }));
      build.onResolve({ filter: /^@jupyter-widgets\/(base7|controls7)(\/.*)?$/ }, (args) => ({ path: args.path, namespace: "ipywidgets7-stub" }));
      build.onLoad({ filter: /.*/, namespace: "ipywidgets7-stub" }, () => ({ contents: "module.exports = {};", loader: "js" }));
      build.onLoad({ filter: /\.css$/ }, async (args) => {
        const { css, inputs } = await bundleCss(esbuild, args.path, minify);
        for (const i of inputs) cssInputs.add(i);
        return {
          contents: `import { injectStyle } from ${JSON.stringify(INJECT_STYLE)};\ninjectStyle(${JSON.stringify(css)});\n`,
          loader: "js",
          resolveDir: dirname(args.path),
          watchFiles: inputs,
        };
      });
    },
  };
}

/** Type-checks the browser side (tsconfig.embed.json: lib DOM, noEmit). Throws with tsc's output on errors. */
export function typecheckEmbed() {
  const tsc = require.resolve("typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", TSCONFIG, "--noEmit"], { cwd: ROOT_DIR, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tsc -p ${relative(ROOT_DIR, TSCONFIG)} failed:\n${(r.stdout + r.stderr).trim()}`);
}

/**
 * Builds dist/embed.js (and embed.meta.json), written through a temp file and a rename.
 * @returns {{ path: string, bytes: number, seconds: number, views: string | null }}
 */
export async function buildEmbed({ minify = true, typecheck = false } = {}) {
  const t0 = performance.now();
  if (typecheck) typecheckEmbed();
  const esbuild = await import("esbuild");
  const views = existsSync(VIEWS_ENTRY) ? VIEWS_ENTRY : null;
  const cssInputs = new Set();
  const r = await esbuild.build({
    entryPoints: [EMBED_ENTRY],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    minify,
    legalComments: "none",
    write: false,
    absWorkingDir: ROOT_DIR,
    outfile: EMBED_JS,
    metafile: true,
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"production"', global: "globalThis" },
    loader: { ".svg": "text" },
    plugins: [embedPlugin(esbuild, minify, cssInputs, views ?? NO_VIEWS)],
  });
  const js = r.outputFiles.find((f) => f.path === EMBED_JS);
  if (!js) throw new Error("esbuild wrote no embed.js");
  // A published page inlines this inside <script>...</script>: the text must not close the element early.
  const text = js.text.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
  const inputs = new Set([...Object.keys(r.metafile.inputs).filter((p) => !p.includes(":")).map((p) => resolve(ROOT_DIR, p)), ...cssInputs, SELF, TSCONFIG]);
  mkdirSync(dirname(EMBED_JS), { recursive: true });
  const tmp = `${EMBED_JS}.tmp-${process.pid}`;
  const tmpMeta = `${EMBED_META}.tmp-${process.pid}`;
  try {
    writeFileSync(tmpMeta, JSON.stringify({ views: views && relative(ROOT_DIR, views), inputs: [...inputs].map((p) => relative(ROOT_DIR, p)).sort() }, null, 1) + "\n");
    writeFileSync(tmp, text);
    renameSync(tmpMeta, EMBED_META);
    renameSync(tmp, EMBED_JS);
  } catch (err) {
    rmSync(tmp, { force: true });
    rmSync(tmpMeta, { force: true });
    throw err;
  }
  return { path: EMBED_JS, bytes: Buffer.byteLength(text), seconds: (performance.now() - t0) / 1000, views: views && relative(ROOT_DIR, views), packages: packageSizes(r.metafile) };
}

/** Bytes each package (or widgets/src) contributes to the bundle, largest first. */
function packageSizes(metafile) {
  const sizes = new Map();
  for (const out of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = m ? m[1] : input.includes("ipywidgets7-stub") ? "(ipywidgets 7 stub)" : input.split("/").slice(0, 3).join("/");
      sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/**
 * Why dist/embed.js must be rebuilt ("missing", "<file> changed", "views appeared", ...), or null when it is up
 * to date: every input esbuild read is older than it, and the views choice still holds.
 */
export function isStale() {
  if (!existsSync(EMBED_JS)) return "dist/embed.js is missing";
  let meta;
  try {
    meta = JSON.parse(readFileSync(EMBED_META, "utf8"));
  } catch {
    return "dist/embed.meta.json is missing or unreadable";
  }
  const viewsNow = existsSync(VIEWS_ENTRY) ? relative(ROOT_DIR, VIEWS_ENTRY) : null;
  if ((meta.views ?? null) !== viewsNow) return viewsNow ? `${viewsNow} appeared` : "widgets/src/views/index.ts disappeared";
  return changedInput(EMBED_JS, [...meta.inputs, relative(ROOT_DIR, SELF)]);
}

/** The first input (repository-relative) that is gone or newer than `built`, as a reason; null when none. */
export function changedInput(built, inputs) {
  const builtAt = statSync(built).mtimeMs;
  for (const rel of inputs) {
    let m;
    try {
      m = statSync(resolve(ROOT_DIR, rel)).mtimeMs;
    } catch {
      return `${rel} is gone`;
    }
    if (m > builtAt) return `${rel} changed`;
  }
  return null;
}

async function cli(argv) {
  const flags = new Set(argv);
  for (const f of flags) {
    if (!["--typecheck", "--if-stale", "--no-minify", "--quiet", "--analyze"].includes(f)) {
      process.stderr.write(`build-embed: unknown option ${f}\nusage: node widgets/scripts/build-embed.mjs [--typecheck] [--if-stale] [--no-minify] [--quiet] [--analyze]\n`);
      return 2;
    }
  }
  const quiet = flags.has("--quiet");
  if (flags.has("--if-stale")) {
    const why = isStale();
    if (!why) {
      if (flags.has("--typecheck")) typecheckEmbed();
      if (!quiet) process.stdout.write(`${relative(process.cwd(), EMBED_JS)} is up to date\n`);
      return 0;
    }
    if (!quiet) process.stdout.write(`rebuilding: ${why}\n`);
  }
  const r = await buildEmbed({ minify: !flags.has("--no-minify"), typecheck: flags.has("--typecheck") });
  if (!quiet) {
    process.stdout.write(
      `${relative(process.cwd(), r.path)}: ${(r.bytes / 1e6).toFixed(2)} MB in ${r.seconds.toFixed(1)} s` +
        `${flags.has("--typecheck") ? " (type-checked)" : ""}; views: ${r.views ?? "none yet (src/embed/no-views.ts)"}\n`,
    );
  }
  if (flags.has("--analyze")) {
    for (const p of r.packages.slice(0, 30)) process.stdout.write(`${(p.bytes / 1e3).toFixed(0).padStart(8)} kB  ${p.name}\n`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  cli(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`build-embed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
