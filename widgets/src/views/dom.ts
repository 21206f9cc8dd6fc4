// DOM helpers every safesail view uses. Text from the kernel goes in through textContent / text nodes only.
import { compatibleVersion, MODULE_NAME, MODULE_VERSION, VIEW_ATTRIBUTE, VIEW_CLASS } from "../protocol.ts";

/** Marks a view's root element: class `safesail-widget`, `data-safesail-view="<name>"`. */
export function markRoot(el: HTMLElement, viewName: string): void {
  el.classList.add(VIEW_CLASS);
  el.setAttribute(VIEW_ATTRIBUTE, viewName);
}

/** An element with text content (never parsed as HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; title?: string } = {},
  children: Node[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  if (props.title !== undefined) node.title = props.title;
  for (const c of children) node.appendChild(c);
  return node;
}

/**
 * Null when a model announced a module version this front end can render, else the message to show in its place
 * (a kernel newer or older than the installed extension).
 */
export function versionProblem(announced: unknown): string | null {
  const v = typeof announced === "string" ? announced : "";
  if (compatibleVersion(v)) return null;
  return `${MODULE_NAME}: the kernel sent a model for version ${v || "(none)"}, but this front end has ${MODULE_VERSION}. Reinstall the extension (safesail lab install) to match the kernel.`;
}
