#!/usr/bin/env bash
# wrpn's CPU backend against PyTorch on the CPU, in one `wrpn bench train` run (steps alternate):
# lenet and resnet20, widths 1-3, fp32 and w4a4/w2a2 (wrpn: both save policies; PyTorch: fp32 and
# fake quantization), batch 64, as many threads for both as the machine has cores. Installs
# Debian's python3-torch first when it is missing (benchmarks/peers/setup-pytorch.sh).
#   benchmarks/cpu-vs-pytorch.sh [extra wrpn bench options, e.g. --repeats 9 --out DIR]
# Writes OUT/cpu-vs-pytorch-train.{csv,json} and the plots (*-vs-pytorch.png). Run it on an idle machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/benchmarks/peers/setup-pytorch.sh"
cd "$ROOT"
exec ./wrpn bench train --peer pytorch --models lenet,resnet20 --widths 1,2,3 --bits 32,4,2 --batch 64 --repeats 7 \
  --no-confirm --name cpu-vs-pytorch --out benchmarks/results "$@"
