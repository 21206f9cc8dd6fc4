// sanitize-html, re-exported behind a local declaration file (sanitize-html-lib.d.ts). Why: the repository's
// `npx tsc` is tslab's TypeScript 5.0 (its bin shadows the project's 5.9), which cannot parse
// @types/sanitize-html 2.16 (import attributes need 5.3); importing through this file keeps that declaration file
// out of every program. Node, tsx, vitest and esbuild all load the real package through it.
export { default } from "sanitize-html";
