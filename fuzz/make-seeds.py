#!/usr/bin/env python3
"""Writes the seed corpora for the query and TCP fuzz targets: real queries built with
dnspython (what resolvers and dig send), as raw wire bytes. Run from the repository root:
    python3 fuzz/make-seeds.py
The zone, inventory and admin seeds are plain files kept by hand in fuzz/corpus/."""
import hashlib
import os

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring

ORIGIN = "kafka.example."
NAMES = ["", "ns1", "www", "bootstrap.orders", "broker-0.orders", "broker-2.orders", "broker-3.orders",
         "bootstrap.payments", "broker-2.payments", "schema-registry", "connect", "api.east", "www.east",
         "kafka-ui", "outside", "loop-a", "x.wild", "a.b.deep.wild", "ns.dept", "host.dept", "away", "many",
         "big", "odd", "has.child", "MiXeD-cAsE", "nothing-here", "_kafka._tcp.legacy"]
TYPES = ["A", "AAAA", "ANY", "SOA", "NS", "MX", "TXT", "CNAME", "SRV", "TYPE65", "CAA", "DS", "PTR"]
KEY = dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", "c3dpdGNoeWFyZC1mdXp6LXNlY3JldA==")})


def queries():
    for name in NAMES:
        qname = name + "." + ORIGIN if name else ORIGIN
        for rdtype in TYPES:
            yield dns.message.make_query(qname, rdtype, use_edns=False)
        # As resolvers ask: EDNS with a 1232 buffer, DO set, and a client subnet.
        yield dns.message.make_query(qname, "A", use_edns=0, payload=1232, want_dnssec=True)
        ecs = dns.edns.ECSOption("192.0.2.0", 24)
        yield dns.message.make_query(qname, "AAAA", use_edns=0, payload=4096, options=[ecs])
    yield dns.message.make_query("other.example.", "A")                                  # REFUSED
    yield dns.message.make_query(ORIGIN, "SOA", use_edns=1)                             # BADVERS
    yield dns.message.make_query(ORIGIN, "SOA", rdclass=dns.rdataclass.CH)
    yield dns.message.make_query("many." + ORIGIN, "ANY", use_edns=0, payload=512)      # TC
    cookie = dns.edns.GenericOption(dns.edns.COOKIE, b"\x01\x02\x03\x04\x05\x06\x07\x08")
    ecs6 = dns.edns.ECSOption("2001:db8::", 56)
    yield dns.message.make_query("connect." + ORIGIN, "A", use_edns=0, options=[cookie, ecs6])
    notify = dns.message.make_query(ORIGIN, "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    yield notify
    status = dns.message.make_query(ORIGIN, "SOA")
    status.set_opcode(dns.opcode.STATUS)
    yield status
    yield dns.message.make_query(ORIGIN, "AXFR")
    ixfr = dns.message.make_query(ORIGIN, "IXFR")
    ixfr.authority.append(dns.rrset.from_text(ORIGIN, 0, "IN", "SOA", "ns1.kafka.example. hostmaster.kafka.example. 2026112100 1 1 1 1"))
    yield ixfr
    for rdtype in ["SOA", "AXFR", "A"]:
        signed = dns.message.make_query(ORIGIN, rdtype)
        signed.use_tsig(KEY, keyname="xfr.")
        yield signed


def write(directory, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def main():
    wires = [q.to_wire() for q in queries()]
    for wire in wires:
        write("fuzz/corpus/query", wire)
    # TCP: the first byte picks how the stream is cut into reads; then length-framed queries,
    # pipelined several per stream, one cut short, one followed by a zero length.
    framed = [len(w).to_bytes(2, "big") + w for w in wires]
    for seed, start in [(0x01, 0), (0x80, 5), (0x7f, 11), (0xff, 17), (0x33, 23)]:
        write("fuzz/corpus/tcp", bytes([seed]) + b"".join(framed[start:start + 6]))
    write("fuzz/corpus/tcp", bytes([0x05]) + framed[0] + framed[1][:7])
    write("fuzz/corpus/tcp", bytes([0x85]) + framed[2] + b"\x00\x00" + framed[3])
    write("fuzz/corpus/tcp", bytes([0x02]) + b"".join(framed[-5:]))   # transfers and signed queries


if __name__ == "__main__":
    main()
