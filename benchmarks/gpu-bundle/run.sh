#!/usr/bin/env bash
# The one-call GPU check, run from the bundle that benchmarks/device-check.sh builds. Needs nothing
# on the machine but an NVIDIA driver: the bundle carries the Java runtime, jars, PTX and tests.
#   bash bundle/run.sh           on the GPU machine: GPU tests must run (-Dwrpn.requireGpu=true)
#   bash bundle/run.sh --local   anywhere: the same bundle, GPU tests skip, no benchmark
# Writes report.md, tests.txt, info.json, nvidia-smi.txt, classes.log.gz and, on a GPU, bench.txt,
# pack-bandwidth.csv and gpu-bench.tar.gz (`wrpn bench --device cuda` and the PyTorch peer: CSV, JSON,
# logs) under $OUT (else bundle/out): 8 files, the device tool's limit.
# Each step has its own time limit so that the whole run stays well inside 6 minutes; the bench
# steps shrink theirs to what is left of DEADLINE seconds and are skipped when too little is.
set -uo pipefail
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODE=gpu
[[ "${1:-}" == "--local" ]] && MODE=local
OUT="${OUT:-$B/out}"
mkdir -p "$OUT"
START=$(date +%s)
JAVA="$B/jre/bin/java"
CP="$B/lib/*"
# The JUnit launcher's --class-path does not expand "*": list the jars.
TEST_CP="$B/test-classes$(printf ':%s' "$B"/lib/*.jar)"
# The bundle has log4j-api without log4j-core (core needs java.desktop): its simple logger prints to stderr.
JOPTS=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  -Dlog4j2.provider=org.apache.logging.log4j.simple.internal.SimpleProvider
  -Dorg.apache.logging.log4j.simplelog.StatusLogger.level=OFF
  -Djava.io.tmpdir="${TMPDIR:-/tmp}")
REQUIRE=false
[[ $MODE == gpu ]] && REQUIRE=true

step() { echo; echo "=== $* ($(( $(date +%s) - START )) s)"; }

step "machine"
echo "bundle: $(cat "$B/COMMIT" 2>/dev/null || echo unknown commit); mode: $MODE; host: $(hostname)"
if command -v nvidia-smi >/dev/null 2>&1; then
  timeout 30 nvidia-smi 2>&1 | tee "$OUT/nvidia-smi.txt"
  GPU_LINE="$(timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1)"
else
  echo "nvidia-smi: not found" | tee "$OUT/nvidia-smi.txt"
  GPU_LINE="none"
  if [[ $MODE == gpu ]]; then echo "no nvidia-smi: is this the GPU machine? (use --local elsewhere)"; fi
fi
"$JAVA" -version 2>&1 | head -1

step "wrpn info"
timeout 60 "$JAVA" "${JOPTS[@]}" -cp "$CP" org.wrpn.cli.Main info --json >"$OUT/info.json"
INFO_RC=$?
cat "$OUT/info.json"

step "GPU tests (requireGpu=$REQUIRE)"
# -Xlog records every class loaded, to show that the GPU path needs no ND4J/JavaCPP class.
timeout 240 "$JAVA" "${JOPTS[@]}" -Dwrpn.requireGpu=$REQUIRE -Dwrpn.cuda.syncLaunches=true \
  -Xlog:class+load=info:file="$OUT/classes.log" \
  -jar "$B/lib-test/junit-platform-console-standalone.jar" execute \
  --class-path "$TEST_CP" \
  --select-class org.wrpn.backend.cuda.CudaKernelsGpuTest \
  --select-class org.wrpn.backend.cuda.DeviceAllocatorTest \
  --select-class org.wrpn.backend.cuda.KernelArithmeticTest \
  --select-class org.wrpn.backend.cuda.CudaSelectionTest \
  --select-class org.wrpn.backend.cuda.CudaLayersGpuTest \
  --select-class org.wrpn.backend.cuda.CudaTrainingStepGpuTest \
  --details=tree --disable-banner --disable-ansi-colors --fail-if-no-tests 2>&1 | tee "$OUT/tests.txt"
