// The kernel's io thread (a worker_thread): heartbeat, the control channel and the iopub socket.
//
// They live here so a long synchronous computation on the main thread neither looks dead (heartbeat keeps
// echoing) nor blocks control: `interrupt_request` is answered here by raising SIGINT in the process, which
// stops a blocking cell (vm breakOnSigint) or an awaiting one (the executor's SIGINT handler). iopub is here
// too, so output that a synchronous cell writes (posted from the main thread as already-signed frames) reaches
// the front end while the cell is still running.
//
// Messages with the main thread (postMessage):
//   main -> io: {type: "iopub", frames} | {type: "control-reply", frames} | {type: "close"}
//   io -> main: {type: "ready"} | {type: "fatal", message} | {type: "control", msg} | {type: "shutdown", restart}
//               | {type: "closed"}
import { parentPort, workerData } from "node:worker_threads";
import { Publisher, Reply, Router } from "zeromq";
import { endpoint, type ConnectionInfo } from "./connection.ts";
import { log, logLimited } from "./log.ts";
import { asBuffers, SendQueue } from "./sockets.ts";
import { parseMessage, serializeMessage, Session, Signer, type Header, type Message } from "./wire.ts";

export interface IoWorkerData {
  connection: ConnectionInfo;
  session: string;
  username: string;
  /** Milliseconds the process may take to exit after a control shutdown_request before it is killed. */
  shutdownGraceMs: number;
}

export type ToIo = { type: "iopub"; frames: Uint8Array[] } | { type: "control-reply"; frames: Uint8Array[] } | { type: "close" };
export type FromIo =
  | { type: "ready" }
  | { type: "fatal"; message: string }
  | { type: "control"; msg: Message }
  | { type: "shutdown"; restart: boolean }
  | { type: "closed" };

const port = parentPort!;
const data = workerData as IoWorkerData;
const info = data.connection;
const signer = new Signer(info.key, info.signature_scheme);
const session = new Session(data.username, data.session);
const post = (m: FromIo) => port.postMessage(m);

const hb = new Reply({ linger: 0 });
const control = new Router({ linger: 1000 });
const iopub = new Publisher({ linger: 1000, sendHighWaterMark: 100_000 });
const controlOut = new SendQueue(control, "control");
const iopubOut = new SendQueue(iopub, "iopub");

function publish(msgType: string, content: unknown, parent: Header): void {
  const m = session.make(msgType, content, parent, [Buffer.from(`kernel.${session.session}.${msgType}`)]);
  iopubOut.send(serializeMessage(m, signer));
}

function reply(req: Message, content: unknown): void {
  const type = req.header.msg_type.replace(/_request$/, "_reply");
  controlOut.send(serializeMessage(session.make(type, content, req.header, req.identities), signer));
}

function handleControl(frames: Buffer[]): void {
  const parsed = parseMessage(frames, signer);
  if (!parsed.ok) {
    logLimited("control-bad", `control: dropped a message: ${parsed.reason}`);
    return;
  }
  const msg = parsed.msg;
  switch (msg.header.msg_type) {
    case "interrupt_request":
      publish("status", { execution_state: "busy" }, msg.header);
      process.kill(process.pid, "SIGINT");
      reply(msg, { status: "ok" });
      publish("status", { execution_state: "idle" }, msg.header);
      return;
    case "shutdown_request": {
      const restart = msg.content.restart === true;
      publish("status", { execution_state: "busy" }, msg.header);
      reply(msg, { status: "ok", restart });
      publish("status", { execution_state: "idle" }, msg.header);
      post({ type: "shutdown", restart });
      // If the main thread is stuck in synchronous code it cannot exit by itself: interrupt it, and as a last
      // resort end the process (the reply is already on its way; linger flushes it).
      const stuck = setTimeout(() => process.kill(process.pid, "SIGINT"), Math.min(500, data.shutdownGraceMs / 4));
      const kill = setTimeout(() => {
        log("shutdown: main thread did not exit in time; killing the process");
        process.kill(process.pid, "SIGKILL");
      }, data.shutdownGraceMs);
      stuck.unref();
      kill.unref();
      return;
    }
    default:
      // Everything else (kernel_info_request, unknown types, ...) is answered by the main thread's dispatcher.
      post({ type: "control", msg });
  }
}

async function serveHeartbeat(): Promise<void> {
  for await (const frames of hb) {
    await hb.send(frames);
  }
}

async function serveControl(): Promise<void> {
  for await (const frames of control) {
    try {
      handleControl(frames);
    } catch (err) {
      logLimited("control-error", `control: ${(err as Error).stack ?? String(err)}`);
    }
  }
}

port.on("message", (m: ToIo) => {
  switch (m.type) {
    case "iopub":
      iopubOut.send(asBuffers(m.frames));
      return;
    case "control-reply":
      controlOut.send(asBuffers(m.frames));
      return;
    case "close":
      void close();
      return;
  }
});

async function close(): Promise<void> {
  await Promise.all([iopubOut.flush(), controlOut.flush()]);
  for (const s of [hb, control, iopub]) if (!s.closed) s.close();
  post({ type: "closed" });
  port.close();
}

try {
  await Promise.all([hb.bind(endpoint(info, "hb")), control.bind(endpoint(info, "control")), iopub.bind(endpoint(info, "iopub"))]);
} catch (err) {
  post({ type: "fatal", message: `io thread: cannot bind: ${(err as Error).message}` });
  for (const s of [hb, control, iopub]) if (!s.closed) s.close();
  port.close();
}
if (!hb.closed) {
  post({ type: "ready" });
  serveHeartbeat().catch((err) => log(`heartbeat stopped: ${(err as Error).message}`));
  serveControl().catch((err) => log(`control stopped: ${(err as Error).message}`));
}
