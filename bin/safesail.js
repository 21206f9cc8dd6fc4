#!/usr/bin/env node
// The `safesail` command. Sources are TypeScript; tsx compiles them on load so the CLI, the notebooks and
// the tests all run the same files.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
