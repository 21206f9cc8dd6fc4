// A real S3-compatible server on loopback for tests: the npm package s3rver (objects in a temp folder; multipart
// uploads, ListObjectsV2, HeadObject, ranged GetObject), behind a thin HTTP front that records every request and
// can cut chosen ones off (a dropped connection, as a network failure mid-upload looks to the client).
//
// s3rver checks that a SigV4 Authorization header is well formed (Credential, SignedHeaders, Signature, a payload
// hash, a date) and that the access key exists, but does not recompute the signature.
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The part of s3rver's API used here (it ships no types). */
interface S3rverInstance {
  configureBuckets(): Promise<void>;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  logger?: { close(): void };
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;

/** s3rver's built-in account. */
export const S3_TEST_CREDENTIALS = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" } as const;

export interface S3Request {
  method: string;
  /** Decoded path: `/bucket` or `/bucket/key`. */
  path: string;
  /** The query string's parameter names and values. */
  query: Record<string, string>;
  /** Whether the request was signed with AWS SigV4 (Authorization: AWS4-HMAC-SHA256 ...). */
  sigv4: boolean;
}

export interface S3TestServer {
  endpoint: string;
  /** Every request so far, in arrival order. */
  requests: S3Request[];
  /** When set and true for a request, the connection is dropped instead of answering it. */
  fail: ((r: S3Request) => boolean) | null;
  /** The environment a client (in this process or a child) needs: endpoint, region, the test credentials. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startS3Server(buckets: string[]): Promise<S3TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "safesail-s3rver-"));
  const s3 = new S3rver({ silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name })) });
  await s3.configureBuckets();
  const handle = s3.callback();
  const state: S3TestServer = {
    endpoint: "",
    requests: [],
    fail: null,
    env: {},
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const r: S3Request = {
      method: req.method ?? "",
      path: decodeURIComponent(url.pathname),
      query: Object.fromEntries(url.searchParams),
      sigv4: /^AWS4-HMAC-SHA256 Credential=[^,]+, ?SignedHeaders=[^,]+, ?Signature=[0-9a-f]{64}$/.test(req.headers.authorization ?? ""),
    };
    state.requests.push(r);
    if (state.fail?.(r)) {
      req.socket.destroy();
      return;
    }
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  state.endpoint = `http://127.0.0.1:${port}`;
  state.env = { AWS_ENDPOINT_URL: state.endpoint, AWS_REGION: "us-east-1", ...S3_TEST_CREDENTIALS };
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    s3.logger?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return state;
}
