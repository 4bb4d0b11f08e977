"""Real secondaries of switchyard (issue #10): NSD and Knot, started by the tests in
temporary directories on loopback ports, in the foreground, stopped by PID.

Both are TSIG-authenticated secondaries (key `xfr`, hmac-sha256): they transfer the zone,
answer every plain record exactly as switchyard does and each stable name flattened (the
live broker target, the heaviest bootstrap pool); after `switchyard shift` both follow
within a few seconds (signed NOTIFY, then IXFR); after a switchyard restart they go on with
IXFR; a zone-file edit plus SIGHUP reaches them too.
"""

from __future__ import annotations

import base64
import shutil
import signal
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import dns.tsigkeyring
import pytest

from conftest import V4, backend, free_port, make_query, udp_exchange
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
from stablekit import wait_until, zone_text

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="switchyard as the primary")

SECRET = base64.b64encode(b"secondaries-test-secret-32bytes!").decode()
KEYRING = dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", SECRET)})
NSD = shutil.which("nsd") or ("/usr/sbin/nsd" if Path("/usr/sbin/nsd").exists() else None)
KNOTD = shutil.which("knotd") or ("/usr/sbin/knotd" if Path("/usr/sbin/knotd").exists() else None)
FOLLOW_TIMEOUT = 5.0
# Issue #10: secondaries follow a shift within 1 s (NOTIFY, then IXFR).
FOLLOW_EXPECTED = 1.0


class Secondary:
    """A secondary DNS server in the foreground; `cmd` and config written by the subclass."""

    name = "secondary"

    def __init__(self, workdir: Path, port: int, primary_port: int):
        self.dir = workdir
        self.port = port
        self.log = workdir / "stderr"
        self.write_config(primary_port)
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=err, stderr=err)

    def serial(self) -> int | None:
        data = udp_exchange(V4, self.port, make_query(ORIGIN, "SOA").to_wire(), timeout=0.3)
        if data is None:
            return None
        m = dns.message.from_wire(data)
        for rrset in m.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset[0].serial
        return None

    def answer(self, qname: str, qtype: str) -> tuple[int, frozenset[str]]:
        data = udp_exchange(V4, self.port, make_query(qname, qtype).to_wire(), timeout=1.0)
        assert data is not None, f"{self.name} silent for {qname} {qtype}: {self.describe()}"
        return answer_of(data, qname, qtype)

    def describe(self) -> str:
        text = ""
        for f in (self.log, *self.dir.glob("*.log")):
            if f.exists():
                text += f"--- {f.name}\n" + f.read_text(errors="replace")[-2500:]
        return f"{self.name} pid {self.proc.pid} port {self.port} exit {self.proc.poll()}\n{text}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class NSDSecondary(Secondary):
    name = "nsd"

    def write_config(self, primary_port: int) -> None:
        d = self.dir
        (d / "nsd.conf").write_text(f"""\
server:
  ip-address: {V4}@{self.port}
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "{d}"
  pidfile: "{d}/nsd.pid"
  database: ""
  xfrdfile: "{d}/xfrd.state"
  zonelistfile: "{d}/zone.list"
  xfrdir: "{d}"
  logfile: "{d}/nsd.log"
  verbosity: 2
  do-ip6: no
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  # NSD waits this long between reloads after transfers (default 1 s); 0 shows the time
  # switchyard itself takes.
  xfrd-reload-timeout: 0
remote-control:
  control-enable: no
key:
  name: "xfr"
  algorithm: hmac-sha256
  secret: "{SECRET}"
zone:
  name: "{ORIGIN}"
  zonefile: "{d}/secondary.zone"
  request-xfr: {V4}@{primary_port} xfr
  allow-notify: {V4} xfr
""")

    def command(self) -> list[str]:
        return [NSD, "-d", "-c", str(self.dir / "nsd.conf")]


class KnotSecondary(Secondary):
    name = "knot"

    def write_config(self, primary_port: int) -> None:
        d = self.dir
        (d / "db").mkdir(exist_ok=True)
        (d / "knot.conf").write_text(f"""\
server:
    rundir: "{d}"
    pidfile: "{d}/knot.pid"
    listen: {V4}@{self.port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{d}/db"
log:
  - target: "{d}/knot.log"
    any: info
control:
    listen: "{d}/knot.sock"
key:
  - id: xfr
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
  - id: primary
    address: {V4}@{primary_port}
    key: xfr
acl:
  - id: notify_from_primary
    address: {V4}
    key: xfr
    action: notify
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    journal-content: changes
    semantic-checks: off
zone:
  - domain: {ORIGIN}
    master: primary
    acl: notify_from_primary
""")

    def command(self) -> list[str]:
        return [KNOTD, "-c", str(self.dir / "knot.conf")]


