#!/usr/bin/env bash
# Times the whole process of turning every CDP perflog in fixtures/perflogs/ into HAR 1.2:
#   (a) chrome-har, the peer converter: one `node scripts/chrome-har/convert.js` over all logs;
#   (b) Spool: one `spool har-from-events <perflog.json>...` over all logs (converted on all
#       cores, one HAR per line on stdout), and, for the record, one `spool` process per log.
# Both read, parse, convert and serialize every log and write the HARs to /dev/null, so
# start-up costs are part of the result.
#
# Usage: scripts/bench-har-from-events.sh [markdown output, default /tmp/har-from-events.md]
# Environment:
#   SPOOL_BIN       the spool binary (default: built in release mode into the target dir);
#   SKIP_SPOOL=1    time only chrome-har (for as long as `spool har-from-events` does not exist)
#   CHROME_HAR_DIR  where chrome-har is installed (default ~/.cache/spool-chrome-har)
#   HYPERFINE_ARGS  extra hyperfine arguments, e.g. "--runs 20"
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
markdown="${1:-/tmp/har-from-events.md}"
export CHROME_HAR_DIR="${CHROME_HAR_DIR:-$HOME/.cache/spool-chrome-har}"

die() {
    echo "bench-har-from-events: $*" >&2
    exit 1
}

# hyperfine is a Debian package; install it only when it is missing, and only as root, since
# changing the system behind a non-root user's back would be a surprise.
if ! command -v hyperfine >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update && apt-get install -y hyperfine
    else
        die "hyperfine is missing: run 'sudo apt-get install -y hyperfine'"
    fi
fi
command -v node >/dev/null || die "node is missing (Node 18 or later is needed by chrome-har)"

# chrome-har lives outside the repository so no node_modules ever lands in the checkout.
if [ ! -f "$CHROME_HAR_DIR/node_modules/chrome-har/package.json" ]; then
    mkdir -p "$CHROME_HAR_DIR"
    npm install --prefix "$CHROME_HAR_DIR" --no-audit --no-fund chrome-har@latest
fi

shopt -s nullglob
logs=("$repo"/fixtures/perflogs/*.json)
[ "${#logs[@]}" -gt 0 ] || die "no perflogs in $repo/fixtures/perflogs"

# Commands are handed to hyperfine as shell strings, so every path is quoted for the shell.
quoted_logs="$(printf ' %q' "${logs[@]}")"
chrome_har_cmd="node $(printf '%q' "$repo/scripts/chrome-har/convert.js")$quoted_logs"

# Check that each side works before timing it: hyperfine would stop at the first failing run
# anyway, but with a less helpful message.
(cd "$repo" && eval "$chrome_har_cmd") || die "chrome-har failed to convert the perflogs"

commands=(--command-name "chrome-har $(node -p "require('$CHROME_HAR_DIR/node_modules/chrome-har/package.json').version") (node, all logs)" "$chrome_har_cmd")

if [ "${SKIP_SPOOL:-0}" != 1 ]; then
    if [ -z "${SPOOL_BIN:-}" ]; then
        # Built (or brought up to date) first, so the timing is of the current code.
        (cd "$repo" && source scripts/target-dir.sh && cargo build --release --locked -p spool-server) \
            || die "building spool failed"
        SPOOL_BIN="$(cd "$repo" && source scripts/target-dir.sh && echo "$CARGO_TARGET_DIR")/release/spool"
    fi
    [ -x "$SPOOL_BIN" ] || die "no spool binary at $SPOOL_BIN"
    spool_all_cmd="$(printf '%q' "$SPOOL_BIN") har-from-events$quoted_logs >/dev/null"
    spool_each_cmd="for log in$quoted_logs; do $(printf '%q' "$SPOOL_BIN") har-from-events \"\$log\" >/dev/null || exit 1; done"
    "$SPOOL_BIN" har-from-events "${logs[0]}" >/dev/null \
        || die "'$SPOOL_BIN har-from-events' failed on ${logs[0]}"
    commands+=(--command-name "spool har-from-events (one process, all logs)" "$spool_all_cmd")
    commands+=(--command-name "spool har-from-events (one process per log)" "$spool_each_cmd")
fi

echo "Converting ${#logs[@]} perflogs ($(du -ch "${logs[@]}" | tail -1 | cut -f1)) to HAR per run."
# shellcheck disable=SC2086 # HYPERFINE_ARGS is a list of words on purpose.
hyperfine --warmup 2 --export-markdown "$markdown" ${HYPERFINE_ARGS:-} "${commands[@]}"
echo "Markdown table written to $markdown"
