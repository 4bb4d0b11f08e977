"""End-to-end cutovers of cluster `orders` (brokers 1-3: vm 127.0.0.11-13, pod 127.0.0.21-23,
TTL 1 s) driven by the real CLI against a real server, with loopback TCP listeners standing in
for the brokers (the gates connect to them).

- Zero downtime: a querier asks bootstrap and broker-1..3 continuously (~500 queries/s, one
  at a time, so answers are in serving order) during a whole `cutover apply` and a whole
  `rollback` to the starting generation: no query is lost (one retry allowed), no
  NXDOMAIN/SERVFAIL/empty answer, every answer is one the plan's states allow, the answers
  only ever move forward through those states, and the SOA serial only increases, by one per
  generation. `history --cluster orders` lists every generation.
- `cutover plan` changes nothing.
- A gate failure (no listener at a pod target, or a --gate command failing) stops the run
  with exit 1 and a message naming the broker and target; the served state is the previous
  step's; `cutover resume` finishes once the target is up.
- An unreachable admin endpoint: a clear error, exit 1.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import dns.rcode
import pytest

from conftest import backend, free_port
from cutoverkit import (  # noqa: F401  (fixtures)
    ALL_TARGETS,
    BROKER_IDS,
    FAST,
    MANAGED_NAMES,
    POD,
    Querier,
    VM,
    all_in,
    bootstrap_name,
    broker_listeners,
    broker_name,
    check_timeline,
    cli,
    cli_available,
    committed_generations,
    deployments,
    describe_run,
    history_numbers,
    orders_zones,
    plan_states,
    serial_after,
    served_state_problems,
    timeline,
)

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="the cutover controller is switchyard's own"),
]



@pytest.fixture(scope="module", autouse=True)
def _cli_present():
    if not cli_available():
        pytest.fail("`switchyard cutover --help` does not work: the CLI is missing from the "
                    "binary under test", pytrace=False)


def test_plan_is_pure(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port))
    before = d.admin.generation()
    serial = d.soa_serial()
    r = cli(d, "cutover", "plan", "orders", "--to", "pod", "--ramp", "50,100", "--batch", "2", *FAST)
    assert r.returncode == 0, describe_run(r)
    for want in ("broker-1", "broker-2", "broker-3", "127.0.0.21", "TTL", "50"):
        assert want in r.stdout, f"{want!r} not in the plan:\n{r.stdout}"
    after = d.admin.generation()
    assert after["number"] == before["number"] and after["state"] == before["state"]
    assert d.soa_serial() == serial
    assert d.admin.run() is None, "printing a plan created a run"
    assert not served_state_problems(d, all_in("vm"))


def test_zero_downtime_apply_and_rollback(deployments, broker_listeners):
    port, listeners = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    admin = d.admin
    start = admin.generation()
    g0 = start["number"]
    serial0 = d.soa_serial()
    assert not served_state_problems(d, all_in("vm"))

    querier = Querier(d.port, MANAGED_NAMES, rate=500).start()
    tcp_querier = Querier(d.port, MANAGED_NAMES, rate=100, tcp6=True).start()
    try:
        applied = cli(d, "cutover", "apply", "orders", "--to", "pod", "--ramp", "50,100",
                      "--batch", "2", *FAST)
        run1 = admin.run()
        mid_answers = len(querier.answers)
        rolled = cli(d, "rollback", "orders", "--to-generation", str(g0), *FAST) \
            if applied.returncode == 0 else None
        run2 = admin.run()
    finally:
        querier.stop()
        tcp_querier.stop()
    answers = list(querier.answers)

    assert applied.returncode == 0, describe_run(applied) + f"\nserver: {d.server.describe()}"
    progress1 = run1["progress"]
    assert progress1["status"] == "completed", run1
    plan1 = progress1["plan"]
    assert rolled is not None and rolled.returncode == 0, describe_run(rolled)
    progress2 = run2["progress"]
    assert run2["id"] != run1["id"] and progress2["status"] == "completed", run2
    plan2 = progress2["plan"]
    assert plan2["purpose"] == "rollback"

    # --- the plans: brokers move 2 then 1, bootstrap ramps 50 then 100, back to all-vm ---
    states1 = plan_states(plan1)
    assert states1[0]["brokerPools"] == start["state"]["brokerPools"]
    kinds1 = [s["kind"] for s in plan1["steps"]]
    # The inventory's TTL (1 s) is already at the cutover TTL: nothing to lower or restore.
    assert kinds1 == ["moveBrokers", "moveBrokers", "setBootstrapWeights",
                      "setBootstrapWeights"], kinds1
    final1 = states1[-1]
    assert final1["brokerPools"] == all_in("pod")["brokerPools"], final1
    assert final1["weights"][bootstrap_name()] == {"pod": 100, "vm": 0}, final1
    assert [s["weights"][bootstrap_name()]["pod"] for s in states1[3:5]] == [50, 100]
    states2 = plan_states(plan2)
    assert states2[0]["brokerPools"] == final1["brokerPools"]
    assert states2[0]["weights"] == final1["weights"]
    assert states2[-1]["brokerPools"] == start["state"]["brokerPools"], states2[-1]
    assert states2[-1]["weights"] == start["state"]["weights"], states2[-1]
    assert states2[-1].get("ttls", {}) == {}, "the rollback left TTL overrides behind"

    # --- every query answered, correctly, in plan order ---
    lost = [a for a in answers if a.rcode == -1]
    assert querier.errors == [], querier.errors
    assert len(answers) > 2000, f"the querier only made {len(answers)} queries"
    assert not lost, (f"{len(lost)} of {len(answers)} queries unanswered after one retry, first "
                      f"at +{lost[0].at - answers[0].at:.2f}s for {lost[0].name}")
    retried = sum(a.retried for a in answers)
    bad = [a for a in answers if a.rcode != 0 or (a.name in MANAGED_NAMES and not a.addresses)]
    assert not bad, "bad answers: " + "; ".join(
        f"{a.name} {dns.rcode.to_text(a.rcode)} {sorted(a.addresses)}" for a in bad[:10])
    problems = check_timeline(answers, states1 + states2[1:], inventory_ttl=1)
    assert not problems, f"{len(problems)} answers not as planned:\n" + "\n".join(problems[:15])
    # The same over TCP on ::1.
    tcp_answers = list(tcp_querier.answers)
    assert not tcp_querier.errors, tcp_querier.errors
    assert len(tcp_answers) > 400, f"only {len(tcp_answers)} TCP queries"
    tcp_bad = [a for a in tcp_answers if a.rcode != 0 or (a.name in MANAGED_NAMES and not a.addresses)]
    assert not tcp_bad, "bad TCP/IPv6 answers: " + "; ".join(
        f"{a.name} {a.rcode} {sorted(a.addresses)}" for a in tcp_bad[:10])
    problems = check_timeline(tcp_answers, states1 + states2[1:], inventory_ttl=1)
    assert not problems, "TCP/IPv6: " + "\n".join(problems[:15])
    # The querier really saw the move in both directions.
    for i in BROKER_IDS:
        seen = Counter(a.addresses for a in answers[:mid_answers] if a.name == broker_name(i))
        assert frozenset([POD[i]]) in seen and frozenset([VM[i]]) in seen, \
            f"broker-{i} during apply: {dict(seen)}"
        later = Counter(a.addresses for a in answers[mid_answers:] if a.name == broker_name(i))
        assert frozenset([VM[i]]) in later, f"broker-{i} during rollback: {dict(later)}"
    # TTLs: never above the inventory's 1 s.
    ttls = Counter(a.ttl for a in answers if a.name in MANAGED_NAMES)
    assert set(ttls) <= {0, 1}, f"answer TTLs {dict(ttls)}"

    # --- SOA serial: never backwards, one step per generation ---
    serials = [a.serial for a in answers if a.serial is not None]
    assert len(serials) > 20
    backwards = [(x, y) for x, y in zip(serials, serials[1:]) if y != x and not serial_after(y, x)]
    assert not backwards, f"SOA serial went backwards: {backwards[:5]}"
    gens1 = committed_generations(progress1)
    gens2 = committed_generations(progress2)
    assert sorted(gens1) == list(range(len(plan1["steps"]))), gens1
    assert sorted(gens2) == list(range(len(plan2["steps"]))), gens2
    numbers = [gens1[k] for k in sorted(gens1)] + [gens2[k] for k in sorted(gens2)]
    assert numbers == list(range(g0 + 1, g0 + 1 + len(numbers))), \
        f"generations of the two runs are not consecutive after {g0}: {numbers}"
    end = admin.generation()
    assert end["number"] == numbers[-1]
    assert d.soa_serial() == (serial0 + len(numbers)) & 0xFFFFFFFF, \
        f"serial {serial0} + {len(numbers)} generations != {d.soa_serial()}"
    assert not served_state_problems(d, all_in("vm"))
    names = {n["name"]: n for n in admin.status()["names"]}
    assert all(names[n]["ttl"] == 1 for n in MANAGED_NAMES), \
        f"TTLs not restored: { {n: names[n]['ttl'] for n in MANAGED_NAMES} }"

    _, metrics = admin.request("GET", "/metrics")
    assert re.search(rf"^switchyard_generation {numbers[-1]}(\.0)?$", metrics, re.M), metrics[:1500]
    assert re.search(rf'^switchyard_zone_serial\{{zone="example.test."\}} {d.soa_serial()}(\.0)?$',
                     metrics, re.M), metrics[:1500]

    # --- the journal, as `history` shows it ---
    h = cli(d, "history", "--cluster", "orders", "--limit", "100")
    assert h.returncode == 0, describe_run(h)
    listed = history_numbers(h.stdout)
    missing = [n for n in [g0] + numbers if n not in listed]
    assert not missing, f"generations {missing} not in `history --cluster orders`:\n{h.stdout}"
    assert listed == sorted(listed, reverse=True), f"history not newest first: {listed}"
    st = cli(d, "status")
    assert st.returncode == 0 and f"generation {numbers[-1]}" in st.stdout, describe_run(st)
    print(f"{len(answers)} queries ({retried} retried) over {answers[-1].at - answers[0].at:.1f}s, "
          f"generations {g0}..{numbers[-1]}")


@pytest.mark.parametrize("how", ["no-listener", "gate-command"])
def test_gate_failure_stops_and_keeps_previous_step(deployments, broker_listeners, how, tmp_path):
    skip = [POD[2]] if how == "no-listener" else []
    port, listeners = broker_listeners(ALL_TARGETS, skip=skip)
    d = deployments(orders_zones(port, ttl=1))
    admin = d.admin
    g0 = admin.generation()["number"]
    gate_log = tmp_path / "gates"
    extra = (["--gate", f"echo {{broker}} {{target}} {{port}} {{cluster}} >> {gate_log}; "
                        "test {broker} != 2"] if how == "gate-command" else [])
    r = cli(d, "cutover", "apply", "orders", "--to", "pod", "--batch", "1", "--ramp", "100",
            *FAST, *extra)
    assert r.returncode == 1, describe_run(r)
    text = r.stdout + r.stderr
    assert re.search(r"broker[- ]2\b", text), f"the failure does not name broker 2:\n{text}"
    if how == "no-listener":
        assert "127.0.0.22" in text, f"the failure does not name the target 127.0.0.22:\n{text}"
    run = admin.run()
    progress = run["progress"]
    assert progress["status"] == "failed" and not run["active"], run
    plan = progress["plan"]
    failed = progress["nextStep"]
    step = plan["steps"][failed]
    assert step["kind"] == "moveBrokers" and any(g.get("broker") == 2 for g in step["gates"]), \
        f"run stopped at step {failed} ({step['title']}), expected the move of broker 2"
    gens = committed_generations(progress)
    assert sorted(gens) == list(range(failed)), f"committed steps {gens}, failed at {failed}"
    current = admin.generation()
    assert current["number"] == (gens[failed - 1] if failed else g0), \
        f"served generation {current['number']}, committed {gens}"
    previous = plan_states(plan)[failed]
    assert current["state"] == previous, "served state is not the previous step's"
    problems = served_state_problems(d, previous)
    assert not problems, problems
    assert d.ask(broker_name(2)) == (0, frozenset([VM[2]]))
    st = cli(d, "cutover", "status", "orders")
    assert st.returncode == 0 and "failed" in st.stdout, describe_run(st)
    if how == "gate-command":
        lines = gate_log.read_text().splitlines()
        assert lines == [f"1 {POD[1]} {port} orders", f"2 {POD[2]} {port} orders"], lines

    if how == "no-listener":
        # The target comes up: resume finishes the plan.
        listeners[POD[2]].open()
        res = cli(d, "cutover", "resume", "orders")
        assert res.returncode == 0, describe_run(res) + f"\n{d.server.describe()}"
        assert admin.run()["progress"]["status"] == "completed"
        assert not served_state_problems(d, all_in("pod"))


def test_unreachable_admin_is_a_clear_error(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port))
    closed = free_port()
    for args in (["status"], ["history"], ["cutover", "status", "orders"],
                 ["shift", "orders", "broker-1", "--to", "pod"]):
        r = cli(d, *args, admin=f"127.0.0.1:{closed}", timeout=60)
        assert r.returncode == 1, describe_run(r)
        assert f"127.0.0.1:{closed}" in r.stderr, f"the error does not say where:\n{r.stderr}"
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 3, r.stderr
    assert d.ask(broker_name(1)) == (0, frozenset([VM[1]]))


def test_rollback_last_change_and_plan_only(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    s = cli(d, "shift", "orders", "broker-1", "--to", "pod", "--reason", "e2e")
    assert s.returncode == 0, describe_run(s)
    assert d.ask(broker_name(1)) == (0, frozenset([POD[1]]))
    shifted = d.admin.generation()
    p = cli(d, "rollback", "orders", "--steps", "1", "--plan-only", *FAST)
    assert p.returncode == 0 and "broker-1" in p.stdout, describe_run(p)
    assert d.admin.generation()["number"] == shifted["number"], "--plan-only changed something"
    assert d.ask(broker_name(1)) == (0, frozenset([POD[1]]))
    r = cli(d, "rollback", "orders", "--steps", "1", *FAST)
    assert r.returncode == 0, describe_run(r)
    assert d.ask(broker_name(1)) == (0, frozenset([VM[1]]))
    end = d.admin.generation()
    assert end["number"] > shifted["number"], "a rollback is a new generation"
    assert end["state"]["brokerPools"] == all_in("vm")["brokerPools"]
    assert not served_state_problems(d, all_in("vm"))


def test_partial_broker_weights_refused(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    before = d.admin.generation()["number"]
    r = cli(d, "shift", "--name", broker_name(1), "--weights", "vm=50,pod=50")
    assert r.returncode == 1, describe_run(r)
    assert "exclusive" in r.stderr, f"no clear reason:\n{r.stderr}"
    status, reply = d.admin.request("POST", "/v1/shift", {
        "request": {"weights": {"name": broker_name(1), "weights": {"vm": 50, "pod": 50}}},
        "actor": "pytest", "reason": "partial"})
    assert status == 400 and "exclusive" in json.dumps(reply), (status, reply)
    assert d.admin.generation()["number"] == before
    assert d.ask(broker_name(1)) == (0, frozenset([VM[1]]))


def test_ttl_lowered_waited_out_and_restored(deployments, broker_listeners, tmp_path):
    """Inventory TTL 2 s, cutover TTL 1 s: answers carry TTL 2, then 1 from the first step,
    the first broker moves no sooner than the old TTL (2 s) after the TTL went down, and TTL 2
    comes back at the end; every answer's TTL is its state's."""
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=2))
    querier = Querier(d.port, MANAGED_NAMES, rate=400).start()
    try:
        drains = tmp_path / "drains"
        r = cli(d, "cutover", "apply", "orders", "--to", "pod", "--batch", "3", "--ramp", "100",
                "--cutover-ttl", "1", "--jvm-cache", "1", "--verify-timeout", "10",
                "--drain", f"echo {{broker}} {{old_target}} {{new_target}} {{cluster}} >> {drains}")
        time.sleep(0.3)
    finally:
        querier.stop()
    assert r.returncode == 0, describe_run(r)
    plan = d.admin.run()["progress"]["plan"]
    kinds = [s["kind"] for s in plan["steps"]]
    assert kinds[0] == "lowerTTL" and kinds[-1] == "restoreTTL", kinds
    move = kinds.index("moveBrokers")
    assert plan["steps"][move]["waitBefore"] >= 2, plan["steps"][move]
    answers = list(querier.answers)
    assert not querier.errors and all(a.rcode == 0 for a in answers), querier.errors
    problems, first_seen = timeline(answers, plan_states(plan), inventory_ttl=2)
    assert not problems, "\n".join(problems[:15])
    lowered, moved = first_seen.get(1), first_seen.get(move + 1)
    assert lowered is not None and moved is not None, f"states seen first at {first_seen}"
    assert moved - lowered >= 2 - 0.15, (
        f"brokers moved {moved - lowered:.2f}s after the TTL went down to 1 s; clients could "
        f"still hold the 2 s answers")
    restored = first_seen.get(len(plan["steps"]))
    assert restored is not None and restored > moved, first_seen
    lines = sorted(drains.read_text().splitlines()) if drains.exists() else []
    assert lines == [f"{i} {VM[i]} {POD[i]} orders" for i in BROKER_IDS], f"drain runs: {lines}"
    ttls = [a.ttl for a in answers if a.name == broker_name(1)]
    assert ttls[0] == 2 and ttls[-1] == 2 and 1 in ttls, f"broker-1 TTLs {sorted(set(ttls))}"


class StaleVerifier:
    """A DNS 'serving instance' on 127.0.0.1 (UDP) that relays every query to the real server
    except the A query of one name, which it answers with a fixed stale address: the instance
    a cutover verifies against but that did not pick the change up."""

    def __init__(self, upstream_port: int, stale_name: str, stale_address: str):
        import socket
        import threading
        self.upstream = upstream_port
        self.stale_name = stale_name.lower()
        self.stale_address = stale_address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stale_answers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import socket
        import dns.message
        import dns.rrset
        from conftest import udp_exchange
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
                q = query.question[0]
            except Exception:
                continue
            if q.name.to_text().lower() == self.stale_name and q.rdtype == 1:
                reply = dns.message.make_response(query)
                reply.flags |= dns.flags.AA
                reply.answer.append(dns.rrset.from_text(q.name, 1, "IN", "A", self.stale_address))
                out = reply.to_wire()
                self.stale_answers += 1
            else:
                out = udp_exchange("127.0.0.1", self.upstream, data, timeout=1.0)
                if out is None:
                    continue
            try:
                self.sock.sendto(out, peer)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def test_verify_failure_rolls_the_step_back(deployments, broker_listeners):
    """A serving instance keeps answering broker-2's vm address: the step that moves broker 2
    commits, fails verification, and is rolled back as a new generation holding the previous
    step's state; exit 1 names the name, the instance and what it answered."""
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1), start=False)
    # The verifier needs the server's port, the server the verifier's: start, then restart.
    d.start()
    verifier = StaleVerifier(d.port, broker_name(2), VM[2])
    try:
        d.stop()
        d.extra_args = ["--verify-server", f"127.0.0.1:{verifier.port}"]
        # Same DNS port is not guaranteed: the verifier follows the restarted server.
        d.start()
        verifier.upstream = d.port
        admin = d.admin
        g0 = admin.generation()["number"]
        r = cli(d, "cutover", "apply", "orders", "--to", "pod", "--batch", "1", "--ramp", "100",
                "--cutover-ttl", "1", "--jvm-cache", "1", "--verify-timeout", "2")
    finally:
        verifier.close()
    assert r.returncode == 1, describe_run(r) + f"\n{d.server.describe()}"
    text = r.stdout + r.stderr
    assert "verify" in text and broker_name(2) in text and VM[2] in text, \
        f"the failure should name the name, what was answered and what was expected:\n{text}"
    assert f"127.0.0.1:{verifier.port}" in text, f"the failure does not name the instance:\n{text}"
    run = admin.run()
    progress = run["progress"]
    assert progress["status"] == "failed", run
    plan = progress["plan"]
    failed = progress["nextStep"]
    step = plan["steps"][failed]
    assert step["kind"] == "moveBrokers" and broker_name(2) in [c["name"] for c in step["changes"]], step
    states = plan_states(plan)
    current = admin.generation()
    assert current["state"] == states[failed], "not rolled back to the previous step's state"
    assert d.ask(broker_name(2)) == (0, frozenset([VM[2]]))
    assert not served_state_problems(d, states[failed])
    # The journal: the failed step's generation, then the roll-back generation.
    history = [e["generation"] for e in admin.ok("GET", "/v1/history?cluster=orders&limit=50")]
    after = sorted((g for g in history if g["number"] > g0), key=lambda g: g["number"])
    assert [g["state"] for g in after] == states[1:failed + 2] + [states[failed]], \
        [(g["number"], g["reason"]) for g in after]
    assert current["number"] == after[-1]["number"]
