#!/usr/bin/env bash
# Trains the zstd dictionary the store uses for HAR entries (store/src/dict/).
#
#   store/scripts/train-dict.sh OUT.zdict HAR...
#
# Each HAR entry becomes one sample (compact JSON, as the store writes it). har-v1.zdict was
# trained on chrome-har's HAR conversions of the CDP perflogs in shared/external/cdp-perflogs
# (MIT, chrome-har's test data) except www.google.com and response-blocked-cookies, which are
# test fixtures (fixtures/har/chrome-har/) and were held out to measure the ratio.
#
# A shipped dictionary is part of the on-disk format: never change or delete one. A better
# dictionary is a new file and a new frame codec (see store/DESIGN.md).
set -euo pipefail
out=$1; shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for har in "$@"; do
  python3 - "$har" "$tmp" <<'PY'
import json, os, sys
har, tmp = sys.argv[1], sys.argv[2]
base = os.path.basename(har)
for i, e in enumerate(json.load(open(har))["log"]["entries"]):
    with open(os.path.join(tmp, f"{base}.{i}.json"), "w") as f:
        f.write(json.dumps(e, separators=(",", ":"), ensure_ascii=False))
PY
done
zstd -q --train "$tmp"/* --maxdict=65536 -o "$out"
echo "trained $out from $(ls "$tmp" | wc -l) entries"
