#!/usr/bin/env python3
"""Zone transfer benchmark (issue #10): a 100k-name zone transferred to a Knot secondary from
switchyard and from a Knot primary, same machine, same run, alternated; then the size of the
IXFR one `switchyard shift` causes.

    bench/transfer.py [--extra 100000] [--rounds 3] [--bin .build/release/switchyard]

The zone comes from the shared harness's generator (../shared/bench/gen_zone.py); switchyard
serves its broker and bootstrap names as stable names (bench/zone_to_inventory.py), Knot the
same zone as plain records. Each round starts a fresh Knot secondary per primary and reads the
transfer's time, messages and bytes from Knot's own log ("AXFR, incoming, ... finished"), and
the wall time until the secondary answers the primary's serial. Everything runs on 127.0.0.1
in a temporary directory; every process is stopped by its PID.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GEN = REPO.parent / "shared" / "bench" / "gen_zone.py"
ORIGIN = "kafka.example."
SECRET = "YmVuY2gtdHJhbnNmZXItc2VjcmV0LTMyLWJ5dGVzIQ=="


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
        for _ in range(50):
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                t.bind(("127.0.0.1", port))
                return port
            except OSError:
                u.close(); t.close()
                u, t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket()
    raise RuntimeError("no free port")


def query(name: str, qtype: int, qid: int = 0x4242) -> bytes:
    wire = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + wire + struct.pack(">HH", qtype, 1)


def soa_serial(port: int) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        try:
            s.sendto(query(ORIGIN, 6), ("127.0.0.1", port))
            data = s.recv(4096)
        except OSError:
            return None
    if struct.unpack(">H", data[6:8])[0] == 0:
        return None
    return struct.unpack(">I", data[-20:-16])[0]


def wait(predicate, timeout: float, step: float = 0.02) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    return None


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def knot_conf(d: Path, port: int, *, primary_port: int | None = None, zone_file: Path | None = None) -> Path:
    (d / "db").mkdir(parents=True, exist_ok=True)
    zone = f"  - domain: {ORIGIN}\n"
    if primary_port:
        zone += "    master: primary\n"
    else:
        zone += f'    file: "{zone_file}"\n    acl: transfer\n'
    conf = f"""server:
    rundir: "{d}"
    pidfile: "{d}/knot.pid"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{d}/db"
log:
  - target: "{d}/knot.log"
    any: info
control:
    listen: "{d}/knot.sock"
key:
  - id: xfr
    algorithm: hmac-sha256
    secret: {SECRET}
acl:
  - id: transfer
    address: 127.0.0.1
    key: xfr
    action: transfer
