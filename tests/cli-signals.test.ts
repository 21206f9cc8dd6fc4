// stopOnSignals: the first SIGINT/SIGTERM aborts (a job then checkpoints and exits 3), a second exits 130.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { stopOnSignals } from "../src/cli/signals.ts";

describe("stopOnSignals", () => {
  it("aborts on the first SIGINT or SIGTERM and removes its handlers on release", () => {
    const before = [process.listenerCount("SIGINT"), process.listenerCount("SIGTERM")];
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      const stop = stopOnSignals();
      expect(stop.signal.aborted).toBe(false);
      process.emit(sig);
      expect(stop.signal.aborted).toBe(true);
      stop.release();
      expect([process.listenerCount("SIGINT"), process.listenerCount("SIGTERM")]).toEqual(before);
    }
  });

  it("says what it does on the first signal and exits 130 on the second (a real process, real signals)", () => {
    const root = path.resolve(import.meta.dirname, "..");
    const script = [
      `import { stopOnSignals } from ${JSON.stringify(path.join(root, "src/cli/signals.ts"))};`,
      `const stop = stopOnSignals("job: stopping at the next checkpoint");`,
      `stop.signal.addEventListener("abort", () => { process.stdout.write("aborted\\n"); setTimeout(() => process.kill(process.pid, "SIGTERM"), 20); });`,
      `process.kill(process.pid, "SIGINT");`,
      `setTimeout(() => process.exit(0), 5000);`,
    ].join("\n");
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root, encoding: "utf8", timeout: 20_000 });
    expect(r.stdout).toBe("aborted\n");
    expect(r.stderr).toContain("job: stopping at the next checkpoint (Ctrl-C again to exit now)");
    expect(r.status).toBe(130);
  });
});
