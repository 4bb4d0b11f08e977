"""Positive answers: header flags, case, CNAME chasing, wildcards, referrals, ANY, RR types."""

import struct

import dns.flags
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from conftest import (
    MAIN_NEG_TTL,
    answer_rrset,
    assert_negative_soa,
    assert_rcode,
    flag,
    header_counts,
    make_query,
    rr_total,
)

A = dns.rdatatype.A


def rdatas(rrset) -> set[str]:
    return {r.to_text() for r in rrset}


# --- 1. header ---------------------------------------------------------------------------------

def test_a_answer_matrix(server, via):
    r = server.query("www.example.test", "A", **via)
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.QR)
    assert flag(r, dns.flags.AA), "authoritative answer must set AA"
    assert not flag(r, dns.flags.TC)
    rrset = answer_rrset(r, "www.example.test", "A")
    assert rdatas(rrset) == {"192.0.2.10"}
    assert rrset.ttl == 300
    assert len(r.answer) == 1


@pytest.mark.parametrize("rd", [False, True])
def test_header_flags(server, rd):
    q = make_query("www.example.test", "A", rd=rd)
    r = server.ask(q)
    assert r.id == q.id
    assert flag(r, dns.flags.QR)
    assert flag(r, dns.flags.AA)
    assert not flag(r, dns.flags.RA), "an authoritative-only server must not set RA"
    assert flag(r, dns.flags.RD) == rd, "RD must be copied from the query (RFC 1035 §4.1.1)"
    assert r.opcode() == dns.opcode.QUERY


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_question_case_preserved(server, tcp):
    q = make_query("wWw.ExAmPlE.TeSt", "A")
    wire = q.to_wire()
    reply = server.raw(wire, tcp=tcp)
    assert reply is not None
    r = dns.message.from_wire(reply)
    assert_rcode(r, dns.rcode.NOERROR)
    assert len(r.question) == 1
    assert r.question[0].name.to_text() == "wWw.ExAmPlE.TeSt.", "question case must be preserved"
    # Byte-exact check of the question section (it directly follows the 12-byte header).
    qlen = len(wire) - 12
    assert reply[12:12 + qlen] == wire[12:], "question section must be echoed byte for byte"
    assert rdatas(answer_rrset(r, "www.example.test", "A")) == {"192.0.2.10"}


def test_id_matches_many(server):
    for qid in (0, 1, 0x7FFF, 0xFFFF):
        q = make_query("www.example.test", "A")
        q.id = qid
        r = server.ask(q)
        assert r.id == qid


# --- 4. CNAME ----------------------------------------------------------------------------------

