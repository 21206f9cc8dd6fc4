// A kernel inside a published page: both ends of a Jupyter widget comm in one JavaScript context. The page's widget
// models (the HTML manager's, built from the saved state) get a front-end comm; the kernel's widget classes
// (kernel/src/widgets: TokenActivations, SteeringPanel) get the other end through `KernelApi`, exactly as in a
// notebook. Messages cross as the Jupyter widget protocol's `comm_msg` contents (update, echo_update, custom) with
// their binary buffers, so the page runs the kernel's own code for chips, checks, echoes and results, not a copy.
//
//   const kernel = new PageKernel();
//   const link = kernel.link(model);        // before the views render: they see a comm and enable their controls
//   ... load the model ...
//   tokenActivations(init, { kernel, modelId: model.model_id });   // opens the comm `link` waits for
//   link.open();                             // hands the saved state to the kernel widget, then queued messages
//
// Messages a view sends before the kernel side exists are queued (a Generate clicked while the model loads runs
// once it has loaded). Delivery is asynchronous in both directions, in order, as over a websocket.
import type { WidgetModel } from "@jupyter-widgets/base";
import { removeBuffers } from "../../../kernel/src/widgets/buffers.ts";
import type { Comm, CommManager, CommMessage, DisplayApi, JsonObject, KernelApi, SendOptions } from "../../../kernel/src/types.ts";

type Handler = (msg: CommMessage) => void;

/** What WidgetModel hands its comm (status callbacks release its message throttle). */
interface FrontCallbacks {
  iopub?: { status?: (msg: { content: { execution_state: string } }) => void };
}

interface FrontMessage {
  content: { comm_id: string; data: JsonObject };
  buffers: DataView[];
  metadata: JsonObject;
  parent_header: { msg_id: string };
}

const toBytes = (b: ArrayBuffer | ArrayBufferView): Uint8Array =>
  b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

let counter = 0;
const nextId = (prefix: string) => `${prefix}-${++counter}`;

/** One comm between a page model and a kernel widget. */
export class PageLink {
  /** The kernel side's handlers (set when the kernel widget opens the comm). */
  #kernelHandlers: Handler[] = [];
  #kernelClose: Handler[] = [];
  #frontHandlers: ((msg: FrontMessage) => void)[] = [];
  /** Front-end messages waiting for the kernel side. */
  #queue: { data: JsonObject; buffers: Uint8Array[]; callbacks: FrontCallbacks | undefined; msgId: string }[] = [];
  #open = false;
  #closed = false;
  /** The front-end message being handled (echo_update answers carry it as their parent). */
  #parent = "";
  #chain: Promise<void> = Promise.resolve();
  readonly kernelComm: Comm;

  constructor(readonly model: WidgetModel) {
    const link = this;
    const front = {
      comm_id: model.model_id,
      target_name: "jupyter.widget",
      send: (data: JsonObject, callbacks?: FrontCallbacks, _metadata?: JsonObject, buffers?: (ArrayBuffer | ArrayBufferView)[]): string => {
        const msgId = nextId("page-msg");
        link.#fromFront(data, (buffers ?? []).map(toBytes), callbacks, msgId);
        return msgId;
      },
      close: () => link.#closeFromFront(),
      on_msg: (cb: (msg: FrontMessage) => void) => void link.#frontHandlers.push(cb),
      on_close: () => {},
      open: () => "",
    };
    const m = model as unknown as { comm?: unknown; comm_live: boolean; _handle_comm_msg(msg: FrontMessage): Promise<void> };
    m.comm = front;
    front.on_msg((msg) => void m._handle_comm_msg(msg));
    m.comm_live = true;
    this.kernelComm = {
      commId: model.model_id,
      targetName: "jupyter.widget",
      get closed() {
        return link.#closed;
      },
      send: (data: JsonObject, opts: SendOptions = {}) => link.#toFront(data, opts.buffers ?? [], opts.metadata ?? {}),
      close: () => {
        link.#closed = true;
      },
      onMessage: (h: Handler) => void link.#kernelHandlers.push(h),
      onClose: (h: Handler) => void link.#kernelClose.push(h),
    };
  }

