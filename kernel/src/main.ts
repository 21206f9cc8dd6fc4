// Kernel entry: `node <repo>/bin/safesail.js kernel run <connection_file>` (the kernelspec's argv) ends up here.
import { readConnection } from "./connection.ts";
import { Kernel } from "./kernel.ts";
import { log } from "./log.ts";

/** Runs a kernel on `connectionFile` until it is shut down; returns the process exit code. */
export async function runKernel(connectionFile: string): Promise<number> {
  const connection = readConnection(connectionFile);
  const kernel = new Kernel({ connection });
  try {
    await kernel.start();
  } catch (err) {
    log(`failed to start: ${(err as Error).stack ?? String(err)}`);
    await kernel.shutdown(false, 1);
    return 1;
  }
  await kernel.finished;
  return typeof process.exitCode === "number" ? process.exitCode : 0;
}
