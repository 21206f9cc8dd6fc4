#!/usr/bin/python3
"""Plays the browser against the safesail kernel: a jupyter_client BlockingKernelClient that executes widget cells
and speaks the ipywidgets 2.1 protocol back (what JupyterLab's widget manager 8.x does).

    JUPYTER_PATH=<prefix>/share/jupyter /usr/bin/python3 widgets_client.py SCENARIO

Scenarios: widgets (slider / image / button / request_state / output), progress. Each check that fails raises;
on success one JSON line with what was observed goes to stdout (the vitest file checks it too) and the exit code is 0.
"""
import json
import sys
import time

from jupyter_client.manager import KernelManager

TIMEOUT = 60
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class Check(Exception):
    pass


def check(cond, what, *ctx):
    if not cond:
        raise Check(what + ("".join("\n  " + json.dumps(c, default=str)[:2000] for c in ctx)))


class Browser:
    def __init__(self, kernel_name="safesail"):
        self.km = KernelManager(kernel_name=kernel_name)
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        self.models = {}  # comm id -> latest known state (from comm_open + update + echo_update)

    def close(self):
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)

    def collect(self, msg_id, timeout=TIMEOUT):
        """iopub messages parented to msg_id, up to its status: idle."""
        out = []
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            check(left > 0, "timed out waiting for idle after " + msg_id, [m["msg_type"] for m in out])
            msg = self.kc.get_iopub_msg(timeout=left)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            m = {"msg_type": msg["header"]["msg_type"], "content": msg["content"], "metadata": msg["metadata"],
                 "buffers": [bytes(b) for b in msg.get("buffers", [])], "parent": msg["parent_header"].get("msg_id"),
                 "date": msg["header"].get("date")}
            self.track(m)
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                return out
            out.append(m)

    def track(self, m):
        c = m["content"]
        if m["msg_type"] == "comm_open" and c.get("target_name") == "jupyter.widget":
            self.models[c["comm_id"]] = dict(c["data"]["state"])
        elif m["msg_type"] == "comm_msg" and c["data"].get("method") in ("update", "echo_update") and c["comm_id"] in self.models:
            self.models[c["comm_id"]].update(c["data"]["state"])

    def execute(self, code, allow_error=False):
        msg_id = self.kc.execute(code)
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        msgs = self.collect(msg_id)
        if not allow_error:
            errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
            check(reply["content"]["status"] == "ok", "cell failed: " + code[:200], reply["content"], errors,
                  [m for m in msgs if m["msg_type"] == "stream"])
        return reply["content"], msgs

    def comm_msg(self, comm_id, data, buffers=None):
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        self.kc.shell_channel.send(msg) if not buffers else self.kc.session.send(self.kc.shell_channel.socket, msg, buffers=buffers)
        return msg["header"]["msg_id"], self.collect(msg["header"]["msg_id"])


def comm_opens(msgs, model_name=None):
    return [m for m in msgs if m["msg_type"] == "comm_open" and m["content"]["target_name"] == "jupyter.widget"
            and (model_name is None or m["content"]["data"]["state"].get("_model_name") == model_name)]


def comm_msgs(msgs, comm_id=None, method=None):
    return [m for m in msgs if m["msg_type"] == "comm_msg" and (comm_id is None or m["content"]["comm_id"] == comm_id)
            and (method is None or m["content"]["data"].get("method") == method)]


def result_bundle(msgs):
    r = [m for m in msgs if m["msg_type"] == "execute_result"]
    check(len(r) == 1, "one execute_result", [m["msg_type"] for m in msgs])
    return r[0]["content"]["data"]


