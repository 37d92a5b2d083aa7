#!/usr/bin/env bash
# Builds native/conv/conv_bench.cu for the GPU here (nvcc -arch=sm_90, Hopper; override with ARCH) and
# runs it: the conv-forward variants of conv_variants.cuh, checked and timed (see conv_bench.cu).
# Prints the ptxas register/spill report of the variant kernels first.
#   native/conv/run.sh [OUT_BINARY]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-${TMPDIR:-/tmp}/wrpn-conv-bench}"
ARCH="${ARCH:-sm_90}"
nvcc -O3 -std=c++17 -arch="$ARCH" -Xptxas -v,--warn-on-spills -o "$OUT" "$HERE/conv_bench.cu" 2>&1 \
  | grep -A3 -E "Compiling entry function '(conv|bn_stats|bn_quantize)" | grep -E "entry|Used|spill" || true
"$OUT"
