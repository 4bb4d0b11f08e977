"""Shared harness for the black-box integration tests of `switchyard serve` and `switchyard check`.

Everything here talks to the real binary over loopback only (127.0.0.1 and ::1); nothing ever
goes through the system resolver. Every process a test starts is stopped by its PID in a fixture
finaliser (SIGTERM, then SIGKILL after a timeout).

Environment:
  SWITCHYARD_BIN          path of the binary (default: <repo>/.build/debug/switchyard)
  SWITCHYARD_IT_BACKEND   "nsd" runs the serve tests against NSD instead; only useful to check
                          that the harness itself works while the server is being written.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
V4 = "127.0.0.1"
V6 = "::1"
OUR_UDP_SIZE = 1232
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def stop_process(proc: subprocess.Popen) -> int | None:
    """SIGTERM, wait, then SIGKILL, for a process a test started itself. Returns the exit
    code (negative = killed by signal)."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
        except ProcessLookupError:
            pass
    return proc.returncode


# ---------------------------------------------------------------------------------------------
# Fixture zones. Line numbers matter only in test_check.py / test_reload.py, which build their own.
# ---------------------------------------------------------------------------------------------

# SOA TTL 7200 > MINIMUM 300, so a negative answer's SOA must carry TTL 300 (RFC 2308 §5).
MAIN_SOA_TTL = 7200
MAIN_SOA_MINIMUM = 300
MAIN_NEG_TTL = min(MAIN_SOA_TTL, MAIN_SOA_MINIMUM)

# In other.test the SOA TTL (120) is the smaller one, so the rule is checked in both directions.
OTHER_SOA_TTL = 120
OTHER_SOA_MINIMUM = 900
OTHER_NEG_TTL = min(OTHER_SOA_TTL, OTHER_SOA_MINIMUM)

DS_DIGEST = "2BB183AF5F22588179A53B0A98631FAD1A292118B21D6A2D0F1F8D6C9C2B2B67"


def txt_string(i: int, length: int = 60) -> str:
    """A printable TXT string of exactly `length` bytes, distinct for each i."""
    head = f"r{i:03d}-"
    return head + ("abcdefghijklmnopqrstuvwxyz0123456789" * 3)[: length - len(head)]


BIG_TXT_COUNT = 40       # 40 RRs of ~73 wire bytes each: about 2.9 KB, above our 1232 cap
MEDIUM_TXT_COUNT = 9     # about 700 bytes: above 512, below 1232
WIDE_NS_COUNT = 13


def _main_zone_text() -> str:
    lines = [
        "$ORIGIN example.test.",
        "$TTL 3600",
        f"@ {MAIN_SOA_TTL} IN SOA ns1.example.test. hostmaster.example.test. ("
        f" 2024010101 3600 600 86400 {MAIN_SOA_MINIMUM} )",
        "@ IN NS ns1.example.test.",
        "@ IN NS ns2.example.test.",
        "@ IN MX 10 mail.example.test.",
        "@ IN A 192.0.2.1",
        "ns1 IN A 192.0.2.53",
        "ns2 IN AAAA 2001:db8::53",
        "www 300 IN A 192.0.2.10",
        "www 300 IN AAAA 2001:db8::10",
        "mail IN A 192.0.2.25",
        "mail IN MX 20 mail.example.test.",
        "alias IN CNAME alias2.example.test.",
        "alias2 IN CNAME www",
        "xzone IN CNAME host.other.test.",
        "ext IN CNAME target.example.com.",
        "dangling IN CNAME missing.example.test.",
        "tomail IN CNAME mail",
        "loop1 IN CNAME loop2",
        "loop2 IN CNAME loop1",
        'txt IN TXT "hello world" "second string"',
        "_kafka._tcp IN SRV 10 20 9092 www.example.test.",
        "ptr IN PTR www.example.test.",
        "a.b.c IN A 192.0.2.77",
        "*.wild IN A 192.0.2.99",
        "*.wild IN MX 10 mail.example.test.",
        'host.wild IN TXT "not from the wildcard"',
        "x.y.wild IN A 192.0.2.98",
        "child IN NS ns1.child",
        "child IN NS ns2.child",
        "ns1.child IN A 192.0.2.201",
        "ns1.child IN AAAA 2001:db8::201",
        "ns2.child IN A 192.0.2.202",
        "dschild IN NS ns1.dschild",
        f"dschild IN DS 12345 8 2 {DS_DIGEST}",
        "ns1.dschild IN A 192.0.2.211",
        "*.wc IN CNAME www",
        "caf\\195\\169 IN A 192.0.2.66",
        "unk IN TYPE65000 \\# 4 0a0b0c0d",
        'hinfo IN HINFO "PC-Intel" "Linux"',
        'caa IN CAA 0 issue "ca.example.net"',
    ]
    # A wide delegation: 13 in-domain name servers with A and AAAA glue (~860 bytes as a
    # referral), too big for 512 bytes without EDNS.
    for i in range(WIDE_NS_COUNT):
        lines += [f"wide IN NS ns{i}.wide", f"ns{i}.wide IN A 192.0.2.{100 + i}",
                  f"ns{i}.wide IN AAAA 2001:db8::1:{i}"]
    lines += [f'big IN TXT "{txt_string(i)}"' for i in range(BIG_TXT_COUNT)]
    lines += [f'medium IN TXT "{txt_string(i)}"' for i in range(MEDIUM_TXT_COUNT)]
    return "\n".join(lines) + "\n"


