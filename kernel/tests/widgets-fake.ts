// An in-memory KernelApi for widget unit tests: records what the kernel side sends and lets a test play the front
// end (comm messages in, comm_close in, front-end comm_open on a registered target).
import type { Comm, CommManager, CommMessage, DisplayApi, JsonObject, KernelApi, MimeBundle, SendOptions } from "../src/types.ts";

export interface Sent {
  kind: "open" | "msg" | "close";
  commId: string;
  targetName: string;
  data: JsonObject;
  metadata: JsonObject;
  buffers: Uint8Array[];
}

export class FakeComm implements Comm {
  closed = false;
  #onMsg: Array<(m: CommMessage) => void> = [];
  #onClose: Array<(m: CommMessage) => void> = [];
  constructor(readonly commId: string, readonly targetName: string, private readonly kernel: FakeKernel) {}
  send(data: JsonObject, opts: SendOptions = {}): void {
    if (this.closed) throw new Error("send on a closed comm");
    this.kernel.sent.push({ kind: "msg", commId: this.commId, targetName: this.targetName, data: clone(data), metadata: opts.metadata ?? {}, buffers: opts.buffers ?? [] });
  }
  close(data: JsonObject = {}, opts: SendOptions = {}): void {
    if (this.closed) return;
    this.closed = true;
    this.kernel.sent.push({ kind: "close", commId: this.commId, targetName: this.targetName, data, metadata: opts.metadata ?? {}, buffers: opts.buffers ?? [] });
  }
  onMessage(handler: (msg: CommMessage) => void): void {
    this.#onMsg.push(handler);
  }
  onClose(handler: (msg: CommMessage) => void): void {
    this.#onClose.push(handler);
  }
  /** The front end sends a comm_msg (the data goes through a JSON round trip, as on the wire). */
  receive(data: unknown, buffers: Uint8Array[] = []): void {
    const msg: CommMessage = { data: clone(data as JsonObject), metadata: {}, buffers };
    for (const h of this.#onMsg) h(msg);
  }
  /** The front end closes the comm. */
  remoteClose(): void {
    this.closed = true;
    for (const h of this.#onClose) h({ data: {}, metadata: {}, buffers: [] });
  }
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export class FakeKernel implements KernelApi {
  sent: Sent[] = [];
  displays: Array<{ kind: "display" | "update" | "clear"; bundle?: MimeBundle; displayId?: string; wait?: boolean }> = [];
  readonly open = new Map<string, FakeComm>();
  readonly targets = new Map<string, (comm: Comm, msg: CommMessage) => void>();
  parent = "parent-msg-0";
  #n = 0;

  comms: CommManager = {
    open: (targetName, data = {}, opts = {}) => {
      const id = opts.commId ?? `comm-${++this.#n}`;
      const comm = new FakeComm(id, targetName, this);
      this.open.set(id, comm);
      this.sent.push({ kind: "open", commId: id, targetName, data: clone(data), metadata: opts.metadata ?? {}, buffers: opts.buffers ?? [] });
      return comm;
    },
    registerTarget: (name, handler) => {
      this.targets.set(name, handler);
    },
    unregisterTarget: (name) => {
      this.targets.delete(name);
    },
    comms: (targetName) => [...this.open.values()].filter((c) => !c.closed && (!targetName || c.targetName === targetName)),
  };

  display: DisplayApi = {
    display: (bundle, opts = {}) => {
      this.displays.push({ kind: "display", bundle, displayId: opts.displayId });
    },
    updateDisplay: (displayId, bundle) => {
      this.displays.push({ kind: "update", bundle, displayId });
    },
    clearOutput: (wait) => {
      this.displays.push({ kind: "clear", wait });
    },
  };

  parentMsgId(): string {
    return this.parent;
  }

  /** The front end opens a comm on a registered target. */
  frontendOpen(targetName: string, data: JsonObject = {}): FakeComm {
    const handler = this.targets.get(targetName);
    if (!handler) throw new Error(`no target ${targetName}`);
    const comm = new FakeComm(`fe-${++this.#n}`, targetName, this);
    this.open.set(comm.commId, comm);
    handler(comm, { data, metadata: {}, buffers: [] });
    return comm;
  }

  comm(id: string): FakeComm {
    const c = this.open.get(id);
    if (!c) throw new Error(`no comm ${id}`);
    return c;
  }

  /** Sent messages on one comm (optionally only comm_msg with this method), and clears nothing. */
  on(commId: string, method?: string): Sent[] {
    return this.sent.filter((s) => s.commId === commId && (!method || (s.kind === "msg" && s.data.method === method)));
  }

  take(): Sent[] {
    const s = this.sent;
    this.sent = [];
    return s;
  }
}
