"""Zone transfer out (AXFR, IXFR) and TSIG, against the real binary with dig, kdig, drill and
dnspython (issue #10).

- AXFR over TCP only to `--allow-transfer` clients, with the key the rule names; others REFUSED;
  SOA first and last; stable names flattened (broker name = live target, bootstrap = the
  heaviest pool); every message signed when the request was.
- IXFR: from the current serial the SOA only; from an older serial of the journal the condensed
  difference; from a serial the journal does not cover the whole zone (AXFR-style); over UDP the
  SOA only.
- TSIG on ordinary queries: answered signed; unknown key -> NOTAUTH/BADKEY; bad MAC ->
  NOTAUTH/BADSIG; time outside the fudge -> NOTAUTH/BADTIME with the server's time.

Loopback only; every process is stopped by PID (the `deployments` fixture).
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import pytest

from conftest import V4, backend, make_query, recv_exact
from cutoverkit import (  # noqa: F401  (fixtures)
    ORIGIN,
    POD,
    VM,
    bootstrap_name,
    broker_name,
    cli,
    deployments,
    describe_run,
    orders_zones,
)

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="switchyard's own transfer policy")

SECRET = base64.b64encode(b"switchyard-transfer-test-secret!").decode()
OTHER_SECRET = base64.b64encode(b"another-secret-for-notify-only!!").decode()
KEYS = f"""\
# as tsig-keygen writes them
key "xfr" {{
    algorithm hmac-sha256;
    secret "{SECRET}";
}};
key "legacy" {{ algorithm hmac-sha1; secret "{OTHER_SECRET}"; }};
"""
KEYRING = dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", SECRET)})


def tool(name: str) -> str | None:
    return shutil.which(name)


@pytest.fixture
def primary(deployments, tmp_path):
    keyfile = tmp_path / "keys.conf"
    keyfile.write_text(KEYS)

    def make(*rules: str):
        args = ["--tsig-key-file", str(keyfile)]
        for rule in rules:
            args += ["--allow-transfer", rule]
        return deployments(orders_zones(19093, ttl=30), args)
    return make


def axfr(d, keyring=KEYRING, keyname="xfr.") -> list[dns.message.Message]:
    # dnspython's xfr() checks every message's TSIG against the request.
    return list(dns.query.xfr(V4, ORIGIN, port=d.port, keyring=keyring, keyname=keyname if keyring else None,
                              relativize=False, timeout=5, lifetime=10))


def records(messages) -> list[tuple[str, str, str]]:
    out = []
    for m in messages:
        for rrset in m.answer:
            for rd in rrset:
                out.append((rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype), rd.to_text()))
    return out


def test_axfr_signed_flattens_stable_names(primary):
    d = primary("127.0.0.0/8,key=xfr")
    got = records(axfr(d))
    assert got[0][1] == "SOA" and got[-1][1] == "SOA" and got[0] == got[-1]
    assert sum(1 for r in got if r[1] == "SOA") == 2
    by_name: dict[str, set[str]] = {}
    for name, rtype, text in got:
        by_name.setdefault(f"{name} {rtype}", set()).add(text)
    for i in (1, 2, 3):
        assert by_name[f"{broker_name(i)} A"] == {VM[i]}
    assert by_name[f"{bootstrap_name()} A"] == set(VM.values())
    assert f"ns1.{ORIGIN} A" in by_name


def read_frame(sock: socket.socket) -> bytes:
    length = int.from_bytes(recv_exact(sock, 2), "big")
    return recv_exact(sock, length)


def test_a_large_axfr_is_made_as_the_secondary_reads_it(deployments, tmp_path):
    # 15,000 extra names: ~25 signed messages, made from the zone's storage a piece at a time.
    # The client reads slowly; meanwhile another client is answered, and a query pipelined
    # behind the AXFR on the same connection is answered after its last message.
    keyfile = tmp_path / "keys.conf"
    keyfile.write_text(KEYS)
    zones = orders_zones(19093, ttl=30)
    zones["example.test.zone"] += "".join(f"host-{i} 300 IN A 10.9.{i // 256}.{i % 256}\n" for i in range(15_000))
    d = deployments(zones, ["--tsig-key-file", str(keyfile), "--allow-transfer", "127.0.0.1,key=xfr"])
    q = dns.message.make_query(ORIGIN, "AXFR")
    q.use_tsig(KEYRING, keyname="xfr.")
    follow = dns.message.make_query(broker_name(1), "A", id=0x5151)
    with socket.create_connection((V4, d.port), timeout=10) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        wire, after = q.to_wire(), follow.to_wire()
        s.sendall(len(wire).to_bytes(2, "big") + wire + len(after).to_bytes(2, "big") + after)
        messages, soas, names = [], 0, set()
        context = None
        while soas < 2:
            raw = read_frame(s)
            m = dns.message.from_wire(raw, keyring=KEYRING, request_mac=q.mac if context is None else b"",
                                      xfr=True, origin=None, tsig_ctx=context, multi=True)
            context = m.tsig_ctx
            messages.append(m)
            for rrset in m.answer:
                soas += rrset.rdtype == dns.rdatatype.SOA
                names.add(rrset.name.to_text().lower())
            if len(messages) == 3:
                # Mid-transfer, with this connection not reading: another client is served.
                other = dns.query.tcp(make_query(broker_name(2), "A"), V4, port=d.port, timeout=5)
                assert [r.to_text() for rr in other.answer for r in rr] == [VM[2]]
                time.sleep(0.3)
        assert len(messages) > 10, len(messages)
        assert all(f"host-{i}.{ORIGIN}".lower() in names for i in (0, 12_345, 14_999))
        pipelined = dns.message.from_wire(read_frame(s))
        assert pipelined.id == 0x5151 and [r.to_text() for rr in pipelined.answer for r in rr] == [VM[1]]


def test_axfr_refused_without_the_key_or_outside_the_prefix(primary):
    d = primary("127.0.0.0/8,key=xfr")
    with pytest.raises(Exception):
        axfr(d, keyring=None)
    assert "zone transfer refused" in d.server.stderr_text()
    d2 = primary("10.0.0.0/8")
    q = make_query(ORIGIN, "AXFR")
    reply = d2.server.raw(q.to_wire(), tcp=True)
    assert reply is not None and dns.message.from_wire(reply).rcode() == dns.rcode.REFUSED


def test_axfr_unsigned_when_allowed_without_key(primary):
    d = primary("127.0.0.1")
    got = records(axfr(d, keyring=None))
    assert got[0][1] == "SOA" and got[-1][1] == "SOA"


def test_axfr_over_udp_is_refused(primary):
    d = primary("127.0.0.1")
    reply = d.server.raw(make_query(ORIGIN, "AXFR").to_wire())
    assert reply is not None and dns.message.from_wire(reply).rcode() == dns.rcode.REFUSED


def ixfr(d, serial: int, tcp: bool = True) -> dns.message.Message | list:
    if not tcp:
        q = dns.message.make_query(ORIGIN, "IXFR")
        q.authority.append(dns.rrset.from_text(ORIGIN, 0, "IN", "SOA", f". . {serial} 0 0 0 0"))
        q.use_tsig(KEYRING, keyname="xfr.")
        return dns.query.udp(q, V4, port=d.port, timeout=3)
    return list(dns.query.xfr(V4, ORIGIN, rdtype=dns.rdatatype.IXFR, serial=serial, port=d.port, keyring=KEYRING,
                              keyname="xfr.", relativize=False, timeout=5, lifetime=10))


def test_ixfr_from_old_current_and_uncovered_serials(primary):
    d = primary("127.0.0.0/8,key=xfr")
    before = d.soa_serial()
    r = cli(d, "shift", "orders", "broker-1", "--to", "pod", "--reason", "ixfr test")
    assert r.returncode == 0, describe_run(r)
    after = d.soa_serial()
    assert after != before

    # From the current serial: one SOA.
    got = records(ixfr(d, after))
    assert [t for _, t, _ in got] == ["SOA"]

    # From the previous generation: SOA new, SOA old, deleted, SOA new, added, SOA new.
    got = records(ixfr(d, before))
    types = [t for _, t, _ in got]
    assert types[0] == "SOA" and types[1] == "SOA" and types[-1] == "SOA"
    assert str(before) in got[1][2] and str(after) in got[0][2]
    body = [(n, t, x) for n, t, x in got if t != "SOA"]
    # broker-1 moved; bootstrap (the brokers living in vm) lost broker 1's vm address.
    assert sorted(body) == sorted([(bootstrap_name(), "A", VM[1]), (broker_name(1), "A", VM[1]),
                                   (broker_name(1), "A", POD[1])]), got
    assert body.index((broker_name(1), "A", POD[1])) == 2, "deletions come before additions"
    assert "IXFR served" in d.server.stderr_text()

    # A serial the journal never served: the whole zone, AXFR-style.
    got = records(ixfr(d, 12345))
    assert len(got) > 6 and got[0][1] == "SOA" and got[-1][1] == "SOA"
    assert (f"ns1.{ORIGIN}", "A", "192.0.2.53") in got
    assert (broker_name(1), "A", POD[1]) in got

    # Over UDP: the SOA only, signed.
    m = ixfr(d, before, tcp=False)
    assert [dns.rdatatype.to_text(r.rdtype) for r in m.answer] == ["SOA"]
    assert m.had_tsig


# ---------------------------------------------------------------------------------------------
# TSIG on ordinary queries
# ---------------------------------------------------------------------------------------------

def signed_query(d, keyring, keyname, fudge=300) -> dns.message.Message:
    q = dns.message.make_query(broker_name(1), "A")
    q.use_tsig(keyring, keyname=keyname, fudge=fudge)
    return dns.query.udp(q, V4, port=d.port, timeout=3, ignore_unexpected=True)


def test_signed_query_is_answered_signed(primary):
    d = primary()
    m = signed_query(d, KEYRING, "xfr.")   # dnspython checks the answer's MAC
    assert m.had_tsig and m.rcode() == dns.rcode.NOERROR
    assert [r.to_text() for rr in m.answer for r in rr] == [VM[1]]


def test_signed_message_without_a_question_gets_formerr(primary):
    # RFC 8945 section 5.1 / RFC 1035: nothing to answer, but the client hears why.
    d = primary()
    q = dns.message.Message(id=0x4242)
    q.use_tsig(KEYRING, keyname="xfr.")
    wire = q.to_wire()
    assert wire[4:6] == b"\0\0"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(wire, (V4, d.port))
        reply, _ = s.recvfrom(4096)
    assert reply[:2] == b"\x42\x42" and reply[2] & 0x80, reply
    assert reply[3] & 0x0F == dns.rcode.FORMERR, reply


def tsig_error_of(reply: bytes) -> tuple[int, int, bytes]:
    """(rcode, TSIG error, other data) read straight from the wire."""
    rcode = reply[3] & 0x0F
    # The TSIG record is last and ends with Error, Other Len, Other Data (0 or 6 bytes here).
    for other_len in (0, 6):
        end = len(reply) - other_len
        if int.from_bytes(reply[end - 2:end], "big") == other_len:
            return rcode, int.from_bytes(reply[end - 4:end - 2], "big"), reply[end:]
    raise AssertionError(f"no TSIG record at the end of {reply!r}")


def send_signed(d, secret: str, keyname: str, at: float | None = None) -> bytes:
    keyring = dns.tsigkeyring.from_text({keyname: ("hmac-sha256", secret)})
    q = dns.message.make_query(broker_name(1), "A")
    q.use_tsig(keyring, keyname=keyname)
    real = time.time
    try:
        if at is not None:
            time.time = lambda: at
        wire = q.to_wire()
    finally:
        time.time = real
    reply = d.server.raw(wire)
    assert reply is not None, d.server.describe()
    return reply


def test_unknown_key_gets_badkey(primary):
    d = primary()
    rcode, error, _ = tsig_error_of(send_signed(d, SECRET, "nokey."))
    assert (rcode, error) == (dns.rcode.NOTAUTH, 17)


def test_bad_mac_gets_badsig(primary):
    d = primary()
    rcode, error, _ = tsig_error_of(send_signed(d, OTHER_SECRET, "xfr."))
    assert (rcode, error) == (dns.rcode.NOTAUTH, 16)


def test_clock_skew_gets_badtime_with_the_server_time(primary):
    d = primary()
    rcode, error, other = tsig_error_of(send_signed(d, SECRET, "xfr.", at=time.time() - 3600))
    assert (rcode, error) == (dns.rcode.NOTAUTH, 18)
    assert len(other) == 6 and abs(int.from_bytes(other, "big") - time.time()) < 30


@pytest.mark.skipif(tool("dig") is None, reason="dig not installed")
def test_dig_y_signed_axfr_and_query(primary):
    d = primary("127.0.0.0/8,key=xfr")
    r = subprocess.run(["dig", f"@{V4}", "-p", str(d.port), "-y", f"hmac-sha256:xfr:{SECRET}", ORIGIN, "AXFR"],
                       capture_output=True, text=True, timeout=20)
    assert "Transfer failed" not in r.stdout and "tsig verify failure" not in r.stdout, r.stdout
    assert r.stdout.count("\tSOA\t") == 2, r.stdout
    r = subprocess.run(["dig", f"@{V4}", "-p", str(d.port), "-y", f"hmac-sha256:nokey:{SECRET}", broker_name(1), "A"],
                       capture_output=True, text=True, timeout=20)
    assert "NOTAUTH" in r.stdout and "BADKEY" in r.stdout, r.stdout


@pytest.mark.skipif(tool("kdig") is None, reason="kdig not installed (knot-dnsutils)")
def test_kdig_y_signed_axfr(primary):
    d = primary("127.0.0.0/8,key=xfr")
    r = subprocess.run(["kdig", f"@{V4}", "-p", str(d.port), "-y", f"hmac-sha256:xfr:{SECRET}", ORIGIN, "AXFR"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and "TSIG" in r.stdout and "NOERROR" in r.stdout, r.stdout + r.stderr
    assert "failed" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr


@pytest.mark.skipif(tool("drill") is None, reason="drill not installed (ldnsutils)")
def test_drill_signed_query(primary):
    d = primary()
    r = subprocess.run(["drill", "-p", str(d.port), "-y", f"xfr:{SECRET}:hmac-sha256", broker_name(1), "A", f"@{V4}"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and VM[1] in r.stdout and "NOERROR" in r.stdout, r.stdout + r.stderr


def test_bad_key_file_names_file_and_line(tmp_path):
    from conftest import switchyard_bin
    bad = tmp_path / "keys.conf"
    bad.write_text('key "x" {\n  algorithm hmac-md5;\n  secret "YWJj";\n};\n')
    zones = tmp_path / "zones"
    zones.mkdir()
    r = subprocess.run([str(switchyard_bin()), "serve", "--zones", str(zones), "--tsig-key-file", str(bad),
                        "--listen", "127.0.0.1:1", "--admin", "none", "--state", str(tmp_path / "state")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert f"{bad}:2:" in r.stderr and "hmac-md5" in r.stderr, r.stderr