TEST_RC=${PIPESTATUS[0]}
ND4J_LOADED=$(grep -cE " (org\.nd4j|org\.bytedeco)\." "$OUT/classes.log" 2>/dev/null || true)
echo "ND4J/JavaCPP classes loaded: ${ND4J_LOADED:-0}"
gzip -f "$OUT/classes.log" 2>/dev/null || true

# ---- BEGIN GPU training check (CUDA backend part 2, issue 5; backend/cuda owns this block) ----------
# lenet width 2 w4a4, one epoch on the bundled slice, against the CPU run; resnet20 width 2 w2a2 step
# time and peak memory against the planner (train-check.sh). Its section goes into report.md.
step "GPU training check (train-check.sh $MODE)"
TRAIN_MD="${TMPDIR:-/tmp}/wrpn-train-check.md"
rm -f "$TRAIN_MD"
timeout 260 bash "$B/train-check.sh" "$MODE" "$TRAIN_MD"
TRAIN_RC=$?
# ---- END GPU training check ------------------------------------------------------------------------

BENCH_RC=skipped
if [[ $MODE == gpu ]]; then
  step "pack/unpack bandwidth vs device-to-device copy"
  timeout 150 "$JAVA" "${JOPTS[@]}" -Xmx8g -cp "$CP" org.wrpn.backend.cuda.PackBenchmark --out "$OUT" 2>&1 | tee "$OUT/bench.txt"
  BENCH_RC=${PIPESTATUS[0]}
fi

# wrpn bench (kernels at the layer shapes of lenet/resnet20, train rows: planned until CUDA can
# train) and the PyTorch peer beside it, with the ratios. Their files travel as one archive.
DEADLINE=340
left() { echo $(( DEADLINE - ($(date +%s) - START) )); }
WB="$OUT/gpu-bench"
WRPN_BENCH_RC=skipped
PEER_RC=skipped
BENCH_ND4J=0
export WRPN_COMMIT="$(cut -d' ' -f1 "$B/COMMIT" 2>/dev/null || echo unknown)"
if [[ $MODE == gpu ]]; then
  mkdir -p "$WB"
  step "wrpn bench all --device cuda"
  # At most 100 s, leaving 60 for the peer; configurations past --time-budget get planned rows only.
  t=$(( $(left) - 60 )); (( t > 100 )) && t=100
  if (( t >= 30 )); then
    timeout $t "$JAVA" "${JOPTS[@]}" -Xmx8g -Xlog:class+load=info:file="$WB/bench-classes.log" -cp "$CP" \
      org.wrpn.cli.Main bench all --device cuda --widths 1,2 --out "$WB" --no-progress --time-budget $(( t - 20 )) 2>&1 \
      | tee "$WB/wrpn-bench.txt"
    WRPN_BENCH_RC=${PIPESTATUS[0]}
    BENCH_ND4J=$(grep -cE " (org\.nd4j|org\.bytedeco)\." "$WB/bench-classes.log" 2>/dev/null || true)
    gzip -f "$WB/bench-classes.log" 2>/dev/null || true
  else
    echo "skipped: $t s left" | tee "$WB/wrpn-bench.txt"
  fi
  step "PyTorch peer (benchmarks/peers/pytorch_wrpn.py)"
  t=$(left); (( t > 120 )) && t=120
  if (( t >= 40 )) && command -v python3 >/dev/null; then
    peer_args=(--device cuda --out "$WB" --time-budget $(( t - 30 )))
    [[ -f "$WB/kernels-cuda.json" ]] && peer_args+=(--wrpn-kernels "$WB/kernels-cuda.json")
    [[ -f "$WB/train-cuda.json" ]] && peer_args+=(--wrpn-train "$WB/train-cuda.json")
    PYTHONUNBUFFERED=1 timeout $t python3 "$B/peers/pytorch_wrpn.py" "${peer_args[@]}" 2>&1 | tee "$WB/pytorch.txt"
    PEER_RC=${PIPESTATUS[0]}
  else
    echo "skipped: $t s left or no python3" | tee "$WB/pytorch.txt"
  fi
  tar czf "$OUT/gpu-bench.tar.gz" -C "$OUT" gpu-bench && rm -rf "$WB"
