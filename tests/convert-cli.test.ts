// `safesail convert` through the real CLI: a Safe-SAIL .pt checkpoint becomes a SAELens folder that loads to the
// same SAE; bad input is named.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { safeSailSae } from "../src/sae/safe-sail-checkpoint.ts";
import { loadSae } from "../src/sae/saelens.ts";
import { runCli } from "./helpers/cli.ts";

const root = mkdtempSync(join(tmpdir(), "safesail-convert-"));
const fx = (name: string) => fileURLToPath(new URL(`./fixtures/torch/${name}`, import.meta.url));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("safesail convert", () => {
  it("writes a SAELens folder that loads to the checkpoint's SAE", async () => {
    const out = join(root, "sae");
    const r = await runCli(["convert", fx("safe_sail_ckpt.pt"), "--to", "saelens", "--out", out, "--k", "4", "--layer", "17", "--model", "Qwen/Qwen2.5-3B-Instruct", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ d_in: 8, d_sae: 16, k: 4, hook_name: "blocks.17.hook_mlp_out" });
    const sae = await loadSae(out);
    const want = safeSailSae(fx("safe_sail_ckpt.pt"), { k: 4, layer: 17 });
    expect(sae.params).toEqual(want.params);
    expect(sae.config).toMatchObject({ k: 4, hookName: "blocks.17.hook_mlp_out", modelName: "Qwen/Qwen2.5-3B-Instruct" });
    const cfg = JSON.parse(readFileSync(join(out, "cfg.json"), "utf8"));
    expect(cfg).toMatchObject({ architecture: "topk", d_in: 8, d_sae: 16, hook_layer: 17, converted_from: fx("safe_sail_ckpt.pt") });
    // Again without --overwrite: refused by name; with it: done.
    const again = await runCli(["convert", fx("safe_sail_ckpt.pt"), "--to", "saelens", "--out", out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`--out: ${out} already holds an SAE (cfg.json); pass --overwrite to replace it`);
    expect((await runCli(["convert", fx("safe_sail_ckpt.pt"), "--to", "saelens", "--out", out, "--overwrite"])).code).toBe(0);
  });

  it("names bad input: the layout, a JumpReLU checkpoint, k beyond d_sae, a missing file; --help exits 0", async () => {
    const out = join(root, "bad");
    const cases: [string[], RegExp][] = [
      [["convert", fx("safe_sail_ckpt.pt"), "--to", "sparsify", "--out", out], /--to must be one of saelens, got "sparsify"/],
      [["convert", fx("safe_sail_ckpt.pt"), "--out", out], /--to is required/],
      [["convert", fx("safe_sail_ckpt_n2.pt"), "--to", "saelens", "--out", out, "--index", "1", "--k", "2"], /a JumpReLU checkpoint \(it has "encoder\.theta"\)/],
      [["convert", fx("safe_sail_ckpt.pt"), "--to", "saelens", "--out", out, "--k", "17"], /k: must be an integer in \[1, 16\]/],
      [["convert", join(root, "none.pt"), "--to", "saelens", "--out", out], /IN: .*none\.pt: file not found/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toMatch(pattern);
    }
    const help = await runCli(["convert", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: safesail convert IN\.pt --to saelens --out DIR/);
  });
});
