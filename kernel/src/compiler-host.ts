// Adjustments to the file system view of tslab's compiler (`@tslab/typescript-for-tslab`'s `ts.sys`, which
// tslab's converter reads through).
//
// 1. Paths: every file-system call goes through a path map (modules.ts maps `<cwd>/node_modules/safesail/*` to
//    the generated declarations).
// 2. No live file watching. tslab drives TypeScript's watch program with a single-slot timer and throws
//    ("Unexpected pending rebuildTimer") when a watcher schedules a rebuild it did not ask for; any change under
//    a watched folder (node_modules/.cache or .vite written by other tools, a package install) would then break
//    every later cell. So watchers are inert here, and the files a cell compiled from the notebook's own folder
//    (local .ts modules, not node_modules or TypeScript's libs) are checked by mtime before each cell instead:
//    a changed one is reported to its watcher callback then, when tslab is ready to rebuild.
import { statSync } from "node:fs";

type TslabTs = typeof import("@tslab/typescript-for-tslab");

interface Watched {
  path: string;
  mtime: number;
  callback: (fileName: string, eventKind: number) => void;
}

export interface CompilerHostPatch {
  /** Calls watcher callbacks of local files that changed since last time. */
  pollChanges(): void;
}

const installed = new WeakMap<object, CompilerHostPatch>();

function mtimeOf(p: string): number {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return -1;
  }
}

export function patchTslabSys(ts: TslabTs, mapPath: (p: string) => string): CompilerHostPatch {
  const existing = installed.get(ts.sys);
  if (existing) return existing;
  const sys = ts.sys as unknown as Record<string, unknown>;
  for (const name of ["fileExists", "directoryExists", "readFile", "realpath", "getModifiedTime", "getFileSize", "readDirectory", "getDirectories"]) {
    const orig = sys[name];
    if (typeof orig !== "function") continue;
    sys[name] = function (this: unknown, p: string, ...rest: unknown[]) {
      return (orig as (...a: unknown[]) => unknown).call(this, mapPath(p), ...rest);
    };
  }
  const watched = new Map<Watched, true>();
  const inert = { close() {} };
  sys.watchFile = (path: string, callback: Watched["callback"]) => {
    const real = mapPath(path);
    if (/[\\/]node_modules[\\/]/.test(real) || /[\\/]lib\.[^\\/]*\.d\.ts$/.test(real)) return inert;
    const w: Watched = { path: real, mtime: mtimeOf(real), callback };
    watched.set(w, true);
    return { close: () => watched.delete(w) };
  };
  sys.watchDirectory = () => inert;
  const patch: CompilerHostPatch = {
    pollChanges() {
      for (const w of [...watched.keys()]) {
        const m = mtimeOf(w.path);
        if (m === w.mtime) continue;
        w.mtime = m;
        w.callback(w.path, m < 0 ? ts.FileWatcherEventKind.Deleted : ts.FileWatcherEventKind.Changed);
      }
    },
  };
  installed.set(ts.sys, patch);
  return patch;
}
