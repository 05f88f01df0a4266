#!/usr/bin/env bash
# Runs Spool's whole test suite: installs what the tests need (Debian's Chromium, jq, curl,
# Python requests) when missing, checks formatting and lints (any clippy warning fails the
# run, see ARCHITECTURE.md, "Lints"), then `cargo test` over the workspace. Browser tests drive
# real headless Chromium against servers the tests start on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/target-dir.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked "$@"
