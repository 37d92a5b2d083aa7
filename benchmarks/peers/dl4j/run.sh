#!/usr/bin/env bash
# The CPU peer: `wrpn train` and Deeplearning4j 1.0.0-M2.1 train the same fp32 LeNet (width 1,
# 32-bit weights and activations) on the same Fashion-MNIST images, batch 64, back to back and
# alternating (wrpn, DL4J, wrpn, DL4J, ...), so both see the same machine state. Each run's images/s
# is measured after a warm-up of 50 steps up to its last step (wrpn: from its metrics.jsonl, written
# every 50 steps; DL4J: from a training listener's timestamps). The ratio is wrpn/DL4J of the
# medians over rounds.
#   benchmarks/peers/dl4j/run.sh                 ROUNDS=2 IMAGES=12800 BATCH=64 by default
# Env: BUILD_DIR (wrpn's Maven build dir, default target/), OUT (default benchmarks/results),
# DATA (default /usr/share/datasets/fashion-mnist). Writes OUT/peer-dl4j-cpu.{json,csv}.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/target}"
OUT="${OUT:-$ROOT/benchmarks/results}"
DATA="${DATA:-/usr/share/datasets/fashion-mnist}"
ROUNDS="${ROUNDS:-2}"
IMAGES="${IMAGES:-12800}"
BATCH="${BATCH:-64}"
WARMUP=50
JDK="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME="$JDK" MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
JAVA=("$JDK/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow)
(( IMAGES / BATCH > WARMUP + 50 )) || { echo "IMAGES/BATCH must exceed $((WARMUP + 50)) steps" >&2; exit 2; }
[[ -f "$DATA/train-images-idx3-ubyte.gz" || -f "$DATA/train-images-idx3-ubyte" ]] || { echo "no Fashion-MNIST in $DATA (apt-get install dataset-fashion-mnist)" >&2; exit 2; }

echo "dl4j peer: building wrpn and the DL4J peer" >&2
mvn -B -q -f "$ROOT/pom.xml" -Dwrpn.buildDir="$BUILD_DIR" -Dwrpn.skipPtx -Dmaven.test.skip=true package
JAR="$BUILD_DIR/wrpn-0.1.0-SNAPSHOT-all.jar"
PB="$BUILD_DIR/peer-dl4j"
mvn -B -q -f "$ROOT/benchmarks/peers/dl4j/pom.xml" -Dpeer.buildDir="$PB" compile \
  org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath -Dmdep.outputFile="$PB/classpath.txt" \
  -Dmdep.includeScope=runtime
PEER_CP="$PB/classes:$(cat "$PB/classpath.txt")"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
STAT0="$(head -1 /proc/stat)"; T0="$(date +%s.%N)"
for r in $(seq 1 "$ROUNDS"); do
  echo "dl4j peer: round $r/$ROUNDS: wrpn train" >&2
  /usr/bin/time -f "%M %U %S" -o "$WORK/wrpn-$r.time" "${JAVA[@]}" -jar "$JAR" train --model lenet --width 1 --wbits 32 --abits 32 \
    --batch "$BATCH" --epochs 1 --limit-train "$IMAGES" --limit-test "$BATCH" --data "$DATA" --device cpu --seed 1 \
    --out "$WORK/wrpn-$r" --no-progress >"$WORK/wrpn-$r.log" 2>&1 || { cat "$WORK/wrpn-$r.log" >&2; exit 1; }
  echo "dl4j peer: round $r/$ROUNDS: DL4J" >&2
  /usr/bin/time -f "%M %U %S" -o "$WORK/dl4j-$r.time" "${JAVA[@]}" -cp "$PEER_CP" org.wrpn.peers.Dl4jLenet --data "$DATA" \
    --batch "$BATCH" --images "$IMAGES" --warmup-steps "$WARMUP" --out "$WORK/dl4j-$r.json" >"$WORK/dl4j-$r.log" 2>&1 \
    || { cat "$WORK/dl4j-$r.log" >&2; exit 1; }
done
STAT1="$(head -1 /proc/stat)"; T1="$(date +%s.%N)"

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] && COMMIT="$COMMIT+uncommitted"
mkdir -p "$OUT"
python3 - "$WORK" "$OUT/peer-dl4j-cpu" "$ROUNDS" "$BATCH" "$IMAGES" "$WARMUP" "$COMMIT" "$STAT0" "$STAT1" "$T0" "$T1" \
  "$("${JAVA[@]}" -version 2>&1 | head -1)" <<'PY'
