// Jupyter comms (messaging spec 5.3 `comm_open` / `comm_msg` / `comm_close`, `comm_info_request`) on the kernel
// side: the CommManager and Comm of types.ts.
//
// Kernel -> front end: messages go out on iopub through `CommTransport.publish`, which parents them to the
// request being handled (or the last execute request). Front end -> kernel: the dispatcher calls
// `handleOpen` / `handleMsg` / `handleClose` with the shell message. Malformed content (missing or mistyped
// comm_id, target_name, data) and unknown comm ids are logged (rate-limited) and dropped; a throwing handler is
// logged and never reaches the dispatcher.
import { randomUUID } from "node:crypto";
import { log, logLimited } from "./log.ts";
import type { Comm, CommManager, CommMessage, JsonObject, SendOptions } from "./types.ts";
import type { Message } from "./wire.ts";

export type CommMsgType = "comm_open" | "comm_msg" | "comm_close";

export interface CommTransport {
  publish(msgType: CommMsgType, content: JsonObject, metadata: JsonObject, buffers: Uint8Array[]): void;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function toCommMessage(msg: Message): CommMessage {
  return {
    data: isObject(msg.content.data) ? msg.content.data : {},
    metadata: msg.metadata,
    buffers: msg.buffers.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
  };
}

function describeError(err: unknown): string {
  return err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
}

/** A handler's exception: in the kernel log, and on the front end's stderr stream of the message that caused it. */
function reportHandlerError(what: string, err: unknown): void {
  const text = `${what}: ${describeError(err)}`;
  log(text);
  try {
    process.stderr.write(`${text}\n`);
  } catch {
    // stderr unavailable: the log has it
  }
}

class KernelComm implements Comm {
  private _closed = false;
  private messageHandler: ((msg: CommMessage) => void) | null = null;
  private closeHandler: ((msg: CommMessage) => void) | null = null;

  constructor(
    readonly commId: string,
    readonly targetName: string,
    private readonly manager: KernelCommManager,
  ) {}

  get closed(): boolean {
    return this._closed;
  }

  send(data: JsonObject, opts: SendOptions = {}): void {
    // Sending on a closed comm is a no-op (the front end may have closed it at any time); check `closed`.
    if (this._closed) return;
    this.manager.transport.publish("comm_msg", { comm_id: this.commId, data }, opts.metadata ?? {}, opts.buffers ?? []);
  }

  close(data: JsonObject = {}, opts: SendOptions = {}): void {
    if (this._closed) return;
    this._closed = true;
    this.manager.forget(this);
    this.manager.transport.publish("comm_close", { comm_id: this.commId, data }, opts.metadata ?? {}, opts.buffers ?? []);
  }

  /** Sets the handler for `comm_msg` from the front end (a later call replaces it, as ipykernel's on_msg). */
  onMessage(handler: (msg: CommMessage) => void): void {
    this.messageHandler = handler;
  }

  /** Sets the handler for `comm_close` from the front end (a later call replaces it). */
  onClose(handler: (msg: CommMessage) => void): void {
    this.closeHandler = handler;
  }

  /** @internal front end sent comm_msg */
  deliver(msg: CommMessage): void {
    if (this._closed || !this.messageHandler) return;
    try {
      this.messageHandler(msg);
    } catch (err) {
      reportHandlerError(`comm ${this.commId} (${this.targetName}): message handler threw`, err);
    }
  }

  /** @internal front end sent comm_close */
  closedByFrontEnd(msg: CommMessage): void {
    if (this._closed) return;
    this._closed = true;
    this.manager.forget(this);
    if (!this.closeHandler) return;
    try {
      this.closeHandler(msg);
    } catch (err) {
      reportHandlerError(`comm ${this.commId} (${this.targetName}): close handler threw`, err);
    }
  }
}

export class KernelCommManager implements CommManager {
  private readonly open_ = new Map<string, KernelComm>();
  private readonly targets = new Map<string, (comm: Comm, msg: CommMessage) => void>();

