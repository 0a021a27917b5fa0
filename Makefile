# The two commands of the README are the contract: `make run` and `make test`.
# Both install what they need first (scripts/setup.sh, idempotent).

SHELL := /bin/bash
.DEFAULT_GOAL := run

# `make run CONFIG=path.yml` uses another config file.
CONFIG ?= $(if $(wildcard config.yml),config.yml,config.example.yml)
export PATH := $(HOME)/.cargo/bin:$(PATH)
# Build cache outside the clone: every clone on this machine (and CI on a warm machine) reuses the
# compiled dependencies. Set CARGO_TARGET_DIR to use another place; a missing one is just empty.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/amp-orchestrator/target
BIN := $(CARGO_TARGET_DIR)/release/amp-orchestrator
export AMP_BIN := $(BIN)

.PHONY: run test setup setup-e2e build lint unit-test e2e fmt bench size clean

## run: install prerequisites, build the release binary and dashboard, start on http://localhost:8080
run: setup build
	$(BIN) --config $(CONFIG)

## test: everything CI checks: formatting, clippy (server and wasm), unit + integration tests, browser tests
test: setup-e2e lint unit-test build e2e

setup:
	scripts/setup.sh

setup-e2e:
	scripts/setup.sh --e2e

## build: release server binary + WASM + CSS into target/site (cargo-leptos)
build:
	cargo leptos build --release

lint:
	cargo fmt --all -- --check
	@# Without features, app is the models alone: a Rust integration must not pull in Leptos.
	@! cargo tree -p app -e normal --prefix none | grep -E '^(leptos|tachys|server_fn) ' \
		|| { echo "app without features depends on Leptos" >&2; exit 1; }
	cargo clippy -p app --all-targets -- -D warnings
	cargo clippy -p server --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

unit-test:
	cargo test -p app
	cargo test -p server

e2e:
	scripts/e2e.sh

## bench: server time to render the list with 10,000 tasks (release build)
# With the same `erase_components` cfg as the shipped binary (always-erase-components in
# Cargo.toml), so the measured rendering is the one users get.
bench: setup
	RUSTFLAGS="--cfg erase_components" cargo bench -p server --bench list_render

## size: the release WASM bundle, raw and gzipped (target: <= 400 KB gzipped)
size: build
	@for f in target/site/pkg/amp-orchestrator.wasm target/site/pkg/amp-orchestrator.js target/site/pkg/amp-orchestrator.css; do \
		printf '%-40s %9d bytes raw %9d bytes gzip -9\n' $$f $$(wc -c < $$f) $$(gzip -9 -c $$f | wc -c); done

fmt:
	cargo fmt --all

clean:
	cargo clean
