// The terminal progress (src/progress.ts): without a TTY it logs every 10% and one final line; the finished line
// appears once, with finish()'s detail (issue 11: a finished task read "done" twice).
import { afterEach, describe, expect, it, vi } from "vitest";
import { terminalProgress } from "../src/progress.ts";

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let out = "";
  const stream = { isTTY, columns: 100, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

describe("terminalProgress", () => {
  afterEach(() => vi.useRealTimers());

  it("non-TTY: one line per decile, the 100% line once, from finish", () => {
    const { stream, text } = fakeStream(false);
    vi.useFakeTimers({ now: 0 });
    const p = terminalProgress(stream);
    p.start("train", 40);
    for (let i = 1; i <= 40; i++) {
      vi.advanceTimersByTime(250); // past the 100 ms redraw limit
      p.update(i, `step ${i}`);
    }
    p.finish("done at step 40/40");
    const lines = text().trimEnd().split("\n");
    expect(lines[0]).toBe("train: 0/40 (0%) ");
    expect(lines.filter((l) => l.includes("(100%)"))).toEqual(["train: 40/40 (100%) done at step 40/40"]);
    expect(text().match(/done/g)).toHaveLength(1);
    expect(lines).toHaveLength(11); // 0%, 10%..90%, 100%
  });

  it("TTY: the bar ends with finish's detail and a newline, 'done' once", () => {
    const { stream, text } = fakeStream(true);
    const p = terminalProgress(stream);
    p.start("harvest", 10);
    p.update(10, "x");
    p.finish("done at step 10/10");
    const last = text().split("\r").pop()!;
    expect(last).toContain("[##############################] 100% 10/10");
    expect(last.match(/done/g)).toHaveLength(1);
    expect(text().endsWith("\n")).toBe(true);
  });
});
