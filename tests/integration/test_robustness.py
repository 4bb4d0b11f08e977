"""The process never crashes on any input (SPEC "DNS behaviour"): thousands of random and
mutated datagrams, and garbage or half-framed TCP streams, then a normal query must still work.
All randomness comes from a fixed seed so a failure can be replayed."""

import random
import select
import socket
import struct
import time

import dns.flags
import dns.message
import dns.rcode
import pytest

from conftest import V4, V6, frame, make_query, start_server, tcp_connect, tcp_read_message

SEED = 0x5717C4
PACKETS = 5000


@pytest.fixture(scope="module")
def victim(tmp_path_factory):
    s = start_server(tmp_path_factory.mktemp("robust"))
    yield s
    s.stop()


def seeds() -> list[bytes]:
    """Valid queries the mutations start from."""
    out = []
    for name, qtype, edns in [
        ("www.example.test", "A", None), ("example.test", "SOA", 0), ("big.example.test", "TXT", 0),
        ("alias.example.test", "A", None), ("x.wild.example.test", "A", 0),
        ("host.child.example.test", "A", 0), ("nope.example.test", "AAAA", None),
        ("example.com", "A", 0), ("example.test", "ANY", 0), ("unk.example.test", 65000, None),
    ]:
        out.append(make_query(name, qtype, edns=edns).to_wire())
    return out


def pointer_loop(rng: random.Random) -> bytes:
    head = struct.pack("!HHHHHH", rng.randrange(65536), 0, 1, 0, 0, 0)
    variants = [
        b"\xc0\x0c",                              # points at itself
        b"\x01a\xc0\x0c",                         # label then back to its own start
        b"\x01a\xc0\x0e\x01b\xc0\x0c",            # two pointers chasing each other
        b"\xc0\x0e\xc0\x0c",                      # pointer to pointer to pointer
        b"\xc0\xff",                              # points past the end
        b"\xc0\x00",                              # points into the header
        b"\x3fabc" + b"\xc0\x0c",                 # label claims 63 bytes, has 3
    ]
    return head + rng.choice(variants) + struct.pack("!HH", 1, 1)


def huge_labels(rng: random.Random) -> bytes:
    head = struct.pack("!HHHHHH", rng.randrange(65536), 0, 1, 0, 0, 0)
    kind = rng.randrange(4)
    if kind == 0:    # reserved/extended label types 0x40-0xbf and 0xff
        name = bytes([rng.choice([0x40, 0x41, 0x7f, 0x80, 0xbf, 0xff])]) + b"abc\x00"
    elif kind == 1:  # a name longer than 255 bytes made of legal 63-byte labels
        name = (b"\x3f" + b"a" * 63) * 5 + b"\x00"
    elif kind == 2:  # a 63-byte label cut short
        name = b"\x3f" + b"x" * rng.randrange(0, 63)
    else:            # many one-byte labels, beyond 127 labels
        name = b"\x01z" * 200 + b"\x00"
    return head + name + struct.pack("!HH", 1, 1)


def bad_opt(rng: random.Random) -> bytes:
    q = make_query("www.example.test", "A").to_wire()
    q = q[:10] + struct.pack("!H", 1) + q[12:]
    opt_len = rng.randrange(0, 40)
    rdata = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
    return q + b"\x00" + struct.pack("!HHIH", 41, rng.randrange(65536),
                                     rng.randrange(2**32), opt_len) + rdata


def mutate(rng: random.Random, base: list[bytes]) -> bytes:
    kind = rng.randrange(10)
    wire = bytearray(rng.choice(base))
    if kind == 0:  # bit flips, keeping QR clear most of the time so the server parses further
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(wire))
            wire[i] ^= 1 << rng.randrange(8)
        if rng.random() < 0.8:
            wire[2] &= 0x7F
    elif kind == 1:  # truncation
        wire = wire[: rng.randrange(len(wire))]
    elif kind == 2:  # random section counts
        wire[4:12] = bytes(rng.randrange(256) for _ in range(8))
    elif kind == 3:  # random bytes of random length
        wire = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 700)))
    elif kind == 4:
        wire = bytearray(pointer_loop(rng))
    elif kind == 5:
        wire = bytearray(huge_labels(rng))
    elif kind == 6:  # trailing garbage
        wire += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    elif kind == 7:  # random flag/opcode/rcode bits, QR clear
        wire[2] = rng.randrange(256) & 0x7F
        wire[3] = rng.randrange(256)
    elif kind == 8:
        wire = bytearray(bad_opt(rng))
    else:  # random byte overwrite inside the question
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(12, len(wire)) if len(wire) > 12 else rng.randrange(len(wire))
            wire[i] = rng.randrange(256)
    return bytes(wire)


