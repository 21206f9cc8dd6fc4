"""The safesail kernel driven by jupyter_client as a front end would drive it.

Comms both ways with binary buffers, comm_info, interrupts (SIGINT from the kernel manager, interrupt_request on
control, a blocking and an awaiting cell), signed-message checks, garbage frames, a flood of 10,000 malformed or
unknown comm messages, stop_on_error aborts, silent executes, display updates, unknown request types, `safesail/*`
imports in cells, and shutdown.

Run by kernel/tests/jupyter.test.ts (JUPYTER_PATH points at a temporary kernelspec install holding "safesail",
interrupt_mode signal, and "safesail-msg", interrupt_mode message); by hand:
    JUPYTER_PATH=<prefix>/share/jupyter /usr/bin/python3 -m unittest -v test_client
"""
import json
import os
import random
import time
import unittest
import uuid

import zmq
from jupyter_client.manager import start_new_kernel
from jupyter_client.utils import run_sync

KERNEL = os.environ.get("SAFESAIL_KERNEL_NAME", "safesail")
KERNEL_MSG = os.environ.get("SAFESAIL_KERNEL_NAME_MSG", "safesail-msg")
TIMEOUT = 30


def start(name):
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=60)
    return km, kc


def control_reply(kc, msg_id, timeout=10):
    """The control-channel reply to msg_id (skipping others, e.g. the kernel_info_reply of start-up)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = run_sync(kc.control_channel.get_msg)(timeout=max(0.01, deadline - time.time()))
        if r["parent_header"].get("msg_id") == msg_id:
            return r
    raise AssertionError("no control reply to %s" % msg_id)


def stop(km, kc):
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=False)


class Session:
    """Helpers over a BlockingKernelClient."""

    def __init__(self, kc):
        self.kc = kc

    def send_shell(self, msg_type, content, buffers=None, metadata=None):
        msg = self.kc.session.msg(msg_type, content, metadata=metadata or {})
        self.kc.session.send(self.kc.shell_channel.socket, msg, buffers=buffers or [])
        return msg["header"]["msg_id"]

    def iopub_until(self, pred, timeout=TIMEOUT):
        """iopub messages until one satisfies pred; returns (match, seen)."""
        seen = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                m = self.kc.get_iopub_msg(timeout=max(0.01, deadline - time.time()))
            except Exception:
                break
            seen.append(m)
            if pred(m):
                return m, seen
        raise AssertionError("iopub: expected message not seen; got %s" % [(m["msg_type"], m["content"]) for m in seen][-10:])

    def shell_reply(self, msg_id, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.kc.get_shell_msg(timeout=max(0.01, deadline - time.time()))
            if r["parent_header"].get("msg_id") == msg_id:
                return r
        raise AssertionError("no shell reply to %s" % msg_id)

    def execute(self, code, timeout=TIMEOUT, **kw):
        """Runs code; returns (reply content, iopub messages of this request up to idle)."""
        msg_id = self.kc.execute(code, **kw)
        outs = []
        _, seen = self.iopub_until(
            lambda m: m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status" and m["content"]["execution_state"] == "idle",
            timeout,
        )
        outs = [m for m in seen if m["parent_header"].get("msg_id") == msg_id]
        reply = self.shell_reply(msg_id, timeout)
        return reply["content"], outs

    def ok(self, code, **kw):
        reply, outs = self.execute(code, **kw)
        if reply["status"] != "ok":
            raise AssertionError("%r failed: %s: %s\n%s" % (code, reply.get("ename"), reply.get("evalue"), "\n".join(reply.get("traceback", []))))
        return outs

    def result(self, code):
        outs = self.ok(code)
        for m in outs:
            if m["msg_type"] == "execute_result":
                return m["content"]["data"]["text/plain"]
        raise AssertionError("no execute_result for %r" % code)

    def alive_within(self, seconds):
        """kernel_info round trip time; fails when there is no reply within `seconds`."""
        t = time.time()
        msg_id = self.kc.kernel_info()
        self.shell_reply(msg_id, timeout=seconds)
        return time.time() - t


class CommsAndRobustness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start(KERNEL)
        cls.s = Session(cls.kc)

    @classmethod
    def tearDownClass(cls):
        stop(cls.km, cls.kc)

    def setUp(self):
        # Drop whatever earlier tests left on iopub.
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0.05)
            except Exception:
                break

    def test_01_frontend_opened_comm_round_trip_with_buffers(self):
        self.s.ok(
            """
