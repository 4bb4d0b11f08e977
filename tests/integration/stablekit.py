"""Helpers for the stable-name tests (test_stable_names.py, test_health.py,
test_inventory_check.py): a pipelined UDP query engine, a fast wire parser for answer RDATA,
chi-square statistics, loopback TCP listeners that play the role of Kafka brokers for health
probes, and small polling utilities.

Only loopback addresses are used; nothing goes through the system resolver.
"""

from __future__ import annotations

import errno
import random
import select
import socket
import struct
import threading
import time
from collections import Counter
from typing import Callable, Iterable, Sequence

import dns.edns
import dns.rcode

from conftest import V4, make_query

TYPE_A = 1
TYPE_CNAME = 5
TYPE_AAAA = 28

# Critical values of the chi-square distribution at p = 0.001.
CHI2_CRIT_001 = {1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467}

MINIMAL_ZONE_HEAD = [
    "$TTL 3600",
    "@ 3600 IN SOA ns1 hostmaster 2024010101 3600 600 86400 300",
    "@ IN NS ns1",
    "ns1 IN A 192.0.2.53",
]
NEG_TTL = 300    # min(SOA TTL 3600, MINIMUM 300) for zones built from MINIMAL_ZONE_HEAD


# One cluster with one broker and two pools: the inventory of the fault and state tests.
ONE_BROKER_INVENTORY = """clusters:
  orders:
    port: 9092
    pools: [vm, pod]
    brokers:
      1: { vm: 127.0.0.11, pod: 127.0.0.21 }
"""


def zone_text(origin: str, extra: Sequence[str] = (), serial: int = 2024010101) -> str:
    origin = origin.rstrip(".") + "."
    head = [f"$ORIGIN {origin}"] + [
        line.replace("2024010101", str(serial)) for line in MINIMAL_ZONE_HEAD]
    return "\n".join(head + list(extra)) + "\n"


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------

def chi_square(observed: Sequence[int], expected_shares: Sequence[float]) -> float:
    """Pearson's goodness-of-fit statistic of `observed` counts against the given shares."""
    assert len(observed) == len(expected_shares)
    total = sum(observed)
    norm = sum(expected_shares)
    stat = 0.0
    for o, share in zip(observed, expected_shares):
        e = total * share / norm
        assert e > 0, "expected counts must be positive"
        stat += (o - e) ** 2 / e
    return stat


# ---------------------------------------------------------------------------------------------
# Fast answer parsing (dnspython is too slow for 100,000 replies)
# ---------------------------------------------------------------------------------------------

