#!/usr/bin/env bash
# The mutation run: breaks the code on purpose, one fault at a time, and shows that the checks CI runs
# (native/emu/run.sh through KernelEmulationTest, the emulated-driver tests) catch each.
#   1. Barriers. Every __syncthreads() in cuda/*.cu, cuda/*.cuh and native/conv/*.cuh is dropped in
#      turn (EMU_DROP_BARRIER=FILE:LINE: that call becomes a no-op) and each check program that reaches
#      it runs in the ThreadSanitizer build; caught = a data race report, a FAIL line or a deadlock.
#      For comparison the plain build's value checks (garbage shared memory, reversed order) run too.
#      A barrier no program reaches counts as not caught.
#   2. Out-of-bounds accesses, as source mutations on a copy of the tree: an element-wise tail one past
#      the end (global memory), a shared-memory store one past its array, a pack-kernel bound check
#      removed (AddressSanitizer build), and the max-pool index back in 32 bits (check_bounds: the
#      plain build's guard pages and UBSan's overflow check).
#   3. A call without a current context (with --java; needs Maven, nvcc and a few minutes): a copy of
#      the repository where CudaRuntime.makeCurrent makes the context current on the first thread only,
#      built, and CudaDriverContractGpuTest run on the emulated driver, which must fail; the unmutated
#      copy's run must pass. (check_driver.cpp also asserts the driver's refusal directly.)
# Prints one line per mutation and "mutation: N of N caught"; exits 1 when one was not.
#   native/emu/mutation.sh [--java] [OUT_DIR]
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
JAVA_PART=0
OUT=""
for a in "$@"; do
  case "$a" in
    --java) JAVA_PART=1 ;;
    -*) echo "mutation.sh: unknown option $a" >&2; exit 2 ;;
    *) OUT="$a" ;;
  esac
done
OUT="${OUT:-${TMPDIR:-/tmp}/wrpn-mutation}"
rm -rf "$OUT"
mkdir -p "$OUT"
BASE=(-std=c++20 -O1 -ffp-contract=off -w -fdata-sections -pthread)
ASAN=(-g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all)
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:report_signal_unsafe=0"
total=0
caught=0

# build TREE PROG MODE BINARY: a check program of TREE (a copy of the repository's cuda/ and native/)
build() {
  local tree=$1 prog=$2 mode=$3 bin=$4 flags=()
  case "$mode" in
    plain) ;;
    asan) flags=("${ASAN[@]}") ;;
    tsan) flags=(-g -fsanitize=thread) ;;
  esac
  g++ "${BASE[@]}" "${flags[@]}" -I"$tree/cuda" -I"$tree/native/emu" -Wl,-T,"$tree/native/emu/emu_shared.ld" \
    -o "$bin" "$tree/native/emu/$prog.cpp"
}

# verdict LOG EXIT: how a run ended
verdict() {
  local log=$1 rc=$2
  if grep -q "ThreadSanitizer: data race" "$log"; then echo "race"
  elif grep -q "AddressSanitizer" "$log"; then echo "asan:$(grep -o -m1 'AddressSanitizer: [a-z-]*' "$log" | cut -d' ' -f2)"
  elif grep -q "runtime error" "$log"; then echo "ubsan"
  elif grep -q "emu: deadlock" "$log"; then echo "deadlock"
  elif grep -q "^FAIL" "$log"; then echo "fail($(grep -c '^FAIL' "$log"))"
  elif (( rc != 0 )); then echo "exit-$rc"
  else echo "passed"
  fi
}

# ---- 1. barriers -------------------------------------------------------------------------------------
PROGS=(check_kernels check_layers check_conv_variants check_bounds)
echo "== 1. every __syncthreads() dropped in turn"
for p in "${PROGS[@]}"; do
  build "$ROOT" "$p" tsan "$OUT/$p-tsan" &
  build "$ROOT" "$p" plain "$OUT/$p-plain"
  wait || { echo "mutation.sh: building $p failed" >&2; exit 2; }
done
declare -A reaches
for p in "${PROGS[@]}"; do
  if ! EMU_LIST_BARRIERS=1 "$OUT/$p-plain" >"$OUT/$p.base.out" 2>"$OUT/$p.base.err"; then
    echo "mutation.sh: $p fails unmutated:"; cat "$OUT/$p.base.out"; exit 2
  fi
  while read -r site; do reaches[$site]+="$p "; done < <(sed -n 's/^emu: barrier \([^ ]*\) reached.*/\1/p' "$OUT/$p.base.err")
