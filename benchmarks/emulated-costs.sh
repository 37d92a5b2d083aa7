#!/usr/bin/env bash
# Measures what the quick device check's steps cost on the emulated driver, the basis of the time
# estimates in benchmarks/README.md ("Time budget"). Run after `benchmarks/device-check.sh --emulated`
# (it uses bundle/ and the driver that built in BUILD_DIR/device-check-emulated). Per step: wall time,
# the time spent in emulated kernels and copies, the host time left (wall - kernels: JVM start, class
# loading, module loading, Java work), launches, blocks and bytes copied (FAKE_CUDA_STATS). The pack
# and step measurements use smaller sizes than the bundle (the emulator runs kernels a million times
# slower than an H200); launches do not depend on the size.
#   benchmarks/emulated-costs.sh
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/target}"
B="$ROOT/bundle"
DRIVER="$BUILD_DIR/device-check-emulated/driver"
[[ -f "$DRIVER/libcuda.so.1" && -x "$B/jre/bin/java" ]] || { echo "run benchmarks/device-check.sh --emulated first" >&2; exit 2; }
JOPTS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  -Dlog4j2.provider=org.apache.logging.log4j.simple.internal.SimpleProvider
  -Dorg.apache.logging.log4j.simplelog.StatusLogger.level=OFF)
TEST_CP="$B/test-classes$(printf ':%s' "$B"/lib/*.jar)"
classes=()
while read -r c; do classes+=(--select-class "$c"); done < <(sed -n '/^TEST_CLASSES=(/,/)/p' "$B/run.sh" | tr -d '()' | sed 's/TEST_CLASSES=//' | tr ' ' '\n' | grep -v '^$')
measure() {
  local name=$1; shift
  local t0 t1 log="${TMPDIR:-/tmp}/wrpn-cost-$name.log"
  t0=$(date +%s.%N)
  LD_LIBRARY_PATH="$DRIVER" FAKE_CUDA_STATS=1 "$@" >"$log" 2>&1
  local rc=$?
  t1=$(date +%s.%N)
  local stats
  stats="$(grep "fake libcuda: .* launches" "$log" | tail -1)"
  awk -v n="$name" -v w="$(echo "$t1 - $t0" | bc)" -v s="$stats" -v rc=$rc 'BEGIN {
    split(s, f, " "); k = 0; for (i = 1; i <= length(f); i++) if (f[i] == "ms") k = f[i - 1]
    printf "%-6s exit %d  wall %6.1f s  kernels %6.1f s  host %5.1f s  | %s\n", n, rc, w, k / 1000, w - k / 1000, s }'
}
measure tests "$B/jre/bin/java" "${JOPTS[@]}" -Dwrpn.requireGpu=true -jar "$B/lib-test/junit-platform-console-standalone.jar" \
  execute --class-path "$TEST_CP" "${classes[@]}" --disable-banner --disable-ansi-colors --details=summary
measure step "$B/jre/bin/java" "${JOPTS[@]}" -cp "$TEST_CP" org.wrpn.backend.cuda.GpuStepCheck --model resnet20 --width 1 \
  --wbits 2 --abits 2 --batch 2 --input 3x16x16 --steps 3
measure pack "$B/jre/bin/java" "${JOPTS[@]}" -cp "$B/lib/*" org.wrpn.backend.cuda.PackBenchmark --out "${TMPDIR:-/tmp}" \
  --sizes-mib 1 --reps 20
measure info "$B/jre/bin/java" "${JOPTS[@]}" -cp "$B/lib/*" org.wrpn.cli.Main info --json
