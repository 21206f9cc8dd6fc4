// `safesail serve`: the runtime (and optionally SAE steering) behind an OpenAI-compatible endpoint until SIGINT/SIGTERM.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ArgumentError } from "../errors.ts";
import { featureDbExists, readFeatureDb } from "../db/store.ts";
import { loadSaes } from "../interpret/examples.ts";
import { loadModel } from "../model/runtime.ts";
import { precisionArg } from "./model.ts";
import { terminalProgress } from "../progress.ts";
import { API_KEY_ENV, checkApiKey, isLoopbackHost, SERVE_DEFAULTS, startServer } from "../serve/server.ts";
import { intArg, parseCliArgs, requiredPositional } from "./args.ts";

const SYNOPSIS = "safesail serve MODEL [--saes DIR] [--db FILE] [--port P] [--host H] [--api-key KEY] [--name NAME] [--queue N] [--max-tokens N] [--precision P] [--quiet]";

const USAGE = `usage: ${SYNOPSIS}

Serves the model as an OpenAI-compatible API: POST /v1/chat/completions (stream: true for server-sent events),
GET /v1/models. Any OpenAI client works with base URL http://HOST:PORT/v1 and the model name it lists.

  --saes DIR        SAEs (a SAELens folder, or a folder of them, one per layer), e.g. models/toy-safety-qwen2/saes:
                    requests may then steer features with the extension field
                      "safesail": {"interventions": [{"feature": "1_5", "method": "clamp", "value": 8}],
                                   "return_features": true, "top_features": 5}
  --db FILE         feature database for return_features (default: DIR/features.db.json when it exists)
  --port P          port (default ${SERVE_DEFAULTS.port}; 0: any free port, printed at start)
  --host H          address to bind (default ${SERVE_DEFAULTS.host}, this machine only). Any other address needs an
                    API key
  --api-key KEY     require "Authorization: Bearer KEY" on every request (at least 8 characters). Prefer the
                    ${API_KEY_ENV} environment variable: a flag is visible to other users in the process list
  --name NAME       the model name clients send (default: the model folder's name, or the hub id)
  --queue N         requests that may wait while one runs (default ${SERVE_DEFAULTS.maxQueue}); beyond: 429 with Retry-After
  --max-tokens N    most new tokens per answer (default: up to the model's context)
  --precision P     fp32 (default: the reference) or int8: 8-bit weights for the projections and the head,
                    faster decoding at a small logit error (bench/README.md; needs the weight cache)
  --quiet           no request log on stderr

Prints the URL it listens on; stops cleanly on Ctrl-C (SIGINT) or SIGTERM. docs/serve.md has the request
fields, the extension's schema, the error codes and the security notes.`;

export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 1,
    usage: SYNOPSIS,
    help: USAGE,
    options: {
      saes: { type: "string" },
      db: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "api-key": { type: "string" },
      name: { type: "string" },
      queue: { type: "string" },
      precision: { type: "string" },
      "max-tokens": { type: "string" },
      quiet: { type: "boolean" },
    },
  });
  const modelPath = requiredPositional(positionals, 0, "MODEL", SYNOPSIS);
  const port = intArg(values, "port", { min: 0, max: 65535, default: SERVE_DEFAULTS.port });
  const host = values.host ?? SERVE_DEFAULTS.host;
  if (host.trim() === "") throw new ArgumentError("--host must not be empty", { field: "host" });
  const maxQueue = intArg(values, "queue", { min: 0, default: SERVE_DEFAULTS.maxQueue });
  const maxTokens = intArg(values, "max-tokens", { min: 1 }) ?? null;
  if (values.name !== undefined && values.name.trim() === "") throw new ArgumentError("--name must not be empty", { field: "name" });

  // The key: the flag, else the environment. Its value never appears in a message.
  const fromFlag = values["api-key"];
  const fromEnv = process.env[API_KEY_ENV];
  const source = fromFlag !== undefined ? "--api-key" : API_KEY_ENV;
  const apiKey = fromFlag ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : null);
  if (apiKey !== null) checkApiKey(apiKey, source);
  if (!isLoopbackHost(host) && apiKey === null) {
    throw new ArgumentError(`--host ${host}: binding an address other than loopback (127.0.0.1, ::1, localhost) needs an API key: give --api-key KEY or set ${API_KEY_ENV}; every request must then send "Authorization: Bearer KEY"`, { field: "host" });
  }

  const saeDir = values.saes;
  if (saeDir !== undefined && !existsSync(saeDir)) throw new ArgumentError(`--saes: ${saeDir}: not found`, { field: "saes", file: saeDir });
  if (values.db !== undefined && saeDir === undefined) throw new ArgumentError("--db goes with --saes (the database describes the SAEs' features)", { field: "db" });
  const dbFile = values.db ?? (saeDir !== undefined && existsSync(join(saeDir, "features.db.json")) ? join(saeDir, "features.db.json") : undefined);
  if (values.db !== undefined && !(await featureDbExists(values.db))) throw new ArgumentError(`--db: ${values.db}: not found`, { field: "db", file: values.db });

  const saes = saeDir !== undefined ? await loadSaes(saeDir) : null;
  const db = dbFile !== undefined ? await readFeatureDb(dbFile) : null;
  // A server decodes for hours: repacking the weights at start (seconds to a minute) buys faster decoding
  // (bench/README.md, "Repacking, the trade").
  const model = await loadModel(modelPath, { progress: terminalProgress(), prepack: true, precision: precisionArg(values) });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      model,
      // A hub id is served under its own name (its folder in the cache is a snapshot hash).
      name: values.name ?? (existsSync(modelPath) ? undefined : modelPath),
      saes,
      db,
      host,
      port,
      apiKey,
      maxQueue,
      maxTokens,
      log: values.quiet ? null : (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
    });
  } catch (err) {
    await model.dispose();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw new ArgumentError(`--port ${port}: the address ${host}:${port} is already in use`, { field: "port" });
    if ((err as NodeJS.ErrnoException).code === "EADDRNOTAVAIL") throw new ArgumentError(`--host ${host}: not an address of this machine`, { field: "host" });
    throw err;
  }
  const extras = [
    saes ? `SAEs at layers ${saes.map((s) => s.config.hookName).join(", ")}` : "no SAEs (no steering)",
    db ? `feature database ${dbFile} (${db.records.length} features)` : null,
    apiKey !== null ? `API key required (from ${source})` : "no API key",
    `queue ${maxQueue}`,
  ].filter((x) => x !== null);
  // The handlers go in before the URL is printed: whoever reads it may signal at once.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(s);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
  process.stdout.write(`safesail serve: model "${server.name}" on ${server.url}/v1 (${extras.join("; ")})\n`);
  const signal = await stopped;
  process.stderr.write(`safesail serve: ${signal}: stopping\n`);
  await server.close();
  await model.dispose();
  return 0;
}
