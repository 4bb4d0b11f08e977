"""Crashes and interruptions during a cutover of cluster `orders` (see test_cutover_e2e.py for
the setup): the run lives in the server and the journal, so

- kill -9 of the server after a step committed: restarted on the same --state it serves
  exactly the journal's last committed generation (generation number, SOA serial, answers),
  `cutover status` says the run is not completed, and `cutover resume` finishes the plan with
  every query answered meanwhile;
- kill -9 of the CLI mid-apply: the server finishes the run on its own;
- SIGINT (Ctrl-C) to the CLI: the run pauses at a step boundary (exit 3), nothing is committed
  while paused, and `cutover resume` finishes it.
"""

from __future__ import annotations

import signal
import time

import dns.rcode
import pytest

from conftest import backend
from cutoverkit import (  # noqa: F401  (fixtures)
    ALL_TARGETS,
    MANAGED_NAMES,
    ORIGIN,
    POD,
    Querier,
    VM,
    all_in,
    broker_listeners,
    check_timeline,
    cli,
    cli_available,
    cli_processes,
    committed_generations,
    deployments,
    describe_run,
    orders_zones,
    plan_states,
    serial_after,
    served_state_problems,
    wait_for_run,
)

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="the cutover controller is switchyard's own")

# Dwell 3 s after each move/ramp step: a comfortable window to act right after a commit.
APPLY = ["cutover", "apply", "orders", "--to", "pod", "--batch", "2", "--ramp", "100",
         "--cutover-ttl", "1", "--jvm-cache", "1", "--dwell", "3", "--verify-timeout", "10"]
STEP_TIMEOUT = 30.0


@pytest.fixture(scope="module", autouse=True)
def _cli_present():
    if not cli_available():
        pytest.fail("`switchyard cutover --help` does not work: the CLI is missing from the "
                    "binary under test", pytrace=False)


def first_move_committed(run: dict) -> bool:
    progress = run.get("progress") or {}
    return 1 in committed_generations(progress)


def test_server_kill9_mid_cutover_then_resume(deployments, broker_listeners, cli_processes):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    admin = d.admin
    g0 = admin.generation()["number"]
    apply = cli_processes(d, *APPLY, tag="apply")
    run = wait_for_run(admin, first_move_committed, STEP_TIMEOUT)
    assert run is not None, f"step 1 never committed\n{apply.output()}\n{d.server.describe()}"
    d.crash()
    seen = committed_generations(run["progress"])
    plan = run["progress"]["plan"]

    # The CLI loses its server: it must not claim success.
    code = apply.wait(timeout=20)
    assert code is not None, f"the CLI kept running 20 s after its server died\n{apply.output()}"
    assert code != 0, f"the CLI exited 0 although its server died mid-run\n{apply.output()}"

    journal_number, journal_serials = d.journal_latest()
    assert journal_number >= max(seen.values()), (journal_number, seen)

    d.start()
    admin = d.admin
    current = admin.generation()
    assert current["number"] == journal_number, \
        f"after restart serving generation {current['number']}, journal's last is {journal_number}"
    assert d.soa_serial() == journal_serials[ORIGIN], \
        f"SOA serial {d.soa_serial()} != journal's {journal_serials[ORIGIN]}"
    run = admin.run()
    progress = run["progress"]
    assert progress["status"] != "completed" and not run["active"], run
    gens = committed_generations(progress)
    last_step = max(k for k, g in gens.items())
    assert gens[last_step] == journal_number, f"run's committed steps {gens}, journal {journal_number}"
    states = plan_states(plan)
    assert current["state"] == states[last_step + 1], "served state is not the last committed step's"
    problems = served_state_problems(d, states[last_step + 1])
    assert not problems, problems
    assert progress["nextStep"] == last_step + 1 < len(plan["steps"]), progress["nextStep"]

    st = cli(d, "cutover", "status", "orders")
    assert st.returncode == 0, describe_run(st)
    head = st.stdout.splitlines()[0] if st.stdout else ""
    assert "completed" not in head, f"`cutover status` after the crash:\n{st.stdout}"
    total = len(plan["steps"])
    assert f"{last_step + 1}/{total}" in head, f"`cutover status` should say {last_step + 1}/{total} steps:\n{st.stdout}"

    querier = Querier(d.port, MANAGED_NAMES, rate=300).start()
    try:
        res = cli(d, "cutover", "resume", "orders")
    finally:
        querier.stop()
    assert res.returncode == 0, describe_run(res) + f"\n{d.server.describe()}"
    run = admin.run()
    assert run["progress"]["status"] == "completed", run
    gens = committed_generations(run["progress"])
    assert sorted(gens) == list(range(total)), gens
    numbers = [gens[k] for k in sorted(gens)]
    assert numbers == list(range(g0 + 1, g0 + 1 + total)), \
        f"generations of the run {numbers}: a step was committed twice or skipped"
    assert not served_state_problems(d, all_in("pod"))
    answers = querier.answers
    assert not querier.errors, querier.errors
    bad = [a for a in answers if a.rcode != 0 or (a.name in MANAGED_NAMES and not a.addresses)]
    assert not bad, [(a.name, dns.rcode.to_text(a.rcode) if a.rcode >= 0 else "LOST",
                      sorted(a.addresses)) for a in bad[:10]]
    problems = check_timeline(answers, states[last_step + 1:])
    assert not problems, "\n".join(problems[:15])
    serials = [a.serial for a in answers if a.serial is not None]
    assert all(y == x or serial_after(y, x) for x, y in zip(serials, serials[1:])), serials


