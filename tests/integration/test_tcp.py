"""DNS over TCP (RFC 7766, RFC 1035 §4.2.2): framing, pipelining, partial reads, idle timeout,
connection limit."""

import socket
import struct
import time

import dns.flags
import dns.message
import dns.rcode
import pytest

from conftest import V4, V6, frame, make_query, tcp_connect, tcp_read_message


def expect_answer(s, q, want_addr=None):
    wire = tcp_read_message(s)
    assert wire is not None, "server closed the connection instead of answering"
    r = dns.message.from_wire(wire)
    assert r.id == q.id
    assert r.rcode() == dns.rcode.NOERROR
    if want_addr is not None:
        assert {x.to_text() for x in r.answer[0]} == {want_addr}
    return r


def closed_by_peer(s, timeout: float) -> tuple[bool, float]:
    """Wait up to `timeout` s for the server to close; returns (closed, seconds waited)."""
    start = time.monotonic()
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True, time.monotonic() - start
            # Unexpected data: keep draining until close or timeout.
            if time.monotonic() - start > timeout:
                return False, time.monotonic() - start
    except (ConnectionResetError, BrokenPipeError):
        return True, time.monotonic() - start
    except socket.timeout:
        return False, time.monotonic() - start


@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
def test_framing_and_persistent_connection(server, v6):
    with tcp_connect(V6 if v6 else V4, server.port) as s:
        for name, addr in [("www.example.test", "192.0.2.10"), ("mail.example.test", "192.0.2.25"),
                           ("ns1.example.test", "192.0.2.53")]:
            q = make_query(name, "A")
            s.sendall(frame(q.to_wire()))
            r = expect_answer(s, q, addr)
            assert r.flags & dns.flags.AA
        # Nothing beyond the framed replies may arrive.
        s.settimeout(0.3)
        try:
            extra = s.recv(1)
        except socket.timeout:
            extra = None
        assert extra is None, f"unexpected bytes after the last framed reply: {extra!r}"


@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
def test_pipelined_queries(server, v6):
    names = [("www.example.test", "A", "192.0.2.10"), ("mail.example.test", "A", "192.0.2.25"),
             ("ns1.example.test", "A", "192.0.2.53"), ("example.test", "A", "192.0.2.1"),
             ("www.example.test", "AAAA", "2001:db8::10"), ("ns2.example.test", "AAAA",
                                                              "2001:db8::53"),
             ("host.other.test", "A", "198.51.100.5"), ("a.b.c.example.test", "A", "192.0.2.77"),
             ("x.wild.example.test", "A", "192.0.2.99"), ("nope.example.test", "A", None)]
    queries = {}
    blob = b""
    for i, (name, qtype, addr) in enumerate(names):
        q = make_query(name, qtype)
        q.id = 1000 + i
        queries[q.id] = (q, addr)
        blob += frame(q.to_wire())
    with tcp_connect(V6 if v6 else V4, server.port, timeout=3.0) as s:
        s.sendall(blob)  # all ten in a single write
        seen = set()
        for _ in range(len(names)):
            wire = tcp_read_message(s)
            assert wire is not None, f"connection closed after {len(seen)} of {len(names)} replies"
            r = dns.message.from_wire(wire)
            assert r.id in queries and r.id not in seen, f"unexpected/duplicate ID {r.id}"
            seen.add(r.id)
            q, addr = queries[r.id]
            assert r.question[0].name == q.question[0].name
            if addr is None:
                assert r.rcode() == dns.rcode.NXDOMAIN
            else:
                assert r.rcode() == dns.rcode.NOERROR
                assert {x.to_text() for x in r.answer[0]} == {addr}
        assert seen == set(queries)


@pytest.mark.parametrize("cut", [1, 2, 7], ids=["inside-length", "after-length", "inside-msg"])
def test_query_split_across_writes(server, cut):
    q = make_query("www.example.test", "A")
    data = frame(q.to_wire())
    with tcp_connect(V4, server.port, timeout=3.0) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(data[:cut])
        time.sleep(0.3)
        s.sendall(data[cut:])
        expect_answer(s, q, "192.0.2.10")


def test_byte_by_byte(server):
    q = make_query("mail.example.test", "A")
    data = frame(q.to_wire())
    with tcp_connect(V4, server.port, timeout=3.0) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in data:
            s.sendall(bytes([b]))
            time.sleep(0.005)
        expect_answer(s, q, "192.0.2.25")


def test_idle_connection_closed(server_factory):
    srv = server_factory(extra_args=["--tcp-idle-timeout", "1"])
    # A connection that never sends anything.
    with tcp_connect(V4, srv.port) as silent:
        closed, waited = closed_by_peer(silent, 3.5)
        assert closed, "an idle TCP connection must be closed after --tcp-idle-timeout 1"
        assert waited <= 3.0, f"closed only after {waited:.1f}s"
    # A connection that asked once and then went quiet.
    with tcp_connect(V6, srv.port) as used:
        q = make_query("www.example.test", "A")
        used.sendall(frame(q.to_wire()))
        expect_answer(used, q, "192.0.2.10")
        closed, waited = closed_by_peer(used, 3.5)
        assert closed, "an idle connection must be closed after its last answer"
        assert waited <= 3.0
    # A connection that sent half a message and stalled.
    with tcp_connect(V4, srv.port) as stalled:
        stalled.sendall(b"\x00\x20\x12\x34")
        closed, waited = closed_by_peer(stalled, 3.5)
        assert closed, "a stalled half-sent message must not keep the connection forever"
        assert waited <= 3.0
    assert srv.alive()


