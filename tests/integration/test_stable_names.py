"""Stable names computed from the inventory (`<origin>yaml` beside `<origin>zone`).

- broker-<id>.<cluster>.<origin>: exclusive; exactly the live pool's target (A, AAAA or a CNAME
  chased inside served zones), TTL of the cluster (or the inventory default), AA, NODATA for
  other types, never NXDOMAIN; the names above are empty non-terminals.
- bootstrap.<cluster>.<origin> and `names:` entries: weighted; one pool per query, chosen by
  weight (random) or by a hash of the client address / EDNS Client Subnet (hashed); answers
  carry that pool's targets of the asked type, shuffled, at most max_answers.

The weighted-selection checks are statistical: ≥100,000 real UDP queries, pipelined, and a
chi-square goodness-of-fit test at p = 0.001 computed here. Each such test also shows that the
same statistic rejects a wrong split, so it can fail.
"""

from __future__ import annotations

import signal
from collections import Counter

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from conftest import assert_negative_soa, assert_rcode, backend, flag, make_query, start_server
from stablekit import (
    CHI2_CRIT_001,
    NEG_TTL,
    TYPE_A,
    a_set,
    answer_addresses,
    chi_square,
    classify,
    ecs_query_wire,
    parse_reply,
    pipeline,
    repeat_query,
    wait_until,
    zone_text,
)

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="stable names are switchyard's own")

ORIGIN = "example.test"

MAIN_ZONE = zone_text(ORIGIN, [
    "www IN A 192.0.2.10",
    "kafka-3.pods IN A 10.8.1.13",
    "kafka-3.pods IN AAAA fd00:8::13",
    "kafka-6.pods 120 IN A 10.8.1.16",
])

OTHER_ZONE = zone_text("other.test", [
    "host IN A 198.51.100.5",
])

