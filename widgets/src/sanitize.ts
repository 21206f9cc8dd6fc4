// HTML sanitising for everything safesail shows that it did not write itself: Markdown cells and untrusted HTML
// outputs in published pages (widgets/src/publish/), and the `HTML` / `HTMLMath` widget values in the offline embed
// bundle (widgets/src/embed/), also used by the widget views in JupyterLab. No DOM and no Node imports: it runs on
// sanitize-html (htmlparser2), which works the same in Node and in a browser bundle.
//
// The allowlist follows JupyterLab's default sanitizer (@jupyterlab/apputils Sanitizer, itself from Google Caja):
// the same tags and per-tag attributes, `id` moved to `data-jupyter-id` (no DOM clobbering of the page's globals),
// links `rel="nofollow noopener noreferrer"`, form inputs disabled. What it removes:
//   - <script>, <style>, <iframe>, <object>, <embed>, <frame>, <svg>, <math>, <base>, <meta>, <link>, <template>
//     and every other tag not on the list (their text is kept, except script/style/textarea/option/noscript bodies);
//   - every on* event handler and every attribute not on the list;
//   - URLs with a scheme other than http, https, mailto (and data: for <img src>): no javascript:, vbscript:,
//     data: links; no protocol-relative `//host` URLs;
//   - from `style` attributes: declarations whose value loads something or runs something, i.e. any CSS function
//     outside a fixed list of pure ones (rgb, calc, linear-gradient, ...), so url(), image-set(), image(),
//     element(), expression() and `-moz-binding` / `behavior` are gone; declarations with CSS escapes or comments
//     (which could spell those in disguise) are dropped whole. The other declarations are kept as written.
//
// JupyterLab itself checks each style property against a value grammar; this keeps any property but refuses the
// function calls that fetch, which is the part that matters for an offline page (and a stricter rule on url()).
import sanitize from "./embed/sanitize-html-lib.js";

export interface SanitizeOptions {
  /**
   * Decides an <img>'s `src` (after the scheme check): return the URL to keep (possibly rewritten, e.g. to a
   * data: URI), or null to replace the image by its alt text in a `<span class="safesail-image-omitted">`.
   * Default: keep it.
   */
  imageSrc?: (src: string) => string | null;
}

const TAGS = [
  "a", "abbr", "acronym", "address", "area", "article", "aside", "audio", "b", "bdi", "bdo", "big", "blockquote",
  "br", "button", "canvas", "caption", "center", "cite", "code", "col", "colgroup", "data", "datalist", "dd", "del",
  "details", "dfn", "dir", "div", "dl", "dt", "em", "fieldset", "figcaption", "figure", "font", "footer", "form",
  "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "i", "img", "input", "ins", "kbd", "label", "legend",
  "li", "map", "mark", "menu", "meter", "nav", "nobr", "ol", "optgroup", "option", "output", "p", "pre", "progress",
  "q", "s", "samp", "section", "select", "small", "source", "span", "strike", "strong", "sub", "summary", "sup",
  "table", "tbody", "td", "textarea", "tfoot", "th", "thead", "time", "tr", "track", "tt", "u", "ul", "var", "video",
  "wbr",
];

const GLOBAL_ATTRIBUTES = ["class", "data-jupyter-id", "dir", "draggable", "hidden", "inert", "itemprop", "itemref", "itemscope", "lang", "spellcheck", "style", "title", "translate"];

