// The `safesail` command as users and other issues rely on it: real processes, real files, a real loopback
// HTTP server standing in for the hub.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandomModel } from "../src/model/random.ts";
import { loadModel } from "../src/model/runtime.ts";
import { runCli } from "./helpers/cli.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-cli-"));
let modelDir: string;
let files: string[];

const run = runCli;

beforeAll(async () => {
  modelDir = join(root, "tiny");
  const made = await createRandomModel(modelDir, { architecture: "Qwen2ForCausalLM", hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, vocab: 300, seed: 11, dtype: "BF16" });
  files = made.files;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("safesail CLI", () => {
  it("info prints a JSON summary", async () => {
    const r = await run(["info", modelDir]);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ architecture: "Qwen2ForCausalLM", num_layers: 2, hidden_size: 32, num_kv_heads: 2, storage_dtypes: ["BF16"], tokenizer: true, chat_template: true, hook_points: 26 }); // per block: 5 residual-stream + 8 attention points
    // Parameter count from the shapes: embed + lm_head (untied by default?) + layers + norm.
    const cfg = JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8"));
    const D = 32, I = 48, V = 300, hd = 8;
    const perLayer = 2 * D + (4 * hd * D + 4 * hd) + 2 * (2 * hd * D + 2 * hd) + D * 4 * hd + 3 * D * I;
    const expected = V * D * (cfg.tie_word_embeddings ? 1 : 2) + 2 * perLayer + D;
    expect(info.parameters).toBe(expected);
  });

  it("logits --json has the contract shape and matches the in-process runtime", async () => {
    const r = await run(["logits", modelDir, "--ids", "5,6,7,8", "--hook", "blocks.0.hook_mlp_out", "--hook", "blocks.1.hook_resid_post", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(["hooks", "input_ids", "logits_last"]);
    expect(out.input_ids).toEqual([5, 6, 7, 8]);
    expect(out.logits_last).toHaveLength(300);
    expect(Object.keys(out.hooks)).toEqual(["blocks.0.hook_mlp_out", "blocks.1.hook_resid_post"]);
    expect(out.hooks["blocks.0.hook_mlp_out"]).toHaveLength(4);
    expect(out.hooks["blocks.0.hook_mlp_out"][0]).toHaveLength(32);

    const model = await loadModel(modelDir);
    const { logits, cache } = await model.runWithCache([[5, 6, 7, 8]], ["blocks.1.hook_resid_post"]);
    await model.dispose();
    // JSON carries float32 values exactly (shortest round-trip repr of each double).
    expect(Float32Array.from(out.logits_last)).toEqual(logits.data.slice(3 * 300));
    expect(Float32Array.from(out.hooks["blocks.1.hook_resid_post"].flat())).toEqual(cache["blocks.1.hook_resid_post"]!.data);

    // Attention hooks keep their own shape: [heads][query][key] (the model has 4 heads).
    const a = await run(["logits", modelDir, "--ids", "5,6,7", "--hook", "blocks.1.attn.hook_pattern", "--json"]);
    expect(a.code, a.stderr).toBe(0);
    const pattern = JSON.parse(a.stdout).hooks["blocks.1.attn.hook_pattern"] as number[][][];
    expect([pattern.length, pattern[0]!.length, pattern[0]![0]!.length]).toEqual([4, 3, 3]);
    for (const head of pattern) for (const row of head) expect(row.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
    expect(pattern[0]![0]!.slice(1)).toEqual([0, 0]); // causal: the first query sees only itself
  });

  it("logits --text tokenizes; generate is deterministic and honours --max-new-tokens", async () => {
    const t = await run(["logits", modelDir, "--text", "hello world", "--json"]);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout).input_ids.length).toBeGreaterThan(1);
    const a = await run(["generate", modelDir, "--prompt", "hello", "--chat", "--max-new-tokens", "5", "--json"]);
    const b = await run(["generate", modelDir, "--prompt", "hello", "--chat", "--max-new-tokens", "5", "--json"]);
    expect(a.code, a.stderr).toBe(0);
    const ga = JSON.parse(a.stdout);
    expect(ga.ids.length).toBeLessThanOrEqual(5);
    expect(ga).toEqual(JSON.parse(b.stdout));
    const sampled = await run(["generate", modelDir, "--prompt", "hello", "--max-new-tokens", "6", "--temperature", "3", "--seed", "4", "--json"]);
    const sampledAgain = await run(["generate", modelDir, "--prompt", "hello", "--max-new-tokens", "6", "--temperature", "3", "--seed", "4", "--json"]);
    expect(JSON.parse(sampled.stdout).ids).toEqual(JSON.parse(sampledAgain.stdout).ids);
    const plain = await run(["generate", modelDir, "--prompt", "hello", "--max-new-tokens", "3"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/tokens in .* s, finish: (stop|length)/);
  });

  it("bad input gives a clear error naming the argument, file or field", async () => {
    const cases: [string[], RegExp][] = [
      [["logits"], /MODEL argument missing/],
      [["logits", modelDir], /exactly one of --ids or --text/],
      [["logits", modelDir, "--ids", "1,x"], /--ids must be comma-separated/],
      [["logits", modelDir, "--ids", "1,2", "--hook", "blocks.7.hook_mlp_out"], /not a hook point: "blocks\.7\.hook_mlp_out" \(the model has layers 0\.\.1\)/],
      [["logits", modelDir, "--ids", "1,100000"], /ids\[0\]\[1\] = 100000/],
      [["generate", modelDir, "--prompt", "x", "--max-new-tokens", "2.5"], /--max-new-tokens must be a positive integer, got "2\.5"/],
      [["info", join(root, "nowhere")], /nowhere/],
      [["frobnicate"], /unknown command "frobnicate"/],
    ];
    for (const [args, pattern] of cases) {
      const r = await run(args);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr, args.join(" ")).toMatch(pattern);
      expect(r.stderr, args.join(" ")).not.toMatch(/^\s+at /m); // a message, not a stack trace
    }
  });

  it("broken model folders: unsupported architecture, missing weight, truncated file", async () => {
    const copy = (name: string) => {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      for (const f of files) copyFileSync(join(modelDir, f), join(dir, f));
      return dir;
    };
    const arch = copy("arch");
    const cfg = JSON.parse(readFileSync(join(arch, "config.json"), "utf8"));
    writeFileSync(join(arch, "config.json"), JSON.stringify({ ...cfg, architectures: ["GPT2LMHeadModel"], model_type: "gpt2" }));
    let r = await run(["info", arch]);
    expect(r.stderr).toMatch(/GPT2LMHeadModel/);
    expect(r.stderr).toMatch(/config\.json/);

    const trunc = copy("trunc");
    const st = join(trunc, "model.safetensors");
    truncateSync(st, statSync(st).size - 100);
    r = await run(["info", trunc]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/model\.safetensors/);

    const layers = copy("layers");
    writeFileSync(join(layers, "config.json"), JSON.stringify({ ...cfg, num_hidden_layers: 3 }));
    r = await run(["info", layers]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/model\.layers\.2\./);
  });
});

describe("hub ids through the CLI", () => {
  let server: http.Server;
  let endpoint: string;
  const hits: string[] = [];
  beforeAll(async () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    server = http.createServer((req, res) => {
      hits.push(req.url!);
      const url = new URL(req.url!, "http://x");
      if (url.pathname === "/api/models/tiny-org/tiny-model/revision/main") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ sha, siblings: files.map((rfilename) => ({ rfilename })) }));
        return;
      }
      const m = /^\/tiny-org\/tiny-model\/resolve\/[^/]+\/(.+)$/.exec(url.pathname);
      if (m && files.includes(m[1]!)) {
        const body = readFileSync(join(modelDir, m[1]!));
        res.writeHead(200, { "x-repo-commit": sha, "content-length": body.length }).end(body);
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("downloads into the Hugging Face cache layout once, then runs offline from it", async () => {
    const env = { HF_ENDPOINT: endpoint, HF_HUB_CACHE: join(root, "hf-cache") };
    const first = await run(["logits", "tiny-org/tiny-model", "--ids", "1,2,3", "--json"], env);
    expect(first.code, first.stderr).toBe(0);
    expect(hits.length).toBeGreaterThan(files.length);
    const local = await run(["logits", modelDir, "--ids", "1,2,3", "--json"]);
    expect(JSON.parse(first.stdout)).toEqual(JSON.parse(local.stdout));
    const snapshot = join(root, "hf-cache", "models--tiny-org--tiny-model", "snapshots", "0123456789abcdef0123456789abcdef01234567");
    expect(statSync(join(snapshot, "config.json")).isFile()).toBe(true);
    expect(readFileSync(join(root, "hf-cache", "models--tiny-org--tiny-model", "refs", "main"), "utf8").trim()).toBe("0123456789abcdef0123456789abcdef01234567");

    hits.length = 0;
    const again = await run(["info", "tiny-org/tiny-model"], { ...env, HF_ENDPOINT: "http://127.0.0.1:9" });
    expect(again.code, again.stderr).toBe(0);
    expect(hits).toEqual([]);
  });
});
