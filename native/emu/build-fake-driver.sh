#!/usr/bin/env bash
# Builds the emulated CUDA driver (fake_cuda.cpp) as OUT_DIR/libcuda.so.1: every cuda/*.cu kernel
# under the CPU emulator, registered under the .entry names of the PTX in PTX_DIR (the PTX the jar
# carries). Run the JVM with LD_LIBRARY_PATH=OUT_DIR to use it. Needs g++ 11+; ~20 s.
#   native/emu/build-fake-driver.sh OUT_DIR PTX_DIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CUDA="$(cd "$HERE/../../cuda" && pwd)"
OUT="${1:?OUT_DIR}"
PTX="${2:?PTX_DIR}"
mkdir -p "$OUT"
: >"$OUT/sources.inc"
for f in "$CUDA"/*.cu; do echo "#include \"$f\"" >>"$OUT/sources.inc"; done
grep -ho '^\.visible \.entry [A-Za-z0-9_]*' "$PTX"/*.ptx | awk '{print "X(" $3 ")"}' | sort -u >"$OUT/kernels.inc"
[[ -s "$OUT/kernels.inc" ]] || { echo "build-fake-driver: no .entry in $PTX/*.ptx" >&2; exit 1; }
# -fdata-sections + emu_shared.ld: the __shared__ statics in one range, filled with garbage per block.
g++ -std=c++20 -O1 -ffp-contract=off -fPIC -shared -w -fdata-sections -Wl,-T,"$HERE/emu_shared.ld" \
  -Wl,-soname,libcuda.so.1 -I"$HERE" -I"$CUDA" -I"$OUT" -o "$OUT/libcuda.so.1.tmp" "$HERE/fake_cuda.cpp"
"$HERE/shared-symbols.sh" "$OUT/libcuda.so.1.tmp" "$CUDA"/*.cu "$CUDA"/*.cuh >/dev/null
mv "$OUT/libcuda.so.1.tmp" "$OUT/libcuda.so.1"
echo "build-fake-driver: $OUT/libcuda.so.1 with $(wc -l <"$OUT/kernels.inc") kernels"
