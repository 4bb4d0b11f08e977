"""A parent and a child zone in one zones directory: `example.` delegates `kafka.example.`,
which is served too, with the Kafka inventory beside the child (`kafka.example.yaml`).

- Both load (`check` and `serve`); every stable name belongs to the deepest served zone, so
  the child answers its names authoritatively (AA, the child's SOA), and the parent's own
  data still answers from the parent.
- A stable name below a delegation the child itself makes is refused, with the inventory's
  file:line and the delegating zone file named (never `example.zone:0`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

from conftest import V4, answer_rrset, assert_rcode, backend, flag, switchyard_bin

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="inventories are switchyard's own"),
]

PARENT_SERIAL = 11
CHILD_SERIAL = 22

PARENT = f"""$ORIGIN example.
$TTL 3600
@ 3600 IN SOA ns1 hostmaster {PARENT_SERIAL} 3600 600 86400 300
@ IN NS ns1
ns1 IN A 192.0.2.1
www IN A 192.0.2.80
kafka IN NS ns1.kafka
ns1.kafka IN A 192.0.2.53
"""

CHILD = f"""$ORIGIN kafka.example.
$TTL 3600
@ 3600 IN SOA ns1 hostmaster {CHILD_SERIAL} 3600 600 86400 300
@ IN NS ns1
ns1 IN A 192.0.2.53
ui IN A 192.0.2.90
"""

INVENTORY = """ttl: 30
clusters:
  orders:
    port: 9092
    pools: [vm, pod]
    brokers:
      0: { vm: 10.0.1.10, pod: 10.8.1.10 }
      1: { vm: 10.0.1.11, pod: 10.8.1.11 }
"""

ZONES = {"example.zone": PARENT, "kafka.example.zone": CHILD, "kafka.example.yaml": INVENTORY}


def soa_serial(rrset) -> int:
    return next(iter(rrset)).serial


@pytest.fixture
def nested(server_factory):
    return server_factory(ZONES)


def test_check_accepts_parent_and_child(tmp_path):
    zones = tmp_path / "zones"
    zones.mkdir()
    for name, text in ZONES.items():
        (zones / name).write_text(text)
    r = subprocess.run([str(switchyard_bin()), "check", "--zones", str(zones)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = {line.split(":")[0]: line for line in r.stdout.splitlines()}
    assert "3 stable names" in lines["kafka.example."], r.stdout
    assert "0 stable names" in lines["example."], r.stdout


@pytest.mark.parametrize("qname,addresses", [
    ("broker-0.orders.kafka.example.", {"10.0.1.10"}),
    ("broker-1.orders.kafka.example.", {"10.0.1.11"}),
    ("bootstrap.orders.kafka.example.", {"10.0.1.10", "10.0.1.11"}),
])
def test_child_stable_names_answer_authoritatively(nested, via, qname, addresses):
    r = nested.query(qname, "A", **via)
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA), f"not authoritative:\n{r}"
    assert {rd.address for rd in answer_rrset(r, qname, "A")} == addresses


def test_child_zone_data_and_negative_answers_come_from_the_child(nested):
    r = nested.query("kafka.example.", "SOA")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert soa_serial(answer_rrset(r, "kafka.example.", "SOA")) == CHILD_SERIAL

    r = nested.query("ui.kafka.example.", "A")
    assert flag(r, dns.flags.AA)
    assert {rd.address for rd in answer_rrset(r, "ui.kafka.example.", "A")} == {"192.0.2.90"}

    r = nested.query("nope.kafka.example.", "A")
    assert_rcode(r, dns.rcode.NXDOMAIN)
    assert flag(r, dns.flags.AA)
    soas = [s for s in r.authority if s.rdtype == dns.rdatatype.SOA]
    assert len(soas) == 1 and soas[0].name.to_text() == "kafka.example.", f"{r}"
    assert soa_serial(soas[0]) == CHILD_SERIAL

    # AAAA of a broker name with only IPv4 targets: NODATA from the child, never NXDOMAIN.
    r = nested.query("broker-0.orders.kafka.example.", "AAAA")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA) and not r.answer


def test_parent_data_still_answers_from_the_parent(nested):
    r = nested.query("www.example.", "A")
    assert_rcode(r, dns.rcode.NOERROR)
    assert flag(r, dns.flags.AA)
    assert {rd.address for rd in answer_rrset(r, "www.example.", "A")} == {"192.0.2.80"}

    r = nested.query("example.", "SOA")
    assert soa_serial(answer_rrset(r, "example.", "SOA")) == PARENT_SERIAL

    r = nested.query("nope.example.", "A")
    assert_rcode(r, dns.rcode.NXDOMAIN)
    soas = [s for s in r.authority if s.rdtype == dns.rdatatype.SOA]
    assert len(soas) == 1 and soas[0].name.to_text() == "example."


def test_dig_sees_the_child_answer(nested):
    if shutil.which("dig") is None:
        pytest.fail("dig is not installed (apt: dnsutils)")
    out = subprocess.run(["dig", "+norec", "+time=2", "+tries=1", f"@{V4}", "-p", str(nested.port),
                          "broker-0.orders.kafka.example.", "A"],
                         capture_output=True, text=True, timeout=10).stdout
    assert re.search(r"status: NOERROR", out), out
    assert re.search(r";; flags: [a-z ]*\baa\b", out), out
    assert re.search(r"^broker-0\.orders\.kafka\.example\.\s+30\s+IN\s+A\s+10\.0\.1\.10$", out, re.M), out


def test_a_stable_name_below_the_childs_own_delegation_is_refused(tmp_path):
    zones = tmp_path / "zones"
    zones.mkdir()
    for name, text in ZONES.items():
        (zones / name).write_text(text)
    # The child hands orders.kafka.example. to other servers: its stable names could never be
    # answered from here.
    (zones / "kafka.example.zone").write_text(CHILD + "orders IN NS ns.elsewhere.test.\n")
    r = subprocess.run([str(switchyard_bin()), "check", "--zones", str(zones)],
                       capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    inventory = zones / "kafka.example.yaml"
    zone = zones / "kafka.example.zone"
    assert f"{inventory}:3: clusters.orders.brokers.0: stable name broker-0.orders.kafka.example. " \
           f"lies below the delegation orders.kafka.example. (NS records at {zone}:7)" in out, out
    assert f"{inventory}:3: clusters.orders: stable name bootstrap.orders.kafka.example." in out, out
    assert "example.zone:0" not in out, out
