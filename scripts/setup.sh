#!/usr/bin/env bash
# Installs what Spool needs on a fresh Debian machine, non-interactively, as root:
# Debian's Chromium (never a downloaded browser build), jq and curl for the generated shell
# scripts, Python's `requests` for the generated Python scripts, and for the server's tests
# the Python `mcp` SDK (a third-party MCP client), `openapi-spec-validator` and
# `prometheus-client` (a Prometheus text-format parser for /metrics), and Node.js with
# `@puppeteer/replay` (the DevTools Recorder schema's own parser) and `playwright-core`
# (the replay bench's comparison, driving Debian's Chromium), under ~/.cache/spool-node;
# nothing that downloads a browser is installed. Idempotent: it only installs what is missing.
set -euo pipefail

need_apt=()
chrome="${SPOOL_CHROME:-/usr/bin/chromium}"
[ -x "$chrome" ] || need_apt+=(chromium)
command -v jq >/dev/null 2>&1 || need_apt+=(jq)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)

if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! python3 -c 'import requests' >/dev/null 2>&1; then
  echo "setup: installing the Python package requests" >&2
  python3 -m pip install --quiet requests || python3 -m pip install --quiet --break-system-packages requests
fi

pip_install() {
  python3 -m pip install --quiet "$@" || python3 -m pip install --quiet --break-system-packages "$@"
}

if ! python3 -c 'from mcp.client.streamable_http import streamable_http_client' >/dev/null 2>&1; then
  echo "setup: installing the Python MCP SDK (mcp)" >&2
  pip_install 'mcp>=2.3'
fi

if ! python3 -c 'import openapi_spec_validator' >/dev/null 2>&1; then
  echo "setup: installing the Python package openapi-spec-validator" >&2
  pip_install openapi-spec-validator
fi

if ! python3 -c 'import prometheus_client' >/dev/null 2>&1; then
  echo "setup: installing the Python package prometheus-client (parses /metrics in tests)" >&2
  pip_install prometheus-client
fi

node_dir="$HOME/.cache/spool-node"
if [ ! -f "$node_dir/node_modules/@puppeteer/replay/package.json" ] ||
   [ ! -f "$node_dir/node_modules/playwright-core/package.json" ]; then
  echo "setup: installing @puppeteer/replay (validates DevTools Recorder JSON in tests) and playwright-core (the replay bench's comparison; no browser download)" >&2
  mkdir -p "$node_dir"
  PUPPETEER_SKIP_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$node_dir" \
    --silent --no-audit --no-fund --legacy-peer-deps @puppeteer/replay@3.1.3 playwright-core@1.65 >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; Spool builds with the machine's Rust toolchain (rustup)" >&2
  exit 1
fi
