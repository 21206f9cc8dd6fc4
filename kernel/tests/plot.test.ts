// plot() (kernel/src/plot.ts): the mime bundle (plotly JSON, an offline HTML fallback with a static SVG in every
// plot, a text summary), escaping of untrusted figure text, plotly.js inlined once per kernel session; then through
// a real kernel with `safesail notebooks run`. The SVG itself: plot-svg.test.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Script, createContext, runInContext } from "node:vm";
import { parseFragment, type DefaultTreeAdapterMap } from "parse5";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { PLOTLY_MIME, plot, plotBundle, plotlyLibrary, resetPlotSession, scriptSafeJson } from "../src/plot.ts";
import { setKernel } from "../src/widgets/kernel.ts";
import { FakeKernel } from "./widgets-fake.ts";
import { exec, ROOT } from "./widgets-helpers.ts";

const HOSTILE = "</script><img src=x onerror=alert(1)>";
// A string that occurs once in plotly.min.js (its banner comment).
const LIBRARY_MARK = `plotly.js v${plotlyLibrary().version}`;

const count = (text: string, needle: string | RegExp) => (typeof needle === "string" ? text.split(needle).length - 1 : (text.match(needle) ?? []).length);

/** The static SVG of a plot's HTML: the data: URI of its <img class="safesail-plot-static">, decoded. */
function staticSvg(html: string): string {
  const m = /<img class="safesail-plot-static" alt="[^"]*" style="[^"]*" src="data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)"/.exec(html);
  expect(m, "no static image").not.toBeNull();
  return Buffer.from(m![1]!, "base64").toString("utf8");
}

/** The <script> bodies of an HTML fragment, split the way an HTML parser splits them (at `</script`). */
function scripts(html: string): string[] {
  return [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script/gi)].map((m) => m[1]!);
}

type Node = DefaultTreeAdapterMap["node"];
type Element = DefaultTreeAdapterMap["element"];

/** The elements of an HTML fragment as a browser's parser builds them (parse5), the <svg> in the SVG namespace. */
function elements(html: string): Element[] {
  const out: Element[] = [];
  const walk = (n: Node) => {
    if ("tagName" in n) out.push(n);
    for (const c of "childNodes" in n ? n.childNodes : []) walk(c);
  };
  walk(parseFragment(html));
  return out;
}
const textOf = (n: Node): string => ("value" in n && n.nodeName === "#text" ? n.value : "childNodes" in n ? n.childNodes.map(textOf).join("") : "");

/** Runs the drawing script with a fake page; returns what Plotly.newPlot received. */
function drawWithFakePage(html: string): { el: unknown; data: unknown; layout: unknown; config: Record<string, unknown> } {
  const divId = /<div id="([^"]+)"/.exec(html)![1]!;
  const el = { id: divId, textContent: "(the static svg)" };
  const calls: Array<{ el: unknown; data: unknown; layout: unknown; config: Record<string, unknown> }> = [];
  const window: Record<string, unknown> = {
    Plotly: {
      newPlot: (e: unknown, data: unknown, layout: unknown, config: Record<string, unknown>) => {
        calls.push({ el: e, data, layout, config });
        return Promise.resolve();
      },
    },
  };
  const ctx = createContext({ window, document: { getElementById: (id: string) => (id === divId ? el : null) }, setTimeout, Object });
  const body = scripts(html).at(-1)!;
  runInContext(body, ctx);
  expect(calls).toHaveLength(1);
  expect(calls[0]!.el).toBe(el);
  expect(el.textContent).toBe(""); // the static SVG made way for the chart
  // Values made in the vm's realm: compare through JSON.
  return JSON.parse(JSON.stringify(calls[0]!));
}

afterEach(() => {
  setKernel(undefined);
  resetPlotSession();
});

