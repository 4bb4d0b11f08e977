"""Helpers for the end-to-end tests of the cutover controller (test_cutover_e2e.py,
test_cutover_crash.py, test_cache_invalidation.py, test_admin_auth.py).

- `Deployment`: one `switchyard serve` with a state directory and an admin endpoint on
  loopback, restartable with the same state (gracefully or after `kill -9`);
- `Admin`: a tiny JSON client of the admin HTTP API (http.client, so no proxy settings apply);
- `cli()` / `CliProcess`: the `switchyard` CLI pointed at a deployment, run to completion or in
  the background (stopped by PID: SIGTERM, then SIGKILL);
- `Querier`: a thread that asks the stable names over UDP without pause and records every
  answer, in order, with one retry for a timed-out query;
- `check_timeline()`: checks recorded answers against the states a plan goes through.

Only loopback addresses are used; nothing goes through the system resolver.
"""

from __future__ import annotations

import copy
import http.client
import json
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import pytest

from conftest import V4, Server, free_port, make_query, start_server, stop_process, switchyard_bin, recv_exact
from stablekit import TcpListener, a_set, common_free_port, parse_reply, wait_until, zone_text

ORIGIN = "example.test."
CLUSTER = "orders"
VM = {1: "127.0.0.11", 2: "127.0.0.12", 3: "127.0.0.13"}
POD = {1: "127.0.0.21", 2: "127.0.0.22", 3: "127.0.0.23"}
POOL_ADDRESSES = {"vm": VM, "pod": POD}
BROKER_IDS = (1, 2, 3)
CLI_TIMEOUT = 120.0
STOP_TIMEOUT = 5.0


def broker_name(i: int, cluster: str = CLUSTER) -> str:
    return f"broker-{i}.{cluster}.{ORIGIN}"


def bootstrap_name(cluster: str = CLUSTER) -> str:
    return f"bootstrap.{cluster}.{ORIGIN}"


MANAGED_NAMES = [bootstrap_name()] + [broker_name(i) for i in BROKER_IDS]


def orders_inventory(port: int, ttl: int = 1, vm: dict[int, str] = VM,
                     pod: dict[int, str] = POD) -> str:
    """Cluster `orders`: brokers 1-3 living in vm, each with a pod target; no health checks.
    The targets are plain TCP listeners, not Kafka, so the cluster has `gate: tcp` (gates
    connect over TCP; test_kafka_clients.py covers Kafka gates)."""
    lines = [f"ttl: {ttl}", "clusters:", f"  {CLUSTER}:", f"    port: {port}",
             "    pools: [vm, pod]", "    gate: tcp", "    brokers:"]
    for i in BROKER_IDS:
        lines.append(f"      {i}: {{ vm: {vm[i]}, pod: {pod[i]} }}")
    return "\n".join(lines) + "\n"


# Every broker target of cluster orders (listeners stand in for them), and the staging options
# that keep a test's cutover to seconds.
ALL_TARGETS = list(VM.values()) + list(POD.values())
FAST = ["--cutover-ttl", "1", "--jvm-cache", "1", "--verify-timeout", "10"]


def orders_zones(port: int, ttl: int = 1) -> dict[str, str]:
    return {"example.test.zone": zone_text("example.test"),
            "example.test.yaml": orders_inventory(port, ttl)}


# ---------------------------------------------------------------------------------------------
# Admin HTTP API
# ---------------------------------------------------------------------------------------------

_DEFAULT = object()


