#!/usr/bin/env bash
# The paper's ImageNet models on an image folder, on the CPU: `wrpn train` of resnet34 and alexnet at
# width 2, 2-bit weights and 4-bit activations, three steps of batch 2 on generated 224x224 photos,
# and `wrpn plan` of both at ImageNet shapes. Writes benchmarks/results/imagenet-models-cpu.txt.
# (The test suite runs the same at widths 1 and 0.5: ImageFolderTrainTest.)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/imagenet-models-cpu.txt
./wrpn info >/dev/null # builds the jar when the sources changed
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$JAVA" --add-modules jdk.incubator.vector -cp target/wrpn-0.1.0-SNAPSHOT-all.jar benchmarks/image-folder.java "$work/photos" 2 4 1 224 224
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs) x$(nproc)"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); DIR: 2 classes x 4 training and 1 validation JPEG of 224x224"
  for model in resnet34 alexnet; do
    args=(train --model "$model" --width 2 --wbits 2 --abits 4 --data "$work/photos" --batch 2 --epochs 1 --limit-train 6
      --out "$work/run-$model" --no-progress)
    echo
    echo "\$ wrpn ${args[*]}" | sed "s#$work#TMP#g"
    start=$(date +%s.%N)
    WRPN_NO_BUILD=1 ./wrpn "${args[@]}" 2>&1 | grep -v "BackendSelector" | sed -e "s#$work#TMP#g" -e 's/^[0-9:]* //'
    echo "(exit ${PIPESTATUS[0]}, $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.0f') s wall)"
  done
  for model in resnet34 alexnet; do
    echo
    echo "\$ wrpn plan --model $model --width 2 --wbits 2 --abits 4 --batch 256 --device cuda --budget 139G   # 3x224x224, 1000 classes"
    WRPN_NO_BUILD=1 ./wrpn plan --model "$model" --width 2 --wbits 2 --abits 4 --batch 256 --device cuda --budget 139G
  done
} >"$OUT"
echo "wrote $OUT"