describe("plotBundle", () => {
  const figure = {
    data: [
      { type: "scatter", mode: "lines", name: "k=32", x: [1, 2, 3], y: [0.5, 0.25, 0.125] },
      { type: "bar", name: HOSTILE, x: ["a & b", "<b>", "\u2028line\u2029"], y: [1, 2, 3], hovertext: ["<!-- x", "<script>", "&amp;"] },
    ],
    layout: { title: { text: `FVU ${HOSTILE}` }, height: 300, yaxis: { type: "log" } },
    config: { staticPlot: false },
  };

  it("carries plotly JSON, an HTML fallback with the library once, and a text summary", () => {
    const b = plotBundle(figure, { includeLibrary: true, divId: "p1" });
    expect(Object.keys(b).sort()).toEqual([PLOTLY_MIME, "text/html", "text/plain"].sort());
    expect(b[PLOTLY_MIME]).toEqual(figure);
    const html = b["text/html"] as string;
    expect(count(html, LIBRARY_MARK)).toBe(1);
    expect(count(html, "window.Plotly = Plotly")).toBe(1);
    expect(html).toContain('if (typeof window.Plotly === "undefined") {');
    expect(html).toContain('<div id="p1" class="safesail-plot" style="width:100%;height:300px"><img class="safesail-plot-static" alt="&lt;Plotly figure');
    expect(staticSvg(html)).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" class="safesail-plot-svg" viewBox="0 0 800 300" width="100%" height="300"/);
    expect(html).toMatch(/"><\/div>\n/);
    // The log y axis is not drawn statically: the picture says so (the interactive chart draws it).
    expect(textOf(elements(staticSvg(html)).find((e) => e.tagName === "svg")!)).toContain("not drawn in this static picture: log y axis");
    expect(scripts(html)).toHaveLength(2);
    // Both scripts are valid JavaScript (the \x3C rewriting of the library kept it parseable).
    for (const s of scripts(html)) expect(() => new Script(s)).not.toThrow();
    expect(b["text/plain"]).toBe(`<Plotly figure "FVU ${HOSTILE}": 2 traces (scatter, bar)>`);

    const later = plotBundle(figure, { includeLibrary: false, divId: "p2" });
    expect(count(later["text/html"] as string, LIBRARY_MARK)).toBe(0);
    expect(scripts(later["text/html"] as string)).toHaveLength(1);
    expect(later["text/html"]).toContain('<div id="p2" class="safesail-plot" style="width:100%;height:300px"><img class="safesail-plot-static" ');
    expect(staticSvg(later["text/html"] as string)).toContain("<svg ");
    expect(later[PLOTLY_MIME]).toEqual(figure);
  });

  it("the figure JSON round-trips through the page script to Plotly.newPlot", () => {
    for (const includeLibrary of [false, true]) {
      const html = plotBundle(figure, { includeLibrary }) ["text/html"] as string;
      const call = drawWithFakePage(html);
      expect(call.data).toEqual(figure.data);
      expect(call.layout).toEqual(figure.layout);
      expect(call.config).toEqual({ responsive: true, displaylogo: false, staticPlot: false });
    }
  });

  it("hostile text appears only escaped: no markup, no way out of the <script>", () => {
    // The plot's own HTML (no library): the figure's strings only as JSON escapes in the script and as XML-escaped
    // text in the SVG (a linear y axis here, so the categories and the legend are drawn too).
    const drawn = { ...figure, layout: { title: figure.layout.title } };
    const own = plotBundle(drawn, { includeLibrary: false })["text/html"] as string;
    expect(own).not.toContain(HOSTILE);
    // (the hostile title is in the alt text too, entity-escaped: an attribute value, never markup)
    for (const raw of ["<img src", "<!--", "<b>", "a & b"]) expect(own).not.toContain(raw);
    expect(count(own, "<img")).toBe(1); // the static picture
    expect(own).not.toMatch(/[\u2028\u2029]/);
    const SVG_TAGS = ["svg", "g", "rect", "line", "path", "text"]; // (mode "lines": no circles)
    expect([...new Set([...own.matchAll(/<\/?([a-z]+)/gi)].map((m) => m[1]!.toLowerCase()))].sort()).toEqual(["div", "img", "script"]);
    const [body] = scripts(own);
    expect(body).toContain("\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e");
    expect(body).toContain("a \\u0026 b");
    expect(body).toContain("\\u2028line\\u2029");
    expect(body).not.toMatch(/&(amp|lt|gt|quot|#39);/); // the SVG's escapes stay out of the JSON
    // As a browser parses it: one script (ours), a div and the image, no event or link attributes.
    const els = elements(own);
    expect(els.filter((e) => e.tagName === "script")).toHaveLength(1);
    expect(new Set(els.map((e) => e.tagName))).toEqual(new Set(["div", "script", "img"]));
    for (const e of els) for (const a of e.attrs) expect(a.name).not.toMatch(/^on|href/i);
    const img = els.find((e) => e.tagName === "img")!;
    expect(img.attrs.find((a) => a.name === "src")!.value.startsWith("data:image/svg+xml;base64,")).toBe(true);
    expect(img.attrs.find((a) => a.name === "alt")!.value).toBe(`<Plotly figure "FVU ${HOSTILE}": 2 traces (scatter, bar)>`);
    // The picture inside: only the SVG's elements, no event or link attributes, the hostile text back as text.
    const svgEls = elements(staticSvg(own));
    expect(new Set(svgEls.map((e) => e.tagName))).toEqual(new Set(SVG_TAGS));
    for (const e of svgEls) for (const a of e.attrs) expect(a.name).not.toMatch(/^on|href/i);
    const svg = svgEls.find((e) => e.tagName === "svg")!;
    expect(svg.namespaceURI).toBe("http://www.w3.org/2000/svg");
    expect(textOf(svg)).toContain(`FVU ${HOSTILE}`);
    expect(textOf(svg)).toContain("a & b");
    expect(svgEls.filter((e) => e.attrs.some((a) => a.name === "class" && a.value === "bar"))).toHaveLength(3);
    // With the library: outside the script bodies only this module's tags; inside them nothing that ends a
    // script or enters the HTML parser's escaped states.
    const full = plotBundle(figure, { includeLibrary: true })["text/html"] as string;
    expect(count(full, /<script\b/gi)).toBe(2);
    expect(count(full, /<\/script/gi)).toBe(2);
    const outside = full.replace(/(<script\b[^>]*>)[\s\S]*?(<\/script>)/gi, "$1$2");
    expect(new Set([...outside.matchAll(/<\/?([a-z]+)/gi)].map((m) => m[1]!.toLowerCase()))).toEqual(new Set(["div", "script", "img"]));
    expect(elements(outside).filter((e) => e.tagName === "script")).toHaveLength(2);
    for (const body of scripts(full)) expect(body).not.toMatch(/<!--|<\/?script/i);
    expect(full).not.toContain(HOSTILE);
    // The JSON text, escapes and all, parses back to the same value.
    const s = scriptSafeJson({ a: HOSTILE, b: "\u2028<!--&" });
    expect(s).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(s)).toEqual({ a: HOSTILE, b: "\u2028<!--&" });
  });

  it("the library script defines nothing when the page has Plotly already", () => {
    const html = plotBundle(figure, { includeLibrary: true })["text/html"] as string;
    const sentinel = { newPlot: () => Promise.resolve() };
    const ctx = createContext({ window: { Plotly: sentinel } });
    runInContext(scripts(html)[0]!, ctx);
    expect((ctx.window as { Plotly: unknown }).Plotly).toBe(sentinel);
    expect(plotlyLibrary().script).not.toMatch(/<(!--|\/?script)/i);
  });

  it("typed arrays, bigints and non-finite numbers become plain JSON; bad figures are refused", () => {
    const b = plotBundle({ data: [{ y: new Float32Array([1, 0.5]), x: new BigInt64Array([1n, 2n]), z: [NaN, Infinity, 3n] }] }, { includeLibrary: false });
    expect(b[PLOTLY_MIME]).toEqual({ data: [{ y: [1, 0.5], x: [1, 2], z: [null, null, 3] }], layout: {} });
    expect(b["text/plain"]).toBe("<Plotly figure: 1 trace (scatter)>");
    expect(() => plotBundle({} as never, { includeLibrary: false })).toThrow(/figure must be an object/);
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => plotBundle({ data: [loop] }, { includeLibrary: false })).toThrow(/cannot be written as JSON/);
    expect(() => plotBundle({ data: [] }, { includeLibrary: false, divId: 'x" onload="y' })).toThrow(/divId/);
    expect((plotBundle({ data: [], layout: { height: "1;background:url(x)" } }, { includeLibrary: false })["text/html"] as string)).toContain("height:420px");
  });
});

describe("plot", () => {
  it("inlines plotly.js in the first plot of a session only; inline: true forces it; fresh div ids", () => {
    const k = new FakeKernel();
    setKernel(k);
    plot({ data: [{ y: [1, 2] }] });
    plot({ data: [{ y: [3] }] }, { displayId: "fvu" });
    plot({ data: [{ y: [4] }] }, { inline: true });
    expect(k.displays.map((d) => d.kind)).toEqual(["display", "display", "display"]);
    expect(k.displays.map((d) => d.displayId)).toEqual([undefined, "fvu", undefined]);
    const html = k.displays.map((d) => d.bundle!["text/html"] as string);
    expect(html.map((h) => count(h, LIBRARY_MARK))).toEqual([1, 0, 1]);
    const ids = html.map((h) => /<div id="([^"]+)"/.exec(h)![1]);
    expect(new Set(ids).size).toBe(3);
    // Every plot, with the library or not, carries its own static drawing inside its <div>.
    for (const h of html) {
      expect(h).toContain('class="safesail-plot" style="width:100%;height:420px"><img class="safesail-plot-static" ');
      expect(count(staticSvg(h), /<path class="line"/g)).toBe(1);
    }
    expect(html.some((h) => h.includes("plotly.js is not loaded"))).toBe(false);
    expect(k.displays[1]!.bundle![PLOTLY_MIME]).toEqual({ data: [{ y: [3] }], layout: {} });
  });

  it("JupyterLab's own HTML sanitizer (an untrusted notebook) keeps the static picture and drops the script", async () => {
    // @jupyterlab/apputils's Sanitizer, what JupyterLab runs on text/html of untrusted notebooks.
    const { Sanitizer } = await import("@jupyterlab/apputils/lib/sanitizer.js");
    const html = plotBundle({ data: [{ y: [1, 3, 2], name: HOSTILE }], layout: { title: { text: "t" } } }, { includeLibrary: true })["text/html"] as string;
    const clean = new Sanitizer().sanitize(html);
    expect(clean).not.toContain("<script");
    const kept = staticSvg(clean);
    expect(kept).toBe(staticSvg(html));
    expect(count(kept, /<path class="line"/g)).toBe(1);
  });

  it("without Plotly on the page the script gives up quietly and the static SVG stays", () => {
    const html = plotBundle({ data: [{ y: [1, 2, 3], name: "later" }] }, { includeLibrary: false })["text/html"] as string;
    expect(/plotly.js is not loaded|textContent = "[^"]/.test(html)).toBe(false);
    const divId = /<div id="([^"]+)"/.exec(html)![1]!;
    const el = { id: divId, textContent: "(the static svg)" };
    let timers = 0;
    const ctx = createContext({
      window: {},
      document: { getElementById: (id: string) => (id === divId ? el : null) },
      setTimeout: (fn: () => void) => { timers++; fn(); }, // run the ~10 s of retries at once
      Object,
    });
    runInContext(scripts(html)[0]!, ctx);
    expect(timers).toBe(99);
    expect(el.textContent).toBe("(the static svg)");
  });

  it("outside a kernel it says so", () => {
    expect(() => plot({ data: [] })).toThrow(/not running in the safesail kernel/);
  });
});

