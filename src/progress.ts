// One progress interface for long jobs: a bar on a terminal, plain lines when not a TTY (CI logs), and a
// hook for live notebook displays (the kernel supplies its own Progress implementation).

export interface Progress {
  /** Starts (or restarts) a task of `total` units; total 0 means unknown. */
  start(label: string, total: number): void;
  /** Sets the number of units done. */
  update(done: number, detail?: string): void;
  finish(detail?: string): void;
}

export const silentProgress: Progress = { start() {}, update() {}, finish() {} };

/** A terminal bar on stderr, redrawn at most every 100 ms. */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  let label = "";
  let total = 0;
  let done = 0;
  let started = 0;
  let lastDraw = 0;
  let lastLogged = -1;
  const tty = Boolean(stream.isTTY);
  const draw = (detail = "", force = false) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const secs = (now - started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const pct = total > 0 ? Math.min(1, done / total) : 0;
    if (tty) {
      const width = 30;
      const filled = Math.round(pct * width);
      const bar = total > 0 ? `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(pct * 100).toFixed(0).padStart(3)}%` : `${done}`;
      stream.write(`\r${label} ${bar} ${formatCount(done)}/${total > 0 ? formatCount(total) : "?"} ${rate.toFixed(1)}/s ${detail}`.slice(0, (stream.columns ?? 120) - 1).padEnd(Math.min(stream.columns ?? 120, 120) - 1));
    } else {
      // Without a terminal, log every 10% so CI logs stay short.
      // The 100% line is finish()'s alone (with its detail): an update reaching the total would print it twice.
      const decile = Math.floor(pct * 10);
      if (!force && (decile === lastLogged || (total > 0 && done >= total))) return;
      lastLogged = decile;
      stream.write(`${label}: ${formatCount(done)}/${total > 0 ? formatCount(total) : "?"} (${(pct * 100).toFixed(0)}%) ${detail}\n`);
    }
  };
  return {
    start(l, t) {
      label = l;
      total = t;
      done = 0;
      started = Date.now();
      lastLogged = -1;
      draw("", true);
    },
    update(d, detail) {
      done = d;
      draw(detail);
    },
    finish(detail = "") {
      draw(detail, true);
      if (tty) stream.write("\n");
    },
  };
}

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}
