"""A fleet: three `switchyard serve` processes sharing one journal in a private PostgreSQL
cluster (pgcluster.py: initdb in a temporary directory, run as an unprivileged user, loopback
only). What must hold:

- a shift through any server is served by all three; commit-to-served over 100 shifts is
  printed (p50/p99), and no server ever answers an older generation after a newer one;
- kill -9 of the server running a cutover: another server finishes the run, by `cutover
  resume` once the lease expired (refused while it holds), or by itself (takeover);
- a restarted server answers the journal's latest generation from its first answer;
- PostgreSQL stopped mid-run: every server keeps answering, changes are refused (HTTP 503,
  CLI exit non-zero), /healthz and /metrics say so, and all resumes once it is back;
- a SQLite state directory moves into PostgreSQL with `switchyard journal export/import`.
"""

from __future__ import annotations

import json
import threading
import statistics
import subprocess
import time
import uuid
from pathlib import Path
from typing import Sequence

import pytest

import pgcluster
from conftest import V4, backend, free_port, start_server, switchyard_bin
from cutoverkit import (  # noqa: F401  (fixtures)
    ALL_TARGETS,
    Admin,
    Deployment,
    POD,
    Querier,
    VM,
    broker_listeners,
    broker_name,
    cli,
    cutover_options,
    deployments,
    describe_run,
    orders_zones,
    serial_after,
    soa_serial_of,
)
from stablekit import wait_until
from conftest import make_query

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="the fleet is switchyard's own")

FLEET_ARGS = ["--lease-seconds", "3", "--fleet-timeout", "2"]


@pytest.fixture(scope="module")
def pg():
    cluster = pgcluster.Cluster()
    yield cluster
    cluster.destroy()


class Member(Deployment):
    """One server of the fleet: --state is the shared PostgreSQL URL, the token file its own."""

    def __init__(self, workdir: Path, zones: dict[str, str], url: str, name: str, extra_args: Sequence[str]):
        super().__init__(workdir, zones, extra_args, token_file=workdir / "admin.token")
        self.url = url
        self.name = name

    def start(self, *, new_admin_port: bool = True, same_dns_port: bool = False):
        """`same_dns_port`: listen where the last start did (queriers keep asking it)."""
        if new_admin_port or not self.admin_port:
            self.admin_port = free_port()
        args = ["--state", self.url, "--admin", f"{V4}:{self.admin_port}",
                "--admin-token-file", str(self.token_file), "--server-name", self.name]
        port = self.server.port if same_dns_port and self.server else None
        self.server = start_server(self.workdir, self.zones, args + self.extra_args, port=port)
        self.history.append(self.server)
        if wait_until(self._healthy, timeout=15.0, step=0.05) is None:
            pytest.fail(f"admin endpoint not up: {self.server.describe()}", pytrace=False)
        return self.server

    def healthz(self) -> dict:
        status, body = Admin(self.admin_port, "").request("GET", "/healthz", token=None, timeout=2.0)
        assert status == 200, f"/healthz -> {status}: {body}"
        return body

    def metrics(self) -> str:
        status, body = self.admin.request("GET", "/metrics", timeout=5.0)
        assert status == 200
        return body

    def serial(self, timeout: float = 1.0) -> int | None:
        data = self.server.raw(make_query("example.test.", "SOA").to_wire(), timeout=timeout)
        return soa_serial_of(data) if data else None


@pytest.fixture
def fleet(pg, tmp_path_factory):
    """Factory: `n` members on a new database; every server is stopped at teardown."""
    made: list[Member] = []

    def make(zones: dict[str, str], n: int = 3, extra_args: Sequence[str] = FLEET_ARGS) -> list[Member]:
        url = pg.new_database("fleet_" + uuid.uuid4().hex[:10])
        members = []
        for i in range(n):
            m = Member(tmp_path_factory.mktemp(f"member{i}"), zones, url, f"member-{i}", extra_args)
            made.append(m)
            m.start()
            members.append(m)
        return members

    yield make
    for m in made:
        m.stop_all()


def pool_of(member: Member, broker: int) -> str | None:
    rcode, addresses = member.ask(broker_name(broker))
    if addresses == {VM[broker]}:
        return "vm"
    if addresses == {POD[broker]}:
        return "pod"
    return None


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def test_a_shift_through_any_server_is_served_by_all(fleet, capsys):
    members = fleet(orders_zones(9092))
    latencies: list[float] = []
    last_serial = {m.name: m.serial() for m in members}
    pool = "vm"
    for i in range(100):
        pool = "pod" if pool == "vm" else "vm"
        via = members[i % len(members)]
        via.admin.shift_broker(1, pool)
        committed = time.monotonic()
        for m in members:
            while pool_of(m, 1) != pool:
                assert time.monotonic() - committed < 5, f"{m.name} did not serve shift {i} within 5 s"
                time.sleep(0.0005)
            latencies.append((time.monotonic() - committed) * 1000)
            # Serials only move forward on every server (RFC 1982 order).
            serial = m.serial()
            assert serial is not None and serial_after(serial, last_serial[m.name]), \
                f"{m.name}: serial {serial} after {last_serial[m.name]}"
            last_serial[m.name] = serial
    with capsys.disabled():  # the figure belongs in every run's output, not only with -s
        print(f"\ncommit-to-served over 100 shifts x {len(members)} servers (admin reply to DNS answer): "
              f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
              f"max {max(latencies):.1f} ms")
    generations = {m.name: m.admin.generation()["number"] for m in members}
    assert len(set(generations.values())) == 1, f"servers disagree on the generation: {generations}"


