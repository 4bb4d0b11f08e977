"""Negative answers (RFC 2308), wildcard edge cases (RFC 4592) and REFUSED."""

import dns.flags
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from conftest import (
    MAIN_NEG_TTL,
    OTHER_NEG_TTL,
    assert_negative_soa,
    assert_rcode,
    flag,
    make_query,
)


def assert_nxdomain(r, apex="example.test", ttl=MAIN_NEG_TTL):
    assert_rcode(r, dns.rcode.NXDOMAIN)
    assert flag(r, dns.flags.AA), "an authoritative NXDOMAIN must set AA"
    assert len(r.answer) == 0
    assert_negative_soa(r, apex, ttl)


def assert_nodata(r, apex="example.test", ttl=MAIN_NEG_TTL):
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert len(r.answer) == 0, f"NODATA must have an empty answer:\n{r}"
    assert_negative_soa(r, apex, ttl)


# --- 2. NXDOMAIN -------------------------------------------------------------------------------

def test_nxdomain_matrix(server, via):
    r = server.query("nope.example.test", "A", **via)
    assert_nxdomain(r)


@pytest.mark.parametrize("qname,qtype", [
    ("nope.example.test", "AAAA"),
    ("deep.nope.example.test", "A"),
    ("x.www.example.test", "A"),      # below an existing leaf
    ("Nope.EXAMPLE.test", "MX"),
])
def test_nxdomain_main(server, qname, qtype):
    assert_nxdomain(server.query(qname, qtype))


def test_nxdomain_other_zone_uses_its_own_soa(server):
    # other.test: SOA TTL 120 < MINIMUM 900, so the TTL must be 120 this time.
    assert_nxdomain(server.query("missing.other.test", "A"), "other.test", OTHER_NEG_TTL)


def test_nxdomain_with_edns(server):
    r = server.query("nope.example.test", "A", edns=0)
    assert_nxdomain(r)
    assert r.edns == 0


# --- 3. NODATA ---------------------------------------------------------------------------------

def test_nodata_matrix(server, via):
    r = server.query("mail.example.test", "AAAA", **via)
    assert_nodata(r)


@pytest.mark.parametrize("qname,qtype", [
    ("www.example.test", "MX"),
    ("www.example.test", "TXT"),
    ("example.test", "AAAA"),
    ("ns1.example.test", "AAAA"),
    ("host.other.test", "AAAA"),
    ("example.test", "DS"),           # no parent zone is served: plain NODATA at the apex
    ("www.example.test", "CNAME"),
])
def test_nodata(server, qname, qtype):
    r = server.query(qname, qtype)
    if qname.endswith("other.test"):
        assert_nodata(r, "other.test", OTHER_NEG_TTL)
    else:
        assert_nodata(r)


@pytest.mark.parametrize("qname", ["b.c.example.test", "c.example.test"])
def test_empty_non_terminal_is_nodata(server, qname):
    # a.b.c.example.test exists, so b.c and c exist as empty non-terminals (RFC 4592 §2.2.2).
    assert_nodata(server.query(qname, "A"))


