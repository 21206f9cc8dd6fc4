// `safesail info | logits | generate`: the runtime from the command line.
import { ArgumentError } from "../errors.ts";
import { terminalProgress } from "../progress.ts";
import { hookName } from "../model/hooks.ts";
import type { WeightPrecision } from "../model/graph.ts";
import { loadModel, type Model } from "../model/runtime.ts";
import { floatArg, intArg, intList, parseCliArgs, requiredArg, requiredPositional } from "./args.ts";

const USAGE = {
  info: "safesail info MODEL",
  logits: "safesail logits MODEL (--ids 1,2,3 | --text T) [--hook NAME]... [--top N] [--precision P] [--json]",
  generate: "safesail generate MODEL --prompt T [--chat] [--max-new-tokens N] [--seed S] [--temperature X] [--top-p P] [--precision P] [--json]",
};

const MODEL_ARG = `MODEL is a local Hugging Face folder (config.json + safetensors + tokenizer) or a hub id such as
Qwen/Qwen2.5-0.5B-Instruct (downloaded into the Hugging Face cache).`;

/** `--precision` of the commands that run the model (logits, generate, serve). */
export const PRECISION_HELP = `  --precision P         fp32 (default: the reference) or int8: 8-bit weights for the projections and the
                        head, faster decoding at a small logit error (bench/README.md; needs the weight cache)`;

export function precisionArg(values: { precision?: string }): WeightPrecision {
  const p = values.precision ?? "fp32";
  if (p !== "fp32" && p !== "int8") throw new ArgumentError(`--precision must be fp32 or int8, got ${JSON.stringify(p)}`, { field: "precision" });
  return p;
}

const HELP = {
  info: `usage: ${USAGE.info}

Prints a JSON summary of the model: architecture, shapes, parameter count, storage dtypes, tokenizer and chat
template, hook points. Reads config.json and the safetensors headers only (no weights).

${MODEL_ARG}`,
  logits: `usage: ${USAGE.logits}

Runs one forward pass and prints the next-token logits of the last position, plus the activations at each hook.

  --ids 1,2,3     the input as token ids
  --text T        or as text, tokenised as written (no chat template)
  --hook NAME     a hook point to read, e.g. blocks.0.hook_mlp_out (repeatable)
  --top N         how many of the top next tokens to list (default 5)
  --json          one JSON object: {"input_ids": [...], "logits_last": [...], "hooks": {"NAME": [[...], ...]}}
${PRECISION_HELP}

${MODEL_ARG}`,
  generate: `usage: ${USAGE.generate}

Generates a continuation with a KV cache, streamed to stdout (a summary line on stderr).

  --prompt T            the prompt (may be empty)
  --chat                as a user turn of the model's chat template, followed by the assistant header
  --max-new-tokens N    most tokens to generate (default 64)
  --temperature X       0 (default) is greedy; above 0 samples
  --top-p P             nucleus sampling in (0, 1] (default 1)
  --seed S              sampling seed (default 0)
  --json                print {"prompt_ids", "ids", "text", "finish_reason"} instead of streaming
${PRECISION_HELP}

${MODEL_ARG}`,
};

async function open(model: string, precision: WeightPrecision = "fp32", weightCache?: false): Promise<Model> {
  return loadModel(model, { progress: terminalProgress(), precision, weightCache });
}

export async function infoCommand(args: string[]): Promise<number> {
  const { positionals } = parseCliArgs({ args, maxPositionals: 1, usage: USAGE.info, help: HELP.info, options: {} });
  // No forward runs: the weight cache is not built for a summary.
  const model = await open(requiredPositional(positionals, 0, "MODEL", USAGE.info), "fp32", false);
  process.stdout.write(`${JSON.stringify(modelSummary(model), null, 2)}\n`);
  await model.dispose();
  return 0;
}

export function modelSummary(model: Model) {
  const cfg = model.config;
  let parameters = 0;
  const dtypes = new Set<string>();
  for (const name of model.weights.names()) {
    const ref = model.weights.ref(name);
    parameters += ref.shape.reduce((a, b) => a * b, 1);
    dtypes.add(ref.dtype);
  }
  return {
    path: model.dir,
    architecture: cfg.architecture,
    model_type: cfg.modelType,
    parameters,
    storage_dtypes: [...dtypes].sort(),
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_layers: cfg.numLayers,
    num_heads: cfg.numHeads,
    num_kv_heads: cfg.numKvHeads,
    head_dim: cfg.headDim,
    rope_theta: cfg.ropeTheta,
    rope_scaling: cfg.ropeScaling,
    rms_norm_eps: cfg.rmsNormEps,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    eos_token_ids: cfg.eosTokenIds,
    tokenizer: model.tokenizer !== null,
    chat_template: model.tokenizer?.hasChatTemplate ?? false,
    hook_points: model.hookNames().length,
    hook_example: hookName(cfg.numLayers - 1, "mlp_out"),
  };
}