def _skip_name(data: bytes, pos: int) -> int:
    for _ in range(128):
        length = data[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length
    raise ValueError("name too long")


def parse_reply(data: bytes) -> tuple[int, int, list[tuple[int, bytes]]]:
    """(id, rcode, [(type, rdata), ...] of the answer section) of a reply in wire format."""
    qid, flags, qd, an = struct.unpack("!HHHH", data[:8])
    pos = 12
    for _ in range(qd):
        pos = _skip_name(data, pos) + 4
    records = []
    for _ in range(an):
        pos = _skip_name(data, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", data[pos:pos + 10])
        pos += 10
        records.append((rtype, data[pos:pos + rdlen]))
        pos += rdlen
    return qid, flags & 0xF, records


def a_set(records: list[tuple[int, bytes]]) -> frozenset[str]:
    return frozenset(socket.inet_ntop(socket.AF_INET, rd) for t, rd in records if t == TYPE_A)


def aaaa_set(records: list[tuple[int, bytes]]) -> frozenset[str]:
    return frozenset(socket.inet_ntop(socket.AF_INET6, rd) for t, rd in records if t == TYPE_AAAA)


# ---------------------------------------------------------------------------------------------
# Pipelined UDP queries
# ---------------------------------------------------------------------------------------------

class PipelineResult:
    def __init__(self, n: int):
        self.replies: list[bytes | None] = [None] * n
        self.sent = 0
        self.resent = 0
        self.elapsed = 0.0

    @property
    def missing(self) -> list[int]:
        return [i for i, r in enumerate(self.replies) if r is None]


def pipeline(port: int, wires: Sequence[bytes], *, host: str = V4, window: int = 200,
             sockets: int = 4, seed: int = 0x51AB1E, retry_after: float = 0.5, retries: int = 3,
             deadline: float = 90.0) -> PipelineResult:
    """Send every wire (its first two bytes are replaced by our own query ID) over several
    non-blocking UDP sockets with up to `window` queries in flight, and collect the reply of
    each. Query IDs come from a seeded permutation of 0..65535, so runs are reproducible.
    Lost queries are re-sent (with a fresh ID) up to `retries` times. Bounded by `deadline`."""
    n = len(wires)
    result = PipelineResult(n)
    rng = random.Random(seed)
    id_order = list(range(65536))
    rng.shuffle(id_order)
    id_cursor = 0
    socks = []
    for _ in range(sockets):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.connect((host, port))
        s.setblocking(False)
        socks.append(s)
    poller = select.poll()
    by_fd = {}
    for s in socks:
        poller.register(s.fileno(), select.POLLIN)
        by_fd[s.fileno()] = s
    # id -> (index, sent_at, tries, socket index)
    inflight: dict[int, tuple[int, float, int, int]] = {}
    queue: list[tuple[int, int]] = [(i, 0) for i in range(n - 1, -1, -1)]  # stack: (index, tries)
    start = time.monotonic()
    end = start + deadline
    rr = 0
    try:
        while (queue or inflight) and time.monotonic() < end:
            # Fill the window.
            while queue and len(inflight) < window:
                index, tries = queue.pop()
                for _ in range(65536):
                    qid = id_order[id_cursor]
                    id_cursor = (id_cursor + 1) % 65536
                    if qid not in inflight:
                        break
                wire = struct.pack("!H", qid) + wires[index][2:]
                sock_i = rr % len(socks)
                rr += 1
                try:
                    socks[sock_i].send(wire)
                except BlockingIOError:
                    queue.append((index, tries))
                    break
                except OSError as e:
                    if e.errno in (errno.ECONNREFUSED, errno.ENOBUFS):
                        queue.append((index, tries))
                        break
                    raise
                inflight[qid] = (index, time.monotonic(), tries, sock_i)
                result.sent += 1
            # Collect.
            for fd, _ev in poller.poll(20):
                s = by_fd[fd]
                for _ in range(4096):
                    try:
                        data = s.recv(65535)
                    except (BlockingIOError, InterruptedError):
                        break
                    except ConnectionRefusedError:
                        break
                    if len(data) < 12:
                        continue
                    (qid,) = struct.unpack("!H", data[:2])
                    entry = inflight.get(qid)
                    if entry is None:
                        continue   # a late reply to a query we already re-sent
                    index = entry[0]
                    del inflight[qid]
                    result.replies[index] = data
            # Re-send the ones that waited too long.
            now = time.monotonic()
            if inflight:
                stale = [(qid, e) for qid, e in inflight.items() if now - e[1] > retry_after]
                for qid, (index, _t, tries, _s) in stale:
                    del inflight[qid]
                    if tries < retries:
                        queue.append((index, tries + 1))
                        result.resent += 1
    finally:
        for s in socks:
            s.close()
    result.elapsed = time.monotonic() - start
    return result


def repeat_query(port: int, qname: str, qtype: str, n: int, **kw) -> PipelineResult:
    wire = make_query(qname, qtype).to_wire()
    return pipeline(port, [wire] * n, **kw)


def ecs_query_wire(qname: str, qtype: str, address: str, prefix: int) -> bytes:
    opt = dns.edns.ECSOption(address, prefix, 0)
    return make_query(qname, qtype, edns=0, options=[opt]).to_wire()


def classify(result: PipelineResult, pools: dict[str, frozenset[str]], *,
             v6: bool = False) -> tuple[Counter, list]:
    """Count replies by the pool their address set identifies. Returns (counts, oddities)
    where oddities lists (index, rcode, addresses) of replies that match no pool."""
    by_set = {addrs: name for name, addrs in pools.items()}
    counts: Counter = Counter()
    odd = []
    for i, data in enumerate(result.replies):
        if data is None:
            continue
        _qid, rcode, records = parse_reply(data)
        addrs = aaaa_set(records) if v6 else a_set(records)
        name = by_set.get(addrs) if rcode == 0 else None
        if name is None:
            odd.append((i, dns.rcode.to_text(rcode), sorted(addrs)))
        else:
            counts[name] += 1
    return counts, odd


# ---------------------------------------------------------------------------------------------
# Stand-in brokers for TCP health probes
# ---------------------------------------------------------------------------------------------

class TcpListener:
    """A TCP listener on host:port that accepts and immediately closes every connection (what
    a TCP health probe needs), run by one daemon thread. `close()` stops listening, so connects
    are refused; `open()` listens again on the same address."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        self.accepted = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> "TcpListener":
        assert self._sock is None
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(64)
        s.settimeout(0.05)
        self._sock = s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(s, self._stop), daemon=True,
                                        name=f"listener-{self.host}:{self.port}")
        self._thread.start()
        return self

    def _run(self, s: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                conn, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        if self._sock is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        try:
            self._sock.close()
        except OSError:
            pass
        self._sock = None
        self._thread = None


class TcpListenerSet:
    """TCP listeners on many loopback addresses (hundreds of stand-in brokers) that accept and
    close every connection, all served by one thread (a thread per listener, as `TcpListener`
    has, costs a core at this count). `close()` stops them all."""

    def __init__(self, hosts: Iterable[str], port: int):
        import selectors
        self.port = port
        self._selector = selectors.DefaultSelector()
        self._socks: list[socket.socket] = []
        try:
            for host in hosts:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, port))
                s.listen(64)
                s.setblocking(False)
                self._selector.register(s, selectors.EVENT_READ)
        except OSError:
            self._close_sockets()
            raise
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"listeners-{port}")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                try:
                    conn, _ = key.fileobj.accept()
                except OSError:
                    continue
                self.accepted += 1
                conn.close()

    def _close_sockets(self) -> None:
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._selector.close()
        self._close_sockets()


def common_free_port(hosts: Iterable[str], attempts: int = 50) -> int:
    """A TCP port that is free on every one of the given loopback addresses right now."""
    hosts = list(hosts)
    for _ in range(attempts):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.bind((hosts[0], 0))
        port = probe.getsockname()[1]
        held = [probe]
        try:
            for h in hosts[1:]:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(s)
                s.bind((h, port))
            return port
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError(f"no common free TCP port on {hosts}")


# ---------------------------------------------------------------------------------------------
# Polling
# ---------------------------------------------------------------------------------------------

def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> float | None:
    """Seconds until `predicate()` held, or None if it never did within `timeout` (bounded)."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def answer_addresses(server, qname: str, qtype: str = "A") -> tuple[int, frozenset[str]]:
    """(rcode, set of A or AAAA addresses) of one UDP query."""
    wire = make_query(qname, qtype).to_wire()
    data = server.raw(wire)
    if data is None:
        return -1, frozenset()
    _qid, rcode, records = parse_reply(data)
    return rcode, (aaaa_set(records) if qtype == "AAAA" else a_set(records))


def sample_answers(server, qname: str, n: int, qtype: str = "A") -> Counter:
    """Counter of (rcode text, sorted address tuple) over n sequential UDP queries."""
    seen: Counter = Counter()
    for _ in range(n):
        rcode, addrs = answer_addresses(server, qname, qtype)
        seen[(dns.rcode.to_text(rcode) if rcode >= 0 else "TIMEOUT", tuple(sorted(addrs)))] += 1
    return seen
