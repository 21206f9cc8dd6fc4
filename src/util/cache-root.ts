// The one root of safesail's local caches: `$SAFESAIL_CACHE`, else `$XDG_CACHE_HOME/safesail`, else
// `~/.cache/safesail`. Each cache lives in a folder of its own under it (`weights/`: src/model/weight-cache.ts;
// `s3/`: copies of object-storage folders, src/storage/object-store.ts).
import * as os from "node:os";
import * as path from "node:path";

export function safesailCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SAFESAIL_CACHE) return path.resolve(env.SAFESAIL_CACHE);
  if (env.XDG_CACHE_HOME) return path.resolve(env.XDG_CACHE_HOME, "safesail");
  return path.join(os.homedir(), ".cache", "safesail");
}
