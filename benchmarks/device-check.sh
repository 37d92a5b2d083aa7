#!/usr/bin/env bash
# Builds, on a machine without a GPU, the bundle a bare GPU machine needs for the one-call GPU check
# (no Java and no network there), then prints the device tool calls that run it.
#   benchmarks/device-check.sh             build bundle/ (git-ignored) and print the calls
#   benchmarks/device-check.sh --local     build it and run it here (GPU tests skip): CI tests the bundle
#   benchmarks/device-check.sh --emulated  build it, build the emulated driver (native/emu/fake_cuda.cpp)
#                                          from its PTX and run the bundle in GPU mode on it, every time
#                                          scaled by EMU_SCALE (default 0.3: a 90 s deadline), far less than
#                                          the emulated steps need: steps get killed by the deadline, and
#                                          the report must still be complete (CI runs --local --emulated)
#   benchmarks/device-check.sh --check     only check that the inputs exist (JDK 25 with jlink, mvn, nvcc)
# The bundle is built in a temporary folder beside BUNDLE, checked against its MANIFEST (run.sh
# --verify) and only then renamed into place: a failed build leaves the previous bundle, or none.
# Bundle: a stripped jlink'd Temurin 25 runtime, the wrpn jar with its PTX, the runtime jars the GPU
# path needs (never JavaCPP, OpenBLAS, oneDNN or OpenCV), the cuda test classes and the reference, the JUnit
# console launcher, run.sh, the PyTorch peer, the GPU training check with its Fashion-MNIST slice
# (train-check.sh) and COMMIT. Must stay under 60 MiB (the device tool carries 64 MiB).
# Env: JAVA_HOME (JDK 25), BUILD_DIR (Maven build dir, default target/), BUNDLE (default bundle/).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE=build
LOCAL=0
EMULATED=0
for arg in "$@"; do
  case "$arg" in
    --local) LOCAL=1; MODE=run ;;
    --emulated) EMULATED=1; MODE=run ;;
    --check) MODE=--check ;;
    *) echo "device-check: unknown argument $arg (use --local, --emulated or --check)" >&2; exit 1 ;;
  esac
done
BUNDLE="${BUNDLE:-$ROOT/bundle}"
BUILD_DIR="${BUILD_DIR:-$ROOT/target}"
LIMIT_MIB=60
# Runtime modules: docker/jlink-runtime.sh, profile gpu-bundle (java.base, java.logging for JCuda and
# JUnit, jdk.unsupported for Jackson, java.management for JMX beans, jdk.incubator.vector that every
# launcher adds for the CPU's quantize+pack; not java.desktop: only log4j-core needs it, so the bundle
# logs through log4j-api's simple logger).

die() { echo "device-check: $*" >&2; exit 1; }

find_jdk() {
  local c
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25*; do
    if [[ -n "$c" && -x "$c/bin/jlink" && "$("$c/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)" == 25 ]]; then
      echo "$c"; return 0
    fi
  done
  return 1
}

check_inputs() {
  JDK="$(find_jdk)" || die "needs a JDK 25 with jlink (set JAVA_HOME)"
  command -v mvn >/dev/null || die "needs Maven"
  [[ -f "$ROOT/benchmarks/gpu-bundle/run.sh" ]] || die "missing benchmarks/gpu-bundle/run.sh"
  if ! command -v nvcc >/dev/null && [[ ! -x "${CUDA_HOME:-/nonexistent}/bin/nvcc" && ! -x /usr/local/cuda/bin/nvcc ]]; then
    die "needs nvcc to build the PTX kernels (PATH, CUDA_HOME or /usr/local/cuda)"
  fi
  echo "device-check: inputs ok (JDK $JDK)"
}

check_inputs
[[ $MODE == --check ]] && exit 0
export JAVA_HOME="$JDK"
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
MVN=(mvn -B -q -Dwrpn.buildDir="$BUILD_DIR")

echo "device-check: building jar and test classes"
(cd "$ROOT" && "${MVN[@]}" -DskipTests package)
JAR="$(ls "$BUILD_DIR"/wrpn-*.jar | grep -v -- '-all.jar' | head -1)"
unzip -l "$JAR" ptx/index.txt >/dev/null 2>&1 || die "$JAR has no PTX (was nvcc found during the build?)"

FINAL="$BUNDLE"
BUNDLE="$FINAL.tmp.$$"
trap 'rm -rf "$BUNDLE"' EXIT
rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/lib" "$BUNDLE/lib-test" "$BUNDLE/test-classes/org/wrpn/backend"
cp "$JAR" "$BUNDLE/lib/"

# Runtime jars of the GPU path, chosen by name: whatever else Maven resolves (JavaCPP with OpenBLAS,
# oneDNN and OpenCV) stays out. JCuda's natives are cut down to the driver binding (1 of 26 MB).
CPFILE="$BUILD_DIR/device-check-classpath.txt"
(cd "$ROOT" && "${MVN[@]}" org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath \
  -Dmdep.includeScope=runtime -Dmdep.outputFile="$CPFILE")
tr ':' '\n' <"$CPFILE" | while read -r j; do
  case "$(basename "$j")" in
    jcuda-natives-*)
      tmp="$(mktemp -d)"
      (cd "$tmp" && unzip -q "$j" 'lib/libJCudaDriver-*' && "$JDK/bin/jar" cf "$BUNDLE/lib/$(basename "$j")" lib)
      rm -rf "$tmp" ;;
    jcuda-[0-9]*|picocli-*|jackson-databind-*|jackson-core-*|jackson-annotations-*|log4j-api-*)
      cp "$j" "$BUNDLE/lib/" ;;
  esac
