#!/usr/bin/env python3
"""What a platform engineer migrating a big fleet meets: every step of the README's workflow,
timed and sized on a generated fleet (tests/integration/fleetgen.py: 3 clusters of 300, 200 and
150 brokers, 4 weighted names, 5,000 ordinary records).

usage: bench/scale.py [--bin .build/release/switchyard] [--workdir DIR] [--shifts 3000]
                      [--skip-apply] [--json OUT]

Measured (wall-clock, this machine; numbers go to bench/README.md):
- `check`; `serve` until /healthz answers; SIGHUP reload (unchanged files, and a zone serial bump
  until the new serial is served); the server's RSS;
- `cutover plan orders --to pod` with --batch 1, 10, 50 and --ramp 10,50,100: time, lines, bytes;
- admin API replies (/v1/status, /v1/runs/orders, /v1/history, /metrics): bytes and time;
- `cutover apply orders` with --batch 1 and no waits (--cutover-ttl 0 --jvm-cache 0, TCP gates
  against loopback listeners) and `rollback orders`: total time and time per step (from the
  run's servedAt), then `cutover status`, `status`, `history`;
- /metrics after queries for every stable name: series and bytes;
- `--shifts N` scripted shifts (a long journal), then plan and history again.

Only loopback addresses; every process started is stopped by its PID.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
from fleetgen import Fleet  # noqa: E402
from conftest import free_port, make_query  # noqa: E402
from cutoverkit import soa_serial_of  # noqa: E402
from stablekit import TcpListenerSet  # noqa: E402

RESULTS: dict[str, object] = {}


def record(key: str, value, command: str = "") -> None:
    RESULTS[key] = value
    print(f"{key}: {value}" + (f"    [{command}]" if command else ""), flush=True)


class Admin:
    def __init__(self, port: int, token: str):
        self.port, self.token = port, token

    def request(self, method: str, path: str, body=None, timeout: float = 300.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        elapsed = time.monotonic() - started
        conn.close()
        return resp.status, raw, elapsed


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def timed(cmd: list[str], cwd: Path, timeout: float = 3600) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.monotonic() - started, r


def soa_serial(port: int, origin: str) -> int | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        s.sendto(make_query(origin, "SOA").to_wire(), ("127.0.0.1", port))
        return soa_serial_of(s.recv(4096))
    except OSError:
        return None
    finally:
        s.close()


class SerialWatcher:
    """Asks the zone's SOA every ~2 ms and records when each new serial (one per generation)
    first answered: the pace of a run's steps, to the millisecond (the run's own servedAt is
    journaled to the second)."""

    def __init__(self, port: int, origin: str):
        import threading
        self.port, self.origin = port, origin
        self.changes: list[tuple[float, int]] = []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        last = None
        while not self.stop_flag.is_set():
            serial = soa_serial(self.port, self.origin)
            if serial is not None and serial != last:
                self.changes.append((time.monotonic(), serial))
                last = serial
            time.sleep(0.002)

    def stop(self) -> list[float]:
        """Seconds between consecutive new serials."""
        self.stop_flag.set()
        self.thread.join(timeout=2)
        times = [t for t, _ in self.changes]
        return [b - a for a, b in zip(times, times[1:])]


def query_all(port: int, names: list[str], rounds: int = 1) -> float:
    """Asks each name (A) `rounds` times over UDP, a few hundred in flight; returns seconds."""
    import struct
    wires = []
    for name in names:
        body = b""
        for label in name.rstrip(".").split("."):
            body += bytes([len(label)]) + label.encode()
        wires.append(body + b"\x00" + struct.pack("!HH", 1, 1))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.connect(("127.0.0.1", port))
    s.settimeout(1.0)
    started = time.monotonic()
    qid = 0
    for _ in range(rounds):
        for start in range(0, len(wires), 200):
            chunk = wires[start:start + 200]
            for w in chunk:
                qid = (qid + 1) & 0xFFFF
                s.send(struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + w)
            for _ in chunk:
                try:
                    s.recv(4096)
                except socket.timeout:
                    break
    s.close()
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=str(HERE.parent / ".build" / "release" / "switchyard"))
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--shifts", type=int, default=3000)
    parser.add_argument("--skip-apply", action="store_true")
    parser.add_argument("--run-budget", type=float, default=600.0,
                        help="seconds a cutover or rollback may run before it is paused")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    binary = str(Path(args.bin).resolve())
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="switchyard-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    fleet = Fleet()
    zones = workdir / "zones"
    fleet.write(zones)
    record("fleet", f"{len(fleet.clusters)} clusters {fleet.clusters}, {len(fleet.all_stable_names())} stable names, "
                    f"{fleet.records} ordinary records; workdir {workdir}")

    seconds, r = timed([binary, "check", "--zones", str(zones)], workdir)
    assert r.returncode == 0, r.stderr
    record("check_s", round(seconds, 3), "switchyard check --zones zones")

    seconds, r = timed([binary, "discovery", "publish", "--zones", str(zones), "--out", str(workdir / "discovery")], workdir)
    assert r.returncode == 0, r.stderr
    record("discovery_publish_s", round(seconds, 3), "switchyard discovery publish --zones zones --out discovery")

    port, admin_port = free_port(), free_port()
    listen = ["--listen", f"127.0.0.1:{port}"]
    cmd = [binary, "serve", "--zones", str(zones), *listen, "--state", str(workdir / "state"),
           "--admin", f"127.0.0.1:{admin_port}", "--threads", "2", "--log-level", "info"]
    log = open(workdir / "server.log", "wb")
    started = time.monotonic()
    server = subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    listeners = None
    try:
        token_path = workdir / "state" / "admin.token"
        admin = None
        while time.monotonic() - started < 120:
            assert server.poll() is None, (workdir / "server.log").read_text()[-3000:]
            if token_path.exists() and token_path.read_text().strip():
                try:
                    admin = Admin(admin_port, token_path.read_text().strip())
                    if admin.request("GET", "/healthz", timeout=1)[0] == 200:
                        break
                except OSError:
                    pass
            time.sleep(0.02)
        record("serve_ready_s", round(time.monotonic() - started, 3), "switchyard serve ... until /healthz 200")
        record("rss_after_start_mib", round(rss_kib(server.pid) / 1024, 1))
        cli_base = ["--admin", f"127.0.0.1:{admin_port}", "--admin-token-file", str(token_path)]

        def cli(*a: str, timeout: float = 3600) -> tuple[float, subprocess.CompletedProcess]:
            return timed([binary, *a, *cli_base], workdir, timeout)

        # --- SIGHUP ---
        def reloads() -> int:
            return (workdir / "server.log").read_text(errors="replace").count("reloaded")
        before = reloads()
        t0 = time.monotonic()
        server.send_signal(signal.SIGHUP)
        while reloads() == before and time.monotonic() - t0 < 60:
            time.sleep(0.01)
        record("sighup_unchanged_s", round(time.monotonic() - t0, 3), "kill -HUP (files unchanged), until the 'reloaded' log line")
        zone_file = zones / f"{fleet.origin}zone"
        zone_file.write_text(zone_file.read_text().replace("2026113001", "2026113002"))
        old = soa_serial(port, fleet.origin)
        t0 = time.monotonic()
        server.send_signal(signal.SIGHUP)
        while soa_serial(port, fleet.origin) == old and time.monotonic() - t0 < 60:
            time.sleep(0.01)
        record("sighup_zone_changed_s", round(time.monotonic() - t0, 3), "zone serial +1, kill -HUP, until the new SOA serial answers")

        # --- plans ---
        for label, extra in (("batch1", ["--batch", "1"]), ("batch10", ["--batch", "10"]),
                             ("batch50", ["--batch", "50"]), ("ramp", ["--batch", "10", "--ramp", "10,50,100"])):
            seconds, r = cli("cutover", "plan", "orders", "--to", "pod", *extra)
            assert r.returncode == 0, r.stderr
            record(f"plan_{label}", {"s": round(seconds, 3), "lines": r.stdout.count("\n"), "bytes": len(r.stdout)},
                   f"switchyard cutover plan orders --to pod {' '.join(extra)}")
        (workdir / "plan-batch10.txt").write_text(cli("cutover", "plan", "orders", "--to", "pod", "--batch", "10")[1].stdout)

        def api_sizes(tag: str) -> None:
            for path in ("/v1/status", "/v1/runs/orders", "/v1/history?limit=50", "/metrics"):
                status, raw, seconds = admin.request("GET", path)
                record(f"api_{tag}_{path}", {"status": status, "bytes": len(raw), "s": round(seconds, 3)}, f"GET {path}")

        api_sizes("before")

        # --- apply + rollback ---
        if not args.skip_apply:
            listeners = TcpListenerSet(fleet.targets("orders"), fleet.port)
            fast = ["--cutover-ttl", "0", "--jvm-cache", "0", "--verify-timeout", "10"]

            def staged(label: str, command: list[str]) -> None:
                """Runs a staged command; past --run-budget seconds pauses the run at its next
                step boundary (a slow binary would take hours), and records its steps' pace."""
                started = time.monotonic()
                watcher = SerialWatcher(port, fleet.origin)
                out = open(workdir / f"{label}.out", "w")
                proc = subprocess.Popen([binary, *command, *cli_base], cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
                try:
                    proc.wait(timeout=args.run_budget)
                    finished = True
                except subprocess.TimeoutExpired:
                    finished = False
                    cli("cutover", "pause", "orders", "--wait", "--timeout", "900")
                    proc.wait(timeout=900)
                out.close()
                gaps = watcher.stop()[1:]   # from the first step's generation on
                text = (workdir / f"{label}.out").read_text(errors="replace")
                status, raw, s = admin.request("GET", "/v1/runs/orders")
                run = json.loads(raw)
                gens = run["progress"].get("generations") or {}
                record(label, {"s": round(time.monotonic() - started, 2), "finished": finished, "exit": proc.returncode,
                               "steps_done": len(gens) if not isinstance(gens, list) else len(gens) // 2,
                               "steps": len(run["progress"]["plan"]["steps"]),
                               "output_lines": text.count("\n"), "output_bytes": len(text)},
                       "switchyard " + " ".join(command))
                record(f"{label}_run_reply", {"bytes": len(raw), "s": round(s, 3)}, "GET /v1/runs/orders")
                if gaps:
                    ordered = sorted(gaps)
                    record(f"{label}_step_interval_s", {"n": len(gaps), "median": round(statistics.median(gaps), 4),
                                                        "p90": round(ordered[int(len(ordered) * 0.9)], 4), "max": round(max(gaps), 4),
                                                        "first10": round(statistics.mean(gaps[:10]), 4),
                                                        "last10": round(statistics.mean(gaps[-10:]), 4)},
                           "new SOA serial to the next, polled every 2 ms")

            staged("apply_batch1", ["cutover", "apply", "orders", "--to", "pod", "--batch", "1", *fast])
            record("rss_after_apply_mib", round(rss_kib(server.pid) / 1024, 1))
            api_sizes("after_apply")
            for label, a in (("cutover_status", ["cutover", "status", "orders"]), ("status", ["status"]),
                             ("history", ["history"]), ("history_cluster", ["history", "--cluster", "orders"])):
                seconds, r = cli(*a)
                record(f"{label}_after_apply", {"s": round(seconds, 3), "lines": r.stdout.count("\n"), "bytes": len(r.stdout), "exit": r.returncode},
                       "switchyard " + " ".join(a))
            staged("rollback_batch1", ["rollback", "orders", "--batch", "1", *fast])

        # --- metrics after queries for every stable name ---
        names = fleet.all_stable_names()
        seconds = query_all(port, names, rounds=3)
        record("queries", {"names": len(names), "rounds": 3, "s": round(seconds, 2)})
        time.sleep(1.5)
        status, raw, s = admin.request("GET", "/metrics")
        text = raw.decode()
        series = [l for l in text.splitlines() if l and not l.startswith("#")]
        record("metrics", {"bytes": len(raw), "series": len(series),
                           "queries_series": sum(1 for l in series if l.startswith("switchyard_queries_total")), "s": round(s, 3)},
               "GET /metrics")
        scrapes = [admin.request("GET", "/metrics")[2] for _ in range(10)]
        record("metrics_scrape_median_s", round(statistics.median(scrapes), 4), "10 × GET /metrics")

        # --- a long journal ---
        if args.shifts:
            t0 = time.monotonic()
            lat = []
            for k in range(args.shifts):
                body = {"request": {"broker": {"cluster": "clicks", "id": 1 + k % 150, "pool": "pod" if (k // 150) % 2 == 0 else "vm"}},
                        "actor": "bench", "reason": "scripted shift"}
                status, raw, s = admin.request("POST", "/v1/shift", body)
                assert status == 200, raw[:300]
                lat.append(s)
            record("shifts", {"n": args.shifts, "s": round(time.monotonic() - t0, 1), "median_ms": round(1000 * statistics.median(lat), 2),
                              "p99_ms": round(1000 * sorted(lat)[int(len(lat) * 0.99)], 2),
                              "first100_ms": round(1000 * statistics.mean(lat[:100]), 2), "last100_ms": round(1000 * statistics.mean(lat[-100:]), 2)},
                   "POST /v1/shift (broker flips of cluster clicks)")
            for label, a in (("plan_long_journal", ["cutover", "plan", "orders", "--to", "pod", "--batch", "10"]),
                             ("history_long_journal", ["history"]),
                             ("history_cluster_long_journal", ["history", "--cluster", "orders"]),
                             ("status_long_journal", ["status"])):
                seconds, r = cli(*a)
                record(label, {"s": round(seconds, 3), "lines": r.stdout.count("\n"), "exit": r.returncode}, "switchyard " + " ".join(a))
            db = workdir / "state" / "switchyard.db"
            record("journal_bytes", sum(f.stat().st_size for f in db.parent.glob("switchyard.db*")))
        record("rss_end_mib", round(rss_kib(server.pid) / 1024, 1))
    finally:
        if listeners:
            listeners.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
