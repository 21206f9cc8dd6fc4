// The kernel: sockets, message dispatch and the handlers of the Jupyter messaging protocol 5.3.
//
// Threads: the main thread owns shell and stdin and runs cells; the io worker (io-worker.ts) owns heartbeat,
// control and iopub. Everything the main thread publishes is signed here and posted to the worker.
//
// Scheduling: execute_requests run one at a time in arrival order. Every other shell message (comm messages,
// completion, inspection, kernel_info, ...) is handled as soon as it arrives, also while an async cell is
// awaiting, so a cell can wait for a widget event. Each handled request gets busy/idle status messages
// parented to it. After an error in a cell run with stop_on_error, execute_requests already received are
// answered `aborted` (as ipykernel does).
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { Router } from "zeromq";
import { setKernel } from "./api.ts";
import { attachWidgets } from "./widgets/widget.ts";
import { StreamCapture, type StreamName } from "./capture.ts";
import { KernelCommManager } from "./comms.ts";
import { endpoint, type ConnectionInfo } from "./connection.ts";
import { KernelDisplay, richRepr } from "./display.ts";
import { errorResult, Executor, type ExecResult } from "./executor.ts";
import { History } from "./history.ts";
import type { FromIo, IoWorkerData, ToIo } from "./io-worker.ts";
import { log, logLimited } from "./log.ts";
import { REPO_ROOT } from "./modules.ts";
import { SendQueue } from "./sockets.ts";
import type { JsonObject, KernelApi } from "./types.ts";
import { parseMessage, PROTOCOL_VERSION, replyType, serializeMessage, Session, Signer, type Header, type Message } from "./wire.ts";

type Parent = Header | Record<string, never>;

/**
 * What the kernel registers for cells and widgets: KernelApi plus the header of the request being handled
 * (Output widgets capture output by its msg_id).
 */
export interface KernelApiExtras extends KernelApi {
  parentHeader(): Parent;
  parentMsgId(): string | undefined;
}
type Channel = "shell" | "control";

export interface KernelOptions {
  connection: ConnectionInfo;
  /** History file (JSON lines); default $SAFESAIL_KERNEL_HISTORY, else memory only. */
  historyFile?: string;
  /** How long a control shutdown_request may take before the io thread kills the process (ms). */
  shutdownGraceMs?: number;
}

function kernelVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, "kernel", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

function tslabTypescriptVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", "@tslab", "typescript-for-tslab", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "5.0";
  }
}

function str(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : fallback;
}
function int(v: unknown, fallback: number): number {
  return typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : fallback;
}

