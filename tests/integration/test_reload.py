"""SIGHUP reload (parse everything, then swap; a bad file keeps the old data) and clean shutdown."""

import re
import signal
import socket
import subprocess
import time

import dns.rcode
import dns.rdatatype
import pytest

from conftest import OTHER_ZONE, V4, tcp_connect


def zone_text(serial: int, extra: list[str]) -> str:
    lines = [
        "$ORIGIN example.test.",                                                     # 1
        "$TTL 60",                                                                   # 2
        f"@ IN SOA ns1.example.test. hostmaster.example.test. {serial} 3600 600 86400 30",  # 3
        "@ IN NS ns1.example.test.",                                                 # 4
        "ns1 IN A 192.0.2.53",                                                       # 5
        "www IN A 192.0.2.10",                                                       # 6
    ]
    return "\n".join(lines + extra) + "\n"


def wait_for(predicate, timeout: float = 5.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def serial_of(server) -> int:
    r = server.query("example.test", "SOA")
    return r.answer[0][0].serial


def a_of(server, name: str):
    r = server.query(name, "A")
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return None
    return {x.to_text() for x in r.answer[0] if x.rdtype == dns.rdatatype.A}


def test_sighup_reload(server_factory):
    srv = server_factory(zones={"example.test.zone": zone_text(1, []),
                                "other.test.zone": OTHER_ZONE})
    path = srv.zone_dir / "example.test.zone"
    assert serial_of(srv) == 1
    assert srv.query("new.example.test", "A").rcode() == dns.rcode.NXDOMAIN

    # 1. A good change is served after SIGHUP.
    path.write_text(zone_text(2, ["new IN A 192.0.2.123"]))
    srv.signal(signal.SIGHUP)
    assert wait_for(lambda: a_of(srv, "new.example.test") == {"192.0.2.123"}), (
        f"new record not served 5 s after SIGHUP: {srv.describe()}")
    assert serial_of(srv) == 2
    assert srv.alive()

    # 2. A broken file: nothing of it is served, the old data stays, the error names file:line.
    bad_line = 9
    path.write_text(zone_text(3, ["new IN A 192.0.2.123",          # 7
                                  "added2 IN A 192.0.2.124",       # 8
                                  "bad IN A 300.1.1.1"]))          # 9
    log_before = len(srv.stderr_text())
    srv.signal(signal.SIGHUP)
    pattern = re.compile(rf"example\.test\.zone:{bad_line}\b")
    assert wait_for(lambda: pattern.search(srv.stderr_text()[log_before:]) is not None), (
        f"stderr does not report example.test.zone:{bad_line}:\n{srv.stderr_text()[log_before:]}")
    time.sleep(0.3)
    assert srv.alive(), "a bad zone file on reload must not stop the server"
    assert a_of(srv, "new.example.test") == {"192.0.2.123"}
    assert a_of(srv, "www.example.test") == {"192.0.2.10"}
    assert srv.query("added2.example.test", "A").rcode() == dns.rcode.NXDOMAIN, (
        "a record from the rejected file must not be served")
    assert serial_of(srv) == 2

    # 3. Fixing the file and reloading again recovers.
    path.write_text(zone_text(4, ["new IN A 192.0.2.123", "added2 IN A 192.0.2.124"]))
    srv.signal(signal.SIGHUP)
    assert wait_for(lambda: a_of(srv, "added2.example.test") == {"192.0.2.124"})
    assert serial_of(srv) == 4


def test_reload_is_all_or_nothing(server_factory):
    srv = server_factory(zones={"example.test.zone": zone_text(1, []),
                                "other.test.zone": OTHER_ZONE})
    (srv.zone_dir / "example.test.zone").write_text(zone_text(2, ["new2 IN A 192.0.2.150"]))
    broken_other = OTHER_ZONE + "oops IN AAAA not-an-address\n"
    bad_line = broken_other.count("\n")
    (srv.zone_dir / "other.test.zone").write_text(broken_other)
    log_before = len(srv.stderr_text())
    srv.signal(signal.SIGHUP)
    pattern = re.compile(rf"other\.test\.zone:{bad_line}\b")
    assert wait_for(lambda: pattern.search(srv.stderr_text()[log_before:]) is not None), (
        f"stderr does not report other.test.zone:{bad_line}:\n{srv.stderr_text()[log_before:]}")
    time.sleep(0.3)
    assert srv.alive()
    # "If any file is bad, the old data keeps serving": the good change is not applied either.
    assert srv.query("new2.example.test", "A").rcode() == dns.rcode.NXDOMAIN
    assert serial_of(srv) == 1
    assert a_of(srv, "host.other.test") == {"198.51.100.5"}


def test_reload_adds_and_removes_zones(server_factory):
    srv = server_factory(zones={"example.test.zone": zone_text(1, [])})
    assert srv.query("host.other.test", "A").rcode() == dns.rcode.REFUSED
    (srv.zone_dir / "other.test.zone").write_text(OTHER_ZONE)
    srv.signal(signal.SIGHUP)
    assert wait_for(lambda: a_of(srv, "host.other.test") == {"198.51.100.5"})
    (srv.zone_dir / "other.test.zone").unlink()
    srv.signal(signal.SIGHUP)
    assert wait_for(
        lambda: srv.query("host.other.test", "A").rcode() == dns.rcode.REFUSED)
    assert a_of(srv, "www.example.test") == {"192.0.2.10"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_clean_shutdown(server_factory, sig):
    srv = server_factory()
    # An open, idle TCP connection must not hold up the exit.
    idle = tcp_connect(V4, srv.port)
    try:
        assert srv.query("www.example.test", "A").rcode() == dns.rcode.NOERROR
        start = time.monotonic()
        srv.signal(sig)
        try:
            code = srv.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 5 s after {sig.name}: {srv.describe()}")
        took = time.monotonic() - start
    finally:
        idle.close()
    assert code == 0, f"exit code {code} after {sig.name}: {srv.describe()}"
    assert took < 5.0
    # The ports are released.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((V4, srv.port))


def test_no_failed_query_during_reloads(server_factory):
    """Zero downtime: while zones are reloaded again and again, every query is answered."""
    import threading

    srv = server_factory(zones={"example.test.zone": zone_text(1, []),
                                "other.test.zone": OTHER_ZONE})
    path = srv.zone_dir / "example.test.zone"
    stop = threading.Event()
    failures: list[str] = []
    count = [0]

    def hammer():
        from conftest import make_query, udp_exchange
        import dns.message
        while not stop.is_set() and count[0] < 20000:
            q = make_query("www.example.test", "A")
            w = udp_exchange(V4, srv.port, q.to_wire(), timeout=1.0)
            count[0] += 1
            if w is None:
                failures.append("timeout")
                continue
            r = dns.message.from_wire(w)
            if r.rcode() != dns.rcode.NOERROR or not r.answer:
                failures.append(f"{dns.rcode.to_text(r.rcode())} {r.answer}")

    t = threading.Thread(target=hammer)
    t.start()
    try:
        for i in range(15):
            path.write_text(zone_text(10 + i, [f"n{i} IN A 192.0.2.{i + 1}"]))
            srv.signal(signal.SIGHUP)
            time.sleep(0.15)
    finally:
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive()
    assert wait_for(lambda: serial_of(srv) == 24)
    assert not failures, f"{len(failures)} of {count[0]} queries failed during reloads: {failures[:5]}"
    assert count[0] > 50


def test_sighup_then_sigterm_exits_cleanly(server_factory):
    srv = server_factory()
    srv.signal(signal.SIGHUP)
    srv.signal(signal.SIGTERM)
    try:
        code = srv.proc.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running 5 s after SIGHUP+SIGTERM: {srv.describe()}")
    assert code == 0, srv.describe()
