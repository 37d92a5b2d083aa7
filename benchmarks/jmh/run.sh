#!/usr/bin/env bash
# JMH benchmarks of wrpn's Java-level pack/unpack and quantizers (see benchmarks/README.md).
#   benchmarks/jmh/run.sh [--quick] [JMH args...]    e.g. --quick CpuKernelsBench
# Builds wrpn's shaded jar (BUILD_DIR, default target/; -Dwrpn.skipPtx) and this module against it,
# runs JMH, and writes OUT (default benchmarks/results)/jmh-cpu[-quick].{json,csv}: the JMH scores
# (elements/s) with GB/s from each op's bytes per element, the machine, commit and contention.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/target}"
OUT="${OUT:-$ROOT/benchmarks/results}"
JDK="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME="$JDK" MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
NAME=jmh-cpu
JMH_ARGS=()
if [[ "${1:-}" == "--quick" ]]; then
  shift
  NAME=jmh-cpu-quick
  JMH_ARGS=(-wi 1 -i 2 -w 500ms -r 500ms)
fi

mvn -B -q -f "$ROOT/pom.xml" -Dwrpn.buildDir="$BUILD_DIR" -Dwrpn.skipPtx -Dmaven.test.skip=true package
JAR="$BUILD_DIR/wrpn-0.1.0-SNAPSHOT-all.jar"
JB="$BUILD_DIR/jmh"
mvn -B -q -f "$ROOT/benchmarks/jmh/pom.xml" -Dwrpn.jar="$JAR" -Djmh.buildDir="$JB" compile \
  org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath -Dmdep.outputFile="$JB/classpath.txt" \
  -Dmdep.includeScope=runtime
CP="$JB/classes:$(cat "$JB/classpath.txt"):$JAR"

mkdir -p "$OUT"
RAW="$JB/$NAME-raw.json"
LOAD0="$(head -1 /proc/stat)"; SELF0="$(date +%s)"
"$JDK/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -cp "$CP" \
  org.openjdk.jmh.Main "${JMH_ARGS[@]}" -rf json -rff "$RAW" "$@"
LOAD1="$(head -1 /proc/stat)"

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] && COMMIT="$COMMIT+uncommitted"
python3 - "$RAW" "$OUT/$NAME" "$COMMIT" "$LOAD0" "$LOAD1" "$SELF0" "${JMH_ARGS[*]} $*" <<'PY'
import json, os, platform, sys, time
raw, base, commit, load0, load1, t0, args = sys.argv[1:8]
runs = json.load(open(raw))
cpu = platform.machine()
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip() + f" x{os.cpu_count()}"
        break
def busy(l):
    f = [int(v) for v in l.split()[1:9]]
    return sum(v for i, v in enumerate(f) if i not in (3, 4))
seconds = max(1e-9, time.time() - float(t0))
# All processes' busy CPU (this benchmark included: JMH runs one thread at a time here).
cores_busy = (busy(load1) - busy(load0)) / 100 / seconds
def bytes_per_element(bench, k):
    op = bench.rsplit(".", 1)[1]
    return {"pack": 4 + k / 8, "unpack": k / 8 + 4, "quantizePack": 4 + k / 8 + 1 / 8, "unpackValues": k / 8 + 4,
            "quantizeActivations": 8, "activationCodes": 8, "weightCodes": 8, "quantizeWeights": 8}[op]
rows = []
for r in runs:
    k = int(r.get("params", {}).get("bits", 32))
    score = r["primaryMetric"]["score"]
    err = r["primaryMetric"]["scoreError"]
    err = None if err != err else err  # NaN with fewer than 3 iterations
    bpe = bytes_per_element(r["benchmark"], k)
    rows.append({"benchmark": r["benchmark"].replace("org.wrpn.jmh.", ""), "bits": k,
                 "elements_per_s": score, "error_99_9": err,
                 "bytes_per_element": bpe, "gbps": score * bpe / 1e9,
                 "forks": r["forks"], "warmup": f"{r['warmupIterations']}x{r['warmupTime']}",
                 "measurement": f"{r['measurementIterations']}x{r['measurementTime']}"})
jvm = f"{runs[0]['vmName']} {runs[0]['jdkVersion']}" if runs else ""
machine = {"cpu": cpu, "java": jvm, "os": f"{platform.system()} {platform.release()}", "host": platform.node(), "commit": commit}
doc = {"suite": "jmh", "machine": machine, "commit": commit,
       "config": {"jmh_args": args.strip(), "tensor": "2^20 elements, 64 channels, channels-last",
                  "score": "elements per second (one JMH operation = one element)",
                  "gbps": "elements/s x bytes per element (input read once, outputs written once)"},
       "contention": {"cores": os.cpu_count(), "all_processes_avg_cores_busy": round(cores_busy, 2),
                      "note": "JMH itself keeps about 1 core busy; more means other processes ran"},
       "rows": rows}
json.dump(doc, open(base + ".json", "w"), indent=2)
with open(base + ".csv", "w") as f:
    cols = list(rows[0].keys()) if rows else []
    f.write(",".join(cols + ["machine", "commit"]) + "\n")
    for r in rows:
        f.write(",".join(("%.6g" % r[c]) if isinstance(r[c], float) else ("" if r[c] is None else str(r[c])) for c in cols) + f',"{cpu}",{commit}\n')
print(f"wrote {base}.json and {base}.csv ({len(rows)} rows; all processes kept {cores_busy:.2f} cores busy on average)")
PY