def scenario_widgets(b):
    seen = {}
    # -- an IntSlider wired to a callback that drives another widget and sends a custom message --
    _, msgs = b.execute(
        'import { widgets } from "safesail/kernel";\n'
        'const target = widgets.IntSlider({ value: 0, max: 100, description: "target" });\n'
        'const s = widgets.IntSlider({ value: 3, min: 0, max: 10, description: "k" });\n'
        's.on("change:value", (v, old) => { target.value = v * 2; s.send({ event: "seen", value: v, old }); });\n'
        's\n')
    sliders = comm_opens(msgs, "IntSliderModel")
    check(len(sliders) == 2, "two IntSlider comm_opens", [m["content"]["data"]["state"].get("_model_name") for m in comm_opens(msgs)])
    for m in comm_opens(msgs):
        check(m["metadata"].get("version") == "2.1.0", "comm_open metadata version 2.1.0", m["metadata"])
        check(m["content"]["data"].get("buffer_paths") == [], "no buffers", m["content"]["data"])
    target_id = sliders[0]["content"]["comm_id"]
    sid = sliders[1]["content"]["comm_id"]
    state = sliders[1]["content"]["data"]["state"]
    for key, want in {"_model_module": "@jupyter-widgets/controls", "_model_module_version": "2.0.0",
                      "_model_name": "IntSliderModel", "_view_module": "@jupyter-widgets/controls",
                      "_view_module_version": "2.0.0", "_view_name": "IntSliderView", "value": 3, "min": 0, "max": 10,
                      "description": "k"}.items():
        check(state.get(key) == want, "slider state " + key, state)
    # layout and style are models opened before the slider and referenced as IPY_MODEL_<id>
    for ref, model_name in (("layout", "LayoutModel"), ("style", "SliderStyleModel")):
        check(isinstance(state.get(ref), str) and state[ref].startswith("IPY_MODEL_"), ref + " is a model reference", state)
        rid = state[ref][len("IPY_MODEL_"):]
        check(b.models.get(rid, {}).get("_model_name") == model_name, ref + " model opened first", b.models.get(rid))
    bundle = result_bundle(msgs)
    check(bundle.get(WIDGET_MIME) == {"model_id": sid, "version_major": 2, "version_minor": 0}, "widget view bundle", bundle)
    check("text/plain" in bundle, "text/plain fallback", bundle)
    seen["slider"] = {"model_id": sid, "text_plain": bundle["text/plain"]}

    # -- display(widget) shows the same view as display_data --
    _, msgs = b.execute('import { display } from "safesail/kernel";\ndisplay(target);\n')
    shown = [m["content"]["data"] for m in msgs if m["msg_type"] == "display_data"]
    check(len(shown) == 1 and shown[0].get(WIDGET_MIME, {}).get("model_id") == target_id, "display(widget) sends the widget view", shown)

    # -- the browser moves the slider --
    mid, msgs = b.comm_msg(sid, {"method": "update", "state": {"value": 7}, "buffer_paths": []})
    kinds = [(m["content"].get("comm_id"), m["content"].get("data", {}).get("method")) for m in msgs if m["msg_type"] == "comm_msg"]
    check(kinds == [(sid, "echo_update"), (target_id, "update"), (sid, "custom")], "echo_update, then the callback's update and custom message", kinds)
    echo, upd, custom = comm_msgs(msgs)
    check(echo["content"]["data"]["state"] == {"value": 7} and echo["parent"] == mid, "echo_update carries our state, parented to our msg", echo)
    check(upd["content"]["data"]["state"] == {"value": 14}, "callback set target to 14", upd)
    check(custom["content"]["data"]["content"] == {"event": "seen", "value": 7, "old": 3}, "custom message from the callback", custom)
    _, msgs = b.execute("[s.value, target.value]")
    check(result_bundle(msgs)["text/plain"].replace(" ", "") == "[7,14]", "kernel sees the new values", result_bundle(msgs))

    # -- out of range: echoed, then corrected --
    _, msgs = b.comm_msg(sid, {"method": "update", "state": {"value": 99}, "buffer_paths": []})
    kinds = [(m["content"]["comm_id"], m["content"]["data"]["method"], m["content"]["data"].get("state")) for m in comm_msgs(msgs, sid)]
    check(kinds[:3] == [(sid, "echo_update", {"value": 99}), (sid, "update", {"value": 10}), (sid, "custom", None)], "clamped value goes back after the echo, before the callback runs", kinds)

    # -- request_state --
    _, msgs = b.comm_msg(sid, {"method": "request_state"})
    full = comm_msgs(msgs, sid, "update")
    check(len(full) == 1, "one update for request_state", msgs)
    st = full[0]["content"]["data"]["state"]
    check(st.get("value") == 10 and st.get("_model_name") == "IntSliderModel" and set(state) <= set(st), "full state", st)

    # -- binary state: an Image round trip through buffer_paths --
    _, msgs = b.execute(
        'const img = widgets.Image({ value: new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), format: "png" });\n'
        'img.on("change:value", (v) => img.send({ got: Array.from(v) }));\n'
        'img\n')
    op = comm_opens(msgs, "ImageModel")[0]
    iid = op["content"]["comm_id"]
    check(op["content"]["data"]["buffer_paths"] == [["value"]], "image bytes in a buffer", op["content"]["data"])
    check(op["buffers"] == [bytes([137, 80, 78, 71, 13, 10, 26, 10])], "the bytes", op["buffers"])
    check("value" not in op["content"]["data"]["state"], "buffer taken out of the state", op["content"]["data"]["state"])
    _, msgs = b.comm_msg(iid, {"method": "update", "state": {}, "buffer_paths": [["value"]]}, buffers=[bytes([1, 2, 3, 250])])
    echo = comm_msgs(msgs, iid, "echo_update")
    check(len(echo) == 1 and echo[0]["content"]["data"]["buffer_paths"] == [["value"]] and echo[0]["buffers"] == [bytes([1, 2, 3, 250])], "binary echo", echo)
    got = comm_msgs(msgs, iid, "custom")
    check(len(got) == 1 and got[0]["content"]["data"]["content"] == {"got": [1, 2, 3, 250]}, "kernel received the bytes", got)
    _, msgs = b.comm_msg(iid, {"method": "request_state"})
    full = comm_msgs(msgs, iid, "update")[0]
    check(full["content"]["data"]["buffer_paths"] == [["value"]] and full["buffers"] == [bytes([1, 2, 3, 250])], "binary in request_state", full)

    # -- Button click -> onClick --
    _, msgs = b.execute(
        'const clicks = widgets.Label("clicks: 0");\n'
        'const button = widgets.Button({ description: "click me" });\n'
        'let n = 0;\n'
        'button.onClick(() => { clicks.value = `clicks: ${++n}`; });\n'
        'widgets.HBox([button, clicks])\n')
    bid = comm_opens(msgs, "ButtonModel")[0]["content"]["comm_id"]
    lid = comm_opens(msgs, "LabelModel")[0]["content"]["comm_id"]
    box = comm_opens(msgs, "HBoxModel")[0]["content"]
    check(box["data"]["state"]["children"] == ["IPY_MODEL_" + bid, "IPY_MODEL_" + lid], "box children references", box["data"]["state"])
    check(result_bundle(msgs)[WIDGET_MIME]["model_id"] == box["comm_id"], "the box is the cell result", result_bundle(msgs))
    for i in (1, 2):
        _, msgs = b.comm_msg(bid, {"method": "custom", "content": {"event": "click"}})
        upd = comm_msgs(msgs, lid, "update")
        check(len(upd) == 1 and upd[0]["content"]["data"]["state"] == {"value": "clicks: %d" % i}, "click %d fires onClick" % i, msgs)

    # -- the control comm (what JupyterLab uses to restore widgets on reload) --
    ctl = b.kc.session.msg("comm_open", {"comm_id": "ctl-1", "target_name": "jupyter.widget.control", "data": {}}, metadata={"version": "1.0.0"})
    b.kc.shell_channel.send(ctl)
    b.collect(ctl["header"]["msg_id"])
    _, msgs = b.comm_msg("ctl-1", {"method": "request_states"})
    states = comm_msgs(msgs, "ctl-1", "update_states")
    check(len(states) == 1, "update_states reply", msgs)
    all_states = states[0]["content"]["data"]["states"]
    check(sid in all_states and all_states[sid]["model_name"] == "IntSliderModel" and all_states[sid]["state"]["value"] == 10, "slider in update_states", all_states.get(sid))
    check([iid, "state", "value"] in states[0]["content"]["data"]["buffer_paths"], "image buffer path in update_states", states[0]["content"]["data"]["buffer_paths"])

    # -- Output.capture: outputs of the cell go to the widget while msg_id is set --
    mid = b.kc.execute('const out = widgets.Output();\nawait out.capture(async () => { console.log("inside"); });\nconsole.log("outside");\nout\n')
    msgs = b.collect(mid)
    oid = comm_opens(msgs, "OutputModel")[0]["content"]["comm_id"]
    ups = [m["content"]["data"]["state"].get("msg_id") for m in comm_msgs(msgs, oid, "update")]
    check(ups == [mid, ""], "msg_id set to the cell's request, then cleared", ups)
    order = [("msg_id=" + m["content"]["data"]["state"]["msg_id"]) if m["msg_type"] == "comm_msg" else m["content"].get("text", "").strip()
             for m in msgs if (m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == oid) or m["msg_type"] == "stream"]
    check(order == ["msg_id=" + mid, "inside", "msg_id=", "outside"], "captured stream between the msg_id updates", order)
    seen["output_order"] = order

    # -- closing --
    _, msgs = b.execute("s.close()")
    closes = [m for m in msgs if m["msg_type"] == "comm_close"]
    check([m["content"]["comm_id"] for m in closes] == [sid], "comm_close for the slider", closes)
    return seen


