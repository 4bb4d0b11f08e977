#!/usr/bin/env bash
# Benchmarks switchyard side by side with NSD and Knot DNS in one run, using the shared
# harness (../shared/bench/run_peers.sh): same zone, same query file, same machine,
# servers interleaved, dnsperf on CPU 1 and the server on CPU 0.
# Usage: bench/run.sh [extra run_peers.sh options, e.g. --repeats 3 --extra 100000]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
harness=${SWITCHYARD_BENCH_HARNESS:-$here/../shared/bench/run_peers.sh}
[ -x "$harness" ] || { echo "bench: harness not found at $harness" >&2; exit 1; }
bin=$here/.build/release/switchyard
[ -x "$bin" ] || { echo "bench: build first (make release)" >&2; exit 1; }
out=${BENCH_OUT:-$here/bench/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
exec "$harness" --servers nsd,knot --server-name switchyard \
  --server-cmd "$bin serve --zones {DIR} --listen 127.0.0.1:{PORT} --threads 1 --log-level warning" \
  --out "$out" "$@"
