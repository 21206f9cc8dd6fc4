// The reproducible supplement (docs/supplement.md): every numbered notebook executed headless, in order, on the
// embedded toy model, published as offline HTML pages with live widgets from their saved state, an index page and
// a run manifest.
//
//   const r = await buildSupplement({ out: "out/supplement", events: { onNotebookDone: (i, n, e) => ... } });
//   r.indexUrl   // file:///.../out/supplement/index.html
//
// Everything is checked before anything runs: the notebooks (they exist and are notebooks), the output folder (an
// existing one is replaced only with `overwrite`, and only when it holds an earlier supplement), Jupyter (python3
// lists its kernelspecs) and the widget embed bundle (built first when stale). The supplement is then built in a
// staging folder next to the output folder and moved into place at the end, so an interrupted or crashed build
// leaves the previous supplement as it was. A failing notebook does not stop the run: its page shows the error,
// the index and the manifest mark it failed, and `ok` is false.
//
// Layout of the output folder:
//   index.html                 title, one entry per notebook (its first heading, run time, pass/fail), the manifest
//   NN-name.html               one self-contained page per notebook (no network; widgets and Plotly from the page)
//   notebooks/NN-name.ipynb    the executed notebooks (outputs, saved widget state; signed, so Jupyter trusts them)
//   manifest.json              versions, seeds, input hashes, timings (manifest.ts)
//   inpage/                    the toy model, its SAEs and onnxruntime-web, for the widgets that run in the page
//   logs/kernel.log            the kernels' own log lines
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ArgumentError, NotFoundError, SafesailError } from "../../errors.ts";
import { writeFileAtomic, writeJsonAtomic } from "../../util/atomic.ts";
import { loadEmbedJs } from "../../../widgets/src/publish/embed.ts";
import { publishNotebooks } from "../../../widgets/src/publish/index.ts";
import { writeInPage, type InPageFiles, type InPageSource } from "../../../widgets/src/publish/inpage.ts";
import { readNotebook, widgetState } from "../../../widgets/src/publish/notebook.ts";
import { DEFAULT_MODEL_DIR } from "../../model/default.ts";
import { escapeHtml, firstHeading, pageFrame } from "../../../widgets/src/publish/page.ts";
import { findKernelSpecs, runNotebooks, type NotebookResult } from "../notebooks.ts";
import { CLAIMS_NOTEBOOK, RESULTS_FILE, resultsFromNotebook } from "../../claims/results.ts";
import {
  discoverSeeds,
  environmentInfo,
  fileSha256,
  gitInfo,
  hashTree,
  INPUT_FOLDERS,
  MANIFEST_KIND,
  MANIFEST_VERSION,
  SEED_POLICY,
  type InputTree,
  type Manifest,
  type NotebookEntry,
} from "./manifest.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
export const DEFAULT_SUPPLEMENT_DIR = "out/supplement";
export const DEFAULT_SUPPLEMENT_TITLE = "safesail · the reproducible supplement";
/** Notebooks numbered 99 are appendices about the tooling (notebooks/README.md), not part of the supplement. */
export const APPENDIX_NUMBER = 99;
/** The claims table in a supplement (written from its own run of the claims notebook). */
export const RESULTS_SUPPLEMENT_FILE = "results.md";

export interface SupplementEvents {
  /** Everything checked; the notebooks are about to run. */
  onStart?(info: { notebooks: string[]; out: string }): void;
  onNotebookStart?(index: number, total: number, file: string): void;
  onNotebookDone?(index: number, total: number, entry: NotebookEntry): void;
  onPublished?(info: { pages: number; bytes: number }): void;
  /** Build messages and warnings (the CLI prints them on stderr). */
  log?(message: string): void;
}

export interface SupplementOptions {
  /** Output folder (default out/supplement, relative to the current directory). */
  out?: string;
  /** Notebooks to run, in this order (paths, names or number prefixes: see resolveNotebooks); default: defaultNotebooks(). */
  notebooks?: string[];
  /** Replace an existing supplement in `out`. */
  overwrite?: boolean;
  title?: string;
  /** Seconds each cell may run (default 600). */
  timeout?: number;
  kernel?: string;
  /** The command line, for the manifest. */
  command?: string;
  events?: SupplementEvents;
  /**
   * The model the pages run in the reader's browser (widgets/src/publish/inpage.ts): default the embedded toy model
   * with its shipped SAEs; null: none (every widget is a saved view). Its pack is written once, into `inpage/`,
   * and only when a page has a widget that names it.
   */
  inPage?: InPageSource | null;
}