import json, os, platform, statistics, sys
work, base, rounds, batch, images, warmup, commit, s0, s1, t0, t1, java = sys.argv[1:13]
rounds, batch, images, warmup = int(rounds), int(batch), int(images), int(warmup)
def busy(line):
    f = [int(v) for v in line.split()[1:9]]
    return sum(v for i, v in enumerate(f) if i not in (3, 4))
def timefile(p):
    kb, user, sys_ = open(p).read().split()[-3:]
    return int(kb) * 1024, float(user) + float(sys_)
runs, own_cpu = [], 0.0
for r in range(1, rounds + 1):
    steps = [json.loads(l) for l in open(f"{work}/wrpn-{r}/metrics.jsonl") if '"type":"step"' in l.replace(" ", "")]
    at = {s["step"]: s["step"] * batch / s["images_per_second"] for s in steps}  # seconds since the epoch began
    first, last = warmup, max(at)
    wrpn_ips = (last - first) * batch / (at[last] - at[first])
    rss, cpu = timefile(f"{work}/wrpn-{r}.time"); own_cpu += cpu
    runs.append({"round": r, "peer": "wrpn", "images_per_s": wrpn_ips, "steps_timed": last - first, "rss_peak_bytes": rss})
    d = json.load(open(f"{work}/dl4j-{r}.json"))
    rss, cpu = timefile(f"{work}/dl4j-{r}.time"); own_cpu += cpu
    runs.append({"round": r, "peer": "dl4j", "images_per_s": d["images_per_s"], "steps_timed": d["steps"] - d["warmup_steps"],
                 "rss_peak_bytes": rss, "median_step_s": d["median_step_s"]})
wall = float(t1) - float(t0)
other = max(0.0, (busy(s1) - busy(s0)) / 100 - own_cpu) / wall
w = statistics.median(r["images_per_s"] for r in runs if r["peer"] == "wrpn")
dl = statistics.median(r["images_per_s"] for r in runs if r["peer"] == "dl4j")
cpu = platform.machine()
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip() + f" x{os.cpu_count()}"
        break
doc = {"suite": "peer-dl4j", "commit": commit,
       "machine": {"cpu": cpu, "java": java, "os": f"{platform.system()} {platform.release()}", "host": platform.node(), "commit": commit},
       "config": {"model": "lenet", "width": 1, "wbits": 32, "abits": 32, "batch": batch, "images": images, "rounds": rounds,
                  "warmup_steps": warmup, "data": "Fashion-MNIST train images (the first `images`)",
                  "wrpn": "wrpn train --model lenet --width 1 --wbits 32 --abits 32 --device cpu (SGD momentum 0.9, cosine LR)",
                  "dl4j": "Deeplearning4j 1.0.0-M2.1 MultiLayerNetwork, NCHW, workspaces ENABLED, Nesterov momentum 0.9, fit(iterator)",
                  "images_per_s": "steady state: images of the steps after the warm-up / their wall time"},
       "contention": {"cores": os.cpu_count(), "other_processes_avg_cores_busy": round(other, 2), "wall_seconds": round(wall, 1)},
       "wrpn_images_per_s": w, "dl4j_images_per_s": dl, "ratio_wrpn_over_dl4j": w / dl, "runs": runs}
json.dump(doc, open(base + ".json", "w"), indent=2)
with open(base + ".csv", "w") as f:
    f.write("round,peer,images_per_s,steps_timed,rss_peak_bytes,machine,commit\n")
    for r in runs:
        f.write(f"{r['round']},{r['peer']},{r['images_per_s']:.2f},{r['steps_timed']},{r['rss_peak_bytes']},\"{cpu}\",{commit}\n")
    f.write(f"median,wrpn/dl4j,{w / dl:.3f},,,\"{cpu}\",{commit}\n")
print(f"wrpn {w:.1f} img/s, DL4J {dl:.1f} img/s: wrpn/DL4J = {w / dl:.2f} "
      f"(other processes kept {other:.2f} of {os.cpu_count()} cores busy on average)")
print(f"wrote {base}.json and {base}.csv")
PY
