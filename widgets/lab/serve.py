"""Serves the safesail lab: the JupyterLab front end built by widgets/lab/build.mjs, on Debian's jupyter-server and
jupyterlab-server (run it with /usr/bin/python3; `safesail lab` does).

Prebuilt extensions come from the standard labextensions paths (JUPYTER_PATH/labextensions), where `safesail lab
install` puts safesail-widgets; kernels from the standard kernelspec paths. Configuration files on disk are ignored
(JUPYTER_NO_CONFIG), so what runs is what this file and its command line say.

    /usr/bin/python3 widgets/lab/serve.py --ServerApp.port=8888 --ServerApp.root_dir=notebooks
"""
import os
import sys

os.environ.setdefault("JUPYTER_NO_CONFIG", "1")

try:
    from jupyterlab_server import LabServerApp
except ImportError as err:  # pragma: no cover - message for a machine without the Debian packages
    sys.stderr.write(
        "safesail lab: Debian's python3-jupyterlab-server is missing (%s); "
        "install it with: apt-get install python3-jupyter-server python3-jupyterlab-server\n" % err
    )
    sys.exit(3)

import getpass
import json

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web, websocket

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("SAFESAIL_LAB_BUILD", os.path.join(HERE, "build"))
STATE = os.environ.get("SAFESAIL_LAB_STATE", os.path.join(BUILD, "state"))


class IdentityHandler(APIHandler):
    """`/api/me` of jupyter-server 2, which JupyterLab 4 waits for before it starts (Debian ships 1.23)."""

    @web.authenticated
    def get(self):
        name = getpass.getuser()
        self.finish(json.dumps({
            "identity": {"username": name, "name": name, "display_name": name, "initials": name[:1].upper(),
                         "avatar_url": None, "color": None},
            "permissions": {},
        }))


class EventsHandler(websocket.WebSocketHandler, JupyterHandler):
    """`/api/events/subscribe` of jupyter-server 2: accepted and silent (1.23 has no event bus), so JupyterLab does
    not retry it forever."""

    async def get(self, *args, **kwargs):
        if self.current_user is None:
            raise web.HTTPError(403)
        return await super().get(*args, **kwargs)

    def on_message(self, message):
        pass


def _kernel_websockets_without_nagle():
    """Small websocket frames to the browser go out at once (TCP_NODELAY). jupyter-server 1.23 leaves Nagle's
    algorithm on for the kernel channels, and a widget update answered by a small frame then waited on the browser's
    delayed ACK (about 40 ms per round trip, measured by bench/widgets.ts)."""
    from jupyter_server.services.kernels.handlers import ZMQChannelsHandler

    original = ZMQChannelsHandler.open
    if getattr(original, "_safesail_nodelay", False):
        return

    def open_nodelay(self, *args, **kwargs):
        self.set_nodelay(True)
        return original(self, *args, **kwargs)

    open_nodelay._safesail_nodelay = True
    ZMQChannelsHandler.open = open_nodelay


_kernel_websockets_without_nagle()


class SafesailLab(LabServerApp):
    name = "lab"
    app_name = "safesail lab"
    description = "JupyterLab front end from npm @jupyterlab/*, with the safesail kernel and widgets"
    load_other_extensions = False
    app_url = "/lab"
    app_version = "4"
    static_dir = os.path.join(BUILD, "static")
    templates_dir = os.path.join(HERE, "templates")
    schemas_dir = os.path.join(BUILD, "schemas")
    themes_dir = os.path.join(BUILD, "themes")
    # overrides.json: the lab's defaults (widget state saved in and restored from notebooks; no news fetching).
    app_settings_dir = os.path.join(HERE, "..", "..", "jupyter-config", "lab")
    user_settings_dir = os.path.join(STATE, "user-settings")
    workspaces_dir = os.path.join(STATE, "workspaces")

    def initialize_handlers(self):
        self.handlers.extend([(r"/api/me", IdentityHandler), (r"/api/events/subscribe", EventsHandler)])
        super().initialize_handlers()

    def initialize_settings(self):
        super().initialize_settings()
        # JupyterLab's notebook front end asks the server for the page config's terminals flag; there are none here.
        self.serverapp.web_app.settings.setdefault("terminals_available", False)


def _jupyter_server_extension_points():
    return [{"module": __name__, "app": SafesailLab}]


def main(argv=None):
    if not os.path.exists(os.path.join(SafesailLab.static_dir, "bundle.js")):
        sys.stderr.write("safesail lab: %s has no bundle.js; build it with `node widgets/lab/build.mjs`\n" % SafesailLab.static_dir)
        return 2
    SafesailLab.launch_instance(argv=argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
