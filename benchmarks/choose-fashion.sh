#!/usr/bin/env bash
# The worked example of `wrpn choose` (docs/RESULTS.md, "Choosing for a budget"): lenet on
# Fashion-MNIST with a budget that excludes full precision at width 1 but admits reduced precision,
# 30 minutes of proxy runs, then the recommendation trained for the sweep's 3 epochs and compared
# with the best configuration of the committed sweep (sweep-fashion-cpu.csv) that fits the same
# budget. Writes benchmarks/results/choose-fashion-lenet{.csv,.json,-rounds.*,.md,-vs-*.png,
# -recommended.json} and choose-fashion-lenet-check.md. Runs under nice; the machine's load is
# recorded (it changes how many proxy images fit the time budget, not what a run computes).
#   TIME_BUDGET=30m BUDGET=15.5M benchmarks/choose-fashion.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RESULTS=benchmarks/results
NAME=choose-fashion-lenet
BUDGET="${BUDGET:-15.5M}"
TIME_BUDGET="${TIME_BUDGET:-30m}"
OUT=runs/choose-fashion

nice ./wrpn choose --model lenet --budget "$BUDGET" --batch 64 --time-budget "$TIME_BUDGET" \
    --widths 1,1.125,1.5,2,2.5,3 --bits 32/32,8/8,4/4,4/2,2/4,2/2,1/1 \
    --out "$OUT" --results "$RESULTS" --name "$NAME" --no-progress

# The recommendation at full length: the sweep's 3 epochs, in OUT/recommended (resumed if there).
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
line="$(nice ./wrpn train --spec "$RESULTS/$NAME-recommended.json" --no-progress 2>"$OUT/recommended.log" | tail -1)"
seconds=$(( $(date +%s) - start ))
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
accuracy="$(sed -n 's/^test accuracy \([0-9.]*\).*/\1/p' <<<"$line")"
[[ -n "$accuracy" ]] || { echo "choose-fashion.sh: no test accuracy in: $line" >&2; exit 1; }

# Columns by name, so the files' column order does not matter.
col() { awk -F, -v want="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next } { print $c }' "$1"; }
paste -d, <(col "$RESULTS/$NAME.csv" width) <(col "$RESULTS/$NAME.csv" wbits) <(col "$RESULTS/$NAME.csv" abits) \
    <(col "$RESULTS/$NAME.csv" fits) <(col "$RESULTS/$NAME.csv" recommended) > "$OUT/fits.csv"
paste -d, <(col "$RESULTS/sweep-fashion-cpu.csv" width) <(col "$RESULTS/sweep-fashion-cpu.csv" wbits) \
    <(col "$RESULTS/sweep-fashion-cpu.csv" abits) <(col "$RESULTS/sweep-fashion-cpu.csv" test_accuracy_mean) \
    <(col "$RESULTS/sweep-fashion-cpu.csv" test_accuracy_max) > "$OUT/sweep.csv"
# Widths as numbers (1 and 1.0 alike); the best committed configuration (by mean over its seeds) that fits.
best="$(awk -F, 'NR == FNR { fits[($1 + 0) "/" $2 "/" $3] = $4; if ($5 == "true") rec = ($1 + 0) "x " $2 "/" $3; next }
    fits[($1 + 0) "/" $2 "/" $3] == "true" && $4 > m { m = $4; b = ($1 + 0) "x " $2 "/" $3 "|" $4 "|" $5 }
    END { print rec "|" b }' "$OUT/fits.csv" "$OUT/sweep.csv")"
IFS='|' read -r recommended sweep_config sweep_mean sweep_max <<<"$best"
gap="$(awk -v a="$accuracy" -v b="$sweep_mean" 'BEGIN { printf "%+.2f", (a - b) * 100 }')"
verdict="$(awk -v a="$accuracy" -v b="$sweep_mean" 'BEGIN { print (a >= b - 0.005 ? "within" : "NOT within") }')"

cat > "$RESULTS/$NAME-check.md" <<EOF
Full-length check of \`wrpn choose\` (benchmarks/choose-fashion.sh; code of commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src pom.xml || echo -dirty), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x$(nproc)):

- budget $BUDGET at batch 64 (cpu rules), time budget $TIME_BUDGET; recommended: lenet ${recommended}
- the recommendation trained for 3 epochs (\`wrpn train --spec $RESULTS/$NAME-recommended.json\`): test accuracy **$accuracy** ($seconds s wall; load average $load_start at the start, $load_end at the end)
- the best configuration of the committed sweep (sweep-fashion-cpu.csv, 3 epochs, batch 64, mean of 2 seeds) that fits the same budget: lenet $sweep_config, **$sweep_mean** (best seed $sweep_max)
- difference: $gap points: $verdict 0.5 points
EOF
cat "$RESULTS/$NAME-check.md"
