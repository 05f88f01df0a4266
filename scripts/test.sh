#!/usr/bin/env bash
# Runs Spool's whole test suite: installs what the tests need (Debian's Chromium, jq, curl,
# Python requests) when missing, then `cargo test` over the workspace. Browser tests drive
# real headless Chromium against servers the tests start on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/target-dir.sh
cargo test --workspace --locked "$@"
