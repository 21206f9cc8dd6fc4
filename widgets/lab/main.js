// The lab application: the bundled JupyterLab extensions (build/app/extensions.js, generated from package.json),
// the prebuilt ones bootstrap.js loaded, and the keyboard shortcuts plugin below.
import { JupyterLab } from "@jupyterlab/application";
import { PageConfig } from "@jupyterlab/coreutils";
import { bundledExtensions } from "safesail-lab-app/extensions.js";
import { shortcutsPlugin } from "./shortcuts.js";

import "safesail-lab-app/style.js";

async function federatedModule(scope, module) {
  const factory = await window._JUPYTERLAB[scope].get(module);
  return factory();
}

function pluginsOf(mod) {
  const exported = mod && Object.prototype.hasOwnProperty.call(mod, "__esModule") ? mod.default : mod;
  return Array.isArray(exported) ? exported : [exported];
}

// Plugins whose providers are not in this lab: the table of contents and language-server packages of the 4.5.10
// release are missing from the npm mirror, so the notebook's ToC and LSP integrations are switched off.
// The announcements plugin fetches Jupyter news from the internet: this lab makes no request outside its server.
const UNAVAILABLE = [/:toc$/, /:language-server$/, /^@jupyterlab\/apputils-extension:announcements$/];

export async function main(federated) {
  const disabled = [];
  const deferred = [];
  const active = (plugin) => {
    if (PageConfig.Extension.isDisabled(plugin.id) || UNAVAILABLE.some((re) => re.test(plugin.id))) {
      disabled.push(plugin.id);
      return false;
    }
    if (PageConfig.Extension.isDeferred(plugin.id)) deferred.push(plugin.id);
    return true;
  };

  // A prebuilt extension with the same name as a bundled one replaces it (as in JupyterLab).
  const federatedNames = new Set(federated.map((d) => d.name));
  const plugins = [shortcutsPlugin];
  const mimeExtensions = [];
  const loads = [];
  for (const ext of bundledExtensions) {
    if (federatedNames.has(ext.name)) continue;
    loads.push(ext.load().then((mod) => ({ kind: ext.kind, mod, name: ext.name })));
  }
  for (const data of federated) {
    if (data.extension) loads.push(federatedModule(data.name, data.extension).then((mod) => ({ kind: "extension", mod, name: data.name })));
    if (data.mimeExtension) loads.push(federatedModule(data.name, data.mimeExtension).then((mod) => ({ kind: "mimeExtension", mod, name: data.name })));
    if (data.style) loads.push(federatedModule(data.name, data.style).then(() => ({ kind: "style", name: data.name })));
  }
  for (const result of await Promise.allSettled(loads)) {
    if (result.status === "rejected") {
      console.error("safesail lab: an extension failed to load", result.reason);
      continue;
    }
    const { kind, mod } = result.value;
    if (kind === "style") continue;
    const target = kind === "mimeExtension" ? mimeExtensions : plugins;
    for (const plugin of pluginsOf(mod)) if (active(plugin)) target.push(plugin);
  }

  const lab = new JupyterLab({
    mimeExtensions,
    disabled: { matches: disabled, patterns: PageConfig.Extension.disabled.map((v) => v.raw) },
    deferred: { matches: deferred, patterns: PageConfig.Extension.deferred.map((v) => v.raw) },
  });
  lab.registerPlugins(plugins);
  // For tests and scripts: the app object, and (below) a flag that says the shell is ready.
  window.jupyterapp = lab;
  void lab.start({ ignorePlugins: deferred, bubblingKeydown: true });
  await lab.restored;
  document.body.dataset.safesailLab = "ready";
}
