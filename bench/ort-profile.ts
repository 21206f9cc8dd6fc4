// Sums onnxruntime profiles (written under SAFESAIL_ORT_PROFILE=PREFIX, src/engine/ort.ts) by operator type and by
// node: where a run's kernel time went.
//
//   SAFESAIL_ORT_PROFILE=/tmp/prof npx tsx bench/harvest.ts --docs 4
//   npx tsx bench/ort-profile.ts /tmp/prof*.json [--top 20] [--skip-runs N]
//
// --skip-runs N leaves out each session's first N runs (warm-up: the arena grows, weights are prepacked).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "20" }, "skip-runs": { type: "string", default: "0" } } });
if (positionals.length === 0) throw new Error("usage: npx tsx bench/ort-profile.ts PROFILE.json... [--top N] [--skip-runs N]");
interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  ts: number;
  args?: { op_name?: string };
}
const skip = Number(values["skip-runs"]);
const byOp = new Map<string, number>();
const byNode = new Map<string, number>();
let total = 0;
let runs = 0;
for (const file of positionals) {
  const events = JSON.parse(readFileSync(file, "utf8")) as ProfileEvent[];
  // Each run is one "model_run" session event; its nodes' kernel events fall inside its time span.
  const spans = events.filter((e) => e.cat === "Session" && e.name === "model_run").sort((a, b) => a.ts - b.ts).slice(skip);
  runs += spans.length;
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    if (!spans.some((s) => e.ts >= s.ts && e.ts <= s.ts + s.dur)) continue;
    const op = e.args?.op_name ?? "?";
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    const node = `${op} ${e.name.replace(/_kernel_time$/, "")}`;
    byNode.set(node, (byNode.get(node) ?? 0) + e.dur);
    total += e.dur;
  }
}
const ms = (us: number) => (us / 1000).toFixed(0).padStart(9);
const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
console.log(`${positionals.length} profile(s), ${runs} run(s) counted, ${ms(total).trim()} ms of kernel time`);
console.log("by operator type:");
for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${ms(us)} ms ${pct(us)}  ${op}`);
console.log("by node:");
for (const [node, us] of [...byNode].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${ms(us)} ms ${pct(us)}  ${node}`);
