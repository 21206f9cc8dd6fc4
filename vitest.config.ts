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
  },
});
