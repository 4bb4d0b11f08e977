"""EDNS0 (RFC 6891) and UDP truncation (RFC 1035 §4.2.1, RFC 6891 §6.2.5, §7)."""

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from conftest import (
    BIG_TXT_COUNT,
    MEDIUM_TXT_COUNT,
    OUR_UDP_SIZE,
    answer_rrset,
    assert_rcode,
    flag,
    make_query,
    txt_string,
)


# --- OPT echo ----------------------------------------------------------------------------------

@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("client_size", [512, 1232, 4096])
def test_opt_echoed_with_our_size(server, tcp, client_size):
    r = server.query("www.example.test", "A", edns=0, payload=client_size, tcp=tcp)
    assert_rcode(r, dns.rcode.NOERROR)
    assert r.edns == 0, "a query with OPT must get OPT back (RFC 6891 §6.1.1)"
    assert r.payload == OUR_UDP_SIZE, f"our advertised UDP size must be {OUR_UDP_SIZE}"
    assert len(r.answer) == 1


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_no_opt_without_edns(server, tcp):
    q = make_query("www.example.test", "A")
    reply = server.raw(q.to_wire(), tcp=tcp)
    r = dns.message.from_wire(reply)
    assert r.edns == -1, "no OPT may be sent to a client that did not send one (RFC 6891 §7)"
    assert r.opt is None


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("version", [1, 2, 255])
def test_badvers(server, tcp, version):
    q = make_query("www.example.test", "A", edns=version)
    r = server.ask(q, tcp=tcp)
    assert r.id == q.id
    assert r.rcode() == dns.rcode.BADVERS, (
        f"EDNS version {version} must get BADVERS (RFC 6891 §6.1.3), got "
        f"{dns.rcode.to_text(r.rcode())}")
    assert r.edns == 0, "BADVERS carries an OPT with the version we do implement (0)"
    assert len(r.answer) == 0


def test_unknown_option_ignored(server):
    opt = dns.edns.GenericOption(65001, b"\x01\x02\x03\x04")
    r = server.query("www.example.test", "A", edns=0, options=[opt])
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert {x.to_text() for x in answer_rrset(r, "www.example.test", "A")} == {"192.0.2.10"}
    assert r.edns == 0
    codes = [o.otype for o in r.options]
    assert 65001 not in codes, "an unknown option must be ignored, not echoed (RFC 6891 §6.1.2)"


def test_do_bit_query_answered(server):
    q = make_query("www.example.test", "A", edns=0)
    q.want_dnssec(True)
    r = server.ask(q)
    assert_rcode(r, dns.rcode.NOERROR)
    assert {x.to_text() for x in answer_rrset(r, "www.example.test", "A")} == {"192.0.2.10"}


def test_do_bit_copied(server):
    # RFC 3225 §3: "the DO bit of the query MUST be copied in the response".
    q = make_query("www.example.test", "A", edns=0)
    q.want_dnssec(True)
    r = server.ask(q)
    assert r.ednsflags & dns.flags.DO, "DO set in the query must be copied to the response"
    q2 = make_query("www.example.test", "A", edns=0)
    r2 = server.ask(q2)
    assert not r2.ednsflags & dns.flags.DO


# --- truncation --------------------------------------------------------------------------------

def udp_reply(server, qname, edns, payload=OUR_UDP_SIZE, v6=False):
    q = make_query(qname, "TXT", edns=edns, payload=payload)
    wire = server.raw(q.to_wire(), v6=v6)
    assert wire is not None, f"no UDP reply for {qname} (edns={edns}, size={payload})"
    r = dns.message.from_wire(wire)  # a TC reply must still be a well-formed message
    assert r.id == q.id
    assert len(r.question) == 1, "a truncated reply keeps the question"
    assert r.question[0].name == dns.name.from_text(qname)
    assert r.question[0].rdtype == dns.rdatatype.TXT
    return wire, r


def assert_truncated(wire, r, limit):
    assert flag(r, dns.flags.TC), f"{len(wire)}-byte answer needed TC=1 (limit {limit})"
    assert len(wire) <= limit, f"UDP reply of {len(wire)} bytes exceeds the limit {limit}"
    assert_rcode(r, dns.rcode.NOERROR)


