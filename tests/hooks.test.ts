// The one hook-name module: names built and parsed the same way everywhere, bad names refused by name.
import { describe, expect, it } from "vitest";
import { ArgumentError } from "../src/errors.ts";
import {
  allAttnHookNames,
  allHookNames,
  allHookNamesWithAttention,
  ATTN_SITES,
  attnHookName,
  HOOK_KINDS,
  hookName,
  layerOf,
  parseAnyHookName,
  parseHookName,
  pointAt,
  pointIndex,
  SITES,
  siteOf,
  toSite,
  tryParseAnyHookName,
  tryParseHookName,
  walkIndex,
} from "../src/model/hooks.ts";

describe("hook names", () => {
  it("builds TransformerLens names from a layer and a site (with or without hook_)", () => {
    expect(hookName(3, "mlp_out")).toBe("blocks.3.hook_mlp_out");
    expect(hookName(0, "hook_resid_pre")).toBe("blocks.0.hook_resid_pre");
    expect(hookName({ layer: 12, site: "attn_out" })).toBe("blocks.12.hook_attn_out");
    expect(SITES.map((s, i) => HOOK_KINDS[i] === `hook_${s}`)).toEqual([true, true, true, true, true]);
  });

  it("parses what it builds, for every point of a model", () => {
    const names = allHookNames(4);
    expect(names).toHaveLength(20);
    expect(names[0]).toBe("blocks.0.hook_resid_pre");
    expect(names[19]).toBe("blocks.3.hook_resid_post");
    names.forEach((n, i) => {
      const p = parseHookName(n, { numLayers: 4 });
      expect(hookName(p)).toBe(n);
      expect(pointIndex(p)).toBe(i);
      expect(pointAt(i)).toEqual(p);
    });
    expect(layerOf("blocks.7.hook_mlp_out")).toBe(7);
    expect(siteOf("blocks.7.hook_resid_mid")).toBe("resid_mid");
  });

  it("refuses bad names with a message that says what was expected", () => {
    const bad = (name: unknown, opts = {}) => {
      try {
        parseHookName(name, opts);
      } catch (e) {
        expect(e).toBeInstanceOf(ArgumentError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${String(name)}`);
    };
    expect(bad("blocks.2.hook_mlp")).toBe('hook: not a hook point: "blocks.2.hook_mlp" (unknown site "mlp"); expected blocks.{layer}.{hook_resid_pre|hook_attn_out|hook_resid_mid|hook_mlp_out|hook_resid_post}');
    expect(bad("blocks.9.hook_mlp_out", { numLayers: 4, arg: "--hook" })).toBe('--hook: not a hook point: "blocks.9.hook_mlp_out" (the model has layers 0..3); expected blocks.{0..3}.{hook_resid_pre|hook_attn_out|hook_resid_mid|hook_mlp_out|hook_resid_post}');
    expect(bad("model.layers.2.mlp")).toMatch(/^hook: not a hook point: "model.layers.2.mlp"; expected/);
    expect(bad("blocks.-1.hook_mlp_out")).toMatch(/not a hook point/);
    expect(bad(" blocks.1.hook_mlp_out")).toMatch(/not a hook point/);
    expect(bad(42)).toMatch(/not a hook point: 42;/);
    expect(() => layerOf("blocks.x.hook_mlp_out", "sae.hook_name")).toThrow(/^sae.hook_name: not a hook point/);
    expect(tryParseHookName("blocks.1.hook_zzz")).toBeNull();
    expect(tryParseHookName("blocks.4.hook_mlp_out", 4)).toBeNull();
  });

  it("checks sites and layers when building", () => {
    expect(toSite("hook_mlp_out")).toBe("mlp_out");
    expect(() => toSite("mlp", "--site")).toThrow('--site: must be one of resid_pre, attn_out, resid_mid, mlp_out, resid_post, got "mlp"');
    expect(() => hookName(-1, "mlp_out")).toThrow(/layer must be an integer >= 0, got -1/);
    expect(() => hookName(1.5, "mlp_out")).toThrow(/layer must be an integer >= 0, got 1.5/);
    expect(() => hookName(1, "nope" as "mlp_out")).toThrow(/site: must be one of/);
  });

  it("attention hook points: built, parsed and ordered inside the block, bad names refused", () => {
    expect(attnHookName(1, "pattern")).toBe("blocks.1.attn.hook_pattern");
    expect(allAttnHookNames(2)).toHaveLength(2 * ATTN_SITES.length);
    const all = allHookNamesWithAttention(2);
    expect(all.slice(0, 11)).toEqual([
      "blocks.0.hook_resid_pre",
      "blocks.0.attn.hook_q",
      "blocks.0.attn.hook_k",
      "blocks.0.attn.hook_v",
      "blocks.0.attn.hook_rot_q",
      "blocks.0.attn.hook_rot_k",
      "blocks.0.attn.hook_attn_scores",
      "blocks.0.attn.hook_pattern",
      "blocks.0.attn.hook_z",
      "blocks.0.hook_attn_out",
      "blocks.0.hook_resid_mid",
    ]);
    all.forEach((n, i) => expect(walkIndex(parseAnyHookName(n, { numLayers: 2 }))).toBe(i));
    expect(parseAnyHookName("blocks.3.attn.hook_z")).toEqual({ layer: 3, attn: "z" });
    expect(parseAnyHookName("blocks.3.hook_mlp_out")).toEqual({ layer: 3, site: "mlp_out" });
    expect(tryParseAnyHookName("blocks.3.attn.hook_z", 3)).toBeNull();
    expect(() => parseAnyHookName("blocks.1.attn.hook_foo")).toThrow('hook: not a hook point: "blocks.1.attn.hook_foo" (unknown attention site "foo"); expected blocks.{layer}.attn.{hook_q|hook_k|hook_v|hook_rot_q|hook_rot_k|hook_attn_scores|hook_pattern|hook_z}');
    expect(() => parseAnyHookName("blocks.1.hook_foo", { arg: "cache" })).toThrow(/^cache: not a hook point: "blocks.1.hook_foo" \(unknown site "foo"\); expected blocks\.\{layer\}\.\{hook_resid_pre\|.*\}, or blocks\.\{layer\}\.attn\.\{hook_q\|/);
    expect(() => parseAnyHookName("blocks.5.attn.hook_q", { numLayers: 2 })).toThrow(/\(the model has layers 0\.\.1\)/);
    // Stages that need [tokens, d_model] values (harvest, SAEs) parse with parseHookName, which refuses attention hooks by name.
    expect(() => parseHookName("blocks.1.attn.hook_z", { arg: "--hook" })).toThrow(/^--hook: not a hook point: "blocks.1.attn.hook_z" \(an attention hook point, whose values are not \[tokens, d_model\]; this needs a residual-stream one\)/);
    expect(tryParseHookName("blocks.1.attn.hook_z")).toBeNull();
  });
});
