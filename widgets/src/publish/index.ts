// `safesail publish`: executed notebooks as self-contained offline HTML pages plus an index (docs/publish.md).
//
//   const { pages, index, warnings } = await publishNotebooks(["a.ipynb", "b.ipynb"], { out: "site" });
//
// Every notebook is read and checked, and every target checked for overwriting, before anything is written;
// pages then go to DIR/<name>.html and the index to DIR/index.html, each through a temp file and a rename.
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { ArgumentError, SafesailError } from "../../../src/errors.ts";
import { writeFileAtomic } from "../../../src/util/atomic.ts";
import { loadEmbedJs } from "./embed.ts";
import { IN_PAGE_DIR, writeInPage, type InPageFiles, type InPageSource } from "./inpage.ts";
import { PLOTLY_MIME, readNotebook, WIDGET_VIEW_MIME, widgetState, type Notebook, type WidgetState } from "./notebook.ts";
import { escapeHtml, firstHeading, pageFrame, renderNotebookPage } from "./page.ts";
import { checkTrust, type TrustOptions } from "./trust.ts";

export { renderNotebookPage, firstHeading, pickMime, renderMarkdown, contentSecurityPolicy, escapeHtml, stripAnsi } from "./page.ts";
export { readNotebook, validateNotebook, widgetState } from "./notebook.ts";
export { checkTrust } from "./trust.ts";
export { loadEmbedJs } from "./embed.ts";
export { writeInPage, buildInPagePack, IN_PAGE_DIR, type InPageSource, type InPageFiles } from "./inpage.ts";

export interface PublishOptions {
  /** Output folder (created if missing). */
  out: string;
  /** Replace existing files (default: refuse, naming the first one). */
  overwrite?: boolean;
  /** Title of the index page (default "Notebooks"); each page links back to it under this name. */
  title?: string;
  /** The embed bundle's text; default: widgets/dist/embed.js, built first when missing or stale. */
  embedJs?: string;
  /** Progress and build messages (the CLI prints them on stderr). */
  log?: (message: string) => void;
  /** Where the signature check runs (python, environment); see trust.ts. */
  trust?: TrustOptions;
  /**
   * A model to run in the pages (inpage.ts): its pack is written to `<out>/inpage/` (or, given as InPageFiles, was
   * written there already), and the pages with widgets that name it (`in_page.model`, every SAE in the pack) load it.
   */
  inPage?: InPageSource | InPageFiles;
}

export interface PublishedPage {
  notebook: string;
  path: string;
  title: string;
  trusted: boolean;
  bytes: number;
  /** Whether the page carries the embed bundle (it has widget views or Plotly figures). */
  embed: boolean;
  /** Widgets of the page that run on the in-page model (0 without one). */
  inPage: number;
}

export interface PublishResult {
  pages: PublishedPage[];
  index: string;
  warnings: string[];
}

/** Whether a notebook has outputs that need the embed bundle. */
function needsEmbed(nb: Notebook): boolean {
  return nb.cells.some((c) => c.cell_type === "code" && c.outputs.some((o) => (o.output_type === "display_data" || o.output_type === "execute_result") && (WIDGET_VIEW_MIME in o.data || PLOTLY_MIME in o.data)));
}

/** The widgets of a saved state that can run on an in-page pack: `in_page` names its model and only SAEs it holds. */
export function inPageWidgets(state: WidgetState | null, pack: { name: string; saes: string[] }): string[] {
  if (!state) return [];
  const hooks = new Set(pack.saes);
  return Object.entries(state.state)
    .filter(([, m]) => {
      const spec = (m.state as { in_page?: { model?: unknown; saes?: unknown } }).in_page;
      return spec?.model === pack.name && Array.isArray(spec.saes) && spec.saes.every((h) => hooks.has(h as string));
    })
    .map(([id]) => id);
}