import { getKernel } from "safesail/kernel";
const received: unknown[] = [];
getKernel().comms.registerTarget("test.echo", (comm, msg) => {
  comm.send({ opened: msg.data, nbuf: msg.buffers.length });
  comm.onMessage((m) => {
    received.push(m.data);
    comm.send({ echo: m.data, sizes: m.buffers.map((b) => b.length) }, { buffers: m.buffers.map((b) => b.map((x) => 255 - x)) });
  });
  comm.onClose((m) => { received.push({ closed: m.data }); });
});
"""
        )
        cid = uuid.uuid4().hex
        self.s.send_shell("comm_open", {"comm_id": cid, "target_name": "test.echo", "data": {"hello": "kernel"}}, buffers=[b"\x01\x02"])
        m, _ = self.s.iopub_until(lambda m: m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == cid)
        self.assertEqual(m["content"]["data"], {"opened": {"hello": "kernel"}, "nbuf": 1})

        payload = bytes(range(256)) * 4
        self.s.send_shell("comm_msg", {"comm_id": cid, "data": {"n": 7}}, buffers=[payload, b"abc"])
        m, _ = self.s.iopub_until(lambda m: m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == cid and "echo" in m["content"]["data"])
        self.assertEqual(m["content"]["data"], {"echo": {"n": 7}, "sizes": [1024, 3]})
        self.assertEqual(len(m["buffers"]), 2)
        self.assertEqual(bytes(m["buffers"][0]), bytes(255 - b for b in payload))
        self.assertEqual(bytes(m["buffers"][1]), bytes(255 - b for b in b"abc"))

        # comm_info lists it (and filters by target).
        msg_id = self.kc.comm_info()
        info = self.s.shell_reply(msg_id)
        self.assertEqual(info["header"]["msg_type"], "comm_info_reply")
        self.assertEqual(info["content"]["status"], "ok")
        self.assertEqual(info["content"]["comms"][cid], {"target_name": "test.echo"})
        msg_id = self.kc.comm_info(target_name="no.such.target")
        self.assertEqual(self.s.shell_reply(msg_id)["content"]["comms"], {})

        # Front-end close reaches the kernel's onClose and removes the comm.
        self.s.send_shell("comm_close", {"comm_id": cid, "data": {"bye": True}})
        self.assertEqual(self.s.result("JSON.stringify(received)"), "'[{\"n\":7},{\"closed\":{\"bye\":true}}]'")
        msg_id = self.kc.comm_info(target_name="test.echo")
        self.assertEqual(self.s.shell_reply(msg_id)["content"]["comms"], {})

    def test_01b_comm_round_trip_latency(self):
        self.s.ok(
            """
import { getKernel } from "safesail/kernel";
getKernel().comms.registerTarget("test.ping", (comm) => { comm.onMessage((m) => comm.send(m.data, { buffers: m.buffers })); });
"""
        )
        cid = uuid.uuid4().hex
        self.s.send_shell("comm_open", {"comm_id": cid, "target_name": "test.ping", "data": {}})
        times = []
        for i in range(300):
            t = time.perf_counter()
            self.s.send_shell("comm_msg", {"comm_id": cid, "data": {"i": i}}, buffers=[b"x" * 64])
            m, _ = self.s.iopub_until(lambda m: m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == cid)
            times.append(time.perf_counter() - t)
            self.assertEqual(m["content"]["data"], {"i": i})
        times.sort()
        median, p95 = times[len(times) // 2] * 1000, times[int(len(times) * 0.95)] * 1000
        print("\n  comm round trip (comm_msg -> kernel handler -> comm_msg, 64-byte buffer): median %.2f ms, p95 %.2f ms over %d" % (median, p95, len(times)))
        self.assertLess(median, 50)

    def test_02_kernel_opened_comm_reaches_the_client(self):
        outs = self.s.ok(
            """
