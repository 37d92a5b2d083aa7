#!/usr/bin/env bash
# Runs the image's entrypoint outside a container, with the image's layout (/opt/wrpn/{jre,wrpn.jar,
# bin/wrpn}), environment and volumes (/data, /runs as directories), on the CPU backend: proves the
# wiring of paths, exit codes and signals without a Docker engine. Needs the shaded jar (mvn package).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
JDK="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
JAR="$(ls "${BUILD_DIR:-$ROOT/target}"/wrpn-*-all.jar 2>/dev/null | head -1)"
[[ -f "$JAR" ]] || { echo "test-entrypoint: no shaded jar; run mvn package first" >&2; exit 1; }
FASHION=/usr/share/datasets/fashion-mnist
[[ -d $FASHION ]] || { echo "test-entrypoint: needs the dataset-fashion-mnist package" >&2; exit 1; }

IMG="$(mktemp -d)"
trap 'rm -rf "$IMG"' EXIT
mkdir -p "$IMG/opt/wrpn/bin" "$IMG/data" "$IMG/runs"
"$ROOT/docker/jlink-runtime.sh" "$JDK" "$IMG/opt/wrpn/jre" image >/dev/null
cp "$JAR" "$IMG/opt/wrpn/wrpn.jar"
cp "$ROOT/docker/entrypoint.sh" "$IMG/opt/wrpn/bin/wrpn"
cp "$FASHION"/*.gz "$IMG/data/"

# The image's environment, and nothing of this machine's (no JAVA_HOME, no Maven).
IMAGE_ENV=(env -i PATH="$IMG/opt/wrpn/bin:/usr/bin:/bin" HOME="$IMG/runs" WRPN_HOME="$IMG/opt/wrpn" WRPN_RUNS="$IMG/runs")
wrpn() { "${IMAGE_ENV[@]}" "$IMG/opt/wrpn/bin/wrpn" "$@"; }
fail() { echo "test-entrypoint: FAIL: $*" >&2; exit 1; }
pass() { echo "test-entrypoint: ok: $*"; }

out="$(wrpn info --json)" || fail "info exited $?"
grep -q '"backend":"cpu"' <<<"$out" || fail "info did not choose the CPU: $out"
pass "info runs with the jlink'd runtime and picks the CPU: $(grep -o '"reason":"[^"]*"' <<<"$out")"

set +e
err="$(wrpn train --wbits 3 2>&1 >/dev/null)"; code=$?
set -e
[[ $code -eq 2 ]] || fail "bad flag exited $code, expected 2"
[[ $(wc -l <<<"$err") -eq 1 && $err == error:* ]] || fail "bad flag did not give one error line: $err"
pass "bad input: exit 2, '$err'"

JOB=(train --resume --data /data --out /runs/job --model lenet --width 1 --batch 32 --limit-train 9600 --limit-test 500 --no-progress)
# /data and /runs are the image's volume paths: map them onto this test's directories.
JOB=("${JOB[@]/#\/data/$IMG/data}")
JOB=("${JOB[@]/#\/runs\/job/$IMG/runs/job}")
# Started directly, not through a function's subshell: env and the entrypoint exec, so $! is the
# JVM's pid, as the container's init would see it.
"${IMAGE_ENV[@]}" "$IMG/opt/wrpn/bin/wrpn" "${JOB[@]}" >"$IMG/first.out" 2>"$IMG/first.err" &
pid=$!
for _ in $(seq 1 120); do
  grep -q "memory ledger after one step" "$IMG/first.err" 2>/dev/null && break
  sleep 0.5
done
sleep 1
kill -TERM "$pid"
set +e
wait "$pid"; code=$?
set -e
[[ $code -eq 143 ]] || { cat "$IMG/first.err" >&2; fail "SIGTERM: exit $code, expected 143"; }
ls "$IMG/runs/job/checkpoints/"*.json >/dev/null 2>&1 || { cat "$IMG/first.out" "$IMG/first.err" >&2; echo "${JOB[*]}" >&2; fail "SIGTERM left no checkpoint"; }
pass "SIGTERM: exit 143 with checkpoint $(basename "$(ls -t "$IMG/runs/job/checkpoints/"*.json | head -1)")"

wrpn "${JOB[@]}" >"$IMG/second.out" 2>"$IMG/second.err" || { cat "$IMG/second.err" >&2; fail "the restart exited $?"; }
grep -qi "resum" "$IMG/second.err" || fail "the restart did not resume: $(head -5 "$IMG/second.err")"
grep -q "^test accuracy" "$IMG/second.out" || fail "the restart printed no accuracy"
pass "restart resumes and finishes: $(cat "$IMG/second.out")"
