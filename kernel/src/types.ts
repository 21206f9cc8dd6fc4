// The kernel-side API that cells, widgets and the pipeline's progress reporting use. The kernel core
// implements it; widgets and displays are written against it only.

export type JsonObject = { [key: string]: unknown };

/** A Jupyter mime bundle: `{"text/plain": "...", "text/html": "...", ...}`. */
export type MimeBundle = Record<string, unknown>;

export interface CommMessage {
  data: JsonObject;
  metadata: JsonObject;
  buffers: Uint8Array[];
}

export interface SendOptions {
  metadata?: JsonObject;
  buffers?: Uint8Array[];
}

/** One end of a Jupyter comm (messaging protocol 5.3 `comm_open` / `comm_msg` / `comm_close`). */
export interface Comm {
  readonly commId: string;
  readonly targetName: string;
  readonly closed: boolean;
  /** Sends `comm_msg` to the front end (on iopub, parented to the request being handled, if any). */
  send(data: JsonObject, opts?: SendOptions): void;
  /** Sends `comm_close` (once) and detaches the comm. */
  close(data?: JsonObject, opts?: SendOptions): void;
  /** Handler for `comm_msg` from the front end. */
  onMessage(handler: (msg: CommMessage) => void): void;
  /** Handler for `comm_close` from the front end (not called for our own close). */
  onClose(handler: (msg: CommMessage) => void): void;
}

export interface CommManager {
  /** Opens a comm from the kernel side (`comm_open` on iopub). */
  open(targetName: string, data?: JsonObject, opts?: SendOptions & { commId?: string }): Comm;
  /** Accepts front-end `comm_open` for `targetName`; without a target the kernel answers with `comm_close`. */
  registerTarget(targetName: string, handler: (comm: Comm, msg: CommMessage) => void): void;
  unregisterTarget(targetName: string): void;
  /** Open comms, optionally only those of one target (what `comm_info_request` reports). */
  comms(targetName?: string): Comm[];
}

export interface DisplayOptions {
  metadata?: JsonObject;
  /** With a display id, later `updateDisplay` calls replace this output in place. */
  displayId?: string;
}

export interface DisplayApi {
  /** `display_data` on iopub. */
  display(bundle: MimeBundle, opts?: DisplayOptions): void;
  /** `update_display_data` for an earlier display with the same id. */
  updateDisplay(displayId: string, bundle: MimeBundle, opts?: Omit<DisplayOptions, "displayId">): void;
  /** `clear_output`; with `wait`, the front end clears when the next output arrives. */
  clearOutput(wait?: boolean): void;
}

/** What the running kernel offers to code in cells. */
export interface KernelApi {
  comms: CommManager;
  display: DisplayApi;
}