def test_cli_kill9_mid_apply_server_finishes(deployments, broker_listeners, cli_processes):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    admin = d.admin
    apply = cli_processes(d, *APPLY, tag="apply")
    run = wait_for_run(admin, first_move_committed, STEP_TIMEOUT)
    assert run is not None, f"step 1 never committed\n{apply.output()}\n{d.server.describe()}"
    # One run per cluster: a second apply (or rollback) is refused while this one runs.
    for args in (APPLY, ["rollback", "orders", "--cutover-ttl", "1", "--jvm-cache", "1"]):
        second = cli(d, *args)
        assert second.returncode == 1 and "already" in second.stderr, describe_run(second)
    apply.proc.send_signal(signal.SIGKILL)
    assert apply.wait(timeout=5) == -signal.SIGKILL
    total = len(run["progress"]["plan"]["steps"])
    done = wait_for_run(admin, lambda r: r["progress"]["status"] != "running" or not r["active"],
                        timeout=40)
    assert done is not None, f"the run did not finish: {admin.run()}\n{d.server.describe()}"
    assert done["progress"]["status"] == "completed", done
    assert sorted(committed_generations(done["progress"])) == list(range(total))
    assert not served_state_problems(d, all_in("pod"))
    st = cli(d, "cutover", "status", "orders")
    assert st.returncode == 0 and "completed" in st.stdout, describe_run(st)


def test_sigint_pauses_at_step_boundary_then_resume(deployments, broker_listeners, cli_processes):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    admin = d.admin
    apply = cli_processes(d, *APPLY, tag="apply")
    run = wait_for_run(admin, first_move_committed, STEP_TIMEOUT)
    assert run is not None, f"step 1 never committed\n{apply.output()}\n{d.server.describe()}"
    apply.proc.send_signal(signal.SIGINT)
    code = apply.wait(timeout=30)
    assert code == 3, f"Ctrl-C should pause and exit 3\n{apply.output()}"
    run = admin.run()
    progress = run["progress"]
    assert progress["status"] == "paused" and not run["active"], run
    total = len(progress["plan"]["steps"])
    assert 2 <= progress["nextStep"] < total, progress["nextStep"]
    gens = committed_generations(progress)
    assert sorted(gens) == list(range(progress["nextStep"])), gens
    number = admin.generation()["number"]
    assert number == gens[progress["nextStep"] - 1]
    state = plan_states(progress["plan"])[progress["nextStep"]]
    assert not served_state_problems(d, state)
    time.sleep(2.5)   # longer than a step's wait: nothing may happen while paused
    assert admin.generation()["number"] == number, "a generation was committed while paused"
    st = cli(d, "cutover", "status", "orders")
    assert st.returncode == 0 and "paused" in st.stdout, describe_run(st)
    res = cli(d, "cutover", "resume", "orders")
    assert res.returncode == 0, describe_run(res)
    run = admin.run()
    assert run["progress"]["status"] == "completed", run
    assert sorted(committed_generations(run["progress"])) == list(range(total))
    assert not served_state_problems(d, all_in("pod"))


