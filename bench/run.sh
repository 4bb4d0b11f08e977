#!/usr/bin/env bash
# Benchmarks switchyard side by side with NSD and Knot DNS in one run, using the shared
# harness (../shared/bench/run_peers.sh): same zone, same query file, same machine,
# servers interleaved, dnsperf on CPU 1 and the server on CPU 0.
#
#   bench/run.sh [run_peers.sh options]          plain zone records, vs NSD and Knot; ends
#                                                with each repeat's CPU-per-query ratio to
#                                                each peer (bench/ratios.py, OUT/ratios.md)
#   bench/run.sh --stable [run_peers.sh options] broker and bootstrap names served as
#                                                stable names from an inventory
#   bench/run.sh --compare [--rounds N]          plain and stable switchyard alternated
#                                                with NSD, N rounds (default 3)
#   bench/run.sh --rrl [--rounds N]              UDP with response-rate limiting off and on
#                                                (a rate no client reaches, so every answer
#                                                goes through the limiter and none is
#                                                limited), alternated with Knot, N rounds
#   bench/run.sh --reload [changes.py options]   SIGHUP of a large zone (1M names by default),
#                                                unchanged then edited, under dnsperf: reload
#                                                time, peak RSS, lost queries (bench/changes.py)
#   bench/run.sh --floor [--rounds N] [--nxdomain]
#                                                UDP CPU per query of Knot, switchyard and
#                                                a no-op echo server (the kernel's share),
#                                                N rounds (bench/floor/floor.py); --nxdomain:
#                                                invented names only (a random-subdomain flood)
#   bench/run.sh --shifts [changes.py options]   100 broker shifts under dnsperf: time from
#                                                commit to first new answer, lost queries,
#                                                answers going back (bench/changes.py)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
harness=${SWITCHYARD_BENCH_HARNESS:-$here/../shared/bench/run_peers.sh}
[ -x "$harness" ] || { echo "bench: harness not found at $harness" >&2; exit 1; }
bin=$here/.build/release/switchyard
[ -x "$bin" ] || { echo "bench: build first (make release)" >&2; exit 1; }
out=${BENCH_OUT:-$here/bench/results/$(date +%Y%m%d-%H%M%S)}
plain_cmd="$bin serve --zones {DIR} --listen 127.0.0.1:{PORT} --threads 1 --log-level warning --state {DIR}/state --admin none"
stable_cmd="$here/bench/stable_server.sh $bin {PORT} {ZONE} {DIR}"
rrl_cmd="$plain_cmd --rrl-rate 1000000"

case "${1:-}" in
  --reload)
    shift
    exec python3 "$here/bench/changes.py" reload "$@" ;;
  --floor)
    shift
    exec python3 "$here/bench/floor/floor.py" "$@" ;;
  --shifts)
    shift
    exec python3 "$here/bench/changes.py" shifts "$@" ;;
  --stable)
    shift
    mkdir -p "$out"
    exec "$harness" --servers nsd,knot --server-name switchyard-stable --server-cmd "$stable_cmd" --out "$out" "$@" ;;
  --compare)
    shift
    mkdir -p "$out"
    rounds=3
    [ "${1:-}" = --rounds ] && { rounds=$2; shift 2; }
    for round in $(seq 1 "$rounds"); do
      "$harness" --servers nsd --server-name switchyard --server-cmd "$plain_cmd" --repeats 1 --out "$out/plain" "$@"
      "$harness" --servers none --server-name switchyard-stable --server-cmd "$stable_cmd" --repeats 1 --out "$out/stable" "$@"
    done
    echo "results in $out/plain and $out/stable" ;;
  --rrl)
    shift
    mkdir -p "$out"
    rounds=3
    [ "${1:-}" = --rounds ] && { rounds=$2; shift 2; }
    off() { "$harness" --servers knot --server-name switchyard --server-cmd "$plain_cmd" --transports udp --repeats 1 --out "$out/off" "$@"; }
    on() { "$harness" --servers none --server-name switchyard-rrl --server-cmd "$rrl_cmd" --transports udp --repeats 1 --out "$out/on" "$@"; }
    for round in $(seq 1 "$rounds"); do
      # Alternate which side goes first, so a drifting machine favours neither.
      if [ $((round % 2)) = 1 ]; then off "$@"; on "$@"; else on "$@"; off "$@"; fi
    done
    "$here/bench/rrl_summary.py" "$out" | tee "$out/summary.md" ;;
  *)
    mkdir -p "$out"
    status=0
    "$harness" --servers nsd,knot --server-name switchyard --server-cmd "$plain_cmd" --out "$out" "$@" || status=$?
    # Repeat by repeat against each peer, with the median ratio and the ratio of medians.
    python3 "$here/bench/ratios.py" "$out" | tee "$out/ratios.md" || true
    exit "$status" ;;
esac
