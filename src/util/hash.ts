// sha256 as lowercase hex: the content hash every manifest, cache key and settings fingerprint uses.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** sha256 of a file, streamed (never the whole file in memory). */
export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const piece of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(piece as Buffer);
  return h.digest("hex");
}
