// The notebook Progress (kernel/src/progress.ts) against an in-memory display API.
import { afterEach, describe, expect, it, vi } from "vitest";
import { autoProgress, escapeHtml, notebookProgress, progressBundle } from "../src/progress.ts";
import { setKernel } from "../src/widgets/kernel.ts";
import { FakeKernel } from "./widgets-fake.ts";

afterEach(() => {
  setKernel(undefined);
  vi.useRealTimers();
});

describe("notebook progress", () => {
  it("one display, then throttled updates with the same display id, then a final update", () => {
    const k = new FakeKernel();
    let t = 1000;
    const p = notebookProgress({ display: k.display, now: () => t });
    p.start("harvest", 10);
    for (let i = 1; i <= 10; i++) {
      t += 30; // 30 ms per step: at most one update per 100 ms gets through
      p.update(i, `step ${i}`);
    }
    p.finish("ok");
    const [first, ...rest] = k.displays;
    expect(first!.kind).toBe("display");
    expect(first!.displayId).toMatch(/^safesail-progress-/);
    expect(rest.every((d) => d.kind === "update" && d.displayId === first!.displayId)).toBe(true);
    expect(rest.length).toBe(3); // t=1120 (i=4), t=1240 (i=8), then finish
    const last = rest[rest.length - 1]!.bundle!;
    expect(last["text/plain"]).toMatch(/^harvest \[#{30}\] 100% · 10\/10 .* done ok$/);
    expect(last["text/html"]).toContain('<progress value="1.0000" max="1"');
  });

  it("a held update is sent by a timer when no further update comes", async () => {
    vi.useFakeTimers();
    const k = new FakeKernel();
    const p = notebookProgress({ display: k.display });
    p.start("x", 4);
    p.update(1);
    expect(k.displays).toHaveLength(1);
    vi.advanceTimersByTime(150);
    expect(k.displays).toHaveLength(2);
    expect(k.displays[1]!.bundle!["text/plain"]).toContain("1/4");
  });

  it("a hostile label or detail is escaped, never markup", () => {
    const k = new FakeKernel();
    const p = notebookProgress({ display: k.display });
    const evil = `<img src=x onerror="alert('x')"><script>alert(1)</script>&`;
    p.start(evil, 3);
    p.finish(evil);
    for (const d of k.displays) {
      const html = d.bundle!["text/html"] as string;
      expect(html).not.toContain("<img");
      expect(html).not.toContain("<script");
      expect(html).toContain("&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;");
      // The only tags are the display's own.
      const tags = [...html.matchAll(/<\/?([a-z]+)/g)].map((m) => m[1]);
      expect(new Set(tags)).toEqual(new Set(["div", "span", "progress"]));
    }
    expect(escapeHtml(`a"b'c`)).toBe("a&quot;b&#39;c");
  });

  it("unknown totals show an indeterminate bar; numbers cannot inject", () => {
    const b = progressBundle({ label: "scan", total: 0, done: 1234, detail: "", elapsedMs: 2000, finished: false });
    expect(b["text/html"]).toContain("<progress style=");
    expect(b["text/plain"]).toBe("scan [...] 1234/? · 617.0/s · 00:02");
    const n = progressBundle({ label: "", total: "<b>" as unknown as number, done: "<i>" as unknown as number, detail: "", elapsedMs: 0, finished: false });
    expect(n["text/html"]).not.toMatch(/<[bi]>/);
  });

  it("restarting opens a new display; autoProgress picks the notebook inside a kernel", () => {
    const k = new FakeKernel();
    setKernel(k);
    const p = autoProgress();
    p.start("a", 2);
    p.start("b", 2);
    p.finish();
    const ids = k.displays.filter((d) => d.kind === "display").map((d) => d.displayId);
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBe(ids[1]);
    expect(k.displays.map((d) => d.kind)).toEqual(["display", "update", "display", "update"]);
    setKernel(undefined);
    expect(() => notebookProgress()).toThrow(/not running in a kernel/);
  });
});