class Admin:
    """JSON over HTTP to `127.0.0.1:<port>`; `token=None` sends no Authorization header."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.token = token

    def request(self, method: str, path: str, body=None, token=_DEFAULT,
                timeout: float = 30.0) -> tuple[int, object]:
        token = self.token if token is _DEFAULT else token
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(V4, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        text = raw.decode(errors="replace")
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text

    def ok(self, method: str, path: str, body=None, expect: Sequence[int] = (200, 202)):
        status, reply = self.request(method, path, body)
        assert status in expect, f"{method} {path} {json.dumps(body)} -> HTTP {status}: {reply}"
        return reply

    def status(self) -> dict:
        return self.ok("GET", "/v1/status")

    def healthz(self) -> dict:
        """/healthz, which takes no token."""
        status, body = self.request("GET", "/healthz", token=None)
        assert status == 200, body
        return body

    def metric(self, name: str) -> float | None:
        """The value of an unlabelled metric from /metrics, or None when it is not there."""
        status, text = self.request("GET", "/metrics")
        assert status == 200
        for line in str(text).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == name:
                return float(parts[1])
        return None

    def generation(self) -> dict:
        return self.status()["generation"]

    def run(self, cluster: str = CLUSTER) -> dict | None:
        status, reply = self.request("GET", f"/v1/runs/{cluster}")
        if status == 404 and "no cutover runs" in json.dumps(reply):
            return None
        assert status == 200, f"GET /v1/runs/{cluster} -> HTTP {status}: {reply}"
        return reply

    def shift_broker(self, broker: int, pool: str, cluster: str = CLUSTER) -> dict:
        body = {"request": {"broker": {"cluster": cluster, "id": broker, "pool": pool}},
                "actor": "pytest", "reason": "integration test"}
        return self.ok("POST", "/v1/shift", body)

    def plan(self, options: dict) -> dict:
        return self.ok("POST", "/v1/cutover/plan", options)

    def rollback_plan(self, body: dict) -> dict:
        return self.ok("POST", "/v1/rollback/plan", body)


def cutover_options(to_pool: str = "pod", *, cluster: str = CLUSTER, brokers=None,
                    ramp=(100,), batch: int = 1, cutover_ttl: int = 1, jvm_cache: int = 1,
                    resolver_floor: int = 0, dwell: int = 0, gates=(), drain=None,
                    verify_timeout: int = 5) -> dict:
    """CutoverOptions as the admin API takes them (Swift Codable field names)."""
    options = {"cluster": cluster, "toPool": to_pool, "ramp": list(ramp), "batch": batch,
               "cutoverTTL": cutover_ttl, "jvmCacheSeconds": jvm_cache,
               "resolverFloorSeconds": resolver_floor, "dwellSeconds": dwell,
               "gateCommands": list(gates), "invalidationHooks": [],
               "verifyTimeoutSeconds": verify_timeout}
    if brokers is not None:
        options["brokers"] = list(brokers)
    if drain is not None:
        options["drainCommand"] = drain
    return options


# ---------------------------------------------------------------------------------------------
# The deployment under test
# ---------------------------------------------------------------------------------------------

def read_token(path: Path) -> str:
    return path.read_text().strip()


class Deployment:
    """`switchyard serve` with --state and --admin in `workdir`, restartable on the same state.
    The DNS port changes on every start (conftest.start_server picks a free one)."""

    def __init__(self, workdir: Path, zones: dict[str, str], extra_args: Sequence[str] = (),
                 token_file: Path | None = None):
        self.workdir = workdir
        self.zones = zones
        self.extra_args = list(extra_args)
        self.state_dir = workdir / "state"
        self.token_file = token_file or (self.state_dir / "admin.token")
        self.admin_port = 0
        self.server: Server | None = None
        self.history: list[Server] = []

    def start(self, *, new_admin_port: bool = True) -> Server:
        assert self.server is None or not self.server.alive(), "already running"
        if new_admin_port or not self.admin_port:
            self.admin_port = free_port()
        args = ["--state", str(self.state_dir), "--admin", f"{V4}:{self.admin_port}"]
        if self.token_file != self.state_dir / "admin.token":
            args += ["--admin-token-file", str(self.token_file)]
        self.server = start_server(self.workdir, self.zones, args + self.extra_args)
        self.history.append(self.server)
        # DNS answers before the admin endpoint may be up: wait for /healthz.
        if wait_until(self._healthy, timeout=15.0, step=0.05) is None:
            pytest.fail(f"admin endpoint not up on {self.admin_port}: {self.server.describe()}",
                        pytrace=False)
        return self.server

    def _healthy(self) -> bool:
        if not self.server.alive():
            pytest.fail(f"server exited: {self.server.describe()}", pytrace=False)
        try:
            status, _ = Admin(self.admin_port, "").request("GET", "/healthz", token=None,
                                                         timeout=1.0)
            return status == 200
        except OSError:
            return False

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def admin(self) -> Admin:
        return Admin(self.admin_port, read_token(self.token_file))

    def crash(self) -> None:
        """kill -9 the server and reap it."""
        self.server.signal(signal.SIGKILL)
        self.server.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> int | None:
        return self.server.stop() if self.server else None

    def stop_all(self) -> None:
        for s in self.history:
            s.stop()

    def cli_args(self, admin: str | None = None) -> list[str]:
        return ["--admin", admin or f"{V4}:{self.admin_port}",
                "--admin-token-file", str(self.token_file)]

    def ask(self, qname: str, qtype: str = "A", timeout: float = 1.0) -> tuple[int, frozenset[str]]:
        """(rcode, A addresses) of one UDP query; rcode -1 on silence."""
        data = self.server.raw(make_query(qname, qtype).to_wire(), timeout=timeout)
        if data is None:
            return -1, frozenset()
        _qid, rcode, records = parse_reply(data)
        return rcode, a_set(records)

    def soa_serial(self, origin: str = ORIGIN) -> int:
        data = self.server.raw(make_query(origin, "SOA").to_wire(), timeout=2.0)
        assert data is not None, f"no SOA answer: {self.server.describe()}"
        serial = soa_serial_of(data)
        assert serial is not None, "SOA query answered without an SOA record"
        return serial

    def journal_latest(self) -> tuple[int, dict]:
        """(number, serials) of the newest generation in the journal, read from a copy of the
        database files (so a stopped or killed server's WAL is recovered in the copy only)."""
        copy = self.workdir / f"journal-copy-{time.monotonic_ns()}"
        copy.mkdir()
        for f in self.state_dir.glob("switchyard.db*"):
            shutil.copy2(f, copy / f.name)
        con = sqlite3.connect(str(copy / "switchyard.db"))
        try:
            row = con.execute(
                "SELECT number, serials FROM generation ORDER BY number DESC LIMIT 1").fetchone()
        finally:
            con.close()
        shutil.rmtree(copy, ignore_errors=True)
        assert row is not None, "the journal holds no generation"
        return int(row[0]), json.loads(row[1])


@pytest.fixture
def deployments(tmp_path_factory):
    """Factory of Deployments; every server any of them started is stopped at teardown."""
    made: list[Deployment] = []

    def make(zones: dict[str, str], extra_args: Sequence[str] = (), start: bool = True,
             token_file: Path | None = None) -> Deployment:
        d = Deployment(tmp_path_factory.mktemp("cutover"), zones, extra_args, token_file)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    for d in made:
        d.stop_all()


@pytest.fixture
def broker_listeners():
    """Factory: TCP listeners (stand-in brokers) on a port free on all the given hosts;
    closed at teardown. Returns (port, {host: TcpListener})."""
    opened: list[TcpListener] = []

    def make(hosts: Sequence[str], skip: Sequence[str] = ()) -> tuple[int, dict[str, TcpListener]]:
        port = common_free_port(hosts)
        listeners = {}
        for h in hosts:
            listener = TcpListener(h, port)
            if h not in skip:
                listener.open()
            opened.append(listener)
            listeners[h] = listener
        return port, listeners

    yield make
    for listener in opened:
        listener.close()


# ---------------------------------------------------------------------------------------------
# The CLI
# ---------------------------------------------------------------------------------------------

def cli(deployment: Deployment, *args: str, timeout: float = CLI_TIMEOUT,
        admin: str | None = None) -> subprocess.CompletedProcess:
    """Run `switchyard <args> --admin ... --admin-token-file ...` to completion (bounded)."""
    cmd = [str(switchyard_bin()), *args, *deployment.cli_args(admin)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=deployment.workdir)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        out, err = proc.communicate(timeout=STOP_TIMEOUT)
        pytest.fail(f"`{' '.join(args)}` did not finish within {timeout}s\nstdout:\n{out}\n"
                    f"stderr:\n{err}", pytrace=False)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def describe_run(r: subprocess.CompletedProcess) -> str:
    return f"`{' '.join(r.args[1:])}` exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"


class CliProcess:
    """A CLI command running in the background, output to files."""

    def __init__(self, deployment: Deployment, args: Sequence[str], tag: str):
        self.args = list(args)
        self.out_path = deployment.workdir / f"cli-{tag}.stdout"
        self.err_path = deployment.workdir / f"cli-{tag}.stderr"
        cmd = [str(switchyard_bin()), *args, *deployment.cli_args()]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         cwd=deployment.workdir)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        stop_process(self.proc)

    def output(self) -> str:
        out = self.out_path.read_text(errors="replace") if self.out_path.exists() else ""
        err = self.err_path.read_text(errors="replace") if self.err_path.exists() else ""
        return (f"`{' '.join(self.args)}` exit {self.proc.poll()}\nstdout:\n{out}\n"
                f"stderr:\n{err}")


