import { defineConfig } from "vitest/config";

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
