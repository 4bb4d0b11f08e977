"""Cache invalidation after a generation, against a real Unbound resolver on loopback.

Unbound runs in the foreground with its own config in a temp directory: a stub zone for
example.test. pointing at switchyard's port, remote control over a unix socket only. The
stable names have a TTL of 3 s.

- With `--invalidate-hook 'unbound-control -c CONF flush {name}'` (or `flush_zone {zone}`),
  Unbound answers the new target right after `switchyard shift` returns, well inside the TTL
  of the answer it had cached.
- Without the hook Unbound keeps answering the old target until the TTL runs out, then the new
  one (the control experiment: shows the hook is what made the difference).
- A failing hook is retried, reported (/metrics, /healthz, `status`) and the generation stays
  committed and served.
- DNS NOTIFY (RFC 1996) goes to each --notify address for the zone after a generation.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

from conftest import V4, backend, free_port, make_query, udp_exchange
from cutoverkit import (  # noqa: F401  (fixtures)
    ORIGIN,
    POD,
    VM,
    broker_name,
    cli,
    cli_available,
    deployments,
    describe_run,
    orders_zones,
)
from stablekit import a_set, parse_reply, wait_until

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="invalidation hooks are switchyard's own")

TTL = 3
BROKER_PORT = 19093   # no gates run here


def _tool(name: str) -> str | None:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


UNBOUND = _tool("unbound")
UNBOUND_CONTROL = _tool("unbound-control")
needs_unbound = pytest.mark.skipif(
    UNBOUND is None or UNBOUND_CONTROL is None,
    reason="unbound / unbound-control not installed (apt-get install -y unbound): "
           "cache-invalidation tests against a real resolver skipped")


class Unbound:
    """`unbound -d` on 127.0.0.1:<free port> with a stub zone for example.test."""

    def __init__(self, stub_port: int, conf_dir: Path):
        self.port = free_port()
        self.dir = conf_dir
        self.conf = conf_dir / "unbound.conf"
        self.log = conf_dir / "unbound.log"
        self.write_conf(stub_port)
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen([UNBOUND, "-d", "-c", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        probe = make_query(ORIGIN, "SOA", rd=True).to_wire()

        def ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"unbound exited: {self.describe()}", pytrace=False)
            data = udp_exchange(V4, self.port, probe, timeout=0.3)
            return data is not None and parse_reply(data)[1] == 0
        if wait_until(ready, timeout=15.0, step=0.1) is None:
            self.stop()
            pytest.fail(f"unbound not answering for {ORIGIN}: {self.describe()}", pytrace=False)

    def write_conf(self, stub_port: int) -> None:
        self.conf.write_text(f"""\
server:
  interface: {V4}
  port: {self.port}
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "{self.dir}"
  pidfile: "{self.dir}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
  prefetch: no
  serve-expired: no
  cache-min-ttl: 0
  cache-max-ttl: 30
  local-zone: "test." nodefault
  domain-insecure: "example.test."
remote-control:
  control-enable: yes
  control-interface: "{self.dir}/unbound.ctl"
  control-use-cert: no
stub-zone:
  name: "example.test."
  stub-addr: {V4}@{stub_port}