done
for need in jcuda-natives jcuda- picocli jackson-databind log4j-api; do
  ls "$BUNDLE/lib" | grep -q "^$need" || die "runtime jar $need not found in the Maven classpath"
done
if ls "$BUNDLE/lib" | grep -qiE 'javacpp|openblas|dnnl|opencv|opencl'; then die "JavaCPP jars slipped into the bundle"; fi

# The GPU path must not reach the CPU's native libraries: no backend/cuda class may refer to JavaCPP or the CPU backend.
bad="$("$JDK/bin/jdeps" -verbose:class --multi-release 25 --ignore-missing-deps "$JAR" 2>/dev/null \
  | grep -E '^\s+org\.wrpn\.backend\.cuda\.' | grep -E 'org\.bytedeco|org\.wrpn\.backend\.cpu' || true)"
[[ -z "$bad" ]] || die "backend/cuda refers to JavaCPP or the CPU backend:"$'\n'"$bad"

# Test classes: the cuda tests, their fixture and the executable reference (no tests of the CPU backend).
cp -r "$BUILD_DIR/test-classes/org/wrpn/backend/cuda" "$BUNDLE/test-classes/org/wrpn/backend/"
cp -r "$BUILD_DIR/test-classes/org/wrpn/reference" "$BUNDLE/test-classes/org/wrpn/"
cp "$BUILD_DIR"/test-classes/org/wrpn/backend/BackendFixture*.class "$BUILD_DIR"/test-classes/org/wrpn/backend/LayerOpsContract*.class \
  "$BUILD_DIR"/test-classes/org/wrpn/backend/QuantizedOpsContract*.class "$BUNDLE/test-classes/org/wrpn/backend/"

JUNIT_VERSION="$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' "$ROOT/pom.xml" | head -1)"
(cd "$ROOT" && "${MVN[@]}" org.apache.maven.plugins:maven-dependency-plugin:3.9.0:copy \
  -Dartifact="org.junit.platform:junit-platform-console-standalone:$JUNIT_VERSION" \
  -DoutputDirectory="$BUNDLE/lib-test" -Dmdep.stripVersion=true)

# The same jlink recipe as the Docker image (docker/jlink-runtime.sh), gpu-bundle profile.
"$ROOT/docker/jlink-runtime.sh" "$JDK" "$BUNDLE/jre" gpu-bundle

cp "$ROOT/benchmarks/gpu-bundle/run.sh" "$ROOT/benchmarks/gpu-bundle/MANIFEST" "$BUNDLE/"
chmod +x "$BUNDLE/run.sh"
# The PyTorch peer of `wrpn bench` runs beside it on the GPU machine (PyTorch is installed there).
mkdir -p "$BUNDLE/peers"
cp "$ROOT/benchmarks/peers/pytorch_wrpn.py" "$BUNDLE/peers/"

