#!/usr/bin/env bash
# The README's screenshot of `spool report`: records the fixture app's shop flow with mouse
# and keyboard input (actions, screenshots, console) into a temporary store, renders its
# report with the `spool` binary, and has headless Chromium photograph the page into
# docs/img/report.png.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/target-dir.sh
cargo build --locked -p spool-server
cargo build --locked -p spool-report --example record_shop_session
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
id="$("$CARGO_TARGET_DIR/debug/examples/record_shop_session" "$work/store")"
"$CARGO_TARGET_DIR/debug/spool" --data "$work/store" report "$id" --out "$work/report.html"
mkdir -p docs/img
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1440,1900 \
  --virtual-time-budget=3000 --screenshot="$PWD/docs/img/report.png" \
  "file://$work/report.html" 2>/dev/null
echo "wrote docs/img/report.png (session $id)"
