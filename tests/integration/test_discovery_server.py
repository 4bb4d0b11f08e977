"""The running server keeps discovery files current (issue: discovery files, point 4).

- Started with --discovery-out, it publishes on start and runs --discovery-hook afterwards.
- An inventory edit (a new cluster) picked up by SIGHUP re-publishes the file.
- A generation that does not change the content (a shift) leaves the file untouched.
- A publish failure is reported by /healthz and /metrics, and DNS keeps answering.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from conftest import backend
from stablekit import wait_until
from cutoverkit import ORIGIN, deployments, orders_inventory, zone_text  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="discovery publishing is switchyard's own")

BROKER_PORT = 19093
DISCOVERY = """    discovery:
      type: standard
      zookeeper: zk-1.example:2181/kafka-{name}
"""


def inventory(with_payments: bool = False) -> str:
    text = orders_inventory(BROKER_PORT, ttl=2)
    text = text.replace("    pools: [vm, pod]\n", DISCOVERY.format(name="orders") + "    pools: [vm, pod]\n", 1)
    if with_payments:
        text += ("  payments:\n    port: 9093\n" + DISCOVERY.format(name="payments")
                 + "    pools: [vm]\n    brokers:\n      1: { vm: 127.0.0.31 }\n")
    return text


def zones(with_payments: bool = False) -> dict[str, str]:
    return {"example.test.zone": zone_text("example.test"), "example.test.yaml": inventory(with_payments)}


def test_publishes_on_start_and_reload_and_runs_the_hook(deployments, tmp_path):
    out = tmp_path / "discovery"
    marker = tmp_path / "hook-ran"
    deployment = deployments(zones(), ["--discovery-out", str(out),
                                       "--discovery-hook", f"echo {{generation}} >> {marker}"])
    published = out / "standard.yaml"
    assert published.is_file(), f"nothing published at start: {deployment.server.describe()}"
    text = published.read_text()
    assert f"bootstrap.orders.{ORIGIN.rstrip('.')}:{BROKER_PORT}" in text
    assert "zk-1.example:2181/kafka-orders" in text
    assert marker.is_file() and marker.read_text().strip(), "the discovery hook did not run after publishing"

    # A generation whose content is the same leaves the file alone (mtime kept).
    before = os.stat(published).st_mtime_ns
    deployment.admin.ok("POST", "/v1/shift", {"request": {"broker": {"cluster": "orders", "id": 1, "pool": "pod"}},
                                              "actor": "pytest", "reason": "no discovery change"})
    assert os.stat(published).st_mtime_ns == before

    # A new cluster in the inventory appears after SIGHUP.
    (deployment.server.zone_dir / "example.test.yaml").write_text(inventory(with_payments=True))
    deployment.server.signal(signal.SIGHUP)
    assert wait_until(lambda: "kafka-payments" in published.read_text(), timeout=10.0, step=0.1), \
        f"payments not published after SIGHUP: {published.read_text()}\n{deployment.server.describe()}"
    assert len(marker.read_text().split()) >= 2, "the hook did not run after the second publish"


def test_publish_failure_is_reported_and_dns_keeps_serving(deployments, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the discovery directory should be\n")
    deployment = deployments(zones(), ["--discovery-out", str(blocker / "discovery")])
    status, health = deployment.admin.request("GET", "/healthz", token=None)
    assert status == 200 and health["status"] == "degraded", health
    assert "discovery" in health["problems"], health
    _, metrics = deployment.admin.request("GET", "/metrics")
    assert "switchyard_discovery_publish_ok 0" in metrics, metrics
    rcode, addresses = deployment.ask(f"broker-1.orders.{ORIGIN}")
    assert rcode == 0 and addresses == {"127.0.0.11"}
    assert not list(tmp_path.glob("**/*.tmp*")), "a temporary file was left behind"