def drain(sock: socket.socket, replies: list[bytes], wait: float) -> None:
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        ready, _, _ = select.select([sock], [], [], max(left, 0))
        if not ready:
            return
        try:
            replies.append(sock.recv(65535))
        except (BlockingIOError, ConnectionRefusedError):
            return


def assert_healthy(server):
    assert server.alive(), f"server died: {server.describe()}"
    for tcp in (False, True):
        for v6 in (False, True):
            r = server.query("www.example.test", "A", tcp=tcp, v6=v6, timeout=3.0)
            assert r.rcode() == dns.rcode.NOERROR
            assert r.flags & dns.flags.AA
            assert {x.to_text() for x in r.answer[0]} == {"192.0.2.10"}


def test_udp_fuzz(victim):
    rng = random.Random(SEED)
    base = seeds()
    replies: list[bytes] = []
    socks = {False: socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
             True: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)}
    try:
        for v6, s in socks.items():
            s.connect((V6 if v6 else V4, victim.port))
            s.setblocking(False)
        start = time.monotonic()
        for i in range(PACKETS):
            v6 = i % 5 == 0
            pkt = mutate(rng, base)
            try:
                socks[v6].send(pkt)
            except (BlockingIOError, ConnectionRefusedError):
                pass
            if i % 50 == 49:
                for s in socks.values():
                    drain(s, replies, 0.002)
                if not victim.alive():
                    pytest.fail(f"server died after packet {i}: {victim.describe()}")
        # A few oversized datagrams too.
        for size in (1500, 4096, 16000, 65000):
            socks[False].send(bytes(rng.randrange(256) for _ in range(size)))
        for s in socks.values():
            drain(s, replies, 0.5)
        elapsed = time.monotonic() - start
    finally:
        for s in socks.values():
            s.close()
    assert_healthy(victim)
    # Whatever the server chose to send back must itself be a well-formed DNS response.
    bad = []
    for wire in replies:
        if len(wire) >= 4 and (wire[2] >> 3) & 0xF == 5:
            # dnspython parses UPDATE (opcode 5) messages by RFC 2136 rules (zone section must
            # be SOA); a NOTIMP reply that echoes an arbitrary question is still well-formed,
            # so check its structure as a QUERY.
            wire = wire[:2] + bytes([wire[2] & 0x87]) + wire[3:]
        try:
            m = dns.message.from_wire(wire)
            if not m.flags & dns.flags.QR:
                bad.append(("QR clear", wire))
        except Exception as e:  # noqa: BLE001 - any parse failure is a finding
            bad.append((repr(e), wire))
    assert not bad, (f"{len(bad)} of {len(replies)} replies were malformed, e.g. "
                     f"{bad[0][0]}: {bad[0][1][:80].hex()}")
    print(f"sent {PACKETS} packets in {elapsed:.1f}s, {len(replies)} replies")


