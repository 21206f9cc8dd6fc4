// Atomic file writes: write to a temp file in the destination folder, fsync, then rename over the target.
// A crash leaves either the old file or the new one, never a half-written one.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";

/** Temp path next to `target` (same folder, so the final rename stays on one file system). */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
}

/** fsync a folder so a rename inside it is durable; ignored where folders cannot be opened (Windows). */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, "r");
    await handle.sync();
  } catch {
    // not supported on every platform / file system
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Runs `write` against a fresh temp file handle next to `target`, fsyncs and renames it into place.
 * The temp file is removed when `write` throws.
 */
export async function withAtomicFile(target: string, write: (handle: fsp.FileHandle, tmpPath: string) => Promise<void>): Promise<void> {
  const dir = path.dirname(target);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = tempPathFor(target);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, "wx");
    await write(handle, tmp);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, target);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

/** Writes `data` to `target` atomically (temp file in the same folder + fsync + rename). */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await withAtomicFile(target, async (handle) => {
    await handle.writeFile(data);
  });
}

/** Writes `value` as pretty-printed JSON (with a trailing newline) atomically. */
export async function writeJsonAtomic(target: string, value: unknown, indent = 2): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, indent) + "\n");
}