def scenario_progress(b):
    _, msgs = b.execute(
        'import { notebookProgress } from "safesail/kernel";\n'
        'const p = notebookProgress();\n'
        'p.start("steps <b>bold</b>", 30);\n'
        'for (let i = 1; i <= 30; i++) { await new Promise((r) => setTimeout(r, 20)); p.update(i, `item ${i}`); }\n'
        'p.finish("done");\n')
    kinds = [m["msg_type"] for m in msgs if m["msg_type"] in ("display_data", "update_display_data")]
    check(kinds[0] == "display_data" and kinds.count("display_data") == 1, "one display_data first", kinds)
    check(kinds.count("update_display_data") >= 3, "several updates", kinds)
    ids = {m["content"]["transient"]["display_id"] for m in msgs if m["msg_type"] in ("display_data", "update_display_data")}
    check(len(ids) == 1, "one display id", ids)
    updates = [m for m in msgs if m["msg_type"] == "update_display_data"]
    # At most one update per 100 ms (plus the final one), however slow the machine made the loop.
    shown = [m for m in msgs if m["msg_type"] in ("display_data", "update_display_data")]
    span_ms = (shown[-1]["date"] - shown[0]["date"]).total_seconds() * 1000
    check(len(updates) <= span_ms / 100 + 2, "throttled to ~100 ms", len(updates), span_ms)
    gaps = [(b["date"] - a["date"]).total_seconds() * 1000 for a, b in zip(updates, updates[1:-1])]
    check(all(g >= 50 for g in gaps), "updates ~100 ms apart (header dates are stamped by the io thread: some jitter)", gaps)
    last = updates[-1]["content"]["data"]
    check("30/30" in last["text/plain"] and "done" in last["text/plain"], "final update", last)
    check("<b>bold</b>" not in last["text/html"] and "&lt;b&gt;bold&lt;/b&gt;" in last["text/html"], "label escaped", last["text/html"])
    return {"messages": kinds, "display_id": ids.pop()}


def main():
    scenario = sys.argv[1]
    b = Browser()
    try:
        seen = {"widgets": scenario_widgets, "progress": scenario_progress}[scenario](b)
        # The kernel is still alive and answering.
        _, msgs = b.execute("1 + 1")
        check(result_bundle(msgs)["text/plain"] == "2", "kernel still answers")
        print(json.dumps({"ok": True, "scenario": scenario, "seen": seen}))
    except Check as e:
        print(json.dumps({"ok": False, "scenario": scenario, "error": str(e)}))
        sys.exit(1)
    finally:
        b.close()


if __name__ == "__main__":
    main()