def test_ent_below_exists(server):
    r = server.query("a.b.c.example.test", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert [x.to_text() for x in r.answer[0]] == ["192.0.2.77"]


def test_nxdomain_beside_ent(server):
    assert_nxdomain(server.query("z.b.c.example.test", "A"))


# --- CNAME chains that end in a negative answer (RFC 6604 §2-3, RFC 2308 §2.1-2.2) -----------

def test_cname_to_missing_name_in_zone(server):
    r = server.query("dangling.example.test", "A")
    assert_rcode(r, dns.rcode.NXDOMAIN)  # the rcode belongs to the last name in the chain
    assert flag(r, dns.flags.AA)
    assert len(r.answer) == 1
    cname = r.answer[0]
    assert cname.rdtype == dns.rdatatype.CNAME
    assert cname.name == dns.name.from_text("dangling.example.test")
    assert_negative_soa(r, "example.test", MAIN_NEG_TTL)


def test_cname_to_name_without_type(server):
    r = server.query("tomail.example.test", "AAAA")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.CNAME
    assert_negative_soa(r, "example.test", MAIN_NEG_TTL)


# --- 5. wildcard negatives ---------------------------------------------------------------------

def test_wildcard_does_not_match_existing_name(server):
    # host.wild exists (TXT only): the wildcard must not supply its A (RFC 4592 §4.3.3).
    assert_nodata(server.query("host.wild.example.test", "A"))


def test_ent_blocks_wildcard(server):
    # x.y.wild exists, so y.wild is an empty non-terminal: NODATA, not the wildcard's A.
    assert_nodata(server.query("y.wild.example.test", "A"))


def test_wildcard_not_applied_below_ent(server):
    # Closest encloser of z.y.wild is y.wild; *.y.wild does not exist -> NXDOMAIN.
    assert_nxdomain(server.query("z.y.wild.example.test", "A"))


def test_wildcard_nodata_for_missing_type(server):
    # *.wild has A and MX only: AAAA at a synthesised name is NODATA with the SOA.
    assert_nodata(server.query("x.wild.example.test", "AAAA"))


def test_wildcard_parent_itself_is_ent(server):
    assert_nodata(server.query("wild.example.test", "A"))


# --- 7. REFUSED --------------------------------------------------------------------------------

@pytest.mark.parametrize("qname", ["example.com", "www.example.com", "test", ".",
                                   "example.test.example.com", "notexample.test"])
def test_refused_outside_served_zones(server, via, qname):
    r = server.query(qname, "A", **via)
    assert_rcode(r, dns.rcode.REFUSED)
    assert not flag(r, dns.flags.AA), "REFUSED must not claim authority"
    assert len(r.answer) == 0


def test_refused_keeps_question(server):
    q = make_query("www.example.com", "A")
    r = server.ask(q)
    assert_rcode(r, dns.rcode.REFUSED)
    assert len(r.question) == 1
    assert r.question[0].name == dns.name.from_text("www.example.com")


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_refused_with_edns_has_opt(server, tcp):
    r = server.query("example.com", "A", edns=0, tcp=tcp)
    assert_rcode(r, dns.rcode.REFUSED)
    assert r.edns == 0


@pytest.mark.parametrize("qtype", ["AXFR", "IXFR"])
def test_zone_transfer_refused(server, qtype):
    q = make_query("example.test", qtype)
    if qtype == "IXFR":
        # RFC 1995 §3: an IXFR query carries the client's SOA in the authority section.
        soa = dns.rrset.from_text(
            "example.test.", 0, "IN", "SOA",
            "ns1.example.test. hostmaster.example.test. 2024010100 3600 600 86400 300")
        q.authority.append(soa)
    r = server.ask(q, tcp=True, timeout=3.0)
    assert r.id == q.id
    assert_rcode(r, dns.rcode.REFUSED)
    assert len(r.answer) == 0, "transfer is not supported: no zone data may leak"


@pytest.mark.parametrize("qname,qtype", [("version.bind", "TXT"), ("www.example.test", "A")])
def test_chaos_class(server, qname, qtype):
    q = make_query(qname, qtype, rdclass="CH")
    r = server.ask(q)
    assert r.id == q.id
    assert r.rcode() in (dns.rcode.REFUSED, dns.rcode.NOTIMP), f"CH query answered:\n{r}"
    assert len(r.answer) == 0
    assert not flag(r, dns.flags.AA)


def test_longest_name_nxdomain(server):
    # A 255-octet name (the RFC 1035 §2.3.4 maximum) below the zone is an ordinary NXDOMAIN.
    lab = "a" * 63
    tail = "example.test."
    filler = "b" * (255 - 3 * 64 - 1 - len(b"\x07example\x04test\x00"))  # 48 octets
    name = dns.name.from_text(".".join([lab, lab, lab, filler]) + "." + tail)
    assert len(name.to_wire()) == 255
    q = make_query(name, "A")
    r = server.ask(q)
    assert_nxdomain(r)
    assert r.question[0].name == name


# --- ANY at names without data (RFC 8482 §4: ordinary negative answers) ------------------------

@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_any_nxdomain(server, tcp):
    assert_nxdomain(server.query("nope.example.test", "ANY", tcp=tcp))


def test_any_at_empty_non_terminal(server):
    assert_nodata(server.query("b.c.example.test", "ANY"))


def test_any_below_cut_is_referral(server):
    r = server.query("host.child.example.test", "ANY", edns=0)
    assert_rcode(r, dns.rcode.NOERROR)
    assert not flag(r, dns.flags.AA)
    assert not r.answer
    assert [x.rdtype for x in r.authority] == [dns.rdatatype.NS]
