#!/bin/sh
# Serving throughput (docs/PERFORMANCE.md, "Serving"): the example's two-step endpoint vs the
# ingress's own 404, same daemon, same run. Needs `wrk` (Debian: apt-get install wrk) and
# release binaries: cargo build --release -p releasd -p rel-bench
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${BIN:-$here/../../../target/release}
out=$(mktemp)
"$bin/relbench" hostile --serve >"$out" &
bench=$!
trap 'kill $bench 2>/dev/null; rm -f "$out"' EXIT
while ! grep -q '^url=' "$out"; do sleep 0.2; done
url=$(sed -n 's/^url=\([^ ]*\) .*/\1/p' "$out")
REL_TOKEN=$(sed -n 's/.* token=\([^ ]*\) .*/\1/p' "$out")
export REL_TOKEN
base=${url%/v1/trigger/chat}
wrk -t2 -c64 -d3s -s "$here/trigger.lua" "$url" >/dev/null # warm up the workers
echo "== trigger (template + transform)"
wrk -t2 -c64 -d10s --latency -s "$here/trigger.lua" "$url"
echo "== 404 (no run)"
wrk -t2 -c64 -d10s --latency -s "$here/trigger.lua" "$base/v1/nothing"
