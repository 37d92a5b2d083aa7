#!/usr/bin/env bash
# The one-call GPU check, run from the bundle that benchmarks/device-check.sh builds. Needs nothing on
# the machine but an NVIDIA driver: the bundle carries the Java runtime, jars, PTX, tests and data.
#   bash bundle/run.sh             GPU machine: the full check (default deadline 300 s)
#   bash bundle/run.sh --quick     GPU machine, a lease nearly spent: GPU tests, pack/unpack bandwidth and
#                                  one training step beside the planner (default deadline 150 s)
#   bash bundle/run.sh --local     anywhere: the same bundle, GPU tests skip, no benchmark
#   bash bundle/run.sh --verify    only check that every part of the bundle is there (exit 3 if not)
#   [--deadline SECONDS]           the whole run's deadline (else DEADLINE, else the defaults above)
# Device tool calls (device-check.sh prints them): timeout_s = deadline + 30.
#   run(command="bash bundle/run.sh", carry=["bundle"], timeout_s=330)           full: 300 s + a ~90 s start = 7 min
#   run(command="bash bundle/run.sh --quick", carry=["bundle"], timeout_s=180)   quick: 150 s
#
# Time: ONE deadline. Each step's limit is derived from what is left of it: at most the step's cap,
# and never so much that the steps after it lose their minimum (plus REPORT_MARGIN for the report);
# a step whose minimum no longer fits is skipped and says so. A step that reaches its limit is
# killed with all its processes (timeout -k), so run.sh ends by deadline + a few seconds whatever
# hangs. report.md is written step by step and completed by an EXIT/TERM trap; a status line is
# printed after every step and the summary table last, inside the deadline, so that even a killed
# call returns it in its output tail and its files.
#
# Output under $OUT (else bundle/out), 8 files (the device tool's limit): report.md, tests.txt,
# info.json, nvidia-smi.txt, classes.log.gz, and on a GPU bench.txt, pack-bandwidth.csv,
# gpu-bench.tar.gz (`wrpn bench --device cuda`, the PyTorch peer and the compute-sanitizer logs). Exit 0 only if every step that
# ran passed and none was skipped or killed; 3 when the bundle is incomplete.
# WRPN_CHECK_TIME_SCALE (tests only) multiplies every time; WRPN_CHECK_SIMULATE=1 replaces each step
# by a sleep past its cap (DeviceCheckBudgetTest: the deadline holds, the report completes).
set -uo pipefail
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---- the time budget: step, minimum s, cap s, in order (times at WRPN_CHECK_TIME_SCALE=1) ---------------
# Minimums are what a step needs to be worth starting on an H200; caps what it may take at most.
# Estimates from the emulated driver (benchmarks/README.md "Time budget"): JVM start ~1 s, the JIT of
# the 10 PTX modules ~5 s, the rest host work.
FULL_STEPS="machine 5 20
info 5 30
tests 40 120
train 40 90
pack 20 45
bench 30 80
peer 30 60
sanitize 30 150"
QUICK_STEPS="machine 5 15
info 5 20
tests 40 90
step 15 30
pack 15 30"
REPORT_MARGIN=10
KILL_GRACE=3  # a step reaching its limit gets SIGTERM this long before its slot ends, then SIGKILL
DEFAULT_DEADLINE=300
QUICK_DEADLINE=150
# The GPU test classes (the bundle's test-classes must hold each).
TEST_CLASSES=(org.wrpn.backend.cuda.CudaKernelsGpuTest org.wrpn.backend.cuda.DeviceAllocatorTest
  org.wrpn.backend.cuda.KernelArithmeticTest org.wrpn.backend.cuda.CudaSelectionTest
  org.wrpn.backend.cuda.CudaLayersGpuTest org.wrpn.backend.cuda.CudaTrainingStepGpuTest
  org.wrpn.backend.cuda.CudaDriverContractGpuTest org.wrpn.backend.cuda.NcclGpuTest)
# Run again under compute-sanitizer (memcheck, then racecheck: shared-memory hazards of the tiled kernels).
SANITIZE_CLASSES=(org.wrpn.backend.cuda.CudaKernelsGpuTest org.wrpn.backend.cuda.CudaLayersGpuTest
  org.wrpn.backend.cuda.CudaTrainingStepGpuTest)
RACECHECK_CLASSES=(org.wrpn.backend.cuda.CudaLayersGpuTest)
STEP_ARGS=(--model resnet20 --width 2 --wbits 2 --abits 2 --batch 128 --input 3x32x32)