else
  # Here: the bench CLI loads from the bundle without ND4J and refuses a missing GPU cleanly.
  step "wrpn bench --device cuda without a GPU (must refuse, exit 2)"
  "$JAVA" "${JOPTS[@]}" -cp "$CP" org.wrpn.cli.Main bench kernels --device cuda --out "${TMPDIR:-/tmp}/wrpn-bench-local" \
    --no-progress >/dev/null 2>"$OUT/bench-local.txt"
  rc=$?
  cat "$OUT/bench-local.txt"
  if [[ $rc -eq 2 ]] && grep -q "not available" "$OUT/bench-local.txt"; then WRPN_BENCH_RC=0; else WRPN_BENCH_RC=$rc; fi
  rm -f "$OUT/bench-local.txt"
  if command -v python3 >/dev/null; then
    python3 -m py_compile "$B/peers/pytorch_wrpn.py" && PEER_RC=0 || PEER_RC=1
    echo "pytorch_wrpn.py compiles: exit $PEER_RC"
  fi
fi

step "report"
summary="$(grep -E "(tests|containers) (successful|failed|skipped|aborted|found)" "$OUT/tests.txt" | sed 's/^[[:space:]│└├─]*//' | tr -s ' ')"
{
  echo "# wrpn GPU check ($MODE)"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- bundle: $(cat "$B/COMMIT" 2>/dev/null || echo unknown)"
  echo "- GPU (name, driver, memory, max SM clock): $GPU_LINE"
  echo "- wrpn info exit $INFO_RC: \`$(tr -d '\n' <"$OUT/info.json" | cut -c1-400)\`"
  echo "- tests exit $TEST_RC (requireGpu=$REQUIRE); ND4J/JavaCPP classes loaded: ${ND4J_LOADED:-0}"
  echo
  echo '```'
  echo "$summary"
  grep -E "✘|MethodSource|=> " "$OUT/tests.txt" | head -40
  echo '```'
  if [[ -f "$OUT/pack-bandwidth.csv" ]]; then
    echo
    echo "## Bandwidth (bench exit $BENCH_RC; GB/s = bytes read + written / median time; % of a D2D copy of the input)"
    echo
    echo '```'
    sed -n '/^op /,$p' "$OUT/bench.txt"
    echo '```'
  fi
  echo
  echo "## wrpn bench --device cuda (exit $WRPN_BENCH_RC; ND4J/JavaCPP classes loaded: $BENCH_ND4J) and PyTorch peer (exit $PEER_RC)"
  echo
  if [[ -f "$OUT/gpu-bench.tar.gz" ]]; then
    echo "files: gpu-bench.tar.gz ($(tar tzf "$OUT/gpu-bench.tar.gz" | grep -v '/$' | sed 's:^gpu-bench/::' | tr '\n' ' '))"
    echo
    echo '```'
    tar xzf "$OUT/gpu-bench.tar.gz" -O gpu-bench/wrpn-bench.txt 2>/dev/null | grep -vE '^(wrote|no plots)' | head -150
    echo '```'
    tar xzf "$OUT/gpu-bench.tar.gz" -O gpu-bench/pytorch-cuda.md 2>/dev/null
  fi
  echo
  [[ -f "$TRAIN_MD" ]] && cat "$TRAIN_MD"  # GPU training check (CUDA backend part 2)
  echo
  echo "total: $(( $(date +%s) - START )) s"
} >"$OUT/report.md"
cat "$OUT/report.md"

rc=0
[[ $INFO_RC -eq 0 ]] || rc=1
[[ $TEST_RC -eq 0 ]] || rc=1
[[ $TRAIN_RC -eq 0 ]] || rc=1  # GPU training check (CUDA backend part 2)
[[ "${ND4J_LOADED:-0}" == 0 ]] || rc=1
[[ $BENCH_RC == skipped || $BENCH_RC -eq 0 ]] || rc=1
[[ $WRPN_BENCH_RC == skipped || $WRPN_BENCH_RC -eq 0 ]] || rc=1
[[ $PEER_RC == skipped || $PEER_RC -eq 0 ]] || rc=1
[[ "${BENCH_ND4J:-0}" == 0 ]] || rc=1
echo "run.sh: exit $rc after $(( $(date +%s) - START )) s"
exit $rc
