// Entry of the safesail lab bundle. Runs before any shared module is loaded: it fetches the prebuilt (federated)
// extensions the server lists in the page config, lets webpack settle which copy of each shared package everyone
// uses, and only then imports the app (main.js), so the app and the extensions see one @jupyterlab/* each.
/* global __webpack_init_sharing__ __webpack_share_scopes__ */

function pageConfig() {
  const el = document.getElementById("jupyter-config-data");
  return el ? JSON.parse(el.textContent || "{}") : {};
}

const config = pageConfig();
// Chunks load from the server's static URL, whatever the page's URL.
// eslint-disable-next-line no-undef
__webpack_public_path__ = `${config.fullStaticUrl}/`;

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.onerror = () => reject(new Error(`could not load ${url}`));
    script.onload = resolve;
    script.async = true;
    script.src = url;
    document.head.appendChild(script);
  });
}

async function loadFederated(data) {
  await loadScript(`${config.fullLabextensionsUrl}/${data.name}/${data.load}`);
  await __webpack_init_sharing__("default");
  const container = window._JUPYTERLAB[data.name];
  await container.init(__webpack_share_scopes__.default);
}

void (async () => {
  const federated = config.federated_extensions ?? [];
  const results = await Promise.allSettled(federated.map(loadFederated));
  const loaded = [];
  results.forEach((r, i) => {
    if (r.status === "rejected") console.error(`safesail lab: extension ${federated[i].name} failed to load`, r.reason);
    else loaded.push(federated[i]);
  });
  const { main } = await import("./main.js");
  await main(loaded);
})();