import { getKernel } from "safesail/kernel";
const got: unknown[] = [];
const k2f = getKernel().comms.open("test.k2f", { hello: "front end" }, { buffers: [new Uint8Array([9, 8, 7]), new Uint8Array(new Float32Array([1.5]).buffer)] });
k2f.onMessage((m) => { got.push([m.data, Array.from(m.buffers[0] ?? [])]); k2f.send({ ack: true }); });
k2f.commId
"""
        )
        opens = [m for m in outs if m["msg_type"] == "comm_open"]
        self.assertEqual(len(opens), 1)
        cid = opens[0]["content"]["comm_id"]
        self.assertEqual(opens[0]["content"]["target_name"], "test.k2f")
        self.assertEqual(opens[0]["content"]["data"], {"hello": "front end"})
        self.assertEqual([bytes(b) for b in opens[0]["buffers"]], [b"\x09\x08\x07", bytes(memoryview(bytearray(b"\x00\x00\xc0\x3f")))])

        msg_id = self.kc.comm_info(target_name="test.k2f")
        self.assertEqual(self.s.shell_reply(msg_id)["content"]["comms"], {cid: {"target_name": "test.k2f"}})

        # The front end answers on the kernel-opened comm; the kernel's reply is parented to that comm_msg.
        sent = self.s.send_shell("comm_msg", {"comm_id": cid, "data": {"x": 1}}, buffers=[b"\x05\x06"])
        m, _ = self.s.iopub_until(lambda m: m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == cid)
        self.assertEqual(m["content"]["data"], {"ack": True})
        self.assertEqual(m["parent_header"]["msg_id"], sent)
        self.assertEqual(self.s.result("JSON.stringify(got)"), "'[[{\"x\":1},[5,6]]]'")

        # Kernel-side close sends comm_close.
        outs = self.s.ok("k2f.close({ reason: 'done' })")
        closes = [m for m in outs if m["msg_type"] == "comm_close"]
        self.assertEqual([c["content"] for c in closes], [{"comm_id": cid, "data": {"reason": "done"}}])

    def test_03_comm_open_for_an_unknown_target_is_closed(self):
        cid = uuid.uuid4().hex
        self.s.send_shell("comm_open", {"comm_id": cid, "target_name": "nobody.listens", "data": {}})
        m, _ = self.s.iopub_until(lambda m: m["msg_type"] == "comm_close" and m["content"]["comm_id"] == cid)
        self.assertEqual(m["content"]["data"], {})

    def test_04_bad_signatures_and_garbage_frames_are_dropped(self):
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        info = self.km.get_connection_info()
        sock.connect("%s://%s:%d" % (info["transport"], info["ip"], info["shell_port"]))
        session = self.kc.session

        def frames(msg_type, content, signature=None, header_override=None):
            header = session.msg_header(msg_type)
            if header_override is not None:
                header = header_override
            parts = [json.dumps(header, default=str).encode(), b"{}", b"{}", json.dumps(content).encode()]
            sig = session.sign(parts) if signature is None else signature
            return [b"<IDS|MSG>", sig] + parts

        bad = [
            frames("execute_request", {"code": "globalThis.__pwned = 1"}, signature=b"0" * 64),
            frames("execute_request", {"code": "globalThis.__pwned = 2"}, signature=b""),
            frames("kernel_info_request", {}, signature=b"not-hex"),
            [b"no delimiter at all"],
            [b"<IDS|MSG>"],
            [b"<IDS|MSG>", b"sig", b"{}"],
            [b"<IDS|MSG>", session.sign([b"{", b"}", b"{}", b"{}"]), b"{", b"}", b"{}", b"{}"],
            frames("x", {}, header_override=[1, 2, 3]),
            frames("x", {}, header_override={"msg_id": "a", "msg_type": 5}),
            [os.urandom(n) for n in (1, 7, 100, 5000)],
            [b"\xff\xfe\x00"] * 12,
        ]
        # A correctly signed message sent twice: the replay is dropped.
        replay = frames("execute_request", {"code": "globalThis.__count = (globalThis.__count ?? 0) + 1", "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        for f in bad:
            sock.send_multipart(f)
        sock.send_multipart(replay)
        sock.send_multipart(replay)
        # The same garbage on control and stdin (ROUTER sockets too), and random bytes at the heartbeat.
        others = []
        for port, kind in ((info["control_port"], zmq.DEALER), (info["stdin_port"], zmq.DEALER)):
            o = ctx.socket(kind)
            o.linger = 0
            o.connect("%s://%s:%d" % (info["transport"], info["ip"], port))
            for f in bad:
                o.send_multipart(f)
            others.append(o)
        time.sleep(0.5)
        self.assertLess(self.s.alive_within(10), 10)
        self.assertTrue(self.kc.hb_channel.is_beating())
        self.assertEqual(self.s.result("String(globalThis.__pwned)"), "'undefined'")
        self.assertEqual(self.s.result("String(globalThis.__count)"), "'1'")
        # Control still answers.
        msg = self.kc.session.msg("kernel_info_request", {})
        self.kc.control_channel.send(msg)
        self.assertEqual(control_reply(self.kc, msg["header"]["msg_id"])["content"]["status"], "ok")
        sock.close()
        for o in others:
            o.close()

    def test_05_ten_thousand_malformed_or_unknown_comm_messages(self):
        self.s.ok(
            """
