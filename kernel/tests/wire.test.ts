// Wire protocol: signatures checked against HMACs computed independently (Python's hmac module in a subprocess,
// and node:crypto over hand-built frames), and parsing that never throws on malformed input.
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConnection } from "../src/connection.ts";
import { DELIMITER, parseMessage, replyType, serializeMessage, Session, Signer } from "../src/wire.ts";

const PY = "/usr/bin/python3";

function pythonHmac(key: string, algo: string, parts: Buffer[]): string {
  const script = [
    "import hmac, hashlib, sys, json, base64",
    "d = json.loads(sys.stdin.read())",
    "h = hmac.new(d['key'].encode(), digestmod=getattr(hashlib, d['algo']))",
    "[h.update(base64.b64decode(p)) for p in d['parts']]",
    "print(h.hexdigest())",
  ].join("\n");
  const input = JSON.stringify({ key, algo, parts: parts.map((p) => p.toString("base64")) });
  return execFileSync(PY, ["-c", script], { input }).toString().trim();
}

function sampleFrames(signer: Signer, content: unknown = { code: "1 + 1", silent: false }) {
  const session = new Session("tester", "sess-1");
  const msg = session.make("execute_request", content, {}, [Buffer.from("client-id")], { meta: "x" }, [new Uint8Array([1, 2, 3])]);
  return { msg, frames: serializeMessage(msg, signer) };
}

describe("wire signatures", () => {
  it.skipIf(!existsSync(PY))("match Python's hmac (sha256 and sha512), including unicode content", () => {
    for (const [scheme, algo] of [["hmac-sha256", "sha256"], ["hmac-sha512", "sha512"]] as const) {
      const key = "a0436f6c-1916-498b-8eb9-e81ab9368e84";
      const signer = new Signer(key, scheme);
      const { frames } = sampleFrames(signer, { code: "console.log('héllo ✓ 🙂')" });
      const d = frames.findIndex((f) => f.equals(DELIMITER));
      const parts = frames.slice(d + 2, d + 6);
      expect(frames[d + 1]!.toString()).toBe(pythonHmac(key, algo, parts));
    }
  });

  it("match node:crypto over a hand-built frame, and the frame parses", () => {
    const key = "secret-key";
    const header = Buffer.from(JSON.stringify({ msg_id: "m1", session: "s", username: "u", date: "2020-01-01T00:00:00Z", msg_type: "kernel_info_request", version: "5.3" }));
    const parts = [header, Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    const sig = createHmac("sha256", key).update(Buffer.concat(parts)).digest("hex");
    const signer = new Signer(key);
    expect(signer.sign(parts)).toBe(sig);
    const r = parseMessage([Buffer.from("id1"), Buffer.from("id2"), DELIMITER, Buffer.from(sig), ...parts, Buffer.from([9])], signer);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.msg.identities.map(String)).toEqual(["id1", "id2"]);
    expect(r.msg.header.msg_type).toBe("kernel_info_request");
    expect(r.msg.buffers).toEqual([Buffer.from([9])]);
  });

  it("round-trips a message with identities, metadata and buffers", () => {
    const signer = new Signer("k");
    const { msg, frames } = sampleFrames(signer);
    const r = parseMessage(frames, new Signer("k"));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.msg.header).toEqual(msg.header);
    expect(r.msg.content).toEqual(msg.content);
    expect(r.msg.metadata).toEqual({ meta: "x" });
    expect([...r.msg.buffers[0]!]).toEqual([1, 2, 3]);
    expect(r.msg.header.version).toBe("5.3");
    expect(typeof r.msg.header.date).toBe("string");
  });

  it("rejects a wrong key, a tampered part, a missing signature and a replay", () => {
    const { frames } = sampleFrames(new Signer("right"));
    expect(parseMessage(frames, new Signer("wrong"))).toMatchObject({ ok: false, reason: "bad signature" });
    const d = frames.findIndex((f) => f.equals(DELIMITER));
    const tampered = frames.slice();
    tampered[d + 5] = Buffer.from(JSON.stringify({ code: "evil()" }));
    expect(parseMessage(tampered, new Signer("right"))).toMatchObject({ ok: false, reason: "bad signature" });
    const unsigned = frames.slice();
    unsigned[d + 1] = Buffer.alloc(0);
    expect(parseMessage(unsigned, new Signer("right"))).toMatchObject({ ok: false, reason: "missing signature" });
    const once = new Signer("right");
    expect(parseMessage(frames, once).ok).toBe(true);
    expect(parseMessage(frames, once)).toMatchObject({ ok: false });
  });

  it("signing off (empty key): empty signature, anything verifies", () => {
    const signer = new Signer("");
    const { frames } = sampleFrames(signer);
    const d = frames.findIndex((f) => f.equals(DELIMITER));
    expect(frames[d + 1]!.length).toBe(0);
    expect(parseMessage(frames, signer).ok).toBe(true);
  });

  it("unsupported signature schemes are refused", () => {
    expect(() => new Signer("k", "hmac-nope")).toThrow(/signature_scheme/);
    expect(() => new Signer("k", "rsa")).toThrow(/signature_scheme/);
  });

  it("malformed frames give a reason instead of throwing", () => {
    const s = new Signer("");
    const j = (v: unknown) => Buffer.from(JSON.stringify(v));
    const good = j({ msg_id: "1", msg_type: "x" });
    const cases: Buffer[][] = [
      [],
      [Buffer.from("no delimiter")],
      [DELIMITER],
      [DELIMITER, Buffer.alloc(0), good, j({}), j({})],
      [DELIMITER, Buffer.alloc(0), Buffer.from("{not json"), j({}), j({}), j({})],
      [DELIMITER, Buffer.alloc(0), j([1, 2]), j({}), j({}), j({})],
      [DELIMITER, Buffer.alloc(0), j({ msg_id: "1" }), j({}), j({}), j({})],
      [DELIMITER, Buffer.alloc(0), j({ msg_id: 5, msg_type: "x" }), j({}), j({}), j({})],
      [DELIMITER, Buffer.alloc(0), good, j(null), j({}), j({})],
      [DELIMITER, Buffer.alloc(0), good, j({}), j({}), Buffer.from([0xff, 0xfe])],
      [DELIMITER, Buffer.alloc(0), good, j({}), j({}), j("string content")],
    ];
    for (const frames of cases) {
      const r = parseMessage(frames, s);
      expect(r.ok, JSON.stringify(frames.map(String))).toBe(false);
    }
    expect(parseMessage([DELIMITER, Buffer.alloc(0), good, j({}), j({}), j({})], s).ok).toBe(true);
  });

  it("reply types and connection files", () => {
    expect(replyType("kernel_info_request")).toBe("kernel_info_reply");
    expect(replyType("frob_request")).toBe("frob_reply");
    const info = parseConnection(JSON.stringify({ shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, ip: "127.0.0.1", key: "k", transport: "tcp", signature_scheme: "hmac-sha256" }));
    expect(info).toMatchObject({ shell_port: 1, hb_port: 5, key: "k" });
    expect(() => parseConnection("{}", "conn.json")).toThrow(/conn.json: shell_port/);
    expect(() => parseConnection("nope", "conn.json")).toThrow(/invalid JSON/);
  });
});
