"""`switchyard discovery publish` output, loaded by Yelp's own kafka-utils.

Installs kafka-utils from PyPI into a virtual environment (or reuses $KAFKA_UTILS_VENV), runs
the real binary ($SWITCHYARD_BIN, default .build/debug/switchyard) on a temporary copy of the
example zones, and loads every published file with `kafka_utils.util.config`, the loader
kafka-utils' own tools use. Also checks atomic replacement under a reader in a tight loop, and
that unchanged output keeps its mtime.
"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import venv
from pathlib import Path

import pytest

from stablekit import zone_text

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SWITCHYARD_BIN", REPO / ".build" / "debug" / "switchyard")).resolve()

EDGE_INVENTORY = """\
clusters:
  v6:
    port: 9092
    discovery:
      type: edge
      zookeeper: '10.0.9.1:2181,10.0.9.2:2181/kafka-v6'
      broker_list: [kafka-2.v6.example:9092, '[fd00:8::11]:9092']
    pools: [vm, pod]
    brokers:
      1: { vm: 'fd00:0:1::11', pod: 'fd00:8::11' }
  yes:
    port: 9094
    discovery: { type: edge, zookeeper: zk.example:2181, local: true }
    pools: [vm]
    brokers:
      1: { vm: 10.0.7.1 }
"""

# What kafka-utils must see: {type: {cluster: (broker_list, zookeeper)}}, and the local cluster.
EXPECTED = {
    "standard": {
        "orders": (["bootstrap.orders.kafka.example:9092"], "zk-1.example:2181,zk-2.example:2181/kafka-orders"),
        "payments": (["bootstrap.payments.kafka.example:9093"], "zk-1.example:2181,zk-2.example:2181/kafka-payments"),
    },
    "edge": {
        "v6": (["[fd00:8::11]:9092", "kafka-2.v6.example:9092"], "10.0.9.1:2181,10.0.9.2:2181/kafka-v6"),
        "yes": (["bootstrap.yes.edge.example:9094"], "zk.example:2181"),
    },
}
EXPECTED_LOCAL = {"standard": "orders", "edge": "yes"}

LOADER = r"""
import json, sys
from kafka_utils.util.config import TopologyConfiguration, get_cluster_config, iter_configurations
base = sys.argv[1]
out = {}
for topology in iter_configurations(kafka_topology_base_path=base):
    clusters = {}
    for cluster in topology.get_all_clusters():
        same = get_cluster_config(topology.cluster_type, cluster.name, kafka_topology_base_path=base)
        assert same == cluster, (same, cluster)
        clusters[cluster.name] = [list(cluster.broker_list), cluster.zookeeper]
    local = None
    if topology.local_config:
        local = topology.get_local_cluster().name
        assert get_cluster_config(topology.cluster_type, kafka_topology_base_path=base).name == local
    out[topology.cluster_type] = {"clusters": clusters, "local": local}
