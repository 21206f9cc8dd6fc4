// Notebook 03 with an LLM, then without it: run once against an OpenAI-compatible server on loopback (a scripted
// judge), every answer lands in the replay cache next to the notebook; run again with no server, and every
// explanation and score comes back identical from the cache. The API key is in no file and no output.
// The notebook runs from a copy in a temporary folder (its relative paths reach the repository's data through a
// link), so the test writes nothing into notebooks/ and shares no cache folder with the other notebook tests.
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";
import { BIN } from "./helpers/cli.ts";
import { startOpenAiServer } from "./helpers/openai-server.ts";
import { stage2Judge } from "./helpers/scripted-llm.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NOTEBOOK = "03-explain-and-score.ipynb";
const KEY = "sk-notebook-replay-SECRET-7";
const tmp = mkdtempSync(join(tmpdir(), "safesail-nb-replay-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runNotebook(out: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = { ...process.env };
  delete base.OPENAI_BASE_URL;
  delete base.OPENAI_API_KEY;
  delete base.SAFESAIL_LLM;
  return new Promise((res) => {
    execFile(process.execPath, [BIN, "notebooks", "run", join(tmp, "notebooks", NOTEBOOK), "--out", out, "--no-sign", "--timeout", "300"], { env: { ...base, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

type Cell = { cell_type: string; source: string[]; outputs?: { text?: string[]; data?: Record<string, string[]> }[] };

/**
 * The text a cell printed or returned, without progress lines (their rates and times differ from run to run). Stream
 * outputs are joined as they are: the kernel flushes console output in chunks whose boundaries depend on timing (a
 * replay from the cache is faster), and one printed line may land in one chunk or the next.
 */
function cellText(nbFile: string, marker: string): string {
  const cells = (JSON.parse(readFileSync(nbFile, "utf8")) as { cells: Cell[] }).cells;
  const cell = cells.find((c) => c.cell_type === "code" && c.source.join("").includes(marker));
  if (!cell) throw new Error(`no cell with ${marker} in ${nbFile}`);
  const text = (cell.outputs ?? []).map((o) => (o.text ? o.text.join("") : `${(o.data?.["text/plain"] ?? []).join("")}\n`)).join("");
  return text.split("\n").filter((l) => !/\[#*-*\]/.test(l)).join("\n");
}

it("notebook 03 replays an LLM run from its cache, identically, with the server gone", async () => {
  mkdirSync(join(tmp, "notebooks"));
  copyFileSync(join(ROOT, "notebooks", NOTEBOOK), join(tmp, "notebooks", NOTEBOOK));
  symlinkSync(join(ROOT, "data"), join(tmp, "data"));
  const server = await startOpenAiServer((body) => stage2Judge(body));
  let first;
  try {
    first = await runNotebook(join(tmp, "online"), { SAFESAIL_LLM: "judge-9", OPENAI_BASE_URL: server.url, OPENAI_API_KEY: KEY });
  } finally {
    await server.close();
  }
  expect(first.code, first.stdout + first.stderr).toBe(0);
  const chat = server.requests.filter((r) => r.path === "/v1/chat/completions");
  expect(chat.length).toBeGreaterThan(100);
  expect(chat.every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);
  const cache = join(tmp, "notebooks", "03-explain-and-score.llm-cache.jsonl");
  expect(existsSync(cache)).toBe(true);

  const second = await runNotebook(join(tmp, "offline"), { SAFESAIL_LLM: "judge-9" });
  expect(second.code, second.stdout + second.stderr).toBe(0);
  const online = join(tmp, "online", NOTEBOOK);
  const offline = join(tmp, "offline", NOTEBOOK);
  for (const marker of ["explainFeatures(", "summariseScores(", "queryFeatures("]) {
    const a = cellText(online, marker);
    expect(a.length).toBeGreaterThan(0);
    expect(cellText(offline, marker)).toBe(a);
  }
  expect(cellText(online, "explainFeatures(")).toContain("explainer: llm:judge-9; 0 failures");
  expect(cellText(online, "summariseScores(")).toContain("simulator: llm:judge-9, ");
  expect(cellText(online, "summariseScores(")).not.toContain("baseline");
  for (const f of [cache, online, offline]) expect(readFileSync(f, "utf8")).not.toContain(KEY);
  for (const out of [first, second]) expect(out.stdout + out.stderr).not.toContain(KEY);
}, 400_000);
