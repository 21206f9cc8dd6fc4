// Values with `toHTML()` as text/html (arquero tables with escaped headers and cells), and tslab's own display API
// (`import * as tslab from "tslab"`) on the safesail kernel: in-process, then through a real kernel with
// kernel/tests/py/cells_client.py (jupyter_client, Debian's /usr/bin/python3) against the kernelspec installed into
// a temporary --prefix.
import * as aq from "arquero";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MIMEBUNDLE, richRepr, TABLE_HTML_ROWS } from "../src/display.ts";
import { packagePathMap } from "../src/modules.ts";
import { tslabModule, type TslabDisplay } from "../src/tslab.ts";
import { setKernel } from "../src/widgets/kernel.ts";
import { FakeKernel } from "./widgets-fake.ts";
import { exec, ROOT } from "./widgets-helpers.ts";

const PY = "/usr/bin/python3";
const HOSTILE = "<img src=x onerror=alert(1)>";
const ESCAPED = "&lt;img src=x onerror=alert(1)&gt;";

/** Tag names in an HTML fragment. */
const tags = (html: string) => new Set([...html.matchAll(/<\/?([a-z][a-z0-9]*)/gi)].map((m) => m[1]!.toLowerCase()));

afterEach(() => setKernel(undefined));

describe("toHTML values", () => {
  it("a value with toHTML() becomes text/html with a text/plain fallback", () => {
    class Card {
      toHTML() {
        return "<div class='card'><b>card</b></div>";
      }
      toString() {
        return "Card";
      }
    }
    expect(richRepr(new Card())).toEqual({ data: { "text/html": "<div class='card'><b>card</b></div>", "text/plain": "Card" }, metadata: {} });
    // No useful toString(): util.inspect text.
    expect(richRepr({ toHTML: () => "<i>x</i>", n: 1 }).data).toEqual({ "text/html": "<i>x</i>", "text/plain": "{ toHTML: [Function: toHTML], n: 1 }" });
  });

  it("a mime bundle method wins; a toHTML that throws or returns no string leaves text/plain only", () => {
    expect(richRepr({ toHTML: () => "<i>no</i>", [MIMEBUNDLE]: () => ({ "text/markdown": "*yes*" }) }).data).toMatchObject({ "text/markdown": "*yes*" });
    expect(richRepr({ toHTML: () => "<i>no</i>", [MIMEBUNDLE]: () => ({ "text/markdown": "*yes*" }) }).data["text/html"]).toBeUndefined();
    expect(Object.keys(richRepr({ toHTML: () => { throw new Error("x"); } }).data)).toEqual(["text/plain"]);
    expect(Object.keys(richRepr({ toHTML: () => 42 }).data)).toEqual(["text/plain"]);
    expect(Object.keys(richRepr({ toHTML: "<b>not a method</b>" }).data)).toEqual(["text/plain"]);
  });

  it("arquero tables: a <table>, hostile values and column names escaped, the table itself unchanged", () => {
    // arquero 7.2.1's own toHTML escapes values but not column names (why the kernel renames them first).
    const t = aq.table({ n: [1, 2], [HOSTILE]: [HOSTILE, "a & b"], "\"q'": ["</td></tr></table><script>x</script>", null] });
    expect(t.toHTML()).toContain(`<th style="text-align: left;">${HOSTILE}</th>`);
    const r = richRepr(t);
    const html = r.data["text/html"] as string;
    expect(html.startsWith("<table>")).toBe(true);
    expect(html).not.toContain(HOSTILE);
    expect(html).not.toContain("<script");
    expect(tags(html)).toEqual(new Set(["table", "thead", "tr", "th", "tbody", "td"]));
    expect(html).toContain(`<th style="text-align: left;">${ESCAPED}</th>`);
    expect(html).toContain(`<td style="text-align: left;">${ESCAPED}</td>`);
    expect(html).toContain("&quot;q&#39;</th>");
    expect(html).toContain("a &amp; b");
    expect(html).toContain("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;x&lt;/script&gt;");
    expect(r.data["text/plain"]).toBe("[object Table: 3 cols x 2 rows]");
    expect(t.columnNames()).toEqual(["n", HOSTILE, "\"q'"]);
  });

  it("arquero tables: at most TABLE_HTML_ROWS rows, with a note", () => {
    const big = aq.table({ i: Array.from({ length: 250 }, (_, i) => i) });
    const html = richRepr(big).data["text/html"] as string;
    expect((html.match(/<tr>/g) ?? []).length).toBe(TABLE_HTML_ROWS + 1);
    expect(html).toContain(`${TABLE_HTML_ROWS} of 250 rows shown`);
    expect(richRepr(aq.table({ i: [1] })).data["text/html"]).not.toContain("rows shown");
  });
});

