// KernelCommManager on a recording transport: what goes out for each call, what incoming messages do, and
// that malformed ones and throwing handlers never escape.
import { describe, expect, it, vi } from "vitest";
import { KernelCommManager, type CommMsgType } from "../src/comms.ts";
import { setQuiet } from "../src/log.ts";
import type { JsonObject } from "../src/types.ts";
import { Session, type Message } from "../src/wire.ts";

function setup() {
  const sent: { type: CommMsgType; content: JsonObject; metadata: JsonObject; buffers: Uint8Array[] }[] = [];
  const m = new KernelCommManager({ publish: (type, content, metadata, buffers) => sent.push({ type, content, metadata, buffers }) });
  const session = new Session("front", "s");
  const incoming = (type: string, content: JsonObject, buffers: Buffer[] = []): Message => ({ ...session.make(type, content), buffers });
  return { m, sent, incoming };
}

describe("KernelCommManager", () => {
  it("kernel-opened comms: comm_open, comm_msg with buffers, one comm_close, then no-ops", () => {
    const { m, sent } = setup();
    const c = m.open("t", { a: 1 }, { metadata: { version: "2.1.0" }, buffers: [new Uint8Array([1])], commId: "fixed" });
    expect(c.commId).toBe("fixed");
    c.send({ b: 2 }, { buffers: [new Uint8Array([2, 3])] });
    c.close({ bye: true });
    c.close();
    c.send({ late: true });
    expect(sent.map((s) => s.type)).toEqual(["comm_open", "comm_msg", "comm_close"]);
    expect(sent[0]).toMatchObject({ content: { comm_id: "fixed", target_name: "t", data: { a: 1 } }, metadata: { version: "2.1.0" } });
    expect([...sent[1]!.buffers[0]!]).toEqual([2, 3]);
    expect(sent[2]!.content).toEqual({ comm_id: "fixed", data: { bye: true } });
    expect(c.closed).toBe(true);
    expect(m.comms()).toEqual([]);
    expect(() => m.open("")).toThrow(TypeError);
    m.open("t", {}, { commId: "dup" });
    expect(() => m.open("t", {}, { commId: "dup" })).toThrow(/already open/);
  });

  it("front-end comm_open reaches the target; messages and close reach the handlers", () => {
    const { m, sent, incoming } = setup();
    const got: unknown[] = [];
    m.registerTarget("echo", (comm, msg) => {
      got.push(["open", msg.data, msg.buffers.map((b) => [...b])]);
      comm.onMessage(() => got.push("replaced"));
      comm.onMessage((x) => got.push(["msg", x.data]));
      comm.onClose((x) => got.push(["close", x.data]));
    });
    m.handleOpen(incoming("comm_open", { comm_id: "c1", target_name: "echo", data: { hi: 1 } }, [Buffer.from([7])]));
    expect(m.info({})).toEqual({ status: "ok", comms: { c1: { target_name: "echo" } } });
    expect(m.info({ target_name: "other" })).toEqual({ status: "ok", comms: {} });
    m.handleMsg(incoming("comm_msg", { comm_id: "c1", data: { n: 2 } }));
    m.handleClose(incoming("comm_close", { comm_id: "c1", data: { reason: "x" } }));
    m.handleMsg(incoming("comm_msg", { comm_id: "c1", data: { n: 3 } }));
    expect(got).toEqual([["open", { hi: 1 }, [[7]]], ["msg", { n: 2 }], ["close", { reason: "x" }]]);
    expect(sent).toEqual([]); // a front-end close is not echoed
    m.unregisterTarget("echo");
    m.handleOpen(incoming("comm_open", { comm_id: "c2", target_name: "echo", data: {} }));
    expect(sent.map((s) => [s.type, s.content.comm_id])).toEqual([["comm_close", "c2"]]);
  });

  it("malformed messages are dropped and throwing handlers are contained", () => {
    const { m, sent, incoming } = setup();
    const errors = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    setQuiet(true);
    try {
      m.registerTarget("boom", () => {
        throw new Error("open handler fails");
      });
      m.registerTarget("msgboom", (comm) => comm.onMessage(() => {
        throw new Error("message handler fails");
      }));
      const bad: JsonObject[] = [{}, { comm_id: 5 }, { comm_id: null, target_name: "x" }, { comm_id: "a", target_name: 3 }, { comm_id: [], data: "x" }];
      for (const content of bad) {
        m.handleOpen(incoming("comm_open", content));
        m.handleMsg(incoming("comm_msg", content));
        m.handleClose(incoming("comm_close", content));
      }
      m.handleMsg(incoming("comm_msg", { comm_id: "unknown", data: {} }));
      m.handleOpen(incoming("comm_open", { comm_id: "b1", target_name: "boom" }));
      expect(sent.map((s) => [s.type, s.content.comm_id])).toEqual([["comm_close", "b1"]]);
      m.handleOpen(incoming("comm_open", { comm_id: "b2", target_name: "msgboom", data: "not an object" }));
      m.handleMsg(incoming("comm_msg", { comm_id: "b2", data: [1, 2] }));
      expect(m.comms("msgboom").map((c) => c.commId)).toEqual(["b2"]);
      expect(errors.mock.calls.map((c) => String(c[0])).join("")).toMatch(/open handler fails[\s\S]*message handler fails/);
    } finally {
      errors.mockRestore();
      setQuiet(false);
    }
  });
});
