"""What an operator under pressure types wrong, and what Switchyard must answer then.

- `cutover status|pause|resume` of a misspelt cluster names the clusters (as `cutover plan`
  does) instead of answering "no cutover runs" or "no running cutover", which reads as if the
  runs were lost; a real cluster without runs still says it has none.
- `rollback --steps K` counts only generations that can be undone: a cluster with no change
  since the journal's initial state says so, and K too large names the most that can be undone.
- `rollback CLUSTER` while a rollback of it is paused names the commands that work
  (`cutover resume`, `rollback --run N`), not `rollback CLUSTER` again, and `--run N` works.
- `discovery publish` gives each inventory its zone's origin (the SOA owner / `$ORIGIN`), like
  `serve` does, not the origin its file name implies: `kafka.zone` with `$ORIGIN kafka.example.`
  publishes `bootstrap.orders.kafka.example`, the name the server answers.
- `check --zones` given a file or a missing directory says which, and what --zones wants.
- A weighted name whose only IPv6 targets are in a zero-weight pool answers AAAA with them
  (the example's schema-registry), never NODATA; A queries still go to the weighted pool.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from conftest import backend, make_query, switchyard_bin
from cutoverkit import (  # noqa: F401  (fixtures)
    ALL_TARGETS,
    FAST,
    POD,
    VM,
    broker_listeners,
    cli,
    deployments,
    describe_run,
    orders_zones,
    wait_for_run,
)
from stablekit import aaaa_set, parse_reply, zone_text

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="the control plane is switchyard's own")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(switchyard_bin()), *args], cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def test_misspelt_cluster_is_named_by_status_pause_and_resume(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port))
    for command in (["cutover", "status", "ordrs"], ["cutover", "pause", "ordrs"],
                    ["cutover", "resume", "ordrs"], ["cutover", "pause", "ordrs", "--wait"]):
        r = cli(d, *command)
        assert r.returncode == 1, describe_run(r)
        assert "no cluster named ordrs" in r.stderr and "orders" in r.stderr.split("ordrs", 1)[1], describe_run(r)
    # The real cluster, which has no runs yet, still says so.
    r = cli(d, "cutover", "status", "orders")
    assert r.returncode == 1 and "cluster orders has no cutover runs" in r.stderr, describe_run(r)
    r = cli(d, "cutover", "resume", "orders")
    assert r.returncode == 1 and "cluster orders has no cutover to resume" in r.stderr, describe_run(r)


def test_rollback_steps_counts_only_generations_that_can_be_undone(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port))
    r = cli(d, "rollback", "orders", "--steps", "1", "--plan-only")
    assert r.returncode == 1, describe_run(r)
    assert "no generation to undo" in r.stderr and "smaller --steps" not in r.stderr, describe_run(r)

    for broker in (1, 2):
        r = cli(d, "shift", "orders", f"broker-{broker}", "--to", "pod")
        assert r.returncode == 0, describe_run(r)
    r = cli(d, "rollback", "orders", "--steps", "3", "--plan-only")
    assert r.returncode == 1, describe_run(r)
    assert "has 2 generations to undo" in r.stderr and "--steps 2 or less" in r.stderr, describe_run(r)
    r = cli(d, "rollback", "orders", "--steps", "2", "--plan-only")
    assert r.returncode == 0 and "move broker-1 to vm" in r.stdout and "move broker-2 to vm" in r.stdout, describe_run(r)


def test_rollback_while_a_rollback_is_paused_names_commands_that_work(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port))
    r = cli(d, "cutover", "apply", "orders", "--to", "pod", *FAST)
    assert r.returncode == 0, describe_run(r)
    # A rollback whose steps wait 30 s (the JVM cache): paused while it waits before step 2.
    r = cli(d, "rollback", "orders", "--cutover-ttl", "1", "--jvm-cache", "30", "--detach")
    assert r.returncode == 0, describe_run(r)
    rollback_id = int(r.stdout.split("run ", 1)[1].split()[0])
    # While it runs, a cutover is refused for it; it used to be planned from the state the
    # rollback is changing and answered "nothing to do".
    r = cli(d, "cutover", "apply", "orders", "--to", "pod", *FAST)
    assert r.returncode == 1 and f"a run is already active for cluster orders: run {rollback_id}" in r.stderr, describe_run(r)
    r = cli(d, "cutover", "pause", "orders", "--wait", "--timeout", "60")
    assert r.returncode == 0, describe_run(r)

    r = cli(d, "rollback", "orders", "--plan-only")
    assert r.returncode == 0, describe_run(r)
    # A cutover is refused for the paused run, not planned from the state it left.
    r = cli(d, "cutover", "apply", "orders", "--to", "pod", *FAST)
    assert r.returncode == 1 and f"run {rollback_id} (a rollback, paused)" in r.stderr, describe_run(r)
    r = cli(d, "rollback", "orders", *FAST)
    assert r.returncode == 1, describe_run(r)
    assert f"run {rollback_id} (a rollback, paused)" in r.stderr, describe_run(r)
    assert f"`switchyard rollback orders --run {rollback_id}`" in r.stderr, describe_run(r)
    assert "or `switchyard rollback orders` to undo it" not in r.stderr, describe_run(r)

    # The command it names works: back to the state before the rollback (all in pod).
    r = cli(d, "rollback", "orders", "--run", str(rollback_id), *FAST)
    assert r.returncode == 0, describe_run(r)
    # Nothing to resume now; the message calls the run what it is (it said "cutover N").
    r = cli(d, "cutover", "resume", "orders")
    assert r.returncode == 1 and f"rollback {rollback_id + 1} of cluster orders is already completed" in r.stderr, describe_run(r)
    for broker, address in POD.items():
        assert d.ask(f"broker-{broker}.orders.example.test.") == (0, frozenset({address}))


def test_discovery_publish_uses_the_zone_origin_not_the_file_name(tmp_path):
    zones = tmp_path / "zones"
    zones.mkdir()
    # The file is kafka.zone, the zone kafka.example. (its $ORIGIN and SOA owner).
    (zones / "kafka.zone").write_text(zone_text("kafka.example"))
    (zones / "kafka.yaml").write_text(
        "clusters:\n  orders:\n    port: 9092\n    discovery: { type: standard, zookeeper: 'zk:2181' }\n"
        "    pools: [vm, pod]\n    brokers:\n      1: { vm: 10.0.1.11, pod: 10.8.1.11 }\n")
    r = run("check", "--zones", str(zones), cwd=tmp_path)
    assert r.returncode == 0 and "kafka.example.: ok" in r.stdout, r.stderr
    r = run("discovery", "publish", "--zones", str(zones), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    published = (tmp_path / "out" / "standard.yaml").read_text()
    assert "- bootstrap.orders.kafka.example:9092" in published, published


def test_check_says_what_is_wrong_with_the_zones_argument(tmp_path):
    zone_file = tmp_path / "example.test.zone"
    zone_file.write_text(zone_text("example.test"))
    r = run("check", "--zones", str(zone_file), cwd=tmp_path)
    assert r.returncode == 1 and "a file, not a directory" in r.stderr and "NSCocoaErrorDomain" not in r.stderr, r.stderr
    r = run("check", "--zones", str(tmp_path / "missing"), cwd=tmp_path)
    assert r.returncode == 1 and "no such directory" in r.stderr, r.stderr
    assert "--zones names the directory" in r.stderr, r.stderr


def test_zero_weight_pool_answers_aaaa_when_no_weighted_pool_has_ipv6(deployments):
    inventory = ("names:\n  registry:\n    pools:\n"
                 "      vm:  { weight: 100, targets: [10.0.2.5, 10.0.2.6] }\n"
                 "      pod: { weight: 0, targets: [10.8.2.5, 'fd00:8:2::5'] }\n")
    d = deployments({"example.test.zone": zone_text("example.test"), "example.test.yaml": inventory})
    for _ in range(20):
        data = d.server.raw(make_query("registry.example.test.", "AAAA").to_wire())
        assert data is not None
        _qid, rcode, records = parse_reply(data)
        assert rcode == 0 and aaaa_set(records) == frozenset({"fd00:8:2::5"}), records
        rcode, addresses = d.ask("registry.example.test.")
        assert rcode == 0 and addresses == frozenset({"10.0.2.5", "10.0.2.6"})


@pytest.mark.parametrize("args, command", [
    (["shift", "orders", "broker-x", "--to", "pod"], "shift"),
    (["shift", "orders", "bootstrap", "--weights", "vm=75,pod"], "shift"),
    (["cutover", "plan", "orders", "--to", "pod", "--brokers", "x"], "cutover plan"),
    (["cutover", "apply", "orders", "--to", "pod", "--ramp", "abc"], "cutover apply"),
    (["rollback", "orders", "--ramp", "1,x"], "rollback"),
])
def test_argument_mistakes_point_at_the_subcommand_help(tmp_path, args, command):
    """They used to be found in run(), so ArgumentParser printed the top level's usage
    (`Usage: switchyard <subcommand>`, `See 'switchyard --help'`)."""
    r = run(*args, "--admin", "127.0.0.1:9", cwd=tmp_path)
    assert r.returncode == 64, r.stderr
    assert f"See 'switchyard {command} --help'" in r.stderr, r.stderr
    assert "cannot" not in r.stderr, "validated before any admin request: " + r.stderr


def cutover_waiting_out_the_old_ttl(deployments, broker_listeners):
    """A deployment (inventory TTL 5) whose cutover to pod has lowered the TTLs to 1 and now
    waits out the old 5 s before it moves broker-1."""
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=5))
    r = cli(d, "cutover", "apply", "orders", "--to", "pod", "--cutover-ttl", "1", "--jvm-cache", "1",
            "--verify-timeout", "20", "--detach")
    assert r.returncode == 0, describe_run(r)
    wait_for_run(d.admin, lambda run: run["progress"]["nextStep"] >= 1, timeout=20)
    return d


def test_sighup_removing_a_broker_mid_cutover_stops_the_run_before_its_next_step(deployments, broker_listeners):
    """The next step used to be committed anyway: it wrote broker-3's state back into the
    journal and then waited the whole verify timeout for broker-3 to answer (NXDOMAIN), rolled
    back broker-1's valid move and failed with a message about rcode 3."""
    # TTL 5 lowered to 1 by step 1; broker-1 moves only after the old TTL's 5 s: SIGHUP then.
    d = cutover_waiting_out_the_old_ttl(deployments, broker_listeners)
    inventory = d.server.zone_dir / "example.test.yaml"
    inventory.write_text("\n".join(line for line in inventory.read_text().splitlines()
                                   if not line.strip().startswith("3:")) + "\n")
    d.server.signal(signal.SIGHUP)
    run_status = wait_for_run(d.admin, lambda run: run["progress"]["status"] != "running", timeout=40)
    assert run_status is not None, "the run did not stop within 40 s"
    message = run_status["progress"]["message"]
    assert run_status["progress"]["status"] == "failed", message
    assert "broker-3.orders.example.test. is no longer in it" in message and "nothing of the step was committed" in message, message
    assert "rcode 3" not in message and "rolling back" not in message, message
    # Broker 1 was not moved, and the journal holds no state for the broker that left.
    assert d.ask("broker-1.orders.example.test.") == (0, frozenset({VM[1]}))
    state = d.admin.generation()["state"]
    assert not any(name.startswith("broker-3.") for section in state.values() for name in section), state
    # Undoing the stopped run works with the inventory as it is now (it restores the TTLs).
    r = cli(d, "rollback", "orders", *FAST)
    assert r.returncode == 0, describe_run(r)
    state = d.admin.generation()["state"]
    assert not any(name.startswith("broker-3.") for section in state.values() for name in section), state
    assert not state["loweredTTLs"], state


