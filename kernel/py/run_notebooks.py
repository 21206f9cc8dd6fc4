#!/usr/bin/python3
"""Executes notebooks headless with nbclient, for `safesail notebooks run`.

    /usr/bin/python3 run_notebooks.py --kernel safesail --timeout 600 [--out DIR] [--no-sign] NOTEBOOK...

Each notebook runs in a fresh kernel (working directory: the notebook's folder) until the end or the first failing
cell, and is written to DIR/<name> (or back in place without --out) through a temp file and a rename, outputs and
widget state included, failed or not. One JSON line per notebook on stdout:

    {"path": ..., "out": ..., "written": true|false, "ok": true|false, "seconds": 1.2, "cells": 5,
     "error": null | {"cell": 3, "ename": "ReferenceError", "evalue": "x is not defined"},
     "widgets": 4, "signed": true|false, "sign_error": null | "..."}

"cell" is the 0-based index in the notebook's cell list. "written" is false only when nothing could be written
to "out": the input could not be read as a notebook, or the write itself failed. Uses Debian's jupyter_client / nbclient / nbformat, so run
it with /usr/bin/python3; JUPYTER_PATH in the environment decides where the kernelspec is found.

Widget state. WidgetStateRecorder records the widget comm traffic the kernel sends on iopub (comm_open on
"jupyter.widget", comm_msg "update" / "echo_update", comm_close), whatever request it is parented to, plus the
changes nbclient's Output-widget emulation makes as the front end would. Before the kernel is shut down (after the
last cell, or after a failure) a kernel_info request serves as a barrier: iopub is read up to its idle status, so
updates sent after a cell's own idle are not lost. The models still open then are written to
metadata.widgets["application/vnd.jupyter.widget-state+json"] (version 2.0, binary buffers base64 by path), the
format @jupyter-widgets/html-manager and JupyterLab read. nbclient's own store_widget_state is not used for the
output: it reads only messages parented to the running cell, ignores comm_close, and is skipped when a cell fails.
With no widget open at the end the key is absent (a stale one from an earlier run is removed).

Signing. Unless --no-sign, the notebook is signed after it is written, as Jupyter does for notebooks it produced:
nbformat's NotebookNotary (secret and signature database in the Jupyter data dir, JUPYTER_DATA_DIR honoured) signs
the notebook read back from the exact text written, so the file on disk checks as trusted. A signing failure does
not fail the run; it is reported in "sign_error".
"""
import argparse
import base64
import copy
import json
import math
import os
import sys
import tempfile
import time
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.output_widget import OutputWidget
from nbclient.util import ensure_async

POLL_SLICE_S = 1.0
# How long the end-of-run barrier waits for the kernel to answer (a kernel stuck in a blocking cell never does).
BARRIER_S = 5.0

WIDGET_TARGET = "jupyter.widget"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"


class WidgetStateRecorder:
    """The widget models the kernel has open, as a front end would hold them, from the comm traffic.

    models: comm_id -> {"state": {...}, "buffers": {tuple(path): bytes}}. A partial update replaces whole top-level
    attributes, so buffers under an attribute the update sets (in its state or its buffer_paths) are dropped first.
    """

    def __init__(self):
        self.models = {}
        self.opened = 0

    def observe(self, msg):
        """Applies one iopub message (anything else than a widget comm message is ignored)."""
        try:
            kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
            if kind not in ("comm_open", "comm_msg", "comm_close"):
                return
            content = msg.get("content") or {}
            comm_id = content.get("comm_id")
            if not isinstance(comm_id, str):
                return
            data = content.get("data") or {}
            if kind == "comm_close":
                self.models.pop(comm_id, None)
                return
            if kind == "comm_open":
                if content.get("target_name") != WIDGET_TARGET or not isinstance(data.get("state"), dict):
                    return
                self.models[comm_id] = {"state": {}, "buffers": {}}
                self.opened += 1
            elif comm_id not in self.models or data.get("method") not in ("update", "echo_update"):
                return
            self._apply(comm_id, data.get("state"), data.get("buffer_paths"), msg.get("buffers") or [])
        except Exception as e:  # a malformed message must not stop the run
            sys.stderr.write(f"run_notebooks: widget state: ignored a malformed {msg.get('msg_type')}: {e}\n")

    def front_end_update(self, comm_id, state):
        """A change the front end makes itself (nbclient's Output widget capturing outputs)."""
        if comm_id in self.models:
            self._apply(comm_id, state, [], [])

    def _apply(self, comm_id, state, buffer_paths, buffers):
        model = self.models[comm_id]
        state = copy.deepcopy(state) if isinstance(state, dict) else {}
        paths = [list(p) for p in (buffer_paths or []) if isinstance(p, (list, tuple)) and len(p) > 0]
        replaced = set(state) | {p[0] for p in paths}
        model["buffers"] = {path: b for path, b in model["buffers"].items() if path[0] not in replaced}
        model["state"].update(state)
        for path, buf in zip(paths, buffers):
            model["buffers"][tuple(path)] = bytes(buf)

    def metadata(self):
        """The widget-state document, or None when no model is open."""
        out = {}
        for comm_id, model in self.models.items():
            state = model["state"]
            if "_model_name" not in state:
                continue
            entry = {
                "model_name": state.get("_model_name"),
                "model_module": state.get("_model_module"),
                "model_module_version": state.get("_model_module_version"),
                "state": json.loads(json.dumps(state)),
            }
            if model["buffers"]:
                entry["buffers"] = [
                    {"path": list(path), "encoding": "base64", "data": base64.b64encode(b).decode("ascii")}
                    for path, b in model["buffers"].items()
                ]
            out[comm_id] = entry
        if not out:
            return None
        return {"version_major": 2, "version_minor": 0, "state": out}