MAIN_INVENTORY = """\
# No top-level ttl: stable names without their own ttl get the default, 60.
clusters:
  orders:
    port: 9092
    ttl: 45
    pools: [vm, pod]
    brokers:
      1: { vm: 10.0.1.11, pod: 10.8.1.11 }
      2: { vm: 10.0.1.12, pod: 'fd00:8::12', live: pod }
      3: { vm: 10.0.1.13, pod: kafka-3.pods.example.test., live: pod }
      4: { vm: host.other.test. }
      5: { vm: kafka-5.example.com. }
      6: { vm: 10.0.1.16, pod: kafka-6.pods, live: pod }
  payments:
    port: 9093
    pools: [vm, pod]
    brokers:
      1: { vm: 10.0.3.21, pod: 10.8.3.21 }
      2: { vm: 10.0.3.22, pod: 10.8.3.22, live: pod }
      3: { vm: 10.0.3.23, pod: 10.8.3.23 }
    bootstrap:
      pools:
        vm:  { weight: 50 }
        pod: { weight: 50 }
  lb:
    port: 9095
    pools: [vm, pod]
    brokers:
      1: { vm: 10.0.10.1, pod: 10.8.10.1 }
      2: { vm: 10.0.10.2, pod: 10.8.10.2 }
    bootstrap:
      max_answers: 1
      pools:
        vm:  { weight: 0 }
        pod: { weight: 100, targets: [10.8.10.100] }
  big:
    port: 9096
    pools: [vm]
    brokers:
      1: { vm: 10.0.12.1 }
      2: { vm: 10.0.12.2 }
      3: { vm: 10.0.12.3 }
      4: { vm: 10.0.12.4 }
      5: { vm: 10.0.12.5 }
      6: { vm: 10.0.12.6 }
      7: { vm: 10.0.12.7 }
      8: { vm: 10.0.12.8 }
      9: { vm: 10.0.12.9 }
      10: { vm: 10.0.12.10 }
    bootstrap:
      max_answers: 3
  k8s:
    port: 9097
    pools: [vm, pod]
    brokers:
      1: { vm: 10.0.11.1, pod: kafka-1.kafka.svc.cluster.local., live: pod }
      2: { vm: 10.0.11.2, pod: kafka-2.kafka.svc.cluster.local., live: pod }
    bootstrap:
      pools:
        vm:  { weight: 0 }
        pod: { weight: 100 }
  zero:
    port: 9094
    pools: [vm, pod, spare]
    brokers:
      1: { vm: 10.0.6.1 }
      2: { vm: 10.0.6.2, pod: 10.8.6.2, live: pod }
      3: { vm: 10.0.6.3, pod: 10.8.6.3, live: pod }
    bootstrap:
      pools:
        vm:    { weight: 0 }
        pod:   { weight: 0 }
        spare: { weight: 0 }
names:
  w75:
    policy: weighted
    selection: random
    pools:
      vm:  { weight: 75, targets: [10.0.0.1, 10.0.0.2] }
      pod: { weight: 25, targets: [10.8.0.1] }
  w3:
    pools:
      a: { weight: 60, targets: [10.0.0.11] }
      b: { weight: 30, targets: [10.0.0.12, 10.0.0.13] }
      c: { weight: 10, targets: [10.0.0.14] }
  wzero:
    pools:
      x: { weight: 0, targets: [10.0.0.21] }
      y: { weight: 0, targets: [10.0.0.22] }
      z: { weight: 0, targets: [10.0.0.23, 10.0.0.24] }
  schema-registry.tools:
    ttl: 20
    max_answers: 2
    pools:
      vm: { weight: 100, targets: [10.0.2.1, 10.0.2.2, 10.0.2.3, 10.0.2.4, 10.0.2.5] }
  rot:
    pools:
      only: { weight: 7, targets: [10.0.7.1, 10.0.7.2, 10.0.7.3, 10.0.7.4] }
  dual:
    pools:
      mixed: { weight: 100, targets: [10.0.4.1, 'fd00:4::1', 'fd00:4::2'] }
  abs.example.test.:
    pools:
      only: { weight: 1, targets: [10.0.5.5] }
  many:
    max_answers: 60
    pools:
      p: { weight: 1, targets: ['fd00:60::1', 'fd00:60::2', 'fd00:60::3', 'fd00:60::4', 'fd00:60::5', 'fd00:60::6', 'fd00:60::7', 'fd00:60::8', 'fd00:60::9', 'fd00:60::a', 'fd00:60::b', 'fd00:60::c', 'fd00:60::d', 'fd00:60::e', 'fd00:60::f', 'fd00:60::10', 'fd00:60::11', 'fd00:60::12', 'fd00:60::13', 'fd00:60::14', 'fd00:60::15', 'fd00:60::16', 'fd00:60::17', 'fd00:60::18', 'fd00:60::19', 'fd00:60::1a', 'fd00:60::1b', 'fd00:60::1c', 'fd00:60::1d', 'fd00:60::1e', 'fd00:60::1f', 'fd00:60::20', 'fd00:60::21', 'fd00:60::22', 'fd00:60::23', 'fd00:60::24', 'fd00:60::25', 'fd00:60::26', 'fd00:60::27', 'fd00:60::28', 'fd00:60::29', 'fd00:60::2a', 'fd00:60::2b', 'fd00:60::2c', 'fd00:60::2d', 'fd00:60::2e', 'fd00:60::2f', 'fd00:60::30', 'fd00:60::31', 'fd00:60::32', 'fd00:60::33', 'fd00:60::34', 'fd00:60::35', 'fd00:60::36', 'fd00:60::37', 'fd00:60::38', 'fd00:60::39', 'fd00:60::3a', 'fd00:60::3b', 'fd00:60::3c'] }
  split-family:
    pools:
      v4: { weight: 50, targets: [10.0.9.4] }
      v6: { weight: 50, targets: ['fd00:9::6'] }
"""

OTHER_INVENTORY = """\
ttl: 120
clusters:
  c:
    port: 9092
    pools: [vm]
    brokers:
      1: { vm: 198.51.100.11 }
"""


@pytest.fixture(scope="module")
def stable(tmp_path_factory):
    s = start_server(tmp_path_factory.mktemp("stable"), {
        "example.test.zone": MAIN_ZONE,
        "example.test.yaml": MAIN_INVENTORY,
        "other.test.zone": OTHER_ZONE,
        "other.test.yaml": OTHER_INVENTORY,
    })
    yield s
    s.stop()


def rrsets(r, rdtype: str):
    t = dns.rdatatype.from_text(rdtype)
    return [x for x in r.answer if x.rdtype == t]


def only_rrset(r, name: str, rdtype: str):
    """The single answer RRset, which must have this owner and type."""
    assert len(r.answer) == 1, f"want exactly one RRset ({name} {rdtype}) in answer:\n{r}"
    rrset = r.answer[0]
    assert rrset.name == dns.name.from_text(name), f"owner {rrset.name} != {name}:\n{r}"
    assert rrset.rdtype == dns.rdatatype.from_text(rdtype), f"type of answer:\n{r}"
    return rrset


def texts(rrset) -> set[str]:
    return {x.to_text() for x in rrset}


def assert_positive(r):
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA), f"a stable name is authoritative data: AA must be set:\n{r}"


