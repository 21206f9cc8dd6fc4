// figureSvg() (kernel/src/plot-svg.ts): the static picture in plot()'s HTML fallback. Parsed with a real XML parser
// (@xmldom/xmldom, stopping at any warning), pixel positions checked against the plot area and axis ranges the SVG
// declares, nice ticks, bars, legend, gaps, notes for what is not drawn, and hostile text only ever as text.
import { DOMParser, onErrorStopParsing, onWarningStopParsing, type Document, type Element } from "@xmldom/xmldom";
import { describe, expect, it } from "vitest";
import { PLOTLY_COLORS, escapeXml, figureSvg, niceTicks, tickLabel } from "../src/plot-svg.ts";
import type { JsonObject } from "../src/types.ts";

const svgOf = (fig: object, opts = {}) => figureSvg(fig as JsonObject, opts);

/** Parsed SVG; any parser warning fails (`warnings: false`: only errors, for text with U+FFFD, which xmldom warns of). */
function parse(svg: string, warnings = true): Document {
  const doc = new DOMParser({ onError: warnings ? onWarningStopParsing : onErrorStopParsing }).parseFromString(svg, "image/svg+xml");
  expect(doc.documentElement!.tagName).toBe("svg");
  expect(doc.documentElement!.namespaceURI).toBe("http://www.w3.org/2000/svg");
  return doc;
}

const all = (doc: Document): Element[] => Array.from(doc.getElementsByTagName("*"));
const byClass = (doc: Document, cls: string): Element[] => all(doc).filter((e) => (e.getAttribute("class") ?? "").split(" ").includes(cls));
const texts = (doc: Document, cls: string): string[] => byClass(doc, cls).map((e) => e.textContent ?? "");
const marks = (doc: Document) => all(doc).filter((e) => e.tagName === "path" || e.tagName === "circle" || byClass(doc, "bar").includes(e));

/** The plot area's pixel box and the axis ranges the SVG says it drew with. */
function area(doc: Document) {
  const [a] = byClass(doc, "plot-area");
  expect(a).toBeDefined();
  const n = (name: string) => Number(a!.getAttribute(name));
  const range = (name: string) => a!.getAttribute(name)!.split(" ").map(Number) as [number, number];
  return { x: n("x"), y: n("y"), w: n("width"), h: n("height"), xr: range("data-x-range"), yr: range("data-y-range"), type: a!.getAttribute("data-x-type") };
}

/** Where a data point should be drawn, computed here from the area (independently of the module's mapping). */
function expected(a: ReturnType<typeof area>, x: number, y: number): [number, number] {
  return [a.x + ((x - a.xr[0]) / (a.xr[1] - a.xr[0])) * a.w, a.y + a.h - ((y - a.yr[0]) / (a.yr[1] - a.yr[0])) * a.h];
}

/** The segments of a path's `d` (M ... L ...), each a list of [x, y]. */
function segments(d: string): Array<Array<[number, number]>> {
  return d.split("M").filter(Boolean).map((seg) => seg.split("L").map((p) => p.trim().split(/\s+/).map(Number) as [number, number]));
}

const isNiceStep = (step: number) => {
  const m = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
  return [1, 2, 5].some((k) => Math.abs(m - k) < 1e-6);
};