describe("plot in a real kernel", () => {
  const tmp = mkdtempSync(join(tmpdir(), "safesail-plot-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("two plots from cells: the first carries the library, both carry their JSON, hostile names stay escaped", async () => {
    const BIN = join(ROOT, "bin/safesail.js");
    const prefix = join(tmp, "prefix");
    const install = await exec(process.execPath, [BIN, "kernel", "install", "--prefix", prefix]);
    expect(install.code, install.stderr).toBe(0);
    const cells = [
      `import { plot } from "safesail/kernel";\nplot({ data: [{ y: [1, 2, 3], name: ${JSON.stringify(HOSTILE)} }], layout: { title: { text: "first" } } });`,
      `plot({ data: [{ x: [1, 2], y: new Float32Array([0.5, 0.25]), type: "bar" }] }, { displayId: "second" });`,
    ];
    const nbPath = join(tmp, "plots.ipynb");
    writeFileSync(nbPath, JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "safesail", display_name: "TypeScript (safesail)", language: "typescript" } },
      cells: cells.map((source, i) => ({ id: `c${i}`, cell_type: "code", source, metadata: {}, outputs: [], execution_count: null })),
    }));
    const out = join(tmp, "out");
    const r = await exec(process.execPath, [BIN, "notebooks", "run", nbPath, "--out", out, "--timeout", "120"], { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter") });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const nb = JSON.parse(readFileSync(join(out, "plots.ipynb"), "utf8")) as { cells: Array<{ outputs: Array<{ output_type: string; data: Record<string, unknown> }> }> };
    const shown = nb.cells.map((c) => c.outputs.filter((o) => o.output_type === "display_data"));
    expect(shown.map((s) => s.length)).toEqual([1, 1]);
    const text = (v: unknown) => (Array.isArray(v) ? v.join("") : String(v));
    const [first, second] = shown.map((s) => s[0]!.data);
    expect(first![PLOTLY_MIME]).toEqual({ data: [{ y: [1, 2, 3], name: HOSTILE }], layout: { title: { text: "first" } } });
    expect(second![PLOTLY_MIME]).toEqual({ data: [{ x: [1, 2], y: [0.5, 0.25], type: "bar" }], layout: {} });
    const html1 = text(first!["text/html"]);
    const html2 = text(second!["text/html"]);
    expect(count(html1, LIBRARY_MARK)).toBe(1);
    expect(count(html2, LIBRARY_MARK)).toBe(0);
    expect(count(html1, "<img")).toBe(1); // the static picture only: the hostile trace name is not markup
    // Both outputs draw without any script: the later one too, whose page may never get plotly.js.
    const [svg1, svg2] = [staticSvg(html1), staticSvg(html2)];
    expect(count(svg1, 'class="safesail-plot-svg"')).toBe(1);
    expect(count(svg2, 'class="safesail-plot-svg"')).toBe(1);
    expect(count(svg1, /<path class="line"/g)).toBe(1);
    expect(count(svg2, /<rect class="bar"/g)).toBe(2);
    expect(svg1).toContain('class="title" text-anchor="middle" font-size="16">first</text>');
    expect([html1, html2].some((h) => h.includes("plotly.js is not loaded"))).toBe(false);
    expect(drawWithFakePage(html1).data).toEqual([{ y: [1, 2, 3], name: HOSTILE }]);
    expect(text(second!["text/plain"])).toBe("<Plotly figure: 1 trace (bar)>");
  });
});
