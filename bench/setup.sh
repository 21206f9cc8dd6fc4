#!/usr/bin/env bash
# What the PyTorch references of bench/ need, from Debian: torch, numpy and OpenBLAS. Without
# libopenblas0-pthread, Debian's torch resolves libblas.so.3 to the netlib reference BLAS (~4 GFLOPS here),
# which would make every ratio meaningless.
set -euo pipefail
need=()
/usr/bin/python3 -c "import torch, numpy" 2>/dev/null || need+=(python3-torch python3-numpy)
case "$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null)" in
  *openblas*) ;;
  *) need+=(libopenblas0-pthread) ;;
esac
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "bench/setup.sh: needs root to apt-get install ${need[*]}" >&2
  exit 1
fi
echo "bench/setup.sh: installing ${need[*]}" >&2
[ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