def assert_nodata(r, apex: str = ORIGIN):
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA), f"NODATA must set AA:\n{r}"
    assert len(r.answer) == 0, f"NODATA must have an empty answer:\n{r}"
    assert_negative_soa(r, apex, NEG_TTL)


# ---------------------------------------------------------------------------------------------
# Exclusive broker names
# ---------------------------------------------------------------------------------------------

def test_broker_ipv4_target(stable):
    r = stable.query("broker-1.orders.example.test", "A")
    assert_positive(r)
    rrset = only_rrset(r, "broker-1.orders.example.test", "A")
    assert texts(rrset) == {"10.0.1.11"}, "exactly the live (vm) target, never the pod one"
    assert rrset.ttl == 45, f"TTL must be the cluster ttl 45:\n{r}"


def test_broker_ipv4_target_stable_over_many_queries(stable):
    """Exclusive: every answer is exactly the live target (never the other pool's)."""
    res = repeat_query(stable.port, "broker-1.orders.example.test", "A", 500, window=50)
    assert not res.missing, f"{len(res.missing)} of 500 queries unanswered"
    counts, odd = classify(res, {"vm": frozenset({"10.0.1.11"})})
    assert counts["vm"] == 500, f"odd answers: {odd[:5]}"


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_broker_ipv6_target(stable, tcp):
    r = stable.query("broker-2.orders.example.test", "AAAA", tcp=tcp)
    assert_positive(r)
    rrset = only_rrset(r, "broker-2.orders.example.test", "AAAA")
    assert texts(rrset) == {"fd00:8::12"}
    assert rrset.ttl == 45
    # The live target is IPv6 only: A has no data (and never falls back to the vm address).
    assert_nodata(stable.query("broker-2.orders.example.test", "A", tcp=tcp))


def test_broker_ipv4_target_has_no_aaaa(stable):
    assert_nodata(stable.query("broker-1.orders.example.test", "AAAA"))


def test_broker_hostname_target_chased_in_zone(stable):
    r = stable.query("broker-3.orders.example.test", "A")
    assert_positive(r)
    cnames = rrsets(r, "CNAME")
    assert len(cnames) == 1 and cnames[0].name == dns.name.from_text(
        "broker-3.orders.example.test"), f"want the broker's CNAME first:\n{r}"
    assert texts(cnames[0]) == {"kafka-3.pods.example.test."}
    assert cnames[0].ttl == 45
    a = [x for x in rrsets(r, "A")]
    assert len(a) == 1 and a[0].name == dns.name.from_text("kafka-3.pods.example.test"), (
        f"the CNAME target is in a served zone, so it must be chased:\n{r}")
    assert texts(a[0]) == {"10.8.1.13"}
    assert a[0].ttl == 3600, "the chased record keeps its own zone TTL"
    assert r.answer[0].rdtype == dns.rdatatype.CNAME, "CNAME must precede the chased data"
    assert sum(len(x) for x in r.answer) == 2

    r6 = stable.query("broker-3.orders.example.test", "AAAA")
    assert_positive(r6)
    assert texts(rrsets(r6, "CNAME")[0]) == {"kafka-3.pods.example.test."}
    assert texts(rrsets(r6, "AAAA")[0]) == {"fd00:8::13"}


def test_broker_relative_hostname_target(stable):
    """`pod: kafka-6.pods` is relative to the origin."""
    r = stable.query("broker-6.orders.example.test", "A")
    assert_positive(r)
    assert texts(rrsets(r, "CNAME")[0]) == {"kafka-6.pods.example.test."}, f"{r}"
    chased = rrsets(r, "A")
    assert len(chased) == 1 and texts(chased[0]) == {"10.8.1.16"}, f"{r}"
    assert chased[0].ttl == 120


def test_broker_hostname_target_query_cname(stable):
    r = stable.query("broker-3.orders.example.test", "CNAME")
    assert_positive(r)
    rrset = only_rrset(r, "broker-3.orders.example.test", "CNAME")
    assert texts(rrset) == {"kafka-3.pods.example.test."}
    assert rrset.ttl == 45


def test_broker_hostname_target_in_other_served_zone(stable):
    r = stable.query("broker-4.orders.example.test", "A")
    assert_positive(r)
    assert texts(rrsets(r, "CNAME")[0]) == {"host.other.test."}
    a = rrsets(r, "A")
    assert len(a) == 1 and a[0].name == dns.name.from_text("host.other.test"), f"{r}"
    assert texts(a[0]) == {"198.51.100.5"}


