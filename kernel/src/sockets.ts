// Small helpers over zeromq.js sockets shared by the main thread and the io worker.
import { logLimited } from "./log.ts";

interface SendSocket {
  readonly closed: boolean;
  send(frames: Buffer[]): Promise<void>;
}

/**
 * Serialises sends on one socket: zeromq.js allows a single pending send per socket, and a send can wait when a
 * peer's queue is full. Send errors are logged, never thrown.
 */
export class SendQueue {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly socket: SendSocket, private readonly name: string) {}

  send(frames: Buffer[]): void {
    this.pending++;
    if (this.pending === 1) {
      // Nothing queued: send right away (resolves immediately when the message could be queued by zeromq).
      this.chain = this.trySend(frames);
    } else {
      this.chain = this.chain.then(() => this.trySend(frames));
    }
  }

  private async trySend(frames: Buffer[]): Promise<void> {
    try {
      if (!this.socket.closed) await this.socket.send(frames);
    } catch (err) {
      logLimited(`send-${this.name}`, `${this.name}: send failed: ${(err as Error).message}`);
    } finally {
      this.pending--;
    }
  }

  /** Resolves when every queued message has been handed to zeromq. */
  flush(): Promise<void> {
    return this.chain;
  }
}

/** Buffers as they arrive over `postMessage` (structured clone turns Buffers into Uint8Arrays). */
export function asBuffers(frames: readonly Uint8Array[]): Buffer[] {
  return frames.map((f) => (Buffer.isBuffer(f) ? f : Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
}
