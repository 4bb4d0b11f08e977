#!/usr/bin/env python3
"""Changes under load: what serving looks like while the data changes (issue 12).

  changes.py reload [--extra 1000000] [--duration 90]
      Serves the harness zone with K filler names, runs dnsperf at full rate (UDP), and
      sends SIGHUP twice: once with the zone file unchanged, once after editing it (new
      serial, one new name). Reports the steady RSS, the peak RSS during each reload,
      each reload's duration, and the queries dnsperf lost.

  changes.py shifts [--shifts 100] [--duration 40]
      Serves the 156-name harness zone with its brokers as stable names, runs dnsperf at
      full rate (UDP), and flips broker-1.orders between its pools N times through the
      admin API. A checker queries broker-1 throughout and reports, per shift, how long
      after the commit returned the new answer was first served (p50/p99/max), and any
      answer that went back to an older generation.

Server on CPU 0 (taskset), dnsperf and this script on CPU 1, all on 127.0.0.1. Every
process started here is stopped by its PID. Needs dnsperf and a release build.
"""
import argparse
import json
import multiprocessing
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HARNESS = os.environ.get("SWITCHYARD_BENCH_HARNESS", os.path.join(ROOT, "..", "shared", "bench", "run_peers.sh"))
GEN_ZONE = os.path.join(os.path.dirname(HARNESS), "gen_zone.py")
BIN = os.path.join(ROOT, ".build", "release", "switchyard")
ADDR = "127.0.0.1"


def query_packet(name: str, qid: int, qtype: int = 1) -> bytes:
    wire = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + wire + struct.pack(">HH", qtype, 1)


def answer_addresses(packet: bytes) -> tuple[int, list[str]]:
    """RCODE and the A records of a response (names compressed or not)."""
    rcode = packet[3] & 0xF
    ancount = struct.unpack(">H", packet[6:8])[0]
    position = 12
    while packet[position] != 0:  # question name, never compressed here
        position += 1 + packet[position]
    position += 5
    addresses = []
    for _ in range(ancount):
        while True:
            length = packet[position]
            if length & 0xC0 == 0xC0:
                position += 2
                break
            position += 1 + length
            if length == 0:
                break
        rtype, _, _, rdlength = struct.unpack(">HHIH", packet[position:position + 10])
        position += 10
        if rtype == 1:
            addresses.append(".".join(str(b) for b in packet[position:position + 4]))
        position += rdlength
    return rcode, sorted(addresses)


class Resolver:
    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(1.0)
        self.port = port
        self.qid = 0

    def ask(self, name: str):
        self.qid = (self.qid + 1) & 0xFFFF
        self.sock.sendto(query_packet(name, self.qid), (ADDR, self.port))
        while True:
            try:
                data, _ = self.sock.recvfrom(4096)
            except socket.timeout:
                return None
            if struct.unpack(">H", data[:2])[0] == self.qid:
                return answer_addresses(data)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakRSS(threading.Thread):
    """Samples VmRSS every 10 ms; `window()` starts a new peak."""
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True
        self.start()

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            time.sleep(0.01)

    def window(self) -> int:
        peak, self.peak = self.peak, 0
        return peak