@pytest.fixture
def cli_processes():
    """Factory of background CLI processes; each is stopped by PID at teardown."""
    started: list[CliProcess] = []

    def spawn(deployment: Deployment, *args: str, tag: str = "bg") -> CliProcess:
        p = CliProcess(deployment, args, f"{tag}-{len(started)}")
        started.append(p)
        return p

    yield spawn
    for p in started:
        p.stop()


def cli_available() -> bool:
    """Whether the binary has the controller subcommands yet."""
    try:
        r = subprocess.run([str(switchyard_bin()), "cutover", "--help"], capture_output=True,
                           text=True, timeout=20)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return r.returncode == 0 and "apply" in r.stdout


def history_numbers(text: str) -> list[int]:
    """Generation numbers of `switchyard history` output (lines `N  date  actor  reason`)."""
    return [int(m.group(1)) for m in re.finditer(r"^(\d+)\s+\S*\d{4}-\d\d-\d\d", text, re.M)]


# ---------------------------------------------------------------------------------------------
# DNS parsing
# ---------------------------------------------------------------------------------------------

TYPE_SOA = 6


def _skip_name(data: bytes, pos: int) -> int:
    for _ in range(128):
        length = data[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length
    raise ValueError("name too long")


def soa_serial_of(data: bytes) -> int | None:
    """The serial of the first SOA record in the answer section of a reply."""
    _qid, _flags, qd, an = struct.unpack("!HHHH", data[:8])
    pos = 12
    for _ in range(qd):
        pos = _skip_name(data, pos) + 4
    for _ in range(an):
        pos = _skip_name(data, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == TYPE_SOA:
            rd = data[pos:pos + rdlen]
            p = _skip_name(rd, 0)
            p = _skip_name(rd, p)
            return struct.unpack("!I", rd[p:p + 4])[0]
        pos += rdlen
    return None


def serial_after(a: int, b: int) -> bool:
    """RFC 1982: serial a is later than b."""
    return a != b and ((a - b) & 0xFFFFFFFF) < 0x80000000


# ---------------------------------------------------------------------------------------------
# Continuous querier
# ---------------------------------------------------------------------------------------------

@dataclass
class Answer:
    at: float
    name: str
    rcode: int          # -1: lost (the query and its one retry both timed out)
    addresses: frozenset
    ttl: int | None
    serial: int | None = None
    retried: bool = False


@dataclass
class Querier:
    """Asks `names` (round robin, A) plus the zone's SOA once every `soa_every` rounds over UDP at
    about `rate` queries per second, one at a time, so answers are recorded in the order the
    server produced them. A query unanswered within `timeout` is re-sent once with a new ID;
    if that also times out, the query counts as lost. `tcp6=True` asks over one TCP
    connection to [::1] instead (reconnecting once for a retry)."""

    port: int
    names: Sequence[str]
    rate: float = 500.0
    tcp6: bool = False
    timeout: float = 1.0
    soa_every: int = 10
    max_seconds: float = 180.0
    origin: str = ORIGIN
    answers: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="querier")
        self._wires = {n: make_query(n, "A").to_wire() for n in self.names}
        self._soa = make_query(self.origin, "SOA").to_wire()

    def start(self) -> "Querier":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout * 3 + 5)

    def _exchange(self, s: socket.socket, wire: bytes, qid: int) -> bytes | None:
        s.send(struct.pack("!H", qid) + wire[2:])
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                return None
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                return data

    def _tcp_exchange(self, s: socket.socket, wire: bytes, qid: int) -> bytes | None:
        try:
            s.settimeout(self.timeout)
            msg = struct.pack("!H", qid) + wire[2:]
            s.sendall(struct.pack("!H", len(msg)) + msg)
            while True:
                head = recv_exact(s, 2)
                if head is None:
                    return None
                data = recv_exact(s, struct.unpack("!H", head)[0])
                if data is None:
                    return None
                if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                    return data
        except (socket.timeout, ConnectionError, OSError):
            return None

    def _connect(self) -> socket.socket:
        if self.tcp6:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            s.connect(("::1", self.port))
            return s
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((V4, self.port))
        return s

    def _ask(self, holder: list, wire: bytes, qid: int) -> bytes | None:
        if not self.tcp6:
            return self._exchange(holder[0], wire, qid)
        if holder[0] is None:
            try:
                holder[0] = self._connect()
            except OSError:
                return None
        data = self._tcp_exchange(holder[0], wire, qid)
        if data is None:   # closed or stuck: the retry gets a fresh connection
            holder[0].close()
            holder[0] = None
        return data

    def _run(self) -> None:
        holder: list = [None]
        try:
            holder[0] = self._connect()
        except OSError as e:
            self.errors.append(repr(e))
            return
        qid = 0
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        end = next_at + self.max_seconds
        i = 0
        soa_asked_at = -1
        try:
            while not self._stop.is_set() and time.monotonic() < end:
                # The SOA goes between rounds, taking no name's turn (soa_every=1: every round).
                if self.soa_every and i % (len(self.names) * self.soa_every) == 0 and soa_asked_at != i:
                    soa_asked_at = i
                    name, wire = self.origin + " SOA", self._soa
                else:
                    name = self.names[i % len(self.names)]
                    wire = self._wires[name]
                    i += 1
                retried = False
                qid = (qid + 1) & 0xFFFF
                data = self._ask(holder, wire, qid)
                if data is None:
                    retried = True
                    qid = (qid + 1) & 0xFFFF
                    data = self._ask(holder, wire, qid)
                now = time.monotonic()
                if data is None:
                    self.answers.append(Answer(now, name, -1, frozenset(), None, None, True))
                else:
                    _q, rcode, records = parse_reply(data)
                    ttl = _first_ttl(data)
                    serial = soa_serial_of(data) if wire is self._soa else None
                    self.answers.append(Answer(now, name, rcode, a_set(records), ttl, serial,
                                               retried))
                next_at = pace(next_at, interval)
        except Exception as e:  # recorded and asserted on by the test
            self.errors.append(repr(e))
        finally:
            if holder[0] is not None:
                holder[0].close()


