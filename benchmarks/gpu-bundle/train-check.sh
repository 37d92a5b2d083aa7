#!/usr/bin/env bash
# The GPU training check of the CUDA backend (issue 5), run by the bundle's run.sh:
#   1. `wrpn train --device cuda`: lenet width 2 w4a4, one epoch on the bundled Fashion-MNIST slice
#      (data/fashion-slice), its test accuracy beside the CPU runs of the same command (cpu-reference.txt);
#      passes within 0.5 points of the CPU mean over seeds 1-4 (the same-seed CPU run is shown too).
#   2. GpuStepCheck: resnet20 width 2 w2a2 (batch 128, 3x32x32) step time and measured peak device
#      memory beside MemoryPlanner's prediction for device "cuda", packed and fp32 save policies;
#      passes when the allocator's in-use peak is within 10% of the plan.
# Both record every class loaded: no ND4J/JavaCPP class may be needed. Writes a markdown section.
#   bash train-check.sh gpu|local SECTION.md
# local (no GPU): the CLI must refuse --device cuda with exit 2, and the planner half of step 2 runs.
set -uo pipefail
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODE="${1:?gpu|local}"
MD="${2:?SECTION.md}"
JAVA="$B/jre/bin/java"
CP="$B/lib/*"
TEST_CP="$B/test-classes$(printf ':%s' "$B"/lib/*.jar)"
JOPTS=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  -Dlog4j2.provider=org.apache.logging.log4j.simple.internal.SimpleProvider
  -Dorg.apache.logging.log4j.simplelog.StatusLogger.level=OFF
  -Djava.io.tmpdir="${TMPDIR:-/tmp}")
W="${TMPDIR:-/tmp}/wrpn-train-check"
rm -rf "$W"
mkdir -p "$W"
ref() { sed -n "s/^$1=//p" "$B/cpu-reference.txt"; }
nd4j() { grep -cE " (org\.nd4j|org\.bytedeco)\." "$1" 2>/dev/null || true; }
TRAIN_ARGS=(train --model lenet --width 2 --wbits 4 --abits 4 --epochs 1 --data "$B/data/fashion-slice" --no-progress)
STEP_ARGS=(--model resnet20 --width 2 --wbits 2 --abits 2 --batch 128 --input 3x32x32 --steps 20)
# WRPN_TRAIN_CHECK_QUICK=1: tiny sizes, to try this script on the emulated driver (native/emu/fake_cuda.cpp).
if [[ -n "${WRPN_TRAIN_CHECK_QUICK:-}" ]]; then
  TRAIN_ARGS+=(--limit-train 64 --limit-test 32 --batch 32)
  STEP_ARGS=(--model resnet20 --width 1 --wbits 2 --abits 2 --batch 4 --input 3x16x16 --steps 2)
fi
rc=0

if [[ $MODE == gpu ]]; then
  echo "--- wrpn train --device cuda (lenet width 2 w4a4, 1 epoch, bundled slice)"
  start=$(date +%s)
  timeout 150 "$JAVA" "${JOPTS[@]}" -Xmx4g -Dorg.apache.logging.log4j.simplelog.level=INFO \
    -Xlog:class+load=info:file="$W/train-classes.log" -cp "$CP" org.wrpn.cli.Main \
    "${TRAIN_ARGS[@]}" --device cuda --out "$W/train" >"$W/train.out" 2>"$W/train.log"
  train_rc=$?
  train_s=$(( $(date +%s) - start ))
  tail -5 "$W/train.log"; cat "$W/train.out"
  acc=$(sed -n 's/^test accuracy \([0-9.]*\).*/\1/p' "$W/train.out" | tail -1)
  cpu_acc=$(ref mean_accuracy)
  verdict="FAIL"
  if [[ $train_rc -eq 0 && -n "$acc" ]] && awk -v g="$acc" -v c="$cpu_acc" 'BEGIN { d = g - c; exit !(d <= 0.005 && d >= -0.005) }'; then
    verdict="PASS"
  fi
  [[ $verdict == PASS ]] || rc=1
  echo "--- GpuStepCheck ${STEP_ARGS[*]}"
  timeout 90 "$JAVA" "${JOPTS[@]}" -Xmx4g -Xlog:class+load=info:file="$W/step-classes.log" -cp "$TEST_CP" \
    org.wrpn.backend.cuda.GpuStepCheck "${STEP_ARGS[@]}" >"$W/step.md" 2>"$W/step.log"
  step_rc=$?
  cat "$W/step.md"; tail -20 "$W/step.log"
  [[ $step_rc -eq 0 ]] || rc=1
else
  echo "--- wrpn train --device cuda without a GPU (must refuse, exit 2)"
  "$JAVA" "${JOPTS[@]}" -Xlog:class+load=info:file="$W/train-classes.log" -cp "$CP" org.wrpn.cli.Main \
    "${TRAIN_ARGS[@]}" --device cuda --out "$W/train" >"$W/train.out" 2>"$W/train.log"
  train_rc=$?
  cat "$W/train.log"
  if [[ $train_rc -eq 2 ]] && grep -q "not available" "$W/train.log" "$W/train.out"; then train_rc=0; verdict="refused (no GPU)"; else verdict="FAIL"; rc=1; fi
  acc="-"; cpu_acc=$(ref mean_accuracy); train_s=0
  echo "--- GpuStepCheck --plan-only"
  "$JAVA" "${JOPTS[@]}" -Xlog:class+load=info:file="$W/step-classes.log" -cp "$TEST_CP" \
    org.wrpn.backend.cuda.GpuStepCheck "${STEP_ARGS[@]}" --plan-only >"$W/step.md" 2>"$W/step.log"
  step_rc=$?
  cat "$W/step.md" "$W/step.log"
  [[ $step_rc -eq 0 ]] || rc=1
fi
loaded=$(( $(nd4j "$W/train-classes.log") + $(nd4j "$W/step-classes.log") ))
echo "ND4J/JavaCPP classes loaded by the training check: $loaded"
(( loaded == 0 )) || rc=1

{
  echo "## GPU training (CUDA backend part 2): exit $rc; ND4J/JavaCPP classes loaded: $loaded"
  echo
  echo "lenet width 2 w4a4, 1 epoch on the bundled slice ($(ref train_images) training, $(ref test_images) test images):"
  echo
  echo "| run | test accuracy | exit | wall s | verdict (within 0.5 points of the CPU mean) |"
  echo "|---|---|---|---|---|"
  echo "| CPU, seed 1 (same command) | $(ref test_accuracy) | 0 | - | - |"
  echo "| CPU, mean of seeds 1-4 ($(ref seed_accuracies)) | $cpu_acc | 0 | - | - |"
  echo "| this GPU run (seed 1) | ${acc:-none} | $train_rc | $train_s | $verdict |"
  echo
  echo '```'
  grep -E "backend|memory ledger|epoch 1/1|ERROR|Exception" "$W/train.log" | cut -c1-300 | head -8
  echo '```'
  echo
  echo "Step time and peak device memory beside the planner (GpuStepCheck exit $step_rc):"
  echo
  cat "$W/step.md"
  if [[ $step_rc -ne 0 ]]; then echo; echo '```'; tail -15 "$W/step.log"; echo '```'; fi
} >"$MD"
exit $rc