def set_widget_state(nb, document):
    """Puts the widget-state document in nb.metadata.widgets, or removes a stale one when there is none."""
    widgets = nb.metadata.get("widgets")
    if document is not None:
        if not isinstance(widgets, dict):
            widgets = nb.metadata["widgets"] = nbformat.NotebookNode()
        widgets[WIDGET_STATE_MIME] = nbformat.from_dict(document)
    elif isinstance(widgets, dict) and WIDGET_STATE_MIME in widgets:
        del widgets[WIDGET_STATE_MIME]
        if not widgets:
            del nb.metadata["widgets"]


class RecordingOutputWidget(OutputWidget):
    """nbclient's Output-widget emulation, whose output changes also reach the recorder (as a front end's would)."""

    def sync_state(self):
        super().sync_state()
        recorder = getattr(self.executor, "widget_recorder", None)
        if recorder is not None:
            recorder.front_end_update(self.comm_id, {"outputs": self.outputs})


class SlicedPollClient(NotebookClient):
    """NotebookClient whose channel reads wait at most POLL_SLICE_S seconds per poll, up to the same deadline.

    Why: once in a while (seen on notebook 02, under load) a reply that the kernel had sent sat unread until
    nbclient's whole cell timeout ran out, exactly 900 s later, and was then read at once: the asyncio wake-up for
    the socket was missed (pyzmq's edge-triggered FD). Each new poll checks the socket first, so with slices a
    missed wake-up costs at most one slice instead of the cell timeout. The deadline and the timeout errors are
    unchanged.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.widget_recorder = WidgetStateRecorder()
        self.widget_registry["@jupyter-widgets/output"] = {"OutputModel": RecordingOutputWidget}

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = _sliced(channel.get_msg)
        kc.iopub_channel.get_msg = _recorded(kc.iopub_channel.get_msg, self.widget_recorder)
        return kc

    def set_widgets_metadata(self):
        # nbclient's own widget state (see the module docstring); run_one writes the recorder's instead.
        pass

    async def _async_cleanup_kernel(self):
        try:
            await self._widget_barrier()
        except Exception as e:
            sys.stderr.write(f"run_notebooks: widget state: end-of-run barrier failed: {e}\n")
        await super()._async_cleanup_kernel()

    async def _widget_barrier(self):
        """Reads iopub up to the idle status of a kernel_info request, so every widget message sent before is seen."""
        if self.kc is None or self.km is None or self.widget_recorder.opened == 0:
            return
        if not await ensure_async(self.km.is_alive()):
            return
        msg_id = await ensure_async(self.kc.kernel_info())
        deadline = time.monotonic() + BARRIER_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                msg = await self.kc.iopub_channel.get_msg(timeout=left)
            except Empty:
                return
            if (msg.get("msg_type") == "status" and msg.get("parent_header", {}).get("msg_id") == msg_id
                    and msg.get("content", {}).get("execution_state") == "idle"):
                return


def _recorded(get_msg, recorder):
    async def recorded_get_msg(timeout=None):
        msg = await get_msg(timeout=timeout)
        recorder.observe(msg)
        return msg

    return recorded_get_msg


def _sliced(get_msg):
    async def sliced_get_msg(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE_S if deadline is None else max(0.0, min(POLL_SLICE_S, deadline - time.monotonic()))
            try:
                return await get_msg(timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return sliced_get_msg


def first_error_output(nb):
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return {"cell": i, "ename": out.get("ename", ""), "evalue": out.get("evalue", "")}
    return None


def notebook_text(nb):
    """The text nbformat.write would write."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def write_atomic(text, out_path):
    directory = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out_path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600: keep the mode of the file replaced, else what the umask gives.
        try:
            mode = os.stat(out_path).st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, out_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def sign_text(text):
    """Signs the notebook as read back from `text` (what Jupyter will read from the file) with the Jupyter data
    dir's notary (JUPYTER_DATA_DIR honoured, as jupyter_core does)."""
    from jupyter_core.paths import jupyter_data_dir
    from nbformat.sign import NotebookNotary

    data_dir = jupyter_data_dir()
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    notary = NotebookNotary(data_dir=data_dir)
    try:
        if getattr(notary.store, "db_file", None) == ":memory:":
            raise RuntimeError(f"the signature database in {data_dir} cannot be opened (the signature would not be kept)")
        notary.sign(nbformat.reads(text, as_version=4))
    finally:
        notary.store.close()


