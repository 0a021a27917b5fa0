#!/usr/bin/env bash
# Runs the Playwright suite against the release build: one open server and one with an API token,
# each on its own port with a fresh database, stopped when the suite ends (pass or fail).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${AMP_BIN:-${CARGO_TARGET_DIR:-target}/release/amp-orchestrator}
[ -x "$BIN" ] || { echo "e2e: $BIN is missing; run 'make build' first" >&2; exit 1; }
[ -f target/site/pkg/amp-orchestrator.wasm ] || { echo "e2e: dashboard assets missing; run 'make build' first" >&2; exit 1; }

PORT=${E2E_PORT:-18080}
AUTH_PORT=${E2E_AUTH_PORT:-18081}
TOKEN="e2e-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
work=$(mktemp -d)
artifacts="$PWD/end2end/artifacts"
mkdir -p "$artifacts"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start() { # name port extra-yaml
  cat >"$work/$1.yml" <<YAML
server:
  listen: 127.0.0.1:$2
  site_root: $PWD/target/site
database:
  url: sqlite://$work/$1.db
workers:
  enabled: false
$3
YAML
  RUST_LOG=${RUST_LOG:-info} "$BIN" --config "$work/$1.yml" >"$artifacts/server-$1.log" 2>&1 &
  pids+=($!)
}
start open "$PORT" ""
start auth "$AUTH_PORT" "auth:
  api_tokens: [\"$TOKEN\"]"

cd end2end
BASE_URL="http://127.0.0.1:$PORT" AUTH_BASE_URL="http://127.0.0.1:$AUTH_PORT" AUTH_TOKEN="$TOKEN" \
  ARTIFACTS_DIR="$artifacts" npx playwright test "$@"
if grep -q "$TOKEN" "$artifacts"/server-*.log; then
  echo "e2e: the API token appeared in a server log" >&2
  exit 1
fi
echo "e2e: screenshots and server logs in end2end/artifacts/"
