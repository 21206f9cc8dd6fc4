// `safesail harvest`: activations of a corpus into a store, thin over src/activations/harvest.ts.
//
//   safesail harvest MODEL --corpus FILE --layers 0,2,4 --out DIR [--site mlp_out] [--max-tokens N] [--no-chat]
//                    [--batch-tokens N] [--chunk-tokens N] [--max-doc-tokens N] [--dtype F32|F16|BF16]
//                    [--format text|jsonl] [--overwrite] [--json]
//
// Interrupted (Ctrl-C, a kill, a crash), the same command resumes after the last complete chunk. Ctrl-C
// stops after the current batch; a second Ctrl-C exits at once (still safe: every write is atomic).
import { parseArgs } from "node:util";
import { harvest } from "../activations/harvest.ts";
import { STORE_DTYPES, type StoreDtype } from "../activations/format.ts";
import { SITES, type Site } from "../model/hooks.ts";
import { ArgumentError } from "../errors.ts";
import { loadModel } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";

const HELP = `usage: safesail harvest MODEL --corpus FILE --layers 0,2,4 --out DIR [options]

Runs MODEL over the corpus and stores the activations of every given layer at one hook site
(blocks.{L}.hook_{site}) in one pass: DIR/manifest.json plus chunk-NNNNN.safetensors files.

  --corpus FILE         one document per line, or JSONL (.jsonl/.ndjson/.json) with "text", "prompt",
                        "messages" (chat list, always templated) or "ids" per line
  --layers L,L,...      layer indices
  --out DIR             the store; an interrupted harvest in DIR is resumed by the same command
  --site S              resid_pre | attn_out | resid_mid | mlp_out | resid_post (default mlp_out)
  --no-chat             tokenise plain text / prompts as written (default: as a user turn of the chat
                        template followed by the assistant header; --chat says so explicitly)
  --max-tokens N        stop after N tokens (default: the whole corpus)
  --max-doc-tokens N    cut longer documents (default min(1024, max_position_embeddings))
  --batch-tokens N      most tokens per forward pass (default 2048)
  --chunk-tokens N      rows per chunk file (default 16384)
  --dtype F32|F16|BF16  storage of the activations (default F32)
  --format text|jsonl   corpus format (default from the file extension)
  --overwrite           replace an existing store in DIR instead of resuming it
  --json                print a JSON summary

Every token is stored, special ones (chat markers, BOS/EOS) flagged in the chunk's "special" tensor;
readers can leave them out.`;

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new ArgumentError(`--${name} must be a positive integer, got "${value}"`, { field: name });
  return n;
}

function parseLayers(text: string | undefined): number[] {
  if (text === undefined) throw new ArgumentError(`--layers is required (comma-separated layer indices, e.g. --layers 0,2,4)`, { field: "layers" });
  const parts = text.split(",").map((s) => s.trim());
  const layers = parts.map(Number);
  if (parts.some((p) => p === "") || layers.some((l) => !Number.isSafeInteger(l) || l < 0)) {
    throw new ArgumentError(`--layers must be comma-separated non-negative integers, got "${text}"`, { field: "layers" });
  }
  return layers;
}

export async function harvestCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      corpus: { type: "string" },
      layers: { type: "string" },
      site: { type: "string" },
      out: { type: "string" },
      "max-tokens": { type: "string" },
      "max-doc-tokens": { type: "string" },
      "batch-tokens": { type: "string" },
      "chunk-tokens": { type: "string" },
      dtype: { type: "string" },
      format: { type: "string" },
      chat: { type: "boolean" },
      "no-chat": { type: "boolean" },
      overwrite: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  // Everything that can be checked without the model is checked before loading it.
  const modelPath = positionals[0];
  if (!modelPath) throw new ArgumentError("MODEL argument missing: safesail harvest MODEL --corpus FILE --layers 0,1 --out DIR", { field: "MODEL" });
  if (positionals.length > 1) throw new ArgumentError(`unexpected argument "${positionals[1]}" (one MODEL only)`);
  if (!values.corpus) throw new ArgumentError("--corpus FILE is required (one document per line, or JSONL)", { field: "corpus" });
  if (!values.out) throw new ArgumentError("--out DIR is required (the activation store folder)", { field: "out" });
  const layers = parseLayers(values.layers);
  const site = (values.site ?? "mlp_out") as Site;
  if (!SITES.includes(site)) throw new ArgumentError(`--site must be one of ${SITES.join(", ")}, got "${values.site}"`, { field: "site" });
  const dtype = (values.dtype ?? "F32").toUpperCase() as StoreDtype;
  if (!STORE_DTYPES.includes(dtype)) throw new ArgumentError(`--dtype must be one of ${STORE_DTYPES.join(", ")}, got "${values.dtype}"`, { field: "dtype" });
  const format = values.format;
  if (format !== undefined && format !== "text" && format !== "jsonl") throw new ArgumentError(`--format must be text or jsonl, got "${format}"`, { field: "format" });

  const model = await loadModel(modelPath, { progress: terminalProgress() });
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write("\nsafesail harvest: stopping after the current batch (Ctrl-C again to exit now)\n");
    abort.abort();
  };
  process.on("SIGINT", onSigint);
  try {
    const store = await harvest(model, values.corpus, {
      layers,
      site,
      out: values.out,
      dtype,
      format,
      chat: !values["no-chat"],
      overwrite: values.overwrite ?? false,
      maxTokens: intOption(values["max-tokens"], "max-tokens"),
      maxDocTokens: intOption(values["max-doc-tokens"], "max-doc-tokens"),
      batchTokens: intOption(values["batch-tokens"], "batch-tokens"),
      chunkTokens: intOption(values["chunk-tokens"], "chunk-tokens"),
      progress: terminalProgress(),
      signal: abort.signal,
    });
    const m = store.manifest;
    if (values.json) {
      const summary = { out: store.dir, hooks: m.hooks, d_model: m.d_model, dtype: m.dtype, tokens: m.tokens, special_tokens: m.special_tokens, documents: m.documents, truncated_documents: m.truncated_documents, chunks: m.chunks.length, limit_reached: m.limit_reached };
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
      process.stdout.write(
        `${store.dir}: ${m.tokens} tokens from ${m.documents} documents (${m.truncated_documents} cut at ${m.options.max_doc_tokens} tokens${m.limit_reached ? `; stopped at --max-tokens ${m.options.max_tokens}` : ""}), ` +
          `${m.hooks.join(", ")} as ${m.dtype} [tokens, ${m.d_model}], ${m.chunks.length} chunk${m.chunks.length === 1 ? "" : "s"}\n`,
      );
    }
    return 0;
  } catch (err) {
    if (abort.signal.aborted && (err as Error).name === "AbortError") {
      process.stderr.write(`safesail harvest: interrupted; complete chunks are kept in ${values.out}; run the same command again to resume\n`);
      return 130;
    }
    throw err;
  } finally {
    process.off("SIGINT", onSigint);
    await model.dispose();
  }
}
