"""Building blocks of the soak (soak.py, test_soak.py): the tmpfs mounts and the filler that
fills them, the server restarted on a fixed DNS port, continuous UDP/TCP queriers that judge
every answer for a stable name, the ledger of generations acknowledged, and the admin API
flooder. Loopback addresses only; nothing goes through the system resolver."""

from __future__ import annotations

import argparse
import errno
import http.client
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from conftest import V4, V6, free_port, make_query, switchyard_bin, recv_exact
from cutoverkit import BROKER_IDS, CLUSTER, FAST, ORIGIN, POD, VM, Admin, bootstrap_name, broker_name, pace, soa_serial_of
from stablekit import a_set, parse_reply

STABLE_NAMES = [bootstrap_name()] + [broker_name(i) for i in BROKER_IDS]
READY_TIMEOUT = 30.0


class SoakFailure(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SoakFailure(message)


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# Zones: cluster `orders`, brokers 1-3 in vm with pod targets, discovery published
# ---------------------------------------------------------------------------------------------

def inventory_text(port: int, zookeeper: str = "zk-1.example.test:2181/orders") -> str:
    lines = ["ttl: 1", "clusters:", f"  {CLUSTER}:", f"    port: {port}", "    pools: [vm, pod]",
             "    gate: tcp", "    discovery:", "      type: standard", f"      zookeeper: {zookeeper}",
             "    brokers:"]
    lines += [f"      {i}: {{ vm: {VM[i]}, pod: {POD[i]} }}" for i in BROKER_IDS]
    return "\n".join(lines) + "\n"


def legitimate_answers() -> dict[str, list[frozenset]]:
    """Per stable name, the address sets it may answer on either side of the cutover: a broker
    its vm or its pod target; bootstrap any non-empty part of one pool (the brokers living in
    the pool it drew)."""
    allowed = {broker_name(i): [frozenset([VM[i]]), frozenset([POD[i]])] for i in BROKER_IDS}
    allowed[bootstrap_name()] = [frozenset(VM.values()), frozenset(POD.values())]
    return allowed


def judge(name: str, rcode: int, addresses: frozenset) -> str:
    """'ok', or what is wrong with one answer for a stable name."""
    if rcode == 3:
        return "nxdomain"
    if rcode == 2:
        return "servfail"
    if rcode != 0:
        return f"rcode{rcode}"
    if not addresses:
        return "empty"
    pools = LEGIT[name]
    if name.startswith("bootstrap."):
        return "ok" if any(addresses <= pool for pool in pools) else "wrong"
    return "ok" if addresses in pools else "wrong"


LEGIT = legitimate_answers()


# ---------------------------------------------------------------------------------------------
# tmpfs mounts
# ---------------------------------------------------------------------------------------------

class Tmpfs:
    """A tmpfs of `size` at `path`; `unmount()` is safe to call twice and falls back to a
    lazy unmount so a failure never leaves it mounted."""

    def __init__(self, path: Path, size: str):
        self.path = path
        self.size = size
        self.mounted = False

    def mount(self) -> "Tmpfs":
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0755", "tmpfs", str(self.path)],
                       check=True, capture_output=True, text=True)
        self.mounted = True
        return self

    def remount(self, mode: str) -> subprocess.CompletedProcess:
        return subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], capture_output=True, text=True)

    def unmount(self) -> None:
        if not self.mounted:
            return
        self.remount("rw")
        r = subprocess.run(["umount", str(self.path)], capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, text=True)
        self.mounted = False


