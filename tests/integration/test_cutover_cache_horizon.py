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
STEP_HIGH = 10  # longer: a flip of another name must come clearly before this horizon


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


def first_answer_at(querier: Querier, name: str, address: str, wall_minus_monotonic: float) -> float | None:
    """Wall-clock time of the first answer of `name` that was exactly `address`."""
    for a in querier.answers:
        if a.name == name and a.addresses == frozenset([address]):
            return a.at + wall_minus_monotonic
    return None


def test_each_step_waits_only_for_the_horizons_of_the_names_it_moves(deployments, broker_listeners):
    """Broker 3 was served with TTL STEP_HIGH a moment ago: the step moving broker 3 waits for that
    answer's caches, while brokers 1 and 2 move at once (their answers were never cached that
    long), instead of every step being held back by the worst name."""
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    assert cli(d, "shift", "orders", "broker-3", "--ttl", str(STEP_HIGH)).returncode == 0
    time.sleep(0.5)
    lowered_before = time.time()
    assert cli(d, "shift", "orders", "broker-3", "--ttl", "default").returncode == 0

    plan = cli(d, "cutover", "plan", "orders", "--to", "pod", *FAST)
    assert plan.returncode == 0, describe_run(plan)
    assert "move broker-1 to pod\n  wait before: none\n" in plan.stdout, plan.stdout
    assert f"move broker-3 to pod\n  wait before: 1 s, and not before " in plan.stdout, plan.stdout
    assert f"{broker_name(3)} was answered with TTL {STEP_HIGH} s until" in plan.stdout, plan.stdout

    querier = Querier(d.port, [broker_name(1), broker_name(3)], rate=200).start()
    wall_minus_monotonic = time.time() - time.monotonic()
    try:
        applied = cli(d, "cutover", "apply", "orders", "--to", "pod", *FAST)
    finally:
        querier.stop()
    assert applied.returncode == 0, describe_run(applied)
    first_1 = first_answer_at(querier, broker_name(1), POD[1], wall_minus_monotonic)
    first_3 = first_answer_at(querier, broker_name(3), POD[3], wall_minus_monotonic)
    assert first_1 is not None and first_3 is not None, "a new answer was never seen"
    # Broker 1 did not wait for broker 3's caches...
    assert first_1 < lowered_before + STEP_HIGH - 4, \
        f"broker-1 flipped {first_1 - lowered_before:.2f}s after broker-3's TTL {STEP_HIGH} answer stopped being served"
    # ... and broker 3 did.
    assert first_3 >= lowered_before + STEP_HIGH - 0.05, \
        f"broker-3 flipped {first_3 - lowered_before:.2f}s after its TTL {STEP_HIGH} answer stopped being served"


def test_a_drain_after_shorter_than_caches_hold_warns(deployments, broker_listeners):
    """`--drain-after` stays the operator's override, but one shorter than caches may hold the
    old answer is said: a `warning:` line from `cutover plan` and `cutover apply` naming the
    step, the names and how long, and `warnings` in the admin API's replies."""
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    flags = ["--brokers", "1", "--cutover-ttl", "1", "--jvm-cache", "3", "--verify-timeout", "10",
             "--drain", "true", "--drain-after", "1"]
    expected = (f"warning: step 1/2 (move broker-1 to pod): --drain-after 1 s drains {VM[1]} (broker 1) 1 s after "
                f"the step is first served, but caches may hold the old answer of ")
    plan = cli(d, "cutover", "plan", "orders", "--to", "pod", *flags)
    assert plan.returncode == 0, describe_run(plan)
    assert expected in plan.stderr, describe_run(plan)
    assert f"{broker_name(1)} for 3 s (JVM clients cache the old address for 3 s" in plan.stderr, describe_run(plan)
    assert "WARNING: shorter than caches may hold the old answer, 3 s" in plan.stdout, plan.stdout

    options = {"cluster": "orders", "toPool": "pod", "brokers": [1], "cutoverTTL": 1, "jvmCacheSeconds": 3,
               "drainCommand": "true", "drainAfterSeconds": 1}
    reply = d.admin.plan(options)
    assert [w for w in reply.get("warnings", []) if "--drain-after 1 s drains" in w], reply.get("warnings")
    # Long enough: no warning.
    quiet = cli(d, "cutover", "plan", "orders", "--to", "pod", *flags[:-1], "3")
    assert quiet.returncode == 0 and "warning:" not in quiet.stderr, describe_run(quiet)

    applied = cli(d, "cutover", "apply", "orders", "--to", "pod", *flags)
    assert applied.returncode == 0, describe_run(applied)
    assert expected in applied.stderr, describe_run(applied)
