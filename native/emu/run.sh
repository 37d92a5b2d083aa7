#!/usr/bin/env bash
# Builds and runs the CPU emulations of the cuda/*.cu kernels (see cuda_emu.h): check_kernels.cpp
# (quantizers, packing, reductions, element-wise), check_layers.cpp (conv, linear, batch norm,
# pooling, loss, optimizer, ReLU) and check_conv_variants.cpp (the packed-input integer conv, fused
# BN statistics and fused BN + quantize + pack of native/conv). Needs g++ 11+. A few seconds.
#   native/emu/run.sh [OUT_PREFIX]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-${TMPDIR:-/tmp}/wrpn-kernel-emu}"
FLAGS=(-std=c++20 -O1 -ffp-contract=off -w -I"$HERE/../../cuda" -I"$HERE")
status=0
for prog in check_kernels check_layers check_conv_variants; do
  g++ "${FLAGS[@]}" -o "$OUT-$prog" "$HERE/$prog.cpp" &
done
wait
for prog in check_kernels check_layers check_conv_variants; do
  "$OUT-$prog" || status=1
done
exit $status
