// `safesail` entry point: dispatches to one module per command group, each thin over src/ modules.
import { SafesailError } from "../errors.ts";
import { HelpRequested } from "./args.ts";

const USAGE = `usage: safesail <command> [options]

commands:
  info MODEL                               JSON summary of a model folder or hub id
  logits MODEL (--ids 1,2,3 | --text T) [--hook NAME]... [--json]
                                           next-token logits and hook activations
  generate MODEL --prompt T [--chat] [--max-new-tokens N] [--seed S] [--temperature X] [--top-p P] [--json]
                                           generate text (KV cache; greedy unless --temperature)
  harvest MODEL --corpus FILE --layers 0,2 --out DIR [--site mlp_out] [--max-tokens N] [--no-chat] [--dtype BF16] ...
                                           activations of a corpus into a resumable store (safesail harvest --help)
  harvest merge [SHARD_DIR...] --out DIR   join the stores of harvest --shard I/N runs into the unsharded store
  train-sae --acts DIR --layer L --k K --out DIR [--expansion 10] [--tokens N | --steps N] [--batch 1024] [--lr X]
                                           train a TopK-ReLU SAE on stored activations (SAELens layout; resumable);
                                           --layer 1,2 --k 8,32: a sweep, shardable (--shard I/N, then train-sae merge)
  eval-sae SAE_DIR --model MODEL --corpus FILE [--no-chat] [--positions all|answer] [--max-docs N] [--json]
                                           MSE, FVU, L0, dead/dense latents, CE with the SAE spliced in, KL
  convert IN.pt --to saelens --out DIR [--k 200] [--layer L]
                                           a Safe-SAIL .pt checkpoint as a SAELens folder (safesail convert --help)
  metrics --sae DIR --model MODEL --pairs FILE [--thresholds 0,0.1,...,0.9] [--languages en,zh] [--raw] [--json]
                                           L0,t, I_CDF and probe baselines per concept and domain (docs/metrics.md)
  filter --sae DIR --model MODEL --corpus FILE [--min-precision 0.6] [--min-recall 0.2] [--threshold auto|T] [--json]
                                           safety features kept by the precision-recall filter, with domain tags
  db import FILE --out DB | db export DB --format safe-sail|neuronpedia --out FILE | db query DB [--domain D] ...
                                           the feature database; Safe-SAIL release files byte for byte
  db merge [SHARD_DB...] --out DB          join the databases of explain/score --shard I/N runs
  map --db DB --out MAP.json [--embedding tfidf|MODEL] [--seed S] [--json]
                                           the StarMap feature map: explanations in 2-D, clusters, neighbour agreement
  examples --sae DIR --model MODEL --corpus FILE --out DIR (--features 2_17,2_40 | --db FILE | --filter FILE) [--json]
                                           top, quantile and non-activating examples of features (resumable store)
  explain --examples DIR --out DB [--explainer llm|baseline] [--llm NAME] [--api-base URL] [--cache FILE] [--json]
                                           explanations into a feature database (OpenAI-compatible LLM, or the offline baseline)
  score DB --examples DIR --method sls|tls|detection|all [--segments 8] [--llm NAME] [--cache FILE] [--json]
                                           simulation scores of the explanations on held-out windows, SLS/TLS cost ratio
  steer MODEL --saes DIR --set 3_120=clamp:8 [--set ...] (--prompt T [--chat] | --prompts FILE.jsonl) [--json]
                                           steer SAE features: baseline and steered answers, or refusal rates before/after
  serve MODEL [--saes DIR] [--port P] [--host H] [--api-key KEY]
                                           OpenAI-compatible /v1/chat/completions server, with SAE steering (docs/serve.md)
  demo [--quick [MODEL]]                   the reproducible supplement (npm run demo); --quick: a short printout
  kernel run CONNECTION_FILE               the Jupyter kernel (started by Jupyter from the kernelspec)
  kernel install [--user | --prefix DIR | --sys-prefix] [--name NAME]
                                           install the "TypeScript (safesail)" kernelspec
  lab [--port N] [--dir DIR] [--open]     JupyterLab with the safesail kernel and widgets (npm run lab)
  lab install [--user | --prefix DIR]      install the safesail-widgets extension into a JupyterLab
  notebooks run NOTEBOOK... [--out DIR]    execute notebooks headless (nbclient), write outputs back
  publish NOTEBOOK... --out DIR [--overwrite] [--title TEXT]
                                           self-contained offline HTML pages of executed notebooks + index.html
  supplement [--out DIR] [--notebooks LIST] [--overwrite] | supplement compare DIR_A DIR_B
                                           every notebook run headless and published with a run manifest (docs/supplement.md)
  claims build | grid [--jobs N | --shard I/N] | results NB
                                           the paper's claims on the toy model: the SAE grid, notebook 07, docs/results.md
  toy corpus|train|eval|card ...           build the embedded toy safety model (safesail toy for details)

safesail COMMAND --help (or safesail help COMMAND) prints a command's options.

MODEL is a local Hugging Face folder (config.json + safetensors + tokenizer) or a hub id such as
Qwen/Qwen2.5-0.5B-Instruct (downloaded into the Hugging Face cache; HF_ENDPOINT and HF_TOKEN are honoured).
SAFESAIL_DEVICE=cuda runs on the CUDA execution provider where onnxruntime has it.
harvest, train-sae sweeps, explain, score and claims grid take --shard I/N, by default from a Slurm array task or a
Kubernetes Indexed Job's environment (docs/scale-out.md).`;

