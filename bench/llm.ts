// The chat client's own cost: requests per second at concurrency 16 against raw fetch, and memory over 10,000
// features with the replay cache on. Not a test; run by hand and write the figures in bench/README.md.
//
//   npx tsx bench/llm.ts                 # 5,000 requests x 3 rounds per side, then 10,000 features
//   npx tsx bench/llm.ts --n 2000 --features 5000 --rounds 1
//
// The loopback server (tests/helpers/openai-server.ts, instant replies with usage) runs in a child process, so the
// client and the server do not share one event loop; both sides of the comparison talk to the same server.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { llmClient } from "../src/interpret/llm.ts";
import { openReplayCache } from "../src/interpret/replay-cache.ts";
import { startOpenAiServer } from "../tests/helpers/openai-server.ts";

const REPLY = "The feature fires on requests for instructions to build weapons, mostly on the verb and the object. ".repeat(2);


function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}: expected a positive integer, got ${process.argv[i + 1]}`);
  return v;
}

/** A prompt of explain size (~1.5 KB), different per feature. */
function prompt(feature: number): string {
  return `Feature ${feature}. Top-activating examples:\n` + Array.from({ length: 20 }, (_, j) => `${j + 1}. <<tok${(feature * 31 + j) % 997}>> in a sentence about topic ${j} ...`).join("\n");
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const n = flag("--n", 5000);
  const features = flag("--features", 10_000);
  const rounds = flag("--rounds", 3);
  const concurrency = 16;
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;

  const child = fork(import.meta.filename, ["--serve"], { execArgv: process.execArgv, stdio: "inherit" });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("message", (m) => resolve((m as { url: string }).url));
    child.once("exit", (code) => reject(new Error(`server process exited (${code})`)));
  });
  const endpoint = `${url}/chat/completions`;
  const dir = mkdtempSync(join(tmpdir(), "safesail-bench-llm-"));
  try {
    console.log(`node ${process.version}, server ${url} (child process), concurrency ${concurrency}`);

    // --- throughput ---------------------------------------------------------------------------------------
    const bodies = Array.from({ length: n }, (_, i) => ({ messages: [{ role: "user" as const, content: prompt(i) }], temperature: 0 }));
    const viaClient = async (): Promise<number> => {
      const client = llmClient({ model: "bench", baseUrl: url, env: {}, concurrency });
      const t0 = performance.now();
      await Promise.all(bodies.map((b, i) => client.chat(b, { feature: `0_${i}`, purpose: "explain" })));
      return n / ((performance.now() - t0) / 1000);
    };
    // The reference: the same bodies, 16 workers, fetch and JSON.parse, nothing else.
    const viaFetch = async (): Promise<number> => {
      const raw = bodies.map((b) => JSON.stringify({ model: "bench", ...b }));
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < raw.length) {
            const body = raw[next++]!;
            const res = await fetch(endpoint, { method: "POST", headers: { "content-type": "application/json" }, body });
            const j = (await res.json()) as { choices: { message: { content: string } }[] };
            if (typeof j.choices[0]!.message.content !== "string") throw new Error("bad reply");
          }
        }),
      );
      return n / ((performance.now() - t0) / 1000);
    };
    await viaFetch();
    await viaClient();
    const client: number[] = [];
    const reference: number[] = [];
    for (let r = 0; r < rounds; r++) {
      reference.push(await viaFetch());
      client.push(await viaClient());
    }
    const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(", ");
    console.log(`\nthroughput, ${n} requests, concurrency ${concurrency} (median of ${rounds}, after one warm-up each)`);
    console.log(`  llmClient         ${median(client).toFixed(0).padStart(6)} req/s   (${fmt(client)})`);
    console.log(`  raw fetch         ${median(reference).toFixed(0).padStart(6)} req/s   (${fmt(reference)})`);
    console.log(`  ratio client/raw  ${(median(client) / median(reference)).toFixed(2)}`);

    // --- memory over many features, replay cache on ----------------------------------------------------------
    const file = join(dir, "cache.jsonl");
    const mc = llmClient({ model: "bench", baseUrl: url, env: {}, concurrency, cache: file });
    gc();
    const base = process.memoryUsage();
    const mib = (b: number): string => (b / 2 ** 20).toFixed(1).padStart(7);
    console.log(`\nmemory, ${features} features (one request each) through the client with the replay cache on`);
    console.log(`  requests   rss MiB   heapUsed MiB   cache entries   cache file MiB`);
    console.log(`  ${"0".padStart(8)}   ${mib(base.rss)}   ${mib(base.heapUsed)}        ${"0".padStart(8)}`);
    const series: { n: number; heap: number; rss: number }[] = [];
    const t0 = performance.now();
    for (let done = 0; done < features; ) {
      const batch = Math.min(1000, features - done);
      await Promise.all(Array.from({ length: batch }, (_, k) => mc.chat({ messages: [{ role: "user", content: prompt(done + k) }], temperature: 0 }, { feature: `5_${done + k}`, purpose: "explain" })));
      done += batch;
      gc();
      const m = process.memoryUsage();
      series.push({ n: done, heap: m.heapUsed, rss: m.rss });
      const cache = (await mc.cache())!;
      console.log(`  ${String(done).padStart(8)}   ${mib(m.rss)}   ${mib(m.heapUsed)}        ${String(cache.size).padStart(8)}   ${mib(statSync(file).size)}`);
    }
    const liveRate = features / ((performance.now() - t0) / 1000);
    const first = series[0]!;
    const last = series[series.length - 1]!;
    const perRequest = (last.heap - first.heap) / (last.n - first.n);
    console.log(`  growth ${first.n} -> ${last.n}: heapUsed ${((last.heap - first.heap) / 2 ** 20).toFixed(1)} MiB (${perRequest.toFixed(0)} B per request), rss ${((last.rss - first.rss) / 2 ** 20).toFixed(1)} MiB; ${liveRate.toFixed(0)} req/s`);

    // What of that is the cache's index: open the same file again on its own and weigh it.
    gc();
    const before = process.memoryUsage().heapUsed;
    const t1 = performance.now();
    const reopened = await openReplayCache(file);
    const openMs = performance.now() - t1;
    gc();
    const indexBytes = process.memoryUsage().heapUsed - before;
    console.log(`  the cache index alone (file reopened): ${(indexBytes / 2 ** 20).toFixed(1)} MiB for ${reopened.size} entries = ${(indexBytes / reopened.size).toFixed(0)} B per entry (reply ${REPLY.length} chars); open ${openMs.toFixed(0)} ms`);
    console.log(`  usage records kept by the client: ${mc.usage().length} (the rest of the growth)`);

    // Replay of the same 10,000 with no server.
    const offline = llmClient({ model: "bench", env: {}, offline: true, cache: reopened });
    const t2 = performance.now();
    const replayed = await Promise.all(Array.from({ length: features }, (_, i) => offline.chat({ messages: [{ role: "user", content: prompt(i) }], temperature: 0 }, { feature: `5_${i}` })));
    const replayRate = features / ((performance.now() - t2) / 1000);
    if (!replayed.every((r) => r.cached && r.content === REPLY)) throw new Error("replay differs from the live run");
    console.log(`  offline replay of the ${features}: ${replayRate.toFixed(0)} req/s, all cached`);
  } finally {
    child.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Last, so every constant above is initialised when this top-level await runs.
if (process.argv.includes("--serve")) {
  const server = await startOpenAiServer(() => ({ reply: REPLY, usage: { prompt_tokens: 400, completion_tokens: 50 } }), { record: false });
  process.send!({ url: server.url });
  process.on("disconnect", () => void server.close().then(() => process.exit(0)));
} else {
  await main();
}
