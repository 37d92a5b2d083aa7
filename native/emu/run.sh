#!/usr/bin/env bash
# Builds and runs the CPU emulation of the cuda/*.cu kernels (see cuda_emu.h). Needs g++ 11+.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-${TMPDIR:-/tmp}/wrpn-kernel-emu}"
g++ -std=c++20 -O1 -ffp-contract=off -pthread -w -I"$HERE/../../cuda" -o "$OUT" "$HERE/check_kernels.cpp"
"$OUT"
