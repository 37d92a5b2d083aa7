#!/usr/bin/env bash
# Trains lenet width 1 for one epoch on Fashion-MNIST at w4a4, w2a2 and w1a1, exports each to ONNX and
# to the packed format, and writes benchmarks/results/export-cpu.csv (ONNX Runtime, CPU, against wrpn on
# all 10,000 test images; `wrpn eval` from the packed export against the checkpoint; the sizes) and
# export-qdq.csv (where QuantizeLinear/DequantizeLinear differ from wrpn's activation quantizer, over
# every float in [0, 1]). README's "Export for inference" section quotes them (ReadmeFiguresTest checks).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/benchmarks/results"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
for b in 4 2 1; do
  "$ROOT/wrpn" train --model lenet --width 1 --wbits "$b" --abits "$b" --epochs 1 --no-progress --out "$TMP/w$b" 2>"$TMP/w$b.log" | tail -1
done
# The measurement needs ONNX Runtime, a test dependency: run it on the test classpath.
cd "$ROOT"
mvn -B -q -Dwrpn.skipPtx test-compile
mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$TMP/classpath.txt"
# The classpath goes in an argument file: ONNX Runtime 1.29's Java environment crashes (SIGSEGV, no
# hs_err file) when the process's command line passes about 4 KB, which a plain -cp of it does.
echo "-cp target/test-classes:target/classes:$(cat "$TMP/classpath.txt")" >"$TMP/java-args"
"$JAVA_HOME/bin/java" -Xmx4g --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow @"$TMP/java-args" \
  org.wrpn.export.ExportMeasurement "$TMP" "$TMP/w4" "$TMP/w2" "$TMP/w1"
mkdir -p "$OUT"
cp "$TMP/export-cpu.csv" "$TMP/export-qdq.csv" "$OUT/"
