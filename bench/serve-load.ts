// `safesail serve` under load: N concurrent clients on loopback against the server on the toy model, requests per
// second, latency percentiles, errors, and the server's RSS over the run; the reference is the same requests run
// sequentially in process (the runtime's own generate, no HTTP, no queue). Not a test; figures go to bench/README.md.
//
//   npx tsx bench/serve-load.ts                            # 32 clients, 60 s (plus 30 s of reference and start-up)
//   npx tsx bench/serve-load.ts --clients 8 --duration 10  # a short run
//
// Options: --clients N (32), --duration S (60), --max-tokens N (32), --reference S (seconds of the in-process
// reference, half before and half after the load; default min(duration / 2, 30)), --queue N (the server's bound,
// default 64 so 32 clients are all accepted), --rss-series (print every 1 s RSS sample).
//
// The server is the real command (`node bin/safesail.js serve models/toy-safety-qwen2 --saes ... --port 0`) in a
// child process, so its RSS (read from /proc/PID/status every second) is the server's alone and the clients do not
// share its event loop. Requests cycle through the held-out prompts (five languages, in a seeded shuffled order) with a fixed mix, greedy:
//   i % 4 == 1  steered: clamp 0_8 = 200 (an SAE encode per step at layer 0)
//   i % 4 == 2  streamed (SSE; the latency is until data: [DONE])
//   i % 8 == 3  return_features: true (one more forward over prompt + answer and four SAE encodes)
//   otherwise   plain
// A 429 would be retried after its Retry-After and counted apart from errors; any other failure is an error.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readFeatureDb } from "../src/db/store.ts";
import { loadSaes } from "../src/interpret/examples.ts";
import { loadModel } from "../src/model/runtime.ts";
import { steer } from "../src/steer/interventions.ts";
import { generateWithFeatures } from "../src/steer/token-features.ts";
import { mulberry32, shuffleInPlace } from "../src/util/prng.ts";

const ROOT = resolve(import.meta.dirname, "..");
const TOY = join(ROOT, "models/toy-safety-qwen2");
const SAES = join(TOY, "saes");
const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "32" },
    duration: { type: "string", default: "60" },
    "max-tokens": { type: "string", default: "32" },
    reference: { type: "string" },
    queue: { type: "string", default: "64" },
    "rss-series": { type: "boolean", default: false },
  },
});
const positive = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: expected a positive number, got ${v}`);
  return n;
};
const CLIENTS = Math.round(positive("clients", values.clients));
const DURATION_S = positive("duration", values.duration);
const MAX_TOKENS = Math.round(positive("max-tokens", values["max-tokens"]));
const REFERENCE_S = values.reference !== undefined ? positive("reference", values.reference) : Math.min(DURATION_S / 2, 30);
const QUEUE = Math.round(positive("queue", values.queue));

// Shuffled once (seeded): the file is sorted by language, and prompt length differs a lot between languages (Hindi
// takes several byte-level tokens per character), so any stretch of the sequence must hold the same mix.
const PROMPTS = shuffleInPlace(mulberry32(2509), readFileSync(join(TOY, "heldout.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { prompt: string }).prompt));
const CLAMP = { feature: "0_8", method: "clamp", value: 200 } as const;
type Kind = "plain" | "steered" | "stream" | "features";
const kindOf = (i: number): Kind => (i % 4 === 1 ? "steered" : i % 4 === 2 ? "stream" : i % 8 === 3 ? "features" : "plain");
const messagesOf = (i: number) => [{ role: "user", content: PROMPTS[i % PROMPTS.length]! }];
function requestBody(i: number, model: string): Record<string, unknown> {
  const kind = kindOf(i);
  return {
    model,
    messages: messagesOf(i),
    max_tokens: MAX_TOKENS,
    temperature: 0,
    ...(kind === "stream" ? { stream: true } : {}),
    ...(kind === "steered" ? { safesail: { interventions: [CLAMP] } } : {}),
    ...(kind === "features" ? { safesail: { return_features: true } } : {}),
  };
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const mib = (kb: number) => (kb / 1024).toFixed(1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------
// Reference: the same request sequence, one after another, in this process through the runtime (no HTTP). Run in
// two halves, before and after the HTTP load, so drift in the machine's load (it is shared) shows up in both.
interface Reference {
  run: (seconds: number, from: number) => Promise<{ n: number; ms: number; byKind: Record<Kind, number[]> }>;
  dispose: () => Promise<void>;
}

async function reference(): Promise<Reference> {
  const model = await loadModel(TOY);
  const saes = await loadSaes(SAES);
  const db = await readFeatureDb(join(SAES, "features.db.json"));
  const steered = steer(model, saes, [CLAMP]);
  const one = async (i: number) => {
    const kind = kindOf(i);
    const opts = { messages: messagesOf(i), maxNewTokens: MAX_TOKENS, temperature: 0 };
    if (kind === "steered") await steered.generate(opts);
    else if (kind === "features") await generateWithFeatures(model, saes, db, { messages: opts.messages }, { maxNewTokens: MAX_TOKENS });
    else await model.generate(opts);
  };
  for (let i = 0; i < 8; i++) await one(i); // warm-up: every kind's sessions built
  return {
    async run(seconds, from) {
      const byKind: Record<Kind, number[]> = { plain: [], steered: [], stream: [], features: [] };
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < seconds * 1000) {
        const t = performance.now();
        await one(from + n);
        byKind[kindOf(from + n)].push(performance.now() - t);
        n++;
      }
      return { n, ms: performance.now() - t0, byKind };
    },
    dispose: () => model.dispose(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The server in a child process, and its RSS.
function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

async function startServerProcess(): Promise<{ url: string; pid: number; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [join(ROOT, "bin/safesail.js"), "serve", TOY, "--saes", SAES, "--port", "0", "--queue", String(QUEUE), "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const url = await new Promise<string>((res, rej) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/\S+\/v1)/.exec(out);
      if (m) res(m[1]!);
    });
    void exit.then((code) => rej(new Error(`safesail serve exited (${code}): ${err}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      child.kill("SIGTERM");
      return exit;
    },
  };
}

