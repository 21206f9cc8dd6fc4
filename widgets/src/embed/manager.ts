// The widget manager of a published page: @jupyter-widgets/html-manager's HTMLManager with a loader that serves
// only the modules bundled into this file, and never anything from the network.
//
//   @jupyter-widgets/base      2.x   (ipywidgets 8)
//   @jupyter-widgets/controls  2.x   with HTMLView / HTMLMathView replaced by views that sanitise their value
//   @jupyter-widgets/output    1.x   with the Output widget's outputs trusted only when the notebook was
//   safesail-widgets           the views of widgets/src/views (compatible versions only, protocol.ts's rule)
//
// Any other module (or an ipywidgets 7 version) is refused: the model becomes an error widget that says, as text,
// which module it wanted and that a published page loads no code. HTMLManager's own class resolution (which would
// pull ipywidgets 7 and its CSS) is bypassed by overriding loadClass, and its CDN loader (libembed-amd) is never
// imported. Error widgets render their message with textContent (the stock view used innerHTML on a message that
// holds class and module names from the notebook).
import * as base from "@jupyter-widgets/base";
import * as controls from "@jupyter-widgets/controls";
import { HTMLManager } from "@jupyter-widgets/html-manager/lib/htmlmanager";
import { OutputModel, OutputView } from "@jupyter-widgets/html-manager/lib/output";
import { WidgetRenderer, WIDGET_MIMETYPE } from "@jupyter-widgets/html-manager/lib/output_renderers";
import { OutputAreaModel } from "@jupyterlab/outputarea";
import { RenderMimeRegistry, standardRendererFactories, type IRenderMime } from "@jupyterlab/rendermime";
import { Widget } from "@lumino/widgets";
import { marked } from "marked";
import { compatibleVersion, MODULE_NAME, MODULE_VERSION } from "../protocol.ts";
import { dataImagesOnly, sanitizeHtml } from "../sanitize.ts";
import { drawFigure, type PlotlyFigure } from "./plotly.ts";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** Raised by the loader for a module this page does not carry. */
export class UnsupportedModuleError extends Error {
  constructor(moduleName: string, moduleVersion: string, why: string) {
    super(`${moduleName}@${moduleVersion}: ${why}`);
    this.name = "UnsupportedModuleError";
  }
}

// ---- sanitised HTML widgets ------------------------------------------------------------------------------------

/** Images on a published page: data: only (nothing else can load there); others show their alt text. */
const OFFLINE = { imageSrc: dataImagesOnly };

/** `widgets.HTML`: the value goes through sanitizeHtml before it reaches innerHTML (never the raw value first). */
export class SanitizedHTMLView extends controls.HTMLView {
  override update(options?: unknown): void {
    this.content.innerHTML = sanitizeHtml(String(this.model.get("value") ?? ""), OFFLINE);
    controls.StringView.prototype.update.call(this, options);
  }
}

/** `widgets.HTMLMath`: sanitised as HTML (no MathJax on a published page: TeX shows as written). */
export class SanitizedHTMLMathView extends controls.HTMLMathView {
  override update(options?: unknown): void {
    this.content.innerHTML = sanitizeHtml(String(this.model.get("value") ?? ""), OFFLINE);
    this.typeset(this.content);
    controls.StringView.prototype.update.call(this, options);
  }
}

// ---- error widgets as text -------------------------------------------------------------------------------------

let errorViewPatched = false;

/** Makes every ErrorWidgetView (also those ManagerBase builds directly) render its message as text only. */
export function patchErrorWidgetView(): void {
  if (errorViewPatched) return;
  errorViewPatched = true;
  base.ErrorWidgetView.prototype.render = function render(this: base.ErrorWidgetView): void {
    const { msg, stack } = this.generateErrorMessage();
    this.el.classList.add("jupyter-widgets", "safesail-widget-error");
    const title = document.createElement("div");
    title.className = "safesail-widget-error-title";
    title.textContent = msg ?? "This widget could not be shown";
    const detail = document.createElement("pre");
    detail.className = "safesail-widget-error-detail";
    detail.textContent = String(stack ?? "").split("\n")[0] ?? "";
    this.el.replaceChildren(title, detail);
  };
}

// ---- the Output widget -----------------------------------------------------------------------------------------

function outputModelClass(trusted: boolean): typeof OutputModel {
  return class PageOutputModel extends OutputModel {
    override initialize(attributes: Backbone.ObjectHash, options: { model_id: string; comm?: unknown; widget_manager: unknown }): void {
      super.initialize(attributes, options as never);
      // html-manager builds it trusted; here it is as trusted as the notebook.
      (this as unknown as { _outputs: OutputAreaModel })._outputs = new OutputAreaModel({ trusted });
      this.setOutputs();
    }
  };
}