remote:
  - id: primary
    address: 127.0.0.1@{primary_port or 1}
    key: xfr
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
zone:
{zone}"""
    (d / "knot.conf").write_text(conf)
    return d / "knot.conf"


def start(cmd: list[str], log: Path, cpu: str | None = None) -> subprocess.Popen:
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpu, *cmd]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)


def transfer_round(work: Path, label: str, primary_port: int, serial: int) -> dict:
    d = work / f"secondary-{label}-{time.monotonic_ns()}"
    d.mkdir()
    port = free_port()
    conf = knot_conf(d, port, primary_port=primary_port)
    started = time.monotonic()
    proc = start(["knotd", "-c", str(conf)], d / "stderr", cpu="1")
    try:
        took = wait(lambda: soa_serial(port) == serial, timeout=300)
        log = (d / "knot.log").read_text(errors="replace") if (d / "knot.log").exists() else ""
        m = re.search(r"AXFR, incoming.*?finished, ([\d.]+) seconds, (\d+) messages, (\d+) bytes", log)
        return {"primary": label, "wall_s": took, "knot_s": float(m.group(1)) if m else None,
                "messages": int(m.group(2)) if m else None, "bytes": int(m.group(3)) if m else None}
    finally:
        stop(proc)
        shutil.rmtree(d, ignore_errors=True)


def ixfr_size(port: int, old_serial: int, new_serial: int) -> tuple[int, int, int]:
    """(messages, bytes, records) of an unsigned IXFR from `old_serial` (switchyard must allow it)."""
    soa = b"\xc0\x0c" + struct.pack(">HHIH", 6, 1, 0, 22) + b"\0\0" + struct.pack(">IIIII", old_serial, 0, 0, 0, 0)
    q = bytearray(query(ORIGIN, 251))
    q[8:10] = b"\0\1"
    q += soa
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">H", len(q)) + q)
        messages = total = records = 0
        soas = 0
        while True:
            head = s.recv(2, socket.MSG_WAITALL)
            length = struct.unpack(">H", head)[0]
            data = s.recv(length, socket.MSG_WAITALL)
            messages += 1
            total += length + 2
            records += struct.unpack(">H", data[6:8])[0]
            soas += data.count(struct.pack(">I", new_serial))
            if soas >= 3 or records <= 1:
                return messages, total, records


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--extra", type=int, default=100_000, help="filler names (default 100000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin", default=str(REPO / ".build" / "release" / "switchyard"))
    args = ap.parse_args()
    for tool in ("knotd",):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            print(f"bench: {tool} not found (apt-get install -y knot)", file=sys.stderr)
            return 1
    os.environ["PATH"] += ":/usr/sbin"
    work = Path(tempfile.mkdtemp(prefix="sy-xfr-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        gen = work / "gen"
        subprocess.run([sys.executable, str(GEN), "--extra", str(args.extra), "--outdir", str(gen)], check=True,
                       stdout=subprocess.DEVNULL)
        zones = work / "sy-zones"
        subprocess.run([sys.executable, str(HERE / "zone_to_inventory.py"), str(gen / "kafka.example.zone"), str(zones)], check=True)
        keys = work / "keys.conf"
        keys.write_text(f'key "xfr" {{ algorithm hmac-sha256; secret "{SECRET}"; }};\n')
        sy_port, admin_port, knot_port = free_port(), free_port(), free_port()
        sy = start([args.bin, "serve", "--zones", str(zones), "--listen", f"127.0.0.1:{sy_port}", "--threads", "1",
                    "--state", str(work / "state"), "--admin", f"127.0.0.1:{admin_port}", "--log-level", "warning",
                    "--tsig-key-file", str(keys), "--allow-transfer", "127.0.0.1,key=xfr", "--allow-transfer", "127.0.0.2"],
                   work / "switchyard.log", cpu="0")
        procs.append(sy)
        kp_dir = work / "knot-primary"
        kp = start(["knotd", "-c", str(knot_conf(kp_dir, knot_port, zone_file=gen / "kafka.example.zone"))],
                   work / "knot-primary.stderr", cpu="0")
        procs.append(kp)
        if wait(lambda: soa_serial(sy_port) is not None, 120) is None or wait(lambda: soa_serial(knot_port) is not None, 120) is None:
            print("bench: a primary did not start; see", work, file=sys.stderr)
            return 1
        rows = []
        for _ in range(args.rounds):
            rows.append(transfer_round(work, "switchyard", sy_port, soa_serial(sy_port)))
            rows.append(transfer_round(work, "knot", knot_port, soa_serial(knot_port)))
        print(f"\nAXFR of a zone with {args.extra} filler names (+ brokers and bootstraps) to a Knot secondary, TSIG hmac-sha256")
        print("| primary | round | wall until served (s) | Knot's transfer time (s) | messages | bytes |")
        print("|---|---|---|---|---|---|")
        for i, row in enumerate(rows):
            print(f"| {row['primary']} | {i // 2 + 1} | {row['wall_s']:.3f} | {row['knot_s']} | {row['messages']} | {row['bytes']} |")

        # One shift, and what IXFR carries for it.
        before = soa_serial(sy_port)
        token = (work / "state" / "admin.token").read_text().strip() if (work / "state" / "admin.token").exists() else None
        r = subprocess.run([args.bin, "shift", "orders", "broker-1", "--to", "pod", "--reason", "bench",
                            "--admin", f"127.0.0.1:{admin_port}", "--admin-token-file", str(work / "state" / "admin.token")],
                           capture_output=True, text=True, timeout=60)
        after = soa_serial(sy_port)
        if r.returncode != 0 or token is None:
            print(f"shift failed: {r.stdout}{r.stderr}", file=sys.stderr)
            return 1
        # 127.0.0.2 may transfer unsigned: the sizes below are without TSIG.
        messages, size, records = ixfr_size_from(sy_port, before, after)
        print(f"\nIXFR for one broker shift (serial {before} -> {after}): {messages} message(s), {size} bytes, {records} records")
        return 0
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


def ixfr_size_from(port: int, old: int, new: int) -> tuple[int, int, int]:
    # Bind the client side to 127.0.0.2, the unsigned --allow-transfer rule.
    real = socket.create_connection
    socket.create_connection = lambda addr, timeout=None: real(addr, timeout, ("127.0.0.2", 0))
    try:
        return ixfr_size(port, old, new)
    finally:
        socket.create_connection = real


if __name__ == "__main__":
    sys.exit(main())
