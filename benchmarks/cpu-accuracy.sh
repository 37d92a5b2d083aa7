#!/usr/bin/env bash
# Trains the three reference configurations of lenet for one epoch on Fashion-MNIST on the CPU and
# writes benchmarks/results/cpu-accuracy.csv with the machine and commit. README's one-epoch table
# quotes this file (ReadmeFiguresTest checks it).
#   --accuracy-only   re-measure only test_accuracy (a CPU run is reproducible bit for bit, so a
#                     loaded machine gives the same figure); the timing columns and their commit are
#                     kept from the existing file, accuracy_commit says where the accuracy comes from.
set -euo pipefail
ACCURACY_ONLY=""
if [[ "${1:-}" == "--accuracy-only" ]]; then ACCURACY_ONLY=1; fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/benchmarks/results/cpu-accuracy.csv"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x$(nproc)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo -dirty)"
echo "config,model,width,wbits,abits,epochs,test_accuracy,train_seconds,images_per_second,wall_seconds,machine,commit,accuracy_commit" > "$TMP/out.csv"
run() {
  local name="$1" width="$2" w="$3" a="$4"
  local start end line
  start=$(date +%s.%N)
  line=$("$ROOT/wrpn" train --model lenet --width "$width" --wbits "$w" --abits "$a" --epochs 1 --no-progress \
      --out "$TMP/$name" 2>"$TMP/$name.log" | tail -1)
  end=$(date +%s.%N)
  local acc ips secs
  acc=$(sed -n 's/^test accuracy \([0-9.]*\).*/\1/p' <<<"$line")
  ips=$(sed -n 's/.*; \([0-9.]*\) img\/s;.*/\1/p' <<<"$line")
  secs=$(sed -n 's/.*| \([0-9.]*\) s, .*/\1/p' "$TMP/$name.log" | tail -1)
  if [[ -n "$ACCURACY_ONLY" ]]; then
    local old; old="$(grep "^$name," "$OUT")" || { echo "cpu-accuracy.sh: $name is not in $OUT" >&2; exit 2; }
    awk -F, -v OFS=, -v acc="$acc" -v commit="$COMMIT" '{ $7 = acc; $13 = commit; print }' <<<"$old" >> "$TMP/out.csv"
  else
    printf '%s,lenet,%s,%s,%s,1,%s,%s,%s,%.1f,"%s",%s,%s\n' "$name" "$width" "$w" "$a" "$acc" "$secs" "$ips" \
        "$(echo "$end - $start" | bc)" "$CPU" "$COMMIT" "$COMMIT" >> "$TMP/out.csv"
  fi
  echo "$name: test accuracy $acc" >&2
}
run default-w2-w4a4 2 4 4
run baseline-w1-fp32 1 32 32
run w1-w2a2 1 2 2
mkdir -p "$(dirname "$OUT")"
cp "$TMP/out.csv" "$OUT"
cat "$OUT"