@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
@pytest.mark.parametrize("client_size", [4096, 1232, 1500])
def test_big_answer_truncated_at_our_cap(server, client_size, v6):
    wire, r = udp_reply(server, "big.example.test", 0, client_size, v6)
    assert_truncated(wire, r, OUR_UDP_SIZE)
    assert r.edns == 0, "a truncated EDNS reply still carries OPT (RFC 6891 §7)"


def test_big_answer_without_edns(server):
    wire, r = udp_reply(server, "big.example.test", None)
    assert_truncated(wire, r, 512)
    assert r.edns == -1


def test_medium_answer_without_edns_truncated(server):
    wire, r = udp_reply(server, "medium.example.test", None)
    assert_truncated(wire, r, 512)


def test_medium_answer_with_edns_complete(server):
    wire, r = udp_reply(server, "medium.example.test", 0, OUR_UDP_SIZE)
    assert not flag(r, dns.flags.TC)
    assert 512 < len(wire) <= OUR_UDP_SIZE
    rrset = answer_rrset(r, "medium.example.test", "TXT")
    assert len(rrset) == MEDIUM_TXT_COUNT
    assert {x.strings[0].decode() for x in rrset} == {txt_string(i) for i in range(MEDIUM_TXT_COUNT)}


def test_client_size_below_ours_is_honoured(server):
    wire, r = udp_reply(server, "medium.example.test", 0, 600)
    assert_truncated(wire, r, 600)
    assert r.edns == 0


def test_client_size_below_512_treated_as_512(server):
    # RFC 6891 §6.2.5: values below 512 are treated as 512.
    wire, r = udp_reply(server, "medium.example.test", 0, 100)
    assert_truncated(wire, r, 512)
    small = server.query("www.example.test", "A", edns=0, payload=100)
    assert not flag(small, dns.flags.TC), "a small answer fits in 512 even if the client said 100"
    assert len(small.answer) == 1


@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
@pytest.mark.parametrize("edns,payload", [(None, 0), (0, 4096), (0, 512)],
                         ids=["plain", "edns4096", "edns512"])
def test_big_answer_complete_over_tcp(server, v6, edns, payload):
    # The EDNS UDP size says nothing about TCP (RFC 6891 §6.2.3 is about UDP only).
    q = make_query("big.example.test", "TXT", edns=edns, payload=payload or 512)
    r = server.ask(q, tcp=True, v6=v6, timeout=3.0)
    assert_rcode(r, dns.rcode.NOERROR)
    assert not flag(r, dns.flags.TC), "TCP answers are never truncated at this size"
    rrset = answer_rrset(r, "big.example.test", "TXT")
    assert len(rrset) == BIG_TXT_COUNT
    assert {x.strings[0].decode() for x in rrset} == {txt_string(i) for i in range(BIG_TXT_COUNT)}


def test_client_cookie_option_does_not_break_answer(server):
    # RFC 7873: a server without cookie support ignores the option; one with it echoes the
    # client cookie. Either way the query is answered normally.
    cookie = dns.edns.GenericOption(10, bytes.fromhex("0102030405060708"))
    r = server.query("www.example.test", "A", edns=0, options=[cookie])
    assert_rcode(r, dns.rcode.NOERROR)
    assert {x.to_text() for x in answer_rrset(r, "www.example.test", "A")} == {"192.0.2.10"}
    for o in r.options:
        if o.otype == 10:
            assert o.to_wire()[:8] == bytes.fromhex("0102030405060708")


def test_max_udp_size_option(server_factory):
    srv = server_factory(extra_args=["--max-udp-size", "700"])
    r = srv.query("www.example.test", "A", edns=0, payload=4096)
    assert r.payload == 700, "the EDNS size we advertise follows --max-udp-size"
    q = make_query("medium.example.test", "TXT", edns=0, payload=4096)
    wire = srv.raw(q.to_wire())
    assert wire is not None
    r = dns.message.from_wire(wire)
    assert flag(r, dns.flags.TC) and len(wire) <= 700, (
        f"{len(wire)}-byte reply with TC={flag(r, dns.flags.TC)} under --max-udp-size 700")
    q = make_query("txt.example.test", "TXT", edns=0, payload=4096)
    r = srv.ask(q)
    assert not flag(r, dns.flags.TC) and len(r.answer) == 1