export interface SupplementResult {
  out: string;
  index: string;
  indexUrl: string;
  manifestPath: string;
  manifest: Manifest;
  ok: boolean;
}

/** The supplement's notebooks: notebooks/NN-*.ipynb of the repository, in number order, appendices (99) left out. */
export function defaultNotebooks(root = REPO_ROOT): string[] {
  const dir = join(root, "notebooks");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^\d\d-.*\.ipynb$/.test(f) && Number(f.slice(0, 2)) < APPENDIX_NUMBER)
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Notebook arguments as files: an existing path; else a notebook of the repository's notebooks/ folder named by
 * its file name, its name without .ipynb, or its number prefix ("05", "05-starmap").
 */
export function resolveNotebooks(items: readonly string[], root = REPO_ROOT, cwd = process.cwd()): string[] {
  const dir = join(root, "notebooks");
  const available = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort() : [];
  return items.map((item) => {
    const direct = resolve(cwd, item);
    if (existsSync(direct) && statSync(direct).isFile()) return direct;
    const matches = available.filter((f) => f === item || f === `${item}.ipynb` || f.startsWith(`${item}-`));
    if (matches.length === 1) return join(dir, matches[0]!);
    if (matches.length > 1) throw new ArgumentError(`--notebooks: "${item}" matches ${matches.join(", ")}; give the full name`);
    throw new NotFoundError(`--notebooks: no notebook "${item}" (not a file, nor one of ${available.join(", ") || "no notebooks"} in ${dir})`, { file: item });
  });
}

/** Reads a supplement folder's manifest, or null when the folder holds none (or another kind of file). */
export function readSupplementManifest(dir: string): Manifest | null {
  const file = join(dir, "manifest.json");
  if (!existsSync(file)) return null;
  try {
    const m = JSON.parse(readFileSync(file, "utf8")) as Manifest;
    return m.kind === MANIFEST_KIND ? m : null;
  } catch {
    return null;
  }
}

/**
 * Whether `out` may be written: absent, an empty folder, or (with `overwrite`) a folder holding an earlier
 * supplement. Anything else is refused, naming it: --overwrite never replaces a folder that is not a supplement.
 */
export function checkOutFolder(out: string, overwrite: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new SafesailError(`--out ${out}: exists and is not a folder`, { file: out });
  if (readdirSync(out).length === 0) return;
  if (!overwrite) throw new SafesailError(`--out ${out}: exists (use --overwrite to replace the supplement in it)`, { file: out });
  if (!readSupplementManifest(out)) {
    throw new SafesailError(`--out ${out}: not a supplement folder (no safesail manifest.json in it); --overwrite replaces only an earlier supplement: remove the folder or choose another --out`, { file: out });
  }
}

const rel = (root: string, p: string) => {
  const r = relative(root, p);
  return r.startsWith("..") || isAbsolute(r) ? p : r.split(sep).join("/");
};

export function formatSeconds(s: number): string {
  if (s < 59.95) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
}