print(json.dumps(out, sort_keys=True))
"""


def require_binary():
    if not BIN.exists():
        pytest.skip(f"{BIN} not built (set SWITCHYARD_BIN or run swift build)")
    probe = subprocess.run([str(BIN), "discovery", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"{BIN} has no 'discovery' subcommand yet")


@pytest.fixture(scope="module")
def kafka_utils_python(tmp_path_factory):
    """The python of a venv with kafka-utils installed."""
    env_dir = os.environ.get("KAFKA_UTILS_VENV")
    if env_dir:
        env_dir = Path(env_dir)
        if not (env_dir / "bin" / "python").exists():
            venv.create(env_dir, with_pip=True)
    else:
        env_dir = tmp_path_factory.mktemp("kafka-utils-venv")
        venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    check = subprocess.run([str(python), "-c", "import kafka_utils.util.config"], capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "kafka-utils"], check=True)
    return python


@pytest.fixture
def workdir(tmp_path):
    """A copy of the example zones plus an edge-case inventory, as the current directory."""
    require_binary()
    zones = tmp_path / "zones"
    zones.mkdir()
    for name in ("kafka.example.yaml", "kafka.example.zone"):
        source = REPO / "zones" / name
        if source.exists():
            shutil.copy(source, zones / name)
        else:
            (zones / name).write_text("")
    (zones / "edge.example.yaml").write_text(EDGE_INVENTORY)
    # A real zone: publish loads the zones as serve does (an inventory takes its zone's origin).
    (zones / "edge.example.zone").write_text(zone_text("edge.example"))
    return tmp_path


def switchyard(cwd, *args):
    return subprocess.run([str(BIN), "discovery", *args], cwd=cwd, capture_output=True, text=True)


def test_every_published_file_loads_with_kafka_utils(workdir, kafka_utils_python):
    result = switchyard(workdir, "publish", "--out", "first", "--out", "second")
    assert result.returncode == 0, result.stderr
    for out in ("first", "second"):
        base = workdir / out
        assert sorted(p.name for p in base.glob("*.yaml")) == ["edge.yaml", "standard.yaml"]
        loaded = subprocess.run([str(kafka_utils_python), "-c", LOADER, str(base)],
                                capture_output=True, text=True, check=True)
        seen = json.loads(loaded.stdout)
        assert sorted(seen) == sorted(EXPECTED)
        for cluster_type, clusters in EXPECTED.items():
            got = {name: tuple(value) for name, value in seen[cluster_type]["clusters"].items()}
            want = {name: (brokers, zk) for name, (brokers, zk) in clusters.items()}
            assert {n: (list(b), z) for n, (b, z) in got.items()} == want
            assert seen[cluster_type]["local"] == EXPECTED_LOCAL[cluster_type]
    assert (workdir / "first" / "standard.yaml").read_text() == (workdir / "second" / "standard.yaml").read_text()


def test_missing_zookeeper_is_a_clear_error(workdir):
    inventory = workdir / "zones" / "edge.example.yaml"
    inventory.write_text(EDGE_INVENTORY.replace("zookeeper: zk.example:2181, ", ""))
    result = switchyard(workdir, "publish")
    assert result.returncode == 1
    assert ("zones/edge.example.yaml:13: clusters.yes.discovery.zookeeper: "
            "kafka-utils requires zookeeper: add discovery.zookeeper") in result.stderr
    assert not (workdir / "discovery").exists()


def test_unchanged_output_keeps_mtime_and_diff_exit_codes(workdir):
    assert switchyard(workdir, "publish").returncode == 0
    path = workdir / "discovery" / "standard.yaml"
    past = time.time() - 3600
    os.utime(path, (past, past))
    before = path.stat().st_mtime_ns

    again = switchyard(workdir, "publish", "--generation", "9")
    assert again.returncode == 0, again.stderr
    assert "discovery/standard.yaml: unchanged" in again.stdout
    assert path.stat().st_mtime_ns == before
    assert switchyard(workdir, "diff").returncode == 0

    inventory = workdir / "zones" / "kafka.example.yaml"
    inventory.write_text(inventory.read_text().replace("/kafka-orders", "/kafka-orders-v2"))
    diff = switchyard(workdir, "diff")
    assert diff.returncode == 1
    assert "+     zookeeper: zk-1.example:2181,zk-2.example:2181/kafka-orders-v2" in diff.stdout
    assert path.stat().st_mtime_ns == before
    assert switchyard(workdir, "publish").returncode == 0
    assert path.stat().st_mtime_ns != before


def test_reader_never_sees_a_partial_file(workdir, kafka_utils_python):
    assert switchyard(workdir, "publish").returncode == 0
    path = workdir / "discovery" / "standard.yaml"
    inventory = workdir / "zones" / "kafka.example.yaml"
    original = inventory.read_text()
    stop = threading.Event()
    bad = []
    reads = [0]

    def read_loop():
        while not stop.is_set():
            try:
                text = path.read_text()
            except FileNotFoundError:
                bad.append("<missing>")
                continue
            reads[0] += 1
            if not text.startswith("# Generated by switchyard") or not text.endswith("  cluster: orders\n"):
                bad.append(text)

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        for version in range(40):
            inventory.write_text(original.replace("/kafka-orders", f"/kafka-orders-{version}"))
            result = switchyard(workdir, "publish", "--generation", str(version))
            assert result.returncode == 0, result.stderr
            assert "discovery/standard.yaml: updated" in result.stdout
    finally:
        stop.set()
        reader.join()
    assert reads[0] > 0
    assert bad == []
    assert "/kafka-orders-39" in path.read_text()
    assert sorted(p.name for p in path.parent.iterdir()) == ["edge.yaml", "standard.yaml"]  # no temporary files left


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