def test_a_shift_of_a_name_the_run_manages_is_not_undone_by_its_next_step(deployments, broker_listeners):
    """The next step used to write the plan's setting of every name it manages: broker-3,
    shifted to pod by hand while the run waited, silently went back to vm (generation 'step
    2/6 (move broker-1 to pod)' listed broker-3 pod -> vm) and later to pod again, ungated."""
    d = cutover_waiting_out_the_old_ttl(deployments, broker_listeners)
    r = cli(d, "shift", "orders", "broker-3", "--to", "pod")
    assert r.returncode == 0, describe_run(r)
    run_status = wait_for_run(d.admin, lambda run: run["progress"]["status"] != "running", timeout=40)
    assert run_status is not None, "the run did not stop within 40 s"
    message = run_status["progress"]["message"]
    assert run_status["progress"]["status"] == "failed", message
    assert "changed outside this run" in message and "broker-3.orders.example.test. is live=pod" in message, message
    # The shift stands, and the step that would have undone it committed nothing.
    assert d.ask("broker-3.orders.example.test.") == (0, frozenset({POD[3]}))
    assert d.ask("broker-1.orders.example.test.") == (0, frozenset({VM[1]}))


def test_a_second_server_on_a_served_address_exits_instead_of_sharing_it(deployments, tmp_path):
    """Our sockets set SO_REUSEPORT, so a second `serve` (its own --state, or one forgotten)
    used to bind the same --listen without a word and answer half the queries from its own
    journal."""
    d = deployments({"example.test.zone": zone_text("example.test")})
    other_zones = tmp_path / "zones"
    other_zones.mkdir()
    (other_zones / "example.test.zone").write_text(zone_text("example.test", ["www 60 IN A 192.0.2.99"]))
    command = [str(switchyard_bin()), "serve", "--zones", str(other_zones), "--listen", f"127.0.0.1:{d.port}",
               "--admin", "none", "--state", str(tmp_path / "state")]
    try:
        r = subprocess.run(command, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:  # subprocess.run killed it
        pytest.fail(f"a second server on 127.0.0.1:{d.port} kept running beside the first", pytrace=False)
    assert r.returncode == 1, r.stderr
    assert f"127.0.0.1:{d.port} (already served by another process" in r.stderr and "Address already in use" in r.stderr, r.stderr
    for _ in range(50):
        assert d.ask("www.example.test.")[0] == 3, "the first server's zone has no www"
