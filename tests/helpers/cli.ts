// Runs the real `safesail` command in a child process, as users do, and collects its exit code and output.
import { execFile } from "node:child_process";
import { resolve } from "node:path";

export const BIN = resolve(import.meta.dirname, "../../bin/safesail.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `safesail ...args` with extra environment variables; never rejects (a failure is a non-zero code). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