  constructor(readonly transport: CommTransport) {}

  open(targetName: string, data: JsonObject = {}, opts: SendOptions & { commId?: string } = {}): Comm {
    if (typeof targetName !== "string" || targetName === "") throw new TypeError("comm target name must be a non-empty string");
    const commId = opts.commId ?? randomUUID().replace(/-/g, "");
    if (this.open_.has(commId)) throw new Error(`a comm with id ${commId} is already open`);
    const comm = new KernelComm(commId, targetName, this);
    this.open_.set(commId, comm);
    this.transport.publish("comm_open", { comm_id: commId, target_name: targetName, data }, opts.metadata ?? {}, opts.buffers ?? []);
    return comm;
  }

  registerTarget(targetName: string, handler: (comm: Comm, msg: CommMessage) => void): void {
    this.targets.set(targetName, handler);
  }

  unregisterTarget(targetName: string): void {
    this.targets.delete(targetName);
  }

  comms(targetName?: string): Comm[] {
    const all = [...this.open_.values()];
    return targetName === undefined ? all : all.filter((c) => c.targetName === targetName);
  }

  /** @internal */
  forget(comm: KernelComm): void {
    if (this.open_.get(comm.commId) === comm) this.open_.delete(comm.commId);
  }

  /** `comm_info_request` content -> `comm_info_reply` content. */
  info(content: JsonObject): JsonObject {
    const target = typeof content.target_name === "string" ? content.target_name : undefined;
    const comms: Record<string, { target_name: string }> = {};
    for (const c of this.comms(target)) comms[c.commId] = { target_name: c.targetName };
    return { status: "ok", comms };
  }

  handleOpen(msg: Message): void {
    const { comm_id: commId, target_name: targetName } = msg.content;
    if (typeof commId !== "string" || commId === "" || typeof targetName !== "string") {
      logLimited("comm-bad", `comm_open: dropped (comm_id and target_name must be strings)`);
      return;
    }
    if (this.open_.has(commId)) {
      logLimited("comm-dup", `comm_open: comm ${JSON.stringify(commId).slice(0, 80)} is already open; ignored`);
      return;
    }
    const handler = this.targets.get(targetName);
    if (!handler) {
      logLimited("comm-target", `comm_open: no target ${JSON.stringify(targetName).slice(0, 80)} registered; closing comm ${JSON.stringify(commId).slice(0, 80)}`);
      this.transport.publish("comm_close", { comm_id: commId, data: {} }, {}, []);
      return;
    }
    const comm = new KernelComm(commId, targetName, this);
    this.open_.set(commId, comm);
    try {
      handler(comm, toCommMessage(msg));
    } catch (err) {
      reportHandlerError(`comm_open: target "${targetName}" handler threw, closing comm ${commId}`, err);
      comm.close();
    }
  }

  handleMsg(msg: Message): void {
    const commId = msg.content.comm_id;
    if (typeof commId !== "string") {
      logLimited("comm-bad", `comm_msg: dropped (comm_id must be a string)`);
      return;
    }
    const comm = this.open_.get(commId);
    if (!comm) {
      logLimited("comm-unknown", `comm_msg: no open comm ${JSON.stringify(commId).slice(0, 80)}; dropped`);
      return;
    }
    comm.deliver(toCommMessage(msg));
  }

  handleClose(msg: Message): void {
    const commId = msg.content.comm_id;
    if (typeof commId !== "string") {
      logLimited("comm-bad", `comm_close: dropped (comm_id must be a string)`);
      return;
    }
    const comm = this.open_.get(commId);
    if (!comm) {
      logLimited("comm-unknown", `comm_close: no open comm ${JSON.stringify(commId).slice(0, 80)}; dropped`);
      return;
    }
    comm.closedByFrontEnd(toCommMessage(msg));
  }

  /** Closes every comm (kernel shutdown). */
  closeAll(): void {
    for (const c of [...this.open_.values()]) c.close();
  }
}
