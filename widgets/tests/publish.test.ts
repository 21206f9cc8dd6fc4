// `safesail publish` on real files: the fixture notebook (widgets/src/publish/fixture.ts: every output kind,
// hostile text, two Plotly outputs that each inline plotly.js, widgets with saved state), signed and unsigned,
// and notebooks/99-kernel-widgets.ipynb executed by the real kernel. Checks the page text; the browser test
// (publish-browser.test.ts) checks what a reader sees.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureNotebook, HOSTILE, IDS } from "../src/publish/fixture.ts";
import { loadEmbedJs, publishNotebooks, renderNotebookPage, validateNotebook, type PublishResult } from "../src/publish/index.ts";
import { checkTrust } from "../src/publish/trust.ts";
import { dataImagesOnly, sanitizeHtml, sanitizeStyle } from "../src/sanitize.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "safesail.js");
const PYTHON = "/usr/bin/python3";
const PLOTLY_MARKER = "No DOM element with id"; // a string literal that occurs once in plotly.js

const tmp = mkdtempSync(join(tmpdir(), "safesail-publish-test-"));
/** Jupyter's data dir for this test: its own notebook secret and signature database. */
const dataDir = join(tmp, "jupyter-data");
const env = { ...process.env, JUPYTER_DATA_DIR: dataDir };

