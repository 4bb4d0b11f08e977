#!/usr/bin/env bash
# Every goal of issue 12 (large zones and changes under load) in one run, back to back on one
# machine, so the figures in bench/README.md can be compared with each other:
#   goal 4  UDP CPU per query vs Knot (harness, 7 repeats) and the floor (with a no-op echo)
#   goal 1  1M names: load and RSS vs Knot, `switchyard check` vs `kzonecheck`
#   goal 2  SIGHUP of the 1M-name zone under dnsperf
#   goal 3  100 shifts under dnsperf
#   TCP     CPU per query vs Knot
# Usage: bench/goals.sh OUTDIR   (needs `make release`; about 20 minutes; run on a quiet machine)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: bench/goals.sh OUTDIR}
mkdir -p "$out"
step() { echo "[$(date -u +%H:%M:%S)] $1"; }

step "goal 4: harness, 156 names, 7 repeats"
BENCH_OUT=$out/udp "$here/bench/run.sh" --transports udp --repeats 7 --servers knot > "$out/udp.log" 2>&1
step "goal 4: floor, 9 rounds"
"$here/bench/run.sh" --floor --rounds 9 > "$out/floor.log" 2>&1
step "goal 1: 1M names vs Knot"
BENCH_OUT=$out/1m "$here/bench/run.sh" --extra 1000000 --transports udp --repeats 2 --servers knot > "$out/1m.log" 2>&1

step "goal 1: check vs kzonecheck, alternated, 3 each"
# The zone the 1M run just generated (run_peers.sh keeps its data under /tmp/bench-data-c<C>b<B>k<K>p<P>).
zone=/tmp/bench-data-c3b50k1000000p0/kafka.example.zone
mkdir -p "$out/checkzones" && cp "$zone" "$out/checkzones/kafka.example.zone"
for _ in 1 2 3; do
  /usr/bin/time -f "kzonecheck %e s %M KiB" kzonecheck -o kafka.example. "$out/checkzones/kafka.example.zone" >> "$out/check.log" 2>&1
  /usr/bin/time -f "switchyard check %e s %M KiB" "$here/.build/release/switchyard" check --zones "$out/checkzones" >> "$out/check.log" 2>&1
done
rm -rf "$out/checkzones"

step "goal 2: reload"
"$here/bench/run.sh" --reload > "$out/reload.log" 2>&1
step "goal 3: shifts"
"$here/bench/run.sh" --shifts > "$out/shifts.log" 2>&1
step "TCP, 3 repeats"
BENCH_OUT=$out/tcp "$here/bench/run.sh" --transports tcp --repeats 3 --servers knot > "$out/tcp.log" 2>&1
step "done: $out/{udp,1m,tcp}/ratios.md, floor.log, check.log, reload.log, shifts.log"