def answer_of(data: bytes, qname: str, qtype: str) -> tuple[int, frozenset[str]]:
    m = dns.message.from_wire(data)
    want = dns.rdatatype.from_text(qtype)
    out = set()
    for rrset in m.answer:
        if rrset.name.to_text().lower() == qname.lower() and rrset.rdtype in (want, dns.rdatatype.CNAME):
            out |= {f"{dns.rdatatype.to_text(rrset.rdtype)} {r.to_text()}" for r in rrset}
    return m.rcode(), frozenset(out)


@pytest.fixture
def stack(deployments, tmp_path_factory):
    """switchyard with a fixed extra listen port (kept across restarts) and NSD and Knot as
    TSIG secondaries, NOTIFYed with the same key."""
    if NSD is None or KNOTD is None:
        pytest.fail("nsd and knotd are required (apt-get install -y nsd knot; `make test-deps`)", pytrace=False)
    started: list[Secondary] = []
    keydir = tmp_path_factory.mktemp("keys")
    keyfile = keydir / "keys.conf"
    keyfile.write_text(f'key "xfr" {{ algorithm hmac-sha256; secret "{SECRET}"; }};\n')
    primary_port, nsd_port, knot_port = free_port(), free_port(), free_port()
    args = ["--listen", f"{V4}:{primary_port}", "--tsig-key-file", str(keyfile),
            "--allow-transfer", "127.0.0.0/8,key=xfr",
            "--notify", f"{V4}:{nsd_port},key=xfr", "--notify", f"{V4}:{knot_port},key=xfr"]
    d = deployments(orders_zones(19093, ttl=30), args)
    d.primary_port = primary_port
    for cls, port in ((NSDSecondary, nsd_port), (KnotSecondary, knot_port)):
        started.append(cls(tmp_path_factory.mktemp(cls.name), port, primary_port))
    serial = d.soa_serial()
    for s in started:
        if wait_until(lambda s=s: s.serial() == serial, timeout=20, step=0.1) is None:
            pytest.fail(f"{s.name} did not transfer serial {serial}:\n{s.describe()}\n{d.server.describe()}", pytrace=False)
    yield d, started
    for s in started:
        s.stop()


def primary_answer(d, qname: str, qtype: str) -> tuple[int, frozenset[str]]:
    data = d.server.raw(make_query(qname, qtype).to_wire(), timeout=2)
    assert data is not None
    return answer_of(data, qname, qtype)


def zone_records(d) -> list[tuple[str, str]]:
    names = set()
    for m in dns.query.xfr(V4, ORIGIN, port=d.port, keyring=KEYRING, keyname="xfr.", relativize=False, timeout=5):
        for rrset in m.answer:
            names.add((rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)))
    return sorted(names)


def test_secondaries_serve_the_zone_as_switchyard_does(stack):
    d, secondaries = stack
    records = zone_records(d)
    stable = {broker_name(i) for i in (1, 2, 3)} | {bootstrap_name()}
    assert any(name in stable for name, _ in records)
    for name, rtype in records:
        expected = primary_answer(d, name, rtype)
        for s in secondaries:
            got = s.answer(name, rtype)
            assert got == expected, f"{s.name} {name} {rtype}: {got} != switchyard {expected}"
    # Flattened: the live broker target, the heaviest bootstrap pool.
    for s in secondaries:
        for i in (1, 2, 3):
            assert s.answer(broker_name(i), "A") == (0, frozenset({f"A {VM[i]}"}))
        assert s.answer(bootstrap_name(), "A") == (0, frozenset(f"A {a}" for a in VM.values()))


def follow(d, secondaries, predicate, what: str, within: float = FOLLOW_EXPECTED) -> str:
    """Waits until every secondary satisfies `predicate`; returns the time each took,
    counted from the call (the shift or reload has returned by then)."""
    started = time.monotonic()
    pending = {s.name: s for s in secondaries}
    took: dict[str, float] = {}
    while pending and time.monotonic() - started < FOLLOW_TIMEOUT:
        for name, s in list(pending.items()):
            if predicate(s):
                took[name] = time.monotonic() - started
                del pending[name]
        time.sleep(0.01)
    for name, s in pending.items():
        pytest.fail(f"{name} did not follow ({what}) within {FOLLOW_TIMEOUT}s:\n{s.describe()}\n{d.server.describe()}",
                    pytrace=False)
    text = ", ".join(f"{name} {t:.3f} s" for name, t in sorted(took.items()))
    assert max(took.values()) <= within, f"{what}: secondaries took {text}, more than {within} s"
    return text


