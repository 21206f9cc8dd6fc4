// The Output widget (OutputModel / OutputView, module "@jupyter-widgets/output" 1.0.0). Two ways to fill it:
//
// - capture: while `msg_id` holds a request's msg_id, the front end (JupyterLab's OutputModel registers a kernel
//   message hook for it) routes that request's iopub outputs (stream, display_data, execute_result, error,
//   clear_output) into the widget instead of the cell. `output.capture(fn)` sets msg_id to the request being
//   handled, runs fn, flushes the kernel's buffered streams and clears msg_id again.
// - state: `outputs` is the list of nbformat outputs; appendStdout / appendStderr / appendDisplayData / clear set it
//   directly, so they work from any callback, after the cell has finished, and headless.
import type { JsonObject, KernelApi, MimeBundle } from "../types.ts";
import { currentKernel, currentParentMsgId, MIMEBUNDLE } from "./kernel.ts";
import { DOMWidget, type DOMInit, type DOMWidgetProps } from "./controls.ts";
import { baseState, defineStateAccessors, OUTPUT_MODULE, OUTPUT_VERSION, type BaseState, type WidgetOptions } from "./widget.ts";

export type NbOutput =
  | { output_type: "stream"; name: "stdout" | "stderr"; text: string }
  | { output_type: "display_data"; data: MimeBundle; metadata: JsonObject }
  | { output_type: "execute_result"; data: MimeBundle; metadata: JsonObject; execution_count: number | null }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

export interface OutputProps extends DOMWidgetProps {
  msg_id: string;
  outputs: NbOutput[];
}
export type OutputState = BaseState & OutputProps;

export interface Output extends OutputProps {}
export class Output extends DOMWidget<OutputState> {
  #api: KernelApi | undefined;
  #depth = 0;
  #outer = "";

  constructor(init: DOMInit<OutputState> = {}, opts: WidgetOptions = {}) {
    super({
      ...baseState(),
      _model_module: OUTPUT_MODULE,
      _model_module_version: OUTPUT_VERSION,
      _model_name: "OutputModel",
      _view_module: OUTPUT_MODULE,
      _view_module_version: OUTPUT_VERSION,
      _view_name: "OutputView",
      _dom_classes: [],
      tabbable: null,
      tooltip: null,
      msg_id: "",
      outputs: [],
    }, init, opts);
    this.#api = opts.kernel ?? currentKernel();
  }

  /**
   * Runs `fn` with the outputs of the current request (the cell, or the comm message whose callback this is)
   * going into this widget. Nests. Throws when the kernel does not say which request it is handling.
   */
  async capture<T>(fn: () => T | Promise<T>): Promise<T> {
    const msgId = currentParentMsgId(this.#api);
    if (!msgId) throw new Error("Output.capture: the kernel does not report the current request's msg_id");
    if (this.#depth === 0) this.#outer = this.get("msg_id");
    this.#depth++;
    this.set({ msg_id: msgId });
    try {
      return await fn();
    } finally {
      flushStreams(this.#api);
      this.#depth--;
      this.set({ msg_id: this.#depth === 0 ? this.#outer : msgId });
    }
  }

  appendStdout(text: string): this {
    return this.#append({ output_type: "stream", name: "stdout", text });
  }

  appendStderr(text: string): this {
    return this.#append({ output_type: "stream", name: "stderr", text });
  }

  /** Adds a display: a mime bundle, an object with a Symbol.for("jupyter.mimebundle") method, or text. */
  appendDisplayData(value: MimeBundle | { [MIMEBUNDLE](): MimeBundle } | string, metadata: JsonObject = {}): this {
    let data: MimeBundle;
    if (typeof value === "string") data = { "text/plain": value };
    else if (typeof (value as { [MIMEBUNDLE]?: unknown })[MIMEBUNDLE] === "function") data = (value as { [MIMEBUNDLE](): MimeBundle })[MIMEBUNDLE]();
    else data = value as MimeBundle;
    return this.#append({ output_type: "display_data", data, metadata });
  }

  /** Empties the widget. */
  clear(): this {
    this.set({ outputs: [] });
    return this;
  }

  #append(out: NbOutput): this {
    this.set({ outputs: [...this.get("outputs"), out] });
    return this;
  }
}
defineStateAccessors(Output, ["msg_id", "outputs"]);

/** Asks the kernel to send buffered stdout/stderr now, if it buffers (optional `flushOutput()` on the kernel). */
function flushStreams(api: KernelApi | undefined): void {
  const f = (api as (KernelApi & { flushOutput?: () => void; flush?: () => void }) | undefined);
  if (typeof f?.flushOutput === "function") f.flushOutput();
  else if (typeof f?.flush === "function") f.flush();
}