def test_cname_chain_in_zone(server):
    r = server.query("alias.example.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert rdatas(answer_rrset(r, "alias.example.test", "CNAME")) == {"alias2.example.test."}
    assert rdatas(answer_rrset(r, "alias2.example.test", "CNAME")) == {"www.example.test."}
    assert rdatas(answer_rrset(r, "www.example.test", "A")) == {"192.0.2.10"}
    assert rr_total(r, r.answer) == 3
    # RFC 1034 §3.6.2 / 2181: the chain comes in order, first the queried name.
    assert r.answer[0].name == dns.name.from_text("alias.example.test")


def test_cname_chain_to_aaaa(server):
    r = server.query("alias.example.test", "AAAA")
    assert_rcode(r, dns.rcode.NOERROR)
    assert rdatas(answer_rrset(r, "www.example.test", "AAAA")) == {"2001:db8::10"}
    assert rr_total(r, r.answer) == 3


def test_cname_into_other_served_zone(server):
    r = server.query("xzone.example.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert rdatas(answer_rrset(r, "xzone.example.test", "CNAME")) == {"host.other.test."}
    assert rdatas(answer_rrset(r, "host.other.test", "A")) == {"198.51.100.5"}
    assert rr_total(r, r.answer) == 2


def test_cname_to_outside_name(server):
    r = server.query("ext.example.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert rdatas(answer_rrset(r, "ext.example.test", "CNAME")) == {"target.example.com."}
    assert rr_total(r, r.answer) == 1


def test_cname_loop_terminates(server):
    q = make_query("loop1.example.test", "A")
    reply = server.raw(q.to_wire(), timeout=2.0)
    assert reply is not None, "a CNAME loop must still produce an answer promptly"
    r = dns.message.from_wire(reply)
    assert_rcode(r, dns.rcode.NOERROR)
    assert rdatas(answer_rrset(r, "loop1.example.test", "CNAME")) == {"loop2.example.test."}
    assert all(rrset.rdtype == dns.rdatatype.CNAME for rrset in r.answer)
    # No RR may be repeated: the wire count must equal the distinct RRs dnspython kept.
    ancount = header_counts(reply)[1]
    assert ancount == rr_total(r, r.answer) <= 2, f"CNAME loop repeated RRs ({ancount}):\n{r}"
    assert server.alive()


def test_qtype_cname_returns_only_cname(server):
    r = server.query("alias.example.test", "CNAME")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert len(r.answer) == 1
    assert rdatas(answer_rrset(r, "alias.example.test", "CNAME")) == {"alias2.example.test."}


# --- 5. wildcards (positive cases; negative ones are in test_negative.py) ---------------------

@pytest.mark.parametrize("qname", ["x.wild.example.test", "a.b.wild.example.test",
                                   "XyZ.Wild.Example.Test"])
def test_wildcard_synthesis(server, qname):
    r = server.query(qname, "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert len(r.answer) == 1
    rrset = r.answer[0]
    assert rrset.name == dns.name.from_text(qname), "synthesised owner must be the query name"
    assert "*" not in rrset.name.to_text()
    assert rrset.rdtype == A
    assert rdatas(rrset) == {"192.0.2.99"}
    assert rrset.ttl == 3600


def test_wildcard_other_type(server):
    r = server.query("q.wild.example.test", "MX")
    assert_rcode(r, dns.rcode.NOERROR)
    rrset = answer_rrset(r, "q.wild.example.test", "MX")
    assert rdatas(rrset) == {"10 mail.example.test."}


def test_existing_name_under_wildcard_parent(server):
    r = server.query("host.wild.example.test", "TXT")
    assert_rcode(r, dns.rcode.NOERROR)
    assert rdatas(answer_rrset(r, "host.wild.example.test", "TXT")) == {'"not from the wildcard"'}


def test_literal_wildcard_owner(server):
    r = server.query("*.wild.example.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert rdatas(answer_rrset(r, "*.wild.example.test", "A")) == {"192.0.2.99"}


# --- 6. delegation -----------------------------------------------------------------------------

def assert_referral(r, glue_a: dict[str, set[str]], glue_aaaa: dict[str, set[str]]):
    assert_rcode(r, dns.rcode.NOERROR)
    assert not flag(r, dns.flags.AA), "a referral must not set AA (RFC 1034 §4.3.2)"
    assert len(r.answer) == 0, f"a referral has an empty answer:\n{r}"
    ns = [x for x in r.authority if x.rdtype == dns.rdatatype.NS]
    assert len(ns) == 1, f"expected the delegation NS set in authority:\n{r}"
    assert ns[0].name == dns.name.from_text("child.example.test")
    assert rdatas(ns[0]) == {"ns1.child.example.test.", "ns2.child.example.test."}
    assert not [x for x in r.authority if x.rdtype == dns.rdatatype.SOA]
    for name, addrs in glue_a.items():
        found = [x for x in r.additional if x.name == dns.name.from_text(name) and x.rdtype == A]
        assert found and rdatas(found[0]) == addrs, f"missing glue A for {name}:\n{r}"
    for name, addrs in glue_aaaa.items():
        found = [x for x in r.additional
                 if x.name == dns.name.from_text(name) and x.rdtype == dns.rdatatype.AAAA]
        assert found and rdatas(found[0]) == addrs, f"missing glue AAAA for {name}:\n{r}"


GLUE_A = {"ns1.child.example.test": {"192.0.2.201"}, "ns2.child.example.test": {"192.0.2.202"}}
GLUE_AAAA = {"ns1.child.example.test": {"2001:db8::201"}}


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("qname,qtype", [
    ("host.child.example.test", "A"),
    ("deep.host.child.example.test", "AAAA"),
    ("child.example.test", "A"),
    ("child.example.test", "NS"),
    ("ns1.child.example.test", "A"),   # glue is not authoritative data
    ("deep.host.child.example.test", "DS"),  # DS below the cut belongs to the child
])
def test_referral(server, qname, qtype, tcp):
    r = server.query(qname, qtype, tcp=tcp, edns=0)
    assert_referral(r, GLUE_A, GLUE_AAAA)


def test_ds_at_cut_nodata_from_parent(server):
    r = server.query("child.example.test", "DS")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA), "DS at a cut is answered authoritatively by the parent"
    assert len(r.answer) == 0
    assert_negative_soa(r, "example.test", MAIN_NEG_TTL)
    assert not [x for x in r.authority if x.rdtype == dns.rdatatype.NS]


def test_ds_at_cut_present(server, oracle):
    r = server.query("dschild.example.test", "DS")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    got = answer_rrset(r, "dschild.example.test", "DS")
    want = oracle.find_rrset("dschild.example.test.", "DS")
    assert got == want


def test_referral_dschild(server):
    r = server.query("www.dschild.example.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert not flag(r, dns.flags.AA)
    assert not r.answer
    ns = [x for x in r.authority if x.rdtype == dns.rdatatype.NS]
    assert ns and rdatas(ns[0]) == {"ns1.dschild.example.test."}
    glue = [x for x in r.additional if x.rdtype == A]
    assert glue and rdatas(glue[0]) == {"192.0.2.211"}


# --- 11. ANY (RFC 8482) ------------------------------------------------------------------------

@pytest.mark.parametrize("qname", ["example.test", "mail.example.test"])
def test_any_over_udp_is_minimal(server, oracle, qname):
    r = server.query(qname, "ANY")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert len(r.answer) >= 1, "ANY must not be answered empty (RFC 8482 §4)"
    types = {rrset.rdtype for rrset in r.answer}
    assert len(types) == 1, f"ANY over UDP should return one RRset type, got {types}"
    rrset = r.answer[0]
    assert rrset.name == dns.name.from_text(qname)
    if rrset.rdtype != dns.rdatatype.HINFO:  # RFC 8482 §4.2 synthesised HINFO is allowed
        node = oracle.get_node(qname + ".")
        assert node is not None and node.get_rdataset(dns.rdataclass.IN, rrset.rdtype) is not None


def test_any_over_tcp_returns_data(server, oracle):
    r = server.query("example.test", "ANY", tcp=True)
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert len(r.answer) >= 1
    node = oracle.get_node("example.test.")
    for rrset in r.answer:
        assert rrset.name == dns.name.from_text("example.test")
        if rrset.rdtype == dns.rdatatype.HINFO:
            continue
        want = node.get_rdataset(dns.rdataclass.IN, rrset.rdtype)
        assert want is not None, f"ANY returned data that is not in the zone: {rrset}"
        assert rdatas(rrset) == {r.to_text() for r in want}


# --- 13. unknown and less common RR types (RFC 3597) -------------------------------------------

@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_unknown_type_65000(server, tcp):
    r = server.query("unk.example.test", 65000, tcp=tcp)
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    rrset = answer_rrset(r, "unk.example.test", 65000)
    assert len(rrset) == 1
    rd = rrset[0]
    assert rd.to_wire() == bytes.fromhex("0a0b0c0d")
    assert rrset.ttl == 3600


def test_unknown_type_absent_is_nodata(server):
    r = server.query("unk.example.test", 65001)
    assert_rcode(r, dns.rcode.NOERROR)
    assert not r.answer
    assert_negative_soa(r, "example.test", MAIN_NEG_TTL)


@pytest.mark.parametrize("qname,qtype", [
    ("hinfo.example.test", "HINFO"),
    ("caa.example.test", "CAA"),
])
def test_other_types(server, oracle, qname, qtype):
    r = server.query(qname, qtype)
    assert_rcode(r, dns.rcode.NOERROR)
    got = answer_rrset(r, qname, qtype)
    assert got == oracle.find_rrset(qname + ".", qtype)


# --- 14. basic types compared with the zone as dnspython reads it ------------------------------

@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("qname,qtype", [
    ("example.test", "SOA"),
    ("example.test", "NS"),
    ("example.test", "MX"),
    ("example.test", "A"),
    ("mail.example.test", "MX"),
    ("www.example.test", "AAAA"),
    ("txt.example.test", "TXT"),
    ("_kafka._tcp.example.test", "SRV"),
    ("ptr.example.test", "PTR"),
    ("ns2.example.test", "AAAA"),
    ("host.other.test", "A"),
    ("other.test", "SOA"),
])
def test_basic_types(server, oracle, other_oracle, qname, qtype, tcp):
    r = server.query(qname, qtype, tcp=tcp, edns=0)
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert len(r.answer) == 1, f"expected exactly the {qtype} RRset:\n{r}"
    got = r.answer[0]
    zone = other_oracle if qname.endswith("other.test") else oracle
    want = zone.find_rrset(qname + ".", qtype)
    assert got == want, f"\n got: {got}\nwant: {want}"
    assert got.ttl == want.ttl, f"TTL {got.ttl} != zone TTL {want.ttl}"


@pytest.fixture(scope="module")
def other_oracle():
    from conftest import OTHER_ZONE, zone_oracle
    return zone_oracle(OTHER_ZONE, "other.test.")


def test_ns_at_apex_is_full_set(server):
    r = server.query("example.test", "NS")
    ns = answer_rrset(r, "example.test", "NS")
    assert rdatas(ns) == {"ns1.example.test.", "ns2.example.test."}
    assert flag(r, dns.flags.AA)


def test_txt_answer_wire_counts(server):
    # A real answer parses, carries no trailing garbage and counts its sections right.
    q = make_query("txt.example.test", "TXT")
    reply = server.raw(q.to_wire())
    r = dns.message.from_wire(reply)  # raises on trailing junk
    assert rdatas(answer_rrset(r, "txt.example.test", "TXT")) == {'"hello world" "second string"'}
    qd, an, ns, ar = header_counts(reply)
    assert qd == 1 and an == 1
    assert struct.unpack("!H", reply[:2])[0] == q.id


# --- wildcard CNAME and byte-exact case folding ------------------------------------------------

def test_wildcard_cname_is_synthesised_and_chased(server):
    r = server.query("anything.wc.example.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    cname = answer_rrset(r, "anything.wc.example.test", "CNAME")
    assert rdatas(cname) == {"www.example.test."}
    assert rdatas(answer_rrset(r, "www.example.test", "A")) == {"192.0.2.10"}
    assert rr_total(r, r.answer) == 2


def test_non_ascii_label_matches_exactly(server):
    # caf\195\169 (UTF-8 "café") exists; ASCII case folding applies to its ASCII bytes only.
    r = server.query("CAF\\195\\169.example.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert rdatas(r.answer[0]) == {"192.0.2.66"}
    assert r.question[0].name.to_text() == "CAF\\195\\169.example.test."


def test_non_ascii_bytes_are_not_case_folded(server):
    # RFC 4343 §3: only A-Z/a-z fold. \137 (0x89) differs from \169 (0xA9) by 0x20 only,
    # so a server that folds with `| 0x20` on every byte would wrongly match.
    r = server.query("caf\\195\\137.example.test", "A")
    assert_rcode(r, dns.rcode.NXDOMAIN)
    r = server.query("caf\\227\\169.example.test", "A")   # 0xE3 vs 0xC3
    assert_rcode(r, dns.rcode.NXDOMAIN)


def test_label_with_dot_byte_is_distinct(server):
    # "a.b" as ONE label (an escaped dot) under c.example.test is not a.b.c.example.test.
    r = server.query("a\\.b.c.example.test", "A")
    assert_rcode(r, dns.rcode.NXDOMAIN)
    assert r.question[0].name.labels[0] == b"a.b"


# --- glue that does not fit (RFC 9471 §3.1) ----------------------------------------------------

def test_wide_referral_with_edns_has_all_glue(server):
    from conftest import WIDE_NS_COUNT
    q = make_query("host.wide.example.test", "A", edns=0)
    wire = server.raw(q.to_wire())
    r = dns.message.from_wire(wire)
    assert_rcode(r, dns.rcode.NOERROR)
    assert not flag(r, dns.flags.AA) and not flag(r, dns.flags.TC)
    assert len(r.authority) == 1 and len(r.authority[0]) == WIDE_NS_COUNT
    glue = {(x.name.to_text(), x.rdtype) for x in r.additional}
    assert len(glue) == 2 * WIDE_NS_COUNT, f"want A and AAAA glue for every server:\n{r}"


def test_wide_referral_without_edns(server):
    """512 bytes cannot hold 13 NS plus 26 glue records. RFC 9471 §3.1: if all glue for the
    in-domain name servers cannot be included, TC must be set."""
    from conftest import WIDE_NS_COUNT
    q = make_query("host.wide.example.test", "A")
    wire = server.raw(q.to_wire())
    assert wire is not None and len(wire) <= 512
    r = dns.message.from_wire(wire)
    assert_rcode(r, dns.rcode.NOERROR)
    assert not flag(r, dns.flags.AA)
    glue = {(x.name.to_text(), x.rdtype) for x in r.additional}
    if len(glue) < 2 * WIDE_NS_COUNT:
        assert flag(r, dns.flags.TC), f"glue was dropped ({len(glue)} kept) without TC:\n{r}"


# --- several zones -----------------------------------------------------------------------------

SUB_ZONE = """$TTL 100
@ IN SOA ns.sub.example.test. h.sub.example.test. 5 3600 600 86400 50
@ IN NS ns.sub.example.test.
ns IN A 203.0.113.53
www IN A 203.0.113.7
"""

THIRD_ZONE = """third.test. 300 IN SOA ns.third.test. h.third.test. 9 3600 600 86400 60
third.test. 300 IN NS ns.third.test.
www.third.test. 300 IN A 203.0.113.9
"""


def test_deepest_zone_wins(server_factory):
    # RFC 1034 §4.3.2 step 2: answer from the served zone that is the nearest ancestor.
    # The parent also (wrongly, but legally) holds www.sub: it must not be used.
    from conftest import MAIN_ZONE, OTHER_ZONE
    parent = MAIN_ZONE + "www.sub IN A 192.0.2.250\n"
    srv = server_factory(zones={"example.test.zone": parent, "other.test.zone": OTHER_ZONE,
                                "sub.example.test.zone": SUB_ZONE})
    r = srv.query("www.sub.example.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert rdatas(r.answer[0]) == {"203.0.113.7"} and r.answer[0].ttl == 100
    r = srv.query("nope.sub.example.test", "A")
    assert_rcode(r, dns.rcode.NXDOMAIN)
    assert_negative_soa(r, "sub.example.test", 50)
    r = srv.query("sub.example.test", "SOA")
    assert r.answer[0][0].serial == 5
    r = srv.query("www.example.test", "A")
    assert rdatas(r.answer[0]) == {"192.0.2.10"}


def test_origin_from_soa_owner(server_factory):
    # The file name says nothing useful; the absolute SOA owner gives the origin.
    from conftest import MAIN_ZONE
    srv = server_factory(zones={"example.test.zone": MAIN_ZONE, "zone-a.zone": THIRD_ZONE})
    r = srv.query("www.third.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert rdatas(r.answer[0]) == {"203.0.113.9"}
    r = srv.query("nope.third.test", "A")
    assert_rcode(r, dns.rcode.NXDOMAIN)
    assert_negative_soa(r, "third.test", 60)


# --- the worked examples of RFC 4592 §2.2.1, in a zone of their own ----------------------------

RFC4592_ZONE = """$ORIGIN rfc4592.test.
$TTL 3600
@ IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 120
@ NS ns.example.com.
@ NS ns.example.net.
*.rfc4592.test. TXT "this is a wildcard"
*.rfc4592.test. MX 10 host1.rfc4592.test.
sub.*.rfc4592.test. TXT "this is not a wildcard"
host1 A 192.0.2.1
_ssh._tcp.host1 SRV 0 0 22 host1.rfc4592.test.
_ssh._tcp.host2 SRV 0 0 22 host2.rfc4592.test.
subdel NS ns.example.com.
subdel NS ns.example.net.
"""


@pytest.fixture(scope="module")
def rfc4592(tmp_path_factory):
    from conftest import start_server
    s = start_server(tmp_path_factory.mktemp("rfc4592"), {"rfc4592.test.zone": RFC4592_ZONE})
    yield s
    s.stop()


def _nodata_4592(r):
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert not r.answer, f"want NODATA:\n{r}"
    assert_negative_soa(r, "rfc4592.test", 120)


def test_rfc4592_synthesised_mx(rfc4592):
    r = rfc4592.query("host3.rfc4592.test", "MX")
    assert_rcode(r, dns.rcode.NOERROR)
    rrset = answer_rrset(r, "host3.rfc4592.test", "MX")
    assert rdatas(rrset) == {"10 host1.rfc4592.test."}


def test_rfc4592_synthesised_nodata(rfc4592):
    _nodata_4592(rfc4592.query("host3.rfc4592.test", "A"))


def test_rfc4592_synthesised_two_labels(rfc4592):
    r = rfc4592.query("foo.bar.rfc4592.test", "TXT")
    assert rdatas(answer_rrset(r, "foo.bar.rfc4592.test", "TXT")) == {'"this is a wildcard"'}


def test_rfc4592_existing_name_no_synthesis(rfc4592):
    _nodata_4592(rfc4592.query("host1.rfc4592.test", "MX"))


def test_rfc4592_asterisk_inside_name_is_not_wildcard(rfc4592):
    _nodata_4592(rfc4592.query("sub.*.rfc4592.test", "MX"))
    r = rfc4592.query("sub.*.rfc4592.test", "TXT")
    assert rdatas(answer_rrset(r, "sub.*.rfc4592.test", "TXT")) == {'"this is not a wildcard"'}


def test_rfc4592_ent_closest_encloser_nxdomain(rfc4592):
    r = rfc4592.query("_telnet._tcp.host1.rfc4592.test", "SRV")
    assert_rcode(r, dns.rcode.NXDOMAIN)
    assert_negative_soa(r, "rfc4592.test", 120)


def test_rfc4592_referral_not_wildcard(rfc4592):
    r = rfc4592.query("host.subdel.rfc4592.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert not flag(r, dns.flags.AA)
    assert not r.answer
    assert [x.rdtype for x in r.authority] == [dns.rdatatype.NS]


def test_rfc4592_wildcard_below_wildcard_nxdomain(rfc4592):
    r = rfc4592.query("ghost.*.rfc4592.test", "MX")
    assert_rcode(r, dns.rcode.NXDOMAIN)
    assert_negative_soa(r, "rfc4592.test", 120)


def test_rfc4592_existing_srv_and_ent(rfc4592):
    r = rfc4592.query("_ssh._tcp.host2.rfc4592.test", "SRV")
    assert rdatas(answer_rrset(r, "_ssh._tcp.host2.rfc4592.test", "SRV")) == {
        "0 0 22 host2.rfc4592.test."}
    # host2 exists only as an empty non-terminal: NODATA, and no wildcard match.
    _nodata_4592(rfc4592.query("host2.rfc4592.test", "TXT"))
