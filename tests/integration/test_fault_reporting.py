"""Faults are reported where operators look, not only in the log (issue 13, part 4):

- a rejected SIGHUP reload: /healthz `degraded` naming the file and line, `reload_failures`,
  `switchyard_reload_ok 0` and `switchyard_reload_failures_total`; the old data keeps serving and
  the generation does not move; a good reload clears it;
- the journal's health: `journal_writable`/`journal_write_errors` in /healthz and
  `switchyard_journal_writable`/`switchyard_journal_write_errors_total` in /metrics.

A full or read-only state directory needs a tmpfs (root): test_soak.py covers it.
"""

from __future__ import annotations

import signal

import pytest

from conftest import backend
from cutoverkit import Admin, deployments  # noqa: F401  (fixture)
from stablekit import ONE_BROKER_INVENTORY, wait_until, zone_text

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="/healthz and /metrics are switchyard's own")

INVENTORY = ONE_BROKER_INVENTORY


def zones(serial: int, extra: tuple[str, ...] = ()) -> dict[str, str]:
    return {"example.test.zone": zone_text("example.test", extra, serial=serial), "example.test.yaml": INVENTORY}


def healthz(d) -> dict:
    return Admin(d.admin_port, "").healthz()


def metric(d, name: str) -> float | None:
    return d.admin.metric(name)


def test_a_rejected_reload_is_reported_until_a_good_one(deployments):
    d = deployments(zones(2024010101))
    health = healthz(d)
    assert health["status"] == "ok" and health["reload_failures"] == "0", health
    assert health["journal_writable"] == "true" and health["journal_write_errors"] == "0", health
    assert metric(d, "switchyard_journal_writable") == 1
    assert metric(d, "switchyard_reload_ok") == 1
    generation = d.admin.generation()["number"]
    before = d.ask("broker-1.orders.example.test.")

    zone_file = d.server.zone_dir / "example.test.zone"
    zone_file.write_text(zones(2024010102, ("bad IN A 999.1.2.3",))["example.test.zone"])
    d.server.signal(signal.SIGHUP)
    assert wait_until(lambda: healthz(d)["reload_failures"] == "1", timeout=10), healthz(d)
    health = healthz(d)
    assert health["status"] == "degraded", health
    assert "last reload rejected, previous data still serving" in health["problems"], health
    assert f"{zone_file}:6: cannot parse record" in health["problems"], health
    assert metric(d, "switchyard_reload_ok") == 0
    assert metric(d, "switchyard_reload_failures_total") == 1
    assert d.admin.generation()["number"] == generation
    assert d.ask("broker-1.orders.example.test.") == before == (0, frozenset(["127.0.0.11"]))

    zone_file.write_text(zones(2024010103)["example.test.zone"])
    d.server.signal(signal.SIGHUP)
    assert wait_until(lambda: healthz(d)["status"] == "ok", timeout=10), healthz(d)
    assert healthz(d)["reload_failures"] == "1", "the counter keeps the past failure"
    assert metric(d, "switchyard_reload_ok") == 1
    assert metric(d, "switchyard_reload_failures_total") == 1
