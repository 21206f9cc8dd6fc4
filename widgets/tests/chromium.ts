// Which browser the tests drive, and how: Debian's chromium (never a downloaded one). No vitest import here, so
// the global setup can load it.
export const CHROMIUM = process.env.SAFESAIL_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
