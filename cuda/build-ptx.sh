#!/usr/bin/env bash
# Compiles cuda/*.cu to compute_80 PTX (PTX_DIR/<name>.ptx plus PTX_DIR/index.txt), then assembles
# each with ptxas -arch=sm_90 to catch errors early and to record registers, shared memory and
# spills in REPORT. Called by the pom's "ptx" profile; also usable by hand.
#   cuda/build-ptx.sh PTX_DIR REPORT
# Without nvcc (PATH, $CUDA_HOME/bin, /usr/local/cuda/bin) it says so and builds nothing: the jar
# then has no /ptx/index.txt and the CUDA backend reports "no PTX". A file is recompiled only when
# it or a header is newer than its PTX, so repeated builds cost nothing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PTX_DIR="${1:?usage: build-ptx.sh PTX_DIR REPORT}"
REPORT="${2:?usage: build-ptx.sh PTX_DIR REPORT}"

find_nvcc() {
  local c
  for c in "$(command -v nvcc 2>/dev/null || true)" "${CUDA_HOME:+$CUDA_HOME/bin/nvcc}" /usr/local/cuda/bin/nvcc; do
    if [[ -n "$c" && -x "$c" ]]; then echo "$c"; return 0; fi
  done
  return 1
}

if ! NVCC="$(find_nvcc)"; then
  echo "[ptx] no nvcc found (PATH, CUDA_HOME, /usr/local/cuda): building without PTX kernels"
  exit 0
fi
PTXAS="$(dirname "$(readlink -f "$NVCC")")/ptxas"
[[ -x "$PTXAS" ]] || PTXAS="$(command -v ptxas || true)"
if [[ -z "$PTXAS" ]]; then echo "[ptx] nvcc found but no ptxas next to it or on PATH" >&2; exit 1; fi

# Portable PTX: any sm_80+ GPU JIT-compiles it. No fast-math: the quantizers must round as Java does.
NVCC_FLAGS=(-ptx -arch=compute_80 -O3 -std=c++17 -lineinfo)
CHECK_ARCH=sm_90

REP_DIR="${REPORT%.txt}.d"  # per-module ptxas output, kept out of the jar
mkdir -p "$PTX_DIR" "$REP_DIR"
shopt -s nullglob
sources=("$HERE"/*.cu)
headers=("$HERE"/*.cuh)
if [[ ${#sources[@]} -eq 0 ]]; then echo "[ptx] no .cu files in $HERE"; exit 0; fi

newest_header=0
for h in "${headers[@]}"; do
  t=$(stat -c %Y "$h"); (( t > newest_header )) && newest_header=$t
done

built=0
for src in "${sources[@]}"; do
  name="$(basename "$src" .cu)"
  out="$PTX_DIR/$name.ptx"
  rep="$REP_DIR/$name.txt"
  if [[ -f "$out" && -f "$rep" && "$out" -nt "$src" ]] && (( $(stat -c %Y "$out") >= newest_header )); then
    continue
  fi
  "$NVCC" "${NVCC_FLAGS[@]}" -o "$out.tmp" "$src"
  # ptxas fails on errors; -v prints registers, shared memory, stack frame and spills per kernel.
  if ! "$PTXAS" -arch="$CHECK_ARCH" -v --warn-on-spills -o /dev/null "$out.tmp" >"$rep.tmp" 2>&1; then
    cat "$rep.tmp" >&2
    rm -f "$out.tmp" "$rep.tmp"
    echo "[ptx] ptxas -arch=$CHECK_ARCH failed on $name.ptx" >&2
    exit 1
  fi
  mv "$out.tmp" "$out"
  mv "$rep.tmp" "$rep"
  built=$((built + 1))
done

# index.txt: one line per module: name, target, PTX ISA version, file. The loader picks, per name,
# the best target the device can run (room for sm_90a variants beside the portable ones).
nvcc_version="$("$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
{
  echo "# wrpn PTX kernels, built by nvcc $nvcc_version; ptxas -arch=$CHECK_ARCH checked"
  for src in "${sources[@]}"; do
    name="$(basename "$src" .cu)"
    isa="$(sed -n 's/^\.version \([0-9.]*\).*/\1/p' "$PTX_DIR/$name.ptx" | head -1)"
    target="$(sed -n 's/^\.target \([a-z0-9_]*\).*/\1/p' "$PTX_DIR/$name.ptx" | head -1)"
    echo "$name $target $isa $name.ptx"
  done
} >"$PTX_DIR/index.txt"

# The report: per kernel, registers / smem / stack / spills, as ptxas printed them.
{
  echo "# ptxas -arch=$CHECK_ARCH -v report for the wrpn PTX kernels (nvcc $nvcc_version)"
  for src in "${sources[@]}"; do
    name="$(basename "$src" .cu)"
    echo "## $name"
    cat "$REP_DIR/$name.txt"
  done
} >"$REPORT"
kernels=$(grep -c "bytes spill stores" "$REPORT" || true)
spilling=$(grep "bytes spill stores" "$REPORT" | grep -vc " 0 bytes spill stores, 0 bytes spill loads" || true)
echo "[ptx] $built of ${#sources[@]} modules rebuilt with $NVCC; $kernels kernels pass ptxas -arch=$CHECK_ARCH, $spilling spill; report: $REPORT"
