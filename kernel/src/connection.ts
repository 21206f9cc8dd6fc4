// The connection file Jupyter writes for a kernel: ports, transport, ip and the signing key.
import { readFileSync } from "node:fs";

export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export const CHANNELS = ["shell", "iopub", "stdin", "control", "hb"] as const;
export type Channel = (typeof CHANNELS)[number];

export function parseConnection(text: string, file = "connection file"): ConnectionInfo {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: invalid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null) throw new Error(`${file}: not a JSON object`);
  const transport = raw.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "ipc") throw new Error(`${file}: transport ${JSON.stringify(transport)} is not tcp or ipc`);
  const info: Partial<ConnectionInfo> = {
    transport,
    ip: typeof raw.ip === "string" ? raw.ip : "127.0.0.1",
    key: typeof raw.key === "string" ? raw.key : "",
    signature_scheme: typeof raw.signature_scheme === "string" ? raw.signature_scheme : "hmac-sha256",
  };
  for (const ch of CHANNELS) {
    const port = raw[`${ch}_port`];
    if (typeof port !== "number" || !Number.isInteger(port) || port < 0) throw new Error(`${file}: ${ch}_port missing or not a port number`);
    (info as Record<string, unknown>)[`${ch}_port`] = port;
  }
  if (typeof raw.kernel_name === "string") info.kernel_name = raw.kernel_name;
  return info as ConnectionInfo;
}

export function readConnection(file: string): ConnectionInfo {
  return parseConnection(readFileSync(file, "utf8"), file);
}

/** ZeroMQ endpoint of one channel: tcp://ip:port, or ipc://ip-port as jupyter_client names ipc sockets. */
export function endpoint(info: ConnectionInfo, channel: Channel): string {
  const port = info[`${channel}_port`];
  return info.transport === "tcp" ? `tcp://${info.ip}:${port}` : `ipc://${info.ip}-${port}`;
}