/** The index page: the title and one link per page, titled by the notebook's first heading. */
export function renderIndexPage(title: string, pages: { href: string; title: string; notebook: string }[]): string {
  const items = pages
    .map((p) => `<li><a href="${escapeHtml(encodeURI(p.href))}">${escapeHtml(p.title)}</a><span class="ss-file">${escapeHtml(p.notebook)}</span></li>`)
    .join("\n");
  const body = `<main class="ss-page ss-index">\n<h1>${escapeHtml(title)}</h1>\n<ul>\n${items}\n</ul>\n</main>`;
  return pageFrame(title, body, { scripts: false });
}

/** Publishes `paths` into `opts.out` (see the file comment). */
export async function publishNotebooks(paths: string[], opts: PublishOptions): Promise<PublishResult> {
  if (paths.length === 0) throw new ArgumentError("no notebooks given (usage: safesail publish NOTEBOOK... --out DIR)");
  if (!opts.out) throw new ArgumentError("--out DIR is required");
  const log = opts.log ?? (() => {});
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    log(`warning: ${m}`);
  };
  const out = resolve(opts.out);
  const indexTitle = opts.title ?? "Notebooks";

  // Targets: one page per notebook, named after it; no two on one name, none on the index.
  const targets = new Map<string, string>();
  const jobs = paths.map((file) => {
    const name = basename(file).replace(/\.ipynb$/i, "");
    const html = `${name}.html`;
    if (html.toLowerCase() === "index.html") throw new ArgumentError(`${file}: its page would be ${join(opts.out, "index.html")}, the index page; rename the notebook`);
    const clash = targets.get(html);
    if (clash !== undefined) throw new ArgumentError(`${file} and ${clash} would both be published as ${join(opts.out, html)}; rename one of them`);
    targets.set(html, file);
    return { file, html, path: join(out, html) };
  });

  // Read and check everything before writing anything.
  const notebooks: Notebook[] = [];
  for (const job of jobs) notebooks.push(await readNotebook(job.file));
  const indexPath = join(out, "index.html");
  if (!opts.overwrite) {
    for (const p of [...jobs.map((j) => j.path), indexPath]) {
      if (existsSync(p)) throw new SafesailError(`${p} exists (use --overwrite to replace it)`, { file: p });
    }
  }

  const embedJs = notebooks.some(needsEmbed) ? (opts.embedJs ?? (await loadEmbedJs(log))) : null;
  let inPage: InPageFiles | null = null;
  if (opts.inPage) {
    if ("scripts" in opts.inPage) inPage = opts.inPage;
    else {
      log(`writing the in-page model ${opts.inPage.model} -> ${join(out, IN_PAGE_DIR)}`);
      inPage = await writeInPage(out, opts.inPage, log);
    }
  }
  const pages: PublishedPage[] = [];
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i]!;
    const nb = notebooks[i]!;
    const trust = await checkTrust(job.file, opts.trust);
    if (trust.warning) warn(trust.warning);
    const title = firstHeading(nb) ?? basename(job.file);
    const state = widgetState(nb, job.file, warn);
    const runnable = inPage ? inPageWidgets(state, inPage).length : 0;
    const html = renderNotebookPage(nb, {
      inPageScripts: runnable > 0 ? inPage!.scripts : [],
      trusted: trust.trusted,
      embedJs,
      title,
      widgetState: state,
      baseDir: dirname(resolve(job.file)),
      back: { href: "index.html", text: indexTitle },
      file: job.file,
      warn,
    });
    await writeFileAtomic(job.path, html);
    const bytes = Buffer.byteLength(html);
    pages.push({ notebook: job.file, path: job.path, title, trusted: trust.trusted, bytes, embed: html.includes(`id="safesail-page"`), inPage: runnable });
    log(`${job.file} -> ${job.path} (${(bytes / 1e6).toFixed(2)} MB, ${trust.trusted ? "trusted" : "untrusted"})`);
  }
  await writeFileAtomic(indexPath, renderIndexPage(indexTitle, pages.map((p) => ({ href: basename(p.path), title: p.title, notebook: basename(p.notebook) }))));
  log(`index -> ${indexPath}`);
  return { pages, index: indexPath, warnings };
}