# ---- BEGIN GPU training check (CUDA backend part 2, issue 5; backend/cuda owns this block) ----------
# train-check.sh (run by run.sh), the CPU run it compares with, and a Fashion-MNIST slice (the first
# train_images/test_images of cpu-reference.txt, ~6 MiB) for its one-epoch GPU training.
cp "$ROOT/benchmarks/gpu-bundle/train-check.sh" "$ROOT/benchmarks/gpu-bundle/cpu-reference.txt" "$BUNDLE/"
chmod +x "$BUNDLE/train-check.sh"
FASHION="${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}"
[[ -d "$FASHION" ]] || die "needs Fashion-MNIST in $FASHION (apt-get install dataset-fashion-mnist, or set FASHION_MNIST)"
"$ROOT/benchmarks/gpu-bundle/fashion-slice.sh" "$FASHION" "$BUNDLE/data/fashion-slice" \
  "$(sed -n 's/^train_images=//p' "$ROOT/benchmarks/gpu-bundle/cpu-reference.txt")" \
  "$(sed -n 's/^test_images=//p' "$ROOT/benchmarks/gpu-bundle/cpu-reference.txt")"
# ---- END GPU training check ------------------------------------------------------------------------
commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]] && commit="$commit+uncommitted"
echo "$commit built $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$BUNDLE/COMMIT"

size_kib=$(du -sk "$BUNDLE" | cut -f1)
echo "device-check: bundle is $((size_kib / 1024)) MiB ($size_kib KiB)"
(( size_kib < LIMIT_MIB * 1024 )) || die "bundle is over $LIMIT_MIB MiB"
bash "$BUNDLE/run.sh" --verify || die "the bundle is incomplete (see above): $FINAL left as it was"
rm -rf "$FINAL"
mv "$BUNDLE" "$FINAL"
trap - EXIT
BUNDLE="$FINAL"
echo "device-check: $BUNDLE ready"

status=0
if (( LOCAL )); then
  echo "device-check: running the bundle here (--local)"
  OUT="${OUT:-$BUILD_DIR/device-check-local}" bash "$BUNDLE/run.sh" --local || status=1
fi

if (( EMULATED )); then
  # GPU mode on the emulated driver, with a deadline far shorter than the emulated steps need: the run
  # must keep to it and still leave a complete report.
  scale="${EMU_SCALE:-0.3}"
  deadline=$(awk -v s="$scale" 'BEGIN { printf "%d", 300 * s + 0.5 }')
  work="$BUILD_DIR/device-check-emulated"
  rm -rf "$work"
  mkdir -p "$work/ptx"
  (cd "$work/ptx" && unzip -q -j "$(ls "$BUNDLE"/lib/wrpn-*.jar | head -1)" 'ptx/*.ptx')
  bash "$ROOT/native/emu/build-fake-driver.sh" "$work/driver" "$work/ptx"
  out="$work/out"
  rm -rf "$out"
  start=$(date +%s)
  rc=0
  LD_LIBRARY_PATH="$work/driver" OUT="$out" WRPN_TRAIN_CHECK_QUICK=1 WRPN_CHECK_TIME_SCALE="$scale" bash "$BUNDLE/run.sh" || rc=$?
  took=$(( $(date +%s) - start ))
  echo "device-check: emulated GPU-mode run: exit $rc after $took s of a $deadline s deadline"
  missing=""
  for section in machine info tests train pack bench peer sanitize Summary; do
    grep -q "^## $section" "$out/report.md" 2>/dev/null || missing+=" $section"
  done
  [[ -z "$missing" ]] || die "report.md lacks the sections:$missing"
  (( took <= deadline + 10 )) || die "the run took $took s, past its $deadline s deadline"
  grep -A12 "^## Summary" "$out/report.md"
  echo "device-check: the report is complete and the deadline held (steps killed by it are expected here)"
fi
[[ $MODE == run ]] && exit $status

cat <<EOF2

Run it on a GPU with the device tool (from the repository root; bundle/ is git-ignored, so carry it):
  full check, 300 s deadline (+ ~90 s machine start = a 7-minute call; two fit a 15-minute lease):
    run(command="bash bundle/run.sh", carry=["bundle"], timeout_s=330)
  quick check for a lease nearly spent (GPU tests, pack/unpack bandwidth, one step beside the planner):
    run(command="bash bundle/run.sh --quick", carry=["bundle"], timeout_s=180)
Its report is \$OUT/report.md (written step by step; the summary table ends the output), with
tests.txt, info.json, pack-bandwidth.csv, nvidia-smi.txt beside it; record the run in
benchmarks/results/device-log.md. gpu-bench.tar.gz holds the CSV/JSON of \`wrpn bench --device cuda\`
and of the PyTorch peer: see benchmarks/README.md to commit and plot them.
EOF2