MODE=gpu
QUICK=0
VERIFY=0
STEP=""
DEADLINE="${DEADLINE:-}"
while (( $# > 0 )); do
  case "$1" in
    --local) MODE=local ;;
    --quick) QUICK=1 ;;
    --verify) VERIFY=1 ;;
    --deadline) DEADLINE="$2"; shift ;;
    --step) STEP="$2"; shift ;;  # internal: run one step's body (in its own process group)
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
SCALE="${WRPN_CHECK_TIME_SCALE:-1}"
scaled() { awk -v v="$1" -v s="$SCALE" 'BEGIN { x = v * s; printf "%d", (x < 1 ? 1 : x + 0.5) }'; }
if [[ -z "$DEADLINE" ]]; then
  if (( QUICK )); then DEADLINE=$(scaled $QUICK_DEADLINE); else DEADLINE=$(scaled $DEFAULT_DEADLINE); fi
fi
STEPS="$FULL_STEPS"
(( QUICK )) && STEPS="$QUICK_STEPS"
OUT="${OUT:-$B/out}"
W="${RUN_WORK:-${TMPDIR:-/tmp}/wrpn-device-check}"  # per-step status and sections
JAVA="$B/jre/bin/java"
CP="$B/lib/*"
# The JUnit launcher's --class-path does not expand "*": list the jars.
TEST_CP="$B/test-classes$(printf ':%s' "$B"/lib/*.jar)"
# log4j-api without log4j-core (core needs java.desktop): its simple logger prints to stderr.
JOPTS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  -Dlog4j2.provider=org.apache.logging.log4j.simple.internal.SimpleProvider
  -Dorg.apache.logging.log4j.simplelog.StatusLogger.level=OFF
  -Djava.io.tmpdir="${TMPDIR:-/tmp}")
REQUIRE=false
[[ $MODE == gpu ]] && REQUIRE=true

# ---- the bundle must be complete ------------------------------------------------------------------------
missing_parts() {
  local line cls
  if [[ ! -f "$B/MANIFEST" ]]; then echo "MANIFEST"; return; fi
  while read -r line; do
    line="${line%%#*}"
    line="${line//[[:space:]]/}"
    [[ -z "$line" ]] && continue
    compgen -G "$B/$line" >/dev/null || echo "$line"
  done <"$B/MANIFEST"
  for cls in "${TEST_CLASSES[@]}"; do
    [[ -f "$B/test-classes/${cls//.//}.class" ]] || echo "test-classes/${cls//.//}.class"
  done
}

# ---- step bodies (each runs as `run.sh --step NAME` under timeout, in its own process group) -----------
step_machine() {
  local gpu="none"
  echo "bundle: $(cat "$B/COMMIT" 2>/dev/null); mode: $MODE; host: $(hostname)"
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi 2>&1 | tee "$OUT/nvidia-smi.txt"
    gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1)"
  else
    echo "nvidia-smi: not found" | tee "$OUT/nvidia-smi.txt"
    [[ $MODE == gpu ]] && echo "no nvidia-smi: is this the GPU machine? (use --local elsewhere)"
  fi
  echo "- GPU (name, driver, memory, max SM clock): $gpu" >"$W/machine.md"
  echo "- host: $(hostname), $(nproc) cores; Java: $("$JAVA" -version 2>&1 | head -1)" >>"$W/machine.md"
  cat "$W/machine.md"
}

step_info() {
  "$JAVA" "${JOPTS[@]}" -cp "$CP" org.wrpn.cli.Main info --json >"$OUT/info.json"
  local rc=$?
  cat "$OUT/info.json"
  return $rc
}

# libnccl.so.2 for NcclGpuTest (one-rank NCCL through the backend's stream): the dynamic loader's, else PyTorch's wheel's.
find_nccl() {
  [[ -n "${WRPN_NCCL_LIBRARY:-}" ]] && return 0
  ldconfig -p 2>/dev/null | grep -q 'libnccl.so.2 ' && return 0
  local lib
  lib="$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null)"
  [[ -f "$lib" ]] || lib="$(find / -xdev -name libnccl.so.2 -path '*nccl*' 2>/dev/null | head -1)"
  [[ -f "$lib" ]] && export WRPN_NCCL_LIBRARY="$lib" && echo "NCCL: $lib"
  return 0
}