""")

    def ask(self, qname: str) -> tuple[int, frozenset[str]]:
        data = udp_exchange(V4, self.port, make_query(qname, "A", rd=True).to_wire(), timeout=2.0)
        assert data is not None, f"unbound did not answer {qname}: {self.describe()}"
        _qid, rcode, records = parse_reply(data)
        return rcode, a_set(records)

    def describe(self) -> str:
        log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        return f"unbound pid {self.proc.pid} port {self.port} exit {self.proc.poll()}:\n{log}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.terminate()
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture
def resolver_stack(deployments):
    """Factory: (switchyard Deployment, Unbound) with the given hook template ({conf} is
    Unbound's config path); Unbound is stopped at teardown, the server by `deployments`."""
    started: list[Unbound] = []
    dirs: list[str] = []

    def make(hook: str | None):
        # A short directory: the control socket path must fit in sun_path.
        conf_dir = Path(tempfile.mkdtemp(prefix="sy-ub-", dir="/tmp"))
        dirs.append(str(conf_dir))
        extra = []
        if hook is not None:
            extra = ["--invalidate-hook", hook.format(ctl=UNBOUND_CONTROL, conf=conf_dir / "unbound.conf")]
        d = deployments(orders_zones(BROKER_PORT, ttl=TTL), extra)
        u = Unbound(d.port, conf_dir)
        started.append(u)
        return d, u

    yield make
    for u in started:
        u.stop()
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _cli_present():
    if not cli_available():
        pytest.fail("`switchyard shift` is missing from the binary under test", pytrace=False)


def shift_broker_1(d) -> tuple[subprocess.CompletedProcess, float]:
    r = cli(d, "shift", "orders", "broker-1", "--to", "pod", "--reason", "cache test")
    assert r.returncode == 0, describe_run(r) + f"\n{d.server.describe()}"
    return r, time.monotonic()


@needs_unbound
@pytest.mark.parametrize("hook", [
    pytest.param("{ctl} -c {conf} flush {{name}}", id="flush-name"),
    pytest.param("{ctl} -c {conf} flush_zone {{zone}}", id="flush-zone"),
])
def test_hook_flushes_unbound_at_once(resolver_stack, hook):
    d, unbound = resolver_stack(hook)
    name = broker_name(1)
    assert d.ask(name) == (0, frozenset([VM[1]]))
    cached_at = time.monotonic()
    assert unbound.ask(name) == (0, frozenset([VM[1]])), unbound.describe()
    assert unbound.ask(name) == (0, frozenset([VM[1]]))
    _r, shifted_at = shift_broker_1(d)
    got = unbound.ask(name)
    asked_at = time.monotonic()
    assert asked_at - cached_at < TTL - 0.5, (
        f"inconclusive: {asked_at - cached_at:.2f}s between filling Unbound's cache and asking "
        f"again, the {TTL}s TTL may have run out by itself")
    assert d.ask(name) == (0, frozenset([POD[1]])), "switchyard itself does not serve the shift"
    assert got == (0, frozenset([POD[1]])), (
        f"Unbound still answers {sorted(got[1])} {asked_at - shifted_at:.2f}s after the shift "
        f"with the flush hook configured; server log:\n{d.server.describe()}\n{unbound.describe()}")
    # The hook's runs are recorded as successes.
    status = d.admin.status()
    assert status["failedHooks"] == 0, status["failedHooks"]
    history = [e["generation"] for e in d.admin.ok("GET", "/v1/history?limit=1")]
    assert history and history[0]["changes"][0]["name"] == name


@needs_unbound
def test_without_hook_unbound_keeps_old_answer_until_ttl(resolver_stack):
    d, unbound = resolver_stack(None)
    name = broker_name(1)
    assert unbound.ask(name) == (0, frozenset([VM[1]])), unbound.describe()
    cached_at = time.monotonic()
    shift_broker_1(d)
    assert d.ask(name) == (0, frozenset([POD[1]]))
    got = unbound.ask(name)
    asked_at = time.monotonic()
    assert asked_at - cached_at < TTL - 0.5, (
        f"inconclusive: {asked_at - cached_at:.2f}s since the cache was filled (TTL {TTL}s)")
    assert got == (0, frozenset([VM[1]])), (
        f"without a hook Unbound should still serve its cached {VM[1]}, got {sorted(got[1])}: "
        "the control experiment failed (is something else flushing it?)")
    # After the TTL (+1 s) the cache has let go.
    time.sleep(max(0.0, cached_at + TTL + 1 - time.monotonic()))
    assert unbound.ask(name) == (0, frozenset([POD[1]])), unbound.describe()


def test_failed_hook_is_retried_and_reported(deployments, tmp_path):
    marks = tmp_path / "hook-runs"
    hook = f"echo {{generation}} {{name}} >> {marks}; exit 7"
    d = deployments(orders_zones(BROKER_PORT, ttl=TTL), ["--invalidate-hook", hook])
    before = d.admin.generation()["number"]
    r = cli(d, "shift", "orders", "broker-2", "--to", "pod")
    # The change itself happened; the hook failure is reported, not fatal.
    assert d.ask(broker_name(2)) == (0, frozenset([POD[2]])), describe_run(r)
    generation = d.admin.generation()
    assert generation["number"] == before + 1
    runs = marks.read_text().splitlines() if marks.exists() else []
    assert len(runs) >= 2, f"a failing hook should be retried; it ran {len(runs)} time(s): {runs}"
    assert all(line == f"{before + 1} {broker_name(2)}" for line in runs), runs
    status = d.admin.status()
    assert status["failedHooks"] >= 1, status["failedHooks"]
    _, health = d.admin.request("GET", "/healthz", token=None)
    assert int(health["failed_hooks"]) >= 1, health
    _, metrics = d.admin.request("GET", "/metrics")
    m = re.search(r"^switchyard_hook_failures_total (\d+)", metrics, re.M)
    assert m and int(m.group(1)) >= 1, metrics[:1500]
    assert r.returncode == 0, f"the change was made; a failed hook is a warning:\n{describe_run(r)}"
    assert "fail" in r.stderr.lower() and str(marks) in r.stderr, \
        f"the CLI does not report the failed hook:\n{describe_run(r)}"
    # The journal stays consistent: a restart serves the same generation.
    d.stop()
    d.start()
    assert d.admin.generation()["number"] == before + 1
    assert d.ask(broker_name(2)) == (0, frozenset([POD[2]]))


class NotifySink:
    """A UDP socket on 127.0.0.1 that records DNS NOTIFY messages and acknowledges them."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((V4, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.messages: list[dns.message.Message] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                msg = dns.message.from_wire(data)
            except Exception:
                continue
            self.messages.append(msg)
            reply = dns.message.make_response(msg)
            reply.flags |= dns.flags.AA
            try:
                self.sock.sendto(reply.to_wire(), peer)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def notify_sink():
    sink = NotifySink()
    yield sink
    sink.close()


def test_notify_sent_after_generation(deployments, notify_sink):
    d = deployments(orders_zones(BROKER_PORT, ttl=TTL), ["--notify", f"{V4}:{notify_sink.port}"])
    serial_before = d.soa_serial()
    d.admin.shift_broker(3, "pod")
    serial = d.soa_serial()
    assert serial == serial_before + 1
    got = wait_until(lambda: any(m.opcode() == dns.opcode.NOTIFY for m in notify_sink.messages),
                     timeout=5.0)
    assert got is not None, f"no NOTIFY within 5 s; got {len(notify_sink.messages)} messages"
    notify = next(m for m in notify_sink.messages if m.opcode() == dns.opcode.NOTIFY)
    assert len(notify.question) == 1
    q = notify.question[0]
    assert q.name.to_text().lower() == ORIGIN and q.rdtype == dns.rdatatype.SOA, notify
    assert notify.flags & dns.flags.AA, f"NOTIFY without AA (RFC 1996 §3.7):\n{notify}"
    soas = [rr for rrset in notify.answer if rrset.rdtype == dns.rdatatype.SOA for rr in rrset]
    if soas:
        assert soas[0].serial == serial, f"NOTIFY carries serial {soas[0].serial}, zone has {serial}"