/** Renders `application/vnd.plotly.v1+json` inside Output widgets with the page's Plotly. */
class PlotlyRenderer extends Widget implements IRenderMime.IRenderer {
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const fig = model.data[PLOTLY_MIME] as unknown as PlotlyFigure;
    const el = document.createElement("div");
    this.node.replaceChildren(el);
    await drawFigure(el, fig);
  }
}

/** An ISanitizer over sanitizeHtml (the rendermime registry sanitises untrusted HTML and Markdown with it). */
export const SANITIZER: IRenderMime.ISanitizer = {
  sanitize: (dirty: string) => sanitizeHtml(dirty, OFFLINE),
  getAutolink: () => false,
  allowNamedProperties: false,
};

const MARKDOWN_PARSER: IRenderMime.IMarkdownParser = {
  render: async (source: string) => marked.parse(source, { gfm: true, async: false }) as string,
};

// ---- modules ---------------------------------------------------------------------------------------------------

type Module = Record<string, unknown>;

function semverMajor(version: string): number | null {
  const m = /^[\^~]?(\d+)\./.exec(version);
  return m ? Number(m[1]) : null;
}

/**
 * The page's module loader: the bundled modules, version-checked; anything else is refused (with the reason as
 * the error) and never fetched.
 */
export function pageLoader(opts: { trusted: boolean; safesailWidgets: Module }): (moduleName: string, moduleVersion: string) => Promise<Module> {
  const controlsModule: Module = { ...controls, HTMLView: SanitizedHTMLView, HTMLMathView: SanitizedHTMLMathView };
  const outputModule: Module = { OutputModel: outputModelClass(opts.trusted), OutputView };
  const ipywidgets8 = (name: string, version: string, major: number, module: Module): Module => {
    if (semverMajor(version) !== major) {
      throw new UnsupportedModuleError(name, version, `this page bundles ${name} ${major}.x (ipywidgets 8) only`);
    }
    return module;
  };
  return async (moduleName, moduleVersion) => {
    switch (moduleName) {
      case "@jupyter-widgets/base":
        return ipywidgets8(moduleName, moduleVersion, 2, base as unknown as Module);
      case "@jupyter-widgets/controls":
        return ipywidgets8(moduleName, moduleVersion, 2, controlsModule);
      case "@jupyter-widgets/output":
        return ipywidgets8(moduleName, moduleVersion, 1, outputModule);
      case MODULE_NAME:
        if (!compatibleVersion(moduleVersion)) {
          throw new UnsupportedModuleError(moduleName, moduleVersion, `this page bundles ${MODULE_NAME} ${MODULE_VERSION}, which cannot render that version`);
        }
        return opts.safesailWidgets;
      default:
        throw new UnsupportedModuleError(moduleName, moduleVersion, "not bundled in this page (a published page loads no code from the network)");
    }
  };
}

export interface PageManagerOptions {
  /** Whether the notebook's signature was trusted when the page was published (Output widget HTML). */
  trusted: boolean;
  /** The safesail-widgets module (widgets/src/views' `safesailWidgets`). */
  safesailWidgets: Module;
}

/** HTMLManager whose every class comes from `pageLoader`. */
export class PageManager extends HTMLManager {
  constructor(opts: PageManagerOptions) {
    super({ loader: pageLoader(opts) });
    patchErrorWidgetView();
    this.renderMime = new RenderMimeRegistry({ initialFactories: standardRendererFactories, sanitizer: SANITIZER, markdownParser: MARKDOWN_PARSER });
    this.renderMime.addFactory({ safe: false, mimeTypes: [WIDGET_MIMETYPE], createRenderer: (options) => new WidgetRenderer(options, this) }, -10);
    this.renderMime.addFactory({ safe: true, mimeTypes: [PLOTLY_MIME], createRenderer: () => new PlotlyRenderer() }, -5);
  }

  protected override async loadClass(className: string, moduleName: string, moduleVersion: string): Promise<typeof base.WidgetModel | typeof base.WidgetView> {
    const module = await this.loader!(moduleName, moduleVersion);
    const cls = module[className];
    if (typeof cls !== "function") throw new UnsupportedModuleError(moduleName, moduleVersion, `no class ${className} in this page's copy of the module`);
    return cls as typeof base.WidgetModel;
  }

  /** Descriptions with `description_allow_html`: the same sanitiser as everything else on the page. */
  override inline_sanitize(source: string): string {
    return sanitizeHtml(source, OFFLINE);
  }
}
