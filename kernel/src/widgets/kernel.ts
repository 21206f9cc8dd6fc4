// Where widgets and notebook displays find the running kernel.
//
// The kernel core registers its KernelApi once at start-up (attachWidgets in ./widget.ts calls setKernel and also
// registers the widget control comm). The reference lives on globalThis under a Symbol.for key, so that every copy
// of these modules (the kernel's own import and one a cell's transpiled code may load through another URL) sees the
// same kernel, widget registry and control comm.
import type { KernelApi } from "../types.ts";

// The same slot as kernel/src/api.ts (KERNEL_API_KEY): read here directly so widgets do not import the core.
const KERNEL_KEY = Symbol.for("safesail.kernel.api");

/** What a value's display method is called (the same symbol as kernel/src/display.ts). */
export const MIMEBUNDLE = Symbol.for("jupyter.mimebundle");

type Global = typeof globalThis & { [KERNEL_KEY]?: KernelApi };

export function setKernel(api: KernelApi | undefined): void {
  (globalThis as Global)[KERNEL_KEY] = api;
}

/** The running kernel's API, or undefined outside a kernel (a plain script, the CLI, a unit test without a fake). */
export function currentKernel(): KernelApi | undefined {
  return (globalThis as Global)[KERNEL_KEY];
}

/**
 * The msg_id of the request the kernel is handling now (the cell's `execute_request`), if the kernel tells. Not in
 * KernelApi (kernel/src/types.ts); read from an optional `parentMsgId()` (or `parentHeader()`) method on the kernel
 * object. Output.capture needs it.
 */
export function currentParentMsgId(api: KernelApi | undefined = currentKernel()): string | undefined {
  if (!api) return undefined;
  const extra = api as KernelApi & {
    parentMsgId?: () => string | undefined;
    parentHeader?: () => { msg_id?: string } | undefined;
  };
  if (typeof extra.parentMsgId === "function") return extra.parentMsgId() || undefined;
  if (typeof extra.parentHeader === "function") return extra.parentHeader()?.msg_id || undefined;
  return undefined;
}
