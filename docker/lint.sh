#!/usr/bin/env bash
# Lints docker/Dockerfile with dockerfile_lint (npm) and wrpn's rules; also feeds it a known-bad
# Dockerfile to prove the rules still bite. Needs node/npm and the npm registry.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${WRPN_LINT_TOOLS:-${TMPDIR:-/tmp}/wrpn-dockerfile-lint}"
LINT="$TOOLS/node_modules/.bin/dockerfile_lint"
if [[ ! -x "$LINT" ]]; then
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" dockerfile_lint@0.3.4 >/dev/null
fi
RULES="$ROOT/docker/dockerfile_lint_rules.yaml"
"$LINT" -r "$RULES" -f "$ROOT/docker/Dockerfile" | grep -q "Check passed" || {
  "$LINT" -r "$RULES" -f "$ROOT/docker/Dockerfile"
  echo "docker/lint.sh: docker/Dockerfile fails the lint" >&2
  exit 1
}
bad="$(mktemp)"
trap 'rm -f "$bad"' EXIT
printf 'FROM ubuntu:latest\nRUN apt-get install -y curl\nCMD echo hi\n' >"$bad"
if "$LINT" -r "$RULES" -f "$bad" | grep -q "Check passed"; then
  echo "docker/lint.sh: the rules let a bad Dockerfile pass" >&2
  exit 1
fi
echo "docker/lint.sh: docker/Dockerfile passes dockerfile_lint ($RULES)"