def test_broker_hostname_target_outside(stable):
    r = stable.query("broker-5.orders.example.test", "A")
    assert_positive(r)
    rrset = only_rrset(r, "broker-5.orders.example.test", "CNAME")
    assert texts(rrset) == {"kafka-5.example.com."}


@pytest.mark.parametrize("qtype", ["TXT", "MX", "SRV", "NS", "SOA", "PTR", "CAA"])
def test_broker_other_types_nodata(stable, qtype):
    assert_nodata(stable.query("broker-1.orders.example.test", qtype))


def test_broker_cname_query_on_address_target_nodata(stable):
    assert_nodata(stable.query("broker-1.orders.example.test", "CNAME"))


def test_broker_default_ttl(stable):
    r = stable.query("broker-1.payments.example.test", "A")
    assert_positive(r)
    rrset = only_rrset(r, "broker-1.payments.example.test", "A")
    assert texts(rrset) == {"10.0.3.21"}
    assert rrset.ttl == 60, "no cluster or inventory ttl: the default is 60"


def test_broker_inventory_ttl_and_second_zone(stable):
    r = stable.query("broker-1.c.other.test", "A")
    assert_positive(r)
    rrset = only_rrset(r, "broker-1.c.other.test", "A")
    assert texts(rrset) == {"198.51.100.11"}
    assert rrset.ttl == 120, "top-level ttl: 120 of other.test.yaml"
    b = stable.query("bootstrap.c.other.test", "A")
    assert_positive(b)
    assert texts(only_rrset(b, "bootstrap.c.other.test", "A")) == {"198.51.100.11"}
    assert b.answer[0].ttl == 120


def test_broker_name_case_insensitive_and_preserved(stable):
    r = stable.query("BROKER-1.Orders.Example.TEST", "A")
    assert_positive(r)
    assert str(r.question[0].name) == "BROKER-1.Orders.Example.TEST."
    assert {x.to_text() for x in r.answer[0]} == {"10.0.1.11"}


@pytest.mark.parametrize("qname", [
    "orders.example.test", "payments.example.test", "c.other.test", "tools.example.test"])
@pytest.mark.parametrize("qtype", ["A", "AAAA", "TXT"])
def test_empty_non_terminals(stable, qname, qtype):
    apex = "other.test" if qname.endswith("other.test") else ORIGIN
    assert_nodata(stable.query(qname, qtype), apex)


def test_undeclared_broker_is_nxdomain(stable):
    """Only declared brokers exist; a query for another id is an ordinary NXDOMAIN."""
    r = stable.query("broker-99.orders.example.test", "A")
    assert_rcode(r, dns.rcode.NXDOMAIN)
    assert_negative_soa(r, ORIGIN, NEG_TTL)


def test_zone_records_still_served(stable):
    r = stable.query("www.example.test", "A")
    assert_positive(r)
    assert texts(only_rrset(r, "www.example.test", "A")) == {"192.0.2.10"}


@pytest.mark.parametrize("qname", ["x.broker-1.orders.example.test", "x.w75.example.test",
                                   "deep.x.bootstrap.payments.example.test"])
def test_below_a_stable_name_is_nxdomain(stable, qname):
    r = stable.query(qname, "A")
    assert_rcode(r, dns.rcode.NXDOMAIN)
    assert_negative_soa(r, ORIGIN, NEG_TTL)


WILD_INVENTORY = """\
clusters:
  orders:
    port: 9092
    pools: [vm]
    brokers:
      1: { vm: 10.0.1.11 }
"""


def test_stable_names_and_wildcards(server_factory):
    """With `*.example.test` in the zone, the stable names are real nodes of the tree
    (RFC 4592): orders.example.test is an empty non-terminal (not synthesised from the
    wildcard), and below it nothing is synthesised."""
    srv = server_factory(zones={
        "example.test.zone": zone_text(ORIGIN, ["* IN A 192.0.2.99"]),
        "example.test.yaml": WILD_INVENTORY,
    })
    r = srv.query("broker-1.orders.example.test", "A")
    assert_positive(r)
    assert texts(only_rrset(r, "broker-1.orders.example.test", "A")) == {"10.0.1.11"}
    assert_nodata(srv.query("orders.example.test", "A"))
    assert_nodata(srv.query("broker-1.orders.example.test", "TXT"))
    nx = srv.query("broker-99.orders.example.test", "A")
    assert_rcode(nx, dns.rcode.NXDOMAIN)
    w = srv.query("anything.example.test", "A")
    assert_positive(w)
    assert texts(only_rrset(w, "anything.example.test", "A")) == {"192.0.2.99"}