def start_server(args: list[str], log_path: str) -> subprocess.Popen:
    log = open(log_path, "w")
    return subprocess.Popen(["taskset", "-c", "0", BIN, "serve", *args], stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(resolver: Resolver, name: str, expect: list[str], timeout: float, process) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            sys.exit(f"server exited ({process.returncode})")
        answer = resolver.ask(name)
        if answer and answer[1] == expect:
            return time.monotonic() - started
        time.sleep(0.005)
    sys.exit(f"{name} did not answer {expect} within {timeout} s")


def start_dnsperf(port: int, queries: str, duration: int) -> subprocess.Popen:
    return subprocess.Popen(["taskset", "-c", "1", "dnsperf", "-s", ADDR, "-p", str(port), "-m", "udp", "-d", queries,
                             "-l", str(duration), "-c", "8", "-q", "200"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def dnsperf_summary(process: subprocess.Popen) -> dict:
    output = process.communicate()[0]
    def number(label):
        found = re.search(label + r":\s+([\d.]+)", output)
        return float(found.group(1)) if found else -1
    return {"sent": int(number("Queries sent")), "completed": int(number("Queries completed")),
            "lost": int(number("Queries lost")), "qps": number("Queries per second")}


def generate(directory: str, extra: int):
    zones = os.path.join(directory, "zones")
    os.makedirs(zones, exist_ok=True)
    subprocess.run([sys.executable, GEN_ZONE, "--extra", str(extra), "--outdir", zones], check=True, stdout=subprocess.DEVNULL)
    os.rename(os.path.join(zones, "queries.txt"), os.path.join(directory, "queries.txt"))
    os.remove(os.path.join(zones, "checks.txt"))
    return zones


def log_count(path: str) -> int:
    """Reloads the server has logged as done."""
    with open(path) as log:
        return sum(1 for line in log if re.search(r"\breloaded\b", line) and "zone data reloaded" not in line)


def reload_bench(options):
    work = tempfile.mkdtemp(prefix="bench-reload-")
    zones = generate(work, options.extra)
    log = os.path.join(work, "server.log")
    started = time.monotonic()
    server = start_server(["--zones", zones, "--listen", f"{ADDR}:{options.port}", "--threads", "1", "--log-level", "info",
                           "--state", os.path.join(work, "state"), "--admin", "none"], log)
    resolver = Resolver(options.port)
    # The zone file's last record (gen_zone.py writes the filler names last) times the load.
    with open(os.path.join(zones, "kafka.example.zone")) as zone:
        last = zone.read().rstrip("\n").rsplit("\n", 1)[-1].split()
    probe, probe_address = last[0] + ".kafka.example.", last[-1]
    try:
        wait_for(resolver, probe, [probe_address], 600, server)
        load = time.monotonic() - started
        time.sleep(1.0)
        steady = rss_kib(server.pid)
        peaks = PeakRSS(server.pid)
        perf = start_dnsperf(options.port, os.path.join(work, "queries.txt"), options.duration)
        time.sleep(3)
        peaks.window()
        results = {"names": options.extra + 156, "load_s": round(load, 2), "steady_rss_mib": round(steady / 1024, 1)}
        # 1. The same file again.
        before = log_count(log)
        sent = time.monotonic()
        server.send_signal(signal.SIGHUP)
        while log_count(log) == before and time.monotonic() - sent < options.duration:
            time.sleep(0.01)
        results["unchanged_reload_s"] = round(time.monotonic() - sent, 2)
        time.sleep(1)
        results["unchanged_peak_rss_mib"] = round(peaks.window() / 1024, 1)
        # 2. An edited file: new serial, one new name.
        path = os.path.join(zones, "kafka.example.zone")
        with open(path) as zone:
            text = zone.read()
        text = re.sub(r"(SOA \S+ \S+ )(\d+)", lambda m: m.group(1) + str(int(m.group(2)) + 1), text, count=1)
        with open(path + ".new", "w") as zone:
            zone.write(text + "reload-probe 30 IN A 10.99.0.1\n")
        os.rename(path + ".new", path)
        sent = time.monotonic()
        server.send_signal(signal.SIGHUP)
        results["changed_reload_s"] = round(wait_for(resolver, "reload-probe.kafka.example.", ["10.99.0.1"], options.duration, server), 2)
        time.sleep(1)
        results["changed_peak_rss_mib"] = round(peaks.window() / 1024, 1)
        results["dnsperf"] = dnsperf_summary(perf)
        results["after_rss_mib"] = round(rss_kib(server.pid) / 1024, 1)
        peaks.running = False
        print(json.dumps(results, indent=2))
    finally:
        stop(server)


def admin_post(port: int, token: str, path: str, body: dict) -> dict:
    connection = http.client.HTTPConnection(ADDR, port, timeout=30)
    try:
        connection.request("POST", path, body=json.dumps(body).encode(),
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        response = connection.getresponse()
        reply = response.read().decode()
        if response.status != 200:
            sys.exit(f"POST {path}: HTTP {response.status} {reply}")
        return json.loads(reply)
    finally:
        connection.close()


def realtime(priority: int = 10):
    """SCHED_FIFO for this process, so that its timestamps are not delayed by dnsperf on the
    same core (the checker blocks on every answer, so it never starves dnsperf). Root only;
    without it the figures include the measuring side's scheduling delays."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (PermissionError, AttributeError):
        return False


def _check(port: int, name: str, stop, results):
    realtime()
    resolver, samples, lost = Resolver(port), [], 0
    while not stop.is_set():
        answer = resolver.ask(name)
        if answer is None:
            lost += 1
            continue
        samples.append((time.monotonic(), tuple(answer[1])))
    results.send((samples, lost))


class Checker:
    """Asks for broker-1 as fast as it can, in a process of its own (no GIL shared with the
    commits) at real-time priority; keeps (time, addresses) of every answer. CLOCK_MONOTONIC
    is system-wide, so its times compare with the commit times taken here."""
    def __init__(self, port: int, name: str):
        context = multiprocessing.get_context("fork")
        self.stop, (self.results, sender) = context.Event(), context.Pipe(duplex=False)
        self.process = context.Process(target=_check, args=(port, name, self.stop, sender), daemon=True)
        self.process.start()
        self.samples, self.lost = [], 0

    def finish(self):
        self.stop.set()
        self.samples, self.lost = self.results.recv()
        self.process.join(timeout=5)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def shifts_bench(options):
    work = tempfile.mkdtemp(prefix="bench-shifts-")
    plain = generate(work, 0)
    zones = os.path.join(work, "stable-zones")
    subprocess.run([sys.executable, os.path.join(HERE, "zone_to_inventory.py"), os.path.join(plain, "kafka.example.zone"), zones], check=True)
    state = os.path.join(work, "state")
    server = start_server(["--zones", zones, "--listen", f"{ADDR}:{options.port}", "--threads", "1", "--log-level", "warning",
                           "--state", state, "--admin", f"{ADDR}:{options.admin_port}"], os.path.join(work, "server.log"))
    name = "broker-1.orders.kafka.example."
    vm, pod = "10.0.0.11", "10.250.0.11"
    try:
        wait_for(Resolver(options.port), name, [vm], 60, server)
        token_path = os.path.join(state, "admin.token")
        for _ in range(500):
            if os.path.exists(token_path):
                break
            time.sleep(0.01)
        token = open(token_path).read().strip()
        perf = start_dnsperf(options.port, os.path.join(work, "queries.txt"), options.duration)
        time.sleep(2)
        checker = Checker(options.port, name)
        timed = realtime()  # the commit times too: a late "returned" would flatter the result
        commits = []  # (started, returned, expected address)
        for index in range(options.shifts):
            pool, address = ("pod", pod) if index % 2 == 0 else ("vm", vm)
            started = time.monotonic()
            admin_post(options.admin_port, token, "/v1/shift", {
                "request": {"broker": {"cluster": "orders", "id": 1, "pool": pool}}, "actor": "bench", "reason": f"shift {index}"})
            commits.append((started, time.monotonic(), address))
            time.sleep(options.interval)
        time.sleep(0.5)
        checker.finish()
        summary = dnsperf_summary(perf)
        latencies, reverted, unseen = [], [], 0
        for index, (started, returned, address) in enumerate(commits):
            until = commits[index + 1][0] if index + 1 < len(commits) else float("inf")
            window = [(at, answer) for at, answer in checker.samples if started <= at < until]
            first_new = next((at for at, answer in window if answer == (address,)), None)
            if first_new is None:
                unseen += 1
                continue
            latencies.append(max(0.0, first_new - returned) * 1000)
            # Old, then new, never back: nothing but the new answer after it was first seen.
            if any(at > first_new and answer != (address,) for at, answer in window):
                reverted.append(index)
            if any(len(answer) != 1 for _, answer in window):
                reverted.append(index)
        print(json.dumps({
            "shifts": len(commits), "realtime_priority": timed, "checker_answers": len(checker.samples), "checker_lost": checker.lost,
            "served_after_commit_ms": {"p50": round(percentile(latencies, 0.5), 2), "p99": round(percentile(latencies, 0.99), 2),
                                       "max": round(max(latencies), 2)} if latencies else None,
            "commit_ms_p50": round(percentile([(r - s) * 1000 for s, r, _ in commits], 0.5), 1),
            "shifts_never_seen": unseen, "shifts_with_mixed_or_reverted_answers": sorted(set(reverted)),
            "dnsperf": summary,
        }, indent=2))
    finally:
        stop(server)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    reload_options = commands.add_parser("reload")
    reload_options.add_argument("--extra", type=int, default=1_000_000)
    reload_options.add_argument("--duration", type=int, default=90)
    reload_options.add_argument("--port", type=int, default=5308)
    shift_options = commands.add_parser("shifts")
    shift_options.add_argument("--shifts", type=int, default=100)
    shift_options.add_argument("--interval", type=float, default=0.1)
    shift_options.add_argument("--duration", type=int, default=40)
    shift_options.add_argument("--port", type=int, default=5308)
    shift_options.add_argument("--admin-port", type=int, default=5318)
    options = parser.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build first: make release")
    os.sched_setaffinity(0, {1})
    (reload_bench if options.command == "reload" else shifts_bench)(options)


if __name__ == "__main__":
    main()
