#!/usr/bin/python3
"""Executes notebooks headless with nbclient, for `safesail notebooks run`.

    /usr/bin/python3 run_notebooks.py --kernel safesail --timeout 600 [--out DIR] NOTEBOOK...

Each notebook runs in a fresh kernel (working directory: the notebook's folder) until the end or the first failing
cell, and is written to DIR/<name> (or back in place without --out) through a temp file and a rename, outputs and
widget state included, failed or not. One JSON line per notebook on stdout:

    {"path": ..., "out": ..., "written": true|false, "ok": true|false, "seconds": 1.2, "cells": 5,
     "error": null | {"cell": 3, "ename": "ReferenceError", "evalue": "x is not defined"}}

"cell" is the 0-based index in the notebook's cell list. "written" is false only when nothing could be written
to "out": the input could not be read as a notebook, or the write itself failed. Uses Debian's jupyter_client / nbclient / nbformat, so run
it with /usr/bin/python3; JUPYTER_PATH in the environment decides where the kernelspec is found.
"""
import argparse
import json
import math
import os
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

POLL_SLICE_S = 1.0


class SlicedPollClient(NotebookClient):
    """NotebookClient whose channel reads wait at most POLL_SLICE_S seconds per poll, up to the same deadline.

    Why: once in a while (seen on notebook 02, under load) a reply that the kernel had sent sat unread until
    nbclient's whole cell timeout ran out, exactly 900 s later, and was then read at once: the asyncio wake-up for
    the socket was missed (pyzmq's edge-triggered FD). Each new poll checks the socket first, so with slices a
    missed wake-up costs at most one slice instead of the cell timeout. The deadline and the timeout errors are
    unchanged.
    """

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = _sliced(channel.get_msg)
        return kc


def _sliced(get_msg):
    from queue import Empty

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


def write_atomic(nb, out_path):
    directory = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out_path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
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


def short(text, limit=500):
    text = str(text).strip()
    return text if len(text) <= limit else text[:limit] + "…"


def run_one(path, out_path, args):
    started = time.time()
    result = {"path": path, "out": out_path, "written": False, "ok": False, "seconds": 0.0, "cells": 0, "error": None}
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
        write_atomic(nb, out_path)
        result["written"] = True
    except Exception as e:
        result["ok"] = False
        result["error"] = result["error"] or {"cell": None, "ename": type(e).__name__, "evalue": "writing " + out_path + ": " + short(e)}
    result["seconds"] = round(time.time() - started, 3)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--kernel", default="safesail")
    p.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    p.add_argument("--startup-timeout", type=float, default=120)
    p.add_argument("--out", help="folder for the executed notebooks (default: in place)")
    args = p.parse_args()
    for path in args.notebooks:
        out_path = os.path.join(args.out, os.path.basename(path)) if args.out else path
        result = run_one(path, out_path, args)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
