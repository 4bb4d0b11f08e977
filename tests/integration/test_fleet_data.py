"""What each fleet member serves from its own zones directory (two `switchyard serve` on one
PostgreSQL journal, test_fleet.py's fixtures). The journal shares weights and generations, but
targets and ordinary records come from each server's files. What must hold:

- identical zones directories: every member reports the same data, nothing diverges;
- one broker address changed in one server's inventory and SIGHUP: within a few seconds
  `status` (API and CLI), `/metrics` (switchyard_fleet_members_diverging) and `/healthz`
  (degraded, naming the member and the file) say so on both servers; `cutover apply` and
  `rollback` are refused (409 at the API, CLI exit 1) naming the member, what differs and what
  to do; a plain `shift` is not; put back and SIGHUP: it clears and the cutover runs;
- a paused run cannot be resumed while a member diverges, but a member that stops no longer
  counts once it is silent for --fleet-timeout;
- a migration unknown to this binary but flagged compatible does not stop a start; an
  unflagged one does (exit 1, the same message as before).
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from conftest import V4, free_port, stop_process, switchyard_bin
from cutoverkit import broker_listeners  # noqa: F401  (fixture)
from cutoverkit import POD, cli, cutover_options, describe_run, orders_zones, wait_for_run
from stablekit import wait_until
from test_fleet import ALL_TARGETS, FLEET_ARGS, fleet, pg, pool_of  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(__import__("conftest").backend() == "nsd", reason="the fleet is switchyard's own")

DIVERGING = "switchyard_fleet_members_diverging"
TYPO = "127.0.0.92"


def inventory_path(member):
    return member.workdir / "zones" / "example.test.yaml"


def misspell_broker_2(member) -> str:
    """Broker 2's pod address typo'd in `member`'s inventory, then SIGHUP; returns the original."""
    path = inventory_path(member)
    original = path.read_text()
    assert POD[2] in original
    path.write_text(original.replace(POD[2], TYPO))
    member.server.signal(signal.SIGHUP)
    return original


def restore(member, original: str) -> None:
    inventory_path(member).write_text(original)
    member.server.signal(signal.SIGHUP)


def diverging(member) -> float | None:
    return member.admin.metric(DIVERGING)


def members_by_name(member) -> dict[str, dict]:
    return {m["name"]: m for m in member.admin.status()["fleet"]["members"]}


def all_reporting(member, names) -> bool:
    found = members_by_name(member)
    return all(n in found and found[n].get("data") for n in names)


