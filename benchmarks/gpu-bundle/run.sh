#!/usr/bin/env bash
# The one-call GPU check, run from the bundle that benchmarks/device-check.sh builds. Needs nothing
# on the machine but an NVIDIA driver: the bundle carries the Java runtime, jars, PTX and tests.
#   bash bundle/run.sh           on the GPU machine: GPU tests must run (-Dwrpn.requireGpu=true)
#   bash bundle/run.sh --local   anywhere: the same bundle, GPU tests skip, no benchmark
# Writes report.md, tests.txt, info.json, nvidia-smi.txt, classes.log.gz and, on a GPU, bench.txt and
# pack-bandwidth.csv under $OUT (else bundle/out): 7 files, inside the device tool's 8.
# Each step has its own time limit so that the whole run stays well inside 6 minutes.
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
  --details=tree --disable-banner --disable-ansi-colors --fail-if-no-tests 2>&1 | tee "$OUT/tests.txt"
TEST_RC=${PIPESTATUS[0]}
ND4J_LOADED=$(grep -cE " (org\.nd4j|org\.bytedeco)\." "$OUT/classes.log" 2>/dev/null || true)
echo "ND4J/JavaCPP classes loaded: ${ND4J_LOADED:-0}"
gzip -f "$OUT/classes.log" 2>/dev/null || true

BENCH_RC=skipped
if [[ $MODE == gpu ]]; then
  step "pack/unpack bandwidth vs device-to-device copy"
  timeout 150 "$JAVA" "${JOPTS[@]}" -Xmx8g -cp "$CP" org.wrpn.backend.cuda.PackBenchmark --out "$OUT" 2>&1 | tee "$OUT/bench.txt"
  BENCH_RC=${PIPESTATUS[0]}
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
  echo "total: $(( $(date +%s) - START )) s"
} >"$OUT/report.md"
cat "$OUT/report.md"

rc=0
[[ $INFO_RC -eq 0 ]] || rc=1
[[ $TEST_RC -eq 0 ]] || rc=1
[[ "${ND4J_LOADED:-0}" == 0 ]] || rc=1
[[ $BENCH_RC == skipped || $BENCH_RC -eq 0 ]] || rc=1
echo "run.sh: exit $rc after $(( $(date +%s) - START )) s"
exit $rc