const ATTRIBUTES: Record<string, string[]> = {
  "*": GLOBAL_ATTRIBUTES,
  a: ["accesskey", "coords", "href", "hreflang", "rel", "shape", "tabindex", "target", "type"],
  area: ["accesskey", "alt", "coords", "href", "nohref", "shape", "tabindex"],
  audio: ["controls", "loop", "muted", "preload", "src"],
  bdo: ["dir"],
  blockquote: ["cite"],
  br: ["clear"],
  button: ["accesskey", "disabled", "tabindex", "type", "value"],
  canvas: ["height", "width"],
  caption: ["align"],
  col: ["align", "char", "charoff", "span", "valign", "width"],
  colgroup: ["align", "char", "charoff", "span", "valign", "width"],
  data: ["value"],
  del: ["cite", "datetime"],
  details: ["open"],
  dir: ["compact"],
  div: ["align"],
  dl: ["compact"],
  fieldset: ["disabled"],
  font: ["color", "face", "size"],
  form: ["accept", "autocomplete", "enctype", "method", "novalidate"],
  h1: ["align"], h2: ["align"], h3: ["align"], h4: ["align"], h5: ["align"], h6: ["align"],
  hr: ["align", "noshade", "size", "width"],
  img: ["align", "alt", "border", "height", "hspace", "ismap", "src", "usemap", "vspace", "width"],
  input: ["accept", "accesskey", "align", "alt", "autocomplete", "checked", "disabled", "inputmode", "list", "max", "maxlength", "min", "multiple", "placeholder", "readonly", "required", "size", "step", "tabindex", "type", "value"],
  ins: ["cite", "datetime"],
  label: ["accesskey", "for"],
  legend: ["accesskey", "align"],
  li: ["type", "value"],
  menu: ["compact", "label", "type"],
  meter: ["high", "low", "max", "min", "value"],
  ol: ["compact", "reversed", "start", "type"],
  optgroup: ["disabled", "label"],
  option: ["disabled", "label", "selected", "value"],
  output: ["for"],
  p: ["align"],
  pre: ["width"],
  progress: ["max", "min", "value"],
  q: ["cite"],
  select: ["autocomplete", "disabled", "multiple", "required", "size", "tabindex"],
  source: ["type"],
  table: ["align", "bgcolor", "border", "cellpadding", "cellspacing", "frame", "rules", "summary", "width"],
  tbody: ["align", "char", "charoff", "valign"],
  td: ["abbr", "align", "axis", "bgcolor", "char", "charoff", "colspan", "headers", "height", "nowrap", "rowspan", "scope", "valign", "width"],
  textarea: ["accesskey", "autocomplete", "cols", "disabled", "inputmode", "placeholder", "readonly", "required", "rows", "tabindex", "wrap"],
  tfoot: ["align", "char", "charoff", "valign"],
  th: ["abbr", "align", "axis", "bgcolor", "char", "charoff", "colspan", "headers", "height", "nowrap", "rowspan", "scope", "valign", "width"],
  thead: ["align", "char", "charoff", "valign"],
  tr: ["align", "bgcolor", "char", "charoff", "valign"],
  track: ["default", "kind", "label", "srclang"],
  ul: ["compact", "type"],
  video: ["controls", "height", "loop", "muted", "preload", "src", "width"],
};

const SCHEMES = ["http", "https", "mailto"];

/** CSS functions that compute a value and never load or run anything. */
const PURE_CSS_FUNCTIONS = new Set([
  "rgb", "rgba", "hsl", "hsla", "hwb", "lab", "lch", "oklab", "oklch", "color", "color-mix",
  "calc", "min", "max", "clamp", "var", "env",
  "linear-gradient", "radial-gradient", "conic-gradient", "repeating-linear-gradient", "repeating-radial-gradient", "repeating-conic-gradient",
  "translate", "translatex", "translatey", "translatez", "translate3d", "rotate", "rotatex", "rotatey", "rotatez", "rotate3d",
  "scale", "scalex", "scaley", "scalez", "scale3d", "skew", "skewx", "skewy", "matrix", "matrix3d", "perspective",
  "cubic-bezier", "steps", "minmax", "repeat", "fit-content", "counter", "counters",
  "blur", "brightness", "contrast", "drop-shadow", "grayscale", "hue-rotate", "invert", "opacity", "saturate", "sepia",
  "inset", "circle", "ellipse", "polygon",
]);

/** Properties refused whatever their value (legacy script hooks). */
const REFUSED_PROPERTIES = new Set(["behavior", "-moz-binding", "-ms-behavior"]);