def test_secondaries_follow_a_shift_by_notify_and_ixfr(stack):
    d, secondaries = stack
    r = cli(d, "shift", "orders", "broker-1", "--to", "pod", "--reason", "secondaries test")
    assert r.returncode == 0, describe_run(r)
    serial = d.soa_serial()
    took = follow(d, secondaries, lambda s: s.answer(broker_name(1), "A") == (0, frozenset({f"A {POD[1]}"})), "shift")
    print(f"\nsecondaries followed the shift in {took}")
    for s in secondaries:
        assert s.serial() == serial
    log = d.server.stderr_text()
    assert "IXFR served" in log and "NOTIFY sent" in log, log[-3000:]
    assert "acknowledged=true" in log

    # A restart of switchyard (same state, same primary port): the next shift is still IXFR.
    d.stop()
    d.start()
    before = d.server.stderr_text().count("IXFR served")
    r = cli(d, "shift", "orders", "broker-1", "--to", "vm", "--reason", "after restart")
    assert r.returncode == 0, describe_run(r)
    took = follow(d, secondaries, lambda s: s.answer(broker_name(1), "A") == (0, frozenset({f"A {VM[1]}"})), "shift after restart")
    print(f"secondaries followed the shift after a restart in {took}")
    assert d.server.stderr_text().count("IXFR served") > before, d.server.stderr_text()[-3000:]


def test_zone_file_edit_and_sighup_reach_the_secondaries(stack):
    d, secondaries = stack
    zone = d.server.zone_dir / "example.test.zone"
    zone.write_text(zone_text("example.test", ["added IN A 192.0.2.77"], serial=2024010105))
    d.server.signal(signal.SIGHUP)
    took = follow(d, secondaries, lambda s: s.answer(f"added.{ORIGIN}", "A") == (0, frozenset({"A 192.0.2.77"})), "zone edit")
    print(f"\nsecondaries followed a zone-file edit in {took}")
    assert primary_answer(d, f"added.{ORIGIN}", "A") == (0, frozenset({"A 192.0.2.77"}))
    # The zone file changed: no difference from the journal, the whole zone (AXFR-style IXFR).
    assert "IXFR served in full" in d.server.stderr_text(), d.server.stderr_text()[-3000:]


def test_status_and_metrics_show_transfers_and_notify(stack):
    d, secondaries = stack
    r = cli(d, "shift", "orders", "broker-2", "--to", "pod", "--reason", "metrics test")
    assert r.returncode == 0, describe_run(r)
    follow(d, secondaries, lambda s: s.answer(broker_name(2), "A") == (0, frozenset({f"A {POD[2]}"})), "shift")

    assert wait_until(lambda: (d.admin.status().get("secondaries") or {}).get("ixfrIncremental", 0) >= 2, timeout=5), d.admin.status()
    status = d.admin.status()["secondaries"]
    assert status["axfr"] >= 2 and status["notifySent"] >= 2 and status["notifyAcknowledged"] >= 2, status
    assert status["serials"], status

    r = cli(d, "status")
    assert r.returncode == 0, describe_run(r)
    assert "secondaries:" in r.stdout and "NOTIFY" in r.stdout and "last asked for serial" in r.stdout, r.stdout

    code, text = d.admin.request("GET", "/metrics")
    assert code == 200
    for needle in ('switchyard_zone_transfers_total{kind="ixfr_incremental"}', 'switchyard_zone_transfers_total{kind="axfr"}',
                   "switchyard_notify_sent_total", "switchyard_notify_acknowledged_total", "switchyard_secondary_serial{"):
        assert needle in text, text


def test_inventory_edit_and_sighup_reach_the_secondaries(stack):
    """A new target address in the inventory changes what secondaries get flattened, though
    the zone file and the journal's state stay the same: the serial must move."""
    d, secondaries = stack
    inventory = d.server.zone_dir / "example.test.yaml"
    inventory.write_text(inventory.read_text().replace(VM[3], "127.0.0.33"))
    before = d.soa_serial()
    d.server.signal(signal.SIGHUP)
    took = follow(d, secondaries, lambda s: s.answer(broker_name(3), "A") == (0, frozenset({"A 127.0.0.33"})), "inventory edit")
    print(f"\nsecondaries followed an inventory edit in {took}")
    assert d.soa_serial() != before