step_tests() {
  local args=() c rc
  [[ $MODE == gpu ]] && find_nccl
  for c in "${TEST_CLASSES[@]}"; do args+=(--select-class "$c"); done
  # -Xlog records every class loaded, to show that the GPU path needs no JavaCPP class (org.bytedeco).
  "$JAVA" "${JOPTS[@]}" -Dwrpn.requireGpu=$REQUIRE -Dwrpn.cuda.syncLaunches=true -Dwrpn.poisonUninitialized=true \
    -Xlog:class+load=info:file="$OUT/classes.log" \
    -jar "$B/lib-test/junit-platform-console-standalone.jar" execute --class-path "$TEST_CP" "${args[@]}" \
    --details=tree --disable-banner --disable-ansi-colors --fail-if-no-tests 2>&1 | tee "$OUT/tests.txt"
  rc=${PIPESTATUS[0]}
  local javacpp
  javacpp=$(grep -cE " org\.bytedeco\." "$OUT/classes.log" 2>/dev/null || true)
  echo "JavaCPP classes loaded: ${javacpp:-0}"
  gzip -f "$OUT/classes.log" 2>/dev/null || true
  {
    echo '```'
    grep -E "(tests|containers) (successful|failed|skipped|aborted|found)" "$OUT/tests.txt" | sed 's/^[[:space:]│└├─]*//' | tr -s ' '
    grep -E "✘|MethodSource|=> " "$OUT/tests.txt" | head -40
    echo '```'
    echo "JavaCPP classes loaded: ${javacpp:-0}"
  } >"$W/tests.md"
  [[ "${javacpp:-0}" == 0 ]] || return 1
  return $rc
}

# One sanitizer tool over some GPU test classes: tool, seconds, classes. Its log goes into the bench tarball.
sanitize_with() {
  local tool="$1" secs="$2" args=() c rc log="$OUT/gpu-bench/sanitizer-$1.txt"
  shift 2
  for c in "$@"; do args+=(--select-class "$c"); done
  timeout -k 2 "$secs" "$SANITIZER" --tool "$tool" --error-exitcode 9 --print-limit 20 \
    "$JAVA" "${JOPTS[@]}" -Dwrpn.requireGpu=true -Dwrpn.cuda.syncLaunches=true \
    -jar "$B/lib-test/junit-platform-console-standalone.jar" execute --class-path "$TEST_CP" "${args[@]}" \
    --details=summary --disable-banner --disable-ansi-colors --fail-if-no-tests >"$log" 2>&1
  rc=$?
  {
    echo "### $tool ($*): exit $rc$( ((rc == 124 || rc == 137)) && echo ", stopped at its $secs s share")"
    echo '```'
    grep -E "ERROR SUMMARY|=========.*(Invalid|Race|Hazard|error|Error)|tests (successful|failed)" "$log" | sort | uniq -c | head -25
    echo '```'
  } >>"$W/sanitize.md"
  return $rc
}

step_sanitize() {
  SANITIZER="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer 2>/dev/null | head -1)"
  if [[ $MODE != gpu || -z "$SANITIZER" ]]; then echo "skipped: no GPU or no compute-sanitizer here" | tee "$W/sanitize.md"; return 0; fi
  mkdir -p "$OUT/gpu-bench"
  local half=$(( LIMIT / 2 )) m r
  sanitize_with memcheck "$half" "${SANITIZE_CLASSES[@]}"; m=$?
  sanitize_with racecheck $(( LIMIT - half - 3 )) "${RACECHECK_CLASSES[@]}"; r=$?
  cat "$W/sanitize.md"
  (( m == 0 && r == 0 ))
}

step_train() {
  bash "$B/train-check.sh" "$MODE" "$W/train.md" "$LIMIT"
}

step_step() {
  bash "$B/train-check.sh" "$MODE" "$W/step.md" "$LIMIT" --step-only
}

step_pack() {
  if [[ $MODE != gpu ]]; then echo "skipped: no GPU here" | tee "$W/pack.md"; return 0; fi
  local rc
  "$JAVA" "${JOPTS[@]}" -Xmx8g -cp "$CP" org.wrpn.backend.cuda.PackBenchmark --out "$OUT" 2>&1 | tee "$OUT/bench.txt"
  rc=${PIPESTATUS[0]}
  { echo '```'; sed -n '/^op /,$p' "$OUT/bench.txt"; echo '```'; } >"$W/pack.md"
  return $rc
}