def test_a_typo_in_one_inventory_is_shown_blocks_staged_runs_and_clears(fleet, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    a, b = fleet(orders_zones(port), n=2)
    names = [a.name, b.name]
    assert wait_until(lambda: all_reporting(a, names), timeout=5, step=0.1), a.admin.status()["fleet"]

    # Identical zones directories: the same data everywhere, nothing diverges.
    fleet_a = a.admin.status()["fleet"]
    digest = fleet_a["data"]["digest"]
    assert fleet_a["data"]["zones"]["example.test."]["inventory"], fleet_a["data"]
    for m in fleet_a["members"]:
        assert m["data"]["digest"] == digest, fleet_a
        assert not m.get("differences"), m
    for m in (a, b):
        assert diverging(m) == 0, m.admin.request("GET", "/metrics")[1]
        health = m.healthz()
        assert health["status"] == "ok" and health["fleet_diverging"] == "", health
        assert health["served_data"] == digest, health

    # One broker address typo'd on member-1, and SIGHUP.
    original = misspell_broker_2(b)
    edited = time.monotonic()
    assert wait_until(lambda: diverging(a) == 1 and diverging(b) == 1, timeout=5, step=0.05), \
        f"not seen within 5 s: {a.admin.status()['fleet']}\n{b.server.stderr_text()[-2000:]}"
    print(f"\ndivergence seen by both members {time.monotonic() - edited:.2f} s after the SIGHUP")

    expected = "example.test.: inventory example.test.yaml differs"
    seen = members_by_name(a)[b.name]
    assert seen["live"] and seen["data"]["digest"] != digest, seen
    assert len(seen["differences"]) == 1 and seen["differences"][0].startswith(expected), seen
    assert not members_by_name(a)[a.name].get("differences"), "a member never differs from itself"
    health = a.healthz()
    assert health["status"] == "degraded" and health["fleet_diverging"] == b.name, health
    assert f"fleet members serve other zone data or inventories than this server: {b.name} ({expected}" in health["problems"], health
    assert b.healthz()["fleet_diverging"] == a.name
    shown = cli(a, "status")
    assert shown.returncode == 0, describe_run(shown)
    assert "DIFFERENT ZONE DATA than this server" in shown.stdout and expected in shown.stdout, shown.stdout
    assert "live fleet members serve other zone data" in a.server.log_path.read_text()

    # cutover apply refused: 409 through the API, exit 1 through the CLI, on either server.
    status, body = a.admin.request("POST", "/v1/runs", {"options": cutover_options(verify_timeout=10)})
    assert status == 409, f"cutover apply while a member diverges -> HTTP {status}: {body}"
    message = body["error"]
    assert message.startswith("cutover apply orders refused: live fleet members serve other data for zone example.test."), message
    assert f"{b.name} ({expected}" in message, message
    assert "make the zones directories identical on every server" in message and "SIGHUP" in message, message
    assert "wait for the rollout to finish" in message, message
    applied = cli(b, "cutover", "apply", "orders", "--to", "pod", "--ramp", "100", "--cutover-ttl", "1",
                  "--jvm-cache", "1", "--verify-timeout", "10")
    assert applied.returncode == 1, describe_run(applied)
    assert f"refused: live fleet members serve other data for zone example.test. than this server: {a.name}" in applied.stderr, describe_run(applied)
    assert a.admin.run() is None, "a refused run was journaled"

    # A plain shift is not gated (the operator's direct lever, also mid-rollout), but it warns.
    reply = a.admin.shift_broker(1, "pod")
    assert wait_until(lambda: pool_of(b, 1) == "pod", timeout=5, step=0.05)
    assert any(w.startswith("live fleet members serve other zone data") and b.name in w
               for w in reply.get("warnings") or []), reply
    shifted = cli(b, "shift", "orders", "broker-2", "--to", "pod")
    assert shifted.returncode == 0, describe_run(shifted)
    assert f"warning: live fleet members serve other zone data or inventories than this server and may answer these names differently: {a.name}" \
        in shifted.stderr, describe_run(shifted)
    # rollback is a staged run: refused the same way.
    status, body = b.admin.request("POST", "/v1/runs", {"rollback": {"cluster": "orders", "steps": 1}})
    assert status == 409 and body["error"].startswith("rollback orders refused: live fleet members serve other data"), (status, body)

    # Put back, SIGHUP: cleared everywhere, and the cutover runs.
    restore(b, original)
    assert wait_until(lambda: diverging(a) == 0 and diverging(b) == 0, timeout=5, step=0.05), a.admin.status()["fleet"]
    assert a.healthz()["status"] == "ok" and not members_by_name(a)[b.name].get("differences")
    assert "every live fleet member serves the same zone data" in a.server.log_path.read_text()
    done = cli(a, "cutover", "apply", "orders", "--to", "pod", "--ramp", "100", "--cutover-ttl", "1",
               "--jvm-cache", "1", "--verify-timeout", "10")
    assert done.returncode == 0, describe_run(done)
    assert a.admin.run()["status"] == "completed"
    for m in (a, b):
        for broker in (1, 2, 3):
            assert pool_of(m, broker) == "pod", f"{m.name}: broker {broker} not on pod"


def test_resume_waits_for_agreement_but_not_for_a_stopped_member(fleet, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    a, b = fleet(orders_zones(port), n=2)
    a.admin.ok("POST", "/v1/runs", {"options": cutover_options(batch=1, dwell=3, verify_timeout=10)})
    paused = cli(a, "cutover", "pause", "orders", "--wait", "--timeout", "30")
    assert paused.returncode == 0, describe_run(paused)
    misspell_broker_2(b)
    assert wait_until(lambda: diverging(a) == 1, timeout=5, step=0.05), a.admin.status()["fleet"]

    resumed = cli(a, "cutover", "resume", "orders")
    assert resumed.returncode == 1, describe_run(resumed)
    assert f"cutover resume orders refused: live fleet members serve other data for zone example.test. than this server: {b.name}" in resumed.stderr, describe_run(resumed)
    assert a.admin.run()["status"] == "paused"

    # A member that stops is no longer live after --fleet-timeout (2 s): it blocks nothing.
    b.stop()
    assert wait_until(lambda: diverging(a) == 0, timeout=8, step=0.1), a.admin.status()["fleet"]
    resumed = cli(a, "cutover", "resume", "orders")
    assert resumed.returncode == 0, describe_run(resumed)
    assert wait_for_run(a.admin, lambda r: r["status"] == "completed", timeout=60) is not None, a.admin.run()


def start_once(member, name: str) -> subprocess.CompletedProcess | subprocess.Popen:
    """`serve` on member's database and zones; returns the finished process, or the running one."""
    cmd = [str(switchyard_bin()), "serve", "--zones", str(member.workdir / "zones"), "--listen", f"{V4}:{free_port()}",
           "--state", member.url, "--admin", f"{V4}:{free_port()}", "--admin-token-file", str(member.token_file),
           "--server-name", name, "--cache-dir", str(member.workdir / f"cache-{name}"), *FLEET_ARGS]
    proc = subprocess.Popen(cmd, cwd=member.workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=4)
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        return proc


def test_unknown_migrations_refuse_a_start_unless_flagged_compatible(fleet, pg):
    a, = fleet(orders_zones(9092), n=1)
    database = a.url.rsplit("/", 1)[1]
    flags = pg.psql(database, "SELECT identifier || '=' || compatible FROM switchyard_migration ORDER BY identifier")
    assert flags.split() == ["v1-journal=false", "v2-run-pause-request=false", "v3-fleet-served-data=true"], flags

    # A newer switchyard's additive step, flagged compatible: this one starts (and serves).
    pg.psql(database, "INSERT INTO switchyard_migration (identifier, applied_at, compatible) VALUES ('v9-future-column', 0, TRUE)")
    started = start_once(a, "second")
    assert isinstance(started, subprocess.Popen), f"the start failed: {describe_run(started)}"
    stop_process(started)

    # Not flagged: refused, exit 1, naming the step and what to do.
    pg.psql(database, "UPDATE switchyard_migration SET compatible = FALSE WHERE identifier = 'v9-future-column'")
    refused = start_once(a, "third")
    if isinstance(refused, subprocess.Popen):
        stop_process(refused)
        pytest.fail("a start against an unknown, unflagged migration did not fail")
    assert refused.returncode == 1, describe_run(refused)
    assert "the journal was written by a newer Switchyard (unknown schema steps: v9-future-column)" in refused.stderr, refused.stderr
    assert "upgrade this switchyard binary" in refused.stderr, refused.stderr