describe("niceTicks", () => {
  const cases: Array<[number, number, number]> = [[0, 1, 6], [0.013, 0.087, 5], [-3.2, 1234, 6], [5, 5, 6], [0, 0, 4], [1e-9, 3e-9, 6], [1e6, 1e6 + 7, 6], [-0.3, 0.3, 7], [-5e9, -1e9, 3]];
  it.each(cases)("[%d, %d] in ~%d ticks: 1/2/5 x 10^n apart, covering the range, no float noise", (lo, hi, target) => {
    const t = niceTicks(lo, hi, target);
    expect(isNiceStep(t.step)).toBe(true);
    expect(t.min).toBeLessThanOrEqual(lo);
    expect(t.max).toBeGreaterThanOrEqual(hi);
    expect(t.min).toBe(t.values[0]);
    expect(t.max).toBe(t.values.at(-1));
    expect(t.values.length).toBeGreaterThanOrEqual(2);
    expect(t.values.length).toBeLessThanOrEqual(2 * target + 2);
    // Tight: one step less on either side would miss the data (ranges of one value are widened first).
    if (hi > lo) expect(t.min + t.step > lo && t.max - t.step < hi).toBe(true);
    t.values.forEach((v, i) => {
      if (i) expect(v - t.values[i - 1]!).toBeCloseTo(t.step, 9);
      expect(Math.abs(v / t.step - Math.round(v / t.step))).toBeLessThan(1e-6);
      expect(tickLabel(v, t.step).length).toBeLessThanOrEqual(12);
    });
  });

  it("labels: decimals from the step, exponents for extremes", () => {
    const t = niceTicks(0, 0.3, 6);
    expect(t.values.map((v) => tickLabel(v, t.step))).toEqual(["0", "0.05", "0.10", "0.15", "0.20", "0.25", "0.30"]);
    expect(tickLabel(2e-7, 5e-8)).toBe("2e-7");
    expect(tickLabel(3e12, 1e12)).toBe("3e+12");
    expect(tickLabel(-1500, 500)).toBe("-1500");
  });
});

