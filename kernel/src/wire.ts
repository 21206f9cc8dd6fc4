// The Jupyter wire protocol (messaging spec 5.3): multipart ZeroMQ frames
//
//   [identity..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffer...]
//
// with the signature an HMAC (the connection file's `signature_scheme`, normally hmac-sha256, keyed with its
// `key`) over the four JSON frames, hex encoded. An empty key turns signing off (signature ""). Parsing never
// throws: a frame set that is not a valid message comes back as `{ ok: false, reason }` so the caller can log
// and drop it.
import { createHmac, getHashes, randomUUID, timingSafeEqual } from "node:crypto";
import type { JsonObject } from "./types.ts";

export const PROTOCOL_VERSION = "5.3";
export const DELIMITER = Buffer.from("<IDS|MSG>", "utf8");

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [key: string]: unknown;
}

export interface Message<C = JsonObject> {
  /** ZeroMQ routing prefix (ROUTER identities, or the topic on iopub). */
  identities: Buffer[];
  header: Header;
  /** The header of the request this message answers, or `{}`. */
  parent_header: Header | Record<string, never>;
  metadata: JsonObject;
  content: C;
  buffers: Buffer[];
}

/** HMAC signer/verifier for one connection. */
export class Signer {
  readonly enabled: boolean;
  private readonly algorithm: string;
  private readonly key: Buffer;
  /** Signatures seen recently: a replayed message is dropped as jupyter_client's Session does. */
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  private static readonly SEEN_LIMIT = 65536;

  constructor(key: string, scheme = "hmac-sha256") {
    this.key = Buffer.from(key, "utf8");
    this.enabled = this.key.length > 0;
    const m = /^hmac-(.+)$/.exec(scheme);
    const algorithm = m?.[1] ?? "";
    if (this.enabled && !getHashes().includes(algorithm)) {
      throw new Error(`unsupported signature_scheme ${JSON.stringify(scheme)} (expected hmac-<hash>, e.g. hmac-sha256)`);
    }
    this.algorithm = algorithm || "sha256";
  }

  /** Hex signature of the four JSON frames; "" when signing is off. */
  sign(parts: readonly Uint8Array[]): string {
    if (!this.enabled) return "";
    const h = createHmac(this.algorithm, this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  /** Constant-time check of `signature` against the frames. Always true when signing is off. */
  verify(signature: string, parts: readonly Uint8Array[]): boolean {
    if (!this.enabled) return true;
    const want = Buffer.from(this.sign(parts), "utf8");
    const got = Buffer.from(signature, "utf8");
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /** Records a signature; false when it was seen before (a replay). */
  remember(signature: string): boolean {
    if (!this.enabled) return true;
    if (this.seen.has(signature)) return false;
    this.seen.add(signature);
    this.seenOrder.push(signature);
    if (this.seenOrder.length > Signer.SEEN_LIMIT) this.seen.delete(this.seenOrder.shift()!);
    return true;
  }
}

export type ParseResult = { ok: true; msg: Message } | { ok: false; reason: string };

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseJsonObject(frame: Buffer, what: string): JsonObject | string {
  let v: unknown;
  try {
    v = JSON.parse(frame.toString("utf8"));
  } catch (err) {
    return `${what}: invalid JSON (${(err as Error).message})`;
  }
  return isObject(v) ? v : `${what}: not a JSON object`;
}

/** Splits, verifies and decodes one multipart message. Never throws. */
export function parseMessage(frames: readonly Buffer[], signer: Signer): ParseResult {
  const delim = frames.findIndex((f) => f.equals(DELIMITER));
  if (delim < 0) return { ok: false, reason: "no <IDS|MSG> delimiter" };
  if (frames.length < delim + 6) return { ok: false, reason: `too few frames (${frames.length - delim - 1} after the delimiter, need 5)` };
  const signature = frames[delim + 1]!.toString("utf8");
  const parts = frames.slice(delim + 2, delim + 6);
  if (signer.enabled) {
    if (!signature) return { ok: false, reason: "missing signature" };
    if (!signer.verify(signature, parts)) return { ok: false, reason: "bad signature" };
    if (!signer.remember(signature)) return { ok: false, reason: "duplicate signature (replayed message)" };
  }
  const names = ["header", "parent_header", "metadata", "content"] as const;
  const decoded: JsonObject[] = [];
  for (let i = 0; i < 4; i++) {
    const r = parseJsonObject(parts[i]!, names[i]);
    if (typeof r === "string") return { ok: false, reason: r };
    decoded.push(r);
  }
  const header = decoded[0]!;
  if (typeof header.msg_type !== "string" || header.msg_type === "") return { ok: false, reason: "header.msg_type missing or not a string" };
  if (typeof header.msg_id !== "string") return { ok: false, reason: "header.msg_id missing or not a string" };
  return {
    ok: true,
    msg: {
      identities: frames.slice(0, delim),
      header: {
        ...header,
        session: typeof header.session === "string" ? header.session : "",
        username: typeof header.username === "string" ? header.username : "",
        date: typeof header.date === "string" ? header.date : "",
        version: typeof header.version === "string" ? header.version : "",
      } as Header,
      parent_header: decoded[1] as Message["parent_header"],
      metadata: decoded[2]!,
      content: decoded[3]!,
      buffers: frames.slice(delim + 6),
    },
  };
}

/** JSON encoding for the wire: typed arrays and other non-JSON values must not reach here. */
function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value ?? {}), "utf8");
}

function toBuffer(b: Uint8Array | ArrayBufferView | ArrayBuffer): Buffer {
  if (Buffer.isBuffer(b)) return b;
  if (b instanceof ArrayBuffer) return Buffer.from(b);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Encodes and signs a message into frames ready for `socket.send`. */
export function serializeMessage(msg: Omit<Message<unknown>, "buffers"> & { buffers?: readonly (Uint8Array | ArrayBufferView | ArrayBuffer)[] }, signer: Signer): Buffer[] {
  const parts = [encodeJson(msg.header), encodeJson(msg.parent_header), encodeJson(msg.metadata), encodeJson(msg.content)];
  return [...msg.identities, DELIMITER, Buffer.from(signer.sign(parts), "utf8"), ...parts, ...(msg.buffers ?? []).map(toBuffer)];
}

/** One side of a session: makes headers with a fixed session id and username. */
export class Session {
  readonly session: string;
  readonly username: string;

  constructor(username = "kernel", session: string = randomUUID()) {
    this.session = session;
    this.username = username;
  }

  header(msgType: string): Header {
    return {
      msg_id: randomUUID(),
      session: this.session,
      username: this.username,
      date: new Date().toISOString(),
      msg_type: msgType,
      version: PROTOCOL_VERSION,
    };
  }

  /** A message answering (or output of) `parent`, routed with `identities`. */
  make<C>(msgType: string, content: C, parent: Header | Record<string, never> = {}, identities: Buffer[] = [], metadata: JsonObject = {}, buffers: readonly Uint8Array[] = []): Omit<Message<C>, "buffers"> & { buffers: readonly Uint8Array[] } {
    return { identities, header: this.header(msgType), parent_header: parent, metadata, content, buffers };
  }
}

/** The reply type for a request type: `kernel_info_request` -> `kernel_info_reply`. */
export function replyType(requestType: string): string {
  return requestType.endsWith("_request") ? `${requestType.slice(0, -"_request".length)}_reply` : `${requestType}_reply`;
}
