#!/usr/bin/env bash
# `npm test`: bootstrap, type check, the vitest suites; ends with one plain summary line
# ("tests: N passed, N failed") that log readers understand whatever the test runner.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh || exit 1
# node_modules/.bin/tsc is tslab's TypeScript 5.0; the project's own (package.json) is typescript/bin/tsc.
node node_modules/typescript/bin/tsc -p tsconfig.json --noEmit || { echo "typecheck: 0 passed, 1 failed"; exit 1; }
# The in-page runtime of published pages (browser code over src/ and the kernel's widget classes).
node node_modules/typescript/bin/tsc -p widgets/tsconfig.inpage.json --noEmit || { echo "typecheck: 0 passed, 1 failed"; exit 1; }
# The lab front end, the safesail-widgets extension and the offline embed bundle (each skipped when up to date).
node widgets/lab/build.mjs || { echo "build: 0 passed, 1 failed"; exit 1; }
node widgets/scripts/build-embed.mjs --if-stale || { echo "build: 0 passed, 1 failed"; exit 1; }
report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" 2>/dev/null || echo "tests: 0 passed, 1 failed"
rm -f "$report"
exit $status
