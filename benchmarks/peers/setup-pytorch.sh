#!/usr/bin/env bash
# Installs the PyTorch peer's one dependency, Debian's python3-torch (PyTorch 1.13, CPU), unless
# /usr/bin/python3 already imports torch. Needs root (apt-get). The tests never need it.
set -euo pipefail
PY="${WRPN_PYTHON:-/usr/bin/python3}"
if "$PY" -c 'import torch' 2>/dev/null; then
  echo "setup-pytorch: $("$PY" -c 'import torch; print("torch", torch.__version__)') already there ($PY)"
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch
"$PY" -c 'import torch; print("setup-pytorch: torch", torch.__version__, "installed")'
