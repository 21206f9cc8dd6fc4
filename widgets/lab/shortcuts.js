// Keyboard shortcuts. JupyterLab's @jupyterlab/shortcuts-extension is not on the npm mirror for any 4.x release, so
// this plugin does its core job: every plugin's settings schema lists default shortcuts under
// "jupyter.lab.shortcuts" (Shift-Enter runs a cell, ...); bind them, minus those a user's settings disable.
import { ISettingRegistry } from "@jupyterlab/settingregistry";

export const shortcutsPlugin = {
  id: "@safesail/lab:shortcuts",
  description: "Binds the default keyboard shortcuts that plugins declare in their settings schemas.",
  autoStart: true,
  requires: [ISettingRegistry],
  // Not awaited: app.started resolves only after every auto-start plugin, this one included, has activated.
  activate: (app, registry) => {
    void bindDefaults(app, registry);
  },
};

async function bindDefaults(app, registry) {
    const { values } = await registry.connector.list("all");
    let bound = 0;
    for (const plugin of values) {
      const shortcuts = plugin.schema?.["jupyter.lab.shortcuts"] ?? [];
      for (const s of shortcuts) {
        if (s.disabled || !s.command || !Array.isArray(s.keys) || !s.selector) continue;
        if (!s.keys.some((k) => k)) continue;
        try {
          app.commands.addKeyBinding({ command: s.command, keys: s.keys, selector: s.selector, args: s.args ?? {} });
          bound += 1;
        } catch (err) {
          console.warn(`safesail lab: shortcut ${s.keys.join(" ")} for ${s.command} not bound`, err);
        }
      }
    }
    console.debug(`safesail lab: ${bound} keyboard shortcuts bound`);
}
