#!/usr/bin/env python3
"""Server CPU per query of switchyard against each peer, repeat by repeat, from one harness
run's results.tsv (bench/run.sh writes it; the harness interleaves the servers per repeat, so
a repeat's rows ran minutes apart at most). Prints, per transport and peer: each repeat's
ratio, the median of those ratios, the ratio of the servers' medians (what the harness's own
summary table gives), and how many repeats are at or below the goal (issue 12: UDP 0.8).

Usage: bench/ratios.py OUT [--goal 0.8] [--server switchyard]
"""

import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def us_per_query(row: dict) -> float:
    # srv_cpu_pct is the server's CPU over the dnsperf run (100 = one core busy): the same
    # formula as the harness's table.
    return float(row["srv_cpu_pct"]) / 100 * float(row["wall_s"]) * 1e6 / max(1, int(row["completed"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--goal", type=float, default=0.8)
    parser.add_argument("--server", default="switchyard")
    args = parser.parse_args()
    path = args.out / "results.tsv"
    if not path.exists():
        print(f"ratios: no {path}", file=sys.stderr)
        return 1
    # (transport, server) -> repeat -> µs/q; light-load rows (transport "udp@50k") are skipped.
    cost: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    with path.open() as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if "@" not in row["transport"]:
                cost[(row["transport"], row["server"])][row["rep"]] = us_per_query(row)
    printed = False
    for (transport, peer), peer_cost in sorted(cost.items()):
        ours = cost.get((transport, args.server))
        if peer == args.server or not ours:
            continue
        repeats = sorted(set(ours) & set(peer_cost), key=int)
        if not repeats:
            continue
        ratios = [ours[r] / peer_cost[r] for r in repeats]
        print(f"\n{transport}, {args.server} / {peer} (server CPU per query)\n")
        print(f"| repeat | {peer} µs/q | {args.server} µs/q | ratio |")
        print("|---|---|---|---|")
        for r, ratio in zip(repeats, ratios):
            print(f"| {r} | {peer_cost[r]:.2f} | {ours[r]:.2f} | {ratio:.3f} |")
        of_medians = statistics.median(ours[r] for r in repeats) / statistics.median(peer_cost[r] for r in repeats)
        within = sum(ratio <= args.goal for ratio in ratios)
        print(f"\nmedian of ratios {statistics.median(ratios):.3f}, ratio of medians {of_medians:.3f}, "
              f"{within} of {len(ratios)} repeats at or below {args.goal}")
        printed = True
    if not printed:
        print(f"ratios: no repeat with both {args.server} and a peer in {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
