#!/usr/bin/env python3
"""The UDP floor: how much of a server's CPU per query is the kernel's, on this machine.

  floor.py [--rounds 5] [--duration 10] [--nxdomain]

Serves the 156-name harness zone from Knot (one UDP worker, as in the harness) and
switchyard (--threads 1), and runs udp_echo beside them: the same socket setup and
recvmmsg/sendmmsg loop as switchyard's UDP worker, answering each query with itself
flagged as a response and doing no DNS work at all. Each round runs dnsperf at full rate
(UDP, 8 clients, 200 in flight) against each of the three in turn, the order rotating per
round, and measures each server's CPU time per answered query from /proc/PID/stat.
The echo's ratio to Knot is the lowest ratio any server using the socket API can reach:
the kernel's loopback path per query is the same for all three.

--nxdomain replaces the harness's query mix with 100,000 invented names under the zone's
clusters (a random-subdomain flood: every answer NXDOMAIN with the SOA). The echo's answers
stay the size of the query there, so only the Knot ratio means something.

SWITCHYARD_BENCH_BIN picks another switchyard binary (to compare two builds). Servers on
CPU 0 (taskset), dnsperf on CPU 1, all on 127.0.0.1. Every process started
here is stopped by its PID. Needs dnsperf, knotd, cc and a release build.
"""

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HARNESS = os.environ.get("SWITCHYARD_BENCH_HARNESS", os.path.join(ROOT, "..", "shared", "bench", "run_peers.sh"))
GEN_ZONE = os.path.join(os.path.dirname(HARNESS), "gen_zone.py")
BIN = os.environ.get("SWITCHYARD_BENCH_BIN", os.path.join(ROOT, ".build", "release", "switchyard"))
ADDR = "127.0.0.1"
PORTS = {"knot": 5481, "switchyard": 5482, "echo": 5483}
TICKS = os.sysconf("SC_CLK_TCK")

KNOT_CONF = """server:
    rundir: "{dir}"
    pidfile: "{dir}/knot.pid"
    listen: {addr}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{dir}/db"
log:
  - target: "{dir}/knot.log"
    any: info
control:
    listen: "{dir}/knot.sock"
template:
  - id: default
    storage: "{dir}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: kafka.example.
    file: "{zone}"
"""