/** Splits a style attribute into declarations at `;` outside quotes and parentheses; null when quotes do not close. */
function splitDeclarations(style: string): string[] | null {
  const out: string[] = [];
  let quote = "";
  let depth = 0;
  let start = 0;
  for (let i = 0; i < style.length; i++) {
    const c = style[i]!;
    if (quote) {
      if (c === quote) quote = "";
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    else if (c === ";" && depth === 0) {
      out.push(style.slice(start, i));
      start = i + 1;
    }
  }
  if (quote) return null;
  out.push(style.slice(start));
  return out;
}

/** One `property: value` declaration kept as written, or null when it may load or run something. */
function safeDeclaration(decl: string): string | null {
  const text = decl.trim();
  if (!text) return null;
  // Escapes and comments could spell url( or expression( in disguise; control characters have no business here.
  if (/[\\\u0000-\u0008\u000b\u000e-\u001f\u007f]|\/\*|<|>/.test(text)) return null;
  const colon = text.indexOf(":");
  if (colon <= 0) return null;
  const property = text.slice(0, colon).trim().toLowerCase();
  const value = text.slice(colon + 1).trim();
  if (!/^-{0,2}[a-z][a-z0-9-]*$/.test(property) || REFUSED_PROPERTIES.has(property) || !value) return null;
  for (const m of value.toLowerCase().matchAll(/([a-z0-9_-]*)\s*\(/g)) {
    if (!PURE_CSS_FUNCTIONS.has(m[1]!)) return null;
  }
  if (/javascript:|vbscript:|@import/i.test(value)) return null;
  return `${property}: ${value}`;
}

/** A `style` attribute with only the declarations that load and run nothing ("" when none is left). */
export function sanitizeStyle(style: string): string {
  const parts = splitDeclarations(style);
  if (!parts) return "";
  return parts.map(safeDeclaration).filter((d): d is string => d !== null).join("; ");
}

function optionsFor(opts: SanitizeOptions): sanitize.IOptions {
  return {
    allowedTags: TAGS,
    allowedAttributes: ATTRIBUTES,
    allowedSchemes: SCHEMES,
    allowedSchemesByTag: { img: [...SCHEMES, "data"] },
    allowedSchemesAppliedToAttributes: ["href", "src", "cite", "action", "formaction", "poster"],
    allowProtocolRelative: false,
    disallowedTagsMode: "discard",
    transformTags: {
      a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: "nofollow noopener noreferrer" } }),
      input: (tagName, attribs) => ({ tagName, attribs: { ...attribs, disabled: "disabled" } }),
      img: (tagName, attribs) => {
        const src = attribs.src;
        if (src === undefined || !opts.imageSrc) return { tagName, attribs };
        // The policy sees every src (it may map `attachment:` or a relative path to a data: URI); what it keeps
        // must still pass the scheme rule.
        const kept = opts.imageSrc(src);
        if (kept !== null && isAllowedImageUrl(kept)) return { tagName, attribs: { ...attribs, src: kept } };
        const alt = attribs.alt?.trim();
        return { tagName: "span", attribs: { class: "safesail-image-omitted" }, text: `[image${alt ? `: ${alt}` : ""}]` };
      },
      "*": (tagName, attribs) => {
        const out: Record<string, string> = {};
        for (const [name, value] of Object.entries(attribs)) {
          if (name === "id") out["data-jupyter-id"] = value;
          else if (name === "style") {
            const style = sanitizeStyle(value);
            if (style) out.style = style;
          } else out[name] = value;
        }
        return { tagName, attribs: out };
      },
    },
  };
}

/** Whether an image URL passes the scheme rule (http, https, mailto, data:, or relative). */
function isAllowedImageUrl(src: string): boolean {
  // eslint-disable-next-line no-control-regex
  const s = src.replace(/[\u0000-\u0020]/g, "");
  if (s.startsWith("//")) return false;
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(s);
  return !m || ["http", "https", "data"].includes(m[1]!.toLowerCase());
}

const DEFAULT_OPTIONS = optionsFor({});

/**
 * An `imageSrc` policy for pages that load nothing (published notebooks): data: images stay, any other image
 * becomes its alt text instead of a broken-image icon.
 */
export function dataImagesOnly(src: string): string | null {
  return /^\s*data:/i.test(src) ? src : null;
}

/**
 * `html` with scripts, event handlers, frames, objects, javascript: URLs and fetching CSS removed (see the file
 * comment for the allowlist). Safe to assign to `innerHTML` and to write into a page.
 */
export function sanitizeHtml(html: string, opts?: SanitizeOptions): string {
  return sanitize(String(html ?? ""), opts?.imageSrc ? optionsFor(opts) : DEFAULT_OPTIONS);
}
