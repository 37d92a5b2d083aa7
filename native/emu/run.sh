#!/usr/bin/env bash
# Builds and runs the CPU emulations of the cuda/*.cu kernels (see cuda_emu.h): check_kernels.cpp
# (quantizers, packing, reductions, element-wise), check_layers.cpp (conv, linear, batch norm,
# pooling, loss, optimizer, ReLU), check_quantized.cpp (the quantized layers on codes: qconv.cu, the
# fused BN quantize-pack, the residual add of codes), check_conv_variants.cpp (the packed-input integer conv, fused BN
# statistics and fused BN + quantize + pack of native/conv), check_bounds.cpp (index arithmetic
# past 2^31 elements at the largest planned shapes) and check_driver.cpp (the emulated driver's
# strictness: contexts, deferred work, guard pages, module checks), each in up to three builds:
#   plain  -O1, run in every order of ORDERS (forward, reverse, seeded shuffles of blocks and threads)
#   asan   AddressSanitizer + UndefinedBehaviorSanitizer (out-of-bounds, overflow, misalignment), forward
#   tsan   ThreadSanitizer, every CUDA thread a fiber and every barrier generation a release/acquire
#          point (a missing __syncthreads() is a data race), reversed order (not check_driver: TSan
#          cannot follow its jump out of a fault handler across fibers)
# Shared memory is filled with garbage before every block in every run. Every run prints
# "<what>: N passed, M failed, digest D"; the digests of one program must be identical across all
# runs (same bits whatever the schedule or build). Needs g++ 11+ with libasan/libubsan/libtsan.
#   native/emu/run.sh [--modes plain,asan,tsan] [--orders forward,reverse,shuffle:1,shuffle:2]
#                     [--programs check_kernels,...] [OUT_PREFIX]
# Env: EMU_DROP_BARRIER / EMU_LIST_BARRIERS pass through to the programs (mutation.sh uses them).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODES="plain,asan,tsan"
ORDERS="forward,reverse,shuffle:1,shuffle:2"
PROGRAMS="check_kernels,check_layers,check_quantized,check_conv_variants,check_bounds,check_driver"
OUT=""
while (( $# > 0 )); do
  case "$1" in
    --modes) MODES="$2"; shift 2 ;;
    --orders) ORDERS="$2"; shift 2 ;;
    --programs) PROGRAMS="$2"; shift 2 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) OUT="$1"; shift ;;
  esac
done
OUT="${OUT:-${TMPDIR:-/tmp}/wrpn-kernel-emu}"
CUDA_DIR="$(cd "$HERE/../../cuda" && pwd)"
KERNEL_SOURCES=("$CUDA_DIR"/*.cu "$CUDA_DIR"/*.cuh "$HERE"/../conv/*.cuh)
# check_driver compiles fake_cuda.cpp with a few kernels registered
mkdir -p "$OUT-driver-inc"
: >"$OUT-driver-inc/sources.inc"
for f in "$CUDA_DIR"/*.cu; do echo "#include \"$f\"" >>"$OUT-driver-inc/sources.inc"; done
printf 'X(add_f32)\nX(relu_f32)\n' >"$OUT-driver-inc/kernels.inc"
BASE=(-std=c++20 -O1 -ffp-contract=off -w -I"$CUDA_DIR" -I"$HERE" -I"$OUT-driver-inc" -fdata-sections
  -Wl,-T,"$HERE/emu_shared.ld" -pthread)
declare -A MODE_FLAGS=(
  [plain]=""
  [asan]="-g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
  [tsan]="-g -fsanitize=thread"
)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:exitcode=66:report_signal_unsafe=0}"
IFS=, read -r -a modes <<<"$MODES"
IFS=, read -r -a orders <<<"$ORDERS"
IFS=, read -r -a programs <<<"$PROGRAMS"

# Build every (mode, program) in parallel, two at a time (the sanitizer builds are the slow ones).
status=0
pids=()
for mode in "${modes[@]}"; do
  [[ -v MODE_FLAGS[$mode] ]] || { echo "run.sh: unknown mode $mode" >&2; exit 2; }
  for prog in "${programs[@]}"; do
    [[ $mode == tsan && $prog == check_driver ]] && continue
    # shellcheck disable=SC2086
    g++ "${BASE[@]}" ${MODE_FLAGS[$mode]} -o "$OUT-$prog-$mode" "$HERE/$prog.cpp" &
    pids+=($!)
    if (( ${#pids[@]} >= 2 )); then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
  done
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
(( status == 0 )) || { echo "run.sh: a build failed" >&2; exit 1; }
for mode in "${modes[@]}"; do
  for prog in "${programs[@]}"; do
    [[ $mode == tsan && $prog == check_driver ]] && continue
    "$HERE/shared-symbols.sh" "$OUT-$prog-$mode" "${KERNEL_SOURCES[@]}" >/dev/null || status=1
  done
done

# Every (program, mode, order) run, two at a time (each is single-threaded); then their reports, in order.
mode_orders() {
  case "$1" in
    plain) echo "${orders[@]}" ;;
    asan) echo forward ;;
    tsan) echo reverse ;;
  esac
}
jobs_run=()
for prog in "${programs[@]}"; do
  for mode in "${modes[@]}"; do
    # TSan cannot follow the emulated driver's jump out of a fault handler across fibers.
    [[ $mode == tsan && $prog == check_driver ]] && continue
    for order in $(mode_orders "$mode"); do
      run="$OUT-$prog-$mode-${order//:/_}"
      (EMU_ORDER="$order" "$OUT-$prog-$mode" >"$run.out" 2>"$run.err"; echo $? >"$run.rc") &
      jobs_run+=($!)
      if (( ${#jobs_run[@]} >= 2 )); then wait "${jobs_run[0]}"; jobs_run=("${jobs_run[@]:1}"); fi
    done
  done
done
for p in "${jobs_run[@]}"; do wait "$p"; done

runs=0
declare -A digests
for prog in "${programs[@]}"; do
  for mode in "${modes[@]}"; do
    [[ $mode == tsan && $prog == check_driver ]] && continue
    for order in $(mode_orders "$mode"); do
      run="$OUT-$prog-$mode-${order//:/_}"
      out="$(cat "$run.out")"
      rc="$(cat "$run.rc")"
      line="$(grep -E "passed, [0-9]+ failed" <<<"$out" | tail -1)"
      echo "[$mode $order] ${line:-$prog: no summary}"
      grep -E "^FAIL" <<<"$out" | head -5
      runs=$((runs + 1))
      if (( rc != 0 )) || [[ -z "$line" ]]; then
        status=1
        echo "[$mode $order] $prog exit $rc:"
        grep -vE "^emu: barrier .* reached" "$run.err" | head -40
      fi
      grep -E "^emu: (barrier|EMU_DROP)" "$run.err" >&2 || true
      d="$(sed -n 's/.*digest \([0-9a-f]*\).*/\1/p' <<<"$line")"
      if [[ -n "$d" ]]; then
        if [[ -n "${digests[$prog]:-}" && "${digests[$prog]}" != "$d" ]]; then
          echo "[$mode $order] $prog: digest $d differs from ${digests[$prog]}: a result depends on the schedule or build"
          status=1
        fi
        digests[$prog]="$d"
      fi
    done
  done
done
if (( status == 0 )); then
  echo "emu: all $runs runs passed (modes $MODES; orders $ORDERS); digests identical across modes and orders"
else
  echo "emu: FAILED ($runs runs)"
fi
exit $status