def test_default_idle_timeout_keeps_short_pauses(server):
    # With the default 10 s timeout, a 1.5 s pause between queries must not drop the connection.
    with tcp_connect(V4, server.port, timeout=3.0) as s:
        q = make_query("www.example.test", "A")
        s.sendall(frame(q.to_wire()))
        expect_answer(s, q)
        time.sleep(1.5)
        q2 = make_query("mail.example.test", "A")
        s.sendall(frame(q2.to_wire()))
        expect_answer(s, q2, "192.0.2.25")


def fifth_connection_rejected(port: int) -> bool:
    """True if a new connection is refused, or closed without an answer, within ~3 s."""
    try:
        s = tcp_connect(V4, port, timeout=3.0)
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    except socket.timeout:
        return False
    with s:
        q = make_query("www.example.test", "A")
        try:
            s.sendall(frame(q.to_wire()))
        except (BrokenPipeError, ConnectionResetError):
            return True
        closed, _ = closed_by_peer(s, 3.0)
        return closed


def test_connection_limit(server_factory):
    srv = server_factory(extra_args=["--tcp-max-connections", "4"])
    conns = []
    try:
        for i in range(4):
            s = tcp_connect(V4, srv.port, timeout=3.0)
            conns.append(s)
            q = make_query("www.example.test", "A")
            s.sendall(frame(q.to_wire()))
            expect_answer(s, q, "192.0.2.10")  # proves the server accepted it
        assert fifth_connection_rejected(srv.port), (
            "with --tcp-max-connections 4 and 4 open, a 5th must be refused or closed promptly")
        # Free one slot; a new connection must then be served (allow the server to notice).
        conns.pop(0).close()
        deadline = time.monotonic() + 5.0
        ok = False
        while time.monotonic() < deadline and not ok:
            try:
                with tcp_connect(V4, srv.port, timeout=2.0) as s:
                    q = make_query("mail.example.test", "A")
                    s.sendall(frame(q.to_wire()))
                    wire = tcp_read_message(s)
                    if wire is not None:
                        r = dns.message.from_wire(wire)
                        ok = r.id == q.id and r.rcode() == dns.rcode.NOERROR
            except (OSError, socket.timeout):
                pass
            if not ok:
                time.sleep(0.2)
        assert ok, "after closing one of 4 connections, a new one must be served"
        # The connections that stayed open still work.
        for s in conns:
            q = make_query("ns1.example.test", "A")
            s.sendall(frame(q.to_wire()))
            expect_answer(s, q, "192.0.2.53")
        # UDP is unaffected by the TCP limit.
        assert srv.query("www.example.test", "A").rcode() == dns.rcode.NOERROR
    finally:
        for s in conns:
            s.close()
    assert srv.alive()


def test_length_prefix_matches_message(server):
    q = make_query("big.example.test", "TXT")
    with tcp_connect(V4, server.port, timeout=3.0) as s:
        s.sendall(frame(q.to_wire()))
        s.settimeout(3.0)
        head = s.recv(2, socket.MSG_WAITALL)
        (length,) = struct.unpack("!H", head)
        body = b""
        while len(body) < length:
            chunk = s.recv(length - len(body))
            assert chunk, "connection closed mid-message"
            body += chunk
        r = dns.message.from_wire(body)  # would fail on a wrong length
        assert r.id == q.id
        assert len(body) > 1232


def test_slow_reader_does_not_block_others(server):
    """A client that pipelines many big queries and never reads must not stall other clients."""
    q = make_query("big.example.test", "TXT")
    burst = frame(q.to_wire()) * 2000  # ~6 MB of answers that nobody reads
    hog = tcp_connect(V4, server.port, timeout=2.0)
    try:
        hog.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 3.0
        while sent < len(burst) and time.monotonic() < deadline:
            try:
                sent += hog.send(burst[sent:sent + 65536])
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
        # Others are still served promptly over TCP and UDP.
        start = time.monotonic()
        q2 = make_query("mail.example.test", "A")
        with tcp_connect(V4, server.port, timeout=3.0) as s:
            s.sendall(frame(q2.to_wire()))
            expect_answer(s, q2, "192.0.2.25")
        assert time.monotonic() - start < 2.0
        assert server.query("www.example.test", "A", timeout=2.0).rcode() == dns.rcode.NOERROR
    finally:
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        hog.close()
    assert server.alive()


def test_many_concurrent_connections(server):
    """Well under the default limit of 256: 100 clients at once are all served."""
    socks = []
    try:
        for _ in range(100):
            socks.append(tcp_connect(V4 if len(socks) % 2 else V6, server.port, timeout=3.0))
        queries = []
        for i, s in enumerate(socks):
            q = make_query("www.example.test", "A")
            q.id = i
            s.sendall(frame(q.to_wire()))
            queries.append(q)
        for s, q in zip(socks, queries):
            expect_answer(s, q, "192.0.2.10")
    finally:
        for s in socks:
            s.close()


def test_answer_after_client_half_close(server):
    """A client may send its query and shut down its sending side; the query is still valid
    and must be answered (RFC 8906: never ignore a valid query)."""
    q = make_query("www.example.test", "A")
    with tcp_connect(V4, server.port, timeout=3.0) as s:
        s.sendall(frame(q.to_wire()))
        s.shutdown(socket.SHUT_WR)
        expect_answer(s, q, "192.0.2.10")