import { getKernel } from "safesail/kernel";
getKernel().comms.registerTarget("test.flood", (comm) => { comm.onMessage((m) => comm.send({ pong: m.data })); });
"""
        )
        rng = random.Random(4)
        junk_values = [None, 1, -3.5, True, "str", [], [1, "a"], {}, {"nested": {"deep": [1, 2]}}, "x" * 300]

        def junk():
            return rng.choice(junk_values)

        kinds = 0
        t0 = time.time()
        for i in range(10_000):
            k = i % 10
            if k == 0:
                self.s.send_shell("comm_msg", {"comm_id": uuid.uuid4().hex, "data": {"i": i}})
            elif k == 1:
                self.s.send_shell("comm_msg", {"data": {"i": i}})
            elif k == 2:
                self.s.send_shell("comm_msg", {"comm_id": junk(), "data": junk()})
            elif k == 3:
                self.s.send_shell("comm_open", {"comm_id": junk(), "target_name": junk(), "data": junk()})
            elif k == 4:
                self.s.send_shell("comm_open", {"comm_id": uuid.uuid4().hex})
            elif k == 5:
                self.s.send_shell("comm_close", {"comm_id": junk()})
            elif k == 6:
                self.s.send_shell("comm_close", {"comm_id": uuid.uuid4().hex, "data": junk()})
            elif k == 7:
                self.s.send_shell("comm_msg", {"comm_id": "x", "data": {"i": i}}, buffers=[os.urandom(rng.randint(0, 64))])
            elif k == 8:
                self.s.send_shell(rng.choice(["comm_mesg", "comm_whatever", "widget_msg", "comm"]), {"comm_id": uuid.uuid4().hex, "data": junk()})
            else:
                self.s.send_shell("comm_msg", {"comm_id": uuid.uuid4().hex, "data": {"random": [rng.random() for _ in range(5)], "s": os.urandom(8).hex()}, "extra": junk()})
            kinds += 1
        sent = time.time() - t0
        latency = self.s.alive_within(60)
        total = time.time() - t0
        print("\n  flood: %d messages sent in %.2fs; kernel_info answered %.2fs after the last one (%.2fs in all)" % (kinds, sent, latency, total))
        self.assertLess(latency, 60)
        self.assertTrue(self.kc.hb_channel.is_beating())
        self.assertEqual(self.s.result("1 + 1"), "2")
        # Comms still work after the flood.
        cid = uuid.uuid4().hex
        self.s.send_shell("comm_open", {"comm_id": cid, "target_name": "test.flood", "data": {}})
        self.s.send_shell("comm_msg", {"comm_id": cid, "data": {"ping": 1}})
        m, _ = self.s.iopub_until(lambda m: m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == cid, timeout=60)
        self.assertEqual(m["content"]["data"], {"pong": {"ping": 1}})

    def test_06_unknown_request_types_get_an_error_reply_of_the_matching_type(self):
        msg_id = self.s.send_shell("frobnicate_request", {"x": 1})
        r = self.s.shell_reply(msg_id)
        self.assertEqual(r["header"]["msg_type"], "frobnicate_reply")
        self.assertEqual(r["content"]["status"], "error")
        self.assertEqual(r["content"]["ename"], "UnknownMessageType")
        self.s.send_shell("not_a_request_at_all", {})
        self.assertEqual(self.s.result("'still here'"), "'still here'")

    def test_07_stop_on_error_aborts_queued_executes(self):
        ids = [self.kc.execute('throw new Error("first fails")'), self.kc.execute("1"), self.kc.execute("2")]
        replies = [self.s.shell_reply(i)["content"]["status"] for i in ids]
        self.assertEqual(replies, ["error", "aborted", "aborted"])
        ids = [self.kc.execute('throw new Error("fails")', stop_on_error=False), self.kc.execute("3")]
        replies = [self.s.shell_reply(i)["content"]["status"] for i in ids]
        self.assertEqual(replies, ["error", "ok"])
        # A request sent after the failed one was answered is not aborted.
        reply, _ = self.s.execute('throw new Error("again")')
        self.assertEqual(reply["status"], "error")
        self.assertEqual(self.s.result("4"), "4")

    def test_08_silent_store_history_and_user_expressions(self):
        before = self.s.execute("1")[0]["execution_count"]
        reply, outs = self.s.execute("const hidden = 41; hidden + 1", silent=True)
        self.assertEqual(reply["status"], "ok")
        self.assertEqual([m["msg_type"] for m in outs], ["status", "status"])
        reply, outs = self.s.execute("hidden", store_history=False)
        self.assertEqual(reply["execution_count"], before)
        self.assertIn("execute_result", [m["msg_type"] for m in outs])
        reply, _ = self.s.execute("2", user_expressions={"a": "hidden * 2", "b": "nope("})
        self.assertEqual(reply["execution_count"], before + 1)
        self.assertEqual(reply["user_expressions"]["a"], {"status": "ok", "data": {"text/plain": "82"}, "metadata": {}})
        self.assertEqual(reply["user_expressions"]["b"]["status"], "error")

    def test_09_display_update_and_clear(self):
        outs = self.s.ok(
            """
