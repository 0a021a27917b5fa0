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
CI_PORT=${E2E_CI_PORT:-18082}
TOKEN="e2e-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
GH_TOKEN="ghp_e2e_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
AMP_KEY="amp-e2e-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
work=$(mktemp -d)
artifacts="$PWD/end2end/artifacts"
mkdir -p "$artifacts"
pids=()
cleanup() {
  touch "$work/stop"
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
  enabled: $([ "$1" = ci ] && echo true || echo false)
  shutdown_grace: 2s
$3
YAML
  RUST_LOG=${RUST_LOG:-info} "$BIN" --config "$work/$1.yml" >"$artifacts/server-$1.log" 2>&1 &
  pids+=($!)
}
start open "$PORT" ""
start auth "$AUTH_PORT" "auth:
  api_tokens: [\"$TOKEN\"]"

# The full loop in a browser needs GitHub: the fake from the integration tests (simulated
# Actions included) runs as a background fixture, next to a server whose workers use Docker.
E2E_STOP_FILE="$work/stop" E2E_GH_TOKEN="$GH_TOKEN" \
  cargo test -q -p server --test integration -- --ignored --exact e2e_fixture::serve_fake_github_for_e2e --nocapture \
  >"$artifacts/fake-github.log" 2>&1 &
pids+=($!)
ready=""
for _ in $(seq 1 600); do
  ready=$(grep -m1 '^E2E_READY' "$artifacts/fake-github.log" || true)
  [ -n "$ready" ] && break
  sleep 0.5
done
[ -n "$ready" ] || { echo "e2e: the fake GitHub did not come up (end2end/artifacts/fake-github.log)" >&2; exit 1; }
gh_api=$(sed -n 's/.* api=\([^ ]*\).*/\1/p' <<<"$ready")
gh_git=$(sed -n 's/.* git=\([^ ]*\).*/\1/p' <<<"$ready")
image=$(sed -n 's/.* image=\([^ ]*\).*/\1/p' <<<"$ready")
mkdir -p "$work/ws"
start ci "$CI_PORT" "runtime:
  kind: docker
  image: $image
  network: none
  data_dir: $work/ws
  stats_interval: 1s
agent:
  kind: amp
  env:
    AMP_API_KEY: $AMP_KEY
github:
  api_url: $gh_api
  git_url: $gh_git
  token: $GH_TOKEN
ci:
  poll_interval: 300ms
  settle_window: 500ms
  no_ci_grace: 5s"

cd end2end
BASE_URL="http://127.0.0.1:$PORT" AUTH_BASE_URL="http://127.0.0.1:$AUTH_PORT" AUTH_TOKEN="$TOKEN" \
  CI_BASE_URL="http://127.0.0.1:$CI_PORT" ARTIFACTS_DIR="$artifacts" npx playwright test "$@"
for secret in "$TOKEN" "$GH_TOKEN" "$AMP_KEY"; do
  if grep -q "$secret" "$artifacts"/server-*.log; then
    echo "e2e: a secret appeared in a server log" >&2
    exit 1
  fi
done
echo "e2e: screenshots and server logs in end2end/artifacts/"
