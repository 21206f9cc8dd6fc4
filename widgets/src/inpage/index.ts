// The in-page runtime of a published page (inpage/runtime.js; built by widgets/scripts/build-inpage.mjs): it lets
// TokenActivations and SteeringPanel views answer Generate with no kernel, by running the model, its SAEs and the
// kernel's own widget code in the reader's browser on onnxruntime-web (the same graph builder, runtime and library
// as Node; see assets.ts for the pack and page-kernel.ts for the comm).
//
// The page loads, in order: inpage/ort-wasm.js, inpage/model-<name>.js, this script, then the embed bundle. The
// embed bundle's renderer calls `window.safesailInPage.attach(manager, models)` after it restores the saved widget
// state and before it draws the views. A widget is run in the page when its state's `in_page` names a model whose
// pack the page carries, with every SAE it reads; the others stay saved views. Attaching gives those models a comm
// at once (their views enable their controls); the model loads in the background, then the kernel widgets connect.
// `document.documentElement.dataset.safesailInpage` says where it stands: "loading", "ready" or "error: ...".
import type { WidgetModel } from "@jupyter-widgets/base";
import { FEATURE_DB_FORMAT, FEATURE_DB_VERSION, type FeatureDb } from "../../../src/db/records.ts";
import { setWasmBinary } from "../../../src/engine/ort-web.ts";
import type { Sae } from "../../../src/sae/sae.ts";
import { featureAnalyser } from "../../../src/steer/token-features.ts";
import { steeringPanel } from "../../../kernel/src/widgets/steering-panel.ts";
import { tokenActivations } from "../../../kernel/src/widgets/token-activations.ts";
import { TOKEN_ACTIVATIONS_MODEL, type InPageSpec } from "../protocol.ts";
import { STEERING_PANEL_MODEL } from "../steering-protocol.ts";
import { gunzipBase64, unpackInPage, type InPageManifest, type InPageModel } from "./assets.ts";
import { PageKernel, type PageLink } from "./page-kernel.ts";

declare global {
  interface Window {
    safesailInPagePacks?: Record<string, { manifest: InPageManifest; blob: string }>;
    safesailOrtWasm?: string;
    safesailInPage?: SafesailInPage;
  }
}

export interface SafesailInPage {
  /** Connects the page's runnable widgets; returns how many. */
  attach(manager: unknown, models: WidgetModel[]): number;
  /** Settles when every attached widget is connected (or has failed, with its message shown). */
  ready: Promise<void>;
  /** The page's model, SAEs and database by model name (loaded on first use): for the console and bench/inpage.ts. */
  model(name: string): Promise<InPageModel>;
}

const RUNNABLE = new Set([TOKEN_ACTIVATIONS_MODEL, STEERING_PANEL_MODEL]);

const loaded = new Map<string, Promise<InPageModel>>();
let wasm: Promise<void> | undefined;

function loadPack(name: string): Promise<InPageModel> {
  let p = loaded.get(name);
  if (!p) {
    p = (async () => {
      const pack = window.safesailInPagePacks?.[name];
      if (!pack) throw new Error(`the page carries no in-page pack for model "${name}"`);
      wasm ??= (async () => {
        if (!window.safesailOrtWasm) throw new Error("the page carries no onnxruntime-web binary (inpage/ort-wasm.js)");
        setWasmBinary(await gunzipBase64(window.safesailOrtWasm));
      })();
      await wasm;
      return unpackInPage(pack.manifest, await gunzipBase64(pack.blob));
    })();
    loaded.set(name, p);
  }
  return p;
}

/** The spec when this page can run the widget, else null. */
function runnable(model: WidgetModel): InPageSpec | null {
  if (!RUNNABLE.has(model.get("_model_name"))) return null;
  const spec = model.get("in_page") as InPageSpec | null | undefined;
  if (!spec || typeof spec.model !== "string" || !Array.isArray(spec.saes)) return null;
  const pack = window.safesailInPagePacks?.[spec.model];
  if (!pack) return null;
  const hooks = new Set(pack.manifest.saes.map((s) => s.hook));
  return spec.saes.every((h) => hooks.has(h)) ? spec : null;
}

function saesOf(m: InPageModel, spec: InPageSpec): Sae[] {
  return spec.saes.map((h) => m.saes.get(h)!);
}

/** The kernel widget for a page model, on the page's model. */
function connect(kernel: PageKernel, link: PageLink, spec: InPageSpec, m: InPageModel): void {
  const model = link.model;
  const opts = { kernel, modelId: model.model_id };
  const db: FeatureDb = m.db ?? { format: FEATURE_DB_FORMAT, version: FEATURE_DB_VERSION, records: [] };
  const widget: { status: string; set(values: { status: "ready"; message: string }): unknown } = model.get("_model_name") === TOKEN_ACTIVATIONS_MODEL
    ? tokenActivations({ analyse: featureAnalyser(m.model, saesOf(m, spec), db, spec.options) }, opts)
    : steeringPanel(m.model, saesOf(m, spec), m.db, { ...spec.options, generate: false }, opts);
  // A state saved while a request was still running says "generating"; nothing runs here yet: ready.
  link.open(() => {
    if (widget.status === "generating") widget.set({ status: "ready", message: "" });
  });
}

const kernel = new PageKernel();
let readyResolve!: () => void;
const ready = new Promise<void>((r) => (readyResolve = r));

function attach(_manager: unknown, models: WidgetModel[]): number {
  const jobs: Promise<void>[] = [];
  const root = document.documentElement;
  for (const model of models) {
    const spec = runnable(model);
    if (!spec) continue;
    const link = kernel.link(model);
    jobs.push(
      loadPack(spec.model).then(
        (m) => connect(kernel, link, spec, m),
        (err: unknown) => link.fail(`the in-page model could not start: ${err instanceof Error ? err.message : String(err)}`),
      ),
    );
  }
  if (jobs.length === 0) {
    readyResolve();
    return 0;
  }
  root.dataset.safesailInpage = "loading";
  void Promise.all(jobs).then(async () => {
    const errors = [...loaded.values()].map((p) => p.then(() => null, (e: unknown) => String(e instanceof Error ? e.message : e)));
    const first = (await Promise.all(errors)).find((e) => e !== null);
    root.dataset.safesailInpage = first ? `error: ${first}` : "ready";
    readyResolve();
  });
  return jobs.length;
}

window.safesailInPage = { attach, ready, model: loadPack };