def test_servers_never_serve_an_older_generation(fleet):
    """A querier per server watches the SOA serial throughout 30 shifts through alternating servers."""
    members = fleet(orders_zones(9092))
    seen: dict[str, list[int]] = {m.name: [] for m in members}
    stop = time.monotonic() + 60
    pool = "vm"
    for i in range(30):
        pool = "pod" if pool == "vm" else "vm"
        members[i % 3].admin.shift_broker(2, pool)
        for _ in range(5):
            for m in members:
                s = m.serial(timeout=0.5)
                if s is not None:
                    seen[m.name].append(s)
        assert time.monotonic() < stop
    for name, serials in seen.items():
        for a, b in zip(serials, serials[1:]):
            assert a == b or serial_after(b, a), f"{name} went back from serial {a} to {b}: {serials}"


def test_kill9_runner_then_resume_elsewhere(fleet, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    a, b, c = fleet(orders_zones(port), extra_args=FLEET_ARGS + ["--no-takeover"])
    options = cutover_options(batch=1, dwell=2, verify_timeout=10)
    run = a.admin.ok("POST", "/v1/runs", {"options": options})
    run_id = run["id"]
    assert wait_until(lambda: (b.admin.run() or {}).get("progress", {}).get("nextStep", 0) >= 2, timeout=30, step=0.1), \
        f"the first step never committed: {a.server.describe()}"
    # (Pausing through another server: test_fleet_pause.py.)
    a.crash()
    # The lease (3 s) still holds: another server must refuse to run it.
    refused = cli(b, "cutover", "resume", "orders")
    assert refused.returncode != 0 and "member-0" in refused.stdout + refused.stderr, describe_run(refused)
    time.sleep(3.5)
    resumed = cli(b, "cutover", "resume", "orders")
    assert resumed.returncode == 0, describe_run(resumed)
    done = wait_until(lambda: (b.admin.run() or {}).get("status") == "completed", timeout=60, step=0.2)
    assert done, f"run {run_id} not completed after resume: {b.admin.run()}"
    for m in (b, c):
        for broker in (1, 2, 3):
            assert pool_of(m, broker) == "pod", f"{m.name} broker {broker} not on pod"


def test_kill9_runner_is_taken_over_after_the_lease(fleet, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    a, b, c = fleet(orders_zones(port))
    options = cutover_options(batch=1, dwell=2, verify_timeout=10)
    a.admin.ok("POST", "/v1/runs", {"options": options})
    assert wait_until(lambda: (b.admin.run() or {}).get("progress", {}).get("nextStep", 0) >= 2, timeout=30, step=0.1)
    a.crash()
    done = wait_until(lambda: (b.admin.run() or {}).get("status") == "completed", timeout=60, step=0.2)
    assert done, f"nobody took the run over: {b.admin.run()}\n{b.server.stderr_text()[-3000:]}"
    for broker in (1, 2, 3):
        assert pool_of(b, broker) == "pod" and pool_of(c, broker) == "pod"


def test_restarted_server_answers_the_latest_generation_first(fleet):
    a, b, c = fleet(orders_zones(9092))
    c.stop()
    for pool in ("pod", "vm", "pod"):
        a.admin.shift_broker(3, pool)
    latest = a.admin.generation()["number"]
    c.start()
    # start_server returned at its first answer: that answer is already the latest generation.
    assert pool_of(c, 3) == "pod"
    assert c.admin.generation()["number"] == latest
    assert c.healthz()["status"] == "ok"


def test_postgresql_outage_keeps_answers_and_refuses_changes(fleet, pg, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    members = fleet(orders_zones(port))
    a = members[0]
    queriers = [Querier(m.port, [broker_name(1), broker_name(2)]).start() for m in members]
    try:
        a.admin.ok("POST", "/v1/runs", {"options": cutover_options(batch=1, dwell=3, verify_timeout=10)})
        assert wait_until(lambda: (a.admin.run() or {}).get("progress", {}).get("nextStep", 0) >= 2, timeout=30, step=0.1)
        pg.stop("immediate")
        try:
            status, body = a.admin.request("POST", "/v1/shift", {"request": {"broker": {"cluster": "orders", "id": 3, "pool": "pod"}},
                                                               "actor": "pytest", "reason": "outage"}, timeout=20)
            assert status == 503, f"shift during the outage -> {status}: {body}"
            assert "unreachable" in json.dumps(body)
            refused = cli(members[1], "shift", "orders", "broker-3", "--to", "pod")
            assert refused.returncode != 0, describe_run(refused)
            for m in members:
                assert wait_until(lambda: m.healthz()["status"] == "degraded", timeout=10, step=0.2), m.healthz()
                assert "switchyard_journal_reachable 0" in m.metrics()
            time.sleep(2)
        finally:
            pg.start()
        for m in members:
            assert wait_until(lambda: m.healthz()["status"] == "ok", timeout=20, step=0.2), m.healthz()
        # The run continues (taken over once its lease expired, or never stopped) and ends.
        done = wait_until(lambda: (a.admin.run() or {}).get("status") == "completed", timeout=90, step=0.5)
        assert done, f"the run did not finish after the outage: {a.admin.run()}"
        members[1].admin.shift_broker(3, "vm")
    finally:
        for q in queriers:
            q.stop()
    for q in queriers:
        bad = [x for x in q.answers if not x.name.endswith("SOA") and (x.rcode != 0 or not x.addresses)]
        assert not bad, f"bad answers during the outage: {bad[:5]}"
        assert len(q.answers) > 50


def test_sqlite_journal_moves_into_postgresql(deployments, pg, tmp_path):
    d = deployments(orders_zones(9092))
    for pool in ("pod", "vm", "pod"):
        d.admin.shift_broker(1, pool)
    before = d.admin.generation()["number"]
    d.stop()
    export = tmp_path / "journal.jsonl"
    r = subprocess.run([str(switchyard_bin()), "journal", "export", "--state", str(d.state_dir), "--output", str(export)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    url = pg.new_database("moved_" + uuid.uuid4().hex[:8])
    r = subprocess.run([str(switchyard_bin()), "journal", "import", "--state", url, "--input", str(export)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"{before} generation" in r.stderr
    # A second import into the same journal is refused: histories are never merged.
    again = subprocess.run([str(switchyard_bin()), "journal", "import", "--state", url, "--input", str(export)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "already holds a journal" in again.stderr
    m = Member(tmp_path / "m", d.zones, url, "moved", FLEET_ARGS)
    (tmp_path / "m").mkdir()
    m.start()
    try:
        assert m.admin.generation()["number"] == before
        assert pool_of(m, 1) == "pod"
        m.admin.shift_broker(1, "vm")
        assert m.admin.generation()["number"] == before + 1
    finally:
        m.stop_all()


def test_a_member_that_lags_fails_the_step(fleet, pg, broker_listeners, deployments):
    """A live member (fresh heartbeat) that still answers the old generation fails the
    step's verification, and the step is rolled back. The laggard is a server on its own
    state directory, registered in the fleet's table with a heartbeat the test keeps fresh."""
    port, _ = broker_listeners(ALL_TARGETS)
    a, b = fleet(orders_zones(port), n=2)
    laggard = deployments(orders_zones(port))
    database = a.url.rsplit("/", 1)[1]
    address = f"127.0.0.1:{laggard.port}"
    stop = threading.Event()

    def heartbeat():
        while not stop.is_set():
            pg.psql(database, "INSERT INTO fleet_member (name, dns_addresses, admin_address, generation, started_at, heartbeat_at) "
                              f"VALUES ('laggard', '[\"{address}\"]', '', 1, 0, EXTRACT(EPOCH FROM clock_timestamp())) "
                              "ON CONFLICT (name) DO UPDATE SET heartbeat_at = excluded.heartbeat_at")
            stop.wait(0.3)

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    try:
        assert wait_until(lambda: any(m["name"] == "laggard" and m["live"] for m in a.admin.status()["fleet"]["members"]),
                          timeout=10, step=0.2)
        a.admin.ok("POST", "/v1/runs", {"options": cutover_options(batch=1, verify_timeout=3)})
        failed = wait_until(lambda: (a.admin.run() or {}).get("status") == "failed", timeout=60, step=0.2)
        run = a.admin.run()
        assert failed, f"the run did not fail although a member lags: {run}"
        assert address in run["progress"]["message"], run["progress"]["message"]
    finally:
        stop.set()
        beat.join(timeout=5)
    # The failed step was rolled back on the members that follow.
    for m in (a, b):
        assert pool_of(m, 1) == "vm", f"{m.name}: broker 1 not back on vm"


def test_tls_when_the_url_asks(fleet, pg):
    """`?sslmode=require` connects over TLS (the cluster has a self-signed certificate)."""
    url = pg.new_database("tls_" + uuid.uuid4().hex[:8])
    m = Member(Path(pgcluster.tempfile.mkdtemp(prefix="switchyard-tls-")), orders_zones(9092), url + "?sslmode=require", "tls", FLEET_ARGS)
    m.start()
    try:
        database = url.rsplit("/", 1)[1]
        encrypted = pg.psql(database, "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                                      f"WHERE s.ssl AND a.datname = '{database}'")
        assert int(encrypted) >= 2, f"{encrypted} TLS connections from the server (journal + listener expected)"
        m.admin.shift_broker(1, "pod")
        assert pool_of(m, 1) == "pod"
    finally:
        m.stop_all()