class Ext4Image:
    """A small ext4 file system in an image file, loop-mounted at `path` with
    `errors=remount-ro`: `force_error()` makes the kernel remount it read-only under whoever
    has files open on it (what a failing disk does; `mount -o remount,ro` cannot while a
    file is open for writing), and `repair()` (unmounted: e2fsck, mount) brings it back."""

    def __init__(self, path: Path, image: Path, size_mb: int):
        self.path = path
        self.image = image
        self.size_mb = size_mb
        self.mounted = False
        self.repairs = 0

    @staticmethod
    def available() -> bool:
        if not Path("/dev/loop-control").exists() or not all(shutil.which(t) for t in ("mkfs.ext4", "e2fsck", "losetup")):
            return False
        return subprocess.run(["losetup", "-f"], capture_output=True).returncode == 0

    def mount(self) -> "Ext4Image":
        if not self.image.exists():
            with open(self.image, "wb") as f:
                f.truncate(self.size_mb << 20)
            # -m 0: no blocks reserved for root, so the filler (and the server, both root) see
            # the same "full" as any user would.
            subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(self.image)], check=True, capture_output=True)
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(self.image), str(self.path)],
                       check=True, capture_output=True, text=True)
        self.mounted = True
        return self

    def remount(self, mode: str) -> subprocess.CompletedProcess:
        return subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], capture_output=True, text=True)

    def force_error(self) -> None:
        device = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(self.path)], capture_output=True, text=True,
                                check=True).stdout.strip()
        Path(f"/sys/fs/ext4/{os.path.basename(device)}/trigger_fs_error").write_text("switchyard soak\n")

    def repair(self) -> int:
        """Unmounts, runs e2fsck on a copy of the image (its exit code: 0 clean, 1 errors
        corrected) and mounts the copy. A copy, because a mount namespace another process
        created while the file system was mounted keeps its superblock alive after our umount,
        and mounting the same image again would get that superblock back, still read-only."""
        subprocess.run(["umount", str(self.path)], check=True, capture_output=True, text=True)
        self.mounted = False
        self.repairs += 1
        copy = self.image.with_name(f"{self.image.stem}-repaired-{self.repairs}.ext4")
        shutil.copyfile(self.image, copy)
        self.image.unlink()
        self.image = copy
        code = subprocess.run(["e2fsck", "-fy", str(self.image)], capture_output=True).returncode
        check(code in (0, 1), f"e2fsck {self.image} exit {code}")
        self.mount()
        return code

    def unmount(self) -> None:
        if not self.mounted:
            return
        r = subprocess.run(["umount", str(self.path)], capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, text=True)
        self.mounted = False
        self.image.unlink(missing_ok=True)


def fill(directory: Path) -> tuple[Path, int]:
    """Writes a filler file until the file system says ENOSPC; (path, bytes written)."""
    path = directory / "filler"
    chunk = b"\0" * 65536
    written = 0
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                written += f.write(chunk)
            except OSError as e:
                check(e.errno == errno.ENOSPC, f"filling {directory}: {e}")
                break
        # Byte by byte to the very end, so not even a small WAL frame fits.
        while True:
            try:
                written += f.write(b"\0")
            except OSError:
                break
    return path, written


# ---------------------------------------------------------------------------------------------
# The server: a fixed DNS port across restarts, so the queriers follow it through kill -9
# ---------------------------------------------------------------------------------------------

