// Stand-in for widgets/src/views/index.ts until the safesail views exist: no classes, so a page whose widget state
// names "safesail-widgets" shows the "not bundled" message in place of those widgets (and the rest still render).
export const safesailWidgets: Record<string, unknown> = {};
