"""Kafka node ids are 0 … 2^31−1: broker 0 (the first broker of many clusters) is served,
shifted with the CLI and planned like any other; ids outside the range are refused with the
inventory's file:line:field."""

from __future__ import annotations

import subprocess

import pytest

from conftest import backend, switchyard_bin
from cutoverkit import cli, cli_available, deployments, describe_run  # noqa: F401  (fixtures)
from stablekit import zone_text

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="stable names are switchyard's own"),
]

BROKER_0 = "broker-0.orders.example.test."


def inventory(extra_broker: str = "") -> str:
    return ("ttl: 1\nclusters:\n  orders:\n    port: 9092\n    pools: [vm, pod]\n    brokers:\n"
            "      0: { vm: 127.0.0.10, pod: 127.0.0.20 }\n"
            "      1: { vm: 127.0.0.11, pod: 127.0.0.21 }\n" + extra_broker)


def test_broker_zero_is_served_and_shifted(deployments):
    if not cli_available():
        pytest.fail("the binary under test has no `cutover` CLI", pytrace=False)
    d = deployments({"example.test.zone": zone_text("example.test"),
                     "example.test.yaml": inventory()})
    assert d.ask(BROKER_0) == (0, frozenset({"127.0.0.10"}))

    r = cli(d, "shift", "orders", "broker-0", "--to", "pod", "--reason", "broker 0 to pod")
    assert r.returncode == 0, describe_run(r)
    assert d.ask(BROKER_0) == (0, frozenset({"127.0.0.20"}))
    # Broker 1 did not move.
    assert d.ask("broker-1.orders.example.test.") == (0, frozenset({"127.0.0.11"}))

    r = cli(d, "cutover", "plan", "orders", "--to", "vm", "--brokers", "0")
    assert r.returncode == 0, describe_run(r)
    assert "broker-0" in r.stdout, r.stdout


@pytest.mark.parametrize("bad", ["-1", "2147483648"])
def test_ids_outside_the_kafka_range_are_refused(tmp_path, bad):
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "example.test.zone").write_text(zone_text("example.test"))
    (zones / "example.test.yaml").write_text(inventory(f"      {bad}: {{ vm: 127.0.0.12 }}\n"))
    r = subprocess.run([str(switchyard_bin()), "check", "--zones", str(zones)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r
    out = r.stdout + r.stderr
    assert f"example.test.yaml:9: clusters.orders.brokers.{bad}:" in out, out
    assert "0 to 2147483647" in out, out


@pytest.mark.parametrize("bad", ["broker--1", "broker-2147483648", "broker-x"])
def test_cli_refuses_ids_outside_the_range(tmp_path, bad):
    r = subprocess.run([str(switchyard_bin()), "shift", "orders", bad, "--to", "pod",
                        "--admin", "127.0.0.1:1", "--admin-token-file", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "0 to 2147483647" in r.stderr, r.stderr