class SoakServer:
    def __init__(self, workdir: Path, state_dir: Path, discovery_dir: Path):
        self.workdir = workdir
        self.zones_dir = workdir / "zones"
        self.state_dir = state_dir
        self.discovery_dir = discovery_dir
        self.token_file = workdir / "admin.token"
        self.port = free_port()
        self.admin_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.unexpected_exits: list[str] = []

    def command(self) -> list[str]:
        return [str(switchyard_bin()), "serve", "--zones", str(self.zones_dir),
                "--listen", f"{V4}:{self.port}", "--listen", f"[{V6}]:{self.port}", "--threads", "2",
                "--state", str(self.state_dir), "--admin", f"{V4}:{self.admin_port}",
                "--admin-token-file", str(self.token_file), "--discovery-out", str(self.discovery_dir),
                "--log-level", "info"]

    def spawn(self) -> subprocess.Popen:
        self.starts += 1
        err = open(self.workdir / f"server-{self.starts}.stderr", "wb")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=err, cwd=self.workdir)
        err.close()
        return self.proc

    def start(self) -> None:
        proc = self.spawn()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            check(proc.poll() is None, f"server exited during start (exit {proc.returncode}):\n{self.stderr_tail()}")
            try:
                status, _ = Admin(self.admin_port, "").request("GET", "/healthz", token=None, timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SoakFailure(f"server not ready after {READY_TIMEOUT}s:\n{self.stderr_tail()}")

    def stderr_tail(self, n: int = 3000) -> str:
        try:
            return (self.workdir / f"server-{self.starts}.stderr").read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 10 s; the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        return self.proc.returncode

    def sighup(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    @property
    def admin(self) -> Admin:
        return Admin(self.admin_port, self.token_file.read_text().strip())

    def cli(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess:
        cmd = [str(switchyard_bin()), *args, "--admin", f"{V4}:{self.admin_port}",
               "--admin-token-file", str(self.token_file)]
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                              cwd=self.workdir)

    def healthz(self) -> dict:
        status, body = Admin(self.admin_port, "").request("GET", "/healthz", token=None, timeout=5.0)
        check(status == 200 and isinstance(body, dict), f"/healthz -> {status}: {body}")
        return body

    def metric(self, name: str) -> float | None:
        status, text = self.admin.request("GET", "/metrics", timeout=5.0)
        check(status == 200, f"/metrics -> {status}")
        for line in str(text).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == name:
                return float(parts[1])
        return None


# ---------------------------------------------------------------------------------------------
# Continuous queriers
# ---------------------------------------------------------------------------------------------

class DownWatch:
    """When the server is (or was, during a query) down on purpose: an epoch that moves on
    every kill, so a query that straddles a kill -9 counts as down, not as lost."""

    def __init__(self):
        self.lock = threading.Lock()
        self.down = False
        self.epoch = 0

    def set_down(self, down: bool) -> None:
        with self.lock:
            self.down = down
            self.epoch += 1

    def mark(self) -> tuple[bool, int]:
        with self.lock:
            return self.down, self.epoch


@dataclass
class QuerierStats:
    transport: str
    sent: int = 0
    answered: int = 0
    checked: int = 0
    ok: int = 0
    soa_ok: int = 0
    bad: Counter = field(default_factory=Counter)
    bad_examples: list = field(default_factory=list)
    down: int = 0          # unanswered while the server was down on purpose
    lost: int = 0          # unanswered while it was up (after one retry)
    lost_examples: list = field(default_factory=list)


class Querier(threading.Thread):
    """Asks the stable names (and every tenth query the zone's SOA) without pause over UDP
    (127.0.0.1) or one TCP connection ([::1], reconnected when it breaks), one retry for an
    unanswered query, and judges every answer."""

    def __init__(self, port: int, tcp: bool, watch: DownWatch, rate: float, timeout: float = 1.0):
        super().__init__(daemon=True, name="tcp-querier" if tcp else "udp-querier")
        self.port = port
        self.tcp = tcp
        self.watch = watch
        self.rate = rate
        self.timeout = timeout
        self.stats = QuerierStats("TCP/IPv6" if tcp else "UDP/IPv4")
        self.stop_event = threading.Event()
        self.sock: socket.socket | None = None
        self.qid = random.randrange(65536)
        self.wires = [(n, make_query(n, "A").to_wire()) for n in STABLE_NAMES]
        self.soa = (ORIGIN + " SOA", make_query(ORIGIN, "SOA").to_wire())

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)

    def judge(self, name: str, rcode: int, addresses: frozenset) -> str:
        return judge(name, rcode, addresses)

    def note_serial(self, serial: int) -> None:
        """Called with the serial of every SOA answer, in order (the fleet soak checks that
        a member's serials never go back)."""

    def _socket(self) -> socket.socket:
        if self.sock is None:
            if self.tcp:
                s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                s.settimeout(self.timeout)
                s.connect((V6, self.port))
            else:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.connect((V4, self.port))
            self.sock = s
        return self.sock

    def _drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _exchange(self, wire: bytes) -> bytes | None:
        self.qid = (self.qid + 1) & 0xFFFF
        msg = struct.pack("!H", self.qid) + wire[2:]
        deadline = time.monotonic() + self.timeout
        try:
            s = self._socket()
            if self.tcp:
                s.settimeout(self.timeout)
                s.sendall(struct.pack("!H", len(msg)) + msg)
                while True:
                    head = recv_exact(s, 2)
                    data = recv_exact(s, struct.unpack("!H", head)[0]) if head else None
                    if data is None:
                        self._drop()
                        return None
                    if struct.unpack("!H", data[:2])[0] == self.qid:
                        return data
            s.send(msg)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                s.settimeout(left)
                data = s.recv(65535)
                if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == self.qid:
                    return data
        except (socket.timeout, OSError):
            if self.tcp:
                self._drop()
            else:
                # ECONNREFUSED while nothing listens: wait out the rest of the timeout so a
                # dead server is not hammered in a tight loop.
                time.sleep(max(0.0, deadline - time.monotonic()))
            return None

    def run(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        i = 0
        st = self.stats
        try:
            while not self.stop_event.is_set():
                name, wire = self.soa if i % 10 == 9 else self.wires[i % len(self.wires)]
                i += 1
                down_before, epoch_before = self.watch.mark()
                st.sent += 1
                data = self._exchange(wire)
                if data is None:
                    st.sent += 1
                    data = self._exchange(wire)
                down_after, epoch_after = self.watch.mark()
                if data is None:
                    if down_before or down_after or epoch_before != epoch_after:
                        st.down += 1
                    else:
                        st.lost += 1
                        if len(st.lost_examples) < 10:
                            st.lost_examples.append((time.strftime("%H:%M:%S"), name))
                else:
                    st.answered += 1
                    _qid, rcode, records = parse_reply(data)
                    if name.endswith(" SOA"):
                        serial = soa_serial_of(data) if rcode == 0 else None
                        if serial is not None:
                            st.soa_ok += 1
                            self.note_serial(serial)
                        else:
                            st.bad["soa"] += 1
                    else:
                        st.checked += 1
                        verdict = self.judge(name, rcode, a_set(records))
                        if verdict == "ok":
                            st.ok += 1
                        else:
                            st.bad[verdict] += 1
                            if len(st.bad_examples) < 20:
                                st.bad_examples.append((time.strftime("%H:%M:%S"), name, rcode,
                                                        sorted(a_set(records))))
                next_at = pace(next_at, interval)
        finally:
            self._drop()


# ---------------------------------------------------------------------------------------------
# Generations acknowledged must stay in the journal, unchanged
# ---------------------------------------------------------------------------------------------

class Ledger:
    def __init__(self):
        self.seen: dict[int, str] = {}       # number -> canonical JSON of the generation
        self.acknowledged: set[int] = set()  # numbers the admin API answered a change with
        self.highest = 0
        self.checks = 0

    def acknowledge(self, number: int) -> None:
        self.acknowledged.add(number)

    def verify(self, server: SoakServer, when: str) -> None:
        """Every generation seen before is still in the history, identical; every acknowledged
        one is there; the newest never goes backwards."""
        status, entries = server.admin.request("GET", "/v1/history?limit=100000", timeout=30.0)
        check(status == 200 and isinstance(entries, list), f"history {when}: {status} {entries}")
        now = {}
        for e in entries:
            g = e["generation"]
            now[int(g["number"])] = json.dumps({k: g.get(k) for k in ("state", "changes", "serials", "actor", "reason")},
                                               sort_keys=True)
        missing = sorted(n for n in self.seen if n not in now)
        check(not missing, f"{when}: generations {missing[:20]} disappeared from the journal")
        changed = sorted(n for n in self.seen if now[n] != self.seen[n])
        check(not changed, f"{when}: generations {changed[:20]} changed in the journal")
        unacked = sorted(n for n in self.acknowledged if n not in now)
        check(not unacked, f"{when}: acknowledged generations {unacked[:20]} are not in the journal")
        newest = max(now) if now else 0
        check(newest >= self.highest, f"{when}: newest generation {newest} < {self.highest} seen before")
        self.seen.update(now)
        self.highest = newest
        self.checks += 1


def cutover_options(ramp=(100,), batch: int = 3) -> dict:
    return {"cluster": CLUSTER, "toPool": "pod", "ramp": list(ramp), "batch": batch, "cutoverTTL": 1,
            "jvmCacheSeconds": 1, "resolverFloorSeconds": 0, "dwellSeconds": 0, "gateCommands": [],
            "invalidationHooks": [], "verifyTimeoutSeconds": 10}


def running_now(server: SoakServer) -> bool:
    """Whether a runner is working on the cluster's run right now (the status endpoint says
    `active` for a run the server is executing)."""
    run = server.admin.run() or {}
    return bool(run.get("active")) and (run.get("progress") or {}).get("status") == "running"


def udp_query(port: int, wire: bytes, timeout: float = 1.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(wire, (V4, port))
            return s.recv(65535)
        except OSError:
            return None


# ---------------------------------------------------------------------------------------------
# Admin API flood
# ---------------------------------------------------------------------------------------------

class Flooder:
    """Threads sending the admin endpoint what it must refuse, as fast as they can. Every reply
    must be the refusal that request deserves; anything else (a 5xx, a dropped connection on
    a well-formed request) is counted in `unexpected`."""

    KINDS = ["bad json", "wrong shape", "huge body", "wrong token", "no token", "unknown path",
             "wrong method", "not http", "half request"]

    def __init__(self, server: SoakServer, counts: Counter, threads: int = 3):
        self.server = server
        self.counts = counts
        self.unexpected: Counter = Counter()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]
        self.lock = threading.Lock()

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)

    def _request(self, method: str, path: str, body: bytes | None, token: str | None) -> int:
        conn = http.client.HTTPConnection(V4, self.server.admin_port, timeout=10)
        try:
            headers = {"Content-Type": "application/json"}
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def _raw(self, payload: bytes) -> None:
        with socket.create_connection((V4, self.server.admin_port), timeout=5) as s:
            s.sendall(payload)
            try:
                s.recv(4096)
            except OSError:
                pass

    def _run(self, index: int) -> None:
        rng = random.Random(index)
        token = self.server.token_file.read_text().strip()
        while not self.stop_event.is_set():
            kind = rng.choice(self.KINDS)
            expected: tuple[int, ...] = ()
            try:
                if kind == "bad json":
                    status, expected = self._request("POST", "/v1/shift", b'{"request": {"broker": ', token), (400,)
                elif kind == "wrong shape":
                    body = json.dumps({"request": {"weights": {"name": "bootstrap.orders", "weights": {"vm": 300}}}}).encode()
                    status, expected = self._request("POST", rng.choice(["/v1/shift", "/v1/runs", "/v1/cutover/plan"]), body, token), (400,)
                elif kind == "huge body":
                    status, expected = self._request("POST", "/v1/shift", b"[" * (2 << 20), token), (413,)
                elif kind == "wrong token":
                    status, expected = self._request("POST", "/v1/shift", b"{}", token[::-1]), (401,)
                elif kind == "no token":
                    status, expected = self._request("GET", rng.choice(["/v1/status", "/metrics", "/v1/history"]), None, None), (401,)
                elif kind == "unknown path":
                    path = rng.choice(["/v1/nope", "/../../etc/passwd", "/v1/runs/orders/explode", "/%00", "/v1/" + "a" * 4000])
                    status, expected = self._request("GET", path, None, token), (400, 404, 414, 431)
                elif kind == "wrong method":
                    status, expected = self._request(rng.choice(["DELETE", "PUT", "PATCH"]), "/v1/shift", b"{}", token), (404, 405)
                elif kind == "not http":
                    self._raw(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600))) + b"\r\n\r\n")
                    status, expected = 0, (0,)
                else:
                    self._raw(b"POST /v1/shift HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"req")
                    status, expected = 0, (0,)
            except (OSError, http.client.HTTPException) as e:
                # A refused huge body may be cut off before the reply is read; the server
                # answering 413 and closing is fine. Anything else is not.
                if kind in ("huge body",) and isinstance(e, (BrokenPipeError, ConnectionResetError)):
                    status, expected = 413, (413,)
                else:
                    status, expected = -1, ()
                    with self.lock:
                        self.unexpected[f"{kind}: {type(e).__name__}"] += 1
            with self.lock:
                self.counts[kind] += 1
                if expected and status not in expected:
                    self.unexpected[f"{kind}: HTTP {status}"] += 1


def soak_main(description: str, seconds_variable: str, workdir_help: str, run, render, problems_of) -> int:
    """The command line of a soak script: `--seconds` (default from `seconds_variable`, else
    600), `--workdir`, `--json`; prints the report and each problem, exits 1 when there is one."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get(seconds_variable, 600)),
                        help="keep injecting faults until this many seconds have passed (each pass finishes)")
    parser.add_argument("--workdir", type=Path, help=workdir_help)
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    report = run(args.seconds, args.workdir)
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    problems = problems_of(report)
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    return 1 if problems else 0
