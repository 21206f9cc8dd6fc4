// Target of the build's CSS imports: appends one <style> per stylesheet to <head>, in import order.
export function injectStyle(css: string): void {
  if (typeof document === "undefined") return;
  const style = document.createElement("style");
  style.setAttribute("data-safesail-embed", "");
  style.textContent = css;
  (document.head ?? document.documentElement).appendChild(style);
}