  /** Runs `fn` after everything delivered so far (one queue for both directions keeps the order). */
  #then(fn: () => void): void {
    this.#chain = this.#chain.then(fn).catch((err: unknown) => console.error("safesail in-page comm:", err));
  }

  #fromFront(data: JsonObject, buffers: Uint8Array[], callbacks: FrontCallbacks | undefined, msgId: string): void {
    if (this.#closed) return;
    if (!this.#open) {
      this.#queue.push({ data, buffers, callbacks, msgId });
      return;
    }
    this.#then(() => this.#deliver(data, buffers, callbacks, msgId));
  }

  #deliver(data: JsonObject, buffers: Uint8Array[], callbacks: FrontCallbacks | undefined, msgId: string): void {
    this.#parent = msgId;
    try {
      for (const h of this.#kernelHandlers) h({ data, metadata: {}, buffers });
    } finally {
      this.#parent = "";
    }
    // The kernel is idle again: the model may send what it buffered meanwhile.
    const status = callbacks?.iopub?.status;
    if (status) this.#then(() => status({ content: { execution_state: "idle" } }));
  }

  #toFront(data: JsonObject, buffers: Uint8Array[], metadata: JsonObject): void {
    if (this.#closed) return;
    const msg: FrontMessage = {
      content: { comm_id: this.model.model_id, data },
      buffers: buffers.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength)),
      metadata,
      parent_header: { msg_id: this.#parent },
    };
    this.#then(() => {
      for (const h of this.#frontHandlers) h(msg);
    });
  }

  #closeFromFront(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const h of this.#kernelClose) h({ data: {}, metadata: {}, buffers: [] });
  }

  /**
   * The kernel widget exists: hand it the page's saved state (as a front-end update, so its own checks read it),
   * run `afterSaved` (the widget as the notebook left it, before any request of the reader), then deliver whatever
   * the views sent while it loaded.
   */
  open(afterSaved?: () => void): void {
    if (this.#open || this.#closed) return;
    if (this.#kernelHandlers.length === 0) throw new Error(`widget ${this.model.model_id}: no kernel widget opened this comm`);
    this.#open = true;
    const m = this.model as unknown as { serialize(state: Record<string, unknown>): Record<string, unknown> };
    const state: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.model.get_state(false))) if (!k.startsWith("_")) state[k] = v;
    // The split the kernel's own serialiser uses (buffers.ts): binary values travel as buffers at their paths.
    const wire = removeBuffers(m.serialize(state));
    const saved = { method: "update", state: wire.state, buffer_paths: wire.bufferPaths } as unknown as JsonObject;
    this.#then(() => this.#deliver(saved, wire.buffers, undefined, nextId("page-saved")));
    if (afterSaved) this.#then(afterSaved);
    for (const q of this.#queue.splice(0)) this.#then(() => this.#deliver(q.data, q.buffers, q.callbacks, q.msgId));
  }

  /** The kernel side could not start: queued messages are dropped (their throttle released) and `why` is shown. */
  fail(why: string): void {
    for (const q of this.#queue.splice(0)) q.callbacks?.iopub?.status?.({ content: { execution_state: "idle" } });
    this.#closed = true;
    const m = this.model;
    if (m.get("status") !== undefined) m.set({ status: "error", message: why });
  }

  /** Settles when everything delivered so far has been handled. */
  settled(): Promise<void> {
    return this.#chain;
  }
}

/** KernelApi over the page's links: a kernel widget opening a comm gets the link of the page model with its id. */
export class PageKernel implements KernelApi {
  readonly #links = new Map<string, PageLink>();

  readonly comms: CommManager = {
    open: (_target: string, _data?: JsonObject, opts?: SendOptions & { commId?: string }): Comm => {
      const link = opts?.commId ? this.#links.get(opts.commId) : undefined;
      if (!link) throw new Error(`no page widget ${opts?.commId ?? "(no id)"} to connect to: a published page only runs widgets it shows`);
      // The page already has the widget's state (saved with the notebook); link.open() sends it the other way.
      return link.kernelComm;
    },
    registerTarget: () => {},
    unregisterTarget: () => {},
    comms: () => [...this.#links.values()].map((l) => l.kernelComm),
  };

  /** A page has no output area to display into: widgets here are the page's own. */
  readonly display: DisplayApi = { display: () => {}, updateDisplay: () => {}, clearOutput: () => {} };

  /** Gives the page model a comm (its views enable their controls); the kernel widget connects later. */
  link(model: WidgetModel): PageLink {
    const link = new PageLink(model);
    this.#links.set(model.model_id, link);
    return link;
  }
}