MAIN_ZONE = _main_zone_text()

OTHER_ZONE = f"""$ORIGIN other.test.
$TTL 600
@ {OTHER_SOA_TTL} IN SOA ns1.other.test. hostmaster.other.test. 7 3600 600 86400 {OTHER_SOA_MINIMUM}
@ IN NS ns1.other.test.
ns1 IN A 198.51.100.53
host IN A 198.51.100.5
"""

DEFAULT_ZONES = {"example.test.zone": MAIN_ZONE, "other.test.zone": OTHER_ZONE}


def zone_oracle(text: str = MAIN_ZONE, origin: str = "example.test.") -> dns.zone.Zone:
    """The fixture zone parsed by dnspython: the reference for expected RRsets."""
    return dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)


# ---------------------------------------------------------------------------------------------
# Binary discovery and ports
# ---------------------------------------------------------------------------------------------

def backend() -> str:
    return os.environ.get("SWITCHYARD_IT_BACKEND", "switchyard")


def switchyard_bin() -> Path:
    path = Path(os.environ.get("SWITCHYARD_BIN", REPO / ".build" / "debug" / "switchyard"))
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"switchyard binary not found or not executable at {path}; "
            "build it with `swift build` in the repo root or set SWITCHYARD_BIN",
            pytrace=False,
        )
    return path


def free_port(attempts: int = 50) -> int:
    """A port that is free for UDP and TCP on both 127.0.0.1 and ::1 right now."""
    for _ in range(attempts):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((V4, 0))
        port = probe.getsockname()[1]
        held = [probe]
        try:
            for family, kind, host in (
                (socket.AF_INET, socket.SOCK_STREAM, V4),
                (socket.AF_INET6, socket.SOCK_DGRAM, V6),
                (socket.AF_INET6, socket.SOCK_STREAM, V6),
            ):
                s = socket.socket(family, kind)
                held.append(s)
                s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("could not find a free port for UDP+TCP on 127.0.0.1 and ::1")


# ---------------------------------------------------------------------------------------------
# Raw transport helpers (no dnspython query machinery: we want to see exactly what came back)
# ---------------------------------------------------------------------------------------------

