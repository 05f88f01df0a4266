#!/usr/bin/env bash
# Records the fixture flows in real headless Chromium at capture levels 2 and 3 and writes
# fixtures/har/flows/<flow>.l2.har and <flow>.l3.har: the analyzer's ground-truth inputs.
# Run it again after a change to the fixture app or to capture; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/target-dir.sh
cargo build -q -p spool-server
spool="$CARGO_TARGET_DIR/debug/spool"
port="${PORT:-18931}"
"$spool" fixture-site --port "$port" >/dev/null &
site=$!
trap 'kill $site 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done
out=fixtures/har/flows
mkdir -p "$out"
tmp=$(mktemp -d)
for flow in shop signed captcha static noisy; do
  case $flow in
    shop|captcha) path="/$flow/?auto=1" ;;
    *) path="/$flow/" ;;
  esac
  for level in 2 3; do
    "$spool" capture --url "http://127.0.0.1:$port$path" --level "$level" --timeout 60 \
      --wait-for "document.title === 'done'" --out "$tmp/$flow-$level" >/dev/null
    cp "$tmp/$flow-$level/session.har" "$out/$flow.l$level.har"
    echo "recorded $out/$flow.l$level.har"
  done
done
rm -rf "$tmp"