def pace(next_at: float, interval: float) -> float:
    """Sleeps until `next_at` + `interval` (a querier's next send); a querier that fell behind
    starts again from now instead of bursting to catch up. Returns the new send time."""
    next_at += interval
    delay = next_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
        return next_at
    return time.monotonic()


def _first_ttl(data: bytes) -> int | None:
    _qid, _flags, qd, an = struct.unpack("!HHHH", data[:8])
    if an == 0:
        return None
    pos = 12
    for _ in range(qd):
        pos = _skip_name(data, pos) + 4
    pos = _skip_name(data, pos)
    return struct.unpack("!I", data[pos + 4:pos + 8])[0]


# ---------------------------------------------------------------------------------------------
# Expected answers of a plan's states
# ---------------------------------------------------------------------------------------------

def expected_answers(state: dict, cluster: str = CLUSTER) -> dict[str, set[frozenset]]:
    """For one ServingState (JSON), the answers each managed name may give: broker names
    exactly their live pool's target; bootstrap the whole live set of one pool it may pick
    (weight > 0 and not empty; else any non-empty pool: Route 53's rule / fail-open)."""
    live = state["brokerPools"]
    out: dict[str, set[frozenset]] = {}
    members: dict[str, set[str]] = {"vm": set(), "pod": set()}
    for i in BROKER_IDS:
        pool = live[broker_name(i, cluster)]
        address = POOL_ADDRESSES[pool][i]
        out[broker_name(i, cluster)] = {frozenset([address])}
        members[pool].add(address)
    weights = state["weights"].get(bootstrap_name(cluster), {"vm": 100, "pod": 0})
    candidates = [p for p in ("vm", "pod") if weights.get(p, 0) > 0 and members[p]]
    if not candidates:
        candidates = [p for p in ("vm", "pod") if members[p]]
    out[bootstrap_name(cluster)] = {frozenset(members[p]) for p in candidates}
    return out