def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp_exchange(host: str, port: int, wire: bytes, timeout: float = 2.0) -> bytes | None:
    """Send one datagram; return the first reply whose ID matches (or any reply when the
    packet is too short to carry an ID), or None after `timeout` seconds of silence."""
    want_id = wire[:2] if len(wire) >= 2 else None
    with socket.socket(_family(host), socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        s.send(wire)
        deadline = time.monotonic() + timeout
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
            if want_id is None or len(data) < 2 or data[:2] == want_id:
                return data


def tcp_connect(host: str, port: int, timeout: float = 2.0) -> socket.socket:
    s = socket.socket(_family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def recv_exact(s: socket.socket, n: int) -> bytes | None:
    """Read exactly n bytes, or return None if the peer closed first. Timeouts propagate."""
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_read_message(s: socket.socket) -> bytes | None:
    head = recv_exact(s, 2)
    if head is None:
        return None
    (length,) = struct.unpack("!H", head)
    return recv_exact(s, length)


def frame(wire: bytes) -> bytes:
    return struct.pack("!H", len(wire)) + wire


def tcp_exchange(host: str, port: int, wire: bytes, timeout: float = 3.0) -> bytes | None:
    with tcp_connect(host, port, timeout) as s:
        s.sendall(frame(wire))
        return tcp_read_message(s)


def make_query(
    qname: str,
    qtype: str | int = "A",
    *,
    edns: int | None = None,
    payload: int = OUR_UDP_SIZE,
    rd: bool = False,
    rdclass: str | int = "IN",
    options=None,
) -> dns.message.QueryMessage:
    """A query message; `edns=None` means no OPT record, otherwise the EDNS version."""
    use_edns = False if edns is None else edns
    m = dns.message.make_query(
        qname,
        qtype,
        rdclass=rdclass,
        use_edns=use_edns,
        payload=payload,
        options=options,
    )
    if not rd:
        m.flags &= ~dns.flags.RD
    return m


def header_counts(wire: bytes) -> tuple[int, int, int, int]:
    return struct.unpack("!HHHH", wire[4:12])


def rr_total(msg: dns.message.Message, section) -> int:
    return sum(len(rrset) for rrset in section)


# ---------------------------------------------------------------------------------------------
# The server under test
# ---------------------------------------------------------------------------------------------

class Server:
    """A running `switchyard serve` (or NSD, for harness checks) on one port, both families."""

    def __init__(self, proc: subprocess.Popen, port: int, zone_dir: Path, log_path: Path,
                 out_path: Path):
        self.proc = proc
        self.port = port
        self.zone_dir = zone_dir
        self.log_path = log_path
        self.out_path = out_path

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def stop(self) -> int | None:
        """SIGTERM, wait, then SIGKILL. Returns the exit code (negative = killed by signal)."""
        return stop_process(self.proc)

    def describe(self) -> str:
        tail = self.stderr_text()[-3000:]
        return f"pid {self.pid}, port {self.port}, exit {self.proc.poll()}, stderr tail:\n{tail}"

    # -- queries -------------------------------------------------------------------------

    def host(self, v6: bool = False) -> str:
        return V6 if v6 else V4

    def raw(self, wire: bytes, *, tcp: bool = False, v6: bool = False,
            timeout: float = 2.0) -> bytes | None:
        if tcp:
            try:
                return tcp_exchange(self.host(v6), self.port, wire, timeout)
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                return None  # closed or silent: callers treat both as "no reply"
        return udp_exchange(self.host(v6), self.port, wire, timeout)

    def ask(self, msg: dns.message.Message, *, tcp: bool = False, v6: bool = False,
            timeout: float = 2.0) -> dns.message.Message:
        """Send a message and return the parsed reply; fail the test on silence."""
        wire = msg.to_wire()
        reply = self.raw(wire, tcp=tcp, v6=v6, timeout=timeout)
        if reply is None:
            pytest.fail(
                f"no reply within {timeout}s over {'TCP' if tcp else 'UDP'}"
                f"/{'IPv6' if v6 else 'IPv4'} for:\n{msg}\nserver: {self.describe()}"
            )
        return dns.message.from_wire(reply)

    def query(self, qname: str, qtype: str | int = "A", *, tcp: bool = False, v6: bool = False,
              timeout: float = 2.0, **kw) -> dns.message.Message:
        q = make_query(qname, qtype, **kw)
        r = self.ask(q, tcp=tcp, v6=v6, timeout=timeout)
        assert r.id == q.id, f"reply ID {r.id} != query ID {q.id}"
        return r


def _write_zones(zone_dir: Path, zones: dict[str, str]) -> None:
    zone_dir.mkdir(parents=True, exist_ok=True)
    for name, text in zones.items():
        (zone_dir / name).write_text(text)


def _nsd_command(zone_dir: Path, port: int, zones: dict[str, str], workdir: Path) -> list[str]:
    conf = [
        "server:",
        f"  ip-address: {V4}@{port}",
        f"  ip-address: {V6}@{port}",
        f"  port: {port}",
        '  username: ""',
        '  chroot: ""',
        f"  zonesdir: {zone_dir}",
        f"  pidfile: {workdir}/nsd.pid",
        f"  zonelistfile: {workdir}/zone.list",
        f"  xfrdfile: {workdir}/xfrd.state",
        f"  xfrdir: {workdir}",
        "  server-count: 1",
        "  verbosity: 1",
        "remote-control:",
        "  control-enable: no",
    ]
    for name in zones:
        origin = name[: -len("zone")] if name.endswith(".zone") else name
        conf += ["zone:", f"  name: {origin}", f"  zonefile: {zone_dir / name}"]
    conf_path = workdir / "nsd.conf"
    conf_path.write_text("\n".join(conf) + "\n")
    return ["nsd", "-d", "-c", str(conf_path)]


def wait_ready(server: Server, probe_name: str, timeout: float = STARTUP_TIMEOUT) -> None:
    """Poll with a UDP SOA query until the server answers (bounded)."""
    probe = make_query(probe_name, "SOA").to_wire()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            pytest.fail(f"server exited during startup: {server.describe()}", pytrace=False)
        if udp_exchange(V4, server.port, probe, timeout=0.2) is not None:
            return
        time.sleep(0.05)
    pytest.fail(f"server not answering after {timeout}s: {server.describe()}", pytrace=False)


def start_server(workdir: Path, zones: dict[str, str] | None = None,
                 extra_args: list[str] | None = None, port: int | None = None) -> Server:
    """`port`: the DNS port to listen on (a restart on the same one, so queriers follow it);
    a free one when not given."""
    zones = DEFAULT_ZONES if zones is None else zones
    zone_dir = workdir / "zones"
    _write_zones(zone_dir, zones)
    port = port or free_port()
    log_path = workdir / "server.stderr"
    out_path = workdir / "server.stdout"
    if backend() == "nsd":
        cmd = _nsd_command(zone_dir, port, zones, workdir)
    else:
        cmd = [
            str(switchyard_bin()), "serve",
            "--zones", str(zone_dir),
            "--listen", f"{V4}:{port}",
            "--listen", f"[{V6}]:{port}",
            "--threads", "2",
            "--log-level", "info",
            *(extra_args or []),
        ]
    with open(log_path, "wb") as err, open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                cwd=workdir)
    server = Server(proc, port, zone_dir, log_path, out_path)
    try:
        first = sorted(zones)[0]
        origin = first[: -len(".zone")] + "." if first.endswith(".zone") else first
        wait_ready(server, origin)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture
def server_factory(tmp_path_factory):
    """Start servers with custom zones/arguments; all are stopped at teardown."""
    started: list[Server] = []

    def start(zones: dict[str, str] | None = None, extra_args: list[str] | None = None) -> Server:
        workdir = tmp_path_factory.mktemp("switchyard")
        s = start_server(workdir, zones, extra_args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One shared server with the default zones, for read-only tests."""
    s = start_server(tmp_path_factory.mktemp("shared"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def oracle() -> dns.zone.Zone:
    return zone_oracle()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(0x5EED)


# Transport × family matrix, for the main positive/negative checks.
TRANSPORTS = [
    pytest.param((False, False), id="udp4"),
    pytest.param((True, False), id="tcp4"),
    pytest.param((False, True), id="udp6"),
    pytest.param((True, True), id="tcp6"),
]


@pytest.fixture(params=TRANSPORTS)
def via(request) -> dict:
    tcp, v6 = request.param
    return {"tcp": tcp, "v6": v6}


# ---------------------------------------------------------------------------------------------
# Assertions shared by several files
# ---------------------------------------------------------------------------------------------

def flag(msg: dns.message.Message, f: int) -> bool:
    return bool(msg.flags & f)


def assert_rcode(msg: dns.message.Message, rcode: int) -> None:
    assert msg.rcode() == rcode, (
        f"expected {dns.rcode.to_text(rcode)}, got {dns.rcode.to_text(msg.rcode())}:\n{msg}"
    )


def assert_negative_soa(msg: dns.message.Message, apex: str, ttl: int) -> None:
    """RFC 2308 §3/§5: the zone's SOA in authority, owner = apex, TTL = min(SOA TTL, MINIMUM)."""
    soas = [r for r in msg.authority if r.rdtype == dns.rdatatype.SOA]
    assert len(soas) == 1, f"expected exactly one SOA RRset in authority:\n{msg}"
    soa = soas[0]
    assert soa.name == dns.name.from_text(apex), f"SOA owner {soa.name} is not the apex {apex}"
    assert len(soa) == 1
    assert soa.ttl == ttl, f"negative SOA TTL {soa.ttl}, RFC 2308 wants {ttl}:\n{msg}"


def answer_rrset(msg: dns.message.Message, name: str, rdtype: str | int):
    rdtype = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
    want = dns.name.from_text(name)
    for rrset in msg.answer:
        if rrset.name == want and rrset.rdtype == rdtype:
            return rrset
    raise AssertionError(f"no {dns.rdatatype.to_text(rdtype)} RRset for {name} in answer:\n{msg}")