# ---------------------------------------------------------------------------------------------
# Weighted names: shape of one answer
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("qtype", ["TXT", "MX", "CNAME", "AAAA", "SRV"])
def test_weighted_name_other_types_nodata(stable, qtype):
    assert_nodata(stable.query("w75.example.test", qtype))


@pytest.mark.parametrize("qtype", ["TXT", "AAAA", "CNAME"])
def test_bootstrap_other_types_nodata(stable, qtype):
    assert_nodata(stable.query("bootstrap.payments.example.test", qtype))


def test_weighted_answer_flags_and_ttl(stable):
    r = stable.query("w75.example.test", "A")
    assert_positive(r)
    rrset = only_rrset(r, "w75.example.test", "A")
    assert texts(rrset) in ({"10.0.0.1", "10.0.0.2"}, {"10.8.0.1"}), f"{r}"
    assert rrset.ttl == 60
    r2 = stable.query("schema-registry.tools.example.test", "A")
    assert_positive(r2)
    assert only_rrset(r2, "schema-registry.tools.example.test", "A").ttl == 20


def test_max_answers_caps_and_rotates(stable):
    """Pool of 5 targets, max_answers 2: every answer has exactly 2 distinct targets of the
    pool, and over many queries every target gets its turn."""
    n = 400
    res = repeat_query(stable.port, "schema-registry.tools.example.test", "A", n, window=50)
    assert not res.missing
    pool = {f"10.0.2.{i}" for i in range(1, 6)}
    seen = Counter()
    for data in res.replies:
        _id, rcode, records = parse_reply(data)
        assert rcode == 0
        addrs = [rd for t, rd in records if t == TYPE_A]
        assert len(addrs) == 2, f"max_answers is 2, got {len(addrs)} records"
        s = a_set(records)
        assert len(s) == 2 and s <= pool, f"{sorted(s)} not 2 distinct targets of the pool"
        seen.update(s)
    assert set(seen) == pool, f"some targets never answered: {seen}"
    # Each target should appear in about 2/5 of the answers; demand at least a quarter of that.
    assert min(seen.values()) >= n * 2 / 5 / 4, f"targets are not rotated evenly: {seen}"


def test_answer_order_shuffled(stable):
    n = 300
    res = repeat_query(stable.port, "rot.example.test", "A", n, window=50)
    assert not res.missing
    firsts = Counter()
    for data in res.replies:
        _id, rcode, records = parse_reply(data)
        assert rcode == 0
        addrs = [rd for t, rd in records if t == TYPE_A]
        assert a_set(records) == {"10.0.7.1", "10.0.7.2", "10.0.7.3", "10.0.7.4"}
        assert len(addrs) == 4, "each target exactly once"
        firsts[addrs[0]] += 1
    assert len(firsts) == 4, f"the first record should rotate over all 4 targets: {firsts}"
    assert min(firsts.values()) >= n / 4 / 4, f"first position badly skewed: {firsts}"


def test_weighted_answers_only_the_asked_type(stable):
    r4 = stable.query("dual.example.test", "A")
    assert_positive(r4)
    assert texts(only_rrset(r4, "dual.example.test", "A")) == {"10.0.4.1"}
    r6 = stable.query("dual.example.test", "AAAA")
    assert_positive(r6)
    assert texts(only_rrset(r6, "dual.example.test", "AAAA")) == {"fd00:4::1", "fd00:4::2"}


def test_default_bootstrap_pools_are_live_brokers(stable):
    """bootstrap.payments: vm = brokers living in vm (1, 3), pod = brokers living in pod (2);
    weights 50/50. Every answer is exactly one of the two sets, and both occur."""
    pools = {"vm": frozenset({"10.0.3.21", "10.0.3.23"}), "pod": frozenset({"10.8.3.22"})}
    res = repeat_query(stable.port, "bootstrap.payments.example.test", "A", 2000, window=100)
    assert not res.missing
    counts, odd = classify(res, pools)
    assert not odd, f"answers that are not exactly one pool's live brokers: {odd[:5]}"
    assert counts["vm"] > 800 and counts["pod"] > 800, f"50/50 split looks wrong: {counts}"


def test_absolute_names_entry(stable):
    r = stable.query("abs.example.test", "A")
    assert_positive(r)
    assert texts(only_rrset(r, "abs.example.test", "A")) == {"10.0.5.5"}


def test_bootstrap_explicit_pool_targets(stable):
    """A bootstrap pool may list explicit targets (a load balancer) instead of its brokers."""
    res = repeat_query(stable.port, "bootstrap.lb.example.test", "A", 200, window=50)
    assert not res.missing
    counts, odd = classify(res, {"pod": frozenset({"10.8.10.100"})})
    assert counts["pod"] == 200, f"weight 100 pool with explicit targets; odd: {odd[:5]}"