/** Signs a notebook file as `jupyter trust` does, with this test's data dir. */
function sign(file: string): void {
  const code = "import sys, nbformat\nfrom nbformat.sign import NotebookNotary\nnb = nbformat.read(sys.argv[1], as_version=nbformat.NO_CONVERT)\nNotebookNotary().sign(nb)";
  const r = spawnSync(PYTHON, ["-c", code, file], { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`signing ${file} failed: ${r.stderr}`);
}

/** The page with its <script> elements' contents dropped (their tags kept): the HTML a browser parses as markup. */
function markup(html: string): string {
  return html.replace(/(<script\b[^>]*>)[\s\S]*?<\/script>/gi, "$1</script>");
}

/** The first match of `re` in `text` (null when none): failures quote the match, not a 6 MB page. */
function found(text: string, re: RegExp): string | null {
  const m = re.exec(text);
  return m ? text.slice(Math.max(0, m.index - 80), m.index + m[0].length + 80) : null;
}

/** Whether `text` contains `part`, as a short value for expect (true or the first 200 characters of `part`). */
function has(text: string, part: string): true | string {
  return text.includes(part) || `missing: ${part.slice(0, 200)}`;
}

/** The page's tags (`<name ...>`, text is escaped so holds no "<"), script contents left out. */
function tags(html: string): string[] {
  return markup(html).match(/<[a-zA-Z][^>]*>/g) ?? [];
}

/** Every src/href/action attribute value of the page's tags. */
function urls(html: string): string[] {
  return tags(html).flatMap((t) => [...t.matchAll(/\s(?:src|href|action|poster|srcset)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/gi)].map((m) => m[2] ?? m[3] ?? m[4] ?? ""));
}

/** Tags with an event handler attribute (onerror=, onload=, ...). */
function handlers(html: string): string[] {
  return tags(html).filter((t) => /\son[a-z]+\s*=/i.test(t));
}

/**
 * No reference that could leave the page: no <script src>, <link>, <iframe>; every src/href a data: URI, an
 * anchor or a sibling page (`relative`: also other relative paths, which a trusted notebook's own HTML may hold and
 * the CSP blocks); never a scheme or a `//host` URL.
 */
function expectOffline(html: string, relative = false): void {
  const m = markup(html);
  expect(found(m, /<script[^>]*\bsrc\s*=/i)).toBeNull();
  expect(found(m, /<link\b/i)).toBeNull();
  expect(found(m, /<(iframe|object|embed|base)\b/i)).toBeNull();
  for (const u of urls(html)) {
    expect(u, `URL in the page: ${u}`).toMatch(relative ? /^(data:|#|(?![a-z][a-z0-9+.-]*:)(?!\/\/)[^\s]+$)/i : /^(data:|#|[\w.-]+\.html$)/);
  }
  expect(has(html, `http-equiv="Content-Security-Policy" content="default-src 'none'`)).toBe(true);
}

let embedJs: string;
let untrusted: PublishResult;
let trusted: PublishResult;
let pageU: string;
let pageT: string;

beforeAll(async () => {
  embedJs = await loadEmbedJs((m) => process.stderr.write(`${m}\n`));
  const nbDir = join(tmp, "notebooks");
  mkdirSync(nbDir, { recursive: true });
  writeFileSync(join(nbDir, "fixture.ipynb"), JSON.stringify(fixtureNotebook(), null, 1));
  writeFileSync(join(nbDir, "signed.ipynb"), JSON.stringify(fixtureNotebook("Signed fixture"), null, 1));
  sign(join(nbDir, "signed.ipynb"));
  untrusted = await publishNotebooks([join(nbDir, "fixture.ipynb")], { out: join(tmp, "site-u"), embedJs, trust: { env } });
  trusted = await publishNotebooks([join(nbDir, "signed.ipynb")], { out: join(tmp, "site-t"), embedJs, trust: { env } });
  pageU = readFileSync(untrusted.pages[0]!.path, "utf8");
  pageT = readFileSync(trusted.pages[0]!.path, "utf8");
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("sanitizeHtml", () => {
  it("removes scripts, handlers, frames, javascript: URLs and fetching CSS; keeps text and safe markup", () => {
    expect(sanitizeHtml(`<img src=x onerror=alert(1)>`)).toBe(`<img src="x" />`);
    expect(sanitizeHtml(`<script>alert(1)</script>ok`)).toBe("ok");
    expect(sanitizeHtml(`<a href="javascript:alert(1)">x</a>`)).not.toContain("javascript");
    expect(sanitizeHtml(`<a href="//evil.example/x">x</a>`)).not.toContain("evil");
    expect(sanitizeHtml(`<iframe src="https://e.example"></iframe><object data=x></object><embed src=x>t`)).toBe("t");
    expect(sanitizeHtml(`<svg onload=alert(1)><circle/></svg>`)).toBe("");
    expect(sanitizeHtml(`<div id="x" style="color: red; background: url(https://e.example/a.png)">d</div>`)).toBe(`<div data-jupyter-id="x" style="color:red">d</div>`);
    expect(sanitizeStyle(`background-image: image-set("a.png" 1x); width: calc(1px + 2em); color: r\\65 d; --v: url(x)`)).toBe("width: calc(1px + 2em)");
    expect(sanitizeHtml(`<b title='a"b' onclick="x()">q</b>`)).toBe(`<b title="a&quot;b">q</b>`);
    expect(sanitizeHtml(`<img src="https://e.example/a.png" alt="remote"><img src="data:image/png;base64,AA">`, { imageSrc: dataImagesOnly })).toBe(
      `<span class="safesail-image-omitted">[image: remote]</span><img src="data:image/png;base64,AA" />`,
    );
    // A policy cannot smuggle a bad scheme back in.
    expect(sanitizeHtml(`<img src="a.png">`, { imageSrc: () => "javascript:alert(1)" })).not.toContain("javascript");
  });
});

describe("safesail publish: the fixture notebook", () => {
  it("writes one page per notebook and an index, and reports trust", () => {
    expect(untrusted.pages).toHaveLength(1);
    expect(untrusted.pages[0]!.trusted).toBe(false);
    expect(trusted.pages[0]!.trusted).toBe(true);
    expect(untrusted.pages[0]!.path).toBe(join(tmp, "site-u", "fixture.html"));
    expect(untrusted.pages[0]!.embed).toBe(true);
    expect(existsSync(untrusted.index)).toBe(true);
  });

  it("makes no network reference: no external src/href, no <script src>, no <link>, a CSP that forbids fetching", () => {
    expectOffline(pageU);
    expectOffline(pageT, true); // its HTML output, trusted, keeps <img src=x onerror=...>
    expect(handlers(pageT)).toEqual([`<img src=x onerror="window.__ssHtmlImg=1">`]);
    expect(readFileSync(untrusted.index, "utf8")).not.toMatch(/https?:/);
  });

  it("inlines plotly.js exactly once although both Plotly outputs carry it in their HTML fallback", () => {
    const fixture = JSON.stringify(fixtureNotebook());
    expect(fixture.split(PLOTLY_MARKER).length - 1).toBe(2); // the input has it twice
    for (const page of [pageU, pageT]) {
      expect(page.split(PLOTLY_MARKER).length - 1).toBe(1);
      expect(page.includes("data-safesail-plotly")).toBe(false); // the kernel's fallback HTML is not used
      expect(page.match(/<script type="application\/vnd\.plotly\.v1\+json">/g)).toHaveLength(2);
    }
    // The embed bundle is in the page once.
    expect(pageU.split(embedJs.slice(1000, 1200)).length - 1).toBe(1);
  });

  it("renders Markdown (GFM) and takes the title from the first heading", () => {
    expect(has(pageU, "<table>")).toBe(true);
    expect(has(pageU, "<em>Markdown</em>")).toBe(true);
    expect(found(pageU, /<h1>Fixture: every output &amp; +input<\/h1>/)).not.toBeNull();
    expect(found(pageU, /<title>Fixture: every output &amp; +input<\/title>/)).not.toBeNull();
    expect(has(pageU, '<img src="data:image/png;base64,')).toBe(true); // the cell attachment, inlined
    expect(found(pageU, /<h2>Figures<\/h2>/)).not.toBeNull();
  });

  it("shows hostile Markdown, streams, text/plain and sources as text, never as markup", () => {
    expect(handlers(pageU)).toEqual([]);
    for (const page of [pageU, pageT]) {
      const m = markup(page);
      expect(m.includes("__ssMarkdown")).toBe(false);
      expect(m.includes("javascript:")).toBe(false);
      expect(has(page, escape(`<b>not bold</b> </pre><script>window.__ssStream=1</script>`))).toBe(true);
      expect(has(page, escape(`token ${HOSTILE.plain}`))).toBe(true);
      expect(has(page, escape(HOSTILE.source))).toBe(true);
      expect(has(page, "progress 100%")).toBe(true); // \r overwrote "progress 10%"
      expect(page.includes("progress 10%\r")).toBe(false);
      expect(has(page, `<div class="ss-output ss-stream ss-stderr"><pre class="ss-text">a warning on stderr`)).toBe(true); // ANSI stripped
      expect(has(page, `<span class="ss-ename">TypeError</span>: bad &lt;input&gt;`)).toBe(true);
      expect(page.includes("\u001b")).toBe(false);
      expect(has(page, `<code class="language-typescript">`)).toBe(true);
    }
    // Every JSON payload is script-safe: no "<" inside a JSON <script>.
    for (const m of pageU.matchAll(/<script type="application\/[^"]*json"[^>]*>([\s\S]*?)<\/script>/g)) expect(m[1]).not.toContain("<");
  });

  it("sanitises an untrusted notebook's HTML outputs and keeps a trusted one's as written", () => {
    expect(has(pageU, `<b data-jupyter-id="kept">bold html</b>`)).toBe(true);
    expect(markup(pageU).includes("__ssHtml")).toBe(false);
    expect(has(pageU, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'`)).toBe(true);
    expect(has(pageT, HOSTILE.html)).toBe(true);
    // SVG: inline when trusted, through an <img> (no scripts) when not.
    expect(has(pageT, `<div class="ss-output ss-svg"><svg`)).toBe(true);
    expect(has(pageU, `<div class="ss-output ss-svg"><img src="data:image/svg+xml;base64,`)).toBe(true);
    // Markdown output is sanitised either way.
    expect(markup(pageT).includes("__ssMdOut")).toBe(false);
  });

  it("embeds the widget state and one view script per widget output, with text fallbacks", () => {
    expect(pageU.match(/<script type="application\/vnd\.jupyter\.widget-state\+json">/g)).toHaveLength(1);
    expect(pageU.match(/<script type="application\/vnd\.jupyter\.widget-view\+json">/g)).toHaveLength(6);
    expect(has(pageU, escape("IntSlider(value=7, description='k')"))).toBe(true);
    expect(has(pageU, "[widget: HTMLModel]")).toBe(true);
    expect(has(pageU, `<script type="application/json" id="safesail-page">{"trusted":false}</script>`)).toBe(true);
    expect(has(pageT, `<script type="application/json" id="safesail-page">{"trusted":true}</script>`)).toBe(true);
    // The widget that is not in the saved state is shown as its text, with a warning naming it.
    expect(has(pageU, "Gone()")).toBe(true);
    expect(untrusted.warnings.some((w) => w.includes(IDS.missing) && w.includes("cells[8].outputs[5]"))).toBe(true);
  });

  it("lists the pages in the index with their titles", async () => {
    const out = join(tmp, "site-both");
    const r = await publishNotebooks([join(tmp, "notebooks", "fixture.ipynb"), join(tmp, "notebooks", "signed.ipynb")], { out, embedJs, title: "Supplement <1>", trust: { env } });
    const index = readFileSync(r.index, "utf8");
    expect(index).toContain(`<h1>Supplement &lt;1&gt;</h1>`);
    expect(index).toContain(`<a href="fixture.html">Fixture: every output &amp; input</a>`);
    expect(index).toContain(`<a href="signed.html">Signed fixture</a>`);
    expect(readFileSync(join(out, "signed.html"), "utf8")).toContain(`<a href="index.html">&larr; Supplement &lt;1&gt;</a>`);
  });

  it("refuses to overwrite without --overwrite, naming the file, and replaces with it", async () => {
    const nb = join(tmp, "notebooks", "fixture.ipynb");
    const out = join(tmp, "site-u");
    await expect(publishNotebooks([nb], { out, embedJs, trust: { env } })).rejects.toThrow(`${join(out, "fixture.html")} exists (use --overwrite to replace it)`);
    const r = await publishNotebooks([nb], { out, embedJs, overwrite: true, trust: { env } });
    expect(r.pages[0]!.bytes).toBeGreaterThan(0);
  });

  it("names the file and the field of a missing or invalid notebook, before writing anything", async () => {
    const dir = join(tmp, "bad");
    mkdirSync(dir, { recursive: true });
    const out = join(tmp, "site-bad");
    const write = (name: string, body: string) => {
      writeFileSync(join(dir, name), body);
      return join(dir, name);
    };
    const good = join(tmp, "notebooks", "fixture.ipynb");
    await expect(publishNotebooks([good, join(dir, "nope.ipynb")], { out, embedJs })).rejects.toThrow(`${join(dir, "nope.ipynb")}: no such notebook`);
    await expect(publishNotebooks([write("json.ipynb", "{ nope")], { out, embedJs })).rejects.toThrow(`${join(dir, "json.ipynb")}: not valid JSON`);
    await expect(publishNotebooks([write("v3.ipynb", `{"nbformat": 3, "worksheets": []}`)], { out, embedJs })).rejects.toThrow(`${join(dir, "v3.ipynb")}: nbformat: only nbformat 4 is supported`);
    await expect(publishNotebooks([write("cells.ipynb", `{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}`)], { out, embedJs })).rejects.toThrow(`${join(dir, "cells.ipynb")}: cells: missing`);
    const badOutput = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: "code", source: "", execution_count: null, metadata: {}, outputs: [{ output_type: "bogus" }] }] };
    await expect(publishNotebooks([write("out.ipynb", JSON.stringify(badOutput))], { out, embedJs })).rejects.toThrow(`${join(dir, "out.ipynb")}: cells[0].outputs[0].output_type: expected "stream", "error", "execute_result" or "display_data", got "bogus"`);
    expect(() => validateNotebook({ nbformat: 4, cells: [{ cell_type: "markdown", source: 3 }] }, "x.ipynb")).toThrow(`x.ipynb: cells[0].source: expected a string or a list of strings, got a number`);
    expect(existsSync(out)).toBe(false); // nothing written
    await expect(publishNotebooks([good, good], { out, embedJs })).rejects.toThrow("would both be published as");
  });

  it("treats a notebook as untrusted when the signature database is missing, without creating one", async () => {
    const empty = join(tmp, "empty-data-dir");
    const r = await checkTrust(join(tmp, "notebooks", "signed.ipynb"), { env: { ...process.env, JUPYTER_DATA_DIR: empty } });
    expect(r).toEqual({ trusted: false });
    expect(existsSync(join(empty, "notebook_secret"))).toBe(false);
    expect(existsSync(join(empty, "nbsignatures.db"))).toBe(false);
    const missing = await checkTrust(join(tmp, "notebooks", "signed.ipynb"), { python: join(tmp, "no-python") });
    expect(missing.trusted).toBe(false);
    expect(missing.warning).toMatch(/treated as untrusted/);
  });

  it("renders without the embed bundle: widgets and figures stay text", () => {
    const warnings: string[] = [];
    const page = renderNotebookPage(validateNotebook(fixtureNotebook(), "f.ipynb"), { trusted: false, embedJs: null, warn: (w) => warnings.push(w) });
    expect(page.includes(PLOTLY_MARKER)).toBe(false);
    expect(has(page, "script-src 'none'")).toBe(true);
    expect(warnings.join("\n")).toContain("no embed bundle given");
  });
});

describe("safesail publish: the command", () => {
  it("--help prints the usage; errors print the file and exit 1", () => {
    const help = spawnSync(process.execPath, [BIN, "publish", "--help"], { encoding: "utf8", env });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("usage: safesail publish NOTEBOOK... --out DIR [--overwrite] [--title TEXT]");
    const noOut = spawnSync(process.execPath, [BIN, "publish", "x.ipynb"], { encoding: "utf8", env });
    expect(noOut.status).toBe(1);
    expect(noOut.stderr).toContain("--out DIR is required");
    const exists = spawnSync(process.execPath, [BIN, "publish", join(tmp, "notebooks", "fixture.ipynb"), "--out", join(tmp, "site-u")], { encoding: "utf8", env });
    expect(exists.status).toBe(1);
    expect(exists.stderr).toContain(`safesail publish: ${join(tmp, "site-u", "fixture.html")} exists (use --overwrite to replace it)`);
  }, 60_000);

  it("the embed bundle type-checks (tsconfig.embed.json) and is up to date", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "widgets", "scripts", "build-embed.mjs"), "--if-stale", "--typecheck"], { encoding: "utf8", cwd: ROOT });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/up to date|MB in/);
  }, 120_000);
});