def test_pause_command_then_resume(deployments, broker_listeners, cli_processes):
    """`switchyard cutover pause` from another terminal: the following `apply` exits 3."""
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    admin = d.admin
    apply = cli_processes(d, *APPLY, tag="apply")
    run = wait_for_run(admin, first_move_committed, STEP_TIMEOUT)
    assert run is not None, f"step 1 never committed\n{apply.output()}\n{d.server.describe()}"
    p = cli(d, "cutover", "pause", "orders")
    # `pause` may wait for the boundary and report it like apply does (3 = paused).
    assert p.returncode in (0, 3), describe_run(p)
    code = apply.wait(timeout=30)
    assert code == 3, f"a paused run should end `apply` with exit 3\n{apply.output()}"
    run = admin.run()
    assert run["progress"]["status"] == "paused" and not run["active"], run
    again = cli(d, "cutover", "pause", "orders")
    assert again.returncode == 0 and "is already paused" in again.stdout, f"pausing a paused run says so\n{describe_run(again)}"
    res = cli(d, "cutover", "resume", "orders", "--detach")
    assert res.returncode == 0, describe_run(res)
    done = wait_for_run(admin, lambda r: not r["active"] and r["progress"]["status"] != "running",
                        timeout=40)
    assert done is not None and done["progress"]["status"] == "completed", done
    assert not served_state_problems(d, all_in("pod"))


def test_repeated_server_kill9_converges(deployments, broker_listeners):
    """kill -9 the server at seeded random moments of a run, over and over, resuming after
    each restart: every restart serves the journal's last generation, which is always one of
    the plan's states, and the finished run committed each step exactly once, in order."""
    import random
    rng = random.Random(0xC0FFEE)
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    admin = d.admin
    g0 = admin.generation()["number"]
    r = cli(d, "cutover", "apply", "orders", "--to", "pod", "--batch", "1", "--ramp", "50,100",
            "--cutover-ttl", "1", "--jvm-cache", "1", "--verify-timeout", "10", "--detach")
    assert r.returncode == 0, describe_run(r)
    plan = admin.run()["progress"]["plan"]
    states = plan_states(plan)
    kills = 0
    for _ in range(6):
        run = admin.run()
        if run["progress"]["status"] == "completed":
            break
        if not run["active"]:
            res = cli(d, "cutover", "resume", "orders", "--detach")
            assert res.returncode == 0, describe_run(res) + f"\n{d.server.describe()}"
        time.sleep(rng.uniform(0.1, 1.6))
        d.crash()
        kills += 1
        number, serials = d.journal_latest()
        d.start()
        admin = d.admin
        current = admin.generation()
        assert current["number"] == number, f"kill {kills}: serving {current['number']}, journal {number}"
        assert d.soa_serial() == serials[ORIGIN]
        assert current["state"] in states, f"kill {kills}: served state is none of the plan's"
        problems = served_state_problems(d, current["state"])
        assert not problems, f"kill {kills}: {problems}"
    if admin.run()["progress"]["status"] != "completed":
        res = cli(d, "cutover", "resume", "orders")
        assert res.returncode == 0, describe_run(res) + f"\n{d.server.describe()}"
    done = admin.run()
    assert done["progress"]["status"] == "completed", done
    history = [e["generation"] for e in admin.ok("GET", "/v1/history?cluster=orders&limit=100")]
    after = sorted((g for g in history if g["number"] > g0), key=lambda g: g["number"])
    assert [g["state"] for g in after] == states[1:], (
        f"after {kills} kills the journal holds {len(after)} generations for a plan of "
        f"{len(states) - 1} steps: a step was committed twice, skipped or out of order")
    assert not served_state_problems(d, all_in("pod"))
    print(f"{kills} kills")