step_bench() {
  local WB="$OUT/gpu-bench" rc
  if [[ $MODE != gpu ]]; then
    # Here: the bench CLI loads from the bundle without JavaCPP and refuses a missing GPU cleanly.
    "$JAVA" "${JOPTS[@]}" -cp "$CP" org.wrpn.cli.Main bench kernels --device cuda --out "${TMPDIR:-/tmp}/wrpn-bench-local" \
      --no-progress >/dev/null 2>"$W/bench-local.txt"
    rc=$?
    cat "$W/bench-local.txt"
    if [[ $rc -eq 2 ]] && grep -q "not available" "$W/bench-local.txt"; then
      echo "refused --device cuda with exit 2, as it must without a GPU" | tee "$W/bench.md"
      return 0
    fi
    echo "expected exit 2 and 'not available', got exit $rc" | tee "$W/bench.md"
    return 1
  fi
  mkdir -p "$WB"
  # its own --time-budget stops starting configurations in time to write its files
  "$JAVA" "${JOPTS[@]}" -Xmx8g -Xlog:class+load=info:file="$WB/bench-classes.log" -cp "$CP" \
    org.wrpn.cli.Main bench all --device cuda --widths 1,2 --out "$WB" --no-progress \
    --time-budget $(( LIMIT > 25 ? LIMIT - 15 : LIMIT / 2 + 1 )) 2>&1 | tee "$WB/wrpn-bench.txt"
  rc=${PIPESTATUS[0]}
  local javacpp
  javacpp=$(grep -cE " org\.bytedeco\." "$WB/bench-classes.log" 2>/dev/null || true)
  gzip -f "$WB/bench-classes.log" 2>/dev/null || true
  { echo "JavaCPP classes loaded: ${javacpp:-0}"; echo '```';
    grep -vE '^(wrote|no plots)' "$WB/wrpn-bench.txt" | head -150; echo '```'; } >"$W/bench.md"
  [[ "${javacpp:-0}" == 0 ]] || return 1
  return $rc
}

step_peer() {
  local WB="$OUT/gpu-bench" rc
  if ! command -v python3 >/dev/null; then echo "skipped: no python3" | tee "$W/peer.md"; return 0; fi
  if [[ $MODE != gpu ]]; then
    python3 -m py_compile "$B/peers/pytorch_wrpn.py"
    rc=$?
    echo "pytorch_wrpn.py compiles: exit $rc" | tee "$W/peer.md"
    return $rc
  fi
  mkdir -p "$WB"
  local args=(--device cuda --out "$WB" --time-budget $(( LIMIT > 25 ? LIMIT - 15 : LIMIT / 2 + 1 )))
  [[ -f "$WB/kernels-cuda.json" ]] && args+=(--wrpn-kernels "$WB/kernels-cuda.json")
  [[ -f "$WB/train-cuda.json" ]] && args+=(--wrpn-train "$WB/train-cuda.json")
  PYTHONUNBUFFERED=1 python3 "$B/peers/pytorch_wrpn.py" "${args[@]}" 2>&1 | tee "$WB/pytorch.txt"
  rc=${PIPESTATUS[0]}
  cat "$WB/pytorch-cuda.md" >"$W/peer.md" 2>/dev/null || echo "(no pytorch-cuda.md)" >"$W/peer.md"
  return $rc
}

if [[ -n "$STEP" ]]; then
  if [[ -n "${WRPN_CHECK_SIMULATE:-}" ]]; then
    echo "simulated step $STEP: sleeping past its limit"
    sleep $(( LIMIT * 3 + 5 ))
    exit 0
  fi
  "step_$STEP"
  exit $?
fi

# ---- the driver ---------------------------------------------------------------------------------------
mkdir -p "$OUT"
if (( VERIFY )); then
  miss="$(missing_parts)"
  [[ -z "$miss" ]] && { echo "run.sh: the bundle is complete"; exit 0; }
  echo "run.sh: the bundle is incomplete, missing:"; echo "$miss" | sed 's/^/  /'
  exit 3
fi
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
REPORT="$OUT/report.md"
rm -rf "$W"
mkdir -p "$W"
names=()
declare -A MIN CAP STATUS SECS LIMITS
while read -r n mn cp; do
  names+=("$n")
  MIN[$n]=$(scaled "$mn")
  CAP[$n]=$(scaled "$cp")
done <<<"$STEPS"
MARGIN=$(scaled $REPORT_MARGIN)
GRACE=$(scaled $KILL_GRACE)
KIND="full"
(( QUICK )) && KIND="quick"

