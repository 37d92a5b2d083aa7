#!/usr/bin/env bash
# wrpn's CPU backend against PyTorch on the CPU, in one `wrpn bench train` run (steps alternate):
# lenet and resnet20, widths 1-3, fp32 and w4a4/w2a2 (wrpn: both save policies; PyTorch: fp32 and
# fake quantization), batch 64, as many threads for both as wrpn's CPU backend uses (all cores).
# Installs Debian's python3-torch first when it is missing (benchmarks/peers/setup-pytorch.sh).
#   benchmarks/cpu-vs-pytorch.sh [other wrpn bench options, e.g. --no-plots]
#   MODELS=lenet WIDTHS=1 BITS=32,2 REPEATS=3 OUT=/tmp/r benchmarks/cpu-vs-pytorch.sh   # a subset
# Writes OUT/cpu-vs-pytorch-train.{csv,json} and the plots (*-vs-pytorch.png). Run it on an idle machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/benchmarks/peers/setup-pytorch.sh"
cd "$ROOT"
exec ./wrpn bench train --peer pytorch --models "${MODELS:-lenet,resnet20}" --widths "${WIDTHS:-1,2,3}" --bits "${BITS:-32,4,2}" \
  --batch 64 --repeats "${REPEATS:-7}" --no-confirm --name cpu-vs-pytorch --out "${OUT:-benchmarks/results}" "$@"
