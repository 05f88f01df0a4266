#!/usr/bin/env bash
# Server latency and throughput on loopback (BENCHMARKS.md, "spool serve"): fills a store
# with 10,000 sessions plus the fixture shop flow, starts a release `spool serve`, and runs
# wrk against /health, list-sessions (REST) and analyze-har on the stored shop session, then
# /health and list-sessions again with authentication and rate limiting on; then the handler
# alone (`spool tool --repeat`) and tools/call over MCP stdio for the overhead; then
# captures per minute of the fixture shop flow served with pools of 1, 2 and 4 browsers
# (one session per browser; CAPTURES calls, 4 at a time, with curl).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/target-dir.sh
command -v wrk >/dev/null 2>&1 || {
  echo "bench-serve: installing wrk" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
}
cargo build --release --locked -q -p spool-server
cargo build --release --locked -q -p spool-benches --example fill_store
spool="$CARGO_TARGET_DIR/release/spool"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
id=$("$CARGO_TARGET_DIR/release/examples/fill_store" "$work/store" 10000)
port=${PORT:-38471}
"$spool" --data "$work/store" serve --addr "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"
duration=${DURATION:-10s}
threads=${THREADS:-2}
conns=${CONNECTIONS:-16}
cat > "$work/analyze.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"sessionId": "$id"}'
wrk.headers["Content-Type"] = "application/json"
LUA
echo "== GET /health"
wrk -t"$threads" -c"$conns" -d"$duration" --latency "$base/health"
echo "== GET /api/v1/sessions?limit=50 (list-sessions over 10,000 sessions)"
wrk -t"$threads" -c"$conns" -d"$duration" --latency "$base/api/v1/sessions?limit=50"
echo "== GET /api/v1/sessions?limit=50&task=shop%20cart (word filter)"
wrk -t"$threads" -c"$conns" -d"$duration" --latency "$base/api/v1/sessions?limit=50&task=shop%20cart"
echo "== POST /api/tools/analyze-har/call on the stored shop session"
wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$work/analyze.lua" "$base/api/tools/analyze-har/call"
kill "$server"; wait "$server" 2>/dev/null || true
# The same two routes with authentication and rate limiting on (limits too high to refuse
# anything), to see what the layers cost.
"$spool" --data "$work/store" serve --addr "127.0.0.1:$port" --api-key bench-key \
  --rate-limits true --rate-limit "default=1000000/1000000,list-sessions=1000000/1000000" \
  2>"$work/serve-auth.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
echo "== GET /health (auth and rate limits on)"
wrk -t"$threads" -c"$conns" -d"$duration" --latency -H "X-API-Key: bench-key" "$base/health"
echo "== GET /api/v1/sessions?limit=50 (auth and rate limits on)"
wrk -t"$threads" -c"$conns" -d"$duration" --latency -H "X-API-Key: bench-key" "$base/api/v1/sessions?limit=50"
kill "$server"; wait "$server" 2>/dev/null || true
echo "== the handler alone, in process (empty store, as the MCP test)"
"$spool" --data "$work/empty" tool list-sessions '{"limit": 1}' --repeat 2000 >/dev/null
echo "== tools/call over MCP stdio (rmcp client)"
cargo test --release --locked -q -p spool-server --test serve mcp_tools_call_latency -- --ignored --nocapture 2>&1 \
  | grep 'MCP stdio'
echo "== capture-and-analyze of the shop flow: captures per minute with pools of 1, 2 and 4 browsers"
"$spool" fixture-site --port 0 >"$work/fixture.log" 2>&1 &
fixture=$!
for _ in $(seq 100); do grep -q 'fixture app on' "$work/fixture.log" && break; sleep 0.1; done
site=$(grep -o 'http://[0-9.:]*' "$work/fixture.log" | head -1)
captures=${CAPTURES:-16}
for browsers in 1 2 4; do
  rm -rf "$work/captures"
  "$spool" --data "$work/captures" serve --addr "127.0.0.1:$port" --max-browsers "$browsers" \
    --contexts-per-browser 1 --acquire-timeout 600 2>"$work/serve-captures.log" &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  body="{\"targetUrl\": \"$site/shop/?auto=1\", \"taskDescription\": \"log in to the shop and order the first item\", \"waitFor\": \"document.title === 'done'\", \"captureLevel\": 2}"
  # One untimed call starts a browser.
  curl -sf -X POST -H 'Content-Type: application/json' -d "$body" "$base/api/tools/capture-and-analyze/call" >/dev/null
  start=$(date +%s.%N)
  seq "$captures" | xargs -P 4 -I{} curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d "$body" "$base/api/tools/capture-and-analyze/call"
  end=$(date +%s.%N)
  awk -v n="$captures" -v b="$browsers" -v s="$start" -v e="$end" \
    'BEGIN { printf "%d browsers: %d captures in %.1f s = %.1f captures/min\n", b, n, e - s, n / (e - s) * 60 }'
  kill "$server"; wait "$server" 2>/dev/null || true
done
kill "$fixture"; wait "$fixture" 2>/dev/null || true
