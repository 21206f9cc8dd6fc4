#!/usr/bin/env bash
# Debian packages the tests need: Jupyter's Python side lives under /usr/bin/python3 (a pyenv python3 may
# shadow it on PATH, so everything calls /usr/bin/python3 explicitly). Installs only what is missing.
# jupyter-client is the Debian package of the `jupyter-kernelspec` command (and, through jupyter-core, `jupyter`):
# without it `/usr/bin/python3 -m jupyter kernelspec list` says "Jupyter command `jupyter-kernelspec` not found"
# (python3-jupyter-client has the library only; `/usr/bin/python3 -m jupyter_client.kernelspecapp list` works either way).
set -euo pipefail
# python3-jupyter-server + python3-jupyterlab-server serve the lab (widgets/lab/serve.py); chromium runs the browser
# tests (driven by npm playwright-core; never a downloaded browser). fonts-lohit-deva gives Chromium a Devanagari
# font (200 KB), so the Hindi prompts of the cross-language views render as text in screenshots, not as empty boxes.
want=(python3-jupyter-client jupyter-client python3-jupyter-kernel-test python3-nbclient python3-nbformat python3-zmq
      python3-jupyter-server python3-jupyterlab-server chromium fonts-lohit-deva)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "system-deps: missing ${missing[*]}; run as root or install them with apt-get" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
