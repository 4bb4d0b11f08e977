"""A fleet member that lost a run's lease (cut off longer than the lease: frozen, stalled, its
heartbeat stuck) must stand down without a trace, whatever moment it notices (test_fleet.py's
fixtures). What must hold:

- frozen with SIGSTOP past its lease while another member takes the run over, then SIGCONT:
  its status of the run is the journal's and the new owner's (running there), not the
  "failed: could not journal the progress" of its own runner's last, fenced, write;
- its lease taken while it waits to drain the targets a step left, and its heartbeat unable to
  tell it (the database holds its member row): it does not run the drain command, since only
  the run's owner may stop an endpoint (the new owner may have rolled the step back);
- a takeover reads the run again once it holds the lease: the last owner, alive past its
  lease, may have paused the run between the takeover's first read and its lease (here the
  fleet's write lock is held across that moment and the pause written in it); the pause
  stands, the run is not resumed;
- a member frozen inside a write transaction (holding the fleet's write lock) holds up no
  other member's writes for longer than PostgreSQL's idle-in-transaction limit, and its write
  is not committed when it wakes;
- a run is created together with its lease, or not at all: committed running without one, it
  is an orphan to every other member's next heartbeat, taken over while the start that made it
  goes on, or (here: the lease cannot be written, the start fails) run behind the back of a
  client that was told it failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from cutoverkit import broker_listeners  # noqa: F401  (fixture)
from cutoverkit import cutover_options, orders_zones, wait_for_run
from stablekit import wait_until
from test_fleet import ALL_TARGETS, fleet, pg, pool_of  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(__import__("conftest").backend() == "nsd", reason="the fleet is switchyard's own")


# The advisory lock every journal write transaction takes first (PostgresBackend.writeLockKey, "SWYJ").
WRITE_LOCK_KEY = 0x5357594A


def database_of(member) -> str:
    return member.url.rsplit("/", 1)[1]


def psql_session(pg, database: str) -> subprocess.Popen:
    """An interactive psql that runs what is written to its stdin, statement by statement."""
    return subprocess.Popen([str(pg.bindir / "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "switchyard",
                             "-d", database], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)


def send(session: subprocess.Popen, sql: str) -> None:
    session.stdin.write(sql + "\n")
    session.stdin.flush()


def close(session: subprocess.Popen, last: str = "ROLLBACK;") -> None:
    if session.poll() is None:
        send(session, last)
        session.stdin.close()
        session.wait(timeout=10)


def test_a_runner_back_from_sigstop_shows_the_run_as_its_new_owner_does(fleet, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    a, b = fleet(orders_zones(port), n=2)
    a.admin.ok("POST", "/v1/runs", {"options": cutover_options(batch=1, dwell=6, verify_timeout=10)})
    run = wait_for_run(b.admin, lambda r: (r.get("progress") or {}).get("nextStep", 0) >= 1 and r.get("runningOn") == "member-0",
                       timeout=30)
    assert run is not None, f"member-0 never committed a step: {b.admin.run()}"
    os.kill(a.server.pid, signal.SIGSTOP)
    try:
        taken = wait_for_run(b.admin, lambda r: r.get("runningOn") == "member-1", timeout=20)
        assert taken is not None and taken["id"] == run["id"], f"member-1 did not take the run over: {b.admin.run()}"
    finally:
        os.kill(a.server.pid, signal.SIGCONT)
    # Its heartbeat finds the lease gone within a second, and its runner stops.
    assert wait_until(lambda: "lost the lease of a cutover run to another server" in a.server.stderr_text(), timeout=10, step=0.1), \
        a.server.stderr_text()[-3000:]
    assert wait_until(lambda: not a.admin.run()["active"], timeout=10, step=0.1), a.admin.run()
    seen_by_b = b.admin.run()
    seen_by_a = a.admin.run()
    assert seen_by_b["status"] == "running" and seen_by_b["runningOn"] == "member-1", \
        f"the test needs member-1 still running the run: {seen_by_b}"
    assert seen_by_a["id"] == run["id"], seen_by_a
    assert (seen_by_a["status"], seen_by_a.get("runningOn")) == ("running", "member-1"), \
        f"member-0 reports the run otherwise than its owner member-1: {seen_by_a['status']}: {seen_by_a['progress']['message']}"
    done = wait_for_run(a.admin, lambda r: r["status"] == "completed", timeout=90)
    assert done is not None, f"the run did not complete on member-1: {b.admin.run()}"


def test_a_member_whose_lease_was_taken_does_not_drain(fleet, pg, broker_listeners, tmp_path):
    port, _ = broker_listeners(ALL_TARGETS)
    (a,) = fleet(orders_zones(port), n=1)
    drained = tmp_path / "drained"
    # The drain waits 4 s (the JVM cache) after broker 1's step is first served.
    options = cutover_options(brokers=[1], batch=1, jvm_cache=4, verify_timeout=10, drain=f"echo {{run}} >> {drained}")
    run_id = a.admin.ok("POST", "/v1/runs", {"options": options})["id"]
    waiting = wait_for_run(a.admin, lambda r: "draining the old targets in" in r["progress"]["message"], timeout=30)
    assert waiting is not None, f"the run never waited to drain: {a.admin.run()}"
    database = database_of(a)
    # member-0's heartbeat cannot write its row (held here), so it cannot renew the lease or
    # learn it lost it; then the lease goes to another server.
    holder = psql_session(pg, database)
    try:
        send(holder, "BEGIN; SELECT name FROM fleet_member WHERE name = 'member-0' FOR UPDATE;")
        time.sleep(0.5)
        pg.psql(database, f"UPDATE run_lease SET owner = 'member-9', expires_at = EXTRACT(EPOCH FROM clock_timestamp()) + 600 "
                          f"WHERE run_id = {run_id}")
        # The drain wait (4 s) passes, with room for the journal calls queued behind the
        # blocked heartbeat (each waits at most its 4 s statement timeout).
        time.sleep(12)
        assert not drained.exists(), f"member-0 drained without the run's lease: {drained.read_text()}"
    finally:
        close(holder)
    assert wait_until(lambda: "drain not run" in a.server.stderr_text(), timeout=15, step=0.2), a.server.stderr_text()[-3000:]
    run = a.admin.run()
    assert (run["status"], run.get("runningOn")) == ("running", "member-9"), run


def test_a_takeover_reads_the_run_again_once_it_holds_the_lease(fleet, pg, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    a, b = fleet(orders_zones(port), n=2)
    a.admin.ok("POST", "/v1/runs", {"options": cutover_options(batch=1, dwell=4, verify_timeout=10)})
    run = wait_for_run(b.admin, lambda r: (r.get("progress") or {}).get("nextStep", 0) >= 1 and r.get("runningOn") == "member-0",
                       timeout=30)
    assert run is not None, f"member-0 never committed a step: {b.admin.run()}"
    database = database_of(a)
    a.crash()
    # The fleet's write lock, held here: member-1's takeover (once the lease expired) reads the
    # run, then waits for the lock to take the lease.
    holder = psql_session(pg, database)
    try:
        send(holder, f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY});")
        waiting = f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
        assert wait_until(lambda: pg.psql(database, waiting) == "1", timeout=15, step=0.05), "member-1 never tried to take the run over"
        # What the last owner, still alive, wrote meanwhile: the run paused at a step boundary.
        send(holder, f"""UPDATE cutover_run SET status = 'paused', record = replace(record, '"status":"running"', '"status":"paused"') """
                     f"WHERE id = {run['id']};")
    finally:
        close(holder, "COMMIT;")
    assert pg.psql(database, f"SELECT status FROM cutover_run WHERE id = {run['id']}") == "paused"
    number = b.admin.generation()["number"]
    time.sleep(4)
    now = b.admin.run()
    assert (now["id"], now["status"], now["active"]) == (run["id"], "paused", False), \
        f"member-1 resumed a run its last server had paused: {now['status']}: {now['progress']['message']}"
    assert b.admin.generation()["number"] == number, "a step was committed after the pause"
    assert "did not take over a cutover run: its last server stopped it" in b.server.stderr_text()


def test_a_run_is_created_with_its_lease_or_not_at_all(fleet, pg, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    a, b = fleet(orders_zones(port), n=2)
    database = database_of(a)
    # Leases cannot be written for a while (reads go on): the start's lease waits out its
    # statement timeout.
    holder = psql_session(pg, database)
    try:
        send(holder, "BEGIN; LOCK TABLE run_lease IN SHARE MODE;")
        time.sleep(0.5)
        status, body = a.admin.request("POST", "/v1/runs", {"options": cutover_options(batch=1, verify_timeout=10)}, timeout=30)
    finally:
        close(holder)
    assert status not in (200, 201, 202), f"the start went through although its lease could not be written: {body}"
    # Told it failed, the client must find that no run was made: none on either member, now or
    # after the other member's heartbeats (each second) had every chance to take one over.
    time.sleep(4)
    for m in (a, b):
        run = m.admin.run()
        assert run is None, f"{m.name}: a start answered {status} left run {run['id']}, {run['status']}: {run['progress']['message']}"


def test_a_member_frozen_inside_a_write_holds_up_no_other(fleet, pg):
    """member-0 is frozen (SIGSTOP) in the middle of a shift's transaction, holding the fleet's
    write lock: PostgreSQL ends that transaction once it sits idle, so member-1's shift goes
    through (it failed with a statement timeout for as long as member-0 stood still), and
    member-0's shift is never committed, not even when it wakes."""
    a, b = fleet(orders_zones(9092), n=2)
    database = database_of(a)
    holder = psql_session(pg, database)
    replies: list = []
    try:
        # member-0's shift takes the write lock, then waits here to append its generation.
        send(holder, "BEGIN; LOCK TABLE generation IN SHARE MODE;")
        time.sleep(0.5)
        shifting = threading.Thread(target=lambda: replies.append(a.admin.request("POST", "/v1/shift", {
            "request": {"broker": {"cluster": "orders", "id": 1, "pool": "pod"}}, "actor": "pytest", "reason": "frozen"}, timeout=60)))
        shifting.start()
        blocked = f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND wait_event_type = 'Lock' AND wait_event = 'relation'"
        assert wait_until(lambda: pg.psql(database, blocked) == "1", timeout=3, step=0.02), "member-0's shift never reached the journal"
        os.kill(a.server.pid, signal.SIGSTOP)
    finally:
        close(holder)
    try:
        # member-0's transaction now waits for a client that does not answer.
        started = time.monotonic()
        status, body = b.admin.request("POST", "/v1/shift", {
            "request": {"broker": {"cluster": "orders", "id": 2, "pool": "pod"}}, "actor": "pytest", "reason": "beside a frozen member"}, timeout=60)
        took = time.monotonic() - started
        assert status == 200, f"member-1's shift while member-0 is frozen inside a write -> {status} after {took:.1f} s: {body}"
    finally:
        os.kill(a.server.pid, signal.SIGCONT)
    shifting.join(timeout=60)
    assert replies and replies[0][0] != 200, f"member-0's shift was committed after it woke: {replies}"
    assert wait_until(lambda: pool_of(a, 2) == "pod", timeout=10, step=0.1)
    assert pool_of(a, 1) == "vm" and pool_of(b, 1) == "vm", "member-0's abandoned shift is served"
