"""A fleet member that (re)starts while PostgreSQL is unreachable serves the local copy of the
last generation it served (`--cache-dir`, default `cache/last-generation.json`) instead of
staying down; changes are refused (503) and /healthz is degraded until the database answers,
then it catches up with the fleet (to a newer generation committed meanwhile) without a
restart. Without a copy, or with a copy made for other zone files (another serial, or other
bytes under the same serial), the start fails as before. One server per cache directory: a
second one on it is refused, naming the holder, before it could overwrite the copy.
"""

from __future__ import annotations

import json
import os
import signal
import time
import subprocess

import pytest

from conftest import V4, free_port, stop_process, switchyard_bin
from cutoverkit import POD, VM, Admin, broker_name, orders_zones
from stablekit import wait_until
from test_fleet import FLEET_ARGS, fleet, pg, pool_of  # noqa: F401  (fixtures)

LOCAL_COPY_SERVING = "switchyard_fleet_local_copy_serving"

pytestmark = pytest.mark.skipif(__import__("conftest").backend() == "nsd", reason="the fleet is switchyard's own")


def dig_short(member, broker: int) -> list[str]:
    out = subprocess.run(["dig", f"@{V4}", "-p", str(member.port), broker_name(broker), "A", "+short", "+time=1", "+tries=2"],
                         capture_output=True, text=True, timeout=10)
    return out.stdout.split()


def test_a_restart_during_an_outage_serves_the_local_copy_then_catches_up(fleet, pg):
    a, b = fleet(orders_zones(9092), n=2)
    a.admin.shift_broker(3, "pod")
    assert wait_until(lambda: pool_of(a, 3) == "pod" and pool_of(b, 3) == "pod", timeout=5, step=0.05)
    copied = a.healthz()["generation"]
    assert (a.workdir / "cache" / "last-generation.json").exists()
    assert a.admin.metric(LOCAL_COPY_SERVING) == 0
    a.stop()
    # The journal moves on while `a` is down: its copy is now older than the database.
    b.admin.shift_broker(1, "pod")
    latest = b.admin.generation()["number"]
    assert latest > int(copied)
    pg.stop("immediate")
    try:
        a.start()
        assert dig_short(a, 3) == [POD[3]]
        assert pool_of(a, 1) == "vm", "the copy is served as it was written"
        health = a.healthz()
        assert health["status"] == "degraded" and health["generation"] == copied, health
        assert f"serving the local copy of generation {copied}" in health["problems"], health
        assert a.admin.metric(LOCAL_COPY_SERVING) == 1
        status, body = a.admin.request("POST", "/v1/shift", {"request": {"broker": {"cluster": "orders", "id": 2, "pool": "pod"}},
                                                            "actor": "pytest", "reason": "outage"}, timeout=20)
        assert status == 503 and "unreachable" in json.dumps(body), f"{status}: {body}"
        log = a.server.log_path.read_text()
        warnings = [line for line in log.splitlines() if "serving the local copy of the last generation" in line]
        assert len(warnings) == 1, log
        assert f"generation={copied}" in warnings[0] and "written=" in warnings[0] and "127.0.0.1" in warnings[0], warnings[0]
    finally:
        pg.start()
    assert wait_until(lambda: a.healthz()["status"] == "ok", timeout=30, step=0.2), a.healthz()
    assert a.healthz()["generation"] == str(latest)
    assert a.admin.metric(LOCAL_COPY_SERVING) == 0, "caught up: the database serves again, not the copy"
    assert pool_of(a, 1) == "pod", "caught up with the generation committed while it was down"
    a.admin.shift_broker(3, "vm")
    assert wait_until(lambda: pool_of(a, 3) == "vm" and pool_of(b, 3) == "vm", timeout=5, step=0.05)
    assert dig_short(a, 3) == [VM[3]]


def start_during_outage(member, cache_dir: str | None) -> subprocess.CompletedProcess:
    """`serve` as `member` (its zones, working directory and database) on other ports, run until
    it exits; `cache_dir` None leaves --cache-dir at its default (`cache` of that directory)."""
    cache = [] if cache_dir is None else ["--cache-dir", cache_dir]
    cmd = [str(switchyard_bin()), "serve", "--zones", str(member.workdir / "zones"), "--listen", f"{V4}:{free_port()}",
           "--state", member.url, "--admin", f"{V4}:{free_port()}", "--admin-token-file", str(member.token_file),
           "--server-name", member.name + "-second", *cache, *FLEET_ARGS]
    return subprocess.run(cmd, cwd=member.workdir, capture_output=True, text=True, timeout=60)