export async function logitsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 1,
    usage: USAGE.logits,
    help: HELP.logits,
    options: {
      ids: { type: "string" },
      text: { type: "string" },
      hook: { type: "string", multiple: true },
      json: { type: "boolean" },
      top: { type: "string" },
      precision: { type: "string" },
    },
  });
  const modelPath = requiredPositional(positionals, 0, "MODEL", USAGE.logits);
  if ((values.ids === undefined) === (values.text === undefined)) throw new ArgumentError(`give exactly one of --ids or --text (${USAGE.logits})`);
  const givenIds = intList(values, "ids", { min: 0 });
  const top = intArg(values, "top", { min: 1, default: 5 });
  const model = await open(modelPath, precisionArg(values));
  try {
    const ids = givenIds ?? model.encode(values.text!);
    const hooks = values.hook ?? [];
    const { logits, cache } = await model.runWithCache([ids], hooks);
    const V = model.config.vocabSize;
    const last = logits.data.subarray((ids.length - 1) * V, ids.length * V);
    if (values.json) {
      // Each hook as nested arrays of its own shape without the batch axis: [seq][d_model] for residual points,
      // [heads][query][key] or [seq][heads][d_head] for attention points.
      const hookRows: Record<string, unknown> = {};
      for (const h of hooks) hookRows[h] = nested(cache[h]!.data, cache[h]!.shape.slice(1));
      process.stdout.write(`${JSON.stringify({ input_ids: ids, logits_last: Array.from(last), hooks: hookRows })}\n`);
    } else {
      const order = Array.from(last.keys()).sort((a, b) => last[b]! - last[a]!).slice(0, top);
      process.stdout.write(`input ids (${ids.length}): ${ids.join(",")}\nnext-token top ${top}:\n`);
      for (const i of order) process.stdout.write(`  ${String(i).padStart(7)} ${last[i]!.toFixed(4).padStart(10)}  ${JSON.stringify(model.tokenizer?.decode([i]) ?? "")}\n`);
      for (const h of hooks) {
        const t = cache[h]!;
        // L2 norm per entry of the first axis after the batch (positions, or heads for attention scores/patterns).
        const n = t.shape[1]!;
        const per = t.data.length / n;
        const norms = Array.from({ length: n }, (_, i) => Math.hypot(...t.data.subarray(i * per, (i + 1) * per)).toFixed(3));
        process.stdout.write(`${h} [${t.shape.join(", ")}] L2 norm per ${/hook_(attn_scores|pattern)$/.test(h) ? "head" : "position"}: ${norms.join(" ")}\n`);
      }
    }
  } finally {
    await model.dispose();
  }
  return 0;
}

export async function generateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 1,
    usage: USAGE.generate,
    help: HELP.generate,
    options: {
      prompt: { type: "string" },
      chat: { type: "boolean" },
      "max-new-tokens": { type: "string" },
      seed: { type: "string" },
      precision: { type: "string" },
      temperature: { type: "string" },
      "top-p": { type: "string" },
      json: { type: "boolean" },
    },
  });
  const modelPath = requiredPositional(positionals, 0, "MODEL", USAGE.generate);
  const prompt = requiredArg(values, "prompt", { hint: USAGE.generate, allowEmpty: true });
  const settings = {
    maxNewTokens: intArg(values, "max-new-tokens", { min: 1, default: 64 }),
    seed: intArg(values, "seed", { default: 0 }),
    temperature: floatArg(values, "temperature", { min: 0, default: 0 }),
    topP: floatArg(values, "top-p", { gt: 0, max: 1, default: 1 }),
  };
  const model = await open(modelPath, precisionArg(values));
  try {
    const started = performance.now();
    const streaming = !values.json;
    const out = await model.generate({
      prompt,
      chat: values.chat ?? false,
      ...settings,
      onToken: streaming ? (_id, text) => process.stdout.write(text) : undefined,
    });
    const secs = (performance.now() - started) / 1000;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ prompt_ids: out.promptIds, ids: out.ids, text: out.text, finish_reason: out.finishReason })}\n`);
    } else {
      process.stdout.write("\n");
      process.stderr.write(`[${out.ids.length} tokens in ${secs.toFixed(2)} s, finish: ${out.finishReason}]\n`);
    }
  } finally {
    await model.dispose();
  }
  return 0;
}

/** Row-major `data` as nested arrays of `shape`. */
function nested(data: Float32Array, shape: readonly number[]): unknown {
  if (shape.length <= 1) return Array.from(data);
  const step = data.length / shape[0]!;
  return Array.from({ length: shape[0]! }, (_, i) => nested(data.subarray(i * step, (i + 1) * step), shape.slice(1)));
}
