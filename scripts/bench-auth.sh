#!/usr/bin/env bash
# What authentication and rate limiting cost (BENCHMARKS.md, issue 11): a release `spool
# serve` over a store of 10,000 sessions, started alternately without and with an API key
# and rate limits (set too high to refuse anything), ROUNDS times (default 3); each time
# wrk runs against /health and list-sessions for DURATION (default 10s). Alternating rounds
# spread the machine's drift over both sides; compare the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/target-dir.sh
command -v wrk >/dev/null 2>&1 || {
  echo "bench-auth: installing wrk" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
}
cargo build --release --locked -q -p spool-server
cargo build --release --locked -q -p spool-benches --example fill_store
spool="$CARGO_TARGET_DIR/release/spool"
work=$(mktemp -d)
server=""
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi; wait 2>/dev/null || true; rm -rf "$work"' EXIT
"$CARGO_TARGET_DIR/release/examples/fill_store" "$work/store" 10000 >/dev/null
port=${PORT:-38472}
base="http://127.0.0.1:$port"
duration=${DURATION:-10s}
rounds=${ROUNDS:-3}
for round in $(seq "$rounds"); do
  for mode in off on; do
    if [ "$mode" = on ]; then
      extra=(--api-key bench-key --rate-limits true --rate-limit "default=1000000/1000000,list-sessions=1000000/1000000")
      header=(-H "X-API-Key: bench-key")
    else
      extra=()
      header=()
    fi
    "$spool" --data "$work/store" serve --addr "127.0.0.1:$port" "${extra[@]}" 2>/dev/null &
    server=$!
    for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
    for path in /health "/api/v1/sessions?limit=50"; do
      out=$(wrk -t2 -c16 -d"$duration" --latency "${header[@]}" "$base$path")
      rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
      p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
      p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
      echo "round $round auth $mode $path: $rps requests/s, p50 $p50, p99 $p99"
    done
    kill "$server"; wait "$server" 2>/dev/null || true
    server=""
  done
done