def short(text, limit=500):
    text = str(text).strip()
    return text if len(text) <= limit else text[:limit] + "…"


def run_one(path, out_path, args):
    started = time.time()
    result = {"path": path, "out": out_path, "written": False, "ok": False, "seconds": 0.0, "cells": 0, "error": None,
              "widgets": 0, "signed": False, "sign_error": None}
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # unreadable, not JSON, not a notebook
        result["error"] = {"cell": None, "ename": type(e).__name__, "evalue": short(e)}
        result["seconds"] = round(time.time() - started, 3)
        return result
    result["cells"] = len(nb.cells)
    current = {"cell": None}

    def on_cell_start(cell=None, cell_index=None, **_):
        current["cell"] = cell_index

    client = None
    try:
        client = SlicedPollClient(
            nb,
            kernel_name=args.kernel,
            timeout=int(math.ceil(args.timeout)),
            startup_timeout=int(math.ceil(args.startup_timeout)),
            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
            on_cell_start=on_cell_start,
        )
        client.execute()
        result["ok"] = True
    except CellTimeoutError as e:
        result["error"] = {"cell": current["cell"], "ename": "CellTimeoutError", "evalue": short(str(e).splitlines()[0] if str(e) else "timeout")}
    except CellExecutionError as e:
        result["error"] = first_error_output(nb) or {"cell": current["cell"], "ename": e.ename, "evalue": short(e.evalue)}
    except DeadKernelError as e:
        result["error"] = {"cell": current["cell"], "ename": "DeadKernelError", "evalue": short(e)}
    except Exception as e:  # kernel not found, start-up timeout, ...
        result["error"] = {"cell": current["cell"], "ename": type(e).__name__, "evalue": short(e)}
    try:
        if client is not None:
            document = client.widget_recorder.metadata()
            set_widget_state(nb, document)
            result["widgets"] = len(document["state"]) if document else 0
        text = notebook_text(nb)
        write_atomic(text, out_path)
        result["written"] = True
    except Exception as e:
        result["ok"] = False
        result["error"] = result["error"] or {"cell": None, "ename": type(e).__name__, "evalue": "writing " + out_path + ": " + short(e)}
    if result["written"] and args.sign:
        try:
            sign_text(text)
            result["signed"] = True
        except Exception as e:
            result["sign_error"] = short(f"{type(e).__name__}: {e}")
    result["seconds"] = round(time.time() - started, 3)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--kernel", default="safesail")
    p.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    p.add_argument("--startup-timeout", type=float, default=120)
    p.add_argument("--out", help="folder for the executed notebooks (default: in place)")
    p.add_argument("--no-sign", dest="sign", action="store_false",
                   help="do not sign (trust) the written notebooks in the Jupyter data dir's signature database")
    args = p.parse_args()
    for path in args.notebooks:
        out_path = os.path.join(args.out, os.path.basename(path)) if args.out else path
        result = run_one(path, out_path, args)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
