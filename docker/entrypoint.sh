#!/usr/bin/env bash
# Entrypoint of the wrpn image: runs the CLI with the image's Java runtime. exec replaces the shell,
# so the JVM receives SIGTERM/SIGINT from the init (tini) and checkpoints before it stops; its exit
# code (0 done, 2 bad input, 3 out of memory, 4 numerical failure, 7 a rank lost, 130/143 interrupted) is
# the container's. Data is read from /data and runs are written under /runs (volumes). $WRPN_HOME/lib
# holds PyTorch's c10d natives for data-parallel training on CPUs (loaded only by a job of several ranks).
set -eu
WRPN_HOME="${WRPN_HOME:-/opt/wrpn}"
JAVA="${WRPN_JAVA:-$WRPN_HOME/jre/bin/java}"
JAR="${WRPN_JAR:-$WRPN_HOME/wrpn.jar}"
cd "${WRPN_RUNS:-/runs}"
# The JVM's first stderr line with jdk.incubator.vector (the Vector API of the CPU's quantize+pack) is a warning
# nothing turns off: dropped as the wrpn launcher drops it, the rest passed through as it comes.
drop_incubator_warning() {
  trap '' INT TERM
  local first
  if IFS= read -r first; then
    [[ "$first" == "WARNING: Using incubator modules: jdk.incubator.vector" ]] || printf '%s\n' "$first"
    exec cat
  fi
  printf '%s' "$first"
}
exec "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  ${WRPN_JAVA_OPTS:-} -cp "$JAR:$WRPN_HOME/lib/*" org.wrpn.cli.Main "$@" 2> >(drop_incubator_warning >&2)