describe("figureSvg", () => {
  it("a self-contained <svg>: viewBox, 100% wide, fixed height from layout.height or 420", () => {
    const doc = parse(svgOf({ data: [{ y: [1, 2] }] }));
    const root = doc.documentElement!;
    expect([root.getAttribute("viewBox"), root.getAttribute("width"), root.getAttribute("height")]).toEqual(["0 0 800 420", "100%", "420"]);
    const tall = parse(svgOf({ data: [{ y: [1, 2] }], layout: { height: 300, width: 600 } })).documentElement!;
    expect([tall.getAttribute("viewBox"), tall.getAttribute("height")]).toEqual(["0 0 600 300", "300"]);
    expect(parse(svgOf({ data: [] }, { height: 250, width: 500 })).documentElement!.getAttribute("viewBox")).toBe("0 0 500 250");
  });

  it("lines and markers sit where the data maps inside the declared plot area and axis ranges", () => {
    const x = [0, 2.5, 7, 9.25], y = [3, -1, 12, 4.5];
    const svg = svgOf({ data: [{ type: "scatter", x, y, name: "k=32" }], layout: { title: "FVU", xaxis: { title: "step" }, yaxis: { title: { text: "loss" } } } });
    const doc = parse(svg);
    const a = area(doc);
    expect(a.type).toBe("linear");
    // The axis ranges are the outer nice ticks around the data, and the tick labels say so.
    const xLabels = byClass(doc, "x-ticks")[0]!.getElementsByTagName("text");
    const yLabels = byClass(doc, "y-ticks")[0]!.getElementsByTagName("text");
    const xs = Array.from(xLabels, (e) => Number(e.textContent)), ys = Array.from(yLabels, (e) => Number(e.textContent));
    expect([xs[0], xs.at(-1)]).toEqual(a.xr);
    expect([ys[0], ys.at(-1)]).toEqual(a.yr);
    expect(a.xr[0]).toBeLessThanOrEqual(0);
    expect(a.xr[1]).toBeGreaterThanOrEqual(9.25);
    expect(a.yr[0]).toBeLessThanOrEqual(-1);
    expect(a.yr[1]).toBeGreaterThanOrEqual(12);
    for (const labels of [xs, ys]) {
      const step = labels[1]! - labels[0]!;
      expect(isNiceStep(step)).toBe(true);
      labels.forEach((v, i) => i && expect(v - labels[i - 1]!).toBeCloseTo(step, 9));
    }
    // 4 points <= 20: lines+markers by default.
    const paths = doc.getElementsByTagName("path");
    expect(paths.length).toBe(1);
    const [seg] = segments(paths[0]!.getAttribute("d")!);
    expect(seg).toHaveLength(4);
    const circles = Array.from(doc.getElementsByTagName("circle"));
    expect(circles).toHaveLength(4);
    for (const i of [0, 2, 3]) {
      const [ex, ey] = expected(a, x[i]!, y[i]!);
      expect(seg![i]![0]).toBeCloseTo(ex, 1);
      expect(seg![i]![1]).toBeCloseTo(ey, 1);
      expect(Number(circles[i]!.getAttribute("cx"))).toBeCloseTo(ex, 1);
      expect(Number(circles[i]!.getAttribute("cy"))).toBeCloseTo(ey, 1);
    }
    expect(paths[0]!.getAttribute("stroke")).toBe(PLOTLY_COLORS[0]);
    expect(texts(doc, "title")).toEqual(["FVU"]);
    expect(texts(doc, "axis-title")).toEqual(["step", "loss"]);
    expect(byClass(doc, "legend")).toHaveLength(0); // one trace: no legend, as Plotly
  });

  it("modes: markers only, lines only, and the default by point count (lines+markers up to 20)", () => {
    const n = (k: number) => Array.from({ length: k }, (_, i) => i * i);
    const count = (fig: object) => {
      const doc = parse(svgOf(fig));
      return [doc.getElementsByTagName("path").length, doc.getElementsByTagName("circle").length];
    };
    expect(count({ data: [{ y: n(20) }] })).toEqual([1, 20]);
    expect(count({ data: [{ y: n(21) }] })).toEqual([1, 0]);
    expect(count({ data: [{ y: n(5), mode: "markers" }] })).toEqual([0, 5]);
    expect(count({ data: [{ y: n(5), mode: "lines" }] })).toEqual([1, 0]);
    // x missing: 0..n-1.
    const doc = parse(svgOf({ data: [{ y: [5, 6, 7], mode: "lines" }] }));
    const a = area(doc);
    const [seg] = segments(doc.getElementsByTagName("path")[0]!.getAttribute("d")!);
    expect(seg![2]![0]).toBeCloseTo(expected(a, 2, 7)[0], 1);
  });

  it("null and NaN leave gaps: two path segments (connectgaps joins them)", () => {
    for (const gap of [null, NaN]) {
      const doc = parse(svgOf({ data: [{ x: [1, 2, 3, 4, 5], y: [1, 2, gap, 4, 5], mode: "lines" }] }));
      const segs = segments(doc.getElementsByTagName("path")[0]!.getAttribute("d")!);
      expect(segs.map((s) => s.length)).toEqual([2, 2]);
      const a = area(doc);
      expect(segs[1]![0]![0]).toBeCloseTo(expected(a, 4, 4)[0], 1);
      expect(segs[1]![0]![1]).toBeCloseTo(expected(a, 4, 4)[1], 1);
    }
    const joined = parse(svgOf({ data: [{ y: [1, null, 3], mode: "lines", connectgaps: true }] }));
    expect(segments(joined.getElementsByTagName("path")[0]!.getAttribute("d")!).map((s) => s.length)).toEqual([2]);
  });

  it("grouped bars on category x: one rect per point and trace, side by side, from 0", () => {
    const cats = ["violence", "self-harm", "weapons", "fraud"];
    const doc = parse(svgOf({ data: [{ type: "bar", name: "layer 4", x: cats, y: [3, 1, 2, 5] }, { type: "bar", name: "layer 8", x: cats, y: [1, 2, -3, 0.5] }] }));
    const bars = byClass(doc, "bar");
    expect(bars).toHaveLength(cats.length * 2);
    const a = area(doc);
    expect(a.type).toBe("category");
    expect(a.xr).toEqual([-0.5, 3.5]);
    expect(a.yr[0]).toBeLessThanOrEqual(-3); // the negative bar is inside, and 0 is in the range
    expect(Array.from(byClass(doc, "x-ticks")[0]!.getElementsByTagName("text"), (e) => e.textContent)).toEqual(cats);
    const num = (e: Element, k: string) => Number(e.getAttribute(k));
    const zeroY = expected(a, 0, 0)[1];
    const [b0, b1] = [bars[0]!, bars[cats.length]!]; // "violence" of each trace
    expect(num(b0, "x") + num(b0, "width")).toBeCloseTo(num(b1, "x"), 0); // side by side
    const centre = expected(a, 0, 0)[0];
    expect(num(b0, "x")).toBeLessThan(centre);
    expect(num(b1, "x")).toBeGreaterThanOrEqual(centre - 0.1);
    expect(num(b0, "y") + num(b0, "height")).toBeCloseTo(zeroY, 0); // from 0 up to 3
    expect(num(b0, "y")).toBeCloseTo(expected(a, 0, 3)[1], 0);
    const neg = bars[cats.length + 2]!; // -3: from 0 down
    expect(num(neg, "y")).toBeCloseTo(zeroY, 0);
    expect(num(neg, "y") + num(neg, "height")).toBeCloseTo(expected(a, 2, -3)[1], 0);
    expect(texts(doc, "legend-entry")).toEqual(["layer 4", "layer 8"]);
    // Numeric x, a null: one bar fewer.
    expect(byClass(parse(svgOf({ data: [{ type: "bar", x: [1, 2, 3], y: [1, null, 3] }] })), "bar")).toHaveLength(2);
  });

  it("legend entries are the trace names (default `trace N`), colours cycle through Plotly's 10", () => {
    const data = Array.from({ length: 12 }, (_, i) => ({ y: [i, i + 1], name: i === 3 ? undefined : `run ${i}` }));
    const doc = parse(svgOf({ data, layout: { height: 600 } }));
    expect(texts(doc, "legend-entry")).toEqual(data.map((t, i) => t.name ?? `trace ${i}`));
    const strokes = Array.from(doc.getElementsByTagName("path"), (p) => p.getAttribute("stroke"));
    expect(strokes).toEqual(data.map((_, i) => PLOTLY_COLORS[i % 10]));
    expect(texts(parse(svgOf({ data: [{ y: [1], name: "only" }], layout: { showlegend: true } })), "legend-entry")).toEqual(["only"]);
    expect(byClass(parse(svgOf({ data: [{ y: [1] }, { y: [2] }], layout: { showlegend: false } })), "legend")).toHaveLength(0);
    // A plain colour of the trace's own is used; anything else is not.
    const own = parse(svgOf({ data: [{ y: [1, 2], line: { color: "#abcdef" } }, { y: [1, 2], line: { color: 'red" onload="x' } }] }));
    expect(Array.from(own.getElementsByTagName("path"), (p) => p.getAttribute("stroke"))).toEqual(["#abcdef", PLOTLY_COLORS[1]]);
  });

  it("hostile text (names, titles, categories, axis titles) appears only escaped, as text", () => {
    const hostile = ["<img src=x onerror=alert(1)>", "</svg><script>alert(1)</script>", `"' onload="alert(1)`, "<!-- ]]> &amp; &"];
    const fig = {
      data: [
        { type: "bar", name: hostile[0], x: hostile, y: [1, 2, 3, 4] },
        { type: "bar", name: hostile[1]!.slice(0, 19), x: hostile, y: [4, 3, 2, 1] },
      ],
      layout: { title: { text: hostile[1] }, xaxis: { title: hostile[2] }, yaxis: { title: { text: hostile[3] } }, height: 500, width: 1600 },
    };
    const svg = svgOf(fig);
    for (const raw of ["<img", "<script", "</svg><", "<!--", "]]>", `"' onload`]) expect(svg).not.toContain(raw);
    const doc = parse(svg);
    const tags = new Set(all(doc).map((e) => e.tagName));
    for (const t of tags) expect(["svg", "g", "rect", "line", "path", "circle", "text"]).toContain(t);
    for (const e of all(doc)) {
      for (const attr of Array.from(e.attributes)) {
        expect(attr.name).not.toMatch(/^on|href/i);
        expect(attr.value).not.toMatch(/url\(|javascript:/i);
      }
    }
    // The text reads as written.
    expect(texts(doc, "title")).toEqual([hostile[1]]);
    expect(texts(doc, "axis-title")).toEqual([hostile[2], hostile[3]]);
    expect(Array.from(byClass(doc, "x-ticks")[0]!.getElementsByTagName("text"), (e) => e.textContent)).toEqual(hostile);
    expect(texts(doc, "legend-entry")).toEqual([`${hostile[0]!.slice(0, 19)}\u2026`, hostile[1]!.slice(0, 19)]);
    // Characters XML forbids become U+FFFD instead of breaking the document.
    const odd = parse(svgOf({ data: [{ y: [1], name: "a\u0000b\ud800c\uffff" }], layout: { title: "t\u0007", showlegend: true } }), false);
    expect(texts(odd, "legend-entry")).toEqual(["a\ufffdb\ufffdc\ufffd"]);
    expect(escapeXml(`<&>"'`)).toBe("&lt;&amp;&gt;&quot;&#39;");
  });

  it("unsupported traces get a note and no marks; a second-axis trace is skipped with a note", () => {
    const doc = parse(svgOf({ data: [{ type: "heatmap", name: "<attn>", z: [[1, 2], [3, 4]] }], layout: { title: "maps" } }));
    expect(marks(doc)).toHaveLength(0);
    expect(byClass(doc, "plot-area")).toHaveLength(0);
    expect(texts(doc, "note")).toEqual([`not drawn in this static picture: heatmap trace "<attn>"`]);
    expect(texts(doc, "title")).toEqual(["maps"]);

    const mixed = parse(svgOf({ data: [{ y: [1, 2, 3], name: "main" }, { y: [10, 20, 30], yaxis: "y2", name: "other" }, { type: "scatter3d", x: [1], y: [1], z: [1] }] }));
    expect(mixed.getElementsByTagName("path").length).toBe(1);
    expect(area(mixed).yr[1]).toBeLessThan(10); // the y2 trace did not stretch the main axis
    expect(texts(mixed, "note")).toEqual([
      `not drawn in this static picture: scatter trace "other" on a second axis`,
      `not drawn in this static picture: scatter3d trace "trace 2"`,
    ]);
    expect(texts(mixed, "legend-entry")).toEqual([]); // one drawn trace: no legend

    // Axes it cannot draw faithfully block the whole picture: only the note (never a linear picture of log data).
    for (const [layout, data, note] of [
      [{ yaxis: { type: "log" } }, [{ y: [1, 10, 100] }], "log y axis"],
      [{ xaxis: { autorange: "reversed" } }, [{ y: [1, 2] }], "reversed x axis"],
      [{}, [{ x: ["2024-01-01", "2024-02-01"], y: [1, 2] }], "date x axis"],
      [{}, [{ y: [-1e308, 1e308] }], "values too far apart to draw (beyond ~1.8e308)"],
      [{ barmode: "stack" }, [{ type: "bar", y: [1, 2] }], `stack bar trace "trace 0"`],
    ] as const) {
      const d = parse(svgOf({ data, layout }));
      expect(marks(d)).toHaveLength(0);
      expect(texts(d, "note")).toEqual([`not drawn in this static picture: ${note}`]);
    }
  });

  it("numbers in the output are always finite", () => {
    const svg = svgOf({ data: [{ x: [0, 1e-300, 2e-300], y: [1e300, -1e300, 5] }, { y: [Infinity, -Infinity, NaN] }, { type: "bar", x: [1e15, 1e15 + 1], y: [1, 2] }] });
    parse(svg);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });
});