def test_reply_silence_rules_under_fuzz(victim):
    """Every packet that has QR=1 is ignored even when it is otherwise a valid query."""
    rng = random.Random(SEED + 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((V4, victim.port))
        for _ in range(200):
            wire = bytearray(mutate(rng, seeds()))
            if len(wire) >= 3:
                wire[2] |= 0x80
            s.send(bytes(wire))
        replies: list[bytes] = []
        s.setblocking(False)
        drain(s, replies, 1.0)
    assert replies == [], f"{len(replies)} replies to packets with QR=1"
    assert_healthy(victim)


def _tcp_garbage_streams(port: int, rng: random.Random) -> None:
    def session(payload: bytes, *, rst: bool = False, read: bool = False):
        try:
            s = tcp_connect(V4, port, timeout=2.0)
        except OSError:
            return
        try:
            s.sendall(payload)
            if read:
                s.settimeout(0.3)
                try:
                    s.recv(65535)
                except (socket.timeout, OSError):
                    pass
        except OSError:
            pass
        finally:
            if rst:  # close with RST: the server's next write hits a dead socket (SIGPIPE)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()

    good = make_query("big.example.test", "TXT").to_wire()
    session(b"\xff\xff" + bytes(rng.randrange(256) for _ in range(100)))  # 65535 promised
    session(bytes(rng.randrange(256) for _ in range(2000)))
    session(b"\x00\x00" + frame(good), read=True)                          # zero-length frame
    session(b"\x00\x05" + b"abcde" + frame(good), read=True)               # garbage frame
    session(frame(bytes(rng.randrange(256) for _ in range(300))), read=True)
    session(b"\x00")                                                       # half a length
    session(b"\xff\xff" + bytes(rng.randrange(256) for _ in range(65535)), read=True)
    for _ in range(5):
        session(frame(good) * 20, rst=True)                                # answers nobody reads
    for _ in range(10):
        session(b"")                                                       # connect and go
    for _ in range(5):
        cut = frame(good)
        session(cut[: rng.randrange(1, len(cut))])                         # partial frame


def test_tcp_garbage(victim):
    rng = random.Random(SEED + 2)
    _tcp_garbage_streams(victim.port, rng)
    time.sleep(0.2)
    assert_healthy(victim)


def test_tcp_fuzz(victim):
    """Mutated queries, properly framed, over TCP: every reply is well-formed; the server may
    close a connection on a bad message, in which case we reconnect."""
    rng = random.Random(SEED + 3)
    base = seeds()
    replies = 0
    s = None
    try:
        for i in range(400):
            if s is None:
                s = tcp_connect(V4 if i % 2 else V6, victim.port, timeout=2.0)
                s.settimeout(0.25)
            pkt = mutate(rng, base)
            try:
                s.sendall(frame(pkt))
                wire = tcp_read_message(s)
            except (socket.timeout, OSError):
                wire = None  # silence or a reset are both allowed for junk
            if wire is None:
                s.close()  # start clean so a late reply cannot be mistaken for the next one
                s = None
                continue
            replies += 1
            if len(wire) >= 4 and (wire[2] >> 3) & 0xF == 5:
                wire = wire[:2] + bytes([wire[2] & 0x87]) + wire[3:]
            m = dns.message.from_wire(wire)
            assert m.flags & dns.flags.QR
            if len(pkt) >= 2:
                assert m.id == struct.unpack("!H", pkt[:2])[0]
    finally:
        if s is not None:
            s.close()
    assert replies > 80, f"only {replies} replies to 400 framed queries"
    assert_healthy(victim)


def test_half_framed_connection_does_not_block_others(victim):
    with tcp_connect(V4, victim.port) as stuck, tcp_connect(V6, victim.port) as stuck6:
        stuck.sendall(b"\xff\xff" + b"\x00" * 10)  # promises 65535 bytes, sends 10
        stuck6.sendall(b"\x00")                     # half a length prefix
        q = make_query("mail.example.test", "A")
        with tcp_connect(V4, victim.port, timeout=3.0) as s:
            s.sendall(frame(q.to_wire()))
            wire = tcp_read_message(s)
        assert wire is not None, "a stalled client must not block other TCP clients"
        r = dns.message.from_wire(wire)
        assert r.id == q.id and {x.to_text() for x in r.answer[0]} == {"192.0.2.25"}
        assert victim.query("www.example.test", "A").rcode() == dns.rcode.NOERROR
    assert_healthy(victim)


def test_concurrent_clients(victim):
    """Several clients at once over both families and transports each get their own answers."""
    import threading

    cases = [("www.example.test", "A", "192.0.2.10"), ("mail.example.test", "A", "192.0.2.25"),
             ("host.other.test", "A", "198.51.100.5"), ("x.wild.example.test", "A", "192.0.2.99"),
             ("www.example.test", "AAAA", "2001:db8::10")]
    errors: list[str] = []

    def client(n: int):
        tcp, v6 = n % 2 == 1, n % 4 >= 2
        for i in range(150 if not tcp else 40):
            name, qtype, want = cases[(n + i) % len(cases)]
            try:
                r = victim.query(name, qtype, tcp=tcp, v6=v6, timeout=3.0)
            except BaseException as e:  # pytest.fail raises an exception subclass of BaseException
                errors.append(f"client {n}: {e!r}"[:200])
                return
            got = {x.to_text() for x in r.answer[0]} if r.answer else set()
            if got != {want}:
                errors.append(f"client {n}: {name} {qtype} -> {got}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:5]
