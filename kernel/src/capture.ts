// stdout/stderr of cell code as Jupyter `stream` messages.
//
// process.stdout.write and process.stderr.write are replaced (console.log and friends write through them), the
// text is buffered per stream and flushed as one `stream` message: after 50 ms, when 64 KiB pile up, when the
// owning request changes, or before any other iopub message (so output stays in order). A flush is also due
// when 100 ms passed since the last one even if timers cannot run, so a long synchronous loop that prints
// streams live (iopub is sent from the io thread).
import { StringDecoder } from "node:string_decoder";
import type { Header } from "./wire.ts";

export type StreamName = "stdout" | "stderr";
type Parent = Header | Record<string, never>;
export type StreamSink = (name: StreamName, text: string, parent: Parent) => void;

const FLUSH_DELAY_MS = 50;
const FLUSH_SIZE = 64 * 1024;
const MAX_STALE_MS = 100;

interface Pending {
  text: string;
  parent: Parent | null;
  decoder: StringDecoder;
}

type WriteFn = typeof process.stdout.write;

export class StreamCapture {
  private readonly pending: Record<StreamName, Pending> = {
    stdout: { text: "", parent: null, decoder: new StringDecoder("utf8") },
    stderr: { text: "", parent: null, decoder: new StringDecoder("utf8") },
  };
  private timer: NodeJS.Timeout | null = null;
  private lastFlush = Date.now();
  private originals: { stdout: WriteFn; stderr: WriteFn } | null = null;

  constructor(private readonly sink: StreamSink, private readonly currentParent: () => Parent) {}

  install(): void {
    if (this.originals) return;
    this.originals = { stdout: process.stdout.write, stderr: process.stderr.write };
    process.stdout.write = this.writer("stdout");
    process.stderr.write = this.writer("stderr");
  }

  uninstall(): void {
    if (!this.originals) return;
    this.flush();
    process.stdout.write = this.originals.stdout;
    process.stderr.write = this.originals.stderr;
    this.originals = null;
  }

  private writer(name: StreamName): WriteFn {
    const self = this;
    return function write(chunk: unknown, encodingOrCb?: unknown, cb?: unknown): boolean {
      const callback = typeof encodingOrCb === "function" ? encodingOrCb : typeof cb === "function" ? cb : undefined;
      const encoding = typeof encodingOrCb === "string" ? (encodingOrCb as BufferEncoding) : undefined;
      let text: string;
      if (typeof chunk === "string") text = encoding && encoding !== "utf8" && encoding !== "utf-8" ? Buffer.from(chunk, encoding).toString("utf8") : chunk;
      else if (chunk instanceof Uint8Array) text = self.pending[name].decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      else text = String(chunk);
      self.append(name, text);
      if (callback) queueMicrotask(() => (callback as (err?: Error | null) => void)(null));
      return true;
    } as WriteFn;
  }

  /** Adds text as if written by cell code (also used for output produced by the kernel on a cell's behalf). */
  append(name: StreamName, text: string): void {
    if (!text) return;
    const p = this.pending[name];
    const parent = this.currentParent();
    if (p.parent !== null && p.parent !== parent) this.flushOne(name);
    // Keep stdout/stderr interleaving: what the other stream buffered was written first.
    const other = name === "stdout" ? "stderr" : "stdout";
    if (this.pending[other].text) this.flushOne(other);
    p.parent = parent;
    p.text += text;
    if (p.text.length >= FLUSH_SIZE || Date.now() - this.lastFlush >= MAX_STALE_MS) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, FLUSH_DELAY_MS);
    }
  }

  private flushOne(name: StreamName): void {
    const p = this.pending[name];
    if (p.text && p.parent) this.sink(name, p.text, p.parent);
    p.text = "";
    p.parent = null;
  }

  /** Sends whatever is buffered. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.lastFlush = Date.now();
    this.flushOne("stdout");
    this.flushOne("stderr");
  }
}