describe("tslab's API (in-process)", () => {
  it("display.* kinds send display_data with one mime type; bytes base64; newDisplay updates one id", () => {
    const k = new FakeKernel();
    setKernel(k);
    const tslab = tslabModule() as { display: TslabDisplay; newDisplay(): TslabDisplay; versions: Record<string, string> };
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    tslab.display.html("<b>x</b>");
    tslab.display.png(bytes);
    tslab.display.pdf(bytes.subarray(1, 3));
    tslab.display.raw("application/json", { a: 1 } as never);
    expect(k.displays).toEqual([
      { kind: "display", bundle: { "text/html": "<b>x</b>" }, displayId: undefined },
      { kind: "display", bundle: { "image/png": "AAEC+v8=" }, displayId: undefined },
      { kind: "display", bundle: { "application/pdf": "AQI=" }, displayId: undefined },
      { kind: "display", bundle: { "application/json": { a: 1 } }, displayId: undefined },
    ]);
    k.displays = [];
    const d = tslab.newDisplay();
    d.text("one");
    d.markdown("*two*");
    d.jpeg(bytes);
    expect(k.displays.map((x) => x.kind)).toEqual(["display", "update", "update"]);
    expect(new Set(k.displays.map((x) => x.displayId)).size).toBe(1);
    expect(k.displays[0]!.displayId).toMatch(/^[0-9a-f]{16}$/);
    expect(k.displays[2]!.bundle).toEqual({ "image/jpeg": "AAEC+v8=" });
    expect(tslab.newDisplay()).not.toBe(tslab.newDisplay());
    expect(tslab.versions).toEqual({ tslab: "1.0.22", typescript: "5.0.4", node: process.version });
  });

  it("cells type-check against the kernel's tslab wherever the notebook is", () => {
    const nb = mkdtempSync(join(tmpdir(), "safesail-nb-"));
    try {
      mkdirSync(join(nb, "node_modules"));
      const map = packagePathMap(nb);
      expect(map(join(nb, "node_modules", "tslab", "dist", "public.d.ts"))).toBe(join(ROOT, "node_modules", "tslab", "dist", "public.d.ts"));
      expect(map(join(nb, "node_modules", "tslabx"))).toBe(join(nb, "node_modules", "tslabx"));
    } finally {
      rmSync(nb, { recursive: true, force: true });
    }
  });

  it("outside a kernel it says so", () => {
    expect(() => (tslabModule() as { display: TslabDisplay }).display.html("x")).toThrow(/no running kernel/);
  });
});

interface CellRun {
  reply: { status: string; ename?: string; evalue?: string };
  iopub: Array<{ msg_type: string; content: { data?: Record<string, unknown>; transient?: { display_id?: string }; metadata?: unknown } }>;
}