/** `Math.max?` or `x.y??` (a name path and question marks, nothing else) asks for help on the name; else null. */
export function helpTarget(code: string): string | null {
  const m = /^\s*([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)\s*\?{1,2}\s*$/.exec(code);
  return m ? m[1]!.replace(/\s+/g, "") : null;
}

interface Queued {
  msg: Message;
  channel: Channel;
}

export class Kernel {
  readonly session: Session;
  readonly comms: KernelCommManager;
  readonly display: KernelDisplay;
  readonly executor: Executor;
  readonly history: History;
  private readonly signer: Signer;
  private readonly info: ConnectionInfo;
  private readonly shell = new Router({ linger: 1000 });
  private readonly stdin = new Router({ linger: 0 });
  private readonly shellOut = new SendQueue(this.shell, "shell");
  private io: Worker | null = null;
  private readonly capture: StreamCapture;
  private executionCount = 0;
  private lastExecute: Parent = {};
  /** The request whose handler is running right now (set synchronously around handlers). */
  private handling: Header | null = null;
  private readonly queue: Queued[] = [];
  private draining = false;
  private closing = false;
  private done!: () => void;
  readonly finished: Promise<void>;
  private readonly opts: KernelOptions;
  private readonly api: KernelApiExtras;

  constructor(opts: KernelOptions) {
    this.opts = opts;
    this.info = opts.connection;
    this.signer = new Signer(this.info.key, this.info.signature_scheme);
    let username = "kernel";
    try {
      username = userInfo().username;
    } catch {
      // no passwd entry (containers)
    }
    this.session = new Session(username);
    this.comms = new KernelCommManager({
      publish: (type, content, metadata, buffers) => this.publish(type, content, this.currentParent(), metadata, buffers),
    });
    this.display = new KernelDisplay((type, content) => this.publish(type, content, this.currentParent()));
    this.executor = new Executor();
    const historyFile = opts.historyFile ?? process.env.SAFESAIL_KERNEL_HISTORY;
    this.history = new History(historyFile ? { file: historyFile } : {});
    this.capture = new StreamCapture((name, text, parent) => this.publishStream(name, text, parent), () => this.currentParent());
    this.api = {
      comms: this.comms,
      display: this.display,
      parentHeader: () => this.currentParent(),
      parentMsgId: () => (this.currentParent() as Partial<Header>).msg_id,
    };
    this.finished = new Promise((r) => (this.done = r));
  }

  /** Parent for output and comm messages: the request being handled, else the last execute_request. */
  currentParent(): Parent {
    return this.handling ?? this.lastExecute;
  }

  async start(): Promise<void> {
    await Promise.all([this.shell.bind(endpoint(this.info, "shell")), this.stdin.bind(endpoint(this.info, "stdin"))]);
    await this.startIo();
    this.capture.install();
    // Registers the API under the global key getKernel() reads, and the widget control comm target.
    attachWidgets(this.api);
    // An interrupt with no cell running does nothing and is not logged: jupyter_client interrupts every kernel it
    // shuts down (KernelManager.shutdown_kernel), so `safesail notebooks run` would log it once per notebook.
    process.on("SIGINT", () => {
      this.executor.interrupt();
    });
    process.on("uncaughtException", (err) => this.reportBackgroundError("uncaught exception", err));
    process.on("unhandledRejection", (err) => this.reportBackgroundError("unhandled promise rejection", err));
    this.publish("status", { execution_state: "starting" }, {});
    void this.serveShell();
    void this.serveStdin();
    // The converter takes a few hundred ms to create: do it now, after the sockets answer.
    setTimeout(() => {
      try {
        this.executor.warm();
      } catch (err) {
        log(`cannot create the TypeScript converter: ${(err as Error).stack}`);
      }
    }, 0);
    log(`started (pid ${process.pid}, session ${this.session.session}, shell ${endpoint(this.info, "shell")})`);
  }

  private startIo(): Promise<void> {
    const workerUrl = new URL("./io-worker.ts", import.meta.url).href;
    const tsxApi = import.meta.resolve("tsx/esm/api");
    // The worker is TypeScript too: register tsx's loader in it before importing it.
    const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl)}); })`;
    const data: IoWorkerData = {
      connection: this.info,
      session: this.session.session,
      username: this.session.username,
      shutdownGraceMs: this.opts.shutdownGraceMs ?? 5000,
    };
    const io = new Worker(boot, { eval: true, workerData: data, stdout: false, stderr: false });
    this.io = io;
    return new Promise((resolve, reject) => {
      io.on("message", (m: FromIo) => {
        switch (m.type) {
          case "ready":
            resolve();
            return;
          case "fatal":
            reject(new Error(m.message));
            return;
          case "control":
            this.onMessage(m.msg, "control");
            return;
          case "shutdown":
            void this.shutdown(m.restart);
            return;
          case "closed":
            return;
        }
      });
      io.on("error", (err) => {
        log(`io thread failed: ${err.stack ?? err.message}`);
        reject(err);
        if (!this.closing) void this.shutdown(false, 1);
      });
    });
  }

  private toIo(m: ToIo, transfer: ArrayBuffer[] = []): void {
    this.io?.postMessage(m, transfer);
  }

  /** Frames for the io worker: fresh copies (so pooled or user-owned buffers are never detached), transferred. */
  private post(type: "iopub" | "control-reply", frames: Buffer[]): void {
    const copies = frames.map((f) => new Uint8Array(f));
    this.toIo({ type, frames: copies }, copies.map((c) => c.buffer as ArrayBuffer));
  }

  publish(msgType: string, content: unknown, parent: Parent, metadata: JsonObject = {}, buffers: readonly Uint8Array[] = []): void {
    this.capture.flush();
    this.publishRaw(msgType, content, parent, metadata, buffers);
  }

  private publishRaw(msgType: string, content: unknown, parent: Parent, metadata: JsonObject = {}, buffers: readonly Uint8Array[] = []): void {
    const m = this.session.make(msgType, content, parent, [Buffer.from(`kernel.${this.session.session}.${msgType}`)], metadata, buffers);
    this.post("iopub", serializeMessage(m, this.signer));
  }

  private publishStream(name: StreamName, text: string, parent: Parent): void {
    this.publishRaw("stream", { name, text }, parent);
  }

  private send(channel: Channel, req: Message, msgType: string, content: unknown, metadata: JsonObject = {}): void {
    const frames = serializeMessage(this.session.make(msgType, content, req.header, req.identities, metadata), this.signer);
    if (channel === "shell") this.shellOut.send(frames);
    else this.post("control-reply", frames);
  }

  private status(state: "busy" | "idle", parent: Parent): void {
    this.publish("status", { execution_state: state }, parent);
  }

  private reportBackgroundError(what: string, err: unknown): void {
    const r = errorResult(err);
    log(`${what}: ${r.traceback.join("\n")}`);
    // Shown as stderr of the request it belongs to (or the last cell).
    this.capture.append("stderr", `${what}: ${r.traceback.join("\n")}\n`);
  }

  private async serveShell(): Promise<void> {
    try {
      for await (const frames of this.shell) this.onFrames(frames, "shell");
    } catch (err) {
      if (!this.closing) log(`shell socket stopped: ${(err as Error).message}`);
    }
  }

  private async serveStdin(): Promise<void> {
    try {
      // input_request is not used by this kernel; replies arriving here are read and dropped.
      for await (const frames of this.stdin) {
        const r = parseMessage(frames, this.signer);
        logLimited("stdin", `stdin: ignored ${r.ok ? r.msg.header.msg_type : `bad message (${r.reason})`}`);
      }
    } catch (err) {
      if (!this.closing) log(`stdin socket stopped: ${(err as Error).message}`);
    }
  }

  private onFrames(frames: Buffer[], channel: Channel): void {
    const r = parseMessage(frames, this.signer);
    if (!r.ok) {
      logLimited(`${channel}-bad`, `${channel}: dropped a message: ${r.reason}`);
      return;
    }
    this.onMessage(r.msg, channel);
  }

  private onMessage(msg: Message, channel: Channel): void {
    if (this.closing) return;
    // Buffers posted from the io worker arrive as Uint8Arrays.
    msg.identities = msg.identities.map((b) => (Buffer.isBuffer(b) ? b : Buffer.from(b as Uint8Array)));
    msg.buffers = msg.buffers.map((b) => (Buffer.isBuffer(b) ? b : Buffer.from(b as Uint8Array)));
    if (msg.header.msg_type === "execute_request") {
      this.queue.push({ msg, channel });
      void this.drain();
      return;
    }
    this.status("busy", msg.header);
    const prev = this.handling;
    this.handling = msg.header;
    try {
      this.handle(msg, channel);
    } catch (err) {
      log(`${msg.header.msg_type}: handler failed: ${(err as Error).stack ?? String(err)}`);
      if (msg.header.msg_type.endsWith("_request")) {
        const e = errorResult(err);
        this.send(channel, msg, replyType(msg.header.msg_type), { status: "error", ename: e.ename, evalue: e.evalue, traceback: e.traceback });
      }
    } finally {
      this.handling = prev;
    }
    this.status("idle", msg.header);
  }

  private handle(msg: Message, channel: Channel): void {
    const c = msg.content;
    const type = msg.header.msg_type;
    switch (type) {
      case "kernel_info_request":
        this.send(channel, msg, "kernel_info_reply", this.kernelInfo());
        return;
      case "complete_request": {
        const code = str(c.code);
        const r = this.executor.complete(code, int(c.cursor_pos, [...code].length));
        this.send(channel, msg, "complete_reply", { status: "ok", matches: r.matches, cursor_start: r.cursorStart, cursor_end: r.cursorEnd, metadata: {} });
        return;
      }
      case "inspect_request": {
        const code = str(c.code);
        const text = this.executor.inspect(code, int(c.cursor_pos, [...code].length));
        this.send(channel, msg, "inspect_reply", { status: "ok", found: text !== null, data: text === null ? {} : { "text/plain": text }, metadata: {} });
        return;
      }
      case "is_complete_request":
        this.send(channel, msg, "is_complete_reply", this.executor.isComplete(str(c.code)));
        return;
      case "history_request":
        this.send(channel, msg, "history_reply", { status: "ok", history: this.historyReply(c) });
        return;
      case "comm_info_request":
        this.send(channel, msg, "comm_info_reply", this.comms.info(c));
        return;
      case "comm_open":
        this.comms.handleOpen(msg);
        return;
      case "comm_msg":
        this.comms.handleMsg(msg);
        return;
      case "comm_close":
        this.comms.handleClose(msg);
        return;
      case "interrupt_request":
        // Normally answered by the io thread on control; on shell (or forwarded) interrupt directly.
        this.executor.interrupt();
        this.send(channel, msg, "interrupt_reply", { status: "ok" });
        return;
      case "shutdown_request": {
        const restart = c.restart === true;
        this.send(channel, msg, "shutdown_reply", { status: "ok", restart });
        void this.shutdown(restart);
        return;
      }
      default:
        logLimited("unknown-type", `${channel}: unknown message type ${JSON.stringify(type).slice(0, 80)}`);
        if (type.endsWith("_request")) {
          this.send(channel, msg, replyType(type), { status: "error", ename: "UnknownMessageType", evalue: `unknown message type: ${type}`, traceback: [] });
        }
    }
  }

  kernelInfo(): JsonObject {
    return {
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "safesail",
      implementation_version: kernelVersion(),
      language_info: {
        name: "typescript",
        version: tslabTypescriptVersion(),
        mimetype: "text/typescript",
        file_extension: ".ts",
        codemirror_mode: { name: "javascript", typescript: true },
        pygments_lexer: "typescript",
      },
      banner: `safesail TypeScript kernel ${kernelVersion()} (Node.js ${process.version}, TypeScript ${tslabTypescriptVersion()} via tslab)`,
      help_links: [
        { text: "Safe-SAIL (arXiv 2509.18127)", url: "https://arxiv.org/abs/2509.18127" },
        { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/intro.html" },
        { text: "Node.js API", url: "https://nodejs.org/docs/latest-v20.x/api/" },
      ],
      debugger: false,
    };
  }

  private historyReply(c: JsonObject): unknown[] {
    const output = c.output === true;
    switch (c.hist_access_type) {
      case "tail":
        return this.history.tail(int(c.n, 10), output);
      case "range":
        return this.history.range(int(c.session, 0), int(c.start, 0), c.stop === undefined || c.stop === null ? undefined : int(c.stop, 0), output);
      case "search":
        return this.history.search(str(c.pattern, "*"), c.n === undefined || c.n === null ? undefined : int(c.n, 0), c.unique === true, output);
      default:
        return [];
    }
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.closing) {
        const { msg, channel } = this.queue.shift()!;
        await this.runExecute(msg, channel);
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * The execute_requests waiting behind one that failed: two event-loop turns first let the shell reader take in
   * what is already on the socket (one poll phase drains it), as ipykernel flushes its stream before aborting.
   */
  private async takeQueued(): Promise<Queued[]> {
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    return this.queue.splice(0);
  }

  /** Answers `aborted` (with busy/idle) to each request. */
  private abort(requests: Queued[]): void {
    for (const { msg, channel } of requests) {
      this.status("busy", msg.header);
      this.send(channel, msg, "execute_reply", { status: "aborted", execution_count: this.executionCount });
      this.status("idle", msg.header);
    }
  }

  /** Runs one execute_request. */
  private async runExecute(msg: Message, channel: Channel): Promise<void> {
    const c = msg.content;
    const code = str(c.code);
    const silent = c.silent === true;
    const storeHistory = !silent && c.store_history !== false;
    this.status("busy", msg.header);
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    this.lastExecute = msg.header;
    const prev = this.handling;
    this.handling = msg.header;
    let result: ExecResult;
    try {
      if (!silent) this.publish("execute_input", { code, execution_count: count }, msg.header);
      if (storeHistory) this.history.add(count, code);
      const help = helpTarget(code);
      let payload: JsonObject[] = [];
      if (help !== null) {
        // IPython-style `name?`: the type and docs of `name` as a pager payload.
        const text = this.executor.inspect(help, [...help].length);
        if (text !== null) payload = [{ source: "page", data: { "text/plain": text }, start: 0 }];
        else process.stdout.write(`no documentation found for ${help}\n`);
        result = { status: "ok", hasValue: false };
      } else {
        result = await this.executor.execute(code, `<cell ${count}>`);
      }
      this.capture.flush();
      if (result.status === "ok") {
        if (result.hasValue && !silent) {
          const rich = richRepr(result.value);
          this.publish("execute_result", { execution_count: count, data: rich.data, metadata: rich.metadata }, msg.header);
          if (storeHistory && typeof rich.data["text/plain"] === "string") this.history.setOutput(count, rich.data["text/plain"]);
        }
        this.send(channel, msg, "execute_reply", { status: "ok", execution_count: count, payload, user_expressions: this.userExpressions(c.user_expressions) }, { status: "ok" });
      } else {
        this.publish("error", { ename: result.ename, evalue: result.evalue, traceback: result.traceback }, msg.header);
        // Pick what to abort before replying (all of it was sent before the client could know of the error),
        // then reply in order: this request first, the aborted ones after.
        const aborted = !silent && c.stop_on_error !== false ? await this.takeQueued() : [];
        this.send(channel, msg, "execute_reply", { status: "error", execution_count: count, ename: result.ename, evalue: result.evalue, traceback: result.traceback, payload: [], user_expressions: {} }, { status: "error" });
        this.abort(aborted);
      }
    } finally {
      this.handling = prev;
    }
    this.status("idle", msg.header);
  }

  private userExpressions(exprs: unknown): JsonObject {
    const out: JsonObject = {};
    if (typeof exprs !== "object" || exprs === null) return out;
    for (const [key, expr] of Object.entries(exprs as Record<string, unknown>)) {
      try {
        const rich = richRepr(this.executor.evaluateExpression(str(expr)));
        out[key] = { status: "ok", data: rich.data, metadata: rich.metadata };
      } catch (err) {
        const e = errorResult(err);
        out[key] = { status: "error", ename: e.ename, evalue: e.evalue, traceback: e.traceback };
      }
    }
    return out;
  }

  /** Stops serving, closes the sockets and the io thread; resolves `finished` with the process's exit code. */
  async shutdown(restart: boolean, exitCode = 0): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    log(`shutting down${restart ? " (restart requested)" : ""}`);
    this.executor.interrupt();
    this.capture.flush();
    await this.shellOut.flush();
    const io = this.io;
    if (io) {
      const closed = new Promise<void>((r) => {
        io.on("message", (m: FromIo) => m.type === "closed" && r());
        io.on("exit", () => r());
      });
      this.toIo({ type: "close" });
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
      // Wait until the worker is fully gone (its zeromq context flushed and terminated): exiting the process
      // while that teardown runs corrupts the heap.
      await Promise.race([io.terminate(), new Promise((r) => setTimeout(r, 3000))]);
    }
    for (const s of [this.shell, this.stdin]) if (!s.closed) s.close();
    this.capture.uninstall();
    this.executor.close();
    setKernel(undefined);
    process.exitCode = exitCode;
    this.done();
  }
}