describe("safesail publish: notebooks/99-kernel-widgets.ipynb executed by the kernel", () => {
  let result: PublishResult;
  let page: string;
  beforeAll(async () => {
    const executed = join(tmp, "executed");
    const run = spawnSync(process.execPath, [BIN, "notebooks", "run", join(ROOT, "notebooks", "99-kernel-widgets.ipynb"), "--out", executed], { encoding: "utf8", env, cwd: ROOT });
    if (run.status !== 0) throw new Error(`notebooks run failed:\n${run.stdout}\n${run.stderr}`);
    result = await publishNotebooks([join(executed, "99-kernel-widgets.ipynb")], { out: join(tmp, "site-99"), embedJs, trust: { env } });
    page = readFileSync(result.pages[0]!.path, "utf8");
  }, 240_000);

  it("publishes it trusted (notebooks run signs), offline, with its widget state and views", () => {
    expect(result.pages[0]!.trusted).toBe(true);
    expect(result.pages[0]!.title).toBe("00 · The safesail kernel and widgets");
    expectOffline(page);
    expect(has(page, "hello from the safesail kernel")).toBe(true);
    const state = JSON.parse(/<script type="application\/vnd\.jupyter\.widget-state\+json">([\s\S]*?)<\/script>/.exec(page)![1]!) as { state: Record<string, { model_name: string; state: { value?: unknown } }> };
    const slider = Object.values(state.state).find((m) => m.model_name === "IntSliderModel");
    expect(slider?.state.value).toBe(7);
    expect(page.match(/<script type="application\/vnd\.jupyter\.widget-view\+json">/g)?.length).toBeGreaterThanOrEqual(1);
    expect(result.warnings).toEqual([]);
  });
});

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