done
sites=()
for f in "$ROOT"/cuda/*.cu "$ROOT"/cuda/*.cuh "$ROOT"/native/conv/*.cuh; do
  while IFS=: read -r line text; do
    code="${text%%//*}"
    [[ "$code" == *"__syncthreads()"* ]] && sites+=("$(basename "$f"):$line")
  done < <(grep -n "__syncthreads()" "$f")
done
printf '%-28s %-44s %s\n' "barrier" "ThreadSanitizer build (per program)" "plain build, reversed order"
for site in "${sites[@]}"; do
  total=$((total + 1))
  progs="${reaches[$site]:-}"
  if [[ -z "$progs" ]]; then
    printf '%-28s %s\n' "$site" "NOT CAUGHT: no check program reaches it"
    continue
  fi
  tsan_line=""
  plain_line=""
  hit=0
  for p in $progs; do
    EMU_DROP_BARRIER="$site" EMU_ORDER=reverse "$OUT/$p-tsan" >"$OUT/m.log" 2>&1
    v=$(verdict "$OUT/m.log" $?)
    [[ $v != passed ]] && hit=1
    tsan_line+="${p#check_}=$v "
    EMU_DROP_BARRIER="$site" EMU_ORDER=reverse "$OUT/$p-plain" >"$OUT/m.log" 2>&1
    plain_line+="${p#check_}=$(verdict "$OUT/m.log" $?) "
  done
  if (( hit )); then caught=$((caught + 1)); else tsan_line="NOT CAUGHT: $tsan_line"; fi
  printf '%-28s %-44s %s\n' "$site" "$tsan_line" "$plain_line"
done

# ---- 2. out-of-bounds accesses --------------------------------------------------------------------------
echo
echo "== 2. out-of-bounds accesses (source mutations on a copy)"
# mutate NAME FILE PERL-SUBSTITUTION PROGRAM MODE EXPECT-REGEX
mutate() {
  local name=$1 file=$2 subst=$3 prog=$4 mode=$5 expect=$6 tree="$OUT/tree-$1"
  total=$((total + 1))
  mkdir -p "$tree/native"
  cp -r "$ROOT/cuda" "$tree/"
  cp -r "$ROOT/native/emu" "$ROOT/native/conv" "$tree/native/"
  perl -0pi -e "$subst" "$tree/$file"
  if cmp -s "$ROOT/$file" "$tree/$file"; then
    printf '%-36s %s\n' "$name" "NOT APPLIED: the pattern is gone from $file (update mutation.sh)"
    return
  fi
  if ! build "$tree" "$prog" "$mode" "$tree/$prog" 2>"$tree/build.log"; then
    printf '%-36s %s\n' "$name" "NOT CAUGHT: the mutant does not compile"; return
  fi
  "$tree/$prog" >"$tree/run.log" 2>&1
  local v
  v=$(verdict "$tree/run.log" $?)
  if [[ "$v" =~ $expect ]]; then
    caught=$((caught + 1))
    printf '%-36s caught: %-28s %s\n' "$name" "$prog $mode: $v" "$(grep -m1 -E 'SUMMARY|runtime error|^FAIL' "$tree/run.log" | cut -c1-90)"
  else
    printf '%-36s NOT CAUGHT (%s %s: %s)\n' "$name" "$prog" "$mode" "$v"
  fi
}
mutate "element-wise tail one past the end" cuda/wrpn.cuh \
  's/for \(long long i = \(n4 << 2\) \+ wrpn_thread_index\(\); i < n; i \+= wrpn_thread_count\(\)\) y\[i\] = f\(x\[i\]\);/for (long long i = (n4 << 2) + wrpn_thread_index(); i <= n; i += wrpn_thread_count()) y[i] = f(x[i]);/' \
  check_kernels asan "asan:heap-buffer-overflow"
mutate "shared store one past its array" cuda/reduce.cu \
  's/    sh\[threadIdx\.x\] = v;\n    __syncthreads\(\);/    sh[threadIdx.x + 1] = v;\n    __syncthreads();/' \
  check_kernels asan "asan:global-buffer-overflow|ubsan"
mutate "unpack without its bound check" cuda/pack.cu \
  's/            if \(u >= units\) continue;\n            const Unit t = unit_at<K>\(u, C, G, wpp\);\n            if \(c0 >= t.channels\) continue;\n            const uint32_t w = codes/            const Unit t = unit_at<K>(u, C, G, wpp);\n            if (c0 >= t.channels) continue;\n            const uint32_t w = codes/' \
  check_kernels asan "asan:heap-buffer-overflow"
mutate "max-pool index in 32 bits (guards)" cuda/pool.cu \
  's/const long long idx = \(\(image \+ iy\) \* W \+ ix\) \* C \+ c;/const int idx = (((int)image + iy) * W + ix) * C + c;/' \
  check_bounds plain "fail"
mutate "max-pool index in 32 bits (UBSan)" cuda/pool.cu \
  's/const long long idx = \(\(image \+ iy\) \* W \+ ix\) \* C \+ c;/const int idx = (((int)image + iy) * W + ix) * C + c;/' \
  check_bounds asan "ubsan"

# ---- 3. a call without a current context -------------------------------------------------------------
if (( JAVA_PART )); then
  echo
  echo "== 3. a call without a current context (Java, on the emulated driver)"
  export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
  export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
  for variant in unmutated mutated; do
    copy="$OUT/java-$variant"
    mkdir -p "$copy"
    (cd "$ROOT" && tar cf - pom.xml src cuda native) | (cd "$copy" && tar xf -)
    if [[ $variant == mutated ]]; then
      total=$((total + 1))
      # the context made current on the first thread that asks, as a process-wide flag would
      perl -0pi -e 's/private final ThreadLocal<Boolean> current = ThreadLocal.withInitial\(\(\) -> false\);/private final java.util.concurrent.atomic.AtomicBoolean once = new java.util.concurrent.atomic.AtomicBoolean();\n    private final ThreadLocal<Boolean> current = ThreadLocal.withInitial(() -> once.getAndSet(true));/' \
        "$copy/src/main/java/org/wrpn/backend/cuda/CudaRuntime.java"
      if cmp -s "$ROOT/src/main/java/org/wrpn/backend/cuda/CudaRuntime.java" "$copy/src/main/java/org/wrpn/backend/cuda/CudaRuntime.java"; then
        echo "makeCurrent on the first thread only: NOT APPLIED (update mutation.sh)"; continue
      fi
    fi
    (cd "$copy" && mvn -o -B -q -Dstyle.color=never -DskipTests package >"$copy/build.log" 2>&1 \
      && mvn -o -B -q -Dstyle.color=never dependency:build-classpath -Dmdep.includeScope=test \
           -Dmdep.outputFile="$copy/cp.txt" >>"$copy/build.log" 2>&1) || { echo "$variant: build failed (see $copy/build.log)"; continue; }
    mkdir -p "$copy/fake/ptx"
    cp "$copy"/target/classes/ptx/*.ptx "$copy/fake/ptx/"
    bash "$copy/native/emu/build-fake-driver.sh" "$copy/fake/driver" "$copy/fake/ptx" >"$copy/fake.log" 2>&1
    junit="$(ls "$HOME"/.m2/repository/org/junit/platform/junit-platform-console-standalone/*/junit-platform-console-standalone-*.jar | head -1)"
    LD_LIBRARY_PATH="$copy/fake/driver" "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
      --sun-misc-unsafe-memory-access=allow -Dwrpn.requireGpu=true -jar "$junit" execute \
      --class-path "$copy/target/test-classes:$copy/target/classes:$(cat "$copy/cp.txt")" \
      --select-class org.wrpn.backend.cuda.CudaDriverContractGpuTest --disable-banner --disable-ansi-colors \
      --details=tree >"$copy/run.log" 2>&1
    rc=$?
    failed_test="$(grep -m1 -B1 -E "INVALID_CONTEXT" "$copy/run.log" | head -2 | tr -s ' ' | cut -c1-120)"
    if [[ $variant == unmutated ]]; then
      (( rc == 0 )) && echo "unmutated copy: CudaDriverContractGpuTest passes" \
        || { echo "unmutated copy: CudaDriverContractGpuTest FAILS (see $copy/run.log): the comparison below means nothing"; }
    elif (( rc != 0 )) && grep -q "CUDA_ERROR_INVALID_CONTEXT" "$copy/run.log"; then
      caught=$((caught + 1))
      echo "makeCurrent on the first thread only    caught: CudaDriverContractGpuTest fails with CUDA_ERROR_INVALID_CONTEXT"
    else
      echo "makeCurrent on the first thread only    NOT CAUGHT (exit $rc; see $copy/run.log)"
    fi
  done
fi

echo
echo "mutation: $caught of $total caught"
(( caught == total ))
