// Kernel logging to the process's real stderr (Jupyter keeps it in the server log). Cell output is captured
// separately (capture.ts replaces process.stdout/stderr.write), so the original write is kept here first.

// SAFESAIL_KERNEL_LOG=FILE appends the log to FILE instead (tests keep the runner's output clean that way);
// SAFESAIL_KERNEL_QUIET=1 drops it.
import { appendFileSync } from "node:fs";

const realStderrWrite = process.stderr.write.bind(process.stderr);
const logFile = process.env.SAFESAIL_KERNEL_LOG;

let quiet = process.env.SAFESAIL_KERNEL_QUIET === "1";

export function setQuiet(q: boolean): void {
  quiet = q;
}

export function log(message: string): void {
  if (quiet) return;
  const line = `[safesail kernel ${process.pid}] ${message}\n`;
  if (logFile) {
    try {
      appendFileSync(logFile, `${new Date().toISOString()} ${line}`);
      return;
    } catch {
      // fall back to stderr
    }
  }
  realStderrWrite(line);
}

const counts = new Map<string, number>();

/**
 * Logs a recurring problem (bad signature, malformed frame, unknown comm) the first 10 times and then on every
 * 1000th occurrence, so a flood of bad messages cannot flood the log.
 */
export function logLimited(kind: string, message: string): void {
  const n = (counts.get(kind) ?? 0) + 1;
  counts.set(kind, n);
  if (n <= 10) log(message + (n === 10 ? ` (further "${kind}" messages logged every 1000th)` : ""));
  else if (n % 1000 === 0) log(`${message} (${n} so far)`);
}