describe.skipIf(!existsSync(PY))("through a real kernel", () => {
  let tmp = "";
  let env: NodeJS.ProcessEnv = {};
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "safesail-rich-"));
    const r = await exec(process.execPath, [join(ROOT, "bin/safesail.js"), "kernel", "install", "--prefix", tmp]);
    expect(r.code, r.stderr).toBe(0);
    env = { ...process.env, JUPYTER_PATH: join(tmp, "share", "jupyter"), JUPYTER_RUNTIME_DIR: join(tmp, "runtime") };
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function runCells(cells: string[]): Promise<CellRun[]> {
    const file = join(tmp, "cells.json");
    writeFileSync(file, JSON.stringify(cells));
    const r = await exec(PY, [join(ROOT, "kernel/tests/py/cells_client.py"), file], env, 200_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as CellRun[];
  }

  it("arquero tables and toHTML values as text/html; every tslab display kind; newDisplay updates in place", async () => {
    const cells = [
      `import * as aq from "arquero";\naq.table({ n: [1, 2], ${JSON.stringify(HOSTILE)}: [${JSON.stringify(HOSTILE)}, "ok"] })`,
      `class Badge { toHTML() { return "<u>badge</u>"; } }\nnew Badge()`,
      [
        `import * as tslab from "tslab";`,
        `const bytes = new Uint8Array([137, 80, 78, 71, 0, 255]);`,
        `tslab.display.html("<b>h</b>");`,
        `tslab.display.markdown("*m*");`,
        `tslab.display.svg("<svg xmlns='http://www.w3.org/2000/svg'/>");`,
        `tslab.display.png(bytes);`,
        `tslab.display.jpeg(bytes);`,
        `tslab.display.gif(bytes);`,
        `tslab.display.pdf(bytes);`,
        `tslab.display.javascript("console.log(1)");`,
        `tslab.display.latex("$x^2$");`,
        `tslab.display.text("plain");`,
        `tslab.display.raw("application/json", "{\\"a\\": 1}");`,
        `tslab.display.raw("application/octet-stream", bytes);`,
      ].join("\n"),
      `const d = tslab.newDisplay();\nd.html("<i>1</i>");\nd.text("2");\nd.png(bytes);`,
      `import { versions } from "tslab";\nversions.tslab + " " + versions.typescript`,
      // tslab's own declarations check the cell: png takes bytes.
      `tslab.display.png("not bytes");`,
    ];
    const [table, badge, kinds, updates, versions, typeError] = await runCells(cells);

    expect(table!.reply.status).toBe("ok");
    const result = table!.iopub.find((m) => m.msg_type === "execute_result")!.content.data!;
    const html = result["text/html"] as string;
    expect(html).toMatch(/^<table>/);
    expect(html).toContain(`<th style="text-align: left;">${ESCAPED}</th>`);
    expect(html).toContain(`<td style="text-align: left;">${ESCAPED}</td>`);
    expect(html).not.toContain("<img");
    expect(result["text/plain"]).toBe("[object Table: 2 cols x 2 rows]");

    expect(badge!.iopub.find((m) => m.msg_type === "execute_result")!.content.data).toEqual({ "text/html": "<u>badge</u>", "text/plain": "Badge {}" });

    expect(kinds!.reply.status, JSON.stringify(kinds)).toBe("ok");
    const b64 = Buffer.from([137, 80, 78, 71, 0, 255]).toString("base64");
    expect(kinds!.iopub.map((m) => m.msg_type)).toEqual(Array(12).fill("display_data"));
    expect(kinds!.iopub.map((m) => m.content.data)).toEqual([
      { "text/html": "<b>h</b>" },
      { "text/markdown": "*m*" },
      { "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'/>" },
      { "image/png": b64 },
      { "image/jpeg": b64 },
      { "image/gif": b64 },
      { "application/pdf": b64 },
      { "text/javascript": "console.log(1)" },
      { "text/latex": "$x^2$" },
      { "text/plain": "plain" },
      { "application/json": '{"a": 1}' },
      { "application/octet-stream": b64 },
    ]);
    for (const m of kinds!.iopub) expect(m.content.transient?.display_id).toBeUndefined();

    expect(updates!.reply.status, JSON.stringify(updates)).toBe("ok");
    expect(updates!.iopub.map((m) => m.msg_type)).toEqual(["display_data", "update_display_data", "update_display_data"]);
    const ids = updates!.iopub.map((m) => m.content.transient?.display_id);
    expect(ids[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(1);
    expect(updates!.iopub.map((m) => m.content.data)).toEqual([{ "text/html": "<i>1</i>" }, { "text/plain": "2" }, { "image/png": b64 }]);

    expect(versions!.iopub.find((m) => m.msg_type === "execute_result")!.content.data!["text/plain"]).toBe("'1.0.22 5.0.4'");

    expect(typeError!.reply).toMatchObject({ status: "error", ename: "TSError" });
    expect(typeError!.reply.evalue).toMatch(/not assignable to parameter of type 'Uint8Array'/);
  }, 240_000);
});
