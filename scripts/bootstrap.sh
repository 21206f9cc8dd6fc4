#!/usr/bin/env bash
# Installs what safesail needs on a fresh machine, and nothing when it is already there.
# onnxruntime-node's install script would try to download CUDA: skip it (the CPU build ships in the package).
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip

bash scripts/system-deps.sh

stamp=node_modules/.safesail-lock-hash
want=$(sha256sum package-lock.json 2>/dev/null | cut -d' ' -f1 || echo none)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing npm packages" >&2
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
  sha256sum package-lock.json | cut -d' ' -f1 > "$stamp"
fi
