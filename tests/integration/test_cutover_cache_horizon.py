"""A TTL lowered by hand just before a cutover: caches may still hold the answer served with
the old, higher TTL, so the plan waits until that answer's cache horizon before it flips the
name, and the old target is drained later still (SPEC "Cutover controller").

Cluster `orders` (brokers 1-3: vm 127.0.0.11-13, pod 127.0.0.21-23, inventory TTL 1) on the
real binary, with loopback TCP listeners standing in for the brokers. Broker 1 is served with
TTL HIGH, then lowered to 1 (at or below the cutover TTL: the plan has no lowering step of its
own and, planned from the start state alone, would flip at once).
"""

from __future__ import annotations

import time

import pytest

from conftest import backend
from cutoverkit import (  # noqa: F401  (fixtures)
    ALL_TARGETS,
    FAST,
    POD,
    VM,
    Querier,
    broker_listeners,
    broker_name,
    cli,
    deployments,
    describe_run,
    orders_zones,
)

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="the cutover controller is switchyard's own"),
]

HIGH = 6  # seconds: long enough to tell a wait from none, short enough for a quick test


def test_a_ttl_lowered_by_hand_delays_the_flip_until_the_old_answer_expired(deployments, broker_listeners, tmp_path):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    name = broker_name(1)
    raised = cli(d, "shift", "orders", "broker-1", "--ttl", str(HIGH))
    assert raised.returncode == 0, describe_run(raised)
    time.sleep(0.5)
    # From here on the answer with TTL HIGH is no longer served, but caches may keep it until
    # at least lowered_before + HIGH.
    lowered_before = time.time()
    lowered = cli(d, "shift", "orders", "broker-1", "--ttl", "default")
    assert lowered.returncode == 0, describe_run(lowered)

    plan = cli(d, "cutover", "plan", "orders", "--to", "pod", "--brokers", "1", *FAST, "--drain", "true")
    assert plan.returncode == 0, describe_run(plan)
    assert f"{name} was answered with TTL {HIGH} s until" in plan.stdout, plan.stdout
    assert "caches may hold that answer until" in plan.stdout, plan.stdout
    assert ", and not before " in plan.stdout, plan.stdout

    log = tmp_path / "drains.log"
    querier = Querier(d.port, [name], rate=200).start()
    wall_minus_monotonic = time.time() - time.monotonic()
    try:
        applied = cli(d, "cutover", "apply", "orders", "--to", "pod", "--brokers", "1", *FAST,
                      "--drain", f"echo $(date +%s.%N) {{old_target}} >> {log}")
    finally:
        querier.stop()
    assert applied.returncode == 0, describe_run(applied)
    assert "caches may hold that answer until" in applied.stdout + applied.stderr, describe_run(applied)

    flips = [a.at + wall_minus_monotonic for a in querier.answers if a.addresses == frozenset([POD[1]])]
    assert flips, "the new answer was never seen"
    first_pod = flips[0]
    # Not one pod answer before the old answer's horizon (the querier sees a flip within ms).
    assert first_pod >= lowered_before + HIGH - 0.05, \
        f"flipped {first_pod - lowered_before:.2f}s after the TTL {HIGH} answer stopped being served"
    # And no needless wait on top of it (old TTL and horizon run down together).
    assert first_pod < lowered_before + HIGH + 5, f"flipped {first_pod - lowered_before:.2f}s after lowering"
    lines = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    assert len(lines) == 1 and lines[0][1] == VM[1], lines
    assert float(lines[0][0]) >= lowered_before + HIGH, "drained before the old answer's caches expired"

    # The way back is planned the same way: a rollback right after another lowering waits too.
    assert cli(d, "shift", "orders", "broker-1", "--ttl", str(HIGH)).returncode == 0
    assert cli(d, "shift", "orders", "broker-1", "--ttl", "default").returncode == 0
    back = cli(d, "rollback", "orders", "--plan-only", *FAST)
    assert back.returncode == 0, describe_run(back)
    assert f"{name} was answered with TTL {HIGH} s until" in back.stdout, back.stdout
    assert ", and not before " in back.stdout, back.stdout