def check_timeline(answers: Sequence[Answer], states: Sequence[dict],
                   inventory_ttl: int | None = None, **kwargs) -> list[str]:
    """Every answer must be one the state sequence allows, and the answers must be
    explainable by walking the states forward only (a name never goes back to an older
    state's answer once a newer state's was seen). With `inventory_ttl`, an answer's TTL must
    also be its state's (the cutover's override, else the inventory's). Returns the problems.
    `allowed_of` and `subset_names`: see `timeline`."""
    return timeline(answers, states, inventory_ttl, **kwargs)[0]


def timeline(answers: Sequence[Answer], states: Sequence[dict],
             inventory_ttl: int | None = None,
             allowed_of: Callable[[dict], dict[str, set[frozenset]]] | None = None,
             subset_names: Sequence[str] = ()) -> tuple[list[str], dict[int, float]]:
    """(problems, first time each state index was the only explanation of an answer).
    `allowed_of(state)` gives each name's allowed answers (default: cluster orders of
    `expected_answers`); a name in `subset_names` (a bootstrap of more brokers than it answers
    with) may answer any non-empty subset of one allowed set. States are tried forward from the
    last one seen, so a long plan costs no more per answer than a short one."""
    allowed = [(allowed_of or expected_answers)(s) for s in states]
    subsets = set(subset_names)

    def ttl_of(state: dict, name: str) -> int | None:
        if inventory_ttl is None:
            return None
        lowered = (state.get("loweredTTLs") or {}).get(name)
        return lowered if lowered is not None else (state.get("ttls") or {}).get(name, inventory_ttl)

    def fits(a: Answer, j: int) -> bool:
        if a.rcode != 0:
            return False
        options = allowed[j][a.name]
        if a.name in subsets:
            ok = bool(a.addresses) and any(a.addresses <= o for o in options)
        else:
            ok = a.addresses in options
        return ok and (inventory_ttl is None or a.ttl == ttl_of(states[j], a.name))

    problems = []
    first_seen: dict[int, float] = {}
    cur = 0
    for k, a in enumerate(answers):
        if a.name not in allowed[0]:
            continue
        later = next((j for j in range(cur, len(states)) if fits(a, j)), None)
        if later is None:
            earlier = [j for j in range(cur) if fits(a, j)]
            if earlier:
                problems.append(f"answer #{k} {a.name} {sorted(a.addresses)} TTL {a.ttl} fits only "
                                f"states {earlier}, but state {cur} had already been seen: answers "
                                f"went backwards")
            else:
                problems.append(f"answer #{k} {a.name} rcode {a.rcode} {sorted(a.addresses)} TTL "
                                f"{a.ttl} fits no state of the plan")
            continue
        if later > cur:
            first_seen.setdefault(later, a.at)
        cur = later
    return problems, first_seen