type Command = (args: string[]) => Promise<number>;

// Each command's module is imported when that command runs: importing all of them (and tfjs, transformers,
// arquero behind them) cost every process, `--help` included, about 1.5 s.
const COMMANDS: Record<string, () => Promise<Command>> = {
  info: async () => (await import("./model.ts")).infoCommand,
  logits: async () => (await import("./model.ts")).logitsCommand,
  generate: async () => (await import("./model.ts")).generateCommand,
  harvest: async () => (await import("./harvest.ts")).harvestCommand,
  "train-sae": async () => (await import("./sae.ts")).trainSaeCommand,
  "eval-sae": async () => (await import("./sae.ts")).evalSaeCommand,
  convert: async () => (await import("./convert.ts")).convertCommand,
  metrics: async () => (await import("./metrics.ts")).metricsCommand,
  filter: async () => (await import("./metrics.ts")).filterCommand,
  db: async () => (await import("./db.ts")).dbCommand,
  map: async () => (await import("./map.ts")).mapCommand,
  examples: async () => (await import("./examples.ts")).examplesCommand,
  explain: async () => (await import("./interpret.ts")).explainCommand,
  score: async () => (await import("./interpret.ts")).scoreCommand,
  steer: async () => (await import("./steer.ts")).steerCommand,
  serve: async () => (await import("./serve.ts")).serveCommand,
  demo: async () => (await import("./demo.ts")).demoCommand,
  kernel: async () => (await import("./kernel.ts")).kernelCommand,
  lab: async () => (await import("./lab.ts")).labCommand,
  notebooks: async () => (await import("./notebooks.ts")).notebooksCommand,
  publish: async () => (await import("./publish.ts")).publishCommand,
  supplement: async () => (await import("./supplement.ts")).supplementCommand,
  toy: async () => (await import("./toy.ts")).toyCommand,
  claims: async () => (await import("./claims.ts")).claimsCommand,
};

export async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  // `safesail help COMMAND` is `safesail COMMAND --help`.
  if (name === "help" && rest[0] !== undefined && rest[0] in COMMANDS) [name, rest] = [rest[0], ["--help"]];
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  const loadCommand = COMMANDS[name];
  if (!loadCommand) {
    process.stderr.write(`safesail: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    const command = await loadCommand();
    return await command(rest);
  } catch (err) {
    // `--help` / `-h` on any command (parseCliArgs): its usage on stdout, exit 0.
    if (err instanceof HelpRequested) {
      process.stdout.write(`${err.text}\n`);
      return 0;
    }
    // Known errors print their message alone (it names the file, field or argument); others get a stack.
    // (parseCliArgs turns node:util parseArgs errors into ArgumentErrors; a stray one still prints as a message.)
    if (err instanceof SafesailError || String((err as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`safesail ${name}: ${(err as Error).message}\n`);
    } else {
      process.stderr.write(`safesail ${name}: ${(err as Error).stack ?? String(err)}\n`);
    }
    return 1;
  }
}