def cpu_seconds(pid: int) -> float:
    """User plus system time of the whole process (every thread), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def pinned(command: list[str], log_path: str) -> subprocess.Popen:
    return subprocess.Popen(["taskset", "-c", "0", *command], stdout=open(log_path, "w"), stderr=subprocess.STDOUT)


def answers(port: int) -> bool:
    probe = subprocess.run(["dig", f"@{ADDR}", "-p", str(port), "+norec", "+time=1", "+tries=1", "+short",
                            "bootstrap.orders.kafka.example", "A"], capture_output=True, text=True)
    return probe.returncode == 0 and "timed out" not in probe.stdout


def measure(pid: int, port: int, queries: str, duration: int) -> tuple[float, float]:
    """Runs dnsperf for `duration` s; returns (qps, server CPU µs per completed query)."""
    before = cpu_seconds(pid)
    output = subprocess.run(["taskset", "-c", "1", "dnsperf", "-s", ADDR, "-p", str(port), "-m", "udp", "-d", queries,
                             "-l", str(duration), "-c", "8", "-q", "200"], capture_output=True, text=True).stdout
    used = cpu_seconds(pid) - before
    completed = re.search(r"Queries completed:\s+(\d+)", output)
    qps = re.search(r"Queries per second:\s+([\d.]+)", output)
    if not completed or not qps or int(completed.group(1)) == 0:
        sys.exit(f"dnsperf against port {port} answered nothing:\n{output}")
    return float(qps.group(1)), used / int(completed.group(1)) * 1e6


def write_invented_names(path: str, count: int = 100_000) -> None:
    """Names no zone holds: a random 12-letter label under one of the harness's clusters."""
    draw = random.Random(12)
    with open(path, "w") as out:
        for _ in range(count):
            label = "".join(draw.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
            out.write(f"{label}.{draw.choice(('orders', 'payments', 'clicks'))}.kafka.example. A\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds of dnsperf per server per round")
    parser.add_argument("--nxdomain", action="store_true", help="only invented names (NXDOMAIN), seeded")
    options = parser.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit("floor: build first (make release)")
    work = tempfile.mkdtemp(prefix="switchyard-floor-")
    zones = os.path.join(work, "zones")
    os.makedirs(os.path.join(work, "knot", "db"))
    subprocess.run([sys.executable, GEN_ZONE, "--outdir", zones], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    queries = os.path.join(zones, "queries.txt")
    if options.nxdomain:
        queries = os.path.join(zones, "nxdomain.txt")
        write_invented_names(queries)
    zone = os.path.join(work, "kafka.example.zone")
    os.rename(os.path.join(zones, "kafka.example.zone"), zone)
    os.makedirs(os.path.join(work, "serve"))
    shutil.copy(zone, os.path.join(work, "serve"))
    echo = os.path.join(work, "udp_echo")
    subprocess.run(["cc", "-O2", "-o", echo, os.path.join(HERE, "udp_echo.c")], check=True)
    with open(os.path.join(work, "knot", "knot.conf"), "w") as conf:
        conf.write(KNOT_CONF.format(dir=os.path.join(work, "knot"), addr=ADDR, port=PORTS["knot"], zone=zone))

    servers = {
        "knot": pinned(["knotd", "-c", os.path.join(work, "knot", "knot.conf")], os.path.join(work, "knot.out")),
        "switchyard": pinned([BIN, "serve", "--zones", os.path.join(work, "serve"), "--listen", f"{ADDR}:{PORTS['switchyard']}",
                              "--threads", "1", "--log-level", "warning", "--state", os.path.join(work, "state"),
                              "--admin", "none"], os.path.join(work, "switchyard.out")),
        "echo": pinned([echo, str(PORTS["echo"])], os.path.join(work, "echo.out")),
    }
    results = {name: [] for name in servers}
    try:
        deadline = time.monotonic() + 30
        for name, process in servers.items():
            while not answers(PORTS[name]):
                if process.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"floor: {name} did not start (logs in {work})")
                time.sleep(0.2)
        order = list(servers)
        for round in range(options.rounds):
            line = [f"round {round + 1}:"]
            for name in order[round % 3:] + order[:round % 3]:
                qps, micros = measure(servers[name].pid, PORTS[name], queries, options.duration)
                results[name].append(micros)
                line.append(f"{name} {qps / 1000:.1f}k q/s {micros:.2f} µs/q")
            print("  ".join(line), flush=True)
    finally:
        for process in servers.values():
            process.send_signal(signal.SIGTERM)
        for process in servers.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    print("\n| round | Knot µs/q | switchyard µs/q | udp_echo µs/q | switchyard / Knot | udp_echo / Knot | switchyard / udp_echo |")
    print("|---|---|---|---|---|---|---|")
    ratios = {"switchyard": [], "echo": [], "over": []}
    for i in range(options.rounds):
        knot, ours, echo_us = results["knot"][i], results["switchyard"][i], results["echo"][i]
        ratios["switchyard"].append(ours / knot)
        ratios["echo"].append(echo_us / knot)
        ratios["over"].append(ours / echo_us)
        print(f"| {i + 1} | {knot:.2f} | {ours:.2f} | {echo_us:.2f} | {ours / knot:.3f} | {echo_us / knot:.3f} | {ours / echo_us:.3f} |")
    print(f"| median | | | | {statistics.median(ratios['switchyard']):.3f} | {statistics.median(ratios['echo']):.3f} "
          f"| {statistics.median(ratios['over']):.3f} |")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
