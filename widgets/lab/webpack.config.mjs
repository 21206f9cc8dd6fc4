// The lab's webpack configuration: @jupyterlab/builder's base rules (CSS, SVG, fonts), one entry (bootstrap.js), and
// a module federation host that shares every core package, so prebuilt extensions (safesail-widgets, or any
// installed into share/jupyter/labextensions) run against the same @jupyterlab/*, @lumino/* and
// @jupyter-widgets/base instances as the lab.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

export function sharedConfig(core) {
  const shared = {};
  const singletons = new Set(core.jupyterlab.singletonPackages);
  for (const [name, version] of Object.entries(core.resolutions)) {
    shared[name] = { requiredVersion: `^${version}`, version, singleton: singletons.has(name) };
  }
  return shared;
}

export function labConfig({ core, buildDir, production }) {
  const webpack = require("webpack");
  const { merge } = require("webpack-merge");
  const baseConfig = require("@jupyterlab/builder/lib/webpack.config.base");
  return merge(baseConfig, {
    mode: production ? "production" : "development",
    devtool: false,
    context: here,
    entry: join(here, "bootstrap.js"),
    output: {
      path: join(buildDir, "static"),
      filename: "bundle.js",
      chunkFilename: "[name].[contenthash].js",
      publicPath: "auto",
      library: { type: "var", name: ["_JUPYTERLAB", "CORE_OUTPUT"] },
    },
    resolve: {
      alias: { "safesail-lab-app": join(buildDir, "app") },
    },
    plugins: [
      new webpack.container.ModuleFederationPlugin({
        name: "CORE_FEDERATION",
        library: { type: "var", name: ["_JUPYTERLAB", "CORE_LIBRARY_FEDERATION"] },
        shared: sharedConfig(core),
      }),
    ],
    performance: { hints: false },
    stats: "errors-warnings",
  });
}
