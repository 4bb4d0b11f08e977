#!/usr/bin/env python3
"""Pairs the saturating-UDP rows of `bench/run.sh --rrl` (OUT/off and OUT/on, one row per
round each, in order) and prints server CPU per query with rate limiting off and on, the
on/off ratio of each round, and the median ratio. Rounds alternate which side runs first, so
a drift of the machine during a round does not always favour the same side.

Usage: bench/rrl_summary.py OUT
"""

import csv
import statistics
import sys
from pathlib import Path


def us_per_query(row: dict) -> float:
    # srv_cpu_pct is the server's CPU over the dnsperf run (100 = one core busy).
    return float(row["srv_cpu_pct"]) / 100 * float(row["wall_s"]) * 1e6 / max(1, int(row["completed"]))


def rows(path: Path, server: str) -> list[dict]:
    with path.open() as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["server"] == server and r["transport"] == "udp"]


def main() -> int:
    out = Path(sys.argv[1])
    off = rows(out / "off" / "results.tsv", "switchyard")
    on = rows(out / "on" / "results.tsv", "switchyard-rrl")
    knot = rows(out / "off" / "results.tsv", "knot")
    if not off or len(off) != len(on):
        print(f"expected as many rounds with RRL off as on, got {len(off)} and {len(on)}", file=sys.stderr)
        return 1
    print("| round | RRL off µs/q | RRL on µs/q | on/off | Knot µs/q | qps off | qps on |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for i, (a, b) in enumerate(zip(off, on), 1):
        ratio = us_per_query(b) / us_per_query(a)
        ratios.append(ratio)
        k = f"{us_per_query(knot[i - 1]):.2f}" if i <= len(knot) else "-"
        print(f"| {i} | {us_per_query(a):.2f} | {us_per_query(b):.2f} | {ratio:.3f} | {k} | {float(a['qps']):.0f} | {float(b['qps']):.0f} |")
    print(f"\nmedian on/off {statistics.median(ratios):.3f} over {len(ratios)} rounds "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}); "
          f"median µs/q off {statistics.median(map(us_per_query, off)):.2f}, on {statistics.median(map(us_per_query, on)):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
