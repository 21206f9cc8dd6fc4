// `safesail steer`: baseline and steered answers side by side, or refusal rates before and after on a prompt set.
import { existsSync } from "node:fs";
import { ArgumentError } from "../errors.ts";
import { loadSaes } from "../interpret/examples.ts";
import { loadModel } from "../model/runtime.ts";
import { terminalProgress } from "../progress.ts";
import { parseIntervention, steer, steeringEval, type SteeringEvalReport } from "../steer/index.ts";
import { readHeldOut } from "../toy/card.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import { floatArg, intArg, parseCliArgs, requiredArg, requiredPositional } from "./args.ts";

const SYNOPSIS = "safesail steer MODEL --saes DIR --set FEATURE=METHOD:VALUE... (--prompt TEXT [--chat] | --prompts FILE.jsonl) [--max-new-tokens N] [--seed S] [--json]";

const USAGE = `usage: ${SYNOPSIS}

Runs the model with SAE features steered, next to the same model unsteered from the same seed.

  --saes DIR          the SAEs (a SAELens folder, or a folder of them, one per layer), e.g.
                      models/toy-safety-qwen2/saes
  --set F=METHOD:V    one intervention (repeat for more; one per feature), F a feature id {layer}_{index}:
                        clamp:V       the latent set to V at every position (the SAE's error term kept)
                        scale:S       the latent multiplied by S (0 ablates it)
                        add:A         A times the latent's decoder direction added (in the graph, no extra cost)
                        orthogonal:V  the component along the decoder direction replaced by V
                        cap:C         the projection onto the decoder direction limited to C
  --prompt TEXT       one prompt: prints the baseline and the steered answer
  --chat              --prompt as a user turn of the chat template (the model's usual input)
  --prompts FILE      a prompt set in the held-out format (JSONL: id, lang, domain, harmful, prompt; e.g.
                      models/toy-safety-qwen2/heldout.jsonl), always through the chat template: refusal rates
                      before and after per language and domain, with bootstrap 95% intervals
  --out FILE          with --prompts: the full report (rates and every answer) as JSON (written atomically)
  --checkpoint FILE   with --prompts: resume from / save progress to this JSONL file
  --max-new-tokens N  most tokens per answer (default 64 for --prompt, 24 for --prompts)
  --seed S            generation seed, shared by both runs (default 0)
  --temperature X     sampling temperature (default 0: greedy)
  --json              one JSON object on stdout: {"baseline", "steered", "interventions"} for --prompt,
                      the rates for --prompts

Methods follow SAELens/Neuronpedia steering; docs/steering.md defines each one exactly.`;

export async function steerCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    maxPositionals: 1,
    usage: SYNOPSIS,
    help: USAGE,
    options: {
      saes: { type: "string" },
      set: { type: "string", multiple: true },
      prompt: { type: "string" },
      prompts: { type: "string" },
      chat: { type: "boolean" },
      out: { type: "string" },
      checkpoint: { type: "string" },
      "max-new-tokens": { type: "string" },
      seed: { type: "string" },
      temperature: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const modelPath = requiredPositional(positionals, 0, "MODEL", SYNOPSIS);
  const saeDir = requiredArg(values, "saes", { metavar: "DIR" });
  const sets = values.set ?? [];
  if (sets.length === 0) throw new ArgumentError("--set: give at least one intervention, e.g. --set 3_120=clamp:8", { field: "set" });
  const interventions = sets.map((s) => parseIntervention(s, "--set"));
  if ((values.prompt === undefined) === (values.prompts === undefined)) throw new ArgumentError("give exactly one of --prompt TEXT and --prompts FILE.jsonl", { field: "prompt" });
  if (values.prompt !== undefined && (values.out !== undefined || values.checkpoint !== undefined)) throw new ArgumentError("--out and --checkpoint go with --prompts", { field: values.out !== undefined ? "out" : "checkpoint" });
  if (values.prompts !== undefined && values.chat) throw new ArgumentError("--chat goes with --prompt (a prompt set always uses the chat template)", { field: "chat" });
  const seed = intArg(values, "seed", { default: 0 });
  const temperature = floatArg(values, "temperature", { min: 0, default: 0 });
  if (!existsSync(saeDir)) throw new ArgumentError(`--saes: ${saeDir}: not found`, { field: "saes", file: saeDir });
  // Validate everything that can be checked before the model loads and anything runs.
  const prompts = values.prompts !== undefined ? await readHeldOut(values.prompts) : null;
  const saes = await loadSaes(saeDir);
  const model = await loadModel(modelPath, { progress: terminalProgress() });
  try {
    const steered = steer(model, saes, interventions);
    if (prompts) {
      const report = await steeringEval(model, saes, steered.interventions, prompts, {
        maxNewTokens: intArg(values, "max-new-tokens", { min: 1, default: 24 }),
        seed,
        temperature,
        checkpoint: values.checkpoint,
        progress: terminalProgress(),
      });
      if (values.out) await writeJsonAtomic(values.out, report);
      const { outcomes: _answers, ...rates } = report;
      if (values.json) process.stdout.write(`${JSON.stringify(rates)}\n`);
      else process.stdout.write(`${reportText(report)}\n`);
      return 0;
    }
    const cmp = await steered.compare({ prompt: values.prompt!, chat: values.chat ?? false, maxNewTokens: intArg(values, "max-new-tokens", { min: 1, default: 64 }), seed, temperature });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ baseline: cmp.baseline.text, steered: cmp.steered.text, interventions: cmp.interventions, first_difference: cmp.firstDifference, features: cmp.features })}\n`);
    } else {
      const lines = [
        `interventions: ${cmp.interventions.map((i) => `${i.feature}=${i.method}:${i.value}`).join(" ")} (seed ${cmp.seed})`,
        `baseline: ${JSON.stringify(cmp.baseline.text)}`,
        `steered:  ${JSON.stringify(cmp.steered.text)}`,
        cmp.firstDifference === null ? "the answers are identical" : `the answers part at token ${cmp.firstDifference}`,
        ...cmp.features.map((f) => `${f.feature} on the answer: mean ${mean(f.baseline)} unsteered, ${mean(f.steered)} steered`),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    return 0;
  } finally {
    await model.dispose();
  }
}

const mean = (xs: readonly number[]) => (xs.length ? (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3) : "–");
const pct = (v: number | null) => (v === null ? "–" : `${(100 * v).toFixed(1)}%`);
const signedPct = (v: number | null) => (v === null ? "–" : `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)}`);

function reportText(r: SteeringEvalReport): string {
  const lines = [
    `refusal rates on ${r.prompts} prompts, ${r.interventions.map((i) => `${i.feature}=${i.method}:${i.value}`).join(" ")}, ${r.maxNewTokens} new tokens, seed ${r.seed}; [${100 * r.bootstrap.level}% bootstrap interval]`,
    `${"lang".padEnd(5)} ${"domain".padEnd(12)} ${"n".padStart(4)}  ${"before".padEnd(24)} ${"after".padEnd(24)} change (points)`,
  ];
  for (const row of r.rows) {
    const iv = (b: typeof row.before) => `${pct(b.estimate)} [${pct(b.low)}, ${pct(b.high)}]`.padEnd(24);
    lines.push(`${row.lang.padEnd(5)} ${row.domain.padEnd(12)} ${String(row.n).padStart(4)}  ${iv(row.before)} ${iv(row.after)} ${signedPct(row.change.estimate)} [${signedPct(row.change.low)}, ${signedPct(row.change.high)}]`);
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}
