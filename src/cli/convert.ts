// `safesail convert`: an SAE checkpoint into the SAELens layout, so tools that speak SAELens (and safesail's own
// stages) read it. Today's input: Safe-SAIL's released `.pt` checkpoints, read by the safe .pt reader (no code runs).
import { existsSync } from "node:fs";
import * as path from "node:path";
import { ArgumentError } from "../errors.ts";
import { loadSae, saveSae } from "../sae/saelens.ts";
import { SAFE_SAIL_K } from "../sae/safe-sail-checkpoint.ts";
import { choiceArg, intArg, parseCliArgs, requiredArg, requiredPositional } from "./args.ts";

const USAGE = "safesail convert IN.pt --to saelens --out DIR [--k 200] [--layer L | --hook NAME] [--index I] [--model NAME] [--overwrite] [--json]";

const HELP = `usage: ${USAGE}

Converts a Safe-SAIL SAE checkpoint (a .pt state_dict of the sparse_autoencoder library, as in the Safe-SAIL
release) into a SAELens folder: DIR/cfg.json + DIR/sae_weights.safetensors.

  --to saelens     the output layout (the only one so far)
  --out DIR        the SAE folder to write
  --k K            TopK's k; not stored in the checkpoint (default ${SAFE_SAIL_K}, the paper's, at most d_sae)
  --layer L        the model layer the SAE reads: hook blocks.L.hook_mlp_out (the paper's site)
  --hook NAME      or the hook itself
  --index I        which of the checkpoint's stacked autoencoders (default 0)
  --model NAME     the model the SAE belongs to, recorded as model_name
  --overwrite      replace an existing SAE in DIR
  --json           print a JSON summary`;

export async function convertCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 1,
    usage: USAGE,
    help: HELP,
    options: {
      to: { type: "string" },
      out: { type: "string" },
      k: { type: "string" },
      layer: { type: "string" },
      hook: { type: "string" },
      index: { type: "string" },
      model: { type: "string" },
      overwrite: { type: "boolean" },
      json: { type: "boolean" },
    },
  });
  const input = requiredPositional(positionals, 0, "IN", USAGE);
  choiceArg(values, "to", ["saelens"] as const, { required: true });
  const out = path.resolve(requiredArg(values, "out", { metavar: "DIR" }));
  const k = intArg(values, "k", { min: 1 });
  const layer = intArg(values, "layer", { min: 0 });
  const index = intArg(values, "index", { min: 0 });
  if (layer !== undefined && values.hook !== undefined) throw new ArgumentError("give --layer or --hook, not both", { field: "hook" });
  if (!/\.pt$/i.test(input)) throw new ArgumentError(`IN: ${input}: expected a Safe-SAIL .pt checkpoint`, { field: "IN", file: input });
  if (!existsSync(input)) throw new ArgumentError(`IN: ${input}: file not found`, { field: "IN", file: input });
  if (existsSync(path.join(out, "cfg.json")) && !values.overwrite) throw new ArgumentError(`--out: ${out} already holds an SAE (cfg.json); pass --overwrite to replace it`, { field: "out", file: out });
  const sae = await loadSae(input, { k, layer, hookName: values.hook, index, modelName: values.model });
  const files = await saveSae(out, sae, { converted_from: path.resolve(input), converted_by: "safesail convert (Safe-SAIL .pt)" });
  const summary = { out, files: files.map((f) => path.basename(f)), d_in: sae.config.dIn, d_sae: sae.config.dSae, k: sae.config.k, hook_name: sae.config.hookName };
  process.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : `${input} -> ${out}: d_in ${summary.d_in}, d_sae ${summary.d_sae}, k ${summary.k}, hook ${summary.hook_name ?? "unknown"}\n`);
  return 0;
}