{
  echo "# wrpn GPU check ($MODE, $KIND)"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- bundle: $(cat "$B/COMMIT" 2>/dev/null || echo unknown)"
  echo "- deadline: $DEADLINE s for the whole run; steps: $(for n in "${names[@]}"; do printf '%s (%s..%s s) ' "$n" "${MIN[$n]}" "${CAP[$n]}"; done)"
  echo
} >"$REPORT"

summary_table() {
  echo "| step | status | seconds | limit |"
  echo "|---|---|---|---|"
  local n
  for n in "${names[@]}"; do echo "| $n | ${STATUS[$n]:-not reached} | ${SECS[$n]:--} | ${LIMITS[$n]:--} |"; done
}

finished=0
finish() {
  (( finished )) && return
  finished=1
  local verdict="PASS" n
  for n in "${names[@]}"; do [[ "${STATUS[$n]:-not reached}" == passed ]] || verdict="FAIL"; done
  {
    echo
    echo "## Summary: $verdict after $(elapsed) s of a $DEADLINE s deadline"
    echo
    summary_table
  } >>"$REPORT"
  echo
  echo "=== summary ($MODE, $KIND): $verdict after $(elapsed) s of $DEADLINE s"
  summary_table
  echo "report: $REPORT"
}
STEP_PID=""
on_signal() {
  [[ -n "$STEP_PID" ]] && kill -TERM "$STEP_PID" 2>/dev/null
  for n in "${names[@]}"; do [[ -n "${STATUS[$n]:-}" ]] || STATUS[$n]="not finished: run.sh was stopped"; done
  finish
  exit 143
}
trap on_signal TERM INT
trap finish EXIT

miss="$(missing_parts)"
if [[ -n "$miss" ]]; then
  for n in "${names[@]}"; do STATUS[$n]="not run: bundle incomplete"; done
  { echo "## Bundle incomplete: refused at once"; echo; echo "Missing:"; echo "$miss" | sed 's/^/- /'; } >>"$REPORT"
  echo "run.sh: the bundle is incomplete (rebuild it with benchmarks/device-check.sh); missing:"
  echo "$miss" | sed 's/^/  /'
  exit 3
fi

rc_all=0
for i in "${!names[@]}"; do
  n="${names[$i]}"
  reserve=$MARGIN
  for j in "${!names[@]}"; do (( j > i )) && reserve=$(( reserve + ${MIN[${names[$j]}]} )); done
  left=$(( DEADLINE - $(elapsed) ))
  limit=$(( left - reserve ))
  (( limit > ${CAP[$n]} )) && limit=${CAP[$n]}
  echo
  echo "=== $n: limit $limit s ($(elapsed) s elapsed, $left s left, $reserve s kept for the rest)"
  if (( limit < ${MIN[$n]} )); then
    STATUS[$n]="skipped: $left s left, needs ${MIN[$n]} s + $reserve s for the rest"
    LIMITS[$n]="-"
    rc_all=1
  else
    LIMITS[$n]=$limit
    t0=$(date +%s)
    run_for=$(( limit > 2 * GRACE ? limit - GRACE : limit ))
    LIMIT=$run_for timeout -k "$GRACE" "$run_for" bash "$B/run.sh" --step "$n" \
      $( [[ $MODE == local ]] && echo --local ) $( (( QUICK )) && echo --quick ) >"$W/$n.log" 2>&1 &
    STEP_PID=$!
    wait "$STEP_PID"
    rc=$?
    STEP_PID=""
    SECS[$n]=$(( $(date +%s) - t0 ))
    tail -c 20000 "$W/$n.log"
    case $rc in
      0) STATUS[$n]="passed" ;;
      124|137) STATUS[$n]="killed at its $run_for s limit"; rc_all=1 ;;
      *) STATUS[$n]="failed (exit $rc)"; rc_all=1 ;;
    esac
  fi
  {
    echo "## $n: ${STATUS[$n]}${SECS[$n]:+ after ${SECS[$n]} s}"
    echo
    if [[ -s "$W/$n.md" ]]; then
      cat "$W/$n.md"
    elif [[ -f "$W/$n.log" && "${STATUS[$n]}" != passed ]]; then
      echo '```'; tail -25 "$W/$n.log"; echo '```'
    fi
    echo
  } >>"$REPORT"
  echo "[$n] ${STATUS[$n]} ($(elapsed) s elapsed)"
done
if [[ -d "$OUT/gpu-bench" ]]; then tar czf "$OUT/gpu-bench.tar.gz" -C "$OUT" gpu-bench && rm -rf "$OUT/gpu-bench"; fi
exit $rc_all
