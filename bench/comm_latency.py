#!/usr/bin/python3
"""Comm round-trip latency, client <-> kernel, measured from the client (jupyter_client, as a front end would).

    JUPYTER_PATH=... /usr/bin/python3 bench/comm_latency.py --kernel safesail --mode comm --n 1000

Modes:
  comm    the client sends comm_msg {i} on a comm whose kernel-side handler answers with comm.send(same data,
          same buffers); one round trip = send until that reply arrives on iopub.
  widget  the client sends a widget "update" {value: i} to an IntSlider; one round trip = send until the
          kernel's echo_update (parented to that message) arrives.
Prints one JSON line: {"kernel", "mode", "n", "payload_bytes", "median_ms", "p95_ms", "p99_ms", "mean_ms", "min_ms", "max_ms"}.
"""
import argparse
import json
import statistics
import time
import uuid

from jupyter_client.manager import KernelManager

SETUP = {
    ("safesail", "comm"): (
        'import { getKernel } from "safesail/kernel";\n'
        'getKernel().comms.registerTarget("bench.echo", (comm) => {\n'
        '  comm.onMessage((m) => comm.send(m.data, { buffers: m.buffers }));\n'
        '});\n'
    ),
    ("python3", "comm"): (
        "def _bench_target(comm, msg):\n"
        "    @comm.on_msg\n"
        "    def _echo(m):\n"
        "        comm.send(m['content']['data'], buffers=m['buffers'])\n"
        "get_ipython().kernel.comm_manager.register_target('bench.echo', _bench_target)\n"
    ),
    ("safesail", "widget"): 'import { widgets } from "safesail/kernel";\nconst benchSlider = widgets.IntSlider({ max: 1000000 });\nbenchSlider\n',
}


def wait_idle(kc, msg_id, timeout=120):
    seen = []
    deadline = time.time() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(msg)
        if msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return seen


def percentile(xs, q):
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", default="safesail")
    p.add_argument("--mode", choices=["comm", "widget"], default="comm")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--payload", type=int, default=0, help="bytes of binary buffer sent each way")
    args = p.parse_args()
    setup = SETUP.get((args.kernel if args.kernel in ("safesail", "python3") else "safesail", args.mode))
    if setup is None:
        raise SystemExit("no %s setup for kernel %s" % (args.mode, args.kernel))

    km = KernelManager(kernel_name=args.kernel)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        setup_id = kc.execute(setup)
        msgs = wait_idle(kc, setup_id)
        errors = [m["content"] for m in msgs if m["header"]["msg_type"] == "error"]
        if errors:
            raise SystemExit("setup cell failed: %s" % errors)
        if args.mode == "comm":
            comm_id = uuid.uuid4().hex
            op = kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "bench.echo", "data": {}})
            kc.shell_channel.send(op)
            wait_idle(kc, op["header"]["msg_id"])
        else:
            opens = [m for m in msgs if m["header"]["msg_type"] == "comm_open" and m["content"]["data"]["state"].get("_model_name") == "IntSliderModel"]
            comm_id = opens[0]["content"]["comm_id"]

        buffers = [bytes(args.payload)] if args.payload else []
        lat = []
        for i in range(args.warmup + args.n):
            if args.mode == "comm":
                data = {"i": i}
            else:
                data = {"method": "update", "state": {"value": i}, "buffer_paths": []}
            msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
            mid = msg["header"]["msg_id"]
            t0 = time.perf_counter()
            kc.session.send(kc.shell_channel.socket, msg, buffers=buffers)
            while True:
                r = kc.get_iopub_msg(timeout=30)
                if r["header"]["msg_type"] != "comm_msg" or r["content"]["comm_id"] != comm_id:
                    continue
                d = r["content"]["data"]
                if args.mode == "comm" and d.get("i") == i:
                    if args.payload and (len(r["buffers"]) != 1 or len(r["buffers"][0]) != args.payload):
                        raise SystemExit("reply without the %d-byte buffer" % args.payload)
                    break
                if args.mode == "widget" and d.get("method") == "echo_update" and r["parent_header"].get("msg_id") == mid:
                    break
            t1 = time.perf_counter()
            if i >= args.warmup:
                lat.append((t1 - t0) * 1000)
        print(json.dumps({
            "kernel": args.kernel, "mode": args.mode, "n": args.n, "payload_bytes": args.payload,
            "median_ms": round(statistics.median(lat), 3), "p95_ms": round(percentile(lat, 0.95), 3),
            "p99_ms": round(percentile(lat, 0.99), 3), "mean_ms": round(statistics.fmean(lat), 3),
            "min_ms": round(min(lat), 3), "max_ms": round(max(lat), 3),
        }))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