def test_bootstrap_default_pool_capped_by_max_answers(stable):
    n = 300
    res = repeat_query(stable.port, "bootstrap.big.example.test", "A", n, window=50)
    assert not res.missing
    brokers = {f"10.0.12.{i}" for i in range(1, 11)}
    seen = Counter()
    for data in res.replies:
        _id, rcode, records = parse_reply(data)
        got = a_set(records)
        assert rcode == 0 and len(got) == 3 and got <= brokers, (rcode, sorted(got))
        seen.update(got)
    assert set(seen) == brokers, f"every broker should get its turn in bootstrap: {seen}"


def test_large_pool_truncates_over_udp_and_is_complete_over_tcp(stable):
    targets = {f"fd00:60::{i:x}" for i in range(1, 61)}
    q = make_query("many.example.test", "AAAA")                # no EDNS: 512 bytes
    r = stable.ask(q)
    assert flag(r, dns.flags.TC), f"60 AAAA records do not fit 512 bytes: TC must be set:\n{r}"
    rt = stable.query("many.example.test", "AAAA", tcp=True)
    assert_positive(rt)
    assert texts(only_rrset(rt, "many.example.test", "AAAA")) == targets


def test_bootstrap_of_external_hostname_brokers_never_empty(stable):
    """bootstrap.k8s: the weight-100 pool `pod` holds two brokers whose pod targets are
    hostnames outside every served zone (the spec's own example uses
    orders-kafka-2.orders.svc.cluster.local.). A managed name never answers empty: the answer
    must lead to those brokers (e.g. a CNAME to one of them), not be NODATA."""
    pod = {"kafka-1.kafka.svc.cluster.local.", "kafka-2.kafka.svc.cluster.local."}
    for _ in range(20):
        r = stable.query("bootstrap.k8s.example.test", "A")
        assert_positive(r)
        assert r.answer, f"empty answer for a managed name whose pool has targets:\n{r}"
        cnames = rrsets(r, "CNAME")
        assert cnames and texts(cnames[0]) <= pod, f"answer must point at the pod brokers:\n{r}"
        assert not rrsets(r, "A"), f"no vm addresses: the vm pool has weight 0:\n{r}"


def test_weighted_never_empty_when_a_pool_has_the_type(stable):
    """split-family: pool v4 (A only) and pool v6 (AAAA only), 50/50. The spec says a managed
    name never answers empty; like Route 53 weighted record sets (which are per type), an A
    query can only be answered by a pool with A targets. So A is always 10.0.9.4 and AAAA is
    always fd00:9::6 — never NODATA half of the time."""
    for qtype, want in (("A", frozenset({"10.0.9.4"})), ("AAAA", frozenset({"fd00:9::6"}))):
        res = repeat_query(stable.port, "split-family.example.test", qtype, 200, window=50)
        assert not res.missing
        counts, odd = classify(res, {"only": want}, v6=(qtype == "AAAA"))
        assert counts["only"] == 200, (
            f"{qtype}: {200 - counts['only']} of 200 answers were not {sorted(want)} "
            f"(e.g. {odd[:3]})")


def test_hashed_same_pool_over_udp_and_tcp(hashed_server):
    """The hash depends on the client address / subnet, not the transport."""
    srv = hashed_server
    subnets = [f"10.77.{i}.0" for i in range(60)]
    udp = subnet_pools(srv.port, subnets, 24)
    by_set = {v: k for k, v in HASHED_POOLS.items()}
    for net, pool in zip(subnets, udp):
        q = dns.message.from_wire(ecs_query_wire("hashed.example.test", "A", net, 24))
        r = srv.ask(q, tcp=True)
        got = by_set.get(frozenset(x.to_text() for x in r.answer[0])) if r.answer else None
        assert got == pool, f"subnet {net}/24: UDP gave pool {pool}, TCP gave {got}"
    plain_udp = answer_addresses(srv, "hashed.example.test")[1]
    r = srv.query("hashed.example.test", "A", tcp=True)
    assert frozenset(x.to_text() for x in r.answer[0]) == plain_udp


# ---------------------------------------------------------------------------------------------
# Weighted names: statistics
# ---------------------------------------------------------------------------------------------