/** The index page: title, how it was made, the manifest, one entry per notebook with its run time and result. */
export function renderSupplementIndex(manifest: Manifest): string {
  const passed = manifest.notebooks.filter((n) => n.ok).length;
  const failed = manifest.notebooks.length - passed;
  const git = manifest.git ? `commit <code>${escapeHtml(manifest.git.commit.slice(0, 12))}</code>${manifest.git.dirty ? " (with local changes)" : ""}, ` : "";
  const items = manifest.notebooks.map((n) => {
    const name = basename(n.file);
    const title = n.page ? `<a href="${escapeHtml(encodeURI(n.page))}">${escapeHtml(n.title)}</a>` : `<span class="ss-title">${escapeHtml(n.title)}</span>`;
    const status = n.ok ? `<span class="ss-status ss-passed">passed</span>` : `<span class="ss-status ss-failed">failed</span>`;
    const nb = n.executed ? ` · <a class="ss-ipynb" href="${escapeHtml(encodeURI(n.executed))}">executed .ipynb</a>` : "";
    const live = n.in_page ? ` · <span class="ss-live">${n.in_page} widget${n.in_page === 1 ? " runs" : "s run"} the model in your browser</span>` : "";
    const err = n.error ? `<div class="ss-error-line">${n.error.cell !== null ? `cell ${n.error.cell}: ` : ""}${escapeHtml(n.error.ename)}${n.error.evalue ? `: ${escapeHtml(n.error.evalue)}` : ""}</div>` : "";
    const pubErr = n.publish_error ? `<div class="ss-error-line">not published: ${escapeHtml(n.publish_error)}</div>` : "";
    return `<li class="${n.ok ? "ss-ok" : "ss-bad"}">${title}<div class="ss-row"><span class="ss-file">${escapeHtml(name)}</span> · ${status} · <span class="ss-time">${formatSeconds(n.seconds)}</span>${nb}${live}</div>${err}${pubErr}</li>`;
  });
  const env = manifest.environment;
  const summary = failed > 0
    ? `<p class="ss-summary ss-failed">${failed} of ${manifest.notebooks.length} notebooks failed: their pages show the error.</p>`
    : `<p class="ss-summary ss-passed">${manifest.notebooks.length === 1 ? "The notebook" : `All ${manifest.notebooks.length} notebooks`} ran without an error.</p>`;
  const body = [
    `<main class="ss-page ss-index ss-supplement">`,
    `<h1>${escapeHtml(manifest.title)}</h1>`,
    `<p class="ss-meta">Every notebook executed headless, in order, on the embedded toy model (<code>models/toy-safety-qwen2</code>) with fixed seeds; ` +
      `built ${escapeHtml(manifest.created.replace("T", " ").replace(/\.\d+Z$/, " UTC"))}, safesail ${escapeHtml(env.safesail)}, ${git}node ${escapeHtml(env.node)}, ` +
      `onnxruntime ${escapeHtml(env.onnxruntime.version ?? "?")} (${escapeHtml(env.onnxruntime.execution_provider)}), ${env.cpu.count} CPUs; ` +
      `${formatSeconds(manifest.timings.total_s)} in all. Pages work offline: widgets are restored from their saved state, figures drawn in the page` +
      (manifest.notebooks.some((n) => n.in_page) ? "; token views and steering panels run the toy model and its SAEs in your browser (onnxruntime-web, <code>inpage/</code>): type a prompt, move a slider, press Generate.</p>" : ".</p>"),
    `<p class="ss-manifest"><a href="manifest.json">manifest.json</a>: package versions, seeds, sha256 of the model, SAE and data files, per-notebook timings.</p>`,
    ...(manifest.results
      ? [`<p class="ss-manifest ss-results"><a href="${escapeHtml(encodeURI(manifest.results.file))}">${escapeHtml(manifest.results.file)}</a>: the paper's claims measured on the toy model, one row per claim (the last cell of ${escapeHtml(basename(manifest.results.notebook))})${manifest.results.matches_committed ? "" : "; <span class=\"ss-failed\">it differs from the repository's docs/results.md</span>"}.</p>`]
      : []),
    summary,
    `<ul>`,
    ...items,
    `</ul>`,
    `<p class="ss-meta">Rebuild with <code>npm run demo</code> (or <code>npx safesail supplement --overwrite</code>); check that a rebuild gives the same numbers with <code>npx safesail supplement compare DIR_A DIR_B</code> (docs/supplement.md).</p>`,
    `</main>`,
  ].join("\n");
  const css = `<style>
.ss-supplement .ss-row { color: var(--ss-muted); font-size: 0.85rem; margin-top: 0.2rem; }
.ss-supplement .ss-row .ss-file { margin-left: 0; }
.ss-supplement .ss-status { font-weight: 600; }
.ss-supplement .ss-passed { color: #1a7f37; }
.ss-supplement .ss-failed { color: var(--ss-err-fg); }
.ss-supplement li.ss-bad { border-color: var(--ss-err-fg); background: var(--ss-err-bg); }
.ss-supplement .ss-error-line { font: 0.82rem var(--ss-mono); color: var(--ss-err-fg); margin-top: 0.3rem; white-space: pre-wrap; }
.ss-supplement .ss-ipynb { font-weight: 400; font-size: 0.85rem; }
.ss-supplement .ss-summary { font-weight: 600; }
</style>`;
  return pageFrame(manifest.title, body, { scripts: false, head: css });
}

const failedEntry = (message: string): Pick<NotebookEntry, "ok" | "error"> => ({ ok: false, error: { cell: null, ename: "NotRun", evalue: message } });

