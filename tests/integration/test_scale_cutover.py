"""A big fleet, as the platform engineers who migrate hundreds of brokers have it
(fleetgen.Fleet: orders 300 brokers, payments 150, clicks 100, four weighted names, 3,000
ordinary records, every tenth pod target a hostname inside the zone): the whole of cluster
orders cut over to pod in batches of 20 with a bootstrap ramp, then rolled back, under
continuous queries. Loopback TCP listeners (one thread for all 600 targets) stand in for the
brokers; the gates connect to them.

Checked: both runs complete; every answer during them is one the plans' states allow, in plan
order (never backwards), with no lost query, NXDOMAIN, SERVFAIL or empty answer; the other
clusters' names never change; the SOA serial only increases; at the end every broker of orders
answers its vm target again. And what must not grow with brokers × steps at this size: the
printed plan (lines per step), the run's JSON (GET /v1/runs/orders), the progress display.
"""

from __future__ import annotations

import json

import pytest

from conftest import backend
from cutoverkit import (  # noqa: F401  (fixtures)
    Querier,
    check_timeline,
    cli,
    cli_available,
    deployments,
    describe_run,
    plan_states,
    serial_after,
)
from fleetgen import Fleet
from stablekit import TcpListenerSet, common_free_port

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="the cutover controller is switchyard's own"),
]

CLUSTER = "orders"
STAGING = ["--batch", "20", "--ramp", "10,50,100", "--cutover-ttl", "1", "--jvm-cache", "0",
           "--verify-timeout", "10"]


@pytest.fixture
def fleet_listeners():
    opened: list[TcpListenerSet] = []

    def make(fleet: Fleet) -> TcpListenerSet:
        hosts = fleet.targets(CLUSTER)
        fleet.port = common_free_port(hosts)
        listeners = TcpListenerSet(hosts, fleet.port)
        opened.append(listeners)
        return listeners

    yield make
    for listeners in opened:
        listeners.close()


@pytest.fixture(scope="module", autouse=True)
def _cli_present():
    if not cli_available():
        pytest.fail("`switchyard cutover --help` does not work", pytrace=False)


def test_large_cluster_cutover_and_rollback(deployments, fleet_listeners):
    fleet = Fleet(clusters={"orders": 300, "payments": 150, "clicks": 100}, records=3000, ttl=2)
    fleet_listeners(fleet)
    d = deployments(fleet.files())
    admin = d.admin
    g0 = admin.generation()["number"]
    serial0 = d.soa_serial(fleet.origin)
    managed = fleet.managed_names(CLUSTER)
    bootstrap = fleet.bootstrap_name(CLUSTER)
    # Names of the other clusters, which must answer their vm target throughout.
    others = {fleet.broker_name(c, i): fleet.vm(c, i) for c in ("payments", "clicks") for i in (1, 10, 77, 100)}

    # The plan an operator reads first: every step says what changes, briefly.
    plan_text = cli(d, "cutover", "plan", CLUSTER, "--to", "pod", *STAGING)
    assert plan_text.returncode == 0, describe_run(plan_text)
    steps = plan_text.stdout.count("\nStep ")
    assert steps == 1 + 15 + 3 + 1, plan_text.stdout[:3000]
    # Every name's expectation on every step was ~300 lines a step.
    assert plan_text.stdout.count("\n") < 60 * steps, \
        f"{plan_text.stdout.count(chr(10))} lines for {steps} steps:\n{plan_text.stdout[:3000]}"

    querier = Querier(d.port, managed, rate=400, soa_every=2, max_seconds=240, origin=fleet.origin).start()
    bystander = Querier(d.port, list(others), rate=50, soa_every=0, max_seconds=240).start()
    try:
        applied = cli(d, "cutover", "apply", CLUSTER, "--to", "pod", *STAGING, timeout=180)
        status, run1 = admin.request("GET", f"/v1/runs/{CLUSTER}")
        rolled = cli(d, "rollback", CLUSTER, *STAGING, timeout=180) if applied.returncode == 0 else None
        run2 = admin.run(CLUSTER)
    finally:
        querier.stop()
        bystander.stop()

    assert applied.returncode == 0, describe_run(applied) + f"\nserver: {d.server.describe()}"
    assert status == 200 and run1["progress"]["status"] == "completed", run1
    # The run's JSON (polled twice a second by the CLI) grows with brokers, not brokers × steps.
    size = len(json.dumps(run1))
    assert size < 400_000, f"GET /v1/runs/{CLUSTER} is {size} bytes"
    # The progress display: a few lines per step, not the plan's expectations again.
    lines = applied.stdout.count("\n")
    assert lines < 40 * steps, f"{lines} lines of progress:\n{applied.stdout[:3000]}"
    assert rolled is not None and rolled.returncode == 0, describe_run(rolled)
    assert run2["id"] != run1["id"] and run2["progress"]["status"] == "completed", run2["progress"]["message"]

    plan1, plan2 = run1["progress"]["plan"], run2["progress"]["plan"]
    states1, states2 = plan_states(plan1), plan_states(plan2)
    assert all(states1[-1]["brokerPools"][n] == "pod" for n in managed if n != bootstrap)
    assert states1[-1]["weights"][bootstrap] == {"pod": 100, "vm": 0}
    assert states2[-1]["brokerPools"] == states1[0]["brokerPools"]
    assert states2[-1]["weights"] == states1[0]["weights"]

    answers = list(querier.answers)
    assert not querier.errors, querier.errors
    assert len(answers) > 5000, f"only {len(answers)} queries"
    lost = [a for a in answers if a.rcode == -1]
    assert not lost, f"{len(lost)} queries unanswered after one retry, first for {lost[0].name}"
    problems = check_timeline(answers, states1 + states2[1:], inventory_ttl=2,
                              allowed_of=lambda s: fleet.expected_answers(s, CLUSTER), subset_names=[bootstrap])
    assert not problems, f"{len(problems)} answers not as planned:\n" + "\n".join(problems[:15])
    moved = {a.name for a in answers if a.name != bootstrap and a.addresses
             and a.addresses == {fleet.pod_address(CLUSTER, int(a.name.split(".")[0][7:]))}}
    assert len(moved) > 250, f"the querier saw only {len(moved)} brokers answer their pod target"

    wrong = [a for a in bystander.answers if a.rcode != 0 or a.addresses != {others[a.name]}]
    assert len(bystander.answers) > 500 and not bystander.errors, bystander.errors
    assert not wrong, f"other clusters' names changed: {[(a.name, a.rcode, sorted(a.addresses)) for a in wrong[:5]]}"

    serials = [a.serial for a in answers if a.serial is not None]
    backwards = [(x, y) for x, y in zip(serials, serials[1:]) if y != x and not serial_after(y, x)]
    assert len(serials) > 20 and not backwards, f"SOA serial went backwards: {backwards[:5]}"
    generations = len(plan1["steps"]) + len(plan2["steps"])
    assert admin.generation()["number"] == g0 + generations
    assert d.soa_serial(fleet.origin) == (serial0 + generations) & 0xFFFFFFFF

    for i in fleet.broker_ids(CLUSTER):
        rcode, addresses = d.ask(fleet.broker_name(CLUSTER, i))
        assert rcode == 0 and addresses == {fleet.vm(CLUSTER, i)}, (i, rcode, addresses)
    for args in (["cutover", "status", CLUSTER], ["history", "--cluster", CLUSTER], ["status"]):
        r = cli(d, *args)
        assert r.returncode == 0, describe_run(r)