def test_without_a_fitting_copy_the_start_fails_naming_the_database(fleet, pg):
    (a,) = fleet(orders_zones(9092), n=1)
    a.stop()
    pg.stop("immediate")
    try:
        none = start_during_outage(a, "empty-cache")
        assert none.returncode == 1, none
        assert "the journal database is unreachable" in none.stderr, none.stderr
        # An inventory edited since the copy was written: serving it would give other answers
        # under the copy's serials, which only the journal may do.
        inventory = a.workdir / "zones" / "example.test.yaml"
        inventory.write_text(inventory.read_text() + "\n# edited\n")
        edited = start_during_outage(a, "cache")
        assert edited.returncode == 1, edited
        assert "is not served: an inventory (*.yaml)" in edited.stderr and "unreachable" in edited.stderr, edited.stderr
    finally:
        pg.start()


def test_a_zone_file_edited_under_the_same_serial_does_not_fit(fleet, pg):
    """The serial alone matched before: the copy's generation was then served over zone data it
    was never served with."""
    (a,) = fleet(orders_zones(9092), n=1)
    a.stop()
    zone = a.workdir / "zones" / "example.test.zone"
    zone.write_text(zone.read_text() + "\nedited-without-a-new-serial IN A 192.0.2.99\n")
    pg.stop("immediate")
    try:
        edited = start_during_outage(a, "cache")
        assert edited.returncode == 1, edited
        assert "is not served: the zone file of example.test. changed since under the same serial" in edited.stderr, edited.stderr
        assert "an edited zone file needs a new serial" in edited.stderr and "unreachable" in edited.stderr, edited.stderr
    finally:
        pg.start()


def test_a_second_server_on_the_same_cache_directory_is_refused(fleet):
    """Two servers started in one working directory share the default `cache`: the second would
    overwrite the first one's copy (and one could later serve the other's generation)."""
    (a,) = fleet(orders_zones(9092), n=1)
    copy = a.workdir / "cache" / "last-generation.json"
    before = copy.read_bytes()
    second = start_during_outage(a, None)
    assert second.returncode == 1, second
    cache = os.path.realpath(a.workdir / "cache")
    assert f"{cache}: the cache directory is in use by another switchyard serve (pid {a.server.pid}," in second.stderr, second.stderr
    assert "give this one its own --cache-dir directory" in second.stderr, second.stderr
    assert copy.read_bytes() == before and a.server.alive()
    # Another --cache-dir is the remedy: that server starts (and is stopped here, by its PID).
    log = a.workdir / "other.stderr"
    with open(log, "wb") as err:
        other = subprocess.Popen([str(switchyard_bin()), "serve", "--zones", str(a.workdir / "zones"), "--listen", f"{V4}:{free_port()}",
                                  "--state", a.url, "--admin", "none", "--server-name", a.name + "-other", "--cache-dir", "cache-other",
                                  *FLEET_ARGS], cwd=a.workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        assert wait_until(lambda: (a.workdir / "cache-other" / "last-generation.json").exists() or other.poll() is not None,
                          timeout=15, step=0.1)
        assert other.poll() is None, log.read_text()
    finally:
        stop_process(other)


def test_a_database_that_does_not_answer_is_waited_out_once(fleet, pg):
    """A blocked database (the postmaster stopped with SIGSTOP: connections are accepted by the
    kernel, nothing answers) is unreachable after the journal's timeout; the copy serves then."""
    (a,) = fleet(orders_zones(9092), n=1)
    a.admin.shift_broker(2, "pod")
    a.stop()
    postmaster = pg.pid()
    os.kill(postmaster, signal.SIGSTOP)
    try:
        started = time.monotonic()
        a.start()
        assert time.monotonic() - started < 15, "one connection timeout (5 s), not one per step"
        assert pool_of(a, 2) == "pod"
        # /healthz probes the journal: it may wait out one connection attempt (5 s), never a
        # queue of them behind the follow loop's and the heartbeat's (over 20 s before).
        asked = time.monotonic()
        status, health = Admin(a.admin_port, "").request("GET", "/healthz", token=None, timeout=40)
        assert time.monotonic() - asked < 7
        assert status == 200 and health["status"] == "degraded", health
        # Whichever fires first: postgres-nio's connect timeout or the journal's own deadline.
        log = a.server.log_path.read_text()
        assert "Connect timeout (5 s)" in log or "no answer within 5.0 s" in log, log
    finally:
        os.kill(postmaster, signal.SIGCONT)
    assert wait_until(lambda: a.healthz()["status"] == "ok", timeout=30, step=0.2), a.healthz()
    a.admin.shift_broker(2, "vm")
    assert wait_until(lambda: pool_of(a, 2) == "vm", timeout=5, step=0.05)