interface Outcome {
  ok: boolean;
  status: number;
  ms: number;
  retryAfterS?: number;
  detail?: string;
}

async function send(url: string, body: Record<string, unknown>): Promise<Outcome> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${url}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status === 429) return { ok: false, status: 429, ms, retryAfterS: Number(res.headers.get("retry-after") ?? 1) };
    if (res.status !== 200) return { ok: false, status: res.status, ms, detail: text.slice(0, 200) };
    if (body.stream) {
      if (!text.trimEnd().endsWith("data: [DONE]") || text.includes('"error"')) return { ok: false, status: 200, ms, detail: `bad stream: ${text.slice(-200)}` };
    } else {
      const j = JSON.parse(text) as { choices?: { message?: { content?: unknown } }[]; usage?: unknown };
      if (typeof j.choices?.[0]?.message?.content !== "string" || !j.usage) return { ok: false, status: 200, ms, detail: `bad body: ${text.slice(0, 200)}` };
    }
    return { ok: true, status: 200, ms };
  } catch (e) {
    return { ok: false, status: 0, ms: performance.now() - t0, detail: (e as Error).message };
  }
}

async function load(url: string, pid: number) {
  const latencies: Record<Kind, number[]> = { plain: [], steered: [], stream: [], features: [] };
  const all: number[] = [];
  let errors = 0;
  let retried429 = 0;
  const firstErrors: string[] = [];
  let next = 0;
  const rss: { t: number; kb: number }[] = [];
  const t0 = performance.now();
  const deadline = t0 + DURATION_S * 1000;
  rss.push({ t: 0, kb: rssKb(pid) });
  const sampler = setInterval(() => rss.push({ t: (performance.now() - t0) / 1000, kb: rssKb(pid) }), 1000);
  let lastDone = t0;
  const client = async () => {
    while (performance.now() < deadline) {
      const i = next++;
      const body = requestBody(i, "toy-safety-qwen2");
      for (;;) {
        const o = await send(url, body);
        if (o.status === 429) {
          retried429++;
          await sleep(o.retryAfterS! * 1000);
          continue;
        }
        if (o.ok) {
          latencies[kindOf(i)].push(o.ms);
          all.push(o.ms);
        } else {
          errors++;
          if (firstErrors.length < 3) firstErrors.push(`${o.status} ${o.detail}`);
        }
        lastDone = performance.now();
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  clearInterval(sampler);
  rss.push({ t: (performance.now() - t0) / 1000, kb: rssKb(pid) });
  const elapsed = (lastDone - t0) / 1000;
  return { latencies, all, errors, retried429, firstErrors, rss, elapsed };
}

// ---------------------------------------------------------------------------------------------------------------
console.log(`serve-load: models/toy-safety-qwen2 with its 4 SAEs; ${CLIENTS} clients for ${DURATION_S} s; max_tokens ${MAX_TOKENS}, greedy; server queue ${QUEUE}`);
console.log("  mix: 1/4 steered (clamp 0_8=200), 1/4 streamed, 1/8 return_features, 3/8 plain; prompts cycle through heldout.jsonl in a seeded shuffled order");

const ref = await reference();
const before = await ref.run(REFERENCE_S / 2, 0);
const server = await startServerProcess();
// Warm-up: one request of each kind, so every onnxruntime session is built before the clock starts.
for (let i = 0; i < 8; i++) {
  const o = await send(server.url, requestBody(i, "toy-safety-qwen2"));
  if (!o.ok) throw new Error(`warm-up request ${i} failed: ${o.status} ${o.detail}`);
}
const r = await load(server.url, server.pid);
const code = await server.stop();
const after = await ref.run(REFERENCE_S / 2, before.n);
await ref.dispose();
const refN = before.n + after.n;
const refRps = refN / ((before.ms + after.ms) / 1000);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`reference, in process, sequential, no HTTP (${REFERENCE_S} s: half before, half after the load): ${refN} requests, ${refRps.toFixed(1)} req/s (before ${(before.n / (before.ms / 1000)).toFixed(1)}, after ${(after.n / (after.ms / 1000)).toFixed(1)})`);
console.log(`  mean per kind: ${(["plain", "steered", "stream", "features"] as Kind[]).map((k) => { const xs = [...before.byKind[k], ...after.byKind[k]]; return `${k} ${mean(xs).toFixed(0)} ms (n ${xs.length})`; }).join(", ")}`);

const done = r.all.length;
const rps = done / r.elapsed;
console.log(`HTTP, ${CLIENTS} concurrent clients on loopback: ${done} requests in ${r.elapsed.toFixed(1)} s, ${rps.toFixed(1)} req/s`);
console.log(`  latency p50 ${pct(r.all, 0.5).toFixed(0)} ms, p99 ${pct(r.all, 0.99).toFixed(0)} ms (all kinds; a request waits its turn behind up to ${CLIENTS - 1} others)`);
for (const k of ["plain", "steered", "stream", "features"] as Kind[]) {
  const xs = r.latencies[k];
  console.log(`    ${k.padEnd(9)} n ${String(xs.length).padStart(5)}  p50 ${pct(xs, 0.5).toFixed(0).padStart(6)} ms  p99 ${pct(xs, 0.99).toFixed(0).padStart(6)} ms`);
}
console.log(`  errors ${r.errors}${r.firstErrors.length ? ` (${r.firstErrors.join("; ")})` : ""}; 429s retried ${r.retried429}`);
const at = (frac: number) => r.rss.reduce((best, s) => (Math.abs(s.t - frac * r.elapsed) < Math.abs(best.t - frac * r.elapsed) ? s : best), r.rss[0]!);
const kbs = r.rss.map((s) => s.kb);
console.log(`  server RSS: start ${mib(r.rss[0]!.kb)} MiB, middle ${mib(at(0.5).kb)} MiB, end ${mib(r.rss.at(-1)!.kb)} MiB (min ${mib(Math.min(...kbs))}, max ${mib(Math.max(...kbs))} over ${r.rss.length} samples)`);
if (values["rss-series"]) console.log(`  rss series (s: MiB): ${r.rss.map((x) => `${x.t.toFixed(0)}: ${mib(x.kb)}`).join(", ")}`);
console.log(`ratio HTTP / in-process: ${(rps / refRps).toFixed(2)} (throughput)`);
console.log(`server exit code after SIGTERM: ${code}`);
if (r.errors > 0) process.exitCode = 1;
