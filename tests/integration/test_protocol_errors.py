"""Unsupported opcodes (NOTIMP), malformed queries (FORMERR) and packets that deserve silence."""

import struct

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import pytest

from conftest import make_query

SILENCE = 1.0  # seconds to wait before concluding the server stayed silent


def header(qid=0x1234, flags=0x0000, qd=1, an=0, ns=0, ar=0) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def question(name: str = "www.example.test", qtype: int = 1, qclass: int = 1) -> bytes:
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00" + struct.pack("!HH", qtype, qclass)


OPT_RR = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)  # root, OPT, size, ttl, rdlen 0


def assert_still_serving(server):
    assert server.alive(), f"server died: {server.describe()}"
    r = server.query("www.example.test", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert {x.to_text() for x in r.answer[0]} == {"192.0.2.10"}


def reply_header(wire: bytes):
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
    return qid, flags, qd, an, ns, ar


# --- 8. NOTIMP ---------------------------------------------------------------------------------

@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("opcode", [dns.opcode.STATUS, dns.opcode.UPDATE, 3, 6, 15],
                         ids=["STATUS", "UPDATE", "op3", "op6", "op15"])
def test_unknown_opcode_notimp(server, opcode, tcp):
    q = make_query("example.test", "SOA")
    q.set_opcode(opcode)
    wire = server.raw(q.to_wire(), tcp=tcp)
    assert wire is not None, f"opcode {opcode} must be answered with NOTIMP, not ignored"
    qid, flags, *_ = reply_header(wire)
    assert qid == q.id
    assert flags & dns.flags.QR
    assert flags & 0x000F == dns.rcode.NOTIMP, f"rcode {flags & 0xF}, want NOTIMP (4)"
    assert (flags >> 11) & 0xF == opcode, "the opcode is copied into the response"
    assert not flags & dns.flags.AA
    r = dns.message.from_wire(wire)
    assert len(r.answer) == 0
    assert_still_serving(server)


# --- 9. FORMERR --------------------------------------------------------------------------------

def assert_formerr(wire: bytes | None, qid: int = 0x1234):
    assert wire is not None, "a malformed query with an intact header must get FORMERR"
    rid, flags, *_ = reply_header(wire)
    assert rid == qid
    assert flags & dns.flags.QR
    assert flags & 0x000F == dns.rcode.FORMERR, f"rcode {flags & 0xF}, want FORMERR (1)"
    dns.message.from_wire(wire)  # the reply itself must be well-formed


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_qdcount_zero(server, tcp):
    assert_formerr(server.raw(header(qd=0), tcp=tcp))
    assert_still_serving(server)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_qdcount_two(server, tcp):
    wire = header(qd=2) + question("www.example.test") + question("mail.example.test")
    assert_formerr(server.raw(wire, tcp=tcp))
    assert_still_serving(server)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_ancount_in_query(server, tcp):
    answer_rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
    wire = header(an=1) + question() + answer_rr
    assert_formerr(server.raw(wire, tcp=tcp))
    assert_still_serving(server)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_two_opt_records(server, tcp):
    # RFC 6891 §6.1.1: more than one OPT RR is a FORMERR.
    wire = header(ar=2) + question() + OPT_RR + OPT_RR
    assert_formerr(server.raw(wire, tcp=tcp))
    assert_still_serving(server)


@pytest.mark.parametrize("cut", [3, 9, 18, 20])
def test_truncated_question(server, cut):
    full = question()
    wire = header() + full[:cut]
    reply = server.raw(wire, timeout=SILENCE)
    if reply is not None:
        assert_formerr(reply)
    assert_still_serving(server)


def test_counts_larger_than_packet(server):
    wire = header(ar=3) + question()
    reply = server.raw(wire, timeout=SILENCE)
    if reply is not None:
        assert_formerr(reply)
    assert_still_serving(server)


def test_trailing_garbage_after_question(server):
    # Extra bytes not covered by any count: FORMERR, a normal answer, or silence are all
    # defensible; what matters is a well-formed reply if any and that the server survives.
    wire = header() + question() + b"\xde\xad\xbe\xef"
    reply = server.raw(wire, timeout=SILENCE)
    if reply is not None:
        rid, flags, *_ = reply_header(reply)
        assert rid == 0x1234 and flags & dns.flags.QR
        assert flags & 0xF in (dns.rcode.NOERROR, dns.rcode.FORMERR)
    assert_still_serving(server)


# --- silence -----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 2, 11])
def test_short_packet_silent(server, size):
    wire = header()[:size]
    assert server.raw(wire, timeout=SILENCE) is None, f"a {size}-byte packet must get no reply"
    assert_still_serving(server)


def test_response_packet_silent(server):
    q = make_query("www.example.test", "A")
    q.flags |= dns.flags.QR
    assert server.raw(q.to_wire(), timeout=SILENCE) is None, (
        "a packet with QR=1 is a response; answering it invites reflection loops")
    assert_still_serving(server)


def test_response_packet_silent_even_if_malformed(server):
    wire = header(flags=0x8000, qd=0)
    assert server.raw(wire, timeout=SILENCE) is None
    assert_still_serving(server)
