// The kernel/front-end contract (widgets/src/protocol.ts): one version, the one the package ships, and the
// compatibility rule the views apply to a kernel's announced version.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compatibleVersion, MODULE_NAME, MODULE_VERSION } from "../src/protocol.ts";

describe("protocol", () => {
  it("MODULE_NAME and MODULE_VERSION are the package's name and version (what the extension registers)", () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8"));
    expect(MODULE_NAME).toBe(pkg.name);
    expect(MODULE_VERSION).toBe(pkg.version);
    const built = join(import.meta.dirname, "..", "labextension", "package.json");
    const ext = JSON.parse(readFileSync(built, "utf8"));
    expect(ext.version).toBe(MODULE_VERSION);
  });

  it("applies semver's caret rule: same major, and same minor while the major is 0", () => {
    expect(compatibleVersion("0.1.0", "0.1.0")).toBe(true);
    expect(compatibleVersion("^0.1.0", "0.1.3")).toBe(true);
    expect(compatibleVersion("0.1.7", "0.1.0")).toBe(true);
    expect(compatibleVersion("0.2.0", "0.1.0")).toBe(false);
    expect(compatibleVersion("1.4.0", "1.0.2")).toBe(true);
    expect(compatibleVersion("2.0.0", "1.9.9")).toBe(false);
    expect(compatibleVersion("", "0.1.0")).toBe(false);
    expect(compatibleVersion("latest", "0.1.0")).toBe(false);
  });
});