import { display, updateDisplay, clearOutput, html } from "safesail/kernel";
display(html("<i>working</i>"), { displayId: "job-1" });
console.log("between");
updateDisplay("job-1", html("<b>done</b>"));
clearOutput(true);
"""
        )
        types = [m["msg_type"] for m in outs if m["msg_type"] != "status"]
        self.assertEqual(types, ["execute_input", "display_data", "stream", "update_display_data", "clear_output"])
        d = [m for m in outs if m["msg_type"] == "display_data"][0]["content"]
        u = [m for m in outs if m["msg_type"] == "update_display_data"][0]["content"]
        self.assertEqual(d["transient"], {"display_id": "job-1"})
        self.assertEqual(u["transient"], {"display_id": "job-1"})
        self.assertEqual(u["data"]["text/html"], "<b>done</b>")
        self.assertEqual([m["content"] for m in outs if m["msg_type"] == "clear_output"], [{"wait": True}])

    def test_09b_output_of_a_blocking_cell_streams_while_it_runs(self):
        msg_id = self.kc.execute("const t0 = Date.now(); let last = 0;\nwhile (Date.now() - t0 < 1500) { if (Date.now() - last >= 100) { last = Date.now(); console.log('tick', last - t0); } }")
        t = time.time()
        first, _ = self.s.iopub_until(lambda m: m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "stream")
        first_at = time.time() - t
        self.s.shell_reply(msg_id)
        done_at = time.time() - t
        print("\n  blocking cell: first stream message after %.2fs, reply after %.2fs" % (first_at, done_at))
        self.assertLess(first_at, done_at - 0.5)

    def test_10_values_with_a_mime_bundle_and_safesail_imports(self):
        outs = self.s.ok(
            """
