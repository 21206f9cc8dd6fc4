#!/usr/bin/python3
"""Runs cells in a real safesail kernel through jupyter_client and reports every message each cell produced.

    JUPYTER_PATH=<prefix>/share/jupyter /usr/bin/python3 cells_client.py CELLS.json

CELLS.json: a JSON list of cell sources. stdout: one JSON line, a list with one entry per cell:
{"reply": <execute_reply content>, "iopub": [{"msg_type", "content"}, ...]} (the iopub messages parented to that
execute_request, status messages and execute_input left out). The checks are made by the vitest file that runs this.
"""
import json
import sys
import time

from jupyter_client.manager import KernelManager

TIMEOUT = 90


def run(kc, code):
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
    out = []
    deadline = time.time() + TIMEOUT
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "status":
            if msg["content"]["execution_state"] == "idle":
                break
            continue
        if kind == "execute_input":
            continue
        out.append({"msg_type": kind, "content": msg["content"]})
    return {"reply": reply["content"], "iopub": out}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cells = json.load(f)
    km = KernelManager(kernel_name="safesail")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        print(json.dumps([run(kc, c) for c in cells], default=str))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
