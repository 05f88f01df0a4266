#!/usr/bin/env bash
# The demo: installs what Spool needs (Debian's Chromium included) when missing, builds the
# `spool` binary, starts the bundled fixture app on 127.0.0.1, captures its shop flow at
# capture level 3 into the embedded store, and prints the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/target-dir.sh
cargo build --release --locked -p spool-server
exec "$CARGO_TARGET_DIR/release/spool" demo "$@"