/** Builds the supplement (see the file comment). */
export async function buildSupplement(opts: SupplementOptions = {}): Promise<SupplementResult> {
  const t0 = performance.now();
  const events = opts.events ?? {};
  const log = events.log ?? (() => {});
  const out = resolve(opts.out ?? DEFAULT_SUPPLEMENT_DIR);
  const title = opts.title ?? DEFAULT_SUPPLEMENT_TITLE;

  // ---- checks, before anything runs ----
  const files = opts.notebooks && opts.notebooks.length > 0 ? resolveNotebooks(opts.notebooks) : defaultNotebooks();
  if (files.length === 0) throw new NotFoundError(`no notebooks to run (none matches notebooks/NN-*.ipynb in ${REPO_ROOT})`);
  const names = new Map<string, string>();
  for (const f of files) {
    const name = basename(f);
    if (names.has(name)) throw new ArgumentError(`${f} and ${names.get(name)} have the same name ${name}; the supplement keeps one file per name`);
    if (name.toLowerCase() === "index.ipynb") throw new ArgumentError(`${f}: its page would be index.html, the supplement's index; rename the notebook`);
    names.set(name, f);
  }
  const sources: { file: string; nb: Awaited<ReturnType<typeof readNotebook>>; title: string; seeds: number[]; sha256: string }[] = [];
  for (const f of files) {
    const nb = await readNotebook(f); // a FormatError names the file and field
    sources.push({ file: f, nb, title: firstHeading(nb) ?? basename(f), seeds: discoverSeeds(nb.cells), sha256: await fileSha256(f) });
  }
  checkOutFolder(out, opts.overwrite === true);
  await findKernelSpecs(); // python3 and jupyter_client are there (the error says what is missing)
  const embedJs = await loadEmbedJs(log);
  const staging = join(dirname(out), `.${basename(out)}.building-${process.pid}`);
  try {
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(join(staging, "notebooks"), { recursive: true });
    mkdirSync(join(staging, "logs"), { recursive: true });
  } catch (err) {
    throw new SafesailError(`--out ${out}: cannot create ${staging} next to it (${(err as Error).message})`, { file: staging, cause: err });
  }
  const removeStaging = () => rmSync(staging, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    removeStaging();
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    const [environment, git] = await Promise.all([environmentInfo(REPO_ROOT), gitInfo(REPO_ROOT)]);
    const inputs: InputTree[] = [];
    for (const folder of INPUT_FOLDERS) inputs.push(await hashTree(REPO_ROOT, folder));
    // The files next to the notebooks (not in subfolders), less the notebooks themselves (hashed per notebook):
    // side files they read, such as notebook 03's LLM replay cache.
    for (const folder of [...new Set(files.map((f) => rel(REPO_ROOT, dirname(f))))]) {
      const [root, sub] = isAbsolute(folder) ? ["/", folder.slice(1)] : [REPO_ROOT, folder];
      inputs.push(await hashTree(root, sub, { recursive: false, skip: (p) => p.endsWith(".ipynb") }));
    }
    const tPrepared = performance.now();

    // ---- run ----
    events.onStart?.({ notebooks: files, out });
    const results: (NotebookResult | undefined)[] = new Array(files.length);
    let runError: string | null = null;
    const savedLog = process.env.SAFESAIL_KERNEL_LOG;
    process.env.SAFESAIL_KERNEL_LOG = join(staging, "logs", "kernel.log");
    const entryFor = (i: number): NotebookEntry => {
      const s = sources[i]!;
      const r = results[i];
      const executed = r?.written ? `notebooks/${basename(r.out)}` : null;
      return {
        file: rel(REPO_ROOT, s.file),
        source_sha256: s.sha256,
        title: s.title,
        ...(r ? { ok: r.ok, error: r.error } : failedEntry(runError ?? "not run")),
        seconds: r?.seconds ?? 0,
        cells: r?.cells ?? s.nb.cells.length,
        executed,
        page: null,
        widgets: r?.widgets ?? 0,
        signed: r?.signed ?? false,
        seeds: s.seeds,
      };
    };
    const entries: NotebookEntry[] = [];
    try {
      events.onNotebookStart?.(0, files.length, files[0]!);
      await runNotebooks(files, {
        ...(opts.kernel ? { kernel: opts.kernel } : {}),
        timeout: opts.timeout ?? 600,
        outDir: join(staging, "notebooks"),
        onResult: (r) => {
          const i = results.findIndex((x, j) => x === undefined && resolve(files[j]!) === resolve(r.path));
          if (i < 0) return;
          results[i] = r;
          entries[i] = entryFor(i);
          events.onNotebookDone?.(i, files.length, entries[i]!);
          if (i + 1 < files.length) events.onNotebookStart?.(i + 1, files.length, files[i + 1]!);
        },
      });
    } catch (err) {
      runError = err instanceof Error ? err.message : String(err);
      log(`error: ${runError}`);
    } finally {
      if (savedLog === undefined) delete process.env.SAFESAIL_KERNEL_LOG;
      else process.env.SAFESAIL_KERNEL_LOG = savedLog;
    }
    for (let i = 0; i < files.length; i++) if (!entries[i]) entries[i] = entryFor(i);
    const tRan = performance.now();

    // ---- publish: one page per executed notebook, then the index and the manifest ----
    let bytes = 0;
    let pages = 0;
    // The in-page model, written once, when some page has a widget that runs on it.
    const inPageSource = opts.inPage === undefined ? { model: DEFAULT_MODEL_DIR } : opts.inPage;
    let inPage: InPageFiles | null = null;
    if (inPageSource) {
      const name = basename(resolve(inPageSource.model));
      const wanted = entries.some((e) => {
        if (!e.executed) return false;
        try {
          const state = widgetState(JSON.parse(readFileSync(join(staging, e.executed), "utf8")), e.executed, () => {});
          return Object.values(state?.state ?? {}).some((m) => (m.state as { in_page?: { model?: unknown } }).in_page?.model === name);
        } catch {
          return false;
        }
      });
      if (wanted) {
        try {
          inPage = await writeInPage(staging, inPageSource, log);
          const total = Object.values(inPage.bytes).reduce((a, b) => a + b, 0);
          log(`in-page model ${inPage.name} (${inPage.saes.length} SAEs): ${(total / 1e6).toFixed(1)} MB in ${join(basename(out), "inpage")}/`);
          bytes += total;
        } catch (err) {
          log(`warning: the in-page model could not be written, so the pages show saved views only: ${(err as Error).message}`);
        }
      }
    }
    for (const e of entries) {
      if (!e.executed) continue;
      try {
        const r = await publishNotebooks([join(staging, e.executed)], { out: staging, overwrite: true, title, embedJs, log: () => {}, ...(inPage ? { inPage } : {}) });
        for (const w of r.warnings) log(`warning: ${w}`);
        const page = r.pages[0]!;
        e.page = basename(page.path);
        e.in_page = page.inPage;
        bytes += page.bytes;
        pages++;
      } catch (err) {
        e.ok = false;
        e.publish_error = (err as Error).message;
        log(`error: publishing ${e.executed}: ${e.publish_error}`);
      }
    }
    events.onPublished?.({ pages, bytes });
    // The claims table travels with the supplement, from this run's notebook (not copied from docs/).
    let claimsTable: Manifest["results"] = null;
    const claims = entries.find((e) => e.ok && e.executed && basename(e.file) === basename(CLAIMS_NOTEBOOK));
    if (claims) {
      try {
        const table = resultsFromNotebook(JSON.parse(readFileSync(join(staging, claims.executed!), "utf8")), claims.executed!);
        await writeFileAtomic(join(staging, RESULTS_SUPPLEMENT_FILE), table);
        const committed = join(REPO_ROOT, RESULTS_FILE);
        const matches = existsSync(committed) && readFileSync(committed, "utf8") === table;
        if (!matches) log(`warning: ${RESULTS_SUPPLEMENT_FILE} differs from the committed ${RESULTS_FILE}; \`npx safesail claims build\` rebuilds it`);
        claimsTable = { file: RESULTS_SUPPLEMENT_FILE, notebook: claims.executed!, matches_committed: matches };
      } catch (err) {
        log(`warning: no ${RESULTS_SUPPLEMENT_FILE}: ${(err as Error).message}`);
      }
    }
    const tPublished = performance.now();
    const manifest: Manifest = {
      kind: MANIFEST_KIND,
      version: MANIFEST_VERSION,
      title,
      created: new Date().toISOString(),
      command: opts.command ?? "buildSupplement",
      ok: entries.every((e) => e.ok) && runError === null,
      git,
      environment,
      seeds: { policy: SEED_POLICY },
      inputs,
      notebooks: entries,
      results: claimsTable,
      timings: {
        prepare_s: round((tPrepared - t0) / 1000),
        notebooks_s: round((tRan - tPrepared) / 1000),
        publish_s: round((tPublished - tRan) / 1000),
        total_s: 0,
      },
    };
    manifest.timings.total_s = round((performance.now() - t0) / 1000);
    await writeFileAtomic(join(staging, "index.html"), renderSupplementIndex(manifest));
    await writeJsonAtomic(join(staging, "manifest.json"), manifest);

    // ---- move into place: the old supplement (checked above) out, the new one in ----
    mkdirSync(dirname(out), { recursive: true });
    if (existsSync(out)) {
      const old = join(dirname(out), `.${basename(out)}.old-${process.pid}`);
      rmSync(old, { recursive: true, force: true });
      renameSync(out, old);
      renameSync(staging, out);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(staging, out);
    }
    const index = join(out, "index.html");
    return { out, index, indexUrl: pathToFileURL(index).href, manifestPath: join(out, "manifest.json"), manifest, ok: manifest.ok };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    removeStaging();
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