class Chart { [Symbol.for("jupyter.mimebundle")]() { return { "text/html": "<svg></svg>", "text/plain": "Chart" }; } }
new Chart()
"""
        )
        res = [m for m in outs if m["msg_type"] == "execute_result"][0]["content"]["data"]
        self.assertEqual(res, {"text/html": "<svg></svg>", "text/plain": "Chart"})
        outs = self.s.ok('({ _repr_mimebundle_: () => ({ "text/markdown": "**md**" }) })')
        res = [m for m in outs if m["msg_type"] == "execute_result"][0]["content"]["data"]
        self.assertEqual(res["text/markdown"], "**md**")
        self.assertIn("text/plain", res)
        # safesail/model type-checks (a wrong argument type is a compile error) and runs.
        self.assertEqual(self.s.result('import { positionsFromMask } from "safesail/model"; positionsFromMask([1, 1, 0, 1])'), "[ 0, 1, 0, 2 ]")
        reply, _ = self.s.execute('import { positionsFromMask } from "safesail/model"; positionsFromMask("1101")')
        self.assertEqual(reply["status"], "error")
        self.assertIn("not assignable to parameter of type 'number[]'", reply["evalue"])
        reply, _ = self.s.execute('import { getKernel } from "safesail/kernel"; const n: number = getKernel().comms')
        self.assertEqual(reply["status"], "error")
        self.assertIn("CommManager", reply["evalue"])
        self.assertEqual(self.s.result('import { kernelRunning } from "safesail/kernel"; kernelRunning()'), "true")


class Interrupts(unittest.TestCase):
    def run_interrupted(self, km, kc, code, interrupt):
        s = Session(kc)
        msg_id = kc.execute(code)
        s.iopub_until(lambda m: m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "execute_input")
        time.sleep(0.5)
        t = time.time()
        interrupt()
        reply = s.shell_reply(msg_id, timeout=20)
        took = time.time() - t
        self.assertEqual(reply["content"]["status"], "error", reply["content"])
        self.assertEqual(reply["content"]["ename"], "KeyboardInterrupt")
        self.assertEqual(s.result("'alive after interrupt'"), "'alive after interrupt'")
        return took

    def test_sigint_stops_blocking_and_awaiting_cells(self):
        km, kc = start(KERNEL)
        try:
            self.assertEqual(km.kernel_spec.interrupt_mode, "signal")
            a = self.run_interrupted(km, kc, "while (true) {}", km.interrupt_kernel)
            b = self.run_interrupted(km, kc, "await new Promise(() => {})", km.interrupt_kernel)
            c = self.run_interrupted(km, kc, "let n = 0; for (;;) { n++; if (n % 1e7 === 0) console.log(n); }", km.interrupt_kernel)
            print("\n  SIGINT -> reply: blocking %.3fs, awaiting %.3fs, printing loop %.3fs" % (a, b, c))
        finally:
            stop(km, kc)

    def test_interrupt_request_on_control(self):
        km, kc = start(KERNEL_MSG)
        try:
            self.assertEqual(km.kernel_spec.interrupt_mode, "message")
            s = Session(kc)

            # Through the kernel manager (interrupt_mode "message" sends interrupt_request on control).
            a = self.run_interrupted(km, kc, "while (true) {}", km.interrupt_kernel)

            # And by hand, checking the control reply.
            def by_hand():
                msg = kc.session.msg("interrupt_request", {})
                kc.control_channel.send(msg)
                r = control_reply(kc, msg["header"]["msg_id"])
                self.assertEqual(r["header"]["msg_type"], "interrupt_reply")
                self.assertEqual(r["content"], {"status": "ok"})
                self.assertEqual(r["parent_header"]["msg_id"], msg["header"]["msg_id"])

            b = self.run_interrupted(km, kc, "while (true) {}", by_hand)
            c = self.run_interrupted(km, kc, "await new Promise(() => {})", by_hand)
            print("\n  interrupt_request -> reply: blocking %.3fs / %.3fs, awaiting %.3fs" % (a, b, c))

            # Heartbeat and control answer while a cell blocks the main thread.
            msg_id = kc.execute("const until = Date.now() + 3000; while (Date.now() < until) {}")
            time.sleep(0.5)
            self.assertTrue(kc.hb_channel.is_beating())
            t = time.time()
            msg = kc.session.msg("interrupt_request", {})
            kc.control_channel.send(msg)
            control_reply(kc, msg["header"]["msg_id"], timeout=2)
            self.assertLess(time.time() - t, 1.0)
            s.shell_reply(msg_id, timeout=20)
        finally:
            stop(km, kc)


class Shutdown(unittest.TestCase):
    def test_shutdown_on_shell_and_on_control(self):
        for channel in ("shell", "control"):
            km, kc = start(KERNEL)
            try:
                s = Session(kc)
                s.ok("setInterval(() => {}, 1000); 'a timer must not keep it alive'")
                msg = kc.session.msg("shutdown_request", {"restart": False})
                if channel == "shell":
                    kc.shell_channel.send(msg)
                    r = s.shell_reply(msg["header"]["msg_id"])
                else:
                    kc.control_channel.send(msg)
                    r = control_reply(kc, msg["header"]["msg_id"])
                self.assertEqual(r["header"]["msg_type"], "shutdown_reply")
                self.assertEqual(r["content"], {"status": "ok", "restart": False})
                deadline = time.time() + 10
                while km.is_alive() and time.time() < deadline:
                    time.sleep(0.05)
                self.assertFalse(km.is_alive(), "kernel still running after shutdown_request on %s" % channel)
                self.assertEqual(km.provisioner.process.returncode if km.provisioner and km.provisioner.process else 0, 0)
            finally:
                kc.stop_channels()
                if km.is_alive():
                    km.shutdown_kernel(now=True)


if __name__ == "__main__":
    unittest.main()
