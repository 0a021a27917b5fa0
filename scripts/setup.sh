#!/usr/bin/env bash
# Installs what building, running and testing Amp Orchestrator needs, idempotently, on Debian as
# root (offline except for the package registries). Every step checks before it installs, so a
# second run takes seconds.
#
#   scripts/setup.sh          build + run prerequisites (Rust tools, npm tools, Docker engine)
#   scripts/setup.sh --e2e    also Chromium and Playwright for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10   # 0.3.11+ needs rustc >= 1.96; this machine has 1.95
want_e2e=false
[ "${1:-}" = "--e2e" ] && want_e2e=true

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33m[setup] WARNING:\033[0m %s\n' "$*" >&2; }

export PATH="$HOME/.cargo/bin:$PATH"
apt_updated=false
apt_install() {
  if [ "$(id -u)" != 0 ]; then warn "not root: cannot apt-get install $*"; return 1; fi
  if ! $apt_updated; then apt-get update -qq; apt_updated=true; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- Rust: the wasm32 target, cargo-leptos, wasm-bindgen (must equal Cargo.lock's) -------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes, once)"
  cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION"
fi
want_bindgen=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,"",$0); print; exit}' Cargo.lock)
have_bindgen=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$want_bindgen" != "$have_bindgen" ]; then
  say "installing wasm-bindgen-cli $want_bindgen (about 2 minutes, once)"
  # Not --locked: its lockfile pins a webpki-roots release the registry mirror may lack.
  cargo install wasm-bindgen-cli --version "$want_bindgen" --force
fi

# --- npm build tools: Tailwind and wasm-opt (cargo-leptos finds them in node_modules/.bin) -----
# `npm install`, not `npm ci`: the registry lacks Tailwind's non-Linux optional packages.
if [ ! -x node_modules/.bin/tailwindcss ] || [ ! -x node_modules/.bin/wasm-opt ] || [ package.json -nt node_modules/.package-lock.json ]; then
  say "installing npm build tools (Tailwind, binaryen)"
  npm install --no-audit --no-fund --loglevel=error
fi
if [ -x /usr/bin/wasm-opt ] && /usr/bin/wasm-opt --version 2>/dev/null | grep -q "version 1[01][0-9] "; then
  warn "Debian's binaryen is installed; its wasm-opt breaks hydration. node_modules/.bin/wasm-opt is used instead."
fi

# --- Docker engine: task containers need one (not the tests of this foundation) ---------------
if docker info >/dev/null 2>&1; then
  :
else
  if ! command -v dockerd >/dev/null 2>&1; then
    say "installing docker.io"
    apt_install docker.io || warn "could not install docker.io"
  fi
  if command -v dockerd >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "starting dockerd in the background (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  if docker info >/dev/null 2>&1; then
    say "Docker engine is up"
  else
    warn "no Docker engine is reachable: tasks cannot run containers until one is (see /var/log/dockerd.log). Continuing."
  fi
fi

# --- Tests: a static busybox for the FROM-scratch test image; Debian's Chromium and Playwright
# from npm for the browser tests (it never downloads a browser here) ----------------------------
if $want_e2e; then
  # Debian's plain `busybox` is dynamically linked and cannot run in a FROM-scratch image.
  if ! dpkg -s busybox-static >/dev/null 2>&1; then
    say "installing busybox-static (the runtime tests' image is built from it)"
    apt_install busybox-static
  fi
  if [ ! -x /usr/bin/chromium ]; then
    say "installing Debian's chromium"
    apt_install chromium
  fi
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing Playwright"
    (cd end2end && npm install --no-audit --no-fund --loglevel=error)
  fi
  # The real Claude Code and Codex CLIs (native binaries from npm) for the adapter tests against
  # fake model APIs (server/tests/integration/real_cli.rs).
  if [ ! -x tools/agent-clis/node_modules/.bin/claude ] || [ tools/agent-clis/package.json -nt tools/agent-clis/node_modules/.package-lock.json ]; then
    say "installing the Claude Code and Codex CLIs (tests only)"
    (cd tools/agent-clis && npm install --no-audit --no-fund --loglevel=error)
  fi
  tools/agent-clis/node_modules/.bin/claude --version >/dev/null \
    || { echo "setup: the Claude Code CLI in tools/agent-clis does not run" >&2; exit 1; }
  tools/agent-clis/node_modules/.bin/codex --version >/dev/null \
    || { echo "setup: the Codex CLI in tools/agent-clis does not run" >&2; exit 1; }
fi
say "ready"
