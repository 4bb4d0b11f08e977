"""Pausing a fleet's cutover run from any server (two or three `switchyard serve` on one
PostgreSQL journal, test_fleet.py's fixtures). What must hold:

- a pause asked through a server that does not run the run is answered 202 naming the server
  that runs it; that server stops the run at its next step boundary (journaled, as a local
  pause), and the request is gone from the journal once honoured;
- a pause pending when the run's server is killed (-9) is honoured anyway: once the lease
  expires the run is marked paused, never taken over and resumed by another server;
- `cutover resume` on a server that did not run the run takes its lease there and finishes it;
- `cutover pause --wait` waits for the boundary, and says clearly when it gave up waiting.
"""

from __future__ import annotations

import time

import pytest

from conftest import V4
from cutoverkit import broker_listeners  # noqa: F401  (fixture)
from cutoverkit import cli, cutover_options, describe_run, orders_zones, wait_for_run
from stablekit import wait_until
from test_fleet import ALL_TARGETS, FLEET_ARGS, fleet, pg, pool_of  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(__import__("conftest").backend() == "nsd", reason="the fleet is switchyard's own")

ACTOR = "pytest-fleet-pause"


def database_of(member) -> str:
    return member.url.rsplit("/", 1)[1]


def pending_requests(pg, member) -> int:
    return int(pg.psql(database_of(member), "SELECT count(*) FROM run_pause_request"))


def run_of(member) -> dict:
    run = member.admin.run()
    assert run is not None, f"{member.name} knows no run"
    return run


def progress_of(member) -> dict:
    return run_of(member).get("progress") or {}


def started(member, steps: int = 1, timeout: float = 30) -> dict:
    """Waits until `steps` steps of the run are committed (read through `member`)."""
    run = wait_for_run(member.admin, lambda r: (r.get("progress") or {}).get("nextStep", 0) >= steps, timeout=timeout)
    assert run is not None, f"{steps} step(s) never committed: {member.admin.run()}"
    return run


def paused(member, timeout: float) -> dict | None:
    return wait_for_run(member.admin, lambda r: r["status"] == "paused", timeout=timeout)


