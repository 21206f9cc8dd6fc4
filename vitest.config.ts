import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

// The float32 weight caches of the test models (src/model/weight-cache.ts) go to one temp folder, not the user's
// ~/.cache; the lab's kernels and every spawned CLI inherit it.
process.env.SAFESAIL_CACHE ??= join(tmpdir(), "safesail-test-cache");

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts", "kernel/tests/**/*.test.ts", "widgets/tests/**/*.test.ts"],
    // One Chromium (and one lab) shared by every browser test file.
    globalSetup: ["widgets/tests/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two test files at a time, also on a 2-core machine (vitest's default there is one): most files spend much of
    // their time waiting on child processes, a kernel, the lab or Chromium, so two overlap well (CI: 1,718 s of
    // tests in one worker).
    maxWorkers: 2,
    minWorkers: 1,
  },
});