def plan_states(plan: dict) -> list[dict]:
    """The start state and the state after each step. A plan's JSON gives each step's changes
    (each name's whole setting after it), not its whole state (plans journaled before did)."""
    states = [plan["startState"]]
    for step in plan["steps"]:
        if "state" in step:
            states.append(step["state"])
            continue
        state = copy.deepcopy(states[-1])
        for change in step["changes"]:
            for key, field in (("brokerPools", "livePool"), ("weights", "weights"), ("ttls", "ttl"),
                               ("loweredTTLs", "loweredTTL")):
                if field in change["after"]:
                    state.setdefault(key, {})[change["name"]] = change["after"][field]
                else:
                    state.setdefault(key, {}).pop(change["name"], None)
        states.append(state)
    return states


def committed_generations(progress: dict) -> dict[int, int]:
    """Step index -> generation of a run's progress (JSON keys may be strings)."""
    gens = progress.get("generations") or {}
    if isinstance(gens, list):  # Swift encodes some dictionaries as [k, v, k, v, ...]
        gens = dict(zip(gens[0::2], gens[1::2]))
    return {int(k): int(v) for k, v in gens.items()}


def wait_for_run(admin: Admin, predicate: Callable[[dict], bool], timeout: float,
                 cluster: str = CLUSTER) -> dict | None:
    """Poll GET /v1/runs/<cluster> until predicate(reply) holds; the reply, or None."""
    found: list[dict] = []

    def check() -> bool:
        run = admin.run(cluster)
        if run is not None and predicate(run):
            found.append(run)
            return True
        return False

    wait_until(check, timeout=timeout, step=0.05)
    return found[0] if found else None


def served_state_problems(deployment: Deployment, state: dict, samples: int = 12) -> list[str]:
    """Ask each managed name (bootstrap several times) and compare with `state`."""
    allowed = expected_answers(state)
    problems = []
    for name, options in allowed.items():
        for _ in range(samples if name.startswith("bootstrap") else 1):
            rcode, addrs = deployment.ask(name)
            if rcode != 0 or addrs not in options:
                problems.append(f"{name}: rcode {rcode} {sorted(addrs)}, expected one of "
                                f"{[sorted(o) for o in options]}")
                break
    return problems


def all_in(pool: str) -> dict:
    """The ServingState (JSON shape) with every broker and bootstrap in `pool`."""
    other = "vm" if pool == "pod" else "pod"
    return {"brokerPools": {broker_name(i): pool for i in BROKER_IDS},
            "weights": {bootstrap_name(): {pool: 100, other: 0}}, "ttls": {}}