def run_split(stable, qname: str, pools: dict[str, frozenset[str]], n: int) -> Counter:
    res = repeat_query(stable.port, qname, "A", n, window=120)
    lost = len(res.missing)
    assert lost <= n // 1000, f"{lost} of {n} queries unanswered after retries"
    counts, odd = classify(res, pools)
    assert not odd, (f"{len(odd)} answers match no single pool (first: {odd[:5]}); "
                     "one answer must carry exactly one pool's targets")
    return counts


def test_statistics_75_25(stable):
    n = 100_000
    pools = {"vm": frozenset({"10.0.0.1", "10.0.0.2"}), "pod": frozenset({"10.8.0.1"})}
    counts = run_split(stable, "w75.example.test", pools, n)
    observed = [counts["vm"], counts["pod"]]
    stat = chi_square(observed, [75, 25])
    crit = CHI2_CRIT_001[1]
    assert stat <= crit, (f"vm/pod = {observed} does not fit 75/25: chi2 = {stat:.2f} > {crit} "
                          f"(p < 0.001)")
    # The same test has power: plausible wrong splits are rejected on these counts.
    for wrong in ([50, 50], [70, 30], [80, 20]):
        wrong_stat = chi_square(observed, wrong)
        assert wrong_stat > crit, f"chi2 would not reject {wrong}: {wrong_stat:.2f}"


def test_statistics_60_30_10(stable):
    n = 30_000
    pools = {"a": frozenset({"10.0.0.11"}), "b": frozenset({"10.0.0.12", "10.0.0.13"}),
             "c": frozenset({"10.0.0.14"})}
    counts = run_split(stable, "w3.example.test", pools, n)
    observed = [counts["a"], counts["b"], counts["c"]]
    stat = chi_square(observed, [60, 30, 10])
    crit = CHI2_CRIT_001[2]
    assert stat <= crit, f"a/b/c = {observed} does not fit 60/30/10: chi2 = {stat:.2f} > {crit}"
    for wrong in ([1, 1, 1], [55, 35, 10], [60, 35, 5]):
        assert chi_square(observed, wrong) > crit, f"chi2 would not reject {wrong}"


def test_statistics_all_zero_weights_uniform(stable):
    """All weights 0: every pool equally likely (fail-open)."""
    n = 30_000
    pools = {"x": frozenset({"10.0.0.21"}), "y": frozenset({"10.0.0.22"}),
             "z": frozenset({"10.0.0.23", "10.0.0.24"})}
    counts = run_split(stable, "wzero.example.test", pools, n)
    observed = [counts["x"], counts["y"], counts["z"]]
    stat = chi_square(observed, [1, 1, 1])
    crit = CHI2_CRIT_001[2]
    assert stat <= crit, f"x/y/z = {observed} is not uniform: chi2 = {stat:.2f} > {crit}"
    assert chi_square(observed, [40, 30, 30]) > crit


def test_statistics_all_zero_bootstrap_skips_empty_pool(stable):
    """bootstrap.zero: weights 0/0/0, and `spare` has no live broker (no targets): vm and pod
    are equally likely and the empty pool never answers (never an empty answer)."""
    n = 20_000
    pools = {"vm": frozenset({"10.0.6.1"}), "pod": frozenset({"10.8.6.2", "10.8.6.3"})}
    counts = run_split(stable, "bootstrap.zero.example.test", pools, n)
    observed = [counts["vm"], counts["pod"]]
    stat = chi_square(observed, [1, 1])
    assert stat <= CHI2_CRIT_001[1], f"vm/pod = {observed} is not 50/50: chi2 = {stat:.2f}"
    assert chi_square(observed, [60, 40]) > CHI2_CRIT_001[1]


# ---------------------------------------------------------------------------------------------
# Hashed selection and weight moves (own server: the test rewrites the inventory)
# ---------------------------------------------------------------------------------------------

def hashed_inventory(wa: int, wb: int, marker: int) -> str:
    return f"""\
names:
  hashed:
    selection: hashed
    pools:
      a: {{ weight: {wa}, targets: [10.0.0.1] }}
      b: {{ weight: {wb}, targets: [10.0.0.2] }}
  marker-{marker}:
    pools:
      only: {{ weight: 1, targets: [10.9.9.{marker}] }}
"""


HASHED_POOLS = {"a": frozenset({"10.0.0.1"}), "b": frozenset({"10.0.0.2"})}


def subnet_pools(port: int, subnets: list[str], prefix: int) -> list[str]:
    wires = [ecs_query_wire("hashed.example.test", "A", net, prefix) for net in subnets]
    res = pipeline(port, wires, window=100)
    assert not res.missing, f"{len(res.missing)} ECS queries unanswered"
    by_set = {v: k for k, v in HASHED_POOLS.items()}
    out = []
    for i, data in enumerate(res.replies):
        _id, rcode, records = parse_reply(data)
        pool = by_set.get(a_set(records)) if rcode == 0 else None
        assert pool is not None, (f"subnet {subnets[i]}/{prefix}: rcode {rcode}, "
                                  f"answer {sorted(a_set(records))} is not one pool")
        out.append(pool)
    return out


