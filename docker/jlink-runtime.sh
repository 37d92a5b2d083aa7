#!/usr/bin/env bash
# Builds a stripped Java 25 runtime with jlink. One recipe for the GPU device bundle
# (benchmarks/device-check.sh) and the Docker image (docker/Dockerfile).
#   docker/jlink-runtime.sh JDK OUT gpu-bundle|image
# gpu-bundle: what the bundle's GPU path needs (no JavaCPP libraries, no log4j-core, no plots).
# image:      the whole shaded jar: log4j-core and XChart need java.desktop, Jackson java.sql,
#             Log4j's JNDI lookup classes java.naming, the data loader and benchmarks java.management,
#             JavaCPP jdk.unsupported.
# Both hold jdk.incubator.vector: every launcher adds it (--add-modules), for the CPU's quantize+pack.
set -euo pipefail
JDK="${1:?JDK}"
OUT="${2:?output directory}"
case "${3:?profile}" in
  gpu-bundle) MODULES=java.base,java.logging,jdk.unsupported,java.management,jdk.incubator.vector ;;
  image) MODULES=java.base,java.logging,jdk.unsupported,java.management,java.desktop,java.naming,java.sql,java.xml,jdk.incubator.vector ;;
  *) echo "jlink-runtime: unknown profile $3 (gpu-bundle or image)" >&2; exit 2 ;;
esac
rm -rf "$OUT"
"$JDK/bin/jlink" --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages \
  --compress=zip-9 --output "$OUT"
# libjvm.so ships with its symbol table: megabytes that a run never needs.
if command -v strip >/dev/null; then strip --strip-unneeded "$OUT/lib/server/libjvm.so"; fi
echo "jlink-runtime: $OUT ($MODULES), $(du -sh "$OUT" | cut -f1)"