def test_pause_through_another_server_stops_the_run_at_a_step_boundary(fleet, pg, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    a, b = fleet(orders_zones(port), n=2)
    a.admin.ok("POST", "/v1/runs", {"options": cutover_options(batch=1, dwell=4, verify_timeout=10)})
    run = started(b)
    run_id = run["id"]

    status, body = b.admin.request("POST", "/v1/runs/orders/pause", {"actor": ACTOR})
    asked = time.monotonic()
    assert status == 202, f"a pause through another server -> HTTP {status}: {body}"
    assert body["id"] == run_id and body["status"] == "running" and not body["active"], body
    assert body["runningOn"] == "member-0", body
    assert "requested of server member-0" in body["message"] and f"(admin {V4}:{a.admin_port})" in body["message"], body["message"]
    assert "through server member-1" in body["message"], body["message"]
    assert body["pauseRequest"]["requestedBy"] == ACTOR and body["pauseRequest"]["requestedVia"] == "member-1", body

    done = paused(b, timeout=10)
    took = time.monotonic() - asked
    assert done is not None, f"member-0 did not pause the run: {b.admin.run()}\n{a.server.stderr_text()[-3000:]}"
    print(f"\npause through another server: paused {took:.2f} s after the 202")
    assert took < 5, f"the run paused only {took:.1f} s after the request (a dwell slice is 1 s)"
    progress = done["progress"]
    # At a step boundary, as a local pause: the journaled message says where and who asked.
    assert progress["message"].startswith("paused "), progress["message"]
    assert f"pause requested by {ACTOR} through server member-1" in progress["message"], progress["message"]
    assert "runningOn" not in done and "pauseRequest" not in done, done
    assert not run_of(a)["active"], "member-0 still runs it"
    assert pending_requests(pg, a) == 0, "the honoured request is still in the journal"
    assert pg.psql(database_of(a), f"SELECT status FROM cutover_run WHERE id = {run_id}") == "paused"
    log = a.server.log_path.read_text()
    assert "pausing a cutover run at its next step boundary, as asked through another server" in log
    # Nothing moves while paused.
    number = a.admin.generation()["number"]
    time.sleep(2)
    assert a.admin.generation()["number"] == number and run_of(b)["status"] == "paused"

    # Paused again, on either server: it says so and succeeds (pausing is idempotent).
    for m in (a, b):
        again = cli(m, "cutover", "pause", "orders", "--wait")
        assert again.returncode == 0 and f"run {run_id} (cluster orders) is already paused" in again.stdout, describe_run(again)

    # A request left from before the resume (as when the run's server died before honouring
    # it) must not stop the resumed run: resuming by hand is the newer word.
    pg.psql(database_of(a), "INSERT INTO run_pause_request (run_id, requested_by, requested_via, requested_at) "
                            f"VALUES ({run_id}, 'stale', 'member-0', 0)")
    # Resume on the server that did not run it: it takes the lease there and finishes.
    resumed = cli(b, "cutover", "resume", "orders")
    assert resumed.returncode == 0, describe_run(resumed)
    final = run_of(a)
    assert final["status"] == "completed", final
    assert pending_requests(pg, a) == 0
    assert not final["active"] and "runningOn" not in final, final
    for m in (a, b):
        for broker in (1, 2, 3):
            assert pool_of(m, broker) == "pod", f"{m.name}: broker {broker} not on pod"


def test_pause_pending_when_the_owner_is_killed_marks_the_run_paused(fleet, pg, broker_listeners):
    """The pause reaches the journal after member-0 died but before its lease (6 s) expired:
    nobody can reach a boundary, and neither other server may take the run over."""
    port, _ = broker_listeners(ALL_TARGETS)
    args = ["--lease-seconds", "6", "--fleet-timeout", "2"]
    a, b, c = fleet(orders_zones(port), extra_args=args)
    a.admin.ok("POST", "/v1/runs", {"options": cutover_options(batch=1, dwell=4, verify_timeout=10)})
    run_id = started(b)["id"]
    a.crash()
    killed = time.monotonic()
    status, body = b.admin.request("POST", "/v1/runs/orders/pause", {"actor": ACTOR})
    assert status == 202 and "requested of server member-0" in body["message"], (status, body)
    number = b.admin.generation()["number"]

    done = paused(c, timeout=15)
    assert done is not None, f"the run was not marked paused: {c.admin.run()}"
    waited = time.monotonic() - killed
    assert waited > 3, f"marked paused {waited:.1f} s after the kill, before member-0's lease could expire"
    message = done["progress"]["message"]
    assert "its server member-0 had stopped renewing its lease" in message, message
    assert f"pause requested by {ACTOR} through server member-1" in message, message
    assert pending_requests(pg, b) == 0
    marked = [m.name for m in (b, c) if "marked a cutover run paused" in m.server.log_path.read_text()]
    assert len(marked) == 1, f"servers that marked it: {marked}"
    # Not taken over: two lease terms later it is still paused, no step was committed.
    time.sleep(7)
    for m in (b, c):
        run = run_of(m)
        assert run["id"] == run_id and run["status"] == "paused" and not run["active"], run
        assert m.admin.generation()["number"] == number, f"{m.name} committed while the run was paused"
    assert "took over a cutover run" not in b.server.log_path.read_text() + c.server.log_path.read_text()

    # Resume on a third server: it continues from where the journal left it.
    resumed = cli(c, "cutover", "resume", "orders")
    assert resumed.returncode == 0, describe_run(resumed)
    assert run_of(b)["status"] == "completed"
    for m in (b, c):
        for broker in (1, 2, 3):
            assert pool_of(m, broker) == "pod", f"{m.name}: broker {broker} not on pod"


def test_pause_wait_through_another_server(fleet, pg, broker_listeners, tmp_path):
    """`cutover pause --wait` through member-1 while member-0 runs a slow drain command (no
    boundary until it ends): a short --timeout fails saying the request stands; a longer one
    returns once the run paused after the drain."""
    port, _ = broker_listeners(ALL_TARGETS)
    a, b = fleet(orders_zones(port), n=2)
    marker = tmp_path / "draining"
    drain = f"if [ ! -e {marker} ]; then touch {marker}; sleep 8; fi"
    a.admin.ok("POST", "/v1/runs", {"options": cutover_options(batch=1, verify_timeout=10, drain=drain)})
    assert wait_until(marker.exists, timeout=30, step=0.05) is not None, f"the drain never started: {a.admin.run()}"
    draining_step = progress_of(b)["nextStep"]

    short = cli(b, "cutover", "pause", "orders", "--wait", "--timeout", "2")
    assert short.returncode == 1, describe_run(short)
    assert "requested of server member-0" in short.stdout, describe_run(short)
    assert "did not pause within 2 s; it is still running on server member-0" in short.stderr, describe_run(short)
    assert "The pause request stands" in short.stderr and "--wait --timeout SECONDS" in short.stderr, describe_run(short)
    assert pending_requests(pg, a) == 1

    waited = cli(b, "cutover", "pause", "orders", "--wait", "--timeout", "30")
    assert waited.returncode == 0, describe_run(waited)
    assert "paused" in waited.stdout, describe_run(waited)
    run = run_of(b)
    assert run["status"] == "paused", run
    # The step whose drain was running finished (its drain is journaled), and no later one began.
    assert run["progress"]["nextStep"] == draining_step, run["progress"]
    assert [d["succeeded"] for d in run["progress"]["drains"]] == [True] * len(run["progress"]["drains"])
    assert pending_requests(pg, a) == 0
    st = cli(b, "cutover", "status", "orders")
    assert st.returncode == 0 and "paused" in st.stdout and "pause requested by cli:" in st.stdout, describe_run(st)


def test_rollback_through_another_server_waits_for_the_run_to_stop(fleet, pg, broker_listeners):
    """A rollback asked of member-1 while member-0 runs the cutover is refused (409 naming
    member-0 and the pause that comes first): marking the running run rolled back would start
    the rollback beside it. Once paused (through member-1), the rollback goes through there."""
    port, _ = broker_listeners(ALL_TARGETS)
    a, b = fleet(orders_zones(port), n=2)
    a.admin.ok("POST", "/v1/runs", {"options": cutover_options(batch=1, dwell=4, verify_timeout=10)})
    run_id = started(b)["id"]

    status, body = b.admin.request("POST", "/v1/runs", {"rollback": {"cluster": "orders"}})
    assert status == 409, f"a rollback beside a run on another server -> HTTP {status}: {body}"
    assert f"run {run_id} of cluster orders is running on server member-0" in body["error"], body
    assert "cutover pause orders --wait" in body["error"], body
    assert run_of(a)["status"] == "running" and run_of(a)["id"] == run_id

    waited = cli(b, "cutover", "pause", "orders", "--wait", "--timeout", "30")
    assert waited.returncode == 0, describe_run(waited)
    status, body = b.admin.request("POST", "/v1/runs", {"rollback": {"cluster": "orders"}})
    assert status in (200, 201, 202), f"rollback after the pause -> HTTP {status}: {body}"
    done = wait_for_run(b.admin, lambda r: r["id"] != run_id and r["status"] == "completed", timeout=60)
    assert done is not None, f"the rollback did not finish: {b.admin.run()}"
    undone = pg.psql(database_of(a), f"SELECT status FROM cutover_run WHERE id = {run_id}")
    assert undone == "rolled-back" or undone == "rolledBack", undone
    for m in (a, b):
        for broker in (1, 2, 3):
            assert pool_of(m, broker) == "vm", f"{m.name}: broker {broker} not back on vm"