@pytest.fixture
def hashed_server(server_factory):
    return server_factory(zones={
        "example.test.zone": zone_text(ORIGIN),
        "example.test.yaml": hashed_inventory(90, 10, 1),
    })


def test_hashed_same_client_same_pool(hashed_server):
    res = repeat_query(hashed_server.port, "hashed.example.test", "A", 200, window=20)
    assert not res.missing
    counts, odd = classify(res, HASHED_POOLS)
    assert not odd, f"{odd[:5]}"
    assert len(counts) == 1, f"127.0.0.1 without ECS must always get one pool: {counts}"


def test_hashed_ecs_ipv6_subnets_stable(hashed_server):
    subnets = [f"2001:db8:{i:x}::" for i in range(300)]
    first = subnet_pools(hashed_server.port, subnets, 48)
    again = subnet_pools(hashed_server.port, subnets, 48)
    assert first == again, "the same IPv6 client subnet must always get the same pool"
    share_b = first.count("b") / len(first)
    assert 0.02 <= share_b <= 0.22, f"IPv6 subnets: share of the weight-10 pool {share_b:.3f}"


def test_hashed_weight_move_moves_only_boundary_clients(hashed_server):
    srv = hashed_server
    subnets = [f"10.{i >> 8}.{i & 255}.0" for i in range(2000)]
    before = subnet_pools(srv.port, subnets, 24)
    again = subnet_pools(srv.port, subnets, 24)
    assert before == again, "the same client subnet must always get the same pool"
    share_b = before.count("b") / len(before)
    assert 0.05 <= share_b <= 0.15, (
        f"with weights 90/10, {share_b:.3f} of the subnets got pool b: is ECS used for the hash?")

    # 90/10 -> 80/20, and a marker name that tells us the new inventory is live.
    (srv.zone_dir / "example.test.yaml").write_text(hashed_inventory(80, 20, 2))
    srv.signal(signal.SIGHUP)
    took = wait_until(lambda: answer_addresses(srv, "marker-2.example.test")[1]
                      == frozenset({"10.9.9.2"}), timeout=10.0)
    assert took is not None, f"reload not applied 10 s after SIGHUP: {srv.describe()}"

    after = subnet_pools(srv.port, subnets, 24)
    moved = [(s, b, a) for s, b, a in zip(subnets, before, after) if b != a]
    fraction = len(moved) / len(subnets)
    wrong_way = [m for m in moved if not (m[1] == "a" and m[2] == "b")]
    assert not wrong_way, (f"{len(wrong_way)} subnets moved away from the gaining pool "
                           f"(first: {wrong_way[:5]}); only a -> b moves are allowed")
    assert 0.05 <= fraction <= 0.15, (
        f"{fraction:.3f} of the subnets moved; a 10-point weight change should move about 10%")
    share_b_after = after.count("b") / len(after)
    assert 0.14 <= share_b_after <= 0.26, f"after 80/20, pool b has {share_b_after:.3f}"


def test_reload_with_bad_inventory_keeps_serving(server_factory):
    """A broken inventory on SIGHUP: the last good data keeps serving and the error is logged
    with file and line."""
    srv = server_factory(zones={
        "example.test.zone": zone_text(ORIGIN),
        "example.test.yaml": hashed_inventory(90, 10, 1),
    })
    assert answer_addresses(srv, "marker-1.example.test")[1] == frozenset({"10.9.9.1"})
    bad = hashed_inventory(90, 10, 2).replace("weight: 10,", "weight: 300,")
    bad_line = next(i for i, line in enumerate(bad.splitlines(), 1) if "weight: 300" in line)
    log_before = len(srv.stderr_text())
    (srv.zone_dir / "example.test.yaml").write_text(bad)
    srv.signal(signal.SIGHUP)
    needle = f"example.test.yaml:{bad_line}:"
    took = wait_until(lambda: needle in srv.stderr_text()[log_before:], timeout=5.0)
    assert took is not None, f"no `{needle}` in the log:\n{srv.stderr_text()[log_before:]}"
    assert srv.alive()
    assert answer_addresses(srv, "marker-1.example.test")[1] == frozenset({"10.9.9.1"})
    r = srv.query("marker-2.example.test", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN, "nothing of the rejected inventory may be served"
