// The embed bundle for published pages: widgets/dist/embed.js, (re)built by widgets/scripts/build-embed.mjs when
// it is missing or older than any of its inputs (esbuild, about a second), then read once per publish run.
import { readFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";

export const BUILD_SCRIPT = fileURLToPath(new URL("../../scripts/build-embed.mjs", import.meta.url));

/** What build-embed.mjs exports (it is plain JavaScript, loaded at run time). */
interface BuildModule {
  EMBED_JS: string;
  isStale(): string | null;
  buildEmbed(opts?: { minify?: boolean; typecheck?: boolean }): Promise<{ path: string; bytes: number; seconds: number; views: string | null }>;
}

let build: Promise<BuildModule> | undefined;

function buildModule(): Promise<BuildModule> {
  build ??= import(pathToFileURL(BUILD_SCRIPT).href) as Promise<BuildModule>;
  return build;
}

/** Path of the bundle (whether or not it exists yet). */
export async function embedPath(): Promise<string> {
  return (await buildModule()).EMBED_JS;
}

/**
 * The bundle's text, built first when it is missing or stale; `log` hears why and how long it took (the CLI
 * prints it on stderr).
 */
export async function loadEmbedJs(log: (message: string) => void = () => {}): Promise<string> {
  const m = await buildModule();
  const why = m.isStale();
  if (why) {
    log(`building the widget embed bundle (${why}) ...`);
    const r = await m.buildEmbed();
    log(`built ${r.path}: ${(r.bytes / 1e6).toFixed(2)} MB in ${r.seconds.toFixed(1)} s`);
  }
  return readFile(m.EMBED_JS, "utf8");
}
