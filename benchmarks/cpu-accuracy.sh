#!/usr/bin/env bash
# Trains the three reference configurations of lenet for one epoch on Fashion-MNIST on the CPU and
# writes benchmarks/results/cpu-accuracy.csv with the machine and commit.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/benchmarks/results/cpu-accuracy.csv"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x$(nproc)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo -dirty)"
echo "config,model,width,wbits,abits,epochs,test_accuracy,train_seconds,images_per_second,wall_seconds,machine,commit" > "$TMP/out.csv"
run() {
  local name="$1" width="$2" w="$3" a="$4"
  local start end line
  start=$(date +%s.%N)
  line=$("$ROOT/wrpn" train --model lenet --width "$width" --wbits "$w" --abits "$a" --epochs 1 --no-progress \
      --out "$TMP/$name" 2>"$TMP/$name.log" | tail -1)
  end=$(date +%s.%N)
  local acc ips secs
  acc=$(sed -n 's/^test accuracy \([0-9.]*\).*/\1/p' <<<"$line")
  ips=$(sed -n 's/.*; \([0-9]*\) img\/s;.*/\1/p' <<<"$line")
  secs=$(sed -n 's/.*| \([0-9.]*\) s, .*/\1/p' "$TMP/$name.log" | tail -1)
  printf '%s,lenet,%s,%s,%s,1,%s,%s,%s,%.1f,"%s",%s\n' "$name" "$width" "$w" "$a" "$acc" "$secs" "$ips" \
      "$(echo "$end - $start" | bc)" "$CPU" "$COMMIT" >> "$TMP/out.csv"
  echo "$name: test accuracy $acc, $secs s training" >&2
}
run default-w2-w4a4 2 4 4
run baseline-w1-fp32 1 32 32
run w1-w2a2 1 2 2
mkdir -p "$(dirname "$OUT")"
cp "$TMP/out.csv" "$OUT"
cat "$OUT"
