"""A cutover you can trust: whole-run rollback, drains only after caches expire, hostname
targets, one commit path, TTL baselines, no-op shifts and plans that show everything.

Cluster `orders` (brokers 1-3: vm 127.0.0.11-13, pod 127.0.0.21-23) on the real binary, with
loopback TCP listeners standing in for the brokers. Drain commands append a line to a file,
so the tests see what ran, when, and with which placeholders and environment.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest

from conftest import V4, backend, free_port
from cutoverkit import (  # noqa: F401  (fixtures)
    ALL_TARGETS,
    BROKER_IDS,
    CLUSTER,
    FAST,
    MANAGED_NAMES,
    ORIGIN,
    POD,
    Querier,
    VM,
    all_in,
    bootstrap_name,
    broker_listeners,
    broker_name,
    cli,
    committed_generations,
    deployments,
    describe_run,
    orders_inventory,
    served_state_problems,
    wait_for_run,
)
from stablekit import wait_until, zone_text

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="the cutover controller is switchyard's own"),
]



def drain_command(log: Path) -> str:
    """Appends `<wall time> <old target> run=<run> gen=<generation> env=<SWITCHYARD_RUN>`."""
    return (f"echo $(date +%s.%N) {{old_target}} run={{run}} gen={{generation}} "
            f"env=$SWITCHYARD_RUN/$SWITCHYARD_BROKER >> {log}")


def drain_lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def zones_with(inventory: str, extra: tuple[str, ...] = ()) -> dict[str, str]:
    return {"example.test.zone": zone_text("example.test", extra), "example.test.yaml": inventory}


def test_rollback_of_a_completed_cutover_in_one_command(deployments, broker_listeners, tmp_path):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(zones_with(orders_inventory(port, ttl=1)))
    g0 = d.admin.generation()["number"]
    log = tmp_path / "drains.log"
    applied = cli(d, "cutover", "apply", "orders", "--to", "pod", "--ramp", "50,100", "--batch", "2",
                  "--drain", drain_command(log), *FAST)
    assert applied.returncode == 0, describe_run(applied)
    cutover_run = d.admin.run()
    assert not served_state_problems(d, all_in("pod"))
    assert sorted(line[1] for line in drain_lines(log)) == sorted(VM.values()), drain_lines(log)
    log.unlink()

    querier = Querier(d.port, MANAGED_NAMES, rate=400).start()
    tcp_querier = Querier(d.port, MANAGED_NAMES, rate=100, tcp6=True).start()
    try:
        rolled = cli(d, "rollback", "orders", "--ramp", "50,100", "--drain", drain_command(log), *FAST)
    finally:
        querier.stop()
        tcp_querier.stop()
    assert rolled.returncode == 0, describe_run(rolled)
    rollback_run = d.admin.run()
    progress = rollback_run["progress"]
    assert rollback_run["id"] != cutover_run["id"]
    assert progress["plan"]["purpose"] == "rollback" and progress["status"] == "completed", rollback_run

    # Every name is back where it was before the cutover, and so is the journal's state.
    assert not served_state_problems(d, all_in("vm"))
    end = d.admin.generation()["state"]
    start = d.admin.request("GET", "/v1/history?limit=500")[1]
    first = next(e["generation"] for e in start if e["generation"]["number"] == g0)
    assert end["brokerPools"] == first["state"]["brokerPools"]
    assert end["weights"][bootstrap_name()] == first["state"]["weights"][bootstrap_name()]
    assert not end.get("loweredTTLs"), end

    # Zero lost, empty, NXDOMAIN or SERVFAIL answers over UDP and TCP/IPv6.
    for q, minimum in ((querier, 300), (tcp_querier, 50)):
        answers = list(q.answers)
        assert not q.errors, q.errors
        assert len(answers) > minimum, f"only {len(answers)} answers"
        bad = [a for a in answers if a.rcode != 0 or (a.name in MANAGED_NAMES and not a.addresses)]
        assert not bad, [(a.name, a.rcode, sorted(a.addresses)) for a in bad[:10]]

    # The drain ran for the targets left (the pods), with {run} and the environment filled in.
    lines = drain_lines(log)
    assert sorted(line[1] for line in lines) == sorted(POD.values()), lines
    gens = set(committed_generations(progress).values())
    for line in lines:
        assert line[2] == f"run={rollback_run['id']}", line
        assert int(line[3].removeprefix("gen=")) in gens, (line, gens)
        assert line[4].startswith(f"env={rollback_run['id']}/"), line
    assert len(progress["drains"]) == 3 and all(x["succeeded"] for x in progress["drains"]), progress["drains"]

    # The undone cutover run stays completed; `cutover status` and `history` show the drains
    # and which run each generation belongs to.
    st = cli(d, "cutover", "status", "orders")
    assert st.returncode == 0 and st.stdout.count("drain ok") == 3, describe_run(st)
    h = cli(d, "history", "--cluster", "orders", "--limit", "50")
    assert h.returncode == 0, describe_run(h)
    assert f"run {rollback_run['id']}" in h.stdout and f"run {cutover_run['id']}" in h.stdout, h.stdout
    assert h.stdout.count("drain ok") == 6, h.stdout


def test_drain_fires_only_after_the_old_answer_expired(deployments, broker_listeners, tmp_path):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(zones_with(orders_inventory(port, ttl=1)))
    log = tmp_path / "drains.log"
    jvm = 3
    querier = Querier(d.port, [broker_name(1)], rate=300).start()
    wall_minus_monotonic = time.time() - time.monotonic()
    try:
        r = cli(d, "cutover", "apply", "orders", "--to", "pod", "--brokers", "1", "--cutover-ttl", "1",
                "--jvm-cache", str(jvm), "--verify-timeout", "10", "--drain", drain_command(log))
    finally:
        querier.stop()
    assert r.returncode == 0, describe_run(r)
    first_pod = next(a.at for a in querier.answers if a.addresses == frozenset([POD[1]]))
    first_pod_wall = first_pod + wall_minus_monotonic
    lines = drain_lines(log)
    assert len(lines) == 1 and lines[0][1] == VM[1], lines
    drained_at = float(lines[0][0])
    # max(TTL 1, JVM 3) after the new answer was first served; the querier saw it at most a
    # few ms after the server did.
    assert drained_at - first_pod_wall >= jvm - 0.1, f"drained {drained_at - first_pod_wall:.2f}s after the flip"
    assert drained_at - first_pod_wall < jvm + 5, f"drained {drained_at - first_pod_wall:.2f}s after the flip"
    plan = cli(d, "cutover", "plan", "orders", "--to", "vm", "--jvm-cache", "7", "--drain", "true")
    assert "drain after: 7 s" in plan.stdout and "JVM clients cache the old address for 7 s" in plan.stdout, plan.stdout


def test_hostname_targets_full_cutover_and_rollback(deployments, broker_listeners):
    """Broker 2's pod target is a hostname in the served zone (CNAME chased); broker 3's is
    `localhost.`, outside every served zone (CNAME not chased; the gate resolves it as clients do)."""
    port, _ = broker_listeners(ALL_TARGETS + ["127.0.0.1"])
    inventory = "\n".join([
        "ttl: 1", "clusters:", f"  {CLUSTER}:", f"    port: {port}", "    pools: [vm, pod]", "    gate: tcp", "    brokers:",
        f"      1: {{ vm: {VM[1]}, pod: {POD[1]} }}",
        f"      2: {{ vm: {VM[2]}, pod: orders-2.pods.example.test. }}",
        f"      3: {{ vm: {VM[3]}, pod: localhost. }}",
    ]) + "\n"
    d = deployments(zones_with(inventory, (f"orders-2.pods 1 IN A {POD[2]}",)))
    applied = cli(d, "cutover", "apply", "orders", "--to", "pod", *FAST)
    assert applied.returncode == 0, describe_run(applied) + d.server.describe()
    assert d.ask(broker_name(2)) == (0, frozenset([POD[2]])), "the chased address"
    for _ in range(10):
        rcode, addresses = d.ask(bootstrap_name())
        assert rcode == 0 and addresses and addresses <= {POD[1], POD[2]}, (rcode, addresses)
    rolled = cli(d, "rollback", "orders", *FAST)
    assert rolled.returncode == 0, describe_run(rolled)
    assert not served_state_problems(d, all_in("vm"))


def test_concurrent_shifts_never_revert_a_cutover_step(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    inventory = orders_inventory(port, ttl=1) + "\n".join([
        "names:", "  registry:", "    policy: weighted", "    pools:",
        "      vm:  { weight: 100, targets: [127.0.0.31] }",
        "      pod: { weight: 0,   targets: [127.0.0.32] }"]) + "\n"
    d = deployments(zones_with(inventory))
    admin = d.admin
    stop = threading.Event()
    shifts: list[int] = []

    def hammer():
        flip = 0
        while not stop.is_set():
            flip ^= 1
            body = {"request": {"weights": {"name": "registry", "weights": {"vm": 100 * flip, "pod": 100 * (1 - flip)}}},
                    "actor": "pytest", "reason": "concurrent"}
            status, _ = admin.request("POST", "/v1/shift", body)
            if status == 200:
                shifts.append(1)

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        r = cli(d, "cutover", "apply", "orders", "--to", "pod", "--ramp", "25,50,100", *FAST)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert r.returncode == 0, describe_run(r)
    assert len(shifts) > 10, f"only {len(shifts)} concurrent shifts"
    progress = admin.run()["progress"]
    gens = committed_generations(progress)
    history = {e["generation"]["number"]: e for e in admin.request("GET", "/v1/history?limit=5000")[1]}
    run_numbers = sorted(gens.values())
    interleaved = [n for n in range(run_numbers[0], run_numbers[-1]) if n not in run_numbers]
    assert interleaved, "no shift landed between the run's generations"
    # Every name a run generation set keeps that setting until the run itself changes it.
    for number in run_numbers:
        for change in history[number]["generation"]["changes"]:
            name = change["name"]
            later_run = [n for n in run_numbers if n > number and any(c["name"] == name for c in history[n]["generation"]["changes"])]
            until = later_run[0] - 1 if later_run else max(history)
            for other in range(number + 1, until + 1):
                state = history[other]["generation"]["state"]
                setting = {"livePool": state["brokerPools"].get(name), "weights": state["weights"].get(name)}
                after = {"livePool": change["after"].get("livePool"), "weights": change["after"].get("weights")}
                assert setting == after, f"generation {other} reverted {name} set by run generation {number}"
    assert not served_state_problems(d, all_in("pod"))


def test_ttl_baseline_survives_a_failed_run(deployments, broker_listeners):
    port, listeners = broker_listeners(ALL_TARGETS, skip=[POD[2]])
    d = deployments(zones_with(orders_inventory(port, ttl=4)))
    failed = cli(d, "cutover", "apply", "orders", "--to", "pod", "--cutover-ttl", "1", "--jvm-cache", "1")
    assert failed.returncode == 1, describe_run(failed)
    first_run = d.admin.run()["id"]
    names = {n["name"]: n["ttl"] for n in d.admin.status()["names"]}
    assert names[broker_name(1)] == 1, names
    st = cli(d, "cutover", "status", "orders")
    assert f"TTL lowered: {broker_name(1)} at 1 s by run {first_run}" in st.stdout, describe_run(st)

    listeners[POD[2]].open()
    plan = cli(d, "cutover", "plan", "orders", "--to", "pod", "--cutover-ttl", "1", "--jvm-cache", "1")
    assert "lower the TTLs" not in plan.stdout, plan.stdout
    done = cli(d, "cutover", "apply", "orders", "--to", "pod", "--cutover-ttl", "1", "--jvm-cache", "1")
    assert done.returncode == 0, describe_run(done)
    names = {n["name"]: n["ttl"] for n in d.admin.status()["names"]}
    assert all(names[n] == 4 for n in MANAGED_NAMES), f"TTLs not back to the inventory's 4 s: {names}"
    assert not d.admin.generation()["state"].get("loweredTTLs")
    st = cli(d, "cutover", "status", "orders")
    assert "TTL lowered" not in st.stdout, st.stdout


def test_noop_shift_and_expected_generation(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(zones_with(orders_inventory(port, ttl=1)))
    before = d.admin.generation()["number"]
    r = cli(d, "shift", "orders", "broker-1", "--to", "vm")
    assert r.returncode == 0 and "nothing to change" in r.stdout, describe_run(r)
    assert d.admin.generation()["number"] == before

    stale = cli(d, "shift", "orders", "broker-1", "--to", "pod", "--expect-generation", str(before - 1))
    assert stale.returncode == 1 and f"live generation is {before}" in stale.stderr, describe_run(stale)
    status, reply = d.admin.request("POST", "/v1/shift", {
        "request": {"broker": {"cluster": CLUSTER, "id": 1, "pool": "pod"}}, "actor": "pytest", "reason": "stale",
        "expectedGeneration": before + 5})
    assert status == 409, (status, reply)
    assert d.admin.generation()["number"] == before
    ok = cli(d, "shift", "orders", "broker-1", "--to", "pod", "--expect-generation", str(before))
    assert ok.returncode == 0, describe_run(ok)
    assert d.ask(broker_name(1)) == (0, frozenset([POD[1]]))


def test_plan_shows_server_hooks_gates_drains_and_waits(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    notify_port = free_port()
    d = deployments(zones_with(orders_inventory(port, ttl=30)),
                    extra_args=["--notify", f"{V4}:{notify_port}", "--invalidate-hook", "true flush {zone}"])
    before = d.admin.generation()["number"]
    p = cli(d, "cutover", "plan", "orders", "--to", "pod", "--gate", "check {broker}", "--drain", "stop {old_target}",
            "--resolver-floor", "9")
    assert p.returncode == 0, describe_run(p)
    for needle in (f"DNS NOTIFY for {ORIGIN} to {V4}:{notify_port}", "command `true flush {zone}`",
                   "command `check 1`", "stop 127.0.0.11", "drain after: 30 s", "old TTL of",
                   "resolver floor 9 s", "lower the TTLs of 4 names to 5 s", "drain timeout: 300 s"):
        assert needle in p.stdout, f"{needle!r} not in the plan:\n{p.stdout}"
    assert d.admin.generation()["number"] == before


def test_a_name_with_cutover_state_leaving_the_inventory_is_a_warning(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    inventory = orders_inventory(port, ttl=1) + "\n".join([
        "names:", "  registry:", "    policy: weighted", "    pools:",
        "      vm:  { weight: 100, targets: [127.0.0.31] }"]) + "\n"
    d = deployments(zones_with(inventory))
    assert cli(d, "shift", "orders", "broker-1", "--to", "pod").returncode == 0
    live = d.admin.generation()["number"]
    # The whole cluster and the registry leave the inventory.
    (d.server.zone_dir / "example.test.yaml").write_text("ttl: 1\n")
    d.server.signal(signal.SIGHUP)
    assert wait_until(lambda: d.ask(broker_name(1))[0] == 3, timeout=10) is not None, d.server.describe()
    log = d.server.stderr_text()
    warnings = [line for line in log.splitlines() if "live cutover state left the inventory" in line]
    assert any(broker_name(1) in line and f"generation={live}" in line for line in warnings), log[-3000:]
    assert not any(broker_name(2) in line for line in warnings), "broker 2 had no cutover state"
    assert any("stable name left the inventory" in line and broker_name(2) in line for line in log.splitlines())


def test_rollback_of_a_failed_cutover_run(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS, skip=[POD[2]])
    d = deployments(zones_with(orders_inventory(port, ttl=1)))
    failed = cli(d, "cutover", "apply", "orders", "--to", "pod", *FAST)
    assert failed.returncode == 1, describe_run(failed)
    failed_run = d.admin.run()
    assert d.ask(broker_name(1)) == (0, frozenset([POD[1]])), "broker 1 moved before the gate of broker 2 failed"
    rolled = cli(d, "rollback", "orders", *FAST)
    assert rolled.returncode == 0, describe_run(rolled)
    assert not served_state_problems(d, all_in("vm"))
    status, undone = d.admin.request("GET", "/v1/status")
    runs = {r["id"]: r for r in undone["runs"]}
    assert runs[failed_run["id"]]["status"] == "rolledBack", runs[failed_run["id"]]
    assert runs[d.admin.run()["id"]]["progress"]["plan"]["purpose"] == "rollback"
